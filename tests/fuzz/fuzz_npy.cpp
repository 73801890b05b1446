// Fuzz target: read_npy must turn any bytes into a table or a tmlp::error. The reader takes a
// path, so each input goes through a per-process temporary file.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include <unistd.h>

#include "tmlp/data.hpp"
#include "tmlp/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/tmlp_fuzz_npy_" + std::to_string(::getpid()) + ".npy";
  if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  try {
    tmlp::read_npy(path);
  } catch (const tmlp::error&) {
  }
  return 0;
}
