#include "train/step.hpp"

#include "core/assert.hpp"
#include "core/parallel.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace tmlp::train {
namespace {
using clock_type = std::chrono::steady_clock;
double seconds(clock_type::duration d) noexcept { return std::chrono::duration<double>(d).count(); }

// Sum of g[i]^2 in double, in a fixed order: eight interleaved partial sums (independent chains
// the compiler can vectorize without reassociating anything), then added pairwise.
double sum_of_squares(const float* g, std::size_t n) noexcept {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (std::size_t j = 0; j < 8; ++j) acc[j] += static_cast<double>(g[i + j]) * g[i + j];
  for (std::size_t j = 0; i < n; ++i, ++j) acc[j] += static_cast<double>(g[i]) * g[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}
}  // namespace

shard_plan plan_shards(std::size_t rows, std::size_t shard_rows, std::size_t max_shards) noexcept {
  // The power of two nearest (in ratio) to rows / shard_rows: n doubles while each shard would
  // still hold at least sqrt(2) * shard_rows rows. Power-of-two counts divide evenly among 2, 4,
  // 8 or 16 workers.
  const double limit =
      1.4142135623730951 * static_cast<double>(std::max<std::size_t>(shard_rows, 1));
  std::size_t n = 1;
  while (2 * n <= max_shards && 2 * n <= rows &&
         static_cast<double>(rows) / static_cast<double>(n) >= limit)
    n *= 2;
  return {rows, n};
}

gradient_engine::gradient_engine(const core::network& net, std::size_t max_batch,
                                 std::size_t shard_rows, std::size_t max_shards, float clip_value)
    : net_(net),
      max_batch_(max_batch),
      shard_rows_(shard_rows),
      max_shards_(max_shards),
      target_width_(core::target_width(net.loss.kind, net.n_outputs)),
      clip_value_(clip_value),
      stats_(net),
      block_sq_((net.n_dense_params + param_block - 1) / param_block) {
  // Workspaces must hold the largest shard of any batch up to max_batch (the last batch of an
  // epoch is shorter): scan them all once; the last shard of a plan is its largest.
  std::size_t max_rows = 1, n_shards = 1;
  for (std::size_t b = 1; b <= max_batch; ++b) {
    const shard_plan p = plan_shards(b, shard_rows, max_shards);
    max_rows = std::max(max_rows, p.size(p.n_shards - 1));
    n_shards = std::max(n_shards, p.n_shards);
  }
  shards_.reserve(n_shards);
  for (std::size_t s = 0; s < n_shards; ++s) {
    shards_.push_back(
        shard{core::workspace(net, max_rows), std::vector<float>(max_rows * net.n_inputs),
              std::vector<float>(max_rows * target_width_), std::vector<float>(max_rows),
              std::vector<float>(net.n_dense_params), 0.0});
  }
  for (shard& sh : shards_) {
    sh.ws.set_weight_grads_zeroed(true);  // reduce() zeroes each shard's gradient after use
    ws_.push_back(&sh.ws);
  }
  entries_.reserve(max_batch * net.embeddings.size());
  touched_.reserve(max_batch * net.embeddings.size());
}

const shard_plan& gradient_engine::plan_for(std::size_t batch) noexcept {
  if (plan_.rows != batch) plan_ = plan_shards(batch, shard_rows_, max_shards_);
  return plan_;
}

double gradient_engine::compute(const kernels::kernel_table& k, const float* params,
                                const row_source& x, const float* y, const float* w,
                                const std::uint32_t* idx, std::size_t batch, float* grad,
                                std::uint64_t dropout_key) {
  const shard_plan& plan = plan_for(batch);
  // Shard sizes differ by at most one row; the last one is the largest.
  TMLP_ASSERT(batch <= max_batch_ && plan.size(plan.n_shards - 1) <= shards_[0].ws.max_rows());
  const std::size_t tw = target_width_;

  auto gather = [&](shard& sh, std::size_t b0, std::size_t rows) {
    const auto t0 = clock_type::now();
    x.gather(idx + b0, rows, sh.x.data());
    for (std::size_t i = 0; i < rows; ++i) {
      const std::size_t row = idx[b0 + i];
      std::memcpy(sh.y.data() + i * tw, y + row * tw, tw * sizeof(float));
      if (w) sh.w[i] = w[row];
    }
    sh.t_gather += seconds(clock_type::now() - t0);
  };

  if (net_.bn_layers.empty()) {
    core::parallel_for_index(plan.n_shards, [&](std::size_t s) {
      shard& sh = shards_[s];
      const std::size_t b0 = plan.begin(s), rows = plan.size(s);
      gather(sh, b0, rows);
      const auto t1 = clock_type::now();
      const core::dropout_context drop{dropout_key, idx + b0};
      core::forward(k, net_, params, rows, sh.x.data(), sh.ws, net_.has_dropout ? &drop : nullptr);
      sh.loss = core::loss_gradient(net_, rows, sh.y.data(), w ? sh.w.data() : nullptr, sh.ws);
      const auto t2 = clock_type::now();
      core::backward(k, net_, params, rows, sh.x.data(), sh.ws, sh.grad.data());
      sh.t_forward += seconds(t2 - t1);
      sh.t_backward += seconds(clock_type::now() - t2);
    });
  } else {
    // Batch norm: the pass runs stage by stage over all shards, merging each batch-norm
    // layer's statistics in shard order in between (core/network.hpp).
    const std::size_t n_stages = core::n_stages(net_);
    const std::span<core::workspace* const> wss(ws_.data(), plan.n_shards);
    for (std::size_t stage = 0; stage < n_stages; ++stage) {
      core::parallel_for_index(plan.n_shards, [&](std::size_t s) {
        shard& sh = shards_[s];
        const std::size_t b0 = plan.begin(s), rows = plan.size(s);
        if (stage == 0) gather(sh, b0, rows);
        const auto t1 = clock_type::now();
        const core::dropout_context drop{dropout_key, idx + b0};
        core::forward_stage(k, net_, params, rows, sh.x.data(), sh.ws,
                            net_.has_dropout ? &drop : nullptr, stats_, stage);
        if (stage + 1 == n_stages) {
          sh.loss = core::loss_gradient(net_, rows, sh.y.data(), w ? sh.w.data() : nullptr, sh.ws);
          const auto t2 = clock_type::now();
          core::backward_stage(k, net_, params, rows, sh.x.data(), sh.ws, sh.grad.data(), stats_,
                               stage);
          sh.t_backward += seconds(clock_type::now() - t2);
          sh.t_forward += seconds(t2 - t1);
        } else {
          sh.t_forward += seconds(clock_type::now() - t1);
        }
      });
      if (stage + 1 < n_stages) core::combine_moments(net_, stage, wss, stats_);
    }
    for (std::size_t stage = n_stages - 1; stage-- > 0;) {
      core::combine_grad_sums(net_, stage + 1, wss, stats_);
      core::parallel_for_index(plan.n_shards, [&](std::size_t s) {
        shard& sh = shards_[s];
        const auto t0 = clock_type::now();
        core::backward_stage(k, net_, params, plan.size(s), sh.x.data(), sh.ws, sh.grad.data(),
                             stats_, stage);
        sh.t_backward += seconds(clock_type::now() - t0);
      });
    }
  }

  reduce(k, batch, grad);
  if (!net_.embeddings.empty()) reduce_embeddings(batch, grad);
  const auto t0 = clock_type::now();
  grad_sq_ = 0.0;
  for (double sq : block_sq_) grad_sq_ += sq;
  for (const sparse_row& row : touched_) grad_sq_ += clip_square(grad + row.offset, row.dim);
  t_reduce_ += seconds(clock_type::now() - t0);

  double loss = 0.0;
  for (std::size_t s = 0; s < plan.n_shards; ++s) loss += shards_[s].loss;
  return loss;
}

void gradient_engine::reduce(const kernels::kernel_table& k, std::size_t batch, float* grad) {
  const auto t0 = clock_type::now();
  const shard_plan& plan = plan_for(batch);
  // Over fixed parameter blocks; shards added in order 0..S-1, then scaled by 1/B. Each shard's
  // block is zeroed while it is in cache: the next backward adds its weight gradients to zeros.
  const std::size_t n = net_.n_dense_params;
  const float inv_b = 1.0f / static_cast<float>(batch);
  core::parallel_for_index((n + param_block - 1) / param_block, [&](std::size_t b) {
    const std::size_t lo = b * param_block, len = std::min(param_block, n - lo);
    for (std::size_t s = 0; s < plan.n_shards; ++s) {
      float* g = shards_[s].grad.data() + lo;
      if (s == 0)
        std::memcpy(grad + lo, g, len * sizeof(float));
      else
        k.axpy(len, 1.0f, g, grad + lo);
      std::memset(g, 0, len * sizeof(float));
    }
    k.scale(len, inv_b, grad + lo);
    block_sq_[b] = clip_square(grad + lo, len);
  });
  t_reduce_ += seconds(clock_type::now() - t0);
}

double gradient_engine::clip_square(float* g, std::size_t len) const noexcept {
  const float cv = clip_value_;
  if (cv > 0.0f)
    for (std::size_t i = 0; i < len; ++i) g[i] = std::clamp(g[i], -cv, cv);
  return sum_of_squares(g, len);
}

void gradient_engine::reduce_embeddings(std::size_t batch, float* grad) {
  const auto t0 = clock_type::now();
  const shard_plan& plan = plan_for(batch);
  // Only the table rows this batch used: the last batch's go back to zero, then every
  // (shard, row, table) share is added to its table row, shards and rows in order. Sorting by
  // (table row, shard, row) gives that order whatever the threads did.
  for (const sparse_row& t : touched_) std::fill(grad + t.offset, grad + t.offset + t.dim, 0.0f);
  touched_.clear();
  entries_.clear();
  for (std::size_t s = 0; s < plan.n_shards; ++s) {
    const float* xs = shards_[s].x.data();
    for (std::size_t r = 0; r < plan.size(s); ++r) {
      std::uint32_t col = 0;
      for (std::uint32_t e = 0; e < net_.embeddings.size(); ++e) {
        const core::embedding_table& t = net_.embeddings[e];
        const std::size_t row = t.row_of(xs[r * net_.n_inputs + t.column]);
        entries_.push_back({t.offset + row * t.dim, static_cast<std::uint32_t>(s),
                            static_cast<std::uint32_t>(r), col, static_cast<std::uint32_t>(t.dim)});
        col += static_cast<std::uint32_t>(t.dim);
      }
    }
  }
  std::sort(entries_.begin(), entries_.end(), [](const entry& a, const entry& b) {
    return a.offset != b.offset ? a.offset < b.offset
           : a.shard != b.shard ? a.shard < b.shard
                                : a.row < b.row;
  });
  const std::size_t width = net_.layers[0].n_in, plain = net_.plain_columns.size();
  const float inv_b = 1.0f / static_cast<float>(batch);
  for (std::size_t i = 0; i < entries_.size();) {
    const entry& first = entries_[i];
    float* g = grad + first.offset;
    std::fill(g, g + first.dim, 0.0f);
    for (; i < entries_.size() && entries_[i].offset == first.offset; ++i) {
      const entry& e = entries_[i];
      const float* d = shards_[e.shard].ws.d_embedded() + e.row * width + plain + e.col;
      for (std::size_t q = 0; q < e.dim; ++q) g[q] += d[q];
    }
    for (std::size_t q = 0; q < first.dim; ++q) g[q] *= inv_b;
    touched_.push_back({first.offset, first.dim});
  }
  t_reduce_ += seconds(clock_type::now() - t0);
}

phase_times gradient_engine::phases() const noexcept {
  phase_times p;
  for (const shard& sh : shards_) {
    p.gather += sh.t_gather;
    p.forward += sh.t_forward;
    p.backward += sh.t_backward;
  }
  p.reduce = t_reduce_;
  return p;
}

void gradient_engine::reset_phases() noexcept {
  for (shard& sh : shards_) sh.t_gather = sh.t_forward = sh.t_backward = 0.0;
  t_reduce_ = 0.0;
}

}  // namespace tmlp::train
