// The step's phase timers: a steady clock and seconds between two of its readings.
#pragma once

#include <chrono>

namespace tmlp::train {

using clock_type = std::chrono::steady_clock;

inline double seconds(clock_type::duration d) noexcept {
  return std::chrono::duration<double>(d).count();
}
inline double seconds_since(clock_type::time_point t0) noexcept {
  return seconds(clock_type::now() - t0);
}

}  // namespace tmlp::train
