// The reduction of a step's gradient, and the seam between it and the update.
//
// The gradient engine reduces its shards' gradients over fixed parameter blocks, shards added
// in the order 0..S-1 and scaled by 1/B (train/reduce.cpp), clips them by value and sums their
// squares. That is the locally reduced gradient. Before the optimizer sees it, the step owner
// (train/train_step.hpp) hands it to a reduction_seam, which may combine it with other
// processes' (multi-node training) and must leave, in place, the gradient every process then
// applies, with its squared norm and the batch's loss. One process: local_reduction, which
// has nothing to do.
#pragma once

#include <cstddef>
#include <span>

namespace tmlp::train {

// An embedding table row that the step's batch used: dim gradient values at offset. Rows no
// batch used have no gradient (and are not updated).
struct sparse_row {
  std::size_t offset = 0, dim = 0;
};

struct reduced_gradient {
  std::span<float> dense;              // the parameters before the embedding tables
  std::span<float> all;                // every parameter (dense, then the tables)
  std::span<const sparse_row> sparse;  // the table rows with a gradient, in offset order
  double grad_sq = 0.0;                // sum of the squares of every value above
  double loss_sum = 0.0;               // sum_r w_r L_r over the batch's rows
};

class reduction_seam {
 public:
  virtual ~reduction_seam() = default;
  // Called once per step by every process, between the gradient and the update.
  virtual void combine(reduced_gradient& g) = 0;
};

// One process: the local gradient is the gradient.
class local_reduction final : public reduction_seam {
 public:
  void combine(reduced_gradient&) override {}
};

}  // namespace tmlp::train
