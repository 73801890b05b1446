// tmlp.Model (tmlp::model with the metadata of its file), tmlp.load and tmlp.save.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "model_holder.hpp"
#include "tmlp/ensemble.hpp"
#include "tmlp/io.hpp"
#include "tmlp/model.hpp"
#include "tmlp/onnx.hpp"

namespace tmlp::python {
namespace {

// A spec given as a dict (or anything json.dumps takes) or as JSON text.
std::string spec_text(py::handle spec) {
  if (py::isinstance<py::str>(spec)) return spec.cast<std::string>();
  return py::module_::import("json").attr("dumps")(spec).cast<std::string>();
}

py::object json_value(const std::string& text) {
  return py::module_::import("json").attr("loads")(text);
}

py::array_t<float> predict(const model_holder& h, py::handle x, bool raw, int threads,
                           std::size_t chunk_rows) {
  const float_matrix in = as_float_matrix(x, "X", false, h.model.n_inputs());
  py::array_t<float> out({in.view.rows, h.model.n_outputs()});
  const matrix_span span(out.mutable_data(), in.view.rows, h.model.n_outputs());
  const predict_options options{.n_threads = threads, .raw = raw, .chunk_rows = chunk_rows};
  std::vector<const tmlp::model*> members{&h.model};
  for (const tmlp::model& m : h.more_members) members.push_back(&m);
  {
    py::gil_scoped_release unlocked;
    predict_mean(members, in.view, span, options);
  }
  return out;
}

py::bytes to_bytes(const model_holder& h) {
  const std::vector<unsigned char> b = model_to_bytes(h.file());
  return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
}

model_holder from_bytes(const py::bytes& b, const std::string& source) {
  const std::string_view s = b;
  loaded_model l = model_from_bytes(
      std::span(reinterpret_cast<const unsigned char*>(s.data()), s.size()), source);
  return model_holder::of(std::move(l));
}

}  // namespace

void bind_model(py::module_& m) {
  py::class_<model_holder>(m, "Model", R"(A multilayer perceptron: its spec and float32 parameters.

    m = tmlp.Model.create({"n_inputs": 4, "layers": [{"units": 16, "activation": "relu"},
                           {"units": 3, "activation": "identity"}], "loss": "ce"})
    p = m.predict(X)          # X: rows x n_inputs; class probabilities for ce
)")
      .def_static(
          "create",
          [](py::handle spec) {
            return model_holder{model::create(spec_from_json(spec_text(spec))), "null"};
          },
          py::arg("spec"),
          "A new model from a spec (dict or JSON text, the model file's format), initialized "
          "from spec['seed']")
      .def_property_readonly(
          "spec", [](const model_holder& h) { return json_value(spec_to_json(h.model.spec())); })
      .def_property_readonly("n_inputs", [](const model_holder& h) { return h.model.n_inputs(); })
      .def_property_readonly("n_outputs", [](const model_holder& h) { return h.model.n_outputs(); })
      .def_property_readonly(
          "n_params", [](const model_holder& h) { return h.model.n_params(); },
          "Parameters of one member (an ensemble holds n_members times as many)")
      .def_property_readonly(
          "n_members", [](const model_holder& h) { return h.n_members(); },
          "Members of the ensemble (1: one model); predict averages theirs")
      .def_property_readonly(
          "parameters",
          [](py::object self) {
            auto& h = self.cast<model_holder&>();
            const std::span<float> p = h.model.parameters();
            return py::array_t<float>({p.size()}, {sizeof(float)}, p.data(), self);
          },
          "Every parameter (of member 0 in an ensemble) as one float32 array that shares the "
          "model's memory (writable)")
      .def_property_readonly(
          "metadata", [](const model_holder& h) { return json_value(h.metadata); },
          "The JSON metadata of the model file (None if none)")
      .def("predict", &predict, py::arg("X"), py::arg("raw") = false, py::arg("threads") = 0,
           py::arg("chunk_rows") = 256,
           "Outputs for each row of X (rows x n_outputs): probabilities for bce and ce unless "
           "raw, values for regression; an ensemble's are the mean of its members' (raw is "
           "then an error). Runs without the GIL.")
      .def(
          "to_onnx",
          [](const model_holder& h, int opset, const std::string& batch, bool raw) {
            return py::bytes(onnx_bytes(h.file(), {.opset = opset, .batch = batch, .raw = raw}));
          },
          py::arg("opset") = 17, py::arg("batch") = "N", py::arg("raw") = false,
          "The network alone as ONNX bytes: one float input 'features' (rows x n_inputs, as "
          "predict takes them), one output 'outputs' (probabilities for bce and ce unless raw; "
          "an ensemble's members averaged). "
          "Predictor.to_onnx exports the whole model, preprocessing included.")
      .def(
          "export_onnx",
          [](const model_holder& h, const std::string& path, int opset, const std::string& batch,
             bool raw) {
            export_onnx(h.file(), path, {.opset = opset, .batch = batch, .raw = raw});
          },
          py::arg("path"), py::arg("opset") = 17, py::arg("batch") = "N", py::arg("raw") = false,
          "to_onnx's bytes written to path atomically (a failed export leaves no file)")
      .def("to_bytes", &to_bytes, "The model file's bytes")
      .def_static("from_bytes", &from_bytes, py::arg("data"), py::arg("source") = "<bytes>")
      .def(
          "save",
          [](const model_holder& h, const std::string& path) { save_model(h.file(), path); },
          py::arg("path"), "Writes the model file atomically (a temporary file, then a rename)")
      .def(py::pickle([](const model_holder& h) { return to_bytes(h); },
                      [](const py::bytes& b) { return from_bytes(b, "<pickle>"); }))
      .def("__repr__", [](const model_holder& h) {
        std::string widths = std::to_string(h.model.n_inputs());
        for (const dense_spec& l : h.model.spec().layers)
          widths += fmt::format(" -> {} {}", l.units, to_string(l.act));
        return fmt::format("<tmlp.Model {}, loss {}, {} parameters{}>", widths,
                           to_string(h.model.spec().loss), h.model.n_params(),
                           h.n_members() > 1 ? fmt::format(" x {} members", h.n_members()) : "");
      });

  m.def(
      "load", [](const std::string& path) { return model_holder::of(load_model(path)); },
      py::arg("path"), "Reads and checks a model file");
  m.def(
      "save",
      [](const model_holder& h, const std::string& path, py::object metadata) {
        std::string meta = h.metadata == "null" ? "" : h.metadata;
        if (!metadata.is_none())
          meta = py::module_::import("json").attr("dumps")(metadata).cast<std::string>();
        loaded_model l = h.file();
        l.metadata = meta;
        save_model(l, path);
      },
      py::arg("model"), py::arg("path"), py::arg("metadata") = py::none(),
      "Writes a model file atomically; metadata: anything json.dumps takes (default: the "
      "model's own)");
}

}  // namespace tmlp::python
