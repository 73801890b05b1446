// Preprocessing fitted on training rows: imputation, scaling, one-hot, hashed or embedded
// categories, target encoding; whole-table and per-row transforms; serialized as JSON for the
// model file.
#include "tmlp/preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/assert.hpp"
#include "io/file_io.hpp"
#include "tmlp/error.hpp"

namespace tmlp {

std::string_view to_string(task_kind t) noexcept {
  switch (t) {
    case task_kind::regression:
      return "regression";
    case task_kind::binary:
      return "binary";
    case task_kind::multiclass:
      return "multiclass";
  }
  return "?";
}

namespace {

[[noreturn]] void fail(const std::string& what) { throw error(errc::invalid_data, what); }

// Largest number of distinct integer values a numeric target may have to be read as classes.
constexpr std::size_t max_inferred_classes = 32;

// Largest cardinality of an embedded column: every index below it is exact in float32.
constexpr std::size_t max_embedding_cardinality = std::size_t{1} << 24;

// The training rows: the caller's list, or every row of the table when the list is empty
// (visited without materializing the list).
class row_set {
 public:
  row_set(const std::vector<std::uint32_t>& list, std::size_t n_rows) noexcept
      : list_(list), n_rows_(n_rows) {}
  std::size_t size() const noexcept { return list_.empty() ? n_rows_ : list_.size(); }
  template <class F>
  void each(F&& f) const {
    if (list_.empty()) {
      for (std::size_t r = 0; r < n_rows_; ++r) f(r);
    } else {
      for (std::uint32_t r : list_) f(std::size_t{r});
    }
  }

