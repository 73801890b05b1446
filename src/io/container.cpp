// Model-file and checkpoint containers: encoding, atomic writes and verified reads.
#include "io/container.hpp"

#include <cstring>

#include <fmt/format.h>

#include "io/file_io.hpp"
#include "tmlp/error.hpp"

namespace tmlp::io {
namespace {

// Far beyond any real model's description; bounds what a hostile header can make us parse.
constexpr std::uint64_t max_json_bytes = std::uint64_t{16} << 20;
// A model's header nests 4 levels; deeper nesting could exhaust the parser's stack.
constexpr int max_json_depth = 64;

// Magic, version, and sizes that add up to the file's size exactly.
void check_header(const container_kind& kind, const std::string& path, const unsigned char* head,
                  std::uint64_t size) {
  if (size < container_header_bytes + container_checksum_bytes)
    corrupt(kind, path, fmt::format("{} bytes is shorter than any {}", size, kind.what));
  if (std::memcmp(head, kind.magic, 8) != 0)
    corrupt(kind, path, "wrong magic bytes (not written by tmlp)");
  const std::uint32_t version = get_u32(head + 8);
  const std::uint32_t oldest = kind.oldest_version == 0 ? kind.version : kind.oldest_version;
  if (version < oldest || version > kind.version)
    corrupt(
        kind, path,
        oldest == kind.version
            ? fmt::format("format version {}, this build reads version {}", version, kind.version)
            : fmt::format("format version {}, this build reads versions {} to {}", version, oldest,
                          kind.version));
  const std::uint64_t json_len = get_u64(head + 16), n_floats = get_u64(head + 24);
  const std::uint64_t payload = size - container_header_bytes - container_checksum_bytes;
  if (json_len > max_json_bytes || json_len > payload || n_floats > (payload - json_len) / 4 ||
      json_len + 4 * n_floats != payload)
    corrupt(kind, path,
            fmt::format("sizes in the header ({} bytes of JSON, {} values) do not match the "
                        "file's {} bytes (truncated or damaged)",
                        json_len, n_floats, size));
}

}  // namespace

void corrupt(const container_kind& kind, const std::string& path, const std::string& detail) {
  throw error(errc::corrupt_model,
              fmt::format("{}: not a usable tmlp {}: {}", path, kind.what, detail));
}

float container_view::at(std::uint64_t i) const noexcept {
  const std::uint32_t u = get_u32(floats + 4 * i);
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

std::vector<unsigned char> encode_container(const container_kind& kind, const std::string& json,
                                            std::span<const std::span<const float>> floats,
                                            std::uint32_t version) {
  std::size_t n_floats = 0;
  for (const auto& f : floats) n_floats += f.size();
  std::vector<unsigned char> bytes(container_header_bytes + json.size() + n_floats * 4 +
                                   container_checksum_bytes);
  unsigned char* p = bytes.data();
  std::memcpy(p, kind.magic, 8);
  put_u32(p + 8, version == 0 ? kind.version : version);
  put_u32(p + 12, 0);
  put_u64(p + 16, json.size());
  put_u64(p + 24, n_floats);
  p += container_header_bytes;
  std::memcpy(p, json.data(), json.size());
  p += json.size();
  for (const auto& f : floats)
    for (float v : f) {
      std::uint32_t u;
      std::memcpy(&u, &v, 4);
      put_u32(p, u);
      p += 4;
    }
  put_u64(p, fnv1a(bytes.data(), bytes.size() - container_checksum_bytes));
  return bytes;
}

void write_file_atomically(const std::string& path, std::span<const unsigned char> bytes) {
  write_atomically(path, [&](int fd, const std::string& tmp) {
    write_all(fd, bytes.data(), bytes.size(), tmp);
  });
}

file_bytes read_container_file(const container_kind& kind, const std::string& path) {
  file_bytes f(path, {.kind = kind.what});
  check_header(kind, path, f.data(), f.size());
  return f;
}

container_view decode_container(const container_kind& kind, std::span<const unsigned char> data,
                                const std::string& path) {
  const std::uint64_t size = data.size();
  if (size < container_header_bytes + container_checksum_bytes)
    corrupt(kind, path, fmt::format("{} bytes is shorter than any {}", size, kind.what));
  const unsigned char* bytes = data.data();
  check_header(kind, path, bytes, size);
  const std::uint64_t json_len = get_u64(bytes + 16);
  if (fnv1a(bytes, size - container_checksum_bytes) !=
      get_u64(bytes + size - container_checksum_bytes))
    corrupt(kind, path, "checksum mismatch (the file is damaged)");
  const unsigned char* json = bytes + container_header_bytes;
  if (json_depth(json, json_len) > max_json_depth)
    corrupt(kind, path, "header JSON is nested too deeply");
  container_view v;
  try {
    v.json = nlohmann::json::parse(json, json + json_len);
  } catch (const nlohmann::json::exception& e) {
    corrupt(kind, path, std::string("header is not JSON: ") + e.what());
  }
  v.version = get_u32(bytes + 8);
  v.n_floats = get_u64(bytes + 24);
  v.floats = json + json_len;
  return v;
}

}  // namespace tmlp::io
