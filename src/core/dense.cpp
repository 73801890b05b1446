#include "core/dense.hpp"

#include <algorithm>
#include <cmath>

#include "blas.hpp"

namespace tmlp::core {

namespace {

// Layer norm reduces across a row. The sums below keep eight interleaved partial sums in
// double, added pairwise at the end: one fixed order, which the compiler vectorizes without
// reassociating anything (and which no SIMD width changes). Rows are restrict-qualified so the
// element loops vectorize too.
constexpr std::size_t lanes = 8;

double fold(const double (&acc)[lanes]) noexcept {
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

double row_sum(std::size_t n, const float* __restrict z) noexcept {
  double acc[lanes] = {};
  std::size_t j = 0;
  for (; j + lanes <= n; j += lanes)
    for (std::size_t q = 0; q < lanes; ++q) acc[q] += z[j + q];
  for (std::size_t q = 0; j < n; ++j, ++q) acc[q] += z[j];
  return fold(acc);
}

double row_squared_deviations(std::size_t n, const float* __restrict z, double mean) noexcept {
  double acc[lanes] = {};
  std::size_t j = 0;
  for (; j + lanes <= n; j += lanes)
    for (std::size_t q = 0; q < lanes; ++q) {
      const double dev = z[j + q] - mean;
      acc[q] += dev * dev;
    }
  for (std::size_t q = 0; j < n; ++j, ++q) acc[q] += (z[j] - mean) * (z[j] - mean);
  return fold(acc);
}

void layer_norm_row(std::size_t n, const float* __restrict z, float mean, float rstd,
                    const float* __restrict gain, const float* __restrict shift,
                    float* __restrict x_hat, float* __restrict out) noexcept {
  for (std::size_t j = 0; j < n; ++j) {
    const float xh = (z[j] - mean) * rstd;
    x_hat[j] = xh;
    out[j] = gain[j] * xh + shift[j];
  }
}

// Row-wise layer norm of z (rows x n) into norm->x_hat, norm->rstd and norm->out.
void layer_norm_forward(std::size_t rows, std::size_t n, const float* z, const float* gain,
                        const float* shift, const norm_buffers& norm) noexcept {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* zr = z + r * n;
    const double mean = row_sum(n, zr) / static_cast<double>(n);
    const double var = row_squared_deviations(n, zr, mean) / static_cast<double>(n);
    const auto rstd = static_cast<float>(1.0 / std::sqrt(var + layer_norm_eps));
    layer_norm_row(n, zr, static_cast<float>(mean), rstd, gain, shift, norm.x_hat + r * n,
                   norm.out + r * n);
    norm.rstd[r] = rstd;
  }
}

// One row of the backward pass: the gain and shift gradients gathered, then the sums of
// g = d * gain and g * x_hat, then d = rstd * (g - mean(g) - x_hat * mean(g * x_hat)).
void layer_norm_backward_row(std::size_t n, const float* __restrict gain, float rstd,
                             const float* __restrict x_hat, float* __restrict d,
                             float* __restrict d_gain, float* __restrict d_shift) noexcept {
  double acc_g[lanes] = {}, acc_gx[lanes] = {};
  for (std::size_t j = 0; j < n; ++j) {
    d_gain[j] += d[j] * x_hat[j];
    d_shift[j] += d[j];
  }
  std::size_t j = 0;
  for (; j + lanes <= n; j += lanes)
    for (std::size_t q = 0; q < lanes; ++q) {
      const double g = static_cast<double>(d[j + q]) * gain[j + q];
      acc_g[q] += g;
      acc_gx[q] += g * x_hat[j + q];
    }
  for (std::size_t q = 0; j < n; ++j, ++q) {
    const double g = static_cast<double>(d[j]) * gain[j];
    acc_g[q] += g;
    acc_gx[q] += g * x_hat[j];
  }
  const double mean_g = fold(acc_g) / static_cast<double>(n);
  const double mean_gx = fold(acc_gx) / static_cast<double>(n);
  for (std::size_t k = 0; k < n; ++k) {
    const double g = static_cast<double>(d[k]) * gain[k];
    d[k] = static_cast<float>(rstd * (g - mean_g - x_hat[k] * mean_gx));
  }
}

// d (rows x n): in dL/d(out), out dL/dZ. Writes the gain and shift gradients.
void layer_norm_backward(std::size_t rows, std::size_t n, const float* gain,
                         const norm_buffers& norm, float* d, float* d_gain,
                         float* d_shift) noexcept {
  std::fill(d_gain, d_gain + n, 0.0f);
  std::fill(d_shift, d_shift + n, 0.0f);
  for (std::size_t r = 0; r < rows; ++r)
    layer_norm_backward_row(n, gain, norm.rstd[r], norm.x_hat + r * n, d + r * n, d_gain, d_shift);
}

}  // namespace

void dense_linear_forward(const dense_layer& l, const float* params, std::size_t rows,
                          const float* x, float* z) noexcept {
  // Z = b broadcast, then Z += X·Wᵀ: (rows x n_in)·(n_in x n_out)
  const float* b = params + l.b_offset;
  for (std::size_t r = 0; r < rows; ++r) std::copy(b, b + l.n_out, z + r * l.n_out);
  blas::sgemm(false, true, rows, l.n_out, l.n_in, 1.0f, x, l.n_in, params + l.w_offset, l.n_in,
              1.0f, z, l.n_out);
}

void dense_activate(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                    std::size_t rows, float* in, float* a) noexcept {
  const kernels::act_param p{l.alpha,
                             l.slope_offset == no_offset ? nullptr : params + l.slope_offset};
  k.act_forward[static_cast<int>(l.act)](rows, l.n_out, in, p, a);
}

void dense_forward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                   std::size_t rows, const float* x, float* z, float* a,
                   const norm_buffers* norm) noexcept {
  // Z = b + X·Wᵀ: the bias is written first and the GEMM adds to it (beta = 1), which spares
  // OpenBLAS its pass zeroing Z.
  dense_linear_forward(l, params, rows, x, z);
  if (norm == nullptr) {
    if (l.act != kernels::act::identity || a != z) dense_activate(k, l, params, rows, z, a);
    return;
  }
  // Z normalized into norm->out, which the activation reads.
  const float* gain = params + l.norm_offset;
  layer_norm_forward(rows, l.n_out, z, gain, gain + l.n_out, *norm);
  dense_activate(k, l, params, rows, norm->out, a);
}

