// Optimizer updates, axpy and scale: every architecture against the scalar reference (bit-exact,
// the bound documented at the top of kernels/optimizers.hpp), closed forms of one and two steps
// of each rule, and bit-identity of results under arbitrary cuts of the array.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "kernels.hpp"

namespace {

using tmlp::kernels::kernel_table;
using tmlp::kernels::update_args;

// The bound of optimizers.hpp: 0 ulp. Non-NaN results are bit-identical to the reference
// (sign of zero included); NaN results are NaN on both sides (payloads may differ).
constexpr std::uint32_t max_ulp = 0;

enum class kern { axpy, scale, sgd, momentum, nesterov, adam, rmsprop, adagrad };
constexpr std::array all_kernels = {kern::axpy,     kern::scale, kern::sgd,     kern::momentum,
                                    kern::nesterov, kern::adam,  kern::rmsprop, kern::adagrad};

const char* kern_name(kern k) {
  switch (k) {
    case kern::axpy:
      return "axpy";
    case kern::scale:
      return "scale";
    case kern::sgd:
      return "sgd";
    case kern::momentum:
      return "momentum";
    case kern::nesterov:
      return "nesterov";
    case kern::adam:
      return "adam";
    case kern::rmsprop:
      return "rmsprop";
    case kern::adagrad:
      return "adagrad";
  }
  return "?";
}

constexpr float inf = std::numeric_limits<float>::infinity();
constexpr float qnan = std::numeric_limits<float>::quiet_NaN();

// One set of arrays a kernel reads and writes: g (or x) is read; w (or y, or x for scale),
// s1 (v / m / s) and s2 (adam's v) are updated. Kernels that do not use an array leave it alone.
struct arrays {
  std::vector<float> g, w, s1, s2;
};

// Runs kernel k of table t on elements [off, off + n) of b. `alpha` is axpy's and scale's a.
void run(const kernel_table& t, kern k, const update_args& a, float alpha, arrays& b,
         std::size_t off, std::size_t n) {
  const float* g = b.g.data() + off;
  float* w = b.w.data() + off;
  float* s1 = b.s1.data() + off;
  float* s2 = b.s2.data() + off;
  switch (k) {
    case kern::axpy:
      t.axpy(n, alpha, g, w);
      break;
    case kern::scale:
      t.scale(n, alpha, w);
      break;
    case kern::sgd:
      t.sgd(n, a, g, w);
      break;
    case kern::momentum:
      t.momentum(n, a, g, w, s1);
      break;
    case kern::nesterov:
      t.nesterov(n, a, g, w, s1);
      break;
    case kern::adam:
      t.adam(n, a, g, w, s1, s2);
      break;
    case kern::rmsprop:
      t.rmsprop(n, a, g, w, s1);
      break;
    case kern::adagrad:
      t.adagrad(n, a, g, w, s1);
      break;
  }
}

void run(const kernel_table& t, kern k, const update_args& a, float alpha, arrays& b) {
  run(t, k, a, alpha, b, 0, b.w.size());
}

// Random values over a wide range (|x| from 2^-30 to 2^30, both signs), with about 1 in 12
// special: +-0, +-inf, NaN, huge (overflow when squared), subnormal, FLT_MIN.
float random_value(std::mt19937& rng) {
  static constexpr std::array specials = {
      0.0f,    -0.0f,    inf,      -inf,      qnan,
      3.0e38f, -3.0e38f, 1.0e-40f, -1.0e-40f, std::numeric_limits<float>::min()};
  std::uniform_int_distribution<int> pick(0, 11 * static_cast<int>(specials.size()));
  const int p = pick(rng);
  if (p < static_cast<int>(specials.size())) return specials[static_cast<std::size_t>(p)];
  std::uniform_real_distribution<float> mant(1.0f, 2.0f);
  std::uniform_int_distribution<int> ex(-30, 30);
  const float x = std::ldexp(mant(rng), ex(rng));
  return (rng() & 1U) ? -x : x;
}

// Arrays of n values; s1 is non-negative for rmsprop/adagrad, s2 (adam's v) always (a few
// negative values remain through -0 and the NaN specials' absolute values).
arrays random_arrays(std::mt19937& rng, kern k, std::size_t n) {
  arrays b{std::vector<float>(n), std::vector<float>(n), std::vector<float>(n),
           std::vector<float>(n)};
  const bool square_s1 = k == kern::rmsprop || k == kern::adagrad;
  for (std::size_t i = 0; i < n; ++i) {
    b.g[i] = random_value(rng);
    b.w[i] = random_value(rng);
    b.s1[i] = square_s1 ? std::fabs(random_value(rng)) : random_value(rng);
    b.s2[i] = std::fabs(random_value(rng));
  }
  return b;
}

std::uint32_t bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

// Distance in ulps between two non-NaN floats (0 iff bit-identical; +0 and -0 are 1 apart).
std::uint32_t ulp_distance(float x, float y) {
  auto key = [](float f) -> std::int64_t {
    const std::uint32_t u = bits(f);
    return (u & 0x80000000U) ? -static_cast<std::int64_t>(u & 0x7fffffffU) - 1
                             : static_cast<std::int64_t>(u);
  };
  const std::int64_t d = key(x) - key(y);
  return static_cast<std::uint32_t>(d < 0 ? -d : d);
}

// "" when `got` matches `want` within the bound, else a description of the first mismatch.
std::string mismatch(std::string_view what, const std::vector<float>& want,
                     const std::vector<float>& got) {
  for (std::size_t i = 0; i < want.size(); ++i) {
    const bool ok = std::isnan(want[i])
                        ? std::isnan(got[i])
                        : !std::isnan(got[i]) && ulp_distance(want[i], got[i]) <= max_ulp;
    if (!ok) {
      std::ostringstream os;
      os.precision(9);
      os << what << "[" << i << "]: reference " << want[i] << ", got " << got[i];
      return os.str();
    }
  }
  return "";
}

std::string mismatch(const arrays& want, const arrays& got) {
  for (auto m : {mismatch("w", want.w, got.w), mismatch("s1", want.s1, got.s1),
                 mismatch("s2", want.s2, got.s2)})
    if (!m.empty()) return m;
  return "";
}

bool bit_identical(const std::vector<float>& x, const std::vector<float>& y) {
  if (x.size() != y.size()) return false;
  return x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

// Hyper-parameters with the regularization terms chosen by the bits of `flags`
// (1: l2, 2: l1, 4: decay), so every one of the eight kernel instances runs.
update_args args_with(unsigned flags) {
  update_args a;
  a.lr = 0.03f;
  a.momentum = 0.9f;
  a.beta1 = 0.9f;
  a.beta2 = 0.999f;
  a.eps = 1e-7f;
  a.bias1 = 1.0f - 0.9f * 0.9f * 0.9f;
  a.bias2 = 1.0f - 0.999f * 0.999f * 0.999f;
  a.l2 = (flags & 1U) ? 1e-3f : 0.0f;
  a.l1 = (flags & 2U) ? 3e-4f : 0.0f;
  a.decay = (flags & 4U) ? 1e-2f : 0.0f;
  return a;
}

std::vector<const kernel_table*> tables() {
  std::vector<const kernel_table*> ts;
  for (auto name : tmlp::kernels::available()) ts.push_back(tmlp::kernels::find(name));
  return ts;
}

}  // namespace

TEST_CASE("optimizer kernels fill every entry of every table", "[kernels][optimizers]") {
  for (const kernel_table* t : tables()) {
    INFO("arch " << t->name);
    CHECK(t->axpy != nullptr);
    CHECK(t->scale != nullptr);
    CHECK(t->add_arrays != nullptr);
    CHECK(t->sum_scale_squares != nullptr);
    CHECK(t->sgd != nullptr);
    CHECK(t->momentum != nullptr);
    CHECK(t->nesterov != nullptr);
    CHECK(t->adam != nullptr);
    CHECK(t->rmsprop != nullptr);
    CHECK(t->adagrad != nullptr);
  }
}

TEST_CASE("optimizer kernels match the reference on every architecture", "[kernels][optimizers]") {
  const kernel_table& ref = tmlp::kernels::reference();
  std::mt19937 rng(20240611);
  for (const kernel_table* t : tables()) {
    std::vector<std::size_t> sizes;
    for (std::size_t n = 0; n <= 3 * t->lanes + 1; ++n) sizes.push_back(n);
    sizes.push_back(10007);
    for (kern k : all_kernels) {
      for (unsigned flags = 0; flags < 8; ++flags) {
        const update_args a = args_with(flags);
        for (std::size_t n : sizes) {
          const arrays input = random_arrays(rng, k, n);
          arrays want = input, got = input;
          run(ref, k, a, -1.75f, want);
          run(*t, k, a, -1.75f, got);
          INFO("arch " << t->name << ", " << kern_name(k) << ", flags " << flags << ", n " << n);
          REQUIRE(mismatch(want, got) == "");
          REQUIRE(bit_identical(input.g, got.g));  // the gradient is read only
        }
      }
    }
  }
}

TEST_CASE("add_arrays adds in order, as axpy with a = 1 does, on every architecture",
          "[kernels][optimizers]") {
  // Sizes around the blocks of four vectors and the one-vector and one-value tails; no array up
  // to a group of 16 and past it. Special values (inf - inf, -0 + -0, NaN) included.
  std::mt19937 rng(4242);
  const kernel_table& ref = tmlp::kernels::reference();
  for (const kernel_table* t : tables()) {
    const std::size_t l = t->lanes;
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, l - 1, l + 1, 4 * l - 1, 4 * l,
                          4 * l + l + 3, std::size_t{10007}})
      for (std::size_t m : {0, 1, 2, 15, 17}) {
        std::vector<std::vector<float>> x(m, std::vector<float>(n));
        std::vector<const float*> xp;
        for (auto& v : x) {
          for (float& f : v) f = random_value(rng);
          xp.push_back(v.data());
        }
        std::vector<float> y0(n);
        for (float& f : y0) f = random_value(rng);
        std::vector<float> want = y0, by_axpy = y0, got = y0;
        ref.add_arrays(n, xp.data(), m, want.data());
        for (const auto& v : x) t->axpy(n, 1.0f, v.data(), by_axpy.data());
        t->add_arrays(n, xp.data(), m, got.data());
        INFO("arch " << t->name << ", n " << n << ", m " << m);
        REQUIRE(mismatch("y", want, got) == "");
        REQUIRE(mismatch("y by axpy", by_axpy, got) == "");
      }
    // Closed form: 1 + 2 + 4 + 8 in that order, and 1e8 + 1 - 1e8, where the order shows.
    const std::vector<float> a = {2.0f, 1.0f}, b = {4.0f, 1.0f}, c = {8.0f, -1e8f};
    const std::array<const float*, 3> xs = {a.data(), b.data(), c.data()};
    std::vector<float> y = {1.0f, 1e8f};
    t->add_arrays(2, xs.data(), 3, y.data());
    CHECK(y == std::vector<float>{15.0f, 0.0f});  // (1e8 + 1) rounds to 1e8
  }
}

