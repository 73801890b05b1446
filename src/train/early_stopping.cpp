// early_stopping_policy and checkpoint_policy.
#include <algorithm>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "tmlp/error.hpp"
#include "train/policies.hpp"

namespace tmlp::train {
namespace {
[[noreturn]] void bad_state(const std::string& what) {
  throw error(errc::invalid_argument, "resume: " + what);
}
}  // namespace

early_stopping_policy::early_stopping_policy(const train_config& config, std::size_t n_params)
    : patience_(config.early_stop.patience),
      min_delta_(config.early_stop.min_delta),
      keep_best_(config.early_stop.patience > 0 && config.early_stop.restore_best),
      best_(std::numeric_limits<double>::infinity()),
      best_params_(keep_best_ ? n_params : 0) {}

void early_stopping_policy::end_epoch(std::size_t epoch, double monitored, const float* params) {
  if (monitored < best_ - static_cast<double>(min_delta_)) {
    best_ = monitored;
    best_loss_ = monitored;
    best_epoch_ = epoch;
    since_best_ = 0;
    if (keep_best_) std::copy(params, params + best_params_.size(), best_params_.begin());
  } else {
    ++since_best_;
  }
}

void early_stopping_policy::restore_best(float* params, std::size_t last_epoch) const {
  if (keep_best_ && best_epoch_ > 0 && best_epoch_ < last_epoch)
    std::copy(best_params_.begin(), best_params_.end(), params);
}

void early_stopping_policy::save(training_state_data& s) const {
  s.best_epoch = best_epoch_;
  s.best_loss = best_loss_;
  s.since_best = since_best_;
  s.best_params = keep_best_ && best_epoch_ > 0 ? best_params_ : std::vector<float>{};
}

void early_stopping_policy::restore(const training_state_data& s) {
  if (keep_best_ && s.best_epoch > 0 && s.best_params.size() != best_params_.size())
    bad_state(fmt::format("the state's best parameters hold {} values, the model has {}",
                          s.best_params.size(), best_params_.size()));
  if (s.best_epoch > s.epochs_done)
    bad_state(
        fmt::format("best epoch {} is after the {} epochs done", s.best_epoch, s.epochs_done));
  best_epoch_ = s.best_epoch;
  best_loss_ = s.best_loss;
  since_best_ = s.since_best;
  if (s.best_epoch > 0) best_ = s.best_loss;
  if (keep_best_ && s.best_epoch > 0) best_params_ = s.best_params;
}

void checkpoint_policy::save(std::size_t epochs_done, std::size_t n_steps, const train_step& step,
                             const early_stopping_policy& early) const {
  training_state_data s;
  s.epochs_done = epochs_done;
  s.n_steps = n_steps;
  s.optimizer_kind = step.optimizer().kind();
  s.moments1.assign(step.optimizer().moments1().begin(), step.optimizer().moments1().end());
  s.moments2.assign(step.optimizer().moments2().begin(), step.optimizer().moments2().end());
  const lr_schedule::plateau_state p = step.schedule().plateau();
  s.plateau_lr = p.lr;
  s.plateau_best = p.best;
  s.plateau_bad = p.bad;
  early.save(s);
  config_.on_checkpoint(state_access::make(std::move(s)));
}

std::size_t checkpoint_policy::restore(const training_state& state, const train_config& config,
                                       train_step& step, early_stopping_policy& early) {
  const training_state_data& s = state_of(state);
  if (s.epochs_done > config.epochs)
    bad_state(fmt::format("the state has {} epochs done, the config runs {}", s.epochs_done,
                          config.epochs));
  early.restore(s);
  step.optimizer().restore(s.optimizer_kind, s.n_steps, s.moments1, s.moments2);
  step.schedule().restore({s.plateau_lr, s.plateau_best, s.plateau_bad});
  return s.epochs_done;
}

}  // namespace tmlp::train
