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

#include "io/file_io.hpp"
#include "tmlp/data.hpp"
#include "tmlp/error.hpp"

namespace tmlp {
namespace {

constexpr std::string_view supported_dtypes =
    "supported: float32 '<f4', float64 '<f8', int32 '<i4', int64 '<i8' (or '>' big-endian)";

[[noreturn]] void fail(errc code, const std::string& path, const std::string& what) {
  throw error(code, fmt::format("{}: {}", path, what));
}

// ---------------------------------------------------------------------------------------------
// The header: a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (5, 3), }
// followed by spaces and a newline.

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

// The header text made printable for a message: non-ASCII and control bytes escaped, cut short.
std::string printable(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (out.size() >= 160) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f)
      out += c;
    else
      out += fmt::format("\\x{:02x}", u);
  }
  return out;
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

npy_dtype parse_descr(const std::string& path, const std::string& descr) {
  if (descr == "|O" || descr == "O" || descr == "<O" || descr == ">O" || descr == "=O")
    fail(errc::invalid_data, path,
         fmt::format("dtype '{}' is an object array (pickled Python objects), which is not "
                     "read; {}",
                     printable(descr), supported_dtypes));
  npy_dtype d;
  d.descr = descr;
  const bool known =
      descr.size() == 3 && std::string_view("<>|=").find(descr[0]) != std::string_view::npos;
  const std::string_view code = known ? std::string_view(descr).substr(1) : std::string_view();
  if (code == "f4")
    d.type = elem_type::f4, d.size = 4;
  else if (code == "f8")
    d.type = elem_type::f8, d.size = 8;
  else if (code == "i4")
    d.type = elem_type::i4, d.size = 4;
  else if (code == "i8")
    d.type = elem_type::i8, d.size = 8;
  else
    fail(errc::invalid_data, path,
         fmt::format("dtype '{}' is not supported; {}", printable(descr), supported_dtypes));
  const bool little = descr[0] == '<' || ((descr[0] == '|' || descr[0] == '=') &&
                                          std::endian::native == std::endian::little);
  d.swap = little != (std::endian::native == std::endian::little);
  return d;
}

class header_parser {
 public:
  header_parser(const std::string& path, std::string_view text) : path_(path), text_(text) {}

  npy_header parse() {
    npy_header h;
    bool has_descr = false, has_order = false, has_shape = false;
    skip_ws();
    expect('{', "'{' opening the header dict");
    skip_ws();
    while (peek() != '}') {
      const std::size_t key_at = pos_;
      const std::string key = string_literal("a quoted key ('descr', 'fortran_order', 'shape')");
      skip_ws();
      expect(':', "':' after the key");
      skip_ws();
      if (key == "descr") {
        once(has_descr, key, key_at);
        if (peek() == '[')
          fail(errc::invalid_data, path_,
               fmt::format("structured (record) dtype {} is not supported; {}",
                           printable(text_.substr(pos_, 40)), supported_dtypes));
        h.dtype = parse_descr(path_, string_literal("a quoted dtype such as '<f4'"));
      } else if (key == "fortran_order") {
        once(has_order, key, key_at);
        h.fortran_order = boolean();
      } else if (key == "shape") {
        once(has_shape, key, key_at);
        h.shape = shape();
      } else {
        bad(key_at, fmt::format("unknown key '{}'; expected 'descr', 'fortran_order', 'shape'",
                                printable(key)));
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        skip_ws();
      } else if (peek() != '}') {
        bad(pos_, "expected ',' or '}' after a value");
      }
    }
    ++pos_;  // '}'
    skip_ws();
    if (pos_ != text_.size()) bad(pos_, "expected only spaces and a newline after '}'");
    if (!has_descr || !has_order || !has_shape)
      bad(pos_, fmt::format("missing key '{}'; expected 'descr', 'fortran_order' and 'shape'",
                            !has_descr   ? "descr"
                            : !has_order ? "fortran_order"
                                         : "shape"));
    return h;
  }

