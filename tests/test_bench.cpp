// tmlp/bench.hpp: the benchmark protocol's configurations (their values are the protocol's and
// must not drift), the synthetic data, the GEMM and training-step runners and the FMA loop.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "blas/blas.hpp"
#include "kernels.hpp"
#include "tmlp/bench.hpp"
#include "tmlp/error.hpp"
#include "tmlp/model.hpp"
#include "tmlp/trainer.hpp"

namespace {

using tmlp::activation;
using tmlp::loss_kind;

float lr_of(const tmlp::optimizer& o) {
  return std::visit([](const auto& v) { return v.lr; }, o);
}

bool same_values(const tmlp::matrix& a, const tmlp::matrix& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a.data()[i] != b.data()[i]) return false;
  return true;
}

}  // namespace

TEST_CASE("the benchmark configurations are the protocol's A, B, C and H", "[bench]") {
  struct want {
    std::vector<std::size_t> widths;
    activation act;
    loss_kind loss;
    const char* opt;
    float lr, momentum;
    std::size_t batch;
  };
  const std::vector<std::pair<std::string, want>> protocol = {
      {"A", {{28, 256, 256, 1}, activation::relu, loss_kind::bce, "adam", 1e-3f, 0.0f, 256}},
      {"B",
       {{100, 1024, 1024, 1024, 10},
        activation::relu,
        loss_kind::ce,
        "momentum",
        0.01f,
        0.9f,
        1024}},
      {"C", {{10, 64, 64, 1}, activation::tanh, loss_kind::mse, "sgd", 0.01f, 0.0f, 64}},
      {"H",
       {{28, 300, 300, 300, 300, 300, 1},
        activation::tanh,
        loss_kind::bce,
        "momentum",
        0.01f,
        0.9f,
        100}},
  };
  const auto all = tmlp::bench_configs();
  REQUIRE(all.size() == protocol.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    const tmlp::bench_config& c = all[i];
    const want& w = protocol[i].second;
    INFO(c.name);
    CHECK(c.name == protocol[i].first);
    CHECK(tmlp::find_bench_config(c.name) == &c);
    CHECK(c.widths() == w.widths);
    CHECK(c.act == w.act);
    CHECK(c.loss == w.loss);
    CHECK(c.optimizer_name == w.opt);
    CHECK(c.lr == w.lr);
    CHECK(c.momentum == w.momentum);
    CHECK(c.batch_size == w.batch);
    CHECK(c.rows == 200000);

    // The spec: hidden layers of the activation, an identity output, the loss and the seed.
    const tmlp::model_spec s = c.spec(42);
    CHECK(s.seed == 42);
    CHECK(s.loss == w.loss);
    REQUIRE(s.layers.size() + 1 == w.widths.size());
    for (std::size_t l = 0; l < s.layers.size(); ++l) {
      CHECK(s.layers[l].units == w.widths[l + 1]);
      CHECK(s.layers[l].act == (l + 1 == s.layers.size() ? activation::identity : w.act));
    }
    const tmlp::model m = tmlp::model::create(s);
    CHECK(m.n_inputs() == w.widths.front());
    CHECK(m.n_outputs() == w.widths.back());

    // The optimizer: the named one with the rate and momentum set, accepted by the trainer.
    const tmlp::optimizer o = c.make_optimizer();
    CHECK(tmlp::to_string(o) == w.opt);
    CHECK(lr_of(o) == w.lr);
    if (const auto* mo = std::get_if<tmlp::momentum>(&o)) CHECK(mo->momentum == w.momentum);
    CHECK_NOTHROW(tmlp::trainer(tmlp::train_config{.opt = o, .batch_size = c.batch_size}));
  }
  CHECK(tmlp::find_bench_config("a") == nullptr);
  CHECK(tmlp::find_bench_config("Z") == nullptr);
  CHECK(tmlp::find_bench_config("") == nullptr);
}

TEST_CASE("make_bench_data: shapes, targets of the loss, same seed same data", "[bench]") {
  for (loss_kind loss : {loss_kind::ce, loss_kind::bce, loss_kind::mse}) {
    tmlp::model_spec spec;
    spec.n_inputs = 6;
    spec.layers = {{.units = 8, .act = activation::relu}, {.units = 3}};
    spec.loss = loss;
    INFO(tmlp::to_string(loss));
    const tmlp::bench_data d = tmlp::make_bench_data(spec, 3000, 50, 7);
    REQUIRE(d.x.rows() == 3000);
    REQUIRE(d.x.cols() == 6);
    REQUIRE(d.y.rows() == 3000);
    REQUIRE(d.y.cols() == (loss == loss_kind::ce ? 1u : 3u));
    REQUIRE(d.x_infer.rows() == 50);
    REQUIRE(d.x_infer.cols() == 6);

    double sum = 0.0, sq = 0.0;  // standard normal inputs
    for (std::size_t i = 0; i < d.x.size(); ++i) {
      sum += d.x.data()[i];
      sq += double(d.x.data()[i]) * d.x.data()[i];
    }
    const double n = static_cast<double>(d.x.size()), mean = sum / n;
    CHECK(std::abs(mean) < 0.05);
    CHECK(std::abs(sq / n - mean * mean - 1.0) < 0.05);

    std::vector<std::size_t> seen(3, 0);  // every class or 0/1 value turns up
    for (std::size_t i = 0; i < d.y.size(); ++i) {
      const float v = d.y.data()[i];
      if (loss == loss_kind::ce) {
        REQUIRE((v == 0.0f || v == 1.0f || v == 2.0f));
        ++seen[static_cast<std::size_t>(v)];
      } else if (loss == loss_kind::bce) {
        REQUIRE((v == 0.0f || v == 1.0f));
        ++seen[static_cast<std::size_t>(v)];
      }
    }
    if (loss == loss_kind::ce) CHECK((seen[0] > 0 && seen[1] > 0 && seen[2] > 0));
    if (loss == loss_kind::bce) CHECK((seen[0] > 0 && seen[1] > 0));

    const tmlp::bench_data again = tmlp::make_bench_data(spec, 3000, 50, 7);
    CHECK(same_values(d.x, again.x));
    CHECK(same_values(d.y, again.y));
    CHECK(same_values(d.x_infer, again.x_infer));
    CHECK(!same_values(d.x, tmlp::make_bench_data(spec, 3000, 50, 8).x));
  }
}

