// Fuzz target: the checkpoint parser must turn any bytes into a checkpoint or a tmlp::error, and
// a checkpoint it accepts must hold state arrays of the model's size (or none).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "io/model_file.hpp"
#include "tmlp/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const tmlp::loaded_checkpoint c =
        tmlp::parse_checkpoint(std::span<const unsigned char>(data, size), "fuzz");
    const std::size_t n = c.model.n_params();
    for (const auto* v : {&c.state.moments1, &c.state.moments2, &c.state.best_params})
      if (!v->empty() && v->size() != n) std::abort();
  } catch (const tmlp::error&) {
  }
  return 0;
}
