// Activation, softmax and column-sum kernels as templates over an xsimd architecture.
#pragma once

#include <xsimd/xsimd.hpp>

#include "kernels.hpp"

namespace tmlp::kernels {

template <class Arch>
void fill_activation_kernels(kernel_table& t) noexcept {
  (void)t;  // TODO: filled by the activation kernels
}

}  // namespace tmlp::kernels
