// One training step's gradient, computed data-parallel and deterministically.
//
// A batch of B rows is cut into S shards; S depends on B and the minimum shard size, never on
// the thread count. Each shard has its own gradient buffer; its forward and backward run in a
// workspace of its own where anything reads it after the shard's task (batch norm's merges, the
// embedding rows' gradients), else in one of a pool, one per task that can run at once. Workers
// (TBB tasks in the caller's arena) run gather, forward, loss and backward for whole shards. The
// reduction then runs in parallel over fixed blocks of the flat parameter vector: inside a block
// the shard gradients are added in the order 0..S-1 and scaled by 1/B. Every floating-point sum
// therefore has one order, and the result is bit-identical for any thread count. (Wide layers'
// weight gradients skip the shard buffers: one pass over all shards computes the same sums,
// train/weight_products.cpp.)
//
// The network's ops run in segments between barriers (batch norm, core/batch_norm.hpp): each
// segment runs in parallel over the shards, and at each barrier the workers meet while the
// shards' statistics are merged in shard order, forward and backward. A network without batch
// norm is one segment: one parallel loop per step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "core/aligned.hpp"
#include "core/bf16_operands.hpp"
#include "core/linear.hpp"
#include "core/network.hpp"
#include "kernels.hpp"
#include "tmlp/distributed.hpp"
#include "tmlp/matrix.hpp"
#include "tmlp/rows.hpp"
#include "tmlp/trainer.hpp"
#include "train/reduce.hpp"

namespace tmlp::train {

// How a batch of `rows` rows is cut: shard s covers rows [begin(s), begin(s + 1)).
struct shard_plan {
  std::size_t rows = 0;
  std::size_t n_shards = 0;
  std::size_t begin(std::size_t s) const noexcept { return s * rows / n_shards; }
  std::size_t size(std::size_t s) const noexcept { return begin(s + 1) - begin(s); }
};

// n_shards: the power of two nearest (in ratio) to rows / shard_rows, at most max_shards and
// rows, at least 1.
shard_plan plan_shards(std::size_t rows, std::size_t shard_rows, std::size_t max_shards) noexcept;

// The parameter vector is reduced and updated in blocks of this many floats: fixed, so the
// cut never depends on the thread count (and the kernels' results never depend on the cut).
inline constexpr std::size_t param_block = 16384;

// Time spent in each part of the step, in seconds, accumulated since the last reset.
// gather, forward (with the loss) and backward are summed over shards: worker time, which
// divided by the workers used approximates their share of the wall clock (backward includes the
// tasks of the wide layers' weight-gradient pass, train/weight_products.cpp). reduce and update
// are wall-clock times of their passes (reduce includes clipping and the gradient norm), and
// prepare that of transposing the weights for the GEMM backend (blas::wants_transposed_weights).
// Several processes (distributed): wait is the part of reduce spent waiting for other ranks
// (their shards, the chain, the broadcast), and bytes what this rank sent.
struct phase_times {
  double gather = 0.0, forward = 0.0, backward = 0.0, reduce = 0.0, update = 0.0, prepare = 0.0;
  double wait = 0.0;
  std::uint64_t bytes = 0;
};

// Rank r of R computes shards [begin(r), begin(r + 1)) of a plan of n_shards: contiguous, in
// rank order, at most one apart in count (a rank may have none when n_shards < R).
struct rank_shards {
  std::size_t n_shards = 0;
  int n_ranks = 1;
  std::size_t begin(int r) const noexcept {
    return n_shards * static_cast<std::size_t>(r) / static_cast<std::size_t>(n_ranks);
  }
  std::size_t count(int r) const noexcept { return begin(r + 1) - begin(r); }
  // Most shards any rank has: the width of the per-rank records exchanged.
  std::size_t max_count() const noexcept {
    return (n_shards + static_cast<std::size_t>(n_ranks) - 1) / static_cast<std::size_t>(n_ranks);
  }
};

// Why a step was abandoned before its update: stop requests, one bit per kind, from any rank.
enum stop_request : std::uint32_t { stop_none = 0, stop_cancel = 1, stop_callback = 2 };

class gradient_engine {
 public:
  // Sizes every buffer for batches of up to max_batch rows. No allocation after this. The
  // GEMM backend must stay the same for the engine's life.
  // clip_value > 0: compute() clamps each gradient value to [-clip_value, clip_value].
  // precision bf16: the layers' products read bfloat16 roundings (core::pass::bf16_params).
  gradient_engine(const core::network& net, std::size_t max_batch, std::size_t shard_rows,
                  std::size_t max_shards, float clip_value = 0.0f,
                  gemm_precision precision = gemm_precision::fp32);

