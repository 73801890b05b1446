// Scalar reference of the activation, softmax and column-sum kernels: plain loops over <cmath>.
// This is the oracle the vector kernels (activation_ops.hpp, activation_loops.hpp) are tested
// against and the "scalar" architecture of the dispatch table. The formulas are those listed at
// the top of activation_ops.hpp, written in float with std:: functions, except gelu, which is
// computed in double (std::erfc of a float-rounded x/sqrt2 would be off by tens of ulp in the
// tails).
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <limits>

#include "reference.hpp"

namespace tmlp::kernels {
namespace {

constexpr float k_inf = std::numeric_limits<float>::infinity();
constexpr float k_gelu_k0 = 0.797884560802865356f;  // sqrt(2/pi)
constexpr float k_gelu_k1 = 0.044715f;
constexpr float k_gelu_k3 = 3.0f * 0.044715f;
constexpr float k_selu_la = selu_lambda * selu_alpha;
constexpr double k_inv_sqrt2 = 0.70710678118654752440;
constexpr double k_inv_sqrt_2pi = 0.39894228040143267794;

// Each activation: fwd(x, p) and bwd(z, y, dy, p), p = alpha or the column's slope.
float relu_family_bwd(float z, float dy, float p) {
  return dy * (z > 0.0f ? 1.0f : z <= 0.0f ? p : z);  // f' is NaN at NaN
}

float sigmoid(float x) {
  const float e = std::exp(-std::fabs(x));
  return (x < 0.0f ? e : 1.0f) / (1.0f + e);
}

struct identity_op {
  static float fwd(float x, float) { return x; }
  static float bwd(float z, float, float dy, float) { return z != z ? z : dy; }  // NaN z
};
struct relu_op {
  static float fwd(float x, float) { return x < 0.0f ? 0.0f : x; }  // NaN and -0 kept
  static float bwd(float z, float, float dy, float) { return relu_family_bwd(z, dy, 0.0f); }
};
struct leaky_op {  // leaky_relu and prelu
  static float fwd(float x, float p) { return x > 0.0f ? x : p * x; }
  static float bwd(float z, float, float dy, float p) { return relu_family_bwd(z, dy, p); }
};
struct elu_op {
  static float fwd(float x, float a) { return x >= 0.0f ? x : a * std::expm1(x); }
  static float bwd(float z, float y, float dy, float a) { return dy * (z > 0.0f ? 1.0f : y + a); }
};
struct selu_op {
  static float fwd(float x, float) {
    return selu_lambda * (x >= 0.0f ? x : selu_alpha * std::expm1(x));
  }
  static float bwd(float z, float y, float dy, float) {
    return dy * (z > 0.0f ? selu_lambda : y + k_selu_la);
  }
};
struct sigmoid_op {
  static float fwd(float x, float) { return sigmoid(x); }
  static float bwd(float, float y, float dy, float) { return dy * (y * (1.0f - y)); }
};
struct tanh_op {
  static float fwd(float x, float) { return std::tanh(x); }
  static float bwd(float, float y, float dy, float) { return dy * ((1.0f - y) * (1.0f + y)); }
};
struct gelu_op {  // x Phi(x), in double
  static float fwd(float x, float) {
    if (x == -k_inf) return -0.0f;
    const double xd = x;
    return static_cast<float>(0.5 * xd * std::erfc(-xd * k_inv_sqrt2));
  }
  static float bwd(float z, float, float dy, float) {
    const double xd = z;
    const double d = std::isinf(xd) ? (xd > 0 ? 1.0 : 0.0)
                                    : 0.5 * std::erfc(-xd * k_inv_sqrt2) +
                                          xd * std::exp(-0.5 * xd * xd) * k_inv_sqrt_2pi;
    return dy * static_cast<float>(d);
  }
};
struct gelu_tanh_op {  // x sigmoid(2u) == 0.5 x (1 + tanh(u)), u = k0 (x + k1 x^3)
  static float fwd(float x, float) {
    const float xm = x < -FLT_MAX ? -FLT_MAX : x;  // -inf * 0 would be NaN
    const float u = k_gelu_k0 * (xm + k_gelu_k1 * ((xm * xm) * xm));
    const float w = u + u;
    const float e = std::exp(-std::fabs(w));
    return xm * ((w < 0.0f ? e : 1.0f) / (1.0f + e));
  }
  static float bwd(float z, float, float dy, float) {
    const float xc = z != z ? z : z < -20.0f ? -20.0f : z > 20.0f ? 20.0f : z;
    const float x2 = xc * xc;
    const float u = k_gelu_k0 * (xc + k_gelu_k1 * (x2 * xc));
    const float w = u + u;
    const float e = std::exp(-std::fabs(w));
    const float d = 1.0f + e;
    const float s = (w < 0.0f ? e : 1.0f) / d;
    const float slope = ((2.0f * k_gelu_k0 * xc) * (1.0f + k_gelu_k3 * x2)) * (e / (d * d));
    return dy * (s + slope);
  }
};
struct softplus_op {
  static float fwd(float x, float) {
    return (x < 0.0f ? 0.0f : x) + std::log1p(std::exp(-std::fabs(x)));
  }
  static float bwd(float z, float, float dy, float) { return dy * sigmoid(z); }
};

template <class Op, bool PerColumn = false>
void forward(std::size_t rows, std::size_t cols, const float* z, act_param p, float* y) noexcept {
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      const std::size_t i = r * cols + c;
      y[i] = Op::fwd(z[i], PerColumn ? p.slope[c] : p.alpha);
    }
}

template <class Op>
void backward(std::size_t rows, std::size_t cols, const float* z, const float* y, const float* dy,
              act_param p, float* dz, float*) noexcept {
  for (std::size_t i = 0; i < rows * cols; ++i) dz[i] = Op::bwd(z[i], y[i], dy[i], p.alpha);
}

void prelu_backward(std::size_t rows, std::size_t cols, const float* z, const float*,
                    const float* dy, act_param p, float* dz, float* d_slope) noexcept {
  for (std::size_t c = 0; c < cols; ++c) {
    float s = 0.0f;
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t i = r * cols + c;
      const float zi = z[i], dyi = dy[i];
      s += dyi * (zi > 0.0f ? 0.0f : zi);
      dz[i] = relu_family_bwd(zi, dyi, p.slope[c]);
    }
    d_slope[c] += s;
  }
}

