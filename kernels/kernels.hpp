// tmlp kernels: the dispatch table of every vectorized routine the library runs.
//
// Intended usage (library code only; public headers never include this file):
//
//     const tmlp::kernels::kernel_table& k = tmlp::kernels::active();   // chosen once
//     k.act_forward[int(act::relu)](rows, cols, z, {}, y);
//
// Every kernel is written once as a template over an xsimd architecture (vector_math.hpp,
// activation_ops.hpp, activation_loops.hpp, optimizers.hpp, fma_peak.hpp, transpose.hpp,
// dot_products.hpp), instantiated once per architecture in its own translation unit
// (arch_sse2.cpp, arch_avx2.cpp, arch_avx512.cpp), and reached through a table of function
// pointers. reference.cpp holds the scalar reference of every kernel: plain loops over <cmath>;
// it doubles as the "scalar" architecture and is the oracle the tests compare against.
//
// Conventions: matrices are row-major float32, `rows x cols`, contiguous (leading dimension
// = cols). Sizes come before the pointers they describe, inputs before outputs. Kernels never
// allocate, never throw and never check their arguments: callers validate once, up front.
// Tails shorter than a vector are run through the same vector code on a padded copy, so a
// value's result never depends on where in the array it sits or how work was cut.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tmlp/activation.hpp"

namespace tmlp::kernels {

// The activation functions are the public enum (include/tmlp/activation.hpp): the kernel tables
// are indexed by its values. For prelu, the slope is per column (unit).
using act = ::tmlp::activation;
inline constexpr int n_acts = ::tmlp::n_activations;

// Independent vectors of the FMA loop (kernel_table::fma_loop): enough to keep two FMA units of
// latency 4 busy, with room to spare, in the 16 vector registers of sse2 and avx2.
inline constexpr std::size_t fma_accumulators = 12;

inline constexpr float selu_alpha = 1.6732632423543772f;
inline constexpr float selu_lambda = 1.0507009873554805f;

// Parameters of an activation: `alpha` for leaky_relu and elu; `slope` (cols values) for prelu.
struct act_param {
  float alpha = 0.0f;
  const float* slope = nullptr;
};

// Hyper-parameters of one optimizer update; each kernel reads the fields it documents.
// The gradient g is first regularized: g' = g + l2 * w + l1 * sign(w). Then the rule runs.
// Finally decoupled weight decay (AdamW style): w -= lr * decay * w_old.
struct update_args {
  float lr = 0.0f;
  float l2 = 0.0f;        // coupled L2 penalty, added to the gradient
  float l1 = 0.0f;        // L1 penalty, l1 * sign(w) added to the gradient (sign(0) = 0)
  float decay = 0.0f;     // decoupled weight decay
  float momentum = 0.0f;  // momentum, nesterov
  float beta1 = 0.9f;     // adam: first-moment decay
  float beta2 = 0.999f;   // adam: second-moment decay; rmsprop: squared-gradient decay (rho)
  float eps = 1e-8f;      // adam, rmsprop, adagrad
  float bias1 = 1.0f;     // adam: 1 - beta1^t (t = 1-based step count)
  float bias2 = 1.0f;     // adam: 1 - beta2^t
};

struct kernel_table {
  const char* name;   // "scalar", "sse2", "avx2", "avx512"
  std::size_t lanes;  // float lanes of one vector (1 for scalar)

  // --- activations -------------------------------------------------------------------------
  // Forward: y = f(z). z: rows x cols, in; y: rows x cols, out; y may alias z.
  using act_forward_fn = void (*)(std::size_t rows, std::size_t cols, const float* z, act_param p,
                                  float* y) noexcept;
  act_forward_fn act_forward[n_acts];

