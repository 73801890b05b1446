// tmlp/tmlp.h: training, on tables as `tmlp train` does and on float arrays with a trainer.
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "capi/capi.hpp"
#include "capi/options.hpp"
#include "tmlp/ensemble.hpp"
#include "tmlp/error.hpp"
#include "tmlp/io.hpp"
#include "tmlp/training_data.hpp"

using tmlp::capi::guarded;
using tmlp::capi::require;

namespace tmlp::capi {

std::unique_ptr<tmlp_dataset> open_dataset(const std::string& path, const csv_options& csv);

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

// The program's own flags, which no library call does.
void reject_program_options(const parsed_options& p, std::string_view function) {
  for (const char* name : {"config", "log", "checkpoint", "checkpoint-every", "resume", "quiet"})
    if (p.given.count(name) != 0)
      throw error(errc::unsupported,
                  fmt::format("{}: option '{}' belongs to the tmlp program, not the C API",
                              function, name));
}

// The checks `tmlp train` makes on its flags before reading any data.
train_config checked_config(const parsed_options& p) {
  const train_options& o = p.options;
  if (!o.valid.empty() && p.given.count("valid-fraction") != 0)
    throw error(errc::invalid_argument,
                "--valid-fraction and --valid exclude each other: the --valid file is the "
                "validation set");
  if (o.target.empty()) throw error(errc::invalid_argument, "--target is required");
  hidden_layers(o);
  parse_loss(o.loss);
  return make_train_config(o);
}

// The --valid file, opened like the training file (tmlp::open_valid_data).
std::unique_ptr<tmlp_dataset> open_valid(const std::string& path, const csv_options& csv,
                                         const table_view& train) {
  return std::make_unique<tmlp_dataset>(open_valid_data(path, csv, train));
}

// prepare_training, the network, the fit and the metadata, as `tmlp train` runs them.
std::unique_ptr<tmlp_model> train_tables(const train_options& o, train_config cfg,
                                         const table_view& train, const table_view* valid,
                                         tmlp_epoch_callback callback, void* user,
                                         tmlp_fit_report* report) {
  set_epoch_callback(cfg, callback, user);
  const std::unique_ptr<training_data> d = prepare_training(o, train, valid);
  ensemble_fit f = fit_ensemble(o, *d, cfg);  // one model unless the ensemble option says
  for (const fit_result& r : f.results)
    if (r.status == fit_status::diverged)
      throw error(errc::invalid_data,
                  "training diverged (loss or gradient not finite); try a lower lr or clip-norm");
  const fit_result r = f.results[0];
  loaded_model l = f.file(o, *d);
  if (!o.out.empty()) save_model(l, o.out);
  std::unique_ptr<tmlp_model> h = make_model(std::move(l), o.data);
  fill_report(r, r.epochs.empty() ? 0 : r.epochs.back().epoch, report);
  return h;
}

}  // namespace

void fill_report(const fit_result& r, std::size_t epochs_run, tmlp_fit_report* report) {
  if (report == nullptr) return;
  const epoch_report* last = r.epochs.empty() ? nullptr : &r.epochs.back();
  *report =
      tmlp_fit_report{.status = static_cast<tmlp_fit_status>(r.status),
                      .epochs_run = epochs_run,
                      .best_epoch = r.best_epoch,
                      .best_loss = r.best_epoch == 0 ? nan : r.best_loss,
                      .train_loss = last != nullptr ? last->train_loss : nan,
                      .valid_loss = last != nullptr ? last->valid_loss.value_or(nan) : nan,
                      .valid_metric = last != nullptr ? last->valid_metric.value_or(nan) : nan};
}

void set_epoch_callback(train_config& cfg, tmlp_epoch_callback callback, void* user) {
  if (callback == nullptr) {
    cfg.on_epoch = nullptr;
    return;
  }
  cfg.on_epoch = [callback, user](const epoch_report& e) {
    return callback(user, e.epoch, e.train_loss, e.valid_loss.value_or(nan),
                    e.valid_metric.value_or(nan)) != 0;
  };
}

}  // namespace tmlp::capi

static_assert(static_cast<int>(tmlp::fit_status::completed) == TMLP_FIT_COMPLETED &&
              static_cast<int>(tmlp::fit_status::early_stopped) == TMLP_FIT_EARLY_STOPPED &&
              static_cast<int>(tmlp::fit_status::stopped_by_callback) ==
                  TMLP_FIT_STOPPED_BY_CALLBACK &&
              static_cast<int>(tmlp::fit_status::cancelled) == TMLP_FIT_CANCELLED &&
              static_cast<int>(tmlp::fit_status::diverged) == TMLP_FIT_DIVERGED);

extern "C" {

tmlp_status tmlp_train_file(const char* options_json, tmlp_epoch_callback callback, void* user,
                            tmlp_model** out, tmlp_fit_report* report) {
  return guarded([&] {
    const char* f = "tmlp_train_file";
    require(out, f, "out");
    *out = nullptr;
    require(options_json, f, "options_json");
    const tmlp::capi::parsed_options p = tmlp::capi::options_from_json(options_json, f);
    tmlp::capi::reject_program_options(p, f);
    const tmlp::train_options& o = p.options;
    if (o.data.empty()) throw tmlp::error(tmlp::errc::invalid_argument, "data is required");
    const tmlp::train_config cfg = tmlp::capi::checked_config(p);
    const tmlp::csv_options csv{
        .n_threads = o.threads, .numeric = o.numeric, .categorical = o.categorical};
    const auto train = tmlp::capi::open_dataset(o.data, csv);
    const auto valid =
        o.valid.empty() ? nullptr : tmlp::capi::open_valid(o.valid, csv, train->view);
    *out = tmlp::capi::train_tables(o, cfg, train->view, valid ? &valid->view : nullptr, callback,
                                    user, report)
               .release();
  });
}

tmlp_status tmlp_train_dataset(const char* options_json, const tmlp_dataset* train,
                               const tmlp_dataset* valid, tmlp_epoch_callback callback, void* user,
                               tmlp_model** out, tmlp_fit_report* report) {
  return guarded([&] {
    const char* f = "tmlp_train_dataset";
    require(out, f, "out");
    *out = nullptr;
    require(options_json, f, "options_json");
    require(train, f, "train");
    tmlp::capi::parsed_options p = tmlp::capi::options_from_json(options_json, f);
    tmlp::capi::reject_program_options(p, f);
    tmlp::train_options& o = p.options;
    if (o.data.empty()) o.data = std::string(train->view.source);
    if (valid == nullptr) o.valid.clear();
    const tmlp::train_config cfg = tmlp::capi::checked_config(p);
    *out = tmlp::capi::train_tables(o, cfg, train->view, valid ? &valid->view : nullptr, callback,
                                    user, report)
               .release();
  });
}

}  // extern "C"
