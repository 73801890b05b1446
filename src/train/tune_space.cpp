// The search space of `tmlp tune`: the default space, space files, and each trial's flags drawn
// from a counter-based generator (tmlp/tune.hpp).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iterator>
#include <set>
#include <type_traits>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tmlp/error.hpp"
#include "tmlp/train_setup.hpp"
#include "tmlp/tune.hpp"

namespace tmlp {
namespace {

[[noreturn]] void bad(const std::string& what) { throw error(errc::invalid_argument, what); }

// Flags a space may not name: the tuner sets them itself, or they name files or outputs.
constexpr std::string_view reserved_flags[] = {
    "data",   "target",           "valid",  "epochs", "out",     "log",         "checkpoint",
    "resume", "checkpoint-every", "config", "quiet",  "threads", "distributed", "comm-timeout"};

bool is_layer_part(std::string_view name) { return name == "width" || name == "depth"; }

// A JSON value as it would be typed after its flag: numbers as written (32, 0.001), a list
// joined with ','.
std::string value_text(const nlohmann::json& v, const std::string& where) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number()) return v.dump();
  if (v.is_array()) {
    std::string out;
    for (const auto& e : v) out += (out.empty() ? "" : ",") + value_text(e, where);
    return out;
  }
  bad(fmt::format("{}: {} is not a value, a list or a range", where, v.dump()));
}

template <class T>
T parse_number(const std::string& flag, const std::string& text) {
  T v{};
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end || text.empty())
    bad(fmt::format("--{}: '{}' is not a {}", flag, text,
                    std::is_floating_point_v<T> ? "number" : "whole number"));
  return v;
}

// 64 random bits from (seed, trial, parameter): splitmix64 over the three, mixed in turn.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
double uniform01(std::uint64_t seed, std::size_t trial, std::size_t param) {
  const std::uint64_t bits = mix(mix(mix(seed) ^ trial) ^ (param + 1));
  return static_cast<double>(bits >> 11) * 0x1.0p-53;  // [0, 1)
}

// The text of a sampled number: whole numbers as such, others to 3 significant digits (the
// text is the value the trial trains with).
std::string number_text(double v, bool integer) {
  if (integer) return fmt::format("{}", static_cast<long long>(std::llround(v)));
  return fmt::format("{:.3g}", v);
}

void check_param(const tune_param& p, const std::string& where) {
  if (is_layer_part(p.flag)) {
    for (const std::string& c : p.choices)
      if (parse_number<std::uint64_t>(p.flag, c) == 0)
        bad(fmt::format("{}: {} is not >= 1", where, c));
    return;
  }
  train_options o;
  for (const std::string& c : p.choices) {
    try {
      apply_flags(o, {{p.flag, c}});
      hidden_layers(o);
      parse_loss(o.loss);
      make_train_config(o);
    } catch (const error& e) {
      bad(fmt::format("{}: {}", where, e.what()));
    }
  }
}

tune_param parse_param(const std::string& key, const nlohmann::json& v, const std::string& where) {
  std::string name = key;
  std::replace(name.begin(), name.end(), '_', '-');
  const train_flag* f = find_train_flag(name);
  if (!is_layer_part(name) && (f == nullptr || f->positional))
    bad(fmt::format("{}: unknown train flag (keys are flags of tmlp train, or width, depth)",
                    where));
  if (std::find(std::begin(reserved_flags), std::end(reserved_flags), name) !=
      std::end(reserved_flags))
    bad(fmt::format("{}: --{} is set by tmlp tune itself, not searched", where, name));
  if (name == "ensemble")
    bad(
        fmt::format("{}: a trial trains one model, not an ensemble (train the flags tune chooses "
                    "with --ensemble K)",
                    where));
  tune_param p{.flag = name};
  if (v.is_object()) {
    if (v.size() != 1)
      bad(fmt::format("{}: a range is one of {{\"uniform\"|\"log\"|\"int\": [lo, hi]}}", where));
    const std::string kind = v.begin().key();
    const nlohmann::json& r = v.begin().value();
    if (kind != "uniform" && kind != "log" && kind != "int")
      bad(fmt::format("{}: unknown range '{}' (uniform, log or int)", where, kind));
    if (!r.is_array() || r.size() != 2 || !r[0].is_number() || !r[1].is_number())
      bad(fmt::format("{}: {}: expected [low, high], found {}", where, kind, r.dump()));
    p.low = r[0].get<double>();
    p.high = r[1].get<double>();
    p.log = kind == "log";
    p.integer = kind == "int";
    if (!(p.low <= p.high) || !std::isfinite(p.low) || !std::isfinite(p.high) ||
        (p.log && p.low <= 0))
      bad(fmt::format("{}: {}: [{}, {}] is not a range{}", where, kind, p.low, p.high,
                      p.log ? " of positive numbers" : ""));
    // Both ends go through the flag's checks.
    p.choices = {number_text(p.low, p.integer), number_text(p.high, p.integer)};
    check_param(p, where);
    p.choices.clear();
    return p;
  }
  if (v.is_array()) {
    if (v.empty()) bad(fmt::format("{}: an empty list of choices", where));
    for (const auto& e : v) p.choices.push_back(value_text(e, where));
  } else {
    p.choices.push_back(value_text(v, where));
  }
  check_param(p, where);
  return p;
}

}  // namespace

