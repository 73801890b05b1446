// The libxsmm backend: the only file that includes <libxsmm.h>.
//
// libxsmm is column-major. A row-major C (m x n) is a column-major Cᵀ (n x m), and
//     Cᵀ = op(B)ᵀ · op(A)ᵀ,
// where a row-major B (k x n) read column-major is already Bᵀ, and a row-major A (m x k) is Aᵀ:
// so op(B) = B, op(A) = A is libxsmm's NN product with its operands swapped, and op(A) = Aᵀ (a
// weight gradient, dZᵀ·X) its TRANS_B product. op(B) = Bᵀ would need libxsmm's TRANS_A, which
// its fp32 kernels lack: those products (X·Wᵀ) run from a transposed copy of W instead
// (blas::wants_transposed_weights), or on OpenBLAS.
//
// Kernels are JIT-generated once per shape and kept in a table that workers read without a
// lock: the first call of a shape (in practice the first step, or a set-up pass) generates it
// under a mutex, so two threads never generate the same shape at once, and every later call
// is a look-up of a few nanoseconds. A shape libxsmm cannot generate is remembered as such and
// goes to OpenBLAS, the same way on every call.
#include <libxsmm.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <string>
#include <string_view>

#include "blas/backends.hpp"

namespace tmlp::blas::detail {
namespace {

// One column-major product: libxsmm's m, n, k, leading dimensions and flags.
struct shape {
  std::int32_t m, n, k, lda, ldb, ldc, flags;
  bool operator==(const shape&) const noexcept = default;
};

// Kernels are generated under one lock for every table: the bf16 table may switch libxsmm's
// target while it generates (bf16_target), which must not meet another generation.
std::mutex& generation_lock() {
  static std::mutex m;
  return m;
}

// Fn: the kernels' function type; Dispatch: what generates one (nullptr: libxsmm has none).
template <class Fn, Fn (*Dispatch)(const shape&)>
class kernel_table {
 public:
  // The kernel of s, generated on first use.
  Fn find(const shape& s) noexcept {
    const std::size_t h = hash(s);
    for (std::size_t i = 0; i < max_probe; ++i) {
      const entry* e = slots_[(h + i) % n_slots].load(std::memory_order_acquire);
      if (e == nullptr) break;
      if (e->s == s) return e->fn;
    }
    return generate(s, h);
  }

 private:
  struct entry {
    shape s;
    Fn fn;
  };
  static constexpr std::size_t n_slots = 4096, max_probe = 64;
  std::array<std::atomic<const entry*>, n_slots> slots_{};

  static std::size_t hash(const shape& s) noexcept {
    std::uint64_t h = 1469598103934665603ull;
    for (std::int32_t v : {s.m, s.n, s.k, s.lda, s.ldb, s.ldc, s.flags})
      h = (h ^ static_cast<std::uint32_t>(v)) * 1099511628211ull;
    return static_cast<std::size_t>(h ^ (h >> 29));
  }

