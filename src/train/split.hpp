// Row orders: the seeded permutation of each epoch (the validation split, tmlp::split_rows, is
// public: tmlp/trainer.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tmlp::train {

// Shuffles rows in place (Fisher-Yates) with draws keyed by (seed, epoch): the same order for
// the same inputs, whatever the thread count.
void shuffle_epoch(std::uint64_t seed, std::uint64_t epoch,
                   std::vector<std::uint32_t>& rows) noexcept;

}  // namespace tmlp::train
