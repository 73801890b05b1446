// tmlp::system (tmlp/system.hpp): the kernels' dispatch table, BLAS and oneTBB, described.
#include "tmlp/system.hpp"

#include <tbb/info.h>

#include "blas/blas.hpp"
#include "kernels.hpp"
#include "tmlp/version.hpp"

namespace tmlp {

std::vector<std::string> simd_available() {
  std::vector<std::string> names;
  for (std::string_view n : kernels::available()) names.emplace_back(n);
  return names;
}

system_info system() {
  const kernels::kernel_table& k = kernels::active();
  system_info s;
  s.version = std::string(version_string);
  s.simd = k.name;
  s.simd_lanes = k.lanes;
  s.simd_available = simd_available();
  s.blas = blas::describe();
  s.gemm = blas::describe_backend();
  s.n_threads = tbb::info::default_concurrency();
  return s;
}

}  // namespace tmlp