  // Gradient of (1/B) sum_r w_r L_r over the rows idx[0..B) of x (n x n_inputs) with targets y
  // (n x target width) and weights w (n values, or nullptr), written to grad (n_params values;
  // embedding tables: see sparse_rows).
  // Must run inside the caller's task_arena. Returns sum_r w_r L_r (in double, shard sums added
  // in shard order). Layers with dropout draw their masks from dropout_key (core::dropout_key of
  // the seed and epoch) and each row's index idx[r].
  double compute(const kernels::kernel_table& k, const float* params, const row_source& x,
                 const float* y, const float* w, const std::uint32_t* idx, std::size_t batch,
                 float* grad, std::uint64_t dropout_key = 0);

  // Several processes: each computes its ranks' shards (rank_shards) and compute() reduces
  // over comm so that every rank ends with the gradient, loss and norm one process computes
  // (docs/DISTRIBUTED.md). nullptr or one rank: this process alone. Not owned.
  void distribute(communicator* comm) noexcept {
    comm_ = comm && comm->size() > 1 ? comm : nullptr;
  }
  // Distributed: this rank's stop requests for the step compute() runs next; after it, those
  // of every rank combined. When any is set compute() returns without reducing the gradient.
  void request_stop(std::uint32_t requests) noexcept { stop_ = requests; }
  std::uint32_t agreed_stop() const noexcept { return comm_ ? stop_ : stop_none; }
  double compute(const kernels::kernel_table& k, const float* params, matrix_view x, const float* y,
                 const float* w, const std::uint32_t* idx, std::size_t batch, float* grad,
                 std::uint64_t dropout_key = 0) {
    return compute(k, params, matrix_rows(x), y, w, idx, batch, grad, dropout_key);
  }

  // The second half of compute(): grad = (1/batch) * sum over shards, in order, of the shard
  // gradients left by the last pass over `batch` rows, clipped by value. Public for the
  // reduction benchmark.
  void reduce(const kernels::kernel_table& k, std::size_t batch, float* grad);

  // Sum of the squares of the last compute()'s (clipped) gradient, in double: the dense blocks'
  // sums in block order, then the embedding rows the batch used in offset order. Taken while
  // each block is in cache after its reduction.
  double grad_sq() const noexcept { return grad_sq_; }
  void set_grad_sq(double sq) noexcept { grad_sq_ = sq; }

  const shard_plan& plan_for(std::size_t batch) noexcept;

  // Phase times of compute() and reduce() since the last reset (update stays 0 here).
  phase_times phases() const noexcept;
  void reset_phases() noexcept;
  std::size_t max_shards() const noexcept { return shards_.size(); }
  // Shard s's gradient buffer (n_dense_params values): what its backward wrote, or zeros where
  // nothing did (pages of its own where it is large, so those parts take no memory).
  const float* shard_gradient(std::size_t s) const noexcept { return shards_[s].grad.data(); }
  // Workspaces (and scratch) the shards run in: one per shard where a barrier's merges or the
  // embedding tables' gradients read them after the shard's task; else one per task that can
  // run at once (the arena's threads, at most the shards), taken in turn.
  std::size_t rooms() const noexcept { return rooms_.size(); }
  // The workers compute() will run with (set-up, before any step): a pool gets one room for
  // each, at most one per shard. Without it the pool has one for each thread of the arena the
  // engine was made in, and compute() adds rooms if it runs in a wider one.
  void use_workers(std::size_t n);
  // Batch-norm statistics of the last compute() (empty vectors without batch norm).
  const core::batch_stats& batch_norm_stats() const noexcept { return stats_; }

