// Periodic embeddings of numeric input columns (model_spec::periodic_embeddings, "PLR"): per
// column x, v = [sin(2 pi c x), cos(2 pi c x)] over its k frequencies c, then relu(W v + b).
#pragma once

#include <cstddef>
#include <vector>

namespace tmlp::core {

// One embedded column: c (k values) at offset, then W (dim x 2k, row-major), then b (dim).
struct periodic_table {
  std::size_t column = 0, n_frequencies = 0, dim = 0, offset = 0;
  std::size_t w_offset() const noexcept { return offset + n_frequencies; }
  std::size_t b_offset() const noexcept { return offset + n_frequencies + 2 * n_frequencies * dim; }
  std::size_t n_params() const noexcept { return n_frequencies + (2 * n_frequencies + 1) * dim; }
};

// The op's output row: the n_inputs input values as they are, then each table's dim values
// (width() in all); the embedding op in front of the first layer picks from it.
struct periodic_layout {
  std::size_t n_inputs = 0;
  std::vector<periodic_table> tables;
  std::size_t n_values() const noexcept;  // sum of dim
  std::size_t n_sincos() const noexcept;  // sum of 2k
  std::size_t width() const noexcept { return n_inputs + n_values(); }
};

// 2 pi as the float that multiplies each frequency: z = (two_pi * c) * x.
inline constexpr float two_pi = 6.28318530717958647692f;

// x: rows x n_inputs; out: rows x width(); v: rows x n_sincos() floats of scratch that keeps
// the sines and cosines for the backward pass (table t's block of rows x 2k at
// rows x (2k of the tables before t)).
void periodic_forward(const periodic_layout& e, const float* params, std::size_t rows,
                      const float* x, float* v, float* out) noexcept;

// d_out: rows x width(), dL/d(out) (overwritten: the ReLU's mask applied); x, v, out: as forward
// left them; d_v: rows x max 2k floats of scratch. Writes each table's gradient (c, W, b) into
// grads at its offsets; with d_x (rows x n_inputs), dL/dx: the first n_inputs values of each
// row of d_out, plus each embedded column's share through its frequencies. Sums over rows run
// in row order (the frequencies' in double).
void periodic_backward(const periodic_layout& e, const float* params, std::size_t rows,
                       const float* x, const float* v, const float* out, float* d_out, float* d_v,
                       float* grads, float* d_x) noexcept;

}  // namespace tmlp::core
