// tmlp::export_onnx: a model as an ONNX graph (built with ONNX's own protobuf schema, from
// Debian's libonnx-dev), checked by ONNX's checker before the file is written atomically.
//
// Two front ends share the network's translation (network_nodes):
// - the whole model (a tmlp::predictor): one input per training column, the preprocessing as
//   ai.onnx.ml and standard operators, outputs as `tmlp predict` gives them;
// - the network alone (a tmlp::model): one float input of preprocessed features.
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/batch_norm.hpp"
#include "core/layer_norm.hpp"
#include "core/model_impl.hpp"
#include "core/network.hpp"
#include "data/preprocess_parts.hpp"
#include "io/file_io.hpp"
#include "tmlp/error.hpp"
#include "tmlp/onnx.hpp"
#include "tmlp/version.hpp"

namespace tmlp {
namespace {

// The operator sets a file imports: the standard one (options) and ai.onnx.ml version 3
// (LabelEncoder-2, OneHotEncoder-1), which ONNX 1.12 (Debian's) and ONNX Runtime know.
constexpr const char* ml_domain = "ai.onnx.ml";
constexpr std::int64_t ml_opset = 3;

using attribute = onnx::AttributeProto;

// Builds the graph node by node; every intermediate tensor is named prefix + a number, with a
// prefix that no graph input shares.
class graph_builder {
 public:
  graph_builder(onnx::GraphProto& g, std::string prefix) : g_(g), prefix_(std::move(prefix)) {}

  std::string fresh() { return fmt::format("{}{}", prefix_, n_++); }

  // A node of op (in `domain`, "" for the standard set) on inputs `in`, with one output; the
  // returned node takes more attributes.
  onnx::NodeProto& add(const std::string& op, const std::vector<std::string>& in,
                       const char* domain = "") {
    onnx::NodeProto* n = g_.add_node();
    n->set_op_type(op);
    n->set_domain(domain);
    n->set_name(fmt::format("{}{}_{}", prefix_, op, n_));
    for (const std::string& i : in) n->add_input(i);
    n->add_output(fresh());
    return *n;
  }
  static const std::string& out(const onnx::NodeProto& n) { return n.output(0); }
  onnx::GraphProto& graph() { return g_; }

  std::string node(const std::string& op, const std::vector<std::string>& in,
                   const std::vector<std::pair<std::string, float>>& float_attrs = {},
                   const std::vector<std::pair<std::string, std::int64_t>>& int_attrs = {}) {
    onnx::NodeProto& n = add(op, in);
    for (const auto& [name, v] : float_attrs) set(n, name, v);
    for (const auto& [name, v] : int_attrs) set(n, name, v);
    return out(n);
  }

  static void set(onnx::NodeProto& n, const std::string& name, float v) {
    attribute* a = n.add_attribute();
    a->set_name(name);
    a->set_type(attribute::FLOAT);
    a->set_f(v);
  }
  static void set(onnx::NodeProto& n, const std::string& name, std::int64_t v) {
    attribute* a = n.add_attribute();
    a->set_name(name);
    a->set_type(attribute::INT);
    a->set_i(v);
  }
  static void set(onnx::NodeProto& n, const std::string& name, const std::string& v) {
    attribute* a = n.add_attribute();
    a->set_name(name);
    a->set_type(attribute::STRING);
    a->set_s(v);
  }
  static void set(onnx::NodeProto& n, const std::string& name, const std::vector<std::int64_t>& v) {
    attribute* a = n.add_attribute();
    a->set_name(name);
    a->set_type(attribute::INTS);
    for (std::int64_t x : v) a->add_ints(x);
  }
  static void set(onnx::NodeProto& n, const std::string& name, const std::vector<std::string>& v) {
    attribute* a = n.add_attribute();
    a->set_name(name);
    a->set_type(attribute::STRINGS);
    for (const std::string& x : v) a->add_strings(x);
  }

