// `tmlp tune DATA --target Y --budget N-trials|10m [--space FILE] -o best.tmlp`: the library's
// search (tmlp/tune.hpp) with progress, the leaderboard and the files around it.
#include "cli/tune.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "tmlp/data_source.hpp"
#include "tmlp/error.hpp"
#include "tmlp/tune.hpp"

namespace tmlp::cli {
namespace {

constexpr const char* tune_footer =
    R"(Budget (--budget): N-trials samples N configurations (deterministic: the same data, space, seed
  and N give the same leaderboard and best model for any --threads), or a time (90s, 10m, 1.5h):
  brackets run until the time is up, which depends on the machine (the output says so).

Schedule: Hyperband brackets over epochs. With --epochs R, --min-epochs r and --eta E, bracket s
  (s_max = floor(log_E(R/r)) down to 0) starts ceil((s_max+1)/(s+1) * E^s) trials at R/E^s
  epochs; after each rung the best 1/E of them, ranked by (metric, trial id), continue from their
  checkpoint to E times the epochs, up to R. Brackets repeat until the budget's trials are placed.
  Trials of a rung run in parallel: min(cores, trials) at a time, cores / that threads each.
  A trial with --schedule cosine (whose rates depend on the total) trains from scratch at each
  rung instead of continuing. A trial that stopped early or diverged keeps its result.

Metric (--metric): loss ranks by the validation loss of the model each trial ends with (lower is
  better; with early stopping, the best epoch's); score by the task's metric on the held-out rows:
  accuracy for classes (higher is better) or rmse (lower is better). Held-out rows: the trainer's
  --valid-fraction split (default), --valid FILE, or --folds K: K-fold cross-validation (rows
  dealt into K folds in an order seeded by --seed), each trial trained K times per rung, its
  metric the mean of the folds'; the best model is then trained on the data with those flags
  as tmlp train trains it (its --valid-fraction split).

Space (--space FILE.json, replacing the default space): one JSON object whose keys are flags of
  tmlp train ('-' or '_'), or width and depth (together they make --layers), and whose values are
  a list of choices, one fixed value, or a range:
    {"width": [32, 64, 128], "depth": [1, 2], "lr": {"log": [1e-4, 1e-2]},
     "dropout": {"uniform": [0, 0.3]}, "batch-size": {"int": [32, 256]},
     "activation": ["relu", "gelu"], "optimizer": "adamw", "schedule": ["constant", "step:5"]}
  Default space: width 32|64|128|256, depth 1|2|3, lr log-uniform in [1e-4, 1e-2], weight-decay
  0|1e-05|0.0001|0.001, dropout 0|0.1|0.2|0.3, batch-size 32|64|128|256, numeric-embedding
  periodic|none, ple-bins 0|8|16. Flags not in the space keep tmlp train's defaults.
  The tuner sets --epochs, --threads and the files itself.

Files: the journal (--journal, default OUT.journal.jsonl) has one JSON line per trial and rung
  (trial, bracket, rung, epochs, flags, metric, status, seconds, the metric per epoch); running
  the same command again skips what it holds, so an interrupted search resumes where it stopped.
  Checkpoints and model files of the trials live in OUT.trials/ while the search runs. The best
  model is written atomically at the end: the model tmlp train writes with the winning flags and
  --epochs (parameters, preprocessing, training metadata), with the search's choice (trial,
  flags, metric) added under "tune" in its metadata; tmlp info shows it. A failed or interrupted
  search leaves an existing model file as it was. --log FILE writes the leaderboard as a table.
  scripts/plot_tune.py draws the journal.)";

// CLI11 reads "-3" into an unsigned option as 2^64 - 3; counts and seeds take digits only.
const CLI::Validator whole_number(
    [](std::string& text) -> std::string {
      if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) return {};
      return fmt::format("'{}' is not a whole number (0, 1, 2, ...)", text);
    },
    "", "whole number");

std::string status_note(const tune_run& r) {
  if (r.status == "completed") return "";
  return fmt::format(" ({} after {} epochs)",
                     r.status == "early_stopped" ? "stopped early" : r.status, r.epochs_run);
}

}  // namespace

