// The pieces of the extension module tmlp._tmlp: each bind_* adds one part of the public C++
// API (include/tmlp/) to the module; convert.cpp turns NumPy arrays into the library's views.
#pragma once

#include <cstddef>
#include <string>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "tmlp/matrix.hpp"

namespace tmlp::python {

namespace py = pybind11;

void bind_errors(py::module_& m);
void bind_model(py::module_& m);
void bind_data(py::module_& m);
void bind_train(py::module_& m);
void bind_predict(py::module_& m);

// Raises tmlp.Error (a ValueError) with this one-line message.
[[noreturn]] void bad_input(const std::string& message);

// A 2-D (or, with allow_1d, 1-D as one column) array of float32 in C order, and a view of it.
// A float32 C-contiguous array is used in place (no copy); anything else (other dtypes, Fortran
// order, strided views, lists) is converted once, and `note` says so. `what` names the argument
// in messages ("X", "y", ...). Raises tmlp.Error on more than 2 dimensions, an empty array, or
// a cols mismatch (expected_cols > 0).
struct float_matrix {
  py::array_t<float, py::array::c_style> array;  // keeps the data alive
  matrix_view view;
  bool copied = false;
  std::string note;  // empty when used in place
};
float_matrix as_float_matrix(py::handle obj, const char* what, bool allow_1d = false,
                             std::size_t expected_cols = 0);

}  // namespace tmlp::python