 private:
  [[noreturn]] void bad(std::size_t at, const std::string& what) const {
    fail(errc::invalid_data, path_,
         fmt::format("header does not parse at byte {}: {} (header: {})", at, what,
                     printable(text_)));
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_ws() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  void expect(char c, std::string_view what) {
    if (peek() != c) bad(pos_, fmt::format("expected {}", what));
    ++pos_;
  }
  void once(bool& seen, const std::string& key, std::size_t at) const {
    if (seen) bad(at, fmt::format("key '{}' appears twice", key));
    seen = true;
  }

  // 'text' or "text" without escapes (no valid header needs one).
  std::string string_literal(std::string_view what) {
    const char q = peek();
    if (q != '\'' && q != '"') bad(pos_, fmt::format("expected {}", what));
    const std::size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != q) {
      if (text_[pos_] == '\\' || text_[pos_] == '\n')
        bad(pos_, "escapes and newlines inside a string are not supported");
      ++pos_;
    }
    if (pos_ >= text_.size()) bad(start - 1, "unterminated string");
    return std::string(text_.substr(start, pos_++ - start));
  }

  bool boolean() {
    if (text_.substr(pos_, 4) == "True") return pos_ += 4, true;
    if (text_.substr(pos_, 5) == "False") return pos_ += 5, false;
    bad(pos_, "expected True or False for 'fortran_order'");
  }

  // A Python tuple of non-negative integers: (), (n,), (n, m), (n, m,) ...
  std::vector<std::uint64_t> shape() {
    expect('(', "'(' opening the shape tuple");
    std::vector<std::uint64_t> dims;
    bool trailing_comma = false;
    skip_ws();
    while (peek() != ')') {
      if (peek() == '-') bad(pos_, "negative dimension; expected a non-negative integer");
      if (peek() < '0' || peek() > '9') bad(pos_, "expected an integer dimension or ')'");
      if (dims.size() >= 64) bad(pos_, "more than 64 dimensions");
      const std::size_t start = pos_;
      std::uint64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        const auto digit = static_cast<std::uint64_t>(peek() - '0');
        if (v > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
          bad(start, "dimension does not fit in 64 bits");
        v = v * 10 + digit;
        ++pos_;
      }
      if (pos_ - start > 1 && text_[start] == '0') bad(start, "integer with a leading zero");
      dims.push_back(v);
      skip_ws();
      trailing_comma = false;
      if (peek() == ',') {
        ++pos_, trailing_comma = true;
        skip_ws();
      } else if (peek() != ')') {
        bad(pos_, "expected ',' or ')' in the shape tuple");
      }
    }
    // (5) is the integer 5 in Python, not a tuple.
    if (dims.size() == 1 && !trailing_comma)
      bad(pos_, "a one-element shape needs a trailing comma, as in (5,)");
    ++pos_;  // ')'
    return dims;
  }

  const std::string& path_;
  std::string_view text_;
  std::size_t pos_ = 0;
};

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

}  // namespace

