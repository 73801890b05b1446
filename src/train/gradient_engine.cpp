#include "train/gradient_engine.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>

#include <tbb/task_arena.h>

#include "blas/blas.hpp"
#include "core/assert.hpp"
#include "core/linear.hpp"
#include "core/parallel.hpp"
#include "train/timer.hpp"

namespace tmlp::train {

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
                                 std::size_t shard_rows, std::size_t max_shards, float clip_value,
                                 gemm_precision precision)
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
  max_rows_ = max_rows;
  shards_.reserve(n_shards);
  for (std::size_t s = 0; s < n_shards; ++s) {
    shards_.push_back(shard{core::aligned_vector<float>(max_rows * net.n_inputs),
                            core::aligned_vector<float>(max_rows * target_width_),
                            core::aligned_vector<float>(max_rows),
                            core::zeroed_array<float>(net.n_dense_params), 0.0});
  }
  // Each shard's gradient starts at zero; reduce() zeroes again what the backward adds to.
  std::vector<std::pair<std::size_t, std::size_t>> written;
  for (const core::dense_layer& l : net.layers)
    written.emplace_back(l.w_offset, l.w_offset + l.n_in * l.n_out);
  std::sort(written.begin(), written.end());
  std::size_t from = 0;
  for (const auto& [begin, end] : written) {
    if (begin > from) zeroed_.emplace_back(from, begin);
    from = std::max(from, end);
  }
  if (from < net.n_dense_params) zeroed_.emplace_back(from, net.n_dense_params);
  if (blas::wants_transposed_weights()) transposed_.resize(net.n_transposed);
  // Padded copies for the products on fp32 kernels (bf16 kernels read bf16_weights_ instead).
  if (blas::wants_transposed_weights() &&
      !(precision == gemm_precision::bf16 && blas::bf16_kernels())) {
    padded_.resize(net.n_padded);
    std::size_t widest = 0;
    for (const core::dense_layer& l : net.layers)
      widest = std::max(widest, core::padded_rows_room(l));
    pad_floats_ = max_rows * widest;
  }
  if (precision == gemm_precision::bf16) {
    bf16_params_.resize(net.n_dense_params);
    if (blas::bf16_kernels()) {
      bf16_weights_.emplace(net);
      bf16_fallback_.resize(net.layers.size());
    }
  }
  // A network in one segment without embedding tables leaves nothing in a shard's room that
  // is read after the shard's task: its shards share a pool of rooms, one per task running at
  // once. Otherwise (a barrier's merges, the embedding rows' gradients) each shard has its own.
  pooled_ = net.n_segments() == 1 && net.embeddings.empty();
  add_rooms(pooled_ ? arena_rooms() : n_shards);
  plan_weight_products(precision);
  entries_.reserve(max_batch * net.embeddings.size());
  touched_.reserve(max_batch * net.embeddings.size());
}

std::size_t gradient_engine::arena_rooms() const noexcept {
  return std::min<std::size_t>(shards_.size(), static_cast<std::size_t>(std::max(
                                                   1, tbb::this_task_arena::max_concurrency())));
}

void gradient_engine::add_rooms(std::size_t n) {
  if (rooms_.size() >= n) return;
  while (rooms_.size() < n) {
    shard_room r{
        core::workspace(net_, max_rows_), core::aligned_vector<float>(pad_floats_), {}, {}, {}};
    if (!bf16_params_.empty()) {  // precision bf16
      r.bf16_x.resize(max_rows_ * net_.max_width);
      r.bf16_d.resize(max_rows_ * net_.max_width);
    }
    if (bf16_weights_) r.bf16_s.emplace(max_rows_, net_.max_width);
    rooms_.push_back(std::move(r));
  }
  index_rooms();
}

void gradient_engine::index_rooms() {
  free_rooms_.clear();
  ws_.clear();
  for (std::size_t i = 0; i < rooms_.size(); ++i) {
    free_rooms_.push_back(i);
    ws_.push_back(&rooms_[i].ws);
  }
}

void gradient_engine::use_workers(std::size_t n) {
  if (!pooled_) return;
  const std::size_t want = std::min(shards_.size(), std::max<std::size_t>(n, 1));
  if (rooms_.size() > want) {
    rooms_.erase(rooms_.begin() + static_cast<std::ptrdiff_t>(want), rooms_.end());
    index_rooms();
  }
  add_rooms(want);
}

