#include "train/split.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "core/random.hpp"
#include "tmlp/error.hpp"
#include "tmlp/trainer.hpp"

namespace tmlp {
namespace train {

namespace {
// Uniform integer in [0, bound) from 64 random bits (multiply-shift; bound < 2^32).
std::uint32_t below(std::uint64_t bits, std::uint64_t bound) noexcept {
  return static_cast<std::uint32_t>(((bits >> 32) * bound) >> 32);
}
}  // namespace

void shuffle_epoch(std::uint64_t seed, std::uint64_t epoch,
                   std::vector<std::uint32_t>& rows) noexcept {
  const std::uint64_t key = core::derive_key(seed, 0x5eed, epoch);
  for (std::size_t i = rows.size(); i > 1; --i) {
    const std::uint32_t j = below(core::bits(key, i), i);
    std::swap(rows[i - 1], rows[j]);
  }
}

}  // namespace train

void split_rows(std::size_t n, float fraction, std::uint64_t seed, loss_kind loss,
                std::size_t target_cols, const float* targets, std::vector<std::uint32_t>& train,
                std::vector<std::uint32_t>& valid) {
  if (!(fraction >= 0.0f && fraction < 1.0f))
    throw error(errc::invalid_argument,
                fmt::format("split_rows: fraction {} is outside [0, 1)", fraction));
  train.clear();
  valid.clear();
  std::map<long, std::vector<std::uint32_t>> groups;  // class -> rows (one group for regression)
  const bool stratify = loss == loss_kind::ce || (loss == loss_kind::bce && target_cols == 1);
  for (std::size_t r = 0; r < n; ++r) {
    long cls = 0;
    if (loss == loss_kind::ce)
      cls = static_cast<long>(targets[r]);
    else if (stratify)
      cls = targets[r] >= 0.5f ? 1 : 0;
    groups[cls].push_back(static_cast<std::uint32_t>(r));
  }
  for (auto& [cls, rows] : groups) {
    tmlp::train::shuffle_epoch(seed ^ 0x5b1u, static_cast<std::uint64_t>(cls) + 1, rows);
    const auto n_valid =
        static_cast<std::size_t>(std::llround(fraction * static_cast<double>(rows.size())));
    valid.insert(valid.end(), rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(n_valid));
    train.insert(train.end(), rows.begin() + static_cast<std::ptrdiff_t>(n_valid), rows.end());
  }
  std::sort(train.begin(), train.end());
  std::sort(valid.begin(), valid.end());
}

}  // namespace tmlp
