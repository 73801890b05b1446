// network_nodes: tmlp's layers as ONNX operators (src/onnx/graph.hpp).
#include <cmath>

#include "core/layer_norm.hpp"
#include "onnx/graph.hpp"
#include "tmlp/error.hpp"

namespace tmlp::onnx_export {
namespace {

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

// relu(W [sin(z), cos(z)] + b), z = (2 pi c) x, of column t.column of x: rows x t.dim, as
// core::periodic_forward computes it (2 pi c rounded to float first).
std::string periodic_nodes(graph_builder& b, const core::periodic_table& t,
                           const std::vector<float>& params, const std::string& x) {
  const auto k = static_cast<std::int64_t>(t.n_frequencies);
  std::vector<float> freq(t.n_frequencies);
  for (std::size_t m = 0; m < t.n_frequencies; ++m) freq[m] = core::two_pi * params[t.offset + m];
  const std::string v = b.node("Gather", {x, b.int_constant({static_cast<std::int64_t>(t.column)})},
                               {}, {{"axis", 1}});
  const std::string z = b.node("Mul", {v, b.constant(freq.data(), {1, k})});
  const std::string sc =
      b.node("Concat", {b.node("Sin", {z}), b.node("Cos", {z})}, {}, {{"axis", 1}});
  const std::string w =
      b.constant(params.data() + t.w_offset(), {static_cast<std::int64_t>(t.dim), 2 * k});
  const std::string bias =
      b.constant(params.data() + t.b_offset(), {static_cast<std::int64_t>(t.dim)});
  return b.node("Relu", {b.node("Gemm", {sc, w, bias}, {}, {{"transB", 1}})});
}

}  // namespace

// The network on x (rows x net.n_inputs floats): its last layer's outputs (logits for bce and
// ce). Batch norm must be folded into params already.
std::string network_nodes(graph_builder& b, const core::network& net,
                          const std::vector<float>& params, std::string x) {
  if (net.scale_offset != core::no_offset) {  // x * s, 1 for the index columns (exact)
    std::vector<float> s(net.n_inputs, 1.0f);
    for (std::size_t j = 0; j < net.scaled_columns.size(); ++j)
      s[net.scaled_columns[j]] = params[net.scale_offset + j];
    x = b.node("Mul", {x, b.constant(s)});
  }
  if (!net.embeddings.empty() || !net.periodic.empty()) {
    // The first layer's input: the plain columns as they are, then each table's row, then each
    // periodic embedding's values. A value selects row floor(v) when 0 <= v < cardinality,
    // else (negative, too large, NaN) the last row, as core::embedding_table::row_of does.
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
    for (const core::periodic_table& t : net.periodic)
      parts.push_back(periodic_nodes(b, t, params, x));
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

}  // namespace tmlp::onnx_export
