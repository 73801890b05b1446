#include "core/batch_norm.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/network.hpp"
#include "core/pipeline.hpp"
#include "core/workspace.hpp"

namespace tmlp::core {

batch_stats::batch_stats(const network& net)
    : mean(net.n_bn_units),
      rstd(net.n_bn_units),
      mean_d(net.n_bn_units),
      mean_dx(net.n_bn_units),
      mean64(net.n_bn_units),
      var(net.n_bn_units) {}

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

namespace {

// Chan et al.'s pairwise update, shards in order: count, mean and sum of squared deviations
// (in var until divided by the count at the end).
void merge_moments(const dense_layer& l, slot partial, std::span<workspace* const> shards,
                   batch_stats& stats) noexcept {
  const std::size_t n = l.n_out;
  double count = 0.0;
  double* mean = stats.mean64.data() + l.bn_stat;
  double* m2 = stats.var.data() + l.bn_stat;
  for (workspace* ws : shards) {
    const double rows = static_cast<double>(ws->pass_rows);
    if (rows == 0.0) continue;
    const double* part = ws->doubles(partial);
    const double total = count + rows;
    for (std::size_t j = 0; j < n; ++j) {
      if (count == 0.0) {
        mean[j] = part[j];
        m2[j] = part[n + j];
        continue;
      }
      const double delta = part[j] - mean[j];
      mean[j] += delta * rows / total;
      m2[j] += part[n + j] + delta * delta * count * rows / total;
    }
    count = total;
  }
  stats.rows = static_cast<std::size_t>(count);
  for (std::size_t j = 0; j < n; ++j) {
    m2[j] = count > 0.0 ? m2[j] / count : 0.0;
    stats.mean[l.bn_stat + j] = static_cast<float>(mean[j]);
    stats.rstd[l.bn_stat + j] = static_cast<float>(1.0 / std::sqrt(m2[j] + batch_norm_eps));
  }
}

void merge_grad_sums(const dense_layer& l, slot partial, std::span<workspace* const> shards,
                     batch_stats& stats) noexcept {
  const std::size_t n = l.n_out;
  for (std::size_t j = 0; j < n; ++j) {
    double sum_d = 0.0, sum_dx = 0.0;
    for (workspace* ws : shards) {
      if (ws->pass_rows == 0) continue;
      sum_d += ws->doubles(partial)[j];
      sum_dx += ws->doubles(partial)[n + j];
    }
    const double inv = stats.rows > 0 ? 1.0 / static_cast<double>(stats.rows) : 0.0;
    stats.mean_d[l.bn_stat + j] = static_cast<float>(sum_d * inv);
    stats.mean_dx[l.bn_stat + j] = static_cast<float>(sum_dx * inv);
  }
}

// The buffers both halves of a batch-norm layer share: x_hat and out (rows x n), n floats of
// scratch, and this block's partial moments or gradient sums (2n doubles).
struct bn_slots {
  slot x_hat, out, scratch, partial;
};

// The barrier, after Z: forward, this block's moments of Z (training) for merge_forward;
// backward, dL/d(out) -> dL/dZ from the sums merge_backward combined.
class batch_norm_stats_op final : public op {
 public:
  batch_norm_stats_op(const dense_layer& l, bn_slots s) noexcept : l_(l), s_(s) {}

  bool is_barrier() const noexcept override { return true; }

  const float* forward(const pass& p, const float* in) const noexcept override {
    if (p.stats != nullptr) batch_norm_moments(p.rows, l_.n_out, in, p.ws.doubles(s_.partial));
    return in;
  }

  float* backward(const pass& p, const float*, const float*, float* d) const noexcept override {
    const batch_stats& st = *p.stats;
    batch_norm_backward(p.rows, l_.n_out, p.params + l_.bn_offset, st.rstd.data() + l_.bn_stat,
                        st.mean_d.data() + l_.bn_stat, st.mean_dx.data() + l_.bn_stat,
                        p.ws.floats(s_.x_hat), d);
    return d;
  }

  void merge_forward(std::span<workspace* const> shards,
                     batch_stats& stats) const noexcept override {
    merge_moments(l_, s_.partial, shards, stats);
  }
  void merge_backward(std::span<workspace* const> shards,
                      batch_stats& stats) const noexcept override {
    merge_grad_sums(l_, s_.partial, shards, stats);
  }
  std::span<double> partials(workspace& ws) const noexcept override {
    return {ws.doubles(s_.partial), 2 * l_.n_out};
  }

