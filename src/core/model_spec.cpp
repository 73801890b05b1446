// Validation of a model_spec and its layout as a core::network.
#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "blas/blas.hpp"
#include "core/aligned.hpp"
#include "core/enum_table.hpp"
#include "core/network.hpp"
#include "tmlp/error.hpp"
#include "tmlp/model.hpp"

namespace tmlp {

namespace {

// The names of each enum, in the order --help lists them (activations: relu first).
constexpr detail::enum_table<activation, n_activations> activations{{{
    {activation::relu, "relu"},
    {activation::leaky_relu, "leaky_relu"},
    {activation::prelu, "prelu"},
    {activation::elu, "elu"},
    {activation::selu, "selu"},
    {activation::sigmoid, "sigmoid"},
    {activation::tanh, "tanh"},
    {activation::gelu, "gelu"},
    {activation::gelu_tanh, "gelu_tanh"},
    {activation::softplus, "softplus"},
    {activation::identity, "identity"},
}}};

constexpr detail::enum_table<loss_kind, 5> losses{{{
    {loss_kind::mse, "mse"},
    {loss_kind::mae, "mae"},
    {loss_kind::huber, "huber"},
    {loss_kind::bce, "bce"},
    {loss_kind::ce, "ce"},
}}};

constexpr detail::enum_table<init_kind, 7> inits{{{
    {init_kind::automatic, "auto"},
    {init_kind::xavier_uniform, "xavier_uniform"},
    {init_kind::xavier_normal, "xavier_normal"},
    {init_kind::he_uniform, "he_uniform"},
    {init_kind::he_normal, "he_normal"},
    {init_kind::lecun_normal, "lecun_normal"},
    {init_kind::lecun_uniform, "lecun_uniform"},
}}};
static_assert(activations.complete() && losses.complete() && inits.complete());

}  // namespace

std::string_view to_string(activation a) noexcept { return activations.name(a); }
std::string_view to_string(loss_kind l) noexcept { return losses.name(l); }
std::string_view to_string(init_kind i) noexcept { return inits.name(i); }

std::optional<activation> activation_from_string(std::string_view name) noexcept {
  return activations.parse(name);
}
std::optional<loss_kind> loss_from_string(std::string_view name) noexcept {
  return losses.parse(name);
}
std::optional<init_kind> init_from_string(std::string_view name) noexcept {
  return inits.parse(name);
}

std::span<const std::string_view> activation_names() noexcept { return activations.names(); }
std::span<const std::string_view> loss_names() noexcept { return losses.names(); }
std::span<const std::string_view> init_names() noexcept { return inits.names(); }

std::string join_names(std::span<const std::string_view> names, std::string_view sep,
                       std::string_view last_sep) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() && !last_sep.empty() ? last_sep : sep;
    out += names[i];
  }
  return out;
}

namespace {

// Every message starts with the field it is about, as "model_spec.<field>: ".
[[noreturn]] void bad_spec(const std::string& what) {
  throw error(errc::invalid_argument, "model_spec." + what);
}

float default_alpha(activation a) noexcept {
  switch (a) {
    case activation::leaky_relu:
      return 0.01f;
    case activation::prelu:
      return 0.25f;
    case activation::elu:
      return 1.0f;
    default:
      return 0.0f;
  }
}

// Largest layer side and weight count: far beyond any real MLP, small enough that sizes and
// BLAS's 32-bit dimensions never overflow.
constexpr std::size_t max_units = std::size_t{1} << 24;
constexpr std::size_t max_layer_weights = std::size_t{1} << 31;
constexpr std::size_t max_frequencies = std::size_t{1} << 16;

// The categorical and periodic embeddings of spec (each column at most one); returns how many
// values they add to the first layer's input.
std::size_t validate_input_embeddings(const model_spec& spec) {
  std::size_t n_in = 0;
  std::vector<bool> embedded(spec.n_inputs, false);
  for (std::size_t e = 0; e < spec.embeddings.size(); ++e) {
    const embedding_spec& t = spec.embeddings[e];
    if (t.column >= spec.n_inputs)
      bad_spec(fmt::format("embeddings[{}].column: {} is out of range; the input has {} columns", e,
                           t.column, spec.n_inputs));
    if (embedded[t.column])
      bad_spec(fmt::format("embeddings[{}].column: {} already has an embedding", e, t.column));
    embedded[t.column] = true;
    if (t.cardinality == 0 || t.cardinality > max_units)
      bad_spec(fmt::format("embeddings[{}].cardinality: {} is out of range; expected 1..{}", e,
                           t.cardinality, max_units));
    if (t.dim == 0 || t.dim > max_units)
      bad_spec(fmt::format("embeddings[{}].dim: {} is out of range; expected 1..{}", e, t.dim,
                           max_units));
    if (t.cardinality * t.dim > max_layer_weights)
      bad_spec(fmt::format("embeddings[{}]: {} x {} values exceed the limit of {} per table", e,
                           t.cardinality, t.dim, max_layer_weights));
    n_in += t.dim - 1;  // the index column becomes dim values
  }
  for (std::size_t e = 0; e < spec.periodic_embeddings.size(); ++e) {
    const periodic_embedding_spec& t = spec.periodic_embeddings[e];
    const std::string at = fmt::format("periodic_embeddings[{}]", e);
    if (t.column >= spec.n_inputs)
      bad_spec(fmt::format("{}.column: {} is out of range; the input has {} columns", at, t.column,
                           spec.n_inputs));
    if (embedded[t.column])
      bad_spec(fmt::format("{}.column: {} already has an embedding", at, t.column));
    embedded[t.column] = true;
    if (t.n_frequencies == 0 || t.n_frequencies > max_frequencies)
      bad_spec(fmt::format("{}.n_frequencies: {} is out of range; expected 1..{}", at,
                           t.n_frequencies, max_frequencies));
    if (t.dim == 0 || t.dim > max_units)
      bad_spec(fmt::format("{}.dim: {} is out of range; expected 1..{}", at, t.dim, max_units));
    if (2 * t.n_frequencies * t.dim > max_layer_weights)
      bad_spec(fmt::format("{}: {} x {} weights exceed the limit of {} per layer", at, t.dim,
                           2 * t.n_frequencies, max_layer_weights));
    if (!(std::isfinite(t.sigma) && t.sigma > 0.0f))
      bad_spec(fmt::format("{}.sigma: {} is not a finite value > 0", at, t.sigma));
    n_in += t.dim - 1;  // the column becomes dim values
  }
  return n_in;
}

}  // namespace

