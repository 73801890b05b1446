// `tmlp tune`: a search over train-flag values with successive halving (Hyperband brackets over
// epochs), as library calls on tables.
//
//     tmlp::tune_config c;
//     c.base.data = "train.csv";  c.base.target = "y";       // the fixed train flags
//     c.space = tmlp::read_tune_space("space.json");          // or default_tune_space()
//     c.budget = tmlp::parse_tune_budget("20-trials");
//     c.journal = "best.tmlp.journal.jsonl";  c.work_dir = "best.tmlp.trials";
//     tmlp::tune_result r = tmlp::tune(c, table, nullptr);    // table: the training rows
//     tmlp::write_best_model(r, c, "best.tmlp");
//
// Determinism: trial k's flags are drawn from a counter-based generator keyed by (seed, k); a
// rung's promotions are decided once every trial of the rung has its metric, by (metric, trial
// id) in that order; each trial trains exactly as `tmlp train` does (bit-identical for any
// thread count). So the same data, space, seed and trial budget give the same leaderboard and
// the same best model for any n_threads. A time budget stops when the time is up, which depends
// on the machine (tune_result::time_limited says so).
//
// Promoted trials continue from the checkpoint of their previous rung (tmlp/checkpoint.hpp,
// trainer::resume_from with a larger epoch count: the bytes of a run started with that count).
// A cosine schedule's rates depend on the total epochs, so a trial with --schedule cosine
// trains from scratch at every rung instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "tmlp/data.hpp"
#include "tmlp/train_options.hpp"

