// `tmlp tune`'s search: brackets in order, rungs in order, the trials of a rung in parallel,
// promotions decided once the rung is complete (tmlp/tune.hpp).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tmlp/error.hpp"
#include "tmlp/io.hpp"
#include "tmlp/system.hpp"
#include "tmlp/train_setup.hpp"
#include "tmlp/tune.hpp"
#include "train/tune_trial.hpp"

namespace tmlp {
namespace {

using clock_type = std::chrono::steady_clock;
using fold_key = std::pair<std::size_t, std::size_t>;  // (trial, fold)

// The search's state: each trial's (and fold's) metric after each epoch and furthest run.
struct search_state {
  const tune_config& c;
  const table_view& train;
  const table_view* valid;
  std::vector<train::fold_tables> folds;  // with c.n_folds > 1
  std::size_t n_folds = 1;
  std::string search;  // the journal's first line
  std::map<train::journal_key, tune_run> journal;
  std::optional<clock_type::time_point> deadline;
  int n_cores = 1;
  std::map<fold_key, std::vector<double>> history;  // index epoch - 1
  std::map<fold_key, tune_run> latest_fold;         // each fold's furthest run
  std::map<std::size_t, tune_run> latest;           // by trial: its furthest rung (folds' mean)
  std::string metric_name;
  std::mutex lock;  // the journal file and on_run
  std::size_t n_trained = 0, n_from_journal = 0;
  bool stopped = false;  // the time budget ran out
};

// The runs a rung needs that the journal does not hold, trained min(cores, count) at a time
// with cores / that threads each. Exceptions come out in the jobs' order.
std::vector<tune_run> train_jobs(search_state& s, std::vector<train::trial_job>& jobs) {
  std::vector<tune_run> runs(jobs.size());
  if (jobs.empty()) return runs;
  const std::size_t n_parallel =
      std::min<std::size_t>(static_cast<std::size_t>(s.n_cores), jobs.size());
  const int n_threads = std::max(1, s.n_cores / static_cast<int>(n_parallel));
  std::vector<std::exception_ptr> errors(jobs.size());
  std::vector<std::vector<double>*> histories;
  for (train::trial_job& j : jobs) {
    j.n_threads = n_threads;
    j.deadline = s.deadline;
    histories.push_back(&s.history[{j.trial, j.fold}]);  // created before any worker runs
  }
  std::atomic<std::size_t> next{0};
  const auto work = [&s, &jobs, &runs, &errors, &histories, &next] {
    for (std::size_t i; (i = next.fetch_add(1)) < jobs.size();) {
      try {
        const bool folds = !s.folds.empty();
        const table_view train = folds ? table_view(s.folds[jobs[i].fold].train) : s.train;
        const table_view valid = folds ? table_view(s.folds[jobs[i].fold].valid) : table_view();
        runs[i] = train::train_trial(s.c, train, folds ? &valid : s.valid, jobs[i], *histories[i]);
        if (runs[i].status == "stopped") continue;
        const std::lock_guard<std::mutex> guard(s.lock);
        if (!s.c.journal.empty()) train::append_journal(s.c.journal, s.search, runs[i]);
        if (s.c.on_run) s.c.on_run(runs[i]);
      } catch (const error& e) {  // named by its trial (and fold)
        errors[i] = std::make_exception_ptr(error(
            e.code(), fmt::format("trial {}{} ({}): {}", jobs[i].trial,
                                  s.folds.empty() ? "" : fmt::format(" fold {}", jobs[i].fold),
                                  flags_text(jobs[i].flags), e.what())));
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> workers;
  for (std::size_t k = 1; k < n_parallel; ++k) workers.emplace_back(work);
  work();
  for (std::thread& t : workers) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  return runs;
}

// A trial's rung from its folds' runs: their mean metric (NaN if any is), summed seconds, fold
// 0's other fields; the status is the folds' when they agree.
tune_run mean_of_folds(const std::vector<tune_run>& runs) {
  tune_run r = runs.front();
  if (runs.size() == 1) return r;
  double sum = 0.0, seconds = 0.0;
  for (const tune_run& f : runs) {
    sum += f.metric;
    seconds += f.seconds;
    if (f.status != r.status) r.status = "completed";
  }
  r.metric = sum / static_cast<double>(runs.size());
  r.seconds = seconds;
  r.curve.clear();
  return r;
}

// The runs of one rung for `trials`, in their order (with folds, each the folds' mean): read
// back from the journal, carried over (a trial that stopped early or diverged gives the same
// result with more epochs), or trained.
std::vector<tune_run> run_rung(search_state& s, const std::vector<tune_bracket>& brackets,
                               std::size_t b, std::size_t i,
                               const std::vector<std::size_t>& trials) {
  const tune_rung& rung = brackets[b].rungs[i];
  const std::size_t prev_epochs = i == 0 ? 0 : brackets[b].rungs[i - 1].epochs;
  std::vector<std::vector<tune_run>> out(trials.size(), std::vector<tune_run>(s.n_folds));
  std::vector<train::trial_job> jobs;
  std::vector<fold_key> job_slot;  // (index in trials, fold)
  for (std::size_t k = 0; k < trials.size(); ++k) {
    const std::size_t t = trials[k];
    const tune_flags flags = sample_trial(s.c.space, s.c.base.seed, t);
    for (std::size_t f = 0; f < s.n_folds; ++f) {
      const auto known = s.journal.find({t, i, f});
      if (known != s.journal.end() && known->second.flags == flags &&
          known->second.epochs == rung.epochs) {
        const tune_run& r = out[k][f] = known->second;
        std::vector<double>& h = s.history[{t, f}];
        if (h.size() < r.first_epoch - 1 + r.curve.size())
          h.resize(r.first_epoch - 1 + r.curve.size(), std::nan(""));
        std::copy(r.curve.begin(), r.curve.end(),
                  h.begin() + static_cast<std::ptrdiff_t>(r.first_epoch - 1));
        ++s.n_from_journal;
        continue;
      }
      const auto before = s.latest_fold.find({t, f});
      if (i > 0 && before != s.latest_fold.end() &&
          (before->second.status == "early_stopped" || before->second.status == "diverged")) {
        tune_run r = before->second;
        r.rung = i;
        r.epochs = rung.epochs;
        r.seconds = 0.0;
        r.curve.clear();
        r.from_journal = false;
        const std::string from = train::trial_model(s.c, t, prev_epochs, f);
        if (std::filesystem::exists(from))
          std::filesystem::rename(from, train::trial_model(s.c, t, rung.epochs, f));
        if (!s.c.journal.empty()) train::append_journal(s.c.journal, s.search, r);
        if (s.c.on_run) s.c.on_run(r);
        out[k][f] = std::move(r);
        continue;
      }
      jobs.push_back({.trial = t,
                      .bracket = b,
                      .rung = i,
                      .fold = f,
                      .epochs = rung.epochs,
                      .prev_epochs = prev_epochs,
                      .flags = flags});
      job_slot.emplace_back(k, f);
    }
  }
  std::vector<tune_run> trained = train_jobs(s, jobs);
  for (std::size_t j = 0; j < trained.size(); ++j) {
    if (trained[j].status == "stopped")
      s.stopped = true;
    else
      ++s.n_trained;
    out[job_slot[j].first][job_slot[j].second] = std::move(trained[j]);
  }
  std::vector<tune_run> means;
  for (std::size_t k = 0; k < trials.size(); ++k) {
    bool complete = true;
    for (const tune_run& r : out[k]) complete = complete && r.status != "stopped";
    if (!complete) continue;  // the time budget ran out during this trial's folds
    for (const tune_run& r : out[k]) s.latest_fold[{r.trial, r.fold}] = r;
    means.push_back(mean_of_folds(out[k]));
  }
  return means;
}

// Lower is better: a metric where higher is better is negated.
double ranked(const tune_run& r, bool higher_is_better) {
  return higher_is_better ? -r.metric : r.metric;
}

// Every sampled trial's flags checked before anything trains (a bad combination names its trial).
void check_trials(const tune_config& c, std::size_t n_trials) {
  for (std::size_t t = 0; t < n_trials; ++t) {
    const tune_flags f = sample_trial(c.space, c.base.seed, t);
    try {
      train_options o = c.base;
      apply_flags(o, f);
      hidden_layers(o);
      parse_loss(o.loss);
      make_train_config(o);
    } catch (const error& e) {
      throw error(e.code(), fmt::format("trial {} ({}): {}", t, flags_text(f), e.what()));
    }
  }
}

}  // namespace

tune_result tune(const tune_config& c, const table_view& train, const table_view* valid) {
  if (c.budget.n_trials == 0 && !(c.budget.seconds > 0.0))
    throw error(errc::invalid_argument, "--budget: too small for one trial");
  const bool timed = c.budget.n_trials == 0;
  const std::vector<tune_bracket> brackets =
      hyperband_brackets(timed ? 100000 : c.budget.n_trials, c.max_epochs, c.min_epochs, c.eta);
  check_trials(c, timed ? 64 : c.budget.n_trials);
  search_state s{.c = c, .train = train, .valid = valid};
  if (c.n_folds > 1) {
    if (valid != nullptr)
      throw error(errc::invalid_argument,
                  "--folds and --valid exclude each other: the folds are the validation rows");
    s.folds = train::make_folds(train, c.n_folds, c.base.seed);
    s.n_folds = c.n_folds;
  }
  s.search = train::search_description(c, train, valid);
  if (!c.journal.empty()) s.journal = train::read_journal(c.journal, s.search);
  if (timed)
    s.deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                         std::chrono::duration<double>(c.budget.seconds));
  s.n_cores = c.n_threads > 0 ? c.n_threads : std::max(1, system().n_threads);
  if (!c.work_dir.empty()) std::filesystem::create_directories(c.work_dir);
  s.metric_name = train::tune_metric_name(c, train, valid);
  for (std::size_t b = 0; b < brackets.size() && !s.stopped; ++b) {
    std::vector<std::size_t> trials;
    for (std::size_t t = 0; t < brackets[b].n_trials; ++t)
      trials.push_back(brackets[b].first_trial + t);
    for (std::size_t i = 0; i < brackets[b].rungs.size() && !s.stopped; ++i) {
      if (s.deadline && clock_type::now() >= *s.deadline) {
        s.stopped = true;
        break;
      }
      const std::vector<tune_run> runs = run_rung(s, brackets, b, i, trials);
      const bool higher = s.metric_name == "accuracy";
      std::vector<tune_score> scores;
      for (const tune_run& r : runs) {
        if (r.status == "stopped") continue;
        s.latest[r.trial] = r;
        scores.push_back({.trial = r.trial, .loss = ranked(r, higher)});
      }
      if (i + 1 < brackets[b].rungs.size()) {
        trials = promote(scores, brackets[b].rungs[i + 1].n_trials);
        // Trials that go no further keep their model file, not their checkpoint.
        for (const tune_score& sc : scores)
          if (std::find(trials.begin(), trials.end(), sc.trial) == trials.end())
            for (std::size_t f = 0; f < s.n_folds; ++f)
              std::filesystem::remove(
                  train::trial_checkpoint(c, sc.trial, brackets[b].rungs[i].epochs, f));
      }
    }
  }
  tune_result r{.metric_name = s.metric_name,
                .higher_is_better = s.metric_name == "accuracy",
                .time_limited = timed,
                .n_trained = s.n_trained,
                .n_from_journal = s.n_from_journal};
  if (s.latest.empty())
    throw error(errc::invalid_argument,
                fmt::format("--budget {}s: too small for one trial (none finished its first rung)",
                            c.budget.seconds));
  std::vector<tune_score> scores;
  for (const auto& entry : s.latest)
    scores.push_back({.trial = entry.first, .loss = ranked(entry.second, r.higher_is_better)});
  for (const std::size_t t : promote(scores, scores.size())) r.leaderboard.push_back(s.latest[t]);
  return r;
}

void write_best_model(const tune_result& r, const tune_config& c, const table_view& train,
                      const table_view* valid, const std::string& path) {
  if (r.leaderboard.empty() || std::isnan(r.leaderboard.front().metric))
    throw error(errc::invalid_data,
                "every trial diverged (loss or gradient not finite); no model written");
  const tune_run& best = r.leaderboard.front();
  const std::string file = train::trial_model(c, best.trial, best.epochs);
  loaded_model m = c.n_folds <= 1 && !c.work_dir.empty() && std::filesystem::exists(file)
                       ? load_model(file)
                       : train::train_again(c, train, valid, best.flags, best.epochs);
  // tmlp train's metadata, and the search's choice: the trial, its flags and epochs, its metric.
  nlohmann::json meta = nlohmann::json::parse(m.metadata);
  meta["tune"] = {{"trial", best.trial},
                  {"flags", fmt::format("{} --epochs {}", flags_text(best.flags), best.epochs)},
                  {"metric", r.metric_name},
                  {"value", best.metric},
                  {"higher_is_better", r.higher_is_better},
                  {"trials", r.leaderboard.size()}};
  save_model(m.model, path, meta.dump());
}

std::string leaderboard_table(const tune_result& r) {
  std::string out =
      fmt::format("{:>4}  {:>5}  {:>12}  {:>6}  {}\n", "rank", "trial",
                  r.metric_name.empty() ? "metric" : r.metric_name, "epochs", "flags");
  for (std::size_t k = 0; k < r.leaderboard.size(); ++k) {
    const tune_run& t = r.leaderboard[k];
    out += fmt::format("{:>4}  {:>5}  {:>12.6g}  {:>6}  {}\n", k + 1, t.trial, t.metric, t.epochs,
                       flags_text(t.flags));
  }
  return out;
}

}  // namespace tmlp
