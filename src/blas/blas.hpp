// The library's only door to GEMM libraries: row-major single-precision GEMM on one of two
// backends, OpenBLAS (the portable default) or libxsmm (JIT kernels for each exact shape).
// Every caller runs its products from one thread (workers each run their own GEMMs), so
// neither library may fan out underneath: OpenBLAS is pinned to one thread below, libxsmm
// starts no threads of its own.
//
// A backend computes every product of a given shape the same way on every call and thread, so
// results are bit-identical for any thread count with a given backend (the shapes depend on the
// batch and shard plan, never on the threads). Products of different row counts may sum in
// different orders with libxsmm (its kernels are generated per shape): a row's prediction can
// depend on the size of its chunk there. Switching backends changes the bits
// (scripts/same_results.sh says by how much the metrics move).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tmlp::blas {

enum class backend : std::uint8_t { openblas, libxsmm };
std::string_view name(backend b) noexcept;
std::optional<backend> parse_backend(std::string_view s) noexcept;

// The process's backend, chosen once on first use: TMLP_GEMM=openblas|libxsmm|auto if set (any
// other value makes this throw tmlp::error naming it and the choices: training, predict and
// `tmlp system` call it before any product runs), else auto_backend().
backend active_backend();
// auto's rule: libxsmm where it generates AVX-512 code, else OpenBLAS (backend.cpp says why).
backend auto_backend() noexcept;
// One line for `tmlp system` and `tmlp bench`: the backend, why it was chosen, its library.
std::string describe_backend();

// Tests and benchmarks: every GEMM of the process runs on b while the scope lives, as if
// TMLP_GEMM named it. Only where no GEMM runs on another thread as it starts or ends.
class backend_scope {
 public:
  explicit backend_scope(backend b);
  ~backend_scope();
  backend_scope(const backend_scope&) = delete;
  backend_scope& operator=(const backend_scope&) = delete;

 private:
  backend before_;
  bool named_before_;
};

// C (m x n) = alpha * op(A) * op(B) + beta * C, all row-major, on the active backend.
// op(A) is m x k (A is k x m when trans_a), op(B) is k x n (B is n x k when trans_b).
// lda, ldb, ldc: row strides in floats. m, n, k may be zero (C is then scaled by beta, or left
// alone when m or n is zero). beta = 0 never reads C.
void sgemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
           const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
           std::size_t ldc) noexcept;
// The same on a given backend. libxsmm runs alpha = 1, beta 0 or 1, op(B) = B (its fp32 kernels
// have no transpose of their first operand, which row-major op(B) = Bᵀ maps to); any other
// product goes to OpenBLAS.
void sgemm(backend on, bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k,
           float alpha, const float* a, std::size_t lda, const float* b, std::size_t ldb,
           float beta, float* c, std::size_t ldc) noexcept;

// Whether the CPU has AVX512-BF16 (bfloat16 dot products), which --precision bf16 needs.
bool cpu_has_bf16() noexcept;
// Whether tmlp's own bf16 kernel runs here: the CPU has AVX512-BF16 and LIBXSMM_TARGET does not
// name libxsmm's code (then libxsmm runs every bf16 product, as asked).
bool own_bf16_kernel() noexcept;

// bfloat16 products (--precision bf16): libxsmm's bf16 kernels, fp32 accumulation, and where
// own_bf16_kernel() tmlp's own kernel for products whose right operand holds 2^19 values or
// more (dpbf16.cpp), which sums in the same order.
// Whether they run in this process: libxsmm generates them for the CPU (AVX512-BF16, or the
// AVX-512 code LIBXSMM_TARGET names, which emulates them exactly), and the backend in use is not
// OpenBLAS chosen by TMLP_GEMM=openblas or a backend_scope. When not, callers multiply fp32
// roundings of the operands (the same products, summed in another order).
bool bf16_kernels() noexcept;
// C (m x n, row stride ldc) = A · B + beta * C, beta 0 or 1 (0 never reads C). A: m x k
// bfloat16 values (each a float's high 16 bits), row stride lda. B: k x n, as pairs of rows of
// ldb >= n pairs each, B[i][j] at b_pairs[(i / 2) * 2 ldb + 2j + i % 2]. k even. Returns false,
// leaving C alone, when bf16_kernels() is false or libxsmm has no kernel for the shape (the same
// answer on every call): the caller then runs the fp32 product instead.
// Whether bgemm may run an m x n product (bf16_kernels(), and no dimension of 1, which goes to
// the fp32 kernels' matrix-vector paths): false spares the caller converting its operands.
bool bgemm_may_run(std::size_t m, std::size_t n) noexcept;
bool bgemm(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* a, std::size_t lda,
           const std::uint16_t* b_pairs, std::size_t ldb, float beta, float* c,
           std::size_t ldc) noexcept;
