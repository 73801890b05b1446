// Model files (a container, see io/container.hpp, of the spec, metadata and parameters) and the
// model spec as JSON.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/network.hpp"
#include "io/container.hpp"
#include "io/model_file.hpp"
#include "tmlp/error.hpp"
#include "tmlp/io.hpp"

namespace tmlp {
namespace {

constexpr io::container_kind model_kind{"TMLPMODL", model_format_version, "model file", 1};

template <class E>
E enum_from(const nlohmann::json& j, const char* field,
            std::optional<E> (*parse)(std::string_view) noexcept) {
  const std::string name = j.get<std::string>();
  if (const std::optional<E> v = parse(name)) return *v;
  throw error(errc::invalid_argument, fmt::format("model spec: unknown {} '{}'", field, name));
}

}  // namespace

std::string spec_to_json(const model_spec& spec) {
  nlohmann::json layers = nlohmann::json::array();
  for (const dense_spec& l : spec.layers) {
    nlohmann::json j{{"units", l.units},
                     {"activation", std::string(to_string(l.act))},
                     {"init", std::string(to_string(l.init))}};
    if (l.alpha) j["alpha"] = *l.alpha;
    if (l.dropout > 0.0f) j["dropout"] = l.dropout;
    if (l.layer_norm) j["layer_norm"] = true;
    if (l.residual) j["residual"] = true;
    if (l.batch_norm) j["batch_norm"] = true;
    layers.push_back(std::move(j));
  }
  nlohmann::json j{{"n_inputs", spec.n_inputs},
                   {"layers", std::move(layers)},
                   {"loss", std::string(to_string(spec.loss))},
                   {"huber_delta", spec.huber_delta},
                   {"seed", spec.seed}};
  if (spec.label_smoothing != 0.0f) j["label_smoothing"] = spec.label_smoothing;  // else absent
  if (!spec.embeddings.empty()) {
    nlohmann::json tables = nlohmann::json::array();
    for (const embedding_spec& t : spec.embeddings)
      tables.push_back({{"column", t.column}, {"cardinality", t.cardinality}, {"dim", t.dim}});
    j["embeddings"] = std::move(tables);
  }
  if (!spec.periodic_embeddings.empty()) {  // absent when none, as in older files
    nlohmann::json cols = nlohmann::json::array();
    for (const periodic_embedding_spec& t : spec.periodic_embeddings)
      cols.push_back({{"column", t.column},
                      {"n_frequencies", t.n_frequencies},
                      {"dim", t.dim},
                      {"sigma", t.sigma}});
    j["periodic_embeddings"] = std::move(cols);
  }
  if (spec.feature_scale) j["feature_scale"] = true;  // else absent
  return j.dump();
}

namespace {

// Every key of object o (named `what` in messages) must be one of `known`.
void only_keys(const nlohmann::json& o, std::initializer_list<std::string_view> known,
               std::string_view what) {
  if (!o.is_object())
    throw error(errc::invalid_argument, fmt::format("model spec: {} is not an object", what));
  for (const auto& [key, value] : o.items())
    if (std::find(known.begin(), known.end(), key) == known.end())
      throw error(errc::invalid_argument,
                  fmt::format("model spec: {}: unknown key '{}'", what, key));
}

dense_spec layer_from_json(const nlohmann::json& l, std::size_t i) {
  only_keys(
      l,
      {"units", "activation", "init", "alpha", "dropout", "layer_norm", "residual", "batch_norm"},
      fmt::format("layers[{}]", i));
  dense_spec d;
  d.units = l.at("units").get<std::size_t>();
  if (l.contains("activation"))
    d.act = enum_from(l.at("activation"), "activation", &activation_from_string);
  if (l.contains("init")) d.init = enum_from(l.at("init"), "init", &init_from_string);
  if (l.contains("alpha")) d.alpha = l.at("alpha").get<float>();
  if (l.contains("dropout")) d.dropout = l.at("dropout").get<float>();
  if (l.contains("layer_norm")) d.layer_norm = l.at("layer_norm").get<bool>();
  if (l.contains("residual")) d.residual = l.at("residual").get<bool>();
  if (l.contains("batch_norm")) d.batch_norm = l.at("batch_norm").get<bool>();
  return d;
}

}  // namespace

model_spec spec_from_json(const std::string& text) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    only_keys(j,
              {"n_inputs", "layers", "embeddings", "periodic_embeddings", "feature_scale", "loss",
               "huber_delta", "label_smoothing", "seed"},
              "spec");
    model_spec s;
    s.n_inputs = j.at("n_inputs").get<std::size_t>();
    for (const auto& l : j.at("layers")) s.layers.push_back(layer_from_json(l, s.layers.size()));
    if (j.contains("embeddings"))
      for (const auto& t : j.at("embeddings")) {
        only_keys(t, {"column", "cardinality", "dim"}, "embeddings[]");
        s.embeddings.push_back({t.at("column").get<std::size_t>(),
                                t.at("cardinality").get<std::size_t>(),
                                t.at("dim").get<std::size_t>()});
      }
    if (j.contains("periodic_embeddings"))
      for (const auto& t : j.at("periodic_embeddings")) {
        only_keys(t, {"column", "n_frequencies", "dim", "sigma"}, "periodic_embeddings[]");
        s.periodic_embeddings.push_back(
            {t.at("column").get<std::size_t>(), t.at("n_frequencies").get<std::size_t>(),
             t.at("dim").get<std::size_t>(), t.at("sigma").get<float>()});
      }
    if (j.contains("feature_scale")) s.feature_scale = j.at("feature_scale").get<bool>();
    s.loss = enum_from(j.at("loss"), "loss", &loss_from_string);
    if (j.contains("huber_delta")) s.huber_delta = j.at("huber_delta").get<float>();
    if (j.contains("label_smoothing")) s.label_smoothing = j.at("label_smoothing").get<float>();
    if (j.contains("seed")) s.seed = j.at("seed").get<std::uint64_t>();
    validate(s);
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw error(errc::invalid_argument, std::string("model spec: malformed JSON: ") + e.what());
  }
}

