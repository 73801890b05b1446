#include "train/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace tmlp::train {

lr_schedule::lr_schedule(const schedule& s, float base_lr, std::size_t n_epochs,
                         std::size_t steps_per_epoch) noexcept
    : s_(s),
      base_(base_lr),
      n_epochs_(n_epochs),
      steps_per_epoch_(std::max<std::size_t>(steps_per_epoch, 1)),
      plateau_lr_(base_lr),
      plateau_best_(std::numeric_limits<double>::infinity()) {}

float lr_schedule::at(std::size_t epoch, std::size_t step) const noexcept {
  const double base = base_;
  const double e = static_cast<double>(epoch);
  const double lr = std::visit(
      [&](const auto& c) -> double {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, constant_lr>) {
          return base;
        } else if constexpr (std::is_same_v<T, step_decay>) {
          return base *
                 std::pow(static_cast<double>(c.gamma), static_cast<double>(epoch / c.step_epochs));
        } else if constexpr (std::is_same_v<T, exponential_decay>) {
          return base * std::pow(static_cast<double>(c.gamma), e);
        } else if constexpr (std::is_same_v<T, cosine>) {
          const double t = e * static_cast<double>(steps_per_epoch_) + static_cast<double>(step);
          const double total = static_cast<double>(n_epochs_ * steps_per_epoch_);
          const double warm =
              static_cast<double>(std::min(c.warmup_epochs, n_epochs_) * steps_per_epoch_);
          if (t < warm) return base * (t + 1.0) / warm;
          const double p = total > warm ? (t - warm) / (total - warm) : 1.0;
          const double lo = base * static_cast<double>(c.min_fraction);
          return lo + (base - lo) * 0.5 * (1.0 + std::cos(3.14159265358979323846 * p));
        } else {
          return plateau_lr_;
        }
      },
      s_);
  return static_cast<float>(lr);
}

void lr_schedule::end_epoch(double monitored_loss) noexcept {
  const auto* p = std::get_if<reduce_on_plateau>(&s_);
  if (p == nullptr) return;
  if (monitored_loss < plateau_best_ - static_cast<double>(p->min_delta)) {
    plateau_best_ = monitored_loss;
    plateau_bad_ = 0;
  } else if (++plateau_bad_ >= p->patience) {
    plateau_lr_ = std::max(plateau_lr_ * p->factor, p->min_lr);
    plateau_bad_ = 0;
  }
}

}  // namespace tmlp::train