 private:
  const std::vector<std::uint32_t>& list_;
  std::size_t n_rows_;
};

std::string number_label(double v) {
  return v == std::floor(v) && std::fabs(v) < 1e15 ? fmt::format("{}", static_cast<long long>(v))
                                                   : fmt::format("{}", v);
}

bool is_categorical(column_kind k) noexcept { return k == column_kind::categorical; }

// The column's entries must match the table's row count (a hand-built view could differ).
void check_length(const table_view& t, const column_view& c) {
  const std::size_t n = is_categorical(c.kind) ? c.codes.size() : c.values.size();
  if (n != t.n_rows)
    fail(fmt::format("{}: column '{}' has {} entries for {} rows", t.source, c.name, n, t.n_rows));
}

// Numeric or boolean feature: imputation value and scaling from the training rows. Sums run in
// row order in double precision, as a copy of the present values would.
void fit_numeric(const column_view& c, const row_set& rows, const preprocess_options& o,
                 preprocessor::feature_column& f) {
  double sum = 0.0;
  std::size_t n = 0;
  rows.each([&](std::size_t r) {
    const float x = c.values[r];
    if (!std::isnan(x)) {
      sum += x;
      ++n;
    }
  });
  f.indicator = o.missing_indicators && n < rows.size();
  if (n == 0) return;  // all missing: fill 0, identity scaling
  const double mean = sum / static_cast<double>(n);
  if (o.impute == imputation::median) {
    std::vector<double> v;  // the one copy: this column's present training values
    v.reserve(n);
    rows.each([&](std::size_t r) {
      if (!std::isnan(c.values[r])) v.push_back(c.values[r]);
    });
    auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
    std::nth_element(v.begin(), mid, v.end());
    f.fill = *mid;
  } else {
    f.fill = mean;
  }
  if (o.scale == scaling::standardize) {
    double ss = 0.0;
    rows.each([&](std::size_t r) {
      const double x = c.values[r];
      if (!std::isnan(x)) ss += (x - mean) * (x - mean);
    });
    const double sd = std::sqrt(ss / static_cast<double>(n));
    f.offset = mean;
    f.scale = sd > 0.0 ? sd : 1.0;
  } else if (o.scale == scaling::minmax) {
    // std::minmax_element's choice among equal values: the first smallest, the last largest.
    bool first = true;
    double lo = 0.0, hi = 0.0;
    rows.each([&](std::size_t r) {
      const double x = c.values[r];
      if (std::isnan(x)) return;
      if (first) {
        lo = hi = x;
        first = false;
        return;
      }
      if (x < lo) lo = x;
      if (!(x < hi)) hi = x;
    });
    f.offset = lo;
    f.scale = hi > lo ? hi - lo : 1.0;
  }
}

// levels sorted by text (stable: the first of equal texts wins), for level_slot's look-ups.
void index_levels(preprocessor::feature_column& f) {
  f.level_order.resize(f.levels.size());
  for (std::size_t i = 0; i < f.levels.size(); ++i)
    f.level_order[i] = static_cast<std::uint32_t>(i);
  std::stable_sort(f.level_order.begin(), f.level_order.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return f.levels[a] < f.levels[b]; });
}

// The feature slot (0-based within the column's features; an embedded column's index) of a
// level's text, or -1 when the level was not seen in training. bind() maps each code of a table
// through it once.
std::ptrdiff_t level_slot(const preprocessor::feature_column& f, std::string_view level) noexcept {
  if (f.n_buckets > 0) return static_cast<std::ptrdiff_t>(io::fnv1a(level) % f.n_buckets);
  const auto it = std::lower_bound(
      f.level_order.begin(), f.level_order.end(), level,
      [&](std::uint32_t i, std::string_view text) { return std::string_view(f.levels[i]) < text; });
  if (it == f.level_order.end() || f.levels[*it] != level) return -1;
  return static_cast<std::ptrdiff_t>(*it);
}

void fit_categorical(const column_view& c, const row_set& rows, const preprocess_options& o,
                     preprocessor::feature_column& f) {
  std::vector<char> seen(c.levels.size(), 0);
  rows.each([&](std::size_t r) {
    if (c.codes[r] >= 0) seen[static_cast<std::size_t>(c.codes[r])] = 1;
  });
  for (std::size_t i = 0; i < c.levels.size(); ++i)
    if (seen[i]) f.levels.push_back(c.levels[i]);
  if (f.levels.size() > o.one_hot_max && o.embed) {
    if (f.levels.size() + 2 > max_embedding_cardinality)
      throw error(errc::invalid_argument,
                  fmt::format("preprocess: column '{}' has {} levels; an embedded column allows at "
                              "most {} (levels + 2 must fit float32 exactly)",
                              f.name, f.levels.size(), max_embedding_cardinality - 2));
    f.embedded = true;
  } else if (f.levels.size() > o.one_hot_max) {
    f.n_buckets = o.one_hot_max;
    f.levels.clear();
  }
  index_levels(f);
}

std::size_t width(const preprocessor::feature_column& f) noexcept {
  if (f.kind != column_kind::categorical) return f.indicator ? 2 : 1;
  if (f.embedded) return 1;
  return f.n_buckets > 0 ? f.n_buckets : f.levels.size() + 1;  // + the "missing" slot
}

void append_feature_names(const preprocessor::feature_column& f, std::vector<std::string>& names) {
  if (f.kind != column_kind::categorical) {
    names.push_back(f.name);
    if (f.indicator) names.push_back(f.name + "<missing>");
  } else if (f.embedded) {
    names.push_back(f.name);
  } else if (f.n_buckets > 0) {
    for (std::size_t b = 0; b < f.n_buckets; ++b) names.push_back(fmt::format("{}#{}", f.name, b));
  } else {
    for (const auto& level : f.levels) names.push_back(f.name + "=" + level);
    names.push_back(f.name + "=<missing>");
  }
}

const column_view& need_column(const table_view& t, const std::string& name, column_kind kind) {
  const column_view* c = t.find(name);
  if (c == nullptr)
    fail(fmt::format("{}: no column named '{}', which the model needs", t.source, name));
  if (is_categorical(c->kind) != is_categorical(kind))
    fail(fmt::format("{}: column '{}' is {} here but was {} in training", t.source, name,
                     to_string(c->kind), to_string(kind)));
  check_length(t, *c);
  return *c;
}

// One numeric or boolean value's features: the scaled value, then the indicator if any.
inline void put_numeric(const preprocessor::feature_column& f, float v, float* x) noexcept {
  const bool missing = std::isnan(v);
  x[0] = static_cast<float>(((missing ? f.fill : v) - f.offset) / f.scale);
  if (f.indicator) x[1] = missing ? 1.0f : 0.0f;
}

}  // namespace