TEST_CASE("optimizer kernels give bit-identical results however the array is cut",
          "[kernels][optimizers]") {
  std::mt19937 rng(77);
  constexpr std::size_t n = 1000;
  for (const kernel_table* t : tables()) {
    const std::vector<std::size_t> pieces = {
        1, 3, 17, 64, 5, 2, t->lanes, t->lanes + 1, t->lanes * 2 - 1, 31, 100, 7};
    for (kern k : all_kernels) {
      for (unsigned flags : {0U, 7U}) {
        const update_args a = args_with(flags);
        const arrays input = random_arrays(rng, k, n);
        arrays whole = input;
        run(*t, k, a, 0.37f, whole);
        for (std::size_t start = 0; start < 3; ++start) {
          arrays cut = input;
          std::size_t off = 0;
          for (std::size_t p = start; off < n; ++p) {
            const std::size_t len = std::min(pieces[p % pieces.size()], n - off);
            run(*t, k, a, 0.37f, cut, off, len);
            off += len;
          }
          INFO("arch " << t->name << ", " << kern_name(k) << ", flags " << flags << ", cut "
                       << start);
          CHECK(bit_identical(whole.w, cut.w));
          CHECK(bit_identical(whole.s1, cut.s1));
          CHECK(bit_identical(whole.s2, cut.s2));
        }
      }
    }
  }
}

