#include "core/periodic_embedding.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include "blas/blas.hpp"
#include "core/network.hpp"
#include "core/pipeline.hpp"
#include "core/workspace.hpp"

namespace tmlp::core {

std::size_t periodic_layout::n_values() const noexcept {
  std::size_t n = 0;
  for (const periodic_table& t : tables) n += t.dim;
  return n;
}

std::size_t periodic_layout::n_sincos() const noexcept {
  std::size_t n = 0;
  for (const periodic_table& t : tables) n += 2 * t.n_frequencies;
  return n;
}

void periodic_forward(const periodic_layout& e, const float* params, std::size_t rows,
                      const float* x, float* v, float* out) noexcept {
  const std::size_t width = e.width();
  for (std::size_t r = 0; r < rows; ++r)
    std::copy(x + r * e.n_inputs, x + (r + 1) * e.n_inputs, out + r * width);
  std::size_t v_off = 0, o_off = e.n_inputs;
  for (const periodic_table& t : e.tables) {
    const std::size_t k = t.n_frequencies, k2 = 2 * k;
    const float* c = params + t.offset;
    float* vt = v + v_off * rows;  // rows x 2k: sines, then cosines
    for (std::size_t r = 0; r < rows; ++r) {
      const float xv = x[r * e.n_inputs + t.column];
      float* vr = vt + r * k2;
      for (std::size_t m = 0; m < k; ++m) {
        const float z = (two_pi * c[m]) * xv;
        vr[m] = std::sin(z);
        vr[k + m] = std::cos(z);
      }
    }
    // H = b broadcast, then H += V·Wᵀ: (rows x 2k)·(2k x dim), into the output's block.
    const float* b = params + t.b_offset();
    float* h = out + o_off;
    for (std::size_t r = 0; r < rows; ++r) std::copy(b, b + t.dim, h + r * width);
    blas::sgemm(false, true, rows, t.dim, k2, 1.0f, vt, k2, params + t.w_offset(), k2, 1.0f, h,
                width);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t q = 0; q < t.dim; ++q) h[r * width + q] = std::max(h[r * width + q], 0.0f);
    v_off += k2;
    o_off += t.dim;
  }
}

void periodic_backward(const periodic_layout& e, const float* params, std::size_t rows,
                       const float* x, const float* v, const float* out, float* d_out, float* d_v,
                       float* grads, float* d_x) noexcept {
  const std::size_t width = e.width();
  if (d_x != nullptr)
    for (std::size_t r = 0; r < rows; ++r)
      std::copy(d_out + r * width, d_out + r * width + e.n_inputs, d_x + r * e.n_inputs);
  std::size_t v_off = 0, o_off = e.n_inputs;
  for (const periodic_table& t : e.tables) {
    const std::size_t k = t.n_frequencies, k2 = 2 * k;
    const float* c = params + t.offset;
    const float* vt = v + v_off * rows;
    float* g = d_out + o_off;  // dL/dH once the ReLU's mask is applied
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t q = 0; q < t.dim; ++q)
        if (!(out[r * width + o_off + q] > 0.0f)) g[r * width + q] = 0.0f;
    // dW = Gᵀ·V: (dim x rows)·(rows x 2k); db = column sums of G
    blas::sgemm(true, false, t.dim, k2, rows, 1.0f, g, width, vt, k2, 0.0f, grads + t.w_offset(),
                k2);
    for (std::size_t q = 0; q < t.dim; ++q) {
      double sum = 0.0;
      for (std::size_t r = 0; r < rows; ++r) sum += g[r * width + q];
      grads[t.b_offset() + q] = static_cast<float>(sum);
    }
    // dV = G·W: (rows x dim)·(dim x 2k); then dz = dV_sin cos z - dV_cos sin z
    blas::sgemm(false, false, rows, k2, t.dim, 1.0f, g, width, params + t.w_offset(), k2, 0.0f, d_v,
                k2);
    for (std::size_t r = 0; r < rows; ++r) {
      float* dr = d_v + r * k2;
      const float* vr = vt + r * k2;
      for (std::size_t m = 0; m < k; ++m) dr[m] = dr[m] * vr[k + m] - dr[k + m] * vr[m];
    }
    // dc = sum over rows of dz · 2 pi x; dx = sum over frequencies of dz · 2 pi c
    for (std::size_t m = 0; m < k; ++m) {
      double sum = 0.0;
      for (std::size_t r = 0; r < rows; ++r)
        sum += static_cast<double>(d_v[r * k2 + m]) * x[r * e.n_inputs + t.column];
      grads[t.offset + m] = static_cast<float>(sum * two_pi);
    }
    if (d_x != nullptr)
      for (std::size_t r = 0; r < rows; ++r) {
        float sum = 0.0f;
        for (std::size_t m = 0; m < k; ++m) sum += d_v[r * k2 + m] * (two_pi * c[m]);
        d_x[r * e.n_inputs + t.column] += sum;
      }
    v_off += k2;
    o_off += t.dim;
  }
}

namespace {

class periodic_op final : public op {
 public:
  periodic_op(periodic_layout e, slot v, slot out, slot d_v, slot d_x) noexcept
      : e_(std::move(e)), v_(v), out_(out), d_v_(d_v), d_x_(d_x) {}

  const float* forward(const pass& p, const float* in) const noexcept override {
    float* out = p.ws.floats(out_);
    periodic_forward(e_, p.params, p.rows, in, p.ws.floats(v_), out);
    return out;
  }

  float* backward(const pass& p, const float* in, const float* out,
                  float* d) const noexcept override {
    float* d_x = d_x_ == no_slot ? nullptr : p.ws.floats(d_x_);
    periodic_backward(e_, p.params, p.rows, in, p.ws.floats(v_), out, d, p.ws.floats(d_v_), p.grads,
                      d_x);
    return d_x;
  }

 private:
  periodic_layout e_;
  slot v_, out_, d_v_, d_x_;
};

}  // namespace

void add_periodic_embedding(pipeline_builder& b) {
  const network& net = b.net();
  if (net.periodic.empty()) return;
  periodic_layout e{net.n_inputs, net.periodic};
  std::size_t max_k2 = 0;
  for (const periodic_table& t : e.tables) max_k2 = std::max(max_k2, 2 * t.n_frequencies);
  workspace_plan& plan = b.plan();
  const slot v = plan.floats(e.n_sincos()), out = plan.floats(e.width()), d_v = plan.floats(max_k2);
  // dL/dx only for the feature scaling in front.
  const slot d_x = net.scale_offset == no_offset ? no_slot : plan.floats(net.n_inputs);
  b.add(std::make_unique<periodic_op>(std::move(e), v, out, d_v, d_x));
}

}  // namespace tmlp::core