nlohmann::json model_header(const model& m, const std::string& metadata_json, const char* caller) {
  nlohmann::json header;
  header["spec"] = nlohmann::json::parse(spec_to_json(m.spec()));
  try {
    header["metadata"] =
        metadata_json.empty() ? nlohmann::json() : nlohmann::json::parse(metadata_json);
  } catch (const nlohmann::json::exception& e) {
    throw error(errc::invalid_argument,
                fmt::format("{}: metadata is not JSON: {}", caller, e.what()));
  }
  return header;
}

std::string metadata_of(const nlohmann::json& header) {
  return header.contains("metadata") ? header["metadata"].dump() : "null";
}

namespace {

// The spec's JSON with the seed left out: what the members of an ensemble share.
std::string spec_but_seed(model_spec s) {
  s.seed = 0;
  return spec_to_json(s);
}

// The file's bytes: one model as format version 1 (as builds before ensembles wrote it), an
// ensemble as version 2 with the members' seeds in "members" and their parameters in order.
std::vector<unsigned char> encode_model(const model& first, std::span<const model> more,
                                        const std::string& metadata_json, const char* caller) {
  nlohmann::json header = model_header(first, metadata_json, caller);
  std::vector<std::span<const float>> params{first.parameters()};
  if (more.empty()) return io::encode_container(model_kind, header.dump(), params, 1);
  const std::string shared = spec_but_seed(first.spec());
  nlohmann::json seeds = nlohmann::json::array({first.spec().seed});
  for (std::size_t i = 0; i < more.size(); ++i) {
    if (spec_but_seed(more[i].spec()) != shared)
      throw error(errc::invalid_argument,
                  fmt::format("{}: member {} of the ensemble has another network than member 0 "
                              "(members differ only in their seed)",
                              caller, i + 1));
    seeds.push_back(more[i].spec().seed);
    params.push_back(more[i].parameters());
  }
  header["members"] = std::move(seeds);
  return io::encode_container(model_kind, header.dump(), params);
}

}  // namespace

void save_model(const model& m, const std::string& path, const std::string& metadata_json) {
  io::write_file_atomically(path, encode_model(m, {}, metadata_json, "save_model"));
}

