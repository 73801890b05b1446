// Activation, softmax and column-sum kernels as templates over an xsimd architecture.
//
// Intended usage: only the arch_*.cpp files include this header, each compiled with its
// instruction set's flags; they call fill_activation_kernels<Arch>(table) once. Everything
// else reaches these kernels through kernel_table (kernels.hpp).
//
// Semantics are those of the scalar reference (reference_activations.cpp). Formulas used here
// (and, term for term, in the reference):
//   sigmoid    e = exp(-|x|); (x < 0 ? e : 1) / (1 + e)                      backward y (1 - y)
//   tanh       sign(x) * -m / (2 + m), m = expm1(-2 min(|x|, 10))            backward (1-y)(1+y)
//   elu, selu  x >= 0 ? x : alpha expm1(x) (selu: times lambda)   backward z > 0 ? 1 : y + alpha
//   gelu_erf   x Phi(x): Phi = (1 + erf(x/sqrt2)) / 2 for |x| < 0.94, else from
//              erfc(|x|/sqrt2) = exp(-x^2/2) P(z), x^2 split exactly
//   gelu_tanh  x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): same value as 0.5 x (1 + tanh u)
//              without the cancellation for x << 0
//   softplus   max(x, 0) + log1p(exp(-|x|))                                  backward sigmoid(z)
// Backward is the product dz = dy * f'(z), so dy = +-inf where f'(z) = 0 gives NaN, and a NaN z
// gives NaN (also for the relu family, whose f' is NaN at NaN).
//
// Error bounds against the reference, over all float inputs x (ulp(r) = spacing of floats at
// |r|; "exact" = bit-identical; 1e-37 covers results that underflow). Measured over a sweep of
// all float magnitudes plus random tests, with a margin of one ulp; the tests enforce them.
//   identity, relu, leaky_relu, prelu          forward exact          backward exact
//   elu                                        |y-r| <= 3 ulp(r) + 1e-37      backward exact
//   selu                                       |y-r| <= 4 ulp(r) + 1e-37      backward exact
//   sigmoid                                    |y-r| <= 3 ulp(r) + 1e-37      backward exact
//   tanh                                       |y-r| <= 4 ulp(r) + 1e-37      backward exact
//   gelu_erf (reference in double)  |y-r| <= (6 + 1.5 max(0, -x)) ulp(r) + 1e-37
//                                   (the erfc polynomial loses accuracy in the far tail)
//                                   backward  |dz-r| <= 4 ulp(r) + 1e-7 |dy| + 1e-37
//   gelu_tanh                                  |y-r| <= 4 ulp(r) + 1e-37
//                                   backward  |dz-r| <= 4 ulp(r) + 1e-7 |dy| + 1e-37
//   softplus                                   |y-r| <= 4 ulp(r) + 1e-37
//                                   backward  |dz-r| <= 4 ulp(r) + 1e-37
//   softmax_rows       |y-r| <= (8 + cols) 2^-24 |r| + 1e-37   (sums in another order)
//   log_softmax_rows   |y-r| <= 2 ulp(r) + (8 + cols) 2^-24
//   col_sums, prelu d_slope                    exact (same additions in the same order)
// (The 1e-7 |dy| terms cover f' near its zeros, where relative error means nothing.)
// Special values (same in the reference): NaN in gives NaN out; +-inf and huge values give the
// limits (sigmoid(-inf) = 0, tanh(inf) = 1, elu(-inf) = -alpha, gelu(-inf) = -0, softplus(inf)
// = inf); relu, leaky/prelu, elu, selu and tanh keep the sign of +-0 (gelu may not). Softmax: a row
// holding a NaN or +inf, or made only of -inf, comes out all NaN; other -inf entries give 0
// (log_softmax: -inf). On SSE2 (no FMA) the same bounds hold: the exact square in gelu_erf uses
// Dekker's product instead of an FMA.
//
// ODR: the arch TUs are compiled with different -m flags and linked together, so every helper
// here is a template over Arch (or constexpr data); nothing calls a non-template inline function.
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "kernels.hpp"

// Math helpers and per-activation operations must be inlined into the loops (a call per vector
// passes batches through memory and costs more than the math).
#define TMLP_VEC_INLINE __attribute__((always_inline)) inline