  // Embedding tables: compute() writes the gradient of the table rows the batch used (and
  // zeroes those of the batch before) and leaves every other table value of grad as it was.
  // These are the rows it wrote, each dim values at offset, in offset order.
  std::span<const sparse_row> sparse_rows() const noexcept { return touched_; }

 private:
  struct shard {
    core::aligned_vector<float> x, y, w;
    core::zeroed_array<float> grad;  // pages never written take no memory
    double loss = 0.0;
    double t_gather = 0.0, t_forward = 0.0, t_backward = 0.0;
    std::vector<core::kept_operands> kept;         // per layer: pass::kept, where deferred_
    core::aligned_vector<float> kept_room;         // their rooms: fp32
    core::aligned_vector<core::bf16> kept_room16;  // or bf16
  };
  // What a shard's forward and backward work in: one per shard, or (pooled_) one per task
  // running at once, taken from free_rooms_ for the task (in_room).
  struct shard_room {
    core::workspace ws;
    core::aligned_vector<float> pad_scratch;     // pass::pad_scratch
    core::aligned_vector<float> bf16_x, bf16_d;  // precision bf16: pass::bf16_x, bf16_d
    std::optional<core::bf16_scratch> bf16_s;    // and on bf16 kernels: pass::bf16_s
  };
  std::size_t max_rows_ = 0;    // rows of the largest shard
  std::size_t pad_floats_ = 0;  // a room's pad_scratch
  bool pooled_ = false;
  std::vector<shard_room> rooms_;
  std::vector<std::size_t> free_rooms_;
  std::unique_ptr<std::mutex> rooms_lock_ = std::make_unique<std::mutex>();
  // Rooms up to n; all of them free and in ws_ (at set-up, between steps); a pool's size in
  // the current arena; runs f(room) for shard s's task.
  void add_rooms(std::size_t n);
  void index_rooms();
  std::size_t arena_rooms() const noexcept;
  template <class F>
  void in_room(std::size_t s, F&& f);
  const core::network& net_;
  std::size_t max_batch_, shard_rows_, max_shards_, target_width_;
  float clip_value_;
  std::vector<shard> shards_;
  // [begin, end) ranges of the dense parameters that a backward pass adds to, and so are kept
  // zeroed between passes: all but the linear layers' weight matrices, which it writes.
  std::vector<std::pair<std::size_t, std::size_t>> zeroed_;
  // One table row's share from one row of a shard: dim values at column col of the embedding
  // part of the shard's d_embedded() row.
  struct entry {
    std::size_t offset;
    std::uint32_t shard, row, col, dim;
  };
  void reduce_embeddings(std::size_t batch, float* grad);
  // acc[lo, lo + len) += shards s_begin..s_end-1's gradient there, in order (shard 0 copied,
  // not added), each shard's zeroed_ ranges there zeroed after: the one order of every
  // distribution.
  void add_shards(const kernels::kernel_table& k, std::size_t s_begin, std::size_t s_end,
                  std::size_t lo, std::size_t len, float* acc) noexcept;
  // Shards s_begin..s_end-1's zeroed_ ranges within [lo, lo + len) set to zero.
  void zero_added(std::size_t s_begin, std::size_t s_end, std::size_t lo, std::size_t len) noexcept;
  static constexpr std::size_t add_group = 16;  // shards add_arrays reads in one pass
  // Clamps g[0..len) to [-clip_value, clip_value] (if on); returns the sum of the squares.
  double clip_square(float* g, std::size_t len) const noexcept;

