#include "core/dropout.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/pipeline.hpp"
#include "core/random.hpp"
#include "core/workspace.hpp"

namespace tmlp::core {

std::uint64_t dropout_key(std::uint64_t seed, std::uint64_t epoch) noexcept {
  return derive_key(seed, 0xd20d20d20ULL, epoch);
}

void dropout_forward(const dropout_context& ctx, std::size_t layer, float p, std::size_t rows,
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

void dropout_backward(std::size_t rows, std::size_t n, const float* mask, float* d) noexcept {
  for (std::size_t e = 0; e < rows * n; ++e) d[e] *= mask[e];
}

namespace {

class dropout_op final : public op {
 public:
  dropout_op(std::size_t layer, std::size_t n, float p, slot mask, slot out) noexcept
      : layer_(layer), n_(n), p_(p), mask_(mask), out_(out) {}

  // Without a dropout context (inference, validation) the outputs pass as they are.
  const float* forward(const pass& p, const float* in) const noexcept override {
    if (p.drop == nullptr) return in;
    float* out = p.ws.floats(out_);
    dropout_forward(*p.drop, layer_, p_, p.rows, n_, in, p.ws.floats(mask_), out);
    return out;
  }

  float* backward(const pass& p, const float*, const float*, float* d) const noexcept override {
    if (p.drop != nullptr) dropout_backward(p.rows, n_, p.ws.floats(mask_), d);
    return d;
  }

 private:
  std::size_t layer_, n_;
  float p_;
  slot mask_, out_;
};

}  // namespace

void add_dropout(pipeline_builder& b, const pipeline_builder::layer_context& c) {
  const dense_layer& l = *c.layer;
  if (l.dropout <= 0.0f) return;
  const slot mask = b.plan().floats(l.n_out), out = b.plan().floats(l.n_out);
  b.add(std::make_unique<dropout_op>(c.index, l.n_out, l.dropout, mask, out));
}

}  // namespace tmlp::core
