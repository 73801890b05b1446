// Loop drivers of the activation, softmax and column-sum kernels, as templates over an xsimd
// architecture: they apply an activation op (activation_ops.hpp) over rows x cols, with tails
// shorter than a vector run through the same vector code on a padded copy, and fill the
// activation part of a kernel_table.
//
// Intended usage: only the arch_*.cpp files include this header (through table_impl.hpp), each
// compiled with its instruction set's flags; they call fill_activation_kernels<Arch>(table)
// once. Everything else reaches these kernels through kernel_table (kernels.hpp).
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

#include <xsimd/xsimd.hpp>

#include "activation_ops.hpp"
#include "kernels.hpp"
#include "vector_math.hpp"

namespace tmlp::kernels {
namespace simd {

inline constexpr std::size_t k_stream_min = std::size_t{1} << 22;  // floats; streaming stores

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

// y = f(z) over a flat array, or row by row for an op with a value per column (prelu).
template <class Arch, class Op>
void forward(std::size_t rows, std::size_t cols, const float* z, act_param p, float* y) noexcept {
  using V = vf<Arch>;
  constexpr std::size_t L = V::size;
  if constexpr (!Op::per_column) {
    const V alpha(p.alpha);
    flat_map<Arch>(
        rows * cols, z, z, z,
        y, [alpha](V x, V, V) __attribute__((always_inline)) { return Op::fwd(x, alpha); });
  } else {
    for (std::size_t r = 0; r < rows; ++r) {
      const float* zr = z + r * cols;
      float* yr = y + r * cols;
      for (std::size_t c = 0; c < cols; c += L) {
        const std::size_t hi = cols - c < L ? cols : c + L;
        const V x = load_padded<Arch>(zr, c, hi, 0.0f);
        store_padded<Arch>(yr, c, hi, Op::fwd(x, load_padded<Arch>(p.slope, c, hi, 0.0f)));
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
  t.act_forward[static_cast<int>(a)] = &forward<Arch, Op>;
  t.act_backward[static_cast<int>(a)] = &backward<Arch, Op>;
}

}  // namespace simd

template <class Arch>
void fill_activation_kernels(kernel_table& t) noexcept {
  using namespace simd;
  set_act<Arch, op_identity<Arch>>(t, act::identity);
  set_act<Arch, op_relu<Arch>>(t, act::relu);
  set_act<Arch, op_leaky<Arch, false>>(t, act::leaky_relu);
  set_act<Arch, op_leaky<Arch, true>>(t, act::prelu);
  t.act_backward[static_cast<int>(act::prelu)] = &prelu_backward<Arch>;
  set_act<Arch, op_elu<Arch>>(t, act::elu);
  set_act<Arch, op_selu<Arch>>(t, act::selu);
  set_act<Arch, op_sigmoid<Arch>>(t, act::sigmoid);
  set_act<Arch, op_tanh<Arch>>(t, act::tanh);
  set_act<Arch, op_gelu<Arch>>(t, act::gelu);
  set_act<Arch, op_gelu_tanh<Arch>>(t, act::gelu_tanh);
  set_act<Arch, op_softplus<Arch>>(t, act::softplus);
  t.softmax_rows = &softmax<Arch, false>;
  t.log_softmax_rows = &softmax<Arch, true>;
  t.col_sums = &col_sums<Arch>;
}

}  // namespace tmlp::kernels
