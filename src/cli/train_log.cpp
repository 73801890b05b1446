// The JSON-lines epoch log of `tmlp train --log`.
#include "cli/train_log.hpp"

#include <cmath>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tmlp/error.hpp"

namespace tmlp::cli {
namespace {

nlohmann::ordered_json number_or_null(std::optional<double> v) {
  if (v && std::isfinite(*v)) return *v;
  return nullptr;
}

}  // namespace

train_log::train_log(const std::string& path, bool append, bool ensemble)
    : path_(path), ensemble_(ensemble), file_(std::fopen(path.c_str(), append ? "a" : "w")) {
  if (!file_) throw error(errc::io, fmt::format("--log: cannot create {}", path));
}

void train_log::write(const epoch_report& e) {
  const std::string line = to_json_line(e, ensemble_) + '\n';
  if (std::fwrite(line.data(), 1, line.size(), file_.get()) != line.size() ||
      std::fflush(file_.get()) != 0)
    throw error(errc::io, fmt::format("--log: cannot write {}", path_));
}

std::string to_json_line(const epoch_report& e, bool with_member) {
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  for (const layer_health& h : e.layers)
    layers.push_back(
        {{"grad_norm", number_or_null(h.grad_norm)},
         {"weight_norm", number_or_null(h.weight_norm)},
         {"dead_fraction",
          number_or_null(h.dead_fraction >= 0.0 ? std::optional(h.dead_fraction) : std::nullopt)},
         {"vanishing", h.vanishing},
         {"exploding", h.exploding}});
  const nlohmann::ordered_json j = {
      {"epoch", e.epoch},
      {"train_loss", number_or_null(e.train_loss)},
      {"valid_loss", number_or_null(e.valid_loss)},
      {"valid_metric", number_or_null(e.valid_metric)},
      {"metric_name", e.metric_name},
      {"lr", number_or_null(std::stod(fmt::format("{}", e.lr)))},  // 0.001, not 0.0010000000475
      {"seconds", e.seconds},
      {"samples_per_second", e.samples_per_second},
      {"vanishing", e.vanishing},
      {"exploding", e.exploding},
      {"layers", std::move(layers)}};
  if (!with_member) return j.dump();
  nlohmann::ordered_json line = {{"member", e.member}};
  for (auto it = j.begin(); it != j.end(); ++it) line[it.key()] = it.value();
  return line.dump();
}

}  // namespace tmlp::cli
