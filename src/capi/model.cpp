// tmlp/tmlp.h: models (create, load, save, predict) and the tables they predict from.
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "capi/capi.hpp"
#include "tmlp/ensemble.hpp"
#include "tmlp/error.hpp"
#include "tmlp/io.hpp"

using tmlp::capi::bad_argument;
using tmlp::capi::guarded;
using tmlp::capi::require;

namespace tmlp::capi {
namespace {

// rows * cols, or bad_argument if it overflows.
std::size_t product(std::size_t rows, std::size_t cols, const char* function) {
  if (cols != 0 && rows > SIZE_MAX / cols)
    throw bad_argument(fmt::format("{}: {} rows x {} columns overflow", function, rows, cols));
  return rows * cols;
}

void require_room(std::size_t needed, std::size_t out_size, const char* function) {
  if (out_size < needed)
    throw bad_argument(fmt::format("{}: out_size {} is too small: {} values are needed", function,
                                   out_size, needed));
}

const predictor& predictor_of(const tmlp_model& m, const char* function) {
  if (!m.pred)
    throw error(errc::invalid_argument,
                fmt::format("{}: the model has no preprocessing (it was not trained on a table)",
                            function));
  return *m.pred;
}

}  // namespace

std::unique_ptr<tmlp_model> make_model(model m, std::string metadata, const std::string& source) {
  return make_model(loaded_model{std::move(m), std::move(metadata), {}}, source);
}

std::unique_ptr<tmlp_model> make_model(loaded_model l, const std::string& source) {
  auto h = std::make_unique<tmlp_model>(
      tmlp_model{std::move(l.model), std::move(l.metadata), {}, std::move(l.more_members)});
  const nlohmann::json meta = nlohmann::json::parse(h->metadata, nullptr, false);
  if (meta.is_object() && meta.contains("preprocessing")) h->pred.emplace(file_of(*h), source);
  return h;
}

loaded_model file_of(const tmlp_model& h) {
  return loaded_model{h.net, h.metadata, h.more_members};
}

std::unique_ptr<tmlp_dataset> open_dataset(const std::string& path, const csv_options& csv) {
  return std::make_unique<tmlp_dataset>(open_data(path, csv));
}

}  // namespace tmlp::capi

extern "C" {

tmlp_status tmlp_model_create(const char* spec_json, tmlp_model** out) {
  return guarded([&] {
    require(out, "tmlp_model_create", "out");
    *out = nullptr;
    require(spec_json, "tmlp_model_create", "spec_json");
    tmlp::model m = tmlp::model::create(tmlp::spec_from_json(spec_json));
    *out = tmlp::capi::make_model(std::move(m), "", "<spec>").release();
  });
}

tmlp_status tmlp_model_load(const char* path, tmlp_model** out) {
  return guarded([&] {
    require(out, "tmlp_model_load", "out");
    *out = nullptr;
    require(path, "tmlp_model_load", "path");
    tmlp::loaded_model l = tmlp::load_model(path);
    *out = tmlp::capi::make_model(std::move(l), path).release();
  });
}

tmlp_status tmlp_model_save(const tmlp_model* model, const char* path) {
  return guarded([&] {
    require(model, "tmlp_model_save", "model");
    require(path, "tmlp_model_save", "path");
    tmlp::save_model(tmlp::capi::file_of(*model), path);
  });
}

void tmlp_model_free(tmlp_model* model) { delete model; }

size_t tmlp_model_n_inputs(const tmlp_model* model) {
  return model == nullptr ? 0 : model->net.n_inputs();
}

size_t tmlp_model_n_outputs(const tmlp_model* model) {
  return model == nullptr ? 0 : model->net.n_outputs();
}

tmlp_status tmlp_model_predict(const tmlp_model* model, const float* x, size_t rows, size_t cols,
                               float* out, size_t out_size) {
  return guarded([&] {
    const char* f = "tmlp_model_predict";
    require(model, f, "model");
    require(x, f, "x");
    require(out, f, "out");
    tmlp::capi::product(rows, cols, f);
    const std::size_t k = model->net.n_outputs();
    tmlp::capi::require_room(tmlp::capi::product(rows, k, f), out_size, f);
    std::vector<const tmlp::model*> all{&model->net};
    for (const tmlp::model& m : model->more_members) all.push_back(&m);
    tmlp::predict_mean(all, tmlp::matrix_view(x, rows, cols), tmlp::matrix_span(out, rows, k));
  });
}

tmlp_status tmlp_model_n_predictions(const tmlp_model* model, size_t* out) {
  return guarded([&] {
    require(model, "tmlp_model_n_predictions", "model");
    require(out, "tmlp_model_n_predictions", "out");
    const tmlp::predictor& p = tmlp::capi::predictor_of(*model, "tmlp_model_n_predictions");
    *out = p.prep().task() == tmlp::task_kind::regression ? 1 : p.prep().n_classes();
  });
}

tmlp_status tmlp_model_class_label(const tmlp_model* model, size_t i, const char** out) {
  return guarded([&] {
    const char* f = "tmlp_model_class_label";
    require(model, f, "model");
    require(out, f, "out");
    const auto& labels = tmlp::capi::predictor_of(*model, f).prep().class_labels();
    if (i >= labels.size())
      throw tmlp::error(tmlp::errc::invalid_argument,
                        fmt::format("{}: class {} is not in 0..k-1, k = {}{}", f, i, labels.size(),
                                    labels.empty() ? " (a regression)" : ""));
    *out = labels[i].c_str();
  });
}

tmlp_status tmlp_model_predict_dataset(const tmlp_model* model, const tmlp_dataset* data,
                                       float* out, size_t out_size) {
  return guarded([&] {
    const char* f = "tmlp_model_predict_dataset";
    require(model, f, "model");
    require(data, f, "data");
    require(out, f, "out");
    const tmlp::predictor& p = tmlp::capi::predictor_of(*model, f);
    if (p.prep().task() == tmlp::task_kind::regression) {
      tmlp::capi::require_room(data->view.n_rows, out_size, f);
      const std::vector<double> v = p.values(data->view);
      for (std::size_t r = 0; r < v.size(); ++r) out[r] = static_cast<float>(v[r]);
      return;
    }
    const std::size_t k = p.prep().n_classes();
    tmlp::capi::require_room(tmlp::capi::product(data->view.n_rows, k, f), out_size, f);
    const tmlp::matrix probabilities = p.probabilities(data->view);
    std::memcpy(out, probabilities.data(), probabilities.size() * sizeof(float));
  });
}

tmlp_status tmlp_dataset_open(const char* path, const tmlp_model* model, tmlp_dataset** out) {
  return guarded([&] {
    require(out, "tmlp_dataset_open", "out");
    *out = nullptr;
    require(path, "tmlp_dataset_open", "path");
    *out = model != nullptr && model->pred
               ? std::make_unique<tmlp_dataset>(model->pred->open(path)).release()
               : tmlp::capi::open_dataset(path, tmlp::csv_options{}).release();
  });
}

void tmlp_dataset_free(tmlp_dataset* data) { delete data; }

size_t tmlp_dataset_n_rows(const tmlp_dataset* data) {
  return data == nullptr ? 0 : data->view.n_rows;
}

size_t tmlp_dataset_n_cols(const tmlp_dataset* data) {
  return data == nullptr ? 0 : data->view.columns.size();
}

}  // extern "C"
