#include "core/layer_norm.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/pipeline.hpp"
#include "core/workspace.hpp"

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

void normalize_row(std::size_t n, const float* __restrict z, float mean, float rstd,
                   const float* __restrict gain, const float* __restrict shift,
                   float* __restrict x_hat, float* __restrict out) noexcept {
  for (std::size_t j = 0; j < n; ++j) {
    const float xh = (z[j] - mean) * rstd;
    x_hat[j] = xh;
    out[j] = gain[j] * xh + shift[j];
  }
}

// One row of the backward pass: the gain and shift gradients gathered, then the sums of
// g = d * gain and g * x_hat, then d = rstd * (g - mean(g) - x_hat * mean(g * x_hat)).
void backward_row(std::size_t n, const float* __restrict gain, float rstd,
                  const float* __restrict x_hat, float* __restrict d, float* __restrict d_gain,
                  float* __restrict d_shift) noexcept {
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

}  // namespace

void layer_norm_forward(std::size_t rows, std::size_t n, const float* z, const float* gain,
                        const float* shift, float* x_hat, float* rstd, float* out) noexcept {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* zr = z + r * n;
    const double mean = row_sum(n, zr) / static_cast<double>(n);
    const double var = row_squared_deviations(n, zr, mean) / static_cast<double>(n);
    const auto rs = static_cast<float>(1.0 / std::sqrt(var + layer_norm_eps));
    normalize_row(n, zr, static_cast<float>(mean), rs, gain, shift, x_hat + r * n, out + r * n);
    rstd[r] = rs;
  }
}

void layer_norm_backward(std::size_t rows, std::size_t n, const float* gain, const float* x_hat,
                         const float* rstd, float* d, float* d_gain, float* d_shift) noexcept {
  std::fill(d_gain, d_gain + n, 0.0f);
  std::fill(d_shift, d_shift + n, 0.0f);
  for (std::size_t r = 0; r < rows; ++r)
    backward_row(n, gain, rstd[r], x_hat + r * n, d + r * n, d_gain, d_shift);
}

namespace {

class layer_norm_op final : public op {
 public:
  layer_norm_op(const dense_layer& l, slot x_hat, slot rstd, slot out) noexcept
      : n_(l.n_out), offset_(l.norm_offset), x_hat_(x_hat), rstd_(rstd), out_(out) {}

  const float* forward(const pass& p, const float* in) const noexcept override {
    const float* gain = p.params + offset_;
    float* out = p.ws.floats(out_);
    layer_norm_forward(p.rows, n_, in, gain, gain + n_, p.ws.floats(x_hat_), p.ws.floats(rstd_),
                       out);
    return out;
  }

  float* backward(const pass& p, const float*, const float*, float* d) const noexcept override {
    float* d_gain = p.grads + offset_;
    layer_norm_backward(p.rows, n_, p.params + offset_, p.ws.floats(x_hat_), p.ws.floats(rstd_), d,
                        d_gain, d_gain + n_);
    return d;
  }

 private:
  std::size_t n_, offset_;
  slot x_hat_, rstd_, out_;
};

}  // namespace

void add_layer_norm(pipeline_builder& b, const pipeline_builder::layer_context& c) {
  const dense_layer& l = *c.layer;
  if (l.norm_offset == no_offset) return;
  workspace_plan& plan = b.plan();
  const slot x_hat = plan.floats(l.n_out), rstd = plan.floats(1), out = plan.floats(l.n_out);
  b.add(std::make_unique<layer_norm_op>(l, x_hat, rstd, out));
}

}  // namespace tmlp::core
