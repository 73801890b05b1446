#include "train/stepper.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/parallel.hpp"

namespace tmlp::train {

int choose_workers(const core::network& net, std::size_t batch, std::size_t n_shards,
                   int n_threads) noexcept {
  constexpr double min_flops_per_worker = 2e6;
  std::size_t n_weights = 0;
  for (const auto& l : net.layers) n_weights += l.n_in * l.n_out;
  const double flops = 6.0 * static_cast<double>(batch) * static_cast<double>(n_weights);
  const auto by_work = static_cast<std::size_t>(std::max(1.0, flops / min_flops_per_worker));
  return static_cast<int>(
      std::min({static_cast<std::size_t>(std::max(n_threads, 1)), n_shards, by_work}));
}

stepper::stepper(const core::network& net, const train_config& config, std::size_t max_batch)
    : net_(net),
      clip_norm_(config.clip_norm),
      engine_(net, max_batch, config.shard_rows, config.max_shards, config.clip_value),
      opt_(config.opt, config, net.n_params),
      grad_(net.n_params),
      backup_(net.n_params),
      block_finite_((net.n_dense_params + param_block - 1) / param_block, 1) {}

stepper::gradient_result stepper::gradient(const kernels::kernel_table& k, const float* params,
                                           const row_source& x, const float* y, const float* w,
                                           const std::uint32_t* idx, std::size_t rows,
                                           std::uint64_t dropout_key) {
  gradient_result r;
  r.loss_sum = engine_.compute(k, params, x, y, w, idx, rows, grad_.data(), dropout_key);
  const double sq = engine_.grad_sq();
  r.grad_norm = std::sqrt(sq);
  r.finite = std::isfinite(r.loss_sum) && std::isfinite(sq);
  return r;
}

namespace {
// True if no value of p[0..n) is infinite or NaN (all exponent bits set). Integer ops, so the
// compiler vectorizes it without reordering any floating-point arithmetic.
bool all_finite(const float* p, std::size_t n) noexcept {
  std::uint32_t bad = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, p + i, sizeof bits);
    bad |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}
}  // namespace

bool stepper::apply(const kernels::kernel_table& k, float* params, float lr, double grad_norm) {
  const float scale = clip_norm_ > 0.0f && grad_norm > clip_norm_
                          ? static_cast<float>(clip_norm_ / grad_norm)
                          : 1.0f;
  const auto t0 = std::chrono::steady_clock::now();
  opt_.begin_step(lr);
  const std::size_t n = net_.n_dense_params;
  auto update = [&](std::size_t lo, std::size_t len) {
    std::memcpy(backup_.data() + lo, params + lo, len * sizeof(float));
    if (scale != 1.0f) k.scale(len, scale, grad_.data() + lo);
    opt_.update(k, lo, len, grad_.data(), params);
    return all_finite(params + lo, len);
  };
  core::parallel_for_index(block_finite_.size(), [&](std::size_t b) {
    const std::size_t lo = b * param_block;
    block_finite_[b] = update(lo, std::min(param_block, n - lo));
  });
  bool finite = std::find(block_finite_.begin(), block_finite_.end(), 0) == block_finite_.end();
  // Embedding tables: only the rows the batch used (lazily, like a sparse optimizer).
  const auto rows = engine_.sparse_rows();
  for (const auto& row : rows) finite = update(row.offset, row.dim) && finite;
  if (!finite) {
    std::copy(backup_.begin(), backup_.begin() + n, params);
    for (const auto& row : rows)
      std::copy(backup_.begin() + row.offset, backup_.begin() + row.offset + row.dim,
                params + row.offset);
  } else if (!net_.bn_layers.empty()) {
    // The running statistics are no optimizer's (weight decay or momentum would move them):
    // back to their values before the update, then moved toward this batch's statistics.
    for (std::size_t layer : net_.bn_layers) {
      const core::dense_layer& l = net_.layers[layer];
      const std::size_t lo = l.bn_offset + 2 * l.n_out, hi = lo + 2 * l.n_out;
      std::copy(backup_.begin() + lo, backup_.begin() + hi, params + lo);
    }
    core::update_running_stats(net_, engine_.batch_norm_stats(), params);
  }
  t_update_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return finite;
}

phase_times stepper::phases() const noexcept {
  phase_times p = engine_.phases();
  p.update = t_update_;
  return p;
}

void stepper::reset_phases() noexcept {
  engine_.reset_phases();
  t_update_ = 0.0;
}

}  // namespace tmlp::train
