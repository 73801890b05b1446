// Rounding to bfloat16 (--precision bf16): the xsimd kernels, instantiated per architecture by
// table_impl.hpp. The scalar reference is reference_bf16.cpp.
//
// Integer arithmetic on the float's bits, so every architecture (SSE2 included) gives the
// reference's bits: round to nearest, ties to even, by adding 0x7fff plus the lowest kept bit
// and clearing the low 16 bits (a carry into the exponent is the correct rounding, up to
// infinity past bf16's largest value); NaN is kept quiet and NaN; denormals become zeros of
// their sign, as AVX512-BF16's conversion (vcvtneps2bf16) treats them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "kernels.hpp"

namespace tmlp::kernels {
namespace detail {

template <class Arch>
xsimd::batch<float, Arch> round_bf16_batch(xsimd::batch<float, Arch> x) noexcept {
  // The bits as 32-bit integers: the additions wrap like unsigned ones, the magnitudes (below
  // 2^31) compare correctly as signed ones.
  using vi = xsimd::batch<std::int32_t, Arch>;
  const vi bits = xsimd::bitwise_cast<vi>(x);
  const vi high = vi(static_cast<std::int32_t>(0xffff0000u));
  const vi magnitude = bits & vi(0x7fffffff);
  const vi rounded = (bits + vi(0x7fff) + ((bits >> 16) & vi(1))) & high;
  const vi quiet_nan = (bits | vi(0x00400000)) & high;
  const vi signed_zero = bits & vi(static_cast<std::int32_t>(0x80000000u));
  vi out = xsimd::select(magnitude > vi(0x7f800000), quiet_nan, rounded);
  out = xsimd::select(magnitude < vi(0x00800000), signed_zero, out);
  return xsimd::bitwise_cast<xsimd::batch<float, Arch>>(out);
}

template <class Arch>
void round_bf16(std::size_t n, const float* x, float* y) noexcept {
  using vec = xsimd::batch<float, Arch>;
  constexpr std::size_t lanes = vec::size;
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes)
    round_bf16_batch<Arch>(vec::load_unaligned(x + i)).store_unaligned(y + i);
  if (i == n) return;
  alignas(64) float tail[lanes] = {};  // the same vector code on a padded copy
  std::memcpy(tail, x + i, (n - i) * sizeof(float));
  round_bf16_batch<Arch>(vec::load_aligned(tail)).store_aligned(tail);
  std::memcpy(y + i, tail, (n - i) * sizeof(float));
}

// y[0, 2 * lanes) = the high halves of a's lanes, then b's: bits of rounded floats, whose low
// halves are zero. Arithmetic shifts put each high half in the int16 range, where the packs'
// signed saturation keeps it exact.
template <class Arch>
void store_high_halves(xsimd::batch<std::int32_t, Arch> a, xsimd::batch<std::int32_t, Arch> b,
                       std::uint16_t* y) noexcept {
  if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y),
                        _mm512_cvtepi32_epi16(_mm512_srai_epi32(a, 16)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + 16),
                        _mm512_cvtepi32_epi16(_mm512_srai_epi32(b, 16)));
  } else if constexpr (std::is_base_of_v<xsimd::avx2, Arch>) {
    // (packs works within 128-bit lanes: the permute puts the four quarters back in order)
    const __m256i packed = _mm256_packs_epi32(_mm256_srai_epi32(a, 16), _mm256_srai_epi32(b, 16));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y), _mm256_permute4x64_epi64(packed, 0xd8));
  } else {
    static_assert(std::is_base_of_v<xsimd::sse2, Arch>);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y),
                     _mm_packs_epi32(_mm_srai_epi32(a, 16), _mm_srai_epi32(b, 16)));
  }
}

template <class Arch>
void to_bf16(std::size_t n, const float* x, std::uint16_t* y) noexcept {
  using vec = xsimd::batch<float, Arch>;
  using vi = xsimd::batch<std::int32_t, Arch>;
  constexpr std::size_t lanes = vec::size;
  auto two = [](const float* from, std::uint16_t* to) {
    store_high_halves<Arch>(
        xsimd::bitwise_cast<vi>(round_bf16_batch<Arch>(vec::load_unaligned(from))),
        xsimd::bitwise_cast<vi>(round_bf16_batch<Arch>(vec::load_unaligned(from + lanes))), to);
  };
  std::size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) two(x + i, y + i);
  if (i == n) return;
  alignas(64) float tail[2 * lanes] = {};  // the same vector code on a padded copy
  alignas(64) std::uint16_t out[2 * lanes];
  std::memcpy(tail, x + i, (n - i) * sizeof(float));
  two(tail, out);
  std::memcpy(y + i, out, (n - i) * sizeof(std::uint16_t));
}

// Lane i: a[i]'s bf16 in the low half, b[i]'s in the high half, as y[2i], y[2i + 1] in memory.
template <class Arch>
xsimd::batch<std::int32_t, Arch> pair_bf16_batch(xsimd::batch<float, Arch> a,
                                                 xsimd::batch<float, Arch> b) noexcept {
  using vi = xsimd::batch<std::int32_t, Arch>;
  const vi low = (xsimd::bitwise_cast<vi>(round_bf16_batch<Arch>(a)) >> 16) & vi(0xffff);
  return low | xsimd::bitwise_cast<vi>(round_bf16_batch<Arch>(b));
}

template <class Arch>
void to_bf16_pairs(std::size_t n, const float* a, const float* b, std::uint16_t* y) noexcept {
  using vec = xsimd::batch<float, Arch>;
  constexpr std::size_t lanes = vec::size;
  const vec zero(0.0f);
  std::size_t i = 0;
  // (The vector stores go through the intrinsics' may-alias types; the tail through memcpy.)
  auto* out = reinterpret_cast<std::int32_t*>(y);
  for (; i + lanes <= n; i += lanes)
    pair_bf16_batch<Arch>(vec::load_unaligned(a + i), b ? vec::load_unaligned(b + i) : zero)
        .store_unaligned(out + i);
  if (i == n) return;
  alignas(64) float ta[lanes] = {}, tb[lanes] = {};
  alignas(64) std::int32_t ty[lanes];
  std::memcpy(ta, a + i, (n - i) * sizeof(float));
  if (b) std::memcpy(tb, b + i, (n - i) * sizeof(float));
  pair_bf16_batch<Arch>(vec::load_aligned(ta), vec::load_aligned(tb)).store_aligned(ty);
  std::memcpy(y + 2 * i, ty, (n - i) * sizeof(std::int32_t));
}

}  // namespace detail

template <class Arch>
void fill_bf16_kernels(kernel_table& t) noexcept {
  t.round_bf16 = &detail::round_bf16<Arch>;
  t.to_bf16 = &detail::to_bf16<Arch>;
  t.to_bf16_pairs = &detail::to_bf16_pairs<Arch>;
}

}  // namespace tmlp::kernels