  Fn generate(const shape& s, std::size_t h) noexcept {
    const std::lock_guard<std::mutex> lock(generation_lock());
    for (std::size_t i = 0; i < max_probe; ++i) {
      std::atomic<const entry*>& slot = slots_[(h + i) % n_slots];
      const entry* e = slot.load(std::memory_order_acquire);
      if (e != nullptr && e->s == s) return e->fn;  // another thread made it meanwhile
      if (e == nullptr) {
        // Entries live as long as the process, like the code libxsmm generated for them.
        const entry* made = new entry{s, Dispatch(s)};
        slot.store(made, std::memory_order_release);
        return made->fn;
      }
    }
    // The neighbourhood is full (thousands of shapes): libxsmm's own registry, still under the
    // lock, so a shape is never generated twice.
    return Dispatch(s);
  }
};

// Whether LIBXSMM_TARGET (libxsmm's own variable) names the code libxsmm generates; without it,
// libxsmm generates its own choice for this CPU (AVX2 "hsw", AVX-512 "skx", "clx", "cpx", ...).
bool target_forced() noexcept {
  static const bool forced = [] {
    const char* env = std::getenv("LIBXSMM_TARGET");
    return env != nullptr && *env != '\0';
  }();
  return forced;
}

libxsmm_smmfunction dispatch_fp32(const shape& s) noexcept {
  const float alpha = 1.0f, beta = (s.flags & LIBXSMM_GEMM_FLAG_BETA_0) ? 0.0f : 1.0f;
  const int flags = s.flags;
  const libxsmm_blasint lda = s.lda, ldb = s.ldb, ldc = s.ldc;
  return libxsmm_smmdispatch(s.m, s.n, s.k, &lda, &ldb, &ldc, &alpha, &beta, &flags, nullptr);
}

// The code bf16 kernels are generated for: the target LIBXSMM_TARGET names, when it is AVX-512
// (its "skx" code widens the bf16 values to fp32 and multiplies and adds them in fp32, which
// is how the suite runs these kernels under an emulated Skylake-X); else, on a CPU with
// AVX512-BF16, the code with vdpbf16ps ("cpx", libxsmm 1.17's latest), whatever libxsmm's own
// choice for the fp32 kernels. (AVX512-BF16 is asked of the CPU, not of libxsmm's CPU id, which
// may not know it on every vendor's CPUs.) 0: none.
int bf16_target() noexcept {
  if (target_forced()) {
    const int forced = libxsmm_get_target_archid();
    return forced >= LIBXSMM_X86_AVX512_CORE ? forced : 0;
  }
  return __builtin_cpu_supports("avx512bf16") != 0 ? LIBXSMM_X86_AVX512_CPX : 0;
}

// Called under generation_lock().
libxsmm_bsmmfunction dispatch_bf16(const shape& s) noexcept {
  const float alpha = 1.0f, beta = (s.flags & LIBXSMM_GEMM_FLAG_BETA_0) ? 0.0f : 1.0f;
  const int flags = s.flags;
  const libxsmm_blasint lda = s.lda, ldb = s.ldb, ldc = s.ldc;
  const int before = libxsmm_get_target_archid(), wanted = bf16_target();
  if (wanted != before) libxsmm_set_target_archid(wanted);
  const libxsmm_bsmmfunction fn =
      libxsmm_bsmmdispatch(s.m, s.n, s.k, &lda, &ldb, &ldc, &alpha, &beta, &flags, nullptr);
  if (wanted != before) libxsmm_set_target_archid(before);
  return fn;
}

auto& kernels() {
  static kernel_table<libxsmm_smmfunction, &dispatch_fp32> t;
  return t;
}

auto& bf16_kernels() {
  static kernel_table<libxsmm_bsmmfunction, &dispatch_bf16> t;
  return t;
}

bool fits(std::size_t v) noexcept {
  return v > 0 && v <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max());
}

// Whether the fp32 kernels are AVX-512 code: read once, under the generation lock (the bf16
// table switches libxsmm's target while it generates).
bool avx512_code() noexcept {
  static const bool yes = [] {
    const std::lock_guard<std::mutex> lock(generation_lock());
    return libxsmm_get_target_archid() >= LIBXSMM_X86_AVX512_CORE;
  }();
  return yes;
}

// Whether a product of m x n x k multiply-adds is one libxsmm's kernels run well: they have no
// cache blocking of their own (xsmm_sgemm cuts wide ones into strips of C's columns), so past
// some size OpenBLAS's packing pays. Measured on a Zen 5, one thread, 1024 x 1024 layers: AVX-512
// code (fp32 and bf16) kept 175-200 GFLOP/s (bf16: 290-385) from 64 to 1024 rows, against
// OpenBLAS's 87-99, but a weight gradient summing over 16384 rows fell to 76-89 (k past 4096);
// AVX2 code ("hsw") ran 128- and 256-row products no faster than OpenBLAS's AVX2 kernels (and
// a whole batch of 1024 rows through 1024 x 1024 at under a third of its speed).
bool small_enough(std::size_t m, std::size_t n, std::size_t k, bool avx512) noexcept {
  const double mnk = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  return avx512 ? mnk <= 0x1p30 && k <= 4096 : mnk <= 0x1p26;
}

}  // namespace

bool xsmm_sgemm_takes(std::size_t m, std::size_t n, std::size_t k) noexcept {
  // A dimension of 1 (a one-output layer, one row) is a matrix-vector product or a rank-1
  // update: OpenBLAS's sgemv and sger, while libxsmm's kernels vectorize along n, here 1.
  if (m == 1 || n == 1 || k == 1) return false;
  return small_enough(m, n, k, avx512_code()) && fits(m) && fits(n) && fits(k);
}

