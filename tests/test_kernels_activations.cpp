// Activation, softmax and column-sum kernels: every architecture this machine has against the
// scalar reference, within the bounds documented at the top of kernels/activation_ops.hpp (the
// table below must say the same), plus the reference itself against closed forms and central
// differences in double.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels.hpp"

namespace {

namespace k = tmlp::kernels;
using k::act;

// |v - r| <= (ulps + ulps_neg * max(0, -x)) * ulp(r) + abs + abs_dy * |dy| for input x;
// all zero: bit-identical (NaN: any NaN).
struct bound {
  double ulps = 0, abs = 0, abs_dy = 0, ulps_neg = 0;
  bool exact() const { return ulps == 0 && abs == 0 && abs_dy == 0 && ulps_neg == 0; }
};
constexpr bound exact{};
constexpr double tiny = 1e-37;

struct act_case {
  act a;
  const char* name;
  float alpha;
  bound fwd, bwd;
};

// The bounds documented in kernels/activation_ops.hpp.
const act_case acts[] = {
    {act::identity, "identity", 0.0f, exact, exact},
    {act::relu, "relu", 0.0f, exact, exact},
    {act::leaky_relu, "leaky_relu", 0.01f, exact, exact},
    {act::prelu, "prelu", 0.0f, exact, exact},
    {act::elu, "elu", 0.7f, {3, tiny}, exact},
    {act::selu, "selu", 0.0f, {4, tiny}, exact},
    {act::sigmoid, "sigmoid", 0.0f, {3, tiny}, exact},
    {act::tanh, "tanh", 0.0f, {4, tiny}, exact},
    {act::gelu, "gelu", 0.0f, {6, tiny, 0, 1.5}, {4, tiny, 1e-7}},
    {act::gelu_tanh, "gelu_tanh", 0.0f, {4, tiny}, {4, tiny, 1e-7}},
    {act::softplus, "softplus", 0.0f, {4, tiny}, {4, tiny}},
};
// softmax_rows: |y-r| <= (8 + cols) 2^-24 |r| + 1e-37; log_softmax_rows: 2 ulp(r) + (8 + cols)
// 2^-24; col_sums and prelu's d_slope: exact.

double ulp_of(float r) {
  const double a = std::fabs(static_cast<double>(r));
  if (a < FLT_MIN) return std::ldexp(1.0, -149);
  int e = 0;
  std::frexp(a, &e);
  return std::ldexp(1.0, e - 24);
}

std::uint32_t bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

float from_bits(std::uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

bool within(float v, float r, const bound& b, float dy = 0.0f, float x = 0.0f) {
  if (std::isnan(v) || std::isnan(r)) return std::isnan(v) && std::isnan(r);
  if (b.exact()) return bits(v) == bits(r);
  if (std::isinf(v) || std::isinf(r)) return v == r;
  const double err = std::fabs(static_cast<double>(v) - static_cast<double>(r));
  const double ulps = b.ulps + (b.ulps_neg > 0 && x < 0 ? -b.ulps_neg * double(x) : 0.0);
  return err <= ulps * ulp_of(r) + b.abs + b.abs_dy * std::fabs(static_cast<double>(dy));
}

// Fails with the first element out of bound, naming it.
void check_all(const std::vector<float>& got, const std::vector<float>& want, const bound& b,
               const std::vector<float>& in, const std::vector<float>* dy = nullptr) {
  REQUIRE(got.size() == want.size());
  // TMLP_REPORT_ULP=1 prints the largest error seen, in ulp beyond the absolute terms.
  static const bool report = std::getenv("TMLP_REPORT_ULP") != nullptr;
  double worst = 0;
  std::size_t worst_i = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const float d = dy != nullptr ? (*dy)[i] : 0.0f;
    if (report && std::isfinite(got[i]) && std::isfinite(want[i])) {
      const double e =
          (std::fabs(double(got[i]) - double(want[i])) - b.abs - b.abs_dy * std::fabs(double(d))) /
              ulp_of(want[i]) -
          (b.ulps_neg > 0 && in[i] < 0 ? -b.ulps_neg * double(in[i]) : 0.0);
      if (e > worst) worst = e, worst_i = i;
    }
    if (!within(got[i], want[i], b, d, in[i])) {
      INFO("index " << i << " of " << got.size() << ": input " << in[i] << " dy " << d << " got "
                    << got[i] << " want " << want[i] << " (error "
                    << std::fabs(double(got[i]) - double(want[i])) / ulp_of(want[i]) << " ulp)");
      CHECK(false);
      return;
    }
  }
  if (report && got.size() > 100000)
    WARN("worst " << worst << " ulp at input " << in[worst_i] << " dy "
                  << (dy != nullptr ? (*dy)[worst_i] : 0.0f));
}

const float specials[] = {
    0.0f,          -0.0f,      INFINITY,    -INFINITY, NAN,        1e30f,      -1e30f,
    FLT_MAX,       -FLT_MAX,   FLT_MIN,     -FLT_MIN,  1e-40f,     -1e-40f,    FLT_TRUE_MIN,
    -FLT_TRUE_MIN, 0.3465736f, -0.3465736f, 0.942809f, -0.942809f, 0.9428091f, 10.0f,
    -10.0f,        9.99f,      20.0f,       -20.0f,    -20.01f,    88.72f,     88.73f,
    88.8f,         89.0f,      -87.3f,      -88.7f,    -103.9f,    -104.5f,    -30.0f,
    -30.5f,        1e-8f,      -1e-8f,      5.0f,      -5.0f,      15.0f,      -15.0f,
    1.0f,          -1.0f,      0.5f};

// Wide random values: moderate, huge and tiny magnitudes, and special values.
float wide(std::mt19937& rng) {
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  const float c = u(rng);
  if (c < 0.4f) return 24.0f * u(rng) - 12.0f;
  if (c < 0.6f) return 200.0f * u(rng) - 100.0f;
  if (c < 0.9f) {
    const float m = std::pow(10.0f, 78.0f * u(rng) - 40.0f);
    return u(rng) < 0.5f ? -m : m;
  }
  return specials[rng() % (sizeof specials / sizeof specials[0])];
}

std::vector<float> wide_vector(std::size_t n, std::mt19937& rng) {
  std::vector<float> v(n);
  for (auto& x : v) x = wide(rng);
  return v;
}

std::vector<const k::kernel_table*> arches() {
  std::vector<const k::kernel_table*> out;
  for (auto name : k::available()) out.push_back(k::find(name));
  return out;
}

std::vector<float> slopes(std::size_t cols, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  std::vector<float> s(cols);
  for (auto& x : s) x = u(rng);
  return s;
}

// Forward of one table: returns y = f(z); with alias, computed in place in a copy of z.
std::vector<float> forward(const k::kernel_table& t, const act_case& c, std::size_t rows,
                           std::size_t cols, const std::vector<float>& slope,
                           const std::vector<float>& z, bool alias) {
  const k::act_param p{c.alpha, slope.data()};
  if (alias) {
    std::vector<float> y = z;
    t.act_forward[int(c.a)](rows, cols, y.data(), p, y.data());
    return y;
  }
  std::vector<float> y(z.size(), -7.0f);
  t.act_forward[int(c.a)](rows, cols, z.data(), p, y.data());
  return y;
}

void check_forward(const k::kernel_table& t, const act_case& c, std::size_t rows, std::size_t cols,
                   std::mt19937& rng) {
  const auto z0 = wide_vector(rows * cols, rng);
  const auto slope = slopes(cols, rng);
  const auto y_ref = forward(k::reference(), c, rows, cols, slope, z0, false);
  for (bool alias : {false, true}) {
    INFO(t.name << " " << c.name << " forward rows " << rows << " cols " << cols << " alias "
                << alias);
    check_all(forward(t, c, rows, cols, slope, z0, alias), y_ref, c.fwd, z0);
  }
}

void check_backward(const k::kernel_table& t, const act_case& c, std::size_t rows, std::size_t cols,
                    std::mt19937& rng) {
  const std::size_t n = rows * cols;
  auto z = wide_vector(n, rng);
  for (std::size_t i = 0; i < n; ++i)  // most z moderate, one in 8 wide or special
    if (rng() % 8 != 0) z[i] = std::uniform_real_distribution<float>(-12.0f, 12.0f)(rng);
  std::vector<float> dy(n);
  for (auto& d : dy)
    d = rng() % 16 == 0 ? wide(rng) : std::uniform_real_distribution<float>(-3.0f, 3.0f)(rng);
  const auto slope = slopes(cols, rng);
  const auto& ref = k::reference();
  const auto y = forward(ref, c, rows, cols, slope, z, false);
  const k::act_param p{c.alpha, slope.data()};
  std::vector<float> dz_ref(n), ds_ref(cols);
  for (std::size_t j = 0; j < cols; ++j) ds_ref[j] = 0.25f * float(j);
  ref.act_backward[int(c.a)](rows, cols, z.data(), y.data(), dy.data(), p, dz_ref.data(),
                             ds_ref.data());
  for (bool alias : {false, true}) {
    INFO(t.name << " " << c.name << " backward rows " << rows << " cols " << cols << " alias "
                << alias);
    std::vector<float> dz = alias ? dy : std::vector<float>(n, -7.0f), ds(cols);
    for (std::size_t j = 0; j < cols; ++j) ds[j] = 0.25f * float(j);
    t.act_backward[int(c.a)](rows, cols, z.data(), y.data(), alias ? dz.data() : dy.data(), p,
                             dz.data(), ds.data());
    check_all(dz, dz_ref, c.bwd, z, &dy);
    if (c.a == act::prelu) check_all(ds, ds_ref, exact, ds_ref);
  }
}

}  // namespace

