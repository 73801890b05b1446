// The only file that includes <cblas.h>.
#include "blas.hpp"

#include <cblas.h>

#include <mutex>

namespace tmlp::blas {

void sgemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
           const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
           std::size_t ldc) noexcept {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // op(A)·op(B) is the zero matrix; BLAS implementations disagree on this case
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < n; ++j)
        c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

std::string ensure_single_threaded() {
  // Callers may be several threads at once (predict calls from a server's threads).
  static std::mutex m;
  const std::lock_guard<std::mutex> lock(m);
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