  // Backward: dz = dy * f'(z). z, y = f(z), dy: rows x cols; dz: rows x cols, may alias dy.
  // For prelu, d_slope (cols values) is accumulated: d_slope[c] += sum_r dy[r,c] * min(z[r,c],0)
  // (rows summed in order 0..rows-1); d_slope is ignored by every other activation.
  using act_backward_fn = void (*)(std::size_t rows, std::size_t cols, const float* z,
                                   const float* y, const float* dy, act_param p, float* dz,
                                   float* d_slope) noexcept;
  act_backward_fn act_backward[n_acts];

  // Row-wise softmax and log-softmax with the row maximum subtracted. x, y: rows x cols;
  // y may alias x.
  void (*softmax_rows)(std::size_t rows, std::size_t cols, const float* x, float* y) noexcept;
  void (*log_softmax_rows)(std::size_t rows, std::size_t cols, const float* x, float* y) noexcept;

  // Column sums (bias gradients): out[c] = sum over r = 0..rows-1, in that order, of x[r,c].
  // Exactly the scalar result on every architecture (same additions in the same order).
  void (*col_sums)(std::size_t rows, std::size_t cols, const float* x, float* out) noexcept;

  // --- reduction helpers ---------------------------------------------------------------------
  void (*axpy)(std::size_t n, float a, const float* x, float* y) noexcept;  // y += a * x
  void (*scale)(std::size_t n, float a, float* x) noexcept;                 // x *= a
  // y = (((y + x[0]) + x[1]) + ...) + x[m - 1]: the same additions, in the same order, as m
  // calls of axpy with a = 1, but reading the m arrays side by side in one pass over y.
  void (*add_arrays)(std::size_t n, const float* const* x, std::size_t m, float* y) noexcept;
  // The reduction of a block in one pass, m >= 1: y = (((x[0] + x[1]) + ...) + x[m - 1]) * a
  // (y is written, not read), and returned, the sum of y's squares in double: eight partial sums,
  // value i adding double(y[i])^2 to sum i % 8 in the order of i, then ((s0 + s1) + (s2 + s3)) +
  // ((s4 + s5) + (s6 + s7)). The same bits as copying x[0] to y, add_arrays of the others,
  // scale by a and that sum of squares, each a pass of its own.
  double (*sum_scale_squares)(std::size_t n, const float* const* x, std::size_t m, float a,
                              float* y) noexcept;

  // --- optimizer updates over a flat parameter vector w (n values) with gradient g -----------
  // sgd:      w -= lr * g'
  // momentum: v = momentum * v + g';  w -= lr * v
  // nesterov: v = momentum * v + g';  w -= lr * (g' + momentum * v)
  // adam:     m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;
  //           w -= lr * (m / bias1) / (sqrt(v / bias2) + eps)      (AdamW: decay > 0, l2 = 0)
  // rmsprop:  s = beta2 * s + (1 - beta2) g'^2;  w -= lr * g' / (sqrt(s) + eps)
  // adagrad:  s += g'^2;  w -= lr * g' / (sqrt(s) + eps)
  // g' and the decoupled decay as described at update_args. State vectors (v, m, s) are n values.
  void (*sgd)(std::size_t n, const update_args& a, const float* g, float* w) noexcept;
  void (*momentum)(std::size_t n, const update_args& a, const float* g, float* w,
                   float* v) noexcept;
  void (*nesterov)(std::size_t n, const update_args& a, const float* g, float* w,
                   float* v) noexcept;
  void (*adam)(std::size_t n, const update_args& a, const float* g, float* w, float* m,
               float* v) noexcept;
  void (*rmsprop)(std::size_t n, const update_args& a, const float* g, float* w, float* s) noexcept;
  void (*adagrad)(std::size_t n, const update_args& a, const float* g, float* w, float* s) noexcept;

