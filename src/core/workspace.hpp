// Buffers for one forward and backward pass of up to max_rows rows through a network's ops:
// sized once from the slots the ops declared (core/op.hpp), reused every step. The gradient
// engine gives each shard one, or each task that can run at once one of a pool
// (train/gradient_engine.hpp).
#pragma once

#include <cstddef>
#include <vector>

#include "core/aligned.hpp"
#include "core/op.hpp"

namespace tmlp::core {

struct network;

class workspace {
 public:
  workspace(const network& net, std::size_t max_rows);
  std::size_t max_rows() const noexcept { return max_rows_; }

  float* floats(slot s) noexcept { return buf_.data() + off_[s]; }
  const float* floats(slot s) const noexcept { return buf_.data() + off_[s]; }
  double* doubles(slot s) noexcept { return dbuf_.data() + off_[s]; }
  const double* doubles(slot s) const noexcept { return dbuf_.data() + off_[s]; }

  // What op i read and returned in the last forward pass (its backward reads them).
  const float* op_in(std::size_t i) const noexcept { return in_[i]; }
  const float* op_out(std::size_t i) const noexcept { return out_[i]; }
  void record(std::size_t i, const float* in, const float* out) noexcept {
    in_[i] = in;
    out_[i] = out;
  }

  // Where a pass that runs in segments (between barriers) stands: rows of the pass, the last
  // forward segment's output and the last backward segment's dL/d(input).
  std::size_t pass_rows = 0;
  const float* cursor = nullptr;
  float* d_cursor = nullptr;

 private:
  std::size_t max_rows_;
  aligned_vector<float> buf_;
  aligned_vector<double> dbuf_;
  std::vector<std::size_t> off_;  // per slot, into buf_ or dbuf_
  std::vector<const float*> in_, out_;
};

}  // namespace tmlp::core
