// tmlp/tmlp.h: ONNX export (tmlp/onnx.hpp) of a model handle.
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "capi/capi.hpp"
#include "tmlp/error.hpp"
#include "tmlp/onnx.hpp"

using tmlp::capi::guarded;
using tmlp::capi::require;

namespace {

// The last notice of this thread (tmlp_model_export_onnx's *notice points into it).
thread_local std::string last_notice;

struct export_request {
  tmlp::onnx_options onnx;
  bool features_only = false;
  std::string levels_from;
};

export_request parse_request(const char* options_json) {
  export_request r;
  if (options_json == nullptr || *options_json == '\0') return r;
  const nlohmann::json j = nlohmann::json::parse(options_json, nullptr, false);
  const auto bad = [](const std::string& what) {
    return tmlp::error(tmlp::errc::invalid_argument, "tmlp_model_export_onnx: " + what);
  };
  if (!j.is_object()) throw bad("options_json is not a JSON object");
  for (const auto& item : j.items()) {
    const std::string& key = item.key();
    const nlohmann::json& value = item.value();
    const auto want = [&](bool ok, const char* type) {
      if (!ok) throw bad(fmt::format("option '{}' is {}; expected {}", key, value.dump(), type));
    };
    if (key == "opset") {
      want(value.is_number_integer(), "an integer");
      r.onnx.opset = value.get<int>();
    } else if (key == "batch") {
      want(value.is_string() || value.is_number_unsigned(), "a name or a row count");
      r.onnx.batch = value.is_string() ? value.get<std::string>() : value.dump();
    } else if (key == "features_only" || key == "features-only") {
      want(value.is_boolean(), "true or false");
      r.features_only = value.get<bool>();
    } else if (key == "raw") {
      want(value.is_boolean(), "true or false");
      r.onnx.raw = value.get<bool>();
    } else if (key == "levels_from" || key == "levels-from") {
      want(value.is_string(), "a path");
      r.levels_from = value.get<std::string>();
    } else {
      throw bad(
          fmt::format("unknown option '{}'; expected opset, batch, features_only, raw or "
                      "levels_from",
                      key));
    }
  }
  return r;
}

}  // namespace

extern "C" {

tmlp_status tmlp_model_export_onnx(const tmlp_model* model, const char* path,
                                   const char* options_json, const char** notice) {
  if (notice != nullptr) *notice = "";
  return guarded([&] {
    require(model, "tmlp_model_export_onnx", "model");
    require(path, "tmlp_model_export_onnx", "path");
    export_request r = parse_request(options_json);
    if (r.features_only || !model->pred) {
      if (!r.features_only)
        throw tmlp::error(tmlp::errc::invalid_argument,
                          "tmlp_model_export_onnx: the model has no preprocessing (it was not "
                          "trained on a table); export it with \"features_only\": true");
      if (!r.levels_from.empty())
        throw tmlp::error(tmlp::errc::invalid_argument,
                          "tmlp_model_export_onnx: levels_from is for the whole-model export, "
                          "not features_only");
      tmlp::export_onnx(tmlp::capi::file_of(*model), path, r.onnx);
      return;
    }
    const tmlp::predictor& p = *model->pred;
    if (!r.levels_from.empty()) tmlp::add_hashed_levels(r.onnx, p, p.open(r.levels_from).view());
    tmlp::export_onnx(p, path, r.onnx);
    last_notice = tmlp::onnx_notice(p, r.onnx);
    if (notice != nullptr) *notice = last_notice.c_str();
  });
}

int tmlp_onnx_available(void) { return tmlp::onnx_available() ? 1 : 0; }

}  // extern "C"
