// Inverted dropout of a layer's outputs while training; nothing at inference.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/op.hpp"

namespace tmlp::core {

// The stream of an epoch's dropout masks.
std::uint64_t dropout_key(std::uint64_t seed, std::uint64_t epoch) noexcept;

// Masks rows x n outputs a of layer `layer` with drop probability p: mask = 0 or 1 / (1 - p'),
// where p' is p rounded to a multiple of 2^-16 (each decision takes 16 random bits, four per
// 64-bit draw, keyed by the row's index in ctx.rows), so the expected output is a exactly.
// mask, out: rows x n.
void dropout_forward(const dropout_context& ctx, std::size_t layer, float p, std::size_t rows,
                     std::size_t n, const float* a, float* mask, float* out) noexcept;

// d: rows x n, dL/d(out) -> dL/da, through the mask of the forward.
void dropout_backward(std::size_t rows, std::size_t n, const float* mask, float* d) noexcept;

}  // namespace tmlp::core
