// tmlp._tmlp: the extension module under the Python package tmlp (python/tmlp/__init__.py).
// Every library error becomes tmlp.Error, a ValueError subclass, with the library's one-line
// message; its `code` attribute names the kind ("invalid_argument", "invalid_data", "io",
// "corrupt_model", "unsupported", "cancelled").
#include <exception>
#include <string>

#include <pybind11/stl.h>

#include "bindings.hpp"
#include "tmlp/error.hpp"
#include "tmlp/system.hpp"
#include "tmlp/version.hpp"

namespace tmlp::python {
namespace {

const char* code_name(errc c) noexcept {
  switch (c) {
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::invalid_data:
      return "invalid_data";
    case errc::io:
      return "io";
    case errc::corrupt_model:
      return "corrupt_model";
    case errc::unsupported:
      return "unsupported";
    case errc::cancelled:
      return "cancelled";
  }
  return "error";
}

PyObject* error_type = nullptr;  // tmlp.Error, created once at import

}  // namespace

[[noreturn]] void bad_input(const std::string& message) {
  PyErr_SetString(error_type, message.c_str());
  throw py::error_already_set();
}

void bind_errors(py::module_& m) {
  error_type = PyErr_NewExceptionWithDoc(
      "tmlp.Error",
      "A mistake in the input (data, spec, config, file) or an unusable environment; the "
      "message is one line naming what was wrong and where.",
      PyExc_ValueError, nullptr);
  m.add_object("Error", py::handle(error_type));
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const error& e) {
      py::object exc = py::reinterpret_borrow<py::object>(error_type)(e.what());
      exc.attr("code") = code_name(e.code());
      PyErr_SetObject(error_type, exc.ptr());
    }
  });
}

}  // namespace tmlp::python

PYBIND11_MODULE(_tmlp, m) {
  namespace tp = tmlp::python;
  m.doc() = "tmlp: fast multilayer perceptrons for tabular data on multicore CPUs";
  m.attr("__version__") = std::string(tmlp::version_string);
  tp::bind_errors(m);
  m.def(
      "system",
      [] {
        const tmlp::system_info s = tmlp::system();
        tp::py::dict d;
        d["version"] = s.version;
        d["simd"] = s.simd;
        d["simd_lanes"] = s.simd_lanes;
        d["simd_available"] = s.simd_available;
        d["blas"] = s.blas;
        d["gemm"] = s.gemm;
        d["threads"] = s.n_threads;
        return d;
      },
      "What this machine and build give tmlp: SIMD kernels, BLAS, the GEMM backend, default "
      "threads");
  tp::bind_model(m);
  tp::bind_data(m);
  tp::bind_train(m);
  tp::bind_predict(m);
}