namespace tmlp {

// --- the search space ----------------------------------------------------------------------------
// One dimension: a train flag (or "width" / "depth", which together make --layers) and the
// values it takes, either a list of choices (texts as typed after the flag) or a number range.
struct tune_param {
  std::string flag;                  // "lr", "batch-size", "width", "depth", ...
  std::vector<std::string> choices;  // non-empty: one of these, uniformly
  double low = 0.0, high = 0.0;      // choices empty: a number in [low, high]
  bool log = false;                  // the range sampled log-uniformly (low > 0)
  bool integer = false;              // the range rounded to whole numbers
};

struct tune_space {
  std::vector<tune_param> params;  // in the order of the flags they set
};

// width {32, 64, 128, 256}, depth {1, 2, 3}, lr log-uniform in [1e-4, 1e-2], weight-decay
// {0, 1e-5, 1e-4, 1e-3}, dropout {0, 0.1, 0.2, 0.3}, batch-size {32, 64, 128, 256}.
tune_space default_tune_space();

// A space from a JSON object whose keys are train flags ('-' or '_') or "width" / "depth" and
// whose values are: a list of choices ([32, 64] or ["64,32", "128"]; a list inside a list is
// joined with ','), one value (fixed: {"optimizer": "adamw"}), or an object {"uniform": [lo,
// hi]}, {"log": [lo, hi]} or {"int": [lo, hi]}. Every choice is checked against its flag. The
// flags that the tuner sets itself or that name files are not allowed (data, target, valid,
// epochs, out, log, checkpoint, resume, config, threads, ...). Throws tmlp::error naming
// `source` and the key.
tune_space parse_tune_space(const std::string& json_text, const std::string& source);
tune_space read_tune_space(const std::string& path);  // the file's text, parsed as above

// One trial's flags: (flag name, value text), in the space's order ("width" / "depth" already
// turned into "layers").
using tune_flags = std::vector<std::pair<std::string, std::string>>;

// Trial `trial`'s flags: each parameter drawn from a generator keyed by (seed, trial,
// parameter), independent of how many trials there are.
tune_flags sample_trial(const tune_space& space, std::uint64_t seed, std::size_t trial);

// o with each flag of f set from its text, as the command line would set it. Throws tmlp::error
// naming the flag and the value.
void apply_flags(train_options& o, const tune_flags& f);

// "--layers 64,64 --lr 0.001 ..."
std::string flags_text(const tune_flags& f);

// --- the budget and the schedule -----------------------------------------------------------------
struct tune_budget {
  std::size_t n_trials = 0;  // "N-trials": this many configurations (deterministic)
  double seconds = 0.0;      // "10m", "90s", "1.5h": until the time is up (not deterministic)
};
// "N-trials" (or "Ntrials", "N-trial"), "Ns", "Nm", "Nh". Throws tmlp::error naming --budget.
tune_budget parse_tune_budget(const std::string& text);

// A rung of a bracket: how many of its trials train, and to how many epochs.
struct tune_rung {
  std::size_t n_trials = 0;
  std::size_t epochs = 0;
};
// A Hyperband bracket: trials first_trial .. first_trial + n_trials - 1, halved (by eta) from
// rung to rung, each rung training its trials to more epochs.
struct tune_bracket {
  std::size_t first_trial = 0;
  std::size_t n_trials = 0;
  std::vector<tune_rung> rungs;
};

// Hyperband's brackets over epochs, repeated until n_trials trials are placed (the last bracket
// cut to what is left): s_max = floor(log_eta(max_epochs / min_epochs)); bracket s (s_max down
// to 0) starts ceil((s_max + 1) / (s + 1) * eta^s) trials at max_epochs / eta^s epochs and
// keeps floor(n / eta^i) of them at rung i, trained to max_epochs / eta^(s - i) epochs (rounded,
// at least 1). Throws tmlp::error if eta < 2, min_epochs < 1 or max_epochs < min_epochs.
std::vector<tune_bracket> hyperband_brackets(std::size_t n_trials, std::size_t max_epochs,
                                             std::size_t min_epochs, std::size_t eta);

// A rung's result for one trial, as the promotion sees it: lower is better (a metric where
// higher is better is negated first); NaN (a failed or diverged trial) ranks last.
struct tune_score {
  std::size_t trial = 0;
  double loss = 0.0;
};
// The n_keep best trials of a rung, ordered by (loss, trial id), NaN last: a function of the
// scores alone, whatever order they were computed in.
std::vector<std::size_t> promote(std::span<const tune_score> scores, std::size_t n_keep);

// --- the search ----------------------------------------------------------------------------------
// One trial trained to one rung (a journal line).
struct tune_run {
  std::size_t trial = 0, bracket = 0, rung = 0;
  std::size_t fold = 0;    // with tune_config::n_folds > 1: this fold's run (a leaderboard
                           // entry: the folds' mean, fold 0's other fields); else 0
  std::size_t epochs = 0;  // --epochs of this rung
  std::size_t epochs_run = 0;
  tune_flags flags;
  double metric = 0.0;  // the model's value (NaN: diverged)
  std::string status;   // fit_status as text
  double seconds = 0.0;
  std::size_t first_epoch = 1;  // the epoch of curve[0] (1, or the previous rung's epochs + 1)
  std::size_t model_epoch = 0;  // the epoch whose parameters the model holds (the best one
                                // with early stopping); metric is the curve's value there
  std::vector<double> curve;    // the metric after each epoch this run trained
  bool from_journal = false;    // read back, not trained by this call
};

struct tune_config {
  train_options base;  // the fixed flags: data (its name), target, valid, seed, ...
  tune_space space = default_tune_space();
  tune_budget budget;
  std::size_t max_epochs = 27, min_epochs = 1, eta = 3;
  std::size_t n_folds = 0;  // > 1: K-fold cross-validation on the training table (seeded by
                            // base.seed, no valid table); a trial's metric is the folds' mean
  bool score = false;       // rank by the task's metric (accuracy, higher is better; rmse) instead
                            // of the validation loss (lower is better)
  int n_threads = 0;        // cores shared by the trials (0: every core)
  std::string journal;      // JSON lines, one per tune_run; read back to resume a search
  std::string work_dir;     // each trial's checkpoint and model file (created; removed by the CLI)
  std::function<void(const tune_run&)> on_run;  // after each run (under a lock, from the
                                                // thread that trained it)
};

struct tune_result {
  std::vector<tune_run> leaderboard;  // each trial's furthest rung, best first
  std::string metric_name;            // "valid_loss", "accuracy" or "rmse"
  bool higher_is_better = false;
  bool time_limited = false;  // a time budget: which trials ran depends on the machine's speed
  std::size_t n_trained = 0, n_from_journal = 0;  // runs trained now, runs read back
};

// Runs the search on `train` (and `valid`: the --valid rows, or nullptr for the trainer's
// validation split of train). Trials of a rung run in parallel: min(cores, trials to train)
// at a time, cores / that threads each. A run already in the journal (same trial, rung and
// flags) is read back instead of trained; a journal written by another search (other flags,
// data, space or seed) is an error. Throws tmlp::error for bad options, a budget too small
// for one trial, or a failure of every trial.
tune_result tune(const tune_config& c, const table_view& train, const table_view* valid);

// Writes the leaderboard's first trial's model (its flags, trained to its epochs: the model
// `tmlp train` writes with those flags and epochs) to `path` atomically, from the trial's model
// file in c.work_dir, or trained again if that is missing (always with folds: on every row of
// train, with base's validation split, as `tmlp train` does). Its metadata is tmlp train's
// with a "tune" object added: the trial, its flags with --epochs, the metric and its value.
void write_best_model(const tune_result& r, const tune_config& c, const table_view& train,
                      const table_view* valid, const std::string& path);

// The leaderboard as a text table: rank, trial, metric, epochs, flags.
std::string leaderboard_table(const tune_result& r);

}  // namespace tmlp
