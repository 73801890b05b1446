// Model specification: an MLP as a stack of dense layers, each followed by an activation,
// trained against one loss.
//
//     tmlp::model_spec spec{
//         .n_inputs = 28,
//         .layers = {{.units = 256, .act = tmlp::activation::relu},
//                    {.units = 256, .act = tmlp::activation::relu},
//                    {.units = 1, .act = tmlp::activation::identity}},
//         .loss = tmlp::loss_kind::bce,
//         .seed = 42};
//     tmlp::validate(spec);  // throws tmlp::error naming the first bad field
//
// The last layer's outputs are what the loss sees: logits for bce and ce (the loss applies the
// sigmoid or softmax itself, in a numerically stable form), values for regression losses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tmlp/activation.hpp"
#include "tmlp/matrix.hpp"

namespace tmlp {

namespace core {
struct model_access;
}

enum class loss_kind : int {
  // Per row, over K outputs y (the last layer) and targets t; a batch's loss is the mean over
  // its rows of w_r * L_r, with sample weights w_r (1 when none are given).
  mse = 0,  // L = (1/K) sum_j (y_j - t_j)^2
  mae,      // L = (1/K) sum_j |y_j - t_j|
  huber,    // L = (1/K) sum_j h(y_j - t_j), h(d) = d^2/2 if |d| <= delta else delta(|d| - delta/2)
  bce,      // L = (1/K) sum_j [log(1 + exp(y_j)) - t_j y_j]: y are logits, t in [0, 1]
  ce,       // L = logsumexp(y) - y_c: y are logits, the target is one class index c in 0..K-1
};

enum class init_kind : int {
  automatic = 0,   // he_uniform for the ReLU family, lecun_normal for selu, xavier_uniform else
  xavier_uniform,  // U(-a, a), a = sqrt(6 / (fan_in + fan_out))
  xavier_normal,   // N(0, 2 / (fan_in + fan_out))
  he_uniform,      // U(-a, a), a = sqrt(6 / fan_in)
  he_normal,       // N(0, 2 / fan_in)
  lecun_normal,    // N(0, 1 / fan_in)
  lecun_uniform,   // U(-a, a), a = sqrt(3 / fan_in)
};

struct dense_spec {
  std::size_t units = 0;
  activation act = activation::relu;
  // leaky_relu: negative slope (default 0.01); prelu: initial slope (0.25); elu: alpha (1.0).
  std::optional<float> alpha;
  init_kind init = init_kind::automatic;
  // Inverted dropout on this layer's outputs while training: each is zeroed with probability
  // dropout and the others scaled by 1 / (1 - dropout); nothing at predict time. The masks are
  // drawn from counters keyed by (seed, epoch, layer, row, unit), so training stays bit-identical
  // for any thread count. In [0, 1); not on the output layer.
  float dropout = 0.0f;
  // Layer normalization of Z = X·Wᵀ + b over the layer's units, row by row, before the
  // activation: (Z - mean) / sqrt(var + 1e-5), then a learned gain and shift per unit (2 x units
  // parameters after the layer's others, initialized to 1 and 0).
  bool layer_norm = false;
  // A residual layer: its output is f(X) + X, the activation (after dropout) plus the layer's
  // input, through a learned projection X·Pᵀ (P: units x inputs, no bias, parameters after the
  // others) when the widths differ. Not on the output layer.
  bool residual = false;
  // Batch normalization of Z = X·Wᵀ + b per unit, before the activation. While training:
  // (Z - mean) / sqrt(var + 1e-5) with the mean and (biased) variance over the whole mini-batch,
  // every shard's rows together, then a learned gain and shift per unit; the running mean and
  // (unbiased) variance follow each batch's with momentum 0.1. At predict time the running
  // statistics are used, folded into W and b. 4 x units values after the layer's others: gain
  // (init 1), shift (0), running mean (0), running variance (1); the last two are not trained by
  // the optimizer. Not with layer_norm on the same layer; not on the output layer.
  bool batch_norm = false;
};

// An embedding table for one input column that holds a category index (e.g. a column the
// preprocessor made with preprocess_options::embed): the index selects a learned row of dim
// values. The first dense layer reads the other input columns, in order, then each embedding's
// row, in the order of model_spec::embeddings. An index that is not in [0, cardinality), NaN
// included, selects the last row (the preprocessor's "unseen" level); a fractional one is
// rounded down. Training updates only the rows of a batch's indices (with their optimizer
// state): a row no batch uses keeps its values, weight decay included.
struct embedding_spec {
  std::size_t column = 0;       // input column, 0-based
  std::size_t cardinality = 0;  // rows of the table
  std::size_t dim = 0;          // values per row
};

// A periodic embedding (PLR) of one numeric input column x: k learned frequencies c (init
// N(0, sigma^2)), v = [sin(2 pi c_1 x) .. sin(2 pi c_k x), cos(2 pi c_1 x) .. cos(2 pi c_k x)],
// then the column's own linear map to dim values and a ReLU: relu(W v + b), W dim x 2k and b
// dim, both initialized U(-a, a) with a = 1 / sqrt(2k). The first dense layer reads these dim
// values in place of the column, after the categorical embeddings' rows, in the order of
// model_spec::periodic_embeddings. Parameters per column: c (k), then W (dim x 2k, row-major),
// then b (dim). The map is per column (the paper's "PLR"), not shared across columns ("lite").
// sigma sets the scale of the frequencies relative to x's units: 0.1 suits standardized values
// (of 0.03, 0.1, 0.3 and 1 it did best on the bundled data; larger values fit noise).
struct periodic_embedding_spec {
  std::size_t column = 0;          // input column, 0-based; not one with an embedding_spec
  std::size_t n_frequencies = 16;  // k
  std::size_t dim = 16;            // values the column becomes
  float sigma = 0.1f;              // standard deviation of the frequencies' initialization
};

struct model_spec {
  std::size_t n_inputs = 0;  // input columns, embedding index columns included
  std::vector<dense_spec> layers;
  std::vector<embedding_spec> embeddings;  // tables initialized N(0, 1)
  std::vector<periodic_embedding_spec> periodic_embeddings;
  // A learned scale per input column at the input, x_i -> s_i x_i (s_i initialized to 1),
  // before the periodic embeddings; the categorical embeddings' index columns are not scaled
  // (no parameter). One parameter per scaled column, in column order.
  bool feature_scale = false;
  loss_kind loss = loss_kind::mse;
  float huber_delta = 1.0f;
  // bce and ce: the targets moved toward the uniform distribution by this fraction, in [0, 1)
  // (ce: (1 - s) on the class plus s / K on every class; bce: t (1 - s) + s / 2).
  float label_smoothing = 0.0f;
  std::uint64_t seed = 0;  // parameter initialization
};

// Throws tmlp::error (errc::invalid_argument) naming the first field that is out of range.
void validate(const model_spec& spec);

struct predict_options {
  int n_threads = 0;             // 0: every core; the call runs in its own task arena
  bool raw = false;              // true: the last layer's outputs as they are (logits for bce, ce)
  std::size_t chunk_rows = 256;  // rows per unit of work
};

// A model: its spec and one flat vector of float32 parameters (per layer: W as n_out x n_in,
// then b, then prelu slopes, then layer norm, projection and batch norm values as their
// dense_spec fields say; then the feature scales (model_spec::feature_scale), then each
// periodic embedding's c, W, b; then each embedding table, cardinality x dim). Copyable; a
// copy owns its parameters.
//
//     tmlp::model m = tmlp::model::create(spec);   // validated, initialized from spec.seed
//     tmlp::matrix p = m.predict(x);                // x: rows x n_inputs
class model {
 public:
  // Validates the spec (throws tmlp::error) and initializes the parameters from spec.seed.
  static model create(const model_spec& spec);

