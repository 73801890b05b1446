// preprocessing_nodes: a predictor's preprocessing as ai.onnx.ml and standard operators
// (src/onnx/graph.hpp).
#include <algorithm>
#include <limits>
#include <set>

#include "data/preprocess_parts.hpp"
#include "onnx/graph.hpp"

namespace tmlp::onnx_export {
namespace {

using feature_column = preprocessor::feature_column;

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
  for (const std::string_view t : missing_tokens) {  // as a CSV reads them
    keys.emplace_back(t);
    values.push_back(missing);
    taken.emplace(t);
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

// One quantile-mapped column's z (double, rows x 1) through its map, as scaled_value computes
// it: z clamped to the knots, j = how many knots after the first and before the last are <= z,
// then values[j] + (z - knots[j]) * slopes[j].
std::string quantile_map(graph_builder& b, const std::string& z, const feature_column& f) {
  const std::string zc = b.node("Max", {b.node("Min", {z, b.double_constant({f.knots.back()})}),
                                        b.double_constant({f.knots.front()})});
  if (f.knots.size() <= 2)  // one interval (or one knot): j is 0
    return b.node("Add", {b.double_constant({f.values[0]}),
                          b.node("Mul", {b.node("Sub", {zc, b.double_constant({f.knots[0]})}),
                                         b.double_constant({f.slopes[0]})})});
  const std::vector<double> inner(f.knots.begin() + 1, f.knots.end() - 1);
  const std::string below = b.node("Cast", {b.node("LessOrEqual", {b.double_constant(inner), zc})},
                                   {}, {{"to", onnx::TensorProto::INT64}});
  const std::string j = b.node("ReduceSum", {below, b.int_constant({1})}, {}, {{"keepdims", 1}});
  auto at = [&](const std::vector<double>& table) {
    return b.node("Gather", {b.double_constant(table), j}, {}, {{"axis", 0}});
  };
  return b.node("Add",
                {at(f.values), b.node("Mul", {b.node("Sub", {zc, at(f.knots)}), at(f.slopes)})});
}

// A piecewise-linear column's T features (float, rows x T) from its input x (float, rows x 1),
// as encode_piecewise computes them: x imputed, then (x - knots[t]) / (knots[t + 1] - knots[t])
// clamped to [0, 1] but for the ends (-inf and +inf bounds).
std::string piecewise_nodes(graph_builder& b, const std::string& x, const feature_column& f) {
  const std::size_t n_bins = f.knots.size() - 1;
  std::vector<double> lo(f.knots.begin(), f.knots.end() - 1), width, floor(n_bins, 0.0),
      ceil(n_bins, 1.0);
  for (std::size_t t = 0; t < n_bins; ++t) width.push_back(f.knots[t + 1] - f.knots[t]);
  floor.front() = -std::numeric_limits<double>::infinity();
  ceil.back() = std::numeric_limits<double>::infinity();
  const std::string d =
      b.node("Where", {b.node("IsNaN", {x}), b.double_constant({f.fill}),
                       b.node("Cast", {x}, {}, {{"to", onnx::TensorProto::DOUBLE}})});
  const std::string e =
      b.node("Div", {b.node("Sub", {d, b.double_constant(lo)}), b.double_constant(width)});
  const std::string clamped =
      b.node("Min", {b.node("Max", {e, b.double_constant(floor)}), b.double_constant(ceil)});
  return b.node("Cast", {clamped}, {}, {{"to", onnx::TensorProto::FLOAT}});
}

// The numeric columns' z (double, rows x columns) through each column's map (scaled_value).
std::string numeric_maps(graph_builder& b, std::string z,
                         const std::vector<const feature_column*>& numeric) {
  using map_kind = feature_column::map_kind;
  std::vector<std::int64_t> clipped;
  bool any_quantile = false;
  for (const feature_column* f : numeric) {
    clipped.push_back(f->map == map_kind::smooth_clip);
    any_quantile = any_quantile || f->map == map_kind::quantile;
  }
  if (std::find(clipped.begin(), clipped.end(), 1) != clipped.end()) {
    const std::string t = b.node("Div", {z, b.double_constant({3.0})});
    const std::string c = b.node(
        "Div",
        {z, b.node("Sqrt", {b.node("Add", {b.double_constant({1.0}), b.node("Mul", {t, t})})})});
    const std::string mask =
        b.node("Cast", {b.int_constant(clipped)}, {}, {{"to", onnx::TensorProto::BOOL}});
    z = b.node("Where", {mask, c, z});
  }
  if (!any_quantile) return z;
  std::vector<std::string> parts;
  for (std::size_t k = 0; k < numeric.size(); ++k) {
    const std::string zk = b.node(
        "Gather", {z, b.int_constant({static_cast<std::int64_t>(k)}, {1})}, {}, {{"axis", 1}});
    parts.push_back(numeric[k]->map == map_kind::quantile ? quantile_map(b, zk, *numeric[k]) : zk);
  }
  return parts.size() == 1 ? parts[0] : b.node("Concat", parts, {}, {{"axis", 1}});
}

// Numeric and boolean columns together: z = (double(x) - offset) / scale, through each column's
// map (smooth clip, quantile), rounded to float, as tmlp computes it (scaled_value), or the
// imputed value's feature where x is NaN; then the indicators, then the piecewise-linear bins.
// Appends the blocks and each feature's column in them (position), advancing width.
void numeric_blocks(graph_builder& b, const std::vector<feature_column>& cols,
                    std::vector<std::string>& blocks, std::vector<std::int64_t>& position,
                    std::int64_t& width) {
  std::vector<std::string> num_inputs;
  std::vector<double> offset, scale;
  std::vector<float> filled;
  std::vector<std::int64_t> indicator_cols;
  std::vector<const feature_column*> indicated, numeric;
  for (const feature_column& f : cols) {
    if (data::is_categorical(f.kind)) continue;
    num_inputs.push_back(f.name);
    numeric.push_back(&f);
    offset.push_back(f.offset);
    scale.push_back(f.scale);
    filled.push_back(data::scaled_value(f, f.fill));
    if (f.indicator) {
      indicator_cols.push_back(static_cast<std::int64_t>(num_inputs.size() - 1));
      indicated.push_back(&f);
    }
  }
  if (num_inputs.empty()) return;
  const std::string x =
      num_inputs.size() == 1 ? num_inputs[0] : b.node("Concat", num_inputs, {}, {{"axis", 1}});
  const std::string d = b.node("Cast", {x}, {}, {{"to", onnx::TensorProto::DOUBLE}});
  const std::string z = numeric_maps(
      b, b.node("Div", {b.node("Sub", {d, b.double_constant(offset)}), b.double_constant(scale)}),
      numeric);
  const std::string nan = b.node("IsNaN", {x});
  blocks.push_back(b.node("Where", {nan, b.constant(filled),
                                    b.node("Cast", {z}, {}, {{"to", onnx::TensorProto::FLOAT}})}));
  // A piecewise-linear column's place in this block goes unused: its bins follow.
  std::size_t k = 0;
  for (const feature_column* f : numeric) {
    if (f->map != feature_column::map_kind::piecewise_linear)
      position[f->first_feature] = static_cast<std::int64_t>(k);
    ++k;
  }
  width = static_cast<std::int64_t>(num_inputs.size());
  if (!indicator_cols.empty()) {
    blocks.push_back(
        b.node("Cast", {b.node("Gather", {nan, b.int_constant(indicator_cols)}, {}, {{"axis", 1}})},
               {}, {{"to", onnx::TensorProto::FLOAT}}));
    for (const feature_column* f : indicated)
      position[f->first_feature + data::width(*f) - 1] = width++;
  }
  for (const feature_column* f : numeric) {
    if (f->map != feature_column::map_kind::piecewise_linear) continue;
    blocks.push_back(piecewise_nodes(b, f->name, *f));
    for (std::size_t t = 0; t + 1 < f->knots.size(); ++t) position[f->first_feature + t] = width++;
  }
}

}  // namespace

// The features of every column, in the preprocessor's feature order (rows x n_features).
std::string preprocessing_nodes(graph_builder& b, const preprocessor& p, const onnx_options& o) {
  const std::vector<feature_column>& cols = p.input_columns();
  std::vector<std::string> blocks;
  std::vector<std::int64_t> position(p.n_features());  // feature -> column of the blocks
  std::int64_t width = 0;

  numeric_blocks(b, cols, blocks, position, width);

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
  bool in_order = width == static_cast<std::int64_t>(position.size());
  for (std::size_t i = 0; i < position.size(); ++i)
    in_order = in_order && position[i] == static_cast<std::int64_t>(i);
  return in_order ? all : b.node("Gather", {all, b.int_constant(position)}, {}, {{"axis", 1}});
}

}  // namespace tmlp::onnx_export
