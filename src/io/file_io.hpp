// File plumbing shared by every reader and writer of files (CSV, .npy, .tmlpd, model files,
// checkpoints): reading or mapping a whole file, little-endian integers, the FNV-1a hash (the
// checksums of the file formats, and the bucket of a hashed category), a JSON nesting bound,
// and atomic replacement of a file.
//
//     const tmlp::io::file_bytes f(path, {.kind = "CSV file", .read_ahead = true});
//     std::string_view text = f.text();   // the whole file, valid while f lives
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace tmlp::io {

inline constexpr std::uint64_t fnv1a_offset = 0xcbf29ce484222325ULL;

// FNV-1a 64 of p[0..n), continuing from h (chain calls to checksum several pieces).
std::uint64_t fnv1a(const unsigned char* p, std::size_t n, std::uint64_t h = fnv1a_offset) noexcept;
// FNV-1a 64 of the bytes of s.
inline std::uint64_t fnv1a(std::string_view s, std::uint64_t h = fnv1a_offset) noexcept {
  return fnv1a(reinterpret_cast<const unsigned char*>(s.data()), s.size(), h);
}

// How file_bytes gets a file, and what its messages say the file should be.
struct file_options {
  // What the reader expects, without an article: "CSV file", ".npy file", "model file". Messages
  // read "PATH: is a directory; expected a CSV file".
  const char* kind = "file";
  bool copy = false;  // read the bytes into memory instead of mapping them
  // Files that cannot be mapped (pipes, special files, regular files whose size reads as 0
  // such as those in /proc) are read into memory instead of refused.
  bool special_files = false;
  bool read_ahead = false;  // a mapping will be read front to back: ask the kernel to read ahead
};

// A whole file's bytes, read-only: mapped into memory (the default) or read into a buffer, as
// file_options says. An empty regular file gives no bytes (the reader names what it expected).
// Throws tmlp::error (errc::io) with one line that names the path and the system's reason:
//   PATH: cannot open: REASON[; expected an existing KIND]   (the suffix when it does not exist)
//   PATH: cannot stat: REASON
//   PATH: is a directory; expected a KIND
//   PATH: is not a regular file; expected a KIND             (unless special_files)
//   PATH: cannot map into memory: REASON                      (unless special_files)
//   PATH: cannot read: REASON                                 (a special file)
//   PATH: read error after N bytes: REASON                    (copy)
//   PATH: file shrank while reading: got N of M bytes         (copy)
// A mapping stays valid while this object lives; a file truncated by another process while it
// is mapped can fault (as for any mapping), so writers replace files (write_atomically).
class file_bytes {
 public:
  file_bytes() = default;  // no bytes
  file_bytes(const std::string& path, const file_options& options);
  file_bytes(file_bytes&& other) noexcept;
  file_bytes& operator=(file_bytes&& other) noexcept;
  file_bytes(const file_bytes&) = delete;
  file_bytes& operator=(const file_bytes&) = delete;
  ~file_bytes();

  const unsigned char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::span<const unsigned char> bytes() const noexcept { return {data_, size_}; }
  operator std::span<const unsigned char>() const noexcept { return bytes(); }
  std::string_view text() const noexcept { return {reinterpret_cast<const char*>(data_), size_}; }
  bool mapped() const noexcept { return map_ != nullptr; }

  // The mapping will be read in random order from now on: reading ahead would waste I/O (no
  // effect on a copy).
  void advise_random() const noexcept;

 private:
  void read_pieces(int fd, const std::string& path);
  void read_exactly(int fd, const std::string& path);

  void* map_ = nullptr;  // the mapping, or nullptr
  std::unique_ptr<unsigned char[]> copy_;
  const unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
};

void put_u32(unsigned char* p, std::uint32_t v) noexcept;
void put_u64(unsigned char* p, std::uint64_t v) noexcept;
std::uint32_t get_u32(const unsigned char* p) noexcept;
std::uint64_t get_u64(const unsigned char* p) noexcept;

// Deepest nesting of brackets outside strings in a JSON text: checked before parsing, so a
// hostile file cannot exhaust the parser's stack.
int json_depth(const unsigned char* p, std::uint64_t n) noexcept;

// Throws tmlp::error (errc::io): "PATH: WHAT: strerror(errno)".
[[noreturn]] void io_fail(const std::string& path, const std::string& what);

// Writes n bytes to fd, retrying short writes; throws via io_fail naming path.
void write_all(int fd, const void* data, std::size_t n, const std::string& path);

// Replaces path atomically: write(fd, tmp) fills a new temporary file beside path, which is
// then flushed to disk and renamed over path (and the directory flushed). A failure or a kill
// at any moment leaves the old file or the new one, never a mix; on a failure the temporary
// file is removed. Throws tmlp::error (errc::io) naming the path, or what write throws.
void write_atomically(const std::string& path,
                      const std::function<void(int fd, const std::string& tmp)>& write);

}  // namespace tmlp::io
