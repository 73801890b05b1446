// The learned per-feature scaling at the input (model_spec::feature_scale): x_c -> s_j x_c for
// the j-th scaled column c, every other column (a categorical embedding's index) as it is.
#pragma once

#include <cstddef>
#include <vector>

namespace tmlp::core {

// s (columns.size() values) at offset in the parameter vector; columns in increasing order.
struct feature_scale_layout {
  std::size_t n_inputs = 0, offset = 0;
  std::vector<std::size_t> columns;
};

// x, out: rows x n_inputs.
void feature_scale_forward(const feature_scale_layout& f, const float* params, std::size_t rows,
                           const float* x, float* out) noexcept;

// x: what forward read; d_out: rows x n_inputs, dL/d(out). Writes d_s (columns.size() values):
// d_s[j] = sum over rows of d_out * x at column j's place, summed in row order in double.
// dL/dx is never needed (the raw input comes first).
void feature_scale_backward(const feature_scale_layout& f, std::size_t rows, const float* x,
                            const float* d_out, float* d_s) noexcept;

}  // namespace tmlp::core