// ---- closed forms: values derived by hand (in double), checked on every architecture -------

namespace {

// Relative tolerance of a float result against a double closed form (a few float roundings).
constexpr double rel = 2e-6;

// Runs kernel k on the given values (one element per entry) for each gradient in gs, in turn.
arrays steps(const kernel_table& t, kern k, const update_args& a, std::vector<float> w,
             const std::vector<std::vector<float>>& gs) {
  arrays b{{}, std::move(w), {}, {}};
  b.s1.assign(b.w.size(), 0.0f);
  b.s2.assign(b.w.size(), 0.0f);
  for (const auto& g : gs) {
    b.g = g;
    run(t, k, a, 0.0f, b);
  }
  return b;
}

}  // namespace

TEST_CASE("axpy and scale closed forms", "[kernels][optimizers]") {
  for (const kernel_table* t : tables()) {
    INFO("arch " << t->name);
    std::vector<float> x = {1.0f, -2.0f, 0.5f, 4.0f, 3.0f};
    std::vector<float> y = {10.0f, 20.0f, -1.0f, 0.0f, 0.25f};
    t->axpy(x.size(), 0.5f, x.data(), y.data());  // y += 0.5 x
    CHECK(y == std::vector<float>{10.5f, 19.0f, -0.75f, 2.0f, 1.75f});
    t->scale(x.size(), -4.0f, x.data());
    CHECK(x == std::vector<float>{-4.0f, 8.0f, -2.0f, -16.0f, -12.0f});
  }
}

