// The affine map of a dense layer: Z = X·Wᵀ + b.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/layer.hpp"
#include "kernels.hpp"

namespace tmlp::core {

struct network;

// x: rows x n_in; z: rows x n_out, out. The bias is written into Z first and the GEMM adds
// X·Wᵀ to it (beta 1), which spares OpenBLAS its pass zeroing Z. With dots (inference on one
// chunk, pass::dot_products), a large layer (dot_product_matrix) computes its outputs in blocks
// of split_block units as tasks in the caller's arena: one row by matrix-vector products; up to
// dot_rows_max rows by dot products of X's rows with W's rows (kernel_table::add_xwt: W as
// stored, no copy); more rows by the GEMM on a strip of transposed's columns (or of W's rows
// without one). Blocks fixed by the layer: the same bits for any thread count. Other layers run
// the GEMM as without dots.
// (B's 1024 x 1024 layers on a Zen 5: up to about 128 rows, the dot products cost less than
// libxsmm's products with their share of the transposed copy; past that, more.)
inline constexpr std::size_t split_block = 64;
inline constexpr std::size_t split_min_weights = std::size_t{1} << 18;
inline constexpr std::size_t dot_rows_max = 128;
// Whether a predict call of one chunk multiplies by a matrix of n_out x n_in weights through
// dot products (2^18 weights or more: 1 MB, whose transposed copy would cost a small call more
// than its products; and enough work to split) rather than the GEMM backend.
constexpr bool dot_product_matrix(std::size_t n_out, std::size_t n_in) noexcept {
  return n_out * n_in >= split_min_weights;
}
// transposed: the copy with Wᵀ at the layer's t_offset (pass::transposed), or nullptr.
void linear_forward(const dense_layer& l, const float* params, std::size_t rows, const float* x,
                    float* z, const kernels::kernel_table* dots = nullptr,
                    const float* transposed = nullptr) noexcept;

// Training where the gradient engine multiplies a layer's weight gradient over every shard at
// once (train/weight_products.cpp, blas::sgemm_tn_segments): the layer's backward keeps that
// product's operands for it, packed (blas::pack_tn_a and pack_tn_b), instead of multiplying
// them. The engine sets the rooms (blas::tn_packed_a(max rows, n_out) and tn_packed_b(max rows,
// n_in) floats); the backward sets rows.
// On bf16 kernels (blas::bgemm_segments) it keeps them as bgemm reads them instead: dZᵀ in d_z16
// (n_out rows of even(max rows) values) and X as pairs of rows of bf16_ld(n_in) pairs in x16.
struct kept_operands {
  float* d_z = nullptr;  // both nullptr: the layer multiplies its weight gradient itself
  float* x = nullptr;
  std::uint16_t* d_z16 = nullptr;
  std::uint16_t* x16 = nullptr;
  std::size_t rows = 0;
};

// d_z: rows x n_out, dL/dZ. Writes db = column sums of dZ, then (round_d_z: after rounding dZ
// to bfloat16 in place) dW = dZᵀ·X into grads at the layer's W, and dX = dZ·W into d_x (rows x
// n_in; added to what it holds if accumulate_dx, skipped if d_x is nullptr), from the copy of W
// in padded (pass::padded) where the layer has one. scratch: nullptr, or room for rows x
// padded_rows_room(l) floats, where dW's operands are copied with padded rows if their rows are
// a multiple of 1024 floats apart (blas::padded_stride; and the product has no dimension of 1).
// keep: not nullptr, dW is not multiplied: its operands are kept there instead.
void linear_backward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                     std::size_t rows, const float* x, float* d_z, float* grads, float* d_x,
                     bool accumulate_dx, bool round_d_z = false, const float* padded = nullptr,
                     float* scratch = nullptr, kept_operands* keep = nullptr) noexcept;
// Whether a pass of `rows` rows on bf16 kernels (pass::bf16_w) runs layer l's forward and
// input-gradient products on them and l has no residual projection: then no op reads l's W, b
// or P in pass::bf16_params, nor its copies in pass::transposed, and a step need not make them.
// It asks blas::bgemm_may_run and blas::bgemm_runs what the linear op's bgemm calls will get.
bool bf16_kernels_cover(const dense_layer& l, std::size_t rows) noexcept;

// Floats per row linear_backward's scratch needs for layer l (0: it copies nothing there).
std::size_t padded_rows_room(const dense_layer& l) noexcept;

}  // namespace tmlp::core
