// The FMA loop behind `tmlp bench`'s FMA peak (kernels/fma_peak.hpp): on every architecture the
// machine has, and the scalar reference, against closed forms of the recurrence a = a * m + c,
// against the reference lane by lane (bit-exact: one rounding per step, or two on sse2, which
// has no FMA instruction), with NaN, infinities and huge values, and the FLOP count it reports.
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "kernels.hpp"

namespace {

using tmlp::kernels::fma_accumulators;
using tmlp::kernels::kernel_table;

constexpr float inf = std::numeric_limits<float>::infinity();

// fma_accumulators x lanes distinct starting values, multiples of 1/4 of both signs.
std::vector<float> start_values(std::size_t lanes) {
  std::vector<float> v(fma_accumulators * lanes);
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = (i % 2 ? -0.25f : 0.25f) * static_cast<float>(i + 1);
  return v;
}

// Runs t's loop on a copy of acc; checks the FLOP count it returns.
std::vector<float> run(const kernel_table& t, std::size_t n, float m, float c,
                       std::vector<float> acc) {
  const double flops = t.fma_loop(n, m, c, acc.data());
  CHECK(flops == 2.0 * static_cast<double>(acc.size()) * static_cast<double>(n));
  return acc;
}

// The reference loop on every value of acc: each lane is independent, so the reference (one
// float per accumulator) runs on consecutive groups of fma_accumulators values.
std::vector<float> reference_run(std::size_t n, float m, float c, std::vector<float> acc) {
  for (std::size_t i = 0; i < acc.size(); i += fma_accumulators)
    tmlp::kernels::reference().fma_loop(n, m, c, acc.data() + i);
  return acc;
}

// n steps of a = a * m + c with a multiply and an add, two roundings (-ffp-contract=off).
float unfused(std::size_t n, float m, float c, float a) {
  for (std::size_t i = 0; i < n; ++i) a = a * m + c;
  return a;
}

bool same(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) ||
         std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

}  // namespace

TEST_CASE("fma loop: closed forms on every architecture", "[kernels][fma]") {
  for (auto name : tmlp::kernels::available()) {
    const kernel_table& t = *tmlp::kernels::find(name);
    CAPTURE(name);
    REQUIRE(t.fma_loop != nullptr);
    const std::vector<float> a0 = start_values(t.lanes);
    // m = 1: a_n = a_0 + n c, exact (multiples of 1/8 far below 2^24 ulps).
    const std::vector<float> plus = run(t, 1000, 1.0f, 0.125f, a0);
    for (std::size_t i = 0; i < a0.size(); ++i) REQUIRE(plus[i] == a0[i] + 125.0f);
    // m = -1, c = 1: a -> 1 - a -> a; the parity of the step count shows.
    const std::vector<float> odd = run(t, 1001, -1.0f, 1.0f, a0);
    const std::vector<float> even = run(t, 1000, -1.0f, 1.0f, a0);
    for (std::size_t i = 0; i < a0.size(); ++i) {
      REQUIRE(odd[i] == 1.0f - a0[i]);
      REQUIRE(even[i] == a0[i]);
    }
    // No steps: the values come back as they went in.
    CHECK(run(t, 0, 3.0f, 5.0f, a0) == a0);
  }
}

TEST_CASE("fma loop: every architecture equals the scalar reference lane by lane",
          "[kernels][fma]") {
  for (auto name : tmlp::kernels::available()) {
    const kernel_table& t = *tmlp::kernels::find(name);
    CAPTURE(name);
    std::vector<float> a0 = start_values(t.lanes);
    a0[1] = std::numeric_limits<float>::quiet_NaN();
    a0[2] = inf;
    a0[3] = -inf;
    a0[4] = 3e38f;
    a0[a0.size() - 1] = -3e38f;
    // m a power of two: the product is exact, so fused and unfused steps agree (sse2 included);
    // 3e38 overflows to infinity within the steps.
    for (float m : {0.5f, 2.0f, -1.0f}) {
      CAPTURE(m);
      const std::vector<float> got = run(t, 37, m, 0.75f, a0);
      const std::vector<float> want = reference_run(37, m, 0.75f, a0);
      for (std::size_t i = 0; i < a0.size(); ++i) REQUIRE(same(got[i], want[i]));
    }
    // A general m: one rounding per step, as std::fma, except on sse2 (a multiply, then an add).
    // The values are chosen so that the two differ, or this check could not fail.
    const float m = 0.999f, c = 0.3f;
    const std::vector<float> got = run(t, 200, m, c, a0);
    const std::vector<float> fused = reference_run(200, m, c, a0);
    std::size_t n_differ = 0;
    for (std::size_t i = 0; i < a0.size(); ++i) {
      const float two_roundings = unfused(200, m, c, a0[i]);
      n_differ += same(fused[i], two_roundings) ? 0 : 1;
      REQUIRE(same(got[i], std::string(name) == "sse2" ? two_roundings : fused[i]));
    }
    CHECK(n_differ > 0);
  }
}
