// Initialization: the right distributions, reproducible bits, streams independent per layer.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "core/network.hpp"

using tmlp::activation;
using tmlp::init_kind;

namespace {
std::vector<float> init(const tmlp::model_spec& spec) {
  const auto net = tmlp::core::network::from_spec(spec);
  std::vector<float> p(net.n_params, -1.0f);
  tmlp::core::init_params(net, spec, p.data());
  return p;
}
}  // namespace

TEST_CASE("each init rule draws from its distribution", "[core][init]") {
  const auto [kind, uniform, var] =
      GENERATE(std::tuple{init_kind::xavier_uniform, true, 2.0 / (300 + 200)},
               std::tuple{init_kind::xavier_normal, false, 2.0 / (300 + 200)},
               std::tuple{init_kind::he_uniform, true, 2.0 / 300},
               std::tuple{init_kind::he_normal, false, 2.0 / 300},
               std::tuple{init_kind::lecun_normal, false, 1.0 / 300},
               std::tuple{init_kind::lecun_uniform, true, 1.0 / 300});
  CAPTURE(tmlp::to_string(kind));
  tmlp::model_spec spec{.n_inputs = 300,
                        .layers = {{.units = 200, .act = activation::tanh, .init = kind}},
                        .seed = 9};
  const auto p = init(spec);
  const std::size_t n = 300 * 200;
  double mean = 0.0, m2 = 0.0, m4 = 0.0, max_abs = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    mean += p[i];
    m2 += double(p[i]) * p[i];
    m4 += std::pow(double(p[i]), 4);
    max_abs = std::max(max_abs, std::fabs(double(p[i])));
  }
  mean /= n, m2 /= n, m4 /= n;
  CHECK(std::fabs(mean) < 4.0 * std::sqrt(var / n));
  CHECK(m2 == Approx(var).epsilon(0.02));
  // Kurtosis tells the shapes apart: 1.8 for a uniform, 3 for a normal.
  CHECK(m4 / (m2 * m2) == Approx(uniform ? 1.8 : 3.0).epsilon(0.05));
  if (uniform) CHECK(max_abs <= std::sqrt(3.0 * var) * (1 + 1e-6));
  for (std::size_t j = 0; j < 200; ++j) CHECK(p[n + j] == 0.0f);  // biases
}

TEST_CASE("automatic init picks by activation and prelu slopes start at alpha", "[core][init]") {
  tmlp::model_spec relu{
      .n_inputs = 100, .layers = {{.units = 100, .act = activation::relu}}, .seed = 1};
  tmlp::model_spec he = relu;
  he.layers[0].init = init_kind::he_uniform;
  CHECK(init(relu) == init(he));
  tmlp::model_spec selu{
      .n_inputs = 100, .layers = {{.units = 100, .act = activation::selu}}, .seed = 1};
  tmlp::model_spec lecun = selu;
  lecun.layers[0].init = init_kind::lecun_normal;
  CHECK(init(selu) == init(lecun));
  tmlp::model_spec prelu{.n_inputs = 3,
                         .layers = {{.units = 2, .act = activation::prelu, .alpha = 0.1f}}};
  const auto p = init(prelu);
  CHECK(p[8] == 0.1f);
  CHECK(p[9] == 0.1f);
}

TEST_CASE("initialization is reproducible and keyed by seed and layer", "[core][init]") {
  tmlp::model_spec a{.n_inputs = 10, .layers = {{.units = 20}, {.units = 5}}, .seed = 42};
  CHECK(init(a) == init(a));
  tmlp::model_spec b = a;
  b.seed = 43;
  CHECK(init(a) != init(b));
  // Changing the second layer leaves the first layer's weights alone.
  tmlp::model_spec c = a;
  c.layers[1].units = 7;
  const auto pa = init(a), pc = init(c);
  CHECK(std::vector<float>(pa.begin(), pa.begin() + 200) ==
        std::vector<float>(pc.begin(), pc.begin() + 200));
}