template <class F>
void gradient_engine::in_room(std::size_t s, F&& f) {
  if (!pooled_) {
    f(rooms_[s]);
    return;
  }
  // Isolated: a nested parallel loop in the task cannot take another shard's task onto this
  // thread while it holds the room. The thread takes its own room, the one numbered as its slot
  // in the arena, whenever that is free (it always is where the arena has no more threads than
  // rooms), so a room's activations stay in one core's caches from step to step. Taken from the
  // top of the free list instead, a room went to whichever thread asked next, and its lines
  // came from the other core's caches: at 2 threads with the CPUs on different dies, A trained
  // 3% (fp32) and 7% (bf16) fewer samples/s that way (medians of 8 pairs; README, Performance).
  tbb::this_task_arena::isolate([&] {
    std::size_t i = 0;
    {
      const std::lock_guard<std::mutex> hold(*rooms_lock_);
      TMLP_ASSERT(!free_rooms_.empty());
      const int slot = tbb::this_task_arena::current_thread_index();
      auto own = std::find(free_rooms_.begin(), free_rooms_.end(), static_cast<std::size_t>(slot));
      if (slot < 0 || own == free_rooms_.end()) own = free_rooms_.end() - 1;
      i = *own;
      free_rooms_.erase(own);
    }
    f(rooms_[i]);
    const std::lock_guard<std::mutex> hold(*rooms_lock_);
    free_rooms_.push_back(i);
  });
}

const shard_plan& gradient_engine::plan_for(std::size_t batch) noexcept {
  if (plan_.rows != batch) plan_ = plan_shards(batch, shard_rows_, max_shards_);
  return plan_;
}

void gradient_engine::prepare_weights(const kernels::kernel_table& k, const float* params) {
  const auto t_prep = clock_type::now();
  const float* bf16 = bf16_params_.empty() ? nullptr : bf16_params_.data();
  const char* only = nullptr;
  if (bf16_weights_) {
    bf16_weights_->prepare(k, params);
    // The fp32 roundings and their transposed copy only for the layers with a product this
    // step runs without a bf16 kernel (a shard of one row, one output, a projection).
    const shard_plan& plan = plan_;
    std::fill(bf16_fallback_.begin(), bf16_fallback_.end(), char{0});
    for (std::size_t s = 0; s < plan.n_shards; ++s)
      if (s == 0 || plan.size(s) != plan.size(s - 1))
        for (std::size_t i = 0; i < net_.layers.size(); ++i)
          bf16_fallback_[i] |=
              static_cast<char>(!core::bf16_kernels_cover(net_.layers[i], plan.size(s)));
    only = bf16_fallback_.data();
  }
  if (bf16 != nullptr) core::round_weights_bf16(k, net_, params, bf16_params_.data(), only);
  const float* from = bf16 != nullptr ? bf16 : params;
  if (!transposed_.empty()) core::transpose_weights(k, net_, from, transposed_.data(), only);
  if (!padded_.empty()) core::pad_weights(net_, from, padded_.data());
  if (bf16 != nullptr || !transposed_.empty()) t_prepare_ += seconds_since(t_prep);
}

void gradient_engine::run_shards(const kernels::kernel_table& k, const float* params,
                                 const row_source& x, const float* y, const float* w,
                                 const std::uint32_t* idx, std::uint64_t dropout_key) {
  const shard_plan& plan = plan_;
  const std::size_t tw = target_width_, n_segments = net_.n_segments();
  const std::span<core::workspace* const> wss(ws_.data(), pooled_ ? 0 : plan.n_shards);  // merges
  // This process's shards: all of them, or its rank's range.
  const std::size_t first = ranks_.begin(rank()), n_local = ranks_.count(rank());
  prepare_weights(k, params);
  const float* bf16 = bf16_params_.empty() ? nullptr : bf16_params_.data();
  const float* transposed = transposed_.empty() ? nullptr : transposed_.data();
  const float* padded = padded_.empty() ? nullptr : padded_.data();
  auto pass_of = [&](shard& sh, shard_room& r, std::size_t s, const core::dropout_context& drop) {
    core::pass p{k,       params,        plan.size(s), r.ws, net_.has_dropout ? &drop : nullptr,
                 &stats_, sh.grad.data()};
    p.transposed = transposed;
    p.padded = padded;
    if (!r.pad_scratch.empty()) p.pad_scratch = r.pad_scratch.data();
    if (defer_) p.kept = sh.kept.data();
    if (bf16 != nullptr) {
      p.bf16_params = bf16;
      p.bf16_x = r.bf16_x.data();
      p.bf16_d = r.bf16_d.data();
      if (bf16_weights_) {
        p.bf16_w = &*bf16_weights_;
        p.bf16_s = &*r.bf16_s;
      }
    }
    return p;
  };
  auto gather = [&](shard& sh, std::size_t b0, std::size_t rows) {
    const auto t0 = clock_type::now();
    x.gather(idx + b0, rows, sh.x.data());
    for (std::size_t i = 0; i < rows; ++i) {
      const std::size_t row = idx[b0 + i];
      std::memcpy(sh.y.data() + i * tw, y + row * tw, tw * sizeof(float));
      if (w) sh.w[i] = w[row];
    }
    sh.t_gather += seconds_since(t0);
  };

  // Forward segment by segment; the last one goes on with the loss and its own backward.
  for (std::size_t seg = 0; seg < n_segments; ++seg) {
    core::parallel_for_index(n_local, [&](std::size_t i) {
      const std::size_t s = first + i;
      shard& sh = shards_[s];
      const std::size_t b0 = plan.begin(s), rows = plan.size(s);
      if (seg == 0) gather(sh, b0, rows);
      const core::dropout_context drop{dropout_key, idx + b0};
      in_room(s, [&](shard_room& r) {
        const core::pass p = pass_of(sh, r, s, drop);
        const auto t1 = clock_type::now();
        core::forward_segment(p, net_, seg, sh.x.data());
        if (seg + 1 < n_segments) {
          sh.t_forward += seconds_since(t1);
          return;
        }
        sh.loss = core::loss_gradient(net_, rows, sh.y.data(), w ? sh.w.data() : nullptr, r.ws);
        const auto t2 = clock_type::now();
        core::backward_segment(p, net_, seg);
        sh.t_forward += seconds(t2 - t1);
        sh.t_backward += seconds_since(t2);
      });
    });
    if (seg + 1 < n_segments) {
      if (comm_) merge_barrier(seg);
      core::barrier_of(net_, seg).merge_forward(wss, stats_);
    }
  }
  // Backward through the segments before the last, each after its barrier's merge.
  for (std::size_t seg = n_segments - 1; seg-- > 0;) {
    if (comm_) merge_barrier(seg);
    core::barrier_of(net_, seg).merge_backward(wss, stats_);
    core::parallel_for_index(n_local, [&](std::size_t i) {
      const std::size_t s = first + i;
      shard& sh = shards_[s];
      const core::dropout_context drop{dropout_key, idx + plan.begin(s)};
      const auto t0 = clock_type::now();
      core::backward_segment(pass_of(sh, rooms_[s], s, drop), net_, seg);  // not pooled
      sh.t_backward += seconds_since(t0);
    });
  }
}

