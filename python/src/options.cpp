// Keyword arguments into tmlp::train_options through the flag table: one keyword per flag of
// `tmlp train`, named with '_' for '-' (batch_size for --batch-size), with the flag's default.
#include <algorithm>
#include <string>
#include <type_traits>
#include <variant>

#include <fmt/format.h>

#include "options.hpp"
#include "tmlp/train_options.hpp"

namespace tmlp::python {
namespace {

bool is_bool(py::handle v) {
  return py::isinstance<py::bool_>(v) ||
         py::str(py::type::of(v).attr("__name__")).cast<std::string>() == "bool_";
}

bool is_integer(py::handle v) {
  if (is_bool(v)) return false;
  return py::isinstance<py::int_>(v) || py::hasattr(v, "__index__");
}

bool is_number(py::handle v) {
  if (is_bool(v)) return false;
  return is_integer(v) || py::isinstance<py::float_>(v) || py::hasattr(v, "__float__");
}

double number(py::handle v) {
  return py::float_(py::reinterpret_borrow<py::object>(v)).cast<double>();
}

long long integer(py::handle v) {
  return py::int_(py::reinterpret_borrow<py::object>(v)).cast<long long>();
}

[[noreturn]] void bad_value(const std::string& key, py::handle v, const char* expected) {
  bad_input(fmt::format("{}: {} is not {}", key, py::repr(v).cast<std::string>(), expected));
}

std::string text_of(const std::string& key, py::handle v) {
  if (py::isinstance<py::str>(v)) return v.cast<std::string>();
  // Layer widths as a sequence of integers, as scikit-learn's hidden_layer_sizes.
  if (key == "layers" && (py::isinstance<py::tuple>(v) || py::isinstance<py::list>(v))) {
    std::string out;
    for (py::handle w : v) {
      if (!is_integer(w)) bad_value(key, v, "text like '256,128' or a sequence of widths");
      out += (out.empty() ? "" : ",") + py::str(w).cast<std::string>();
    }
    return out;
  }
  bad_value(key, v, "text");
}

std::vector<std::string> list_of(const std::string& key, py::handle v) {
  std::vector<std::string> out;
  if (v.is_none()) return out;
  if (py::isinstance<py::str>(v)) {
    const std::string s = v.cast<std::string>();
    for (std::size_t pos = 0; !s.empty() && pos <= s.size();) {
      const std::size_t comma = std::min(s.find(',', pos), s.size());
      out.push_back(s.substr(pos, comma - pos));
      pos = comma + 1;
    }
    return out;
  }
  if (!py::isinstance<py::sequence>(v)) bad_value(key, v, "a list of column names");
  for (py::handle e : v) {
    if (!py::isinstance<py::str>(e)) bad_value(key, v, "a list of column names");
    out.push_back(e.cast<std::string>());
  }
  return out;
}

}  // namespace

void set_option(train_options& o, const std::string& key, py::handle v) {
  const std::string flag_name = [&] {
    std::string n = key;
    std::replace(n.begin(), n.end(), '_', '-');
    return n;
  }();
  const train_flag* f = find_train_flag(flag_name);
  if (f == nullptr || f->positional || flag_name == "config")
    bad_input(fmt::format("unknown option '{}'", key));
  std::visit(
      [&](auto member) {
        auto& field = o.*member;
        using T = std::decay_t<decltype(field)>;
        if constexpr (std::is_same_v<T, std::string>) {
          field = text_of(key, v);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          field = list_of(key, v);
        } else if constexpr (std::is_same_v<T, bool>) {
          if (!is_bool(v)) bad_value(key, v, "True or False");
          field = v.cast<bool>();
        } else if constexpr (std::is_same_v<T, float>) {
          if (!is_number(v)) bad_value(key, v, "a number");
          field = static_cast<float>(number(v));
        } else if constexpr (std::is_same_v<T, std::optional<float>>) {
          if (v.is_none()) {
            field.reset();
          } else {
            if (!is_number(v)) bad_value(key, v, "a number or None");
            field = static_cast<float>(number(v));
          }
        } else if constexpr (std::is_same_v<T, std::optional<std::uint64_t>>) {
          if (v.is_none()) {
            field.reset();
          } else {
            if (!is_integer(v) || integer(v) < 0)
              bad_value(key, v, "a whole number (0, 1, 2, ...) or None");
            field = static_cast<std::uint64_t>(integer(v));
          }
        } else if constexpr (std::is_same_v<T, int>) {
          if (!is_integer(v)) bad_value(key, v, "an integer");
          field = static_cast<int>(integer(v));
        } else {
          // Up to 2^64 - 1 (an ensemble member's seed may be above 2^63).
          if (!is_integer(v)) bad_value(key, v, "a whole number (0, 1, 2, ...)");
          try {
            field = py::int_(py::reinterpret_borrow<py::object>(v)).cast<unsigned long long>();
          } catch (const py::cast_error&) {
            bad_value(key, v, "a whole number (0, 1, 2, ...)");
          }
        }
      },
      f->field);
}

train_options options_from(const py::dict& kwargs) {
  train_options o;
  for (const auto& [k, v] : kwargs) set_option(o, k.cast<std::string>(), v);
  return o;
}

py::object default_value(const train_flag& f) {
  const train_options o;
  return std::visit(
      [&](auto member) -> py::object {
        const auto& v = o.*member;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::optional<float>>) {
          return v ? py::object(py::float_(*v)) : py::object(py::none());
        } else if constexpr (std::is_same_v<T, std::optional<std::uint64_t>>) {
          return v ? py::object(py::int_(*v)) : py::object(py::none());
        } else if constexpr (std::is_same_v<T, float>) {
          // The shortest text of the float32 default, as a Python float (0.2, not 0.2000000029).
          return py::float_(std::stod(fmt::format("{}", v)));
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          return v.empty() ? py::object(py::none()) : py::object(py::cast(v));
        } else {
          return py::cast(v);
        }
      },
      f.field);
}

py::list flag_table() {
  py::list out;
  for (const train_flag& f : train_flags()) {
    if (f.positional || f.name == "config") continue;
    py::dict d;
    d["name"] = metadata_key(f.name);
    d["flag"] = "--" + std::string(f.name);
    d["help"] = f.help;
    d["default"] = default_value(f);
    d["in_model"] = f.in_model;
    out.append(d);
  }
  return out;
}

}  // namespace tmlp::python
