// Exporting a model to ONNX, for serving runtimes (ONNX Runtime and others).
//
//     tmlp::predictor p = tmlp::predictor::load("churn.tmlp");
//     tmlp::export_onnx(p, "churn.onnx");                   // raw columns in, predictions out
//     if (std::string n = tmlp::onnx_notice(p, {}); !n.empty()) // what ONNX cannot express
//       std::fprintf(stderr, "%s\n", n.c_str());
//     tmlp::export_onnx(p.file(), "net.onnx");              // the network on features only
//
// The whole model (a predictor): one input per training column, named as the column, shape
// [batch, 1]: float for numeric and boolean columns (booleans as 0/1; NaN for a missing value),
// string for categorical ones (a missing value is "", "NA", "NaN", "null" or "?", as in a CSV).
// The preprocessing (imputation, scaling, missing indicators, one-hot, hashed buckets, embedding
// indices) runs inside the graph with ai.onnx.ml LabelEncoder and OneHotEncoder and standard
// operators (the scaling in double precision, so the features are tmlp's bit for bit). Outputs,
// as `tmlp predict` gives them: a classifier's "label" (string, [batch], the class's original
// text) and "probabilities" (float, [batch, classes], in the order of class_labels()); a
// regression's "prediction" (float, [batch, 1], in the target's units). An output whose name an
// input column already has gets a "_" appended.
//
// The network alone (a model): one float input "features" (rows x n_inputs, preprocessed, as
// tmlp::model::predict takes them, embedding index columns included) and one output "outputs"
// (probabilities for bce and ce, values for regression; with onnx_options::raw, the last
// layer's outputs before the sigmoid or softmax).
//
// An ensemble (tmlp/ensemble.hpp; a predictor's or a loaded_model's members) is exported as
// its members' networks side by side on the same features, their outputs (probabilities for bce
// and ce, values for regression) averaged in the graph as predict_mean does (in double, in
// member order), before a regression's unscaling; raw outputs of an ensemble are an error (a
// mean of logits is not its prediction).
//
// Both fold batch norm into the weights as predict does and leave dropout out. Needs a build
// with TMLP_WITH_ONNX (Debian's libonnx-dev); otherwise these throw tmlp::error (unsupported).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tmlp/data.hpp"
#include "tmlp/io.hpp"
#include "tmlp/model.hpp"
#include "tmlp/predictor.hpp"

namespace tmlp {

struct onnx_options {
  int opset = 17;           // 17 to 21 (LayerNormalization needs 17)
  std::string batch = "N";  // the batch dimension: a name (symbolic) or a row count (fixed)
  bool raw = false;         // network only: outputs before the sigmoid or softmax
  // The whole model: for each categorical column hashed into buckets (more training levels
  // than --one-hot-max, without embeddings), the texts the file maps to their buckets. A model
  // file keeps no levels of such a column, and ONNX has no operator for tmlp's hash, so an
  // export of a model with one needs them (add_hashed_levels reads them from a table);
  // any other text of the column gets no bucket (all zeros) in the exported model.
  std::map<std::string, std::vector<std::string>> hashed_levels;
};

// Adds the distinct texts of each of p's hashed columns in t to o.hashed_levels (typically the
// training data; any table with those columns serves). Throws tmlp::error naming a hashed column
// that t lacks or holds as numbers.
void add_hashed_levels(onnx_options& o, const predictor& p, const table_view& t);

// The model as ONNX bytes, checked by ONNX's checker. Throws tmlp::error naming what cannot be
// exported (an opset out of range, a bad batch name, a hashed column without hashed_levels).
std::string onnx_bytes(const predictor& p, const onnx_options& o = {});
std::string onnx_bytes(const model& m, const onnx_options& o = {});
std::string onnx_bytes(const loaded_model& l, const onnx_options& o = {});  // the network alone

// The same, written to path atomically (a failed export leaves no file, and an existing file
// at path stays as it was).
void export_onnx(const predictor& p, const std::string& path, const onnx_options& o = {});
void export_onnx(const model& m, const std::string& path, const onnx_options& o = {});
void export_onnx(const loaded_model& l, const std::string& path, const onnx_options& o = {});

// One line saying which steps of p's preprocessing the export with o cannot express exactly,
// and what the exported file does instead; empty when it predicts what tmlp predicts for every
// input. Today: hashed categorical columns, whose texts outside o.hashed_levels tmlp hashes
// into a bucket and the file gives none.
std::string onnx_notice(const predictor& p, const onnx_options& o);

// Whether this build can export (TMLP_WITH_ONNX).
bool onnx_available() noexcept;

}  // namespace tmlp
