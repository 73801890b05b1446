// Row orders: the seeded permutation of each epoch and the validation split.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tmlp/model.hpp"

namespace tmlp::train {

// Shuffles rows in place (Fisher-Yates) with draws keyed by (seed, epoch): the same order for
// the same inputs, whatever the thread count.
void shuffle_epoch(std::uint64_t seed, std::uint64_t epoch,
                   std::vector<std::uint32_t>& rows) noexcept;

// Splits rows 0..n-1 into training and validation rows, seeded. For ce (class index per row)
// and single-output bce (target >= 0.5 is class 1) the split is stratified: each class gives
// round(fraction * its count) rows to validation. Both outputs are sorted by row.
void split_rows(std::size_t n, float fraction, std::uint64_t seed, loss_kind loss,
                std::size_t target_cols, const float* targets, std::vector<std::uint32_t>& train,
                std::vector<std::uint32_t>& valid);

}  // namespace tmlp::train
