// Fuzz target: the model-file parser must turn any bytes into a model or a tmlp::error.
#include <cstddef>
#include <cstdint>
#include <span>

#include "io/model_file.hpp"
#include "tmlp/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    tmlp::parse_model_file(std::span<const unsigned char>(data, size), "fuzz");
  } catch (const tmlp::error&) {
  }
  return 0;
}