TEST_CASE("bound table matches the activation enum", "[kernels][activations]") {
  REQUIRE(sizeof acts / sizeof acts[0] == std::size_t(k::n_acts));
  for (int i = 0; i < k::n_acts; ++i) CHECK(int(acts[i].a) == i);
  for (const auto* t : arches()) {
    for (int i = 0; i < k::n_acts; ++i) {
      CHECK(t->act_forward[i] != nullptr);
      CHECK(t->act_backward[i] != nullptr);
    }
    CHECK(t->softmax_rows != nullptr);
    CHECK(t->log_softmax_rows != nullptr);
    CHECK(t->col_sums != nullptr);
  }
}

TEST_CASE("activation forward matches the reference at every size and shape",
          "[kernels][activations]") {
  std::mt19937 rng(1);
  for (const auto* t : arches()) {
    const std::size_t L = t->lanes;
    for (const auto& c : acts) {
      for (std::size_t n = 0; n <= 3 * L + 1; ++n) check_forward(*t, c, 1, n, rng);
      check_forward(*t, c, 1, 10000, rng);
      for (std::size_t cols : {std::size_t{1}, L > 1 ? L - 1 : 2, L, L + 1, std::size_t{33}})
        for (std::size_t rows : {1, 3, 7}) check_forward(*t, c, rows, cols, rng);
    }
  }
}

