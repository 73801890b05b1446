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

// One line describing the BLAS library: its build configuration, core and thread count.
std::string describe();

}  // namespace tmlp::blas