 private:
  dense_layer l_;
  bn_slots s_;
};

// After the barrier: the normalization with the batch's statistics (training) or the running
// ones (inference); backward, the gain's and shift's gradients and the sums for the barrier.
class batch_norm_apply_op final : public op {
 public:
  batch_norm_apply_op(const dense_layer& l, bn_slots s) noexcept : l_(l), s_(s) {}

  const float* forward(const pass& p, const float* in) const noexcept override {
    const std::size_t n = l_.n_out;
    const float* bn = p.params + l_.bn_offset;
    float* out = p.ws.floats(s_.out);
    if (p.stats != nullptr)
      batch_norm_forward(p.rows, n, in, p.stats->mean.data() + l_.bn_stat,
                         p.stats->rstd.data() + l_.bn_stat, bn, bn + n, p.ws.floats(s_.x_hat), out);
    else
      batch_norm_infer(p.rows, n, in, bn, p.ws.floats(s_.scratch), out);
    return out;
  }

  float* backward(const pass& p, const float*, const float*, float* d) const noexcept override {
    // d = dL/d(out): the gain's and shift's gradients are its sums.
    const std::size_t n = l_.n_out;
    double* sums = p.ws.doubles(s_.partial);
    batch_norm_grad_sums(p.rows, n, d, p.ws.floats(s_.x_hat), sums);
    float* g = p.grads + l_.bn_offset;
    for (std::size_t j = 0; j < n; ++j) {
      g[j] = static_cast<float>(sums[n + j]);
      g[n + j] = static_cast<float>(sums[j]);
    }
    std::fill(g + 2 * n, g + 4 * n, 0.0f);  // running statistics: not trained
    return d;
  }

 private:
  dense_layer l_;
  bn_slots s_;
};

}  // namespace

void add_batch_norm(pipeline_builder& b, const pipeline_builder::layer_context& c) {
  const dense_layer& l = *c.layer;
  if (l.bn_offset == no_offset) return;
  workspace_plan& plan = b.plan();
  bn_slots s;
  s.x_hat = plan.floats(l.n_out);
  s.out = plan.floats(l.n_out);
  s.scratch = plan.floats(0, l.n_out);
  s.partial = plan.doubles(2 * l.n_out);
  b.add(std::make_unique<batch_norm_stats_op>(l, s));
  b.add(std::make_unique<batch_norm_apply_op>(l, s));
}

void update_running_stats(const network& net, const batch_stats& stats, float* params) noexcept {
  const double m = batch_norm_momentum;
  const double n = static_cast<double>(stats.rows);
  const double unbias = stats.rows > 1 ? n / (n - 1.0) : 1.0;
  for (std::size_t layer : net.bn_layers) {
    const dense_layer& l = net.layers[layer];
    float* mean = params + l.bn_offset + 2 * l.n_out;
    float* var = mean + l.n_out;
    for (std::size_t j = 0; j < l.n_out; ++j) {
      const std::size_t u = l.bn_stat + j;
      mean[j] = static_cast<float>((1.0 - m) * mean[j] + m * stats.mean[u]);
      var[j] = static_cast<float>((1.0 - m) * var[j] + m * stats.var[u] * unbias);
    }
  }
}

void fold_batch_norm(network& net, float* params) {
  for (std::size_t layer : net.bn_layers) {
    dense_layer& l = net.layers[layer];
    const float* bn = params + l.bn_offset;
    float* w = params + l.w_offset;
    float* b = params + l.b_offset;
    for (std::size_t j = 0; j < l.n_out; ++j) {
      // gain (Z - mean) / sqrt(var + eps) + shift = (s W) x + s (b - mean) + shift
      const double s = bn[j] / std::sqrt(static_cast<double>(bn[3 * l.n_out + j]) + batch_norm_eps);
      for (std::size_t i = 0; i < l.n_in; ++i)
        w[j * l.n_in + i] = static_cast<float>(s * w[j * l.n_in + i]);
      b[j] = static_cast<float>(s * (static_cast<double>(b[j]) - bn[2 * l.n_out + j]) +
                                bn[l.n_out + j]);
    }
    l.bn_offset = no_offset;
  }
  net.bn_layers.clear();
  net.n_bn_units = 0;
  net.build_pipeline();
}

}  // namespace tmlp::core
