#include "core/residual.hpp"

#include <algorithm>
#include <memory>

#include "blas/blas.hpp"
#include "core/linear.hpp"
#include "core/pipeline.hpp"
#include "core/workspace.hpp"

namespace tmlp::core {

void residual_forward(const dense_layer& l, const float* params, std::size_t rows, const float* x,
                      const float* branch, float* sum, const float* transposed,
                      const kernels::kernel_table* dots) noexcept {
  const std::size_t n = rows * l.n_out;
  if (l.proj_offset == no_offset) {
    for (std::size_t e = 0; e < n; ++e) sum[e] = branch[e] + x[e];
    return;
  }
  std::copy(branch, branch + n, sum);
  if (dots != nullptr && rows > 1 && rows <= dot_rows_max && dot_product_matrix(l.n_out, l.n_in)) {
    dots->add_xwt(rows, l.n_out, l.n_in, x, l.n_in, params + l.proj_offset, l.n_in, sum, l.n_out);
    return;
  }
  if (transposed != nullptr) {  // Pᵀ: n_in x n_out, rows t_ld apart
    blas::sgemm(false, false, rows, l.n_out, l.n_in, 1.0f, x, l.n_in, transposed + l.t_proj_offset,
                l.t_ld, 1.0f, sum, l.n_out);
    return;
  }
  blas::sgemm(false, true, rows, l.n_out, l.n_in, 1.0f, x, l.n_in, params + l.proj_offset, l.n_in,
              1.0f, sum, l.n_out);
}

void residual_backward(const dense_layer& l, const float* params, std::size_t rows, const float* x,
                       const float* d, float* grads, float* d_x) noexcept {
  if (l.proj_offset != no_offset) {
    blas::sgemm(true, false, l.n_out, l.n_in, rows, 1.0f, d, l.n_out, x, l.n_in, 1.0f,
                grads + l.proj_offset, l.n_in);
    if (d_x != nullptr)
      blas::sgemm(false, false, rows, l.n_in, l.n_out, 1.0f, d, l.n_out, params + l.proj_offset,
                  l.n_in, 0.0f, d_x, l.n_in);
  } else if (d_x != nullptr) {
    std::copy(d, d + rows * l.n_out, d_x);
  }
}

namespace {

class residual_op final : public op {
 public:
  residual_op(const dense_layer& l, std::size_t first_op, slot sum, slot d_x) noexcept
      : l_(l), first_op_(first_op), sum_(sum), d_x_(d_x) {}

  // in: the branch (the layer's activation, after dropout); the skip reads the layer's input.
  const float* forward(const pass& p, const float* in) const noexcept override {
    float* sum = p.ws.floats(sum_);
    residual_forward(l_, p.product_weights(), p.rows,
                     rounded(p, p.ws.op_in(first_op_), l_.n_in, p.bf16_x), in, sum, p.transposed,
                     p.dot_products ? &p.k : nullptr);
    return sum;
  }

  // d is also the branch's gradient: bf16 rounds a copy.
  float* backward(const pass& p, const float*, const float*, float* d) const noexcept override {
    residual_backward(
        l_, p.product_weights(), p.rows, rounded(p, p.ws.op_in(first_op_), l_.n_in, p.bf16_x),
        rounded(p, d, l_.n_out, p.bf16_d), p.grads, d_x_ == no_slot ? nullptr : p.ws.floats(d_x_));
    return d;
  }

 private:
  dense_layer l_;
  std::size_t first_op_;
  slot sum_, d_x_;

  // An operand of the projection's products (rows x width) as they read it: bf16 rounds it into
  // to. A skip without projection has no products: it adds the values as they are.
  const float* rounded(const pass& p, const float* v, std::size_t width, float* to) const noexcept {
    if (p.bf16_params == nullptr || l_.proj_offset == no_offset) return v;
    p.k.round_bf16(p.rows * width, v, to);
    return to;
  }
};

}  // namespace

void add_residual(pipeline_builder& b, const pipeline_builder::layer_context& c) {
  if (!c.layer->residual) return;
  b.add(
      std::make_unique<residual_op>(*c.layer, c.first_op, b.plan().floats(c.layer->n_out), c.d_in));
}

}  // namespace tmlp::core
