// Optimizer updates, axpy and scale as templates over an xsimd architecture.
//
// Intended usage: arch_<name>.cpp calls fill_optimizer_kernels<Arch>(table) through
// make_table<Arch>; library code reaches the kernels through kernels::active().sgd etc.
// The rules are documented at kernel_table (kernels.hpp); reference_optimizers.cpp is the oracle.
//
// Error bound against the scalar reference: 0 ulp, on every architecture and for every kernel
// (axpy, scale, sgd, momentum, nesterov, adam, rmsprop, adagrad). Every non-NaN result, including
// the sign of zero and infinities, is bit-identical to the reference; where the reference gives
// NaN the vector code gives NaN too (the NaN payload may differ). This holds because
//   - the vector code and the reference perform the same IEEE operations (+, -, *, /, sqrt, all
//     correctly rounded) in the same order, and the build uses -ffp-contract=off;
//   - no FMA is used, not even on avx2/avx512: the kernels are memory-bound (Adam streams 7 floats
//     per element), so an FMA would change the results across TMLP_SIMD choices for no measurable
//     gain. A model therefore trains bit-identically whatever architecture is chosen.
// tests/test_kernels_optimizers.cpp asserts exactly this bound.
//
// Regularization terms are skipped, not multiplied by zero, when their coefficient is 0
// (0 * inf = NaN, and g + 0 * w can turn -0 into +0): the choice is made once per call from
// update_args (l2 != 0, l1 != 0, decay != 0) and selects one of eight template instances.
// The reference makes the same choice, element by element.
//
// Order of operations (identical in the reference), with g' the regularized gradient:
//   g' = g;  if l2: g' = g' + l2 * w;  if l1: g' = g' + l1 * sign(w)
//        sign(w) = w > 0 ? 1 : w < 0 ? -1 : w - w   (+0 for +-0, NaN for NaN)
//   rule (below);  if decay: w = w - (lr * decay) * w_old   (lr * decay rounded once per call)
//   sgd:      w = w - lr * g'
//   momentum: v = mu * v + g';  w = w - lr * v
//   nesterov: v = mu * v + g';  w = w - lr * (g' + mu * v)
//   adam:     m = b1 * m + (1 - b1) * g';  v = b2 * v + (1 - b2) * (g' * g');
//             w = w - (lr * (m / bias1)) / (sqrt(v / bias2) + eps)   ((1 - b) rounded once)
//   rmsprop:  s = rho * s + (1 - rho) * (g' * g');  w = w - (lr * g') / (sqrt(s) + eps)
//   adagrad:  s = s + g' * g';  w = w - (lr * g') / (sqrt(s) + eps)
//   axpy:     y = y + a * x;   scale: x = x * a;   add_arrays: y = y + x[0], ..., y = y + x[m-1]
//
// Tails shorter than a vector run through the same vector code on a zero-padded copy, so a
// value's result never depends on its position or on how the array was cut into blocks.
//
// Every helper here is a template over Arch (the arch_*.cpp files are compiled with different
// instruction-set flags and linked together; a plain inline function could be merged across
// them by the linker).
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>

#include <immintrin.h>
#include <xsimd/xsimd.hpp>

#include "kernels.hpp"