TEST_CASE("bench_gemm_step counts the GEMM FLOP of a step", "[bench]") {
  const std::vector<std::size_t> w = {28, 256, 256, 1};
  tmlp::bench_gemm_step g(w, 64);
  // Forward and weight gradient of every layer, input gradient but for the first: 2 m n k each.
  const double want = 2.0 * 64 * (28 * 256 * 2 + 256 * 256 * 3 + 256 * 1 * 3);
  CHECK(g.flops() == want);
  g.run();
  const std::vector<std::size_t> one = {5};
  CHECK_THROWS_AS(tmlp::bench_gemm_step(one, 64), tmlp::error);
}

TEST_CASE("bench_train_step runs training steps and times their phases", "[bench]") {
  const tmlp::blas::backend_scope openblas(tmlp::blas::backend::openblas);
  const tmlp::bench_config& c = *tmlp::find_bench_config("C");
  const tmlp::model_spec spec = c.spec(3);
  const tmlp::bench_data d = tmlp::make_bench_data(spec, 200, 1, 3);
  const tmlp::train_config cfg{.opt = c.make_optimizer(), .batch_size = c.batch_size, .seed = 3};
  tmlp::bench_train_step s(spec, cfg, d.x.view(), d.y.view(), 2);
  CHECK(s.batch_size() == 64);
  CHECK(s.n_workers() >= 1);
  CHECK(s.n_workers() <= 2);
  for (int i = 0; i < 5; ++i) s.run();  // 200 rows: batches at 0, 64, then 0 again
  const tmlp::bench_phase_seconds p = s.phases();
  CHECK(p.forward > 0.0);
  CHECK(p.backward > 0.0);
  CHECK(p.update > 0.0);
  s.reset_phases();
  const tmlp::bench_phase_seconds z = s.phases();
  CHECK((z.gather == 0.0 && z.forward == 0.0 && z.backward == 0.0 && z.reduce == 0.0 &&
         z.update == 0.0));
  // Nothing to prepare on OpenBLAS in fp32; the libxsmm backend's transposed weights are made
  // once per step, and timed.
  CHECK(p.prepare == 0.0);
  {
    const tmlp::blas::backend_scope gemm(tmlp::blas::backend::libxsmm);
    tmlp::bench_train_step t(spec, cfg, d.x.view(), d.y.view(), 2);
    t.run();
    CHECK(t.phases().prepare > 0.0);
  }

  // A batch larger than the data is the data; mismatched x and y and bad configs are refused.
  tmlp::bench_train_step whole(spec, {.batch_size = 1000}, d.x.view(), d.y.view(), 1);
  CHECK(whole.batch_size() == 200);
  const tmlp::matrix_view short_y(d.y.data(), 100, d.y.cols());
  CHECK_THROWS_AS(tmlp::bench_train_step(spec, cfg, d.x.view(), short_y, 1), tmlp::error);
  CHECK_THROWS_AS(
      tmlp::bench_train_step(spec, {.opt = tmlp::sgd{.lr = -1.0f}}, d.x.view(), d.y.view(), 1),
      tmlp::error);
}

TEST_CASE("bench_fma_loop runs the active architecture's FMA loop on each thread", "[bench]") {
  const tmlp::kernels::kernel_table& k = tmlp::kernels::active();
  tmlp::bench_fma_loop one(1), two(2);
  CHECK(one.isa() == std::string_view(k.name));
  CHECK(one.lanes() == k.lanes);
  CHECK(one.n_vectors() == tmlp::kernels::fma_accumulators);
  CHECK(two.n_threads() == 2);
  // 2 FLOP per lane and step, 2^20 steps on each thread.
  const double per_step = 2.0 * static_cast<double>(one.n_vectors() * one.lanes());
  CHECK(one.flops() == per_step * 1048576.0);
  CHECK(two.flops() == 2.0 * one.flops());
  one.run();
  two.run();
  CHECK_THROWS_AS(tmlp::bench_fma_loop(0), tmlp::error);
}
