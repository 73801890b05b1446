// Scalar reference of Z += X·Wᵀ by dot products (dot_products.hpp): each sum in the order of i,
// then added to z. The oracle of the vector kernels and the "scalar" architecture.
#include "reference.hpp"

namespace tmlp::kernels {
namespace {

void add_xwt(std::size_t rows, std::size_t n, std::size_t k, const float* x, std::size_t ldx,
             const float* w, std::size_t ldw, float* z, std::size_t ldz) noexcept {
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < n; ++j) {
      float s = 0.0f;
      for (std::size_t i = 0; i < k; ++i) s += x[r * ldx + i] * w[j * ldw + i];
      z[r * ldz + j] += s;
    }
}

}  // namespace

void fill_reference_product_kernels(kernel_table& t) noexcept { t.add_xwt = &add_xwt; }

}  // namespace tmlp::kernels
