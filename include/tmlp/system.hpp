// What this machine and build give the library: the SIMD kernels it runs, the BLAS it calls
// and the threads it uses by default. `tmlp system` prints it.
//
//     tmlp::system_info s = tmlp::system();
//     std::printf("%s kernels, %zu float lanes, %d threads\n", s.simd.c_str(), s.simd_lanes,
//                 s.n_threads);
//     for (const std::string& arch : tmlp::simd_available()) ...   // "scalar", ..., best last
//
// The kernels are chosen once per process: the best architecture the CPU supports, or the one
// the environment variable TMLP_SIMD names (scalar, sse2, avx2, avx512).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tmlp {

struct system_info {
  std::string version;                      // the library's version ("0.1.0")
  std::string simd;                         // the active kernels: "scalar", "sse2", "avx2", ...
  std::size_t simd_lanes = 0;               // float lanes of one of their vectors (1: scalar)
  std::vector<std::string> simd_available;  // usable on this machine, scalar first, best last
  std::string blas;                         // one line: BLAS build, core and thread count
  std::string gemm;   // one line: the GEMM backend (TMLP_GEMM), why, libxsmm's version and target
  int n_threads = 0;  // threads of the default pool (every core)
};

// The machine and build as the library sees them now. Choosing the kernels and the GEMM
// backend on first use, it throws tmlp::error when TMLP_SIMD names an architecture that is
// unknown or unavailable here, or TMLP_GEMM a backend that is not one of openblas, libxsmm, auto.
system_info system();

// The SIMD architectures usable on this machine, scalar first, best last; never throws for
// TMLP_SIMD (it does not choose the kernels).
std::vector<std::string> simd_available();

}  // namespace tmlp
