// Instantiates every kernel for xsimd::fma3<xsimd::avx2>. Compiled with that instruction set's
// flags (kernels/CMakeLists.txt); nothing else in this file.
#include "table_impl.hpp"

namespace tmlp::kernels {
kernel_table make_table_avx2() noexcept { return make_table<xsimd::fma3<xsimd::avx2>>("avx2"); }
}  // namespace tmlp::kernels
