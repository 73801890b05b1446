// A residual layer's skip: output = branch + X, through a learned projection X·Pᵀ where the
// widths differ (P: n_out x n_in).
#pragma once

#include <cstddef>

#include "core/layer.hpp"
#include "kernels.hpp"

namespace tmlp::core {

// x: rows x n_in, the layer's input; branch, sum: rows x n_out. transposed: the copy with Pᵀ
// at the layer's t_proj_offset (pass::transposed), or nullptr. dots (pass::dot_products): a
// large P (core::dot_product_matrix) multiplies 2 to dot_rows_max rows by dot products instead,
// as linear_forward (on one thread); nullptr: the GEMM.
void residual_forward(const dense_layer& l, const float* params, std::size_t rows, const float* x,
                      const float* branch, float* sum, const float* transposed = nullptr,
                      const kernels::kernel_table* dots = nullptr) noexcept;

// The skip's share of the backward pass, from d = dL/dsum (rows x n_out, not changed: it is
// also the branch's gradient): adds dP = dᵀ·x to grads (kept zeroed between passes by the
// caller), and sets d_x (rows x n_in, if not nullptr) to d or d·P, which the layer's linear
// backward then adds its share to.
void residual_backward(const dense_layer& l, const float* params, std::size_t rows, const float* x,
                       const float* d, float* grads, float* d_x) noexcept;

}  // namespace tmlp::core
