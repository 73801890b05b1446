// Embedding lookup in front of the first layer: an input column holding a category index
// selects a learned row of its table; the first layer reads the plain columns, then the rows,
// then the periodic embeddings' values (appended to each input row by the op before).
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

// What the first layer reads: of each input row (n_inputs values, then n_appended more), the
// plain columns as they are, then each table's row, then the n_appended values (width values
// in all).
struct embedding_layout {
  std::size_t n_inputs = 0, width = 0;
  std::vector<std::size_t> plain_columns;
  std::vector<embedding_table> tables;
  std::size_t n_appended = 0;
};

// x: rows x (n_inputs + n_appended); out: rows x width.
void embedding_forward(const embedding_layout& e, const float* params, std::size_t rows,
                       const float* x, float* out) noexcept;

// d_out: rows x width; d_x: rows x (n_inputs + n_appended), dL/dx: the plain columns' and the
// appended values' gradients where they came from, 0 for the other columns (the index columns,
// and the columns that the appended values replace).
void embedding_backward(const embedding_layout& e, std::size_t rows, const float* d_out,
                        float* d_x) noexcept;

// The backward pass leaves dL/d(out) in the workspace (network::embedded_grad); the gradient
// engine adds each row's share to the table rows used, sparsely (train/gradient_engine.cpp).

}  // namespace tmlp::core