bool xsmm_sgemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k,
                float alpha, const float* a, std::size_t lda, const float* b, std::size_t ldb,
                float beta, float* c, std::size_t ldc) noexcept {
  if (trans_b || alpha != 1.0f || (beta != 0.0f && beta != 1.0f)) return false;
  if (!xsmm_sgemm_takes(m, n, k) || !fits(lda) || !fits(ldb) || !fits(ldc)) return false;
  const auto i = [](std::size_t v) { return static_cast<std::int32_t>(v); };
  const shape s{
      i(n),
      i(m),
      i(k),
      i(ldb),
      i(lda),
      i(ldc),
      (trans_a ? LIBXSMM_GEMM_FLAG_TRANS_B : 0) | (beta == 0.0f ? LIBXSMM_GEMM_FLAG_BETA_0 : 0)};
  // The kernels stream op(A) once for every few columns of C and B once for every few rows of
  // it: where B (k x n) would not stay in the core's L2, C goes in strips of 64 columns, each a
  // product whose B strip does (a 64-row shard through B's 1024 x 1024 layers on a Zen 5, "cpx"
  // code: forward 110 -> 162 GFLOP/s, and 222 from the transposed copy's padded rows,
  // transposed_stride; input gradient 132 -> 146-165; strips of 32 to 256 columns were no
  // better). Each element of C still sums over k in the kernel's order; the cut depends on the
  // shape alone.
  constexpr std::size_t strip = 64, l2_floats = 128 * 1024;
  if (k * n > l2_floats && n > strip) {
    const libxsmm_smmfunction fn =
        kernels().find({i(strip), s.n, s.k, s.lda, s.ldb, s.ldc, s.flags});
    const std::size_t n_full = n / strip * strip;
    const libxsmm_smmfunction tail =
        n_full == n ? fn : kernels().find({i(n - n_full), s.n, s.k, s.lda, s.ldb, s.ldc, s.flags});
    if (fn == nullptr || tail == nullptr) return false;
    for (std::size_t j = 0; j < n_full; j += strip) fn(b + j, a, c + j);
    if (n_full != n) tail(b + n_full, a, c + n_full);
    return true;
  }
  const libxsmm_smmfunction fn = kernels().find(s);
  if (fn == nullptr) return false;
  fn(b, a, c);
  return true;
}

bool xsmm_has_bf16() noexcept { return bf16_target() != 0; }

bool xsmm_target_forced() noexcept { return target_forced(); }

namespace {
// Whether this CPU runs the code libxsmm generates for archid. libxsmm trusts LIBXSMM_TARGET:
// Knights Mill code (knm) on a CPU without its 4FMAPS instructions stops the process at the
// first product. The CPU is asked through the compiler's CPUID reading, as the kernels are.
bool cpu_runs(int archid) noexcept {
#define TMLP_HAS(feature) (__builtin_cpu_supports(feature) != 0)  // a literal, as it must be
  const bool f_cd = TMLP_HAS("avx512f") && TMLP_HAS("avx512cd");
  const bool core = f_cd && TMLP_HAS("avx512bw") && TMLP_HAS("avx512dq") && TMLP_HAS("avx512vl");
  const bool mic = f_cd && TMLP_HAS("avx512er") && TMLP_HAS("avx512pf");
  switch (archid) {
    case LIBXSMM_X86_SSE3:
      return TMLP_HAS("sse3");
    case LIBXSMM_X86_SSE4:
      return TMLP_HAS("sse4.2");
    case LIBXSMM_X86_AVX:
      return TMLP_HAS("avx");
    case LIBXSMM_X86_AVX2:
      return TMLP_HAS("avx2") && TMLP_HAS("fma");
    case LIBXSMM_X86_AVX512:
      return f_cd;
    case LIBXSMM_X86_AVX512_MIC:
      return mic;
    case LIBXSMM_X86_AVX512_KNM:
      return mic && TMLP_HAS("avx5124fmaps") && TMLP_HAS("avx5124vnniw");
    case LIBXSMM_X86_AVX512_CORE:
      return core;
    case LIBXSMM_X86_AVX512_CLX:
      return core && TMLP_HAS("avx512vnni");
    case LIBXSMM_X86_AVX512_CPX:
      return core && TMLP_HAS("avx512vnni") && TMLP_HAS("avx512bf16");
    default:
      return archid <= LIBXSMM_X86_GENERIC;  // generic: plain C code
  }
#undef TMLP_HAS
}
}  // namespace