preprocessor preprocessor::fit(const table_view& t, const preprocess_options& o,
                               const std::vector<std::uint32_t>& rows_in) {
  const row_set rows(rows_in, t.n_rows);
  for (std::uint32_t r : rows_in)
    if (r >= t.n_rows)
      fail(fmt::format("{}: training row {} is beyond the {} rows", t.source, r, t.n_rows));
  if (o.target.empty()) throw error(errc::invalid_argument, "preprocess: no target column given");
  const column_view* target = t.find(o.target);
  if (target == nullptr) {
    std::string names;
    for (const column_view& c : t.columns) names.append(names.empty() ? "" : ", ").append(c.name);
    fail(fmt::format("{}: no target column '{}'; columns are: {}", t.source, o.target, names));
  }
  for (const std::string& name : o.ignore)
    if (t.find(name) == nullptr)
      fail(fmt::format("{}: cannot ignore column '{}': there is none", t.source, name));
  if (o.one_hot_max == 0)
    throw error(errc::invalid_argument, "preprocess: one_hot_max is 0; expected >= 1");
  check_length(t, *target);

  preprocessor p;
  p.target_ = o.target;
  p.target_kind_ = target->kind;

  // --- target ---
  rows.each([&](std::size_t r) {
    const bool missing =
        is_categorical(target->kind) ? target->codes[r] < 0 : std::isnan(target->values[r]);
    if (missing)
      fail(fmt::format("{}: target '{}' is missing in row {}", t.source, o.target, r + 1));
  });
  std::map<double, std::size_t> numeric_classes;  // sorted distinct values
  bool integral = true;
  if (!is_categorical(target->kind)) {
    rows.each([&](std::size_t r) {
      const double v = target->values[r];
      integral &= v == std::floor(v);
      if (numeric_classes.size() <= max_inferred_classes) numeric_classes.emplace(v, 0);
    });
  }
  std::vector<char> target_seen;  // categorical target: levels present in the training rows
  if (is_categorical(target->kind)) {
    target_seen.assign(target->levels.size(), 0);
    rows.each([&](std::size_t r) { target_seen[static_cast<std::size_t>(target->codes[r])] = 1; });
  }
  if (o.task) {
    p.task_ = *o.task;
  } else if (target->kind == column_kind::numeric &&
             !(integral && numeric_classes.size() <= max_inferred_classes)) {
    p.task_ = task_kind::regression;
  } else {
    const std::size_t n =
        is_categorical(target->kind)
            ? static_cast<std::size_t>(std::count(target_seen.begin(), target_seen.end(), 1))
            : numeric_classes.size();
    p.task_ = n <= 2 ? task_kind::binary : task_kind::multiclass;
  }
  if (p.task_ == task_kind::regression) {
    if (is_categorical(target->kind))
      fail(fmt::format("{}: target '{}' is text, so it cannot be a regression target", t.source,
                       o.target));
    double sum = 0.0, ss = 0.0;
    rows.each([&](std::size_t r) { sum += target->values[r]; });
    const double mean = sum / static_cast<double>(rows.size());
    rows.each(
        [&](std::size_t r) { ss += (target->values[r] - mean) * (target->values[r] - mean); });
    const double sd = std::sqrt(ss / static_cast<double>(rows.size()));
    if (o.scale_target) {
      p.target_offset_ = mean;
      p.target_scale_ = sd > 0.0 ? sd : 1.0;
    }
  } else if (is_categorical(target->kind)) {
    for (std::size_t i = 0; i < target->levels.size(); ++i)
      if (target_seen[i]) p.class_labels_.push_back(target->levels[i]);
  } else {
    if (numeric_classes.size() > max_inferred_classes || !integral)
      fail(fmt::format(
          "{}: target '{}' has non-integer values or more than {} distinct values; a class target "
          "needs a few distinct values",
          t.source, o.target, max_inferred_classes));
    for (const auto& [v, unused] : numeric_classes)
      p.class_labels_.push_back(target->kind == column_kind::boolean ? (v != 0.0 ? "true" : "false")
                                                                     : number_label(v));
  }
  if (p.task_ != task_kind::regression && p.class_labels_.size() < 2)
    fail(fmt::format(
        "{}: target '{}' has {} class in the training rows; classification needs at least 2",
        t.source, o.target, p.class_labels_.size()));
  if (p.task_ == task_kind::binary && p.class_labels_.size() > 2)
    fail(fmt::format("{}: target '{}' has {} classes, so it is not binary", t.source, o.target,
                     p.class_labels_.size()));

  // --- features ---
  for (const column_view& c : t.columns) {
    if (c.name == o.target || std::find(o.ignore.begin(), o.ignore.end(), c.name) != o.ignore.end())
      continue;
    check_length(t, c);
    feature_column f;
    f.name = c.name;
    f.kind = c.kind;
    f.first_feature = p.n_features_;
    if (is_categorical(c.kind))
      fit_categorical(c, rows, o, f);
    else
      fit_numeric(c, rows, o, f);
    append_feature_names(f, p.feature_names_);
    p.n_features_ += width(f);
    p.columns_.push_back(std::move(f));
  }
  if (p.n_features_ == 0)
    fail(fmt::format("{}: no feature columns left besides the target", t.source));
  return p;
}

