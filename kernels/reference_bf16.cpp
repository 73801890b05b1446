// Scalar reference of the bfloat16 rounding (bf16.hpp): the oracle of the vector kernels and
// the "scalar" architecture.
#include <cstdint>
#include <cstring>

#include "reference.hpp"

namespace tmlp::kernels {
namespace {

float round_one(float x) noexcept {
  std::uint32_t bits = 0;
  std::memcpy(&bits, &x, sizeof bits);
  const std::uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) {
    bits = (bits | 0x00400000u) & 0xffff0000u;  // NaN, quiet
  } else if (magnitude < 0x00800000u) {
    bits &= 0x80000000u;  // zero or denormal: a zero of its sign
  } else {
    const std::uint32_t lowest_kept = (bits >> 16) & 1u;  // ties go to the even neighbour
    bits = (bits + 0x7fffu + lowest_kept) & 0xffff0000u;
  }
  float y = 0.0f;
  std::memcpy(&y, &bits, sizeof y);
  return y;
}

void round_bf16(std::size_t n, const float* x, float* y) noexcept {
  for (std::size_t i = 0; i < n; ++i) y[i] = round_one(x[i]);
}

void to_bf16(std::size_t n, const float* x, std::uint16_t* y) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const float r = round_one(x[i]);
    std::uint32_t bits = 0;
    std::memcpy(&bits, &r, sizeof bits);
    y[i] = static_cast<std::uint16_t>(bits >> 16);
  }
}

void to_bf16_pairs(std::size_t n, const float* a, const float* b, std::uint16_t* y) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    to_bf16(1, a + i, y + 2 * i);
    y[2 * i + 1] = 0;
    if (b != nullptr) to_bf16(1, b + i, y + 2 * i + 1);
  }
}

}  // namespace

void fill_reference_bf16_kernels(kernel_table& t) noexcept {
  t.round_bf16 = &round_bf16;
  t.to_bf16 = &to_bf16;
  t.to_bf16_pairs = &to_bf16_pairs;
}

}  // namespace tmlp::kernels
