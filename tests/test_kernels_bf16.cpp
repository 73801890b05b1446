// Rounding to bfloat16: the scalar reference against hand values, and every architecture the CPU
// has against the reference, bit for bit, at every length (tails included).
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/random.hpp"
#include "kernels.hpp"

namespace {

float from_bits(std::uint32_t b) { return std::bit_cast<float>(b); }
std::uint32_t bits(float f) { return std::bit_cast<std::uint32_t>(f); }

float rounded(const tmlp::kernels::kernel_table& t, float x) {
  float y = 0.0f;
  t.round_bf16(1, &x, &y);
  return y;
}

// Values that exercise every branch: ties both ways, carries into the exponent, the largest
// values, infinities, NaNs, denormals, signed zeros.
std::vector<float> special_values() {
  std::vector<float> v = {0.0f,
                          -0.0f,
                          1.0f,
                          -1.0f,
                          from_bits(0x3f808000u),  // 1 + 2^-8: a tie, stays at 1 (even)
                          from_bits(0x3f818000u),  // 1 + 3 * 2^-8: a tie, goes up (even)
                          from_bits(0x3f808001u),  // just past the tie: up
                          from_bits(0x3f807fffu),  // just below: down
                          from_bits(0x3fffffffu),  // carries into the exponent: 2
                          std::numeric_limits<float>::max(),
                          -std::numeric_limits<float>::max(),
                          from_bits(0x7f7f7fffu),  // the largest that stays finite
                          std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN(),
                          from_bits(0x7f800001u),  // a signaling NaN whose payload rounds away
                          from_bits(0xffc12345u),
                          std::numeric_limits<float>::denorm_min(),
                          from_bits(0x807fffffu),  // the largest negative denormal
                          std::numeric_limits<float>::min(),
                          from_bits(0x00ffffffu)};
  for (std::uint64_t i = 0; i < 300; ++i)  // and ordinary values of every size
    v.push_back(static_cast<float>((tmlp::core::uniform01(17, i) - 0.5) *
                                   std::exp2(static_cast<int>(i % 80) - 40)));
  return v;
}

// Every architecture the CPU has, and where avx512 converts with AVX512-BF16's instructions,
// also its xsimd conversions.
std::vector<std::pair<std::string, const tmlp::kernels::kernel_table*>> tables_to_check() {
  std::vector<std::pair<std::string, const tmlp::kernels::kernel_table*>> out;
  for (auto name : tmlp::kernels::available())
    out.emplace_back(std::string(name), tmlp::kernels::find(name));
  if (const auto* x = tmlp::kernels::avx512_xsimd_bf16()) out.emplace_back("avx512 (xsimd)", x);
  return out;
}

}  // namespace

TEST_CASE("round_bf16: the reference rounds to nearest, ties to even", "[kernels][bf16]") {
  const auto& ref = tmlp::kernels::reference();
  CHECK(bits(rounded(ref, 1.0f)) == 0x3f800000u);
  CHECK(bits(rounded(ref, from_bits(0x3f808000u))) == 0x3f800000u);
  CHECK(bits(rounded(ref, from_bits(0x3f818000u))) == 0x3f820000u);
  CHECK(bits(rounded(ref, from_bits(0x3f808001u))) == 0x3f810000u);
  CHECK(bits(rounded(ref, from_bits(0x3f807fffu))) == 0x3f800000u);
  CHECK(rounded(ref, from_bits(0x3fffffffu)) == 2.0f);
  CHECK(rounded(ref, 3.14159265f) == 3.140625f);  // 0x40490fdb -> 0x40490000
  CHECK(rounded(ref, std::numeric_limits<float>::max()) == std::numeric_limits<float>::infinity());
  CHECK(bits(rounded(ref, from_bits(0x7f7f7fffu))) == 0x7f7f0000u);
  CHECK(rounded(ref, -std::numeric_limits<float>::infinity()) ==
        -std::numeric_limits<float>::infinity());
  const float nan = rounded(ref, from_bits(0x7f800001u));
  CHECK(std::isnan(nan));
  CHECK((bits(nan) & 0x0000ffffu) == 0u);
  CHECK(bits(rounded(ref, std::numeric_limits<float>::denorm_min())) == 0u);
  CHECK(bits(rounded(ref, from_bits(0x807fffffu))) == 0x80000000u);
  CHECK(bits(rounded(ref, -0.0f)) == 0x80000000u);
  // Every result is a bf16 value, within half a unit of the last kept place (2^-8 relative).
  for (float x : special_values()) {
    const float y = rounded(ref, x);
    CAPTURE(x, y);
    REQUIRE((bits(y) & 0xffffu) == 0u);
    if (std::isfinite(y) && std::fabs(x) >= std::numeric_limits<float>::min())
      REQUIRE(std::fabs(y - x) <= std::ldexp(std::fabs(x), -8));
  }
}

