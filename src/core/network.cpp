#include "core/network.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "blas.hpp"
#include "core/assert.hpp"
#include "core/random.hpp"

namespace tmlp::core {

workspace::workspace(const network& net, std::size_t max_rows) : max_rows_(max_rows) {
  std::size_t n = 0;
  for (const dense_layer& l : net.layers) {
    z_off_.push_back(n);
    n += max_rows * l.n_out;
    if (l.act == kernels::act::identity && l.norm_offset == no_offset && l.bn_offset == no_offset) {
      a_off_.push_back(z_off_.back());  // A = Z: one buffer
    } else {
      a_off_.push_back(n);
      n += max_rows * l.n_out;
    }
  }
  for (const dense_layer& l : net.layers) {
    m_off_.push_back(n);
    drop_len_.push_back(l.dropout > 0.0f ? max_rows * l.n_out : 0);
    n += 2 * drop_len_.back();
  }
  for (const dense_layer& l : net.layers) {  // residual sums
    s_off_.push_back(l.residual ? n : none);
    if (l.residual) n += max_rows * l.n_out;
  }
  for (const dense_layer& l : net.layers) {  // layer or batch norm: x_hat, out, then rstd
    n_off_.push_back(n);
    if (l.norm_offset != no_offset) n += 2 * max_rows * l.n_out + max_rows;
    if (l.bn_offset != no_offset) n += 2 * max_rows * l.n_out + l.n_out;
    p_off_.push_back(partial_.size());
    if (l.bn_offset != no_offset) partial_.resize(partial_.size() + 2 * l.n_out);
  }
  if (!net.embeddings.empty()) {  // the first layer's input and its gradient
    e_off_ = n;
    e_width_ = net.layers[0].n_in;
    n += 2 * max_rows * e_width_;
  }
  d_off_[0] = n;
  d_off_[1] = n + max_rows * net.max_width;
  buf_.assign(n + 2 * max_rows * net.max_width, 0.0f);
  for (std::size_t i = 0; i < net.layers.size(); ++i) {
    norm_buffers nb;
    if (net.layers[i].norm_offset != no_offset || net.layers[i].bn_offset != no_offset) {
      float* base = buf_.data() + n_off_[i];
      const std::size_t len = max_rows * net.layers[i].n_out;
      nb = {base, base + 2 * len, base + len};
    }
    norm_.push_back(nb);
  }
}

std::uint64_t dropout_key(std::uint64_t seed, std::uint64_t epoch) noexcept {
  return derive_key(seed, 0xd20d20d20ULL, epoch);
}

namespace {

// Masks rows x n outputs a of layer `layer` with drop probability p: mask = 0 or 1 / (1 - p'),
// where p' is p rounded to a multiple of 2^-16 (each decision takes 16 random bits, four per
// 64-bit draw), so the expected output is a exactly.
void drop_outputs(const dropout_context& ctx, std::size_t layer, float p, std::size_t rows,
                  std::size_t n, const float* a, float* mask, float* out) noexcept {
  const auto threshold = static_cast<std::uint32_t>(std::lround(static_cast<double>(p) * 65536.0));
  const float keep_scale =
      threshold >= 65536 ? 0.0f : static_cast<float>(65536.0 / (65536.0 - threshold));
  const std::uint64_t key = derive_key(ctx.key, layer);
  const std::size_t draws_per_row = (n + 3) / 4;
  for (std::size_t r = 0; r < rows; ++r) {
    const std::uint64_t base = static_cast<std::uint64_t>(ctx.rows[r]) * draws_per_row;
    float* m = mask + r * n;
    for (std::size_t j = 0; j < n; j += 4) {
      std::uint64_t b = bits(key, base + j / 4);
      for (std::size_t q = j; q < std::min(j + 4, n); ++q, b >>= 16)
        m[q] = (b & 0xffff) >= threshold ? keep_scale : 0.0f;
    }
    const float* ar = a + r * n;
    float* o = out + r * n;
    for (std::size_t q = 0; q < n; ++q) o[q] = ar[q] * m[q];
  }
}

// Residual: sum = branch + skip, the skip being x itself or x·Pᵀ. x: rows x n_in.
void add_skip(const dense_layer& l, const float* params, std::size_t rows, const float* x,
              const float* branch, float* sum) noexcept {
  const std::size_t n = rows * l.n_out;
  if (l.proj_offset == no_offset) {
    for (std::size_t e = 0; e < n; ++e) sum[e] = branch[e] + x[e];
    return;
  }
  std::copy(branch, branch + n, sum);
  blas::sgemm(false, true, rows, l.n_out, l.n_in, 1.0f, x, l.n_in, params + l.proj_offset, l.n_in,
              1.0f, sum, l.n_out);
}

// The skip's share of the backward pass, before d (dL/dsum) is changed: dP = dᵀ·x (added to
// grads if add_dw, as dense_backward's dW), and d_x (if any) set to d or d·P, which the
// branch's backward then adds to.
void skip_backward(const dense_layer& l, const float* params, std::size_t rows, const float* x,
                   const float* d, float* grads, float* d_x, bool add_dw) noexcept {
  if (l.proj_offset != no_offset) {
    blas::sgemm(true, false, l.n_out, l.n_in, rows, 1.0f, d, l.n_out, x, l.n_in,
                add_dw ? 1.0f : 0.0f, grads + l.proj_offset, l.n_in);
    if (d_x != nullptr)
      blas::sgemm(false, false, rows, l.n_in, l.n_out, 1.0f, d, l.n_out, params + l.proj_offset,
                  l.n_in, 0.0f, d_x, l.n_in);
  } else if (d_x != nullptr) {
    std::copy(d, d + rows * l.n_out, d_x);
  }
}

}  // namespace

namespace {

// Where the stages of a training pass begin and end (see batch_stats in network.hpp).
struct stage_span {
  std::size_t first, last;  // layers, first <= last
  bool resumes;             // forward: `first` is a batch-norm layer whose Z is computed
                            // backward: `last` is one whose dL/d(out) is computed
  bool stops;               // forward: ends at `last`'s Z; backward: at `first`'s dL/d(out)
};

stage_span span_of(const network& net, std::size_t stage) noexcept {
  const std::size_t n_bn = net.bn_layers.size();
  return {stage == 0 ? 0 : net.bn_layers[stage - 1],
          stage < n_bn ? net.bn_layers[stage] : net.layers.size() - 1, stage > 0, stage < n_bn};
}

// The first layer's input of rows x: plain columns, then each embedding's row.
void embed_inputs(const network& net, const float* params, std::size_t rows, const float* x,
                  float* out) noexcept {
  const std::size_t n_in = net.n_inputs, width = net.layers[0].n_in;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n_in;
    float* o = out + r * width;
    for (std::size_t c : net.plain_columns) *o++ = xr[c];
    for (const embedding_table& t : net.embeddings) {
      const float* row = params + t.offset + t.row_of(xr[t.column]) * t.dim;
      o = std::copy(row, row + t.dim, o);
    }
  }
}

// What layer 0 reads: x itself, or with embeddings the input embed_inputs made.
const float* layer0_input(const network& net, workspace& ws, const float* x) noexcept {
  return net.embeddings.empty() ? x : ws.embedded();
}

// Forward over layers [first, last]. stats: batch statistics (training with batch norm), or
// nullptr to use the running ones. resumes/stops as in stage_span (only with stats).
const float* forward_layers(const kernels::kernel_table& k, const network& net, const float* params,
                            std::size_t rows, const float* x, workspace& ws,
                            const dropout_context* drop, const batch_stats* stats,
                            const stage_span& span) noexcept {
  ws.set_dropping(drop != nullptr && net.has_dropout);
  ws.set_pass_rows(rows);
  if (span.first == 0 && !span.resumes && !net.embeddings.empty())
    embed_inputs(net, params, rows, x, ws.embedded());
  for (std::size_t i = span.first; i <= span.last; ++i) {
    const dense_layer& l = net.layers[i];
    const float* in = i == 0 ? layer0_input(net, ws, x) : ws.output(i - 1);
    if (l.bn_offset == no_offset) {
      dense_forward(k, l, params, rows, in, ws.z(i), ws.a(i), ws.norm(i));
    } else {
      const norm_buffers& nb = *ws.norm(i);
      if (!(span.resumes && i == span.first)) {
        dense_linear_forward(l, params, rows, in, ws.z(i));
        if (span.stops && i == span.last) {
          batch_norm_moments(rows, l.n_out, ws.z(i), ws.bn_partial(i));
          return nullptr;
        }
      }
      const float* bn = params + l.bn_offset;
      if (stats != nullptr)
        batch_norm_forward(rows, l.n_out, ws.z(i), stats->mean.data() + l.bn_stat,
                           stats->rstd.data() + l.bn_stat, bn, bn + l.n_out, nb.x_hat, nb.out);
      else
        batch_norm_infer(rows, l.n_out, ws.z(i), bn, nb.rstd, nb.out);
      dense_activate(k, l, params, rows, nb.out, ws.a(i));
    }
    if (ws.dropping() && l.dropout > 0.0f)
      drop_outputs(*drop, i, l.dropout, rows, l.n_out, ws.a(i), ws.mask(i), ws.dropped(i));
    if (l.residual) add_skip(l, params, rows, in, ws.branch(i), ws.sum(i));
  }
  return ws.output(span.last);
}

// Backward over layers [first, last], last to first, from dL/d(output of last) in its gradient
// buffer. stats: required for batch-norm layers.
void backward_layers(const kernels::kernel_table& k, const network& net, const float* params,
                     std::size_t rows, const float* x, workspace& ws, float* grads,
                     const batch_stats* stats, const stage_span& span) noexcept {
  const std::size_t n_layers = net.layers.size();
  const bool add_dw = ws.weight_grads_zeroed();
  for (std::size_t i = span.last + 1; i-- > span.first;) {
    const dense_layer& l = net.layers[i];
    const float* in = i == 0 ? layer0_input(net, ws, x) : ws.output(i - 1);
    float* d = ws.grad_a(n_layers - 1 - i);
    // The first layer's dL/dX is needed only for the embeddings' gradient.
    float* d_in = i == 0 ? ws.d_embedded() : ws.grad_a(n_layers - i);
    if (!(span.resumes && i == span.last)) {
      if (l.residual) skip_backward(l, params, rows, in, d, grads, d_in, add_dw);
      if (ws.dropping() && l.dropout > 0.0f) {  // d: dL/d(masked output) -> dL/dA
        const float* m = ws.mask(i);
        for (std::size_t e = 0; e < rows * l.n_out; ++e) d[e] *= m[e];
      }
      if (l.bn_offset == no_offset) {
        dense_backward(k, l, params, rows, in, ws.z(i), ws.a(i), d, grads, d_in, ws.norm(i),
                       l.residual, add_dw);
        continue;
      }
      dense_act_backward(k, l, params, rows, ws.norm(i)->out, ws.a(i), d, grads);
      // d = dL/d(out): the gain's and shift's gradients are its sums.
      double* sums = ws.bn_partial(i);
      batch_norm_grad_sums(rows, l.n_out, d, ws.norm(i)->x_hat, sums);
      float* g = grads + l.bn_offset;
      for (std::size_t j = 0; j < l.n_out; ++j) {
        g[j] = static_cast<float>(sums[l.n_out + j]);
        g[l.n_out + j] = static_cast<float>(sums[j]);
      }
      std::fill(g + 2 * l.n_out, g + 4 * l.n_out, 0.0f);  // running statistics: not trained
      if (span.stops && i == span.first) return;
    }
    TMLP_ASSERT(stats != nullptr);
    batch_norm_backward(rows, l.n_out, params + l.bn_offset, stats->rstd.data() + l.bn_stat,
                        stats->mean_d.data() + l.bn_stat, stats->mean_dx.data() + l.bn_stat,
                        ws.norm(i)->x_hat, d);
    dense_linear_backward(k, l, params, rows, in, d, grads, d_in, l.residual, add_dw);
  }
}

}  // namespace

