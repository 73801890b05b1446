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

#include "core/aligned.hpp"
#include "core/network.hpp"
#include "core/parallel.hpp"
#include "kernels.hpp"
#include "tmlp/trainer.hpp"
#include "train/fit_plan.hpp"
#include "train/train_step.hpp"
#include "train/training_state.hpp"

namespace tmlp::train {

class validation_policy {
 public:
  validation_policy(const core::network& net, const fit_plan& plan, std::size_t chunk = 256);
  // Sets rep.valid_loss and rep.valid_metric (if the plan has validation rows), running in arena.
  void run(tbb::task_arena& arena, const kernels::kernel_table& k, const float* params,
           epoch_report& rep);
  // "accuracy" for bce and ce, "rmse" for the regression losses.
  const char* metric_name() const noexcept;

 private:
  struct scratch {
    std::unique_ptr<core::workspace> ws;
    std::vector<float> x, y;
  };
  struct totals {
    double loss = 0.0;
    double metric = 0.0;  // correct predictions (classification) or squared errors (regression)
  };
  double metric_sum(std::size_t n, const float* out, const float* y) const noexcept;
  const core::network& net_;
  const fit_plan& plan_;
  std::size_t chunk_;
  std::vector<totals> totals_;
  core::per_thread<scratch> scratch_;
  core::aligned_vector<float> transposed_;  // pass::transposed, when the GEMM backend wants it
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
  // Dead units at the epoch's final parameters (a forward pass over the health sample), then
  // the layers' health into rep.
  void report(const kernels::kernel_table& k, const float* params, epoch_report& rep);

 private:
  const core::network& net_;
  const fit_plan& plan_;
  std::vector<std::uint32_t> sample_;  // up to 1024 training rows
  core::workspace ws_;
  std::vector<float> x_;
  std::vector<std::uint8_t> alive_;  // per unit of the network
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
