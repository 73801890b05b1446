// Losses and their gradients against closed forms, including extreme logits.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "core/loss.hpp"
#include "tmlp/error.hpp"

using tmlp::loss_kind;
using tmlp::core::loss_config;
using tmlp::core::loss_forward_backward;

namespace {
struct result {
  double loss;
  std::vector<float> grad;
};
result eval(loss_config c, std::size_t rows, std::size_t k, std::vector<float> y,
            std::vector<float> t, const std::vector<float>& w = {}) {
  result r{0.0, std::vector<float>(rows * k, -9.0f)};
  r.loss = loss_forward_backward(c, rows, k, y.data(), t.data(), w.empty() ? nullptr : w.data(),
                                 r.grad.data());
  return r;
}
}  // namespace

TEST_CASE("mse, mae and huber closed forms", "[core][loss]") {
  auto r = eval({loss_kind::mse}, 1, 2, {1, 2}, {0, 4});
  CHECK(r.loss == Approx(2.5));
  CHECK(r.grad == std::vector<float>{1.0f, -2.0f});

  r = eval({loss_kind::mae}, 1, 3, {1, 2, 5}, {0, 4, 5});
  CHECK(r.loss == Approx(1.0));
  CHECK(r.grad[0] == Approx(1.0 / 3));
  CHECK(r.grad[1] == Approx(-1.0 / 3));
  CHECK(r.grad[2] == 0.0f);  // sign(0) = 0: no push at the optimum

  r = eval({loss_kind::huber, 1.0f}, 1, 2, {0.5f, -3.0f}, {0, 0});
  CHECK(r.loss == Approx((0.125 + 2.5) / 2));
  CHECK(r.grad == std::vector<float>{0.25f, -0.5f});
}

TEST_CASE("binary cross-entropy on logits is stable at extreme logits", "[core][loss]") {
  auto r = eval({loss_kind::bce}, 1, 1, {0}, {1});
  CHECK(r.loss == Approx(std::log(2.0)));
  CHECK(r.grad[0] == Approx(-0.5));
  r = eval({loss_kind::bce}, 4, 1, {100, -100, 100, -100}, {1, 1, 0, 0});
  CHECK(r.loss == Approx(200.0));  // rows 1 and 2 cost 100 each, rows 0 and 3 almost nothing
  CHECK(r.grad[0] == Approx(0.0).margin(1e-30));
  CHECK(r.grad[1] == Approx(-1.0));
  CHECK(r.grad[2] == Approx(1.0));
  CHECK(r.grad[3] == Approx(0.0).margin(1e-30));
  r = eval({loss_kind::bce}, 1, 1, {1e30f}, {0.25f});
  CHECK(std::isfinite(r.loss));
  CHECK(r.grad[0] == Approx(0.75));
}

TEST_CASE("softmax cross-entropy closed form and huge logits", "[core][loss]") {
  auto r = eval({loss_kind::ce}, 1, 3, {1, 2, 3}, {2});
  const double s = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  CHECK(r.loss == Approx(std::log(s) - 3.0));
  CHECK(r.grad[0] == Approx(std::exp(1.0) / s));
  CHECK(r.grad[1] == Approx(std::exp(2.0) / s));
  CHECK(r.grad[2] == Approx(std::exp(3.0) / s - 1.0));

  r = eval({loss_kind::ce}, 1, 3, {1000, 0, -1000}, {1});
  CHECK(r.loss == Approx(1000.0));
  CHECK(r.grad[0] == Approx(1.0));
  CHECK(r.grad[1] == Approx(-1.0));
  CHECK(r.grad[2] == Approx(0.0).margin(1e-30));
}

