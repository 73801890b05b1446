// A validated MLP: its layers' places in one flat parameter vector, and the layer pipeline
// built from them, a flat list of ops (core/op.hpp): per layer linear, then layer or batch
// norm, activation, dropout and residual where the layer has them, with the embedding lookup
// in front (after the feature scaling and the periodic embeddings). No threads here: the gradient
// engine runs the ops over each shard with its own workspace and gradient buffer, segment by
// segment between batch-norm barriers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/batch_norm.hpp"
#include "core/dropout.hpp"
#include "core/embedding.hpp"
#include "core/layer.hpp"
#include "core/loss.hpp"
#include "core/op.hpp"
#include "core/periodic_embedding.hpp"
#include "core/workspace.hpp"
#include "kernels.hpp"
#include "tmlp/model.hpp"

namespace tmlp::core {

struct network {
  std::size_t n_inputs = 0;
  std::size_t n_outputs = 0;
  std::size_t n_params = 0;   // length of the flat parameter (and gradient) vector
  std::size_t max_width = 0;  // widest layer input or output
  // Embeddings: the tables (after every layer's parameters, from n_dense_params on) and the
  // input columns that go to the first layer as they are.
  std::vector<embedding_table> embeddings;
  std::vector<std::size_t> plain_columns;
  std::size_t n_dense_params = 0;  // parameters before the tables (all of them without any)
  std::size_t n_transposed = 0;    // floats of the transposed weights (dense_layer::t_offset)
  std::size_t n_padded = 0;        // floats of the padded weights (dense_layer::pad_offset)
  // The ops in front of the first layer (after every layer's parameters, before the tables):
  // the feature scales, one per column of scaled_columns (every column but the embedding
  // indices), at scale_offset (no_offset: none); then the periodic embeddings.
  std::size_t scale_offset = no_offset;
  std::vector<std::size_t> scaled_columns;
  std::vector<periodic_table> periodic;
  std::vector<dense_layer> layers;
  loss_config loss;
  bool has_dropout = false;            // some layer drops outputs while training
  std::vector<std::size_t> bn_layers;  // layers with batch norm, in order
  std::size_t n_bn_units = 0;          // their units together

  // --- the pipeline (build_pipeline) ---
  // Immutable once built, so copies of a network share them.
  std::vector<std::shared_ptr<const op>> ops;
  workspace_plan plan;
  // Segment s is ops [segment_end[s - 1], segment_end[s]) (from 0 for s = 0): each but the
  // last ends with a barrier.
  std::vector<std::size_t> segment_end;
  slot loss_grad = no_slot;      // where the loss writes dL/d(outputs)
  slot embedded_grad = no_slot;  // with embeddings: dL/d(the first layer's input)
  static constexpr std::size_t no_op = static_cast<std::size_t>(-1);
  std::vector<std::size_t> act_op;  // per layer: its activation's op, or no_op (identity)
  // Parameters the optimizer must not move (batch-norm running statistics): [begin, end)
  // ranges in increasing order.
  struct param_range {
    std::size_t begin = 0, end = 0;
  };
  std::vector<param_range> frozen;

  // Validates the spec (throws tmlp::error) and lays out the parameters: for each layer in
  // order, W (n_out x n_in), then b (n_out), then the prelu slopes (n_out) if any, then the
  // layer norm's gain and shift (n_out each) if any, then the skip's projection if any, then
  // the batch norm's gain, shift, running mean and running variance (n_out each) if any; then
  // the feature scales, then each periodic embedding's c, W, b (core::periodic_table); then
  // the embedding tables. Then builds the pipeline.
  static network from_spec(const model_spec& spec);
  // (Re)builds ops, plan, segments and frozen ranges from the layers.
  void build_pipeline();
  std::size_t n_segments() const noexcept { return segment_end.size(); }
};

// Inference forward of rows <= ws.max_rows() rows of x (rows x n_inputs), batch norm with its
// running statistics. Returns the outputs (rows x n_outputs), which live in ws. With drop,
// layers with dropout mask their outputs (as in training). dot_products: see
// pass::dot_products; transposed: see pass::transposed.
const float* forward(const kernels::kernel_table& k, const network& net, const float* params,
                     std::size_t rows, const float* x, workspace& ws,
                     const dropout_context* drop = nullptr, bool dot_products = false,
                     const float* transposed = nullptr) noexcept;

// The weight matrices of params (each linear layer's W, each residual projection), transposed
// by k.transpose into out (n_transposed values) at their t_offset and t_proj_offset, rows t_ld
// apart, for pass::transposed. Strips of columns run in parallel in the caller's arena.
// only: nullptr, or one flag per layer: the layers to transpose (the others' copies are left
// as they were).
void transpose_weights(const kernels::kernel_table& k, const network& net, const float* params,
                       float* out, const char* only = nullptr) noexcept;

// The linear layers' weight matrices of params that have a padded copy (dense_layer::pad_offset)
// copied into out (n_padded values), rows pad_ld apart, for pass::padded. Blocks of rows run in
// parallel in the caller's arena.
void pad_weights(const network& net, const float* params, float* out) noexcept;

// pass::bf16_params: out (n_dense_params values) = params with each weight matrix (as above)
// rounded to bfloat16 by k.round_bf16. The matrices run in parallel in the caller's arena.
// only: nullptr, or one flag per layer: then just those layers' W, b and P are written.
void round_weights_bf16(const kernels::kernel_table& k, const network& net, const float* params,
                        float* out, const char* only = nullptr) noexcept;

// Training passes, segment by segment (p.stats set when the network has batch norm). The
// forward of segment s starts from x (s = 0) or where segment s - 1 stopped, and returns its
// output (the network's outputs after the last segment). The backward of segment s starts
// from d (the last segment: dL/d(outputs), in ws at net.loss_grad) or where segment s + 1
// stopped. Between segments, the caller merges the barrier's statistics over every shard
// (merge_forward after the forward of s, merge_backward before the backward of s).
const float* forward_segment(const pass& p, const network& net, std::size_t segment,
                             const float* x) noexcept;
void backward_segment(const pass& p, const network& net, std::size_t segment) noexcept;
// The barrier that ends segment s (s < n_segments() - 1).
inline const op& barrier_of(const network& net, std::size_t segment) noexcept {
  return *net.ops[net.segment_end[segment] - 1];
}

// After a forward pass: the loss of the outputs in ws and its gradient, written where the
// backward pass starts (net.loss_grad).
double loss_gradient(const network& net, std::size_t rows, const float* targets,
                     const float* weights, workspace& ws) noexcept;

// Fills params (n_params values) from spec.seed: weights by each layer's init rule, biases zero,
// prelu slopes at their initial alpha. A pure function of the spec: the same bits every time.
void init_params(const network& net, const model_spec& spec, float* params);

}  // namespace tmlp::core
