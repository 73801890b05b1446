// Activation ops as templates over an xsimd architecture: one struct per activation with
// fwd(x, p) (forward) and bwd(z, y, dy, p) (dz = dy * f'(z)), where p is alpha, or the column's
// slope for prelu (per_column = true). The loops that run them over rows are in
// activation_loops.hpp; the math they use is in vector_math.hpp.
//
// Semantics are those of the scalar reference (reference_activations.cpp). Formulas used here
// (and, term for term, in the reference):
// Semantics are those of the scalar reference (reference_activations.cpp). Formulas used here
// (and, term for term, in the reference):
//   sigmoid    e = exp(-|x|); (x < 0 ? e : 1) / (1 + e)                      backward y (1 - y)
//   tanh       sign(x) * -m / (2 + m), m = expm1(-2 min(|x|, 10))            backward (1-y)(1+y)
//   elu, selu  x >= 0 ? x : alpha expm1(x) (selu: times lambda)   backward z > 0 ? 1 : y + alpha
//   gelu       x Phi(x): Phi = (1 + erf(x/sqrt2)) / 2 for |x| < 0.94, else from
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
//   gelu (erf form, reference in double)  |y-r| <= (6 + 1.5 max(0, -x)) ulp(r) + 1e-37
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
// (log_softmax: -inf). On SSE2 (no FMA) the same bounds hold: the exact square in gelu uses
// Dekker's product instead of an FMA.
#pragma once

#include "kernels.hpp"
#include "vector_math.hpp"

namespace tmlp::kernels::simd {

inline constexpr float k_gelu_k0 = 0.797884560802865356f;  // sqrt(2/pi)
inline constexpr float k_gelu_k1 = 0.044715f;
inline constexpr float k_gelu_k3 = 3.0f * 0.044715f;
inline constexpr float k_selu_la = selu_lambda * selu_alpha;

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
struct op_gelu {
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

}  // namespace tmlp::kernels::simd
