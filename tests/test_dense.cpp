// Forward passes against the naive double MLP; layout and workspace behaviour.
#include <catch2/catch.hpp>

#include <vector>

#include "core/network.hpp"
#include "core/random.hpp"
#include "support/naive_mlp.hpp"
#include "tmlp/error.hpp"

using tmlp::activation;

TEST_CASE("forward matches the naive MLP for every activation", "[core][dense]") {
  const auto act = static_cast<activation>(GENERATE(range(0, 11)));
  CAPTURE(tmlp::to_string(act));
  tmlp::model_spec spec{
      .n_inputs = 9,
      .layers = {{.units = 17, .act = act}, {.units = 16, .act = act}, {.units = 3, .act = act}},
      .loss = tmlp::loss_kind::mse,
      .seed = 3};
  const auto net = tmlp::core::network::from_spec(spec);
  std::vector<float> params(net.n_params);
  tmlp::core::init_params(net, spec, params.data());
  for (const auto& l : net.layers)
    for (std::size_t j = 0; j < l.n_out; ++j) params[l.b_offset + j] = 0.1f * float(j % 5) - 0.2f;
  const std::size_t rows = 37;
  std::vector<float> x(rows * spec.n_inputs);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(4.0 * tmlp::core::uniform01(11, i) - 2.0);

  tmlp::core::workspace ws(net, 64);
  const float* y =
      tmlp::core::forward(tmlp::kernels::active(), net, params.data(), rows, x.data(), ws);
  const tmlp::test::naive_mlp naive{spec};
  const std::vector<double> pd(params.begin(), params.end()), xd(x.begin(), x.end());
  for (std::size_t r = 0; r < rows; ++r) {
    const auto ref = naive.forward(pd, xd.data() + r * spec.n_inputs);
    for (std::size_t j = 0; j < 3; ++j)
      REQUIRE(y[r * 3 + j] == Approx(ref[j]).epsilon(1e-4).margin(1e-5));
  }
}

TEST_CASE("layout puts W, b and prelu slopes of each layer in order", "[core][dense]") {
  tmlp::model_spec spec{.n_inputs = 4,
                        .layers = {{.units = 3, .act = activation::prelu},
                                   {.units = 2, .act = activation::identity}}};
  const auto net = tmlp::core::network::from_spec(spec);
  REQUIRE(net.layers.size() == 2);
  CHECK(net.layers[0].w_offset == 0);
  CHECK(net.layers[0].b_offset == 12);
  CHECK(net.layers[0].slope_offset == 15);
  CHECK(net.layers[0].alpha == 0.25f);
  CHECK(net.layers[1].w_offset == 18);
  CHECK(net.layers[1].b_offset == 24);
  CHECK(net.layers[1].slope_offset == tmlp::core::no_offset);
  CHECK(net.n_params == 26);
  CHECK(net.n_outputs == 2);
  CHECK(net.max_width == 4);
}

TEST_CASE("invalid specs are rejected with a message naming the field", "[core][dense]") {
  using Catch::Matchers::Contains;
  tmlp::model_spec spec{.n_inputs = 4, .layers = {{.units = 3}, {.units = 1}}};
  SECTION("no inputs") {
    spec.n_inputs = 0;
    CHECK_THROWS_WITH(tmlp::validate(spec), Contains("model_spec.n_inputs: 0"));
  }
  SECTION("no layers") {
    spec.layers.clear();
    CHECK_THROWS_WITH(tmlp::validate(spec), Contains("model_spec.layers: none"));
  }
  SECTION("zero units") {
    spec.layers[0].units = 0;
    CHECK_THROWS_WITH(tmlp::validate(spec), Contains("model_spec.layers[0].units: 0"));
  }
  SECTION("huge layer") {
    spec.layers[0].units = std::size_t{1} << 23;
    spec.n_inputs = std::size_t{1} << 23;
    CHECK_THROWS_WITH(tmlp::validate(spec), Contains("exceed the limit"));
  }
  SECTION("ce with one output") {
    spec.loss = tmlp::loss_kind::ce;
    CHECK_THROWS_WITH(tmlp::validate(spec), Contains("model_spec.loss: ce needs"));
  }
  SECTION("bad huber delta") {
    spec.loss = tmlp::loss_kind::huber;
    spec.huber_delta = -1.0f;
    CHECK_THROWS_WITH(tmlp::validate(spec), Contains("model_spec.huber_delta"));
  }
  SECTION("non-finite alpha") {
    spec.layers[1].alpha = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(tmlp::validate(spec), Contains("model_spec.layers[1].alpha"));
  }
  SECTION("out-of-range enum") {
    spec.layers[0].act = static_cast<activation>(99);
    CHECK_THROWS_AS(tmlp::validate(spec), tmlp::error);
  }
}

TEST_CASE("the pipeline: ops per layer, barriers, segments and frozen parameters",
          "[core][dense]") {
  tmlp::model_spec spec{.n_inputs = 4,
                        .layers = {{.units = 8,
                                    .act = activation::relu,
                                    .dropout = 0.1f,
                                    .residual = true,
                                    .batch_norm = true},
                                   {.units = 8, .act = activation::tanh, .layer_norm = true},
                                   {.units = 6, .act = activation::gelu, .batch_norm = true},
                                   {.units = 2, .act = activation::identity}},
                        .embeddings = {{.column = 1, .cardinality = 5, .dim = 3}}};
  const auto net = tmlp::core::network::from_spec(spec);
  // embedding; linear, bn barrier, bn apply, act, dropout, residual; linear, layer norm, act;
  // linear, bn barrier, bn apply, act; linear (the identity has no op).
  CHECK(net.ops.size() == 1 + 6 + 3 + 4 + 1);
  REQUIRE(net.n_segments() == 3);
  CHECK(net.segment_end == std::vector<std::size_t>{3, 12, 15});
  CHECK(tmlp::core::barrier_of(net, 0).is_barrier());
  CHECK(tmlp::core::barrier_of(net, 1).is_barrier());
  CHECK(net.act_op == std::vector<std::size_t>{4, 9, 13, tmlp::core::network::no_op});
  // The running mean and variance of both batch-norm layers, nothing else.
  REQUIRE(net.frozen.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& l = net.layers[net.bn_layers[i]];
    CHECK(net.frozen[i].begin == l.bn_offset + 2 * l.n_out);
    CHECK(net.frozen[i].end == l.bn_offset + 4 * l.n_out);
  }
  // A copy shares the ops; folding batch norm rebuilds them without barriers.
  auto folded = net;
  CHECK(folded.ops[0] == net.ops[0]);
  std::vector<float> params(net.n_params, 0.5f);
  tmlp::core::fold_batch_norm(folded, params.data());
  CHECK(folded.n_segments() == 1);
  CHECK(folded.frozen.empty());
  CHECK(folded.ops.size() == net.ops.size() - 4);
}
