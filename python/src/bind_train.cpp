// Training from Python: tmlp.Trainer (tmlp::trainer on arrays, configured by train flags) and
// _fit_table (what `tmlp train` does, on a tmlp.Table: the estimators' fit), both without the
// GIL, stopping at the next batch on Ctrl-C, with a per-epoch callback.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "interrupt.hpp"
#include "model_holder.hpp"
#include "options.hpp"
#include "table_holder.hpp"
#include "tmlp/distributed.hpp"
#include "tmlp/ensemble.hpp"
#include "tmlp/error.hpp"
#include "tmlp/io.hpp"
#include "tmlp/trainer.hpp"
#include "tmlp/training_data.hpp"

namespace tmlp::python {
namespace {

py::dict epoch_dict(const epoch_report& e) {
  py::dict d;
  d["epoch"] = e.epoch;
  d["train_loss"] = e.train_loss;
  d["valid_loss"] = e.valid_loss ? py::object(py::float_(*e.valid_loss)) : py::none();
  d["valid_metric"] = e.valid_metric ? py::object(py::float_(*e.valid_metric)) : py::none();
  d["metric_name"] = e.metric_name;
  d["lr"] = e.lr;
  d["seconds"] = e.seconds;
  d["samples_per_second"] = e.samples_per_second;
  d["vanishing"] = e.vanishing;
  d["exploding"] = e.exploding;
  d["member"] = e.member;
  py::list layers;
  for (const layer_health& l : e.layers) {
    py::dict h;
    h["grad_norm"] = l.grad_norm;
    h["weight_norm"] = l.weight_norm;
    h["dead_fraction"] = l.dead_fraction;
    h["vanishing"] = l.vanishing;
    h["exploding"] = l.exploding;
    layers.append(h);
  }
  d["layers"] = layers;
  return d;
}

py::dict result_dict(const fit_result& r, const std::vector<epoch_report>& history,
                     bool interrupted) {
  py::dict d;
  d["status"] = std::string(to_string(r.status));
  py::list epochs;
  for (const epoch_report& e : history) epochs.append(epoch_dict(e));
  d["epochs"] = epochs;
  d["best_epoch"] = r.best_epoch;
  d["best_loss"] = r.best_loss;
  d["n_steps"] = r.n_steps;
  d["n_shards"] = r.n_shards;
  d["n_workers"] = r.n_workers;
  d["notes"] = r.notes;
  d["interrupted"] = interrupted;
  return d;
}

// The callbacks every fit from Python gets: each epoch is recorded and handed to on_epoch
// (with the GIL; a false return value stops training), and each batch checks for Ctrl-C.
void add_callbacks(train_config& cfg, std::vector<epoch_report>& history, py::object on_epoch) {
  cfg.on_epoch = [&history, on_epoch](const epoch_report& e) {
    history.push_back(e);
    if (on_epoch.is_none()) return true;
    const py::gil_scoped_acquire locked;
    const py::object go = on_epoch(epoch_dict(e));
    return go.is_none() || go.cast<bool>();
  };
  cfg.on_batch = [](const batch_report&) { return !interrupt_guard::interrupted(); };
}

[[noreturn]] void raise_interrupt() {
  PyErr_SetNone(PyExc_KeyboardInterrupt);
  throw py::error_already_set();
}

// tmlp.Trainer: the training flags (optimizer, lr, epochs, ...) of `tmlp train` applied to a
// model on float arrays.
// tmlp.Communicator: the processes a fit is spread over (tmlp/distributed.hpp).
struct py_communicator {
  std::unique_ptr<communicator> comm;
};

class py_trainer {
 public:
  // config: a dict of the same keywords (or None); keywords given directly win.
  py_trainer(const py::object& config, const py::kwargs& keywords) {
    py::dict kw;
    if (!config.is_none()) {
      if (!py::isinstance<py::dict>(config))
        bad_input("Trainer: config must be a dict of training options (or keywords)");
      for (const auto& [k, v] : config.cast<py::dict>()) kw[k] = v;
    }
    for (const auto& [k, v] : keywords) kw[k] = v;
    train_options o;
    std::vector<std::string> given;
    for (const auto& [k, v] : kw) {
      given.push_back(k.cast<std::string>());
      set_option(o, given.back(), v);
    }
    try {
      cfg_ = trainer_config(o, given);
    } catch (const error& e) {
      throw error(e.code(), fmt::format("Trainer: {}", e.what()));
    }
  }