  // A float initializer of the given shape.
  std::string constant(const float* data, std::vector<std::int64_t> dims) {
    onnx::TensorProto* t = tensor(onnx::TensorProto::FLOAT, dims);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(data), count(dims) * sizeof(float)));
    return t->name();
  }
  std::string constant(const std::vector<float>& v) {
    return constant(v.data(), {static_cast<std::int64_t>(v.size())});
  }
  std::string scalar(float v) { return constant(&v, {}); }
  std::string double_constant(const std::vector<double>& v) {
    onnx::TensorProto* t = tensor(onnx::TensorProto::DOUBLE, {static_cast<std::int64_t>(v.size())});
    t->set_raw_data(
        std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double)));
    return t->name();
  }
  // An int64 initializer of the given shape.
  std::string int_constant(const std::vector<std::int64_t>& values,
                           std::vector<std::int64_t> dims) {
    onnx::TensorProto* t = tensor(onnx::TensorProto::INT64, dims);
    for (std::int64_t v : values) t->add_int64_data(v);
    return t->name();
  }
  std::string int_constant(const std::vector<std::int64_t>& v) {
    return int_constant(v, {static_cast<std::int64_t>(v.size())});
  }

 private:
  static std::size_t count(const std::vector<std::int64_t>& dims) {
    std::size_t n = 1;
    for (std::int64_t d : dims) n *= static_cast<std::size_t>(d);
    return n;
  }
  onnx::TensorProto* tensor(int type, const std::vector<std::int64_t>& dims) {
    onnx::TensorProto* t = g_.add_initializer();
    t->set_name(fresh());
    t->set_data_type(type);
    for (std::int64_t d : dims) t->add_dims(d);
    return t;
  }

  onnx::GraphProto& g_;
  std::string prefix_;
  std::size_t n_ = 0;
};

// y = act(x) for a layer's activation, exactly as tmlp defines it.
std::string activation_nodes(graph_builder& b, const core::dense_layer& l, const float* params,
                             const std::string& x) {
  using kernels::act;
  switch (l.act) {
    case act::identity:
      return x;
    case act::relu:
      return b.node("Relu", {x});
    case act::leaky_relu:
      return b.node("LeakyRelu", {x}, {{"alpha", l.alpha}});
    case act::prelu:
      return b.node("PRelu",
                    {x, b.constant(params + l.slope_offset, {static_cast<std::int64_t>(l.n_out)})});
    case act::elu:
      return b.node("Elu", {x}, {{"alpha", l.alpha}});
    case act::selu:
      return b.node("Selu", {x}, {{"alpha", 1.6732632423543772f}, {"gamma", 1.0507009873554805f}});
    case act::sigmoid:
      return b.node("Sigmoid", {x});
    case act::tanh:
      return b.node("Tanh", {x});
    case act::softplus:
      return b.node("Softplus", {x});
    case act::gelu: {  // x * 0.5 * (1 + erf(x / sqrt(2)))
      const std::string e = b.node("Erf", {b.node("Div", {x, b.scalar(std::sqrt(2.0f))})});
      const std::string half = b.node("Mul", {b.node("Add", {e, b.scalar(1.0f)}), b.scalar(0.5f)});
      return b.node("Mul", {x, half});
    }
    case act::gelu_tanh: {  // x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
      const std::string cube = b.node("Mul", {b.node("Mul", {x, x}), x});
      const std::string inner = b.node("Add", {x, b.node("Mul", {cube, b.scalar(0.044715f)})});
      const std::string t = b.node("Tanh", {b.node("Mul", {inner, b.scalar(0.7978845608028654f)})});
      const std::string half = b.node("Mul", {b.node("Add", {t, b.scalar(1.0f)}), b.scalar(0.5f)});
      return b.node("Mul", {x, half});
    }
  }
  throw error(errc::unsupported, "export: an activation ONNX cannot express");
}