// What bgemm would return for a product of that shape, without running it: the same answer on
// every call (the kernel is generated here if it is not yet).
bool bgemm_runs(std::size_t m, std::size_t n, std::size_t k, std::size_t lda, std::size_t ldb,
                float beta, std::size_t ldc) noexcept;

// The bf16 weight gradient over a batch's shards in one pass (dpbf16.cpp), as
// sgemm_tn_segments for fp32: each shard's dZᵀ (m x k, k even, rows lda apart, bf16) and X as
// pairs of rows (k/2 pair rows of ldb pairs), as bgemm reads them; a block of C starts at rows
// i0 of a and pair column j0 of b_pairs.
struct bf16_segment {
  const std::uint16_t* a;
  std::size_t lda;
  const std::uint16_t* b_pairs;
  std::size_t ldb;
  std::size_t k;
};
// Whether bgemm_segments runs an m x n product here: bgemm runs on libxsmm's vdpbf16ps kernels
// or tmlp's (own_bf16_kernel(), libxsmm generating bf16 code), m and n > 1, and n is not 1 to
// 16 columns past a multiple of 64 (n > 64), whose last columns libxsmm sums in another order,
// and n > 16 or m >= 12 (as tn_segments_run). The caller checks that bgemm_runs for each
// segment's product.
bool bgemm_segments_run(std::size_t m, std::size_t n) noexcept;
// C (m x n) = the sum over segs, in order, of each segment's A·B, each summed from zero in the
// order of its pairs and then added to the sum of those before it: the bits of bgemm(m, n, k,
// a, lda, b_pairs, ldb, 0, g_s, n) per segment followed by C = g_0 (beta 0; beta 1: C = C +
// g_0), C = C + g_1, ... Only where bgemm_segments_run(m, n) for the n of those products.
void bgemm_segments(std::size_t m, std::size_t n, std::span<const bf16_segment> segs, float beta,
                    float* c, std::size_t ldc) noexcept;

// Tests: while one lives (and libxsmm has no bf16 kernels here), bf16_kernels() is true and
// bgemm runs on a plain loop, fp32 sums in the order of k, with libxsmm's limits (false for a
// dimension of 1), so the layouts of the operands and the fallbacks run on any CPU.
class bf16_reference_scope {
 public:
  bf16_reference_scope() noexcept;
  ~bf16_reference_scope();
  bf16_reference_scope(const bf16_reference_scope&) = delete;
  bf16_reference_scope& operator=(const bf16_reference_scope&) = delete;
};

