#include "core/loss.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "tmlp/error.hpp"

namespace tmlp::core {
namespace {

// Per-row losses. Each returns L_r and, when g != nullptr, writes w * dL_r/dy.
double row_mse(std::size_t k, const float* y, const float* t, float w, float* g) noexcept {
  const float inv_k = 1.0f / static_cast<float>(k);
  double sum = 0.0;
  for (std::size_t j = 0; j < k; ++j) {
    const float d = y[j] - t[j];
    sum += static_cast<double>(d) * d;
    if (g) g[j] = w * 2.0f * inv_k * d;
  }
  return sum / static_cast<double>(k);
}

double row_mae(std::size_t k, const float* y, const float* t, float w, float* g) noexcept {
  const float inv_k = 1.0f / static_cast<float>(k);
  double sum = 0.0;
  for (std::size_t j = 0; j < k; ++j) {
    const float d = y[j] - t[j];
    sum += std::fabs(static_cast<double>(d));
    if (g) g[j] = w * inv_k * static_cast<float>((d > 0.0f) - (d < 0.0f));
  }
  return sum / static_cast<double>(k);
}

double row_huber(std::size_t k, const float* y, const float* t, float delta, float w,
                 float* g) noexcept {
  const float inv_k = 1.0f / static_cast<float>(k);
  double sum = 0.0;
  for (std::size_t j = 0; j < k; ++j) {
    const float d = y[j] - t[j];
    const float ad = std::fabs(d);
    if (ad <= delta) {
      sum += 0.5 * static_cast<double>(d) * d;
      if (g) g[j] = w * inv_k * d;
    } else {
      sum += static_cast<double>(delta) * (ad - 0.5 * static_cast<double>(delta));
      if (g) g[j] = w * inv_k * std::copysign(delta, d);
    }
  }
  return sum / static_cast<double>(k);
}

// log(1 + exp(y)) - t y = max(y, 0) - t y + log1p(exp(-|y|)); gradient sigmoid(y) - t, with
// t smoothed to t (1 - s) + s / 2 when s > 0.
double row_bce(std::size_t k, const float* y, const float* t_in, float smooth, float w,
               float* g) noexcept {
  const float inv_k = 1.0f / static_cast<float>(k);
  double sum = 0.0;
  for (std::size_t j = 0; j < k; ++j) {
    const float t = smooth > 0.0f ? t_in[j] * (1.0f - smooth) + 0.5f * smooth : t_in[j];
    const float e = std::exp(-std::fabs(y[j]));  // in (0, 1]
    sum += static_cast<double>(std::max(y[j], 0.0f)) - static_cast<double>(t) * y[j] +
           std::log1p(static_cast<double>(e));
    if (g) {
      const float s = y[j] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
      g[j] = w * inv_k * (s - t);
    }
  }
  return sum / static_cast<double>(k);
}

// logsumexp(y) - y_c; gradient softmax(y) - onehot(c). Smoothed (s > 0): the target is
// q = (1 - s) onehot(c) + s / k, the loss logsumexp(y) - sum_j q_j y_j, the gradient
// softmax(y) - q.
double row_ce(std::size_t k, const float* y, float target, float smooth, float w,
              float* g) noexcept {
  const auto c = static_cast<std::size_t>(target);
  float m = y[0];
  for (std::size_t j = 1; j < k; ++j) m = std::max(m, y[j]);
  double s = 0.0;
  for (std::size_t j = 0; j < k; ++j) s += std::exp(static_cast<double>(y[j] - m));
  const double lse = static_cast<double>(m) + std::log(s);
  if (g) {
    for (std::size_t j = 0; j < k; ++j)
      g[j] = w * static_cast<float>(std::exp(static_cast<double>(y[j]) - lse));
    if (smooth > 0.0f) {
      const float spread = w * smooth / static_cast<float>(k);
      for (std::size_t j = 0; j < k; ++j) g[j] -= spread;
      g[c] -= w * (1.0f - smooth);
    } else {
      g[c] -= w;
    }
  }
  if (smooth <= 0.0f) return lse - static_cast<double>(y[c]);
  double mean = 0.0;
  for (std::size_t j = 0; j < k; ++j) mean += static_cast<double>(y[j]);
  mean /= static_cast<double>(k);
  const double sd = smooth;
  return lse - (1.0 - sd) * static_cast<double>(y[c]) - sd * mean;
}

}  // namespace

std::size_t target_width(loss_kind kind, std::size_t k) noexcept {
  return kind == loss_kind::ce ? 1 : k;
}

double loss_forward_backward(const loss_config& c, std::size_t rows, std::size_t k, const float* y,
                             const float* targets, const float* weights, float* d_y) noexcept {
  const std::size_t tw = target_width(c.kind, k);
  double total = 0.0;
  for (std::size_t r = 0; r < rows; ++r) {
    const float w = weights ? weights[r] : 1.0f;
    const float* yr = y + r * k;
    const float* tr = targets + r * tw;
    float* gr = d_y ? d_y + r * k : nullptr;
    double l = 0.0;
    switch (c.kind) {
      case loss_kind::mse:
        l = row_mse(k, yr, tr, w, gr);
        break;
      case loss_kind::mae:
        l = row_mae(k, yr, tr, w, gr);
        break;
      case loss_kind::huber:
        l = row_huber(k, yr, tr, c.huber_delta, w, gr);
        break;
      case loss_kind::bce:
        l = row_bce(k, yr, tr, c.label_smoothing, w, gr);
        break;
      case loss_kind::ce:
        l = row_ce(k, yr, tr[0], c.label_smoothing, w, gr);
        break;
    }
    total += static_cast<double>(w) * l;
  }
  return total;
}

void check_targets(const loss_config& c, std::size_t rows, std::size_t k, const float* targets,
                   const float* weights) {
  const std::size_t tw = target_width(c.kind, k);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t j = 0; j < tw; ++j) {
      const float t = targets[r * tw + j];
      if (!std::isfinite(t))
        throw error(errc::invalid_data, fmt::format("target row {}: value {} is not finite", r, t));
      if (c.kind == loss_kind::bce && (t < 0.0f || t > 1.0f))
        throw error(
            errc::invalid_data,
            fmt::format("target row {}: {} is outside [0, 1], as binary cross-entropy needs", r,
                        t));
      if (c.kind == loss_kind::ce && (t < 0.0f || t != std::floor(t) || t >= static_cast<float>(k)))
        throw error(errc::invalid_data,
                    fmt::format("target row {}: {} is not a class index in 0..{}", r, t, k - 1));
    }
    if (weights && !(std::isfinite(weights[r]) && weights[r] >= 0.0f))
      throw error(
          errc::invalid_data,
          fmt::format("sample weight row {}: {} is not a finite value >= 0", r, weights[r]));
  }
}

}  // namespace tmlp::core
