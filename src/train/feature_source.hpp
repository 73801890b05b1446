// The row sources `tmlp train` gives the trainer for a table's preprocessed features: the
// transformed rows made once and held in memory where they fit, else transformed batch by batch
// from the table (tmlp::feature_rows). The same values either way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "tmlp/matrix.hpp"
#include "tmlp/preprocess.hpp"
#include "tmlp/rows.hpp"

namespace tmlp::train {

// A table's transformed rows (preprocessor::features) held in memory: each gather copies rows.
// Transforming a batch's rows from the table instead (feature_rows) reads every column at
// scattered rows, every epoch: on A's 28 columns of 200,000 rows, about 115 µs of worker time
// per 256-row step.
class feature_matrix final : public row_source {
 public:
  explicit feature_matrix(matrix x) : x_(std::move(x)), rows_(x_.view()) {}
  feature_matrix(const feature_matrix&) = delete;  // rows_ points into x_
  feature_matrix& operator=(const feature_matrix&) = delete;

  std::size_t rows() const noexcept override { return rows_.rows(); }
  std::size_t cols() const noexcept override { return rows_.cols(); }
  void gather(const std::uint32_t* idx, std::size_t n, float* out) const noexcept override {
    rows_.gather(idx, n, out);
  }

 private:
  matrix x_;
  matrix_rows rows_;
};

// A feature_matrix of t when t is in memory (not t.mapped), its rows x features floats take at
// most max_bytes (by default a quarter of the physical memory) and the allocation succeeds;
// else a feature_rows of t, which keeps pointing into t: a memory-mapped dataset is gathered
// from the mapping, never materialized (it may be larger than memory).
std::unique_ptr<row_source> feature_source(const preprocessor& p, const table_view& t,
                                           double max_bytes = -1.0);

}  // namespace tmlp::train
