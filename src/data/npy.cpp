// tmlp::read_npy: NumPy .npy files (format 1.0, 2.0, 3.0) into a table of numeric columns.
//
// The whole file is read into a buffer of the size fstat reports (io::file_bytes); the header is
// parsed by a small strict parser for the Python dict literal NumPy writes (no evaluation), and
// the shape times the item size is checked against the bytes actually in the file before any
// column is allocated. Only then are the values converted, without checks, into columns (C-order
// data is transposed in tiles so both sides stay in cache), and a last pass over each column
// counts NaN (a missing value) and rejects infinities.
//
// Supported:
//   - descr '<f4' '<f8' '<i4' '<i8' (float32, float64, int32, int64); '>' (big-endian) is
//     byte-swapped; '|' and '=' mean the byte order of this machine, as numpy.dtype reads them.
//   - C ('fortran_order': False) and Fortran order; 1-D (one column) and 2-D (rows x columns).
// Conversion to float32 rounds to nearest (ties to even): int32/int64 values beyond 2^24 in
// magnitude and float64 values with more than 24 significant bits are rounded; a finite float64
// value beyond the float32 range (|x| > 3.4028235e38) is an error, as is +-inf anywhere.
// Rejected with a message: a missing path, a directory or other non-regular file, a read error,
// an empty or truncated file, bad magic (a .npz archive is named as such), a version other than
// 1.0 / 2.0 / 3.0, a header that does not parse or lacks / repeats / adds a key, object and
// structured arrays and any other dtype, 0 or more than 2 dimensions, an empty array (a zero
// dimension), an element count that overflows, and data bytes that do not match the shape.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "data/npy_header.hpp"
#include "io/file_io.hpp"
#include "tmlp/data.hpp"
#include "tmlp/error.hpp"