TEST_CASE("round_bf16: every architecture gives the reference's bits", "[kernels][bf16]") {
  const auto values = special_values();
  const auto& ref = tmlp::kernels::reference();
  for (const auto& [label, table] : tables_to_check()) {
    const auto& t = *table;
    INFO("arch " << label);
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{15},
                          std::size_t{17}, std::size_t{33}, values.size()}) {
      INFO("n " << n);
      std::vector<float> want(n, -9.0f), got(n + 1, -9.0f);  // one more: nothing past n
      ref.round_bf16(n, values.data(), want.data());
      t.round_bf16(n, values.data(), got.data());
      for (std::size_t i = 0; i < n; ++i) {
        CAPTURE(i, values[i]);
        REQUIRE(bits(got[i]) == bits(want[i]));
      }
      REQUIRE(got[n] == -9.0f);
    }
    std::vector<float> in_place = values;  // y may alias x
    t.round_bf16(in_place.size(), in_place.data(), in_place.data());
    std::vector<float> want(values.size());
    ref.round_bf16(values.size(), values.data(), want.data());
    for (std::size_t i = 0; i < values.size(); ++i) REQUIRE(bits(in_place[i]) == bits(want[i]));
  }
}

TEST_CASE("to_bf16: the high half of round_bf16's bits, on every architecture", "[kernels][bf16]") {
  auto values = special_values();
  for (std::size_t i = 0; values.size() < 1300; ++i) values.push_back(values[i] * -3.0f);
  const auto& ref = tmlp::kernels::reference();
  std::vector<float> rounded(values.size());
  ref.round_bf16(values.size(), values.data(), rounded.data());
  for (const auto& [label, table] : tables_to_check()) {
    const auto& t = *table;
    INFO("arch " << label);
    // Lengths across the vector width and the kernels' blocks of 512.
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{9}, std::size_t{511},
                          std::size_t{512}, std::size_t{513}, values.size()}) {
      INFO("n " << n);
      std::vector<std::uint16_t> got(n + 1, 0xabcd);  // one more: nothing past n
      t.to_bf16(n, values.data(), got.data());
      for (std::size_t i = 0; i < n; ++i) {
        CAPTURE(i, values[i]);
        REQUIRE(got[i] == bits(rounded[i]) >> 16);
      }
      REQUIRE(got[n] == 0xabcd);
    }
  }
}

TEST_CASE("to_bf16_pairs: two rows' bf16 values interleaved, on every architecture",
          "[kernels][bf16]") {
  const auto a = special_values();
  std::vector<float> b(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) b[i] = a[a.size() - 1 - i] * 0.7f;
  const auto& ref = tmlp::kernels::reference();
  std::vector<std::uint16_t> ha(a.size()), hb(b.size());
  ref.to_bf16(a.size(), a.data(), ha.data());
  ref.to_bf16(b.size(), b.data(), hb.data());
  for (const auto& [label, table] : tables_to_check()) {
    const auto& t = *table;
    INFO("arch " << label);
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{9}, std::size_t{16},
                          std::size_t{17}, a.size()})
      for (bool second : {true, false}) {
        INFO("n " << n << ", second row " << second);
        std::vector<std::uint16_t> got(2 * n + 1, 0xabcd);
        t.to_bf16_pairs(n, a.data(), second ? b.data() : nullptr, got.data());
        for (std::size_t i = 0; i < n; ++i) {
          CAPTURE(i);
          REQUIRE(got[2 * i] == ha[i]);
          REQUIRE(got[2 * i + 1] == (second ? hb[i] : 0));
        }
        REQUIRE(got[2 * n] == 0xabcd);
      }
  }
}

TEST_CASE("bf16 conversions: every architecture gives the reference's bits across all floats",
          "[kernels][bf16]") {
  // Every 4099th bit pattern (a prime stride: every exponent, both signs, NaNs, denormals, and
  // low halves of every kind), through all three kernels.
  std::vector<float> x;
  for (std::uint64_t u = 0; u < (std::uint64_t{1} << 32); u += 4099)
    x.push_back(from_bits(static_cast<std::uint32_t>(u)));
  const std::size_t n = x.size(), half = n / 2;
  const auto& ref = tmlp::kernels::reference();
  std::vector<float> want(n), got(n);
  std::vector<std::uint16_t> want16(n), got16(n);
  std::vector<std::uint16_t> want_pairs(2 * half), got_pairs(2 * half);
  ref.round_bf16(n, x.data(), want.data());
  ref.to_bf16(n, x.data(), want16.data());
  ref.to_bf16_pairs(half, x.data(), x.data() + half, want_pairs.data());
  for (const auto& [label, table] : tables_to_check()) {
    INFO("arch " << label);
    table->round_bf16(n, x.data(), got.data());
    table->to_bf16(n, x.data(), got16.data());
    table->to_bf16_pairs(half, x.data(), x.data() + half, got_pairs.data());
    std::size_t differ = 0;
    for (std::size_t i = 0; i < n; ++i)
      differ += (bits(got[i]) != bits(want[i])) + (got16[i] != want16[i]);
    for (std::size_t i = 0; i < 2 * half; ++i) differ += got_pairs[i] != want_pairs[i];
    CHECK(differ == 0);
  }
}
