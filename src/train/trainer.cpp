// The training loop: epochs of shuffled mini-batches through the gradient engine, clipping,
// the optimizer update over parameter blocks, validation, health, early stopping, callbacks.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include <fmt/format.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/info.h>
#include <tbb/task_arena.h>

#include "blas.hpp"
#include "core/model_impl.hpp"
#include "core/parallel.hpp"
#include "tmlp/error.hpp"
#include "tmlp/trainer.hpp"
#include "train/schedule.hpp"
#include "train/split.hpp"
#include "train/stepper.hpp"
#include "train/training_state.hpp"

namespace tmlp {

std::string_view to_string(fit_status s) noexcept {
  switch (s) {
    case fit_status::completed:
      return "completed";
    case fit_status::early_stopped:
      return "early_stopped";
    case fit_status::stopped_by_callback:
      return "stopped_by_callback";
    case fit_status::cancelled:
      return "cancelled";
    case fit_status::diverged:
      return "diverged";
  }
  return "?";
}

void validate(const train_config& c);  // config.cpp

trainer::trainer(train_config config) : config_(std::move(config)) { validate(config_); }
trainer::~trainer() = default;

namespace {

using clock_type = std::chrono::steady_clock;

[[noreturn]] void bad_input(const std::string& what) { throw error(errc::invalid_data, what); }

void check_matrix(const char* name, matrix_view m, std::size_t rows, std::size_t cols) {
  if (m.cols != cols)
    bad_input(fmt::format("fit: {} has {} columns, expected {}", name, m.cols, cols));
  if (m.rows != rows)
    bad_input(fmt::format("fit: {} has {} rows, expected {}", name, m.rows, rows));
  for (std::size_t r = 0; r < m.rows; ++r)
    for (std::size_t c = 0; c < m.cols; ++c)
      if (!std::isfinite(m(r, c)))
        bad_input(fmt::format("fit: {} row {} column {} is {}, expected a finite number", name, r,
                              c, m(r, c)));
}

// Validation (or health-sample) evaluation over a set of rows: loss sum and metric sums.
struct eval_totals {
  double loss = 0.0;
  double metric = 0.0;  // correct predictions (classification) or squared errors (regression)
};

class evaluator {
 public:
  evaluator(const core::network& net, std::size_t chunk) : net_(net), chunk_(chunk) {}

  // Mean loss and metric (accuracy or RMSE) over `rows` of x / y. Deterministic: chunk results
  // are kept apart and added in chunk order.
  std::pair<double, double> run(const kernels::kernel_table& k, const float* params,
                                const row_source& x, matrix_view y,
                                const std::vector<std::uint32_t>& rows) {
    const std::size_t n_chunks = (rows.size() + chunk_ - 1) / chunk_;
    totals_.assign(n_chunks, {});
    const std::size_t n_in = net_.n_inputs, tw = y.cols, k_out = net_.n_outputs;
    core::parallel_for_index(n_chunks, [&](std::size_t c) {
      scratch& s = scratch_.local();
      if (s.x.empty()) {
        s.ws = std::make_unique<core::workspace>(net_, chunk_);
        s.x.resize(chunk_ * n_in);
        s.y.resize(chunk_ * tw);
      }

      const std::size_t r0 = c * chunk_, n = std::min(chunk_, rows.size() - r0);
      x.gather(rows.data() + r0, n, s.x.data());
      for (std::size_t i = 0; i < n; ++i)
        std::memcpy(s.y.data() + i * tw, y.row(rows[r0 + i]), tw * sizeof(float));
      const float* out = core::forward(k, net_, params, n, s.x.data(), *s.ws);
      eval_totals& t = totals_[c];
      t.loss = core::loss_forward_backward(net_.loss, n, k_out, out, s.y.data(), nullptr, nullptr);
      t.metric = metric_sum(n, out, s.y.data());
    });
    eval_totals sum;
    for (const auto& t : totals_) {
      sum.loss += t.loss;
      sum.metric += t.metric;
    }
    const auto n = static_cast<double>(rows.size());
    const bool classify = net_.loss.kind == loss_kind::ce || net_.loss.kind == loss_kind::bce;
    const double metric =
        classify
            ? sum.metric / (net_.loss.kind == loss_kind::bce ? n * static_cast<double>(k_out) : n)
            : std::sqrt(sum.metric / (n * static_cast<double>(k_out)));
    return {sum.loss / n, metric};
  }