TEST_CASE("label smoothing: the smoothed targets' closed forms and finite differences",
          "[core][loss]") {
  const float s = 0.2f;
  // ce over k = 3: q = (1 - s) onehot(c) + s / 3; loss = logsumexp(y) - q.y; grad softmax - q.
  const std::vector<float> y{0.3f, -1.2f, 2.0f};
  const auto r = eval({loss_kind::ce, 1.0f, s}, 1, 3, y, {1});
  double z = 0.0;
  for (float v : y) z += std::exp(static_cast<double>(v));
  const double lse = std::log(z);
  const double q[3] = {s / 3.0, (1.0 - s) + s / 3.0, s / 3.0};
  CHECK(r.loss == Approx(lse - (q[0] * y[0] + q[1] * y[1] + q[2] * y[2])).epsilon(1e-6));
  for (std::size_t j = 0; j < 3; ++j)
    CHECK(r.grad[j] == Approx(std::exp(y[j] - lse) - q[j]).margin(1e-6));
  // bce: t' = t (1 - s) + s / 2.
  const auto b = eval({loss_kind::bce, 1.0f, s}, 1, 1, {0.7f}, {1});
  const double t = 1.0 - s / 2.0;
  CHECK(b.loss == Approx(std::log1p(std::exp(0.7)) - t * 0.7).epsilon(1e-6));
  CHECK(b.grad[0] == Approx(1.0 / (1.0 + std::exp(-0.7)) - t).margin(1e-6));
  // Central differences of the loss against the gradient, every logit, both losses.
  for (const loss_kind kind : {loss_kind::ce, loss_kind::bce}) {
    const std::size_t k = 4;
    const std::vector<float> y0{0.5f, -0.25f, 1.5f, -2.0f};
    const std::vector<float> t0 =
        kind == loss_kind::ce ? std::vector<float>{2} : std::vector<float>{1, 0, 1, 0};
    const auto g = eval({kind, 1.0f, s}, 1, k, y0, t0);
    for (std::size_t j = 0; j < k; ++j) {
      const float h = 1e-2f;
      std::vector<float> up = y0, down = y0;
      up[j] += h;
      down[j] -= h;
      const double fd =
          (eval({kind, 1.0f, s}, 1, k, up, t0).loss - eval({kind, 1.0f, s}, 1, k, down, t0).loss) /
          (2.0 * h);
      CHECK(g.grad[j] == Approx(fd).margin(2e-4));
    }
  }
  // s = 0 is the plain loss, bit for bit.
  const auto plain = eval({loss_kind::ce}, 1, 3, y, {1});
  const auto zero = eval({loss_kind::ce, 1.0f, 0.0f}, 1, 3, y, {1});
  CHECK(plain.loss == zero.loss);
  CHECK(plain.grad == zero.grad);
}

TEST_CASE("sample weights scale each row's loss and gradient", "[core][loss]") {
  const auto kind = static_cast<loss_kind>(GENERATE(range(0, 4)));
  const auto plain = eval({kind}, 2, 1, {0.3f, -0.2f}, {0.9f, 0.1f});
  const auto weighted = eval({kind}, 2, 1, {0.3f, -0.2f}, {0.9f, 0.1f}, {2.0f, 0.0f});
  const auto first = eval({kind}, 1, 1, {0.3f}, {0.9f});
  CHECK(weighted.loss == Approx(2.0 * first.loss));
  CHECK(weighted.grad[0] == Approx(2.0 * plain.grad[0]));
  CHECK(weighted.grad[1] == 0.0f);
}

TEST_CASE("bad targets and weights are rejected naming the row", "[core][loss]") {
  using Catch::Matchers::Contains;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> t = {0, 1, 2.5f};
  CHECK_THROWS_WITH(tmlp::core::check_targets({loss_kind::ce}, 3, 3, t.data(), nullptr),
                    Contains("row 2") && Contains("not a class index in 0..2"));
  t = {0, 1, 3};
  CHECK_THROWS_WITH(tmlp::core::check_targets({loss_kind::ce}, 3, 3, t.data(), nullptr),
                    Contains("row 2"));
  t = {0, 1.5f};
  CHECK_THROWS_WITH(tmlp::core::check_targets({loss_kind::bce}, 2, 1, t.data(), nullptr),
                    Contains("row 1") && Contains("outside [0, 1]"));
  t = {nan};
  CHECK_THROWS_WITH(tmlp::core::check_targets({loss_kind::mse}, 1, 1, t.data(), nullptr),
                    Contains("not finite"));
  t = {1.0f};
  std::vector<float> w = {-1.0f};
  CHECK_THROWS_WITH(tmlp::core::check_targets({loss_kind::mse}, 1, 1, t.data(), w.data()),
                    Contains("sample weight row 0"));
  t = {0, 2, 1};
  CHECK_NOTHROW(tmlp::core::check_targets({loss_kind::ce}, 3, 3, t.data(), nullptr));
}