table read_npy(const std::string& path) {
  const io::file_bytes file(path, {.kind = ".npy file", .copy = true});
  if (file.size() == 0)
    fail(errc::invalid_data, path, "empty file; expected a .npy file (\\x93NUMPY...)");
  const auto* bytes = reinterpret_cast<const std::byte*>(file.data());
  const auto u8 = [&](std::size_t i) { return std::to_integer<unsigned>(bytes[i]); };

  // Preamble: magic, version, header length.
  static constexpr unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  const std::size_t n_magic = std::min<std::size_t>(6, file.size());
  if (std::memcmp(bytes, magic, n_magic) != 0) {
    if (file.size() >= 4 && std::memcmp(bytes, "PK\x03\x04", 4) == 0)
      fail(errc::invalid_data, path,
           "is a .npz archive (zip), not a .npy file; extract one array from it first");
    fail(errc::invalid_data, path,
         "bad magic: the file does not start with \\x93NUMPY; expected a NumPy .npy file");
  }
  if (file.size() < 10)
    fail(errc::invalid_data, path,
         fmt::format("truncated: {} bytes, shorter than the 10-byte .npy preamble", file.size()));
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
    if (file.size() < 12)
      fail(errc::invalid_data, path,
           fmt::format("truncated: {} bytes, shorter than the 12-byte .npy {}.0 preamble",
                       file.size(), major));
    header_len = std::size_t{u8(8)} | (std::size_t{u8(9)} << 8) | (std::size_t{u8(10)} << 16) |
                 (std::size_t{u8(11)} << 24);
    header_at = 12;
  }
  if (header_len > file.size() - header_at)
    fail(errc::invalid_data, path,
         fmt::format("truncated header: the preamble announces {} header bytes but only {} "
                     "follow",
                     header_len, file.size() - header_at));
  const std::string_view header_text(reinterpret_cast<const char*>(bytes + header_at), header_len);
  const npy_header h = header_parser(path, header_text).parse();

  // Shape and size, checked against the file before anything is allocated.
  if (h.shape.empty() || h.shape.size() > 2)
    fail(errc::invalid_data, path,
         fmt::format("array has {} dimensions (shape {}); expected 1 (one column) or 2 (rows x "
                     "columns)",
                     h.shape.size(), shape_text(h.shape)));
  for (const std::uint64_t d : h.shape)
    if (d == 0)
      fail(errc::invalid_data, path,
           fmt::format("array is empty (shape {}); expected at least one row and one column",
                       shape_text(h.shape)));
  const std::size_t data_at = header_at + header_len;
  const std::size_t data_bytes = file.size() - data_at;
  std::uint64_t n_elems = 1;
  for (const std::uint64_t d : h.shape)
    if (__builtin_mul_overflow(n_elems, d, &n_elems))
      fail(errc::invalid_data, path,
           fmt::format("shape {} has more elements than fit in 64 bits; the file holds {} data "
                       "bytes",
                       shape_text(h.shape), data_bytes));
  std::uint64_t n_needed = 0;
  if (__builtin_mul_overflow(n_elems, std::uint64_t{h.dtype.size}, &n_needed) ||
      n_needed != data_bytes)
    fail(errc::invalid_data, path,
         fmt::format("size mismatch: shape {} of '{}' needs {} x {} data bytes but the file holds "
                     "{} after the header ({})",
                     shape_text(h.shape), h.dtype.descr, n_elems, h.dtype.size, data_bytes,
                     n_needed > data_bytes || n_needed / h.dtype.size != n_elems
                         ? "truncated, or a wrong shape"
                         : "extra bytes after the data"));

  const auto n_rows = static_cast<std::size_t>(h.shape[0]);
  const auto n_cols = h.shape.size() == 2 ? static_cast<std::size_t>(h.shape[1]) : std::size_t{1};

  table t;
  t.source = path;
  t.n_rows = n_rows;
  t.columns.resize(n_cols);
  std::vector<float*> dst(n_cols);
  for (std::size_t j = 0; j < n_cols; ++j) {
    column& c = t.columns[j];
    c.name = fmt::format("col_{}", j + 1);
    c.kind = column_kind::numeric;
    c.values.resize(n_rows);
    dst[j] = c.values.data();
  }
  const std::byte* src = bytes + data_at;
  const bool col_major = h.fortran_order;
  switch (h.dtype.type) {
    case elem_type::f4:
      to_columns<float>(h.dtype.swap, n_rows, n_cols, col_major, src, dst.data());
      break;
    case elem_type::f8:
      to_columns<double>(h.dtype.swap, n_rows, n_cols, col_major, src, dst.data());
      break;
    case elem_type::i4:
      to_columns<std::int32_t>(h.dtype.swap, n_rows, n_cols, col_major, src, dst.data());
      break;
    case elem_type::i8:
      to_columns<std::int64_t>(h.dtype.swap, n_rows, n_cols, col_major, src, dst.data());
      break;
  }

  // Integers are always finite; floats: NaN is a missing value, infinity an error.
  if (h.dtype.type == elem_type::f4 || h.dtype.type == elem_type::f8) {
    for (std::size_t j = 0; j < n_cols; ++j) {
      column& c = t.columns[j];
      const float* v = c.values.data();
      std::size_t n_nan = 0;
      const bool any_inf = scan_column(n_rows, v, n_nan);
      c.n_missing = n_nan;
      if (!any_inf) continue;
      const std::size_t i = static_cast<std::size_t>(
          std::find_if(v, v + n_rows, [](float x) { return std::isinf(x); }) - v);
      const std::size_t at = col_major ? j * n_rows + i : i * n_cols + j;
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
  return t;
}

}  // namespace tmlp
