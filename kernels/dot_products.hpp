// Z += X·Wᵀ as dot products of X's rows with W's rows (kernel_table::add_xwt): the xsimd
// architectures' kernel, instantiated per architecture by table_impl.hpp; the scalar reference
// is reference_products.cpp.
//
// It reads W as a layer stores it (n_out x n_in), so inference on a few rows needs no transposed
// copy of the weights. A tile of J rows of W and R rows of X keeps one vector of partial sums
// per pair: lane l sums the products of i = l, l + lanes, ... in the order of i (the last,
// partial vector loaded with zeros past k: masked loads on avx512 and avx2, a padded copy on
// sse2), then lane_sums adds the lanes of each lanes vectors at once, each by the same tree,
// into one vector of sums. So a pair's sum is the same bits whatever tile, rows and n it is
// computed in. Tiles (W x X): avx512 4 x 6, then 4 x 4; avx2 4 x 2; sse2 4 x 1; then lanes x 1
// for the rows left. W's rows past n repeat its last row, whose sums are dropped.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <immintrin.h>
#include <xsimd/xsimd.hpp>

#include "fma_peak.hpp"
#include "kernels.hpp"

namespace tmlp::kernels {
namespace detail {

using low_halves = std::integral_constant<int, _MM_SHUFFLE(1, 0, 1, 0)>;
using high_halves = std::integral_constant<int, _MM_SHUFFLE(3, 2, 3, 2)>;
using even_blocks = std::integral_constant<int, _MM_SHUFFLE(2, 0, 2, 0)>;
using odd_blocks = std::integral_constant<int, _MM_SHUFFLE(3, 1, 3, 1)>;

// One vector whose lane i is the sum of v[i]'s lanes, for lanes vectors, each summed by the same
// tree: xsimd::haddp on sse2 and avx2; on avx512 its own (xsimd 8's needs AVX512DQ): lanes i and
// i + 8, then i and i + 4, then (0 + 1) + (2 + 3), in 128-bit blocks.
template <class Arch>
xsimd::batch<float, Arch> lane_sums(const xsimd::batch<float, Arch>* v) noexcept {
  if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
    // After the three steps, lane 4b + q holds the sum of the input in place 4q + b: so vector i
    // goes in at place 4 (i % 4) + i / 4.
    __m512 in[16];
    for (int i = 0; i < 16; ++i) in[4 * (i % 4) + i / 4] = v[i];
    // (The masked form: GCC 12 warns of the unmasked one's undefined vector.)
    auto blocks = [](__m512 a, __m512 b, auto imm) {
      return _mm512_maskz_shuffle_f32x4(0xffff, a, b, decltype(imm)::value);
    };
    __m512 t[8], u[4];
    for (int p = 0; p < 8; ++p)  // each vector's lanes 0-7 plus 8-15
      t[p] = _mm512_add_ps(blocks(in[2 * p], in[2 * p + 1], low_halves{}),
                           blocks(in[2 * p], in[2 * p + 1], high_halves{}));
    for (int q = 0; q < 4; ++q)  // then lanes 0-3 plus 4-7: a 128-bit block per vector
      u[q] = _mm512_add_ps(blocks(t[2 * q], t[2 * q + 1], even_blocks{}),
                           blocks(t[2 * q], t[2 * q + 1], odd_blocks{}));
    const __m512 y01 = _mm512_add_ps(_mm512_shuffle_ps(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                     _mm512_shuffle_ps(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512 y23 = _mm512_add_ps(_mm512_shuffle_ps(u[2], u[3], _MM_SHUFFLE(2, 0, 2, 0)),
                                     _mm512_shuffle_ps(u[2], u[3], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_add_ps(_mm512_shuffle_ps(y01, y23, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_ps(y01, y23, _MM_SHUFFLE(3, 1, 3, 1)));
  } else {
    return xsimd::haddp(v);
  }
}

// sums[r * J + j] = the dot product of x_rows[r] and w_rows[j] over k values (sums: J x R
// rounded up to whole vectors).
template <class Arch, std::size_t J, std::size_t R>
void xwt_tile(std::size_t k, const float* const* x_rows, const float* const* w_rows,
              float* sums) noexcept {
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t L = B::size;
  B acc[J * R];
  for (B& a : acc) a = B(0.0f);
  // One vector of k from each row, as load reads it.
  auto step = [&acc](const float* const* x, const float* const* w, auto load) {
    B wv[J];
    for (std::size_t j = 0; j < J; ++j) wv[j] = load(w[j]);
    for (std::size_t r = 0; r < R; ++r) {
      const B xv = load(x[r]);
      for (std::size_t j = 0; j < J; ++j)
        acc[r * J + j] = fma_detail::fused(xv, wv[j], acc[r * J + j]);
    }
  };
  const std::size_t whole = k / L * L;
  for (std::size_t i = 0; i < whole; i += L)
    step(x_rows, w_rows, [i](const float* p) { return B::load_unaligned(p + i); });
  if (whole == k) {
    // nothing left
  } else if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
    // The last k - whole values, zeros past them: masked loads.
    const auto m = static_cast<__mmask16>((1u << (k - whole)) - 1);
    step(x_rows, w_rows,
         [m, whole](const float* p) { return B(_mm512_maskz_loadu_ps(m, p + whole)); });
  } else if constexpr (std::is_base_of_v<xsimd::avx2, Arch>) {
    alignas(32) std::int32_t bits[8];
    for (std::size_t l = 0; l < 8; ++l) bits[l] = l < k - whole ? -1 : 0;
    const __m256i m = _mm256_load_si256(reinterpret_cast<const __m256i*>(bits));
    step(x_rows, w_rows,
         [m, whole](const float* p) { return B(_mm256_maskload_ps(p + whole, m)); });
  } else {
    // A copy padded with zeros.
    alignas(64) float tail[(J + R) * L] = {};
    const float* x_tail[R];
    const float* w_tail[J];
    for (std::size_t r = 0; r < R; ++r) {
      std::copy(x_rows[r] + whole, x_rows[r] + k, tail + r * L);
      x_tail[r] = tail + r * L;
    }
    for (std::size_t j = 0; j < J; ++j) {
      std::copy(w_rows[j] + whole, w_rows[j] + k, tail + (R + j) * L);
      w_tail[j] = tail + (R + j) * L;
    }
    step(x_tail, w_tail, [](const float* p) { return B::load_unaligned(p); });
  }
  // L vectors at a time; the last group of fewer padded with zero vectors.
  for (std::size_t g = 0; g < J * R; g += L) {
    if (g + L <= J * R) {
      lane_sums<Arch>(acc + g).store_unaligned(sums + g);
    } else {
      B last[L];
      for (std::size_t v = 0; v < L; ++v) last[v] = g + v < J * R ? acc[g + v] : B(0.0f);
      lane_sums<Arch>(last).store_unaligned(sums + g);
    }
  }
}

// Rows r0.. of X (groups of R) against every tile of J rows of W.
template <class Arch, std::size_t J, std::size_t R>
void xwt_rows(std::size_t r0, std::size_t n, std::size_t k, const float* x, std::size_t ldx,
              const float* w, std::size_t ldw, float* z, std::size_t ldz) noexcept {
  float sums[(J * R + 15) / 16 * 16];
  const float* x_rows[R];
  const float* w_rows[J];
  for (std::size_t r = 0; r < R; ++r) x_rows[r] = x + (r0 + r) * ldx;
  for (std::size_t j0 = 0; j0 < n; j0 += J) {
    const std::size_t cols = std::min(J, n - j0);
    for (std::size_t j = 0; j < J; ++j) w_rows[j] = w + (j0 + std::min(j, cols - 1)) * ldw;
    xwt_tile<Arch, J, R>(k, x_rows, w_rows, sums);
    for (std::size_t r = 0; r < R; ++r)
      for (std::size_t j = 0; j < cols; ++j) z[(r0 + r) * ldz + j0 + j] += sums[r * J + j];
  }
}

template <class Arch>
void add_xwt(std::size_t rows, std::size_t n, std::size_t k, const float* x, std::size_t ldx,
             const float* w, std::size_t ldw, float* z, std::size_t ldz) noexcept {
  constexpr std::size_t L = xsimd::batch<float, Arch>::size;
  // Groups of R6 rows of X against fours of W's rows (on avx512, 6: each vector of W feeds 6
  // FMAs, each of X 4; 24 vectors of sums, 29 registers in all), then groups of L / 4 rows
  // against fours, then the rows left one by one against L rows of W. 256 x 1024 x 1024 on one
  // core of a Zen 5: 177 GFLOP/s; with groups of 4 only, 166; of 8 against pairs, 133 (their 32
  // KB of X and the stream of W did not stay in L1 together).
  constexpr std::size_t R6 = L == 16 ? 6 : 0, R = L / 4;
  // Blocks of 64 rows of W (256 KB at 1,024 inputs: in L2), each against every row of X: a
  // group of X's rows stays in L1 while the block passes.
  constexpr std::size_t w_block = 64;
  const std::size_t in_six = R6 > 0 ? rows / R6 * R6 : 0;
  const std::size_t grouped = R > 1 ? in_six + (rows - in_six) / R * R : in_six;
  for (std::size_t j0 = 0; j0 < n; j0 += w_block) {
    const std::size_t nb = std::min(w_block, n - j0);
    const float* wb = w + j0 * ldw;
    float* zb = z + j0;
    if constexpr (R6 > 0)
      for (std::size_t r0 = 0; r0 < in_six; r0 += R6)
        xwt_rows<Arch, 4, R6>(r0, nb, k, x, ldx, wb, ldw, zb, ldz);
    if constexpr (R > 1)
      for (std::size_t r0 = in_six; r0 < grouped; r0 += R)
        xwt_rows<Arch, 4, R>(r0, nb, k, x, ldx, wb, ldw, zb, ldz);
    for (std::size_t r = grouped; r < rows; ++r)
      xwt_rows<Arch, L, 1>(r, nb, k, x, ldx, wb, ldw, zb, ldz);
  }
}

}  // namespace detail

template <class Arch>
void fill_product_kernels(kernel_table& t) noexcept {
  t.add_xwt = &detail::add_xwt<Arch>;
}

}  // namespace tmlp::kernels
