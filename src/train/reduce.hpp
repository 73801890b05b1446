// The reduction of a step's gradient, and its seam with other processes.
//
// The gradient engine reduces its shards' gradients over fixed parameter blocks, shards added
// in the order 0..S-1 and scaled by 1/B (train/reduce.cpp), clips them by value and sums their
// squares. On several processes (a tmlp::communicator handed to the engine, tmlp/distributed.hpp)
// the same sums are cut at the seam between ranks: each rank adds its contiguous range of
// shards to the partial sums the rank before it sent (train/reduce_ranks.cpp), so every
// process ends with the gradient one process computes. The step owner
// (train/train_step.hpp) then clips by norm and updates, alike on every rank.
#pragma once

#include <cstddef>

namespace tmlp::train {

// An embedding table row that the step's batch used: dim gradient values at offset. Rows no
// batch used have no gradient (and are not updated).
struct sparse_row {
  std::size_t offset = 0, dim = 0;
};

}  // namespace tmlp::train
