// Checkpoint metadata of `tmlp train` and the same-run check of --resume.
#include "cli/train_checkpoint.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tmlp/error.hpp"

namespace tmlp::cli {

namespace {
// Floats as their shortest text, so a difference reads as the flag was written ("0.01").
std::string text(float v) { return fmt::format("{}", v); }
// A value as a person would type it after its flag.
std::string shown(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "(unset)";
  if (v.is_array()) {
    std::string out;
    for (const auto& e : v) {
      if (!out.empty()) out += ',';
      out += shown(e);
    }
    return out.empty() ? "(none)" : out;
  }
  return v.dump();
}
}  // namespace

std::string checkpoint_metadata(const train_options& o, const preprocessor& prep,
                                std::size_t n_train, std::size_t n_valid) {
  // Keys are the flags' names, so a difference can be reported as the flag to fix.
  const nlohmann::ordered_json run = {
      {"target", o.target},
      {"valid-fraction", text(o.valid.empty() ? o.valid_fraction : 0.0f)},
      {"numeric", o.numeric},
      {"categorical", o.categorical},
      {"ignore", o.ignore},
      {"layers", o.layers},
      {"activation", o.activation},
      {"dropout", text(o.dropout)},
      {"layer-norm", o.layer_norm},
      {"residual", o.residual},
      {"batch-norm", o.batch_norm},
      {"embedding-dim", o.embedding_dim},
      {"one-hot-max", o.one_hot_max},
      {"loss", o.loss},
      {"optimizer", o.optimizer},
      {"lr", text(o.lr)},
      {"batch-size", o.batch_size},
      {"epochs", o.epochs},
      {"schedule", o.schedule},
      {"l1", text(o.l1)},
      {"l2", text(o.l2)},
      {"weight-decay", o.weight_decay ? nlohmann::ordered_json(text(*o.weight_decay)) : nullptr},
      {"clip-norm", text(o.clip_norm)},
      {"clip-value", text(o.clip_value)},
      {"early-stop", o.early_stop},
      {"seed", o.seed}};
  nlohmann::ordered_json meta;
  meta["run"] = run;
  meta["rows"] = {{"train", n_train}, {"valid", n_valid}};
  meta["preprocessing"] = nlohmann::json::parse(prep.to_json());
  return meta.dump();
}

std::string checkpoint_path(const std::string& pattern, std::size_t epoch) {
  std::string out = pattern;
  const std::string key = "{epoch}", value = std::to_string(epoch);
  for (std::size_t at = 0; (at = out.find(key, at)) != std::string::npos; at += value.size())
    out.replace(at, key.size(), value);
  return out;
}

void check_same_run(const std::string& path, const std::string& saved_metadata,
                    const std::string& current_metadata) {
  const auto fail = [&](const std::string& what) {
    throw error(errc::invalid_argument, fmt::format("--resume: {}: {}", path, what));
  };
  const nlohmann::json saved = nlohmann::json::parse(saved_metadata, nullptr, false);
  const nlohmann::json now = nlohmann::json::parse(current_metadata);
  if (!saved.is_object() || !saved.contains("run") || !saved["run"].is_object())
    fail("not a checkpoint of tmlp train (no run options in it)");
  // Flags added since checkpoints were first written: an older checkpoint ran with their
  // defaults.
  const nlohmann::json added = {{"batch-norm", false}, {"embedding-dim", 0}, {"one-hot-max", 64}};
  for (const auto& [key, value] : now["run"].items()) {
    const nlohmann::json& before = saved["run"].contains(key) ? saved["run"][key]
                                   : added.contains(key)      ? added[key]
                                                              : nullptr;
    if (before != value)
      fail(
          fmt::format("the run was started with --{} {}, this one has --{} {}; resume with the "
                      "same flags",
                      key, shown(before), key, shown(value)));
  }
  if (saved.value("rows", nlohmann::json()) != now["rows"] ||
      saved.value("preprocessing", nlohmann::json()) != now["preprocessing"])
    fail("the data differs from the run's (other rows, or other values in them)");
}

}  // namespace tmlp::cli
