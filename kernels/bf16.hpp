// Rounding to bfloat16 (--precision bf16): the xsimd kernel, instantiated per architecture by
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

}  // namespace detail

template <class Arch>
void fill_bf16_kernels(kernel_table& t) noexcept {
  t.round_bf16 = &detail::round_bf16<Arch>;
}

}  // namespace tmlp::kernels
