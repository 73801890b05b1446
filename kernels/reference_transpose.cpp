// Scalar reference of the matrix transpose (transpose.hpp): the oracle of the vector kernels
// and the "scalar" architecture.
#include "reference.hpp"

namespace tmlp::kernels {
namespace {

void transpose(std::size_t rows, std::size_t cols, const float* x, std::size_t ldx, float* y,
               std::size_t ldy) noexcept {
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) y[c * ldy + r] = x[r * ldx + c];
}

}  // namespace

void fill_reference_transpose_kernels(kernel_table& t) noexcept { t.transpose = &transpose; }

}  // namespace tmlp::kernels