const float* forward(const kernels::kernel_table& k, const network& net, const float* params,
                     std::size_t rows, const float* x, workspace& ws,
                     const dropout_context* drop) noexcept {
  return forward_layers(k, net, params, rows, x, ws, drop, nullptr,
                        {0, net.layers.size() - 1, false, false});
}

double loss_gradient(const network& net, std::size_t rows, const float* targets,
                     const float* weights, workspace& ws) noexcept {
  const float* y = ws.a(net.layers.size() - 1);
  return loss_forward_backward(net.loss, rows, net.n_outputs, y, targets, weights, ws.grad_a(0));
}

void backward(const kernels::kernel_table& k, const network& net, const float* params,
              std::size_t rows, const float* x, workspace& ws, float* grads) noexcept {
  TMLP_ASSERT(net.bn_layers.empty());
  backward_layers(k, net, params, rows, x, ws, grads, nullptr,
                  {0, net.layers.size() - 1, false, false});
}

const float* forward_stage(const kernels::kernel_table& k, const network& net, const float* params,
                           std::size_t rows, const float* x, workspace& ws,
                           const dropout_context* drop, const batch_stats& stats,
                           std::size_t stage) noexcept {
  return forward_layers(k, net, params, rows, x, ws, drop, &stats, span_of(net, stage));
}

