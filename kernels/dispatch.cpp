// Chooses the kernel table once per process: TMLP_SIMD if set, else the best the CPU offers.
#include <cstdlib>
#include <string>

#include <xsimd/xsimd.hpp>

#include "kernels.hpp"
#include "reference.hpp"
#include "table_impl.hpp"
#include "tmlp/error.hpp"

namespace tmlp::kernels {
namespace {

kernel_table make_reference_table() noexcept {
  kernel_table t{};
  t.name = "scalar";
  t.lanes = 1;
  fill_reference_activation_kernels(t);
  fill_reference_optimizer_kernels(t);
  fill_reference_bf16_kernels(t);
  fill_reference_fma_kernels(t);
  fill_reference_transpose_kernels(t);
  fill_reference_product_kernels(t);
  return t;
}

// A table is built only when the CPU runs its instruction set: make_table_<arch> itself is
// compiled with that set's flags and may use its instructions.
struct all_tables {
  kernel_table scalar = make_reference_table();
  kernel_table sse2{}, avx2{}, avx512{};
  kernel_table avx512_xsimd{};  // avx512 before the native bf16 conversions went in
  bool has_sse2 = false, has_avx2 = false, has_avx512 = false;

  all_tables() noexcept {
    const auto cpu = xsimd::available_architectures();
    has_sse2 = cpu.sse2;
    has_avx2 = cpu.fma3_avx2;
    has_avx512 = cpu.avx512f && cpu.avx512cd && cpu.fma3_avx2;
    if (has_sse2) sse2 = make_table_sse2();
    if (has_avx2) avx2 = make_table_avx2();
    if (has_avx512) {
      avx512 = avx512_xsimd = make_table_avx512();
      fill_native_bf16_kernels(avx512);
    }
  }
};

const all_tables& tables() noexcept {
  static const all_tables t;
  return t;
}

}  // namespace

const kernel_table& select_table(const char* forced) {
  if (forced == nullptr || *forced == '\0') {
    const auto& t = tables();
    if (t.has_avx512) return t.avx512;
    if (t.has_avx2) return t.avx2;
    if (t.has_sse2) return t.sse2;
    return t.scalar;
  }
  if (const kernel_table* k = find(forced)) return *k;
  std::string offered;
  for (auto name : available()) offered += (offered.empty() ? "" : ", ") + std::string(name);
  const std::string_view f = forced;
  const bool known = f == "scalar" || f == "sse2" || f == "avx2" || f == "avx512";
  throw error(known ? errc::unsupported : errc::invalid_argument,
              "TMLP_SIMD=" + std::string(forced) +
                  (known ? ": this CPU does not support it" : ": unknown architecture") +
                  "; expected one of: " + offered);
}

const kernel_table& active() {
  static const kernel_table& chosen = select_table(std::getenv("TMLP_SIMD"));
  return chosen;
}

const kernel_table* find(std::string_view name) noexcept {
  const auto& t = tables();
  if (name == "scalar") return &t.scalar;
  if (name == "sse2") return t.has_sse2 ? &t.sse2 : nullptr;
  if (name == "avx2") return t.has_avx2 ? &t.avx2 : nullptr;
  if (name == "avx512") return t.has_avx512 ? &t.avx512 : nullptr;
  return nullptr;
}

std::vector<std::string_view> available() {
  std::vector<std::string_view> names;
  for (std::string_view n : {"scalar", "sse2", "avx2", "avx512"})
    if (find(n) != nullptr) names.push_back(n);
  return names;
}

const kernel_table& reference() noexcept { return tables().scalar; }

const kernel_table* avx512_xsimd_bf16() noexcept {
  const auto& t = tables();
  return t.has_avx512 && t.avx512.to_bf16 != t.avx512_xsimd.to_bf16 ? &t.avx512_xsimd : nullptr;
}

}  // namespace tmlp::kernels
