#include "core/dense.hpp"

#include <algorithm>
#include <cmath>

#include "blas.hpp"

namespace tmlp::core {

namespace {

// Row-wise layer norm of z (rows x n) into norm->x_hat, norm->rstd and norm->out.
void layer_norm_forward(std::size_t rows, std::size_t n, const float* z, const float* gain,
                        const float* shift, const norm_buffers& norm) noexcept {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* zr = z + r * n;
    double mean = 0.0;
    for (std::size_t j = 0; j < n; ++j) mean += zr[j];
    mean /= static_cast<double>(n);
    double var = 0.0;
    for (std::size_t j = 0; j < n; ++j) var += (zr[j] - mean) * (zr[j] - mean);
    var /= static_cast<double>(n);
    const auto rstd = static_cast<float>(1.0 / std::sqrt(var + layer_norm_eps));
    const auto m = static_cast<float>(mean);
    float* xh = norm.x_hat + r * n;
    float* o = norm.out + r * n;
    for (std::size_t j = 0; j < n; ++j) {
      xh[j] = (zr[j] - m) * rstd;
      o[j] = gain[j] * xh[j] + shift[j];
    }
    norm.rstd[r] = rstd;
  }
}

// d (rows x n): in dL/d(out), out dL/dZ. Writes the gain and shift gradients.
void layer_norm_backward(std::size_t rows, std::size_t n, const float* gain,
                         const norm_buffers& norm, float* d, float* d_gain,
                         float* d_shift) noexcept {
  std::fill(d_gain, d_gain + n, 0.0f);
  std::fill(d_shift, d_shift + n, 0.0f);
  for (std::size_t r = 0; r < rows; ++r) {
    float* dr = d + r * n;
    const float* xh = norm.x_hat + r * n;
    double mean_g = 0.0, mean_gx = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
      d_gain[j] += dr[j] * xh[j];
      d_shift[j] += dr[j];
      const double g = static_cast<double>(dr[j]) * gain[j];
      mean_g += g;
      mean_gx += g * xh[j];
    }
    mean_g /= static_cast<double>(n);
    mean_gx /= static_cast<double>(n);
    const float rstd = norm.rstd[r];
    for (std::size_t j = 0; j < n; ++j) {
      const double g = static_cast<double>(dr[j]) * gain[j];
      dr[j] = static_cast<float>(rstd * (g - mean_g - xh[j] * mean_gx));
    }
  }
}

}  // namespace

void dense_forward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                   std::size_t rows, const float* x, float* z, float* a,
                   const norm_buffers* norm) noexcept {
  const float* w = params + l.w_offset;
  // Z = X·Wᵀ: (rows x n_in)·(n_in x n_out)
  blas::sgemm(false, true, rows, l.n_out, l.n_in, 1.0f, x, l.n_in, w, l.n_in, 0.0f, z, l.n_out);
  const kernels::act_param p{l.alpha,
                             l.slope_offset == no_offset ? nullptr : params + l.slope_offset};
  if (norm == nullptr) {
    k.bias_act_forward[static_cast<int>(l.act)](rows, l.n_out, params + l.b_offset, p, z, a);
    return;
  }
  // Z += b, normalized into norm->out, which the activation reads.
  const int identity = static_cast<int>(kernels::act::identity);
  k.bias_act_forward[identity](rows, l.n_out, params + l.b_offset, {}, z, z);
  const float* gain = params + l.norm_offset;
  layer_norm_forward(rows, l.n_out, z, gain, gain + l.n_out, *norm);
  k.bias_act_forward[static_cast<int>(l.act)](rows, l.n_out, nullptr, p, norm->out, a);
}

void dense_backward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                    std::size_t rows, const float* x, const float* z, const float* a, float* d_a,
                    float* grads, float* d_x, const norm_buffers* norm,
                    bool accumulate_dx) noexcept {
  const float* w = params + l.w_offset;
  float* d_slope = nullptr;
  if (l.slope_offset != no_offset) {
    d_slope = grads + l.slope_offset;
    std::fill(d_slope, d_slope + l.n_out, 0.0f);
  }
  if (l.act != kernels::act::identity) {
    const kernels::act_param p{l.alpha,
                               l.slope_offset == no_offset ? nullptr : params + l.slope_offset};
    // With layer norm the activation's input is norm->out, not Z.
    k.act_backward[static_cast<int>(l.act)](rows, l.n_out, norm ? norm->out : z, a, d_a, p, d_a,
                                            d_slope);
  }
  if (norm != nullptr) {
    float* d_gain = grads + l.norm_offset;
    layer_norm_backward(rows, l.n_out, params + l.norm_offset, *norm, d_a, d_gain,
                        d_gain + l.n_out);
  }
  const float* d_z = d_a;
  // dW = dZᵀ·X: (n_out x rows)·(rows x n_in)
  blas::sgemm(true, false, l.n_out, l.n_in, rows, 1.0f, d_z, l.n_out, x, l.n_in, 0.0f,
              grads + l.w_offset, l.n_in);
  // db = column sums of dZ
  k.col_sums(rows, l.n_out, d_z, grads + l.b_offset);
  // dX = dZ·W: (rows x n_out)·(n_out x n_in)
  if (d_x != nullptr)
    blas::sgemm(false, false, rows, l.n_in, l.n_out, 1.0f, d_z, l.n_out, w, l.n_in,
                accumulate_dx ? 1.0f : 0.0f, d_x, l.n_in);
}

}  // namespace tmlp::core
