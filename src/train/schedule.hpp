// Learning rate of each step from a tmlp::schedule.
#pragma once

#include <cstddef>

#include "tmlp/trainer.hpp"

namespace tmlp::train {

class lr_schedule {
 public:
  lr_schedule(const schedule& s, float base_lr, std::size_t n_epochs,
              std::size_t steps_per_epoch) noexcept;

  // Rate of step `step` (0-based within the epoch) of epoch `epoch` (0-based).
  float at(std::size_t epoch, std::size_t step) const noexcept;

  // After each epoch, with the monitored loss (validation, else training): reduce_on_plateau
  // lowers its rate here; the others ignore it.
  void end_epoch(double monitored_loss) noexcept;

  // reduce_on_plateau's state (rate, best loss, epochs without improvement), for checkpoints.
  struct plateau_state {
    float lr;
    double best;
    std::size_t bad;
  };
  plateau_state plateau() const noexcept { return {plateau_lr_, plateau_best_, plateau_bad_}; }
  void restore(const plateau_state& p) noexcept {
    plateau_lr_ = p.lr;
    plateau_best_ = p.best;
    plateau_bad_ = p.bad;
  }

 private:
  schedule s_;
  float base_;
  std::size_t n_epochs_, steps_per_epoch_;
  float plateau_lr_;
  double plateau_best_;
  std::size_t plateau_bad_ = 0;
};

}  // namespace tmlp::train
