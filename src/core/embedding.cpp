#include "core/embedding.hpp"

#include <algorithm>
#include <memory>
#include <utility>

#include "core/network.hpp"
#include "core/periodic_embedding.hpp"
#include "core/pipeline.hpp"
#include "core/workspace.hpp"

namespace tmlp::core {

void embedding_forward(const embedding_layout& e, const float* params, std::size_t rows,
                       const float* x, float* out) noexcept {
  const std::size_t in_width = e.n_inputs + e.n_appended;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * in_width;
    float* o = out + r * e.width;
    for (std::size_t c : e.plain_columns) *o++ = xr[c];
    for (const embedding_table& t : e.tables) {
      const float* row = params + t.offset + t.row_of(xr[t.column]) * t.dim;
      o = std::copy(row, row + t.dim, o);
    }
    std::copy(xr + e.n_inputs, xr + in_width, o);
  }
}

void embedding_backward(const embedding_layout& e, std::size_t rows, const float* d_out,
                        float* d_x) noexcept {
  const std::size_t in_width = e.n_inputs + e.n_appended;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* d = d_out + r * e.width;
    float* dx = d_x + r * in_width;
    std::fill(dx, dx + e.n_inputs, 0.0f);
    for (std::size_t c : e.plain_columns) dx[c] = *d++;
    std::copy(d_out + (r + 1) * e.width - e.n_appended, d_out + (r + 1) * e.width, dx + e.n_inputs);
  }
}

namespace {

class embedding_op final : public op {
 public:
  embedding_op(embedding_layout e, slot out, slot d_x) noexcept
      : e_(std::move(e)), out_(out), d_x_(d_x) {}

  const float* forward(const pass& p, const float* in) const noexcept override {
    float* out = p.ws.floats(out_);
    embedding_forward(e_, p.params, p.rows, in, out);
    return out;
  }

  // Without ops in front, d stays where it is for the engine's sparse table gradient.
  float* backward(const pass& p, const float*, const float*, float* d) const noexcept override {
    if (d_x_ == no_slot) return d;
    float* d_x = p.ws.floats(d_x_);
    embedding_backward(e_, p.rows, d, d_x);
    return d_x;
  }

 private:
  embedding_layout e_;
  slot out_, d_x_;
};

}  // namespace

void add_embedding(pipeline_builder& b) {
  const network& net = b.net();
  if (net.embeddings.empty() && net.periodic.empty()) return;
  const std::size_t width = net.layers[0].n_in;
  const slot out = b.plan().floats(width);
  b.set_first_d_in(b.plan().floats(width));
  // The periodic embeddings' values come appended to each input row.
  const std::size_t n_appended = periodic_layout{net.n_inputs, net.periodic}.n_values();
  // dL/dx for the ops in front, which have parameters.
  const bool ops_in_front = !net.periodic.empty() || net.scale_offset != no_offset;
  const slot d_x = ops_in_front ? b.plan().floats(net.n_inputs + n_appended) : no_slot;
  b.add(std::make_unique<embedding_op>(
      embedding_layout{net.n_inputs, width, net.plain_columns, net.embeddings, n_appended}, out,
      d_x));
}

}  // namespace tmlp::core
