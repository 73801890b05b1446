// Checkpoints: a model file's container with the training state beside the parameters.
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/container.hpp"
#include "io/model_file.hpp"
#include "tmlp/checkpoint.hpp"
#include "tmlp/error.hpp"
#include "train/optimizer.hpp"
#include "train/training_state.hpp"

namespace tmlp {
namespace {

// Version 1 stored the optimizer as "optimizer_kind", its index in tmlp::optimizer; version 2
// as "optimizer", its name. Nothing else differs.
constexpr io::container_kind checkpoint_kind{"TMLPCKPT", checkpoint_format_version, "checkpoint",
                                             1};

// JSON has no infinity: a loss that is not finite (no best epoch yet) is stored as null.
nlohmann::json finite_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nullptr; }
double from_finite_or_null(const nlohmann::json& j) {
  return j.is_null() ? std::numeric_limits<double>::infinity() : j.get<double>();
}

// The index in tmlp::optimizer of a stored optimizer name.
int optimizer_of(const std::string& name) {
  if (const std::optional<int> k = train::optimizer_kind(name)) return *k;
  throw std::invalid_argument(fmt::format("unknown optimizer '{}' in the training state", name));
}

}  // namespace

void save_checkpoint(const model& m, const training_state& state, const std::string& path,
                     const std::string& metadata_json) {
  const train::training_state_data& s = train::state_of(state);
  nlohmann::json header = model_header(m, metadata_json, "save_checkpoint");
  header["state"] = {{"epochs_done", s.epochs_done},
                     {"n_steps", s.n_steps},
                     {"optimizer", train::optimizer_name(s.optimizer_kind)},
                     {"n_moments1", s.moments1.size()},
                     {"n_moments2", s.moments2.size()},
                     {"n_best_params", s.best_params.size()},
                     {"plateau_lr", s.plateau_lr},
                     {"plateau_best", finite_or_null(s.plateau_best)},
                     {"plateau_bad", s.plateau_bad},
                     {"best_epoch", s.best_epoch},
                     {"best_loss", finite_or_null(s.best_loss)},
                     {"since_best", s.since_best}};
  io::write_file_atomically(
      path, io::encode_container(checkpoint_kind, header.dump(),
                                 {m.parameters(), s.moments1, s.moments2, s.best_params}));
}

loaded_checkpoint load_checkpoint(const std::string& path) {
  return parse_checkpoint(io::read_container_file(checkpoint_kind, path), path);
}

loaded_checkpoint parse_checkpoint(std::span<const unsigned char> bytes, const std::string& path) {
  const io::container_view c = io::decode_container(checkpoint_kind, bytes, path);
  model m = model_from_container(checkpoint_kind, c, path);
  if (!c.json.contains("state") || !c.json["state"].is_object())
    io::corrupt(checkpoint_kind, path, "header has no training state");
  const nlohmann::json& j = c.json["state"];
  train::training_state_data s;
  std::uint64_t n1 = 0, n2 = 0, nb = 0;
  try {
    s.epochs_done = j.at("epochs_done").get<std::size_t>();
    s.n_steps = j.at("n_steps").get<std::size_t>();
    s.optimizer_kind = c.version == 1 ? j.at("optimizer_kind").get<int>()
                                      : optimizer_of(j.at("optimizer").get<std::string>());
    n1 = j.at("n_moments1").get<std::uint64_t>();
    n2 = j.at("n_moments2").get<std::uint64_t>();
    nb = j.at("n_best_params").get<std::uint64_t>();
    s.plateau_lr = j.at("plateau_lr").get<float>();
    s.plateau_best = from_finite_or_null(j.at("plateau_best"));
    s.plateau_bad = j.at("plateau_bad").get<std::size_t>();
    s.best_epoch = j.at("best_epoch").get<std::size_t>();
    s.best_loss = from_finite_or_null(j.at("best_loss"));
    s.since_best = j.at("since_best").get<std::size_t>();
  } catch (const nlohmann::json::exception& e) {
    io::corrupt(checkpoint_kind, path, std::string("malformed training state: ") + e.what());
  } catch (const std::invalid_argument& e) {
    io::corrupt(checkpoint_kind, path, e.what());
  }
  // Every array must be the model's size (or empty), and together fill the file exactly.
  const std::uint64_t np = m.n_params();
  for (const std::uint64_t n : {n1, n2, nb})
    if (n != 0 && n != np)
      io::corrupt(checkpoint_kind, path,
                  fmt::format("a state array holds {} values, the model has {} parameters", n, np));
  if (np + n1 + n2 + nb != c.n_floats)
    io::corrupt(
        checkpoint_kind, path,
        fmt::format("the state needs {} values, the file holds {}", np + n1 + n2 + nb, c.n_floats));
  std::uint64_t at = np;
  const auto take = [&](std::vector<float>& v, std::uint64_t n) {
    v.resize(n);
    for (std::uint64_t i = 0; i < n; ++i) {
      v[i] = c.at(at + i);
      if (!std::isfinite(v[i]))
        io::corrupt(checkpoint_kind, path, fmt::format("state value {} is not finite", at + i));
    }
    at += n;
  };
  take(s.moments1, n1);
  take(s.moments2, n2);
  take(s.best_params, nb);
  return {std::move(m), train::state_access::make(std::move(s)), metadata_of(c.json)};
}

}  // namespace tmlp