TEST_CASE("activation backward matches the reference at every size and shape",
          "[kernels][activations]") {
  std::mt19937 rng(2);
  for (const auto* t : arches()) {
    const std::size_t L = t->lanes;
    for (const auto& c : acts) {
      for (std::size_t n = 0; n <= 3 * L + 1; ++n) check_backward(*t, c, 1, n, rng);
      check_backward(*t, c, 1, 10000, rng);
      for (std::size_t cols :
           {std::size_t{1}, L > 1 ? L - 1 : 2, L, L + 1, std::size_t{33}, std::size_t{300}})
        for (std::size_t rows : {1, 3, 7}) check_backward(*t, c, rows, cols, rng);
    }
  }
}

TEST_CASE("activations within bound over a sweep of all float magnitudes",
          "[kernels][activations]") {
  // Every 4099th bit pattern (both signs, all exponents) plus a dense grid on [-30, 30].
  std::vector<float> x;
  for (std::uint64_t u = 0; u < (std::uint64_t{1} << 32); u += 4099)
    x.push_back(from_bits(static_cast<std::uint32_t>(u)));
  for (int i = -300000; i <= 300000; ++i) x.push_back(float(i) * 1e-4f);
  std::mt19937 rng(3);
  std::vector<float> dy(x.size());
  for (auto& d : dy) d = std::uniform_real_distribution<float>(-2.0f, 2.0f)(rng);
  const auto& ref = k::reference();
  const std::vector<float> slope{0.25f};
  for (const auto& c : acts) {
    const auto y_ref = forward(ref, c, x.size(), 1, slope, x, false);
    std::vector<float> dz_ref(x.size()), ds(1);
    const k::act_param p{c.alpha, slope.data()};
    ref.act_backward[int(c.a)](x.size(), 1, x.data(), y_ref.data(), dy.data(), p, dz_ref.data(),
                               ds.data());
    for (const auto* t : arches()) {
      INFO(t->name << " " << c.name);
      check_all(forward(*t, c, x.size(), 1, slope, x, false), y_ref, c.fwd, x);
      std::vector<float> dz(x.size());
      t->act_backward[int(c.a)](x.size(), 1, x.data(), y_ref.data(), dy.data(), p, dz.data(),
                                ds.data());
      check_all(dz, dz_ref, c.bwd, x, &dy);
    }
  }
}

