// --precision bf16 on bf16 GEMM kernels (blas::bgemm): the operands of a linear layer's three
// products as those kernels read them, bfloat16 (rounded to nearest even by k.to_bf16) in the
// layouts below, and the weights' copies, made once per step and shared by every shard.
//
// blas::bgemm multiplies a row-major left operand by a right operand given as pairs of rows
// (element [i][j] at (i / 2) * 2 ld + 2j + i % 2), with an even inner dimension. For a layer
// with weights W (n_out x n_in), input X and output gradient dZ (rows x ...):
//   forward         Z  += X·Wᵀ     left: X, rows of bf16_ld(even(n_in))    right: Wᵀ as pairs
//   input gradient  dX  = dZ·W     left: dZ, rows of bf16_ld(even(n_out))  right: W as pairs
//   weight gradient dW += dZᵀ·X    left: dZᵀ, rows of even(rows)           right: X as pairs
// with pairs of rows of bf16_ld(n) pairs for n columns. An odd inner dimension gets a zero
// column (left) and a zero row (right), which add nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "blas/blas.hpp"
#include "core/aligned.hpp"
#include "kernels.hpp"

namespace tmlp::core {

struct network;
using bf16 = std::uint16_t;

constexpr std::size_t even(std::size_t n) noexcept { return n + (n & 1); }

// The row stride of the layouts above for rows of n values (or n pairs): blas::padded_stride,
// n + 16 where n is a multiple of 1024. The kernels read an operand a row at a time down its
// columns; rows 2 or 4 KB apart would all fall into the same few cache sets.
constexpr std::size_t bf16_ld(std::size_t n) noexcept { return blas::padded_stride(n); }

// y (rows x ld, ld >= cols) = x (rows x cols, row stride cols); columns cols..ld are zero.
void bf16_rows(const kernels::kernel_table& k, std::size_t rows, std::size_t cols, const float* x,
               bf16* y, std::size_t ld) noexcept;
// y = x (rows x cols) as pairs of rows of ld >= cols pairs: even(rows) x cols, the last row
// zero when rows is odd (pairs cols..ld are left as they are).
void bf16_row_pairs(const kernels::kernel_table& k, std::size_t rows, std::size_t cols,
                    const float* x, bf16* y, std::size_t ld) noexcept;
// y = xᵀ (cols x rows) as pairs of rows of ld >= rows pairs: even(cols) x rows, the last row
// zero when cols is odd (pairs rows..ld are left as they are).
void bf16_column_pairs(const kernels::kernel_table& k, std::size_t rows, std::size_t cols,
                       const float* x, bf16* y, std::size_t ld) noexcept;
// y (cols x ld, ld even and >= rows) = xᵀ; columns rows..ld are zero.
void bf16_transposed(const kernels::kernel_table& k, std::size_t rows, std::size_t cols,
                     const float* x, bf16* y, std::size_t ld) noexcept;

// The linear layers' weight matrices as the bf16 products read them.
class bf16_weights {
 public:
  explicit bf16_weights(const network& net);
  // Converts every matrix from params, in parallel in the caller's arena.
  void prepare(const kernels::kernel_table& k, const float* params) noexcept;
  // The layer whose W is at w_offset: Wᵀ as pairs (forward) and W as pairs (input gradient),
  // pairs of rows of bf16_ld(n_out) and bf16_ld(n_in) pairs.
  const bf16* forward(std::size_t w_offset) const noexcept {
    return data_.data() + at(w_offset).forward;
  }
  const bf16* backward(std::size_t w_offset) const noexcept {
    return data_.data() + at(w_offset).backward;
  }

 private:
  struct matrix {
    std::size_t w_offset, n_out, n_in;
    std::size_t forward, backward;  // where its two copies start in data_
  };
  aligned_vector<bf16> data_;
  std::vector<matrix> matrices_;
  const matrix& at(std::size_t w_offset) const noexcept;
};

// One shard's room for the converted operands of one product: two buffers of even(max_rows)
// rows of even(max_width) + 16 values (bf16_ld's longest rows).
struct bf16_scratch {
  aligned_vector<bf16> left, right;
  bf16_scratch(std::size_t max_rows, std::size_t max_width)
      : left(even(max_rows) * (even(max_width) + 16)), right(left.size()) {}
};

}  // namespace tmlp::core
