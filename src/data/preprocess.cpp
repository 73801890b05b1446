// Fitting preprocessing on training rows: the task and the target's encoding, imputation and
// scaling of numeric columns, one-hot, hashed or embedded categories. Applying it:
// preprocess_transform.cpp; its JSON form: preprocess_json.cpp.
#include "tmlp/preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "data/preprocess_parts.hpp"
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

using namespace data;

// Largest number of distinct integer values a numeric target may have to be read as classes.
constexpr std::size_t max_inferred_classes = 32;

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

// The q-quantile of sorted values, interpolated linearly between the two nearest (as NumPy's
// default).
double quantile_of(const std::vector<double>& v, double q) noexcept {
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(pos);
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

// Up to 1000 evenly spaced quantiles of the sorted values as the column's knots; equal knots
// (a value many rows share) become one, at the mean of their probabilities.
void fit_quantile_map(const std::vector<double>& v, preprocessor::feature_column& f) {
  const std::size_t m = std::min<std::size_t>(1000, v.size());
  std::vector<double> p;
  double tied = 0;  // knots merged into the last one
  for (std::size_t i = 0; i < m; ++i) {
    const double pi = m == 1 ? 0.5 : static_cast<double>(i) / static_cast<double>(m - 1);
    const double k = quantile_of(v, pi);
    if (!f.knots.empty() && k == f.knots.back()) {
      p.back() = (p.back() * tied + pi) / (tied + 1.0);
      tied += 1.0;
      continue;
    }
    f.knots.push_back(k);
    p.push_back(pi);
    tied = 1.0;
  }
  f.offset = 0.0;
  f.scale = 1.0;
  f.map = preprocessor::feature_column::map_kind::quantile;
  set_quantile_map(f, p);
}

// Piecewise-linear encoding over `bins` bins between evenly spaced quantiles of the sorted
// values, equal edges merged. False (f unchanged) when fewer than 2 bins are left.
bool fit_piecewise(const std::vector<double>& v, std::size_t bins,
                   preprocessor::feature_column& f) {
  std::vector<double> edges;
  for (std::size_t i = 0; i <= bins; ++i) {
    const double e = quantile_of(v, static_cast<double>(i) / static_cast<double>(bins));
    if (edges.empty() || e > edges.back()) edges.push_back(e);
  }
  if (edges.size() < 3) return false;
  f.knots = std::move(edges);
  f.map = preprocessor::feature_column::map_kind::piecewise_linear;
  return true;
}

// Robust scaling: the median and the interquartile range (half the range if the quartiles
// agree, 1 if every value does), then the smooth clip.
void fit_robust(const std::vector<double>& v, preprocessor::feature_column& f) {
  const double iqr = quantile_of(v, 0.75) - quantile_of(v, 0.25);
  const double half_range = 0.5 * (v.back() - v.front());
  f.offset = quantile_of(v, 0.5);
  f.scale = iqr > 0.0 ? iqr : half_range > 0.0 ? half_range : 1.0;
  f.map = preprocessor::feature_column::map_kind::smooth_clip;
}

// scaling::automatic's choice for a numeric column (sorted present values v, their mean and
// standard deviation): robust where the column is heavy-tailed, its excess kurtosis above
// that of a Laplace distribution (3), as columns with outliers or long tails (amounts, counts,
// incomes) are; standardize elsewhere, where the mean and standard deviation describe it well.
scaling automatic_scaling(const std::vector<double>& v, double mean, double sd) noexcept {
  if (!(sd > 0.0)) return scaling::standardize;
  double m4 = 0.0;
  for (const double x : v) {
    const double z = (x - mean) / sd;
    m4 += z * z * z * z;
  }
  return m4 / static_cast<double>(v.size()) - 3.0 > 3.0 ? scaling::robust : scaling::standardize;
}

// Numeric or boolean feature: imputation value and scaling from the training rows. Sums run in
// row order in double precision; the median, quartiles and quantiles come from one sorted copy
// of the column's present training values (8 bytes per training row, freed on return).
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
  scaling s = o.scale;
  if (c.kind == column_kind::boolean &&
      (s == scaling::robust || s == scaling::quantile || s == scaling::automatic))
    s = scaling::standardize;
  const bool piecewise = o.ple_bins > 0 && c.kind != column_kind::boolean;
  std::vector<double> v;  // sorted present values, when something needs them
  if (o.impute == imputation::median || s == scaling::robust || s == scaling::quantile ||
      s == scaling::automatic || piecewise) {
    v.reserve(n);
    rows.each([&](std::size_t r) {
      if (!std::isnan(c.values[r])) v.push_back(c.values[r]);
    });
    std::sort(v.begin(), v.end());
  }
  f.fill = o.impute == imputation::median ? v[v.size() / 2] : mean;
  if (piecewise && fit_piecewise(v, o.ple_bins, f)) return;
  double sd = 0.0;
  if (s == scaling::standardize || s == scaling::automatic) {
    double ss = 0.0;
    rows.each([&](std::size_t r) {
      const double x = c.values[r];
      if (!std::isnan(x)) ss += (x - mean) * (x - mean);
    });
    sd = std::sqrt(ss / static_cast<double>(n));
  }
  if (s == scaling::automatic) s = automatic_scaling(v, mean, sd);
  if (s == scaling::standardize) {
    f.offset = mean;
    f.scale = sd > 0.0 ? sd : 1.0;
  } else if (s == scaling::minmax) {
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
  } else if (s == scaling::robust) {
    fit_robust(v, f);
  } else if (s == scaling::quantile) {
    fit_quantile_map(v, f);
  }
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

// Throws unless the options and the rows fit t; returns its target column.
const column_view& check_fit_input(const table_view& t, const preprocess_options& o,
                                   const std::vector<std::uint32_t>& rows) {
  for (std::uint32_t r : rows)
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
    throw error(errc::invalid_argument, "preprocess_options.one_hot_max: 0; expected >= 1");
  if (o.ple_bins > 1024)
    throw error(errc::invalid_argument,
                fmt::format("preprocess_options.ple_bins: {}; expected at most 1024", o.ple_bins));
  check_length(t, *target);
  return *target;
}

// What the training rows' target values are: distinct numbers (up to one more than could be
// classes) or the levels present, and whether every number is an integer. Throws on a missing
// value.
struct target_summary {
  std::map<double, std::size_t> numeric_classes;  // sorted distinct values
  bool integral = true;
  std::vector<char> seen;  // categorical: levels present in the training rows
};

target_summary summarize_target(const table_view& t, const column_view& target, const row_set& rows,
                                const std::string& name) {
  rows.each([&](std::size_t r) {
    const bool missing =
        is_categorical(target.kind) ? target.codes[r] < 0 : std::isnan(target.values[r]);
    if (missing) fail(fmt::format("{}: target '{}' is missing in row {}", t.source, name, r + 1));
  });
  target_summary s;
  if (!is_categorical(target.kind)) {
    rows.each([&](std::size_t r) {
      const double v = target.values[r];
      s.integral &= v == std::floor(v);
      if (s.numeric_classes.size() <= max_inferred_classes) s.numeric_classes.emplace(v, 0);
    });
  } else {
    s.seen.assign(target.levels.size(), 0);
    rows.each([&](std::size_t r) { s.seen[static_cast<std::size_t>(target.codes[r])] = 1; });
  }
  return s;
}

task_kind infer_task(const column_view& target, const target_summary& s,
                     const preprocess_options& o) {
  if (o.task) return *o.task;
  if (target.kind == column_kind::numeric &&
      !(s.integral && s.numeric_classes.size() <= max_inferred_classes))
    return task_kind::regression;
  const std::size_t n = is_categorical(target.kind)
                            ? static_cast<std::size_t>(std::count(s.seen.begin(), s.seen.end(), 1))
                            : s.numeric_classes.size();
  return n <= 2 ? task_kind::binary : task_kind::multiclass;
}

// The target's encoding: its scaling (regression) or its class labels.
struct target_encoding {
  double offset = 0.0, scale = 1.0;
  std::vector<std::string> class_labels;
};

target_encoding encode_target(const table_view& t, const column_view& target, const row_set& rows,
                              const target_summary& s, task_kind task,
                              const preprocess_options& o) {
  target_encoding e;
  if (task == task_kind::regression) {
    if (is_categorical(target.kind))
      fail(fmt::format("{}: target '{}' is text, so it cannot be a regression target", t.source,
                       o.target));
    double sum = 0.0, ss = 0.0;
    rows.each([&](std::size_t r) { sum += target.values[r]; });
    const double mean = sum / static_cast<double>(rows.size());
    rows.each([&](std::size_t r) { ss += (target.values[r] - mean) * (target.values[r] - mean); });
    const double sd = std::sqrt(ss / static_cast<double>(rows.size()));
    if (o.scale_target) {
      e.offset = mean;
      e.scale = sd > 0.0 ? sd : 1.0;
    }
    return e;
  }
  if (is_categorical(target.kind)) {
    for (std::size_t i = 0; i < target.levels.size(); ++i)
      if (s.seen[i]) e.class_labels.push_back(target.levels[i]);
  } else {
    if (s.numeric_classes.size() > max_inferred_classes || !s.integral)
      fail(fmt::format(
          "{}: target '{}' has non-integer values or more than {} distinct values; a class target "
          "needs a few distinct values",
          t.source, o.target, max_inferred_classes));
    for (const auto& [v, unused] : s.numeric_classes)
      e.class_labels.push_back(target.kind == column_kind::boolean ? (v != 0.0 ? "true" : "false")
                                                                   : number_label(v));
  }
  if (e.class_labels.size() < 2)
    fail(fmt::format(
        "{}: target '{}' has {} class in the training rows; classification needs at least 2",
        t.source, o.target, e.class_labels.size()));
  if (task == task_kind::binary && e.class_labels.size() > 2)
    fail(fmt::format("{}: target '{}' has {} classes, so it is not binary", t.source, o.target,
                     e.class_labels.size()));
  return e;
}

}  // namespace

preprocessor preprocessor::fit(const table_view& t, const preprocess_options& o,
                               const std::vector<std::uint32_t>& rows_in) {
  const row_set rows(rows_in, t.n_rows);
  const column_view& target = check_fit_input(t, o, rows_in);

  preprocessor p;
  p.target_ = o.target;
  p.target_kind_ = target.kind;
  const target_summary summary = summarize_target(t, target, rows, o.target);
  p.task_ = infer_task(target, summary, o);
  target_encoding e = encode_target(t, target, rows, summary, p.task_, o);
  p.target_offset_ = e.offset;
  p.target_scale_ = e.scale;
  p.class_labels_ = std::move(e.class_labels);

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

}  // namespace tmlp
