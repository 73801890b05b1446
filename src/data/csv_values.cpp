// The values pass of tmlp::read_csv (see csv.cpp): every chunk's fields into float columns,
// counting per column what kinds of values it holds.
#include <cmath>
#include <limits>

#include "data/csv_reader.hpp"

namespace tmlp::data {
namespace {

constexpr float missing_value = std::numeric_limits<float>::quiet_NaN();

// Fields left in a record after the one ending at p (for a message only).
std::size_t count_rest(const char* p, const char* end, char delimiter) {
  std::size_t n = 0;
  while (csv_next_field(p, end, delimiter)) {
    csv_field f;
    if (csv_read_field(p, end, delimiter, f) != csv_status::ok) break;
    ++n;
  }
  return n;
}

// A field that is not a plain number, in column col (1-based): a missing value, a number
// (finite or not), a boolean word or other text. Counts it into k and returns its value (NaN
// unless a finite number or a boolean word); fails on text that is not UTF-8.
std::optional<failure> read_other_field(const csv_reader& rd, std::string_view t, std::size_t line,
                                        std::size_t col, column_counts& k, float& value) {
  value = missing_value;
  float v = 0.0f;
  if (is_missing_token(t)) {
    ++k.n_missing;
  } else if (const csv_number num = csv_parse_number(t, v); num != csv_number::none) {
    ++k.n_number;
    if (num == csv_number::finite) {
      value = v;
    } else if (k.first_non_finite.line == 0) {
      k.first_non_finite = {line, col, quoted_excerpt(t)};
    }
  } else {
    if (csv_bool_word(t, v)) {
      ++k.n_bool;
      value = v;
    } else {
      if (const std::size_t bad = csv_invalid_utf8(t); bad != std::string_view::npos)
        return rd.bad_utf8(line, col, bad);
      ++k.n_text;
    }
    if (k.first_text.line == 0) k.first_text = {line, col, quoted_excerpt(t)};
  }
  return std::nullopt;
}

}  // namespace

// Parses chunk `ch` into out[c][row] for every column c; counts into counts[c].
std::optional<failure> parse_values(const csv_reader& rd, const csv_chunk& ch, float* const* out,
                                    column_counts* counts) {
  const std::size_t n_cols = rd.names.size();
  const char delim = rd.delimiter;
  const char* p = ch.begin;
  const char* const end = ch.end;
  std::size_t line = ch.first_line, row = ch.first_row;
  const std::size_t row_end = ch.first_row + ch.n_rows;
  std::string scratch;
  while (p != end) {
    if (const char* next = csv_skip_blank(p, end)) {
      p = next;
      ++line;
      continue;
    }
    if (row == row_end)
      return failure{errc::invalid_data,
                     rd.where(line, 0) + ": internal error: more rows than counted"};
    const char* const record = p;
    const std::size_t record_line = line;
    std::size_t c = 0;
    for (;; ++c) {
      if (c == n_cols) {
        const std::size_t n = n_cols + count_rest(p - 1, end, delim);
        return failure{errc::invalid_data,
                       fmt::format("{}: ragged row: {} fields, expected {} (as in the header) "
                                   "separated by {}",
                                   rd.where(record_line, c + 1), n, n_cols, describe(delim))};
      }
      float v = 0.0f;
      const std::size_t field_line = line;
      if (p != end) {  // fast path: an unquoted, untrimmed finite number
        const auto r = fast_float::from_chars(p, end, v);
        if (r.ec == std::errc() && r.ptr != p && std::isfinite(v) &&
            csv_field_ends_at(r.ptr, end, delim)) {
          out[c][row] = v;
          ++counts[c].n_number;
          p = r.ptr;
          if (csv_next_field(p, end, delim)) continue;
          break;
        }
      }
      csv_field f;
      const csv_status s = csv_read_field(p, end, delim, f);
      if (s != csv_status::ok) return rd.field_failure(s, field_line, c + 1);
      line += f.n_newlines;
      float value = 0.0f;
      if (auto fl = read_other_field(rd, csv_text(f, scratch), field_line, c + 1, counts[c], value))
        return fl;
      out[c][row] = value;
      if (!csv_next_field(p, end, delim)) break;
    }
    if (c + 1 < n_cols)
      return failure{errc::invalid_data,
                     fmt::format("{}: ragged row: {} field{}, expected {} (as in the header) "
                                 "separated by {}",
                                 rd.where(record_line, c + 2), c + 1, c == 0 ? "" : "s", n_cols,
                                 describe(delim))};
    if (static_cast<std::size_t>(p - record) > csv_max_record_bytes)
      return failure{errc::invalid_data,
                     fmt::format("{}: line of {} bytes; expected lines of at most 16 MiB",
                                 rd.where(record_line, 0), p - record)};
    ++line;
    ++row;
  }
  if (row != row_end)
    return failure{errc::invalid_data,
                   rd.where(line, 0) + ": internal error: fewer rows than counted"};
  return std::nullopt;
}

}  // namespace tmlp::data
