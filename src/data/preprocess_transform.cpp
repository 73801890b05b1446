// Applying a fitted preprocessor: checking and binding a table, transforming rows (all of them,
// or those a batch asks for) and targets.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include <fmt/format.h>

#include "core/assert.hpp"
#include "data/preprocess_parts.hpp"
#include "tmlp/error.hpp"
#include "tmlp/preprocess.hpp"

namespace tmlp {

using namespace data;

namespace {

// One numeric or boolean value's features: the scaled value, then the indicator if any.
inline void put_numeric(const preprocessor::feature_column& f, float v, float* x) noexcept {
  std::size_t w = 1;
  if (f.map == preprocessor::feature_column::map_kind::piecewise_linear) {
    encode_piecewise(f, v, x);
    w = f.knots.size() - 1;
  } else {
    x[0] = scaled_value(f, v);
  }
  if (f.indicator) x[w] = std::isnan(v) ? 1.0f : 0.0f;
}

}  // namespace

void preprocessor::check(const table_view& t) const {
  for (const feature_column& f : columns_) (void)need_column(t, f.name, f.kind);
}

matrix preprocessor::features(const table_view& t, transform_report* report) const {
  const binding bound = bind(t);
  matrix x(t.n_rows, n_features_);
  std::vector<std::uint32_t> every_row(t.n_rows);
  std::iota(every_row.begin(), every_row.end(), 0u);
  transform_rows(bound, every_row.data(), t.n_rows, x.data());
  if (report) {  // present values whose level training never saw
    report->unseen = 0;
    for (std::size_t k = 0; k < columns_.size(); ++k) {
      if (!is_categorical(columns_[k].kind)) continue;
      const std::vector<std::int32_t>& slots = bound.slots[k];
      for (const std::int32_t code : bound.columns[k]->codes)
        report->unseen += code >= 0 && (static_cast<std::size_t>(code) >= slots.size() ||
                                        slots[static_cast<std::size_t>(code)] < 0);
    }
  }
  return x;
}

preprocessor::binding preprocessor::bind(const table_view& t) const {
  check(t);
  binding b;
  for (const feature_column& f : columns_) {
    const column_view* c = t.find(f.name);
    b.columns.push_back(c);
    std::vector<std::int32_t> slots;
    if (is_categorical(f.kind))
      for (const std::string& level : c->levels)
        slots.push_back(static_cast<std::int32_t>(level_slot(f, level)));
    b.slots.push_back(std::move(slots));
  }
  return b;
}

void preprocessor::transform_rows(const binding& b, const std::uint32_t* idx, std::size_t n,
                                  float* out) const noexcept {
  TMLP_ASSERT(b.columns.size() == columns_.size());  // bound by this preprocessor
  const std::size_t nf = n_features_;
  std::fill(out, out + n * nf, 0.0f);
  for (std::size_t k = 0; k < columns_.size(); ++k) {
    const feature_column& f = columns_[k];
    const column_view* c = b.columns[k];
    float* x = out + f.first_feature;
    if (!is_categorical(f.kind)) {
      for (std::size_t i = 0; i < n; ++i) put_numeric(f, c->values[idx[i]], x + i * nf);
      continue;
    }
    const std::vector<std::int32_t>& slots = b.slots[k];
    if (f.embedded) {  // one index: the level's, then L for missing, L + 1 for unseen
      const std::size_t n_levels = f.levels.size();
      for (std::size_t i = 0; i < n; ++i) {
        const std::int32_t code = c->codes[idx[i]];
        std::size_t index = n_levels + 1;
        if (code < 0)
          index = n_levels;
        else if (static_cast<std::size_t>(code) < slots.size() &&
                 slots[static_cast<std::size_t>(code)] >= 0)
          index = static_cast<std::size_t>(slots[static_cast<std::size_t>(code)]);
        x[i * nf] = static_cast<float>(index);
      }
      continue;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const std::int32_t code = c->codes[idx[i]];
      if (code < 0) {
        if (f.n_buckets == 0) x[i * nf + f.levels.size()] = 1.0f;  // the missing slot
      } else if (static_cast<std::size_t>(code) < slots.size()) {
        const std::int32_t s = slots[static_cast<std::size_t>(code)];
        if (s >= 0) x[i * nf + static_cast<std::size_t>(s)] = 1.0f;  // else unseen: all zeros
      }
    }
  }
}

matrix preprocessor::targets(const table_view& t) const {
  const column_view& c = need_column(t, target_, target_kind_);
  matrix y(t.n_rows, 1);
  std::unordered_map<std::string_view, std::size_t> index;
  for (std::size_t i = 0; i < class_labels_.size(); ++i) index.emplace(class_labels_[i], i);
  std::vector<std::ptrdiff_t> level_class(c.levels.size(), -1);
  for (std::size_t i = 0; i < c.levels.size(); ++i)
    if (auto it = index.find(c.levels[i]); it != index.end())
      level_class[i] = static_cast<std::ptrdiff_t>(it->second);
  for (std::size_t r = 0; r < t.n_rows; ++r) {
    const bool missing = is_categorical(c.kind) ? c.codes[r] < 0 : std::isnan(c.values[r]);
    if (missing)
      fail(fmt::format("{}: target '{}' is missing in row {}", t.source, target_, r + 1));
    if (task_ == task_kind::regression) {
      y(r, 0) = static_cast<float>((c.values[r] - target_offset_) / target_scale_);
      continue;
    }
    std::ptrdiff_t cls = -1;
    std::string text;
    if (is_categorical(c.kind)) {
      const auto code = static_cast<std::size_t>(c.codes[r]);
      if (code >= c.levels.size())
        fail(fmt::format("{}: target '{}' row {} has level code {} but {} levels", t.source,
                         target_, r + 1, code, c.levels.size()));
      cls = level_class[code];
      text = c.levels[code];
    } else {
      text = c.kind == column_kind::boolean ? (c.values[r] != 0.0f ? "true" : "false")
                                            : number_label(c.values[r]);
      if (auto it = index.find(text); it != index.end())
        cls = static_cast<std::ptrdiff_t>(it->second);
    }
    if (cls < 0)
      fail(fmt::format("{}: target '{}' row {} is '{}', a class not seen in training", t.source,
                       target_, r + 1, text));
    y(r, 0) = static_cast<float>(cls);
  }
  return y;
}

}  // namespace tmlp