void validate(const model_spec& spec) {
  if (spec.n_inputs == 0) bad_spec("n_inputs: 0; expected the number of input features (>= 1)");
  if (spec.n_inputs > max_units)
    bad_spec(fmt::format("n_inputs: {} is larger than the limit {}", spec.n_inputs, max_units));
  if (spec.layers.empty()) bad_spec("layers: none; expected at least the output layer");
  std::size_t n_in = spec.n_inputs;
  n_in += validate_input_embeddings(spec);
  if (n_in > max_units)
    bad_spec(fmt::format("layers[0]: {} inputs (embeddings included) exceed the limit {}", n_in,
                         max_units));
  for (std::size_t i = 0; i < spec.layers.size(); ++i) {
    const dense_spec& l = spec.layers[i];
    if (l.units == 0 || l.units > max_units)
      bad_spec(fmt::format("layers[{}].units: {} is out of range; expected 1..{}", i, l.units,
                           max_units));
    if (n_in * l.units > max_layer_weights)
      bad_spec(fmt::format("layers[{}]: {} x {} weights exceed the limit of {} per layer", i,
                           l.units, n_in, max_layer_weights));
    if (static_cast<int>(l.act) < 0 || static_cast<int>(l.act) >= n_activations)
      bad_spec(fmt::format("layers[{}].act: unknown activation {}", i, static_cast<int>(l.act)));
    if (static_cast<int>(l.init) < 0 ||
        static_cast<int>(l.init) > static_cast<int>(init_kind::lecun_uniform))
      bad_spec(fmt::format("layers[{}].init: unknown init {}", i, static_cast<int>(l.init)));
    if (l.alpha && !std::isfinite(*l.alpha))
      bad_spec(fmt::format("layers[{}].alpha: {} is not finite", i, *l.alpha));
    if (!(l.dropout >= 0.0f && l.dropout < 1.0f))
      bad_spec(fmt::format("layers[{}].dropout: {} is outside [0, 1)", i, l.dropout));
    if (l.residual && i + 1 == spec.layers.size())
      bad_spec(
          fmt::format("layers[{}].residual: on the output layer; it belongs on hidden layers", i));
    if (l.batch_norm && i + 1 == spec.layers.size())
      bad_spec(fmt::format(
          "layers[{}].batch_norm: on the output layer; it belongs on hidden layers", i));
    if (l.batch_norm && l.layer_norm)
      bad_spec(
          fmt::format("layers[{0}].batch_norm and model_spec.layers[{0}].layer_norm: a layer takes "
                      "one of them; choose one",
                      i));
    if (l.dropout > 0.0f && i + 1 == spec.layers.size())
      bad_spec(fmt::format(
          "layers[{}].dropout: {} on the output layer; it belongs on hidden layers", i, l.dropout));
    n_in = l.units;
  }
  const std::size_t n_out = spec.layers.back().units;
  if (static_cast<int>(spec.loss) < 0 ||
      static_cast<int>(spec.loss) > static_cast<int>(loss_kind::ce))
    bad_spec(fmt::format("loss: unknown loss {}", static_cast<int>(spec.loss)));
  if (spec.loss == loss_kind::ce && n_out < 2)
    bad_spec(
        fmt::format("loss: ce needs an output layer of >= 2 units (one per class), got {}", n_out));
  if (spec.loss == loss_kind::huber &&
      !(std::isfinite(spec.huber_delta) && spec.huber_delta > 0.0f))
    bad_spec(fmt::format("huber_delta: {} is not a finite value > 0", spec.huber_delta));
  if (!(spec.label_smoothing >= 0.0f && spec.label_smoothing < 1.0f))
    bad_spec(fmt::format("label_smoothing: {} is outside [0, 1)", spec.label_smoothing));
  if (spec.label_smoothing > 0.0f && spec.loss != loss_kind::bce && spec.loss != loss_kind::ce)
    bad_spec(fmt::format("label_smoothing: {} needs a classification loss (bce or ce), not {}",
                         spec.label_smoothing, to_string(spec.loss)));
}

