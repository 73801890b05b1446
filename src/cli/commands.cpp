// tmlp convert / train / predict / evaluate / info: a CSV or .tmlpd file in, a model file out,
// and back.
#include "cli/commands.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/metrics.hpp"
#include "cli/progress.hpp"
#include "cli/train_checkpoint.hpp"
#include "cli/train_data.hpp"
#include "cli/train_log.hpp"
#include "tmlp/checkpoint.hpp"
#include "tmlp/data_source.hpp"
#include "tmlp/dataset.hpp"
#include "tmlp/distributed.hpp"
#include "tmlp/ensemble.hpp"
#include "tmlp/error.hpp"
#include "tmlp/io.hpp"
#include "tmlp/predictor.hpp"
#include "tmlp/preprocess.hpp"
#include "tmlp/train_setup.hpp"
#include "tmlp/trainer.hpp"
#include "tmlp/training_data.hpp"
#include "tmlp/version.hpp"

namespace tmlp::cli {
namespace {

// A model file's "training" object as the command line that trained it (the flags marked
// in_model that it has), and what the run did.
void print_training(const nlohmann::json& t) {
  std::string line;
  for (const train_flag& f : train_flags()) {
    const std::string key = metadata_key(f.name);
    if (!f.in_model || !t.contains(key)) continue;
    const std::string value = t[key].is_string() ? t[key].get<std::string>() : t[key].dump();
    if (!line.empty()) line += ' ';
    line += f.positional ? value : fmt::format("--{} {}", f.name, value);
  }
  fmt::print("training   {}\n", line);
  if (t.contains("members") && t["members"].is_array()) {  // an ensemble: each member's
    std::size_t i = 0;
    for (const nlohmann::json& m : t["members"])
      fmt::print("result     member {}: {} after {} epochs (best {})\n", ++i,
                 m.value("status", std::string("?")), m.value("epochs_run", std::size_t{0}),
                 m.value("best_epoch", std::size_t{0}));
  } else if (t.contains("status")) {
    fmt::print("result     {} after {} epochs (best {})\n", t["status"].get<std::string>(),
               t.value("epochs_run", std::size_t{0}), t.value("best_epoch", std::size_t{0}));
  }
}

// Features from a .npy file with the columns of a targets .npy file appended, named target (one
// column) or target_1, target_2, ... .
table with_targets(table x, const std::string& targets_path) {
  if (targets_path.empty()) return x;
  table y = read_npy(targets_path);
  if (y.n_rows != x.n_rows)
    throw error(errc::invalid_data, fmt::format("--targets: {} has {} rows, {} has {}",
                                                targets_path, y.n_rows, x.source, x.n_rows));
  for (std::size_t j = 0; j < y.columns.size(); ++j) {
    column c = std::move(y.columns[j]);
    c.name = y.columns.size() == 1 ? "target" : fmt::format("target_{}", j + 1);
    x.columns.push_back(std::move(c));
  }
  return x;
}

// What every rank of a distributed run must share: the build, every flag that changes the
// result, and the files (checked before any data is read).
std::string run_description(const train_options& o) {
  std::string d = fmt::format("tmlp version: {}\n", version_string);
  for (const train_flag& f : train_flags()) {
    const std::string_view n = f.name;
    if (n == "threads" || n == "quiet" || n == "comm-timeout" || n == "distributed") continue;
    d += fmt::format("--{}: {}\n", n, value_text(f, o));
  }
  for (const std::string* path : {&o.data, &o.valid, &o.resume})
    if (!path->empty()) d += fmt::format("file {}: {}\n", *path, file_fingerprint(*path));
  return d;
}

}  // namespace

int convert(const convert_options& o) {
  if (is_dataset_file(o.data))
    throw error(errc::invalid_argument,
                fmt::format("{}: is already a .tmlpd file (train on it directly)", o.data));
  const auto t0 = std::chrono::steady_clock::now();
  const csv_options csv{.n_threads = o.threads, .numeric = o.numeric, .categorical = o.categorical};
  data_source src =
      o.npy ? data_source(with_targets(read_npy(o.data), o.targets)) : open_data(o.data, csv);
  if (!o.targets.empty() && !o.npy)
    throw error(
        errc::invalid_argument,
        fmt::format("--targets: {} is not a .npy file; a CSV holds its target column", o.data));
  const table_view& t = src.view();
  write_dataset(t, o.out);
  std::size_t kinds[3] = {0, 0, 0};
  for (const column_view& c : t.columns) ++kinds[static_cast<int>(c.kind)];
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!o.quiet)
    fmt::print(
        "{}: {} rows, {} columns ({} numeric, {} categorical, {} boolean); wrote {} ({:.1f} MB) "
        "in {:.2f} s\n",
        o.data, t.n_rows, t.columns.size(), kinds[0], kinds[1], kinds[2], o.out,
        static_cast<double>(std::filesystem::file_size(o.out)) / 1e6, seconds);
  return 0;
}