template <bool Log>
void softmax(std::size_t rows, std::size_t cols, const float* x, float* y) noexcept {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float m = -k_inf;
    for (std::size_t c = 0; c < cols; ++c) m = xr[c] > m ? xr[c] : m;
    float s = 0.0f;
    for (std::size_t c = 0; c < cols; ++c) {
      const float d = xr[c] - m;
      const float e = std::exp(d);
      s += e;
      yr[c] = Log ? d : e;
    }
    const float k = Log ? static_cast<float>(std::log(static_cast<double>(s))) : 1.0f / s;
    for (std::size_t c = 0; c < cols; ++c) yr[c] = Log ? yr[c] - k : yr[c] * k;
  }
}

void col_sums(std::size_t rows, std::size_t cols, const float* x, float* out) noexcept {
  for (std::size_t c = 0; c < cols; ++c) {
    float s = 0.0f;
    for (std::size_t r = 0; r < rows; ++r) s += x[r * cols + c];
    out[c] = s;
  }
}

template <class Op>
void set_act(kernel_table& t, act a) noexcept {
  t.act_forward[static_cast<int>(a)] = &forward<Op>;
  t.act_backward[static_cast<int>(a)] = &backward<Op>;
}

}  // namespace

void fill_reference_activation_kernels(kernel_table& t) noexcept {
  set_act<identity_op>(t, act::identity);
  set_act<relu_op>(t, act::relu);
  set_act<leaky_op>(t, act::leaky_relu);
  t.act_forward[static_cast<int>(act::prelu)] = &forward<leaky_op, true>;
  t.act_backward[static_cast<int>(act::prelu)] = &prelu_backward;
  set_act<elu_op>(t, act::elu);
  set_act<selu_op>(t, act::selu);
  set_act<sigmoid_op>(t, act::sigmoid);
  set_act<tanh_op>(t, act::tanh);
  set_act<gelu_op>(t, act::gelu);
  set_act<gelu_tanh_op>(t, act::gelu_tanh);
  set_act<softplus_op>(t, act::softplus);
  t.softmax_rows = &softmax<false>;
  t.log_softmax_rows = &softmax<true>;
  t.col_sums = &col_sums;
}

}  // namespace tmlp::kernels