TEST_CASE("a value's result does not depend on its position or on streaming",
          "[kernels][activations]") {
  std::mt19937 rng(4);
  auto x = wide_vector((std::size_t{1} << 22) + 37, rng);  // takes the streaming path
  const std::vector<float> slope{0.25f};
  for (const auto* t : arches()) {
    for (const auto& c : acts) {
      if (c.a == act::prelu) continue;  // per column: rows of one column run per row anyway
      INFO(t->name << " " << c.name);
      std::vector<float> whole(x.size());
      const k::act_param p{c.alpha, slope.data()};
      t->act_forward[int(c.a)](1, x.size(), x.data(), p, whole.data());
      // Pieces of odd sizes at odd offsets.
      std::vector<float> piece(x.size());
      for (std::size_t lo = 0; lo < x.size();) {
        const std::size_t len = std::min<std::size_t>(1 + (rng() % 997), x.size() - lo);
        std::vector<float> in(x.begin() + long(lo), x.begin() + long(lo + len));
        t->act_forward[int(c.a)](1, len, in.data(), p, piece.data() + lo);
        lo += len;
        if (lo > 200000) break;
      }
      for (std::size_t i = 0; i < 200000; ++i)
        if (!within(piece[i], whole[i], exact)) {
          INFO("index " << i << " input " << x[i]);
          REQUIRE(within(piece[i], whole[i], exact));
        }
    }
  }
}

TEST_CASE("softmax and log-softmax match the reference", "[kernels][activations]") {
  std::mt19937 rng(5);
  const auto& ref = k::reference();
  for (const auto* t : arches()) {
    const std::size_t L = t->lanes;
    std::vector<std::size_t> widths;
    for (std::size_t n = 1; n <= 3 * L + 1; ++n) widths.push_back(n);
    for (std::size_t n : {33, 1000, 10000}) widths.push_back(n);
    for (std::size_t cols : widths) {
      const std::size_t rows = cols >= 1000 ? 2 : 6;
      std::vector<float> x(rows * cols);
      for (auto& v : x) v = std::uniform_real_distribution<float>(-60.0f, 60.0f)(rng);
      // Row 1: huge finite values; row 2 (if any): some -inf; row 3: a NaN; row 4: +inf.
      if (rows > 2) {
        for (std::size_t j = 0; j < cols; ++j) {
          const float h[] = {1e30f, -1e30f, FLT_MAX, -FLT_MAX, 3e29f, 0.0f};
          x[cols + j] = h[rng() % 6];
          if (rng() % 3 == 0) x[2 * cols + j] = -INFINITY;
        }
        x[3 * cols + rng() % cols] = NAN;
        x[4 * cols + rng() % cols] = INFINITY;
      }
      for (bool log : {false, true}) {
        auto fn_ref = log ? ref.log_softmax_rows : ref.softmax_rows;
        auto fn = log ? t->log_softmax_rows : t->softmax_rows;
        std::vector<float> y_ref(x.size()), y(x.size());
        fn_ref(rows, cols, x.data(), y_ref.data());
        fn(rows, cols, x.data(), y.data());
        const double rel = (8.0 + double(cols)) * std::ldexp(1.0, -24);
        INFO(t->name << (log ? " log_softmax" : " softmax") << " cols " << cols);
        for (std::size_t i = 0; i < x.size(); ++i) {
          const bool ok = log ? within(y[i], y_ref[i], {2, rel, 0})
                              : within(y[i], y_ref[i], {0, tiny + rel * std::fabs(y_ref[i]), 0});
          if (!ok) {
            INFO("index " << i << " x " << x[i] << " got " << y[i] << " want " << y_ref[i]);
            CHECK(ok);
            break;
          }
        }
        if (rows > 4) {
          for (std::size_t j = 0; j < cols; ++j) {
            CHECK(std::isnan(y[3 * cols + j]));  // a NaN or +inf in a row: all NaN
            CHECK(std::isnan(y[4 * cols + j]));
          }
        }
        auto xa = x;  // y aliasing x
        fn(rows, cols, xa.data(), xa.data());
        for (std::size_t i = 0; i < x.size(); ++i) CHECK(within(xa[i], y[i], exact));
      }
    }
  }
}