  // The weights as the products read them (bf16 roundings, transposed and padded copies), once
  // per step, before any shard runs.
  void prepare_weights(const kernels::kernel_table& k, const float* params);
  // Forward and backward of shard s's rows through the network, segment by segment.
  void run_shards(const kernels::kernel_table& k, const float* params, const row_source& x,
                  const float* y, const float* w, const std::uint32_t* idx,
                  std::uint64_t dropout_key);
  std::vector<core::workspace*> ws_;  // each room's workspace: a shard's, for the barriers' merges
  core::batch_stats stats_;
  std::vector<entry> entries_;
  std::vector<sparse_row> touched_;
  shard_plan plan_;
  std::vector<double> block_sq_;  // per parameter block, from reduce()
  double grad_sq_ = 0.0;
  double t_reduce_ = 0.0, t_prepare_ = 0.0;
  // The step's weight matrices transposed (core::transpose_weights), read by every shard;
  // empty when the GEMM backend does not want them.
  core::aligned_vector<float> transposed_;
  // And the weight matrices with padded rows (core::pad_weights), read by the input gradients.
  core::aligned_vector<float> padded_;
  // precision bf16: the dense parameters with the weight matrices rounded, once per step; on
  // bf16 kernels (blas::bf16_kernels), the linear layers' weights as they read them, too.
  core::aligned_vector<float> bf16_params_;
  std::optional<core::bf16_weights> bf16_weights_;
  // On bf16 kernels, per layer: whether this step's bf16_params_ and transposed_ hold its
  // matrices (core::bf16_kernels_cover is false for one of its shard sizes).
  std::vector<char> bf16_fallback_;

  // The weight gradients multiplied over every shard at once (train/weight_products.cpp): the
  // linear layers whose shards keep their operands for it (a W of weight_products_min or more,
  // fp32 products on libxsmm's AVX-512 code or bf16 ones on vdpbf16ps kernels: defer_bf16_),
  // the blocks of their W that are its tasks, and the dense parameters the reduction adds shard
  // by shard (all but those W) in a step that runs it (defer_: defers(plan)).
  struct weight_block {
    std::size_t layer, i0, i1, j0, j1;  // rows [i0, i1) and columns [j0, j1) of its W
  };
  std::vector<std::size_t> deferred_;
  std::vector<weight_block> weight_blocks_;
  std::vector<double> block_seconds_;
  std::vector<std::pair<std::size_t, std::size_t>> added_;
  bool defer_ = false, defer_bf16_ = false;
  double t_weights_ = 0.0;
  void plan_weight_products(gemm_precision precision);
  // Whether a step of this plan runs it: one process, shards of 2 rows or more, and (bf16) a
  // kernel for each shard's product.
  bool defers(const shard_plan& plan) const noexcept;
  void weight_products(const shard_plan& plan, float* grad);

  // Several processes (train/reduce_ranks.cpp).
  communicator* comm_ = nullptr;
  std::uint32_t stop_ = stop_none;
  rank_shards ranks_;
  std::vector<double> records_, gathered_;  // per-rank records of the exchanges
  std::vector<std::uint64_t> chain_meta_;   // embedding rows in the chain: offset, dim
  std::vector<float> chain_values_, chain_out_;
  core::aligned_vector<float> chain_dense_;  // a rank before the last: its partial sums, sent on
  static constexpr std::size_t bcast_blocks = 4;  // blocks per broadcast of the result
  std::vector<std::uint64_t> chain_out_meta_;
  double t_wait_ = 0.0;
  bool owns(std::size_t s) const noexcept {
    return s >= ranks_.begin(rank()) && s < ranks_.begin(rank() + 1);
  }
  int rank() const noexcept { return comm_ ? comm_->rank() : 0; }
  void merge_barrier(std::size_t seg);  // the barrier's partials from every rank
  double exchange_losses();             // the batch's loss, and the stop requests
  void reduce_chain(const kernels::kernel_table& k, std::size_t batch, float* grad);
  void reduce_embeddings_chain(std::size_t batch, float* grad);
  void collect_entries(std::size_t s_begin, std::size_t s_end);
  void broadcast_result(float* grad);
  template <class F>
  void waiting(F&& f);
};

}  // namespace tmlp::train
