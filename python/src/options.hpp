// Python keyword arguments as `tmlp train` flags (tmlp/train_options.hpp's table).
#pragma once

#include <string>

#include "bindings.hpp"
#include "tmlp/train_options.hpp"

namespace tmlp::python {

// Sets the option of the flag that keyword `key` names ('_' for '-': "batch_size"); raises
// tmlp.Error naming the keyword for an unknown one or a value of the wrong type. Text flags take
// str (layers also a sequence of widths), lists str or a sequence of str, switches bool,
// numbers int or float, whole numbers int >= 0; None unsets weight_decay and empties a list.
void set_option(train_options& o, const std::string& key, py::handle value);

// train_options{} with every keyword of kwargs applied.
train_options options_from(const py::dict& kwargs);

// Every flag that a keyword can set: {"name", "flag", "help", "default", "in_model"}, in the
// order of `tmlp train --help` (not the data file, not --config).
py::list flag_table();

}  // namespace tmlp::python
