// Model-file parsing from memory: load_model's checks without the file system (fuzzing, tests).
#pragma once

#include <span>
#include <string>

#include "tmlp/io.hpp"

namespace tmlp {

// Verifies and decodes the bytes of a model file; `path` names it in messages.
loaded_model parse_model_file(std::span<const unsigned char> data, const std::string& path);

}  // namespace tmlp
