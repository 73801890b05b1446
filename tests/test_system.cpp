// tmlp/system.hpp: what tmlp::system() reports is what the library runs with.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "kernels.hpp"
#include "tmlp/system.hpp"
#include "tmlp/version.hpp"

TEST_CASE("system() reports the active kernels, the usable ones, BLAS and threads", "[system]") {
  const tmlp::system_info s = tmlp::system();
  CHECK(s.version == tmlp::version_string);
  REQUIRE(!s.simd_available.empty());
  CHECK(s.simd_available.front() == "scalar");
  CHECK(s.simd_available == tmlp::simd_available());
  CHECK(std::count(s.simd_available.begin(), s.simd_available.end(), s.simd) == 1);
  // The kernels chosen: the one TMLP_SIMD forces, else the best usable.
  const char* forced = std::getenv("TMLP_SIMD");
  CHECK(s.simd ==
        (forced != nullptr && *forced != '\0' ? std::string(forced) : s.simd_available.back()));
  CHECK(s.simd == tmlp::kernels::active().name);
  CHECK(s.simd_lanes == tmlp::kernels::active().lanes);
  CHECK(s.simd_lanes == (s.simd == "scalar" ? 1u
                         : s.simd == "sse2" ? 4u
                         : s.simd == "avx2" ? 8u
                                            : 16u));
  CHECK(!s.blas.empty());
  CHECK((s.gemm.starts_with("openblas (") || s.gemm.starts_with("libxsmm (")));
  CHECK(s.n_threads >= 1);
}
