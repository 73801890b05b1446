// Counter-based random numbers: a draw is a pure function of (key, counter), so a stream never
// depends on which thread asks, in which order, or how work was cut. Keys are derived from the
// seed and a purpose (layer, epoch, ...) with derive_key.
#pragma once

#include <cmath>
#include <cstdint>

namespace tmlp::core {

// SplitMix64 finalizer: a bijective 64-bit mix with full avalanche.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

constexpr std::uint64_t derive_key(std::uint64_t seed, std::uint64_t a,
                                   std::uint64_t b = 0) noexcept {
  return mix64(mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^ (a + 0x632be59bd9b4e019ULL)) ^
               (b + 0x2545f4914f6cdd1dULL));
}

// 64 random bits for position `counter` of stream `key`.
constexpr std::uint64_t bits(std::uint64_t key, std::uint64_t counter) noexcept {
  return mix64(key ^ mix64(counter + 0x9e3779b97f4a7c15ULL));
}

// Uniform double in [0, 1), 53 bits.
constexpr double uniform01(std::uint64_t key, std::uint64_t counter) noexcept {
  return static_cast<double>(bits(key, counter) >> 11) * 0x1.0p-53;
}

// Standard normal by Box-Muller from two draws at counters 2i and 2i+1.
inline double normal(std::uint64_t key, std::uint64_t i) noexcept {
  const double u1 = 1.0 - uniform01(key, 2 * i);  // (0, 1]
  const double u2 = uniform01(key, 2 * i + 1);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace tmlp::core
