// A validated MLP: layer offsets into one flat parameter vector, plus forward and backward over
// a block of rows with a preallocated workspace. No threads here: the trainer runs one of these
// per shard, each with its own workspace and gradient buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/dense.hpp"
#include "core/loss.hpp"
#include "kernels.hpp"
#include "tmlp/model.hpp"

namespace tmlp::core {

// An embedding table: rows of dim values at offset in the parameter vector.
struct embedding_table {
  std::size_t column = 0, cardinality = 0, dim = 0, offset = 0;
  // The table row an input value selects (model.hpp: out of range or NaN -> the last row).
  std::size_t row_of(float v) const noexcept {
    return v >= 0.0f && v < static_cast<float>(cardinality) ? static_cast<std::size_t>(v)
                                                            : cardinality - 1;
  }
};

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
  std::vector<dense_layer> layers;
  loss_config loss;
  bool has_dropout = false;            // some layer drops outputs while training
  std::vector<std::size_t> bn_layers;  // layers with batch norm, in order
  std::size_t n_bn_units = 0;          // their units together

  // Validates the spec (throws tmlp::error) and lays out the parameters: for each layer in
  // order, W (n_out x n_in), then b (n_out), then the prelu slopes (n_out) if any, then the
  // layer norm's gain and shift (n_out each) if any, then the skip's projection if any, then
  // the batch norm's gain, shift, running mean and running variance (n_out each) if any.
  static network from_spec(const model_spec& spec);
};

// Batch norm while training normalizes with statistics over the whole batch, which no shard
// holds alone. A training pass over a network with batch-norm layers therefore runs in
// stages, n_stages(net) = (number of batch-norm layers) + 1:
//   forward_stage(s), s < n - 1, ends at the s-th batch-norm layer with Z and the shard's
//   moments of it; combine_moments() merges every shard's, in shard order, into the batch's,
//   which forward_stage(s + 1) reads. The last forward stage ends at the outputs.
//   backward_stage(s), s > 0, ends at batch-norm layer s - 1 with dL/d(its output before the
//   activation) and the shard's sums over it; combine_grad_sums() merges them, and
//   backward_stage(s - 1) goes on. backward_stage(0) ends at the inputs.
// Every merge adds shards in order 0, 1, ..., so the result does not depend on the threads.
struct batch_stats {
  explicit batch_stats(const network& net)
      : mean(net.n_bn_units),
        rstd(net.n_bn_units),
        mean_d(net.n_bn_units),
        mean_dx(net.n_bn_units),
        mean64(net.n_bn_units),
        var(net.n_bn_units) {}
  // Per batch-norm unit (layer l's units at l.bn_stat): the batch's mean and 1 / sqrt(var +
  // eps) of Z; then the batch means of dL/d(out) and dL/d(out) * x_hat.
  std::vector<float> mean, rstd, mean_d, mean_dx;
  std::vector<double> mean64, var;  // the batch's mean and biased variance, in double
  std::size_t rows = 0;             // rows in the batch
};

// Dropout while training: the masks of a block of rows. key: the step's stream (from the seed
// and the epoch, see dropout_key); rows: each row's index in the training data, so a row's mask
// is the same however batches are cut into shards or shards spread over threads.
struct dropout_context {
  std::uint64_t key = 0;
  const std::uint32_t* rows = nullptr;
};

// The stream of an epoch's dropout masks.
std::uint64_t dropout_key(std::uint64_t seed, std::uint64_t epoch) noexcept;

// Buffers for one forward and backward of up to max_rows rows; sized once, reused every step.
class workspace {
 public:
  workspace(const network& net, std::size_t max_rows);
  std::size_t max_rows() const noexcept { return max_rows_; }

  float* z(std::size_t layer) noexcept { return buf_.data() + z_off_[layer]; }
  float* a(std::size_t layer) noexcept { return buf_.data() + a_off_[layer]; }
  float* grad_a(std::size_t i) noexcept { return buf_.data() + d_off_[i & 1]; }
  // Layers with dropout: the mask (0 or 1 / (1 - p) per output) and the masked outputs that
  // the next layer reads, from the last forward() with a dropout_context.
  float* mask(std::size_t layer) noexcept { return buf_.data() + m_off_[layer]; }
  float* dropped(std::size_t layer) noexcept {
    return buf_.data() + m_off_[layer] + drop_len_[layer];
  }
  // Residual layers: their output, the activation (after dropout) plus the skip.
  float* sum(std::size_t layer) noexcept { return buf_.data() + s_off_[layer]; }
  // What layer `layer` passed on in the last forward(): the residual sum, else its masked
  // outputs if it dropped any, else its activations.
  const float* output(std::size_t layer) noexcept {
    if (s_off_[layer] != none) return sum(layer);
    return dropping_ && drop_len_[layer] > 0 ? dropped(layer) : a(layer);
  }
  // Before the residual sum: the masked outputs or the activations.
  const float* branch(std::size_t layer) noexcept {
    return dropping_ && drop_len_[layer] > 0 ? dropped(layer) : a(layer);
  }
  // Layers with layer norm: what the backward pass needs (nullptr for other layers).
  const norm_buffers* norm(std::size_t layer) const noexcept {
    return norm_[layer].x_hat ? &norm_[layer] : nullptr;
  }
  bool dropping() const noexcept { return dropping_; }
  void set_dropping(bool on) noexcept { dropping_ = on; }
  // Batch-norm layers: this block's moments of Z or sums over dL/d(out) (2 x n_out doubles),
  // from the stage that ended at the layer; and the rows of the last forward_stage.
  double* bn_partial(std::size_t layer) noexcept { return partial_.data() + p_off_[layer]; }
  const double* bn_partial(std::size_t layer) const noexcept {
    return partial_.data() + p_off_[layer];
  }
  std::size_t pass_rows() const noexcept { return pass_rows_; }
  void set_pass_rows(std::size_t rows) noexcept { pass_rows_ = rows; }
  // Networks with embeddings: the first layer's input (plain columns, then the embedding rows)
  // and, after a backward pass, its gradient dL/d(that input); nullptr without embeddings.
  float* embedded() noexcept { return e_off_ == none ? nullptr : buf_.data() + e_off_; }
  float* d_embedded() noexcept {
    return e_off_ == none ? nullptr : buf_.data() + e_off_ + max_rows_ * e_width_;
  }
  // Set by a caller whose gradient buffer holds zeros at every weight and projection block
  // when backward starts (the gradient engine zeroes its shard buffers as it reduces them):
  // the weight-gradient GEMMs then add to the buffer, which spares OpenBLAS a zeroing pass.
  bool weight_grads_zeroed() const noexcept { return weight_grads_zeroed_; }
  void set_weight_grads_zeroed(bool on) noexcept { weight_grads_zeroed_ = on; }

