// Learns the quadrant problem (label: x0 * x1 > 0) with a 2 -> 16 tanh -> 1 MLP; exits 1 if the
// accuracy on rows held out from training is below 0.9.
#include <cstdint>
#include <cstdio>

#include <tmlp/model.hpp>
#include <tmlp/trainer.hpp>

int main() {
  const std::size_t n_train = 4000, n_test = 1000, n = n_train + n_test;
  tmlp::matrix x(n, 2), y(n, 1);
  std::uint64_t state = 1;
  auto uniform = [&state] {  // deterministic generator, uniform in [-1, 1)
    state = state * 6364136223846793005u + 1442695040888963407u;
    return static_cast<float>(state >> 40) / 8388608.0f - 1.0f;
  };
  for (std::size_t i = 0; i < n; ++i) {
    x(i, 0) = uniform();
    x(i, 1) = uniform();
    y(i, 0) = x(i, 0) * x(i, 1) > 0.0f ? 1.0f : 0.0f;
  }

  tmlp::model m = tmlp::model::create({.n_inputs = 2,
                                       .layers = {{.units = 16, .act = tmlp::activation::tanh},
                                                  {.units = 1, .act = tmlp::activation::identity}},
                                       .loss = tmlp::loss_kind::bce,
                                       .seed = 42});
  tmlp::trainer t({.opt = tmlp::adam{.lr = 0.01f}, .batch_size = 64, .epochs = 20});
  t.fit(m, tmlp::matrix_view(x.row(0), n_train, 2), tmlp::matrix_view(y.row(0), n_train, 1));

  tmlp::matrix p = m.predict(tmlp::matrix_view(x.row(n_train), n_test, 2));  // probabilities
  std::size_t correct = 0;
  for (std::size_t i = 0; i < n_test; ++i)
    correct += (p(i, 0) > 0.5f) == (y(n_train + i, 0) > 0.5f);
  const double accuracy = static_cast<double>(correct) / static_cast<double>(n_test);
  std::printf("test accuracy %.3f\n", accuracy);
  return accuracy >= 0.9 ? 0 : 1;
}
