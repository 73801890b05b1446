// Losses and their gradients with respect to the last layer's outputs (include/tmlp/model.hpp
// gives the formulas). Targets: rows x k values, except for ce, where each row has one class
// index 0..k-1 stored as a float. Sample weights: rows values, or nullptr for all ones.
#pragma once

#include <cstddef>

#include "tmlp/model.hpp"

namespace tmlp::core {

struct loss_config {
  loss_kind kind = loss_kind::mse;
  float huber_delta = 1.0f;
  float label_smoothing = 0.0f;  // bce, ce (model_spec::label_smoothing)
};

// Returns sum over rows of w_r * L_r, accumulated in double in row order.
// d_y (rows x k, may be nullptr): w_r * dL_r/dy, not divided by the row count (the gradient
// reduction divides by the batch size once). Inputs must be valid (see check_targets).
double loss_forward_backward(const loss_config& c, std::size_t rows, std::size_t k, const float* y,
                             const float* targets, const float* weights, float* d_y) noexcept;

// Number of target values per row: k, or 1 for ce.
std::size_t target_width(loss_kind kind, std::size_t k) noexcept;

// Throws tmlp::error naming the first row whose target is not usable by this loss: non-finite
// values, bce targets outside [0, 1], ce targets that are not an integer class in 0..k-1;
// and negative or non-finite sample weights.
void check_targets(const loss_config& c, std::size_t rows, std::size_t k, const float* targets,
                   const float* weights);

}  // namespace tmlp::core