 private:
  std::size_t max_rows_;
  std::vector<float> buf_;
  static constexpr std::size_t none = static_cast<std::size_t>(-1);
  std::vector<std::size_t> z_off_, a_off_, m_off_, drop_len_, n_off_, s_off_;
  std::vector<norm_buffers> norm_;
  std::vector<double> partial_;
  std::vector<std::size_t> p_off_;
  std::size_t d_off_[2] = {0, 0};
  std::size_t e_off_ = none, e_width_ = 0;
  std::size_t pass_rows_ = 0;
  bool dropping_ = false;
  bool weight_grads_zeroed_ = false;
};

// Forward of rows <= ws.max_rows() rows of x (rows x n_inputs). Returns the last layer's
// outputs (rows x n_outputs), which live in ws. With drop (training), layers with dropout mask
// their outputs; without it (inference, validation) nothing is dropped. Batch-norm layers use
// their running statistics here (inference); training uses forward_stage.
const float* forward(const kernels::kernel_table& k, const network& net, const float* params,
                     std::size_t rows, const float* x, workspace& ws,
                     const dropout_context* drop = nullptr) noexcept;

// The three parts of forward_backward, for callers that time them apart:
// loss_gradient: after forward(), the loss of the outputs in ws and its gradient (kept in ws);
// backward: from that gradient, writes the parameter gradient into grads (n_params values; 0
// for the running statistics) except the embedding tables' (see embedding_backward); the
// weight gradients are added instead if ws.weight_grads_zeroed(). Networks without batch norm
// only (else backward_stage).
double loss_gradient(const network& net, std::size_t rows, const float* targets,
                     const float* weights, workspace& ws) noexcept;
void backward(const kernels::kernel_table& k, const network& net, const float* params,
              std::size_t rows, const float* x, workspace& ws, float* grads) noexcept;

// The staged training pass (see batch_stats). forward_stage returns the outputs after the last
// stage, nullptr before it. stats: the batch's statistics merged so far.
inline std::size_t n_stages(const network& net) noexcept { return net.bn_layers.size() + 1; }
const float* forward_stage(const kernels::kernel_table& k, const network& net, const float* params,
                           std::size_t rows, const float* x, workspace& ws,
                           const dropout_context* drop, const batch_stats& stats,
                           std::size_t stage) noexcept;
void backward_stage(const kernels::kernel_table& k, const network& net, const float* params,
                    std::size_t rows, const float* x, workspace& ws, float* grads,
                    const batch_stats& stats, std::size_t stage) noexcept;
// After forward_stage(stage) (resp. backward_stage(stage)) of every shard of the batch: merge
// their partials, shards in order, into stats.
void combine_moments(const network& net, std::size_t stage, std::span<workspace* const> shards,
                     batch_stats& stats) noexcept;
void combine_grad_sums(const network& net, std::size_t stage, std::span<workspace* const> shards,
                       batch_stats& stats) noexcept;

// After an update with the batch of `stats`: running = (1 - m) running + m batch, the variance
// unbiased (times rows / (rows - 1)).
void update_running_stats(const network& net, const batch_stats& stats, float* params) noexcept;

// Folds each batch-norm layer's running statistics, gain and shift into its W and b, in place,
// and removes the batch norm from net: forward() then gives the same outputs (to rounding)
// without it. params: net.n_params values (the layout does not change).
void fold_batch_norm(network& net, float* params) noexcept;

// After backward of a network with embeddings: the tables' gradient, dense. Zeroes every
// table in grads, then adds each row's share to the table rows its indices select, rows in
// order. (The trainer adds the shares sparsely, touching only the rows used.)
void embedding_backward(const network& net, std::size_t rows, const float* x, workspace& ws,
                        float* grads) noexcept;

// Forward, loss and backward. Writes the gradient of sum_r w_r L_r (not divided by rows) into
// grads (n_params values) and returns sum_r w_r L_r. targets and weights as in loss.hpp. Batch
// norm, if any, normalizes over these rows (training): stats must then be given.
double forward_backward(const kernels::kernel_table& k, const network& net, const float* params,
                        std::size_t rows, const float* x, const float* targets,
                        const float* weights, workspace& ws, float* grads,
                        const dropout_context* drop = nullptr,
                        batch_stats* stats = nullptr) noexcept;

// Fills params (n_params values) from spec.seed: weights by each layer's init rule, biases zero,
// prelu slopes at their initial alpha. A pure function of the spec: the same bits every time.
void init_params(const network& net, const model_spec& spec, float* params);

}  // namespace tmlp::core