// The network on x (rows x net.n_inputs floats): its last layer's outputs (logits for bce and
// ce). Batch norm must be folded into params already.
std::string network_nodes(graph_builder& b, const core::network& net,
                          const std::vector<float>& params, std::string x) {
  if (!net.embeddings.empty()) {
    // The first layer's input: the plain columns as they are, then each table's row. A value
    // selects row floor(v) when 0 <= v < cardinality, else (negative, too large, NaN) the last
    // row, as core::embedding_table::row_of does.
    std::vector<std::string> parts;
    if (!net.plain_columns.empty()) {
      std::vector<std::int64_t> cols(net.plain_columns.begin(), net.plain_columns.end());
      parts.push_back(b.node("Gather", {x, b.int_constant(cols)}, {}, {{"axis", 1}}));
    }
    for (const core::embedding_table& t : net.embeddings) {
      const auto card = static_cast<float>(t.cardinality);
      const std::string v = b.node(
          "Gather", {x, b.int_constant({static_cast<std::int64_t>(t.column)})}, {}, {{"axis", 1}});
      const std::string valid = b.node("And", {b.node("GreaterOrEqual", {v, b.scalar(0.0f)}),
                                               b.node("Less", {v, b.scalar(card)})});
      const std::string row = b.node("Cast", {b.node("Where", {valid, v, b.scalar(card - 1.0f)})},
                                     {}, {{"to", onnx::TensorProto::INT64}});
      const std::string table =
          b.constant(params.data() + t.offset,
                     {static_cast<std::int64_t>(t.cardinality), static_cast<std::int64_t>(t.dim)});
      parts.push_back(b.node("Flatten", {b.node("Gather", {table, row}, {}, {{"axis", 0}})}, {},
                             {{"axis", 1}}));
    }
    x = parts.size() == 1 ? parts[0] : b.node("Concat", parts, {}, {{"axis", 1}});
  }
  for (const core::dense_layer& l : net.layers) {
    const std::string w =
        b.constant(params.data() + l.w_offset,
                   {static_cast<std::int64_t>(l.n_out), static_cast<std::int64_t>(l.n_in)});
    const std::string bias =
        b.constant(params.data() + l.b_offset, {static_cast<std::int64_t>(l.n_out)});
    std::string z = b.node("Gemm", {x, w, bias}, {}, {{"transB", 1}});
    if (l.norm_offset != core::no_offset) {
      const std::int64_t n = static_cast<std::int64_t>(l.n_out);
      z = b.node("LayerNormalization",
                 {z, b.constant(params.data() + l.norm_offset, {n}),
                  b.constant(params.data() + l.norm_offset + l.n_out, {n})},
                 {{"epsilon", core::layer_norm_eps}}, {{"axis", -1}});
    }
    std::string y = activation_nodes(b, l, params.data(), z);
    if (l.residual) {
      const std::string skip = l.proj_offset == core::no_offset
                                   ? x
                                   : b.node("Gemm",
                                            {x, b.constant(params.data() + l.proj_offset,
                                                           {static_cast<std::int64_t>(l.n_out),
                                                            static_cast<std::int64_t>(l.n_in)})},
                                            {}, {{"transB", 1}});
      y = b.node("Add", {y, skip});
    }
    x = y;
  }
  return x;
}

// The batch dimension of every input and output: a name (symbolic) or a positive row count.
void add_batch_dim(onnx::TensorShapeProto* s, const std::string& batch) {
  const bool digits = !batch.empty() && std::all_of(batch.begin(), batch.end(),
                                                    [](char c) { return c >= '0' && c <= '9'; });
  if (digits) {
    s->add_dim()->set_dim_value(std::stoll(batch));
  } else {
    s->add_dim()->set_dim_param(batch);
  }
}

void check_options(const onnx_options& o) {
  if (o.opset < 17 || o.opset > 21)
    throw error(errc::unsupported,
                fmt::format("--opset: {} is not supported; expected 17 to 21 (LayerNormalization "
                            "needs 17)",
                            o.opset));
  const std::string& n = o.batch;
  const bool digits =
      !n.empty() && std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; });
  const bool name = !n.empty() && (std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_') &&
                    std::all_of(n.begin(), n.end(), [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                    });
  if (digits ? (n.size() > 9 || std::stoll(n) == 0) : !name)
    throw error(errc::invalid_argument,
                fmt::format("--batch: '{}' is neither a row count (1 to 999999999) nor a name "
                            "(letters, digits, _)",
                            n));
}

