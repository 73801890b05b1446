// The flags of `tmlp train`: the options they fill, their registration with CLI11, and the
// --config JSON file whose keys are the same flags.
//
//     tmlp::cli::train_options o;
//     CLI::App* train = tmlp::cli::add_train_command(app, o);
//     app.parse(argc, argv);  // o now holds the command line, completed from --config FILE
//
// Values are only stored here; train_setup.hpp turns them into library configs and checks them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace tmlp::cli {

struct train_options {
  // data
  std::string data;                   // training CSV (positional)
  std::string target;                 // column name, or its 1-based position (-1 = last column)
  std::string valid;                  // separate validation CSV; empty: hold out valid_fraction
  float valid_fraction = 0.2f;        // [0, 1); 0 = no validation
  bool valid_fraction_given = false;  // set on the command line or in the config file
  std::vector<std::string> numeric, categorical, ignore;  // column names
  // model
  std::string layers = "128,64";  // hidden widths
  std::string activation = "relu";
  float dropout = 0.0f;           // on every hidden layer's outputs while training
  bool layer_norm = false;        // on every hidden layer
  bool residual = false;          // every hidden layer adds its input (projected if widths differ)
  bool batch_norm = false;        // on every hidden layer
  std::size_t embedding_dim = 0;  // > 0: categorical columns over one_hot_max levels embedded
  std::size_t one_hot_max = 64;   // more levels: embedded, or hashed into this many buckets
  std::string loss = "auto";      // auto|mse|mae|huber|bce|ce
  // optimization
  std::string optimizer = "adam";
  float lr = 0.0f;               // 0: the optimizer's default
  std::size_t batch_size = 256;  // 1 = stochastic, 0 = full batch
  std::size_t epochs = 50;
  std::string schedule = "constant";
  float l1 = 0.0f, l2 = 0.0f;
  std::optional<float> weight_decay;          // empty: 0.01 for adamw, 0 for the others
  float clip_norm = 0.0f, clip_value = 0.0f;  // 0 = off
  std::size_t early_stop = 5;                 // patience in epochs; 0 = off
  int threads = 0;                            // 0 = every core
  std::uint64_t seed = 0;
  // output
  std::string out;                   // model file; empty: DATA with extension .tmlp
  std::string log;                   // JSON-lines epoch log; empty: none
  std::string checkpoint;            // checkpoint file ({epoch} is replaced by the epoch)
  std::size_t checkpoint_every = 1;  // epochs between checkpoints
  std::string resume;                // checkpoint to continue from
  std::string config;                // the JSON file the other values may come from
  bool quiet = false;
};

// Adds the `train` subcommand with every flag to app. Once the subcommand is parsed, the
// --config file (if any) fills each option not given on the command line and --target is
// checked to be present; a problem throws tmlp::error (an unknown key names it and the file)
// out of app.parse(). o must outlive app.
CLI::App* add_train_command(CLI::App& app, train_options& o);

// Fills the options of `train` (a parsed subcommand) that the command line left unset from the
// JSON object in `path`: keys are long flag names with '-' or '_' ("batch-size", "batch_size"),
// values strings, numbers, booleans or arrays (joined with ',' for a single-value flag).
void merge_config_file(CLI::App& train, const std::string& path);

}  // namespace tmlp::cli