// A weight gradient dZᵀ·X over a batch's shards in one pass (segments.cpp). Each shard's
// operands are packed first: dZ (k x m, rows lda apart) as panels of 6 of its columns, each k x
// 6 ([m / 6][k][6]), and X (k x n, rows ldb apart) as strips of 64 columns, each k x 64
// ([n / 64][k][64]), the last panel and strip padded with zeros. Floats each takes:
constexpr std::size_t tn_panel = 6, tn_strip = 64;
constexpr std::size_t tn_packed_a(std::size_t k, std::size_t m) noexcept {
  return (m + tn_panel - 1) / tn_panel * tn_panel * k;
}
constexpr std::size_t tn_packed_b(std::size_t k, std::size_t n) noexcept {
  return (n + tn_strip - 1) / tn_strip * tn_strip * k;
}
void pack_tn_a(std::size_t k, std::size_t m, const float* a, std::size_t lda, float* out) noexcept;
void pack_tn_b(std::size_t k, std::size_t n, const float* b, std::size_t ldb, float* out) noexcept;
// One shard's packed operands, from the panel of C's first row and the strip of its first
// column on: columns i0 and j0 of dZ and X (multiples of 6 and 64) start at a + i0 * k and
// b + j0 * k.
struct tn_segment {
  const float* a;
  const float* b;
  std::size_t k;
};
// Whether sgemm_tn_segments runs an m x n product here: the active backend is libxsmm generating
// its own choice of AVX-512 code (LIBXSMM_TARGET unset), whose weight-gradient kernels sum as it
// does, m and n > 1, n is not 1 to 16 columns past a multiple of 64 (n > 64), and n > 16 or m
// >= 12: libxsmm sums those columns in another order (65 to 80, 144 and 1040 did, 17, 81 to
// 100, 145, 300 and 1000 did not; of 2 to 16 columns, some did on 2 to 11 rows, depending on k,
// and none on 12 to 32768).
bool tn_segments_run(std::size_t m, std::size_t n) noexcept;
// And whether it gives the bits of a segment of k rows: sgemm runs that segment's own product
// (m x n over k) on libxsmm's kernels, not, past their sizes, on OpenBLAS's, which sum in
// another order. The caller checks it for each segment's k.
bool tn_segment_runs(std::size_t m, std::size_t n, std::size_t k) noexcept;
// C (m x n, row stride ldc) = the sum over segs, in order, of each segment's dZᵀ·X, each summed
// from zero in the order of its k rows and then added to the sum of those before it: the bits
// of sgemm(true, false, m, n, k, 1, dz, lda, x, ldb, 0, g_s, n) per segment (every k > 1)
// followed by C = g_0 (beta 0; beta 1: C = C + g_0), C = C + g_1, ... Only where
// tn_segments_run(m, n) for the n of those products; C may be a block of their C.
void sgemm_tn_segments(std::size_t m, std::size_t n, std::span<const tn_segment> segs, float beta,
                       float* c, std::size_t ldc) noexcept;

// Whether the active backend multiplies X·Wᵀ faster from a transposed copy of W, made once per
// step and shared by every shard (libxsmm: it has no kernel for the transpose itself).
bool wants_transposed_weights() noexcept;

// The row stride of that copy of a W with n_out rows: rows of a multiple of 64 floats get 16
// more, so that the rows of a strip of its columns do not all fall on the same few cache sets
// (a 64-row shard's forward product through Wᵀ of 1024 x 1024, which libxsmm reads in strips
// of 64 columns, on a Zen 5: 155 GFLOP/s at a stride of 1024 floats, 225 at 1040).
constexpr std::size_t transposed_stride(std::size_t n_out) noexcept {
  return n_out % 64 == 0 ? n_out + 16 : n_out;
}

// The row stride of the copies the input and weight gradients read on that backend (W for
// dZ·W, X and dZ for dZᵀ·X): rows of a multiple of 1024 floats (4 KB) get 16 more. At 2 threads
// on a Zen 5, B (1024-wide) trained 18.6k -> 20.6k samples/s with them; 512-wide layers gained
// nothing (80.2-80.6k against 80.6-81.3k) and A's 256-wide layers lost 7-10%, with the copies.
constexpr std::size_t padded_stride(std::size_t n) noexcept { return n % 1024 == 0 ? n + 16 : n; }

// Makes sure BLAS calls run on the calling thread only. A sequential OpenBLAS needs nothing.
// A threaded one (e.g. the pthreads build picked by the system when a host program loaded it
// first) is set to one thread with openblas_set_num_threads(1), which affects the whole
// process; the returned note says so (empty when nothing was changed). Environment variables
// are never touched.
std::string ensure_single_threaded();

// While at least one scope exists (from any threads), a threaded OpenBLAS runs BLAS calls on
// the calling thread only (openblas_set_num_threads(1)); when the last scope ends, the thread
// count it had before the first is restored, so a host program (NumPy in the same process)
// gets its own setting back. note() says when this scope's start changed the setting.
class single_thread_scope {
 public:
  single_thread_scope();
  ~single_thread_scope();
  single_thread_scope(const single_thread_scope&) = delete;
  single_thread_scope& operator=(const single_thread_scope&) = delete;
  const std::string& note() const noexcept { return note_; }

 private:
  std::string note_;
};

// One line describing OpenBLAS: its build configuration, core and thread count.
std::string describe();

}  // namespace tmlp::blas
