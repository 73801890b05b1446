// The two GEMM backends behind blas::sgemm (blas.hpp), for backend.cpp alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "blas/blas.hpp"

namespace tmlp::blas::detail {

// OpenBLAS (openblas.cpp): any product, the sgemv and sger paths for a dimension of 1.
void openblas_sgemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k,
                    float alpha, const float* a, std::size_t lda, const float* b, std::size_t ldb,
                    float beta, float* c, std::size_t ldc) noexcept;

// libxsmm (libxsmm.cpp): runs the product and returns true when it has a kernel for it (alpha
// 1, beta 0 or 1, !trans_b, m, n, k > 1, a shape its JIT generates); false leaves C alone.
// xsmm_sgemm_takes: whether its shape is one it takes (m, n, k > 1 and within the sizes its
// kernels run well: larger products go to OpenBLAS, which sums in another order).
bool xsmm_sgemm_takes(std::size_t m, std::size_t n, std::size_t k) noexcept;
bool xsmm_sgemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k,
                float alpha, const float* a, std::size_t lda, const float* b, std::size_t ldb,
                float beta, float* c, std::size_t ldc) noexcept;
// libxsmm's bf16 kernels (libxsmm.cpp): whether it generates them here (bf16_target), and
// blas::bgemm on them: true when it has a kernel for the product (false leaves C alone).
bool xsmm_has_bf16() noexcept;
bool xsmm_bgemm(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* a,
                std::size_t lda, const std::uint16_t* b_pairs, std::size_t ldb, float beta,
                float* c, std::size_t ldc) noexcept;
// Whether xsmm_bgemm would run that product (generating its kernel if it has none yet).
bool xsmm_bgemm_runs(std::size_t m, std::size_t n, std::size_t k, std::size_t lda, std::size_t ldb,
                     float beta, std::size_t ldc) noexcept;
// Whether LIBXSMM_TARGET names the code libxsmm generates (else it picks its own for the CPU).
bool xsmm_target_forced() noexcept;
// What is wrong with LIBXSMM_TARGET (libxsmm's own variable, which it reads itself): a value
// libxsmm does not know (it would ignore it, while tmlp took it as naming the code), or one
// whose code, archid (libxsmm_get_target_archid), this CPU cannot run. Empty: nothing. The
// second form reads the environment.
std::string xsmm_target_problem(std::string_view value, int archid);
std::string xsmm_target_problem();
// libxsmm's version and the instruction set it generates code for ("hsw", "skx", "cpx", ...).
std::string xsmm_describe();
// Whether that is AVX-512 or better (LIBXSMM_TARGET=hsw on an AVX-512 CPU: no).
bool xsmm_has_avx512() noexcept;

// tmlp's own bf16 kernel (dpbf16.cpp), AVX512-BF16 only: blas::bgemm for any m, n and even k.
void dp_bgemm(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* a, std::size_t lda,
              const std::uint16_t* b_pairs, std::size_t ldb, float beta, float* c,
              std::size_t ldc) noexcept;
// blas::bgemm_segments on it; add: C + the sum (beta 1), else the sum.
void dp_bgemm_segments(std::size_t m, std::size_t n, std::span<const bf16_segment> segs, bool add,
                       float* c, std::size_t ldc) noexcept;
// n steps of vdpbf16ps on 24 sums kept in registers, out[0..24) the starting values and the
// results: the instruction's peak (tmlp_bench bf16_peak). Returns the operations done.
double dpbf16_peak_loop(std::size_t n, float* out) noexcept;
// Whether it runs a product with k x n right operand faster than libxsmm's kernels (measured).
bool dp_bgemm_wins(std::size_t n, std::size_t k) noexcept;

// blas::sgemm_tn_segments on AVX-512 (segments.cpp).
// add: C + the sum (beta 1), else the sum.
void tn_segments_avx512(std::size_t m, std::size_t n, std::span<const tn_segment> segs, bool add,
                        float* c, std::size_t ldc) noexcept;

}  // namespace tmlp::blas::detail
