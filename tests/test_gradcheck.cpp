// Finite-difference gradient checks: the float gradient of the gradient engine against
// central differences of an independent double-precision MLP (tests/support/naive_mlp.hpp),
// for every activation with every loss through a 3-layer MLP, with and without sample weights.
// Runs on the active kernel table, so TMLP_SIMD=scalar|sse2|avx2|avx512 checks each one.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "blas/blas.hpp"
#include "core/network.hpp"
#include "core/random.hpp"
#include "support/engine_pass.hpp"
#include "support/naive_mlp.hpp"
#include "train/gradient_engine.hpp"

namespace {

using tmlp::activation;
using tmlp::loss_kind;

struct problem {
  tmlp::model_spec spec;
  std::size_t rows = 0;
  std::vector<float> x, t, w, params;
};

// A 3-layer MLP 5 -> 6 -> 4 -> k with `act` on both hidden layers and random but reproducible
// inputs, targets, weights, biases and prelu slopes.
problem make_problem(activation act, loss_kind loss, bool weighted, std::uint64_t seed) {
  problem p;
  const std::size_t k = loss == loss_kind::ce ? 3 : 2;
  p.spec.n_inputs = 5;
  p.spec.layers = {{.units = 6, .act = act},
                   {.units = 4, .act = act},
                   {.units = k, .act = activation::identity}};
  p.spec.loss = loss;
  p.spec.huber_delta = 0.3f;  // small enough that both Huber branches are taken
  p.spec.seed = seed;
  p.rows = 7;
  const auto key = tmlp::core::derive_key(seed, 99);
  std::uint64_t c = 0;
  auto u = [&](double lo, double hi) {
    return static_cast<float>(lo + (hi - lo) * tmlp::core::uniform01(key, c++));
  };
  for (std::size_t i = 0; i < p.rows * p.spec.n_inputs; ++i) p.x.push_back(u(-2.0, 2.0));
  for (std::size_t r = 0; r < p.rows; ++r) {
    if (loss == loss_kind::ce) {
      p.t.push_back(static_cast<float>(r % k));
    } else {
      for (std::size_t j = 0; j < k; ++j)
        p.t.push_back(loss == loss_kind::bce ? u(0.0, 1.0) : u(-1.5, 1.5));
    }
    if (weighted) p.w.push_back(u(0.2, 2.0));
  }
  const auto net = tmlp::core::network::from_spec(p.spec);
  p.params.resize(net.n_params);
  tmlp::core::init_params(net, p.spec, p.params.data());
  for (const auto& l : net.layers) {  // non-zero biases and varied slopes exercise more paths
    for (std::size_t j = 0; j < l.n_out; ++j) p.params[l.b_offset + j] = u(-0.5, 0.5);
    if (l.slope_offset != tmlp::core::no_offset)
      for (std::size_t j = 0; j < l.n_out; ++j) p.params[l.slope_offset + j] = u(0.05, 0.6);
  }
  return p;
}

// Largest violation of |analytic - fd| <= tol_rel * |fd| + tol_abs * max|fd|, as a ratio.
double worst_ratio(const std::vector<float>& a, const std::vector<double>& fd, double tol_rel,
                   double tol_abs, std::size_t* at) {
  double scale = 0.0;
  for (double v : fd) scale = std::max(scale, std::fabs(v));
  double worst = 0.0;
  for (std::size_t i = 0; i < fd.size(); ++i) {
    const double r =
        std::fabs(a[i] - fd[i]) / (tol_rel * std::fabs(fd[i]) + tol_abs * scale + 1e-12);
    if (r > worst) {
      worst = r;
      *at = i;
    }
  }
  return worst;
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// The weighted loss and gradient the gradient engine gave at params, against the naive MLP's
// loss and its central differences on the same rows (naive carries any dropout masks).
void check_against_naive(const problem& p, const std::vector<float>& params, double loss_f,
                         const std::vector<float>& grads, const tmlp::test::naive_mlp& naive) {
  REQUIRE(naive.n_params() == params.size());
  const auto pd = to_double(params), xd = to_double(p.x), td = to_double(p.t), wd = to_double(p.w);
  CHECK(loss_f == Approx(naive.loss(pd, p.rows, xd, td, &wd)).epsilon(1e-5).margin(1e-6));
  const auto fd = naive.gradient_fd(pd, p.rows, xd, td, &wd);
  std::size_t at = 0;
  const double worst = worst_ratio(grads, fd, 2e-3, 2e-4, &at);
  INFO("worst parameter " << at << ": analytic " << grads[at] << ", finite difference " << fd[at]);
  CHECK(worst <= 1.0);
}

}  // namespace

TEST_CASE("gradients match finite differences for every activation and loss", "[core][gradcheck]") {
  const auto act = static_cast<activation>(GENERATE(range(0, 11)));
  const auto loss = static_cast<loss_kind>(GENERATE(range(0, 5)));
  const bool weighted = GENERATE(false, true);
  const auto on = GENERATE(tmlp::blas::backend::openblas, tmlp::blas::backend::libxsmm);
  const tmlp::blas::backend_scope gemm(on);
  CAPTURE(tmlp::to_string(act), tmlp::to_string(loss), weighted, tmlp::blas::name(on));

  const problem p = make_problem(act, loss, weighted, 1234 + static_cast<std::uint64_t>(act));
  const auto net = tmlp::core::network::from_spec(p.spec);
  std::vector<float> grads(net.n_params, -7.0f);  // garbage: backward must overwrite every value
  const double loss_f = tmlp::test::engine_pass(net, p.params.data(), p.rows, p.x.data(),
                                                p.t.data(), weighted ? p.w.data() : nullptr, grads)
                            .loss;

  const tmlp::test::naive_mlp naive{p.spec};
  REQUIRE(naive.n_params() == net.n_params);
  const auto pd = to_double(p.params), xd = to_double(p.x), td = to_double(p.t),
             wd = to_double(p.w);
  const double loss_d = naive.loss(pd, p.rows, xd, td, weighted ? &wd : nullptr);
  CHECK(loss_f == Approx(loss_d).epsilon(1e-5).margin(1e-6));

  const auto fd = naive.gradient_fd(pd, p.rows, xd, td, weighted ? &wd : nullptr);
  std::size_t at = 0;
  const double worst = worst_ratio(grads, fd, 2e-3, 2e-4, &at);
  INFO("worst parameter " << at << ": analytic " << grads[at] << ", finite difference " << fd[at]);
  CHECK(worst <= 1.0);
}

TEST_CASE("prelu slope gradients match finite differences", "[core][gradcheck]") {
  const auto loss = static_cast<loss_kind>(GENERATE(range(0, 5)));
  CAPTURE(tmlp::to_string(loss));
  const problem p = make_problem(activation::prelu, loss, true, 77);
  const auto net = tmlp::core::network::from_spec(p.spec);
  std::vector<float> grads(net.n_params, 0.0f);
  tmlp::test::engine_pass(net, p.params.data(), p.rows, p.x.data(), p.t.data(), p.w.data(), grads);
  const tmlp::test::naive_mlp naive{p.spec};
  const auto wd = to_double(p.w);
  const auto fd =
      naive.gradient_fd(to_double(p.params), p.rows, to_double(p.x), to_double(p.t), &wd);
  std::size_t n_checked = 0;
  double slope_grad_norm = 0.0;
  for (const auto& l : net.layers) {
    if (l.slope_offset == tmlp::core::no_offset) continue;
    for (std::size_t j = 0; j < l.n_out; ++j) {
      const std::size_t i = l.slope_offset + j;
      CAPTURE(i);
      CHECK(grads[i] == Approx(fd[i]).epsilon(2e-3).margin(1e-5));
      slope_grad_norm += std::fabs(fd[i]);
      ++n_checked;
    }
  }
  CHECK(n_checked == 10);
  CHECK(slope_grad_norm > 1e-3);  // the slopes must actually matter for this problem
}

TEST_CASE("the gradient does not depend on how rows are cut into shards", "[core][gradcheck]") {
  // The engine adds shard gradients in shard order; over 1, 2 and 4 shards the result must be
  // the whole-batch one up to float rounding (the GEMMs round differently over fewer rows).
  const problem p = make_problem(activation::tanh, loss_kind::ce, true, 5);
  const auto net = tmlp::core::network::from_spec(p.spec);
  std::vector<float> whole, cut;
  const double lw = tmlp::test::engine_pass(net, p.params.data(), p.rows, p.x.data(), p.t.data(),
                                            p.w.data(), whole)
                        .loss;
  for (std::size_t shards : {2, 4}) {
    CAPTURE(shards);
    const double lc = tmlp::test::engine_pass(net, p.params.data(), p.rows, p.x.data(), p.t.data(),
                                              p.w.data(), cut, 0, shards)
                          .loss;
    CHECK(lc == Approx(lw).epsilon(1e-6));
    for (std::size_t i = 0; i < net.n_params; ++i)
      CHECK(cut[i] == Approx(whole[i]).epsilon(1e-4).margin(1e-6));
  }
}

TEST_CASE("dropout: gradients match finite differences through the same masks",
          "[core][gradcheck][dropout]") {
  const auto act = GENERATE(activation::relu, activation::tanh, activation::sigmoid);
  CAPTURE(tmlp::to_string(act));
  problem p = make_problem(act, loss_kind::ce, true, 31);
  p.spec.layers[0].dropout = 0.4f;
  p.spec.layers[1].dropout = 0.25f;
  const auto net = tmlp::core::network::from_spec(p.spec);
  const std::uint64_t key = tmlp::core::dropout_key(9, 2);
  std::vector<float> grads(net.n_params, -7.0f);
  const double loss_f = tmlp::test::engine_pass(net, p.params.data(), p.rows, p.x.data(),
                                                p.t.data(), p.w.data(), grads, key)
                            .loss;
  tmlp::test::naive_mlp naive{p.spec};
  std::size_t n_dropped = 0, n_units = 0;
  for (std::size_t i = 0; i < 2; ++i) {
    const std::vector<float> mask = tmlp::test::dropout_mask(net, i, p.rows, key);
    const float keep = 1.0f / (1.0f - p.spec.layers[i].dropout);
    for (const float m : mask) {
      CHECK((m == 0.0f || m == Approx(keep).epsilon(1e-4)));
      n_dropped += m == 0.0f;
    }
    n_units += mask.size();
    naive.masks.emplace_back(mask.begin(), mask.end());
  }
  CHECK(n_dropped > 0);  // the masks must matter for this problem
  CHECK(n_dropped < n_units);
  check_against_naive(p, p.params, loss_f, grads, naive);
}

TEST_CASE("dropout: masks depend on the row, the epoch and the layer, with the given rate",
          "[core][dropout]") {
  tmlp::model_spec spec{.n_inputs = 3,
                        .layers = {{.units = 500, .act = activation::relu, .dropout = 0.3f},
                                   {.units = 2, .act = activation::identity}},
                        .loss = loss_kind::mse};
  const auto net = tmlp::core::network::from_spec(spec);
  std::vector<float> params(net.n_params);
  tmlp::core::init_params(net, spec, params.data());
  const std::size_t rows = 64;
  std::vector<float> x(rows * 3, 0.5f);
  std::vector<std::uint32_t> ids(rows);
  for (std::size_t r = 0; r < rows; ++r) ids[r] = static_cast<std::uint32_t>(r);
  const auto& k = tmlp::kernels::active();
  // The mask is what the layer's outputs were multiplied by: outputs with and without it.
  tmlp::core::workspace plain(net, rows);
  const float* y0 = tmlp::core::forward(k, net, params.data(), rows, x.data(), plain);
  const std::vector<float> a0(plain.op_out(net.act_op[0]),
                              plain.op_out(net.act_op[0]) + rows * 500);
  const std::vector<float> y_plain(y0, y0 + rows * 2);
  auto mask_of = [&](std::uint64_t epoch, const std::uint32_t* row_ids, std::size_t n) {
    std::vector<float> ones(n * 500, 1.0f), mask(n * 500), out(n * 500);
    tmlp::core::dropout_forward({tmlp::core::dropout_key(4, epoch), row_ids}, 0, 0.3f, n, 500,
                                ones.data(), mask.data(), out.data());
    // Through the network: the layer's output is its activation times the mask.
    tmlp::core::workspace ws(net, rows);
    const tmlp::core::dropout_context drop{tmlp::core::dropout_key(4, epoch), row_ids};
    tmlp::core::forward(k, net, params.data(), n, x.data(), ws, &drop);
    const float* dropped = ws.op_in(net.ops.size() - 1);  // the output layer's input
    for (std::size_t e = 0; e < n * 500; ++e) REQUIRE(dropped[e] == a0[e] * mask[e]);
    return mask;
  };
  const auto m = mask_of(0, ids.data(), rows);
  const double dropped =
      static_cast<double>(std::count(m.begin(), m.end(), 0.0f)) / static_cast<double>(m.size());
  CHECK(dropped == Approx(0.3).margin(0.02));  // 32,000 draws: 4 standard deviations
  CHECK(m != mask_of(1, ids.data(), rows));    // another epoch, other masks
  // A row's mask is its own, whatever block it is computed in.
  const auto tail = mask_of(0, ids.data() + 40, 24);
  CHECK(std::equal(tail.begin(), tail.end(), m.begin() + 40 * 500));
  // Without a context (prediction, validation) nothing is dropped: the output layer reads the
  // activations themselves.
  CHECK(plain.op_in(net.ops.size() - 1) == plain.op_out(net.act_op[0]));
  CHECK(y_plain != std::vector<float>(rows * 2, 0.0f));
}

TEST_CASE("layer norm: gradients match finite differences, gain and shift included",
          "[core][gradcheck][layer_norm]") {
  const auto act =
      GENERATE(activation::relu, activation::tanh, activation::prelu, activation::identity);
  const auto loss = GENERATE(loss_kind::ce, loss_kind::mse);
  CAPTURE(tmlp::to_string(act), tmlp::to_string(loss));
  problem p = make_problem(act, loss, true, 57);
  p.spec.layers[0].layer_norm = true;
  p.spec.layers[1].layer_norm = true;
  const auto net = tmlp::core::network::from_spec(p.spec);
  // Parameters for the wider layout: the problem's, then varied gains and shifts.
  std::vector<float> params(net.n_params);
  tmlp::core::init_params(net, p.spec, params.data());
  const auto key = tmlp::core::derive_key(57, 7);
  std::uint64_t c = 0;
  for (const auto& l : net.layers) {
    if (l.norm_offset == tmlp::core::no_offset) continue;
    CHECK(params[l.norm_offset] == 1.0f);            // gain starts at 1
    CHECK(params[l.norm_offset + l.n_out] == 0.0f);  // shift at 0
    for (std::size_t j = 0; j < 2 * l.n_out; ++j)
      params[l.norm_offset + j] =
          static_cast<float>((j < l.n_out ? 0.5 : -0.5) + tmlp::core::uniform01(key, c++));
    for (std::size_t j = 0; j < l.n_out; ++j)
      params[l.b_offset + j] = static_cast<float>(tmlp::core::uniform01(key, c++) - 0.5);
  }
  std::vector<float> grads(net.n_params, -7.0f);
  const double loss_f =
      tmlp::test::engine_pass(net, params.data(), p.rows, p.x.data(), p.t.data(), p.w.data(), grads)
          .loss;
  const tmlp::test::naive_mlp naive{p.spec};
  check_against_naive(p, params, loss_f, grads, naive);
}

TEST_CASE("residual layers: gradients match finite differences, projections included",
          "[core][gradcheck][residual]") {
  const auto act = GENERATE(activation::relu, activation::tanh, activation::identity);
  const bool norm = GENERATE(false, true);
  const bool dropout = GENERATE(false, true);
  const auto on = GENERATE(tmlp::blas::backend::openblas, tmlp::blas::backend::libxsmm);
  const tmlp::blas::backend_scope gemm(on);
  CAPTURE(tmlp::to_string(act), norm, dropout, tmlp::blas::name(on));
  problem p = make_problem(act, loss_kind::mse, true, 71);
  // 5 -> 6 (projected skip) -> 6 (identity skip) -> 4 (projected) -> k.
  p.spec.layers.insert(p.spec.layers.begin() + 1, {.units = 6, .act = act});
  for (std::size_t i = 0; i < 3; ++i) {
    p.spec.layers[i].residual = true;
    p.spec.layers[i].layer_norm = norm;
    p.spec.layers[i].dropout = dropout ? 0.3f : 0.0f;
  }
  const auto net = tmlp::core::network::from_spec(p.spec);
  REQUIRE(net.layers[0].proj_offset != tmlp::core::no_offset);
  REQUIRE(net.layers[1].proj_offset == tmlp::core::no_offset);
  REQUIRE(net.layers[2].proj_offset != tmlp::core::no_offset);
  std::vector<float> params(net.n_params);
  tmlp::core::init_params(net, p.spec, params.data());
  const std::uint64_t key = tmlp::core::dropout_key(3, 1);
  std::vector<float> grads(net.n_params, -7.0f);
  const double loss_f = tmlp::test::engine_pass(net, params.data(), p.rows, p.x.data(), p.t.data(),
                                                p.w.data(), grads, key)
                            .loss;
  tmlp::test::naive_mlp naive{p.spec};
  if (dropout)
    for (std::size_t i = 0; i < 3; ++i) {
      const auto m = tmlp::test::dropout_mask(net, i, p.rows, key);
      naive.masks.emplace_back(m.begin(), m.end());
    }
  check_against_naive(p, params, loss_f, grads, naive);
}

namespace {

// The problem's MLP with batch norm on both hidden layers (and residual skips or dropout), its
// gains, shifts and running statistics set to varied values.
std::vector<float> batch_norm_params(const tmlp::core::network& net, const problem& p) {
  std::vector<float> params(net.n_params);
  tmlp::core::init_params(net, p.spec, params.data());
  const auto key = tmlp::core::derive_key(83, 7);
  std::uint64_t c = 0;
  for (const auto& l : net.layers) {
    if (l.bn_offset == tmlp::core::no_offset) continue;
    CHECK(params[l.bn_offset] == 1.0f);                // gain starts at 1,
    CHECK(params[l.bn_offset + l.n_out] == 0.0f);      // shift at 0,
    CHECK(params[l.bn_offset + 2 * l.n_out] == 0.0f);  // running mean at 0,
    CHECK(params[l.bn_offset + 3 * l.n_out] == 1.0f);  // running variance at 1
    for (std::size_t j = 0; j < 4 * l.n_out; ++j)
      params[l.bn_offset + j] = static_cast<float>((j < l.n_out || j >= 3 * l.n_out ? 0.5 : -0.5) +
                                                   tmlp::core::uniform01(key, c++));
  }
  return params;
}

}  // namespace

TEST_CASE("batch norm: gradients match finite differences over the whole batch",
          "[core][gradcheck][batch_norm]") {
  const auto act =
      GENERATE(activation::relu, activation::tanh, activation::prelu, activation::identity);
  const bool residual = GENERATE(false, true);
  const bool dropout = GENERATE(false, true);
  CAPTURE(tmlp::to_string(act), residual, dropout);
  problem p = make_problem(act, loss_kind::mse, true, 83);
  for (std::size_t i = 0; i < 2; ++i) {
    p.spec.layers[i].batch_norm = true;
    p.spec.layers[i].residual = residual;  // 5 -> 6 projected, 6 -> 4 projected
    p.spec.layers[i].dropout = dropout ? 0.3f : 0.0f;
  }
  const auto net = tmlp::core::network::from_spec(p.spec);
  REQUIRE(net.bn_layers.size() == 2);
  const auto params = batch_norm_params(net, p);
  const std::uint64_t key = tmlp::core::dropout_key(3, 1);
  std::vector<float> grads(net.n_params, -7.0f);
  const double loss_f = tmlp::test::engine_pass(net, params.data(), p.rows, p.x.data(), p.t.data(),
                                                p.w.data(), grads, key)
                            .loss;
  tmlp::test::naive_mlp naive{p.spec};
  if (dropout)
    for (std::size_t i = 0; i < 2; ++i) {
      const auto m = tmlp::test::dropout_mask(net, i, p.rows, key);
      naive.masks.emplace_back(m.begin(), m.end());
    }
  check_against_naive(p, params, loss_f, grads, naive);
  for (const auto& l : net.layers) {  // the running statistics have no gradient
    if (l.bn_offset == tmlp::core::no_offset) continue;
    for (std::size_t j = 2 * l.n_out; j < 4 * l.n_out; ++j) CHECK(grads[l.bn_offset + j] == 0.0f);
  }
}

TEST_CASE("batch norm: shards merge into whole-batch statistics and gradients",
          "[core][gradcheck][batch_norm]") {
  // 7 rows in 4 shards (2, 2, 1, 2 rows): every statistic spans shards.
  const auto act = GENERATE(activation::relu, activation::tanh);
  CAPTURE(tmlp::to_string(act));
  problem p = make_problem(act, loss_kind::ce, true, 89);
  p.spec.layers[0].batch_norm = true;
  p.spec.layers[1].batch_norm = true;
  const auto net = tmlp::core::network::from_spec(p.spec);
  const auto params = batch_norm_params(net, p);
  tmlp::train::gradient_engine engine(net, p.rows, 1, 4);
  REQUIRE(engine.plan_for(p.rows).n_shards == 4);
  std::vector<std::uint32_t> ids(p.rows);
  for (std::size_t r = 0; r < p.rows; ++r) ids[r] = static_cast<std::uint32_t>(r);
  std::vector<float> grads(net.n_params, -7.0f);
  const double loss_f =
      engine.compute(tmlp::kernels::active(), params.data(), {p.x.data(), p.rows, p.spec.n_inputs},
                     p.t.data(), p.w.data(), ids.data(), p.rows, grads.data());
  for (float& g : grads) g *= static_cast<float>(p.rows);  // compute() divides by the batch
  const tmlp::test::naive_mlp naive{p.spec};
  check_against_naive(p, params, loss_f, grads, naive);
  // The merged moments are the batch's: the mean and biased variance of layer 0's Z.
  const auto& st = engine.batch_norm_stats();
  const auto& l0 = net.layers[0];
  for (std::size_t j = 0; j < l0.n_out; ++j) {
    double mean = 0.0, var = 0.0;
    std::vector<double> z(p.rows);
    for (std::size_t r = 0; r < p.rows; ++r) {
      z[r] = params[l0.b_offset + j];
      for (std::size_t i = 0; i < l0.n_in; ++i)
        z[r] += double(params[l0.w_offset + j * l0.n_in + i]) * p.x[r * l0.n_in + i];
      mean += z[r];
    }
    mean /= double(p.rows);
    for (double v : z) var += (v - mean) * (v - mean);
    var /= double(p.rows);
    CHECK(st.mean[l0.bn_stat + j] == Approx(mean).margin(1e-6));
    CHECK(st.var[l0.bn_stat + j] == Approx(var).epsilon(1e-5).margin(1e-7));
  }
}

namespace {

// Initial parameters with non-zero biases: zero ones put ReLU units of a row whose inputs are
// all zero exactly at the kink, where finite differences say nothing.
std::vector<float> embedding_params(const tmlp::model_spec& spec) {
  const auto net = tmlp::core::network::from_spec(spec);
  std::vector<float> params(net.n_params);
  tmlp::core::init_params(net, spec, params.data());
  const auto key = tmlp::core::derive_key(spec.seed, 5);
  std::uint64_t c = 0;
  for (const auto& l : net.layers)
    for (std::size_t j = 0; j < l.n_out; ++j)
      params[l.b_offset + j] = static_cast<float>(tmlp::core::uniform01(key, c++) - 0.5);
  return params;
}

// The problem with columns 1 and 3 of its 5 inputs turned into category indices with
// embeddings (cardinality 4, dim 3; cardinality 6, dim 2): indices cover every row of the
// tables but one, and include an out-of-range value and NaN (both select the last row).
problem embedding_problem(activation act, loss_kind loss, std::uint64_t seed) {
  problem p = make_problem(act, loss, true, seed);
  p.spec.embeddings = {{.column = 1, .cardinality = 4, .dim = 3},
                       {.column = 3, .cardinality = 6, .dim = 2}};
  const float idx1[7] = {0, 2, 2, 7, 1, 0, 2};  // 7: out of range -> row 3; row 3 used once
  const float idx3[7] = {5, 0, 1, 1, 4, std::nanf(""), 0};  // row 2 unused; NaN -> row 5
  for (std::size_t r = 0; r < p.rows; ++r) {
    p.x[r * 5 + 1] = idx1[r];
    p.x[r * 5 + 3] = idx3[r];
  }
  p.params = embedding_params(p.spec);
  return p;
}

}  // namespace

TEST_CASE("embeddings: gradients match finite differences, only used rows non-zero",
          "[core][gradcheck][embedding]") {
  const auto act = GENERATE(activation::relu, activation::tanh);
  const auto loss = GENERATE(loss_kind::ce, loss_kind::mse);
  const bool bn = GENERATE(false, true);
  CAPTURE(tmlp::to_string(act), tmlp::to_string(loss), bn);
  problem p = embedding_problem(act, loss, 97);
  p.spec.layers[0].batch_norm = bn;
  const auto net = tmlp::core::network::from_spec(p.spec);
  REQUIRE(net.layers[0].n_in == 3 + 3 + 2);
  REQUIRE(net.plain_columns == std::vector<std::size_t>{0, 2, 4});
  const std::vector<float> params = embedding_params(p.spec);
  std::vector<float> grads(net.n_params, -7.0f);  // garbage in the dense part, zero tables
  std::fill(grads.begin() + static_cast<std::ptrdiff_t>(net.n_dense_params), grads.end(), 0.0f);
  const double loss_f =
      tmlp::test::engine_pass(net, params.data(), p.rows, p.x.data(), p.t.data(), p.w.data(), grads)
          .loss;
  const tmlp::test::naive_mlp naive{p.spec};
  check_against_naive(p, params, loss_f, grads, naive);
  const auto& t2 = net.embeddings[1];  // its row 2 is unused: zero gradient
  for (std::size_t q = 0; q < t2.dim; ++q) CHECK(grads[t2.offset + 2 * t2.dim + q] == 0.0f);
  const auto& t1 = net.embeddings[0];  // row 3 only through the out-of-range index
  CHECK(grads[t1.offset + 3 * t1.dim] != 0.0f);
}

TEST_CASE("embeddings: the sharded gradient touches only the rows used and matches one pass",
          "[core][gradcheck][embedding]") {
  problem p = embedding_problem(activation::tanh, loss_kind::mse, 101);
  const auto net = tmlp::core::network::from_spec(p.spec);
  tmlp::train::gradient_engine engine(net, p.rows, 1, 4);
  REQUIRE(engine.plan_for(p.rows).n_shards == 4);
  std::vector<std::uint32_t> ids = {6, 2, 0, 5, 1, 3, 4};  // any order of the rows
  std::vector<float> g(net.n_params, -7.0f);
  const double loss = engine.compute(tmlp::kernels::active(), p.params.data(),
                                     {p.x.data(), p.rows, p.spec.n_inputs}, p.t.data(), p.w.data(),
                                     ids.data(), p.rows, g.data());
  std::vector<float> whole(net.n_params, 0.0f);  // one shard; unused table rows stay 0
  const double l = tmlp::test::engine_pass(net, p.params.data(), p.rows, p.x.data(), p.t.data(),
                                           p.w.data(), whole)
                       .loss;
  CHECK(loss == Approx(l).epsilon(1e-6));
  // The rows written: table 0 rows 0..3, table 1 rows 0, 1, 4, 5, in offset order.
  std::vector<std::size_t> expect;
  for (std::size_t r : {0, 1, 2, 3}) expect.push_back(net.embeddings[0].offset + r * 3);
  for (std::size_t r : {0, 1, 4, 5}) expect.push_back(net.embeddings[1].offset + r * 2);
  const auto rows = engine.sparse_rows();
  REQUIRE(rows.size() == expect.size());
  std::vector<bool> written(net.n_params, false);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    CHECK(rows[i].offset == expect[i]);
    for (std::size_t q = 0; q < rows[i].dim; ++q) written[rows[i].offset + q] = true;
  }
  for (std::size_t i = 0; i < net.n_params; ++i) {
    CAPTURE(i);
    if (i >= net.n_dense_params && !written[i])
      CHECK(g[i] == -7.0f);  // an unused table row: left as it was
    else
      CHECK(g[i] == Approx(whole[i] / static_cast<double>(p.rows)).margin(1e-6));
  }
  // A second batch of other rows: the first batch's rows go back to zero.
  const std::vector<std::uint32_t> two = {1, 2};  // table 1 rows 0 and 1
  engine.compute(tmlp::kernels::active(), p.params.data(), {p.x.data(), p.rows, p.spec.n_inputs},
                 p.t.data(), p.w.data(), two.data(), 2, g.data());
  const auto& t1 = net.embeddings[1];
  for (std::size_t r : {4, 5}) CHECK(g[t1.offset + r * 2] == 0.0f);  // first batch only
  CHECK(g[t1.offset + 0 * 2] != 0.0f);
  CHECK(g[t1.offset + 2 * 2] == -7.0f);  // never used
}
