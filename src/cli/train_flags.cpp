// `tmlp train`'s flags with CLI11, and the --config JSON file fed through the same options so
// that a value from the file is converted and checked exactly like the same flag.
#include "cli/train_flags.hpp"

#include <fstream>
#include <iterator>
#include <set>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/train_setup.hpp"
#include "tmlp/error.hpp"
#include "tmlp/model.hpp"
#include "tmlp/trainer.hpp"

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

}  // namespace

CLI::App* add_train_command(CLI::App& app, train_options& o) {
  CLI::App* t = app.add_subcommand(
      "train", "Train a model on a CSV or .tmlpd file and write it to a model file");
  t->footer(train_footer);

  t->add_option("data", o.data,
                "Training data: a CSV file with a header row, or a .tmlpd file (tmlp convert)")
      ->required()
      ->check(CLI::ExistingFile);
  t->add_option("--target", o.target,
                "Column to predict: its name, or its 1-based position (-1 = last); required");
  t->add_option("--valid", o.valid,
                "Validation CSV (preprocessing is fitted on DATA only); not with --valid-fraction")
      ->check(CLI::ExistingFile);
  t->add_option("--valid-fraction", o.valid_fraction,
                "Fraction of DATA's rows held out for validation, in [0, 1); 0: none")
      ->capture_default_str();
  t->add_option("--numeric", o.numeric, "Columns read as numbers whatever they look like (a,b,c)")
      ->delimiter(',');
  t->add_option("--categorical", o.categorical, "Columns read as categories (a,b,c)")
      ->delimiter(',');
  t->add_option("--ignore", o.ignore, "Columns left out of the features (a,b,c)")->delimiter(',');

  t->add_option("--layers", o.layers, "Hidden layer widths, comma-separated")
      ->capture_default_str();
  t->add_option("--activation", o.activation, join_names(activation_names(), "|"))
      ->capture_default_str();
  t->add_option("--dropout", o.dropout,
                "Drop each hidden unit's output with this probability while training, in [0, 1)")
      ->capture_default_str();
  t->add_flag("--layer-norm", o.layer_norm,
              "Layer normalization in every hidden layer, before its activation");
  t->add_flag("--residual", o.residual,
              "Residual hidden layers: each adds its input to its output (through a learned "
              "projection when the widths differ)");
  t->add_flag("--batch-norm", o.batch_norm,
              "Batch normalization in every hidden layer, before its activation (statistics "
              "over each whole mini-batch; running ones at predict time)");
  t->add_option("--embedding-dim", o.embedding_dim,
                "Learn an embedding of N values per level for each categorical column with more "
                "than --one-hot-max levels (0: hash such columns instead)")
      ->check(whole_number)
      ->capture_default_str();
  t->add_option("--one-hot-max", o.one_hot_max,
                "Categorical columns with up to N levels are one-hot encoded; more: embedded "
                "(--embedding-dim) or hashed into N buckets")
      ->check(whole_number)
      ->capture_default_str();
  t->add_option("--loss", o.loss, "auto|" + join_names(loss_names(), "|"))->capture_default_str();

  t->add_option("--optimizer", o.optimizer, join_names(optimizer_names(), "|"))
      ->capture_default_str();
  t->add_option("--lr", o.lr,
                "Learning rate (default: 1e-3 for adam and adamw, 0.01 for the others)");
  t->add_option("--batch-size", o.batch_size, "Rows per step (1 = stochastic, 0 = full batch)")
      ->check(whole_number)
      ->capture_default_str();
  t->add_option("--epochs", o.epochs, "Most epochs to run")
      ->check(whole_number)
      ->capture_default_str();
  t->add_option("--schedule", o.schedule, schedule_choices("|") + " (see below)")
      ->capture_default_str();
  t->add_option("--l1", o.l1, "L1 penalty on the weights")->capture_default_str();
  t->add_option("--l2", o.l2, "L2 penalty on the weights")->capture_default_str();
  t->add_option_function<float>(
      "--weight-decay", [&o](const float& v) { o.weight_decay = v; },
      "Decoupled weight decay w -= lr * X * w (default: 0.01 with adamw, 0 otherwise)");
  t->add_option("--clip-norm", o.clip_norm, "Rescale gradients to this global L2 norm (0: off)")
      ->capture_default_str();
  t->add_option("--clip-value", o.clip_value, "Clamp each gradient value to [-X, X] (0: off)")
      ->capture_default_str();
  t->add_option("--early-stop", o.early_stop, "Epochs without improvement before stopping (0: off)")
      ->check(whole_number)
      ->capture_default_str();
  t->add_option("--threads", o.threads, "Worker threads (0: every core)")->capture_default_str();
  t->add_option("--seed", o.seed, "Seed for initialization, shuffling and the split")
      ->check(whole_number)
      ->capture_default_str();

  t->add_option("--out,-o", o.out, "Model file to write (default: DATA with extension .tmlp)");
  t->add_option("--log", o.log, "Write one JSON line per epoch to FILE (every report field)");
  t->add_option("--checkpoint", o.checkpoint,
                "Save a checkpoint (model, optimizer state, epoch) to FILE every "
                "--checkpoint-every epochs; '{epoch}' in FILE is replaced by the epoch");
  t->add_option("--checkpoint-every", o.checkpoint_every, "Epochs between checkpoints")
      ->check(whole_number)
      ->capture_default_str();
  t->add_option("--resume", o.resume,
                "Continue the run saved in this checkpoint (same data and flags; the result is "
                "that of a run never stopped)")
      ->check(CLI::ExistingFile);
  t->add_option("--config", o.config,
                "JSON file of flag values (see below); flags on the command line win")
      ->check(CLI::ExistingFile);
  t->add_flag("--quiet,-q", o.quiet, "Print nothing but errors");

  t->callback([t, &o] {
    if (!o.config.empty()) merge_config_file(*t, o.config);
    o.valid_fraction_given = t->count("--valid-fraction") > 0;
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
    CLI::Option* opt = name.empty() || name == "config" || name == "help" || name.front() == '-'
                           ? nullptr
                           : train.get_option_no_throw("--" + name);
    if (opt == nullptr) bad_config(fmt::format("{}: unknown key '{}'", path, key));
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
