// Fuzz target: the checkpoint parser must turn any bytes into a checkpoint or a tmlp::error, and
// a checkpoint it accepts must hold state arrays of the model's size (or none). Unless the
// input's last byte is 0xff, the trailing checksum is rewritten to match first, so mutations
// reach the header JSON and the training state instead of stopping at the checksum.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "io/container.hpp"
#include "io/file_io.hpp"
#include "io/model_file.hpp"
#include "tmlp/error.hpp"
#include "train/training_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<unsigned char> bytes(data, data + size);
  const std::size_t sum_at = size - tmlp::io::container_checksum_bytes;
  if (size >= tmlp::io::container_header_bytes + tmlp::io::container_checksum_bytes &&
      data[size - 1] != 0xff)
    tmlp::io::put_u64(bytes.data() + sum_at, tmlp::io::fnv1a(bytes.data(), sum_at));
  try {
    const tmlp::loaded_checkpoint c = tmlp::parse_checkpoint(bytes, "fuzz");
    const std::size_t n = c.model.n_params();
    const tmlp::train::training_state_data& s = tmlp::train::state_of(c.state);
    for (const auto* v : {&s.moments1, &s.moments2, &s.best_params})
      if (!v->empty() && v->size() != n) std::abort();
  } catch (const tmlp::error&) {
  }
  return 0;
}
