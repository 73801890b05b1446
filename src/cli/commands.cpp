// tmlp train / predict / evaluate / info: a CSV in, a model file out, and back.
#include "cli/commands.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/metrics.hpp"
#include "tmlp/error.hpp"
#include "tmlp/io.hpp"
#include "tmlp/preprocess.hpp"
#include "tmlp/trainer.hpp"
#include "train/split.hpp"

namespace tmlp::cli {
namespace {

[[noreturn]] void bad_flag(const std::string& what) { throw error(errc::invalid_argument, what); }

std::vector<std::size_t> parse_layers(const std::string& text) {
  std::vector<std::size_t> out;
  std::size_t pos = 0;
  while (pos <= text.size() && !text.empty()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    const std::string part = text.substr(pos, comma - pos);
    char* end = nullptr;
    const unsigned long v = std::strtoul(part.c_str(), &end, 10);
    if (part.empty() || *end != '\0' || v == 0 || v > (1ul << 24))
      bad_flag(
          fmt::format("--layers: '{}' is not a list of positive layer widths like 256,128", text));
    out.push_back(v);
    pos = comma + 1;
  }
  return out;
}

activation parse_activation(const std::string& name) {
  if (const auto a = activation_from_string(name)) return *a;
  bad_flag(fmt::format(
      "--activation: unknown '{}'; expected relu, leaky_relu, prelu, elu, selu, sigmoid, tanh, "
      "gelu, gelu_tanh, softplus or identity",
      name));
}

optimizer parse_optimizer(const std::string& name, float lr) {
  const auto with_lr = [&](auto o) -> optimizer {
    if (lr > 0.0f) o.lr = lr;
    return o;
  };
  if (name == "sgd") return with_lr(sgd{});
  if (name == "momentum") return with_lr(momentum{});
  if (name == "nesterov") return with_lr(nesterov{});
  if (name == "adam") return with_lr(adam{});
  if (name == "adamw") return with_lr(adamw{});
  if (name == "rmsprop") return with_lr(rmsprop{});
  if (name == "adagrad") return with_lr(adagrad{});
  bad_flag(
      fmt::format("--optimizer: unknown '{}'; expected sgd, momentum, nesterov, adam, adamw, "
                  "rmsprop or adagrad",
                  name));
}

// Rows `rows` of m, gathered into a new matrix.
matrix gather(const matrix& m, const std::vector<std::uint32_t>& rows) {
  matrix out(rows.size(), m.cols());
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::copy(m.row(rows[i]), m.row(rows[i]) + m.cols(), out.row(i));
  return out;
}

struct loaded {
  loaded_model lm;
  preprocessor prep;
};

loaded load(const std::string& path) {
  loaded_model lm = load_model(path);
  const nlohmann::json meta = nlohmann::json::parse(lm.metadata);
  if (!meta.is_object() || !meta.contains("preprocessing"))
    throw error(errc::corrupt_model,
                path + ": the model file has no preprocessing (not written by tmlp train)");
  preprocessor p = preprocessor::from_json(meta["preprocessing"].dump());
  return {std::move(lm), std::move(p)};
}

// Class probabilities (rows x k, k >= 2) from model outputs.
std::vector<float> class_probabilities(const matrix& out, task_kind task) {
  std::vector<float> p;
  if (task == task_kind::binary) {
    for (std::size_t r = 0; r < out.rows(); ++r) {
      p.push_back(1.0f - out(r, 0));
      p.push_back(out(r, 0));
    }
  } else {
    p.assign(out.data(), out.data() + out.size());
  }
  return p;
}

}  // namespace

int train(const train_options& o) {
  const table t = read_csv(o.data);
  if (!(o.valid_fraction > 0.0f && o.valid_fraction < 1.0f))
    bad_flag(fmt::format("--valid-fraction: {} is outside (0, 1)", o.valid_fraction));
  // Split first, so preprocessing is fitted on the training rows only.
  const preprocessor probe = preprocessor::fit(t, {.target = o.target});
  matrix y_all = probe.targets(t);
  std::vector<std::uint32_t> train_rows, valid_rows;
  const loss_kind split_loss = probe.task() == task_kind::regression ? loss_kind::mse
                               : probe.task() == task_kind::binary   ? loss_kind::bce
                                                                     : loss_kind::ce;
  train::split_rows(t.n_rows, o.valid_fraction, o.seed, split_loss, 1, y_all.data(), train_rows,
                    valid_rows);
  const preprocessor prep = preprocessor::fit(t, {.target = o.target}, train_rows);
  const matrix x_all = prep.features(t);
  y_all = prep.targets(t);

  model_spec spec{.n_inputs = prep.n_features(), .seed = o.seed};
  for (std::size_t w : parse_layers(o.layers))
    spec.layers.push_back({.units = w, .act = parse_activation(o.activation)});
  const std::size_t k = prep.task() == task_kind::multiclass ? prep.n_classes() : 1;
  spec.layers.push_back({.units = k, .act = activation::identity});
  spec.loss = prep.task() == task_kind::regression ? loss_kind::mse
              : prep.task() == task_kind::binary   ? loss_kind::bce
                                                   : loss_kind::ce;
  model m = model::create(spec);

  const matrix xt = gather(x_all, train_rows), yt = gather(y_all, train_rows);
  const matrix xv = gather(x_all, valid_rows), yv = gather(y_all, valid_rows);
  train_config cfg{.opt = parse_optimizer(o.optimizer, o.lr),
                   .batch_size = o.batch_size,
                   .epochs = o.epochs,
                   .n_threads = o.threads,
                   .seed = o.seed,
                   .early_stop = {.patience = o.early_stop}};
  if (!o.quiet) {
    fmt::print("{}: {} rows ({} train, {} validation), {} features, task {}\n", o.data, t.n_rows,
               train_rows.size(), valid_rows.size(), prep.n_features(), to_string(prep.task()));
    cfg.on_epoch = [](const epoch_report& e) {
      fmt::print(
          "epoch {:3}  train loss {:.5f}  valid loss {:.5f}  valid {} {:.4f}  lr {:.3g}  {:.0f} "
          "samples/s{}\n",
          e.epoch, e.train_loss, e.valid_loss.value_or(NAN), e.metric_name,
          e.valid_metric.value_or(NAN), e.lr, e.samples_per_second,
          e.vanishing ? "  [vanishing gradients]" : (e.exploding ? "  [exploding gradients]" : ""));
      std::fflush(stdout);
      return true;
    };
  }
  trainer tr(cfg);
  const fit_result r = tr.fit(m, xt, yt, xv, yv);
  if (r.status == fit_status::diverged)
    throw error(errc::invalid_data,
                "training diverged (loss or gradient not finite); try a lower --lr");

  nlohmann::json meta;
  meta["preprocessing"] = nlohmann::json::parse(prep.to_json());
  meta["training"] = {{"data", std::filesystem::path(o.data).filename().string()},
                      {"optimizer", o.optimizer},
                      {"batch_size", o.batch_size},
                      {"epochs_run", r.epochs.size()},
                      {"best_epoch", r.best_epoch},
                      {"seed", o.seed},
                      {"status", std::string(to_string(r.status))}};
  const std::string out =
      o.out.empty() ? std::filesystem::path(o.data).replace_extension(".tmlp").string() : o.out;
  save_model(m, out, meta.dump());
  if (!o.quiet)
    fmt::print("{} after {} epochs (best {}); model written to {}\n", to_string(r.status),
               r.epochs.size(), r.best_epoch, out);
  return 0;
}

int predict(const predict_cli_options& o) {
  const loaded l = load(o.model);
  const table t = read_csv(o.data);
  const matrix out = l.lm.model.predict(l.prep.features(t));
  std::FILE* f = o.out.empty() ? stdout : std::fopen((o.out + ".tmp").c_str(), "w");
  if (f == nullptr) throw error(errc::io, fmt::format("{}: cannot write", o.out));
  const task_kind task = l.prep.task();
  if (task == task_kind::regression) {
    std::fprintf(f, "prediction\n");
    for (std::size_t r = 0; r < out.rows(); ++r)
      std::fprintf(f, "%.9g\n", l.prep.unscale_target(out(r, 0)));
  } else {
    const auto& labels = l.prep.class_labels();
    const std::vector<float> p = class_probabilities(out, task);
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
  const loaded l = load(o.model);
  const table t = read_csv(o.data);
  const matrix out = l.lm.model.predict(l.prep.features(t));
  const matrix y = l.prep.targets(t);
  nlohmann::ordered_json j;
  if (l.prep.task() == task_kind::regression) {
    std::vector<double> pred, truth;
    for (std::size_t r = 0; r < out.rows(); ++r) {
      pred.push_back(l.prep.unscale_target(out(r, 0)));
      truth.push_back(l.prep.unscale_target(y(r, 0)));
    }
    const regression_metrics m = regression(pred, truth);
    j = {{"rows", t.n_rows}, {"rmse", m.rmse}, {"mae", m.mae}, {"r2", m.r2}};
  } else {
    std::vector<int> truth;
    for (std::size_t r = 0; r < y.rows(); ++r) truth.push_back(static_cast<int>(y(r, 0)));
    const classification_metrics m =
        classification(class_probabilities(out, l.prep.task()), l.prep.n_classes(), truth);
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
  const loaded l = load(path);
  const model_spec& s = l.lm.model.spec();
  fmt::print("model      {}\n", path);
  fmt::print("task       {} (loss {})\n", to_string(l.prep.task()), to_string(s.loss));
  std::string arch = std::to_string(s.n_inputs);
  for (const auto& layer : s.layers)
    arch += fmt::format(" -> {} {}", layer.units, to_string(layer.act));
  fmt::print("layers     {}\n", arch);
  fmt::print("parameters {}\n", l.lm.model.n_params());
  fmt::print("features   {} (after preprocessing)\n", l.prep.n_features());
  if (!l.prep.class_labels().empty()) {
    std::string labels;
    for (const auto& c : l.prep.class_labels()) labels += (labels.empty() ? "" : ", ") + c;
    fmt::print("classes    {}\n", labels);
  }
  const nlohmann::json meta = nlohmann::json::parse(l.lm.metadata);
  if (meta.contains("training")) fmt::print("training   {}\n", meta["training"].dump());
  return 0;
}

}  // namespace tmlp::cli
