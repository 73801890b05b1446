#include "core/activation.hpp"

#include <algorithm>
#include <memory>

#include "core/pipeline.hpp"
#include "core/workspace.hpp"

namespace tmlp::core {

namespace {
kernels::act_param param_of(const dense_layer& l, const float* params) noexcept {
  return {l.alpha, l.slope_offset == no_offset ? nullptr : params + l.slope_offset};
}
}  // namespace

void activation_forward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                        std::size_t rows, const float* in, float* a) noexcept {
  k.act_forward[static_cast<int>(l.act)](rows, l.n_out, in, param_of(l, params), a);
}

void activation_backward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                         std::size_t rows, const float* in, const float* a, float* d,
                         float* grads) noexcept {
  float* d_slope = nullptr;
  if (l.slope_offset != no_offset) {
    d_slope = grads + l.slope_offset;
    std::fill(d_slope, d_slope + l.n_out, 0.0f);
  }
  k.act_backward[static_cast<int>(l.act)](rows, l.n_out, in, a, d, param_of(l, params), d, d_slope);
}

namespace {

class activation_op final : public op {
 public:
  activation_op(const dense_layer& l, slot a) noexcept : l_(l), a_(a) {}

  const float* forward(const pass& p, const float* in) const noexcept override {
    float* a = p.ws.floats(a_);
    activation_forward(p.k, l_, p.params, p.rows, in, a);
    return a;
  }

  float* backward(const pass& p, const float* in, const float* out,
                  float* d) const noexcept override {
    activation_backward(p.k, l_, p.params, p.rows, in, out, d, p.grads);
    return d;
  }

 private:
  dense_layer l_;
  slot a_;
};

}  // namespace

void add_activation(pipeline_builder& b, const pipeline_builder::layer_context& c) {
  // The identity has nothing to do: the layer's output is its input.
  if (c.layer->act == kernels::act::identity) return;
  b.add(std::make_unique<activation_op>(*c.layer, b.plan().floats(c.layer->n_out)));
}

}  // namespace tmlp::core
