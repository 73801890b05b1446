// Instantiates every kernel for xsimd::sse2. Compiled with that instruction set's flags
// (kernels/CMakeLists.txt); nothing else in this file.
#include "table_impl.hpp"

namespace tmlp::kernels {
kernel_table make_table_sse2() noexcept { return make_table<xsimd::sse2>("sse2"); }
}  // namespace tmlp::kernels
