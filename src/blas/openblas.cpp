// The OpenBLAS backend: the only file that includes <cblas.h>.
#include "blas/backends.hpp"
#include "blas/blas.hpp"

#include <cblas.h>

#include <mutex>

namespace tmlp::blas {

void detail::openblas_sgemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k,
                            float alpha, const float* a, std::size_t lda, const float* b,
                            std::size_t ldb, float beta, float* c, std::size_t ldc) noexcept {
  if (m == 0 || n == 0) return;
  // C = beta C, for the cases below that do not pass beta to BLAS: beta = 0 must not read C.
  const auto scale_c = [&] {
    if (beta == 1.0f) return;
    for (std::size_t r = 0; r < m; ++r)
      for (std::size_t j = 0; j < n; ++j)
        c[r * ldc + j] = beta == 0.0f ? 0.0f : beta * c[r * ldc + j];
  };
  if (k == 0) {  // op(A)·op(B) is the zero matrix; BLAS implementations disagree on this case
    scale_c();
    return;
  }
  // A product with a dimension of 1 is a matrix-vector product or a rank-1 update. OpenBLAS's
  // sgemm runs it through its packing like any other (an MLP's one-output layer: 3-5x slower
  // than sgemv and sger at 64-256 rows), so it goes to those instead, after scaling C.
  const auto i = [](std::size_t v) { return static_cast<blasint>(v); };
  if (n == 1) {  // C column (stride ldc) = alpha op(A) · op(B) column + beta C
    scale_c();
    // A as stored: m x k (op = A), or k x m (op = Aᵀ). op(B)'s column: B[p] or B[p * ldb].
    cblas_sgemv(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, i(trans_a ? k : m),
                i(trans_a ? m : k), alpha, a, i(lda), b, i(trans_b ? 1 : ldb), 1.0f, c, i(ldc));
    return;
  }
  if (m == 1) {  // C row = alpha op(A) row · op(B) + beta C, i.e. Cᵀ = op(B)ᵀ op(A)ᵀ
    scale_c();
    // B as stored: k x n (op = B, so Cᵀ = Bᵀ a), or n x k (Cᵀ = B a).
    cblas_sgemv(CblasRowMajor, trans_b ? CblasNoTrans : CblasTrans, i(trans_b ? n : k),
                i(trans_b ? k : n), alpha, b, i(ldb), a, i(trans_a ? lda : 1), 1.0f, c, 1);
    return;
  }
  if (k == 1) {  // C = alpha op(A) column · op(B) row + beta C
    scale_c();
    cblas_sger(CblasRowMajor, i(m), i(n), alpha, a, i(trans_a ? 1 : lda), b, i(trans_b ? ldb : 1),
               c, i(ldc));
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

namespace {
// Callers may be several threads at once (predict calls from a server's threads).
std::mutex pin_mutex;
int n_scopes = 0;        // single_thread_scope objects alive
int threads_before = 0;  // OpenBLAS's thread count before the first of them; 0: unchanged
}  // namespace

single_thread_scope::single_thread_scope() {
  const std::lock_guard<std::mutex> lock(pin_mutex);
  if (n_scopes++ > 0 || openblas_get_parallel() == 0 || openblas_get_num_threads() <= 1) return;
  threads_before = openblas_get_num_threads();
  openblas_set_num_threads(1);
  note_ = "OpenBLAS is a threaded build (" + std::to_string(threads_before) +
          " threads); tmlp ran it on 1 thread during this call (each worker runs its own GEMMs) "
          "and then restored it";
}

single_thread_scope::~single_thread_scope() {
  const std::lock_guard<std::mutex> lock(pin_mutex);
  if (--n_scopes > 0 || threads_before == 0) return;
  openblas_set_num_threads(threads_before);
  threads_before = 0;
}

std::string ensure_single_threaded() {
  const std::lock_guard<std::mutex> lock(pin_mutex);
  threads_before = 0;  // for good: a scope ending later leaves it pinned
  if (openblas_get_parallel() == 0 || openblas_get_num_threads() <= 1) return {};
  const int before = openblas_get_num_threads();
  openblas_set_num_threads(1);
  return "OpenBLAS is a threaded build (" + std::to_string(before) +
         " threads); tmlp set it to 1 thread for this process, since each worker runs its own "
         "GEMMs";
}

std::string describe() {
  static const char* const modes[] = {"sequential", "pthreads", "OpenMP"};
  const int mode = openblas_get_parallel();
  return std::string(openblas_get_config()) + ", core " + openblas_get_corename() + ", " +
         (mode >= 0 && mode <= 2 ? modes[mode] : "unknown threading") + " with " +
         std::to_string(openblas_get_num_threads()) + " thread(s)";
}

}  // namespace tmlp::blas