namespace tmlp::kernels {
namespace act_detail {

template <class Arch>
using vf = xsimd::batch<float, Arch>;
template <class Arch>
using vi = xsimd::batch<std::int32_t, Arch>;

inline constexpr float k_inf = std::numeric_limits<float>::infinity();
inline constexpr float k_nan = std::numeric_limits<float>::quiet_NaN();
inline constexpr float k_flt_max = std::numeric_limits<float>::max();
inline constexpr float k_log2e = 1.44269504088896341f;
inline constexpr float k_ln2_hi = 0.693359375f;  // 9 bits: n * k_ln2_hi is exact
inline constexpr float k_ln2_lo = -2.12194440e-4f;
inline constexpr float k_round_magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to integer
inline constexpr std::int32_t k_round_magic_bits = 0x4B400000;
inline constexpr float k_inv_sqrt2 = 0.707106781186547524f;
inline constexpr float k_inv_sqrt_2pi = 0.398942280401432678f;
inline constexpr float k_gelu_k0 = 0.797884560802865356f;  // sqrt(2/pi)
inline constexpr float k_gelu_k1 = 0.044715f;
inline constexpr float k_gelu_k3 = 3.0f * 0.044715f;
inline constexpr float k_selu_la = selu_lambda * selu_alpha;
inline constexpr std::size_t k_stream_min = std::size_t{1} << 22;  // floats; streaming stores

// exp(r) - 1 - r = r^2 * poly(r), |r| <= ln2/2 (Cephes expf).
inline constexpr float k_exp_poly[] = {5.0000001201e-1f, 1.6666665459e-1f, 4.1665795894e-2f,
                                       8.3334519073e-3f, 1.3981999507e-3f, 1.9875691500e-4f};
// expm1(r) = r + r^2 * poly(r), Taylor to r^8 (|r| <= ln2/2: truncation < 0.3 ulp).
inline constexpr float k_expm1_poly[] = {1.0f / 2,   1.0f / 6,    1.0f / 24,   1.0f / 120,
                                         1.0f / 720, 1.0f / 5040, 1.0f / 40320};
// log1p(e) = 2 atanh(s), s = e / (2 + e) in [0, 1/3]: 2s (1 + s^2 poly(s^2)).
inline constexpr float k_atanh_poly[] = {1.0f / 3,  1.0f / 5,  1.0f / 7,  1.0f / 9,
                                         1.0f / 11, 1.0f / 13, 1.0f / 15, 1.0f / 17};
// erf(t) = t poly(t^2) for t < 2/3; erfc(t) exp(t^2) = poly(z - 0.4), z = t / (1 + t), for
// t >= 2/3. Coefficients from boost.simd / xsimd (Boost Software License 1.0).
inline constexpr float k_erf_small[] = {1.128379154774254f,    -0.3761252839094832f,
                                        0.1128218315189123f,   -0.02678010670585737f,
                                        0.005013293006147870f, -0.0006095205117313012f};
inline constexpr float k_erfc_large[] = {0x1.141d16p-1f,  -0x1.2314c4p+0f, 0x1.48705p-3f,
                                         0x1.8994dcp-2f,  0x1.22eb8ep-3f,  0x1.400dep-3f,
                                         -0x1.5d50cap+0f, 0x1.a160c6p+1f,  -0x1.9a350ap+2f,
                                         0x1.acfc76p+2f,  -0x1.506c22p+1f};

template <class Arch>
inline constexpr bool is_avx512 = std::is_base_of_v<xsimd::avx512f, Arch>;
template <class Arch>
inline constexpr bool is_avx = std::is_base_of_v<xsimd::avx, Arch>;
// xsimd 8.1 has no fused multiply-add for avx512f (its generic fma is a * b + c), so ask for it.
template <class Arch>
inline constexpr bool has_fma =
    is_avx512<Arch> || std::is_base_of_v<xsimd::fma3<xsimd::avx2>, Arch>;

template <class Arch>
TMLP_VEC_INLINE vf<Arch> fmadd(vf<Arch> a, vf<Arch> b, vf<Arch> c) noexcept {
  if constexpr (is_avx512<Arch>)
    return vf<Arch>(_mm512_fmadd_ps(a, b, c));
  else if constexpr (has_fma<Arch>)
    return xsimd::fma(a, b, c);
  else
    return a * b + c;
}

// max, min and integer shifts. GCC 12 warns (-Wuninitialized, a false positive) inside the
// unmasked AVX-512 intrinsics that xsimd uses for these, so AVX-512 uses the zero-masked forms.
template <class Arch>
TMLP_VEC_INLINE vf<Arch> vmax(vf<Arch> a, vf<Arch> b) noexcept {
  if constexpr (is_avx512<Arch>)
    return vf<Arch>(_mm512_maskz_max_ps(static_cast<__mmask16>(0xFFFF), a, b));
  else
    return xsimd::max(a, b);
}

template <class Arch>
TMLP_VEC_INLINE vf<Arch> vmin(vf<Arch> a, vf<Arch> b) noexcept {
  if constexpr (is_avx512<Arch>)
    return vf<Arch>(_mm512_maskz_min_ps(static_cast<__mmask16>(0xFFFF), a, b));
  else
    return xsimd::min(a, b);
}

template <class Arch>
TMLP_VEC_INLINE vi<Arch> shl23(vi<Arch> n) noexcept {
  if constexpr (is_avx512<Arch>)
    return vi<Arch>(_mm512_maskz_slli_epi32(static_cast<__mmask16>(0xFFFF), n, 23));
  else
    return n << 23;
}

template <class Arch>
TMLP_VEC_INLINE vi<Arch> sra1(vi<Arch> n) noexcept {
  if constexpr (is_avx512<Arch>)
    return vi<Arch>(_mm512_maskz_srai_epi32(static_cast<__mmask16>(0xFFFF), n, 1));
  else
    return n >> 1;
}

// min(hi, max(lo, x)): x86 max/min return their second operand when either is NaN, so a NaN x
// goes through unchanged.
template <class Arch>
TMLP_VEC_INLINE vf<Arch> clamp(vf<Arch> x, float lo, float hi) noexcept {
  return vmin<Arch>(vf<Arch>(hi), vmax<Arch>(vf<Arch>(lo), x));
}

template <class Arch, std::size_t N>
TMLP_VEC_INLINE vf<Arch> horner(vf<Arch> x, const float (&c)[N]) noexcept {
  vf<Arch> r(c[N - 1]);
  for (std::size_t i = N - 1; i-- > 0;) r = fmadd<Arch>(r, x, vf<Arch>(c[i]));
  return r;
}

// 2^n for integer n in [-126, 127], as float bits.
template <class Arch>
TMLP_VEC_INLINE vf<Arch> pow2i(vi<Arch> n) noexcept {
  return xsimd::bitwise_cast<vf<Arch>>(shl23<Arch>(n + vi<Arch>(127)));
}

// Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2 (+ rounding); returns r, sets n (integer).
template <class Arch>
TMLP_VEC_INLINE vf<Arch> reduce_ln2(vf<Arch> x, vi<Arch>& n) noexcept {
  const vf<Arch> t = fmadd<Arch>(x, vf<Arch>(k_log2e), vf<Arch>(k_round_magic));
  const vf<Arch> nf = t - vf<Arch>(k_round_magic);
  n = xsimd::bitwise_cast<vi<Arch>>(t) - vi<Arch>(k_round_magic_bits);
  const vf<Arch> r = fmadd<Arch>(nf, vf<Arch>(-k_ln2_hi), x);
  return fmadd<Arch>(nf, vf<Arch>(-k_ln2_lo), r);
}

// exp(x), about 1 ulp; overflow gives inf, subnormal results are right, NaN stays NaN.
template <class Arch>
TMLP_VEC_INLINE vf<Arch> exp_(vf<Arch> x) noexcept {
  vi<Arch> n;
  const vf<Arch> r = reduce_ln2<Arch>(clamp<Arch>(x, -104.0f, 88.8f), n);
  const vf<Arch> y = fmadd<Arch>(horner<Arch>(r, k_exp_poly), r * r, r) + vf<Arch>(1.0f);
  const vi<Arch> n1 = sra1<Arch>(n);  // two steps so that 2^n may be subnormal or 2^128
  return (y * pow2i<Arch>(n1)) * pow2i<Arch>(n - n1);
}

// expm1(x) for x <= 0 (a positive x is taken as 0), NaN stays NaN.
template <class Arch>
TMLP_VEC_INLINE vf<Arch> expm1_neg(vf<Arch> x) noexcept {
  vi<Arch> n;
  const vf<Arch> r = reduce_ln2<Arch>(clamp<Arch>(x, -30.0f, 0.0f), n);
  const vf<Arch> p = fmadd<Arch>(r * r, horner<Arch>(r, k_expm1_poly), r);
  const vf<Arch> s = pow2i<Arch>(n);
  return fmadd<Arch>(p, s, s - vf<Arch>(1.0f));
}

// log1p(e) for e in [0, 1].
template <class Arch>
TMLP_VEC_INLINE vf<Arch> log1p_unit(vf<Arch> e) noexcept {
  const vf<Arch> s = e / (vf<Arch>(2.0f) + e);
  const vf<Arch> s2 = s * s, two_s = s + s;
  return fmadd<Arch>(two_s * s2, horner<Arch>(s2, k_atanh_poly), two_s);
}

template <class Arch>
TMLP_VEC_INLINE vf<Arch> sigmoid_(vf<Arch> x) noexcept {
  const vf<Arch> e = exp_<Arch>(-xsimd::abs(x));
  return xsimd::select(x < vf<Arch>(0.0f), e, vf<Arch>(1.0f)) / (vf<Arch>(1.0f) + e);
}

template <class Arch>
TMLP_VEC_INLINE vf<Arch> tanh_(vf<Arch> x) noexcept {
  const vf<Arch> a = vmin<Arch>(vf<Arch>(10.0f), xsimd::abs(x));  // tanh(10) rounds to 1
  const vf<Arch> m = expm1_neg<Arch>(vf<Arch>(-2.0f) * a);
  const vf<Arch> t = xsimd::abs(m) / (vf<Arch>(2.0f) + m);
  return t | (x & vf<Arch>(-0.0f));
}

// The low part of x*x = hi + lo, exact (FMA, or Dekker's product where there is none; |x| <= 20).
template <class Arch>
TMLP_VEC_INLINE vf<Arch> square_lo(vf<Arch> x, vf<Arch> hi) noexcept {
  if constexpr (has_fma<Arch>) {
    return fmadd<Arch>(x, x, -hi);
  } else {
    const vf<Arch> c = vf<Arch>(4097.0f) * x;
    const vf<Arch> xh = c - (c - x), xl = x - xh;
    return ((xh * xh - hi) + vf<Arch>(2.0f) * xh * xl) + xl * xl;
  }
}

// For gelu_erf: xc = x clamped to [-20, 20]; g = exp(-xc^2 / 2); phi = Phi(xc) and h = xc Phi(xc)
// (the standard normal cdf), from erf for |xc| < 0.94 and from erfc beyond.
template <class Arch>
struct gauss_parts {
  using V = vf<Arch>;
  V xc, g, phi, h;
  TMLP_VEC_INLINE explicit gauss_parts(V x) noexcept : xc(clamp<Arch>(x, -20.0f, 20.0f)) {
    const V t = xsimd::abs(xc) * V(k_inv_sqrt2);
    const V x2 = xc * xc;
    const V g0 = exp_<Arch>(V(-0.5f) * x2);
    g = fmadd<Arch>(g0, V(-0.5f) * square_lo<Arch>(xc, x2), g0);
    const V half_x = V(0.5f) * xc;
    // |t| < 2/3: Phi = 0.5 + 0.5 erf(xc / sqrt2)
    const V half_erf = (V(0.5f) * (xc * V(k_inv_sqrt2))) * horner<Arch>(t * t, k_erf_small);
    // otherwise, with E = erfc(t): Phi = E / 2 for xc < 0, 1 - E / 2 for xc > 0
    const V half_e = V(0.5f) * (g * horner<Arch>(t / (V(1.0f) + t) - V(0.4f), k_erfc_large));
    const auto small = t < V(2.0f / 3.0f);
    const auto neg = xc <= V(0.0f);
    phi = xsimd::select(small, V(0.5f) + half_erf, xsimd::select(neg, half_e, V(1.0f) - half_e));
    const V hl = xc * half_e;  // x Phi(x) for x < 0; x - x Phi(-x) for x > 0
    h = xsimd::select(small, fmadd<Arch>(xc, half_erf, half_x), xsimd::select(neg, hl, xc - hl));
  }
};

// --- one struct per activation: fwd(x, p) and bwd(z, y, dy, p); p = alpha or the slope -------
template <class Arch>
struct op_identity {
  using V = vf<Arch>;
  static constexpr bool per_column = false;
  TMLP_VEC_INLINE static V fwd(V x, V) noexcept { return x; }
  TMLP_VEC_INLINE static V bwd(V z, V, V dy, V) noexcept {
    return xsimd::select(xsimd::isnan(z), z, dy);
  }  // NaN z
};

// relu, leaky_relu and prelu: f'(z) = z > 0 ? 1 : p, and NaN at NaN.
template <class Arch>
TMLP_VEC_INLINE vf<Arch> relu_family_bwd(vf<Arch> z, vf<Arch> dy, vf<Arch> p) noexcept {
  const vf<Arch> d =
      xsimd::select(z > vf<Arch>(0.0f), vf<Arch>(1.0f), xsimd::select(z <= vf<Arch>(0.0f), p, z));
  return dy * d;
}

template <class Arch>
struct op_relu {
  using V = vf<Arch>;
  static constexpr bool per_column = false;
  TMLP_VEC_INLINE static V fwd(V x, V) noexcept {
    return vmax<Arch>(V(0.0f), x);
  }  // NaN and -0 kept
  TMLP_VEC_INLINE static V bwd(V z, V, V dy, V) noexcept {
    return relu_family_bwd<Arch>(z, dy, V(0.0f));
  }
};

template <class Arch, bool PerColumn>
struct op_leaky {
  using V = vf<Arch>;
  static constexpr bool per_column = PerColumn;
  TMLP_VEC_INLINE static V fwd(V x, V p) noexcept { return xsimd::select(x > V(0.0f), x, p * x); }
  TMLP_VEC_INLINE static V bwd(V z, V, V dy, V p) noexcept {
    return relu_family_bwd<Arch>(z, dy, p);
  }
};

template <class Arch>
struct op_elu {
  using V = vf<Arch>;
  static constexpr bool per_column = false;
  TMLP_VEC_INLINE static V fwd(V x, V a) noexcept {
    return xsimd::select(x >= V(0.0f), x, a * expm1_neg<Arch>(x));
  }
  TMLP_VEC_INLINE static V bwd(V z, V y, V dy, V a) noexcept {
    return dy * xsimd::select(z > V(0.0f), V(1.0f), y + a);
  }
};

template <class Arch>
struct op_selu {
  using V = vf<Arch>;
  static constexpr bool per_column = false;
  TMLP_VEC_INLINE static V fwd(V x, V) noexcept {
    return V(selu_lambda) * xsimd::select(x >= V(0.0f), x, V(selu_alpha) * expm1_neg<Arch>(x));
  }
  TMLP_VEC_INLINE static V bwd(V z, V y, V dy, V) noexcept {
    return dy * xsimd::select(z > V(0.0f), V(selu_lambda), y + V(k_selu_la));
  }
};

template <class Arch>
struct op_sigmoid {
  using V = vf<Arch>;
  static constexpr bool per_column = false;
  TMLP_VEC_INLINE static V fwd(V x, V) noexcept { return sigmoid_<Arch>(x); }
  TMLP_VEC_INLINE static V bwd(V, V y, V dy, V) noexcept { return dy * (y * (V(1.0f) - y)); }
};

template <class Arch>
struct op_tanh {
  using V = vf<Arch>;
  static constexpr bool per_column = false;
  TMLP_VEC_INLINE static V fwd(V x, V) noexcept { return tanh_<Arch>(x); }
  TMLP_VEC_INLINE static V bwd(V, V y, V dy, V) noexcept {
    return dy * ((V(1.0f) - y) * (V(1.0f) + y));
  }
};

template <class Arch>
struct op_gelu_erf {
  using V = vf<Arch>;
  static constexpr bool per_column = false;
  TMLP_VEC_INLINE static V fwd(V x, V) noexcept {
    const gauss_parts<Arch> q(x);
    return xsimd::select(x > V(20.0f), x, q.h);  // +inf stays inf; x < -20 gives -0
  }
  TMLP_VEC_INLINE static V bwd(V z, V, V dy, V) noexcept {
    const gauss_parts<Arch> q(z);
    return dy * fmadd<Arch>(q.xc * q.g, V(k_inv_sqrt_2pi), q.phi);
  }
};

template <class Arch>
struct op_gelu_tanh {
  using V = vf<Arch>;
  static constexpr bool per_column = false;
  TMLP_VEC_INLINE static V fwd(V x, V) noexcept {
    const V xm = vmax<Arch>(V(-k_flt_max), x);  // -inf * 0 would be NaN
    const V u = V(k_gelu_k0) * (xm + V(k_gelu_k1) * ((xm * xm) * xm));
    const V w = u + u;
    const V e = exp_<Arch>(-xsimd::abs(w));
    return xm * (xsimd::select(w < V(0.0f), e, V(1.0f)) / (V(1.0f) + e));
  }
  TMLP_VEC_INLINE static V bwd(V z, V, V dy, V) noexcept {
    const V xc = clamp<Arch>(z, -20.0f, 20.0f);
    const V x2 = xc * xc;
    const V u = V(k_gelu_k0) * (xc + V(k_gelu_k1) * (x2 * xc));
    const V w = u + u;
    const V e = exp_<Arch>(-xsimd::abs(w));
    const V d = V(1.0f) + e;
    const V s = xsimd::select(w < V(0.0f), e, V(1.0f)) / d;
    const V slope = ((V(2.0f * k_gelu_k0) * xc) * (V(1.0f) + V(k_gelu_k3) * x2)) * (e / (d * d));
    return dy * (s + slope);
  }
};

template <class Arch>
struct op_softplus {
  using V = vf<Arch>;
  static constexpr bool per_column = false;
  TMLP_VEC_INLINE static V fwd(V x, V) noexcept {
    return vmax<Arch>(V(0.0f), x) + log1p_unit<Arch>(exp_<Arch>(-xsimd::abs(x)));
  }
  TMLP_VEC_INLINE static V bwd(V z, V, V dy, V) noexcept { return dy * sigmoid_<Arch>(z); }
};

// --- drivers -------------------------------------------------------------------------------
template <class Arch>
TMLP_VEC_INLINE void stream_store(float* p, vf<Arch> v) noexcept {
  if constexpr (is_avx512<Arch>)
    _mm512_stream_ps(p, v);
  else if constexpr (is_avx<Arch>)
    _mm256_stream_ps(p, v);
  else
    _mm_stream_ps(p, v);
}

// out[i] = f(a[i], b[i], c[i]) over a flat array; [lo, hi) of at most one vector goes through
// a zero-padded copy.
template <class Arch, class F>
void padded_map(std::size_t lo, std::size_t hi, const float* a, const float* b, const float* c,
                float* out, F f) noexcept {
  constexpr std::size_t L = vf<Arch>::size;
  float ta[L] = {}, tb[L] = {}, tc[L] = {}, to[L];
  for (std::size_t i = lo; i < hi; ++i) ta[i - lo] = a[i], tb[i - lo] = b[i], tc[i - lo] = c[i];
  f(vf<Arch>::load_unaligned(ta), vf<Arch>::load_unaligned(tb), vf<Arch>::load_unaligned(tc))
      .store_unaligned(to);
  for (std::size_t i = lo; i < hi; ++i) out[i] = to[i - lo];
}

template <class Arch, class F>
void flat_map(std::size_t n, const float* a, const float* b, const float* c, float* out,
              F f) noexcept {
  constexpr std::size_t L = vf<Arch>::size;
  std::size_t i = 0;
  if (n >= k_stream_min) {  // larger than the caches: streaming stores, no read for ownership
    const auto misalign = reinterpret_cast<std::uintptr_t>(out) % (L * sizeof(float));
    const std::size_t head = misalign == 0 ? 0 : (L * sizeof(float) - misalign) / sizeof(float);
    for (; i < head; i += L) padded_map<Arch>(i, i + L < head ? i + L : head, a, b, c, out, f);
    i = head;
    for (; i + L <= n; i += L)
      stream_store<Arch>(out + i,
                         f(vf<Arch>::load_unaligned(a + i), vf<Arch>::load_unaligned(b + i),
                           vf<Arch>::load_unaligned(c + i)));
    _mm_sfence();
  } else {
    for (; i + L <= n; i += L)
      f(vf<Arch>::load_unaligned(a + i), vf<Arch>::load_unaligned(b + i),
        vf<Arch>::load_unaligned(c + i))
          .store_unaligned(out + i);
  }
  if (i < n) padded_map<Arch>(i, n, a, b, c, out, f);
}

template <class Arch, class Op>
void forward(std::size_t rows, std::size_t cols, const float* bias, act_param p, float* z,
             float* y) noexcept {
  using V = vf<Arch>;
  constexpr std::size_t L = V::size;
  if (bias == nullptr && !Op::per_column) {
    const V alpha(p.alpha);
    flat_map<Arch>(
        rows * cols, z, z, z,
        y, [alpha](V x, V, V) __attribute__((always_inline)) { return Op::fwd(x, alpha); });
    return;
  }
  const V alpha(p.alpha);
  for (std::size_t r = 0; r < rows; ++r) {
    float* zr = z + r * cols;
    float* yr = y + r * cols;
    for (std::size_t c = 0; c < cols; c += L) {
      const std::size_t w = cols - c < L ? cols - c : L;
      float tz[L] = {}, tb[L] = {}, tp[L] = {}, ty[L];
      const bool full = w == L;
      if (!full)
        for (std::size_t i = 0; i < w; ++i) {
          tz[i] = zr[c + i];
          if (bias != nullptr) tb[i] = bias[c + i];
          if constexpr (Op::per_column) tp[i] = p.slope[c + i];
        }
      V x = full ? V::load_unaligned(zr + c) : V::load_unaligned(tz);
      if (bias != nullptr) {
        x += full ? V::load_unaligned(bias + c) : V::load_unaligned(tb);
        if (full)
          x.store_unaligned(zr + c);
        else
          x.store_unaligned(tz);
      }
      V pv = alpha;
      if constexpr (Op::per_column)
        pv = full ? V::load_unaligned(p.slope + c) : V::load_unaligned(tp);
      const V out = Op::fwd(x, pv);
      if (full) {
        out.store_unaligned(yr + c);
      } else {
        out.store_unaligned(ty);
        for (std::size_t i = 0; i < w; ++i) {
          if (bias != nullptr) zr[c + i] = tz[i];
          yr[c + i] = ty[i];
        }
      }
    }
  }
}

template <class Arch, class Op>
void backward(std::size_t rows, std::size_t cols, const float* z, const float* y, const float* dy,
              act_param p, float* dz, float*) noexcept {
  using V = vf<Arch>;
  const V alpha(p.alpha);
  flat_map<Arch>(
      rows * cols, z, y, dy, dz, [alpha](V zv, V yv, V dyv) __attribute__((always_inline)) {
        return Op::bwd(zv, yv, dyv, alpha);
      });
}

// prelu backward: dz as leaky_relu with a slope per column; d_slope[c] += sum_r dy * min(z, 0),
// rows summed in order into a stack buffer of k_chunk columns, then added to d_slope.
template <class Arch>
void prelu_backward(std::size_t rows, std::size_t cols, const float* z, const float*,
                    const float* dy, act_param p, float* dz, float* d_slope) noexcept {
  using V = vf<Arch>;
  constexpr std::size_t L = V::size, k_chunk = 256;
  for (std::size_t c0 = 0; c0 < cols; c0 += k_chunk) {
    const std::size_t cw = cols - c0 < k_chunk ? cols - c0 : k_chunk;
    float acc[k_chunk] = {};
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t base = r * cols + c0;
      for (std::size_t c = 0; c < cw; c += L) {
        const std::size_t w = cw - c < L ? cw - c : L;
        const bool full = w == L;
        float tz[L] = {}, tdy[L] = {}, ts[L] = {}, tdz[L];
        if (!full)
          for (std::size_t i = 0; i < w; ++i)
            tz[i] = z[base + c + i], tdy[i] = dy[base + c + i], ts[i] = p.slope[c0 + c + i];
        const V zv = full ? V::load_unaligned(z + base + c) : V::load_unaligned(tz);
        const V dyv = full ? V::load_unaligned(dy + base + c) : V::load_unaligned(tdy);
        const V sv = full ? V::load_unaligned(p.slope + c0 + c) : V::load_unaligned(ts);
        const V m = xsimd::select(zv > V(0.0f), V(0.0f), zv);
        (V::load_unaligned(acc + c) + dyv * m).store_unaligned(acc + c);
        const V d = relu_family_bwd<Arch>(zv, dyv, sv);
        if (full) {
          d.store_unaligned(dz + base + c);
        } else {
          d.store_unaligned(tdz);
          for (std::size_t i = 0; i < w; ++i) dz[base + c + i] = tdz[i];
        }
      }
    }
    for (std::size_t c = 0; c < cw; ++c) d_slope[c0 + c] += acc[c];
  }
}

// x[lo, hi) of one row into a padded vector (padding `fill`).
template <class Arch>
TMLP_VEC_INLINE vf<Arch> load_padded(const float* x, std::size_t lo, std::size_t hi,
                                     float fill) noexcept {
  constexpr std::size_t L = vf<Arch>::size;
  if (hi - lo == L) return vf<Arch>::load_unaligned(x + lo);
  float t[L];
  for (std::size_t i = 0; i < L; ++i) t[i] = lo + i < hi ? x[lo + i] : fill;
  return vf<Arch>::load_unaligned(t);
}

template <class Arch>
TMLP_VEC_INLINE void store_padded(float* x, std::size_t lo, std::size_t hi, vf<Arch> v) noexcept {
  constexpr std::size_t L = vf<Arch>::size;
  if (hi - lo == L) return v.store_unaligned(x + lo);
  float t[L];
  v.store_unaligned(t);
  for (std::size_t i = lo; i < hi; ++i) x[i] = t[i - lo];
}

// Lanes summed in order 0..L-1; max ignoring NaN lanes.
template <class Arch>
float lane_sum(vf<Arch> v) noexcept {
  constexpr std::size_t L = vf<Arch>::size;
  float t[L];
  v.store_unaligned(t);
  float s = 0.0f;
  for (std::size_t i = 0; i < L; ++i) s += t[i];
  return s;
}

template <class Arch>
float lane_max(vf<Arch> v) noexcept {
  constexpr std::size_t L = vf<Arch>::size;
  float t[L];
  v.store_unaligned(t);
  float m = -k_inf;
  for (std::size_t i = 0; i < L; ++i) m = t[i] > m ? t[i] : m;
  return m;
}

// Softmax (Log = false) or log-softmax (Log = true) of each row.
template <class Arch, bool Log>
void softmax(std::size_t rows, std::size_t cols, const float* x, float* y) noexcept {
  using V = vf<Arch>;
  constexpr std::size_t L = V::size;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    V m(-k_inf);
    for (std::size_t c = 0; c < cols; c += L)
      m = vmax<Arch>(m, load_padded<Arch>(xr, c, cols - c < L ? cols : c + L, -k_inf));
    const V mx(lane_max<Arch>(m));
    V s(0.0f);
    for (std::size_t c = 0; c < cols; c += L) {
      const std::size_t hi = cols - c < L ? cols : c + L;
      const V d = load_padded<Arch>(xr, c, hi, -k_inf) - mx;
      const V e = exp_<Arch>(d);
      s += e;
      store_padded<Arch>(yr, c, hi, Log ? d : e);
    }
    const float sum = lane_sum<Arch>(s);
    const V k(Log ? static_cast<float>(std::log(static_cast<double>(sum))) : 1.0f / sum);
    for (std::size_t c = 0; c < cols; c += L) {
      const std::size_t hi = cols - c < L ? cols : c + L;
      const V v = load_padded<Arch>(yr, c, hi, 0.0f);
      store_padded<Arch>(yr, c, hi, Log ? v - k : v * k);
    }
  }
}

