// Exporting a model to ONNX, for serving runtimes (ONNX Runtime and others).
//
//     tmlp::export_onnx(model, "model.onnx", {.opset = 17});
//
// Work in progress: the network alone, on preprocessed features (one float input "features",
// rows x n_inputs, embedding index columns included; one output "outputs": probabilities, or
// values). Needs a build with
// TMLP_WITH_ONNX (Debian's libonnx-dev); otherwise these throw tmlp::error (unsupported).
#pragma once

#include <string>

#include "tmlp/model.hpp"

namespace tmlp {

struct onnx_options {
  int opset = 17;           // 17 to 21 (LayerNormalization needs 17)
  std::string batch = "N";  // the batch dimension: a name (symbolic) or a number (fixed)
  bool raw = false;         // outputs before the sigmoid or softmax
};

// The model as ONNX bytes, checked by ONNX's checker. Throws tmlp::error naming what cannot be
// exported.
std::string onnx_bytes(const model& m, const onnx_options& o = {});
// The same, written to path atomically (a failed export leaves no file).
void export_onnx(const model& m, const std::string& path, const onnx_options& o = {});
// Whether this build can export (TMLP_WITH_ONNX).
bool onnx_available() noexcept;

}  // namespace tmlp