TEST_CASE("sgd closed forms, with l2, l1 and decoupled decay", "[kernels][optimizers]") {
  for (const kernel_table* t : tables()) {
    INFO("arch " << t->name);
    update_args a;
    a.lr = 0.1f;
    // w = {1, -2, 0.5}; g1 = {0.5, 0.25, -1}: w1 = w - 0.1 g1 = {0.95, -2.025, 0.6};
    // g2 = {1, 1, 1}: w2 = w1 - 0.1 = {0.85, -2.125, 0.5}.
    arrays b = steps(*t, kern::sgd, a, {1.0f, -2.0f, 0.5f}, {{0.5f, 0.25f, -1.0f}});
    CHECK(b.w[0] == Approx(0.95).epsilon(rel));
    CHECK(b.w[1] == Approx(-2.025).epsilon(rel));
    CHECK(b.w[2] == Approx(0.6).epsilon(rel));
    b = steps(*t, kern::sgd, a, {1.0f, -2.0f, 0.5f}, {{0.5f, 0.25f, -1.0f}, {1.0f, 1.0f, 1.0f}});
    CHECK(b.w[0] == Approx(0.85).epsilon(rel));
    CHECK(b.w[1] == Approx(-2.125).epsilon(rel));
    CHECK(b.w[2] == Approx(0.5).epsilon(rel));

    // l2 = 0.5: g' = g + 0.5 w. w = {2, -4}, g = {1, 0}: g' = {2, -2}; w1 = {1.8, -3.8}.
    a.l2 = 0.5f;
    b = steps(*t, kern::sgd, a, {2.0f, -4.0f}, {{1.0f, 0.0f}});
    CHECK(b.w[0] == Approx(1.8).epsilon(rel));
    CHECK(b.w[1] == Approx(-3.8).epsilon(rel));

    // l1 = 0.5: g' = g + 0.5 sign(w). w = {2, -4, 0, -0}, g = {1, 1, 1, 1}:
    // g' = {1.5, 0.5, 1, 1}; w1 = {1.85, -4.05, -0.1, -0.1}.
    a.l2 = 0.0f;
    a.l1 = 0.5f;
    b = steps(*t, kern::sgd, a, {2.0f, -4.0f, 0.0f, -0.0f}, {{1.0f, 1.0f, 1.0f, 1.0f}});
    CHECK(b.w[0] == Approx(1.85).epsilon(rel));
    CHECK(b.w[1] == Approx(-4.05).epsilon(rel));
    CHECK(b.w[2] == Approx(-0.1).epsilon(rel));
    CHECK(b.w[3] == Approx(-0.1).epsilon(rel));

    // All three at once: l2 = 0.5, l1 = 0.25, decay = 0.5. w = {2, -4}, g = {1, 1}:
    // g' = {1 + 1 + 0.25, 1 - 2 - 0.25} = {2.25, -1.25};
    // w1 = w - 0.1 g' - 0.05 w = {2 - 0.225 - 0.1, -4 + 0.125 + 0.2} = {1.675, -3.675}.
    a.l2 = 0.5f;
    a.l1 = 0.25f;
    a.decay = 0.5f;
    b = steps(*t, kern::sgd, a, {2.0f, -4.0f}, {{1.0f, 1.0f}});
    CHECK(b.w[0] == Approx(1.675).epsilon(rel));
    CHECK(b.w[1] == Approx(-3.675).epsilon(rel));
    a.l2 = 0.0f;

    // Decoupled decay 0.5 (lr 0.1): w1 = w - 0.1 g - 0.05 w. w = {2, -4}, g = {1, 1}:
    // w1 = {2 - 0.1 - 0.1, -4 - 0.1 + 0.2} = {1.8, -3.9}. Two steps with g2 = {0, 0}:
    // w2 = 0.95 w1 = {1.71, -3.705}.
    a.l1 = 0.0f;
    a.decay = 0.5f;
    b = steps(*t, kern::sgd, a, {2.0f, -4.0f}, {{1.0f, 1.0f}});
    CHECK(b.w[0] == Approx(1.8).epsilon(rel));
    CHECK(b.w[1] == Approx(-3.9).epsilon(rel));
    b = steps(*t, kern::sgd, a, {2.0f, -4.0f}, {{1.0f, 1.0f}, {0.0f, 0.0f}});
    CHECK(b.w[0] == Approx(1.71).epsilon(rel));
    CHECK(b.w[1] == Approx(-3.705).epsilon(rel));
  }
}

