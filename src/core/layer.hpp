// A dense layer's place in the flat parameter vector, and what it is made of. The layer
// pipeline (core/pipeline.hpp) turns each into a short list of ops; the layout, the
// initialization, batch-norm folding and the health report read these records.
#pragma once

#include <cstddef>

#include "kernels.hpp"

namespace tmlp::core {

inline constexpr std::size_t no_offset = static_cast<std::size_t>(-1);

// One dense layer: Z = X·Wᵀ + b, then layer or batch norm, A = f(.), dropout, residual.
// W is n_out x n_in (row j holds unit j's weights), b is n_out, slope is n_out (prelu only).
struct dense_layer {
  std::size_t n_in = 0;
  std::size_t n_out = 0;
  kernels::act act = kernels::act::identity;
  float alpha = 0.0f;        // leaky_relu slope, elu alpha
  float dropout = 0.0f;      // probability of dropping an output while training
  std::size_t w_offset = 0;  // into the flat parameter (and gradient) vector
  std::size_t b_offset = 0;
  std::size_t slope_offset = no_offset;  // prelu slopes, else no_offset
  std::size_t norm_offset = no_offset;   // layer norm: gain (n_out), then shift (n_out)
  bool residual = false;                 // output = f(X) + X
  std::size_t proj_offset = no_offset;   // residual with n_in != n_out: P, n_out x n_in
  // In the transposed copy of the weights (pass::transposed): Wᵀ (n_in x n_out) at t_offset,
  // Pᵀ at t_proj_offset (no_offset: none), rows t_ld floats apart
  // (blas::transposed_stride).
  std::size_t t_offset = 0, t_proj_offset = no_offset, t_ld = 0;
  // In the padded copy of the weights (pass::padded): W at pad_offset, rows pad_ld floats apart
  // (blas::padded_stride), for the input-gradient product dZ·W. Only layers after the first
  // with more than one output and n_in a multiple of 1024 have one (no_offset: none): their
  // rows, a multiple of 4 KB apart, would fall on a few cache sets.
  std::size_t pad_offset = no_offset, pad_ld = 0;
  // Batch norm: gain, shift, running mean, running variance (n_out each), else no_offset; and
  // where its units start in the per-batch statistics (core/batch_norm.hpp, batch_stats).
  std::size_t bn_offset = no_offset;
  std::size_t bn_stat = 0;
};

}  // namespace tmlp::core