double gradient_engine::compute(const kernels::kernel_table& k, const float* params,
                                const row_source& x, const float* y, const float* w,
                                const std::uint32_t* idx, std::size_t batch, float* grad,
                                std::uint64_t dropout_key) {
  const shard_plan& plan = plan_for(batch);
  // Shard sizes differ by at most one row; the last one is the largest.
  TMLP_ASSERT(batch <= max_batch_ && plan.size(plan.n_shards - 1) <= max_rows_);
  // A pool needs a room for each task that may run at once (an arena wider than the one the
  // engine was made in: more rooms, once).
  if (pooled_) add_rooms(arena_rooms());
  ranks_ = rank_shards{plan.n_shards, comm_ ? comm_->size() : 1};
  defer_ = defers(plan);
  run_shards(k, params, x, y, w, idx, dropout_key);
  if (comm_) {
    const double loss = exchange_losses();
    if (stop_ != stop_none) {  // abandoned by every rank alike: the shards start clean again
      for (std::size_t s = ranks_.begin(rank()); s < ranks_.begin(rank() + 1); ++s)
        std::fill(shards_[s].grad.begin(), shards_[s].grad.end(), 0.0f);
      return loss;
    }
    reduce_chain(k, batch, grad);
    if (!net_.embeddings.empty()) reduce_embeddings_chain(batch, grad);
    broadcast_result(grad);
    return loss;
  }

  if (defer_) weight_products(plan, grad);
  reduce(k, batch, grad);
  if (!net_.embeddings.empty()) reduce_embeddings(batch, grad);
  const auto t0 = clock_type::now();
  grad_sq_ = 0.0;
  for (double sq : block_sq_) grad_sq_ += sq;
  for (const sparse_row& row : touched_) grad_sq_ += clip_square(grad + row.offset, row.dim);
  t_reduce_ += seconds_since(t0);

  double loss = 0.0;
  for (std::size_t s = 0; s < plan.n_shards; ++s) loss += shards_[s].loss;
  return loss;
}

phase_times gradient_engine::phases() const noexcept {
  phase_times p;
  for (const shard& sh : shards_) {
    p.gather += sh.t_gather;
    p.forward += sh.t_forward;
    p.backward += sh.t_backward;
  }
  p.backward += t_weights_;
  p.reduce = t_reduce_;
  p.prepare = t_prepare_;
  p.wait = t_wait_;
  p.bytes = comm_ ? comm_->bytes_sent() : 0;
  return p;
}

void gradient_engine::reset_phases() noexcept {
  for (shard& sh : shards_) sh.t_gather = sh.t_forward = sh.t_backward = 0.0;
  t_reduce_ = t_wait_ = t_prepare_ = t_weights_ = 0.0;
}

}  // namespace tmlp::train
