// Optimizer updates, axpy and scale as templates over an xsimd architecture.
#pragma once

#include <xsimd/xsimd.hpp>

#include "kernels.hpp"

namespace tmlp::kernels {

template <class Arch>
void fill_optimizer_kernels(kernel_table& t) noexcept {
  (void)t;  // TODO: filled by the optimizer kernels
}

}  // namespace tmlp::kernels