void add_value_info(onnx::ValueInfoProto* v, const std::string& name, int type,
                    const std::string& batch, std::int64_t cols) {
  v->set_name(name);
  onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(type);
  add_batch_dim(t->mutable_shape(), batch);
  if (cols > 0) t->mutable_shape()->add_dim()->set_dim_value(cols);
}

onnx::ModelProto new_model(const onnx_options& o, bool ml) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("tmlp");
  model.set_producer_version(std::string(version_string));
  model.add_opset_import()->set_version(o.opset);
  if (ml) {
    onnx::OperatorSetIdProto* id = model.add_opset_import();
    id->set_domain(ml_domain);
    id->set_version(ml_opset);
  }
  model.mutable_graph()->set_name("tmlp");
  return model;
}

// The network and its parameters as predict runs them: batch norm folded into the weights.
std::pair<core::network, std::vector<float>> folded(const model& m) {
  core::network net = core::model_impl(m).net;
  std::vector<float> params = core::model_impl(m).params;
  if (!net.bn_layers.empty()) core::fold_batch_norm(net, params.data());
  return {std::move(net), std::move(params)};
}

std::string checked_bytes(onnx::ModelProto& model) {
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throw error(errc::unsupported,
                fmt::format("export: ONNX's checker refused the graph: {}", e.what()));
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    throw error(errc::io, "export: the ONNX model could not be serialized (over 2 GiB?)");
  return bytes;
}

void output_named(onnx::GraphProto& g, const std::string& from, const std::string& name) {
  onnx::NodeProto* id = g.add_node();
  id->set_op_type("Identity");
  id->set_name(name);
  id->add_input(from);
  id->add_output(name);
}

// ---- the preprocessing ----

using feature_column = preprocessor::feature_column;

// The texts a CSV reads as missing (tmlp::is_missing_token).
const std::vector<std::string>& missing_texts() {
  static const std::vector<std::string> texts{"", "NA", "NaN", "null", "?"};
  return texts;
}

// A categorical column's text -> slot table: every missing text to `missing`, each distinct
// text of `levels` (the training levels; a hashed column's texts from hashed_levels) to its slot
// (data::level_slot: a one-hot position, a bucket, or an embedding index), anything else to
// `unseen`. Returns an int64 tensor of the input's shape.
std::string slots_of(graph_builder& b, const std::string& in, const feature_column& f,
                     const std::vector<std::string>& levels, std::int64_t missing,
                     std::int64_t unseen) {
  std::vector<std::string> keys;
  std::vector<std::int64_t> values;
  std::set<std::string> taken;
  for (const std::string& t : missing_texts()) {
    keys.push_back(t);
    values.push_back(missing);
    taken.insert(t);
  }
  for (const std::string& level : levels) {
    if (!taken.insert(level).second) continue;  // a duplicate text: the first one's slot
    keys.push_back(level);
    values.push_back(static_cast<std::int64_t>(data::level_slot(f, level)));
  }
  onnx::NodeProto& n = b.add("LabelEncoder", {in}, ml_domain);
  graph_builder::set(n, "keys_strings", keys);
  graph_builder::set(n, "values_int64s", values);
  graph_builder::set(n, "default_int64", unseen);
  return graph_builder::out(n);
}

