// NumPy arrays in, float32 views out: in place when the array already is float32 in C order.
#include <string>

#include <fmt/format.h>

#include "bindings.hpp"

namespace tmlp::python {

float_matrix as_float_matrix(py::handle obj, const char* what, bool allow_1d,
                             std::size_t expected_cols) {
  float_matrix out;
  const bool in_place = py::isinstance<py::array>(obj) &&
                        py::array::ensure(obj).dtype().is(py::dtype::of<float>()) &&
                        (py::array::ensure(obj).flags() & py::array::c_style) != 0;
  if (in_place) {
    out.array = py::reinterpret_borrow<py::array_t<float, py::array::c_style>>(obj);
  } else {
    py::array any = py::array::ensure(obj);
    if (!any) {
      PyErr_Clear();
      bad_input(fmt::format("{}: not an array of numbers", what));
    }
    const std::string from = py::str(any.dtype()).cast<std::string>();
    if (any.dtype().kind() != 'f' && any.dtype().kind() != 'i' && any.dtype().kind() != 'u' &&
        any.dtype().kind() != 'b')
      bad_input(fmt::format("{}: dtype {} is not numeric", what, from));
    out.array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(any);
    if (!out.array) throw py::error_already_set();
    out.copied = true;
    out.note = fmt::format(
        "{}: converted once from {}{} to float32 in C order (pass a float32 "
        "C-contiguous array to use it in place)",
        what, from, (any.flags() & py::array::c_style) != 0 ? "" : " (not C-contiguous)");
  }
  const py::ssize_t nd = out.array.ndim();
  if (nd == 1 && allow_1d) {
    out.view = matrix_view(out.array.data(), static_cast<std::size_t>(out.array.shape(0)), 1);
  } else if (nd == 2) {
    out.view = matrix_view(out.array.data(), static_cast<std::size_t>(out.array.shape(0)),
                           static_cast<std::size_t>(out.array.shape(1)));
  } else {
    bad_input(fmt::format("{}: expected a {}array, got {} dimensions", what,
                          allow_1d ? "1-D or 2-D " : "2-D ", nd));
  }
  if (out.view.rows == 0 || out.view.cols == 0)
    bad_input(fmt::format("{}: empty array ({} x {})", what, out.view.rows, out.view.cols));
  if (expected_cols > 0 && out.view.cols != expected_cols)
    bad_input(fmt::format("{}: {} columns, expected {}", what, out.view.cols, expected_cols));
  return out;
}

}  // namespace tmlp::python
