// The state of one tmlp::read_csv (csv.cpp) shared by its passes: the values pass
// (csv_values.cpp) and the levels pass (csv_levels.cpp), and how they report problems.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "data/csv_scan.hpp"
#include "tmlp/data.hpp"
#include "tmlp/error.hpp"

namespace tmlp::data {

// A field worth naming in a message: where it is and (a prefix of) its text.
struct field_note {
  std::size_t line = 0;  // 0: none
  std::size_t col = 0;
  std::string text;
};

struct column_counts {
  std::size_t n_number = 0, n_bool = 0, n_text = 0, n_missing = 0;
  field_note first_text;        // first boolean word or other text
  field_note first_non_finite;  // first inf / nan / out-of-range number
};

struct failure {
  errc code = errc::invalid_data;
  std::string message;
};

// Text for a message: at most 40 bytes (cut at a UTF-8 character start), in quotes.
inline std::string quoted_excerpt(std::string_view t) {
  if (t.size() > 40) {
    std::size_t n = 40;
    while (n > 0 && (static_cast<unsigned char>(t[n]) & 0xC0) == 0x80) --n;
    return fmt::format("'{}...'", t.substr(0, n));
  }
  return fmt::format("'{}'", t);
}

inline std::string describe(char d) {
  if (d == '\t') return "TAB";
  return fmt::format("'{}'", d);
}

// The state one read shares between its passes.
struct csv_reader {
  std::string_view source;
  char delimiter = ',';
  std::vector<std::string> names;
  std::vector<csv_chunk> chunks;

  std::string where(std::size_t line, std::size_t col) const {
    return col == 0 ? fmt::format("{}:{}", source, line)
                    : fmt::format("{}:{}:{}", source, line, col);
  }
  std::string column_label(std::size_t col) const {  // col 1-based
    return col >= 1 && col <= names.size() ? fmt::format(" (column '{}')", names[col - 1]) : "";
  }
  failure field_failure(csv_status s, std::size_t line, std::size_t col) const {
    switch (s) {
      case csv_status::quote_in_unquoted:
        return {errc::invalid_data,
                fmt::format("{}: quote inside an unquoted field{}; expected the whole field in "
                            "quotes with inner quotes doubled (\"a \"\"b\"\" c\")",
                            where(line, col), column_label(col))};
      case csv_status::unterminated:
        return {errc::invalid_data,
                fmt::format("{}: unterminated quoted field{}: no closing quote before the end "
                            "of the file",
                            where(line, col), column_label(col))};
      case csv_status::after_quote:
        return {errc::invalid_data,
                fmt::format("{}: unexpected text after a closing quote{}; expected the "
                            "delimiter {} or the end of the line",
                            where(line, col), column_label(col), describe(delimiter))};
      case csv_status::ok:
        break;
    }
    return {errc::invalid_data, where(line, col) + ": malformed field"};
  }
  failure bad_utf8(std::size_t line, std::size_t col, std::size_t offset) const {
    return {errc::invalid_data,
            fmt::format("{}: text is not valid UTF-8 (byte {} of the field){}; expected UTF-8 "
                        "text",
                        where(line, col), offset + 1, column_label(col))};
  }
};

// Parses chunk `ch` into out[c][row] for every column c (numbers, boolean words as 0/1, NaN
// for anything else); counts into counts[c]. Returns the chunk's first structure problem.
std::optional<failure> parse_values(const csv_reader& rd, const csv_chunk& ch, float* const* out,
                                    column_counts* counts);

// The levels pass over columns cat_cols of out (slot[c]: index of column c in cat_cols, or -1):
// frees their floats, reads their fields into chunk-local dictionaries in parallel, merges the
// dictionaries in chunk order and remaps the codes, so levels and codes are the same for any
// thread count and chunk size. Sets each such column's levels, codes and n_missing.
void read_levels(const csv_reader& rd, const std::vector<std::size_t>& cat_cols,
                 const std::vector<int>& slot, table& out);

}  // namespace tmlp::data
