// The library's only door to BLAS. Row-major single-precision GEMM; every caller runs it from
// one thread (workers each run their own GEMMs), so OpenBLAS must not fan out underneath.
#pragma once

#include <cstddef>
#include <string>

namespace tmlp::blas {

// C (m x n) = alpha * op(A) * op(B) + beta * C, all row-major.
// op(A) is m x k (A is k x m when trans_a), op(B) is k x n (B is n x k when trans_b).
// lda, ldb, ldc: row strides in floats. m, n, k may be zero (C is then scaled by beta, or left
// alone when m or n is zero).
void sgemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
           const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
           std::size_t ldc) noexcept;

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

// One line describing the BLAS library: its build configuration, core and thread count.
std::string describe();

}  // namespace tmlp::blas
