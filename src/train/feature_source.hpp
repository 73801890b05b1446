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

// A table's transformed rows held in memory, made once: each gather copies rows. Transforming a
// batch's rows from the table instead (feature_rows) reads every column at scattered rows, every
// epoch: on A's 28 columns of 200,000 rows, about 115 µs of worker time per 256-row step.
class feature_matrix final : public row_source {
 public:
  // Rows in blocks of 4096 over `threads` threads (0: every core).
  feature_matrix(const preprocessor& p, const table_view& t, int threads);

  std::size_t rows() const noexcept override { return x_.rows(); }
  std::size_t cols() const noexcept override { return x_.cols(); }
  void gather(const std::uint32_t* idx, std::size_t n, float* out) const noexcept override;

 private:
  matrix x_;
};

// A feature_matrix of t when t is in memory (not t.mapped), its rows x features floats take at
// most max_bytes (by default a quarter of the physical memory) and the allocation succeeds;
// else a feature_rows of t, which keeps pointing into t: a memory-mapped dataset is gathered
// from the mapping, never materialized (it may be larger than memory).
std::unique_ptr<row_source> feature_source(const preprocessor& p, const table_view& t, int threads,
                                           double max_bytes = -1.0);

}  // namespace tmlp::train
