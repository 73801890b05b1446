// Dense layer with its activation: forward and backward over a block of rows.
// Parameters and gradients live in flat buffers; a layer is a set of offsets into them.
#pragma once

#include <cstddef>

#include "kernels.hpp"

namespace tmlp::core {

inline constexpr std::size_t no_offset = static_cast<std::size_t>(-1);

// One dense layer: Z = X·Wᵀ + b, A = f(Z).
// W is n_out x n_in (row j holds unit j's weights), b is n_out, slope is n_out (prelu only).
struct dense_layer {
  std::size_t n_in = 0;
  std::size_t n_out = 0;
  kernels::act act = kernels::act::identity;
  float alpha = 0.0f;        // leaky_relu slope, elu alpha
  float dropout = 0.0f;      // probability of dropping an output while training (network.hpp)
  std::size_t w_offset = 0;  // into the flat parameter (and gradient) vector
  std::size_t b_offset = 0;
  std::size_t slope_offset = no_offset;  // prelu slopes, else no_offset
  std::size_t norm_offset = no_offset;   // layer norm: gain (n_out), then shift (n_out)
  bool residual = false;                 // output = f(X) + X (network.cpp adds the skip)
  std::size_t proj_offset = no_offset;   // residual with n_in != n_out: P, n_out x n_in
};

inline constexpr float layer_norm_eps = 1e-5f;

// What a layer-normalized layer keeps for its backward pass (rows of n_out, or of 1 for rstd).
struct norm_buffers {
  float* x_hat = nullptr;  // (Z - mean) * rstd
  float* rstd = nullptr;   // 1 / sqrt(var + eps), one per row
  float* out = nullptr;    // gain * x_hat + shift: the activation's input
};

// x: rows x n_in. z, a: rows x n_out, out. a may equal z only for the identity activation
// without layer norm. norm: the layer's buffers if it has layer norm, else nullptr.
void dense_forward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                   std::size_t rows, const float* x, float* z, float* a,
                   const norm_buffers* norm = nullptr) noexcept;

// d_a: rows x n_out, in: dL/dA; overwritten with dL/dZ. x: rows x n_in, the layer's input.
// z, a: the forward's outputs. Writes (not accumulates) dW, db and d_slope into grads at the
// layer's offsets. d_x: rows x n_in, out: dL/dX (added to what it holds if accumulate_dx), or
// nullptr to skip (first layer).
void dense_backward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                    std::size_t rows, const float* x, const float* z, const float* a, float* d_a,
                    float* grads, float* d_x, const norm_buffers* norm = nullptr,
                    bool accumulate_dx = false) noexcept;

}  // namespace tmlp::core
