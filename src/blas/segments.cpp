// A weight gradient over every shard of a batch in one product (blas::sgemm_tn_segments): C =
// the sum, in shard order, of each shard's dZᵀ·X, each summed alone from zero in the order of
// its rows and then added to the shards' sum before it. That is exactly what the step computed
// as one product per shard into the shard's gradient (libxsmm's AVX-512 kernels with beta 0: one
// FMA chain per element from zero, in the order of k) and the reduction's ordered additions;
// here no shard writes a gradient of its own, so the 4 MB of a 1024 x 1024 layer is not
// written, and read back, once per shard.
//
// A tile of 6 rows x 64 columns of C stays in 24 zmm registers for a shard's rows: each row,
// 6 broadcasts of dZ's values times 4 vectors of X's, both read in order from the shard's
// packed panel and strip (blas.hpp). Then C's tile is set to the sums (the first shard) or has
// them added, and the next shard starts from zero again. The packing makes every read a
// forward stream: from dZ and X in place (rows 4 KB apart, a page per row) the same loop ran
// 1024 x 1024 over 16 shards of 64 rows at 163-175 GFLOP/s. While one shard's tiles run, they
// ask for the next shard's panels and strips a few lines at a time: its first tiles found them
// in L3 or memory otherwise (weight_batch/1024x1024/16x64/segments on one thread of a Zen 5,
// eight alternating pairs: +3% median, -1% to +9%).
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "blas/backends.hpp"
#include "blas/blas.hpp"

#define TMLP_AVX512 __attribute__((target("avx512f")))

namespace tmlp::blas::detail {
namespace {

constexpr int tile_vectors = 4;  // of 16 columns: a strip
static_assert(tn_strip == 16 * tile_vectors && tn_panel == 6);

// Cache lines a tile asks for ahead of their use: count lines of 16 floats from `from`, one per
// row of its loop.
struct lines {
  const float* from = nullptr;
  std::size_t count = 0;
};

// C's rows x (vectors x 16) tile at c from panel i0 / 6 and strip j0 / 64 of segment g. The
// last vector's columns are those in `last` (a partial tile at C's right edge); add: C + the
// segment's sum, else the sum.
template <int rows, int vectors>
TMLP_AVX512 void tile(const tn_segment& g, std::size_t i0, std::size_t j0, bool add, float* c,
                      std::size_t ldc, __mmask16 last, const lines& next) noexcept {
  auto mask = [last](int v) { return v == vectors - 1 ? last : __mmask16{0xffff}; };
  __m512 sum[rows][vectors];
#pragma GCC unroll 8
  for (int i = 0; i < rows; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < vectors; ++v) sum[i][v] = _mm512_setzero_ps();
  const float* a = g.a + i0 * g.k;  // k x 6
  const float* b = g.b + j0 * g.k;  // k x 64
  for (std::size_t r = 0; r < g.k; ++r, a += tn_panel, b += tn_strip) {
    if (r < next.count)
      _mm_prefetch(reinterpret_cast<const char*>(next.from + 16 * r), _MM_HINT_T0);
    __m512 bv[vectors];
#pragma GCC unroll 8
    for (int v = 0; v < vectors; ++v) bv[v] = _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 8
    for (int i = 0; i < rows; ++i) {
      const __m512 av = _mm512_set1_ps(a[i]);
#pragma GCC unroll 8
      for (int v = 0; v < vectors; ++v) sum[i][v] = _mm512_fmadd_ps(av, bv[v], sum[i][v]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < rows; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < vectors; ++v) {
      float* to = c + i * ldc + 16 * v;
      const __m512 x =
          add ? _mm512_add_ps(_mm512_maskz_loadu_ps(mask(v), to), sum[i][v]) : sum[i][v];
      _mm512_mask_storeu_ps(to, mask(v), x);
    }
}

using tile_fn = void (*)(const tn_segment&, std::size_t, std::size_t, bool, float*, std::size_t,
                         __mmask16, const lines&) noexcept;

// tiles[r - 1][v - 1]: the tile of r rows and v vectors, for C's bottom and right edges.
template <int rows, int... v>
constexpr std::array<tile_fn, sizeof...(v)> tiles_of(std::integer_sequence<int, v...>) {
  return {&tile<rows, v + 1>...};
}
template <int... r>
constexpr auto tiles_table(std::integer_sequence<int, r...>) {
  return std::array<std::array<tile_fn, tile_vectors>, tn_panel>{
      tiles_of<r + 1>(std::make_integer_sequence<int, tile_vectors>{})...};
}
constexpr auto tiles = tiles_table(std::make_integer_sequence<int, int{tn_panel}>{});

}  // namespace

void tn_segments_avx512(std::size_t m, std::size_t n, std::span<const tn_segment> segs, bool add,
                        float* c, std::size_t ldc) noexcept {
  // Segment by segment over the whole of C (a block of the caller's, kept in L2): each strip of
  // the segment's X (k x 64) stays in L1 while C's panels of 6 rows pass.
  const std::size_t panels = (m + tn_panel - 1) / tn_panel, strips = (n + tn_strip - 1) / tn_strip;
  for (std::size_t s = 0; s < segs.size(); ++s) {
    // The tiles of this segment ask for the next one's operands, its dZ panels and then its X
    // strips, a few lines each: where the next segment's first tiles would have waited for them.
    lines next;
    std::size_t a_lines = 0, total = 0, per = 0;
    if (s + 1 < segs.size()) {
      a_lines = panels * tn_panel * segs[s + 1].k / 16;
      total = a_lines + strips * tn_strip * segs[s + 1].k / 16;
      per = std::min(segs[s].k, (total + panels * strips - 1) / (panels * strips));
    }
    std::size_t at = 0;  // lines asked for so far
    for (std::size_t j = 0; j < n; j += tn_strip) {
      const std::size_t cols = std::min(tn_strip, n - j), vectors = (cols + 15) / 16;
      const __mmask16 last =
          cols % 16 == 0 ? __mmask16{0xffff} : static_cast<__mmask16>((1u << (cols % 16)) - 1);
      for (std::size_t i = 0; i < m; i += tn_panel) {
        const std::size_t rows = std::min(tn_panel, m - i);
        next.count = std::min(per, total - at);
        if (next.count > 0) {
          if (at < a_lines) next.count = std::min(next.count, a_lines - at);
          next.from = at < a_lines ? segs[s + 1].a + 16 * at : segs[s + 1].b + 16 * (at - a_lines);
          at += next.count;
        }
        tiles[rows - 1][vectors - 1](segs[s], i, j, add || s > 0, c + i * ldc + j, ldc, last, next);
      }
    }
  }
}

}  // namespace tmlp::blas::detail
