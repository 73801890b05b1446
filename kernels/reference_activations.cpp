#include "reference.hpp"

namespace tmlp::kernels {
void fill_reference_activation_kernels(kernel_table& t) noexcept { (void)t; }
}  // namespace tmlp::kernels
