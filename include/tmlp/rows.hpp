// Training rows that need not sit in one matrix: the trainer asks a row_source for the rows of
// each shard by index, so data can be gathered (and transformed) from a memory-mapped file.
//
//     tmlp::matrix_rows x(features.view());          // rows of an in-memory matrix
//     trainer.fit(m, x, targets.view());             // the same as fit(m, features, targets)
//
//     tmlp::row_subset train(x, train_rows);         // some rows of a source
//     class my_rows : public tmlp::row_source { ... };  // any other storage
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "tmlp/matrix.hpp"

namespace tmlp {

// A read-only set of rows() feature rows of cols() floats each.
class row_source {
 public:
  virtual ~row_source() = default;

  virtual std::size_t rows() const noexcept = 0;
  virtual std::size_t cols() const noexcept = 0;

  // Writes rows idx[0..n) (each < rows()) to out, n x cols() floats, row-major. Called from
  // several threads at once, each with its own out; must be safe for that, must not throw, and
  // must give every row the same values on every call. The trainer assumes finite values: a
  // source that gives NaN or infinity makes training report fit_status::diverged.
  virtual void gather(const std::uint32_t* idx, std::size_t n, float* out) const noexcept = 0;
};

// The rows of a dense in-memory matrix (the caller keeps the storage alive).
class matrix_rows final : public row_source {
 public:
  explicit matrix_rows(matrix_view m) noexcept : m_(m) {}

  std::size_t rows() const noexcept override { return m_.rows; }
  std::size_t cols() const noexcept override { return m_.cols; }
  void gather(const std::uint32_t* idx, std::size_t n, float* out) const noexcept override {
    for (std::size_t i = 0; i < n; ++i)
      std::memcpy(out + i * m_.cols, m_.row(idx[i]), m_.cols * sizeof(float));
  }
  matrix_view view() const noexcept { return m_; }

 private:
  matrix_view m_;
};

// Some rows of another source, in a given order: row i is base row rows[i] (e.g. the training
// part of a split). Keeps a reference to base, which must outlive it.
class row_subset final : public row_source {
 public:
  row_subset(const row_source& base, std::vector<std::uint32_t> rows)
      : base_(&base), rows_(std::move(rows)) {}

  std::size_t rows() const noexcept override { return rows_.size(); }
  std::size_t cols() const noexcept override { return base_->cols(); }
  void gather(const std::uint32_t* idx, std::size_t n, float* out) const noexcept override {
    constexpr std::size_t chunk = 256;
    std::uint32_t mapped[chunk];
    for (std::size_t i0 = 0; i0 < n; i0 += chunk) {
      const std::size_t m = n - i0 < chunk ? n - i0 : chunk;
      for (std::size_t i = 0; i < m; ++i) mapped[i] = rows_[idx[i0 + i]];
      base_->gather(mapped, m, out + i0 * base_->cols());
    }
  }

 private:
  const row_source* base_;
  std::vector<std::uint32_t> rows_;
};

}  // namespace tmlp