TEST_CASE("zero coefficients leave the plain rule exactly (no 0 * inf, no lost -0)",
          "[kernels][optimizers]") {
  for (const kernel_table* t : tables()) {
    INFO("arch " << t->name);
    update_args a;
    a.lr = 0.1f;
    // Plain sgd: inf - 0.1 * 1 = inf; -0 - 0.1 * (+0) = -0 - (+0) = -0 (adding 0 * w would
    // first turn g = +0 into +0 + 0 * (-0) = +0 and keep -0, but 0 * inf would make NaN).
    arrays b = steps(*t, kern::sgd, a, {inf, -0.0f, -inf}, {{1.0f, 0.0f, 1.0f}});
    CHECK(b.w[0] == inf);
    CHECK(b.w[1] == 0.0f);
    CHECK(std::signbit(b.w[1]));
    CHECK(b.w[2] == -inf);
    // l1 only: g' = g + l1 sign(inf) = finite, so w stays inf (l2 * w would give inf - inf).
    a.l1 = 0.5f;
    b = steps(*t, kern::sgd, a, {inf, -inf, qnan}, {{1.0f, 1.0f, 1.0f}});
    CHECK(b.w[0] == inf);
    CHECK(b.w[1] == -inf);
    CHECK(std::isnan(b.w[2]));  // sign(NaN) is NaN, and NaN propagates
    // l2 on w = inf: g' = inf, w = inf - inf = NaN (the term is applied when non-zero).
    a.l1 = 0.0f;
    a.l2 = 0.5f;
    b = steps(*t, kern::sgd, a, {inf}, {{1.0f}});
    CHECK(std::isnan(b.w[0]));
    // Adam with inf weights and no decay: the weight stays inf (decay would give inf - inf).
    update_args ad;
    ad.lr = 0.1f;
    ad.bias1 = 0.1f;
    ad.bias2 = 0.001f;
    b = steps(*t, kern::adam, ad, {inf, -inf}, {{1.0f, -1.0f}});
    CHECK(b.w[0] == inf);
    CHECK(b.w[1] == -inf);
    // Every kernel reads the gradient's NaN through: w and the state become NaN.
    for (kern k :
         {kern::sgd, kern::momentum, kern::nesterov, kern::adam, kern::rmsprop, kern::adagrad}) {
      INFO(kern_name(k));
      b = steps(*t, k, ad, {1.0f}, {{qnan}});
      CHECK(std::isnan(b.w[0]));
    }
  }
}