void save_model(const loaded_model& l, const std::string& path) {
  io::write_file_atomically(path, encode_model(l.model, l.more_members, l.metadata, "save_model"));
}

std::vector<unsigned char> model_to_bytes(const model& m, const std::string& metadata_json) {
  return encode_model(m, {}, metadata_json, "model_to_bytes");
}

std::vector<unsigned char> model_to_bytes(const loaded_model& l) {
  return encode_model(l.model, l.more_members, l.metadata, "model_to_bytes");
}

loaded_model model_from_bytes(std::span<const unsigned char> bytes, const std::string& source) {
  return parse_model_file(bytes, source);
}

loaded_model load_model(const std::string& path) {
  return parse_model_file(io::read_container_file(model_kind, path), path);
}

model model_from_container(const io::container_kind& kind, const io::container_view& c,
                           const std::string& path) {
  const nlohmann::json& header = c.json;
  if (!header.is_object() || !header.contains("spec"))
    io::corrupt(kind, path, "header has no model spec");
  model_spec spec;
  try {
    spec = spec_from_json(header["spec"].dump());
  } catch (const error& e) {
    io::corrupt(kind, path, e.what());
  }
  // The spec's own parameter count must fit in the file before a model is allocated (the
  // layout holds offsets only).
  const std::uint64_t expect = core::network::from_spec(spec).n_params;
  if (expect > c.n_floats)
    io::corrupt(kind, path,
                fmt::format("spec needs {} parameters, file holds {}", expect, c.n_floats));
  model m = model::create(spec);
  auto params = m.parameters();
  for (std::size_t i = 0; i < params.size(); ++i) {
    params[i] = c.at(i);
    if (!std::isfinite(params[i]))
      io::corrupt(kind, path, fmt::format("parameter {} is not finite", i));
  }
  return m;
}

namespace {

// An ensemble's member seeds from the header's "members" (empty: one model), checked against the
// file's version and member 0's spec.
std::vector<std::uint64_t> member_seeds(const io::container_view& c, const model& first,
                                        const std::string& path) {
  std::vector<std::uint64_t> seeds;
  if (!c.json.contains("members")) return seeds;
  if (c.version < 2) io::corrupt(model_kind, path, "a format version 1 file has no members");
  const nlohmann::json& j = c.json["members"];
  if (!j.is_array() || j.size() < 2)
    io::corrupt(model_kind, path, "\"members\" is not a list of two or more seeds");
  for (const nlohmann::json& s : j) {
    if (!s.is_number_unsigned())
      io::corrupt(model_kind, path, fmt::format("member seed {} is not a whole number", s.dump()));
    seeds.push_back(s.get<std::uint64_t>());
  }
  if (seeds[0] != first.spec().seed)
    io::corrupt(model_kind, path, "the first member's seed is not the spec's");
  return seeds;
}

}  // namespace

loaded_model parse_model_file(std::span<const unsigned char> data, const std::string& path) {
  const io::container_view c = io::decode_container(model_kind, data, path);
  model m = model_from_container(model_kind, c, path);
  const std::vector<std::uint64_t> seeds = member_seeds(c, m, path);
  const std::uint64_t k = seeds.empty() ? 1 : seeds.size(), n = m.n_params();
  if (c.n_floats % k != 0 || c.n_floats / k != n)
    io::corrupt(
        model_kind, path,
        k == 1 ? fmt::format("spec needs {} parameters, file holds {}", n, c.n_floats)
               : fmt::format("{} members of {} parameters each, file holds {}", k, n, c.n_floats));
  loaded_model l{std::move(m), metadata_of(c.json), {}};
  for (std::size_t i = 1; i < k; ++i) {
    model_spec spec = l.model.spec();
    spec.seed = seeds[i];
    model member = model::create(spec);
    const std::span<float> params = member.parameters();
    for (std::size_t j = 0; j < n; ++j) {
      params[j] = c.at(i * n + j);
      if (!std::isfinite(params[j]))
        io::corrupt(model_kind, path, fmt::format("member {}'s parameter {} is not finite", i, j));
    }
    l.more_members.push_back(std::move(member));
  }
  return l;
}

}  // namespace tmlp
