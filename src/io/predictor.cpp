// tmlp::predictor: a model file's model and preprocessing, from raw tables to predictions.
#include "tmlp/predictor.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tmlp/ensemble.hpp"
#include "tmlp/error.hpp"

namespace tmlp {
namespace {

preprocessor preprocessing_of(const loaded_model& l, const std::string& source) {
  const nlohmann::json meta = nlohmann::json::parse(l.metadata, nullptr, false);
  if (!meta.is_object() || !meta.contains("preprocessing"))
    throw error(errc::corrupt_model,
                source + ": the model file has no preprocessing (not written by tmlp train)");
  return preprocessor::from_json(meta["preprocessing"].dump());
}

}  // namespace

predictor predictor::load(const std::string& path) { return predictor(load_model(path), path); }

predictor::predictor(loaded_model l, const std::string& source)
    : l_(std::move(l)), prep_(preprocessing_of(l_, source)) {
  for (const tmlp::model& m : l_.more_members)
    if (m.n_inputs() != l_.model.n_inputs() || m.n_outputs() != l_.model.n_outputs())
      throw error(errc::corrupt_model,
                  fmt::format("{}: the ensemble's members differ in inputs or outputs", source));
  const std::size_t k = prep_.task() == task_kind::multiclass ? prep_.n_classes() : 1;
  if (l_.model.n_inputs() != prep_.n_features() || l_.model.n_outputs() != k)
    throw error(
        errc::corrupt_model,
        fmt::format("{}: the model's {} inputs and {} outputs do not fit its "
                    "preprocessing ({} features, {} outputs)",
                    source, l_.model.n_inputs(), l_.model.n_outputs(), prep_.n_features(), k));
}

csv_options predictor::csv_kinds() const {
  csv_options csv{.forced_may_be_absent = true};
  for (const auto& c : prep_.input_columns())
    if (c.kind == column_kind::categorical) csv.categorical.push_back(c.name);
  return csv;
}

data_source predictor::open(const std::string& path, int n_threads) const {
  if (is_dataset_file(path)) return open_data(path, {});
  csv_options csv = csv_kinds();
  csv.n_threads = n_threads;
  return open_data(path, csv);
}

matrix predictor::outputs(const table_view& t, int n_threads) const {
  const feature_rows x(prep_, t);
  constexpr std::size_t chunk = 16384;
  const std::size_t n = t.n_rows, n_features = prep_.n_features();
  matrix out(n, l_.model.n_outputs());
  matrix features(std::min(chunk, n), n_features);
  std::vector<std::uint32_t> idx(features.rows());
  const std::vector<const tmlp::model*> members = members_of(l_);
  for (std::size_t r0 = 0; r0 < n; r0 += chunk) {
    const std::size_t rows = std::min(chunk, n - r0);
    for (std::size_t i = 0; i < rows; ++i) idx[i] = static_cast<std::uint32_t>(r0 + i);
    x.gather(idx.data(), rows, features.data());
    predict_mean(members, matrix_view(features.data(), rows, n_features),
                 matrix_span(out.row(r0), rows, out.cols()), {.n_threads = n_threads});
  }
  return out;
}

matrix predictor::class_probabilities(const matrix& out) const {
  if (prep_.task() != task_kind::binary) return out;
  matrix p(out.rows(), 2);
  for (std::size_t r = 0; r < out.rows(); ++r) {
    p(r, 0) = 1.0f - out(r, 0);
    p(r, 1) = out(r, 0);
  }
  return p;
}

matrix predictor::probabilities(const table_view& t, int n_threads) const {
  if (prep_.task() == task_kind::regression)
    throw error(errc::invalid_argument,
                "probabilities: the model is a regression (it predicts values, not classes)");
  return class_probabilities(outputs(t, n_threads));
}

std::vector<double> predictor::values(const table_view& t, int n_threads) const {
  if (prep_.task() != task_kind::regression)
    throw error(errc::invalid_argument,
                "values: the model is a classifier (it predicts classes, not values)");
  const matrix out = outputs(t, n_threads);
  std::vector<double> v(out.rows());
  for (std::size_t r = 0; r < out.rows(); ++r) v[r] = prep_.unscale_target(out(r, 0));
  return v;
}

}  // namespace tmlp