TEST_CASE("momentum and nesterov closed forms", "[kernels][optimizers]") {
  for (const kernel_table* t : tables()) {
    INFO("arch " << t->name);
    update_args a;
    a.lr = 0.1f;
    a.momentum = 0.9f;
    const std::vector<float> w0 = {1.0f, -1.0f};
    const std::vector<std::vector<float>> gs = {{1.0f, -0.5f}, {2.0f, 0.5f}};
    // Momentum. Element 0: v1 = 1, w1 = 0.9; v2 = 0.9 * 1 + 2 = 2.9, w2 = 0.9 - 0.29 = 0.61.
    // Element 1: v1 = -0.5, w1 = -0.95; v2 = -0.45 + 0.5 = 0.05, w2 = -0.95 - 0.005 = -0.955.
    arrays b = steps(*t, kern::momentum, a, w0, {gs[0]});
    CHECK(b.w[0] == Approx(0.9).epsilon(rel));
    CHECK(b.w[1] == Approx(-0.95).epsilon(rel));
    CHECK(b.s1[0] == Approx(1.0).epsilon(rel));
    b = steps(*t, kern::momentum, a, w0, gs);
    CHECK(b.s1[0] == Approx(2.9).epsilon(rel));
    CHECK(b.s1[1] == Approx(0.05).epsilon(1e-5));
    CHECK(b.w[0] == Approx(0.61).epsilon(rel));
    CHECK(b.w[1] == Approx(-0.955).epsilon(rel));
    // Nesterov: w -= lr (g + mu v_new).
    // Element 0: v1 = 1, w1 = 1 - 0.1 (1 + 0.9) = 0.81; v2 = 2.9,
    //            w2 = 0.81 - 0.1 (2 + 0.9 * 2.9) = 0.81 - 0.461 = 0.349.
    // Element 1: v1 = -0.5, w1 = -1 - 0.1 (-0.5 - 0.45) = -0.905; v2 = 0.05,
    //            w2 = -0.905 - 0.1 (0.5 + 0.045) = -0.9595.
    b = steps(*t, kern::nesterov, a, w0, {gs[0]});
    CHECK(b.w[0] == Approx(0.81).epsilon(rel));
    CHECK(b.w[1] == Approx(-0.905).epsilon(rel));
    b = steps(*t, kern::nesterov, a, w0, gs);
    CHECK(b.s1[0] == Approx(2.9).epsilon(rel));
    CHECK(b.w[0] == Approx(0.349).epsilon(rel));
    CHECK(b.w[1] == Approx(-0.9595).epsilon(rel));
    // Nesterov with decoupled decay 0.5: w1 = 1 - 0.19 - 0.1 * 0.5 * 1 = 0.76 (element 0).
    a.decay = 0.5f;
    b = steps(*t, kern::nesterov, a, w0, {gs[0]});
    CHECK(b.w[0] == Approx(0.76).epsilon(rel));
    CHECK(b.w[1] == Approx(-0.855).epsilon(rel));  // -0.905 + 0.05
  }
}

TEST_CASE("adam and adamw closed forms", "[kernels][optimizers]") {
  for (const kernel_table* t : tables()) {
    INFO("arch " << t->name);
    // Betas as the floats the kernel sees, so (1 - b) is the same number on both sides.
    const double b1 = double{0.9f}, b2 = double{0.999f}, lr = double{0.01f};
    update_args a;
    a.lr = static_cast<float>(lr);
    a.beta1 = static_cast<float>(b1);
    a.beta2 = static_cast<float>(b2);
    a.eps = 1e-8f;
    a.bias1 = 1.0f - a.beta1;
    a.bias2 = 1.0f - a.beta2;
    // First step from m = v = 0: m/bias1 = g and v/bias2 = g^2, so each weight moves by
    // lr * g / (|g| + eps), i.e. lr * sign(g) to 1e-8 relative; g = 0 leaves the weight alone.
    arrays b = steps(*t, kern::adam, a, {1.0f, 1.0f, 1.0f, -3.0f}, {{2.0f, -0.5f, 0.0f, 1e-3f}});
    CHECK(b.w[0] == Approx(0.99).epsilon(rel));
    CHECK(b.w[1] == Approx(1.01).epsilon(rel));
    CHECK(b.w[2] == 1.0f);
    CHECK(b.w[3] == Approx(-3.01).epsilon(rel));
    CHECK(b.s1[0] == Approx(0.2).epsilon(rel));             // m = (1 - b1) g
    CHECK(b.s2[0] == Approx((1 - b2) * 4.0).epsilon(rel));  // v = (1 - b2) g^2

    // Two steps with a large eps (so sqrt(v) + eps differs from sqrt(v + eps)), in closed form:
    // m2 = (1 - b1)(b1 g1 + g2), v2 = (1 - b2)(b2 g1^2 + g2^2), bias1 = 1 - b1^2,
    // bias2 = 1 - b2^2, w2 = w1 - lr (m2 / bias1) / (sqrt(v2 / bias2) + eps).
    const double eps = 0.1, g1 = 2.0, g2 = -1.0, w0 = 0.5;
    a.eps = static_cast<float>(eps);
    b = steps(*t, kern::adam, a, {static_cast<float>(w0)}, {{static_cast<float>(g1)}});
    const double w1 = w0 - lr * g1 / (std::fabs(g1) + eps);
    CHECK(b.w[0] == Approx(w1).epsilon(rel));
    a.bias1 = 1.0f - a.beta1 * a.beta1;
    a.bias2 = 1.0f - a.beta2 * a.beta2;
    b.g = {static_cast<float>(g2)};
    t->adam(1, a, b.g.data(), b.w.data(), b.s1.data(), b.s2.data());
    const double m2 = (1 - b1) * (b1 * g1 + g2), v2 = (1 - b2) * (b2 * g1 * g1 + g2 * g2);
    const double w2 = w1 - lr * (m2 / (1 - b1 * b1)) / (std::sqrt(v2 / (1 - b2 * b2)) + eps);
    CHECK(b.s1[0] == Approx(m2).epsilon(1e-5));
    CHECK(b.s2[0] == Approx(v2).epsilon(rel));
    CHECK(b.w[0] == Approx(w2).epsilon(rel));

    // AdamW: decoupled decay 0.1 adds - lr * 0.1 * w0 to the first step: w0 = 2, g = 4:
    // w1 = 2 - 0.01 * 4 / (4 + 0.1) - 0.01 * 0.1 * 2.
    a.bias1 = 1.0f - a.beta1;
    a.bias2 = 1.0f - a.beta2;
    a.decay = 0.1f;
    b = steps(*t, kern::adam, a, {2.0f}, {{4.0f}});
    CHECK(b.w[0] == Approx(2.0 - lr * 4.0 / 4.1 - lr * 0.1 * 2.0).epsilon(rel));
    // Adam with coupled l2 0.5 instead: g' = 4 + 1 = 5, w1 = 2 - 0.01 * 5 / 5.1.
    a.decay = 0.0f;
    a.l2 = 0.5f;
    b = steps(*t, kern::adam, a, {2.0f}, {{4.0f}});
    CHECK(b.w[0] == Approx(2.0 - lr * 5.0 / 5.1).epsilon(rel));
    CHECK(b.s1[0] == Approx(0.5).epsilon(rel));  // m = 0.1 * g'
  }
}