TEST_CASE("column sums are bit-identical to the reference", "[kernels][activations]") {
  std::mt19937 rng(6);
  const auto& ref = k::reference();
  for (const auto* t : arches()) {
    const std::size_t L = t->lanes;
    for (std::size_t cols : {std::size_t{1}, L - 1 + (L == 1), L, L + 1, 2 * L + 3, std::size_t{33},
                             std::size_t{1000}})
      for (std::size_t rows : {0, 1, 2, 5, 64}) {
        std::vector<float> x(rows * cols);
        for (auto& v : x)
          v = rng() % 64 == 0 ? wide(rng) : std::uniform_real_distribution<float>(-1, 1)(rng);
        std::vector<float> out(cols, 5.0f), out_ref(cols, 7.0f);
        ref.col_sums(rows, cols, x.data(), out_ref.data());
        t->col_sums(rows, cols, x.data(), out.data());
        INFO(t->name << " col_sums rows " << rows << " cols " << cols);
        check_all(out, out_ref, exact, out_ref);
      }
  }
}

TEST_CASE("prelu accumulates d_slope over rows in order, onto existing values",
          "[kernels][activations]") {
  const std::size_t rows = 5, cols = 37;
  std::mt19937 rng(7);
  std::vector<float> z(rows * cols), dy(rows * cols), y(rows * cols);
  for (auto& v : z) v = std::uniform_real_distribution<float>(-3, 3)(rng);
  for (auto& v : dy) v = std::uniform_real_distribution<float>(-3, 3)(rng);
  const auto slope = slopes(cols, rng);
  const k::act_param p{0.0f, slope.data()};
  for (const auto* t : arches()) {
    std::vector<float> dz(rows * cols), ds0(cols, 0.0f), ds1(cols, 1.5f);
    t->act_backward[int(act::prelu)](rows, cols, z.data(), y.data(), dy.data(), p, dz.data(),
                                     ds0.data());
    t->act_backward[int(act::prelu)](rows, cols, z.data(), y.data(), dy.data(), p, dz.data(),
                                     ds1.data());
    for (std::size_t c = 0; c < cols; ++c) {
      float s = 0.0f;
      for (std::size_t r = 0; r < rows; ++r) {
        const float zi = z[r * cols + c];
        s += dy[r * cols + c] * (zi > 0 ? 0.0f : zi);
        CHECK(dz[r * cols + c] == dy[r * cols + c] * (zi > 0 ? 1.0f : slope[c]));
      }
      CHECK(ds0[c] == s);
      CHECK(ds1[c] == 1.5f + s);
    }
  }
}

// --- the reference itself against closed forms in double ------------------------------------
namespace {

double f_double(act a, double x, double alpha, double slope) {
  const double la = double(k::selu_lambda), sa = double(k::selu_alpha);
  switch (a) {
    case act::identity:
      return x;
    case act::relu:
      return x > 0 ? x : 0;
    case act::leaky_relu:
      return x > 0 ? x : alpha * x;
    case act::prelu:
      return x > 0 ? x : slope * x;
    case act::elu:
      return x > 0 ? x : alpha * std::expm1(x);
    case act::selu:
      return la * (x > 0 ? x : sa * std::expm1(x));
    case act::sigmoid:
      return 1 / (1 + std::exp(-x));
    case act::tanh:
      return std::tanh(x);
    case act::gelu:
      return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
    case act::gelu_tanh:
      return x / (1 + std::exp(-2 * std::sqrt(2 / 3.14159265358979323846) *
                               (x + 0.044715 * x * x * x)));
    case act::softplus:
      return std::log1p(std::exp(x));
    default:
      return NAN;
  }
}

float ref_fwd(act a, float x, float alpha, float slope) {
  float y = 0;
  const k::act_param p{alpha, &slope};
  k::reference().act_forward[int(a)](1, 1, &x, p, &y);
  return y;
}

float ref_bwd(act a, float x, float alpha, float slope, float dy = 1.0f) {
  float z = x, y = ref_fwd(a, x, alpha, slope), dz = 0, ds = 0;
  const k::act_param p{alpha, &slope};
  k::reference().act_backward[int(a)](1, 1, &z, &y, &dy, p, &dz, &ds);
  return dz;
}

}  // namespace

