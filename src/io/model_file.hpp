// Model-file and checkpoint parsing from memory: load_model's and load_checkpoint's checks
// without the file system (fuzzing, tests).
#pragma once

#include <span>
#include <string>

#include "io/container.hpp"
#include "tmlp/checkpoint.hpp"
#include "tmlp/io.hpp"

namespace tmlp {

// Verifies and decodes the bytes of a model file; `path` names it in messages.
loaded_model parse_model_file(std::span<const unsigned char> data, const std::string& path);

// Verifies and decodes the bytes of a checkpoint file; `path` names it in messages.
loaded_checkpoint parse_checkpoint(std::span<const unsigned char> data, const std::string& path);

// The header JSON of a file that carries a model: {"spec": ..., "metadata": ...}. Throws
// tmlp::error naming `caller` if metadata_json is neither empty nor JSON.
nlohmann::json model_header(const model& m, const std::string& metadata_json, const char* caller);

// A decoded header's metadata as JSON text ("null" if none).
std::string metadata_of(const nlohmann::json& header);

// The model described by a container's "spec", with its parameters from the container's first
// floats (there may be more after them). Throws tmlp::error naming the path and the problem.
model model_from_container(const io::container_kind& kind, const io::container_view& c,
                           const std::string& path);

}  // namespace tmlp
