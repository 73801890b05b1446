#include "core/network.hpp"

#include <utility>

namespace tmlp::core {

workspace::workspace(const network& net, std::size_t max_rows) : max_rows_(max_rows) {
  std::size_t n = 0;
  for (const dense_layer& l : net.layers) {
    z_off_.push_back(n);
    n += max_rows * l.n_out;
    if (l.act == kernels::act::identity) {
      a_off_.push_back(z_off_.back());  // A = Z: one buffer
    } else {
      a_off_.push_back(n);
      n += max_rows * l.n_out;
    }
  }
  d_off_[0] = n;
  d_off_[1] = n + max_rows * net.max_width;
  buf_.assign(n + 2 * max_rows * net.max_width, 0.0f);
}

const float* forward(const kernels::kernel_table& k, const network& net, const float* params,
                     std::size_t rows, const float* x, workspace& ws) noexcept {
  const float* in = x;
  for (std::size_t i = 0; i < net.layers.size(); ++i) {
    dense_forward(k, net.layers[i], params, rows, in, ws.z(i), ws.a(i));
    in = ws.a(i);
  }
  return in;
}

double loss_gradient(const network& net, std::size_t rows, const float* targets,
                     const float* weights, workspace& ws) noexcept {
  const float* y = ws.a(net.layers.size() - 1);
  return loss_forward_backward(net.loss, rows, net.n_outputs, y, targets, weights, ws.grad_a(0));
}

void backward(const kernels::kernel_table& k, const network& net, const float* params,
              std::size_t rows, const float* x, workspace& ws, float* grads) noexcept {
  const std::size_t n_layers = net.layers.size();
  float* d = ws.grad_a(0);
  for (std::size_t i = n_layers; i-- > 0;) {
    const float* in = i == 0 ? x : ws.a(i - 1);
    float* d_in = i == 0 ? nullptr : ws.grad_a(n_layers - i);
    dense_backward(k, net.layers[i], params, rows, in, ws.z(i), ws.a(i), d, grads, d_in);
    d = d_in;
  }
}

double forward_backward(const kernels::kernel_table& k, const network& net, const float* params,
                        std::size_t rows, const float* x, const float* targets,
                        const float* weights, workspace& ws, float* grads) noexcept {
  forward(k, net, params, rows, x, ws);
  const double loss = loss_gradient(net, rows, targets, weights, ws);
  backward(k, net, params, rows, x, ws, grads);
  return loss;
}

}  // namespace tmlp::core
