// The affine map of a dense layer: Z = X·Wᵀ + b.
#pragma once

#include <cstddef>

#include "core/layer.hpp"

namespace tmlp::core {

// x: rows x n_in; z: rows x n_out, out. The bias is written into Z first and the GEMM adds
// X·Wᵀ to it (beta 1), which spares OpenBLAS its pass zeroing Z.
void linear_forward(const dense_layer& l, const float* params, std::size_t rows, const float* x,
                    float* z) noexcept;

// d_z: rows x n_out, dL/dZ. Adds dW = dZᵀ·X to grads at the layer's W (which the caller keeps
// zeroed between passes), writes db = column sums of dZ, and dX = dZ·W into d_x (rows x n_in;
// added to what it holds if accumulate_dx, skipped if d_x is nullptr).
void linear_backward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                     std::size_t rows, const float* x, const float* d_z, float* grads, float* d_x,
                     bool accumulate_dx) noexcept;

}  // namespace tmlp::core