 private:
  double metric_sum(std::size_t n, const float* out, const float* y) const noexcept {
    const std::size_t k = net_.n_outputs;
    double s = 0.0;
    for (std::size_t r = 0; r < n; ++r) {
      const float* o = out + r * k;
      if (net_.loss.kind == loss_kind::ce) {
        s += static_cast<double>(static_cast<std::size_t>(std::max_element(o, o + k) - o) ==
                                 static_cast<std::size_t>(y[r]));
      } else if (net_.loss.kind == loss_kind::bce) {
        for (std::size_t j = 0; j < k; ++j)
          s += static_cast<double>((o[j] >= 0.0f) == (y[r * k + j] >= 0.5f));
      } else {
        for (std::size_t j = 0; j < k; ++j) {
          const double d = static_cast<double>(o[j]) - y[r * k + j];
          s += d * d;
        }
      }
    }
    return s;
  }

  struct scratch {
    std::unique_ptr<core::workspace> ws;
    std::vector<float> x, y;
  };
  const core::network& net_;
  std::size_t chunk_;
  std::vector<eval_totals> totals_;
  tbb::enumerable_thread_specific<scratch> scratch_;
};

// Per-layer health from the gradient of the last batch and a sample of training rows.
// Gradient and weight norms per layer, with the vanishing and exploding flags.
std::vector<layer_health> layer_norms(const core::network& net, const float* params,
                                      const float* grad) {
  std::vector<layer_health> out(net.layers.size());
  for (std::size_t i = 0; i < net.layers.size(); ++i) {
    const core::dense_layer& l = net.layers[i];
    double g2 = 0.0, w2 = 0.0;
    for (std::size_t j = 0; j < l.n_in * l.n_out; ++j) {
      g2 += static_cast<double>(grad[l.w_offset + j]) * grad[l.w_offset + j];
      w2 += static_cast<double>(params[l.w_offset + j]) * params[l.w_offset + j];
    }
    out[i].grad_norm = std::sqrt(g2);
    out[i].weight_norm = std::sqrt(w2);
    out[i].vanishing = out[i].grad_norm < 1e-7 * out[i].weight_norm;
    out[i].exploding = !std::isfinite(out[i].grad_norm) ||
                       out[i].grad_norm > 1e3 * std::max(out[i].weight_norm, 1.0);
  }
  // Relative to the output layer: a layer whose gradient is 1e-4 times smaller, for its weights,
  // than the output layer's learns that much slower (the classic deep sigmoid net).
  const layer_health& last = out.back();
  const double last_ratio = last.grad_norm / std::max(last.weight_norm, 1e-30);
  for (layer_health& h : out)
    h.vanishing |= std::isfinite(last_ratio) &&
                   h.grad_norm / std::max(h.weight_norm, 1e-30) < 1e-4 * last_ratio;
  return out;
}

// Fraction of each ReLU layer's units that output 0 for every row of the sample, at params.
// alive: one flag per unit of the network (scratch).
void mark_dead_units(const kernels::kernel_table& k, const core::network& net, const float* params,
                     const row_source& x, const std::vector<std::uint32_t>& sample,
                     core::workspace& ws, std::vector<float>& xbuf,
                     std::vector<std::uint8_t>& alive, std::vector<layer_health>& layers) {
  bool any_relu = false;
  for (const auto& l : net.layers) any_relu |= l.act == kernels::act::relu;
  if (!any_relu || sample.empty()) return;
  std::fill(alive.begin(), alive.end(), 0);
  const std::size_t chunk = ws.max_rows();
  for (std::size_t r0 = 0; r0 < sample.size(); r0 += chunk) {
    const std::size_t n = std::min(chunk, sample.size() - r0);
    x.gather(sample.data() + r0, n, xbuf.data());
    core::forward(k, net, params, n, xbuf.data(), ws);
    std::uint8_t* unit = alive.data();
    for (std::size_t li = 0; li < net.layers.size(); unit += net.layers[li++].n_out) {
      if (net.layers[li].act != kernels::act::relu) continue;
      const std::size_t w = net.layers[li].n_out;
      for (std::size_t r = 0; r < n; ++r)
        for (std::size_t j = 0; j < w; ++j)
          unit[j] |= static_cast<std::uint8_t>(ws.a(li)[r * w + j] > 0.0f);
    }
  }
  const std::uint8_t* unit = alive.data();
  for (std::size_t li = 0; li < net.layers.size(); unit += net.layers[li++].n_out) {
    if (net.layers[li].act != kernels::act::relu) continue;
    const std::size_t w = net.layers[li].n_out;
    layers[li].dead_fraction =
        static_cast<double>(std::count(unit, unit + w, std::uint8_t{0})) / static_cast<double>(w);
  }
}

}  // namespace

fit_result trainer::fit(model& m, matrix_view x, matrix_view y, std::span<const float> weights) {
  return fit(m, x, y, matrix_view{}, matrix_view{}, weights);
}

fit_result trainer::fit(model& m, matrix_view x, matrix_view y, matrix_view x_valid,
                        matrix_view y_valid, std::span<const float> weights) {
  // In-memory features are checked for finite values here, once; a row_source promises them.
  const std::size_t n_in = core::model_impl(m).net.n_inputs;
  check_matrix("x", x, x.rows, n_in);
  const bool separate_valid = x_valid.data != nullptr || x_valid.rows != 0;
  if (separate_valid) check_matrix("x_valid", x_valid, x_valid.rows, n_in);
  const matrix_rows xr(x), xvr(x_valid);
  return run(m, xr, y, separate_valid ? &xvr : nullptr, y_valid, weights);
}

fit_result trainer::fit(model& m, const row_source& x, matrix_view y, const row_source* x_valid,
                        matrix_view y_valid, std::span<const float> weights) {
  return run(m, x, y, x_valid, y_valid, weights);
}

namespace {

// Puts a checkpoint's state into the loop's pieces, after checking it belongs to this run.
void check_resume(const train::training_state_data& s, const train_config& cfg,
                  std::size_t n_params, bool keep_best) {
  const auto bad = [](const std::string& what) { throw error(errc::invalid_argument, what); };
  if (s.epochs_done > cfg.epochs)
    bad(fmt::format("resume: the state has {} epochs done, the config runs {}", s.epochs_done,
                    cfg.epochs));
  if (keep_best && s.best_epoch > 0 && s.best_params.size() != n_params)
    bad(fmt::format("resume: the state's best parameters hold {} values, the model has {}",
                    s.best_params.size(), n_params));
  if (s.best_epoch > s.epochs_done)
    bad(fmt::format("resume: best epoch {} is after the {} epochs done", s.best_epoch,
                    s.epochs_done));
}

}  // namespace

fit_result trainer::run(model& m, const row_source& x, matrix_view y, const row_source* x_valid,
                        matrix_view y_valid, std::span<const float> weights) {
  cancelled_.store(false, std::memory_order_relaxed);
  const train_config& cfg = config_;
  auto& mi = core::model_impl(m);
  const core::network& net = mi.net;
  const std::size_t tw = core::target_width(net.loss.kind, net.n_outputs);
  const std::size_t n_rows = x.rows();
  const bool separate_valid = x_valid != nullptr;
  // A resume state is used by this fit() only.
  const std::optional<training_state> resume = std::exchange(resume_, std::nullopt);

  // --- validate the data once ---
  if (n_rows == 0) bad_input("fit: no training rows");
  if (n_rows >= (std::size_t{1} << 32))
    bad_input(fmt::format("fit: {} rows exceed the limit of 2^32 - 1", n_rows));
  if (x.cols() != net.n_inputs)
    bad_input(fmt::format("fit: x has {} columns, expected {}", x.cols(), net.n_inputs));
  check_matrix("y", y, n_rows, tw);
  if (!weights.empty() && weights.size() != n_rows)
    bad_input(fmt::format("fit: {} sample weights for {} rows", weights.size(), n_rows));
  core::check_targets(net.loss, y.rows, net.n_outputs, y.data,
                      weights.empty() ? nullptr : weights.data());
  if (separate_valid) {
    if (x_valid->rows() == 0) bad_input("fit: the validation set has no rows");
    if (x_valid->rows() >= (std::size_t{1} << 32))
      bad_input(
          fmt::format("fit: {} validation rows exceed the limit of 2^32 - 1", x_valid->rows()));
    if (x_valid->cols() != net.n_inputs)
      bad_input(
          fmt::format("fit: x_valid has {} columns, expected {}", x_valid->cols(), net.n_inputs));
    check_matrix("y_valid", y_valid, x_valid->rows(), tw);
    core::check_targets(net.loss, y_valid.rows, net.n_outputs, y_valid.data, nullptr);
  }

  fit_result result;
  if (std::string note = blas::ensure_single_threaded(); !note.empty())
    result.notes.push_back(note);

  // --- rows ---
  std::vector<std::uint32_t> train_rows, valid_rows;
  if (!separate_valid && cfg.valid_fraction > 0.0f) {
    train::split_rows(n_rows, cfg.valid_fraction, cfg.seed, net.loss.kind, tw, y.data, train_rows,
                      valid_rows);
    if (train_rows.empty())
      bad_input(fmt::format("fit: valid_fraction {} leaves no training rows", cfg.valid_fraction));
  } else {
    train_rows.resize(n_rows);
    for (std::size_t i = 0; i < n_rows; ++i) train_rows[i] = static_cast<std::uint32_t>(i);
  }
  if (separate_valid) {
    valid_rows.resize(x_valid->rows());
    for (std::size_t i = 0; i < valid_rows.size(); ++i)
      valid_rows[i] = static_cast<std::uint32_t>(i);
  }
  const row_source& vx = separate_valid ? *x_valid : x;
  const matrix_view vy = separate_valid ? y_valid : y;
  const bool has_valid = !valid_rows.empty();

  // --- sizes, buffers and workers: everything the loop needs, allocated once ---
  const std::size_t n_train = train_rows.size();
  const std::size_t batch = cfg.batch_size == 0 ? n_train : std::min(cfg.batch_size, n_train);
  const std::size_t n_batches = (n_train + batch - 1) / batch;
  const kernels::kernel_table& k = kernels::active();
  train::stepper step(net, cfg, batch);
  const std::size_t n_shards = step.n_shards(batch);
  const int hw = cfg.n_threads > 0 ? cfg.n_threads : tbb::info::default_concurrency();
  const int n_workers = train::choose_workers(net, batch, n_shards, hw);
  result.n_shards = n_shards;
  result.n_workers = static_cast<std::size_t>(n_workers);

  float* params = mi.params.data();
  const std::size_t n_params = net.n_params;
  train::lr_schedule sched(cfg.sched, step.optimizer().base_lr(), cfg.epochs, n_batches);
  const bool keep_best = cfg.early_stop.patience > 0 && cfg.early_stop.restore_best;
  std::vector<float> best_params(keep_best ? n_params : 0);
  evaluator eval(net, 256);
  std::vector<std::uint32_t> health_sample(
      train_rows.begin(),
      train_rows.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(1024, n_train)));
  core::workspace health_ws(net, 256);
  std::vector<float> health_x(256 * net.n_inputs);
  std::size_t n_units = 0;
  for (const auto& l : net.layers) n_units += l.n_out;
  std::vector<std::uint8_t> alive(n_units);
  std::vector<std::uint32_t> order = train_rows;

