// The training loop: a fit_plan (validated rows and sizes), the step owner (train_step), and
// the policies that run at each epoch's end (train/policies.hpp).
#include <algorithm>
#include <atomic>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <tbb/task_arena.h>

#include "blas/blas.hpp"
#include "core/model_impl.hpp"
#include "io/file_io.hpp"
#include "tmlp/distributed.hpp"
#include "tmlp/error.hpp"
#include "tmlp/trainer.hpp"
#include "train/fit_plan.hpp"
#include "train/policies.hpp"
#include "train/split.hpp"
#include "train/timer.hpp"
#include "train/train_step.hpp"
#include "train/training_state.hpp"

namespace tmlp {

trainer::trainer(train_config config) : config_(std::move(config)) { validate(config_); }
trainer::~trainer() = default;

fit_result trainer::fit(model& m, matrix_view x, matrix_view y, std::span<const float> weights) {
  return fit(m, x, y, matrix_view{}, matrix_view{}, weights);
}

fit_result trainer::fit(model& m, matrix_view x, matrix_view y, matrix_view x_valid,
                        matrix_view y_valid, std::span<const float> weights) {
  // In-memory features are checked for finite values here, once; a row_source promises them.
  const std::size_t n_in = core::model_impl(m).net.n_inputs;
  train::check_matrix("x", x, x.rows, n_in);
  const bool separate_valid = x_valid.data != nullptr || x_valid.rows != 0;
  if (separate_valid) train::check_matrix("x_valid", x_valid, x_valid.rows, n_in);
  const matrix_rows xr(x), xvr(x_valid);
  return run(m, xr, y, separate_valid ? &xvr : nullptr, y_valid, weights);
}

fit_result trainer::fit(model& m, const row_source& x, matrix_view y, const row_source* x_valid,
                        matrix_view y_valid, std::span<const float> weights) {
  return run(m, x, y, x_valid, y_valid, weights);
}

namespace {

// One epoch's steps: the rows of its batches, their loss, and how the epoch ended.
struct epoch_steps {
  double loss = 0.0;
  std::size_t rows = 0;
  float lr = 0.0f;
  std::optional<fit_status> stopped;  // set when the fit must end during the epoch
};

fit_status status_of(std::uint32_t stop) noexcept {
  return (stop & train::stop_cancel) != 0 ? fit_status::cancelled : fit_status::stopped_by_callback;
}

// Several processes: every rank's record (stop requests, and a hash of what it computed)
// combined, the requests or'ed; throws collective_error on every rank if the hashes differ.
std::uint32_t agree(communicator* comm, std::uint32_t stop, std::uint64_t hash, std::size_t epoch) {
  if (comm == nullptr) return stop;
  const std::uint64_t mine[2] = {stop, hash};
  std::vector<std::uint64_t> all(2 * static_cast<std::size_t>(comm->size()));
  comm->all_gather(std::as_bytes(std::span(mine)), std::as_writable_bytes(std::span(all)));
  std::uint32_t agreed = train::stop_none;
  for (int r = 0; r < comm->size(); ++r) {
    agreed |= static_cast<std::uint32_t>(all[2 * static_cast<std::size_t>(r)]);
    if (all[2 * static_cast<std::size_t>(r) + 1] != all[1])
      throw collective_error(
          errc::invalid_data,
          fmt::format("ranks disagree after epoch {}: rank {} computed another loss than rank 0 "
                      "(different data or build?)",
                      epoch, r));
  }
  return agreed;
}

std::uint64_t hash_of(const epoch_report& rep) noexcept {
  const double values[3] = {rep.train_loss, rep.valid_loss.value_or(0.0),
                            rep.valid_metric.value_or(0.0)};
  return io::fnv1a(reinterpret_cast<const unsigned char*>(values), sizeof values);
}

// The steps of epoch `epoch` over the rows in `order`; counts them in result.n_steps, and sets
// result.status if the fit ends before the epoch's first step. On several processes a stop
// (cancel, or on_batch returning false) travels with the next step and ends the epoch on every
// rank at the same step, before its update; one requested after the last step is agreed on
// at the epoch's end.
epoch_steps run_epoch(const train_config& cfg, const std::atomic<bool>& cancelled,
                      communicator* comm, train::train_step& step, train::health_policy& health,
                      tbb::task_arena& arena, const train::fit_plan& plan,
                      const std::vector<std::uint32_t>& order, std::size_t epoch, float* params,
                      fit_result& result) {
  const kernels::kernel_table& k = kernels::active();
  epoch_steps e;
  std::uint32_t pending = train::stop_none;
  for (std::size_t b = 0; b < plan.n_batches; ++b) {
    if (cancelled.load(std::memory_order_relaxed)) {
      pending |= train::stop_cancel;
      if (comm == nullptr) break;
    }
    const std::size_t b0 = b * plan.batch, rows = std::min(plan.batch, plan.n_train - b0);
    train::train_step::result r;
    arena.execute([&] {
      r = step.run(k, params, *plan.x, plan.y.data, plan.weights, order.data() + b0, rows, epoch, b,
                   health.for_step(b + 1 == plan.n_batches), pending);
    });
    if (r.stopped != train::stop_none) {
      pending = train::stop_none;
      e.stopped = status_of(r.stopped);
      break;
    }
    e.lr = r.lr;
    if (!r.finite) {  // the parameters are those before this step: the last finite ones
      e.stopped = fit_status::diverged;
      break;
    }
    ++result.n_steps;
    e.loss += r.loss_sum;
    e.rows += rows;
    if (cfg.on_batch && !cfg.on_batch(batch_report{epoch + 1, b + 1, plan.n_batches,
                                                   r.loss_sum / static_cast<double>(rows), r.lr})) {
      pending |= train::stop_callback;
      if (comm == nullptr) break;
    }
  }
  if (!e.stopped && comm != nullptr) pending = agree(comm, pending, 0, epoch + 1);
  if (!e.stopped && pending != train::stop_none) e.stopped = status_of(pending);
  if (e.rows == 0 && e.stopped) result.status = *e.stopped;
  return e;
}

}  // namespace

fit_result trainer::run(model& m, const row_source& x, matrix_view y, const row_source* x_valid,
                        matrix_view y_valid, std::span<const float> weights) {
  cancelled_.store(false, std::memory_order_relaxed);
  const train_config& cfg = config_;
  const core::network& net = core::model_impl(m).net;
  float* params = core::model_impl(m).params.data();
  // A resume state is used by this fit() only.
  const std::optional<training_state> resume = std::exchange(resume_, std::nullopt);
  const train::fit_plan plan = train::make_fit_plan(cfg, net, x, y, x_valid, y_valid, weights);
  // Each worker runs its own GEMMs: a threaded OpenBLAS runs on one thread until fit returns.
  const blas::single_thread_scope blas_pin;
  fit_result result{.n_shards = plan.n_shards,
                    .n_workers = static_cast<std::size_t>(plan.n_workers),
                    .notes = plan.notes};
  if (!blas_pin.note().empty()) result.notes.push_back(blas_pin.note());
  communicator* const comm = comm_ != nullptr && comm_->size() > 1 ? comm_ : nullptr;
  train::train_step step(net, cfg, plan.batch, plan.n_batches, comm);
  step.use_workers(static_cast<std::size_t>(plan.n_workers));
  train::validation_policy validation(net, plan);
  train::health_policy health(net, plan);
  train::early_stopping_policy early(cfg, net.n_params);
  const train::checkpoint_policy checkpoints(cfg);
  tbb::task_arena arena(plan.n_workers);
  std::size_t last_epoch = 0;  // 1-based, 0 = none
  if (resume) {
    last_epoch = train::checkpoint_policy::restore(*resume, cfg, step, early);
    result.n_steps = train::state_of(*resume).n_steps;
    result.best_epoch = early.best_epoch();
    result.best_loss = early.best_loss();
  }
  std::vector<std::uint32_t> order;
  order.reserve(plan.n_train);

  for (std::size_t epoch = last_epoch; epoch < cfg.epochs; ++epoch) {
    const auto t0 = train::clock_type::now();
    order = plan.train_rows;
    train::shuffle_epoch(cfg.seed, epoch, order);
    health.begin_epoch();
    const epoch_steps e =
        run_epoch(cfg, cancelled_, comm, step, health, arena, plan, order, epoch, params, result);
    if (e.rows == 0) break;  // cancelled or diverged before the epoch's first step

    epoch_report rep{.epoch = epoch + 1,
                     .train_loss = e.loss / static_cast<double>(e.rows),
                     .metric_name = validation.metric_name(),
                     .lr = e.lr};
    const kernels::kernel_table& k = kernels::active();
    validation.run(arena, k, params, rep);
    health.report(arena, k, params, validation.transposed(), rep);
    const double monitored = rep.valid_loss.value_or(rep.train_loss);
    step.end_epoch(monitored);
    rep.seconds = train::seconds_since(t0);
    rep.samples_per_second = static_cast<double>(e.rows) / std::max(rep.seconds, 1e-9);
    early.end_epoch(epoch + 1, monitored, params);
    result.best_epoch = early.best_epoch();
    result.best_loss = early.best_loss();
    last_epoch = epoch + 1;
    result.epochs.push_back(rep);
    if (e.stopped) {  // a partial epoch: reported, but no on_epoch call
      result.status = *e.stopped;
      break;
    }
    bool go_on = !cfg.on_epoch || cfg.on_epoch(result.epochs.back());
    // Several processes: every rank computed the same epoch (checked) and stops together.
    go_on = agree(comm, go_on ? train::stop_none : train::stop_callback, hash_of(rep), epoch + 1) ==
            train::stop_none;
    if (early.should_stop()) {
      result.status = fit_status::early_stopped;
      break;
    }
    if (!go_on) {
      result.status = fit_status::stopped_by_callback;
      break;
    }
    if (checkpoints.due(last_epoch)) checkpoints.save(last_epoch, result.n_steps, step, early);
  }
  // With early stopping on, training ends at the best epoch's parameters.
  if (result.status == fit_status::completed || result.status == fit_status::early_stopped)
    early.restore_best(params, last_epoch);
  return result;
}

}  // namespace tmlp
