// The header of a NumPy .npy file: a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (5, 3), }
// followed by spaces and a newline, read by a small strict parser (no evaluation). Used by
// read_npy (npy.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tmlp/error.hpp"

namespace tmlp::data {

inline constexpr std::string_view npy_supported_dtypes =
    "supported: float32 '<f4', float64 '<f8', int32 '<i4', int64 '<i8' (or '>' big-endian)";

// Throws tmlp::error(code, "PATH: WHAT").
[[noreturn]] void npy_fail(errc code, const std::string& path, const std::string& what);

enum class elem_type { f4, f8, i4, i8 };

struct npy_dtype {
  elem_type type = elem_type::f4;
  std::size_t size = 4;
  bool swap = false;  // stored in the other byte order than this machine's
  std::string descr;
};

struct npy_header {
  npy_dtype dtype;
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
};

// Parses the header text (the bytes after the preamble); throws tmlp::error (invalid_data)
// naming the path, the byte where it stopped and what it expected.
npy_header parse_npy_header(const std::string& path, std::string_view text);

// A shape as Python prints it: (5,) or (5, 3).
std::string npy_shape_text(const std::vector<std::uint64_t>& shape);

}  // namespace tmlp::data
