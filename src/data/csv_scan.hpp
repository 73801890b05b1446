// The byte-level pieces of the CSV reader (header-only, one includer) (src/data/csv.cpp): reading
// one field, finding where a record ends, splitting the text into chunks that start at record
// starts, detecting the delimiter, checking UTF-8.
//
// Grammar (RFC 4180 plus the usual extensions): records end at '\n' or "\r\n" outside quotes (a
// '\r' just before the end of the text too); a blank line (empty, or a lone '\r') is skipped
// anywhere; a field is either unquoted (no '"' anywhere in it: a quote inside an unquoted field is
// an error, not a literal) or starts with '"', ends at the next lone '"', writes '"' as '""', may
// hold delimiters and newlines, and must be followed by a delimiter or the end of the record.
// Because quotes appear only where the grammar allows them, toggling a flag at every '"' tracks
// the quote state of valid text exactly; the parser reports the first place where text is not
// valid, so chunk boundaries found by toggling are right up to that place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include <fast_float/fast_float.h>

#include "core/parallel.hpp"

namespace tmlp::data {

inline constexpr std::size_t csv_max_record_bytes = std::size_t{16} << 20;  // 16 MiB

// One field as found in the text. [begin, end) is its content: without the surrounding quotes,
// still with doubled quotes if `escaped`; an unquoted field loses a '\r' that ends its line.
struct csv_field {
  const char* begin = nullptr;
  const char* end = nullptr;
  bool quoted = false;
  bool escaped = false;        // holds "" (see csv_text)
  std::size_t n_newlines = 0;  // '\n' inside the quotes
};

enum class csv_status : int {
  ok = 0,
  quote_in_unquoted,  // '"' inside an unquoted field
  unterminated,       // a quoted field without its closing quote before `end`
  after_quote,        // something other than a delimiter or line end after a closing quote
};

// Reads the field that starts at p (p <= end). On ok, p is left at its terminator: the
// delimiter, '\n', '\r' of "\r\n", or end. On an error p is left where the problem is.
csv_status csv_read_field(const char*& p, const char* end, char delimiter, csv_field& f) noexcept;

// p at a field's terminator: steps over it. True if another field of the record follows,
// false at the end of the record (p then at the next record's start or end).
inline bool csv_next_field(const char*& p, const char* end, char delimiter) noexcept {
  if (p == end) return false;
  if (*p == delimiter) {
    ++p;
    return true;
  }
  if (*p == '\r') ++p;
  if (p != end) ++p;  // '\n'
  return false;
}

// Whether a field ends at q (a number's last digit + 1): delimiter, line end or the text's end.
inline bool csv_field_ends_at(const char* q, const char* end, char delimiter) noexcept {
  return q == end || *q == delimiter || *q == '\n' ||
         (*q == '\r' && (q + 1 == end || q[1] == '\n'));
}

// If a blank line starts at p: the start of the next line, else nullptr.
inline const char* csv_skip_blank(const char* p, const char* end) noexcept {
  if (*p == '\n') return p + 1;
  if (*p == '\r' && (p + 1 == end || p[1] == '\n')) return p + 1 == end ? end : p + 2;
  return nullptr;
}

// The field's text: a view into the input, or (escaped fields) `scratch` with "" made ".
std::string_view csv_text(const csv_field& f, std::string& scratch);

// The '\n' that ends the record starting at p (quotes toggled at every '"'), or end. Adds the
// '\n' passed inside quotes to n_inner. `has_quotes` false: the text holds no '"' at all.
const char* csv_record_end(const char* p, const char* end, bool has_quotes,
                           std::size_t& n_inner) noexcept;

// A piece of the data, [begin, end), starting at a record start.
struct csv_chunk {
  const char* begin = nullptr;
  const char* end = nullptr;
  std::size_t first_line = 0;  // physical line number (1-based) of begin
  std::size_t first_row = 0;   // index of its first record among all data records
  std::size_t n_rows = 0;      // non-blank records in it
};

// Cuts [begin, end) (the data after the header; its first byte on line `first_line`) into
// chunks of about chunk_bytes (at most max_chunks), each starting at a record start, and
// counts their rows and lines. The boundaries are found by one sequential scan (memchr), the
// counting runs with core::parallel_for_index in the caller's task arena.
std::vector<csv_chunk> csv_split(const char* begin, const char* end, std::size_t first_line,
                                 std::size_t chunk_bytes, std::size_t max_chunks);

// The delimiter among , ; TAB | whose count outside quotes is the same, and not zero, on each
// of the first records of `text` (the largest such count wins; ties in that order). If none is
// consistent, the candidate seen most often in the first record; ',' if none appears.
char csv_detect_delimiter(std::string_view text) noexcept;

// Offset of the first byte of s that does not belong to a valid UTF-8 sequence, or npos.
std::size_t csv_invalid_utf8(std::string_view s) noexcept;

// Whether t is a boolean word (true false yes no t f y n, any case); v is then 1 or 0.
bool csv_bool_word(std::string_view t, float& v) noexcept;

enum class csv_number : int { none = 0, finite, non_finite };
// Parses t, less leading and trailing spaces, as a whole float (an optional '+' allowed),
// exactly rounded and locale-free. non_finite: inf, nan, infinity or out of float range.
csv_number csv_parse_number(std::string_view t, float& v) noexcept;

// ---- definitions ----

inline csv_status csv_read_field(const char*& p, const char* end, char delimiter,
                                 csv_field& f) noexcept {
  f = csv_field{};
  if (p == end || *p != '"') {
    const char* q = p;
    while (q != end && *q != delimiter && *q != '\n') {
      if (*q == '"') {
        p = q;
        return csv_status::quote_in_unquoted;
      }
      ++q;
    }
    f.begin = p;
    f.end = q;
    if (q != p && q[-1] == '\r' && (q == end || *q == '\n')) --f.end;
    p = q;
    return csv_status::ok;
  }
  f.quoted = true;
  const char* q = p + 1;
  f.begin = q;
  for (;;) {
    const void* hit = std::memchr(q, '"', static_cast<std::size_t>(end - q));
    if (hit == nullptr) {
      f.n_newlines += static_cast<std::size_t>(std::count(q, end, '\n'));
      return csv_status::unterminated;
    }
    const char* close = static_cast<const char*>(hit);
    f.n_newlines += static_cast<std::size_t>(std::count(q, close, '\n'));
    if (close + 1 != end && close[1] == '"') {
      f.escaped = true;
      q = close + 2;
      continue;
    }
    f.end = close;
    p = close + 1;
    return csv_field_ends_at(p, end, delimiter) ? csv_status::ok : csv_status::after_quote;
  }
}

inline std::string_view csv_text(const csv_field& f, std::string& scratch) {
  if (!f.escaped) return {f.begin, static_cast<std::size_t>(f.end - f.begin)};
  scratch.clear();
  for (const char* q = f.begin; q != f.end; ++q) {
    scratch.push_back(*q);
    if (*q == '"') ++q;  // the second quote of ""
  }
  return scratch;
}

inline const char* csv_record_end(const char* p, const char* end, bool has_quotes,
                                  std::size_t& n_inner) noexcept {
  const char* nl =
      static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
  if (nl == nullptr) nl = end;
  if (!has_quotes) return nl;
  for (;;) {
    // Outside quotes: the record ends at nl unless a quote opens before it.
    const void* open = std::memchr(p, '"', static_cast<std::size_t>(nl - p));
    if (open == nullptr) return nl;
    p = static_cast<const char*>(open) + 1;
    const void* close = std::memchr(p, '"', static_cast<std::size_t>(end - p));
    const char* c = close == nullptr ? end : static_cast<const char*>(close);
    if (c > nl || c == end) {  // the quoted part spans newlines, or is not closed
      n_inner += static_cast<std::size_t>(std::count(nl, c, '\n'));
      if (c == end) return end;
      nl = static_cast<const char*>(std::memchr(c, '\n', static_cast<std::size_t>(end - c)));
      if (nl == nullptr) nl = end;
    }
    p = c + 1;
  }
}

inline std::vector<csv_chunk> csv_split(const char* begin, const char* end, std::size_t first_line,
                                        std::size_t chunk_bytes, std::size_t max_chunks) {
  const auto size = static_cast<std::size_t>(end - begin);
  const std::size_t step =
      std::max({chunk_bytes, std::size_t{1},
                (size + max_chunks - 1) / std::max<std::size_t>(max_chunks, 1)});
  const bool has_quotes = std::memchr(begin, '"', size) != nullptr;
  std::vector<const char*> bounds{begin};
  if (!has_quotes) {
    while (static_cast<std::size_t>(end - bounds.back()) > step) {
      const char* target = bounds.back() + step;
      const void* nl = std::memchr(target, '\n', static_cast<std::size_t>(end - target));
      if (nl == nullptr) break;
      const char* b = static_cast<const char*>(nl) + 1;
      if (b == end) break;
      bounds.push_back(b);
    }
  } else {
    const char* target = begin + std::min(step, size);
    for (const char* p = begin; p != end && target < end;) {
      std::size_t ignored = 0;
      const char* e = csv_record_end(p, end, true, ignored);
      p = e == end ? end : e + 1;
      if (p >= target && p != end) {
        bounds.push_back(p);
        target = static_cast<std::size_t>(end - p) > step ? p + step : end;
      }
    }
  }
  bounds.push_back(end);

  std::vector<csv_chunk> chunks(bounds.size() - 1);
  std::vector<std::size_t> n_newlines(chunks.size());
  core::parallel_for_index(chunks.size(), [&](std::size_t k) {
    const char* p = bounds[k];
    const char* e = bounds[k + 1];
    std::size_t rows = 0, lines = 0;
    while (p != e) {
      if (const char* next = csv_skip_blank(p, e)) {
        lines += next[-1] == '\n' ? 1 : 0;
        p = next;
        continue;
      }
      const char* r = csv_record_end(p, e, has_quotes, lines);
      ++rows;
      if (r == e) break;
      ++lines;
      p = r + 1;
    }
    chunks[k].begin = bounds[k];
    chunks[k].end = e;
    chunks[k].n_rows = rows;
    n_newlines[k] = lines;
  });
  std::size_t row = 0, line = first_line;
  for (std::size_t k = 0; k < chunks.size(); ++k) {
    chunks[k].first_row = row;
    chunks[k].first_line = line;
    row += chunks[k].n_rows;
    line += n_newlines[k];
  }
  return chunks;
}

inline char csv_detect_delimiter(std::string_view text) noexcept {
  constexpr std::array<char, 4> candidates{',', ';', '\t', '|'};
  constexpr std::size_t n_cand = candidates.size();
  constexpr std::size_t max_records = 20, sample_bytes = std::size_t{64} << 10;
  std::array<std::size_t, n_cand> first{};
  std::array<bool, n_cand> consistent{true, true, true, true};
  const char* p = text.data();
  const char* const end = p + text.size();
  std::size_t n_records = 0;
  while (p != end && n_records < max_records &&
         (n_records == 0 || static_cast<std::size_t>(p - text.data()) < sample_bytes)) {
    if (const char* next = csv_skip_blank(p, end)) {
      p = next;
      continue;
    }
    std::size_t ignored = 0;
    const char* e = csv_record_end(p, end, true, ignored);
    std::array<std::size_t, n_cand> count{};
    bool quoted = false;
    for (const char* q = p; q != e; ++q) {
      if (*q == '"') quoted = !quoted;
      if (quoted) continue;
      for (std::size_t i = 0; i < n_cand; ++i) count[i] += *q == candidates[i] ? 1 : 0;
    }
    for (std::size_t i = 0; i < n_cand; ++i) {
      if (n_records == 0) first[i] = count[i];
      if (count[i] == 0 || count[i] != first[i]) consistent[i] = false;
    }
    ++n_records;
    p = e == end ? end : e + 1;
  }
  std::size_t best = n_cand;
  for (std::size_t i = 0; i < n_cand; ++i)
    if (consistent[i] && (best == n_cand || first[i] > first[best])) best = i;
  if (best == n_cand)
    for (std::size_t i = 0; i < n_cand; ++i)
      if (first[i] > 0 && (best == n_cand || first[i] > first[best])) best = i;
  return best == n_cand ? ',' : candidates[best];
}

inline std::size_t csv_invalid_utf8(std::string_view s) noexcept {
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // Eight ASCII bytes at a time.
    if (i + 8 <= n) {
      std::uint64_t w;
      std::memcpy(&w, b + i, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned c = b[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned lo = 0x80, hi = 0xBF;  // range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return i;
    }
    if (i + len > n || b[i + 1] < lo || b[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k)
      if (b[i + k] < 0x80 || b[i + k] > 0xBF) return i;
    i += len;
  }
  return std::string_view::npos;
}

inline bool csv_bool_word(std::string_view t, float& v) noexcept {
  if (t.empty() || t.size() > 5) return false;
  char low[5];
  for (std::size_t i = 0; i < t.size(); ++i)
    low[i] = (t[i] >= 'A' && t[i] <= 'Z') ? static_cast<char>(t[i] - 'A' + 'a') : t[i];
  const std::string_view w(low, t.size());
  if (w == "true" || w == "yes" || w == "t" || w == "y") {
    v = 1.0f;
    return true;
  }
  if (w == "false" || w == "no" || w == "f" || w == "n") {
    v = 0.0f;
    return true;
  }
  return false;
}

inline csv_number csv_parse_number(std::string_view t, float& v) noexcept {
  const char* b = t.data();
  const char* e = b + t.size();
  while (b != e && *b == ' ') ++b;
  while (e != b && e[-1] == ' ') --e;
  if (b != e && *b == '+') {
    ++b;
    if (b != e && (*b == '+' || *b == '-')) return csv_number::none;
  }
  if (b == e) return csv_number::none;
  const auto r = fast_float::from_chars(b, e, v);
  if (r.ec != std::errc() || r.ptr != e) return csv_number::none;
  return std::isfinite(v) ? csv_number::finite : csv_number::non_finite;
}

}  // namespace tmlp::data
