// tmlp/tmlp.h: a trainer (the training flags of `tmlp train`) for models on float arrays.
#include <string>
#include <vector>

#include <fmt/format.h>

#include "capi/capi.hpp"
#include "capi/options.hpp"
#include "tmlp/error.hpp"
#include "tmlp/train_setup.hpp"

using tmlp::capi::guarded;
using tmlp::capi::require;

namespace tmlp::capi {
namespace {

// The training options of options_json (tmlp::trainer_config), the function named in messages.
train_config trainer_config(const char* options_json) {
  const char* f = "tmlp_trainer_create";
  const parsed_options p = options_from_json(options_json, f);
  const std::vector<std::string> given(p.given.begin(), p.given.end());
  try {
    return tmlp::trainer_config(p.options, given);
  } catch (const error& e) {
    throw error(e.code(), fmt::format("{}: {}", f, e.what()));
  }
}

}  // namespace
}  // namespace tmlp::capi

extern "C" {

tmlp_status tmlp_trainer_create(const char* options_json, tmlp_trainer** out) {
  return guarded([&] {
    require(out, "tmlp_trainer_create", "out");
    *out = nullptr;
    auto t = std::make_unique<tmlp_trainer>();
    t->config = tmlp::capi::trainer_config(options_json);
    *out = t.release();
  });
}

tmlp_status tmlp_trainer_set_callback(tmlp_trainer* trainer, tmlp_epoch_callback callback,
                                      void* user) {
  return guarded([&] {
    require(trainer, "tmlp_trainer_set_callback", "trainer");
    trainer->callback = callback;
    trainer->user = user;
  });
}

void tmlp_trainer_free(tmlp_trainer* trainer) { delete trainer; }

tmlp_status tmlp_trainer_fit(tmlp_trainer* trainer, tmlp_model* model, const float* x, size_t rows,
                             size_t cols, const float* y, size_t y_cols, tmlp_fit_report* report) {
  return guarded([&] {
    const char* f = "tmlp_trainer_fit";
    require(trainer, f, "trainer");
    require(model, f, "model");
    require(x, f, "x");
    require(y, f, "y");
    if (!model->more_members.empty())
      throw tmlp::error(tmlp::errc::unsupported,
                        fmt::format("{}: the model is an ensemble of {} members; a trainer fits "
                                    "one model",
                                    f, 1 + model->more_members.size()));
    tmlp::train_config cfg = trainer->config;
    tmlp::capi::set_epoch_callback(cfg, trainer->callback, trainer->user);
    tmlp::trainer t(cfg);
    // A model trained on a table keeps its preprocessing, with the parameters fit leaves, even
    // when it throws.
    const auto refresh = [model] {
      if (model->pred)
        model->pred.emplace(tmlp::loaded_model{model->net, model->metadata}, "<model>");
    };
    tmlp::fit_result r;
    try {
      r = t.fit(model->net, tmlp::matrix_view(x, rows, cols), tmlp::matrix_view(y, rows, y_cols));
    } catch (...) {
      refresh();
      throw;
    }
    refresh();
    tmlp::capi::fill_report(r, r.epochs.empty() ? 0 : r.epochs.back().epoch, report);
  });
}

}  // extern "C"