  // --- bfloat16 (bf16.hpp) -------------------------------------------------------------------
  // y = x rounded to the nearest bfloat16, ties to even, kept as a float (its low 16 bits
  // zero): infinities stay, finite values past bf16's largest round to infinity, NaN stays NaN
  // (quiet), denormals become zeros of their sign (as AVX512-BF16 converts). y may alias x.
  // Bit-identical on every architecture; avx512 uses AVX512-BF16's conversions where the CPU
  // has them (avx512_xsimd_bf16 below).
  void (*round_bf16)(std::size_t n, const float* x, float* y) noexcept;
  // y[i] = round_bf16(x[i]) as a bfloat16: its high 16 bits, the operands of bf16 GEMMs.
  void (*to_bf16)(std::size_t n, const float* x, std::uint16_t* y) noexcept;
  // y[2i] = bf16 of a[i], y[2i + 1] = bf16 of b[i] (2n values); b nullptr: zeros. The rows of
  // a layout of pairs of rows.
  void (*to_bf16_pairs)(std::size_t n, const float* a, const float* b, std::uint16_t* y) noexcept;

  // --- matrix transpose (transpose.hpp) ------------------------------------------------------
  // y[c * ldy + r] = x[r * ldx + c] for r < rows, c < cols: y (cols x rows, row stride ldy)
  // holds the transpose of x (rows x cols, row stride ldx). y must not overlap x.
  void (*transpose)(std::size_t rows, std::size_t cols, const float* x, std::size_t ldx, float* y,
                    std::size_t ldy) noexcept;

  // --- Z += X·Wᵀ by dot products of rows (dot_products.hpp) ----------------------------------
  // z[r * ldz + j] += the sum over i < k of x[r * ldx + i] * w[j * ldw + i], for r < rows,
  // j < n: X (rows x k) times W (n x k, as a layer stores it) transposed, no copy of W. Each sum
  // is computed alone and then added to z: lanes partial sums in the order of i (lane l takes
  // i = l, l + lanes, ...; the last partial vector padded with zeros; FMA, sse2 multiply then
  // add), their lanes added by one fixed tree (lane_sums). Its bits depend on the two rows
  // and k alone: not on rows, n or where the pair sits, so a row's result is the same in any
  // batch. The scalar reference sums in the order of i. z must not overlap x or w.
  void (*add_xwt)(std::size_t rows, std::size_t n, std::size_t k, const float* x, std::size_t ldx,
                  const float* w, std::size_t ldw, float* z, std::size_t ldz) noexcept;

  // --- the machine's FMA peak (fma_peak.hpp) -------------------------------------------------
  // A register-only loop: each lane of acc (fma_accumulators x lanes floats, read as the starting
  // values, written back at the end) takes n_iters steps a = a * m + c, a fused multiply-add
  // (one rounding; the scalar reference is std::fma). sse2 has no FMA instruction: it multiplies
  // then adds (two roundings), the same value whenever a * m is exact, e.g. m = -1, 1/2 or 2.
  // Returns the floating-point operations done: 2 x fma_accumulators x lanes x n_iters.
  double (*fma_loop)(std::size_t n_iters, float m, float c, float* acc) noexcept;
};

// The table chosen for this process: built on first use from TMLP_SIMD if set (scalar, sse2,
// avx2, avx512; an unknown or unavailable choice throws tmlp::error naming it and what this CPU
// offers), otherwise the best architecture the CPU supports. Thread-safe.
const kernel_table& active();

// What active() does with the value of TMLP_SIMD (nullptr or empty: the best available).
const kernel_table& select_table(const char* forced);

// The table of one architecture by name, or nullptr if this build or this CPU lacks it.
const kernel_table* find(std::string_view name) noexcept;

// Names of every architecture usable on this machine, scalar first, best last.
std::vector<std::string_view> available();

// The scalar reference table (always available).
const kernel_table& reference() noexcept;

// Where the CPU has AVX512-BF16, the avx512 table converts to bfloat16 with its instructions
// (bf16_native.cpp: the same bits in fewer instructions). This is the avx512 table with xsimd's
// integer rounding instead, for tests to compare with the reference too; nullptr elsewhere.
const kernel_table* avx512_xsimd_bf16() noexcept;

}  // namespace tmlp::kernels
