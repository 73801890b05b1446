// The .npy header parser (see npy_header.hpp).
#include "data/npy_header.hpp"

#include <bit>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace tmlp::data {

void npy_fail(errc code, const std::string& path, const std::string& what) {
  throw error(code, fmt::format("{}: {}", path, what));
}

std::string npy_shape_text(const std::vector<std::uint64_t>& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

namespace {

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

npy_dtype parse_descr(const std::string& path, const std::string& descr) {
  if (descr == "|O" || descr == "O" || descr == "<O" || descr == ">O" || descr == "=O")
    npy_fail(errc::invalid_data, path,
             fmt::format("dtype '{}' is an object array (pickled Python objects), which is not "
                         "read; {}",
                         printable(descr), npy_supported_dtypes));
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
    npy_fail(
        errc::invalid_data, path,
        fmt::format("dtype '{}' is not supported; {}", printable(descr), npy_supported_dtypes));
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
          npy_fail(errc::invalid_data, path_,
                   fmt::format("structured (record) dtype {} is not supported; {}",
                               printable(text_.substr(pos_, 40)), npy_supported_dtypes));
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
    npy_fail(errc::invalid_data, path_,
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

}  // namespace

npy_header parse_npy_header(const std::string& path, std::string_view text) {
  return header_parser(path, text).parse();
}

}  // namespace tmlp::data
