// The bfloat16 conversions on AVX512-BF16's own instructions (vcvtne2ps2bf16, vcvtneps2bf16),
// which give the bits of bf16.hpp's integer rounding (nearest even; NaN quiet; denormal inputs
// as zeros of their sign), in fewer instructions: the avx512 table takes them where the CPU has
// AVX512-BF16. Tails go through masked loads and stores.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels.hpp"

#define TMLP_BF16_NATIVE __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

namespace tmlp::kernels {
namespace {

// The first m of 16 lanes (m <= 16).
TMLP_BF16_NATIVE __mmask16 first(std::size_t m) noexcept {
  return static_cast<__mmask16>((1u << m) - 1u);
}

TMLP_BF16_NATIVE __m256i to_bf16_16(__m512 x) noexcept {
  return reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(x));
}

// v's values rounded to bf16, as floats: the bf16 bits in the high halves.
TMLP_BF16_NATIVE __m512 rounded(__m512 v) noexcept {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(to_bf16_16(v)), 16));
}

// a[i]'s bf16 in the low half of 32-bit lane i, b[i]'s in the high half.
TMLP_BF16_NATIVE __m512i paired(__m512 a, __m512 b) noexcept {
  // [a0 .. a15 | b0 .. b15] as 16-bit values, then interleaved: a0 b0 a1 b1 ...
  const __m512i order = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24,
                                         8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return _mm512_permutexvar_epi16(order, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(b, a)));
}

TMLP_BF16_NATIVE void round_bf16_native(std::size_t n, const float* x, float* y) noexcept {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, rounded(_mm512_loadu_ps(x + i)));
  if (i == n) return;
  const __mmask16 k = first(n - i);
  _mm512_mask_storeu_ps(y + i, k, rounded(_mm512_maskz_loadu_ps(k, x + i)));
}

TMLP_BF16_NATIVE void to_bf16_native(std::size_t n, const float* x, std::uint16_t* y) noexcept {
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
    _mm512_storeu_si512(y + i, reinterpret_cast<__m512i>(v));
  }
  for (; i < n; i += 16) {
    const __mmask16 k = first(n - i < 16 ? n - i : 16);
    _mm256_mask_storeu_epi16(y + i, k, to_bf16_16(_mm512_maskz_loadu_ps(k, x + i)));
  }
}

TMLP_BF16_NATIVE void to_bf16_pairs_native(std::size_t n, const float* a, const float* b,
                                           std::uint16_t* y) noexcept {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_si512(y + 2 * i, paired(_mm512_loadu_ps(a + i),
                                          b ? _mm512_loadu_ps(b + i) : _mm512_setzero_ps()));
  if (i == n) return;
  const __mmask16 k = first(n - i);
  _mm512_mask_storeu_epi32(y + 2 * i, k,
                           paired(_mm512_maskz_loadu_ps(k, a + i),
                                  b ? _mm512_maskz_loadu_ps(k, b + i) : _mm512_setzero_ps()));
}

}  // namespace

void fill_native_bf16_kernels(kernel_table& t) noexcept {
  if (__builtin_cpu_supports("avx512bf16") == 0 || __builtin_cpu_supports("avx512bw") == 0 ||
      __builtin_cpu_supports("avx512vl") == 0)
    return;
  t.round_bf16 = &round_bf16_native;
  t.to_bf16 = &to_bf16_native;
  t.to_bf16_pairs = &to_bf16_pairs_native;
}

}  // namespace tmlp::kernels
