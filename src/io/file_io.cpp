// File plumbing shared by the readers and writers of every file format.
#include "io/file_io.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

namespace {

struct fd_closer {
  int fd;
  ~fd_closer() { ::close(fd); }
};

// Linux transfers at most about 2 GiB per read().
constexpr std::size_t max_read = std::size_t{1} << 30;

}  // namespace

file_bytes::file_bytes(const std::string& path, const file_options& o) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    throw error(errc::io, fmt::format("{}: cannot open: {}{}", path, std::strerror(e),
                                      e == ENOENT ? fmt::format("; expected an existing {}", o.kind)
                                                  : std::string()));
  }
  const fd_closer closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) io_fail(path, "cannot stat");
  if (S_ISDIR(st.st_mode))
    throw error(errc::io, fmt::format("{}: is a directory; expected a {}", path, o.kind));
  const bool regular = S_ISREG(st.st_mode);
  if (!regular && !o.special_files)
    throw error(errc::io, fmt::format("{}: is not a regular file; expected a {}", path, o.kind));
  const auto size = regular ? static_cast<std::size_t>(st.st_size) : std::size_t{0};
  if (!regular || (size == 0 && o.special_files)) {
    read_pieces(fd, path);
    return;
  }
  if (size == 0) return;
  if (o.copy) {
    size_ = size;
    read_exactly(fd, path);
    return;
  }
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (m == MAP_FAILED) {
    if (!o.special_files) io_fail(path, "cannot map into memory");
    read_pieces(fd, path);
    return;
  }
  map_ = m;
  data_ = static_cast<const unsigned char*>(m);
  size_ = size;
  if (o.read_ahead) ::madvise(map_, size_, MADV_WILLNEED);
}

file_bytes::file_bytes(file_bytes&& other) noexcept
    : map_(std::exchange(other.map_, nullptr)),
      copy_(std::move(other.copy_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

file_bytes& file_bytes::operator=(file_bytes&& other) noexcept {
  if (this != &other) {
    if (map_ != nullptr) ::munmap(map_, size_);
    map_ = std::exchange(other.map_, nullptr);
    copy_ = std::move(other.copy_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

file_bytes::~file_bytes() {
  if (map_ != nullptr) ::munmap(map_, size_);
}

void file_bytes::advise_random() const noexcept {
  if (map_ != nullptr) ::madvise(map_, size_, MADV_RANDOM);
}

// size_ bytes, exactly: the size fstat reported.
void file_bytes::read_exactly(int fd, const std::string& path) {
  copy_ = std::make_unique_for_overwrite<unsigned char[]>(size_);
  data_ = copy_.get();
  std::size_t done = 0;
  while (done < size_) {
    const ssize_t got = ::read(fd, copy_.get() + done, std::min(size_ - done, max_read));
    if (got < 0) {
      const int e = errno;
      if (e == EINTR) continue;
      throw error(errc::io,
                  fmt::format("{}: read error after {} bytes: {}", path, done, std::strerror(e)));
    }
    if (got == 0)
      throw error(errc::io, fmt::format("{}: file shrank while reading: got {} of {} bytes", path,
                                        done, size_));
    done += static_cast<std::size_t>(got);
  }
}

// Everything until the end of the file, of a size not known in advance.
void file_bytes::read_pieces(int fd, const std::string& path) {
  std::size_t capacity = std::size_t{1} << 20;
  copy_ = std::make_unique_for_overwrite<unsigned char[]>(capacity);
  size_ = 0;
  for (;;) {
    if (size_ == capacity) {
      auto bigger = std::make_unique_for_overwrite<unsigned char[]>(capacity * 2);
      std::memcpy(bigger.get(), copy_.get(), size_);
      copy_ = std::move(bigger);
      capacity *= 2;
    }
    const ssize_t n = ::read(fd, copy_.get() + size_, std::min(capacity - size_, max_read));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) io_fail(path, "cannot read");
    if (n == 0) break;
    size_ += static_cast<std::size_t>(n);
  }
  data_ = copy_.get();
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