TEST_CASE("rmsprop and adagrad closed forms", "[kernels][optimizers]") {
  for (const kernel_table* t : tables()) {
    INFO("arch " << t->name);
    const double rho = double{0.9f}, lr = double{0.01f}, eps = 0.5, g1 = 2.0, g2 = -3.0, w0 = 1.0;
    update_args a;
    a.lr = static_cast<float>(lr);
    a.beta2 = static_cast<float>(rho);
    a.eps = static_cast<float>(eps);
    const std::vector<std::vector<float>> gs = {{static_cast<float>(g1)}, {static_cast<float>(g2)}};
    // RMSprop: s1 = (1 - rho) g1^2 = 0.4, w1 = w0 - lr g1 / (sqrt(0.4) + eps);
    // s2 = rho s1 + (1 - rho) g2^2 = 0.36 + 0.9 = 1.26, w2 = w1 - lr g2 / (sqrt(1.26) + eps)
    // (0.4 and 1.26 up to the rounding of 0.9f).
    const double s1 = (1 - rho) * g1 * g1, s2 = rho * s1 + (1 - rho) * g2 * g2;
    const double rw1 = w0 - lr * g1 / (std::sqrt(s1) + eps);
    const double rw2 = rw1 - lr * g2 / (std::sqrt(s2) + eps);
    arrays b = steps(*t, kern::rmsprop, a, {static_cast<float>(w0)}, {gs[0]});
    CHECK(b.s1[0] == Approx(s1).epsilon(rel));
    CHECK(b.s1[0] == Approx(0.4).epsilon(1e-5));
    CHECK(b.w[0] == Approx(rw1).epsilon(rel));
    b = steps(*t, kern::rmsprop, a, {static_cast<float>(w0)}, gs);
    CHECK(b.s1[0] == Approx(s2).epsilon(rel));
    CHECK(b.s1[0] == Approx(1.26).epsilon(1e-5));
    CHECK(b.w[0] == Approx(rw2).epsilon(rel));
    // Adagrad: s1 = 4, w1 = w0 - lr * 2 / (2 + eps) = 1 - 0.008;
    // s2 = 4 + 9 = 13, w2 = w1 - lr * (-3) / (sqrt(13) + eps).
    const double aw1 = w0 - lr * g1 / (2.0 + eps);
    const double aw2 = aw1 - lr * g2 / (std::sqrt(13.0) + eps);
    b = steps(*t, kern::adagrad, a, {static_cast<float>(w0)}, {gs[0]});
    CHECK(b.s1[0] == Approx(4.0).epsilon(rel));
    CHECK(b.w[0] == Approx(aw1).epsilon(rel));
    b = steps(*t, kern::adagrad, a, {static_cast<float>(w0)}, gs);
    CHECK(b.s1[0] == Approx(13.0).epsilon(rel));
    CHECK(b.w[0] == Approx(aw2).epsilon(rel));
    // Adagrad with l1 0.5 and decay 0.2: g' = 2 + 0.5 = 2.5, s = 6.25,
    // w1 = 1 - 0.01 * 2.5 / (2.5 + 0.5) - 0.01 * 0.2 * 1.
    a.l1 = 0.5f;
    a.decay = 0.2f;
    b = steps(*t, kern::adagrad, a, {static_cast<float>(w0)}, {gs[0]});
    CHECK(b.s1[0] == Approx(6.25).epsilon(rel));
    CHECK(b.w[0] == Approx(1.0 - 0.01 * 2.5 / 3.0 - 0.01 * 0.2).epsilon(rel));
  }
}