  tbb::task_arena arena(n_workers);
  double best = std::numeric_limits<double>::infinity();
  std::size_t since_best = 0, first_epoch = 0, last_epoch = 0;  // last: 1-based, 0 = none
  if (resume) {
    const train::training_state_data& rs = train::state_of(*resume);
    check_resume(rs, cfg, n_params, keep_best);
    step.optimizer().restore(rs.optimizer_kind, rs.n_steps, rs.moments1, rs.moments2);
    sched.restore({rs.plateau_lr, rs.plateau_best, rs.plateau_bad});
    first_epoch = last_epoch = rs.epochs_done;
    result.n_steps = rs.n_steps;
    result.best_epoch = rs.best_epoch;
    result.best_loss = rs.best_loss;
    since_best = rs.since_best;
    if (rs.best_epoch > 0) best = rs.best_loss;
    if (keep_best && rs.best_epoch > 0) best_params = rs.best_params;
  }
  bool stop = false;

  for (std::size_t epoch = first_epoch; epoch < cfg.epochs && !stop; ++epoch) {
    const auto t0 = clock_type::now();
    order = train_rows;
    train::shuffle_epoch(cfg.seed, epoch, order);
    double epoch_loss = 0.0;
    float lr = 0.0f;
    std::size_t done_rows = 0;
    std::vector<layer_health> health;  // from the epoch's last batch, before its update

    for (std::size_t b = 0; b < n_batches; ++b) {
      if (cancelled_.load(std::memory_order_relaxed)) {
        result.status = fit_status::cancelled;
        stop = true;
        break;
      }
      const std::size_t b0 = b * batch, rows = std::min(batch, n_train - b0);
      lr = sched.at(epoch, b);
      const bool last = b + 1 == n_batches;
      train::stepper::gradient_result g;
      arena.execute([&] {
        g = step.gradient(k, params, x, y.data, weights.empty() ? nullptr : weights.data(),
                          order.data() + b0, rows, core::dropout_key(cfg.seed, epoch));
      });
      if (!g.finite) {  // keep the parameters of this step: the last finite ones
        result.status = fit_status::diverged;
        stop = true;
        break;
      }
      if (last) health = layer_norms(net, params, step.grad());
      bool applied = false;
      arena.execute([&] { applied = step.apply(k, params, lr, g.grad_norm); });
      if (!applied) {  // the update overflowed; apply() put the previous parameters back
        result.status = fit_status::diverged;
        stop = true;
        break;
      }
      ++result.n_steps;
      epoch_loss += g.loss_sum;
      done_rows += rows;
      if (cfg.on_batch && !cfg.on_batch(batch_report{epoch + 1, b + 1, n_batches,
                                                     g.loss_sum / static_cast<double>(rows), lr})) {
        result.status = fit_status::stopped_by_callback;
        stop = true;
        break;
      }
    }
    if (done_rows == 0) break;  // cancelled or diverged before the epoch's first step

    // --- end of epoch: report, validation, schedule, early stopping ---
    epoch_report rep;
    rep.epoch = epoch + 1;
    rep.train_loss = epoch_loss / static_cast<double>(done_rows);
    rep.lr = lr;
    rep.metric_name =
        net.loss.kind == loss_kind::ce || net.loss.kind == loss_kind::bce ? "accuracy" : "rmse";
    if (has_valid) {
      std::pair<double, double> v;
      arena.execute([&] { v = eval.run(k, params, vx, vy, valid_rows); });
      rep.valid_loss = v.first;
      rep.valid_metric = v.second;
    }
    if (!health.empty()) {
      // Dead units: a forward pass over the sample at the epoch's final parameters.
      mark_dead_units(k, net, params, x, health_sample, health_ws, health_x, alive, health);
      rep.layers = std::move(health);
      for (const auto& h : rep.layers) {
        rep.vanishing |= h.vanishing;
        rep.exploding |= h.exploding;
      }
    }
    const double monitored = rep.valid_loss.value_or(rep.train_loss);
    sched.end_epoch(monitored);
    rep.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    rep.samples_per_second = static_cast<double>(done_rows) / std::max(rep.seconds, 1e-9);
    if (monitored < best - static_cast<double>(cfg.early_stop.min_delta)) {
      best = monitored;
      result.best_epoch = epoch + 1;
      result.best_loss = monitored;
      since_best = 0;
      if (keep_best) std::copy(params, params + n_params, best_params.begin());
    } else {
      ++since_best;
    }
    last_epoch = epoch + 1;
    result.epochs.push_back(rep);
    if (stop) break;  // a partial epoch: reported, but no on_epoch call
    const bool go_on = !cfg.on_epoch || cfg.on_epoch(result.epochs.back());
    if (cfg.early_stop.patience > 0 && since_best >= cfg.early_stop.patience) {
      result.status = fit_status::early_stopped;
      break;
    }
    if (!go_on) {
      result.status = fit_status::stopped_by_callback;
      break;
    }
    if (cfg.checkpoint_every > 0 && cfg.on_checkpoint && last_epoch % cfg.checkpoint_every == 0) {
      const train::lr_schedule::plateau_state p = sched.plateau();
      cfg.on_checkpoint(train::state_access::make(train::training_state_data{
          .epochs_done = last_epoch,
          .n_steps = result.n_steps,
          .optimizer_kind = step.optimizer().kind(),
          .moments1 = step.optimizer().moments1(),
          .moments2 = step.optimizer().moments2(),
          .plateau_lr = p.lr,
          .plateau_best = p.best,
          .plateau_bad = p.bad,
          .best_epoch = result.best_epoch,
          .best_loss = result.best_loss,
          .since_best = since_best,
          .best_params = keep_best && result.best_epoch > 0 ? best_params : std::vector<float>{}}));
    }
  }
  // With early stopping on, training ends at the best epoch's parameters.
  const bool ended_normally =
      result.status == fit_status::completed || result.status == fit_status::early_stopped;
  if (keep_best && ended_normally && result.best_epoch > 0 && result.best_epoch < last_epoch)
    std::copy(best_params.begin(), best_params.end(), params);
  return result;
}

}  // namespace tmlp
