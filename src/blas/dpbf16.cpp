// tmlp's own bf16 product kernel on AVX512-BF16 (vdpbf16ps), for the products libxsmm 1.17's
// bf16 kernels run slowest: those whose right operand is 1 MB or more (a 1024-wide layer's
// forward and input-gradient products), which libxsmm streams from beyond L2 for every few
// rows. One thread on a Zen 5 core whose vdpbf16ps peak is 437-442 GFLOP/s (bf16_peak), medians
// of three (bench/bench_bf16.cpp, tmlp_bench --benchmark_filter=bf16_kernel), GFLOP/s:
//
//   m x n x k          libxsmm    this kernel
//   64 x 1024 x 1024     324        428
//   64 x 2048 x 2048     372        389
//   64 x 512 x 1024      408        423
//   64 x 512 x 512       436        424     (smaller right operands: a tie, or libxsmm
//   1024 x 1024 x 64     415        408      ahead, so they stay on libxsmm)
//
// C (m x n) = A · B + beta C with A's rows of k bf16 values and B as pairs of rows (blas.hpp).
// A tile of 6 rows x 64 columns of C stays in 24 of the 32 zmm registers for the whole of k:
// each pair of k's values, one broadcast 32-bit pair of A's row times 16 pairs of B's columns,
// adds into 16 sums per vdpbf16ps. Each sum takes B's pairs in the order of k, exactly as
// libxsmm's vdpbf16ps kernels do, so the two give the same bits (tests/test_bf16_operands.cpp
// checks it) and a product's result does not depend on which of them ran it.
//
// While a strip of 64 columns passes, its tiles prefetch the next strip into L2 (ahead), which
// the core would otherwise fetch row by row when the next strip's first tile reads it (the step
// reads each layer's weights once per shard, after the other layers' products have passed
// through the caches). 64 x 1024 x 1024 on one thread of a Zen 5, alternating with the kernel
// without it (tmlp_bench --benchmark_filter=bf16_kernel/64x1024x1024/tmlp): one copy of B
// 446-455 -> 472-478 GFLOP/s; /24copies (B from memory) 307-316 -> 319-325.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <utility>

#include "blas/backends.hpp"

#define TMLP_DPBF16 __attribute__((target("avx512f,avx512bw,avx512bf16")))

