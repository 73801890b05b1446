// Builds the kernel table of one xsimd architecture. Included only by the arch_*.cpp files,
// each compiled with that architecture's instruction-set flags.
#pragma once

#include "activation_loops.hpp"
#include "bf16.hpp"
#include "dot_products.hpp"
#include "fma_peak.hpp"
#include "kernels.hpp"
#include "optimizers.hpp"
#include "transpose.hpp"

namespace tmlp::kernels {

template <class Arch>
kernel_table make_table(const char* name) noexcept {
  kernel_table t{};
  t.name = name;
  t.lanes = xsimd::batch<float, Arch>::size;
  fill_activation_kernels<Arch>(t);
  fill_optimizer_kernels<Arch>(t);
  fill_bf16_kernels<Arch>(t);
  fill_fma_kernels<Arch>(t);
  fill_transpose_kernels<Arch>(t);
  fill_product_kernels<Arch>(t);
  return t;
}

// One per architecture, defined in arch_<name>.cpp.
kernel_table make_table_sse2() noexcept;
kernel_table make_table_avx2() noexcept;
kernel_table make_table_avx512() noexcept;
// Puts AVX512-BF16's conversions in place of t's bf16 kernels where the CPU has those
// instructions; leaves t as it is elsewhere (bf16_native.cpp).
void fill_native_bf16_kernels(kernel_table& t) noexcept;

}  // namespace tmlp::kernels