// The features of every column, in the preprocessor's feature order (rows x n_features).
std::string preprocessing_nodes(graph_builder& b, const preprocessor& p, const onnx_options& o) {
  const std::vector<feature_column>& cols = p.input_columns();
  std::vector<std::string> blocks;
  std::vector<std::int64_t> position(p.n_features());  // feature -> column of the blocks
  std::int64_t width = 0;

  // Numeric and boolean columns together: ((double(x) - offset) / scale) rounded to float, as
  // tmlp computes it, or the imputed value's feature where x is NaN; then the indicators.
  std::vector<std::string> num_inputs;
  std::vector<double> offset, scale;
  std::vector<float> filled;
  std::vector<std::int64_t> indicator_cols;
  std::vector<const feature_column*> indicated;
  for (const feature_column& f : cols) {
    if (data::is_categorical(f.kind)) continue;
    num_inputs.push_back(f.name);
    offset.push_back(f.offset);
    scale.push_back(f.scale);
    filled.push_back(static_cast<float>((f.fill - f.offset) / f.scale));
    if (f.indicator) {
      indicator_cols.push_back(static_cast<std::int64_t>(num_inputs.size() - 1));
      indicated.push_back(&f);
    }
  }
  if (!num_inputs.empty()) {
    const std::string x =
        num_inputs.size() == 1 ? num_inputs[0] : b.node("Concat", num_inputs, {}, {{"axis", 1}});
    const std::string d = b.node("Cast", {x}, {}, {{"to", onnx::TensorProto::DOUBLE}});
    const std::string z =
        b.node("Div", {b.node("Sub", {d, b.double_constant(offset)}), b.double_constant(scale)});
    const std::string nan = b.node("IsNaN", {x});
    blocks.push_back(b.node(
        "Where",
        {nan, b.constant(filled), b.node("Cast", {z}, {}, {{"to", onnx::TensorProto::FLOAT}})}));
    std::size_t k = 0;
    for (const feature_column& f : cols)
      if (!data::is_categorical(f.kind)) position[f.first_feature] = static_cast<std::int64_t>(k++);
    width = static_cast<std::int64_t>(num_inputs.size());
    if (!indicator_cols.empty()) {
      blocks.push_back(b.node(
          "Cast", {b.node("Gather", {nan, b.int_constant(indicator_cols)}, {}, {{"axis", 1}})}, {},
          {{"to", onnx::TensorProto::FLOAT}}));
      for (const feature_column* f : indicated) position[f->first_feature + 1] = width++;
    }
  }

  // Categorical columns: one-hot (a missing slot after the levels; hashed: no missing slot),
  // or one embedding index (L missing, L + 1 unseen) as a float.
  for (const feature_column& f : cols) {
    if (!data::is_categorical(f.kind)) continue;
    const std::int64_t n_levels = static_cast<std::int64_t>(f.levels.size());
    if (f.embedded) {
      blocks.push_back(b.node("Cast", {slots_of(b, f.name, f, f.levels, n_levels, n_levels + 1)},
                              {}, {{"to", onnx::TensorProto::FLOAT}}));
      position[f.first_feature] = width++;
      continue;
    }
    const std::int64_t w = static_cast<std::int64_t>(data::width(f));
    const std::int64_t missing = f.n_buckets > 0 ? -1 : n_levels;
    const std::vector<std::string>& levels =
        f.n_buckets > 0 ? o.hashed_levels.at(f.name) : f.levels;
    onnx::NodeProto& onehot =
        b.add("OneHotEncoder", {slots_of(b, f.name, f, levels, missing, -1)}, ml_domain);
    std::vector<std::int64_t> cats(static_cast<std::size_t>(w));
    for (std::int64_t i = 0; i < w; ++i) cats[static_cast<std::size_t>(i)] = i;
    graph_builder::set(onehot, "cats_int64s", cats);
    graph_builder::set(onehot, "zeros", std::int64_t{1});  // -1 (unseen): all zeros
    // ONNX's shape inference has no rule for OneHotEncoder: its output's type, for the checker.
    onnx::ValueInfoProto* info = b.graph().add_value_info();
    add_value_info(info, graph_builder::out(onehot), onnx::TensorProto::FLOAT, o.batch, 1);
    info->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(w);
    blocks.push_back(b.node("Flatten", {graph_builder::out(onehot)}, {}, {{"axis", 1}}));
    for (std::int64_t i = 0; i < w; ++i)
      position[f.first_feature + static_cast<std::size_t>(i)] = width++;
  }

  const std::string all =
      blocks.size() == 1 ? blocks[0] : b.node("Concat", blocks, {}, {{"axis", 1}});
  bool in_order = true;
  for (std::size_t i = 0; i < position.size(); ++i)
    in_order = in_order && position[i] == static_cast<std::int64_t>(i);
  return in_order ? all : b.node("Gather", {all, b.int_constant(position)}, {}, {{"axis", 1}});
}

