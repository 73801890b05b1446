// Optimizer state and the update of one block of the parameter vector.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/aligned.hpp"
#include "kernels.hpp"
#include "tmlp/trainer.hpp"

namespace tmlp::train {

// The name of tmlp::optimizer's alternative `kind` (its index): "sgd", ..., "adagrad";
// "unknown" out of range. optimizer_kind is the inverse (nothing for an unknown name).
std::string_view optimizer_name(int kind) noexcept;
std::optional<int> optimizer_kind(std::string_view name) noexcept;

class optimizer_state {
 public:
  // Allocates the state vectors (zero) for n_params parameters. No allocation afterwards.
  optimizer_state(const optimizer& opt, const train_config& config, std::size_t n_params);

  float base_lr() const noexcept { return base_lr_; }

  // Starts step t (1-based count of updates so far plus one) at learning rate lr: fixes the
  // per-step scalars (Adam's bias corrections). Call once per step before update().
  void begin_step(float lr) noexcept;

  // Updates w[lo, lo + len) from g[lo, lo + len). Blocks may run concurrently.
  void update(const kernels::kernel_table& k, std::size_t lo, std::size_t len, const float* g,
              float* w) noexcept;

  std::size_t n_steps() const noexcept { return t_; }
  int kind() const noexcept { return kind_; }

  // The state vectors (empty where the optimizer keeps none), for checkpoints.
  std::span<const float> moments1() const noexcept { return s1_; }
  std::span<const float> moments2() const noexcept { return s2_; }
  // Puts a checkpoint's state back; throws tmlp::error if it belongs to another optimizer or
  // parameter count.
  void restore(int kind, std::size_t n_steps, const std::vector<float>& m1,
               const std::vector<float>& m2);

 private:
  int kind_;  // index into tmlp::optimizer
  kernels::update_args args_;
  float base_lr_;
  std::size_t t_ = 0;
  core::aligned_vector<float> s1_, s2_;  // momentum / first moment / squared sums; second moment
};

}  // namespace tmlp::train
