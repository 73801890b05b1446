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
  // Batch norm: gain, shift, running mean, running variance (n_out each), else no_offset; and
  // where its units start in the per-batch statistics (network.hpp, batch_stats).
  std::size_t bn_offset = no_offset;
  std::size_t bn_stat = 0;
};

inline constexpr float layer_norm_eps = 1e-5f;
inline constexpr float batch_norm_eps = 1e-5f;
inline constexpr float batch_norm_momentum = 0.1f;  // running = (1 - m) running + m batch

// What a normalized layer keeps for its backward pass (rows of n_out, or of 1 for rstd).
struct norm_buffers {
  float* x_hat = nullptr;  // (Z - mean) * rstd
  float* rstd = nullptr;   // layer norm: 1 / sqrt(var + eps), one per row; batch norm: n_out
                           // floats of scratch
  float* out = nullptr;    // gain * x_hat + shift: the activation's input
};

// x: rows x n_in. z, a: rows x n_out, out. a may equal z only for the identity activation
// without layer norm. norm: the layer's buffers if it has layer norm, else nullptr.
void dense_forward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                   std::size_t rows, const float* x, float* z, float* a,
                   const norm_buffers* norm = nullptr) noexcept;

// d_a: rows x n_out, in: dL/dA; overwritten with dL/dZ. x: rows x n_in, the layer's input.
// z, a: the forward's outputs. Writes (not accumulates) dW, db and d_slope into grads at the
// layer's offsets; with add_dw, dW is added to what grads holds there (a caller that keeps the
// block zeroed spares OpenBLAS its own zeroing pass). d_x: rows x n_in, out: dL/dX (added to
// what it holds if accumulate_dx), or nullptr to skip (first layer).
void dense_backward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                    std::size_t rows, const float* x, const float* z, const float* a, float* d_a,
                    float* grads, float* d_x, const norm_buffers* norm = nullptr,
                    bool accumulate_dx = false, bool add_dw = false) noexcept;

// The parts of a layer that network.cpp runs apart for batch norm, whose statistics span every
// shard of a batch:
// Z = X·Wᵀ + b into z (rows x n_out).
void dense_linear_forward(const dense_layer& l, const float* params, std::size_t rows,
                          const float* x, float* z) noexcept;
// A = f(in) into a; in is Z or the normalized Z (not changed: no bias is added).
void dense_activate(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                    std::size_t rows, float* in, float* a) noexcept;
// d: dL/dA -> dL/d(in) through the activation (in: what dense_activate read). Writes the prelu
// slope gradient, if any.
void dense_act_backward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                        std::size_t rows, const float* in, const float* a, float* d,
                        float* grads) noexcept;
// From d_z = dL/dZ: writes dW (adds it if add_dw) and db, and dL/dX into d_x (added if
// accumulate_dx; skipped if d_x is nullptr).
void dense_linear_backward(const kernels::kernel_table& k, const dense_layer& l,
                           const float* params, std::size_t rows, const float* x, const float* d_z,
                           float* grads, float* d_x, bool accumulate_dx,
                           bool add_dw = false) noexcept;

// Batch norm over a block of rows of z (rows x n):
// moments: this block's mean and sum of squared deviations per unit (2n doubles).
void batch_norm_moments(std::size_t rows, std::size_t n, const float* z, double* moments) noexcept;
// Training: x_hat = (z - mean) * rstd and out = gain * x_hat + shift, mean and rstd the batch's.
void batch_norm_forward(std::size_t rows, std::size_t n, const float* z, const float* mean,
                        const float* rstd, const float* gain, const float* shift, float* x_hat,
                        float* out) noexcept;
// Inference: out = gain * (z - running mean) * rstd + shift, rstd = 1 / sqrt(running var + eps)
// (kept in scratch, n floats); bn: the layer's 4n values.
void batch_norm_infer(std::size_t rows, std::size_t n, const float* z, const float* bn,
                      float* scratch, float* out) noexcept;
// sums: sum over the rows of d and of d * x_hat per unit (2n doubles), d = dL/d(out).
void batch_norm_grad_sums(std::size_t rows, std::size_t n, const float* d, const float* x_hat,
                          double* sums) noexcept;
// d: dL/d(out) -> dL/dZ, from the batch means of dL/d(out) and dL/d(out) * x_hat per unit.
void batch_norm_backward(std::size_t rows, std::size_t n, const float* gain, const float* rstd,
                         const float* mean_d, const float* mean_dx, const float* x_hat,
                         float* d) noexcept;

}  // namespace tmlp::core
