// JSON options into tmlp::train_options through the flag table.
#include "capi/options.hpp"

#include <cmath>
#include <limits>
#include <type_traits>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tmlp/error.hpp"

namespace tmlp::capi {
namespace {

using json = nlohmann::json;

[[noreturn]] void bad_value(std::string_view function, const std::string& key, const json& v,
                            const char* expected) {
  throw error(errc::invalid_argument,
              fmt::format("{}: option '{}': {} is not {}", function, key, v.dump(), expected));
}

// A text option: a string, or a number (a target's position) or, for a list such as --layers,
// an array of either, joined with commas.
std::string text_of(std::string_view function, const std::string& key, const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return v.dump();
  if (!v.is_array()) bad_value(function, key, v, "a string");
  std::string out;
  for (const json& e : v) {
    if (!e.is_string() && !e.is_number_integer())
      bad_value(function, key, v, "a string or an array of strings and whole numbers");
    if (!out.empty()) out += ',';
    out += e.is_string() ? e.get<std::string>() : e.dump();
  }
  return out;
}

std::vector<std::string> list_of(std::string_view function, const std::string& key, const json& v) {
  std::vector<std::string> out;
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    for (std::size_t pos = 0; !s.empty() && pos <= s.size();) {
      const std::size_t comma = std::min(s.find(',', pos), s.size());
      out.push_back(s.substr(pos, comma - pos));
      pos = comma + 1;
    }
    return out;
  }
  if (!v.is_array()) bad_value(function, key, v, "a list of column names");
  for (const json& e : v) {
    if (!e.is_string()) bad_value(function, key, v, "a list of column names");
    out.push_back(e.get<std::string>());
  }
  return out;
}

float float_of(std::string_view function, const std::string& key, const json& v) {
  if (!v.is_number()) bad_value(function, key, v, "a number");
  return static_cast<float>(v.get<double>());
}

void set_option(train_options& o, const train_flag& f, std::string_view function,
                const std::string& key, const json& v) {
  std::visit(
      [&](auto member) {
        auto& field = o.*member;
        using T = std::decay_t<decltype(field)>;
        if constexpr (std::is_same_v<T, std::string>) {
          field = text_of(function, key, v);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          field = list_of(function, key, v);
        } else if constexpr (std::is_same_v<T, bool>) {
          if (!v.is_boolean()) bad_value(function, key, v, "true or false");
          field = v.get<bool>();
        } else if constexpr (std::is_same_v<T, float>) {
          field = float_of(function, key, v);
        } else if constexpr (std::is_same_v<T, std::optional<float>>) {
          field = v.is_null() ? std::nullopt : std::optional<float>(float_of(function, key, v));
        } else if constexpr (std::is_same_v<T, std::optional<std::uint64_t>>) {
          if (v.is_null()) {
            field.reset();
          } else {
            if (!v.is_number_unsigned())
              bad_value(function, key, v, "a whole number (0, 1, 2, ...) or null");
            field = v.get<std::uint64_t>();
          }
        } else if constexpr (std::is_same_v<T, int>) {
          if (!v.is_number_integer() || v.get<long long>() < std::numeric_limits<int>::min() ||
              v.get<long long>() > std::numeric_limits<int>::max())
            bad_value(function, key, v, "an integer");
          field = v.get<int>();
        } else {
          if (!v.is_number_unsigned()) bad_value(function, key, v, "a whole number (0, 1, 2, ...)");
          field = v.get<std::uint64_t>();
        }
      },
      f.field);
}

}  // namespace

parsed_options options_from_json(const char* text, std::string_view function) {
  parsed_options out;
  if (text == nullptr || *text == '\0') return out;
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw error(errc::invalid_argument,
                fmt::format("{}: the options are not valid JSON ({})", function, e.what()));
  }
  if (!j.is_object())
    throw error(errc::invalid_argument,
                fmt::format("{}: the options must be a JSON object of flag values, not {}",
                            function, j.type_name()));
  for (const auto& [key, value] : j.items()) {
    std::string name = key;
    for (char& c : name)
      if (c == '_') c = '-';
    const train_flag* f = find_train_flag(name);
    if (f == nullptr)
      throw error(errc::invalid_argument, fmt::format("{}: unknown option '{}'", function, key));
    if (!out.given.insert(name).second)
      throw error(
          errc::invalid_argument,
          fmt::format("{}: option '{}' given twice (as '-' and '_' spellings)", function, key));
    set_option(out.options, *f, function, key, value);
  }
  return out;
}

}  // namespace tmlp::capi
