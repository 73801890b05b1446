// The owner of one optimization step: the gradient engine (with its seam to other processes),
// both kinds of clipping, the learning-rate schedule and the optimizer, behind one call.
//
//     train_step step(net, config, batch, n_batches);
//     for each batch b of epoch e:
//       train_step::result r = step.run(k, params, x, y, w, rows_of_b, n_rows, e, b);
//       if (!r.finite) ...   // diverged: params are those before the call
//     step.end_epoch(monitored_loss);
//
// run() = gradient (engine: shards, barriers, reduction in shard order, clipping by value and
// the squared norm; on several processes, over the ranks) -> clipping by global norm ->
// optimizer update over fixed parameter blocks (skipping the network's frozen parameters) ->
// batch-norm running statistics. It runs inside the caller's task_arena and allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/aligned.hpp"
#include "core/network.hpp"
#include "kernels.hpp"
#include "tmlp/trainer.hpp"
#include "train/gradient_engine.hpp"
#include "train/optimizer.hpp"
#include "train/reduce.hpp"
#include "train/schedule.hpp"

namespace tmlp::train {

// Workers to use for steps of `batch` rows cut into n_shards shards, given n_threads: never
// more than the shards, nor more than the step's work justifies (about 2 MFLOP per worker, below
// which a fork and join costs more than it saves). Adding threads never adds workers that would
// slow the step down.
int choose_workers(const core::network& net, std::size_t batch, std::size_t n_shards,
                   int n_threads) noexcept;

class train_step {
 public:
  // max_batch: the largest batch; steps_per_epoch: for the schedule. comm: the processes that
  // share each step (nullptr: this process alone); not owned.
  train_step(const core::network& net, const train_config& config, std::size_t max_batch,
             std::size_t steps_per_epoch, communicator* comm = nullptr);

  // Looks at the step's gradient (after clipping by value, before clipping by norm) and the
  // parameters before the update; the health monitor is one.
  class observer {
   public:
    virtual ~observer() = default;
    virtual void inspect(const float* params, const float* grad) = 0;
  };

  struct result {
    double loss_sum = 0.0;  // sum_r w_r L_r over the batch
    float lr = 0.0f;        // the learning rate of this step
    bool finite = true;     // false: the loss or gradient was not finite, or the update would
                            // have made a parameter so; params are then as before the call
    std::uint32_t stopped = stop_none;  // several processes: some rank asked to stop (bits of
                                        // stop_request); the step was not applied
  };

  // One step on the rows idx[0..rows) of x (features), y (targets) and w (sample weights or
  // nullptr), step `step` (0-based) of epoch `epoch` (0-based; keys the dropout masks).
  // stop: on several processes, this rank's stop requests, which every rank learns with the
  // step (one process stops before calling run()).
  result run(const kernels::kernel_table& k, float* params, const row_source& x, const float* y,
             const float* w, const std::uint32_t* idx, std::size_t rows, std::size_t epoch,
             std::size_t step, observer* obs = nullptr, std::uint32_t stop = stop_none);

  // After each epoch, with the monitored loss: the schedule's plateau rule.
  void end_epoch(double monitored_loss) noexcept { sched_.end_epoch(monitored_loss); }

  std::size_t n_shards(std::size_t batch) noexcept { return engine_.plan_for(batch).n_shards; }
  // The workers the steps will run with (gradient_engine::use_workers), before the first step.
  void use_workers(std::size_t n) { engine_.use_workers(n); }
  const float* grad() const noexcept { return grad_.data(); }
  optimizer_state& optimizer() noexcept { return opt_; }
  const optimizer_state& optimizer() const noexcept { return opt_; }
  lr_schedule& schedule() noexcept { return sched_; }
  const lr_schedule& schedule() const noexcept { return sched_; }

  // Time per phase since the last reset (see phase_times in gradient_engine.hpp).
  phase_times phases() const noexcept;
  void reset_phases() noexcept;

 private:
  bool apply(const kernels::kernel_table& k, float* params, float lr, double grad_norm);
  void update_unfrozen(const kernels::kernel_table& k, std::size_t lo, std::size_t len,
                       float* params) noexcept;

  const core::network& net_;
  std::uint64_t seed_;
  float clip_norm_;
  gradient_engine engine_;
  optimizer_state opt_;
  lr_schedule sched_;
  core::aligned_vector<float> grad_;
  core::aligned_vector<float> backup_;       // parameters before the update, per block
  std::vector<unsigned char> block_finite_;  // after the update
  double t_update_ = 0.0;
};

}  // namespace tmlp::train
