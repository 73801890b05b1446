// What one fit() works with, validated and sized once before the first step: the training and
// validation rows, the batch and shard sizes, the workers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/network.hpp"
#include "tmlp/matrix.hpp"
#include "tmlp/rows.hpp"
#include "tmlp/trainer.hpp"

namespace tmlp::train {

struct fit_plan {
  const row_source* x = nullptr;                      // training features (n_rows x n_inputs)
  matrix_view y;                                      // training targets
  const float* weights = nullptr;                     // sample weights, or nullptr
  std::vector<std::uint32_t> train_rows, valid_rows;  // rows of x (or of the validation set)
  const row_source* valid_x = nullptr;  // x itself when validation rows are held out of it
  matrix_view valid_y;
  std::size_t n_train = 0, batch = 0, n_batches = 0, n_shards = 0;
  int n_workers = 1;
  std::vector<std::string> notes;  // for fit_result::notes

  bool has_valid() const noexcept { return !valid_rows.empty(); }
};

// Checks the data against the network (throws tmlp::error naming what is wrong: row counts,
// widths, non-finite values, targets the loss cannot use), splits off the validation rows
// (config.valid_fraction, unless x_valid is given) and sizes the batches, shards and workers.
fit_plan make_fit_plan(const train_config& config, const core::network& net, const row_source& x,
                       matrix_view y, const row_source* x_valid, matrix_view y_valid,
                       std::span<const float> weights);

// Throws tmlp::error unless m is rows x cols of finite values; name says which matrix.
void check_matrix(const char* name, matrix_view m, std::size_t rows, std::size_t cols);

}  // namespace tmlp::train
