// Scalar reference of the optimizer updates, axpy and scale: the oracle of the vector kernels
// (optimizers.hpp) and the "scalar" architecture. Same IEEE operations in the same order as the
// vector code (see the top of optimizers.hpp), so every architecture is bit-identical to it.
#include <cmath>
#include <cstddef>

#include "reference.hpp"

namespace tmlp::kernels {
namespace {

// 1 for w > 0, -1 for w < 0, +0 for +-0, NaN for NaN.
float sign(float w) noexcept { return w > 0.0f ? 1.0f : (w < 0.0f ? -1.0f : w - w); }

// g' = g (+ l2 * w) (+ l1 * sign(w)); a term whose coefficient is 0 is skipped, not added as 0.
float regularize(const update_args& a, float g, float w) noexcept {
  if (a.l2 != 0.0f) g = g + a.l2 * w;
  if (a.l1 != 0.0f) g = g + a.l1 * sign(w);
  return g;
}

// Decoupled decay: w_rule - (lr * decay) * w_old, skipped when decay is 0.
float decay(const update_args& a, float w_rule, float w_old) noexcept {
  if (a.decay != 0.0f) return w_rule - (a.lr * a.decay) * w_old;
  return w_rule;
}

void axpy(std::size_t n, float a, const float* x, float* y) noexcept {
  for (std::size_t i = 0; i < n; ++i) y[i] = y[i] + a * x[i];
}

void add_arrays(std::size_t n, const float* const* x, std::size_t m, float* y) noexcept {
  for (std::size_t s = 0; s < m; ++s)
    for (std::size_t i = 0; i < n; ++i) y[i] = y[i] + x[s][i];
}

void scale(std::size_t n, float a, float* x) noexcept {
  for (std::size_t i = 0; i < n; ++i) x[i] = x[i] * a;
}

double sum_scale_squares(std::size_t n, const float* const* x, std::size_t m, float a,
                         float* y) noexcept {
  double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (std::size_t i = 0; i < n; ++i) {
    float v = x[0][i];
    for (std::size_t s = 1; s < m; ++s) v = v + x[s][i];
    y[i] = v * a;
    part[i % 8] += static_cast<double>(y[i]) * static_cast<double>(y[i]);
  }
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

void sgd(std::size_t n, const update_args& a, const float* g, float* w) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const float w0 = w[i];
    const float gr = regularize(a, g[i], w0);
    w[i] = decay(a, w0 - a.lr * gr, w0);
  }
}

void momentum(std::size_t n, const update_args& a, const float* g, float* w, float* v) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const float w0 = w[i];
    const float gr = regularize(a, g[i], w0);
    const float vn = a.momentum * v[i] + gr;
    w[i] = decay(a, w0 - a.lr * vn, w0);
    v[i] = vn;
  }
}

void nesterov(std::size_t n, const update_args& a, const float* g, float* w, float* v) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const float w0 = w[i];
    const float gr = regularize(a, g[i], w0);
    const float vn = a.momentum * v[i] + gr;
    w[i] = decay(a, w0 - a.lr * (gr + a.momentum * vn), w0);
    v[i] = vn;
  }
}

void adam(std::size_t n, const update_args& a, const float* g, float* w, float* m,
          float* v) noexcept {
  const float c1 = 1.0f - a.beta1, c2 = 1.0f - a.beta2;
  for (std::size_t i = 0; i < n; ++i) {
    const float w0 = w[i];
    const float gr = regularize(a, g[i], w0);
    const float mn = a.beta1 * m[i] + c1 * gr;
    const float vn = a.beta2 * v[i] + c2 * (gr * gr);
    const float den = std::sqrt(vn / a.bias2) + a.eps;
    w[i] = decay(a, w0 - (a.lr * (mn / a.bias1)) / den, w0);
    m[i] = mn;
    v[i] = vn;
  }
}

void rmsprop(std::size_t n, const update_args& a, const float* g, float* w, float* s) noexcept {
  const float c2 = 1.0f - a.beta2;
  for (std::size_t i = 0; i < n; ++i) {
    const float w0 = w[i];
    const float gr = regularize(a, g[i], w0);
    const float sn = a.beta2 * s[i] + c2 * (gr * gr);
    w[i] = decay(a, w0 - (a.lr * gr) / (std::sqrt(sn) + a.eps), w0);
    s[i] = sn;
  }
}

void adagrad(std::size_t n, const update_args& a, const float* g, float* w, float* s) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const float w0 = w[i];
    const float gr = regularize(a, g[i], w0);
    const float sn = s[i] + gr * gr;
    w[i] = decay(a, w0 - (a.lr * gr) / (std::sqrt(sn) + a.eps), w0);
    s[i] = sn;
  }
}

}  // namespace

void fill_reference_optimizer_kernels(kernel_table& t) noexcept {
  t.axpy = &axpy;
  t.scale = &scale;
  t.add_arrays = &add_arrays;
  t.sum_scale_squares = &sum_scale_squares;
  t.sgd = &sgd;
  t.momentum = &momentum;
  t.nesterov = &nesterov;
  t.adam = &adam;
  t.rmsprop = &rmsprop;
  t.adagrad = &adagrad;
}

}  // namespace tmlp::kernels
