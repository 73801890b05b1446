// Model-file and checkpoint containers: encoding, atomic writes and verified reads.
#include "io/container.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "tmlp/error.hpp"

namespace tmlp::io {
namespace {

// Far beyond any real model's description; bounds what a hostile header can make us parse.
constexpr std::uint64_t max_json_bytes = std::uint64_t{16} << 20;
// A model's header nests 4 levels; deeper nesting could exhaust the parser's stack.
constexpr int max_json_depth = 64;

std::uint64_t fnv1a(const unsigned char* p, std::size_t n) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

void put_u32(unsigned char* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(unsigned char* p, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
std::uint64_t get_u64(const unsigned char* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
std::uint32_t get_u32(const unsigned char* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

[[noreturn]] void io_fail(const std::string& path, const std::string& what) {
  throw error(errc::io, fmt::format("{}: {}: {}", path, what, std::strerror(errno)));
}

// Magic, version, and sizes that add up to the file's size exactly.
void check_header(const container_kind& kind, const std::string& path, const unsigned char* head,
                  std::uint64_t size) {
  if (size < container_header_bytes + container_checksum_bytes)
    corrupt(kind, path, fmt::format("{} bytes is shorter than any {}", size, kind.what));
  if (std::memcmp(head, kind.magic, 8) != 0)
    corrupt(kind, path, "wrong magic bytes (not written by tmlp)");
  const std::uint32_t version = get_u32(head + 8);
  if (version != kind.version)
    corrupt(kind, path,
            fmt::format("format version {}, this build reads version {}", version, kind.version));
  const std::uint64_t json_len = get_u64(head + 16), n_floats = get_u64(head + 24);
  const std::uint64_t payload = size - container_header_bytes - container_checksum_bytes;
  if (json_len > max_json_bytes || json_len > payload || n_floats > (payload - json_len) / 4 ||
      json_len + 4 * n_floats != payload)
    corrupt(kind, path,
            fmt::format("sizes in the header ({} bytes of JSON, {} values) do not match the "
                        "file's {} bytes (truncated or damaged)",
                        json_len, n_floats, size));
}

// Nesting depth of a JSON text (brackets outside strings).
int json_depth(const unsigned char* p, std::uint64_t n) noexcept {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (std::uint64_t i = 0; i < n; ++i) {
    const unsigned char c = p[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

void write_all(int fd, const unsigned char* p, std::size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) io_fail(path, "cannot write");
    p += w;
    n -= static_cast<std::size_t>(w);
  }
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
                                            std::initializer_list<std::span<const float>> floats) {
  std::size_t n_floats = 0;
  for (const auto& f : floats) n_floats += f.size();
  std::vector<unsigned char> bytes(container_header_bytes + json.size() + n_floats * 4 +
                                   container_checksum_bytes);
  unsigned char* p = bytes.data();
  std::memcpy(p, kind.magic, 8);
  put_u32(p + 8, kind.version);
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
  // Temporary file in the same directory, so the rename is atomic.
  const std::string tmp = fmt::format("{}.tmp.{}", path, static_cast<long>(::getpid()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) io_fail(tmp, "cannot create");
  try {
    write_all(fd, bytes.data(), bytes.size(), tmp);
    if (::fsync(fd) != 0) io_fail(tmp, "cannot flush to disk");
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    io_fail(tmp, "cannot close");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    errno = e;
    io_fail(path, "cannot replace");
  }
  // Make the rename itself durable.
  const std::size_t slash = path.find_last_of('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::vector<unsigned char> read_container_file(const container_kind& kind,
                                               const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) io_fail(path, "cannot open");
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_it{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) io_fail(path, "cannot stat");
  if (S_ISDIR(st.st_mode))
    throw error(errc::io, fmt::format("{}: is a directory, not a {}", path, kind.what));
  const auto size = static_cast<std::uint64_t>(st.st_size);
  unsigned char head[container_header_bytes] = {};
  if (size >= container_header_bytes &&
      ::pread(fd, head, container_header_bytes, 0) != static_cast<ssize_t>(container_header_bytes))
    io_fail(path, "cannot read");
  check_header(kind, path, head, size);
  std::vector<unsigned char> bytes(size);
  std::size_t got = 0;
  while (got < size) {
    const ssize_t r = ::pread(fd, bytes.data() + got, size - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) io_fail(path, "cannot read");
    if (r == 0) corrupt(kind, path, "the file shrank while it was read");
    got += static_cast<std::size_t>(r);
  }
  return bytes;
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
  v.n_floats = get_u64(bytes + 24);
  v.floats = json + json_len;
  return v;
}

}  // namespace tmlp::io
