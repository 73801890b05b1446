#include "core/network.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "blas.hpp"
#include "core/random.hpp"

namespace tmlp::core {

workspace::workspace(const network& net, std::size_t max_rows) : max_rows_(max_rows) {
  std::size_t n = 0;
  for (const dense_layer& l : net.layers) {
    z_off_.push_back(n);
    n += max_rows * l.n_out;
    if (l.act == kernels::act::identity && l.norm_offset == no_offset) {
      a_off_.push_back(z_off_.back());  // A = Z: one buffer
    } else {
      a_off_.push_back(n);
      n += max_rows * l.n_out;
    }
  }
  for (const dense_layer& l : net.layers) {
    m_off_.push_back(n);
    drop_len_.push_back(l.dropout > 0.0f ? max_rows * l.n_out : 0);
    n += 2 * drop_len_.back();
  }
  for (const dense_layer& l : net.layers) {  // residual sums
    s_off_.push_back(l.residual ? n : none);
    if (l.residual) n += max_rows * l.n_out;
  }
  for (const dense_layer& l : net.layers) {  // layer norm: x_hat, out, then rstd
    n_off_.push_back(n);
    if (l.norm_offset != no_offset) n += 2 * max_rows * l.n_out + max_rows;
  }
  d_off_[0] = n;
  d_off_[1] = n + max_rows * net.max_width;
  buf_.assign(n + 2 * max_rows * net.max_width, 0.0f);
  for (std::size_t i = 0; i < net.layers.size(); ++i) {
    norm_buffers nb;
    if (net.layers[i].norm_offset != no_offset) {
      float* base = buf_.data() + n_off_[i];
      const std::size_t len = max_rows * net.layers[i].n_out;
      nb = {base, base + 2 * len, base + len};
    }
    norm_.push_back(nb);
  }
}

std::uint64_t dropout_key(std::uint64_t seed, std::uint64_t epoch) noexcept {
  return derive_key(seed, 0xd20d20d20ULL, epoch);
}

namespace {

// Masks rows x n outputs a of layer `layer` with drop probability p: mask = 0 or 1 / (1 - p'),
// where p' is p rounded to a multiple of 2^-16 (each decision takes 16 random bits, four per
// 64-bit draw), so the expected output is a exactly.
void drop_outputs(const dropout_context& ctx, std::size_t layer, float p, std::size_t rows,
                  std::size_t n, const float* a, float* mask, float* out) noexcept {
  const auto threshold = static_cast<std::uint32_t>(std::lround(static_cast<double>(p) * 65536.0));
  const float keep_scale =
      threshold >= 65536 ? 0.0f : static_cast<float>(65536.0 / (65536.0 - threshold));
  const std::uint64_t key = derive_key(ctx.key, layer);
  const std::size_t draws_per_row = (n + 3) / 4;
  for (std::size_t r = 0; r < rows; ++r) {
    const std::uint64_t base = static_cast<std::uint64_t>(ctx.rows[r]) * draws_per_row;
    float* m = mask + r * n;
    for (std::size_t j = 0; j < n; j += 4) {
      std::uint64_t b = bits(key, base + j / 4);
      for (std::size_t q = j; q < std::min(j + 4, n); ++q, b >>= 16)
        m[q] = (b & 0xffff) >= threshold ? keep_scale : 0.0f;
    }
    const float* ar = a + r * n;
    float* o = out + r * n;
    for (std::size_t q = 0; q < n; ++q) o[q] = ar[q] * m[q];
  }
}

// Residual: sum = branch + skip, the skip being x itself or x·Pᵀ. x: rows x n_in.
void add_skip(const dense_layer& l, const float* params, std::size_t rows, const float* x,
              const float* branch, float* sum) noexcept {
  const std::size_t n = rows * l.n_out;
  if (l.proj_offset == no_offset) {
    for (std::size_t e = 0; e < n; ++e) sum[e] = branch[e] + x[e];
    return;
  }
  std::copy(branch, branch + n, sum);
  blas::sgemm(false, true, rows, l.n_out, l.n_in, 1.0f, x, l.n_in, params + l.proj_offset, l.n_in,
              1.0f, sum, l.n_out);
}

// The skip's share of the backward pass, before d (dL/dsum) is changed: dP = dᵀ·x, and d_x (if
// any) set to d or d·P, which the branch's backward then adds to.
void skip_backward(const dense_layer& l, const float* params, std::size_t rows, const float* x,
                   const float* d, float* grads, float* d_x) noexcept {
  if (l.proj_offset != no_offset) {
    blas::sgemm(true, false, l.n_out, l.n_in, rows, 1.0f, d, l.n_out, x, l.n_in, 0.0f,
                grads + l.proj_offset, l.n_in);
    if (d_x != nullptr)
      blas::sgemm(false, false, rows, l.n_in, l.n_out, 1.0f, d, l.n_out, params + l.proj_offset,
                  l.n_in, 0.0f, d_x, l.n_in);
  } else if (d_x != nullptr) {
    std::copy(d, d + rows * l.n_out, d_x);
  }
}

}  // namespace

const float* forward(const kernels::kernel_table& k, const network& net, const float* params,
                     std::size_t rows, const float* x, workspace& ws,
                     const dropout_context* drop) noexcept {
  ws.set_dropping(drop != nullptr && net.has_dropout);
  const float* in = x;
  for (std::size_t i = 0; i < net.layers.size(); ++i) {
    const dense_layer& l = net.layers[i];
    dense_forward(k, l, params, rows, in, ws.z(i), ws.a(i), ws.norm(i));
    if (ws.dropping() && l.dropout > 0.0f)
      drop_outputs(*drop, i, l.dropout, rows, l.n_out, ws.a(i), ws.mask(i), ws.dropped(i));
    if (l.residual) add_skip(l, params, rows, in, ws.branch(i), ws.sum(i));
    in = ws.output(i);
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
    const dense_layer& l = net.layers[i];
    const float* in = i == 0 ? x : ws.output(i - 1);
    float* d_in = i == 0 ? nullptr : ws.grad_a(n_layers - i);
    if (l.residual) skip_backward(l, params, rows, in, d, grads, d_in);
    if (ws.dropping() && l.dropout > 0.0f) {  // d: dL/d(masked output) -> dL/dA
      const float* m = ws.mask(i);
      for (std::size_t e = 0; e < rows * l.n_out; ++e) d[e] *= m[e];
    }
    dense_backward(k, l, params, rows, in, ws.z(i), ws.a(i), d, grads, d_in, ws.norm(i),
                   l.residual);
    d = d_in;
  }
}

double forward_backward(const kernels::kernel_table& k, const network& net, const float* params,
                        std::size_t rows, const float* x, const float* targets,
                        const float* weights, workspace& ws, float* grads,
                        const dropout_context* drop) noexcept {
  forward(k, net, params, rows, x, ws, drop);
  const double loss = loss_gradient(net, rows, targets, weights, ws);
  backward(k, net, params, rows, x, ws, grads);
  return loss;
}

}  // namespace tmlp::core