CLI::App* add_tune_command(CLI::App& app, tune_cli_options& o) {
  CLI::App* t = app.add_subcommand(
      "tune",
      "Search train-flag values with successive halving (Hyperband over epochs) and write the "
      "best model");
  t->footer(tune_footer);
  t->add_option("data", o.data, "Training CSV or .tmlpd file")
      ->required()
      ->check(CLI::ExistingFile);
  t->add_option("--target", o.target, "Target column: name, or 1-based position (-1 = last)")
      ->required();
  t->add_option("--budget", o.budget, "N-trials (deterministic) or a time: 90s, 10m, 1.5h")
      ->required();
  t->add_option("--space", o.space, "JSON file of the flags to search (default: see below)")
      ->check(CLI::ExistingFile);
  t->add_option("-o,--out", o.out, "Best model file (default: DATA with extension .tmlp)");
  t->add_option("--valid", o.valid, "Validation CSV (default: hold out --valid-fraction)")
      ->check(CLI::ExistingFile);
  t->add_option("--valid-fraction", o.valid_fraction, "Rows held out to rank the trials")
      ->capture_default_str();
  t->add_option("--folds", o.folds,
                "K-fold cross-validation: each trial trains K times, its metric the mean (the "
                "best model then trains with --valid-fraction)")
      ->check(whole_number);
  t->add_option("--metric", o.metric, "loss (validation loss) or score (accuracy or rmse)")
      ->check(CLI::IsMember({"loss", "score"}))
      ->capture_default_str();
  t->add_option("--epochs", o.epochs, "Most epochs a trial trains (the last rung)")
      ->capture_default_str()
      ->check(whole_number);
  t->add_option("--min-epochs", o.min_epochs, "Epochs of the smallest rung")
      ->capture_default_str()
      ->check(whole_number);
  t->add_option("--eta", o.eta, "Halving rate: 1/eta of a rung's trials continue")
      ->capture_default_str()
      ->check(whole_number);
  t->add_option("--seed", o.seed, "Seeds the sampled flags and every trial's training")
      ->capture_default_str()
      ->check(whole_number);
  t->add_option("--threads", o.threads, "Cores shared by the trials (0: every core)")
      ->capture_default_str();
  t->add_option("--journal", o.journal, "JSON-lines journal (default: OUT.journal.jsonl)");
  t->add_option("--log", o.log, "Write the leaderboard as a table to FILE");
  t->add_option("--numeric", o.numeric, "Columns read as numbers (a,b,c)")->delimiter(',');
  t->add_option("--categorical", o.categorical, "Columns read as categories (a,b,c)")
      ->delimiter(',');
  t->add_option("--ignore", o.ignore, "Columns left out (a,b,c)")->delimiter(',');
  t->add_flag("--quiet,-q", o.quiet, "Print nothing but errors");
  t->callback([t, &o] {
    if (!o.valid.empty() && o.folds > 0)
      throw error(errc::invalid_argument,
                  "--folds and --valid exclude each other: the folds are the validation rows");
    if (o.folds == 1)
      throw error(errc::invalid_argument, "--folds: 1 is not a number of folds >= 2");
    if (!o.valid.empty() && t->count("--valid-fraction") > 0)
      throw error(errc::invalid_argument,
                  "--valid-fraction and --valid exclude each other: the --valid file is the "
                  "validation set");
  });
  return t;
}

int tune(const tune_cli_options& o) {
  tune_config c;
  c.budget = parse_tune_budget(o.budget);
  if (!o.space.empty()) c.space = read_tune_space(o.space);
  c.base.data = o.data;
  c.base.target = o.target;
  c.base.valid = o.valid;
  c.base.valid_fraction = o.valid.empty() ? o.valid_fraction : 0.0f;
  c.base.numeric = o.numeric;
  c.base.categorical = o.categorical;
  c.base.ignore = o.ignore;
  c.base.seed = o.seed;
  c.max_epochs = o.epochs;
  c.min_epochs = o.min_epochs;
  c.eta = o.eta;
  c.n_folds = o.folds;
  c.score = o.metric == "score";
  c.n_threads = o.threads;
  const std::string out =
      o.out.empty() ? std::filesystem::path(o.data).replace_extension(".tmlp").string() : o.out;
  c.journal = o.journal.empty() ? out + ".journal.jsonl" : o.journal;
  c.work_dir = out + ".trials";
  hyperband_brackets(1, c.max_epochs, c.min_epochs, c.eta);  // checks the schedule's flags
  if (o.epochs == 0)
    throw error(errc::invalid_argument, "--epochs: 0 is not a number of epochs >= 1");
  if (!o.log.empty()) {  // a bad path fails before any training
    std::ofstream probe(o.log, std::ios::app);
    if (!probe) throw error(errc::io, fmt::format("--log {}: cannot write", o.log));
  }

  const csv_options csv{.n_threads = o.threads, .numeric = o.numeric, .categorical = o.categorical};
  const data_source train = open_data(o.data, csv);
  std::optional<data_source> valid;
  if (!o.valid.empty()) valid.emplace(open_valid_data(o.valid, csv, train.view()));
  if (!o.quiet) {
    const bool folds = o.folds > 1;
    c.on_run = [folds](const tune_run& r) {
      fmt::print("trial {:>4}{}  bracket {} rung {}  {:>3} epochs  metric {:.6g}{}  {:.1f} s{}\n",
                 r.trial, folds ? fmt::format(" fold {}", r.fold) : "", r.bracket, r.rung, r.epochs,
                 r.metric, status_note(r), r.seconds, r.seconds == 0.0 ? " (kept)" : "");
      std::fflush(stdout);
    };
  }
  std::optional<tune_result> searched;
  try {
    searched.emplace(tune(c, train.view(), valid ? &valid->view() : nullptr));
    write_best_model(*searched, c, train.view(), valid ? &valid->view() : nullptr, out);
  } catch (...) {
    std::error_code ignored;  // the trials' files stay for a resume, an empty folder does not
    std::filesystem::remove(c.work_dir, ignored);
    throw;
  }
  const tune_result& r = *searched;
  const std::string table = leaderboard_table(r);
  if (!o.log.empty()) {
    std::ofstream log(o.log, std::ios::trunc);
    log << table;
    if (!log) throw error(errc::io, fmt::format("--log {}: cannot write", o.log));
  }
  std::error_code ignored;
  std::filesystem::remove_all(c.work_dir, ignored);
  if (!o.quiet) {
    fmt::print(
        "\nleaderboard ({}, {} is better; {} runs trained, {} read from the journal {}):\n{}",
        r.metric_name, r.higher_is_better ? "higher" : "lower", r.n_trained, r.n_from_journal,
        c.journal, table);
    if (r.time_limited)
      fmt::print(
          "note: a time budget: which trials ran depends on this machine's speed, so this "
          "leaderboard is not reproducible (N-trials is)\n");
    fmt::print("best: trial {} ({} epochs) written to {}\n", r.leaderboard.front().trial,
               r.leaderboard.front().epochs, out);
  }
  return 0;
}

}  // namespace tmlp::cli