// A prefix for intermediate names that no input column's name starts with.
std::string free_prefix(const std::vector<feature_column>& cols) {
  std::string prefix = "tmlp/";
  auto used = [&] {
    return std::any_of(cols.begin(), cols.end(),
                       [&](const feature_column& c) { return c.name.starts_with(prefix); });
  };
  while (used()) prefix = "_" + prefix;
  return prefix;
}

// An output name that no input column has (name, then name_, name__, ...).
std::string free_name(const std::vector<feature_column>& cols, std::string name) {
  while (std::any_of(cols.begin(), cols.end(),
                     [&](const feature_column& c) { return c.name == name; }))
    name += "_";
  return name;
}

}  // namespace

std::string onnx_bytes(const model& m, const onnx_options& o) {
  check_options(o);
  const auto [net, params] = folded(m);
  onnx::ModelProto model = new_model(o, false);
  onnx::GraphProto& g = *model.mutable_graph();
  graph_builder b(g, "t");
  add_value_info(g.add_input(), "features", onnx::TensorProto::FLOAT, o.batch,
                 static_cast<std::int64_t>(net.n_inputs));
  const std::string x = network_nodes(b, net, params, "features");
  std::string out = x;
  if (!o.raw) {
    if (net.loss.kind == loss_kind::bce) out = b.node("Sigmoid", {x});
    if (net.loss.kind == loss_kind::ce) out = b.node("Softmax", {x}, {}, {{"axis", -1}});
  }
  output_named(g, out, "outputs");
  add_value_info(g.add_output(), "outputs", onnx::TensorProto::FLOAT, o.batch,
                 static_cast<std::int64_t>(net.n_outputs));
  return checked_bytes(model);
}

std::string onnx_bytes(const predictor& p, const onnx_options& o) {
  check_options(o);
  if (o.raw)
    throw error(errc::invalid_argument,
                "--raw: outputs before the sigmoid or softmax are only exported with "
                "--features-only");
  const preprocessor& prep = p.prep();
  const std::vector<feature_column>& cols = prep.input_columns();
  std::vector<std::string> unmapped;
  for (const feature_column& f : cols)
    if (f.n_buckets > 0 && !o.hashed_levels.contains(f.name))
      unmapped.push_back(fmt::format("'{}'", f.name));
  if (!unmapped.empty())
    throw error(
        errc::invalid_argument,
        fmt::format("export: {} {} {} hashed into buckets and the model file keeps no "
                    "texts of {}; give the training data (--levels-from, or levels_from "
                    "in Python and C) to map its texts to their buckets, or export the "
                    "network alone (--features-only)",
                    unmapped.size() == 1 ? "column" : "columns", fmt::join(unmapped, ", "),
                    unmapped.size() == 1 ? "is" : "are", unmapped.size() == 1 ? "it" : "them"));
  const auto [net, params] = folded(p.model());
  onnx::ModelProto model = new_model(o, true);
  onnx::GraphProto& g = *model.mutable_graph();
  graph_builder b(g, free_prefix(cols));
  for (const feature_column& f : cols)
    add_value_info(
        g.add_input(), f.name,
        data::is_categorical(f.kind) ? onnx::TensorProto::STRING : onnx::TensorProto::FLOAT,
        o.batch, 1);

  const std::string z = network_nodes(b, net, params, preprocessing_nodes(b, prep, o));
  if (prep.task() == task_kind::regression) {  // z * scale + offset in double, as tmlp does
    const std::string d = b.node("Cast", {z}, {}, {{"to", onnx::TensorProto::DOUBLE}});
    const std::string v =
        b.node("Add", {b.node("Mul", {d, b.double_constant({prep.target_scale()})}),
                       b.double_constant({prep.target_offset()})});
    const std::string name = free_name(cols, "prediction");
    output_named(g, b.node("Cast", {v}, {}, {{"to", onnx::TensorProto::FLOAT}}), name);
    add_value_info(g.add_output(), name, onnx::TensorProto::FLOAT, o.batch, 1);
    return checked_bytes(model);
  }
  // Probabilities as predictor::class_probabilities gives them, then the label of the first
  // largest (ArgMax keeps the first of equal values, as std::max_element does).
  const std::size_t k = prep.n_classes();
  std::string proba;
  if (prep.task() == task_kind::binary) {
    const std::string s = b.node("Sigmoid", {z});
    proba = b.node("Concat", {b.node("Sub", {b.scalar(1.0f), s}), s}, {}, {{"axis", 1}});
  } else {
    proba = b.node("Softmax", {z}, {}, {{"axis", -1}});
  }
  std::vector<std::int64_t> classes(k);
  for (std::size_t i = 0; i < k; ++i) classes[i] = static_cast<std::int64_t>(i);
  onnx::NodeProto& label = b.add(
      "LabelEncoder", {b.node("ArgMax", {proba}, {}, {{"axis", 1}, {"keepdims", 0}})}, ml_domain);
  graph_builder::set(label, "keys_int64s", classes);
  graph_builder::set(label, "values_strings", prep.class_labels());
  graph_builder::set(label, "default_string", std::string());
  const std::string label_name = free_name(cols, "label");
  const std::string proba_name = free_name(cols, "probabilities");
  output_named(g, graph_builder::out(label), label_name);
  output_named(g, proba, proba_name);
  add_value_info(g.add_output(), label_name, onnx::TensorProto::STRING, o.batch, 0);
  add_value_info(g.add_output(), proba_name, onnx::TensorProto::FLOAT, o.batch,
                 static_cast<std::int64_t>(k));
  return checked_bytes(model);
}