void dense_act_backward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                        std::size_t rows, const float* in, const float* a, float* d,
                        float* grads) noexcept {
  float* d_slope = nullptr;
  if (l.slope_offset != no_offset) {
    d_slope = grads + l.slope_offset;
    std::fill(d_slope, d_slope + l.n_out, 0.0f);
  }
  if (l.act == kernels::act::identity) return;
  const kernels::act_param p{l.alpha,
                             l.slope_offset == no_offset ? nullptr : params + l.slope_offset};
  k.act_backward[static_cast<int>(l.act)](rows, l.n_out, in, a, d, p, d, d_slope);
}

void dense_linear_backward(const kernels::kernel_table& k, const dense_layer& l,
                           const float* params, std::size_t rows, const float* x, const float* d_z,
                           float* grads, float* d_x, bool accumulate_dx, bool add_dw) noexcept {
  // dW = dZᵀ·X: (n_out x rows)·(rows x n_in)
  blas::sgemm(true, false, l.n_out, l.n_in, rows, 1.0f, d_z, l.n_out, x, l.n_in,
              add_dw ? 1.0f : 0.0f, grads + l.w_offset, l.n_in);
  // db = column sums of dZ
  k.col_sums(rows, l.n_out, d_z, grads + l.b_offset);
  // dX = dZ·W: (rows x n_out)·(n_out x n_in)
  if (d_x != nullptr)
    blas::sgemm(false, false, rows, l.n_in, l.n_out, 1.0f, d_z, l.n_out, params + l.w_offset,
                l.n_in, accumulate_dx ? 1.0f : 0.0f, d_x, l.n_in);
}

void dense_backward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                    std::size_t rows, const float* x, const float* z, const float* a, float* d_a,
                    float* grads, float* d_x, const norm_buffers* norm, bool accumulate_dx,
                    bool add_dw) noexcept {
  // With layer norm the activation's input is norm->out, not Z.
  dense_act_backward(k, l, params, rows, norm ? norm->out : z, a, d_a, grads);
  if (norm != nullptr) {
    float* d_gain = grads + l.norm_offset;
    layer_norm_backward(rows, l.n_out, params + l.norm_offset, *norm, d_a, d_gain,
                        d_gain + l.n_out);
  }
  dense_linear_backward(k, l, params, rows, x, d_a, grads, d_x, accumulate_dx, add_dw);
}

