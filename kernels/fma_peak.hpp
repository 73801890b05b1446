// The register-only FMA loop behind `tmlp bench`'s FMA peak (kernel_table::fma_loop), written
// once over an xsimd architecture.
//
// Intended usage: arch_<name>.cpp calls fill_fma_kernels<Arch>(table) through make_table.
//
// fma_accumulators independent vectors stay in registers for the whole loop; each step updates
// every one of them with a fused multiply-add a = a * m + c. The vectors only depend on
// themselves, so the loop is bound by the FMA units' throughput, not their latency, as long as
// fma_accumulators >= latency x units (4 x 2 on the CPUs seen so far: 12 leaves room). m and c
// are the caller's values, so the compiler cannot fold the steps; the vectors are stored back.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>

#include <xsimd/xsimd.hpp>

#include "kernels.hpp"

namespace tmlp::kernels {
namespace fma_detail {

// a * m + c with one rounding. This xsimd has no fused multiply-add of its own for avx512f (its
// generic fma multiplies, then adds: two roundings, half the peak), so AVX-512 asks for
// vfmadd explicitly; fma3<avx2> has its own.
template <class B>
B fused(const B& a, const B& m, const B& c) noexcept {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<typename B::arch_type, xsimd::avx512f>)
    return B(_mm512_fmadd_ps(a, m, c));
  else
#endif
    return xsimd::fma(a, m, c);
}

// n steps of a[j] = a[j] * m + c for every j, the j unrolled at compile time so that each a[j]
// lives in a register of its own.
template <class B, std::size_t... J>
void steps(std::size_t n, const B& m, const B& c, std::array<B, sizeof...(J)>& a,
           std::index_sequence<J...>) noexcept {
  for (std::size_t i = 0; i < n; ++i) ((a[J] = fused(a[J], m, c)), ...);
}

}  // namespace fma_detail

// acc: fma_accumulators x lanes floats, read as the starting values and written back after
// n_iters steps. Returns the floating-point operations done (2 per lane and step).
template <class Arch>
double fma_loop(std::size_t n_iters, float m, float c, float* acc) noexcept {
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t lanes = B::size;
  std::array<B, fma_accumulators> a;
  for (std::size_t j = 0; j < fma_accumulators; ++j) a[j] = B::load_unaligned(acc + j * lanes);
  fma_detail::steps(n_iters, B(m), B(c), a, std::make_index_sequence<fma_accumulators>{});
  for (std::size_t j = 0; j < fma_accumulators; ++j) a[j].store_unaligned(acc + j * lanes);
  return 2.0 * static_cast<double>(fma_accumulators * lanes) * static_cast<double>(n_iters);
}

template <class Arch>
void fill_fma_kernels(kernel_table& t) noexcept {
  t.fma_loop = &fma_loop<Arch>;
}

}  // namespace tmlp::kernels
