// The trainer loop's policies: small objects, each owning one concern of an epoch's end and
// its own part of the checkpoint state (save / restore).
//
//   validation_policy     the validation loss and metric, over the plan's validation rows
//   health_policy         per-layer gradient and weight norms (from the epoch's last step),
//                         dead ReLU units, vanishing / exploding flags
//   early_stopping_policy the best epoch, patience, and the best parameters to restore
//   checkpoint_policy     when to call on_checkpoint, with the state every part saved
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <tbb/task_arena.h>

#include "blas/blas.hpp"
#include "core/aligned.hpp"
#include "core/network.hpp"
#include "core/parallel.hpp"
#include "kernels.hpp"
#include "tmlp/trainer.hpp"
#include "train/fit_plan.hpp"
#include "train/train_step.hpp"
#include "train/training_state.hpp"

namespace tmlp::train {

// Inference forward passes over a list of rows in fixed chunks, each chunk a task in the
// caller's arena (the same chunks for any thread count), at parameters whose weights are
// transposed once per run where the GEMM backend wants them. The per-thread scratch and the
// copy live as long as the object.
class chunked_forward {
 public:
  // y_cols: floats per row of the scratch a chunk's body may use (its targets).
  chunked_forward(const core::network& net, std::size_t chunk_rows, std::size_t y_cols = 0)
      : net_(net), chunk_rows_(chunk_rows), y_cols_(y_cols) {}
  std::size_t chunks(std::size_t n_rows) const noexcept {
    return (n_rows + chunk_rows_ - 1) / chunk_rows_;
  }
  struct chunk {
    std::size_t index, first, rows;  // chunk index; its rows: rows[first .. first + rows)
    const float* out;                // rows x n_outputs
    const core::workspace& ws;       // the activations of every op
    float* y;                        // chunk_rows x y_cols of scratch
  };
  // body(const chunk&) for every chunk of rows, after its rows of x went through the forward.
  // transposed: params' weights transposed already (see transposed()), or nullptr: made here
  // if the backend wants them.
  template <class Body>
  void run(tbb::task_arena& arena, const kernels::kernel_table& k, const float* params,
           const float* transposed, const row_source& x, const std::vector<std::uint32_t>& rows,
           Body&& body);
  // The copy made by the last run, or nullptr.
  const float* transposed() const noexcept { return made_ ? transposed_.data() : nullptr; }

 private:
  struct scratch {
    std::unique_ptr<core::workspace> ws;
    std::vector<float> x, y;
  };
  const core::network& net_;
  std::size_t chunk_rows_, y_cols_;
  core::per_thread<scratch> scratch_;
  core::aligned_vector<float> transposed_;  // pass::transposed
  bool made_ = false;                       // by the last run
};

template <class Body>
void chunked_forward::run(tbb::task_arena& arena, const kernels::kernel_table& k,
                          const float* params, const float* transposed, const row_source& x,
                          const std::vector<std::uint32_t>& rows, Body&& body) {
  made_ = transposed == nullptr && blas::wants_transposed_weights();
  if (made_) {
    transposed_.resize(net_.n_transposed);
    arena.execute([&] { core::transpose_weights(k, net_, params, transposed_.data()); });
    transposed = transposed_.data();
  }
  arena.execute([&] {
    core::parallel_for_index(chunks(rows.size()), [&](std::size_t c) {
      scratch& s = scratch_.local();
      if (!s.ws) {
        s.ws = std::make_unique<core::workspace>(net_, chunk_rows_);
        s.x.resize(chunk_rows_ * net_.n_inputs);
        s.y.resize(chunk_rows_ * y_cols_);
      }
      const std::size_t r0 = c * chunk_rows_, n = std::min(chunk_rows_, rows.size() - r0);
      x.gather(rows.data() + r0, n, s.x.data());
      const float* out =
          core::forward(k, net_, params, n, s.x.data(), *s.ws, nullptr, false, transposed);
      body(chunk{c, r0, n, out, *s.ws, s.y.data()});
    });
  });
}

class validation_policy {
 public:
  validation_policy(const core::network& net, const fit_plan& plan, std::size_t chunk = 256);
  // Sets rep.valid_loss and rep.valid_metric (if the plan has validation rows), running in arena.
  void run(tbb::task_arena& arena, const kernels::kernel_table& k, const float* params,
           epoch_report& rep);
  // "accuracy" for bce and ce, "rmse" for the regression losses.
  const char* metric_name() const noexcept;
  // The weights transposed for the products at the parameters of the last run (where the
  // backend wants them and the plan has validation rows), or nullptr.
  const float* transposed() const noexcept { return forward_.transposed(); }