namespace tmlp::blas::detail {
namespace {

constexpr int tile_rows = 6, tile_vectors = 4;  // of 16 columns

// What the first segment does with C: sets it to its sums, adds them to it (beta 1 of
// bgemm_segments: C + a sum from zero), or starts its sums from C's values (beta 1 of bgemm:
// libxsmm's order). Every later segment's sums start from zero and are added to C.
enum class first : int { set, add, start_from };

// Cache lines of the next strip of B to bring into L2 while a tile runs: its pair rows, each
// 4 KB or more apart in a wide layer, are a new page each, which the core's own prefetchers do
// not follow, so without this the strip's first tile waited on every row. lines: how many this
// tile asks for, one in each step of its k loop (those past its last step are left out): line i
// is line i % per_row of pair row first_row + i / per_row.
struct ahead {
  const char* base = nullptr;  // the next strip's first pair row
  std::size_t row_bytes = 0, per_row = 0, first_row = 0, lines = 0;
  void fetch(std::size_t i) const noexcept {
    _mm_prefetch(base + (first_row + i / per_row) * row_bytes + 64 * (i % per_row), _MM_HINT_T1);
  }
};

// C's rows x (vectors x 16) tile at c, from rows i0.. of segment g's A and pair column j0.. of
// its B. The last vector's columns are those in `last` (a partial tile at C's right edge).
template <int rows, int vectors>
TMLP_DPBF16 void tile(const bf16_segment& g, std::size_t i0, std::size_t j0, first how, float* c,
                      std::size_t ldc, __mmask16 last, const ahead& next) noexcept {
  auto mask = [last](int v) { return v == vectors - 1 ? last : __mmask16{0xffff}; };
  const std::uint16_t* a = g.a + i0 * g.lda;
  const std::uint16_t* b = g.b_pairs + 2 * j0;
  __m512 sum[rows][vectors];
#pragma GCC unroll 8
  for (int i = 0; i < rows; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < vectors; ++v)
      sum[i][v] = how == first::start_from ? _mm512_maskz_loadu_ps(mask(v), c + i * ldc + 16 * v)
                                           : _mm512_setzero_ps();
  for (std::size_t p = 0; p < g.k / 2; ++p) {
    if (p < next.lines) next.fetch(p);
    const std::uint16_t* bp = b + p * 2 * g.ldb;  // pair row p: column j at bp[2j], bp[2j + 1]
    __m512bh bv[vectors];
#pragma GCC unroll 8
    for (int v = 0; v < vectors; ++v)
      bv[v] = reinterpret_cast<__m512bh>(_mm512_maskz_loadu_epi32(mask(v), bp + 32 * v));
#pragma GCC unroll 8
    for (int i = 0; i < rows; ++i) {
      std::int32_t pair;
      std::memcpy(&pair, a + i * g.lda + 2 * p, sizeof pair);
      const __m512bh av = reinterpret_cast<__m512bh>(_mm512_set1_epi32(pair));
#pragma GCC unroll 8
      for (int v = 0; v < vectors; ++v) sum[i][v] = _mm512_dpbf16_ps(sum[i][v], av, bv[v]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < rows; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < vectors; ++v) {
      float* to = c + i * ldc + 16 * v;
      const __m512 x = how == first::add
                           ? _mm512_add_ps(_mm512_maskz_loadu_ps(mask(v), to), sum[i][v])
                           : sum[i][v];
      _mm512_mask_storeu_ps(to, mask(v), x);
    }
}

using tile_fn = void (*)(const bf16_segment&, std::size_t, std::size_t, first, float*, std::size_t,
                         __mmask16, const ahead&) noexcept;

// tiles[r - 1][v - 1]: the tile of r rows and v vectors, for C's bottom and right edges.
template <int rows, int... v>
constexpr std::array<tile_fn, sizeof...(v)> tiles_of(std::integer_sequence<int, v...>) {
  return {&tile<rows, v + 1>...};
}
template <int... r>
constexpr auto tiles_table(std::integer_sequence<int, r...>) {
  return std::array<std::array<tile_fn, tile_vectors>, tile_rows>{
      tiles_of<r + 1>(std::make_integer_sequence<int, tile_vectors>{})...};
}
constexpr auto tiles = tiles_table(std::make_integer_sequence<int, tile_rows>{});

}  // namespace

TMLP_DPBF16 double dpbf16_peak_loop(std::size_t n, float* out) noexcept {
  // 24 independent sums (more than vdpbf16ps's latency x units), each one instruction per step.
  constexpr int sums = 24;
  __m512 acc[sums];
#pragma GCC unroll 24
  for (int j = 0; j < sums; ++j) acc[j] = _mm512_set1_ps(out[j]);
  __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi32(0x3f803f80));  // 1, 1
  __m512bh b = reinterpret_cast<__m512bh>(_mm512_set1_epi32(0x3c003c00));  // 2^-7, 2^-7
  for (std::size_t i = 0; i < n; ++i) {
#pragma GCC unroll 24
    for (int j = 0; j < sums; ++j) acc[j] = _mm512_dpbf16_ps(acc[j], a, b);
    asm volatile("" : "+v"(a), "+v"(b));  // not loop-invariant to the compiler
  }
  alignas(64) float lanes[16];
  for (int j = 0; j < sums; ++j) {
    _mm512_store_ps(lanes, acc[j]);
    out[j] = lanes[0];
  }
  return 64.0 * sums * static_cast<double>(n);  // 16 lanes x 2 pairs x (multiply, add)
}

bool dp_bgemm_wins(std::size_t n, std::size_t k) noexcept {
  return k * n >= (std::size_t{1} << 19);  // B's bf16 values: 1 MB or more
}

namespace {
void run_tiles(std::size_t m, std::size_t n, std::span<const bf16_segment> segs, first how,
               float* c, std::size_t ldc) noexcept {
  // Segment by segment over the whole of C: a strip of 64 columns of the segment's B (k/2 x 64
  // pairs) is read from L2 for every 6 rows of A, which stay in L1 while the strip passes.
  constexpr std::size_t strip = 16 * tile_vectors;
  const std::size_t n_tiles = (m + tile_rows - 1) / tile_rows;
  for (std::size_t s = 0; s < segs.size(); ++s)
    for (std::size_t j = 0; j < n; j += strip) {
      const bf16_segment& g = segs[s];
      const std::size_t cols = std::min(strip, n - j), vectors = (cols + 15) / 16;
      const __mmask16 last =
          cols % 16 == 0 ? __mmask16{0xffff} : static_cast<__mmask16>((1u << (cols % 16)) - 1);
      // The next strip's pair rows, shared out over this strip's tiles.
      ahead next;
      const std::size_t pair_rows = g.k / 2;
      const std::size_t rows_per_tile = (pair_rows + n_tiles - 1) / n_tiles;
      if (j + strip < n) {
        next.base = reinterpret_cast<const char*>(g.b_pairs + 2 * (j + strip));
        next.row_bytes = 2 * g.ldb * sizeof(std::uint16_t);
        next.per_row = (2 * std::min(strip, n - j - strip) * sizeof(std::uint16_t) + 63) / 64;
      }
      for (std::size_t i = 0, t = 0; i < m; i += tile_rows, ++t) {
        const std::size_t rows = std::min<std::size_t>(tile_rows, m - i);
        next.first_row = t * rows_per_tile;
        next.lines = next.base == nullptr || next.first_row >= pair_rows
                         ? 0
                         : std::min(rows_per_tile, pair_rows - next.first_row) * next.per_row;
        tiles[rows - 1][vectors - 1](g, i, j, s == 0 ? how : first::add, c + i * ldc + j, ldc, last,
                                     next);
      }
    }
}
}  // namespace

void dp_bgemm_segments(std::size_t m, std::size_t n, std::span<const bf16_segment> segs, bool add,
                       float* c, std::size_t ldc) noexcept {
  run_tiles(m, n, segs, add ? first::add : first::set, c, ldc);
}

void dp_bgemm(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* a, std::size_t lda,
              const std::uint16_t* b_pairs, std::size_t ldb, float beta, float* c,
              std::size_t ldc) noexcept {
  const bf16_segment one{a, lda, b_pairs, ldb, k};
  run_tiles(m, n, {&one, 1}, beta != 0.0f ? first::start_from : first::set, c, ldc);
}

}  // namespace tmlp::blas::detail
