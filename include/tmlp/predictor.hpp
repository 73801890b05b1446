// A model file written by `tmlp train` (or the Python and C bindings): the model with the
// preprocessing fitted when it was trained, predicting from raw tables with the training
// columns (a target column, if present, is ignored). An ensemble's predictions are the mean of
// its members' (tmlp/ensemble.hpp).
//
//     tmlp::predictor p = tmlp::predictor::load("churn.tmlp");
//     tmlp::data_source d = p.open("new.csv");        // or tmlp::read_csv(path, p.csv_kinds())
//     tmlp::matrix proba = p.probabilities(d.view());  // classification: rows x classes
//     std::vector<double> y = p.values(d.view());      // regression: the target's units
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tmlp/data.hpp"
#include "tmlp/data_source.hpp"
#include "tmlp/io.hpp"
#include "tmlp/matrix.hpp"
#include "tmlp/model.hpp"
#include "tmlp/preprocess.hpp"

namespace tmlp {

class predictor {
 public:
  // Reads a model file; throws tmlp::error (errc::corrupt_model) if it holds no preprocessing
  // (a model file not written by tmlp train or a binding), as load_model does for a bad file.
  static predictor load(const std::string& path);
  // The same from a model already loaded; `source` names it in messages.
  predictor(loaded_model l, const std::string& source);

  // The model; an ensemble's member 0.
  const tmlp::model& model() const noexcept { return l_.model; }
  // The ensemble's members (1: one model) and member i (0 <= i < n_members()).
  std::size_t n_members() const noexcept { return l_.n_members(); }
  const tmlp::model& member(std::size_t i) const noexcept {
    return i == 0 ? l_.model : l_.more_members[i - 1];
  }
  const loaded_model& file() const noexcept { return l_; }
  const preprocessor& prep() const noexcept { return prep_; }
  const std::string& metadata() const noexcept { return l_.metadata; }

  // Options that read a CSV file with the training run's categorical columns: a column trained
  // as categorical stays categorical however its values look in the new file.
  csv_options csv_kinds() const;

  // A data file as `tmlp predict` opens it: a CSV read with csv_kinds(), a .tmlpd file mapped
  // (its kinds were fixed when it was converted; preprocessor::check names a mismatch).
  data_source open(const std::string& path, int n_threads = 0) const;

  // The model's outputs for every row of t (rows x n_outputs: probabilities for bce and ce,
  // standardized values for regression; an ensemble's mean, see predict_mean), a chunk of rows at a
  // time so that the features of a large (or memory-mapped) table never exist at once. Throws as
  // preprocessor::check does.
  matrix outputs(const table_view& t, int n_threads = 0) const;

  // Classification: rows x k class probabilities, k = prep().n_classes() >= 2, in the order
  // of prep().class_labels(). Throws tmlp::error (errc::invalid_argument) for a regression.
  matrix probabilities(const table_view& t, int n_threads = 0) const;

  // Regression: one prediction per row in the target's units. Throws for classification.
  std::vector<double> values(const table_view& t, int n_threads = 0) const;

  // Class probabilities (rows x k, k >= 2) from outputs() of a classification model.
  matrix class_probabilities(const matrix& outputs) const;

 private:
  loaded_model l_;
  preprocessor prep_;
};

}  // namespace tmlp