template <class Arch>
void col_sums(std::size_t rows, std::size_t cols, const float* x, float* out) noexcept {
  using V = vf<Arch>;
  constexpr std::size_t L = V::size;
  for (std::size_t c = 0; c < cols; ++c) out[c] = 0.0f;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    for (std::size_t c = 0; c < cols; c += L) {
      const std::size_t hi = cols - c < L ? cols : c + L;
      store_padded<Arch>(out, c, hi,
                         load_padded<Arch>(out, c, hi, 0.0f) + load_padded<Arch>(xr, c, hi, 0.0f));
    }
  }
}

template <class Arch, class Op>
void set_act(kernel_table& t, act a) noexcept {
  t.bias_act_forward[static_cast<int>(a)] = &forward<Arch, Op>;
  t.act_backward[static_cast<int>(a)] = &backward<Arch, Op>;
}

}  // namespace act_detail

template <class Arch>
void fill_activation_kernels(kernel_table& t) noexcept {
  using namespace act_detail;
  set_act<Arch, op_identity<Arch>>(t, act::identity);
  set_act<Arch, op_relu<Arch>>(t, act::relu);
  set_act<Arch, op_leaky<Arch, false>>(t, act::leaky_relu);
  set_act<Arch, op_leaky<Arch, true>>(t, act::prelu);
  t.act_backward[static_cast<int>(act::prelu)] = &prelu_backward<Arch>;
  set_act<Arch, op_elu<Arch>>(t, act::elu);
  set_act<Arch, op_selu<Arch>>(t, act::selu);
  set_act<Arch, op_sigmoid<Arch>>(t, act::sigmoid);
  set_act<Arch, op_tanh<Arch>>(t, act::tanh);
  set_act<Arch, op_gelu_erf<Arch>>(t, act::gelu_erf);
  set_act<Arch, op_gelu_tanh<Arch>>(t, act::gelu_tanh);
  set_act<Arch, op_softplus<Arch>>(t, act::softplus);
  t.softmax_rows = &softmax<Arch, false>;
  t.log_softmax_rows = &softmax<Arch, true>;
  t.col_sums = &col_sums<Arch>;
}

}  // namespace tmlp::kernels

#undef TMLP_VEC_INLINE
