#include "train/reduce.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "core/parallel.hpp"
#include "train/gradient_engine.hpp"
#include "train/timer.hpp"

namespace tmlp::train {
namespace {

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

void gradient_engine::reduce(const kernels::kernel_table& k, std::size_t batch, float* grad) {
  const auto t0 = clock_type::now();
  const shard_plan& plan = plan_for(batch);
  // Over fixed parameter blocks; shards added in order 0..S-1, then scaled by 1/B. What each
  // shard's backward adds to (zeroed_) is zeroed while it is in cache.
  const std::size_t n = net_.n_dense_params;
  const float inv_b = 1.0f / static_cast<float>(batch);
  core::parallel_for_index((n + param_block - 1) / param_block, [&](std::size_t b) {
    const std::size_t lo = b * param_block, len = std::min(param_block, n - lo);
    if (!defer_ && plan.n_shards <= add_group && clip_value_ <= 0.0f) {
      // Every shard's block to add, no clipping: the copy, the additions, the scaling and the
      // sum of squares below in one pass over the block, with the same bits (kernel_table::
      // sum_scale_squares). At 2 threads on a Zen 5, H's reduce went from 111-138 to 72-76 µs.
      // (Up to add_group shards only for the fixed array of pointers; the sums' order is the
      // same for any count.)
      std::array<const float*, add_group> g;
      for (std::size_t s = 0; s < plan.n_shards; ++s) g[s] = shards_[s].grad.data() + lo;
      block_sq_[b] = k.sum_scale_squares(len, g.data(), plan.n_shards, inv_b, grad + lo);
      zero_added(0, plan.n_shards, lo, len);
      return;
    }
    if (!defer_)
      add_shards(k, 0, plan.n_shards, lo, len, grad);
    else  // the weight matrices weight_products() summed are there already
      for (const auto& [begin, end] : added_) {
        const std::size_t a = std::max(begin, lo), e = std::min(end, lo + len);
        if (a < e) add_shards(k, 0, plan.n_shards, a, e - a, grad);
      }
    k.scale(len, inv_b, grad + lo);
    block_sq_[b] = clip_square(grad + lo, len);
  });
  t_reduce_ += seconds(clock_type::now() - t0);
}

void gradient_engine::add_shards(const kernels::kernel_table& k, std::size_t s_begin,
                                 std::size_t s_end, std::size_t lo, std::size_t len,
                                 float* acc) noexcept {
  // acc += each shard's block, in order, up to add_group shards to a pass (reading them side by
  // side: reduce/B 5.0 -> 3.5 ms against one axpy pass per shard); shard 0's block is copied,
  // not added.
  std::array<const float*, add_group> g;
  for (std::size_t s0 = s_begin; s0 < s_end; s0 += add_group) {
    const std::size_t s1 = std::min(s_end, s0 + add_group);
    std::size_t m = 0;
    for (std::size_t s = s0; s < s1; ++s) {
      if (s == 0)
        std::memcpy(acc + lo, shards_[s].grad.data() + lo, len * sizeof(float));
      else
        g[m++] = shards_[s].grad.data() + lo;
    }
    if (m > 0) k.add_arrays(len, g.data(), m, acc + lo);
    zero_added(s0, s1, lo, len);
  }
}

void gradient_engine::zero_added(std::size_t s_begin, std::size_t s_end, std::size_t lo,
                                 std::size_t len) noexcept {
  for (std::size_t s = s_begin; s < s_end; ++s)
    for (const auto& [begin, end] : zeroed_) {
      const std::size_t a = std::max(begin, lo), b = std::min(end, lo + len);
      if (a < b) std::memset(shards_[s].grad.data() + a, 0, (b - a) * sizeof(float));
    }
}

double gradient_engine::clip_square(float* g, std::size_t len) const noexcept {
  const float cv = clip_value_;
  if (cv > 0.0f)
    for (std::size_t i = 0; i < len; ++i) g[i] = std::clamp(g[i], -cv, cv);
  return sum_of_squares(g, len);
}

void gradient_engine::collect_entries(std::size_t s_begin, std::size_t s_end) {
  const shard_plan& plan = plan_;
  entries_.clear();
  for (std::size_t s = s_begin; s < s_end; ++s) {
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
}

void gradient_engine::reduce_embeddings(std::size_t batch, float* grad) {
  const auto t0 = clock_type::now();
  const shard_plan& plan = plan_for(batch);
  // Only the table rows this batch used: the last batch's go back to zero, then every
  // (shard, row, table) share is added to its table row, shards and rows in order. Sorting by
  // (table row, shard, row) gives that order whatever the threads did.
  for (const sparse_row& t : touched_) std::fill(grad + t.offset, grad + t.offset + t.dim, 0.0f);
  touched_.clear();
  collect_entries(0, plan.n_shards);
  const std::size_t width = net_.layers[0].n_in, plain = net_.plain_columns.size();
  const float inv_b = 1.0f / static_cast<float>(batch);
  for (std::size_t i = 0; i < entries_.size();) {
    const entry& first = entries_[i];
    float* g = grad + first.offset;
    std::fill(g, g + first.dim, 0.0f);
    for (; i < entries_.size() && entries_[i].offset == first.offset; ++i) {
      const entry& e = entries_[i];
      const float* d =
          rooms_[e.shard].ws.floats(net_.embedded_grad) + e.row * width + plain + e.col;
      for (std::size_t q = 0; q < e.dim; ++q) g[q] += d[q];
    }
    for (std::size_t q = 0; q < first.dim; ++q) g[q] *= inv_b;
    touched_.push_back({first.offset, first.dim});
  }
  t_reduce_ += seconds(clock_type::now() - t0);
}

}  // namespace tmlp::train
