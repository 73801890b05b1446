// The table of `tmlp train`'s flags.
#include "tmlp/train_options.hpp"

#include <algorithm>
#include <charconv>
#include <type_traits>

#include "tmlp/model.hpp"
#include "tmlp/train_setup.hpp"
#include "tmlp/trainer.hpp"

namespace tmlp {

namespace {

using o = train_options;

// NOLINT(readability-function-size): one entry per flag
std::vector<train_flag> make_train_flags() {
  return {
      {.name = "data",
       .help = "Training data: a CSV file with a header row, or a .tmlpd file (tmlp convert)",
       .field = &o::data,
       .positional = true,
       .existing_file = true,
       .in_model = true},
      {.name = "target",
       .help = "Column to predict: its name, or its 1-based position (-1 = last); required",
       .field = &o::target,
       .in_checkpoint = true,
       .in_model = true},
      {.name = "valid",
       .help = "Validation CSV (preprocessing is fitted on DATA only); not with --valid-fraction",
       .field = &o::valid,
       .existing_file = true},
      {.name = "valid-fraction",
       .help = "Fraction of DATA's rows held out for validation, in [0, 1); 0: none",
       .field = &o::valid_fraction,
       .shows_default = true,
       .in_checkpoint = true,
       .fields = {"train_config.valid_fraction"},
       .trainer = true},
      {.name = "numeric",
       .help = "Columns read as numbers whatever they look like (a,b,c)",
       .field = &o::numeric,
       .in_checkpoint = true},
      {.name = "categorical",
       .help = "Columns read as categories (a,b,c)",
       .field = &o::categorical,
       .in_checkpoint = true},
      {.name = "ignore",
       .help = "Columns left out of the features (a,b,c)",
       .field = &o::ignore,
       .in_checkpoint = true},

      {.name = "layers",
       .help = "Hidden layer widths, comma-separated",
       .field = &o::layers,
       .shows_default = true,
       .in_checkpoint = true,
       .fields = {"model_spec.layers[].units", "model_spec.layers[]"}},
      {.name = "activation",
       .help = join_names(activation_names(), "|"),
       .field = &o::activation,
       .shows_default = true,
       .in_checkpoint = true,
       .fields = {"model_spec.layers[].act"}},
      {.name = "dropout",
       .help = "Drop each hidden unit's output with this probability while training, in [0, 1)",
       .field = &o::dropout,
       .shows_default = true,
       .in_checkpoint = true,
       .fields = {"model_spec.layers[].dropout"}},
      {.name = "layer-norm",
       .help = "Layer normalization in every hidden layer, before its activation",
       .field = &o::layer_norm,
       .in_checkpoint = true,
       .fields = {"model_spec.layers[].layer_norm"}},
      {.name = "residual",
       .help = "Residual hidden layers: each adds its input to its output (through a learned "
               "projection when the widths differ)",
       .field = &o::residual,
       .in_checkpoint = true,
       .fields = {"model_spec.layers[].residual"}},
      {.name = "batch-norm",
       .help = "Batch normalization in every hidden layer, before its activation (statistics "
               "over each whole mini-batch; running ones at predict time)",
       .field = &o::batch_norm,
       .in_checkpoint = true,
       .fields = {"model_spec.layers[].batch_norm"}},
      {.name = "embedding-dim",
       .help = "Learn an embedding of N values per level for each categorical column with more "
               "than --one-hot-max levels (0: hash such columns instead)",
       .field = &o::embedding_dim,
       .shows_default = true,
       .in_checkpoint = true,
       .fields = {"model_spec.embeddings[].dim"}},
      {.name = "one-hot-max",
       .help = "Categorical columns with up to N levels are one-hot encoded; more: embedded "
               "(--embedding-dim) or hashed into N buckets",
       .field = &o::one_hot_max,
       .shows_default = true,
       .in_checkpoint = true,
       .fields = {"preprocess_options.one_hot_max"}},
      {.name = "scale",
       .help = "auto|standardize|robust|quantile|minmax|none: how numeric features are scaled, "
               "fitted on the training rows (robust: median and IQR, then a smooth clip to "
               "+-3; quantile: normal scores of the training quantiles; auto: robust where a "
               "column is heavy-tailed (excess kurtosis > 3), else standardize)",
       .field = &o::scale,
       .shows_default = true,
       .in_checkpoint = true,
       .in_model = true,
       .fields = {"preprocess_options.scale"},
       .recorded_if_set = true,
       .earlier_default = "standardize"},
      {.name = "impute",
       .help = "mean|median: the training value that fills a missing numeric or boolean value",
       .field = &o::impute,
       .shows_default = true,
       .in_checkpoint = true,
       .in_model = true,
       .fields = {"preprocess_options.impute"},
       .recorded_if_set = true},
      {.name = "missing-indicators",
       .help = "One more 0/1 feature per numeric or boolean column with missing values in "
               "training, set where the value was missing",
       .field = &o::missing_indicators,
       .in_checkpoint = true,
       .in_model = true,
       .fields = {"preprocess_options.missing_indicators"},
       .recorded_if_set = true},
      {.name = "ple-bins",
       .help = "Piecewise-linear encoding: each numeric column becomes up to N features over "
               "bins between its training quantiles, in place of --scale (0: off)",
       .field = &o::ple_bins,
       .shows_default = true,
       .in_checkpoint = true,
       .in_model = true,
       .fields = {"preprocess_options.ple_bins"},
       .recorded_if_set = true},
      {.name = "numeric-embedding",
       .help = "none|periodic: periodic embeds each numeric column (sines and cosines of "
               "learned frequencies, then its own linear map and ReLU)",
       .field = &o::numeric_embedding,
       .shows_default = true,
       .in_checkpoint = true,
       .in_model = true,
       .recorded_if_set = true,
       .earlier_default = "none"},
      {.name = "periodic-frequencies",
       .help = "Learned frequencies per numeric column with --numeric-embedding periodic",
       .field = &o::periodic_frequencies,
       .shows_default = true,
       .in_checkpoint = true,
       .in_model = true,
       .fields = {"model_spec.periodic_embeddings[].n_frequencies"},
       .recorded_if_set = true},
      {.name = "periodic-dim",
       .help = "Values each numeric column becomes with --numeric-embedding periodic",
       .field = &o::periodic_dim,
       .shows_default = true,
       .in_checkpoint = true,
       .in_model = true,
       .fields = {"model_spec.periodic_embeddings[].dim"},
       .recorded_if_set = true},
      {.name = "periodic-sigma",
       .help = "Standard deviation of the frequencies' initialization (> 0) with "
               "--numeric-embedding periodic",
       .field = &o::periodic_sigma,
       .shows_default = true,
       .in_checkpoint = true,
       .in_model = true,
       .fields = {"model_spec.periodic_embeddings[].sigma"},
       .recorded_if_set = true},
      {.name = "feature-scale",
       .help = "A learned scale per input feature (initially 1) in front of the network",
       .field = &o::feature_scale,
       .in_checkpoint = true,
       .in_model = true,
       .fields = {"model_spec.feature_scale"},
       .recorded_if_set = true},
      {.name = "loss",
       .help = "auto|" + join_names(loss_names(), "|"),
       .field = &o::loss,
       .shows_default = true,
       .in_checkpoint = true,
       .in_model = true},

      {.name = "label-smoothing",
       .help = "Classification: move the targets toward the uniform distribution by this "
               "fraction, in [0, 1) (default: 0.1 for a classification loss, bce or ce)",
       .field = &o::label_smoothing,
       .in_checkpoint = true,
       .in_model = true,
       .fields = {"model_spec.label_smoothing"},
       .recorded_if_set = true,
       .earlier_default = "0"},
      {.name = "class-weight",
       .help = "none|balanced: balanced weights each training row by n / (classes x the rows of "
               "its class), so that every class counts alike",
       .field = &o::class_weight,
       .shows_default = true,
       .in_checkpoint = true,
       .in_model = true,
       .recorded_if_set = true},

      {.name = "optimizer",
       .help = join_names(optimizer_names(), "|"),
       .field = &o::optimizer,
       .shows_default = true,
       .in_checkpoint = true,
       .in_model = true,
       .trainer = true},
      {.name = "lr",
       .help = "Learning rate (default: 1e-3 for adam and adamw, 0.01 for the others)",
       .field = &o::lr,
       .in_checkpoint = true,
       .fields = {"train_config.opt.lr"},
       .trainer = true},
      {.name = "batch-size",
       .help = "Rows per step (1 = stochastic, 0 = full batch; default: the power of two "
               "nearest 4 sqrt(training rows), within [16, 256])",
       .field = &o::batch_size,
       .in_checkpoint = true,
       .in_model = true,
       .fields = {"train_config.batch_size"},
       .trainer = true},
      {.name = "epochs",
       .help = "Most epochs to run",
       .field = &o::epochs,
       .shows_default = true,
       .in_checkpoint = true,
       .fields = {"train_config.epochs"},
       .trainer = true},
      {.name = "schedule",
       .help = schedule_choices("|") + " (see below)",
       .field = &o::schedule,
       .shows_default = true,
       .in_checkpoint = true,
       .in_model = true,
       .trainer = true},
      {.name = "l1",
       .help = "L1 penalty on the weights",
       .field = &o::l1,
       .shows_default = true,
       .in_checkpoint = true,
       .fields = {"train_config.l1"},
       .trainer = true},
      {.name = "l2",
       .help = "L2 penalty on the weights",
       .field = &o::l2,
       .shows_default = true,
       .in_checkpoint = true,
       .fields = {"train_config.l2"},
       .trainer = true},
      {.name = "weight-decay",
       .help = "Decoupled weight decay w -= lr * X * w (default: 0.01 with adamw, 0 otherwise)",
       .field = &o::weight_decay,
       .in_checkpoint = true,
       .fields = {"train_config.weight_decay", "train_config.opt.weight_decay"},
       .trainer = true},
      {.name = "clip-norm",
       .help = "Rescale gradients to this global L2 norm (0: off)",
       .field = &o::clip_norm,
       .shows_default = true,
       .in_checkpoint = true,
       .fields = {"train_config.clip_norm"},
       .trainer = true},
      {.name = "clip-value",
       .help = "Clamp each gradient value to [-X, X] (0: off)",
       .field = &o::clip_value,
       .shows_default = true,
       .in_checkpoint = true,
       .fields = {"train_config.clip_value"},
       .trainer = true},
      {.name = "early-stop",
       .help = "Epochs without improvement before stopping (0: off)",
       .field = &o::early_stop,
       .shows_default = true,
       .in_checkpoint = true,
       .fields = {"train_config.early_stop.patience"},
       .trainer = true},
      {.name = "threads",
       .help = "Worker threads (0: every core)",
       .field = &o::threads,
       .shows_default = true,
       .fields = {"train_config.n_threads"},
       .trainer = true},
      {.name = "shard-rows",
       .help = "Rows per shard, the unit of parallel work: a batch is cut into the power of two "
               "of shards nearest batch / N (at most --max-shards). Changes the result (the "
               "order of the sums), never with the threads or ranks",
       .field = &o::shard_rows,
       .shows_default = true,
       .in_checkpoint = true,
       .in_model = true,
       .fields = {"train_config.shard_rows"},
       .trainer = true,
       .recorded_if_set = true},
      {.name = "precision",
       .help = "fp32|bf16: the number format of the layers' matrix products while training. "
               "bf16: products of bfloat16 roundings of the weights and inputs, accumulated in "
               "fp32 (weights, gradients and optimizer state stay fp32); needs a CPU with "
               "AVX512-BF16, or TMLP_SIMD=scalar",
       .field = &o::precision,
       .shows_default = true,
       .in_checkpoint = true,
       .in_model = true,
       .fields = {"train_config.precision"},
       .trainer = true,
       .recorded_if_set = true},
      {.name = "max-shards",
       .help = "Most shards per batch: the most threads (over every rank) a step can use. "
               "Changes the result, never with the threads or ranks",
       .field = &o::max_shards,
       .shows_default = true,
       .in_checkpoint = true,
       .in_model = true,
       .fields = {"train_config.max_shards"},
       .trainer = true,
       .recorded_if_set = true},
      {.name = "seed",
       .help = "Seed for initialization, shuffling and the split",
       .field = &o::seed,
       .shows_default = true,
       .in_checkpoint = true,
       .in_model = true,
       .fields = {"train_config.seed", "model_spec.seed"},
       .trainer = true},
      {.name = "ensemble",
       .help = "Train this many members that differ only in their seed (member 0 uses --seed) "
               "into one model file; predictions average the members' probabilities or values. "
               "Costs as many times the training and prediction work",
       .field = &o::ensemble,
       .shows_default = true,
       .in_model = true,
       .recorded_if_set = true},

      {.name = "out",
       .help = "Model file to write (default: DATA with extension .tmlp)",
       .field = &o::out,
       .short_name = "-o"},
      {.name = "log",
       .help = "Write one JSON line per epoch to FILE (every report field)",
       .field = &o::log},
      {.name = "checkpoint",
       .help = "Save a checkpoint (model, optimizer state, epoch) to FILE every "
               "--checkpoint-every epochs; '{epoch}' in FILE is replaced by the epoch",
       .field = &o::checkpoint},
      {.name = "checkpoint-every",
       .help = "Epochs between checkpoints",
       .field = &o::checkpoint_every,
       .shows_default = true,
       .fields = {"train_config.checkpoint_every"}},
      {.name = "resume",
       .help = "Continue the run saved in this checkpoint (same data and flags; the result is "
               "that of a run never stopped)",
       .field = &o::resume,
       .existing_file = true},
      {.name = "config",
       .help = "JSON file of flag values (see below); flags on the command line win",
       .field = &o::config,
       .existing_file = true},
      {.name = "quiet", .help = "Print nothing but errors", .field = &o::quiet, .short_name = "-q"},
      {.name = "distributed",
       .help = "Train across the MPI ranks this process was started with (automatic under "
               "mpirun; docs/DISTRIBUTED.md)",
       .field = &o::distributed},
      {.name = "comm-timeout",
       .help = "Seconds a rank waits for another before it stops the run with an error",
       .field = &o::comm_timeout,
       .shows_default = true},
  };
}

// Shortest text that reads back as v.
std::string number_text(auto v) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc{} ? std::string(buf, end) : std::string();
}

}  // namespace

std::span<const train_flag> train_flags() {
  static const std::vector<train_flag> table = make_train_flags();
  return table;
}

const train_flag* find_train_flag(std::string_view name) {
  const auto flags = train_flags();
  const auto it =
      std::find_if(flags.begin(), flags.end(), [&](const train_flag& f) { return f.name == name; });
  return it == flags.end() ? nullptr : &*it;
}

std::string value_text(const train_flag& f, const train_options& opts) {
  return std::visit(
      [&](auto member) -> std::string {
        const auto& v = opts.*member;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          std::string out;
          for (const std::string& s : v) out += (out.empty() ? "" : ",") + s;
          return out;
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::optional<float>> ||
                             std::is_same_v<T, std::optional<std::uint64_t>>) {
          return v ? number_text(*v) : std::string();
        } else {
          return number_text(v);
        }
      },
      f.field);
}

std::string default_text(const train_flag& f) { return value_text(f, train_options{}); }

std::string metadata_key(std::string_view name) {
  std::string key(name);
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

}  // namespace tmlp