TEST_CASE(
    "sum_scale_squares gives the bits of the copy, additions, scaling and sum of squares "
    "done apart, on every architecture",
    "[kernels][optimizers]") {
  // What gradient_engine::reduce computes in four passes (reduce.cpp): y = x[0], add_arrays of
  // the rest, scale, and eight double sums of squares over i % 8 added pairwise.
  auto apart = [](const kernel_table& t, std::size_t n, const std::vector<const float*>& x, float a,
                  std::vector<float>& y) {
    std::copy(x[0], x[0] + n, y.begin());
    t.add_arrays(n, x.data() + 1, x.size() - 1, y.data());
    t.scale(n, a, y.data());
    double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (std::size_t i = 0; i < n; ++i) part[i % 8] += static_cast<double>(y[i]) * y[i];
    return ((part[0] + part[1]) + (part[2] + part[3])) +
           ((part[4] + part[5]) + (part[6] + part[7]));
  };
  auto same = [](double p, double q) {  // bit for bit; any NaN matches any NaN
    if (std::isnan(p) || std::isnan(q)) return std::isnan(p) && std::isnan(q);
    std::uint64_t a = 0, b = 0;
    std::memcpy(&a, &p, sizeof a);
    std::memcpy(&b, &q, sizeof b);
    return a == b;
  };
  std::mt19937 rng(777);
  const kernel_table& ref = tmlp::kernels::reference();
  for (const kernel_table* t : tables()) {
    const std::size_t l = t->lanes;
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{9}, l - 1, l,
                          l + 1, 2 * l + 5, 4 * l + 3, std::size_t{16384}, std::size_t{10007}})
      for (std::size_t m : {1, 2, 3, 16}) {
        for (const bool specials : {false, true}) {
          std::vector<std::vector<float>> x(m, std::vector<float>(n));
          std::vector<const float*> xp;
          std::uniform_real_distribution<float> u(-3.0f, 3.0f);
          for (auto& v : x) {
            for (float& f : v) f = specials ? random_value(rng) : u(rng);
            xp.push_back(v.data());
          }
          const float a = 1.0f / 1024.0f * 3.0f;
          std::vector<float> want(n, 7.0f), got(n, 7.0f), by_ref(n, 7.0f);
          const double sq_want = apart(*t, n, xp, a, want);
          const double sq_got = t->sum_scale_squares(n, xp.data(), m, a, got.data());
          const double sq_ref = ref.sum_scale_squares(n, xp.data(), m, a, by_ref.data());
          INFO("arch " << t->name << ", n " << n << ", m " << m << ", specials " << specials);
          REQUIRE(mismatch("y", want, got) == "");
          REQUIRE(mismatch("y of the reference", want, by_ref) == "");
          REQUIRE(same(sq_want, sq_got));
          REQUIRE(same(sq_want, sq_ref));
          if (!specials && n > 0) REQUIRE(std::isfinite(sq_got));
        }
      }
  }
  // Closed form: y = (1 + 2) * 0.5 = 1.5 and (-4 + 0) * 0.5 = -2, squares 2.25 + 4.
  const std::vector<float> p = {1.0f, -4.0f}, q = {2.0f, 0.0f};
  const std::array<const float*, 2> xs = {p.data(), q.data()};
  for (const kernel_table* t : tables()) {
    std::vector<float> y(2);
    CHECK(t->sum_scale_squares(2, xs.data(), 2, 0.5f, y.data()) == 6.25);
    CHECK(y == std::vector<float>{1.5f, -2.0f});
  }
}
