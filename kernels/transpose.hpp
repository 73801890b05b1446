// Matrix transpose: the xsimd architectures' kernel, instantiated per architecture by
// table_impl.hpp; the scalar reference is reference_transpose.cpp. A copy, so every
// architecture gives the reference's values exactly.
//
// Blocks of 8 x 8 (AVX2, AVX-512: eight 256-bit rows, transposed in registers by unpacks,
// shuffles and lane permutes) or 4 x 4 (SSE2), walked in strips of 16 columns of x from top to
// bottom: each strip reads x's cache lines once and writes 16 rows of y front to back, which
// stays fast where a row stride of a power of two (1024 floats) maps a square tile's rows onto
// one cache set. The edges past the last whole block go element by element.
#pragma once

#include <cstddef>
#include <type_traits>

#include <immintrin.h>
#include <xsimd/xsimd.hpp>

#include "kernels.hpp"

namespace tmlp::kernels {
namespace detail {

template <class Arch>
constexpr std::size_t transpose_block() noexcept {
  return std::is_base_of_v<xsimd::avx2, Arch> || std::is_base_of_v<xsimd::avx512f, Arch> ? 8 : 4;
}

// y[c * ldy + r] = x[r * ldx + c] for one block of transpose_block<Arch>() rows and columns.
template <class Arch>
void transpose_block(const float* x, std::size_t ldx, float* y, std::size_t ldy) noexcept {
  if constexpr (transpose_block<Arch>() == 8) {
    __m256 r[8], t[8], u[8];
    for (std::size_t i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(x + i * ldx);
    for (std::size_t i = 0; i < 8; i += 2) {  // pairs of rows interleaved
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (std::size_t i = 0; i < 8; i += 4) {  // then quads: each 128-bit lane a column's four
      u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
      u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
      u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (std::size_t i = 0; i < 4; ++i) {  // low lanes: columns 0-3, high lanes: columns 4-7
      _mm256_storeu_ps(y + i * ldy, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
      _mm256_storeu_ps(y + (i + 4) * ldy, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
    }
  } else {
    __m128 r0 = _mm_loadu_ps(x), r1 = _mm_loadu_ps(x + ldx), r2 = _mm_loadu_ps(x + 2 * ldx),
           r3 = _mm_loadu_ps(x + 3 * ldx);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    _mm_storeu_ps(y, r0);
    _mm_storeu_ps(y + ldy, r1);
    _mm_storeu_ps(y + 2 * ldy, r2);
    _mm_storeu_ps(y + 3 * ldy, r3);
  }
}

template <class Arch>
void transpose(std::size_t rows, std::size_t cols, const float* x, std::size_t ldx, float* y,
               std::size_t ldy) noexcept {
  constexpr std::size_t b = transpose_block<Arch>(), strip = 16;
  const std::size_t rb = rows / b * b, cb = cols / b * b;
  std::size_t c = 0;
  for (; c + strip <= cb; c += strip)
    for (std::size_t r = 0; r < rb; r += b)
      for (std::size_t j = c; j < c + strip; j += b)
        transpose_block<Arch>(x + r * ldx + j, ldx, y + j * ldy + r, ldy);
  for (; c < cb; c += b)
    for (std::size_t r = 0; r < rb; r += b)
      transpose_block<Arch>(x + r * ldx + c, ldx, y + c * ldy + r, ldy);
  for (std::size_t r = 0; r < rb; ++r)  // the columns past the last block
    for (std::size_t j = cb; j < cols; ++j) y[j * ldy + r] = x[r * ldx + j];
  for (std::size_t r = rb; r < rows; ++r)  // the rows past the last block
    for (std::size_t j = 0; j < cols; ++j) y[j * ldy + r] = x[r * ldx + j];
}

}  // namespace detail

template <class Arch>
void fill_transpose_kernels(kernel_table& t) noexcept {
  t.transpose = &detail::transpose<Arch>;
}

}  // namespace tmlp::kernels
