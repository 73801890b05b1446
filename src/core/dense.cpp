#include "core/dense.hpp"

#include <algorithm>

#include "blas.hpp"

namespace tmlp::core {

void dense_forward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                   std::size_t rows, const float* x, float* z, float* a) noexcept {
  const float* w = params + l.w_offset;
  // Z = X·Wᵀ: (rows x n_in)·(n_in x n_out)
  blas::sgemm(false, true, rows, l.n_out, l.n_in, 1.0f, x, l.n_in, w, l.n_in, 0.0f, z, l.n_out);
  const kernels::act_param p{l.alpha,
                             l.slope_offset == no_offset ? nullptr : params + l.slope_offset};
  k.bias_act_forward[static_cast<int>(l.act)](rows, l.n_out, params + l.b_offset, p, z, a);
}

void dense_backward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                    std::size_t rows, const float* x, const float* z, const float* a, float* d_a,
                    float* grads, float* d_x) noexcept {
  const float* w = params + l.w_offset;
  float* d_slope = nullptr;
  if (l.slope_offset != no_offset) {
    d_slope = grads + l.slope_offset;
    std::fill(d_slope, d_slope + l.n_out, 0.0f);
  }
  if (l.act != kernels::act::identity) {
    const kernels::act_param p{l.alpha,
                               l.slope_offset == no_offset ? nullptr : params + l.slope_offset};
    k.act_backward[static_cast<int>(l.act)](rows, l.n_out, z, a, d_a, p, d_a, d_slope);
  }
  const float* d_z = d_a;
  // dW = dZᵀ·X: (n_out x rows)·(rows x n_in)
  blas::sgemm(true, false, l.n_out, l.n_in, rows, 1.0f, d_z, l.n_out, x, l.n_in, 0.0f,
              grads + l.w_offset, l.n_in);
  // db = column sums of dZ
  k.col_sums(rows, l.n_out, d_z, grads + l.b_offset);
  // dX = dZ·W: (rows x n_out)·(n_out x n_in)
  if (d_x != nullptr)
    blas::sgemm(false, false, rows, l.n_in, l.n_out, 1.0f, d_z, l.n_out, w, l.n_in, 0.0f, d_x,
                l.n_in);
}

}  // namespace tmlp::core
