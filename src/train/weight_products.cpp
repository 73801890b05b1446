// The weight gradients of wide linear layers, multiplied over every shard at once.
//
// One product per shard wrote each shard's dW into its own gradient buffer (beta 0) and the
// reduction added them in shard order: for B's 1024 x 1024 layers, 4 MB written and read back
// per shard and layer, 16 shards a step. Here each shard's backward keeps dZ and X instead
// (core::kept_operands), and after every shard has run, blas::sgemm_tn_segments multiplies
// them block by block of W: each shard's sum from zero in the order of its rows, added to the
// sum of the shards before it, in shard order. Those are the bits the per-shard products and
// the reduction gave (where blas::tn_segments_run says the backend's products sum that way), so
// a step gives the same result with or without it, for any thread count.
#include <algorithm>
#include <array>

#include "blas/blas.hpp"
#include "core/linear.hpp"
#include "core/parallel.hpp"
#include "train/gradient_engine.hpp"
#include "train/timer.hpp"

namespace tmlp::train {
namespace {

// Layers whose W has at least this many values (1 MB of fp32): a shard's dW of it no longer
// fits in L2 beside the products' operands.
constexpr std::size_t weight_products_min = std::size_t{1} << 18;

// A task's block of W: 96 rows (16 of the kernel's 6-row panels) by 256 columns (4 of its
// 64-column strips), multiples of both.
constexpr std::size_t block_rows = 96, block_cols = 256;

}  // namespace

void gradient_engine::plan_weight_products() {
  for (std::size_t i = 0; i < net_.layers.size(); ++i) {
    const core::dense_layer& l = net_.layers[i];
    if (l.n_in * l.n_out >= weight_products_min && blas::tn_segments_run(l.n_out, l.n_in))
      deferred_.push_back(i);
  }
  if (deferred_.empty()) return;
  const std::size_t max_rows = shards_[0].ws.max_rows();
  std::size_t room = 0;
  for (const std::size_t i : deferred_) {
    const core::dense_layer& l = net_.layers[i];
    room += blas::tn_packed_a(max_rows, l.n_out) + blas::tn_packed_b(max_rows, l.n_in);
    for (std::size_t r = 0; r < l.n_out; r += block_rows)
      for (std::size_t c = 0; c < l.n_in; c += block_cols)
        weight_blocks_.push_back(
            {i, r, std::min(l.n_out, r + block_rows), c, std::min(l.n_in, c + block_cols)});
  }
  block_seconds_.resize(weight_blocks_.size());
  for (shard& sh : shards_) {
    sh.kept.resize(net_.layers.size());
    sh.kept_room.resize(room);
    float* at = sh.kept_room.data();
    for (const std::size_t i : deferred_) {
      const core::dense_layer& l = net_.layers[i];
      sh.kept[i].d_z = at;
      at += blas::tn_packed_a(max_rows, l.n_out);
      sh.kept[i].x = at;
      at += blas::tn_packed_b(max_rows, l.n_in);
    }
  }
  // The reduction adds the shards' gradients everywhere but in those W.
  std::vector<std::pair<std::size_t, std::size_t>> skipped;
  for (const std::size_t i : deferred_) {
    const core::dense_layer& l = net_.layers[i];
    skipped.emplace_back(l.w_offset, l.w_offset + l.n_in * l.n_out);
  }
  std::sort(skipped.begin(), skipped.end());
  std::size_t from = 0;
  for (const auto& [begin, end] : skipped) {
    if (begin > from) added_.emplace_back(from, begin);
    from = end;
  }
  if (from < net_.n_dense_params) added_.emplace_back(from, net_.n_dense_params);
}

void gradient_engine::weight_products(const shard_plan& plan, float* grad) {
  core::parallel_for_index(weight_blocks_.size(), [&](std::size_t t) {
    const auto t0 = clock_type::now();
    const weight_block& w = weight_blocks_[t];
    const core::dense_layer& l = net_.layers[w.layer];
    float* c = grad + l.w_offset + w.i0 * l.n_in + w.j0;
    std::array<blas::tn_segment, 32> segs;
    for (std::size_t s0 = 0; s0 < plan.n_shards; s0 += segs.size()) {
      const std::size_t n = std::min(segs.size(), plan.n_shards - s0);
      for (std::size_t q = 0; q < n; ++q) {
        const core::kept_operands& kp = shards_[s0 + q].kept[w.layer];
        segs[q] = {kp.d_z + w.i0 * kp.rows, kp.x + w.j0 * kp.rows, kp.rows};
      }
      blas::sgemm_tn_segments(w.i1 - w.i0, w.j1 - w.j0, {segs.data(), n}, s0 == 0 ? 0.0f : 1.0f, c,
                              l.n_in);
    }
    block_seconds_[t] = seconds_since(t0);
  });
  for (const double s : block_seconds_) t_weights_ += s;
}

}  // namespace tmlp::train
