// The pieces of `tmlp tune` under the search loop (src/train/tune.cpp): one trial trained to one
// rung as `tmlp train` trains it, the files it keeps, and the journal's lines.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "tmlp/data.hpp"
#include "tmlp/io.hpp"
#include "tmlp/tune.hpp"

namespace tmlp::train {

// The files of trial `trial` at `epochs` in the work folder: "t0007-e9.ckpt", "t0007-e9.tmlp"
// ("t0007-f2-e9.ckpt" for fold 2 with folds).
std::string trial_checkpoint(const tune_config& c, std::size_t trial, std::size_t epochs,
                             std::size_t fold = 0);
std::string trial_model(const tune_config& c, std::size_t trial, std::size_t epochs,
                        std::size_t fold = 0);

// K-fold cross-validation of t: rows dealt into k folds in a seeded order (each fold's rows in
// table order); for each fold, the other rows (training) and the fold's rows (validation) as
// tables of their own.
struct fold_tables {
  table train, valid;
};
std::vector<fold_tables> make_folds(const table_view& t, std::size_t k, std::uint64_t seed);

// What training one trial to one rung needs besides the config.
struct trial_job {
  std::size_t trial = 0, bracket = 0, rung = 0, fold = 0;
  std::size_t epochs = 0;       // this rung's --epochs
  std::size_t prev_epochs = 0;  // the previous rung's (0: none); its checkpoint is resumed
  tune_flags flags;
  int n_threads = 1;
  std::optional<std::chrono::steady_clock::time_point> deadline;  // a time budget
};

// Trains job's trial as `tmlp train` with the base flags, the trial's flags and --epochs
// job.epochs would, continuing from the previous rung's checkpoint when there is one (and the
// schedule is not cosine), saving this rung's checkpoint and model file. history: the trial's
// metric after each epoch (index epoch - 1), extended here; the run's metric is its value at
// the epoch whose parameters the model holds. A run stopped by the deadline has status
// "stopped". score: the task metric instead of the validation loss.
tune_run train_trial(const tune_config& c, const table_view& train, const table_view* valid,
                     const trial_job& job, std::vector<double>& history);

// "valid_loss", or with c.score the task metric of trial 0's loss: "accuracy" (bce, ce; higher
// is better) or "rmse".
std::string tune_metric_name(const tune_config& c, const table_view& train,
                             const table_view* valid);

// The same flags trained from scratch to `epochs`, with the model file's metadata as `tmlp
// train` writes it.
loaded_model train_again(const tune_config& c, const table_view& train, const table_view* valid,
                         const tune_flags& flags, std::size_t epochs);

// The search's identity, the journal's first line: the base flags, data shape, space, budget,
// schedule, metric and seed.
std::string search_description(const tune_config& c, const table_view& train,
                               const table_view* valid);

// The journal: its runs by (trial, rung, fold). A missing file is an empty journal; a file whose
// first line is another search's is an error naming what differs. A last line cut short (a killed
// write) is ignored.
using journal_key = std::tuple<std::size_t, std::size_t, std::size_t>;
std::map<journal_key, tune_run> read_journal(const std::string& path, const std::string& search);

// Appends one line (creating the file with the search line first); flushed and synced.
void append_journal(const std::string& path, const std::string& search, const tune_run& run);

// A run's metric as its journal line holds it, and the line itself.
std::string journal_line(const tune_run& run);

}  // namespace tmlp::train