tune_space default_tune_space() {
  tune_space s;
  s.params.push_back({.flag = "width", .choices = {"32", "64", "128", "256"}});
  s.params.push_back({.flag = "depth", .choices = {"1", "2", "3"}});
  s.params.push_back({.flag = "lr", .low = 1e-4, .high = 1e-2, .log = true});
  s.params.push_back({.flag = "weight-decay", .choices = {"0", "1e-05", "0.0001", "0.001"}});
  s.params.push_back({.flag = "dropout", .choices = {"0", "0.1", "0.2", "0.3"}});
  s.params.push_back({.flag = "batch-size", .choices = {"32", "64", "128", "256"}});
  // numeric embeddings: periodic (the default) or none, piecewise-linear bins or none
  s.params.push_back({.flag = "numeric-embedding", .choices = {"periodic", "none"}});
  s.params.push_back({.flag = "ple-bins", .choices = {"0", "8", "16"}});
  return s;
}

tune_space parse_tune_space(const std::string& json_text, const std::string& source) {
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(json_text);
  } catch (const nlohmann::json::parse_error& e) {
    bad(fmt::format("{}: not valid JSON ({})", source, e.what()));
  }
  if (!j.is_object() || j.empty())
    bad(fmt::format("{}: expected a JSON object of flags and their values, found {}", source,
                    j.is_object() ? "an empty object" : j.type_name()));
  tune_space s;
  std::set<std::string> seen;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string where = fmt::format("{}: key '{}'", source, it.key());
    s.params.push_back(parse_param(it.key(), it.value(), where));
    if (!seen.insert(s.params.back().flag).second)
      bad(fmt::format("{}: given twice (as '-' and '_' spellings)", where));
  }
  if (seen.count("layers") > 0 && (seen.count("width") > 0 || seen.count("depth") > 0))
    bad(fmt::format("{}: 'layers' and 'width'/'depth' exclude each other", source));
  return s;
}

tune_space read_tune_space(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw error(errc::io, fmt::format("{}: cannot read the space file", path));
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return parse_tune_space(text, path);
}

tune_flags sample_trial(const tune_space& space, std::uint64_t seed, std::size_t trial) {
  tune_flags f;
  std::string width, depth;
  std::size_t layers_at = std::string::npos;
  for (std::size_t i = 0; i < space.params.size(); ++i) {
    const tune_param& p = space.params[i];
    const double u = uniform01(seed, trial, i);
    std::string value;
    if (!p.choices.empty()) {
      value =
          p.choices[std::min(p.choices.size() - 1,
                             static_cast<std::size_t>(u * static_cast<double>(p.choices.size())))];
    } else if (p.log) {
      value = number_text(std::exp(std::log(p.low) + u * (std::log(p.high) - std::log(p.low))),
                          p.integer);
    } else {
      value = number_text(p.low + u * (p.high - p.low), p.integer);
    }
    if (is_layer_part(p.flag)) {
      (p.flag == "width" ? width : depth) = value;
      if (layers_at == std::string::npos) layers_at = f.size();
      continue;
    }
    f.emplace_back(p.flag, value);
  }
  if (layers_at != std::string::npos) {
    const std::size_t n = depth.empty() ? 2 : parse_number<std::size_t>("depth", depth);
    if (width.empty()) width = "64";
    std::string layers;
    for (std::size_t k = 0; k < n; ++k) layers += (k == 0 ? "" : ",") + width;
    f.insert(f.begin() + static_cast<std::ptrdiff_t>(layers_at), {"layers", layers});
  }
  return f;
}

void apply_flags(train_options& o, const tune_flags& flags) {
  for (const auto& [name, text] : flags) {
    const train_flag* f = find_train_flag(name);
    if (f == nullptr) bad(fmt::format("--{}: not a flag of tmlp train", name));
    const std::string& n = name;
    const std::string& t = text;
    std::visit(
        [&o, &n, &t](auto member) {
          auto& v = o.*member;
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            v = t;
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            v.clear();
            for (std::size_t at = 0; at <= t.size();) {
              const std::size_t comma = std::min(t.find(',', at), t.size());
              if (comma > at) v.push_back(t.substr(at, comma - at));
              at = comma + 1;
            }
          } else if constexpr (std::is_same_v<T, bool>) {
            if (t != "true" && t != "false")
              bad(fmt::format("--{}: '{}' is not true or false", n, t));
            v = t == "true";
          } else if constexpr (std::is_same_v<T, std::optional<float>>) {
            v = parse_number<float>(n, t);
          } else if constexpr (std::is_same_v<T, std::optional<std::uint64_t>>) {
            v = parse_number<std::uint64_t>(n, t);
          } else {
            v = parse_number<T>(n, t);
          }
        },
        f->field);
  }
}

std::string flags_text(const tune_flags& f) {
  std::string out;
  for (const auto& [name, value] : f)
    out += fmt::format("{}--{} {}", out.empty() ? "" : " ", name, value);
  return out;
}

}  // namespace tmlp