// Batch norm works across units (j) within a row, each unit its own chain of operations, so
// the compiler vectorizes the row loops below without reordering any sum. They are functions
// of restrict-qualified rows because that is what lets it prove the buffers distinct.
namespace {

void add_row(std::size_t n, const float* __restrict z, double* __restrict sum) noexcept {
  for (std::size_t j = 0; j < n; ++j) sum[j] += z[j];
}

void add_squared_deviations(std::size_t n, const float* __restrict z, const double* __restrict mean,
                            double* __restrict m2) noexcept {
  for (std::size_t j = 0; j < n; ++j) {
    const double dev = z[j] - mean[j];
    m2[j] += dev * dev;
  }
}

void normalize_row(std::size_t n, const float* __restrict z, const float* __restrict mean,
                   const float* __restrict rstd, const float* __restrict gain,
                   const float* __restrict shift, float* __restrict x_hat,
                   float* __restrict out) noexcept {
  for (std::size_t j = 0; j < n; ++j) {
    const float xh = (z[j] - mean[j]) * rstd[j];
    x_hat[j] = xh;
    out[j] = gain[j] * xh + shift[j];
  }
}

void infer_row(std::size_t n, const float* __restrict z, const float* __restrict mean,
               const float* __restrict rstd, const float* __restrict gain,
               const float* __restrict shift, float* __restrict out) noexcept {
  for (std::size_t j = 0; j < n; ++j) out[j] = gain[j] * ((z[j] - mean[j]) * rstd[j]) + shift[j];
}

void add_grad_row(std::size_t n, const float* __restrict d, const float* __restrict x_hat,
                  double* __restrict sum_d, double* __restrict sum_dx) noexcept {
  for (std::size_t j = 0; j < n; ++j) {
    const double g = d[j];
    sum_d[j] += g;
    sum_dx[j] += g * x_hat[j];
  }
}

void backward_row(std::size_t n, const float* __restrict gain, const float* __restrict rstd,
                  const float* __restrict mean_d, const float* __restrict mean_dx,
                  const float* __restrict x_hat, float* __restrict d) noexcept {
  for (std::size_t j = 0; j < n; ++j)
    d[j] = gain[j] * rstd[j] * (d[j] - mean_d[j] - x_hat[j] * mean_dx[j]);
}

}  // namespace

void batch_norm_moments(std::size_t rows, std::size_t n, const float* z, double* moments) noexcept {
  double* mean = moments;
  double* m2 = moments + n;
  std::fill(moments, moments + 2 * n, 0.0);
  for (std::size_t r = 0; r < rows; ++r) add_row(n, z + r * n, mean);
  const double inv = rows > 0 ? 1.0 / static_cast<double>(rows) : 0.0;
  for (std::size_t j = 0; j < n; ++j) mean[j] *= inv;
  for (std::size_t r = 0; r < rows; ++r) add_squared_deviations(n, z + r * n, mean, m2);
}

void batch_norm_forward(std::size_t rows, std::size_t n, const float* z, const float* mean,
                        const float* rstd, const float* gain, const float* shift, float* x_hat,
                        float* out) noexcept {
  for (std::size_t r = 0; r < rows; ++r)
    normalize_row(n, z + r * n, mean, rstd, gain, shift, x_hat + r * n, out + r * n);
}

void batch_norm_infer(std::size_t rows, std::size_t n, const float* z, const float* bn,
                      float* scratch, float* out) noexcept {
  float* rstd = scratch;
  for (std::size_t j = 0; j < n; ++j) rstd[j] = 1.0f / std::sqrt(bn[3 * n + j] + batch_norm_eps);
  for (std::size_t r = 0; r < rows; ++r)
    infer_row(n, z + r * n, bn + 2 * n, rstd, bn, bn + n, out + r * n);
}

void batch_norm_grad_sums(std::size_t rows, std::size_t n, const float* d, const float* x_hat,
                          double* sums) noexcept {
  std::fill(sums, sums + 2 * n, 0.0);
  for (std::size_t r = 0; r < rows; ++r) add_grad_row(n, d + r * n, x_hat + r * n, sums, sums + n);
}

void batch_norm_backward(std::size_t rows, std::size_t n, const float* gain, const float* rstd,
                         const float* mean_d, const float* mean_dx, const float* x_hat,
                         float* d) noexcept {
  // dZ = gain * rstd * (d - mean(d) - x_hat * mean(d * x_hat)), means over the whole batch.
  for (std::size_t r = 0; r < rows; ++r)
    backward_row(n, gain, rstd, mean_d, mean_dx, x_hat + r * n, d + r * n);
}

}  // namespace tmlp::core
