// Parameter initialization from counter-based random streams keyed by (seed, layer).
#include <algorithm>
#include <cmath>

#include "core/network.hpp"
#include "core/random.hpp"

namespace tmlp::core {
namespace {

init_kind resolve(init_kind kind, activation act) noexcept {
  if (kind != init_kind::automatic) return kind;
  switch (act) {
    case activation::relu:
    case activation::leaky_relu:
    case activation::prelu:
    case activation::elu:
    case activation::gelu:
    case activation::gelu_tanh:
      return init_kind::he_uniform;
    case activation::selu:
      return init_kind::lecun_normal;
    default:
      return init_kind::xavier_uniform;
  }
}

}  // namespace

void init_params(const network& net, const model_spec& spec, float* params) {
  for (std::size_t i = 0; i < net.layers.size(); ++i) {
    const dense_layer& l = net.layers[i];
    const auto fan_in = static_cast<double>(l.n_in);
    const auto fan_out = static_cast<double>(l.n_out);
    const init_kind kind = resolve(spec.layers[i].init, spec.layers[i].act);
    const std::uint64_t key = derive_key(spec.seed, i, 0x1417);
    const bool uniform = kind == init_kind::xavier_uniform || kind == init_kind::he_uniform ||
                         kind == init_kind::lecun_uniform;
    double scale = 0.0;  // half-width for uniform, standard deviation for normal
    switch (kind) {
      case init_kind::xavier_uniform:
        scale = std::sqrt(6.0 / (fan_in + fan_out));
        break;
      case init_kind::xavier_normal:
        scale = std::sqrt(2.0 / (fan_in + fan_out));
        break;
      case init_kind::he_uniform:
        scale = std::sqrt(6.0 / fan_in);
        break;
      case init_kind::he_normal:
        scale = std::sqrt(2.0 / fan_in);
        break;
      case init_kind::lecun_normal:
        scale = std::sqrt(1.0 / fan_in);
        break;
      case init_kind::lecun_uniform:
        scale = std::sqrt(3.0 / fan_in);
        break;
      case init_kind::automatic:
        break;
    }
    float* w = params + l.w_offset;
    const std::size_t n_w = l.n_in * l.n_out;
    for (std::size_t j = 0; j < n_w; ++j) {
      const double u = uniform ? 2.0 * uniform01(key, j) - 1.0 : normal(key, j);
      w[j] = static_cast<float>(scale * u);
    }
    std::fill(params + l.b_offset, params + l.b_offset + l.n_out, 0.0f);
    if (l.slope_offset != no_offset)
      std::fill(params + l.slope_offset, params + l.slope_offset + l.n_out, l.alpha);
    if (l.proj_offset != no_offset) {  // the skip's projection: xavier uniform, its own stream
      const std::uint64_t pkey = derive_key(spec.seed, i, 0x5c1b);
      const double a = std::sqrt(6.0 / (fan_in + fan_out));
      for (std::size_t j = 0; j < n_w; ++j)
        params[l.proj_offset + j] = static_cast<float>(a * (2.0 * uniform01(pkey, j) - 1.0));
    }
    if (l.norm_offset != no_offset) {  // gain 1, shift 0
      std::fill(params + l.norm_offset, params + l.norm_offset + l.n_out, 1.0f);
      std::fill(params + l.norm_offset + l.n_out, params + l.norm_offset + 2 * l.n_out, 0.0f);
    }
    if (l.bn_offset != no_offset) {  // gain 1, shift 0, running mean 0, running variance 1
      float* bn = params + l.bn_offset;
      std::fill(bn, bn + l.n_out, 1.0f);
      std::fill(bn + l.n_out, bn + 3 * l.n_out, 0.0f);
      std::fill(bn + 3 * l.n_out, bn + 4 * l.n_out, 1.0f);
    }
  }
  if (net.scale_offset != no_offset)
    std::fill(params + net.scale_offset, params + net.scale_offset + net.scaled_columns.size(),
              1.0f);
  for (std::size_t e = 0; e < net.periodic.size(); ++e) {  // streams per embedded column
    const periodic_table& t = net.periodic[e];
    const double sigma = spec.periodic_embeddings[e].sigma;
    const std::uint64_t ckey = derive_key(spec.seed, e, 0xf4e9),
                        wkey = derive_key(spec.seed, e, 0x91a);
    for (std::size_t m = 0; m < t.n_frequencies; ++m)
      params[t.offset + m] = static_cast<float>(sigma * normal(ckey, m));
    const double a = 1.0 / std::sqrt(2.0 * static_cast<double>(t.n_frequencies));
    const std::size_t n_wb = (2 * t.n_frequencies + 1) * t.dim;  // W, then b
    for (std::size_t j = 0; j < n_wb; ++j)
      params[t.w_offset() + j] = static_cast<float>(a * (2.0 * uniform01(wkey, j) - 1.0));
  }
  for (std::size_t e = 0; e < net.embeddings.size(); ++e) {  // N(0, 1), a stream per table
    const embedding_table& t = net.embeddings[e];
    const std::uint64_t key = derive_key(spec.seed, e, 0xe3bed);
    for (std::size_t j = 0; j < t.cardinality * t.dim; ++j)
      params[t.offset + j] = static_cast<float>(normal(key, j));
  }
}

}  // namespace tmlp::core
