// One optimization step in two halves, so the caller can look at the gradient in between:
//   gradient(): the batch gradient from the engine, clipped by value, and its global norm;
//   apply():    clip by global norm, then the optimizer update over fixed parameter blocks.
// Both run inside the caller's task_arena and allocate nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/network.hpp"
#include "kernels.hpp"
#include "tmlp/trainer.hpp"
#include "train/optimizer.hpp"
#include "train/step.hpp"

namespace tmlp::train {

// Workers to use for steps of `batch` rows cut into n_shards shards, given n_threads: never
// more than the shards, nor more than the step's work justifies (about 2 MFLOP per worker, below
// which a fork and join costs more than it saves). Adding threads never adds workers that would
// slow the step down.
int choose_workers(const core::network& net, std::size_t batch, std::size_t n_shards,
                   int n_threads) noexcept;

class stepper {
 public:
  stepper(const core::network& net, const train_config& config, std::size_t max_batch);

  struct gradient_result {
    double loss_sum = 0.0;   // sum_r w_r L_r over the batch
    double grad_norm = 0.0;  // global L2 norm after clipping by value
    bool finite = true;      // loss and gradient are finite
  };
  gradient_result gradient(const kernels::kernel_table& k, const float* params, const row_source& x,
                           const float* y, const float* w, const std::uint32_t* idx,
                           std::size_t rows, std::uint64_t dropout_key = 0);
  gradient_result gradient(const kernels::kernel_table& k, const float* params, matrix_view x,
                           const float* y, const float* w, const std::uint32_t* idx,
                           std::size_t rows, std::uint64_t dropout_key = 0) {
    return gradient(k, params, matrix_rows(x), y, w, idx, rows, dropout_key);
  }

  // Updates params with the gradient of the last gradient() call at learning rate lr, and the
  // batch-norm running statistics with that batch's. Returns false, with params as they were
  // before the call, if the update would make any parameter infinite or NaN (an overflow a
  // finite gradient can still cause).
  bool apply(const kernels::kernel_table& k, float* params, float lr, double grad_norm);

  const float* grad() const noexcept { return grad_.data(); }
  std::size_t n_shards(std::size_t batch) noexcept { return engine_.plan_for(batch).n_shards; }
  const optimizer_state& optimizer() const noexcept { return opt_; }
  optimizer_state& optimizer() noexcept { return opt_; }

  // Time per phase since the last reset (see phase_times in step.hpp).
  phase_times phases() const noexcept;
  void reset_phases() noexcept;

 private:
  const core::network& net_;
  float clip_norm_;
  gradient_engine engine_;
  optimizer_state opt_;
  std::vector<float> grad_;
  std::vector<float> backup_;                // parameters before the update, per block
  std::vector<unsigned char> block_finite_;  // after the update
  double t_update_ = 0.0;
};

}  // namespace tmlp::train
