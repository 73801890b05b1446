// Vector math over xsimd batches: exp, expm1, log1p, sigmoid, tanh and the normal cdf, as
// templates over an xsimd architecture, with the helpers they share (FMA, max/min, clamp, Horner
// polynomials, 2^n). The activation ops (activation_ops.hpp) and the softmax loops
// (activation_loops.hpp) are built from these.
//
// Intended usage: included (through activation_loops.hpp) only by the arch_*.cpp files, each
// compiled with its instruction set's flags.
//
// ODR: the arch TUs are compiled with different -m flags and linked together, so every helper
// here is a template over Arch (or constexpr data); nothing calls a non-template inline function.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <xsimd/xsimd.hpp>

// Math helpers and per-activation operations must be inlined into the loops (a call per vector
// passes batches through memory and costs more than the math).
#ifndef TMLP_VEC_INLINE
#define TMLP_VEC_INLINE __attribute__((always_inline)) inline
#endif

namespace tmlp::kernels::simd {

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

// For gelu: xc = x clamped to [-20, 20]; g = exp(-xc^2 / 2); phi = Phi(xc) and h = xc Phi(xc)
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

}  // namespace tmlp::kernels::simd
