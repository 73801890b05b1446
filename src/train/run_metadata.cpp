// The metadata `tmlp train` records: in model files (how the model was trained) and in
// checkpoints (the run's flags, rows and preprocessing, for the same-run check of a resume).
#include <algorithm>
#include <filesystem>
#include <optional>
#include <string_view>
#include <type_traits>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tmlp/error.hpp"
#include "tmlp/training_data.hpp"

namespace tmlp {

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
// Flag f's value in o as checkpoints and model files record it: numbers as their shortest text
// ("0.01"), an unset number as null, switches as booleans, whole numbers as numbers, lists as
// arrays, text as it is.
nlohmann::ordered_json flag_json(const train_flag& f, const train_options& o) {
  return std::visit(
      [&](auto member) -> nlohmann::ordered_json {
        const auto& v = o.*member;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, float>) {
          return text(v);
        } else if constexpr (std::is_same_v<T, std::optional<float>>) {
          return v ? nlohmann::ordered_json(text(*v)) : nlohmann::ordered_json(nullptr);
        } else if constexpr (std::is_same_v<T, std::optional<std::uint64_t>>) {
          return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
        } else {
          return v;  // text, list, switch, integer, whole number
        }
      },
      f.field);
}

// The value a file without flag f ran with (see train_flag::recorded_if_set): its earlier
// default if it changed, else its default.
nlohmann::ordered_json absent_value(const train_flag& f) {
  if (!f.earlier_default.empty()) return std::string(f.earlier_default);
  return flag_json(f, train_options{});
}

// Whether f's value in o goes into checkpoints and model files (see train_flag::recorded_if_set):
// always, or when it differs from what a file without it ran with (an unset value is that).
bool recorded(const train_flag& f, const train_options& o) {
  const nlohmann::ordered_json v = flag_json(f, o);
  return !f.recorded_if_set || (v != absent_value(f) && !v.is_null());
}

// The options as the run uses them: an unset --batch-size as the size the trainer chooses and
// an unset --label-smoothing as its default for the loss, so that files record what ran and a
// resume compares it.
train_options as_run(const train_options& given, const training_data& d) {
  train_options o = given;
  if (!o.batch_size) o.batch_size = auto_batch_size(d.x_train->rows());
  if (!o.label_smoothing && default_label_smoothing(d.loss.loss) > 0.0f)
    o.label_smoothing = default_label_smoothing(d.loss.loss);
  return o;
}

}  // namespace

std::string checkpoint_metadata(const train_options& given, const training_data& d) {
  const train_options o = as_run(given, d);
  const std::size_t n_train = d.x_train->rows(), n_valid = d.x_valid ? d.x_valid->rows() : 0;
  // Keys are the flags' names, so a difference can be reported as the flag to fix.
  nlohmann::ordered_json run = nlohmann::ordered_json::object();
  for (const train_flag& f : train_flags())
    if (f.in_checkpoint && recorded(f, o)) run[std::string(f.name)] = flag_json(f, o);
  if (!o.valid.empty()) run["valid-fraction"] = text(0.0f);  // the --valid file is the split
  nlohmann::ordered_json meta;
  meta["run"] = run;
  meta["rows"] = {{"train", n_train}, {"valid", n_valid}};
  meta["preprocessing"] = nlohmann::json::parse(d.prep.to_json());
  return meta.dump();
}

void check_same_run(const std::string& path, const std::string& saved_metadata,
                    const std::string& current_metadata, std::size_t epochs_done) {
  const auto fail = [&](const std::string& what) {
    throw error(errc::invalid_argument, fmt::format("--resume: {}: {}", path, what));
  };
  const nlohmann::json saved = nlohmann::json::parse(saved_metadata, nullptr, false);
  const nlohmann::json now = nlohmann::json::parse(current_metadata);
  if (!saved.is_object() || !saved.contains("run") || !saved["run"].is_object())
    fail("not a checkpoint of tmlp train (no run options in it)");
  // Flags added since checkpoints were first written: an older checkpoint ran with their
  // defaults.
  nlohmann::json added;
  for (const std::string_view name : {"batch-norm", "embedding-dim", "one-hot-max"})
    added[std::string(name)] = flag_json(*find_train_flag(name), train_options{});
  // Flags recorded only when set: a file without one ran with its default.
  nlohmann::json run_now = now["run"];
  for (const train_flag& f : train_flags()) {
    const std::string key(f.name);
    if (!f.recorded_if_set) continue;
    added[key] = absent_value(f);
    if (!run_now.contains(key)) run_now[key] = added[key];
  }
  for (const auto& [key, value] : run_now.items()) {
    const nlohmann::json& before = saved["run"].contains(key) ? saved["run"][key]
                                   : added.contains(key)      ? added[key]
                                                              : nullptr;
    if (before != value && key == "epochs" && value.is_number_unsigned()) {
      const std::string sched = run_now.value("schedule", nlohmann::json("")).dump();
      if (sched.find("cosine") != std::string::npos)
        fail(
            fmt::format("the run was started with --epochs {} and --schedule {}, whose learning "
                        "rate depends on the total; only a schedule that does not (constant, "
                        "step, exp, plateau) can take a run to more epochs",
                        shown(before), shown(run_now["schedule"])));
      if (value.get<std::size_t>() < epochs_done)
        fail(fmt::format("--epochs {}: the checkpoint has already run {} epochs", shown(value),
                         epochs_done));
      continue;  // more epochs: the same steps, then more of them
    }
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

std::string model_metadata(const train_options& given, const training_data& d, const fit_result& r,
                           std::size_t epochs_run) {
  const train_options o = as_run(given, d);
  nlohmann::json meta;
  meta["preprocessing"] = nlohmann::json::parse(d.prep.to_json());
  nlohmann::json& training = meta["training"];
  for (const train_flag& f : train_flags())
    if (f.in_model && recorded(f, o)) training[metadata_key(f.name)] = flag_json(f, o);
  training["data"] = std::filesystem::path(o.data).filename().string();
  training["target"] = d.target;
  training["loss"] = std::string(to_string(d.loss.loss));
  training["epochs_run"] = epochs_run;
  training["best_epoch"] = r.best_epoch;
  training["status"] = std::string(to_string(r.status));
  return meta.dump();
}

}  // namespace tmlp
