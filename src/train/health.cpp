// health_policy: per-layer gradient and weight norms, dead ReLU units, vanishing / exploding.
#include <algorithm>
#include <cmath>

#include "core/parallel.hpp"
#include "train/policies.hpp"

namespace tmlp::train {
namespace {

// The sample's chunks run as tasks: 16 of them for a full sample. The chunks are fixed, so the
// report is the same for any thread count.
constexpr std::size_t sample_rows = 1024, chunk_rows = 64;

// Gradient and weight norms per layer, with the vanishing and exploding flags. Each layer's
// sums are a task of the caller's arena, each summed in order.
std::vector<layer_health> layer_norms(const core::network& net, const float* params,
                                      const float* grad) {
  std::vector<layer_health> out(net.layers.size());
  core::parallel_for_index(net.layers.size(), [&](std::size_t i) {
    const core::dense_layer& l = net.layers[i];
    double g2 = 0.0, w2 = 0.0;
    for (std::size_t j = 0; j < l.n_in * l.n_out; ++j) {
      g2 += static_cast<double>(grad[l.w_offset + j]) * grad[l.w_offset + j];
      w2 += static_cast<double>(params[l.w_offset + j]) * params[l.w_offset + j];
    }
    out[i].grad_norm = std::sqrt(g2);
    out[i].weight_norm = std::sqrt(w2);
    out[i].vanishing = out[i].grad_norm < 1e-7 * out[i].weight_norm;
    out[i].exploding = !std::isfinite(out[i].grad_norm) ||
                       out[i].grad_norm > 1e3 * std::max(out[i].weight_norm, 1.0);
  });
  // Relative to the output layer: a layer whose gradient is 1e-4 times smaller, for its weights,
  // than the output layer's learns that much slower (the classic deep sigmoid net).
  const layer_health& last = out.back();
  const double last_ratio = last.grad_norm / std::max(last.weight_norm, 1e-30);
  for (layer_health& h : out)
    h.vanishing |= std::isfinite(last_ratio) &&
                   h.grad_norm / std::max(h.weight_norm, 1e-30) < 1e-4 * last_ratio;
  return out;
}

std::size_t n_units(const core::network& net) noexcept {
  std::size_t n = 0;
  for (const auto& l : net.layers) n += l.n_out;
  return n;
}

}  // namespace

health_policy::health_policy(const core::network& net, const fit_plan& plan)
    : net_(net),
      plan_(plan),
      sample_(plan.train_rows.begin(),
              plan.train_rows.begin() +
                  static_cast<std::ptrdiff_t>(std::min(sample_rows, plan.n_train))),
      forward_(net, chunk_rows) {}

void health_policy::inspect(const float* params, const float* grad) {
  layers_ = layer_norms(net_, params, grad);
}

void health_policy::report(tbb::task_arena& arena, const kernels::kernel_table& k,
                           const float* params, const float* transposed, epoch_report& rep) {
  if (layers_.empty()) return;
  // The fraction of each ReLU layer's units that output 0 for every row of the sample. Each
  // chunk marks the units it sees alive in its own row of alive_; a unit is dead if no row marks
  // it.
  bool any_relu = false;
  for (const auto& l : net_.layers) any_relu |= l.act == kernels::act::relu;
  if (any_relu && !sample_.empty()) {
    const std::size_t units = n_units(net_), n_chunks = forward_.chunks(sample_.size());
    alive_.assign(n_chunks * units, 0);
    forward_.run(
        arena, k, params, transposed, *plan_.x, sample_, [&](const chunked_forward::chunk& c) {
          std::uint8_t* unit = alive_.data() + c.index * units;
          for (std::size_t li = 0; li < net_.layers.size(); unit += net_.layers[li++].n_out) {
            if (net_.layers[li].act != kernels::act::relu) continue;
            const std::size_t w = net_.layers[li].n_out;
            const float* a = c.ws.op_out(net_.act_op[li]);
            for (std::size_t r = 0; r < c.rows; ++r)
              for (std::size_t j = 0; j < w; ++j)
                unit[j] |= static_cast<std::uint8_t>(a[r * w + j] > 0.0f);
          }
        });
    for (std::size_t c = 1; c < n_chunks; ++c)
      for (std::size_t j = 0; j < units; ++j) alive_[j] |= alive_[c * units + j];
    const std::uint8_t* unit = alive_.data();
    for (std::size_t li = 0; li < net_.layers.size(); unit += net_.layers[li++].n_out) {
      if (net_.layers[li].act != kernels::act::relu) continue;
      const std::size_t w = net_.layers[li].n_out;
      layers_[li].dead_fraction =
          static_cast<double>(std::count(unit, unit + w, std::uint8_t{0})) / static_cast<double>(w);
    }
  }
  rep.layers = std::move(layers_);
  layers_.clear();
  for (const auto& h : rep.layers) {
    rep.vanishing |= h.vanishing;
    rep.exploding |= h.exploding;
  }
}

}  // namespace tmlp::train
