#include "core/bf16_operands.hpp"

#include <algorithm>
#include <cstring>

#include "core/assert.hpp"
#include "core/network.hpp"
#include "core/parallel.hpp"

namespace tmlp::core {
void bf16_rows(const kernels::kernel_table& k, std::size_t rows, std::size_t cols, const float* x,
               bf16* y, std::size_t ld) noexcept {
  for (std::size_t r = 0; r < rows; ++r) {
    k.to_bf16(cols, x + r * cols, y + r * ld);
    std::fill(y + r * ld + cols, y + (r + 1) * ld, bf16{0});
  }
}

void bf16_row_pairs(const kernels::kernel_table& k, std::size_t rows, std::size_t cols,
                    const float* x, bf16* y, std::size_t ld) noexcept {
  for (std::size_t r = 0; r < rows; r += 2)
    k.to_bf16_pairs(cols, x + r * cols, r + 1 < rows ? x + (r + 1) * cols : nullptr, y + r * ld);
}

// The two layouts below are transposes of 32-bit pairs: each converts a tile of x into pairs on
// the stack, then moves the pairs with the transpose kernel, as floats (bit patterns it copies
// exactly, whatever they are).
namespace {

constexpr std::size_t tile_pairs = 16;

float* words(bf16* p) noexcept { return reinterpret_cast<float*>(p); }

// bf16_column_pairs of rows [r_begin, r_end) of x (rows x cols); r_begin a multiple of 16.
void column_pairs(const kernels::kernel_table& k, std::size_t r_begin, std::size_t r_end,
                  std::size_t cols, const float* x, bf16* y, std::size_t ld) noexcept {
  // Row r's columns 2p and 2p + 1, adjacent once converted, are the pair at (p, r).
  constexpr std::size_t chunk = 256;  // columns, even: pairs stay whole
  alignas(64) bf16 t[tile_pairs][chunk];
  for (std::size_t r0 = r_begin; r0 < r_end; r0 += tile_pairs) {
    const std::size_t nr = std::min(tile_pairs, r_end - r0);
    for (std::size_t c0 = 0; c0 < cols; c0 += chunk) {
      const std::size_t nc = std::min(chunk, cols - c0);
      for (std::size_t i = 0; i < nr; ++i) {
        k.to_bf16(nc, x + (r0 + i) * cols + c0, t[i]);
        if (nc % 2 != 0) t[i][nc] = 0;
      }
      k.transpose(nr, (nc + 1) / 2, words(t[0]), chunk / 2, words(y) + c0 / 2 * ld + r0, ld);
    }
  }
}

}  // namespace

void bf16_column_pairs(const kernels::kernel_table& k, std::size_t rows, std::size_t cols,
                       const float* x, bf16* y, std::size_t ld) noexcept {
  column_pairs(k, 0, rows, cols, x, y, ld);
}

void bf16_transposed(const kernels::kernel_table& k, std::size_t rows, std::size_t cols,
                     const float* x, bf16* y, std::size_t ld) noexcept {
  // Rows r and r + 1 of column c, converted as a pair of rows, are y[c][r], y[c][r + 1].
  constexpr std::size_t chunk = 64;  // columns
  alignas(64) bf16 t[tile_pairs][2 * chunk];
  for (std::size_t r0 = 0; r0 < rows; r0 += 2 * tile_pairs) {
    const std::size_t np = std::min(tile_pairs, (rows - r0 + 1) / 2);
    for (std::size_t c0 = 0; c0 < cols; c0 += chunk) {
      const std::size_t nc = std::min(chunk, cols - c0);
      for (std::size_t i = 0; i < np; ++i) {
        const std::size_t r = r0 + 2 * i;
        k.to_bf16_pairs(nc, x + r * cols + c0, r + 1 < rows ? x + (r + 1) * cols + c0 : nullptr,
                        t[i]);
      }
      k.transpose(np, nc, words(t[0]), chunk, words(y) + c0 * (ld / 2) + r0 / 2, ld / 2);
    }
  }
  for (std::size_t c = 0; c < cols; ++c)
    std::fill(y + c * ld + even(rows), y + (c + 1) * ld, bf16{0});
}

bf16_weights::bf16_weights(const network& net) {
  std::size_t at = 0;
  for (const dense_layer& l : net.layers) {
    // Each copy on a new cache line.
    const std::size_t forward = line_multiple<bf16>(even(l.n_in) * bf16_ld(l.n_out));
    matrices_.push_back({l.w_offset, l.n_out, l.n_in, at, at + forward});
    at += forward + line_multiple<bf16>(even(l.n_out) * bf16_ld(l.n_in));
  }
  data_.resize(at);
}

void bf16_weights::prepare(const kernels::kernel_table& k, const float* params) noexcept {
  // Tasks: each matrix's two copies, in blocks of rows (a wide layer's are most of the work).
  constexpr std::size_t block = 64;  // rows: even, and a multiple of the tiles' 16
  std::size_t n_tasks = 0;
  for (const matrix& m : matrices_) n_tasks += 2 * ((m.n_out + block - 1) / block);
  parallel_for_index(n_tasks, [&](std::size_t t) {
    std::size_t i = 0;
    for (; t >= 2 * ((matrices_[i].n_out + block - 1) / block); ++i)
      t -= 2 * ((matrices_[i].n_out + block - 1) / block);
    const matrix& m = matrices_[i];
    const std::size_t r0 = t / 2 * block, r1 = std::min(m.n_out, r0 + block);
    const float* w = params + m.w_offset;
    if (t % 2 == 0)  // Wᵀ as pairs: rows r0..r1 of W are columns r0..r1 of it
      column_pairs(k, r0, r1, m.n_in, w, data_.data() + m.forward, bf16_ld(m.n_out));
    else  // W as pairs
      bf16_row_pairs(k, r1 - r0, m.n_in, w + r0 * m.n_in,
                     data_.data() + m.backward + r0 * bf16_ld(m.n_in), bf16_ld(m.n_in));
  });
}

const bf16_weights::matrix& bf16_weights::at(std::size_t w_offset) const noexcept {
  // A few layers: a scan.
  for (const matrix& m : matrices_)
    if (m.w_offset == w_offset) return m;
  TMLP_ASSERT(false && "bf16_weights: no layer has its weights there");
  return matrices_.front();
}

}  // namespace tmlp::core