  py::dict fit(model_holder& m, py::handle x, py::handle y, py::handle sample_weight,
               py::handle x_valid, py::handle y_valid, py::object on_epoch,
               py::handle communicator) {
    if (m.n_members() > 1)
      bad_input(fmt::format("fit: the model is an ensemble of {} members; a Trainer fits one model",
                            m.n_members()));
    const float_matrix xs = as_float_matrix(x, "X", false, m.model.n_inputs());
    const float_matrix ys = as_float_matrix(y, "y", true);
    std::optional<float_matrix> ws, xv, yv;
    if (!sample_weight.is_none()) ws = as_float_matrix(sample_weight, "sample_weight", true);
    if (x_valid.is_none() != y_valid.is_none())
      bad_input("fit: give both X_valid and y_valid, or neither");
    if (!x_valid.is_none()) {
      xv = as_float_matrix(x_valid, "X_valid", false, m.model.n_inputs());
      yv = as_float_matrix(y_valid, "y_valid", true, ys.view.cols);
    }
    train_config cfg = cfg_;
    std::vector<epoch_report> history;
    add_callbacks(cfg, history, on_epoch);
    trainer t(cfg);
    if (!communicator.is_none()) t.distribute(communicator.cast<py_communicator&>().comm.get());
    const std::span<const float> w =
        ws ? std::span<const float>(ws->view.data, ws->view.size()) : std::span<const float>();
    fit_result r;
    bool interrupted = false;
    {
      const interrupt_guard guard;
      const py::gil_scoped_release unlocked;
      r = xv ? t.fit(m.model, xs.view, ys.view, xv->view, yv->view, w)
             : t.fit(m.model, xs.view, ys.view, w);
      interrupted = interrupt_guard::interrupted();
    }
    if (interrupted) raise_interrupt();
    py::dict out = result_dict(r, history, false);
    py::list notes = out["notes"];
    const float_matrix* const inputs[] = {&xs, &ys, ws ? &*ws : nullptr, xv ? &*xv : nullptr,
                                          yv ? &*yv : nullptr};
    for (const float_matrix* in : inputs)
      if (in != nullptr && in->copied) notes.append(in->note);
    return out;
  }

