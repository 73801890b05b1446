// Row-major float32 matrices.
//
//     tmlp::matrix x(1000, 28);              // owning, zero-filled, 64-byte aligned rows start
//     x(3, 5) = 1.0f;
//     tmlp::matrix_view v = x.view();        // const, non-owning
//     tmlp::matrix_span s = x.span();        // mutable, non-owning
//     tmlp::matrix_view w(ptr, rows, cols);  // wraps the caller's memory (rows x cols, dense)
//
// Views and spans never own memory: the caller keeps the storage alive while they are used.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

namespace tmlp {

// Const, non-owning view of a dense row-major rows x cols block of floats.
struct matrix_view {
  const float* data = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;

  matrix_view() = default;
  matrix_view(const float* d, std::size_t r, std::size_t c) noexcept : data(d), rows(r), cols(c) {}

  std::size_t size() const noexcept { return rows * cols; }
  const float* row(std::size_t r) const noexcept { return data + r * cols; }
  float operator()(std::size_t r, std::size_t c) const noexcept { return data[r * cols + c]; }
};

// Mutable, non-owning span of a dense row-major rows x cols block of floats.
struct matrix_span {
  float* data = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;

  matrix_span() = default;
  matrix_span(float* d, std::size_t r, std::size_t c) noexcept : data(d), rows(r), cols(c) {}

  std::size_t size() const noexcept { return rows * cols; }
  float* row(std::size_t r) const noexcept { return data + r * cols; }
  float& operator()(std::size_t r, std::size_t c) const noexcept { return data[r * cols + c]; }
  operator matrix_view() const noexcept { return {data, rows, cols}; }
};

// Owning row-major matrix; storage is 64-byte aligned and zero-initialized.
class matrix {
 public:
  static constexpr std::size_t alignment = 64;

  matrix() = default;
  matrix(std::size_t rows, std::size_t cols) : rows_(rows), cols_(cols) {
    if (rows * cols != 0) {
      data_.reset(static_cast<float*>(
          ::operator new[](rows* cols * sizeof(float), std::align_val_t{alignment})));
      for (std::size_t i = 0; i < rows * cols; ++i) data_[i] = 0.0f;
    }
  }
  matrix(const matrix& o) : matrix(o.rows_, o.cols_) {
    for (std::size_t i = 0; i < size(); ++i) data_[i] = o.data_[i];
  }
  matrix& operator=(const matrix& o) {
    if (this != &o) *this = matrix(o);
    return *this;
  }
  matrix(matrix&&) noexcept = default;
  matrix& operator=(matrix&&) noexcept = default;

  std::size_t rows() const noexcept { return rows_; }
  std::size_t cols() const noexcept { return cols_; }
  std::size_t size() const noexcept { return rows_ * cols_; }
  float* data() noexcept { return data_.get(); }
  const float* data() const noexcept { return data_.get(); }
  float* row(std::size_t r) noexcept { return data_.get() + r * cols_; }
  const float* row(std::size_t r) const noexcept { return data_.get() + r * cols_; }
  float& operator()(std::size_t r, std::size_t c) noexcept { return data_[r * cols_ + c]; }
  float operator()(std::size_t r, std::size_t c) const noexcept { return data_[r * cols_ + c]; }

  matrix_view view() const noexcept { return {data_.get(), rows_, cols_}; }
  matrix_span span() noexcept { return {data_.get(), rows_, cols_}; }
  operator matrix_view() const noexcept { return view(); }

 private:
  struct aligned_delete {
    void operator()(float* p) const noexcept {
      ::operator delete[](p, std::align_val_t{alignment});
    }
  };
  std::unique_ptr<float[], aligned_delete> data_;
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
};

}  // namespace tmlp
