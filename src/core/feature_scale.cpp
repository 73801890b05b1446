#include "core/feature_scale.hpp"

#include <algorithm>
#include <memory>
#include <utility>

#include "core/network.hpp"
#include "core/pipeline.hpp"
#include "core/workspace.hpp"

namespace tmlp::core {

void feature_scale_forward(const feature_scale_layout& f, const float* params, std::size_t rows,
                           const float* x, float* out) noexcept {
  const float* s = params + f.offset;
  const std::size_t n = f.columns.size();
  for (std::size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * f.n_inputs;
    float* o = out + r * f.n_inputs;
    std::copy(xr, xr + f.n_inputs, o);
    for (std::size_t j = 0; j < n; ++j) o[f.columns[j]] = s[j] * xr[f.columns[j]];
  }
}

void feature_scale_backward(const feature_scale_layout& f, std::size_t rows, const float* x,
                            const float* d_out, float* d_s) noexcept {
  for (std::size_t j = 0; j < f.columns.size(); ++j) {
    const std::size_t c = f.columns[j];
    double sum = 0.0;
    for (std::size_t r = 0; r < rows; ++r)
      sum += static_cast<double>(d_out[r * f.n_inputs + c]) * x[r * f.n_inputs + c];
    d_s[j] = static_cast<float>(sum);
  }
}

namespace {

class feature_scale_op final : public op {
 public:
  feature_scale_op(feature_scale_layout f, slot out) noexcept : f_(std::move(f)), out_(out) {}

  const float* forward(const pass& p, const float* in) const noexcept override {
    float* out = p.ws.floats(out_);
    feature_scale_forward(f_, p.params, p.rows, in, out);
    return out;
  }

  float* backward(const pass& p, const float* in, const float*, float* d) const noexcept override {
    feature_scale_backward(f_, p.rows, in, d, p.grads + f_.offset);
    return nullptr;
  }

 private:
  feature_scale_layout f_;
  slot out_;
};

}  // namespace

void add_feature_scale(pipeline_builder& b) {
  const network& net = b.net();
  if (net.scale_offset == no_offset) return;
  const slot out = b.plan().floats(net.n_inputs);
  // The first layer reads this output unless an embedding op comes after: then its gradient
  // goes here.
  if (net.embeddings.empty() && net.periodic.empty())
    b.set_first_d_in(b.plan().floats(net.n_inputs));
  b.add(std::make_unique<feature_scale_op>(
      feature_scale_layout{net.n_inputs, net.scale_offset, net.scaled_columns}, out));
}

}  // namespace tmlp::core