void backward_stage(const kernels::kernel_table& k, const network& net, const float* params,
                    std::size_t rows, const float* x, workspace& ws, float* grads,
                    const batch_stats& stats, std::size_t stage) noexcept {
  // The same layers as forward stage `stage`, walked the other way: it resumes at its last layer
  // (a batch-norm layer) unless it is the last stage, and stops at its first unless stage 0.
  const stage_span f = span_of(net, stage);
  backward_layers(k, net, params, rows, x, ws, grads, &stats,
                  {f.first, f.last, f.stops, f.resumes});
}

void combine_moments(const network& net, std::size_t stage, std::span<workspace* const> shards,
                     batch_stats& stats) noexcept {
  const dense_layer& l = net.layers[net.bn_layers[stage]];
  const std::size_t n = l.n_out, layer = net.bn_layers[stage];
  // Chan et al.'s pairwise update, shards in order: count, mean and sum of squared deviations
  // (in var until divided by the count below).
  double count = 0.0;
  double* mean = stats.mean64.data() + l.bn_stat;
  double* m2 = stats.var.data() + l.bn_stat;
  for (workspace* ws : shards) {
    const double rows = static_cast<double>(ws->pass_rows());
    if (rows == 0.0) continue;
    const double* part = ws->bn_partial(layer);
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

void combine_grad_sums(const network& net, std::size_t stage, std::span<workspace* const> shards,
                       batch_stats& stats) noexcept {
  // Backward stage `stage` ended at batch-norm layer stage - 1.
  const std::size_t layer = net.bn_layers[stage - 1];
  const dense_layer& l = net.layers[layer];
  const std::size_t n = l.n_out;
  for (std::size_t j = 0; j < n; ++j) {
    double sum_d = 0.0, sum_dx = 0.0;
    for (workspace* ws : shards) {
      if (ws->pass_rows() == 0) continue;
      sum_d += ws->bn_partial(layer)[j];
      sum_dx += ws->bn_partial(layer)[n + j];
    }
    const double inv = stats.rows > 0 ? 1.0 / static_cast<double>(stats.rows) : 0.0;
    stats.mean_d[l.bn_stat + j] = static_cast<float>(sum_d * inv);
    stats.mean_dx[l.bn_stat + j] = static_cast<float>(sum_dx * inv);
  }
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

void fold_batch_norm(network& net, float* params) noexcept {
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
}

void embedding_backward(const network& net, std::size_t rows, const float* x, workspace& ws,
                        float* grads) noexcept {
  const std::size_t width = net.layers[0].n_in;
  for (const embedding_table& t : net.embeddings)
    std::fill(grads + t.offset, grads + t.offset + t.cardinality * t.dim, 0.0f);
  const float* d = ws.d_embedded();
  for (std::size_t r = 0; r < rows; ++r) {
    const float* dr = d + r * width + net.plain_columns.size();
    for (const embedding_table& t : net.embeddings) {
      float* g = grads + t.offset + t.row_of(x[r * net.n_inputs + t.column]) * t.dim;
      for (std::size_t q = 0; q < t.dim; ++q) g[q] += dr[q];
      dr += t.dim;
    }
  }
}

double forward_backward(const kernels::kernel_table& k, const network& net, const float* params,
                        std::size_t rows, const float* x, const float* targets,
                        const float* weights, workspace& ws, float* grads,
                        const dropout_context* drop, batch_stats* stats) noexcept {
  TMLP_ASSERT(net.bn_layers.empty() || stats != nullptr);
  if (net.bn_layers.empty()) {
    forward(k, net, params, rows, x, ws, drop);
    const double loss = loss_gradient(net, rows, targets, weights, ws);
    backward(k, net, params, rows, x, ws, grads);
    if (!net.embeddings.empty()) embedding_backward(net, rows, x, ws, grads);
    return loss;
  }
  // One block of rows is the whole batch: each merge sees one shard.
  workspace* const one[] = {&ws};
  const std::size_t n = n_stages(net);
  for (std::size_t s = 0; s + 1 < n; ++s) {
    forward_stage(k, net, params, rows, x, ws, drop, *stats, s);
    combine_moments(net, s, one, *stats);
  }
  forward_stage(k, net, params, rows, x, ws, drop, *stats, n - 1);
  const double loss = loss_gradient(net, rows, targets, weights, ws);
  for (std::size_t s = n; s-- > 0;) {
    backward_stage(k, net, params, rows, x, ws, grads, *stats, s);
    if (s > 0) combine_grad_sums(net, s, one, *stats);
  }
  if (!net.embeddings.empty()) embedding_backward(net, rows, x, ws, grads);
  return loss;
}

}  // namespace tmlp::core
