// A dense layer's activation A = f(in), in being Z or its normalization.
#pragma once

#include <cstddef>

#include "core/layer.hpp"

namespace tmlp::core {

// in, a: rows x n_out (in is not changed).
void activation_forward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                        std::size_t rows, const float* in, float* a) noexcept;

// d: rows x n_out, in dL/dA, out dL/d(in); in, a: what the forward read and wrote. Writes the
// prelu slopes' gradient into grads, if the layer has them.
void activation_backward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                         std::size_t rows, const float* in, const float* a, float* d,
                         float* grads) noexcept;

}  // namespace tmlp::core