namespace {

// The model file's path: --out, or DATA with extension .tmlp.
std::string model_path(const train_options& o) {
  return o.out.empty() ? std::filesystem::path(o.data).replace_extension(".tmlp").string() : o.out;
}

// Rows per batch as the trainer takes them: --batch-size, or its automatic size.
std::size_t batch_rows(const train_options& o, const training_data& d) {
  return o.batch_size.value_or(auto_batch_size(d.x_train->rows()));
}

// Each batch and epoch of cfg's fit shown by `shown`, and each epoch written to the log if any.
void show_training(train_config& cfg, progress& shown, std::optional<train_log>& log) {
  cfg.on_batch = [&shown](const batch_report& b) {
    shown.batch(b);
    return true;
  };
  cfg.on_epoch = [&shown, &log](const epoch_report& e) {
    if (log) log->write(e);
    shown.epoch(e);
    return true;
  };
}

// --ensemble K > 1: K members trained in this process (side by side when the threads allow),
// each named in the progress lines and the log; no checkpoints, no MPI.
int train_ensemble(const train_options& o, train_config cfg) {
  if (!o.resume.empty())
    throw error(errc::unsupported,
                "--resume: an ensemble is not checkpointed (train it again without --resume)");
  if (!o.checkpoint.empty())
    throw error(errc::unsupported,
                "--checkpoint: an ensemble is not checkpointed (train it without --checkpoint)");
  if (o.distributed || launched_by_mpi())
    throw error(errc::unsupported,
                "--ensemble: training across MPI ranks makes one model; train an ensemble in one "
                "process");
  std::optional<train_log> log;
  if (!o.log.empty()) log.emplace(o.log, false, true);
  const std::unique_ptr<train_data> files = load_train_data(o);
  const training_data& d = *files->rows;
  progress shown(progress::detect(o.quiet), o.epochs, d.x_train->rows(), batch_rows(o, d),
                 o.ensemble);
  show_training(cfg, shown, log);
  const ensemble_plan plan = plan_ensemble(o.ensemble, o.threads);
  if (!o.quiet)
    fmt::print("{}\n{} members, {} at a time with {} thread(s) each\n", d.summary, o.ensemble,
               plan.at_once, plan.threads.back());
  std::fflush(stdout);
  ensemble_fit f = fit_ensemble(o, d, cfg);
  shown.finish();
  std::vector<std::string> notes;  // each once, though every member may make it
  for (const fit_result& r : f.results)
    for (const std::string& note : r.notes)
      if (std::find(notes.begin(), notes.end(), note) == notes.end()) notes.push_back(note);
  if (!o.quiet)
    for (const std::string& note : notes) fmt::print("note: {}\n", note);
  for (std::size_t i = 0; i < f.results.size(); ++i) {
    if (f.results[i].status == fit_status::diverged)
      throw error(errc::invalid_data,
                  fmt::format("training diverged in member {} (loss or gradient not finite); try "
                              "a lower --lr or --clip-norm",
                              i + 1));
  }
  const std::string out = model_path(o);
  const std::vector<fit_result> results = f.results;
  save_model(f.file(o, d), out);
  if (!o.quiet)
    for (std::size_t i = 0; i < results.size(); ++i)
      fmt::print("member {}: {} after {} epochs (best {})\n", i + 1, to_string(results[i].status),
                 results[i].epochs.empty() ? 0 : results[i].epochs.back().epoch,
                 results[i].best_epoch);
  if (!o.quiet) fmt::print("ensemble of {} written to {}\n", o.ensemble, out);
  return 0;
}

}  // namespace