namespace core {

namespace {
// Where layer l's matrices go in the copies the GEMM backend may read: the transposed weights
// (dense_layer::t_offset) and the padded ones (pad_offset), each matrix on a new cache line.
void place_copies(network& net, dense_layer& l) {
  l.t_ld = blas::transposed_stride(l.n_out);
  l.t_offset = net.n_transposed;
  net.n_transposed += line_multiple<float>(l.n_in * l.t_ld);
  if (l.proj_offset != no_offset) {
    l.t_proj_offset = net.n_transposed;
    net.n_transposed += line_multiple<float>(l.n_in * l.t_ld);
  }
  if (!net.layers.empty() && l.n_out > 1 && blas::padded_stride(l.n_in) != l.n_in) {
    l.pad_ld = blas::padded_stride(l.n_in);
    l.pad_offset = net.n_padded;
    net.n_padded += line_multiple<float>(l.n_out * l.pad_ld);
  }
}
}  // namespace

network network::from_spec(const model_spec& spec) {
  validate(spec);
  network net;
  net.n_inputs = spec.n_inputs;
  net.n_outputs = spec.layers.back().units;
  net.loss = {spec.loss, spec.huber_delta, spec.label_smoothing};
  std::size_t n_in = spec.n_inputs;
  for (const embedding_spec& t : spec.embeddings) n_in += t.dim - 1;
  for (const periodic_embedding_spec& t : spec.periodic_embeddings) n_in += t.dim - 1;
  net.max_width = std::max(spec.n_inputs, n_in);
  std::size_t off = 0;
  for (const dense_spec& s : spec.layers) {
    dense_layer l;
    l.n_in = n_in;
    l.n_out = s.units;
    l.act = s.act;
    l.alpha = s.alpha.value_or(default_alpha(s.act));
    l.dropout = s.dropout;
    net.has_dropout |= s.dropout > 0.0f;
    l.w_offset = off;
    off += l.n_out * l.n_in;
    l.b_offset = off;
    off += l.n_out;
    if (s.act == activation::prelu) {
      l.slope_offset = off;
      off += l.n_out;
    }
    if (s.layer_norm) {
      l.norm_offset = off;
      off += 2 * l.n_out;
    }
    l.residual = s.residual;
    if (s.residual && l.n_in != l.n_out) {
      l.proj_offset = off;
      off += l.n_out * l.n_in;
    }
    if (s.batch_norm) {
      l.bn_offset = off;
      off += 4 * l.n_out;
      l.bn_stat = net.n_bn_units;
      net.n_bn_units += l.n_out;
      net.bn_layers.push_back(net.layers.size());
    }
    place_copies(net, l);
    net.layers.push_back(l);
    net.max_width = std::max(net.max_width, s.units);
    n_in = s.units;
  }
  std::vector<bool> embedded(spec.n_inputs, false);
  for (const embedding_spec& t : spec.embeddings) embedded[t.column] = true;
  if (spec.feature_scale) {
    net.scale_offset = off;
    for (std::size_t c = 0; c < spec.n_inputs; ++c)
      if (!embedded[c]) net.scaled_columns.push_back(c);
    off += net.scaled_columns.size();
  }
  for (const periodic_embedding_spec& t : spec.periodic_embeddings) {
    net.periodic.push_back({t.column, t.n_frequencies, t.dim, off});
    off += net.periodic.back().n_params();
    embedded[t.column] = true;
  }
  net.n_dense_params = off;
  for (const embedding_spec& t : spec.embeddings) {
    net.embeddings.push_back({t.column, t.cardinality, t.dim, off});
    off += t.cardinality * t.dim;
  }
  for (std::size_t c = 0; c < spec.n_inputs; ++c)
    if (!embedded[c]) net.plain_columns.push_back(c);
  net.n_params = off;
  net.build_pipeline();
  return net;
}

}  // namespace core
}  // namespace tmlp
