// File plumbing shared by model files, checkpoints and .tmlpd datasets: little-endian integers,
// the FNV-1a checksum, a JSON nesting bound, and atomic replacement of a file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace tmlp::io {

inline constexpr std::uint64_t fnv1a_offset = 0xcbf29ce484222325ULL;

// FNV-1a 64 of p[0..n), continuing from h (chain calls to checksum several pieces).
std::uint64_t fnv1a(const unsigned char* p, std::size_t n, std::uint64_t h = fnv1a_offset) noexcept;

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
