// Building a network's ops: network.cpp's builder calls one add_<op>() per op kind for each
// layer, in order; each looks at the layer, and if the layer has that part, declares the
// buffers it needs and appends its op. Adding a layer kind is one new file with its
// add_<op>() plus one line in the builder (and its declaration below).
#pragma once

#include <cstddef>
#include <memory>

#include "core/layer.hpp"
#include "core/op.hpp"

namespace tmlp::core {

struct network;

class pipeline_builder {
 public:
  explicit pipeline_builder(network& net) noexcept : net_(net) {}

  // The layer whose ops are being added.
  struct layer_context {
    std::size_t index = 0;     // layer index
    const dense_layer* layer;  // its layout
    std::size_t first_op = 0;  // its first op, whose input is the layer's input
    slot d_in = no_slot;       // where dL/d(the layer's input) goes; no_slot: not needed
  };

  workspace_plan& plan() noexcept;
  const network& net() const noexcept { return net_; }
  std::size_t n_ops() const noexcept;
  void add(std::unique_ptr<op> o);
  // The gradient of the first layer's input: needed with embeddings (their rows' share) and
  // with the ops in front of the first layer.
  void set_first_d_in(slot s) noexcept { first_d_in_ = s; }

  // For the builder: the context of layer i (its ops start at the next op); where the loss
  // writes dL/d(outputs); where dL/d(the first layer's input) goes.
  layer_context begin_layer(std::size_t i);
  slot output_grad() const noexcept { return d_[0]; }
  slot first_d_in() const noexcept { return first_d_in_; }

 private:
  network& net_;
  slot d_[2] = {no_slot, no_slot};  // two gradient buffers, alternating between layers
  slot first_d_in_ = no_slot;
};

// One per op kind, each in its own file (core/<op>.cpp). In front of the layers, in this
// order: feature scaling, periodic embeddings, embedding lookup (which builds the first
// layer's input from what the others left).
void add_feature_scale(pipeline_builder& b);
void add_periodic_embedding(pipeline_builder& b);
void add_embedding(pipeline_builder& b);
void add_linear(pipeline_builder& b, const pipeline_builder::layer_context& c);
void add_layer_norm(pipeline_builder& b, const pipeline_builder::layer_context& c);
void add_batch_norm(pipeline_builder& b, const pipeline_builder::layer_context& c);
void add_activation(pipeline_builder& b, const pipeline_builder::layer_context& c);
void add_dropout(pipeline_builder& b, const pipeline_builder::layer_context& c);
void add_residual(pipeline_builder& b, const pipeline_builder::layer_context& c);

}  // namespace tmlp::core
