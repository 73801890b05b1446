#include "core/network.hpp"

#include <algorithm>

#include "core/assert.hpp"
#include "core/pipeline.hpp"

namespace tmlp::core {

workspace_plan& pipeline_builder::plan() noexcept { return net_.plan; }
std::size_t pipeline_builder::n_ops() const noexcept { return net_.ops.size(); }
void pipeline_builder::add(std::unique_ptr<op> o) { net_.ops.push_back(std::move(o)); }

pipeline_builder::layer_context pipeline_builder::begin_layer(std::size_t i) {
  if (d_[0] == no_slot) {  // dL/d(a layer's output), alternating between two buffers
    d_[0] = plan().floats(net_.max_width);
    d_[1] = plan().floats(net_.max_width);
  }
  const std::size_t n = net_.layers.size();
  // Layer i's output gradient is in d_[(n - 1 - i) % 2], so the loss writes d_[0]; its input
  // gradient goes to the other one.
  return {i, &net_.layers[i], n_ops(), i == 0 ? first_d_in_ : d_[(n - i) % 2]};
}

void network::build_pipeline() {
  ops.clear();
  plan = {};
  segment_end.clear();
  act_op.clear();
  frozen.clear();
  pipeline_builder b(*this);
  add_feature_scale(b);
  add_periodic_embedding(b);
  add_embedding(b);
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const pipeline_builder::layer_context c = b.begin_layer(i);
    add_linear(b, c);
    add_layer_norm(b, c);
    add_batch_norm(b, c);
    const std::size_t before = ops.size();
    add_activation(b, c);
    act_op.push_back(ops.size() > before ? before : no_op);
    add_dropout(b, c);
    add_residual(b, c);
  }
  loss_grad = b.output_grad();
  embedded_grad = b.first_d_in();
  for (std::size_t i = 0; i < ops.size(); ++i)
    if (ops[i]->is_barrier()) segment_end.push_back(i + 1);
  segment_end.push_back(ops.size());
  for (std::size_t l : bn_layers) {  // the running mean and variance
    const std::size_t lo = layers[l].bn_offset + 2 * layers[l].n_out;
    frozen.push_back({lo, lo + 2 * layers[l].n_out});
  }
}

namespace {

const float* run_forward(const pass& p, const network& net, std::size_t first, std::size_t last,
                         const float* in) noexcept {
  for (std::size_t i = first; i < last; ++i) {
    const float* out = net.ops[i]->forward(p, in);
    p.ws.record(i, in, out);
    in = out;
  }
  return in;
}

}  // namespace

const float* forward(const kernels::kernel_table& k, const network& net, const float* params,
                     std::size_t rows, const float* x, workspace& ws, const dropout_context* drop,
                     bool dot_products, const float* transposed) noexcept {
  ws.pass_rows = rows;
  pass p{k, params, rows, ws, drop};
  p.dot_products = dot_products;
  p.transposed = transposed;
  return run_forward(p, net, 0, net.ops.size(), x);
}

const float* forward_segment(const pass& p, const network& net, std::size_t segment,
                             const float* x) noexcept {
  TMLP_ASSERT(net.bn_layers.empty() || p.stats != nullptr);
  p.ws.pass_rows = p.rows;
  const std::size_t first = segment == 0 ? 0 : net.segment_end[segment - 1];
  p.ws.cursor =
      run_forward(p, net, first, net.segment_end[segment], segment == 0 ? x : p.ws.cursor);
  return p.ws.cursor;
}

void backward_segment(const pass& p, const network& net, std::size_t segment) noexcept {
  const std::size_t first = segment == 0 ? 0 : net.segment_end[segment - 1];
  float* d = segment + 1 == net.n_segments() ? p.ws.floats(net.loss_grad) : p.ws.d_cursor;
  for (std::size_t i = net.segment_end[segment]; i-- > first && d != nullptr;)
    d = net.ops[i]->backward(p, p.ws.op_in(i), p.ws.op_out(i), d);
  p.ws.d_cursor = d;
}

double loss_gradient(const network& net, std::size_t rows, const float* targets,
                     const float* weights, workspace& ws) noexcept {
  const float* y = ws.op_out(net.ops.size() - 1);
  return loss_forward_backward(net.loss, rows, net.n_outputs, y, targets, weights,
                               ws.floats(net.loss_grad));
}

}  // namespace tmlp::core
