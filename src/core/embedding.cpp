#include "core/embedding.hpp"

#include <algorithm>
#include <memory>
#include <utility>

#include "core/network.hpp"
#include "core/pipeline.hpp"
#include "core/workspace.hpp"

namespace tmlp::core {

void embedding_forward(const embedding_layout& e, const float* params, std::size_t rows,
                       const float* x, float* out) noexcept {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * e.n_inputs;
    float* o = out + r * e.width;
    for (std::size_t c : e.plain_columns) *o++ = xr[c];
    for (const embedding_table& t : e.tables) {
      const float* row = params + t.offset + t.row_of(xr[t.column]) * t.dim;
      o = std::copy(row, row + t.dim, o);
    }
  }
}

namespace {

class embedding_op final : public op {
 public:
  embedding_op(embedding_layout e, slot out) noexcept : e_(std::move(e)), out_(out) {}

  const float* forward(const pass& p, const float* in) const noexcept override {
    float* out = p.ws.floats(out_);
    embedding_forward(e_, p.params, p.rows, in, out);
    return out;
  }

  float* backward(const pass&, const float*, const float*, float* d) const noexcept override {
    return d;
  }

 private:
  embedding_layout e_;
  slot out_;
};

}  // namespace

void add_embedding(pipeline_builder& b) {
  const network& net = b.net();
  if (net.embeddings.empty()) return;
  const std::size_t width = net.layers[0].n_in;
  const slot out = b.plan().floats(width);
  b.set_first_d_in(b.plan().floats(width));
  b.add(std::make_unique<embedding_op>(
      embedding_layout{net.n_inputs, width, net.plain_columns, net.embeddings}, out));
}

}  // namespace tmlp::core
