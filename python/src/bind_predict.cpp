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

}  // namespace

void bind_predict(py::module_& m) {
  py::class_<predictor>(m, "Predictor", R"(A trained model with its preprocessing.

    p = tmlp.Predictor.load("churn.tmlp")        # or tmlp.Predictor(model) after fitting
    proba = p.probabilities(tmlp.read_csv("new.csv", categorical=p.categorical_columns))
)")
      .def(py::init([](const model_holder& h) {
             return predictor(loaded_model{h.model, h.metadata}, "<model>");
           }),
           py::arg("model"))
      .def_static("load", &predictor::load, py::arg("path"))
      .def_property_readonly("model",
                             [](const predictor& p) {
                               return model_holder{p.model(), p.metadata()};
                             })
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
          "The target column as the model sees it: class index, or standardized value");
}

}  // namespace tmlp::python
