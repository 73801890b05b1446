// The ops in front of the first layer for numeric features: the learned per-feature scaling and
// the periodic embeddings (PLR). Gradients against finite differences of the naive
// double-precision MLP (parameters and, through the scales, the inputs), bit-identical training
// for 1, 2 and 3 threads, the model file's round trip and the spec's checks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <tbb/global_control.h>

#include "core/model_impl.hpp"
#include "core/network.hpp"
#include "core/random.hpp"
#include "support/common.hpp"
#include "support/engine_pass.hpp"
#include "support/naive_mlp.hpp"
#include "tmlp/io.hpp"
#include "tmlp/trainer.hpp"

namespace {

using Catch::Matchers::Contains;
using tmlp::activation;
using tmlp::loss_kind;

struct problem {
  tmlp::model_spec spec;
  std::size_t rows = 9;
  std::vector<float> x, t, w, params;
};

// 5 inputs -> 6 -> 4 -> k; column 1 holds a category index (an embedding of 4 x 3) when
// `categorical`; columns 0 and 3 (and 4 with `categorical`) get periodic embeddings when
// `periodic`. Parameters as initialized, then the scales, biases and periodic biases moved off
// their initial values (so that no ReLU sits at its kink and every scale matters).
problem make_problem(activation act, loss_kind loss, bool scale, bool periodic, bool categorical,
                     std::uint64_t seed) {
  problem p;
  const std::size_t k = loss == loss_kind::ce ? 3 : 2;
  p.spec.n_inputs = 5;
  p.spec.layers = {{.units = 6, .act = act},
                   {.units = 4, .act = act},
                   {.units = k, .act = activation::identity}};
  p.spec.loss = loss;
  p.spec.seed = seed;
  p.spec.feature_scale = scale;
  if (categorical) p.spec.embeddings = {{.column = 1, .cardinality = 4, .dim = 3}};
  if (periodic) {
    p.spec.periodic_embeddings = {{.column = 3, .n_frequencies = 3, .dim = 4, .sigma = 0.4f},
                                  {.column = 0, .n_frequencies = 2, .dim = 3, .sigma = 1.0f}};
    if (categorical)
      p.spec.periodic_embeddings.push_back(
          {.column = 4, .n_frequencies = 1, .dim = 2, .sigma = 0.2f});
  }
  const auto key = tmlp::core::derive_key(seed, 77);
  std::uint64_t c = 0;
  auto u = [&](double lo, double hi) {
    return static_cast<float>(lo + (hi - lo) * tmlp::core::uniform01(key, c++));
  };
  for (std::size_t i = 0; i < p.rows * 5; ++i) p.x.push_back(u(-2.0, 2.0));
  if (categorical)
    for (std::size_t r = 0; r < p.rows; ++r) p.x[r * 5 + 1] = static_cast<float>(r % 4);
  for (std::size_t r = 0; r < p.rows; ++r) {
    if (loss == loss_kind::ce)
      p.t.push_back(static_cast<float>(r % k));
    else
      for (std::size_t j = 0; j < k; ++j) p.t.push_back(u(-1.5, 1.5));
    p.w.push_back(u(0.2, 2.0));
  }
  const auto net = tmlp::core::network::from_spec(p.spec);
  p.params.resize(net.n_params);
  tmlp::core::init_params(net, p.spec, p.params.data());
  for (const auto& l : net.layers)
    for (std::size_t j = 0; j < l.n_out; ++j) p.params[l.b_offset + j] = u(-0.5, 0.5);
  if (net.scale_offset != tmlp::core::no_offset)
    for (std::size_t j = 0; j < net.scaled_columns.size(); ++j)
      p.params[net.scale_offset + j] = u(0.5, 1.5);
  for (const auto& t : net.periodic)
    for (std::size_t q = 0; q < t.dim; ++q) p.params[t.b_offset() + q] = u(0.05, 0.6);
  return p;
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// Largest |analytic - fd| / (tol_rel |fd| + tol_abs max|fd|) over fd.
double worst_ratio(const std::vector<float>& a, const std::vector<double>& fd, std::size_t* at) {
  double scale = 0.0;
  for (double v : fd) scale = std::max(scale, std::fabs(v));
  double worst = 0.0;
  for (std::size_t i = 0; i < fd.size(); ++i) {
    const double r = std::fabs(a[i] - fd[i]) / (2e-3 * std::fabs(fd[i]) + 2e-4 * scale + 1e-12);
    if (r > worst) std::tie(worst, *at) = std::pair(r, i);
  }
  return worst;
}

// Central differences of the naive loss over the inputs x (rows x n_inputs).
std::vector<double> input_fd(const tmlp::test::naive_mlp& naive, const problem& p) {
  const auto pd = to_double(p.params), td = to_double(p.t), wd = to_double(p.w);
  auto xd = to_double(p.x);
  std::vector<double> g(xd.size());
  for (std::size_t i = 0; i < xd.size(); ++i) {
    const double x0 = xd[i], h = 1e-6 * std::max(1.0, std::fabs(x0));
    xd[i] = x0 + h;
    const double up = naive.loss(pd, p.rows, xd, td, &wd);
    xd[i] = x0 - h;
    const double down = naive.loss(pd, p.rows, xd, td, &wd);
    xd[i] = x0;
    g[i] = (up - down) / (2.0 * h);
  }
  return g;
}

}  // namespace

TEST_CASE("feature scaling and periodic embeddings: gradients match finite differences",
          "[core][gradcheck][numeric_embedding]") {
  const auto act = GENERATE(activation::relu, activation::tanh);
  const auto loss = GENERATE(loss_kind::ce, loss_kind::mse);
  const bool scale = GENERATE(false, true);
  const bool periodic = GENERATE(false, true);
  const bool categorical = GENERATE(false, true);
  if (!scale && !periodic) return;  // the other test files check those
  CAPTURE(tmlp::to_string(act), tmlp::to_string(loss), scale, periodic, categorical);
  const problem p = make_problem(act, loss, scale, periodic, categorical, 61);
  const auto net = tmlp::core::network::from_spec(p.spec);
  const tmlp::test::naive_mlp naive{p.spec};
  REQUIRE(naive.n_params() == net.n_params);
  std::vector<float> grads(net.n_params, -7.0f);  // every dense value must be written
  std::fill(grads.begin() + static_cast<std::ptrdiff_t>(net.n_dense_params), grads.end(), 0.0f);
  const double loss_f = tmlp::test::engine_pass(net, p.params.data(), p.rows, p.x.data(),
                                                p.t.data(), p.w.data(), grads)
                            .loss;
  const auto pd = to_double(p.params), xd = to_double(p.x), td = to_double(p.t),
             wd = to_double(p.w);
  CHECK(loss_f == Approx(naive.loss(pd, p.rows, xd, td, &wd)).epsilon(1e-5).margin(1e-6));
  const auto fd = naive.gradient_fd(pd, p.rows, xd, td, &wd);
  std::size_t at = 0;
  const double worst = worst_ratio(grads, fd, &at);
  INFO("worst parameter " << at << " (dense: " << net.n_dense_params << "): analytic " << grads[at]
                          << ", finite difference " << fd[at]);
  CHECK(worst <= 1.0);
  // The new parameters' gradients are not all zero (a test that could not fail otherwise).
  for (const auto& t : net.periodic) {
    CHECK(std::any_of(grads.begin() + static_cast<std::ptrdiff_t>(t.offset),
                      grads.begin() + static_cast<std::ptrdiff_t>(t.offset + t.n_frequencies),
                      [](float g) { return g != 0.0f; }));
  }
  if (scale) {
    // dL/ds_c = sum_r x_rc dL/d(s_c x_rc) = sum_r x_rc (dL/dx_rc) / s_c: the gradient that
    // reaches the inputs, through the periodic embeddings too, against differences over x.
    const auto fx = input_fd(naive, p);
    std::vector<float> via_inputs;
    std::vector<double> expect;
    for (std::size_t j = 0; j < net.scaled_columns.size(); ++j) {
      const std::size_t c = net.scaled_columns[j];
      double sum = 0.0;
      for (std::size_t r = 0; r < p.rows; ++r) sum += xd[r * 5 + c] * fx[r * 5 + c];
      expect.push_back(sum / p.params[net.scale_offset + j]);
      via_inputs.push_back(grads[net.scale_offset + j]);
    }
    REQUIRE(net.scaled_columns.size() == (categorical ? 4u : 5u));
    const double w_in = worst_ratio(via_inputs, expect, &at);
    INFO("scaled column " << at << ": analytic " << via_inputs[at] << ", from dL/dx "
                          << expect[at]);
    CHECK(w_in <= 1.0);
  }
}

TEST_CASE("feature scaling and periodic embeddings: sharded gradient matches one pass",
          "[core][gradcheck][numeric_embedding]") {
  const problem p = make_problem(activation::relu, loss_kind::mse, true, true, true, 5);
  const auto net = tmlp::core::network::from_spec(p.spec);
  std::vector<float> one, four;
  const double l1 =
      tmlp::test::engine_pass(net, p.params.data(), p.rows, p.x.data(), p.t.data(), p.w.data(), one)
          .loss;
  const double l4 = tmlp::test::engine_pass(net, p.params.data(), p.rows, p.x.data(), p.t.data(),
                                            p.w.data(), four, 0, 4)
                        .loss;
  CHECK(l1 == Approx(l4).epsilon(1e-6));
  for (std::size_t i = net.scale_offset; i < net.n_dense_params; ++i) {  // the new ones
    CAPTURE(i);
    CHECK(one[i] == Approx(four[i]).epsilon(1e-4).margin(1e-5));
  }
}

namespace {

// 900 rows of 12 features, 3 classes decided by sin(3 x0) and x1 (a periodic pattern), column
// 5 a category index (0..9); a net with feature scaling, periodic embeddings of columns 0..3
// and 6, and an embedding of column 5.
struct fit_problem {
  tmlp::model_spec spec;
  std::size_t n = 900;
  std::vector<float> x, t;
};

fit_problem make_fit_problem() {
  fit_problem p;
  p.spec = {.n_inputs = 12,
            .layers = {{.units = 256, .act = activation::relu},
                       {.units = 3, .act = activation::identity}},
            .embeddings = {{.column = 5, .cardinality = 11, .dim = 3}},
            .periodic_embeddings = {{.column = 0, .n_frequencies = 6, .dim = 5, .sigma = 0.5f},
                                    {.column = 1, .n_frequencies = 6, .dim = 5, .sigma = 0.5f},
                                    {.column = 2},
                                    {.column = 3},
                                    {.column = 6, .n_frequencies = 2, .dim = 3}},
            .feature_scale = true,
            .loss = loss_kind::ce,
            .seed = 3};
  const auto key = tmlp::core::derive_key(17, 2);
  for (std::size_t r = 0; r < p.n; ++r) {
    for (std::size_t c = 0; c < 12; ++c)
      p.x.push_back(static_cast<float>(tmlp::core::normal(key, r * 12 + c)));
    p.x[r * 12 + 5] = static_cast<float>(r % 10);
    const float* x = p.x.data() + r * 12;
    p.t.push_back(std::sin(3.0f * x[0]) > 0.0f ? (x[1] > 0.0f ? 2.0f : 1.0f) : 0.0f);
  }
  return p;
}

std::vector<float> fit(const tmlp::model_spec& spec, const fit_problem& p, int n_threads,
                       double* valid_metric = nullptr) {
  tmlp::model m = tmlp::model::create(spec);
  tmlp::train_config config{.opt = tmlp::adamw{.lr = 3e-3f, .weight_decay = 0.01f},
                            .batch_size = 128,
                            .epochs = 4,
                            .seed = 5,
                            .valid_fraction = 0.2f,
                            .shard_rows = 16};
  config.n_threads = n_threads;
  const auto r =
      tmlp::trainer(std::move(config)).fit(m, {p.x.data(), p.n, 12}, {p.t.data(), p.n, 1});
  CHECK(r.status == tmlp::fit_status::completed);
  CHECK(r.n_workers == static_cast<std::size_t>(n_threads));
  if (valid_metric) *valid_metric = r.epochs.back().valid_metric.value_or(0.0);
  return tmlp::test::params_of(m);
}

}  // namespace

TEST_CASE("feature scaling and periodic embeddings: fit is bit-identical for 1, 2 and 3 threads",
          "[train][determinism][numeric_embedding]") {
  tbb::global_control allow(tbb::global_control::max_allowed_parallelism, 3);
  const fit_problem p = make_fit_problem();
  const auto p1 = fit(p.spec, p, 1);
  for (int n_threads : {2, 3}) {
    CAPTURE(n_threads);
    CHECK(tmlp::test::same_bits(p1, fit(p.spec, p, n_threads)));
  }
  // Every new parameter moved from its initial value.
  const tmlp::model init = tmlp::model::create(p.spec);
  const auto& net = tmlp::core::model_impl(init).net;
  const auto before = tmlp::test::params_of(init);
  for (std::size_t j = 0; j < net.scaled_columns.size(); ++j)
    CHECK(p1[net.scale_offset + j] != 1.0f);
  for (const auto& t : net.periodic) {
    CAPTURE(t.column);
    for (std::size_t i = t.offset; i < t.offset + t.n_params(); i += 3) CHECK(p1[i] != before[i]);
  }
}

TEST_CASE("feature scaling and periodic embeddings: saved and loaded with the spec",
          "[io][model_file][numeric_embedding]") {
  const fit_problem p = make_fit_problem();
  tmlp::model m = tmlp::model::create(p.spec);
  const auto& net = tmlp::core::model_impl(m).net;
  // the first layer reads 12 - 1 index - 5 periodic columns, the index's 3, then 5 + 5 + 16 +
  // 16 + 3 periodic values
  CHECK(net.layers[0].n_in == 6 + 3 + 5 + 5 + 16 + 16 + 3);
  CHECK(net.scaled_columns.size() == 11);
  CHECK(net.periodic[2].n_params() == 16 + 32 * 16 + 16);
  std::vector<float> params = tmlp::test::params_of(m);
  for (std::size_t i = 0; i < params.size(); ++i)  // not the initial values
    m.parameters()[i] = params[i] * 1.01f + 0.001f;
  const std::filesystem::path dir = tmlp::test::scratch_dir("numeric_embedding");
  const std::string path = (dir / "m.tmlp").string();
  tmlp::save_model(m, path);
  const tmlp::loaded_model l = tmlp::load_model(path);
  const tmlp::model_spec& s = l.model.spec();
  CHECK(s.feature_scale);
  REQUIRE(s.periodic_embeddings.size() == 5);
  for (std::size_t e = 0; e < 5; ++e) {
    CAPTURE(e);
    CHECK(s.periodic_embeddings[e].column == p.spec.periodic_embeddings[e].column);
    CHECK(s.periodic_embeddings[e].n_frequencies == p.spec.periodic_embeddings[e].n_frequencies);
    CHECK(s.periodic_embeddings[e].dim == p.spec.periodic_embeddings[e].dim);
    CHECK(s.periodic_embeddings[e].sigma == p.spec.periodic_embeddings[e].sigma);
  }
  CHECK(tmlp::test::same_bits(tmlp::test::params_of(l.model), tmlp::test::params_of(m)));
  const tmlp::matrix a = m.predict({p.x.data(), p.n, 12}),
                     b = l.model.predict({p.x.data(), p.n, 12});
  CHECK(tmlp::test::same_bits(a, b));
  // Predictions follow the naive MLP (the inference path, chunked).
  tmlp::test::naive_mlp naive{p.spec};
  const std::vector<double> pd(m.parameters().begin(), m.parameters().end());
  const tmlp::matrix raw = m.predict({p.x.data(), p.n, 12}, {.raw = true});
  for (std::size_t r = 0; r < p.n; r += 37) {
    const std::vector<double> xr(p.x.begin() + r * 12, p.x.begin() + (r + 1) * 12);
    const auto y = naive.forward(pd, xr.data());
    for (std::size_t j = 0; j < 3; ++j) CHECK(raw.row(r)[j] == Approx(y[j]).margin(1e-4));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("periodic embeddings: the spec's checks name the field",
          "[core][numeric_embedding][errors]") {
  tmlp::model_spec spec = make_fit_problem().spec;
  auto with = [&](auto change) {
    tmlp::model_spec s = spec;
    change(s.periodic_embeddings[1]);
    return tmlp::test::error_message([&] { tmlp::validate(s); });
  };
  using pe = tmlp::periodic_embedding_spec;
  CHECK_THAT(with([](pe& t) { t.column = 12; }),
             Contains("model_spec.periodic_embeddings[1].column: 12 is out of range"));
  CHECK_THAT(with([](pe& t) { t.column = 5; }),
             Contains("model_spec.periodic_embeddings[1].column: 5 already has an embedding"));
  CHECK_THAT(with([](pe& t) { t.column = 0; }),
             Contains("model_spec.periodic_embeddings[1].column: 0 already has an embedding"));
  CHECK_THAT(with([](pe& t) { t.n_frequencies = 0; }),
             Contains("model_spec.periodic_embeddings[1].n_frequencies: 0 is out of range"));
  CHECK_THAT(with([](pe& t) { t.dim = 0; }),
             Contains("model_spec.periodic_embeddings[1].dim: 0 is out of range"));
  CHECK_THAT(with([](pe& t) { t.sigma = 0.0f; }),
             Contains("model_spec.periodic_embeddings[1].sigma: 0 is not a finite value > 0"));
  CHECK_THAT(with([](pe& t) { t.sigma = std::nanf(""); }),
             Contains("model_spec.periodic_embeddings[1].sigma: nan"));
}
