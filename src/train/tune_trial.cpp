// One trial of `tmlp tune` trained to one rung, exactly as `tmlp train` trains it, and the
// journal that lets an interrupted search resume (src/train/tune_trial.hpp).
#include "train/tune_trial.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tmlp/checkpoint.hpp"
#include "tmlp/error.hpp"
#include "tmlp/io.hpp"
#include "tmlp/train_setup.hpp"
#include "tmlp/trainer.hpp"
#include "tmlp/training_data.hpp"

namespace tmlp::train {
namespace {

constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();

// The options of one trial: the base flags, the trial's flags, this rung's epochs.
train_options trial_options(const tune_config& c, const tune_flags& flags, std::size_t epochs,
                            int n_threads) {
  train_options o = c.base;
  apply_flags(o, flags);
  o.epochs = epochs;
  o.threads = n_threads;
  o.quiet = true;
  return o;
}

// A cosine schedule's rates depend on the total epochs: such a trial is not continued.
bool resumable(const train_options& o) { return o.schedule.rfind("cosine", 0) != 0; }

double json_number(const nlohmann::json& j) {
  return j.is_number() ? j.get<double>() : not_a_number;
}

}  // namespace

namespace {
std::string trial_file(const tune_config& c, std::size_t trial, std::size_t epochs,
                       std::size_t fold, std::string_view ext) {
  const std::string f = c.n_folds > 1 ? fmt::format("-f{}", fold) : "";
  return (std::filesystem::path(c.work_dir) / fmt::format("t{:04}{}-e{}{}", trial, f, epochs, ext))
      .string();
}
}  // namespace

std::string trial_checkpoint(const tune_config& c, std::size_t trial, std::size_t epochs,
                             std::size_t fold) {
  return trial_file(c, trial, epochs, fold, ".ckpt");
}

std::string trial_model(const tune_config& c, std::size_t trial, std::size_t epochs,
                        std::size_t fold) {
  return trial_file(c, trial, epochs, fold, ".tmlp");
}

std::vector<fold_tables> make_folds(const table_view& t, std::size_t k, std::uint64_t seed) {
  if (k < 2 || k > t.n_rows)
    throw error(
        errc::invalid_argument,
        fmt::format("--folds: {} is not a number of folds from 2 to the {} rows", k, t.n_rows));
  // A seeded Fisher-Yates order (splitmix64 draws), dealt round-robin into the folds.
  std::vector<std::size_t> order(t.n_rows), fold_of(t.n_rows);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::uint64_t state = seed ^ 0x7f4a7c159e3779b9ull;
  for (std::size_t i = order.size(); i > 1; --i) {
    std::uint64_t x = (state += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    std::swap(order[i - 1], order[(x ^ (x >> 31)) % i]);
  }
  for (std::size_t p = 0; p < order.size(); ++p) fold_of[order[p]] = p % k;
  std::vector<fold_tables> out(k);
  for (std::size_t f = 0; f < k; ++f) {
    for (table* part : {&out[f].train, &out[f].valid}) {
      const bool is_valid = part == &out[f].valid;
      part->source = std::string(t.source);
      for (const column_view& cv : t.columns) {
        column col{.name = std::string(cv.name), .kind = cv.kind};
        col.levels.assign(cv.levels.begin(), cv.levels.end());
        for (std::size_t r = 0; r < t.n_rows; ++r) {
          if ((fold_of[r] == f) != is_valid) continue;
          if (cv.kind == column_kind::categorical) {
            col.codes.push_back(cv.codes[r]);
            col.n_missing += cv.codes[r] < 0 ? 1 : 0;
          } else {
            col.values.push_back(cv.values[r]);
            col.n_missing += std::isnan(cv.values[r]) ? 1 : 0;
          }
        }
        part->columns.push_back(std::move(col));
      }
      part->n_rows = part->columns.empty() ? 0
                     : part->columns[0].kind == column_kind::categorical
                         ? part->columns[0].codes.size()
                         : part->columns[0].values.size();
    }
  }
  return out;
}

tune_run train_trial(const tune_config& c, const table_view& train, const table_view* valid,
                     const trial_job& job, std::vector<double>& history) {
  const auto t0 = std::chrono::steady_clock::now();
  const train_options o = trial_options(c, job.flags, job.epochs, job.n_threads);
  const std::unique_ptr<training_data> d = prepare_training(o, train, valid);
  if (d->x_valid == nullptr)
    throw error(errc::invalid_argument,
                "tmlp tune ranks trials on held-out rows: give --valid FILE or a "
                "--valid-fraction above 0");
  const std::string run_meta = checkpoint_metadata(o, *d);
  model m = with_flag_names([&] { return model::create(training_model_spec(o, *d)); });
  train_config cfg = make_train_config(o);
  tune_run run{.trial = job.trial,
               .bracket = job.bracket,
               .rung = job.rung,
               .fold = job.fold,
               .epochs = job.epochs,
               .flags = job.flags};
  std::optional<training_state> state;
  const std::string previous = trial_checkpoint(c, job.trial, job.prev_epochs, job.fold);
  if (job.prev_epochs > 0 && resumable(o) && std::filesystem::exists(previous)) {
    loaded_checkpoint k = load_checkpoint(previous);
    check_same_run(previous, k.metadata, run_meta, k.state.epochs_done());
    if (spec_to_json(k.model.spec()) != spec_to_json(m.spec()))
      throw error(errc::invalid_argument,
                  fmt::format("{}: the checkpoint's network differs from the trial's", previous));
    m = std::move(k.model);
    run.first_epoch = k.state.epochs_done() + 1;
    state.emplace(std::move(k.state));
  }
  const bool score = c.score;
  cfg.on_epoch = [&history, score](const epoch_report& e) {
    const std::optional<double> v = score ? e.valid_metric : e.valid_loss;
    if (history.size() < e.epoch) history.resize(e.epoch, not_a_number);
    history[e.epoch - 1] = v.value_or(not_a_number);
    return true;
  };
  if (job.deadline) {
    const auto deadline = *job.deadline;
    cfg.on_batch = [deadline](const batch_report&) {
      return std::chrono::steady_clock::now() < deadline;
    };
  }
  const std::string ckpt = trial_checkpoint(c, job.trial, job.epochs, job.fold);
  cfg.checkpoint_every = job.epochs;
  cfg.on_checkpoint = [&m, &ckpt, &run_meta](const training_state& s) {
    save_checkpoint(m, s, ckpt, run_meta);
  };
  trainer tr(cfg);
  if (state) tr.resume_from(std::move(*state));
  const fit_result r = tr.fit(m, *d->x_train, d->y_train, d->x_valid.get(), d->y_valid, d->w_train);
  run.epochs_run = r.epochs.empty() ? run.first_epoch - 1 : r.epochs.back().epoch;
  run.status = std::string(to_string(r.status));
  if (r.status == fit_status::stopped_by_callback) run.status = "stopped";
  // With early stopping the model ends at the best epoch's parameters.
  const bool restored = o.early_stop > 0 && (r.status == fit_status::completed ||
                                             r.status == fit_status::early_stopped);
  run.model_epoch = restored && r.best_epoch > 0 ? r.best_epoch : run.epochs_run;
  // A run stopped by the deadline within an epoch reports that epoch, which on_epoch never saw.
  const std::size_t seen = std::min(run.epochs_run, history.size());
  if (seen >= run.first_epoch)
    run.curve.assign(history.begin() + static_cast<std::ptrdiff_t>(run.first_epoch - 1),
                     history.begin() + static_cast<std::ptrdiff_t>(seen));
  run.metric =
      r.status == fit_status::diverged || run.model_epoch == 0 || run.model_epoch > history.size()
          ? not_a_number
          : history[run.model_epoch - 1];
  if (r.status == fit_status::completed || r.status == fit_status::early_stopped)
    save_model(m, trial_model(c, job.trial, job.epochs, job.fold),
               model_metadata(o, *d, r, run.epochs_run));
  if (run.status != "stopped" && job.prev_epochs > 0) {  // this rung's files replace them
    std::filesystem::remove(previous);
    std::filesystem::remove(trial_model(c, job.trial, job.prev_epochs, job.fold));
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return run;
}

loaded_model train_again(const tune_config& c, const table_view& train, const table_view* valid,
                         const tune_flags& flags, std::size_t epochs) {
  const train_options o = trial_options(c, flags, epochs, c.n_threads);
  const std::unique_ptr<training_data> d = prepare_training(o, train, valid);
  model m = with_flag_names([&] { return model::create(training_model_spec(o, *d)); });
  trainer tr(make_train_config(o));
  const fit_result r = tr.fit(m, *d->x_train, d->y_train, d->x_valid.get(), d->y_valid, d->w_train);
  if (r.status == fit_status::diverged)
    throw error(errc::invalid_data, "the best trial diverged when trained again");
  std::string meta = model_metadata(o, *d, r, r.epochs.empty() ? 0 : r.epochs.back().epoch);
  return {.model = std::move(m), .metadata = std::move(meta)};
}

std::string tune_metric_name(const tune_config& c, const table_view& train,
                             const table_view* valid) {
  if (!c.score) return "valid_loss";
  const train_options o = trial_options(c, sample_trial(c.space, c.base.seed, 0), 1, 1);
  const loss_kind l = prepare_training(o, train, valid)->loss.loss;
  return l == loss_kind::bce || l == loss_kind::ce ? "accuracy" : "rmse";
}

namespace {
// FNV-1a over a table's names, kinds, levels and values: another file with the same shape is
// another search.
std::string data_hash(const table_view& t) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  const auto add = [&h](const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  };
  for (const column_view& col : t.columns) {
    add(col.name.data(), col.name.size());
    add(&col.kind, sizeof col.kind);
    for (const std::string& l : col.levels) add(l.data(), l.size() + 1);
    add(col.values.data(), col.values.size_bytes());
    add(col.codes.data(), col.codes.size_bytes());
  }
  return fmt::format("{:016x}", h);
}
}  // namespace

std::string search_description(const tune_config& c, const table_view& train,
                               const table_view* valid) {
  nlohmann::ordered_json j;
  j["data"] = std::filesystem::path(c.base.data).filename().string();
  j["rows"] = train.n_rows;
  j["columns"] = train.columns.size();
  j["data_hash"] = data_hash(train);
  if (valid != nullptr) {
    j["valid_rows"] = valid->n_rows;
    j["valid_hash"] = data_hash(*valid);
  }
  nlohmann::ordered_json base = nlohmann::ordered_json::object();
  for (const train_flag& f : train_flags()) {
    const std::string_view n = f.name;
    if (n == "data" || n == "threads" || n == "quiet" || n == "out" || n == "log" ||
        n == "checkpoint" || n == "resume" || n == "config" || n == "epochs")
      continue;
    base[std::string(n)] = value_text(f, c.base);
  }
  j["base"] = base;
  nlohmann::ordered_json space = nlohmann::ordered_json::array();
  for (const tune_param& p : c.space.params)
    space.push_back({{"flag", p.flag},
                     {"choices", p.choices},
                     {"range", {p.low, p.high}},
                     {"log", p.log},
                     {"int", p.integer}});
  j["space"] = space;
  // A time budget's brackets do not depend on the time given.
  j["budget"] = c.budget.n_trials > 0 ? fmt::format("{}-trials", c.budget.n_trials) : "time";
  j["epochs"] = c.max_epochs;
  j["min_epochs"] = c.min_epochs;
  j["eta"] = c.eta;
  j["folds"] = c.n_folds;
  j["metric"] = c.score ? "score" : "valid_loss";
  return j.dump();
}

std::string journal_line(const tune_run& run) {
  nlohmann::ordered_json j;
  j["trial"] = run.trial;
  j["bracket"] = run.bracket;
  j["rung"] = run.rung;
  j["fold"] = run.fold;
  j["epochs"] = run.epochs;
  j["epochs_run"] = run.epochs_run;
  nlohmann::ordered_json flags = nlohmann::ordered_json::object();
  for (const auto& [name, value] : run.flags) flags[name] = value;
  j["flags"] = flags;
  j["metric"] = std::isfinite(run.metric) ? nlohmann::ordered_json(run.metric) : nullptr;
  j["status"] = run.status;
  j["seconds"] = run.seconds;
  j["first_epoch"] = run.first_epoch;
  j["model_epoch"] = run.model_epoch;
  nlohmann::ordered_json curve = nlohmann::ordered_json::array();
  for (const double v : run.curve)
    curve.push_back(std::isfinite(v) ? nlohmann::ordered_json(v) : nullptr);
  j["curve"] = curve;
  return j.dump();
}

std::map<journal_key, tune_run> read_journal(const std::string& path, const std::string& search) {
  std::map<journal_key, tune_run> runs;
  std::ifstream in(path, std::ios::binary);
  if (!in) return runs;
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    lines.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  const bool ends_cut = !text.empty() && text.back() != '\n';
  if (lines.empty()) return runs;
  const nlohmann::json first = nlohmann::json::parse(lines[0], nullptr, false);
  const nlohmann::json want = nlohmann::json::parse(search);
  if (first.is_discarded() || !first.contains("search"))
    throw error(errc::invalid_data,
                fmt::format("--journal {}: not a journal of tmlp tune (line 1)", path));
  if (first["search"] != want) {
    std::string what = "its settings differ";
    for (const auto& [key, value] : want.items()) {
      const nlohmann::json before = first["search"].value(key, nlohmann::json());
      if (before == value) continue;
      what = fmt::format("its {} differs", key);
      if (key == "base" && before.is_object())
        for (const auto& [flag, v] : value.items())
          if (before.value(flag, nlohmann::json()) != v) {
            what = fmt::format("it has --{} {}, this one {}", flag,
                               before.value(flag, nlohmann::json()).dump(), v.dump());
            break;
          }
      break;
    }
    throw error(errc::invalid_argument,
                fmt::format("--journal {}: written by another search ({}); remove it or "
                            "give another --journal",
                            path, what));
  }
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const nlohmann::ordered_json j = nlohmann::ordered_json::parse(lines[i], nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      if (i + 1 == lines.size() && ends_cut) break;  // a write cut short
      throw error(errc::invalid_data,
                  fmt::format("--journal {}: line {} is not a JSON object", path, i + 1));
    }
    try {
      tune_run r{.trial = j.at("trial").get<std::size_t>(),
                 .bracket = j.at("bracket").get<std::size_t>(),
                 .rung = j.at("rung").get<std::size_t>(),
                 .fold = j.at("fold").get<std::size_t>(),
                 .epochs = j.at("epochs").get<std::size_t>(),
                 .epochs_run = j.at("epochs_run").get<std::size_t>(),
                 .metric = json_number(j.at("metric")),
                 .status = j.at("status").get<std::string>(),
                 .seconds = j.at("seconds").get<double>(),
                 .first_epoch = j.at("first_epoch").get<std::size_t>(),
                 .model_epoch = j.at("model_epoch").get<std::size_t>(),
                 .from_journal = true};
      for (const auto& [name, value] : j.at("flags").items())
        r.flags.emplace_back(name, value.get<std::string>());
      for (const auto& v : j.at("curve")) r.curve.push_back(json_number(v));
      runs[{r.trial, r.rung, r.fold}] = std::move(r);
    } catch (const nlohmann::json::exception&) {
      throw error(errc::invalid_data,
                  fmt::format("--journal {}: line {} is not a run of tmlp tune", path, i + 1));
    }
  }
  return runs;
}

void append_journal(const std::string& path, const std::string& search, const tune_run& run) {
  std::string text;
  const bool fresh = !std::filesystem::exists(path) || std::filesystem::file_size(path) == 0;
  if (fresh) {
    text = nlohmann::json{{"search", nlohmann::json::parse(search)}}.dump() + "\n";
  } else {
    // A line cut short by a killed write is ended first, so the new line stands alone.
    std::ifstream in(path, std::ios::binary);
    in.seekg(-1, std::ios::end);
    if (in.get() != '\n') text.push_back('\n');
  }
  text += journal_line(run) + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw error(errc::io, fmt::format("--journal {}: cannot write", path));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      ::close(fd);
      throw error(errc::io, fmt::format("--journal {}: cannot write", path));
    }
    done += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
}

}  // namespace tmlp::train