int train(const train_options& o) {
  // Every flag is checked before any data is read, and the log created.
  hidden_layers(o);
  parse_loss(o.loss);
  train_config cfg = make_train_config(o);
  if (o.ensemble > 1) return train_ensemble(o, std::move(cfg));
  if (!o.checkpoint.empty() && o.checkpoint_every == 0)
    throw error(errc::invalid_argument, "--checkpoint-every: 0 is not a number of epochs >= 1");
  if (o.comm_timeout == 0)
    throw error(errc::invalid_argument, "--comm-timeout: 0 is not a number of seconds >= 1");
  // Several processes (under mpirun, or --distributed): every rank runs this same command on
  // the same files; rank 0 alone prints and writes the log, checkpoints and model.
  std::unique_ptr<communicator> world;
  if (o.distributed || launched_by_mpi()) {
    world = mpi_world(std::chrono::seconds(o.comm_timeout));
    check_same_on_every_rank(*world, run_description(o));
  }
  const bool lead = world == nullptr || world->rank() == 0;
  std::optional<loaded_checkpoint> resumed;
  if (!o.resume.empty()) resumed.emplace(load_checkpoint(o.resume));
  std::optional<train_log> log;
  if (!o.log.empty() && lead) log.emplace(o.log, resumed.has_value());
  const bool quiet = o.quiet || !lead;

  const std::unique_ptr<train_data> files = load_train_data(o);
  const training_data& d = *files->rows;
  const std::string run_meta = checkpoint_metadata(o, d);
  model m = with_flag_names([&] { return model::create(training_model_spec(o, d)); });
  std::size_t epochs_before = 0;
  if (resumed) {
    check_same_run(o.resume, resumed->metadata, run_meta, resumed->state.epochs_done());
    if (spec_to_json(resumed->model.spec()) != spec_to_json(m.spec()))
      throw error(
          errc::invalid_argument,
          fmt::format("--resume: {}: the checkpoint's network differs from this run's", o.resume));
    m = std::move(resumed->model);
    epochs_before = resumed->state.epochs_done();
  }

  progress shown(progress::detect(quiet), o.epochs, d.x_train->rows(), batch_rows(o, d));
  show_training(cfg, shown, log);
  if (!o.checkpoint.empty() && lead) {
    cfg.checkpoint_every = o.checkpoint_every;
    cfg.on_checkpoint = [&](const training_state& s) {
      save_checkpoint(m, s, checkpoint_path(o.checkpoint, s.epochs_done()), run_meta);
    };
  }
  if (!quiet) fmt::print("{}\n", d.summary);
  if (!quiet && world) fmt::print("training on {} ranks (MPI)\n", world->size());
  if (!quiet && resumed) fmt::print("resuming {} after epoch {}\n", o.resume, epochs_before);
  std::fflush(stdout);
  trainer tr(cfg);
  if (resumed) tr.resume_from(std::move(resumed->state));
  tr.distribute(world.get());
  const fit_result r = tr.fit(m, *d.x_train, d.y_train, d.x_valid.get(), d.y_valid, d.w_train);
  shown.finish();
  if (!quiet)
    for (const std::string& note : r.notes) fmt::print("note: {}\n", note);
  if (r.status == fit_status::diverged)  // alike on every rank of a distributed run
    throw collective_error(
        errc::invalid_data,
        "training diverged (loss or gradient not finite); try a lower --lr or --clip-norm");

  const std::size_t epochs_run = r.epochs.empty() ? epochs_before : r.epochs.back().epoch;
  const std::string out = model_path(o);
  if (!lead) return 0;
  save_model(m, out, model_metadata(o, d, r, epochs_run));
  if (!quiet)
    fmt::print("{} after {} epochs (best {}); model written to {}\n", to_string(r.status),
               epochs_run, r.best_epoch, out);
  return 0;
}

int predict(const predict_cli_options& o) {
  const predictor l = predictor::load(o.model);
  const data_source data = l.open(o.data);
  const matrix out = l.outputs(data.view());
  std::FILE* f = o.out.empty() ? stdout : std::fopen((o.out + ".tmp").c_str(), "w");
  if (f == nullptr) throw error(errc::io, fmt::format("{}: cannot write", o.out));
  if (l.prep().task() == task_kind::regression) {
    std::fprintf(f, "prediction\n");
    for (std::size_t r = 0; r < out.rows(); ++r)
      std::fprintf(f, "%.9g\n", l.prep().unscale_target(out(r, 0)));
  } else {
    const auto& labels = l.prep().class_labels();
    const matrix p = l.class_probabilities(out);
    const std::size_t k = labels.size();
    if (o.proba) {
      for (std::size_t c = 0; c < k; ++c) std::fprintf(f, "%s%s", c ? "," : "", labels[c].c_str());
      std::fprintf(f, "\n");
    } else {
      std::fprintf(f, "prediction\n");
    }
    for (std::size_t r = 0; r < out.rows(); ++r) {
      const float* row = p.data() + r * k;
      if (o.proba) {
        for (std::size_t c = 0; c < k; ++c)
          std::fprintf(f, "%s%.6g", c ? "," : "", static_cast<double>(row[c]));
        std::fprintf(f, "\n");
      } else {
        std::fprintf(
            f, "%s\n",
            labels[static_cast<std::size_t>(std::max_element(row, row + k) - row)].c_str());
      }
    }
  }
  if (f != stdout) {
    if (std::fclose(f) != 0) throw error(errc::io, fmt::format("{}: cannot write", o.out));
    std::filesystem::rename(o.out + ".tmp", o.out);
  }
  return 0;
}

