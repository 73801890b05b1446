// File plumbing shared by model files, checkpoints and datasets.
#include "io/file_io.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "tmlp/error.hpp"

namespace tmlp::io {

std::uint64_t fnv1a(const unsigned char* p, std::size_t n, std::uint64_t h) noexcept {
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

void put_u32(unsigned char* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(unsigned char* p, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
std::uint32_t get_u32(const unsigned char* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
std::uint64_t get_u64(const unsigned char* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

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

void io_fail(const std::string& path, const std::string& what) {
  throw error(errc::io, fmt::format("{}: {}: {}", path, what, std::strerror(errno)));
}

void write_all(int fd, const void* data, std::size_t n, const std::string& path) {
  const auto* p = static_cast<const unsigned char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, std::min<std::size_t>(n, std::size_t{1} << 30));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) io_fail(path, "cannot write");
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void write_atomically(const std::string& path,
                      const std::function<void(int fd, const std::string& tmp)>& write) {
  // A temporary file in the same directory (so the rename is atomic), unique to this call even
  // when several threads of one process write the same path.
  static std::atomic<unsigned long> counter{0};
  const std::string tmp =
      fmt::format("{}.tmp.{}.{}", path, static_cast<long>(::getpid()), counter.fetch_add(1));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) io_fail(tmp, "cannot create");
  try {
    write(fd, tmp);
    if (::fsync(fd) != 0) io_fail(tmp, "cannot flush to disk");
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  const auto fail = [&](const std::string& name, const char* what) {
    const int e = errno;
    ::unlink(tmp.c_str());
    errno = e;
    io_fail(name, what);
  };
  if (::close(fd) != 0) fail(tmp, "cannot close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail(path, "cannot replace");
  // Make the rename itself durable.
  const std::size_t slash = path.find_last_of('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace tmlp::io
