// file_bytes: a file's bytes for the CSV reader, mapped read-only (mmap) or, where mapping is
// not possible (pipes, special files, files in /proc), read in pieces. Errors are tmlp::error
// (errc::io) naming the path and the system's reason.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "tmlp/error.hpp"

namespace tmlp::data {

// A file's bytes: mapped read-only, or read into memory where mapping is not possible.
class file_bytes {
 public:
  explicit file_bytes(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      const int e = errno;
      throw error(errc::io, fmt::format("{}: cannot open: {}{}", path, std::strerror(e),
                                        e == ENOENT ? "; expected an existing CSV file" : ""));
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail(path, "cannot stat");
    if (S_ISDIR(st.st_mode))
      throw error(errc::io, fmt::format("{}: is a directory; expected a CSV file", path));
    if (S_ISREG(st.st_mode)) {
      // Size 0 may still have content (files in /proc): those are read below.
      size_ = static_cast<std::size_t>(st.st_size);
      void* m = size_ == 0 ? MAP_FAILED : ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
      if (m != MAP_FAILED) {
        map_ = m;
        ::madvise(map_, size_, MADV_WILLNEED);
        return;
      }
    }
    // Not mappable (a pipe, a special file, or mmap refused): read it in chunks.
    constexpr std::size_t piece = std::size_t{1} << 20;
    for (;;) {
      const std::size_t at = copy_.size();
      copy_.resize(at + piece);
      const ssize_t n = ::read(fd_, copy_.data() + at, piece);
      if (n < 0) {
        if (errno == EINTR) {
          copy_.resize(at);
          continue;
        }
        fail(path, "cannot read");
      }
      copy_.resize(at + static_cast<std::size_t>(n));
      if (n == 0) break;
    }
    if (copy_.empty())
      throw error(errc::invalid_data,
                  fmt::format("{}: empty file; expected a header line and data rows", path));
  }
  file_bytes(const file_bytes&) = delete;
  file_bytes& operator=(const file_bytes&) = delete;
  ~file_bytes() {
    if (map_ != nullptr) ::munmap(map_, size_);
    if (fd_ >= 0) ::close(fd_);
  }
  std::string_view text() const noexcept {
    return map_ != nullptr ? std::string_view(static_cast<const char*>(map_), size_)
                           : std::string_view(copy_);
  }

 private:
  [[noreturn]] void fail(const std::string& path, const char* what) {
    const int e = errno;
    throw error(errc::io, fmt::format("{}: {}: {}", path, what, std::strerror(e)));
  }
  int fd_ = -1;
  void* map_ = nullptr;
  std::size_t size_ = 0;
  std::string copy_;
};

}  // namespace tmlp::data
