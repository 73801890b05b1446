// Embedding lookup in front of the first layer: an input column holding a category index
// selects a learned row of its table; the first layer reads the plain columns, then the rows.
#pragma once

#include <cstddef>
#include <vector>

namespace tmlp::core {

// An embedding table: rows of dim values at offset in the parameter vector.
struct embedding_table {
  std::size_t column = 0, cardinality = 0, dim = 0, offset = 0;
  // The table row an input value selects (model.hpp: out of range or NaN -> the last row).
  std::size_t row_of(float v) const noexcept {
    return v >= 0.0f && v < static_cast<float>(cardinality) ? static_cast<std::size_t>(v)
                                                            : cardinality - 1;
  }
};

// What the first layer reads: of each input row (n_inputs values), the plain columns as they
// are, then each table's row (width values in all).
struct embedding_layout {
  std::size_t n_inputs = 0, width = 0;
  std::vector<std::size_t> plain_columns;
  std::vector<embedding_table> tables;
};

// x: rows x n_inputs; out: rows x width.
void embedding_forward(const embedding_layout& e, const float* params, std::size_t rows,
                       const float* x, float* out) noexcept;

// The backward pass leaves dL/d(out) in the workspace (network::embedded_grad); the gradient
// engine adds each row's share to the table rows used, sparsely (train/gradient_engine.cpp).

}  // namespace tmlp::core
