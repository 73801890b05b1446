// The container shared by model files and checkpoints: a fixed header, a JSON text, float32
// arrays and a checksum, written atomically and read with every size checked first.
//
// Layout (little-endian): 8 magic bytes, u32 format version, u32 reserved (0), u64 length of
// the JSON text, u64 float count, the JSON text, the floats, then a u64 FNV-1a checksum of
// every byte before it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/file_io.hpp"

namespace tmlp::io {

struct container_kind {
  const char* magic;                 // 8 bytes
  std::uint32_t version;             // written; read: oldest_version..version
  const char* what;                  // "model file", "checkpoint": names it in messages
  std::uint32_t oldest_version = 0;  // 0: only `version`
};

inline constexpr std::size_t container_header_bytes = 32;
inline constexpr std::size_t container_checksum_bytes = 8;

// The bytes of a container holding `json` and the concatenation of `floats`, with format
// version `version` (0: kind.version; else one kind reads, for a file an older build reads too).
std::vector<unsigned char> encode_container(const container_kind& kind, const std::string& json,
                                            std::span<const std::span<const float>> floats,
                                            std::uint32_t version = 0);
inline std::vector<unsigned char> encode_container(
    const container_kind& kind, const std::string& json,
    std::initializer_list<std::span<const float>> floats) {
  return encode_container(kind, json, std::span(floats.begin(), floats.size()));
}

// Writes bytes to a temporary file beside `path`, flushes it to disk and renames it over
// `path`: a crash or kill at any moment leaves the old file or the new one, never a mix.
// Throws tmlp::error (errc::io) naming the path.
void write_file_atomically(const std::string& path, std::span<const unsigned char> bytes);

// Maps a whole container file and checks its header against the file's size (a hostile size
// never drives an allocation, and a file that is not a container is rejected before the rest
// is read). Throws tmlp::error naming the path (see file_bytes for the errors of opening it).
file_bytes read_container_file(const container_kind& kind, const std::string& path);

// A verified container in memory: the parsed JSON and the float count and bytes.
struct container_view {
  std::uint32_t version = 0;  // the file's format version
  nlohmann::json json;
  std::uint64_t n_floats = 0;
  const unsigned char* floats = nullptr;  // n_floats little-endian float32, unaligned

  float at(std::uint64_t i) const noexcept;
};

// Checks magic, version, sizes, checksum and JSON nesting, and parses the JSON. Throws
// tmlp::error (errc::corrupt_model) naming the path and the problem.
container_view decode_container(const container_kind& kind, std::span<const unsigned char> data,
                                const std::string& path);

// Throws tmlp::error (errc::corrupt_model): "PATH: not a usable tmlp WHAT: DETAIL".
[[noreturn]] void corrupt(const container_kind& kind, const std::string& path,
                          const std::string& detail);

}  // namespace tmlp::io