  model(const model& other);
  model& operator=(const model& other);
  model(model&&) noexcept;
  model& operator=(model&&) noexcept;
  ~model();

  const model_spec& spec() const noexcept;
  std::size_t n_inputs() const noexcept;
  std::size_t n_outputs() const noexcept;
  std::size_t n_params() const noexcept;
  std::span<float> parameters() noexcept;
  std::span<const float> parameters() const noexcept;

  // Predictions for each row of x (rows x n_inputs): rows x n_outputs. Unless options.raw,
  // bce outputs are probabilities (sigmoid) and ce outputs class probabilities (softmax);
  // regression outputs are returned as they are. Throws tmlp::error on a width mismatch.
  // Each chunk runs its GEMMs on one core, so a threaded OpenBLAS runs on one thread during the
  // call and gets its own thread count back afterwards (as in trainer::fit; fit_result::notes
  // says when).
  matrix predict(matrix_view x, const predict_options& options = {}) const;
  void predict(matrix_view x, matrix_span out, const predict_options& options = {}) const;

 private:
  friend struct core::model_access;  // the library's own access (src/core/model_impl.hpp)
  struct impl;
  explicit model(std::unique_ptr<impl> p) noexcept;
  std::unique_ptr<impl> impl_;
};

// Names of the enums: one table per enum gives to_string, *_from_string and *_names.
std::string_view to_string(activation a) noexcept;  // "relu", "gelu", ...
std::string_view to_string(loss_kind l) noexcept;   // "mse", "bce", ...
std::string_view to_string(init_kind i) noexcept;   // "auto", "he_uniform", ...

// The value whose to_string is `name`, or nothing.
std::optional<activation> activation_from_string(std::string_view name) noexcept;
std::optional<loss_kind> loss_from_string(std::string_view name) noexcept;
std::optional<init_kind> init_from_string(std::string_view name) noexcept;

// Every name of each enum, in the order choices are listed (activations: relu first, identity
// last; losses and inits in the order of their values). Static storage.
std::span<const std::string_view> activation_names() noexcept;
std::span<const std::string_view> loss_names() noexcept;
std::span<const std::string_view> init_names() noexcept;

// Names joined for help texts and messages: join_names(n, "|") is "a|b|c",
// join_names(n, ", ", " or ") is "a, b or c".
std::string join_names(std::span<const std::string_view> names, std::string_view sep,
                       std::string_view last_sep = {});

}  // namespace tmlp
