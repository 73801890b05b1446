// tmlp::export_onnx: a model as an ONNX graph (built with ONNX's own protobuf schema, from
// Debian's libonnx-dev), checked by ONNX's checker before the file is written atomically.
//
// Two front ends share the network's translation (network_nodes.cpp):
// - the whole model (a tmlp::predictor): one input per training column, the preprocessing
//   (preprocessing_nodes.cpp), outputs as `tmlp predict` gives them;
// - the network alone (a tmlp::model): one float input of preprocessed features.
// An ensemble's members (a predictor's, or a loaded_model's) are each translated, and their
// outputs averaged in the graph as predict_mean averages them (outputs_mean).
#include <onnx/checker.h>

#include <set>
#include <span>

#include "core/batch_norm.hpp"
#include "core/model_impl.hpp"
#include "data/preprocess_parts.hpp"
#include "io/file_io.hpp"
#include "onnx/graph.hpp"
#include "tmlp/ensemble.hpp"
#include "tmlp/error.hpp"
#include "tmlp/version.hpp"

namespace tmlp {
namespace {

using namespace onnx_export;
using feature_column = preprocessor::feature_column;

void check_options(const onnx_options& o) {
  if (o.opset < 17 || o.opset > 21)
    throw error(errc::unsupported,
                fmt::format("--opset: {} is not supported; expected 17 to 21 (LayerNormalization "
                            "needs 17)",
                            o.opset));
  const std::string& n = o.batch;
  const bool digits = is_row_count(n);
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
  const core::aligned_vector<float>& own = core::model_impl(m).params;
  std::vector<float> params(own.begin(), own.end());
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

// The outputs of the members on x as model::predict gives them (a sigmoid for bce, a softmax for
// ce unless raw), and for more than one member their mean as predict_mean takes it: summed in
// double in member order, divided by the count, then float.
std::string outputs_mean(graph_builder& b, std::span<const model* const> members,
                         const std::string& x, bool raw) {
  if (raw && members.size() > 1)
    throw error(errc::invalid_argument,
                fmt::format("--raw: the model is an ensemble of {} members, whose prediction is "
                            "the mean of their probabilities; raw outputs are exported for one "
                            "model only",
                            members.size()));
  std::vector<std::string> outs;
  for (const model* m : members) {
    const std::pair<core::network, std::vector<float>> f = folded(*m);
    std::string out = network_nodes(b, f.first, f.second, x);
    if (!raw && f.first.loss.kind == loss_kind::bce) out = b.node("Sigmoid", {out});
    if (!raw && f.first.loss.kind == loss_kind::ce)
      out = b.node("Softmax", {out}, {}, {{"axis", -1}});
    outs.push_back(out);
  }
  if (outs.size() == 1) return outs[0];
  std::vector<std::string> wide;
  for (const std::string& out : outs)
    wide.push_back(b.node("Cast", {out}, {}, {{"to", onnx::TensorProto::DOUBLE}}));
  const std::string sum = b.node("Sum", wide);
  const std::string mean =
      b.node("Div", {sum, b.double_constant({static_cast<double>(outs.size())})});
  return b.node("Cast", {mean}, {}, {{"to", onnx::TensorProto::FLOAT}});
}

// The network alone on "features", members averaged.
std::string network_bytes(std::span<const model* const> members, const onnx_options& o) {
  check_options(o);
  onnx::ModelProto model = new_model(o, false);
  onnx::GraphProto& g = *model.mutable_graph();
  graph_builder b(g, "t");
  add_value_info(g.add_input(), "features", onnx::TensorProto::FLOAT, o.batch,
                 static_cast<std::int64_t>(members[0]->n_inputs()));
  output_named(g, outputs_mean(b, members, "features", o.raw), "outputs");
  add_value_info(g.add_output(), "outputs", onnx::TensorProto::FLOAT, o.batch,
                 static_cast<std::int64_t>(members[0]->n_outputs()));
  return checked_bytes(model);
}

}  // namespace

std::string onnx_bytes(const model& m, const onnx_options& o) {
  const model* one[] = {&m};
  return network_bytes(one, o);
}

std::string onnx_bytes(const loaded_model& l, const onnx_options& o) {
  return network_bytes(members_of(l), o);
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
  onnx::ModelProto model = new_model(o, true);
  onnx::GraphProto& g = *model.mutable_graph();
  graph_builder b(g, free_prefix(cols));
  for (const feature_column& f : cols)
    add_value_info(
        g.add_input(), f.name,
        data::is_categorical(f.kind) ? onnx::TensorProto::STRING : onnx::TensorProto::FLOAT,
        o.batch, 1);

  // The members' mean of what predictor::outputs gives: probabilities, or standardized values.
  const std::string z =
      outputs_mean(b, members_of(p.file()), preprocessing_nodes(b, prep, o), false);
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
  if (prep.task() == task_kind::binary)
    proba = b.node("Concat", {b.node("Sub", {b.scalar(1.0f), z}), z}, {}, {{"axis", 1}});
  else
    proba = z;
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

void export_onnx(const loaded_model& l, const std::string& path, const onnx_options& o) {
  write_bytes(path, onnx_bytes(l, o));
}

void export_onnx(const predictor& p, const std::string& path, const onnx_options& o) {
  write_bytes(path, onnx_bytes(p, o));
}

bool onnx_available() noexcept { return true; }

}  // namespace tmlp
