// Pieces of the preprocessor shared by its fitting (preprocess.cpp), its transforms
// (preprocess_transform.cpp) and its JSON form (preprocess_json.cpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tmlp/data.hpp"
#include "tmlp/preprocess.hpp"

namespace tmlp::data {

// Largest cardinality of an embedded column: every index below it is exact in float32.
inline constexpr std::size_t max_embedding_cardinality = std::size_t{1} << 24;

// Throws tmlp::error (errc::invalid_data) with this message.
[[noreturn]] void fail(const std::string& what);

inline bool is_categorical(column_kind k) noexcept { return k == column_kind::categorical; }

// A numeric or boolean class value as text ("3", "0.5").
std::string number_label(double v);

// The column's entries must match the table's row count (a hand-built view could differ).
void check_length(const table_view& t, const column_view& c);

// The column `name` of t with a kind compatible with `kind` (numeric and boolean are); throws
// naming the table, the column and the problem.
const column_view& need_column(const table_view& t, const std::string& name, column_kind kind);

// The interval j of a quantile map that z (clamped to the knots) falls in: the last knot <= z,
// at most the second-to-last knot. 0 when there is one knot (then the map is constant).
inline std::size_t quantile_interval(const preprocessor::feature_column& f, double z) noexcept {
  const auto it = std::upper_bound(f.knots.begin(), f.knots.end(), z);
  const std::size_t j = static_cast<std::size_t>(it - f.knots.begin());
  return f.knots.size() < 2 ? 0 : std::min(j == 0 ? 0 : j - 1, f.knots.size() - 2);
}

// Fills f.values and f.slopes from f.knots (sorted, distinct) and each knot's probability p
// (increasing in (0, 1)): the normal score of each, clipped to +-5.2 (p within 1e-7 of 0 or 1).
void set_quantile_map(preprocessor::feature_column& f, const std::vector<double>& p);
// f.slopes from f.knots and f.values (one knot: one slope of 0).
void set_quantile_slopes(preprocessor::feature_column& f);

// levels sorted by text (stable: the first of equal texts wins), for level_slot's look-ups.
void index_levels(preprocessor::feature_column& f);

// The feature slot (0-based within the column's features; an embedded column's index) of a
// level's text, or -1 when the level was not seen in training. bind() maps each code of a table
// through it once.
std::ptrdiff_t level_slot(const preprocessor::feature_column& f, std::string_view level) noexcept;

// A numeric or boolean value's scaled feature (imputed first when NaN): the one formula the
// transforms and the ONNX export's constants share.
inline float scaled_value(const preprocessor::feature_column& f, double x) noexcept {
  using map_kind = preprocessor::feature_column::map_kind;
  if (std::isnan(x)) x = f.fill;
  double z = (x - f.offset) / f.scale;
  if (f.map == map_kind::smooth_clip) {
    const double t = z / 3.0;
    z = z / std::sqrt(1.0 + t * t);
  } else if (f.map == map_kind::quantile) {
    z = std::clamp(z, f.knots.front(), f.knots.back());
    const std::size_t j = quantile_interval(f, z);
    z = f.values[j] + (z - f.knots[j]) * f.slopes[j];
  }
  return static_cast<float>(z);
}

// A piecewise-linear column's T features of one value (imputed first when NaN) into out.
inline void encode_piecewise(const preprocessor::feature_column& f, double x, float* out) noexcept {
  if (std::isnan(x)) x = f.fill;
  const std::size_t n_bins = f.knots.size() - 1;
  for (std::size_t t = 0; t < n_bins; ++t) {
    double e = (x - f.knots[t]) / (f.knots[t + 1] - f.knots[t]);
    if (t > 0) e = std::max(e, 0.0);
    if (t + 1 < n_bins) e = std::min(e, 1.0);
    out[t] = static_cast<float>(e);
  }
}

// How many features the column becomes.
std::size_t width(const preprocessor::feature_column& f) noexcept;

// Appends the names of the column's features.
void append_feature_names(const preprocessor::feature_column& f, std::vector<std::string>& names);

}  // namespace tmlp::data
