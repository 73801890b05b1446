// Scalar reference of the FMA loop (fma_peak.hpp): std::fma on one float per accumulator, the
// oracle of the vector loops and the "scalar" architecture's peak. Compiled with baseline flags,
// where std::fma is a library call: that is the scalar peak this build can reach.
#include <cmath>
#include <cstddef>

#include "reference.hpp"

namespace tmlp::kernels {
namespace {

// acc: fma_accumulators floats.
double fma_loop(std::size_t n_iters, float m, float c, float* acc) noexcept {
  float a[fma_accumulators];
  for (std::size_t j = 0; j < fma_accumulators; ++j) a[j] = acc[j];
  for (std::size_t i = 0; i < n_iters; ++i)
    for (std::size_t j = 0; j < fma_accumulators; ++j) a[j] = std::fma(a[j], m, c);
  for (std::size_t j = 0; j < fma_accumulators; ++j) acc[j] = a[j];
  return 2.0 * static_cast<double>(fma_accumulators) * static_cast<double>(n_iters);
}

}  // namespace

void fill_reference_fma_kernels(kernel_table& t) noexcept { t.fma_loop = &fma_loop; }

}  // namespace tmlp::kernels