std::vector<preprocessor::embedded_feature> preprocessor::embedded_features() const {
  std::vector<embedded_feature> out;
  for (const feature_column& f : columns_)
    if (f.embedded) out.push_back({f.first_feature, f.levels.size() + 2, f.name});
  return out;
}

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

std::string preprocessor::to_json() const {
  nlohmann::json j;
  j["task"] = std::string(to_string(task_));
  j["target"] = target_;
  j["target_kind"] = std::string(to_string(target_kind_));
  j["target_offset"] = target_offset_;
  j["target_scale"] = target_scale_;
  j["class_labels"] = class_labels_;
  j["n_features"] = n_features_;
  nlohmann::json cols = nlohmann::json::array();
  for (const feature_column& f : columns_) {
    nlohmann::json c{{"name", f.name}, {"kind", std::string(to_string(f.kind))}};
    if (f.kind == column_kind::categorical) {
      c["levels"] = f.levels;
      c["buckets"] = f.n_buckets;
      if (f.embedded) c["embedded"] = true;  // absent (false) in files from before embedding
    } else {
      c["fill"] = f.fill;
      c["offset"] = f.offset;
      c["scale"] = f.scale;
      c["indicator"] = f.indicator;
    }
    cols.push_back(std::move(c));
  }
  j["columns"] = std::move(cols);
  return j.dump();
}

preprocessor preprocessor::from_json(const std::string& text) {
  auto kind_of = [](const std::string& s) {
    if (s == "numeric") return column_kind::numeric;
    if (s == "categorical") return column_kind::categorical;
    if (s == "boolean") return column_kind::boolean;
    throw error(errc::corrupt_model, "preprocessing: unknown column kind '" + s + "'");
  };
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    preprocessor p;
    const std::string task = j.at("task").get<std::string>();
    p.task_ = task == "regression" ? task_kind::regression
              : task == "binary"   ? task_kind::binary
              : task == "multiclass"
                  ? task_kind::multiclass
                  : throw error(errc::corrupt_model, "preprocessing: unknown task '" + task + "'");
    p.target_ = j.at("target").get<std::string>();
    p.target_kind_ = kind_of(j.at("target_kind").get<std::string>());
    p.target_offset_ = j.at("target_offset").get<double>();
    p.target_scale_ = j.at("target_scale").get<double>();
    p.class_labels_ = j.at("class_labels").get<std::vector<std::string>>();
    for (const auto& c : j.at("columns")) {
      feature_column f;
      f.name = c.at("name").get<std::string>();
      f.kind = kind_of(c.at("kind").get<std::string>());
      if (f.kind == column_kind::categorical) {
        f.levels = c.at("levels").get<std::vector<std::string>>();
        f.n_buckets = c.at("buckets").get<std::size_t>();
        f.embedded = c.value("embedded", false);
        if (f.n_buckets > (std::size_t{1} << 24))
          throw error(errc::corrupt_model, "preprocessing: too many buckets");
        if (f.embedded && f.n_buckets > 0)
          throw error(errc::corrupt_model, "preprocessing: column '" + f.name +
                                               "' is both embedded and hashed into buckets");
        if (f.embedded && f.levels.size() + 2 > max_embedding_cardinality)
          throw error(errc::corrupt_model, "preprocessing: embedded column '" + f.name +
                                               "' has more levels than float32 indexes exactly");
        index_levels(f);
      } else {
        f.fill = c.at("fill").get<double>();
        f.offset = c.at("offset").get<double>();
        f.scale = c.at("scale").get<double>();
        f.indicator = c.at("indicator").get<bool>();
        if (c.value("embedded", false))
          throw error(errc::corrupt_model,
                      "preprocessing: column '" + f.name + "' is " +
                          std::string(to_string(f.kind)) +
                          " but marked embedded; only categorical columns are");
        if (!(std::isfinite(f.scale) && f.scale != 0.0))
          throw error(errc::corrupt_model,
                      "preprocessing: column '" + f.name + "' has an unusable scale");
      }
      f.first_feature = p.n_features_;
      p.n_features_ += width(f);
      append_feature_names(f, p.feature_names_);
      p.columns_.push_back(std::move(f));
    }
    if (p.n_features_ != j.at("n_features").get<std::size_t>())
      throw error(errc::corrupt_model, "preprocessing: feature count does not match its columns");
    return p;
  } catch (const nlohmann::json::exception& e) {
    throw error(errc::corrupt_model, std::string("preprocessing: malformed metadata: ") + e.what());
  }
}

}  // namespace tmlp