namespace tmlp {
namespace {

using namespace data;

[[noreturn]] void fail(errc code, const std::string& path, const std::string& what) {
  npy_fail(code, path, what);
}

// ---------------------------------------------------------------------------------------------
// Conversion to columns (validated input; no checks).

template <class T>
struct same_size_uint;
template <>
struct same_size_uint<float> {
  using type = std::uint32_t;
};
template <>
struct same_size_uint<std::int32_t> {
  using type = std::uint32_t;
};
template <>
struct same_size_uint<double> {
  using type = std::uint64_t;
};
template <>
struct same_size_uint<std::int64_t> {
  using type = std::uint64_t;
};

constexpr std::uint32_t byteswap(std::uint32_t v) noexcept { return __builtin_bswap32(v); }
constexpr std::uint64_t byteswap(std::uint64_t v) noexcept { return __builtin_bswap64(v); }

// The element at p (any alignment) in file byte order, as its own type.
template <class T, bool Swap>
T load(const std::byte* p) noexcept {
  using U = typename same_size_uint<T>::type;
  U u;
  std::memcpy(&u, p, sizeof u);
  if constexpr (Swap) u = byteswap(u);
  return std::bit_cast<T>(u);
}

// src: n_rows x n_cols elements of T, row-major (C) or column-major (Fortran);
// dst[j]: n_rows floats of column j.
template <class T, bool Swap>
void to_columns(std::size_t n_rows, std::size_t n_cols, bool col_major, const std::byte* src,
                float* const* dst) noexcept {
  constexpr std::size_t sz = sizeof(T);
  if (col_major || n_cols == 1) {
    for (std::size_t j = 0; j < n_cols; ++j) {
      const std::byte* s = src + j * n_rows * sz;
      float* d = dst[j];
      for (std::size_t i = 0; i < n_rows; ++i) d[i] = static_cast<float>(load<T, Swap>(s + i * sz));
    }
    return;
  }
  // Row-major: transpose tile by tile (tile_rows x tile_cols), reading each row segment in order
  // and writing tile_cols sequential streams; both tiles fit in L1/L2.
  constexpr std::size_t tile_rows = 128, tile_cols = 32;
  for (std::size_t i0 = 0; i0 < n_rows; i0 += tile_rows) {
    const std::size_t i1 = std::min(n_rows, i0 + tile_rows);
    for (std::size_t j0 = 0; j0 < n_cols; j0 += tile_cols) {
      const std::size_t j1 = std::min(n_cols, j0 + tile_cols);
      for (std::size_t i = i0; i < i1; ++i) {
        const std::byte* s = src + i * n_cols * sz;
        for (std::size_t j = j0; j < j1; ++j)
          dst[j][i] = static_cast<float>(load<T, Swap>(s + j * sz));
      }
    }
  }
}

template <class T>
void to_columns(bool swap, std::size_t n_rows, std::size_t n_cols, bool col_major,
                const std::byte* src, float* const* dst) noexcept {
  if (swap)
    to_columns<T, true>(n_rows, n_cols, col_major, src, dst);
  else
    to_columns<T, false>(n_rows, n_cols, col_major, src, dst);
}

// Counts NaN in v[0..n) into n_nan and says whether any value is infinite. Branch-free, so it
// vectorizes (kept out of line: GCC 12 does not vectorize it inlined into read_npy); the rare
// infinity is located afterwards.
[[gnu::noinline]] bool scan_column(std::size_t n, const float* v, std::size_t& n_nan) noexcept {
  constexpr float inf = std::numeric_limits<float>::infinity();
  std::size_t count = 0;
  unsigned any_inf = 0;
  for (std::size_t i = 0; i < n; ++i) {
    count += v[i] != v[i] ? 1 : 0;
    any_inf |= std::fabs(v[i]) == inf ? 1u : 0u;
  }
  n_nan = count;
  return any_inf != 0;
}

// Where the parts of a .npy file lie: its header, and the data after it.
struct npy_layout {
  npy_header h;
  std::size_t data_at = 0;  // offset of the first data byte
  std::size_t n_rows = 0, n_cols = 0;
};

// The preamble (magic, version, header length) and the header.
npy_header read_header(const std::string& path, const std::byte* bytes, std::size_t size,
                       std::size_t& data_at) {
  const auto u8 = [&](std::size_t i) { return std::to_integer<unsigned>(bytes[i]); };
  static constexpr unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  const std::size_t n_magic = std::min<std::size_t>(6, size);
  if (std::memcmp(bytes, magic, n_magic) != 0) {
    if (size >= 4 && std::memcmp(bytes, "PK\x03\x04", 4) == 0)
      fail(errc::invalid_data, path,
           "is a .npz archive (zip), not a .npy file; extract one array from it first");
    fail(errc::invalid_data, path,
         "bad magic: the file does not start with \\x93NUMPY; expected a NumPy .npy file");
  }
  if (size < 10)
    fail(errc::invalid_data, path,
         fmt::format("truncated: {} bytes, shorter than the 10-byte .npy preamble", size));
  const unsigned major = u8(6), minor = u8(7);
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    fail(errc::invalid_data, path,
         fmt::format("unsupported .npy format version {}.{}; expected 1.0, 2.0 or 3.0", major,
                     minor));
  std::size_t header_len = 0, header_at = 0;
  if (major == 1) {
    header_len = u8(8) | (u8(9) << 8);
    header_at = 10;
  } else {
    if (size < 12)
      fail(errc::invalid_data, path,
           fmt::format("truncated: {} bytes, shorter than the 12-byte .npy {}.0 preamble", size,
                       major));
    header_len = std::size_t{u8(8)} | (std::size_t{u8(9)} << 8) | (std::size_t{u8(10)} << 16) |
                 (std::size_t{u8(11)} << 24);
    header_at = 12;
  }
  if (header_len > size - header_at)
    fail(errc::invalid_data, path,
         fmt::format("truncated header: the preamble announces {} header bytes but only {} "
                     "follow",
                     header_len, size - header_at));
  data_at = header_at + header_len;
  return parse_npy_header(
      path, std::string_view(reinterpret_cast<const char*>(bytes + header_at), header_len));
}

// The header, with its shape and size checked against the file before anything is allocated.
npy_layout read_layout(const std::string& path, const std::byte* bytes, std::size_t size) {
  npy_layout l;
  l.h = read_header(path, bytes, size, l.data_at);
  const npy_header& h = l.h;
  if (h.shape.empty() || h.shape.size() > 2)
    fail(errc::invalid_data, path,
         fmt::format("array has {} dimensions (shape {}); expected 1 (one column) or 2 (rows x "
                     "columns)",
                     h.shape.size(), npy_shape_text(h.shape)));
  for (const std::uint64_t d : h.shape)
    if (d == 0)
      fail(errc::invalid_data, path,
           fmt::format("array is empty (shape {}); expected at least one row and one column",
                       npy_shape_text(h.shape)));
  const std::size_t data_bytes = size - l.data_at;
  std::uint64_t n_elems = 1;
  for (const std::uint64_t d : h.shape)
    if (__builtin_mul_overflow(n_elems, d, &n_elems))
      fail(errc::invalid_data, path,
           fmt::format("shape {} has more elements than fit in 64 bits; the file holds {} data "
                       "bytes",
                       npy_shape_text(h.shape), data_bytes));
  std::uint64_t n_needed = 0;
  if (__builtin_mul_overflow(n_elems, std::uint64_t{h.dtype.size}, &n_needed) ||
      n_needed != data_bytes)
    fail(errc::invalid_data, path,
         fmt::format("size mismatch: shape {} of '{}' needs {} x {} data bytes but the file holds "
                     "{} after the header ({})",
                     npy_shape_text(h.shape), h.dtype.descr, n_elems, h.dtype.size, data_bytes,
                     n_needed > data_bytes || n_needed / h.dtype.size != n_elems
                         ? "truncated, or a wrong shape"
                         : "extra bytes after the data"));
  l.n_rows = static_cast<std::size_t>(h.shape[0]);
  l.n_cols = h.shape.size() == 2 ? static_cast<std::size_t>(h.shape[1]) : std::size_t{1};
  return l;
}

// The validated data as float columns of t.
void convert(const npy_layout& l, const std::byte* src, table& t) {
  t.n_rows = l.n_rows;
  t.columns.resize(l.n_cols);
  std::vector<float*> dst(l.n_cols);
  for (std::size_t j = 0; j < l.n_cols; ++j) {
    column& c = t.columns[j];
    c.name = fmt::format("col_{}", j + 1);
    c.kind = column_kind::numeric;
    c.values.resize(l.n_rows);
    dst[j] = c.values.data();
  }
  const bool swap = l.h.dtype.swap, col_major = l.h.fortran_order;
  switch (l.h.dtype.type) {
    case elem_type::f4:
      to_columns<float>(swap, l.n_rows, l.n_cols, col_major, src, dst.data());
      break;
    case elem_type::f8:
      to_columns<double>(swap, l.n_rows, l.n_cols, col_major, src, dst.data());
      break;
    case elem_type::i4:
      to_columns<std::int32_t>(swap, l.n_rows, l.n_cols, col_major, src, dst.data());
      break;
    case elem_type::i8:
      to_columns<std::int64_t>(swap, l.n_rows, l.n_cols, col_major, src, dst.data());
      break;
  }
}

// Floats: counts NaN (a missing value) per column; an infinity, or a float64 beyond the float32
// range, is an error naming its row and column. Integers are always finite.
void check_finite(const std::string& path, const npy_layout& l, const std::byte* src, table& t) {
  const npy_header& h = l.h;
  if (h.dtype.type != elem_type::f4 && h.dtype.type != elem_type::f8) return;
  for (std::size_t j = 0; j < l.n_cols; ++j) {
    column& c = t.columns[j];
    const float* v = c.values.data();
    std::size_t n_nan = 0;
    const bool any_inf = scan_column(l.n_rows, v, n_nan);
    c.n_missing = n_nan;
    if (!any_inf) continue;
    const std::size_t i = static_cast<std::size_t>(
        std::find_if(v, v + l.n_rows, [](float x) { return std::isinf(x); }) - v);
    const std::size_t at = h.fortran_order ? j * l.n_rows + i : i * l.n_cols + j;
    double original = c.values[i];
    if (h.dtype.type == elem_type::f8)
      original =
          h.dtype.swap ? load<double, true>(src + at * 8) : load<double, false>(src + at * 8);
    if (std::isinf(original))
      fail(errc::invalid_data, path,
           fmt::format("{} at row {}, column {} ({}; 1-based); data must be finite (NaN marks a "
                       "missing value)",
                       original > 0 ? "+inf" : "-inf", i + 1, j + 1, c.name));
    fail(errc::invalid_data, path,
         fmt::format("value {} at row {}, column {} ({}; 1-based) is outside the float32 range "
                     "(magnitude at most {})",
                     original, i + 1, j + 1, c.name, std::numeric_limits<float>::max()));
  }
}

}  // namespace

table read_npy(const std::string& path) {
  const io::file_bytes file(path, {.kind = ".npy file", .copy = true});
  if (file.size() == 0)
    fail(errc::invalid_data, path, "empty file; expected a .npy file (\\x93NUMPY...)");
  const auto* bytes = reinterpret_cast<const std::byte*>(file.data());
  const npy_layout l = read_layout(path, bytes, file.size());
  table t;
  t.source = path;
  convert(l, bytes + l.data_at, t);
  check_finite(path, l, bytes + l.data_at, t);
  return t;
}

}  // namespace tmlp
