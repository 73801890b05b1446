// `tmlp train`'s flags with CLI11, and the --config JSON file fed through the same options so
// that a value from the file is converted and checked exactly like the same flag.
#include "cli/train_flags.hpp"

#include <fstream>
#include <iterator>
#include <set>
#include <type_traits>
#include <variant>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "tmlp/error.hpp"

namespace tmlp::cli {
namespace {

constexpr const char* train_footer =
    R"(Target: a column name; if no column has that name and the value is an integer, the column's
  1-based position (as in error messages), counting from the end when negative (-1 = last).

Schedules (--schedule), the learning rate of each epoch from --lr:
  constant                       the same rate throughout
  step[:EPOCHS[:GAMMA]]          times GAMMA every EPOCHS epochs (default step:10:0.1)
  exp[:GAMMA]                    times GAMMA every epoch (default exp:0.95)
  cosine[:WARMUP[:MIN_FRACTION]] linear warm-up over WARMUP epochs, then cosine down to
                                 MIN_FRACTION * lr (default cosine:0:0)
  plateau[:FACTOR[:PATIENCE]]    times FACTOR after PATIENCE epochs without improvement of the
                                 validation loss, or of the training loss without validation
                                 (default plateau:0.1:5)

Loss: auto is bce for a binary target, ce for a multiclass one and mse for regression. mse, mae
  and huber train any numeric target as a regression (also one whose values look like classes);
  bce needs a binary target, ce a multiclass one.

Config file (--config FILE.json): one JSON object whose keys are the long flag names, with '-'
  or '_' ("batch-size" or "batch_size"), e.g. {"target": "y", "layers": [256, 128], "lr": 1e-3}.
  A flag on the command line wins over the file; an unknown key is an error. Paths in the file
  are relative to the current directory.)";

[[noreturn]] void bad_config(const std::string& what) { throw error(errc::invalid_argument, what); }

// The text CLI11 would have received on the command line for one JSON value.
std::string flag_text(const std::string& path, const std::string& key, const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number()) return v.dump();
  bad_config(
      fmt::format("{}: key '{}': {} is not a string, number or boolean", path, key, v.dump()));
}

// CLI11 reads "-3" into an unsigned option as 2^64 - 3; counts and seeds take digits only.
const CLI::Validator whole_number(
    [](std::string& text) -> std::string {
      if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) return {};
      return fmt::format("'{}' is not a whole number (0, 1, 2, ...)", text);
    },
    "", "whole number");

// Registers flag f, which stores its value in o.
void add_flag(CLI::App& t, const train_flag& f, train_options& o) {
  std::string names = f.positional ? std::string(f.name) : "--" + std::string(f.name);
  if (!f.short_name.empty()) names += "," + std::string(f.short_name);
  CLI::Option* opt = std::visit(
      [&](auto member) -> CLI::Option* {
        auto& v = o.*member;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          return t.add_flag(names, v, f.help);
        } else if constexpr (std::is_same_v<T, std::optional<float>>) {
          return t.add_option_function<float>(
              names, [&v](const float& x) { v = x; }, f.help);
        } else if constexpr (std::is_same_v<T, std::optional<std::uint64_t>>) {
          return t
              .add_option_function<std::uint64_t>(
                  names, [&v](const std::uint64_t& x) { v = x; }, f.help)
              ->check(whole_number);
        } else {
          CLI::Option* added = t.add_option(names, v, f.help);
          if constexpr (std::is_same_v<T, std::vector<std::string>>) added->delimiter(',');
          if constexpr (std::is_same_v<T, std::uint64_t>) added->check(whole_number);
          return added;
        }
      },
      f.field);
  if (f.positional) opt->required();
  if (f.existing_file) opt->check(CLI::ExistingFile);
  if (f.shows_default) opt->capture_default_str();
}

}  // namespace

CLI::App* add_train_command(CLI::App& app, train_options& o) {
  CLI::App* t = app.add_subcommand(
      "train", "Train a model on a CSV or .tmlpd file and write it to a model file");
  t->footer(train_footer);
  for (const train_flag& f : train_flags()) add_flag(*t, f, o);
  t->callback([t, &o] {
    if (!o.config.empty()) merge_config_file(*t, o.config);
    if (!o.valid.empty() && t->count("--valid-fraction") > 0)
      throw error(errc::invalid_argument,
                  "--valid-fraction and --valid exclude each other: the --valid file is the "
                  "validation set");
    if (o.target.empty())
      throw error(errc::invalid_argument,
                  "--target is required (on the command line or in the --config file)");
  });
  return t;
}

void merge_config_file(CLI::App& train, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw error(errc::io, fmt::format("{}: cannot read the config file", path));
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    bad_config(fmt::format("{}: not valid JSON ({})", path, e.what()));
  }
  if (!j.is_object())
    bad_config(
        fmt::format("{}: expected a JSON object of flag values, found {}", path, j.type_name()));

  std::set<std::string> seen;
  for (const auto& [key, value] : j.items()) {
    std::string name = key;
    for (char& c : name)
      if (c == '_') c = '-';
    const train_flag* flag = find_train_flag(name);
    if (flag == nullptr || flag->positional || flag->name == "config")
      bad_config(fmt::format("{}: unknown key '{}'", path, key));
    CLI::Option* opt = train.get_option("--" + name);
    if (!seen.insert(name).second)
      bad_config(fmt::format("{}: key '{}' given twice (as '-' and '_' spellings)", path, key));
    if (opt->count() > 0) continue;  // the command line wins

    std::vector<std::string> texts;
    if (value.is_array()) {
      for (const auto& v : value) texts.push_back(flag_text(path, key, v));
      if (opt->get_items_expected_max() <= 1) texts = {fmt::format("{}", fmt::join(texts, ","))};
    } else {
      texts.push_back(flag_text(path, key, value));
    }
    try {
      opt->clear();
      for (auto& s : texts) opt->add_result(std::move(s));
      opt->run_callback();  // CLI11's own conversion and checks, then the store
    } catch (const CLI::ParseError& e) {
      bad_config(fmt::format("{}: key '{}': {}", path, key, e.what()));
    }
  }
}

}  // namespace tmlp::cli