 private:
  struct totals {
    double loss = 0.0;
    double metric = 0.0;  // correct predictions (classification) or squared errors (regression)
  };
  double metric_sum(std::size_t n, const float* out, const float* y) const noexcept;
  const core::network& net_;
  const fit_plan& plan_;
  chunked_forward forward_;
  std::vector<totals> totals_;
};

class health_policy final : public train_step::observer {
 public:
  health_policy(const core::network& net, const fit_plan& plan);
  // The observer to hand the step: the epoch's last step only.
  train_step::observer* for_step(bool last_of_epoch) noexcept {
    return last_of_epoch ? this : nullptr;
  }
  void begin_epoch() noexcept { layers_.clear(); }
  void inspect(const float* params, const float* grad) override;
  // Dead units at the epoch's final parameters (a forward pass over the health sample, its
  // chunks as tasks in arena), then the layers' health into rep. transposed: those parameters'
  // weights transposed for the products (validation_policy::transposed), or nullptr: made here
  // if the backend wants them.
  void report(tbb::task_arena& arena, const kernels::kernel_table& k, const float* params,
              const float* transposed, epoch_report& rep);

 private:
  const core::network& net_;
  const fit_plan& plan_;
  std::vector<std::uint32_t> sample_;  // up to 1024 training rows
  chunked_forward forward_;
  std::vector<std::uint8_t> alive_;  // per chunk of the sample, per unit of the network
  std::vector<layer_health> layers_;
};

class early_stopping_policy {
 public:
  early_stopping_policy(const train_config& config, std::size_t n_params);
  // After epoch `epoch` (1-based) with its monitored loss: records a new best (and its
  // parameters if they are to be restored).
  void end_epoch(std::size_t epoch, double monitored, const float* params);
  bool should_stop() const noexcept { return patience_ > 0 && since_best_ >= patience_; }
  std::size_t best_epoch() const noexcept { return best_epoch_; }
  double best_loss() const noexcept { return best_loss_; }
  // At the end of a fit that ended normally after `last_epoch`: the best epoch's parameters,
  // if they are to be restored and are not the last epoch's.
  void restore_best(float* params, std::size_t last_epoch) const;

  void save(training_state_data& s) const;
  // Throws tmlp::error if s does not fit this run.
  void restore(const training_state_data& s);

 private:
  std::size_t patience_;
  float min_delta_;
  bool keep_best_;
  double best_;             // the loss to beat
  double best_loss_ = 0.0;  // the best epoch's (0 before any)
  std::size_t best_epoch_ = 0, since_best_ = 0;
  std::vector<float> best_params_;
};

class checkpoint_policy {
 public:
  explicit checkpoint_policy(const train_config& config) noexcept : config_(config) {}
  bool due(std::size_t epochs_done) const noexcept {
    return config_.checkpoint_every > 0 && config_.on_checkpoint &&
           epochs_done % config_.checkpoint_every == 0;
  }
  // The state after epochs_done epochs and n_steps steps, from the step owner (optimizer,
  // schedule) and early stopping, handed to on_checkpoint.
  void save(std::size_t epochs_done, std::size_t n_steps, const train_step& step,
            const early_stopping_policy& early) const;
  // Puts a checkpoint's state back into the step and early stopping; returns epochs done.
  // Throws tmlp::error if the state does not fit the config.
  static std::size_t restore(const training_state& s, const train_config& config, train_step& step,
                             early_stopping_policy& early);

 private:
  const train_config& config_;
};

}  // namespace tmlp::train
