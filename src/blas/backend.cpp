// Which GEMM backend runs the products, and the products themselves (blas.hpp).
#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstdlib>

#include <fmt/format.h>

#include "blas/backends.hpp"
#include "blas/blas.hpp"
#include "tmlp/error.hpp"

namespace tmlp::blas {
namespace {

// The backend in use, and what was wrong with TMLP_GEMM (empty: nothing). A bad value leaves
// OpenBLAS in use for the products (which cannot throw) and active_backend() reports it.
struct choice {
  std::atomic<backend> in_use;
  std::string error;
  std::atomic<bool> named{false};  // TMLP_GEMM or a backend_scope named it (not auto)
};

choice select_backend(const char* forced) {
  // A bad LIBXSMM_TARGET is reported like a bad TMLP_GEMM, whichever backend runs the fp32
  // products: libxsmm's bf16 kernels and `tmlp system` follow it too.
  if (std::string target = detail::xsmm_target_problem(); !target.empty())
    return {backend::openblas, std::move(target)};
  if (forced == nullptr || *forced == '\0' || std::string_view(forced) == "auto")
    return {auto_backend(), {}};
  if (const auto b = parse_backend(forced)) return {*b, {}, true};
  return {backend::openblas,
          fmt::format("TMLP_GEMM={}: unknown GEMM backend; expected openblas, libxsmm or auto",
                      forced)};
}

choice& current() {
  static choice c = select_backend(std::getenv("TMLP_GEMM"));
  return c;
}

}  // namespace

std::string_view name(backend b) noexcept { return b == backend::libxsmm ? "libxsmm" : "openblas"; }

std::optional<backend> parse_backend(std::string_view s) noexcept {
  if (s == "openblas") return backend::openblas;
  if (s == "libxsmm") return backend::libxsmm;
  return std::nullopt;
}

// libxsmm where it generates AVX-512 code, OpenBLAS elsewhere. On a Zen 5 with AVX-512 (where
// OPENBLAS_CORETYPE=Haswell keeps OpenBLAS on its AVX2 kernels) libxsmm ran whole training steps
// at 2 threads 1.3x (B) to 1.7x (A) faster; on a Zen 3 with AVX2 it won only the first layer's
// forward product and lost whole steps by 0.45-0.7x (README, Performance). A fixed rule, not a
// timing at start-up: the same machine always computes the same bits.
backend auto_backend() noexcept {
  return detail::xsmm_has_avx512() ? backend::libxsmm : backend::openblas;
}

backend active_backend() {
  const choice& c = current();
  if (!c.error.empty()) throw error(errc::invalid_argument, c.error);
  return c.in_use.load(std::memory_order_relaxed);
}

std::string describe_backend() {
  const backend b = active_backend();
  const char* forced = std::getenv("TMLP_GEMM");
  const std::string why =
      forced != nullptr && *forced != '\0' && std::string_view(forced) != "auto"
          ? "TMLP_GEMM"
          : (detail::xsmm_has_avx512() ? "auto: libxsmm generates AVX-512 code here"
                                       : "auto: libxsmm has no AVX-512 code for this CPU");
  return fmt::format("{} ({}); {}{}", name(b), why, detail::xsmm_describe(),
                     own_bf16_kernel() ? " and tmlp's for right operands of 1 MB or more" : "");
}

bool own_bf16_kernel() noexcept { return cpu_has_bf16() && !detail::xsmm_target_forced(); }

backend_scope::backend_scope(backend b)
    : before_(active_backend()), named_before_(current().named.load(std::memory_order_relaxed)) {
  current().in_use.store(b, std::memory_order_relaxed);
  current().named.store(true, std::memory_order_relaxed);
}

backend_scope::~backend_scope() {
  current().in_use.store(before_, std::memory_order_relaxed);
  current().named.store(named_before_, std::memory_order_relaxed);
}

void sgemm(backend on, bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k,
           float alpha, const float* a, std::size_t lda, const float* b, std::size_t ldb,
           float beta, float* c, std::size_t ldc) noexcept {
  if (on == backend::libxsmm &&
      detail::xsmm_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))
    return;
  detail::openblas_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void sgemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
           const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
           std::size_t ldc) noexcept {
  sgemm(current().in_use.load(std::memory_order_relaxed), trans_a, trans_b, m, n, k, alpha, a, lda,
        b, ldb, beta, c, ldc);
}

bool cpu_has_bf16() noexcept { return __builtin_cpu_supports("avx512bf16") != 0; }

namespace {

std::atomic<int> reference_scopes{0};

float widen(std::uint16_t v) noexcept { return std::bit_cast<float>(std::uint32_t{v} << 16); }

bool reference_bgemm(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* a,
                     std::size_t lda, const std::uint16_t* b_pairs, std::size_t ldb, float beta,
                     float* c, std::size_t ldc) noexcept {
  if (m == 1 || n == 1 || k % 2 != 0) return false;
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      float sum = 0.0f;
      for (std::size_t p = 0; p < k; ++p)
        sum += widen(a[i * lda + p]) * widen(b_pairs[(p / 2) * 2 * ldb + 2 * j + p % 2]);
      c[i * ldc + j] = beta == 0.0f ? sum : c[i * ldc + j] + sum;
    }
  return true;
}

}  // namespace