TEST_CASE("reference activations match closed forms and central differences",
          "[kernels][activations]") {
  CHECK(ref_fwd(act::gelu, 1, 0, 0) == Approx(0.8413447460685429).epsilon(1e-7));
  CHECK(ref_fwd(act::gelu, -1, 0, 0) == Approx(-0.15865525393145707).epsilon(1e-7));
  CHECK(ref_fwd(act::gelu_tanh, 1, 0, 0) == Approx(0.8411919906082768).epsilon(1e-7));
  CHECK(ref_fwd(act::softplus, 0, 0, 0) == Approx(0.6931471805599453).epsilon(1e-7));
  CHECK(ref_fwd(act::sigmoid, 0, 0, 0) == 0.5f);
  CHECK(ref_fwd(act::tanh, 1, 0, 0) == Approx(0.7615941559557649).epsilon(1e-7));
  CHECK(ref_fwd(act::elu, -1, 1, 0) == Approx(-0.6321205588285577).epsilon(1e-7));
  CHECK(ref_fwd(act::selu, -1, 0, 0) == Approx(-1.1113307378125628).epsilon(1e-7));
  CHECK(ref_fwd(act::selu, 2, 0, 0) == Approx(2.101401974710961).epsilon(1e-7));

  const float alpha_of[] = {0, 0, 0.2f, 0, 0.7f, 0, 0, 0, 0, 0, 0};
  for (const auto& c : acts) {
    const float alpha = alpha_of[int(c.a)], slope = 0.3f;
    INFO(c.name);
    for (int i = -400; i <= 400; ++i) {
      const float x = float(i) * 0.025f + 0.0123f;  // never exactly on the kink at 0
      const double fx = f_double(c.a, x, alpha, slope);
      const float y = ref_fwd(c.a, x, alpha, slope);
      INFO("x = " << x);
      // gelu_tanh rounds u = k0 (x + k1 x^3) in float: relative error up to ~eps |2u|.
      const double w = 2 * 0.7978845608028654 * (x + 0.044715 * double(x) * x * x);
      const double rel = 2.5e-7 + (c.a == act::gelu_tanh ? 2e-7 * std::fabs(w) : 0.0);
      CHECK(std::fabs(y - fx) <= rel * std::fabs(fx) + 1e-30);
      const double h = 1e-4;
      const double fd =
          (f_double(c.a, x + h, alpha, slope) - f_double(c.a, x - h, alpha, slope)) / (2 * h);
      CHECK(std::fabs(ref_bwd(c.a, x, alpha, slope) - fd) <= 1e-6 + 1e-5 * std::fabs(fd));
      CHECK(ref_bwd(c.a, x, alpha, slope, -2.5f) ==
            Approx(-2.5 * ref_bwd(c.a, x, alpha, slope)).epsilon(1e-6).margin(1e-30));
    }
    // NaN in, NaN out; NaN z or dy in backward, NaN out.
    CHECK(std::isnan(ref_fwd(c.a, NAN, alpha, slope)));
    CHECK(std::isnan(ref_bwd(c.a, NAN, alpha, slope)));
    CHECK(std::isnan(ref_bwd(c.a, 0.5f, alpha, slope, NAN)));
    CHECK(std::isnan(ref_bwd(c.a, -0.5f, alpha, slope, NAN)));
  }
  // Limits at infinities and huge values, and signed zeros.
  CHECK(ref_fwd(act::sigmoid, -INFINITY, 0, 0) == 0.0f);
  CHECK(ref_fwd(act::sigmoid, INFINITY, 0, 0) == 1.0f);
  CHECK(ref_fwd(act::sigmoid, -1e30f, 0, 0) == 0.0f);
  CHECK(ref_fwd(act::sigmoid, -90.0f, 0, 0) == Approx(std::exp(-90.0)).epsilon(1e-6));
  CHECK(ref_fwd(act::tanh, INFINITY, 0, 0) == 1.0f);
  CHECK(ref_fwd(act::tanh, -FLT_MAX, 0, 0) == -1.0f);
  CHECK(std::signbit(ref_fwd(act::tanh, -0.0f, 0, 0)));
  CHECK(ref_fwd(act::elu, -INFINITY, 0.7f, 0) == -0.7f);
  CHECK(ref_fwd(act::selu, -INFINITY, 0, 0) == -(k::selu_lambda * k::selu_alpha));
  CHECK(ref_fwd(act::gelu, -INFINITY, 0, 0) == 0.0f);
  CHECK(ref_fwd(act::gelu, INFINITY, 0, 0) == INFINITY);
  CHECK(ref_fwd(act::gelu, -1e30f, 0, 0) == 0.0f);
  CHECK(ref_fwd(act::gelu, FLT_MAX, 0, 0) == FLT_MAX);
  CHECK(ref_fwd(act::gelu, -6.0f, 0, 0) == Approx(-6.0 * 9.865876450377e-10).epsilon(1e-6));
  CHECK(ref_fwd(act::gelu_tanh, -INFINITY, 0, 0) == 0.0f);
  CHECK(ref_fwd(act::gelu_tanh, INFINITY, 0, 0) == INFINITY);
  CHECK(ref_fwd(act::gelu_tanh, -1e30f, 0, 0) == 0.0f);
  CHECK(ref_fwd(act::softplus, INFINITY, 0, 0) == INFINITY);
  CHECK(ref_fwd(act::softplus, 1e30f, 0, 0) == 1e30f);
  CHECK(ref_fwd(act::softplus, -INFINITY, 0, 0) == 0.0f);
  CHECK(ref_fwd(act::softplus, -50.0f, 0, 0) == Approx(std::exp(-50.0)).epsilon(1e-6));
  CHECK(ref_fwd(act::relu, -INFINITY, 0, 0) == 0.0f);
  CHECK(std::signbit(ref_fwd(act::relu, -0.0f, 0, 0)));
  CHECK(ref_bwd(act::gelu, INFINITY, 0, 0) == 1.0f);
  CHECK(ref_bwd(act::gelu, -INFINITY, 0, 0) == 0.0f);
  CHECK(ref_bwd(act::gelu_tanh, 1e30f, 0, 0) == 1.0f);
  CHECK(ref_bwd(act::gelu_tanh, -1e30f, 0, 0) == 0.0f);
  CHECK(ref_bwd(act::softplus, INFINITY, 0, 0) == 1.0f);
  CHECK(ref_bwd(act::sigmoid, -INFINITY, 0, 0) == 0.0f);
  CHECK(ref_bwd(act::tanh, INFINITY, 0, 0) == 0.0f);
  CHECK(ref_bwd(act::elu, -INFINITY, 0.7f, 0) == 0.0f);
  // Derivative conventions at 0: the x > 0 branch is taken only for x > 0.
  CHECK(ref_bwd(act::relu, 0.0f, 0, 0) == 0.0f);
  CHECK(ref_bwd(act::leaky_relu, 0.0f, 0.2f, 0) == 0.2f);
  CHECK(ref_bwd(act::prelu, 0.0f, 0, 0.3f) == 0.3f);
  CHECK(ref_bwd(act::elu, 0.0f, 0.7f, 0) == 0.7f);
  CHECK(ref_bwd(act::selu, 0.0f, 0, 0) == k::selu_lambda * k::selu_alpha);

  // Softmax and log-softmax: closed form on [0, log 2, log 3]; huge values; the NaN rules.
  const float x[] = {0.0f, 0.6931472f, 1.0986123f, -1e30f, 1e30f, 1e30f, -INFINITY, 0.0f, 0.0f};
  float y[9], ly[9];
  k::reference().softmax_rows(3, 3, x, y);
  k::reference().log_softmax_rows(3, 3, x, ly);
  CHECK(y[0] == Approx(1.0 / 6).epsilon(1e-6));
  CHECK(y[1] == Approx(2.0 / 6).epsilon(1e-6));
  CHECK(y[2] == Approx(3.0 / 6).epsilon(1e-6));
  CHECK(ly[0] == Approx(std::log(1.0 / 6)).epsilon(1e-6));
  CHECK(y[3] == 0.0f);
  CHECK(y[4] == 0.5f);
  CHECK(ly[4] == Approx(-std::log(2.0)).epsilon(1e-6));
  CHECK(y[6] == 0.0f);
  CHECK(ly[6] == -INFINITY);
  CHECK(y[7] == 0.5f);
}
