// Layer normalization of Z over a layer's units, row by row, before the activation:
// out = gain * (Z - mean) / sqrt(var + eps) + shift.
#pragma once

#include <cstddef>

namespace tmlp::core {

inline constexpr float layer_norm_eps = 1e-5f;

// z, x_hat, out: rows x n; rstd: rows (1 / sqrt(var + eps) per row); gain, shift: n.
void layer_norm_forward(std::size_t rows, std::size_t n, const float* z, const float* gain,
                        const float* shift, float* x_hat, float* rstd, float* out) noexcept;

// d: rows x n, in dL/d(out), out dL/dZ. x_hat, rstd: the forward's. Writes the gain's and
// shift's gradients (n each).
void layer_norm_backward(std::size_t rows, std::size_t n, const float* gain, const float* x_hat,
                         const float* rstd, float* d, float* d_gain, float* d_shift) noexcept;

}  // namespace tmlp::core
