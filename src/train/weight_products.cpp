// The weight gradients of wide linear layers, multiplied over every shard at once.
//
// One product per shard wrote each shard's dW into its own gradient buffer (beta 0) and the
// reduction added them in shard order: for B's 1024 x 1024 layers, 4 MB written and read back
// per shard and layer, 16 shards a step. Here each shard's backward keeps dZ and X instead
// (core::kept_operands), and after every shard has run, blas::sgemm_tn_segments (fp32) or
// blas::bgemm_segments (bf16) multiplies them block by block of W: each shard's sum from zero
// in the order of its rows, added to the sum of the shards before it, in shard order. Those are
// the bits the per-shard products and the reduction gave (where tn_segments_run and
// bgemm_segments_run say the backend's products sum that way), so a step gives the same result
// with or without it, for any thread count; ranks keep the per-shard products.
#include <algorithm>
#include <array>

#include "blas/blas.hpp"
#include "core/bf16_operands.hpp"
#include "core/linear.hpp"
#include "core/parallel.hpp"
#include "train/gradient_engine.hpp"
#include "train/timer.hpp"

namespace tmlp::train {
namespace {

// Layers whose W has at least this many values (2 MB of fp32, twice L2 here): at 2 threads B's
// 1024 x 1024 layers trained 3-16% faster with the pass than without, 512 x 512 ones (2^18)
// -4% to +2%.
constexpr std::size_t weight_products_min = std::size_t{1} << 19;

// A task's block of W: 258 rows (43 of the fp32 kernel's 6-row panels, on which its blocks must
// start) x 256 columns, about 256 KB of C kept in L2 while every shard's operands for it stream
// past: each shard's dZ and X are read from beyond L2 once per block of W they meet (a 1024 x
// 1024 W: 4 x 4 blocks; 96 x 256 blocks, 11 x 4 of them, ran 141 GFLOP/s per thread in B's
// steps against 165 alone).
constexpr std::size_t block_rows = 258, block_cols = 256;
static_assert(block_rows % blas::tn_panel == 0 && block_cols % blas::tn_strip == 0);

}  // namespace

void gradient_engine::plan_weight_products(gemm_precision precision) {
  // fp32 products, or bf16 ones on bf16 kernels (then bf16_weights_ is set).
  const bool bf16 = precision == gemm_precision::bf16;
  if (bf16 && !bf16_weights_) return;
  defer_bf16_ = bf16;
  for (std::size_t i = 0; i < net_.layers.size(); ++i) {
    const core::dense_layer& l = net_.layers[i];
    const bool runs =
        bf16 ? blas::bgemm_segments_run(l.n_out, l.n_in) : blas::tn_segments_run(l.n_out, l.n_in);
    if (l.n_in * l.n_out >= weight_products_min && runs) deferred_.push_back(i);
  }
  if (deferred_.empty()) return;
  const std::size_t max_rows = max_rows_;
  // Each layer's room in a shard: fp32 packed dZ and X, or bf16 dZᵀ and X's pairs of rows,
  // each on a new cache line.
  auto room_a = [&](const core::dense_layer& l) {
    return bf16 ? core::line_multiple<core::bf16>(l.n_out * core::even(max_rows))
                : core::line_multiple<float>(blas::tn_packed_a(max_rows, l.n_out));
  };
  auto room_b = [&](const core::dense_layer& l) {
    return bf16 ? core::line_multiple<core::bf16>(core::even(max_rows) * core::bf16_ld(l.n_in))
                : core::line_multiple<float>(blas::tn_packed_b(max_rows, l.n_in));
  };
  std::size_t room = 0;
  for (const std::size_t i : deferred_) {
    const core::dense_layer& l = net_.layers[i];
    room += room_a(l) + room_b(l);
    for (std::size_t r = 0; r < l.n_out; r += block_rows)
      for (std::size_t c = 0; c < l.n_in; c += block_cols)
        weight_blocks_.push_back(
            {i, r, std::min(l.n_out, r + block_rows), c, std::min(l.n_in, c + block_cols)});
  }
  block_seconds_.resize(weight_blocks_.size());
  for (shard& sh : shards_) {
    sh.kept.resize(net_.layers.size());
    if (bf16)
      sh.kept_room16.resize(room);
    else
      sh.kept_room.resize(room);
    std::size_t at = 0;
    for (const std::size_t i : deferred_) {
      const core::dense_layer& l = net_.layers[i];
      core::kept_operands& kp = sh.kept[i];
      if (bf16) {
        kp.d_z16 = sh.kept_room16.data() + at;
        kp.x16 = kp.d_z16 + room_a(l);
      } else {
        kp.d_z = sh.kept_room.data() + at;
        kp.x = kp.d_z + room_a(l);
      }
      at += room_a(l) + room_b(l);
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

bool gradient_engine::defers(const shard_plan& plan) const noexcept {
  if (deferred_.empty() || comm_ != nullptr || plan.size(0) < 2) return false;
  // Each shard's own product (which ranks run) must sum as the pass does: one bgemm runs on a
  // bf16 kernel, or one sgemm runs on libxsmm's kernels rather than, past their sizes,
  // OpenBLAS's (shards have one or two sizes: the first and the last).
  for (const std::size_t i : deferred_) {
    const core::dense_layer& l = net_.layers[i];
    for (const std::size_t rows : {plan.size(0), plan.size(plan.n_shards - 1)}) {
      const std::size_t k = core::even(rows);
      if (defer_bf16_
              ? !blas::bgemm_runs(l.n_out, l.n_in, k, k, core::bf16_ld(l.n_in), 0.0f, l.n_in)
              : !blas::tn_segment_runs(l.n_out, l.n_in, rows))
        return false;
    }
  }
  return true;
}

void gradient_engine::weight_products(const shard_plan& plan, float* grad) {
  core::parallel_for_index(weight_blocks_.size(), [&](std::size_t t) {
    const auto t0 = clock_type::now();
    const weight_block& w = weight_blocks_[t];
    const core::dense_layer& l = net_.layers[w.layer];
    float* c = grad + l.w_offset + w.i0 * l.n_in + w.j0;
    const std::size_t m = w.i1 - w.i0, n = w.j1 - w.j0;
    constexpr std::size_t group = 32;  // shards per call; later calls add to C
    for (std::size_t s0 = 0; s0 < plan.n_shards; s0 += group) {
      const std::size_t count = std::min(group, plan.n_shards - s0);
      const float beta = s0 == 0 ? 0.0f : 1.0f;
      if (defer_bf16_) {
        std::array<blas::bf16_segment, group> segs;
        for (std::size_t q = 0; q < count; ++q) {
          const core::kept_operands& kp = shards_[s0 + q].kept[w.layer];
          const std::size_t k = core::even(kp.rows);
          segs[q] = {kp.d_z16 + w.i0 * k, k, kp.x16 + 2 * w.j0, core::bf16_ld(l.n_in), k};
        }
        blas::bgemm_segments(m, n, {segs.data(), count}, beta, c, l.n_in);
      } else {
        std::array<blas::tn_segment, group> segs;
        for (std::size_t q = 0; q < count; ++q) {
          const core::kept_operands& kp = shards_[s0 + q].kept[w.layer];
          segs[q] = {kp.d_z + w.i0 * kp.rows, kp.x + w.j0 * kp.rows, kp.rows};
        }
        blas::sgemm_tn_segments(m, n, {segs.data(), count}, beta, c, l.n_in);
      }
    }
    block_seconds_[t] = seconds_since(t0);
  });
  for (const double s : block_seconds_) t_weights_ += s;
}

}  // namespace tmlp::train