int evaluate(const evaluate_options& o) {
  const predictor l = predictor::load(o.model);
  const data_source data = l.open(o.data);
  const table_view& t = data.view();
  const matrix out = l.outputs(t);
  const matrix y = l.prep().targets(t);
  nlohmann::ordered_json j;
  if (l.prep().task() == task_kind::regression) {
    std::vector<double> pred, truth;
    for (std::size_t r = 0; r < out.rows(); ++r) {
      pred.push_back(l.prep().unscale_target(out(r, 0)));
      truth.push_back(l.prep().unscale_target(y(r, 0)));
    }
    const regression_metrics m = regression(pred, truth);
    j = {{"rows", t.n_rows}, {"rmse", m.rmse}, {"mae", m.mae}, {"r2", m.r2}};
  } else {
    std::vector<int> truth;
    for (std::size_t r = 0; r < y.rows(); ++r) truth.push_back(static_cast<int>(y(r, 0)));
    const matrix p = l.class_probabilities(out);
    const classification_metrics m = classification(
        std::vector<float>(p.data(), p.data() + p.size()), l.prep().n_classes(), truth);
    j = {{"rows", t.n_rows},
         {"accuracy", m.accuracy},
         {"log_loss", m.log_loss},
         {"auc", m.auc},
         {"f1", m.f1}};
  }
  if (o.json) {
    fmt::print("{}\n", j.dump());
  } else {
    for (const auto& [key, value] : j.items()) fmt::print("{:10} {}\n", key, value.dump());
  }
  return 0;
}

int info(const std::string& path) {
  const predictor l = predictor::load(path);
  const model_spec& s = l.model().spec();
  fmt::print("model      {}\n", path);
  fmt::print("task       {} (loss {})\n", to_string(l.prep().task()), to_string(s.loss));
  std::string arch = std::to_string(s.n_inputs);
  for (const auto& layer : s.layers)
    arch += fmt::format(" -> {}{}{} {}{}{}", layer.units, layer.layer_norm ? " layer-norm" : "",
                        layer.batch_norm ? " batch-norm" : "", to_string(layer.act),
                        layer.residual ? " + skip" : "",
                        layer.dropout > 0.0f ? fmt::format(" (dropout {})", layer.dropout) : "");
  fmt::print("layers     {}\n", arch);
  const auto feature_name = [&](std::size_t c) {
    return c < l.prep().feature_names().size() ? l.prep().feature_names()[c] : std::to_string(c);
  };
  for (const embedding_spec& e : s.embeddings)
    fmt::print("embedding  {}: {} levels x {} values\n", feature_name(e.column), e.cardinality,
               e.dim);
  if (s.feature_scale) fmt::print("scaling    a learned scale per input feature\n");
  for (const periodic_embedding_spec& e : s.periodic_embeddings)
    fmt::print("periodic   {}: {} frequencies (sigma {}) -> {} values\n", feature_name(e.column),
               e.n_frequencies, e.sigma, e.dim);
  fmt::print("parameters {}\n", l.model().n_params());
  if (l.n_members() > 1) {
    std::string seeds;
    for (std::size_t i = 0; i < l.n_members(); ++i)
      seeds += fmt::format("{}{}", i ? ", " : "", l.member(i).spec().seed);
    fmt::print("members    {} (seeds {}); predictions are their mean\n", l.n_members(), seeds);
  }
  fmt::print("features   {} (after preprocessing)\n", l.prep().n_features());
  if (!l.prep().class_labels().empty()) {
    std::string labels;
    for (const auto& c : l.prep().class_labels()) labels += (labels.empty() ? "" : ", ") + c;
    fmt::print("classes    {}\n", labels);
  }
  const nlohmann::json meta = nlohmann::json::parse(l.metadata());
  if (meta.contains("training") && meta["training"].is_object()) print_training(meta["training"]);
  if (meta.contains("tune") && meta["tune"].is_object()) {  // written by tmlp tune
    const nlohmann::json& t = meta["tune"];
    fmt::print("tuned      trial {} of {} (tmlp tune, {} {:.6g}): {}\n", t.value("trial", 0),
               t.value("trials", 0), t.value("metric", std::string()), t.value("value", 0.0),
               t.value("flags", std::string()));
  }
  return 0;
}

}  // namespace tmlp::cli
