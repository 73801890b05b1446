// Preprocessing: turns a table into the float matrix a model trains on, and its target column
// into model targets; fitted on the training rows only, saved with the model, and applied
// again, unchanged, at predict time. Works on any column storage through tmlp::table_view: an
// in-memory tmlp::table converts implicitly, a tmlp::mapped_dataset (dataset.hpp) gives a view
// into its file mapping.
//
//     tmlp::table t = tmlp::read_csv("train.csv");
//     tmlp::preprocessor p = tmlp::preprocessor::fit(t, {.target = "churn"}, train_rows);
//     tmlp::matrix x = p.features(t);   // rows x p.n_features()
//     tmlp::matrix y = p.targets(t);    // rows x 1: class index, 0/1, or scaled value
//     std::string json = p.to_json();   // stored in the model file
//
//     // Or only the rows a batch needs, never the whole feature matrix:
//     tmlp::feature_rows rows(p, t);    // a tmlp::row_source; binds t's columns once
//     rows.gather(idx, n, out);         // out: n x p.n_features(), same values as rows of x
//
// Numeric columns: missing values imputed with the training mean (or median), optionally with
// a 0/1 missing-indicator column, then standardized (default), min-max scaled or left as is.
// Boolean columns: 0/1, imputed like numeric ones. Categorical columns: one-hot over the
// training levels plus a "missing" level; a level unseen in training maps to all zeros and is
// counted in transform_report::unseen. Columns with more levels than one_hot_max are hashed
// into one_hot_max buckets, or, with preprocess_options::embed, become one feature holding an
// integer index (as a float) for an embedding layer: 0..L-1 for the L training levels, L for a
// missing value, L+1 for an unseen level (see embedded_features()).
//
//     tmlp::preprocessor p = tmlp::preprocessor::fit(t, {.target = "churn", .embed = true});
//     for (const auto& e : p.embedded_features())   // e.g. {feature 3, cardinality 1002, "zip"}
//       ...;                                        // an embedding of e.cardinality rows
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tmlp/data.hpp"
#include "tmlp/matrix.hpp"
#include "tmlp/rows.hpp"

namespace tmlp {

enum class task_kind : int { regression = 0, binary, multiclass };
std::string_view to_string(task_kind t) noexcept;

// How numeric features are scaled, fitted on the training rows (missing values imputed first):
// - standardize: (x - mean) / standard deviation;
// - minmax: (x - min) / (max - min);
// - none: as they are;
// - robust: z = (x - median) / (q75 - q25) (half the range if the quartiles agree), then the
//   smooth clip z / sqrt(1 + (z / 3)^2), which keeps |z| < 3 and outliers in order;
// - quantile: each value's place among the training values, mapped to a normal score: a
//   piecewise-linear map through up to 1000 quantiles (linear between them, constant beyond);
// - automatic: per column, robust where the column is heavy-tailed (excess kurtosis above 3,
//   a Laplace distribution's), standardize elsewhere.
// Boolean columns are always standardized under automatic, robust and quantile.
enum class scaling : int { standardize = 0, minmax, none, robust, quantile, automatic };
enum class imputation : int { mean = 0, median };

struct preprocess_options {
  std::string target;                    // name of the target column (required)
  std::vector<std::string> ignore;       // columns left out of the features
  std::optional<task_kind> task;         // inferred from the target when empty
  scaling scale = scaling::standardize;  // numeric and boolean features
  imputation impute = imputation::mean;
  bool missing_indicators = false;  // one more 0/1 feature per numeric column with missing
  // > 0: piecewise-linear encoding of numeric columns (Gorishniy et al. 2022) in place of their
  // scaling: each becomes up to this many features over bins between training quantiles (equal
  // edges merge; a column with fewer than 2 bins left is scaled as usual). Not for booleans.
  std::size_t ple_bins = 0;
  std::size_t one_hot_max = 64;  // more levels than this: hashed into this many buckets
  // When true, a categorical column with more than one_hot_max training levels becomes one
  // index feature for an embedding layer instead of hashed buckets.
  bool embed = false;
  bool scale_target = true;  // regression: standardize the target (undone on output)
};

// What transform() saw that training did not.
struct transform_report {
  std::size_t unseen = 0;  // categorical values whose level was not in the training data
};

class preprocessor {
 public:
  // Fits on `rows` of t (all rows when empty). Throws tmlp::error naming the problem: an
  // unknown target or ignored column, a target with missing values in those rows, a
  // classification target with fewer than 2 classes, no features left, an embedded column
  // whose cardinality (levels + 2) exceeds 2^24 (its indices must be exact in float32). Streams
  // over each column in place (a few passes, in row order); only median imputation copies the
  // present values of one column at a time (8 bytes per training row, freed before the next
  // column).
  static preprocessor fit(const table_view& t, const preprocess_options& options,
                          const std::vector<std::uint32_t>& rows = {});

  task_kind task() const noexcept { return task_; }
  std::size_t n_features() const noexcept { return n_features_; }
  std::size_t n_classes() const noexcept { return class_labels_.size(); }  // 0 for regression
  const std::vector<std::string>& feature_names() const noexcept { return feature_names_; }
  // How each input column is read: its name and kind, in the order of the features.
  struct feature_column;  // (below)
  const std::vector<feature_column>& input_columns() const noexcept { return columns_; }
  // Classification: the text of each class index (the target's original values).
  const std::vector<std::string>& class_labels() const noexcept { return class_labels_; }