bool bf16_kernels() noexcept {
  const choice& c = current();
  const bool openblas_named = c.named.load(std::memory_order_relaxed) &&
                              c.in_use.load(std::memory_order_relaxed) == backend::openblas;
  return !openblas_named &&
         (detail::xsmm_has_bf16() || reference_scopes.load(std::memory_order_relaxed) > 0);
}

bool bgemm_may_run(std::size_t m, std::size_t n) noexcept {
  return m > 1 && n > 1 && bf16_kernels();
}

namespace {
// Whether tmlp's own kernel runs the product rather than libxsmm's: where it is faster
// (detail::dp_bgemm_wins), whenever own_bf16_kernel(). Both give the same bits.
bool own_kernel_runs(std::size_t m, std::size_t n, std::size_t k, float beta) noexcept {
  return m > 1 && n > 1 && k % 2 == 0 && (beta == 0.0f || beta == 1.0f) &&
         detail::dp_bgemm_wins(n, k) && own_bf16_kernel();
}
}  // namespace

bool bgemm(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* a, std::size_t lda,
           const std::uint16_t* b_pairs, std::size_t ldb, float beta, float* c,
           std::size_t ldc) noexcept {
  if (!bf16_kernels()) return false;
  if (own_kernel_runs(m, n, k, beta)) {
    detail::dp_bgemm(m, n, k, a, lda, b_pairs, ldb, beta, c, ldc);
    return true;
  }
  if (detail::xsmm_has_bf16())
    return detail::xsmm_bgemm(m, n, k, a, lda, b_pairs, ldb, beta, c, ldc);
  return reference_bgemm(m, n, k, a, lda, b_pairs, ldb, beta, c, ldc);
}

bool bgemm_runs(std::size_t m, std::size_t n, std::size_t k, std::size_t lda, std::size_t ldb,
                float beta, std::size_t ldc) noexcept {
  if (!bf16_kernels()) return false;
  if (own_kernel_runs(m, n, k, beta)) return true;
  if (detail::xsmm_has_bf16()) return detail::xsmm_bgemm_runs(m, n, k, lda, ldb, beta, ldc);
  return m != 1 && n != 1 && k % 2 == 0;  // reference_bgemm's limits
}

namespace {
// Whether libxsmm's kernels for an m x n product sum each of C's elements in the order of k,
// from zero (beta 0), as the segment kernels do: all but 1 to 16 columns past a multiple of 64,
// and 16 columns or fewer on fewer than 12 rows. Compared bit for bit (fp32 and bf16) with m
// from 2 to 32768, n from 2 to 200 and k from 2 to 1000: every other shape that libxsmm takes
// (xsmm_sgemm_takes) gave the same bits.
bool columns_in_order(std::size_t m, std::size_t n) noexcept {
  if (n <= 16) return m >= 12;
  return n <= 64 || n % 64 == 0 || n % 64 > 16;
}
}  // namespace

bool bgemm_segments_run(std::size_t m, std::size_t n) noexcept {
  return m > 1 && n > 1 && columns_in_order(m, n) && bf16_kernels() && detail::xsmm_has_bf16() &&
         own_bf16_kernel();
}

void bgemm_segments(std::size_t m, std::size_t n, std::span<const bf16_segment> segs, float beta,
                    float* c, std::size_t ldc) noexcept {
  detail::dp_bgemm_segments(m, n, segs, beta != 0.0f, c, ldc);
}

bf16_reference_scope::bf16_reference_scope() noexcept {
  reference_scopes.fetch_add(1, std::memory_order_relaxed);
}

bf16_reference_scope::~bf16_reference_scope() {
  reference_scopes.fetch_sub(1, std::memory_order_relaxed);
}

bool tn_segments_run(std::size_t m, std::size_t n) noexcept {
  return m > 1 && n > 1 && columns_in_order(m, n) &&
         current().in_use.load(std::memory_order_relaxed) == backend::libxsmm &&
         detail::xsmm_has_avx512() && !detail::xsmm_target_forced();
}

bool tn_segment_runs(std::size_t m, std::size_t n, std::size_t k) noexcept {
  return tn_segments_run(m, n) && detail::xsmm_sgemm_takes(m, n, k);
}

namespace {
// Columns of m (k x n, rows ld apart) as blocks of `width`, each k x width, zero-padded.
void pack_columns(std::size_t k, std::size_t n, const float* m, std::size_t ld, std::size_t width,
                  float* out) noexcept {
  for (std::size_t j0 = 0; j0 < n; j0 += width) {
    const std::size_t w = std::min(width, n - j0);
    for (std::size_t r = 0; r < k; ++r, out += width) {
      std::copy_n(m + r * ld + j0, w, out);
      std::fill(out + w, out + width, 0.0f);
    }
  }
}
}  // namespace

void pack_tn_a(std::size_t k, std::size_t m, const float* a, std::size_t lda, float* out) noexcept {
  pack_columns(k, m, a, lda, tn_panel, out);
}

void pack_tn_b(std::size_t k, std::size_t n, const float* b, std::size_t ldb, float* out) noexcept {
  pack_columns(k, n, b, ldb, tn_strip, out);
}

void sgemm_tn_segments(std::size_t m, std::size_t n, std::span<const tn_segment> segs, float beta,
                       float* c, std::size_t ldc) noexcept {
  detail::tn_segments_avx512(m, n, segs, beta != 0.0f, c, ldc);
}

bool wants_transposed_weights() noexcept {
  return current().in_use.load(std::memory_order_relaxed) == backend::libxsmm;
}

}  // namespace tmlp::blas
