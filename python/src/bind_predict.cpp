// tmlp.Predictor: a model file's model with its preprocessing, predicting from tmlp.Table (the
// estimators' predict; `tmlp predict` as a call). Every prediction runs without the GIL.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <pybind11/stl.h>

#include "bindings.hpp"
#include "model_holder.hpp"
#include "table_holder.hpp"
#include "tmlp/error.hpp"
#include "tmlp/onnx.hpp"
#include "tmlp/predictor.hpp"

namespace tmlp::python {
namespace {

py::array_t<float> to_array(const matrix& m) {
  py::array_t<float> out({m.rows(), m.cols()});
  std::copy(m.data(), m.data() + m.size(), out.mutable_data());
  return out;
}

template <class F>
auto without_gil(F&& f) {
  const py::gil_scoped_release unlocked;
  return f();
}

// The export's options; levels_from: None, a tmlp.Table or a path (read as open() reads it).
onnx_options export_options(const predictor& p, int opset, const std::string& batch,
                            py::handle levels_from) {
  onnx_options o{.opset = opset, .batch = batch};
  if (levels_from.is_none()) return o;
  if (py::isinstance<table_holder>(levels_from)) {
    add_hashed_levels(o, p, levels_from.cast<const table_holder&>().view());
  } else if (py::isinstance<py::str>(levels_from)) {
    add_hashed_levels(o, p, p.open(levels_from.cast<std::string>()).view());
  } else {
    throw error(errc::invalid_argument, "levels_from: expected None, a tmlp.Table or a path, got " +
                                            py::str(py::type::of(levels_from)).cast<std::string>());
  }
  return o;
}

}  // namespace

void bind_predict(py::module_& m) {
  py::class_<predictor>(m, "Predictor", R"(A trained model with its preprocessing.

    p = tmlp.Predictor.load("churn.tmlp")        # or tmlp.Predictor(model) after fitting
    proba = p.probabilities(tmlp.read_csv("new.csv", categorical=p.categorical_columns))
)")
      .def(py::init([](const model_holder& h) { return predictor(h.file(), "<model>"); }),
           py::arg("model"))
      .def_static("load", &predictor::load, py::arg("path"))
      .def_property_readonly("model", [](const predictor& p) { return model_holder::of(p.file()); })
      .def_property_readonly(
          "task", [](const predictor& p) { return std::string(to_string(p.prep().task())); })
      .def_property_readonly("class_labels",
                             [](const predictor& p) { return p.prep().class_labels(); })
      .def_property_readonly("feature_names",
                             [](const predictor& p) { return p.prep().feature_names(); })
      .def_property_readonly("input_columns",
                             [](const predictor& p) {
                               std::vector<std::pair<std::string, std::string>> cols;
                               for (const auto& c : p.prep().input_columns())
                                 cols.emplace_back(c.name, std::string(to_string(c.kind)));
                               return cols;
                             })
      .def_property_readonly("categorical_columns",
                             [](const predictor& p) { return p.csv_kinds().categorical; })
      .def(
          "open",
          [](const predictor& p, const std::string& path, int threads) {
            return std::make_shared<table_holder>(p.open(path, threads));
          },
          py::arg("path"), py::arg("threads") = 0,
          "A CSV file read with the training run's categorical columns, or a .tmlpd file mapped")
      .def(
          "outputs",
          [](const predictor& p, const table_holder& t, int threads) {
            return to_array(without_gil([&] { return p.outputs(t.view(), threads); }));
          },
          py::arg("table"), py::arg("threads") = 0)
      .def(
          "probabilities",
          [](const predictor& p, const table_holder& t, int threads) {
            return to_array(without_gil([&] { return p.probabilities(t.view(), threads); }));
          },
          py::arg("table"), py::arg("threads") = 0,
          "Classification: rows x classes, columns in the order of class_labels")
      .def(
          "values",
          [](const predictor& p, const table_holder& t, int threads) {
            const std::vector<double> v = without_gil([&] { return p.values(t.view(), threads); });
            py::array_t<double> out(v.size());
            std::copy(v.begin(), v.end(), out.mutable_data());
            return out;
          },
          py::arg("table"), py::arg("threads") = 0, "Regression: values in the target's units")
      .def(
          "targets",
          [](const predictor& p, const table_holder& t) {
            const matrix y = p.prep().targets(t.view());
            py::array_t<float> out(y.rows());
            std::copy(y.data(), y.data() + y.rows(), out.mutable_data());
            return out;
          },
          py::arg("table"),
          "The target column as the model sees it: class index, or standardized value")
      .def(
          "to_onnx",
          [](const predictor& p, int opset, const std::string& batch, py::handle levels_from) {
            return py::bytes(onnx_bytes(p, export_options(p, opset, batch, levels_from)));
          },
          py::arg("opset") = 17, py::arg("batch") = "N", py::arg("levels_from") = py::none(),
          R"(The whole model as ONNX bytes: one input per training column ([batch, 1]; float32
for numeric and boolean columns, NaN for missing; string for categorical ones), the preprocessing
inside, and `tmlp predict`'s outputs: "label" and "probabilities", or "prediction".
levels_from (a tmlp.Table or a path, typically the training data): the texts of hashed
categorical columns, which a model file does not keep; onnx_notice says what the file cannot
express.)")
      .def(
          "export_onnx",
          [](const predictor& p, const std::string& path, int opset, const std::string& batch,
             py::handle levels_from) {
            const onnx_options o = export_options(p, opset, batch, levels_from);
            export_onnx(p, path, o);
            return onnx_notice(p, o);
          },
          py::arg("path"), py::arg("opset") = 17, py::arg("batch") = "N",
          py::arg("levels_from") = py::none(),
          "to_onnx's bytes written to path atomically (a failed export leaves no file); returns "
          "onnx_notice's line ('' when the file predicts what tmlp predicts for every input)")
      .def(
          "onnx_notice",
          [](const predictor& p, py::handle levels_from) {
            return onnx_notice(p, export_options(p, 17, "N", levels_from));
          },
          py::arg("levels_from") = py::none(),
          "One line saying what an ONNX export cannot express exactly, and what the file does "
          "instead; '' if nothing");
}

}  // namespace tmlp::python
