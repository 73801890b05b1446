// Scalar reference kernels: plain loops over <cmath>, the oracle every vector kernel is tested
// against, and the "scalar" architecture of the dispatch table. Compiled with baseline flags.
#pragma once

#include "kernels.hpp"

namespace tmlp::kernels {

void fill_reference_activation_kernels(kernel_table& t) noexcept;  // reference_activations.cpp
void fill_reference_optimizer_kernels(kernel_table& t) noexcept;   // reference_optimizers.cpp
void fill_reference_bf16_kernels(kernel_table& t) noexcept;        // reference_bf16.cpp
void fill_reference_fma_kernels(kernel_table& t) noexcept;         // reference_fma.cpp
void fill_reference_transpose_kernels(kernel_table& t) noexcept;   // reference_transpose.cpp
void fill_reference_product_kernels(kernel_table& t) noexcept;     // reference_products.cpp

}  // namespace tmlp::kernels