  // A categorical column fed to an embedding layer (preprocess_options::embed): its one feature
  // holds an index as a float, 0..cardinality-1 (training levels, then missing, then unseen).
  struct embedded_feature {
    std::size_t feature = 0;      // index of the feature (column of features()) holding the index
    std::size_t cardinality = 0;  // training levels + 2 (missing, unseen)
    std::string column;           // the input column's name
  };
  std::vector<embedded_feature> embedded_features() const;  // in feature order; empty if none

  // Throws tmlp::error unless t can be transformed: t must have every feature column (by name;
  // other columns, the target included, are ignored) with the kind it had in training (numeric
  // and boolean are interchangeable) and n_rows entries. Names the table, the column and the
  // problem.
  void check(const table_view& t) const;

  // Features of every row of t: t.n_rows x n_features(). Throws as check() does.
  matrix features(const table_view& t, transform_report* report = nullptr) const;

  // t made ready for transform_rows: check(t) passed, each feature column's view found once,
  // and each of t's category codes mapped once to its feature slot (an embedded column: its
  // level index; -1: a level unseen in training). Holds pointers into t.columns: valid while t (and
  // its storage) lives unchanged. Throws as check() does.
  struct binding {
    std::vector<const column_view*> columns;       // per feature column, in order
    std::vector<std::vector<std::int32_t>> slots;  // categorical: slot of each code of t
  };
  binding bind(const table_view& t) const;

  // Features of rows idx[0..n) of the bound table (each < its n_rows) into out: n x
  // n_features() floats, row-major, bit for bit the corresponding rows of features(t). Never
  // allocates or throws; safe from several threads at once; a table look-up per value. Unseen
  // levels give all zeros (an embedded column: index L+1) as in features(); a code outside t's
  // levels (a file changed under its mapping) is treated as unseen.
  void transform_rows(const binding& b, const std::uint32_t* idx, std::size_t n,
                      float* out) const noexcept;

  // Targets of every row: t.n_rows x 1 (class index for binary and multiclass, scaled value for
  // regression). Throws tmlp::error on a missing target value or a class unseen in training.
  matrix targets(const table_view& t) const;

  // Regression: model output back to the target's units. Classification: identity.
  double unscale_target(double v) const noexcept { return v * target_scale_ + target_offset_; }
  double target_scale() const noexcept { return target_scale_; }    // 1 for classification
  double target_offset() const noexcept { return target_offset_; }  // 0 for classification

  std::string to_json() const;
  static preprocessor from_json(const std::string& json);  // throws tmlp::error if malformed

 private:
  task_kind task_ = task_kind::regression;
  std::string target_;
  std::vector<feature_column> columns_;
  std::vector<std::string> feature_names_;
  std::vector<std::string> class_labels_;
  column_kind target_kind_ = column_kind::numeric;
  double target_offset_ = 0.0, target_scale_ = 1.0;
  std::size_t n_features_ = 0;
};

struct preprocessor::feature_column {
  std::string name;
  column_kind kind = column_kind::numeric;
  // numeric and boolean: after imputing missing with fill, z = (x - offset) / scale in double,
  // then the column's map of z (smooth_clip: z / sqrt(1 + (z / 3)^2); quantile: through the
  // knots), rounded to float
  double fill = 0.0, offset = 0.0, scale = 1.0;
  enum class map_kind : int { linear = 0, smooth_clip, quantile, piecewise_linear };
  map_kind map = map_kind::linear;
  // quantile: increasing knots (in z) and the normal score at each; between knots j and j + 1,
  // values[j] + (z - knots[j]) * slopes[j]; z is first clamped to [knots.front(), knots.back()].
  // piecewise_linear: the T + 1 increasing knots are bin edges, and the column becomes T
  // features, e_t = (z - knots[t]) / (knots[t + 1] - knots[t]) clamped to [0, 1] (the first
  // not clamped below, the last not above): 1 for bins below z, z's place in its own, 0 above.
  std::vector<double> knots, values, slopes;
  bool indicator = false;  // a missing-indicator feature follows
  // categorical: one-hot over levels (then a "missing" slot), hashed into n_buckets, or one
  // embedding index (the level's index in levels; levels.size() if missing, + 1 if unseen)
  std::vector<std::string> levels;
  std::vector<std::uint32_t> level_order;  // indices into levels, stably sorted by text
  std::size_t n_buckets = 0;               // > 0: hashed
  bool embedded = false;                   // one index feature (n_buckets is 0)
  std::size_t first_feature = 0;
};

// The preprocessed feature rows of a table as a row_source for the trainer: each gather
// transforms just the requested rows (preprocessor::transform_rows), so the feature matrix of
// a large, memory-mapped table never exists in memory.
//
//     tmlp::mapped_dataset d("train.tmlpd");
//     tmlp::feature_rows x(p, d.view());   // checks the columns once; throws tmlp::error
//     tmlp::matrix y = p.targets(d.view());
//     trainer.fit(m, x, y.view());
//
// Keeps a reference to p and a view of t: both (and the storage t points into) must outlive it.
// Not copyable (its binding points into its own view).
class feature_rows final : public row_source {
 public:
  feature_rows(const preprocessor& p, table_view t)
      : p_(&p), t_(std::move(t)), bound_(p.bind(t_)) {}
  feature_rows(const feature_rows&) = delete;
  feature_rows& operator=(const feature_rows&) = delete;

  std::size_t rows() const noexcept override { return t_.n_rows; }
  std::size_t cols() const noexcept override { return p_->n_features(); }
  void gather(const std::uint32_t* idx, std::size_t n, float* out) const noexcept override {
    p_->transform_rows(bound_, idx, n, out);
  }
  const table_view& view() const noexcept { return t_; }

 private:
  const preprocessor* p_;
  table_view t_;
  preprocessor::binding bound_;
};

}  // namespace tmlp
