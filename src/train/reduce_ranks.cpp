// The gradient engine on several processes: the exchanges that give every rank the result one
// process computes (docs/DISTRIBUTED.md).
//
// Rank r runs shards [begin(r), begin(r + 1)) of every batch (rank_shards). Every sum the
// engine makes over shards keeps its one-process order:
// - the barriers' partials and the shards' losses are small: every rank gathers every shard's
//   (all_gather) and merges them in shard order itself;
// - the dense gradient is added in a chain, block by block: the first rank with shards adds
//   its shards to a block and sends the partial sum on, the next adds its own shards to it,
//   and so on; the last rank scales and clips it. Receives are posted ahead, and the rank's
//   threads add a window of blocks at a time, which is sent on at once: transfers overlap
//   the adding of the next window. The last rank broadcasts each chunk of finished blocks at
//   once, so the broadcast overlaps the chain;
// - the embedding rows the batch used go down the same chain as sparse partial sums;
// - the last rank then broadcasts the gradient's squared norm and the used rows.
#include <algorithm>
#include <cstring>

#include <tbb/task_arena.h>

#include "core/network.hpp"
#include "core/parallel.hpp"
#include "core/workspace.hpp"
#include "train/gradient_engine.hpp"
#include "train/timer.hpp"

namespace tmlp::train {
namespace {

template <class T>
std::span<const std::byte> bytes_of(const T* p, std::size_t n) {
  return std::as_bytes(std::span<const T>(p, n));
}
template <class T>
std::span<std::byte> writable_bytes_of(T* p, std::size_t n) {
  return std::as_writable_bytes(std::span<T>(p, n));
}

// The ranks before and after r in the chain: those with at least one shard.
int chain_prev(const rank_shards& rs, int r) {
  for (int q = r - 1; q >= 0; --q)
    if (rs.count(q) > 0) return q;
  return -1;
}
int chain_next(const rank_shards& rs, int r) {
  for (int q = r + 1; q < rs.n_ranks; ++q)
    if (rs.count(q) > 0) return q;
  return -1;
}

}  // namespace

template <class F>
void gradient_engine::waiting(F&& f) {
  const auto t0 = clock_type::now();
  f();
  t_wait_ += seconds_since(t0);
}

void gradient_engine::merge_barrier(std::size_t seg) {
  // Each rank's record: for each of its shards (max_count slots), the rows of its last pass
  // and its partials; every rank then holds every shard's, as one process would.
  const auto t0 = clock_type::now();
  const core::op& barrier = core::barrier_of(net_, seg);
  const std::size_t width = 1 + barrier.partials(rooms_[0].ws).size();
  const std::size_t per_rank = ranks_.max_count() * width;
  records_.assign(per_rank, 0.0);
  const int me = rank();
  for (std::size_t i = 0; i < ranks_.count(me); ++i) {
    core::workspace& ws = rooms_[ranks_.begin(me) + i].ws;
    const std::span<double> part = barrier.partials(ws);
    records_[i * width] = static_cast<double>(ws.pass_rows);
    std::copy(part.begin(), part.end(),
              records_.begin() + static_cast<std::ptrdiff_t>(i * width + 1));
  }
  gathered_.resize(per_rank * static_cast<std::size_t>(ranks_.n_ranks));
  waiting([&] {
    comm_->all_gather(bytes_of(records_.data(), records_.size()),
                      writable_bytes_of(gathered_.data(), gathered_.size()));
  });
  for (int q = 0; q < ranks_.n_ranks; ++q) {
    if (q == me) continue;
    for (std::size_t i = 0; i < ranks_.count(q); ++i) {
      const double* rec = gathered_.data() + static_cast<std::size_t>(q) * per_rank + i * width;
      core::workspace& ws = rooms_[ranks_.begin(q) + i].ws;
      ws.pass_rows = static_cast<std::size_t>(rec[0]);
      const std::span<double> part = barrier.partials(ws);
      std::copy(rec + 1, rec + width, part.begin());
    }
  }
  t_reduce_ += seconds_since(t0);
}

double gradient_engine::exchange_losses() {
  // Each rank's record: its stop requests, then its shards' losses; every rank adds the losses
  // in shard order from 0, as one process does.
  const auto t0 = clock_type::now();
  const std::size_t per_rank = 1 + ranks_.max_count();
  records_.assign(per_rank, 0.0);
  const int me = rank();
  records_[0] = static_cast<double>(stop_);
  for (std::size_t i = 0; i < ranks_.count(me); ++i)
    records_[1 + i] = shards_[ranks_.begin(me) + i].loss;
  gathered_.resize(per_rank * static_cast<std::size_t>(ranks_.n_ranks));
  waiting([&] {
    comm_->all_gather(bytes_of(records_.data(), records_.size()),
                      writable_bytes_of(gathered_.data(), gathered_.size()));
  });
  double loss = 0.0;
  std::uint32_t stop = stop_none;
  for (int q = 0; q < ranks_.n_ranks; ++q) {
    const double* rec = gathered_.data() + static_cast<std::size_t>(q) * per_rank;
    stop |= static_cast<std::uint32_t>(rec[0]);
    for (std::size_t i = 0; i < ranks_.count(q); ++i) loss += rec[1 + i];
  }
  stop_ = stop;
  t_reduce_ += seconds_since(t0);
  return loss;
}

void gradient_engine::reduce_chain(const kernels::kernel_table& k, std::size_t batch, float* grad) {
  const auto t0 = clock_type::now();
  const int me = rank(), root = ranks_.n_ranks - 1;
  const std::size_t first = ranks_.begin(me), count = ranks_.count(me);
  const std::size_t n = net_.n_dense_params, n_blocks = (n + param_block - 1) / param_block;
  auto block_len = [&](std::size_t b) { return std::min(param_block, n - b * param_block); };
  // The result goes out from the last rank in chunks of bcast_blocks blocks as soon as each is
  // done, overlapping the chain; every other rank posts all the chunks' receives now.
  const std::size_t n_chunks = (n_blocks + bcast_blocks - 1) / bcast_blocks;
  auto chunk = [&](std::size_t c) {
    const std::size_t lo = c * bcast_blocks * param_block;
    return writable_bytes_of(grad + lo, std::min(bcast_blocks * param_block, n - lo));
  };
  if (me != root)
    for (std::size_t c = 0; c < n_chunks; ++c) comm_->post_broadcast(root, chunk(c));
  if (count > 0) {
    // A rank before the last adds into its own buffer, which it sends on while the result
    // arrives in grad.
    const int prev = chain_prev(ranks_, me), next = chain_next(ranks_, me);
    float* acc = grad;
    if (next >= 0) {
      chain_dense_.resize(n);
      acc = chain_dense_.data();
    }
    if (prev >= 0)
      for (std::size_t b = 0; b < n_blocks; ++b)
        comm_->post_recv(prev, writable_bytes_of(acc + b * param_block, block_len(b)));
    const float inv_b = 1.0f / static_cast<float>(batch);
    // Windows of as many blocks as the arena has threads: each window's blocks are received in
    // order, added in parallel (the same operations, in the same order, as reduce() on one
    // process, whatever the window), then sent on while the next window is added.
    const std::size_t window =
        static_cast<std::size_t>(std::max(1, tbb::this_task_arena::max_concurrency()));
    std::size_t chunks_sent = 0;
    for (std::size_t w0 = 0; w0 < n_blocks; w0 += window) {
      const std::size_t w1 = std::min(n_blocks, w0 + window);
      if (prev >= 0)
        waiting([&] {
          for (std::size_t b = w0; b < w1; ++b) comm_->wait_recv();
        });
      core::parallel_for_index(w1 - w0, [&](std::size_t i) {
        const std::size_t b = w0 + i, lo = b * param_block, len = block_len(b);
        add_shards(k, first, first + count, lo, len, acc);
        if (next < 0) {
          k.scale(len, inv_b, acc + lo);
          block_sq_[b] = clip_square(acc + lo, len);
        }
      });
      if (next >= 0) {
        for (std::size_t b = w0; b < w1; ++b)
          comm_->post_send(next, bytes_of(acc + b * param_block, block_len(b)));
      } else {
        for (; chunks_sent < n_chunks && std::min((chunks_sent + 1) * bcast_blocks, n_blocks) <= w1;
             ++chunks_sent)
          comm_->post_broadcast(root, chunk(chunks_sent));
      }
    }
  }
  waiting([&] { comm_->wait_all(); });
  t_reduce_ += seconds_since(t0);
}

void gradient_engine::reduce_embeddings_chain(std::size_t batch, float* grad) {
  // Partial sums of the table rows the batch used, in offset order: (offset, dim) pairs in
  // chain_meta_ and their values in chain_values_. Each rank adds its shards' shares to the
  // rows it received (or to zeros) in (shard, row) order, as reduce_embeddings() does.
  const auto t0 = clock_type::now();
  const int me = rank();
  const std::size_t first = ranks_.begin(me), count = ranks_.count(me);
  if (count == 0) return;
  const int prev = chain_prev(ranks_, me), next = chain_next(ranks_, me);
  std::uint64_t sizes[2] = {0, 0};  // rows, values
  chain_meta_.clear();
  chain_values_.clear();
  if (prev >= 0) {
    comm_->post_recv(prev, writable_bytes_of(sizes, 2));
    waiting([&] { comm_->wait_recv(); });
    chain_meta_.resize(2 * sizes[0]);
    chain_values_.resize(sizes[1]);
    comm_->post_recv(prev, writable_bytes_of(chain_meta_.data(), chain_meta_.size()));
    comm_->post_recv(prev, writable_bytes_of(chain_values_.data(), chain_values_.size()));
    waiting([&] { comm_->wait_all(); });
  }
  collect_entries(first, first + count);
  const std::size_t width = net_.layers[0].n_in, plain = net_.plain_columns.size();
  chain_out_meta_.clear();
  chain_out_.clear();
  std::size_t in_row = 0, in_value = 0, i = 0;
  while (in_row < sizes[0] || i < entries_.size()) {
    const std::uint64_t received = in_row < sizes[0] ? chain_meta_[2 * in_row] : UINT64_MAX;
    const std::uint64_t local = i < entries_.size() ? entries_[i].offset : UINT64_MAX;
    const std::uint64_t offset = std::min(received, local);
    const std::size_t dim = offset == received ? chain_meta_[2 * in_row + 1] : entries_[i].dim;
    const std::size_t at = chain_out_.size();
    if (offset == received) {
      chain_out_.insert(chain_out_.end(),
                        chain_values_.begin() + static_cast<std::ptrdiff_t>(in_value),
                        chain_values_.begin() + static_cast<std::ptrdiff_t>(in_value + dim));
      in_value += dim;
      ++in_row;
    } else {
      chain_out_.resize(at + dim, 0.0f);
    }
    float* g = chain_out_.data() + at;
    for (; i < entries_.size() && entries_[i].offset == offset; ++i) {
      const entry& e = entries_[i];
      const float* d =
          rooms_[e.shard].ws.floats(net_.embedded_grad) + e.row * width + plain + e.col;
      for (std::size_t q = 0; q < e.dim; ++q) g[q] += d[q];
    }
    chain_out_meta_.push_back(offset);
    chain_out_meta_.push_back(dim);
  }
  if (next >= 0) {
    sizes[0] = chain_out_meta_.size() / 2;
    sizes[1] = chain_out_.size();
    comm_->post_send(next, bytes_of(sizes, 2));
    comm_->post_send(next, bytes_of(chain_out_meta_.data(), chain_out_meta_.size()));
    comm_->post_send(next, bytes_of(chain_out_.data(), chain_out_.size()));
    waiting([&] { comm_->wait_all(); });
  } else {
    // The last rank: scaled by 1/B into grad, as reduce_embeddings() leaves them.
    for (const sparse_row& t : touched_) std::fill(grad + t.offset, grad + t.offset + t.dim, 0.0f);
    touched_.clear();
    const float inv_b = 1.0f / static_cast<float>(batch);
    std::size_t v = 0;
    for (std::size_t r = 0; r < chain_out_meta_.size() / 2; ++r) {
      const std::size_t offset = chain_out_meta_[2 * r], dim = chain_out_meta_[2 * r + 1];
      float* g = grad + offset;
      std::copy(chain_out_.begin() + static_cast<std::ptrdiff_t>(v),
                chain_out_.begin() + static_cast<std::ptrdiff_t>(v + dim), g);
      for (std::size_t q = 0; q < dim; ++q) g[q] *= inv_b;
      v += dim;
      touched_.push_back({offset, dim});
    }
  }
  t_reduce_ += seconds_since(t0);
}

void gradient_engine::broadcast_result(float* grad) {
  // The last rank (which always has shards) finishes as compute() does on one process, then
  // sends the squared norm and the embedding rows used to every rank (the dense gradient went
  // out during the chain).
  const auto t0 = clock_type::now();
  const int root = ranks_.n_ranks - 1;
  const bool is_root = rank() == root;
  if (is_root) {
    grad_sq_ = 0.0;
    for (double sq : block_sq_) grad_sq_ += sq;
    for (const sparse_row& row : touched_) grad_sq_ += clip_square(grad + row.offset, row.dim);
  }
  struct {
    double grad_sq;
    std::uint64_t rows, values;
  } head{grad_sq_, 0, 0};
  if (is_root) {
    chain_out_meta_.clear();
    chain_out_.clear();
    for (const sparse_row& row : touched_) {
      chain_out_meta_.push_back(row.offset);
      chain_out_meta_.push_back(row.dim);
      chain_out_.insert(chain_out_.end(), grad + row.offset, grad + row.offset + row.dim);
    }
    head.rows = touched_.size();
    head.values = chain_out_.size();
  }
  waiting([&] { comm_->broadcast(root, writable_bytes_of(&head, 1)); });
  if (head.rows > 0) {
    chain_out_meta_.resize(2 * head.rows);
    chain_out_.resize(head.values);
    waiting([&] {
      comm_->broadcast(root, writable_bytes_of(chain_out_meta_.data(), chain_out_meta_.size()));
      comm_->broadcast(root, writable_bytes_of(chain_out_.data(), chain_out_.size()));
    });
  }
  if (!is_root) {
    grad_sq_ = head.grad_sq;
    for (const sparse_row& t : touched_) std::fill(grad + t.offset, grad + t.offset + t.dim, 0.0f);
    touched_.clear();
    std::size_t v = 0;
    for (std::size_t r = 0; r < head.rows; ++r) {
      const std::size_t offset = chain_out_meta_[2 * r], dim = chain_out_meta_[2 * r + 1];
      std::copy(chain_out_.begin() + static_cast<std::ptrdiff_t>(v),
                chain_out_.begin() + static_cast<std::ptrdiff_t>(v + dim), grad + offset);
      v += dim;
      touched_.push_back({offset, dim});
    }
  }
  t_reduce_ += seconds_since(t0);
}

}  // namespace tmlp::train
