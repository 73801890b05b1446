// tmlp::export_onnx: a model as an ONNX graph (built with ONNX's own protobuf schema, from
// Debian's libonnx-dev), checked by ONNX's checker before the file is written atomically.
//
// Work in progress: the network on preprocessed features (--features-only); the raw-column
// preprocessing (ai.onnx.ml operators) comes next.
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/batch_norm.hpp"
#include "core/layer_norm.hpp"
#include "core/model_impl.hpp"
#include "core/network.hpp"
#include "io/file_io.hpp"
#include "tmlp/error.hpp"
#include "tmlp/onnx.hpp"

namespace tmlp {
namespace {

// Builds the graph node by node; every tensor name is unique ("t<n>").
class graph_builder {
 public:
  explicit graph_builder(onnx::GraphProto& g) : g_(g) {}

  std::string fresh() { return fmt::format("t{}", n_++); }

  std::string node(const std::string& op, std::vector<std::string> in,
                   const std::vector<std::pair<std::string, float>>& float_attrs = {},
                   const std::vector<std::pair<std::string, std::int64_t>>& int_attrs = {}) {
    onnx::NodeProto* n = g_.add_node();
    n->set_op_type(op);
    n->set_name(fmt::format("{}_{}", op, n_));
    for (const std::string& i : in) n->add_input(i);
    const std::string out = fresh();
    n->add_output(out);
    for (const auto& [name, v] : float_attrs) {
      onnx::AttributeProto* a = n->add_attribute();
      a->set_name(name);
      a->set_type(onnx::AttributeProto::FLOAT);
      a->set_f(v);
    }
    for (const auto& [name, v] : int_attrs) {
      onnx::AttributeProto* a = n->add_attribute();
      a->set_name(name);
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(v);
    }
    return out;
  }

  // A float initializer of the given shape.
  std::string constant(const float* data, std::vector<std::int64_t> dims) {
    onnx::TensorProto* t = g_.add_initializer();
    const std::string name = fresh();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    std::size_t n = 1;
    for (std::int64_t d : dims) {
      t->add_dims(d);
      n *= static_cast<std::size_t>(d);
    }
    t->set_raw_data(std::string(reinterpret_cast<const char*>(data), n * sizeof(float)));
    return name;
  }
  std::string scalar(float v) { return constant(&v, {}); }
  // An int64 initializer of the given shape.
  std::string int_constant(const std::vector<std::int64_t>& values,
                           std::vector<std::int64_t> dims) {
    onnx::TensorProto* t = g_.add_initializer();
    const std::string name = fresh();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    for (std::int64_t d : dims) t->add_dims(d);
    for (std::int64_t v : values) t->add_int64_data(v);
    return name;
  }

 private:
  onnx::GraphProto& g_;
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

void add_tensor_info(onnx::ValueInfoProto* v, const std::string& name, std::int64_t cols,
                     const std::string& batch) {
  v->set_name(name);
  onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto* s = t->mutable_shape();
  if (batch.empty() || batch[0] < '0' || batch[0] > '9')
    s->add_dim()->set_dim_param(batch.empty() ? "N" : batch);
  else
    s->add_dim()->set_dim_value(std::stoll(batch));
  s->add_dim()->set_dim_value(cols);
}

}  // namespace

std::string onnx_bytes(const model& m, const onnx_options& o) {
  if (o.opset < 17 || o.opset > 21)
    throw error(errc::unsupported,
                fmt::format("--opset: {} is not supported; expected 17 to 21 (LayerNormalization "
                            "needs 17)",
                            o.opset));
  core::network net = core::model_impl(m).net;
  std::vector<float> params = core::model_impl(m).params;
  if (!net.bn_layers.empty()) core::fold_batch_norm(net, params.data());  // as predict does

  onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("tmlp");
  model.add_opset_import()->set_version(o.opset);
  onnx::GraphProto& g = *model.mutable_graph();
  g.set_name("tmlp");
  graph_builder b(g);
  add_tensor_info(g.add_input(), "features", static_cast<std::int64_t>(net.n_inputs), o.batch);

  std::string x = "features";
  if (!net.embeddings.empty()) {
    // The first layer's input: the plain columns as they are, then each table's row. A value
    // selects row floor(v) when 0 <= v < cardinality, else (negative, too large, NaN) the last
    // row, as core::embedding_table::row_of does.
    std::vector<std::string> parts;
    if (!net.plain_columns.empty()) {
      std::vector<std::int64_t> cols(net.plain_columns.begin(), net.plain_columns.end());
      parts.push_back(b.node("Gather",
                             {x, b.int_constant(cols, {static_cast<std::int64_t>(cols.size())})},
                             {}, {{"axis", 1}}));
    }
    for (const core::embedding_table& t : net.embeddings) {
      const auto card = static_cast<float>(t.cardinality);
      const std::string v =
          b.node("Gather", {x, b.int_constant({static_cast<std::int64_t>(t.column)}, {1})}, {},
                 {{"axis", 1}});
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
  std::string out = x;
  if (!o.raw) {
    if (net.loss.kind == loss_kind::bce) out = b.node("Sigmoid", {x});
    if (net.loss.kind == loss_kind::ce) out = b.node("Softmax", {x}, {}, {{"axis", -1}});
  }
  onnx::NodeProto* id = g.add_node();
  id->set_op_type("Identity");
  id->set_name("outputs");
  id->add_input(out);
  id->add_output("outputs");
  add_tensor_info(g.add_output(), "outputs", static_cast<std::int64_t>(net.n_outputs), o.batch);

  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throw error(errc::unsupported,
                fmt::format("export: ONNX's checker refused the graph: {}", e.what()));
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    throw error(errc::io, "export: the ONNX model could not be serialized");
  return bytes;
}

void export_onnx(const model& m, const std::string& path, const onnx_options& o) {
  const std::string bytes = onnx_bytes(m, o);
  io::write_atomically(path, [&](int fd, const std::string& tmp) {
    io::write_all(fd, bytes.data(), bytes.size(), tmp);
  });
}

bool onnx_available() noexcept { return true; }

}  // namespace tmlp
