#include "train/train_step.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/parallel.hpp"
#include "train/timer.hpp"

namespace tmlp::train {

int choose_workers(const core::network& net, std::size_t batch, std::size_t n_shards,
                   int n_threads) noexcept {
  constexpr double min_flops_per_worker = 2e6;
  std::size_t n_weights = 0;
  for (const auto& l : net.layers) n_weights += l.n_in * l.n_out;
  for (const auto& t : net.periodic) n_weights += 2 * t.n_frequencies * t.dim;
  const double flops = 6.0 * static_cast<double>(batch) * static_cast<double>(n_weights);
  const auto by_work = static_cast<std::size_t>(std::max(1.0, flops / min_flops_per_worker));
  return static_cast<int>(
      std::min({static_cast<std::size_t>(std::max(n_threads, 1)), n_shards, by_work}));
}

train_step::train_step(const core::network& net, const train_config& config, std::size_t max_batch,
                       std::size_t steps_per_epoch, communicator* comm)
    : net_(net),
      seed_(config.seed),
      clip_norm_(config.clip_norm),
      engine_(net, max_batch, config.shard_rows, config.max_shards, config.clip_value,
              config.precision),
      opt_(config.opt, config, net.n_params),
      sched_(config.sched, opt_.base_lr(), config.epochs, steps_per_epoch),
      grad_(net.n_params),
      backup_(net.n_params),
      block_finite_((net.n_dense_params + param_block - 1) / param_block, 1) {
  engine_.distribute(comm);
}

train_step::result train_step::run(const kernels::kernel_table& k, float* params,
                                   const row_source& x, const float* y, const float* w,
                                   const std::uint32_t* idx, std::size_t rows, std::size_t epoch,
                                   std::size_t step, observer* obs, std::uint32_t stop) {
  result r;
  r.lr = sched_.at(epoch, step);
  engine_.request_stop(stop);
  r.loss_sum =
      engine_.compute(k, params, x, y, w, idx, rows, grad_.data(), core::dropout_key(seed_, epoch));
  r.stopped = engine_.agreed_stop();
  if (r.stopped != stop_none) return r;  // every rank abandons the step alike
  const double grad_sq = engine_.grad_sq();
  r.finite = std::isfinite(r.loss_sum) && std::isfinite(grad_sq);
  if (!r.finite) return r;  // the parameters stay the last finite ones
  if (obs != nullptr) obs->inspect(params, grad_.data());
  r.finite = apply(k, params, r.lr, std::sqrt(grad_sq));
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

void train_step::update_unfrozen(const kernels::kernel_table& k, std::size_t lo, std::size_t len,
                                 float* params) noexcept {
  // The optimizer's updates are element by element, so cutting a block around the frozen
  // ranges changes no value.
  std::size_t p = lo;
  const std::size_t hi = lo + len;
  for (const core::network::param_range& f : net_.frozen) {
    if (f.end <= p) continue;
    if (f.begin >= hi) break;
    if (f.begin > p) opt_.update(k, p, f.begin - p, grad_.data(), params);
    p = std::min(f.end, hi);
  }
  if (p < hi) opt_.update(k, p, hi - p, grad_.data(), params);
}

bool train_step::apply(const kernels::kernel_table& k, float* params, float lr, double grad_norm) {
  const float scale = clip_norm_ > 0.0f && grad_norm > clip_norm_
                          ? static_cast<float>(clip_norm_ / grad_norm)
                          : 1.0f;
  const auto t0 = clock_type::now();
  opt_.begin_step(lr);
  const std::size_t n = net_.n_dense_params;
  auto update = [&](std::size_t lo, std::size_t len) {
    std::memcpy(backup_.data() + lo, params + lo, len * sizeof(float));
    if (scale != 1.0f) k.scale(len, scale, grad_.data() + lo);
    update_unfrozen(k, lo, len, params);
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
    // The running statistics, which the optimizer skipped, follow this batch's statistics.
    core::update_running_stats(net_, engine_.batch_norm_stats(), params);
  }
  t_update_ += seconds_since(t0);
  return finite;
}

phase_times train_step::phases() const noexcept {
  phase_times p = engine_.phases();
  p.update = t_update_;
  return p;
}

void train_step::reset_phases() noexcept {
  engine_.reset_phases();
  t_update_ = 0.0;
}

}  // namespace tmlp::train