namespace tmlp::kernels {
namespace detail {

template <class Arch>
using fvec = xsimd::batch<float, Arch>;

// How far ahead of stream's loop the lines of its arrays are prefetched, in floats (1 KB, 16
// lines per array): for writing (PREFETCHW where the build allows it, -mprfchw) the arrays it
// updates, for reading the one it reads. The weights an update writes were read by every worker
// in the step; each store must first take its line back from the other cores, and without the
// hint those requests go out only as the stores reach them. Where a step's two cores sat on
// different dies (a cache line 180-200 ns from one to the other), H's update phase went from
// 222-228 to 162-166 µs with it (187-197 with prefetcht0, GCC's write hint without -mprfchw);
// with the cores on one die it changed nothing measurable. The same hints on the reduction's
// adds and on the weights' transposes gained nothing and are not there. Hints only: no value
// changes.
inline constexpr std::size_t prefetch_ahead = 256;
inline constexpr std::size_t floats_per_line = 16;

// Runs `op` over n elements: `in` (n values, read; nullptr when HasIn is false) and the NW
// arrays of `io` (n values each, read and written). op(x, v) gets one vector of `in` (zero when
// HasIn is false) and the vectors of `io` by reference. Unrolled by Unroll vectors: all loads,
// then all computations, then all stores. The tail goes through op on a zero-padded copy.
template <class Arch, bool HasIn, std::size_t NW, std::size_t Unroll, class Op>
inline void stream(std::size_t n, const float* in, std::array<float*, NW> io, Op op) noexcept {
  using vec = fvec<Arch>;
  constexpr std::size_t lanes = vec::size;
  std::size_t i = 0;
  for (; i + Unroll * lanes <= n; i += Unroll * lanes) {
    if (i + prefetch_ahead + Unroll * lanes <= n)
      for (std::size_t u = 0; u < Unroll * lanes; u += floats_per_line) {
        for (std::size_t k = 0; k < NW; ++k) __builtin_prefetch(io[k] + i + prefetch_ahead + u, 1);
        if constexpr (HasIn) __builtin_prefetch(in + i + prefetch_ahead + u, 0);
      }
    std::array<vec, Unroll> x{};
    std::array<std::array<vec, NW>, Unroll> v{};
    for (std::size_t u = 0; u < Unroll; ++u) {
      if constexpr (HasIn) x[u] = vec::load_unaligned(in + i + u * lanes);
      for (std::size_t k = 0; k < NW; ++k) v[u][k] = vec::load_unaligned(io[k] + i + u * lanes);
    }
    for (std::size_t u = 0; u < Unroll; ++u) op(x[u], v[u]);
    for (std::size_t u = 0; u < Unroll; ++u)
      for (std::size_t k = 0; k < NW; ++k) v[u][k].store_unaligned(io[k] + i + u * lanes);
  }
  for (; i + lanes <= n; i += lanes) {
    vec x(0.0f);
    if constexpr (HasIn) x = vec::load_unaligned(in + i);
    std::array<vec, NW> v;
    for (std::size_t k = 0; k < NW; ++k) v[k] = vec::load_unaligned(io[k] + i);
    op(x, v);
    for (std::size_t k = 0; k < NW; ++k) v[k].store_unaligned(io[k] + i);
  }
  if (i < n) {
    const std::size_t r = n - i;
    std::array<float, lanes> xb{};
    std::array<std::array<float, lanes>, NW> vb{};
    for (std::size_t j = 0; j < r; ++j) {
      if constexpr (HasIn) xb[j] = in[i + j];
      for (std::size_t k = 0; k < NW; ++k) vb[k][j] = io[k][i + j];
    }
    const vec x = vec::load_unaligned(xb.data());
    std::array<vec, NW> v;
    for (std::size_t k = 0; k < NW; ++k) v[k] = vec::load_unaligned(vb[k].data());
    op(x, v);
    for (std::size_t k = 0; k < NW; ++k) v[k].store_unaligned(vb[k].data());
    for (std::size_t j = 0; j < r; ++j)
      for (std::size_t k = 0; k < NW; ++k) io[k][i + j] = vb[k][j];
  }
}

// Which regularization terms one call applies; each flag is true iff its coefficient is != 0.
template <bool L2, bool L1, bool Decay>
struct reg_flags {
  static constexpr bool l2 = L2, l1 = L1, decay = Decay;
};

// Calls f(reg_flags<...>{}) with the flags of `a`: one branch per call, none per element.
template <class Arch, class F>
inline void with_reg_flags(const update_args& a, F f) noexcept {
  const bool l2 = a.l2 != 0.0f, l1 = a.l1 != 0.0f, decay = a.decay != 0.0f;
  if (l2) {
    if (l1) {
      if (decay)
        f(reg_flags<true, true, true>{});
      else
        f(reg_flags<true, true, false>{});
    } else {
      if (decay)
        f(reg_flags<true, false, true>{});
      else
        f(reg_flags<true, false, false>{});
    }
  } else {
    if (l1) {
      if (decay)
        f(reg_flags<false, true, true>{});
      else
        f(reg_flags<false, true, false>{});
    } else {
      if (decay)
        f(reg_flags<false, false, true>{});
      else
        f(reg_flags<false, false, false>{});
    }
  }
}

// Broadcast coefficients of update_args, computed once per call (same roundings as the reference).
template <class Arch>
struct coeffs {
  fvec<Arch> lr, l2, l1, lr_decay, mu, b1, c1, b2, c2, eps, bias1, bias2;
  explicit coeffs(const update_args& a) noexcept
      : lr(a.lr),
        l2(a.l2),
        l1(a.l1),
        lr_decay(a.lr * a.decay),
        mu(a.momentum),
        b1(a.beta1),
        c1(1.0f - a.beta1),
        b2(a.beta2),
        c2(1.0f - a.beta2),
        eps(a.eps),
        bias1(a.bias1),
        bias2(a.bias2) {}
};

// sign(w): 1 for w > 0, -1 for w < 0, +0 for +-0, NaN for NaN (w - w).
template <class Arch>
inline fvec<Arch> sign(fvec<Arch> w) noexcept {
  const fvec<Arch> one(1.0f), minus_one(-1.0f);
  return xsimd::select(w > fvec<Arch>(0.0f), one,
                       xsimd::select(w < fvec<Arch>(0.0f), minus_one, w - w));
}

// g' = g (+ l2 * w) (+ l1 * sign(w)).
template <class Arch, class Flags>
inline fvec<Arch> regularize(const coeffs<Arch>& c, fvec<Arch> g, fvec<Arch> w) noexcept {
  if constexpr (Flags::l2) g = g + c.l2 * w;
  if constexpr (Flags::l1) g = g + c.l1 * sign<Arch>(w);
  return g;
}

// w_new = w_rule (- (lr * decay) * w_old).
template <class Arch, class Flags>
inline fvec<Arch> decay(const coeffs<Arch>& c, fvec<Arch> w_rule, fvec<Arch> w_old) noexcept {
  if constexpr (Flags::decay) return w_rule - c.lr_decay * w_old;
  return w_rule;
}

template <class Arch>
inline constexpr std::size_t unroll = 2;

template <class Arch>
void axpy(std::size_t n, float a, const float* x, float* y) noexcept {
  const fvec<Arch> va(a);
  stream<Arch, true, 1, 4>(
      n, x, {y}, [va](fvec<Arch> xv, std::array<fvec<Arch>, 1>& v) { v[0] = v[0] + va * xv; });
}

// Blocks of four vectors of y stay in registers while the m arrays are added to them in order;
// the rest one vector, then one value, at a time (an addition rounds the same in any lane).
template <class Arch>
void add_arrays(std::size_t n, const float* const* x, std::size_t m, float* y) noexcept {
  using vec = fvec<Arch>;
  constexpr std::size_t lanes = vec::size, block = 4;
  std::size_t i = 0;
  for (; i + block * lanes <= n; i += block * lanes) {
    std::array<vec, block> acc;
    for (std::size_t u = 0; u < block; ++u) acc[u] = vec::load_unaligned(y + i + u * lanes);
    for (std::size_t s = 0; s < m; ++s)
      for (std::size_t u = 0; u < block; ++u)
        acc[u] = acc[u] + vec::load_unaligned(x[s] + i + u * lanes);
    for (std::size_t u = 0; u < block; ++u) acc[u].store_unaligned(y + i + u * lanes);
  }
  for (; i + lanes <= n; i += lanes) {
    vec acc = vec::load_unaligned(y + i);
    for (std::size_t s = 0; s < m; ++s) acc = acc + vec::load_unaligned(x[s] + i);
    acc.store_unaligned(y + i);
  }
  for (; i < n; ++i) {
    float acc = y[i];
    for (std::size_t s = 0; s < m; ++s) acc = acc + x[s][i];
    y[i] = acc;
  }
}

// One vector of values at a time: their sum over the m arrays, scaled, stored; then its squares
// into the eight partial sums. On AVX-512 those eight are one register of doubles (16 floats
// from a multiple of 16: values i..i+7 and i+8..i+15 each fill lanes 0..7 in order), so the
// pass costs no more than the additions; elsewhere the values just stored are squared from L1,
// one at a time. The last values (fewer than a vector) one at a time.
template <class Arch>
double sum_scale_squares(std::size_t n, const float* const* x, std::size_t m, float a,
                         float* y) noexcept {
  using vec = fvec<Arch>;
  constexpr std::size_t lanes = vec::size;
  constexpr bool avx512 = std::is_same_v<Arch, xsimd::avx512f>;
  const vec va(a);
  auto sum_scale_store = [&](std::size_t i) {
    vec v = vec::load_unaligned(x[0] + i);
    for (std::size_t s = 1; s < m; ++s) v = v + vec::load_unaligned(x[s] + i);
    (v * va).store_unaligned(y + i);
  };
  double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  if constexpr (avx512) {
    __m512d acc = _mm512_setzero_pd();
    for (; i + lanes <= n; i += lanes) {
      sum_scale_store(i);
      const __m512d lo = _mm512_cvtps_pd(_mm256_loadu_ps(y + i));
      const __m512d hi = _mm512_cvtps_pd(_mm256_loadu_ps(y + i + 8));
      acc = _mm512_add_pd(acc, _mm512_mul_pd(lo, lo));
      acc = _mm512_add_pd(acc, _mm512_mul_pd(hi, hi));
    }
    _mm512_storeu_pd(part, acc);
  } else {
    for (; i + lanes <= n; i += lanes) {
      sum_scale_store(i);
      for (std::size_t j = i; j < i + lanes; ++j)
        part[j % 8] += static_cast<double>(y[j]) * static_cast<double>(y[j]);
    }
  }
  for (; i < n; ++i) {
    float v = x[0][i];
    for (std::size_t s = 1; s < m; ++s) v = v + x[s][i];
    y[i] = v * a;
    part[i % 8] += static_cast<double>(y[i]) * static_cast<double>(y[i]);
  }
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

template <class Arch>
void scale(std::size_t n, float a, float* x) noexcept {
  const fvec<Arch> va(a);
  stream<Arch, false, 1, 4>(n, nullptr, {x},
                            [va](fvec<Arch>, std::array<fvec<Arch>, 1>& v) { v[0] = v[0] * va; });
}

template <class Arch>
void sgd(std::size_t n, const update_args& a, const float* g, float* w) noexcept {
  const coeffs<Arch> c(a);
  with_reg_flags<Arch>(a, [&](auto flags) {
    using F = decltype(flags);
    stream<Arch, true, 1, 4>(n, g, {w}, [&c](fvec<Arch> gv, std::array<fvec<Arch>, 1>& v) {
      const fvec<Arch> w0 = v[0];
      const fvec<Arch> gr = regularize<Arch, F>(c, gv, w0);
      v[0] = decay<Arch, F>(c, w0 - c.lr * gr, w0);
    });
  });
}

// momentum (Nesterov = false) and nesterov (Nesterov = true); io = {w, v}.
template <class Arch, bool Nesterov>
void momentum(std::size_t n, const update_args& a, const float* g, float* w, float* vel) noexcept {
  const coeffs<Arch> c(a);
  with_reg_flags<Arch>(a, [&](auto flags) {
    using F = decltype(flags);
    stream<Arch, true, 2, unroll<Arch>>(n, g, {w, vel},
                                        [&c](fvec<Arch> gv, std::array<fvec<Arch>, 2>& v) {
                                          const fvec<Arch> w0 = v[0];
                                          const fvec<Arch> gr = regularize<Arch, F>(c, gv, w0);
                                          const fvec<Arch> vn = c.mu * v[1] + gr;
                                          fvec<Arch> w1;
                                          if constexpr (Nesterov)
                                            w1 = w0 - c.lr * (gr + c.mu * vn);
                                          else
                                            w1 = w0 - c.lr * vn;
                                          v[0] = decay<Arch, F>(c, w1, w0);
                                          v[1] = vn;
                                        });
  });
}

template <class Arch>
void momentum_plain(std::size_t n, const update_args& a, const float* g, float* w,
                    float* v) noexcept {
  momentum<Arch, false>(n, a, g, w, v);
}

template <class Arch>
void nesterov(std::size_t n, const update_args& a, const float* g, float* w, float* v) noexcept {
  momentum<Arch, true>(n, a, g, w, v);
}

// io = {w, m, v}.
template <class Arch>
void adam(std::size_t n, const update_args& a, const float* g, float* w, float* m,
          float* v2) noexcept {
  const coeffs<Arch> c(a);
  with_reg_flags<Arch>(a, [&](auto flags) {
    using F = decltype(flags);
    stream<Arch, true, 3, unroll<Arch>>(
        n, g, {w, m, v2}, [&c](fvec<Arch> gv, std::array<fvec<Arch>, 3>& v) {
          const fvec<Arch> w0 = v[0];
          const fvec<Arch> gr = regularize<Arch, F>(c, gv, w0);
          const fvec<Arch> mn = c.b1 * v[1] + c.c1 * gr;
          const fvec<Arch> vn = c.b2 * v[2] + c.c2 * (gr * gr);
          const fvec<Arch> den = xsimd::sqrt(vn / c.bias2) + c.eps;
          v[0] = decay<Arch, F>(c, w0 - (c.lr * (mn / c.bias1)) / den, w0);
          v[1] = mn;
          v[2] = vn;
        });
  });
}

// rmsprop (Adagrad = false) and adagrad (Adagrad = true); io = {w, s}.
template <class Arch, bool Adagrad>
void scaled(std::size_t n, const update_args& a, const float* g, float* w, float* s) noexcept {
  const coeffs<Arch> c(a);
  with_reg_flags<Arch>(a, [&](auto flags) {
    using F = decltype(flags);
    stream<Arch, true, 2, unroll<Arch>>(
        n, g, {w, s}, [&c](fvec<Arch> gv, std::array<fvec<Arch>, 2>& v) {
          const fvec<Arch> w0 = v[0];
          const fvec<Arch> gr = regularize<Arch, F>(c, gv, w0);
          fvec<Arch> sn;
          if constexpr (Adagrad)
            sn = v[1] + gr * gr;
          else
            sn = c.b2 * v[1] + c.c2 * (gr * gr);
          v[0] = decay<Arch, F>(c, w0 - (c.lr * gr) / (xsimd::sqrt(sn) + c.eps), w0);
          v[1] = sn;
        });
  });
}

template <class Arch>
void rmsprop(std::size_t n, const update_args& a, const float* g, float* w, float* s) noexcept {
  scaled<Arch, false>(n, a, g, w, s);
}

template <class Arch>
void adagrad(std::size_t n, const update_args& a, const float* g, float* w, float* s) noexcept {
  scaled<Arch, true>(n, a, g, w, s);
}

}  // namespace detail

template <class Arch>
void fill_optimizer_kernels(kernel_table& t) noexcept {
  t.axpy = &detail::axpy<Arch>;
  t.scale = &detail::scale<Arch>;
  t.add_arrays = &detail::add_arrays<Arch>;
  t.sum_scale_squares = &detail::sum_scale_squares<Arch>;
  t.sgd = &detail::sgd<Arch>;
  t.momentum = &detail::momentum_plain<Arch>;
  t.nesterov = &detail::nesterov<Arch>;
  t.adam = &detail::adam<Arch>;
  t.rmsprop = &detail::rmsprop<Arch>;
  t.adagrad = &detail::adagrad<Arch>;
}

}  // namespace tmlp::kernels
