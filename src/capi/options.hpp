// The options of the C API's training functions: a JSON object of `tmlp train` flags, read
// through the flag table exactly as the keys of `tmlp train --config` (tmlp/train_options.hpp).
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "tmlp/train_options.hpp"

namespace tmlp::capi {

struct parsed_options {
  train_options options;
  std::set<std::string> given;  // the flag names ('-' spelling) the object set
};

// Reads json (NULL or empty: no options): an object whose keys are flag names ('-' or '_'),
// with strings, numbers, booleans, null (an optional number unset) or arrays (a list; --layers
// as widths) as their values. Throws tmlp::error (errc::invalid_argument) naming the key for
// invalid JSON, an unknown key or a value of the wrong type. `function` begins the messages.
parsed_options options_from_json(const char* json, std::string_view function);

}  // namespace tmlp::capi