std::string onnx_notice(const predictor& p, const onnx_options& o) {
  std::vector<std::string> hashed;
  for (const feature_column& f : p.prep().input_columns()) {
    if (f.n_buckets == 0) continue;
    const auto it = o.hashed_levels.find(f.name);
    hashed.push_back(fmt::format("'{}' ({} texts)", f.name,
                                 it == o.hashed_levels.end() ? 0 : it->second.size()));
  }
  if (hashed.empty()) return {};
  return fmt::format(
      "export: hashed {} {}: the texts given map to their buckets exactly; ONNX has no operator "
      "for tmlp's hash, so the exported model gives any other text no bucket (all zeros) where "
      "tmlp predict hashes it into one",
      hashed.size() == 1 ? "column" : "columns", fmt::join(hashed, ", "));
}

void add_hashed_levels(onnx_options& o, const predictor& p, const table_view& t) {
  for (const feature_column& f : p.prep().input_columns()) {
    if (f.n_buckets == 0) continue;
    const column_view* c = t.find(f.name);
    if (c == nullptr || !data::is_categorical(c->kind))
      throw error(errc::invalid_argument,
                  fmt::format("{}: {} column '{}', whose texts the export of a hashed column needs",
                              t.source, c ? "has numbers in" : "has no", f.name));
    std::vector<std::string>& texts = o.hashed_levels[f.name];
    std::set<std::string> have(texts.begin(), texts.end());
    for (const std::string& level : c->levels)
      if (have.insert(level).second) texts.push_back(level);
  }
}

namespace {
void write_bytes(const std::string& path, const std::string& bytes) {
  io::write_atomically(path, [&](int fd, const std::string& tmp) {
    io::write_all(fd, bytes.data(), bytes.size(), tmp);
  });
}
}  // namespace

void export_onnx(const model& m, const std::string& path, const onnx_options& o) {
  write_bytes(path, onnx_bytes(m, o));
}

void export_onnx(const predictor& p, const std::string& path, const onnx_options& o) {
  write_bytes(path, onnx_bytes(p, o));
}

bool onnx_available() noexcept { return true; }

}  // namespace tmlp
