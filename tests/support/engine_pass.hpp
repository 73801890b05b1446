// One training pass through the real gradient engine, for tests that compare its gradient with
// the naive MLP or finite differences: rows 0..rows-1 of x cut into n_shards shards (1: one
// pass over all rows), dropout masks keyed by dropout_key and each row's index.
#pragma once

#include <cstdint>
#include <numeric>
#include <vector>

#include "core/network.hpp"
#include "train/gradient_engine.hpp"

namespace tmlp::test {

struct engine_pass_result {
  double loss = 0.0;  // sum_r w_r L_r
};

// Writes the gradient of sum_r w_r L_r (the engine's mean times rows) into grads (n_params
// values): the dense parameters, and the embedding rows the rows use (others are left as they
// were). targets and weights as in core/loss.hpp (weights may be nullptr).
inline engine_pass_result engine_pass(const core::network& net, const float* params,
                                      std::size_t rows, const float* x, const float* targets,
                                      const float* weights, std::vector<float>& grads,
                                      std::uint64_t dropout_key = 0, std::size_t n_shards = 1) {
  train::gradient_engine engine(net, rows, n_shards == 1 ? rows : 1, n_shards);
  std::vector<std::uint32_t> idx(rows);
  std::iota(idx.begin(), idx.end(), 0u);
  grads.resize(net.n_params);
  engine_pass_result r;
  r.loss = engine.compute(kernels::active(), params, matrix_view{x, rows, net.n_inputs}, targets,
                          weights, idx.data(), rows, grads.data(), dropout_key);
  const auto scale = static_cast<float>(rows);
  for (std::size_t i = 0; i < net.n_dense_params; ++i) grads[i] *= scale;
  for (const train::sparse_row& row : engine.sparse_rows())
    for (std::size_t q = 0; q < row.dim; ++q) grads[row.offset + q] *= scale;
  return r;
}

// The mask layer `layer` of net applies to rows 0..rows-1 under dropout_key (0 or 1 / (1 - p)
// per output), from the dropout kernel itself.
inline std::vector<float> dropout_mask(const core::network& net, std::size_t layer,
                                       std::size_t rows, std::uint64_t dropout_key) {
  const core::dense_layer& l = net.layers[layer];
  std::vector<std::uint32_t> ids(rows);
  std::iota(ids.begin(), ids.end(), 0u);
  std::vector<float> ones(rows * l.n_out, 1.0f), mask(rows * l.n_out), out(rows * l.n_out);
  core::dropout_forward({dropout_key, ids.data()}, layer, l.dropout, rows, l.n_out, ones.data(),
                        mask.data(), out.data());
  return mask;
}

}  // namespace tmlp::test