std::string xsmm_target_problem(std::string_view value, int archid) {
  // The names libxsmm 1.17 takes (it ignores any other and picks its own code for the CPU).
  static constexpr std::array<std::string_view, 19> names = {
      "generic", "none", "sse",    "sse3", "sse4", "wsm", "nhm", "snb", "avx", "hsw",
      "avx2",    "avx3", "avx512", "skx",  "clx",  "cpx", "knl", "mic", "knm"};
  const std::string shown = "LIBXSMM_TARGET=" + std::string(value);
  if (std::find(names.begin(), names.end(), value) == names.end())
    return shown +
           ": not a libxsmm 1.17 target name; expected generic, wsm, snb, hsw, skx, clx, cpx, "
           "knl or knm, or unset (libxsmm's choice for this CPU)";
  if (!cpu_runs(archid))
    return shown + ": this CPU lacks instructions that libxsmm's " + libxsmm_cpuid_name(archid) +
           " code uses (the CPU's own: " + libxsmm_cpuid_name(libxsmm_cpuid()) + ")";
  return {};
}

std::string xsmm_target_problem() {
  const char* env = std::getenv("LIBXSMM_TARGET");
  if (env == nullptr || *env == '\0') return {};
  return xsmm_target_problem(env, libxsmm_get_target_archid());
}

namespace {
// The kernel xsmm_bgemm runs for the product, or nullptr.
libxsmm_bsmmfunction bf16_kernel_for(std::size_t m, std::size_t n, std::size_t k, std::size_t lda,
                                     std::size_t ldb, float beta, std::size_t ldc) noexcept {
  if (!xsmm_has_bf16() || (beta != 0.0f && beta != 1.0f) || k % 2 != 0) return nullptr;
  // As xsmm_sgemm: a dimension of 1 is a matrix-vector product. bf16 code is AVX-512 code.
  if (m == 1 || n == 1 || !small_enough(m, n, k, true)) return nullptr;
  if (!fits(m) || !fits(n) || !fits(k) || !fits(lda) || !fits(ldb) || !fits(ldc)) return nullptr;
  const auto i = [](std::size_t v) { return static_cast<std::int32_t>(v); };
  // Column-major: Cᵀ (n x m) = Bᵀ · Aᵀ, where B's pairs of rows are libxsmm's VNNI layout of
  // its first operand (n x k, leading dimension ldb) and row-major A is its second (k x m).
  const shape s{i(n),
                i(m),
                i(k),
                i(ldb),
                i(lda),
                i(ldc),
                LIBXSMM_GEMM_FLAG_VNNI_A | (beta == 0.0f ? LIBXSMM_GEMM_FLAG_BETA_0 : 0)};
  return bf16_kernels().find(s);
}
}  // namespace

bool xsmm_bgemm(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* a,
                std::size_t lda, const std::uint16_t* b_pairs, std::size_t ldb, float beta,
                float* c, std::size_t ldc) noexcept {
  const libxsmm_bsmmfunction fn = bf16_kernel_for(m, n, k, lda, ldb, beta, ldc);
  if (fn == nullptr) return false;
  fn(b_pairs, a, c);
  return true;
}

bool xsmm_bgemm_runs(std::size_t m, std::size_t n, std::size_t k, std::size_t lda, std::size_t ldb,
                     float beta, std::size_t ldc) noexcept {
  return bf16_kernel_for(m, n, k, lda, ldb, beta, ldc) != nullptr;
}

std::string xsmm_describe() {
  const int bf16 = bf16_target();
  return std::string("libxsmm ") + LIBXSMM_CONFIG_VERSION + " generating for " +
         libxsmm_get_target_arch() + (target_forced() ? " (LIBXSMM_TARGET)" : "") +
         (bf16 != 0 ? std::string(", bf16 kernels for ") + libxsmm_cpuid_name(bf16)
                    : std::string(", no bf16 kernels"));
}

bool xsmm_has_avx512() noexcept { return avx512_code(); }

}  // namespace tmlp::blas::detail
