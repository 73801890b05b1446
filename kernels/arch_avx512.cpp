// Instantiates every kernel for xsimd::avx512f. Compiled with that instruction set's flags
// (kernels/CMakeLists.txt); nothing else in this file.
#include "table_impl.hpp"

namespace tmlp::kernels {
kernel_table make_table_avx512() noexcept { return make_table<xsimd::avx512f>("avx512"); }
}  // namespace tmlp::kernels
