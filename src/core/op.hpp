// The layer pipeline's building blocks: an op (one step of a layer: linear, norm, activation,
// dropout, residual, embedding lookup), the buffers it declares, and the pass it runs in.
//
// A network is a flat list of ops (core/network.hpp builds it from the layers). A forward pass
// hands each op the previous op's output and keeps what it returns; a backward pass walks the
// ops in reverse, handing each dL/d(its output) and keeping dL/d(its input). Ops hold no
// pointers: their buffers are slots of a workspace (one per shard), declared once through a
// workspace_plan, so one network serves any number of shards and copies of it share its ops.
//
// A barrier op (batch norm) marks where shards must meet: forward it computes this block's
// partial statistics, then merge_forward() combines every shard's, in shard order; backward,
// the op after it has left partial sums that merge_backward() combines before the barrier's
// backward runs. The gradient engine runs the segments between barriers in parallel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels.hpp"

namespace tmlp::core {

class workspace;
struct batch_stats;
class bf16_weights;
struct bf16_scratch;
struct kept_operands;

// A buffer of a workspace: rows x per_row floats (rows: the workspace's max_rows) plus fixed.
using slot = std::uint32_t;
inline constexpr slot no_slot = ~slot{0};

class workspace_plan {
 public:
  slot floats(std::size_t per_row, std::size_t fixed = 0);
  slot doubles(std::size_t n);  // n doubles, whatever the rows

 private:
  friend class workspace;
  struct entry {
    std::size_t per_row = 0, fixed = 0;
    bool is_double = false;
  };
  std::vector<entry> entries_;
};

// Dropout while training: the masks of a block of rows. key: the step's stream (from the seed
// and the epoch, see dropout_key); rows: each row's index in the training data, so a row's mask
// is the same however batches are cut into shards or shards spread over threads.
struct dropout_context {
  std::uint64_t key = 0;
  const std::uint32_t* rows = nullptr;
};

// What every op of one pass over a block of rows sees.
struct pass {
  const kernels::kernel_table& k;
  const float* params;  // the network's flat parameter vector
  std::size_t rows;     // rows in this block, at most ws.max_rows()
  workspace& ws;
  // Training: dropout masks (nullptr: nothing is dropped) and the batch's statistics for batch
  // norm (nullptr: inference, which uses the running statistics).
  const dropout_context* drop = nullptr;
  const batch_stats* stats = nullptr;
  // Backward: this block's parameter gradient (n_params values). Ops write their parameters'
  // gradients, except the residual projections' weight matrices, which they add: the caller
  // keeps those blocks zeroed between passes (the linear layers' products write theirs, with
  // beta 0, which libxsmm's kernels do without reading or zeroing them first).
  float* grads = nullptr;
  // Inference on one chunk (model::predict): the large weight matrices (core::dot_product_matrix)
  // split a linear layer's outputs into blocks run as tasks, up to core::dot_rows_max rows by
  // dot products of rows on W as stored (kernel_table::add_xwt; core::linear_forward says
  // which product runs when); the others multiply as without it.
  bool dot_products = false;
  // The weight matrices (linear layers' W, residual projections) transposed, each at its
  // dense_layer::t_offset or t_proj_offset (n_transposed values), made once per step or predict
  // call and shared by every block: set when the GEMM backend multiplies X·Wᵀ faster that way
  // (blas::wants_transposed_weights), nullptr otherwise. See transpose_weights (core/network.hpp).
  const float* transposed = nullptr;
  // Training, on the same backends: the weight matrices whose rows would share cache sets, with
  // rows padded (core::pad_weights, dense_layer::pad_offset), for the input-gradient products;
  // nullptr: they read W in params (or bf16_params).
  const float* padded = nullptr;
  // And this block's room for the weight gradients' operands with padded rows (rows x
  // padded_rows_room of any linear layer), or nullptr: they read the activations in place.
  float* pad_scratch = nullptr;
  // --precision bf16 (training): the products read their weights from this copy of the dense
  // parameters, whose weight matrices are rounded to bfloat16 (round_weights_bf16; transposed
  // is then made from it), and round their other operand to bfloat16 first: a layer's input
  // into bf16_x, a gradient that must be kept into bf16_d (rows x the widest layer each).
  // nullptr: fp32 products on params.
  const float* bf16_params = nullptr;
  float* bf16_x = nullptr;
  float* bf16_d = nullptr;
  // And where bf16 kernels run (blas::bf16_kernels): the linear layers' weights as they read
  // them, made once per step, and this block's room for the other operands
  // (core/bf16_operands.hpp). A product they have no kernel for, and the residual projections,
  // run on the roundings above.
  const bf16_weights* bf16_w = nullptr;
  bf16_scratch* bf16_s = nullptr;
  // Training: the linear layers' weight-gradient operands kept for the gradient engine
  // (core/linear.hpp, kept_operands), indexed by layer; nullptr: every layer multiplies its own.
  kept_operands* kept = nullptr;
  const float* product_weights() const noexcept {
    return bf16_params != nullptr ? bf16_params : params;
  }
};

class op {
 public:
  virtual ~op() = default;
  // in: rows x (input width). Returns the output, rows x (output width): a buffer of p.ws, or
  // in itself for an op that has nothing to do in this pass.
  virtual const float* forward(const pass& p, const float* in) const noexcept = 0;
  // d: dL/d(output), rows x (output width), which the op may overwrite. in, out: what forward
  // read and returned. Returns dL/d(input): d itself (in place), a buffer of p.ws, or nullptr
  // when no one needs it (the first layer without embeddings).
  virtual float* backward(const pass& p, const float* in, const float* out,
                          float* d) const noexcept = 0;

  virtual bool is_barrier() const noexcept { return false; }
  // Barriers only: combine every shard's partials into stats, shards in order 0, 1, ...
  virtual void merge_forward(std::span<workspace* const>, batch_stats&) const noexcept {}
  virtual void merge_backward(std::span<workspace* const>, batch_stats&) const noexcept {}
  // Barriers only: the partials of ws that merge_forward and merge_backward read (those of the
  // last pass over it), for a merge whose shards are on several processes.
  virtual std::span<double> partials(workspace&) const noexcept { return {}; }
};

}  // namespace tmlp::core
