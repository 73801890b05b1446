// The pieces of tmlp::export_onnx (src/onnx/): a graph builder over ONNX's protobuf schema and
// the two translations the front ends (export_onnx.cpp) put together:
// - network_nodes (network_nodes.cpp): the layers, batch norm folded, on a features tensor;
// - preprocessing_nodes (preprocessing_nodes.cpp): a predictor's preprocessing, from one input
//   per training column to the features tensor.
#pragma once

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/network.hpp"
#include "tmlp/onnx.hpp"
#include "tmlp/preprocess.hpp"

namespace tmlp::onnx_export {

// The operator sets a file imports: the standard one (onnx_options::opset) and ai.onnx.ml
// version 3 (LabelEncoder-2, OneHotEncoder-1), which ONNX 1.12 (Debian's) and ONNX Runtime know.
inline constexpr const char* ml_domain = "ai.onnx.ml";
inline constexpr std::int64_t ml_opset = 3;

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

// A batch of only digits is a fixed row count, anything else a symbolic name.
inline bool is_row_count(const std::string& batch) {
  return !batch.empty() &&
         std::all_of(batch.begin(), batch.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Declares a tensor of `type`: [batch] then [cols] when cols > 0.
inline void add_value_info(onnx::ValueInfoProto* v, const std::string& name, int type,
                           const std::string& batch, std::int64_t cols) {
  v->set_name(name);
  onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(type);
  onnx::TensorShapeProto* s = t->mutable_shape();
  if (is_row_count(batch))
    s->add_dim()->set_dim_value(std::stoll(batch));
  else
    s->add_dim()->set_dim_param(batch);
  if (cols > 0) s->add_dim()->set_dim_value(cols);
}

// The last layer's outputs (logits for bce and ce) of the network on x (rows x net.n_inputs).
// Batch norm must be folded into params already.
std::string network_nodes(graph_builder& b, const core::network& net,
                          const std::vector<float>& params, std::string x);

// The features of every input column of p (one graph input each, named as the column), in the
// preprocessor's feature order (rows x n_features).
std::string preprocessing_nodes(graph_builder& b, const preprocessor& p, const onnx_options& o);

}  // namespace tmlp::onnx_export
