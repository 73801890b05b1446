// The flags of `tmlp train` as one table: the options they fill (train_options) and, per flag,
// its name, help, where its value lives (whose member initializer is its default), and where
// else it appears. Everything else reads this table: the CLI11 registration and the --config
// keys (train_flags.cpp), the checkpoint metadata and the same-run check (train_checkpoint.cpp),
// the model file's "training" metadata and `tmlp info` (commands.cpp), and the messages that
// turn a library field into its flag (train_setup.cpp).
//
//     for (const tmlp::train_flag& f : tmlp::train_flags())
//       std::cout << "--" << f.name << " (default " << tmlp::default_text(f) << ")\n";
//
// Only the standard library and tmlp/ headers, so that a binding (whose keyword arguments are
// these flags, with these defaults) can use it as it is.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tmlp {

// Whole numbers (counts, the seed) are std::uint64_t, as the flags read them.
struct train_options {
  // data
  std::string data;             // training CSV or .tmlpd file (positional)
  std::string target;           // column name, or its 1-based position (-1 = last column)
  std::string valid;            // separate validation CSV; empty: hold out valid_fraction
  float valid_fraction = 0.2f;  // [0, 1); 0 = no validation
  std::vector<std::string> numeric, categorical, ignore;  // column names
  // model
  std::string layers = "128,64";  // hidden widths
  std::string activation = "relu";
  float dropout = 0.0f;     // on every hidden layer's outputs while training
  bool layer_norm = false;  // on every hidden layer
  bool residual = false;    // every hidden layer adds its input (projected if widths differ)
  bool batch_norm = false;  // on every hidden layer
  std::uint64_t embedding_dim = 0;  // > 0: categorical columns over one_hot_max levels embedded
  std::uint64_t one_hot_max = 64;   // more levels: embedded, or hashed into this many buckets
  std::string scale = "auto";       // numeric features: auto|standardize|robust|quantile|...
  std::string impute = "mean";      // missing numeric values: mean|median (training rows)
  bool missing_indicators = false;  // a 0/1 feature per numeric column with missing values
  std::uint64_t ple_bins = 0;       // > 0: piecewise-linear encoding, preprocess_options
  std::string numeric_embedding = "periodic";  // none|periodic: model_spec::periodic_embeddings
  std::uint64_t periodic_frequencies = 16;     // per numeric column
  std::uint64_t periodic_dim = 16;             // values each numeric column becomes
  float periodic_sigma = 0.1f;                 // the frequencies' initial standard deviation
  bool feature_scale = false;                  // model_spec::feature_scale
  std::string loss = "auto";                   // auto|mse|mae|huber|bce|ce
  // bce, ce: model_spec::label_smoothing; empty: default_label_smoothing (training_data.hpp)
  std::optional<float> label_smoothing;
  std::string class_weight = "none";  // none|balanced: training rows weighted by class
  // optimization
  std::string optimizer = "adam";
  float lr = 0.0f;  // 0: the optimizer's default
  // 1 = stochastic, 0 = full batch; empty: auto_batch_size of the training rows (trainer.hpp)
  std::optional<std::uint64_t> batch_size;
  std::uint64_t epochs = 100;
  std::string schedule = "constant";
  float l1 = 0.0f, l2 = 0.0f;
  std::optional<float> weight_decay;          // empty: 0.01 for adamw, 0 for the others
  float clip_norm = 0.0f, clip_value = 0.0f;  // 0 = off
  std::uint64_t early_stop = 10;              // patience in epochs; 0 = off
  int threads = 0;                            // 0 = every core
  std::uint64_t shard_rows = 64;              // train_config::shard_rows
  std::uint64_t max_shards = 16;              // train_config::max_shards
  std::string precision = "fp32";             // train_config::precision: fp32|bf16
  std::uint64_t seed = 0;
  std::uint64_t ensemble = 1;  // members trained with seeds derived from seed (tmlp/ensemble.hpp)
  // output
  std::string out;                     // model file; empty: DATA with extension .tmlp
  std::string log;                     // JSON-lines epoch log; empty: none
  std::string checkpoint;              // checkpoint file ({epoch} is replaced by the epoch)
  std::uint64_t checkpoint_every = 1;  // epochs between checkpoints
  std::string resume;                  // checkpoint to continue from
  std::string config;                  // the JSON file the other values may come from
  bool quiet = false;
  // several processes (tmlp/distributed.hpp)
  bool distributed = false;          // train across MPI ranks even if no launcher is detected
  std::uint64_t comm_timeout = 300;  // seconds a rank waits for another before failing
};

// Where a flag's value lives in train_options; the member's type is the flag's kind.
using option_field = std::variant<std::string train_options::*,               // text
                                  std::vector<std::string> train_options::*,  // list: a,b,c
                                  bool train_options::*,                      // switch
                                  float train_options::*,                     // number
                                  std::optional<float> train_options::*,      // number, or unset
                                  int train_options::*,                       // integer
                                  std::uint64_t train_options::*,             // whole number
                                  std::optional<std::uint64_t> train_options::*>;  // or unset

struct train_flag {
  std::string_view name;  // the long name without "--" ("batch-size"); "data" is positional
  std::string help;       // one line (the program's footer explains --schedule and --config)
  option_field field;
  std::string_view short_name;  // "-o", or empty
  bool positional = false;      // given without a name (DATA); not a --config key
  bool shows_default = false;   // the help shows the default (the value in train_options{})
  bool existing_file = false;   // names a file that must exist
  bool in_checkpoint = false;   // recorded in checkpoints; a resume must give the same value
  bool in_model = false;        // recorded in the model file's "training" object ('_' for '-')
  // Fields of the library's specs and configs that take this flag's value, as their errors
  // name them; "[]" stands for any index ("model_spec.layers[].dropout").
  std::vector<std::string_view> fields;
  bool trainer = false;  // configures tmlp::trainer alone (a trainer on arrays takes only these)
  // in_checkpoint, in_model: recorded only when not the default (a flag added after such files
  // were first written, so that theirs stay as they were; a file without it ran with the
  // default).
  bool recorded_if_set = false;
  // recorded_if_set flags whose default changed since: the value a file without the flag ran
  // with, as its text ("standardize", "0"); empty: the default. Files then record the flag
  // unless it has this value.
  std::string_view earlier_default;
};

// Every flag of `tmlp train`, in the order of its help; static storage.
std::span<const train_flag> train_flags();

// The flag named `name` (without "--"), or nullptr.
const train_flag* find_train_flag(std::string_view name);

// The flag's value in o as it would be typed after the flag ("0.01", "a,b", "true"); "" when a
// list is empty or an optional value is unset.
std::string value_text(const train_flag& f, const train_options& o);

// The flag's default: value_text of a default train_options.
std::string default_text(const train_flag& f);

// The key of the flag named `name` in a model file's "training" metadata, and the keyword
// argument of the Python estimators: '_' for '-' ("batch-size" -> "batch_size").
std::string metadata_key(std::string_view name);

}  // namespace tmlp