 private:
  train_config cfg_;
};

// What `tmlp train` does, on tables: returns {"model": tmlp.Model with the metadata tmlp train
// writes, "result": the fit's dict, "summary": the data line, "y_codes": the training table's
// targets as the model sees them (class index or standardized value), "interrupted"}.
py::dict fit_table(const py::dict& kwargs, const table_holder& train, const table_holder* valid,
                   py::handle sample_weight, py::object on_epoch) {
  train_options o = options_from(kwargs);
  if (o.data.empty()) o.data = std::string(train.view().source);
  if (!valid) o.valid.clear();
  // Every option is checked before the data is touched, as the program does.
  hidden_layers(o);
  parse_loss(o.loss);
  train_config cfg = make_train_config(o);
  std::optional<float_matrix> ws;
  if (!sample_weight.is_none()) ws = as_float_matrix(sample_weight, "sample_weight", true);
  const std::span<const float> w =
      ws ? std::span<const float>(ws->view.data, ws->view.size()) : std::span<const float>();

  std::vector<epoch_report> history;
  add_callbacks(cfg, history, on_epoch);
  std::unique_ptr<training_data> d;
  std::optional<ensemble_fit> f;
  fit_result r;
  bool interrupted = false;
  matrix y_codes;
  {
    const interrupt_guard guard;
    const py::gil_scoped_release unlocked;
    d = prepare_training(o, train.view(), valid ? &valid->view() : nullptr, w);
    y_codes = d->prep.targets(train.view());
    f.emplace(fit_ensemble(o, *d, cfg));  // one model unless ensemble > 1
    r = f->results[0];
    interrupted = interrupt_guard::interrupted();
  }
  for (const fit_result& member : f->results)
    if (member.status == fit_status::diverged)
      throw error(errc::invalid_data,
                  "training diverged (loss or gradient not finite); try a lower lr or clip_norm");
  py::dict out;
  out["model"] = model_holder::of(f->file(o, *d));
  out["result"] = result_dict(r, history, interrupted);
  out["summary"] = d->summary;
  py::array_t<float> codes(y_codes.rows());
  std::copy(y_codes.data(), y_codes.data() + y_codes.rows(), codes.mutable_data());
  out["y_codes"] = codes;
  out["interrupted"] = interrupted;
  return out;
}

}  // namespace

void bind_train(py::module_& m) {
  py::class_<py_trainer>(m, "Trainer", R"(Trains a tmlp.Model on float arrays.

    t = tmlp.Trainer(optimizer="adamw", lr=1e-3, batch_size=256, epochs=20, valid_fraction=0.1,
                     early_stop=3, threads=4, seed=0)
    report = t.fit(model, X, y)      # y: class indices for ce, 0/1 for bce, values otherwise

The keywords are the training flags of `tmlp train` (tmlp.flags() lists them) with the
library's defaults: 10 epochs, no validation, no early stopping.)")
      .def(py::init<const py::object&, const py::kwargs&>(), py::arg("config") = py::none())
      .def("fit", &py_trainer::fit, py::arg("model"), py::arg("X"), py::arg("y"),
           py::arg("sample_weight") = py::none(), py::arg("X_valid") = py::none(),
           py::arg("y_valid") = py::none(), py::arg("on_epoch") = py::none(),
           py::arg("communicator") = py::none(),
           "Trains model in place (without the GIL) and returns the report as a dict. "
           "on_epoch(report) is called after each epoch; returning False stops training. "
           "Ctrl-C stops at the next batch and raises KeyboardInterrupt, the model keeping its "
           "last step. communicator (tmlp.mpi_world()): every rank calls fit with the same "
           "model, data and keywords, and ends with the parameters one process would have.");
  py::class_<py_communicator>(m, "Communicator",
                              "The MPI processes a fit is spread over (tmlp.mpi_world()).")
      .def_property_readonly("rank", [](const py_communicator& c) { return c.comm->rank(); })
      .def_property_readonly("size", [](const py_communicator& c) { return c.comm->size(); })
      .def("__repr__", [](const py_communicator& c) {
        return fmt::format("<tmlp.Communicator rank {} of {}>", c.comm->rank(), c.comm->size());
      });
  m.def(
      "mpi_world",
      [](double timeout) {
        if (!(timeout >= 1.0)) bad_input(fmt::format("mpi_world: timeout {} is not >= 1", timeout));
        return py_communicator{mpi_world(std::chrono::seconds(static_cast<long>(timeout)))};
      },
      py::arg("timeout") = 300.0,
      "The processes mpirun started (initializes MPI): pass it to Trainer.fit(communicator=...). "
      "A rank that waits more than timeout seconds for another raises tmlp.Error. Raises "
      "tmlp.Error if this build has no MPI.");
  m.def("launched_by_mpi", &launched_by_mpi,
        "Whether this process was started by an MPI launcher (mpirun, srun)");
  m.def("_fit_table", &fit_table, py::arg("options"), py::arg("train"), py::arg("valid"),
        py::arg("sample_weight"), py::arg("on_epoch"));
  m.def("flags", &flag_table,
        "The flags of `tmlp train` that keyword arguments set: name, flag, help, default");
}

}  // namespace tmlp::python
