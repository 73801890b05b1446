// What `tmlp train` prepares from its tables before fit(): the target, the loss and task, the
// split, preprocessing fitted on the training rows, and the row sources (include/tmlp/
// training_data.hpp).
#include "tmlp/training_data.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "core/enum_table.hpp"
#include "tmlp/error.hpp"
#include "train/feature_source.hpp"

namespace tmlp {
namespace {

[[noreturn]] void bad_flag(const std::string& what) { throw error(errc::invalid_argument, what); }

std::string column_names(const table_view& t) {
  std::string names;
  for (const column_view& c : t.columns) {
    if (!names.empty()) names += ", ";
    names += c.name;
  }
  return names;
}

// Rows `rows` of m, gathered into a new matrix.
matrix gather(const matrix& m, const std::vector<std::uint32_t>& rows) {
  matrix out(rows.size(), m.cols());
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::copy(m.row(rows[i]), m.row(rows[i]) + m.cols(), out.row(i));
  return out;
}

// The names --scale and --impute take.
constexpr detail::enum_table<scaling, 6> scalings{{{{scaling::automatic, "auto"},
                                                    {scaling::standardize, "standardize"},
                                                    {scaling::robust, "robust"},
                                                    {scaling::quantile, "quantile"},
                                                    {scaling::minmax, "minmax"},
                                                    {scaling::none, "none"}}}};
static_assert(scalings.complete());
constexpr detail::enum_table<imputation, 2> imputations{
    {{{imputation::mean, "mean"}, {imputation::median, "median"}}}};
static_assert(imputations.complete());

// The preprocessing options of o for the target column `target`.
preprocess_options preprocessing_of(const train_options& o, const std::string& target) {
  if (o.embedding_dim > (std::size_t{1} << 16))
    bad_flag(fmt::format("--embedding-dim: {} is larger than the limit 65536", o.embedding_dim));
  preprocess_options p{.target = target,
                       .ignore = o.ignore,
                       .missing_indicators = o.missing_indicators,
                       .ple_bins = o.ple_bins,
                       .one_hot_max = o.one_hot_max,
                       .embed = o.embedding_dim > 0};
  const auto scale = scalings.parse(o.scale);
  if (!scale)
    bad_flag(fmt::format("--scale: unknown '{}'; expected {}", o.scale,
                         join_names(scalings.names(), ", ", " or ")));
  const auto impute = imputations.parse(o.impute);
  if (!impute)
    bad_flag(fmt::format("--impute: unknown '{}'; expected {}", o.impute,
                         join_names(imputations.names(), ", ", " or ")));
  p.scale = *scale;
  p.impute = *impute;
  return p;
}

// The loss and task from o.loss and the target as every row of t shows it (then fixed, so the
// training rows cannot change it); popt.task is set to the task. Returns the preprocessor
// fitted on every row for that task.
preprocessor choose_task(const train_options& o, const table_view& t, preprocess_options& popt,
                         training_data& d) {
  const std::optional<loss_kind> loss = parse_loss(o.loss);
  const column_view* column = t.find(d.target);
  // A regression loss makes a numeric target a regression whatever its values look like (a
  // column of one value included), so no classification is inferred first.
  const bool numeric = column != nullptr && column->kind == column_kind::numeric;
  if (numeric && loss &&
      (*loss == loss_kind::mse || *loss == loss_kind::mae || *loss == loss_kind::huber))
    popt.task = task_kind::regression;
  preprocessor probe = with_flag_names([&] { return preprocessor::fit(t, popt); });
  d.loss = choose_loss(loss, probe.task(), numeric, d.target);
  popt.task = d.loss.task;
  if (d.loss.task != probe.task()) probe = preprocessor::fit(t, popt);
  return probe;
}

void check_weights(std::span<const float> weights, const table_view& t) {
  if (weights.empty()) return;
  if (weights.size() != t.n_rows)
    bad_flag(fmt::format("sample weights: {} values for the {} rows of {}", weights.size(),
                         t.n_rows, t.source));
  for (std::size_t r = 0; r < weights.size(); ++r)
    if (!(std::isfinite(weights[r]) && weights[r] >= 0.0f))
      bad_flag(fmt::format("sample weights: row {}: {} is not a finite value >= 0", r, weights[r]));
}

// A separate validation table: every training row trains.
void use_valid_table(const table_view& t, const table_view& v, std::span<const float> weights,
                     preprocessor probe, training_data& d) {
  d.prep = std::move(probe);
  d.x_train = train::feature_source(d.prep, t);
  d.y_train = d.prep.targets(t);
  d.x_valid = train::feature_source(d.prep, v);
  d.y_valid = d.prep.targets(v);
  d.w_train.assign(weights.begin(), weights.end());
  d.summary =
      fmt::format("{}: {} training rows; {}: {} validation rows; {} features, task {}", t.source,
                  t.n_rows, v.source, v.n_rows, d.prep.n_features(), to_string(d.prep.task()));
}

// o.valid_fraction of t's rows held out; preprocessing fitted on the others.
void split_table(const train_options& o, const table_view& t, std::span<const float> weights,
                 const preprocessor& probe, const preprocess_options& popt, training_data& d) {
  std::vector<std::uint32_t> train_rows, valid_rows;
  if (o.valid_fraction > 0.0f) {
    const matrix y_all = probe.targets(t);
    split_rows(t.n_rows, o.valid_fraction, o.seed, d.loss.loss, 1, y_all.data(), train_rows,
               valid_rows);
    if (train_rows.empty())
      bad_flag(fmt::format("--valid-fraction: {} leaves no training rows of {}", o.valid_fraction,
                           t.n_rows));
  }
  d.prep = preprocessor::fit(t, popt, train_rows);
  const matrix y_all = d.prep.targets(t);
  d.all_rows = train::feature_source(d.prep, t);
  if (valid_rows.empty()) {
    d.x_train = std::move(d.all_rows);
    d.y_train = y_all;
    d.w_train.assign(weights.begin(), weights.end());
  } else {
    d.y_train = gather(y_all, train_rows);
    d.y_valid = gather(y_all, valid_rows);
    if (!weights.empty())
      for (std::uint32_t r : train_rows) d.w_train.push_back(weights[r]);
    d.x_train = std::make_unique<row_subset>(*d.all_rows, std::move(train_rows));
    d.x_valid = std::make_unique<row_subset>(*d.all_rows, std::move(valid_rows));
  }
  d.summary = fmt::format("{}: {} rows ({} train, {} validation), {} features, task {}", t.source,
                          t.n_rows, d.x_train->rows(), d.x_valid ? d.x_valid->rows() : 0,
                          d.prep.n_features(), to_string(d.prep.task()));
}

// --class-weight balanced: each training row's weight (1 without sample weights) times
// n / (c x n_k), n the training rows, c the classes among them, n_k the rows of the row's class
// (scikit-learn's "balanced"); the weights of a class then sum to n / c before sample weights.
void balance_classes(training_data& d) {
  const std::size_t n = d.y_train.rows();
  std::vector<std::size_t> count;
  for (std::size_t r = 0; r < n; ++r) {
    const auto c = static_cast<std::size_t>(d.y_train(r, 0));
    if (c >= count.size()) count.resize(c + 1, 0);
    ++count[c];
  }
  const auto present = static_cast<double>(
      std::count_if(count.begin(), count.end(), [](std::size_t k) { return k > 0; }));
  if (d.w_train.empty()) d.w_train.assign(n, 1.0f);
  for (std::size_t r = 0; r < n; ++r) {
    const auto c = static_cast<std::size_t>(d.y_train(r, 0));
    d.w_train[r] *=
        static_cast<float>(static_cast<double>(n) / (present * static_cast<double>(count[c])));
  }
}

}  // namespace

std::string resolve_target(const table_view& t, const std::string& target) {
  if (t.find(target) != nullptr) return target;
  long long k = 0;
  const auto [end, ec] = std::from_chars(target.data(), target.data() + target.size(), k);
  if (target.empty() || ec != std::errc{} || end != target.data() + target.size()) return target;
  const auto n = static_cast<long long>(t.columns.size());
  if (k == 0 || k > n || k < -n)
    bad_flag(
        fmt::format("--target: no column is named '{}', and {} has {} columns (positions 1 "
                    "to {}, or -1 to -{} from the end)",
                    target, t.source, n, n, n));
  return std::string(t.columns[static_cast<std::size_t>(k > 0 ? k - 1 : n + k)].name);
}

std::unique_ptr<training_data> prepare_training(const train_options& o, const table_view& t,
                                                const table_view* valid,
                                                std::span<const float> weights) {
  auto d = std::make_unique<training_data>();
  numeric_embedding(o);  // its flags checked before the data is read
  for (const std::string& name : o.ignore)
    if (t.find(name) == nullptr)
      bad_flag(fmt::format("--ignore: no column '{}' in {} (columns: {})", name, t.source,
                           column_names(t)));
  check_weights(weights, t);
  d->target = resolve_target(t, o.target);
  preprocess_options popt = preprocessing_of(o, d->target);
  preprocessor probe = choose_task(o, t, popt, *d);
  if (o.class_weight != "none" && o.class_weight != "balanced")
    bad_flag(
        fmt::format("--class-weight: unknown '{}'; expected none or balanced", o.class_weight));
  if (o.class_weight == "balanced" && d->loss.task == task_kind::regression)
    bad_flag("--class-weight: balanced weights classes, and the target is a regression");
  if (valid != nullptr)
    use_valid_table(t, *valid, weights, std::move(probe), *d);
  else
    split_table(o, t, weights, probe, popt, *d);
  if (o.class_weight == "balanced") balance_classes(*d);
  return d;
}

float default_label_smoothing(loss_kind loss) noexcept {
  return loss == loss_kind::ce || loss == loss_kind::bce ? 0.1f : 0.0f;
}

model_spec training_model_spec(const train_options& o, const training_data& d) {
  model_spec spec = make_model_spec(hidden_layers(o), d.prep, d.loss.loss, o.seed, o.embedding_dim);
  spec.label_smoothing = o.label_smoothing.value_or(default_label_smoothing(d.loss.loss));
  spec.feature_scale = o.feature_scale;
  // The numeric columns' values only: not booleans, missing indicators, piecewise-linear bins
  // or categorical slots.
  if (const std::optional<periodic_embedding_spec> e = numeric_embedding(o))
    for (const preprocessor::feature_column& c : d.prep.input_columns())
      if (c.kind == column_kind::numeric &&
          c.map != preprocessor::feature_column::map_kind::piecewise_linear) {
        spec.periodic_embeddings.push_back(*e);
        spec.periodic_embeddings.back().column = c.first_feature;
      }
  return spec;
}

}  // namespace tmlp
