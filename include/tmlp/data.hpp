// Tabular data: reading CSV and NumPy files into a typed, column-wise table.
//
//     tmlp::table t = tmlp::read_csv("data.csv");          // types inferred per column
//     const tmlp::column* y = t.find("target");
//     tmlp::table n = tmlp::read_npy("x.npy");             // numeric columns col_1, col_2, ...
//     tmlp::table_view v = t;                              // non-owning view of the same columns
//
// Every reader throws tmlp::error (errc::io or errc::invalid_data) with one line that names the
// file and, for text, the line and column (1-based) of the first problem and what was expected.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tmlp {

enum class column_kind : int {
  numeric = 0,  // float values; NaN marks a missing value
  categorical,  // codes into levels; -1 marks a missing value
  boolean,      // float 0 or 1 (from true/false, yes/no, t/f, y/n in any case); NaN if missing
};
std::string_view to_string(column_kind k) noexcept;

struct column {
  std::string name;
  column_kind kind = column_kind::numeric;
  std::vector<float> values;        // numeric, boolean: one per row
  std::vector<std::int32_t> codes;  // categorical: one per row, index into levels or -1
  std::vector<std::string> levels;  // categorical: distinct texts in order of first appearance
  std::size_t n_missing = 0;
};

// A const, non-owning view of one column: the same fields as tmlp::column, pointing into
// storage someone else owns (a tmlp::table, a tmlp::mapped_dataset's mapping, ...). Invariants
// every producer keeps: values (numeric, boolean) or codes (categorical) hold exactly the
// table's n_rows entries and the other span is empty; every code is -1 (missing) or an index
// into levels.
struct column_view {
  std::string_view name;
  column_kind kind = column_kind::numeric;
  std::span<const float> values;        // numeric, boolean: n_rows; NaN marks a missing value
  std::span<const std::int32_t> codes;  // categorical: n_rows, each -1 or < levels.size()
  std::span<const std::string> levels;  // categorical: distinct texts
  std::size_t n_missing = 0;
};

struct table;

// A const, non-owning view of a table (see column_view). Valid while the storage it was made
// from lives and is not modified; the column list itself is owned by the view (cheap to build:
// one small entry per column, no data copied).
struct table_view {
  std::string_view source;  // names the data in messages (a file path)
  std::size_t n_rows = 0;
  std::vector<column_view> columns;
  bool mapped = false;  // its columns point into a memory-mapped file (mapped_dataset::view)

  table_view() = default;
  table_view(const table& t);  // implicit: a table is accepted wherever a view is

  // The column with this name, or nullptr.
  const column_view* find(std::string_view name) const noexcept;
};

struct table {
  std::string source;  // file it was read from
  std::size_t n_rows = 0;
  std::vector<column> columns;

  // The column with this name, or nullptr.
  const column* find(std::string_view name) const noexcept;
  column* find(std::string_view name) noexcept;

  // A view of every column (also an implicit conversion: a table is accepted wherever a
  // table_view is). Valid while this table lives and its columns are not resized.
  table_view view() const { return table_view(*this); }
};

// Texts read as a missing value in any column: the empty field, NA, NaN, null, ? (exactly).
inline constexpr std::array<std::string_view, 5> missing_tokens{"", "NA", "NaN", "null", "?"};
bool is_missing_token(std::string_view field) noexcept;  // one of missing_tokens

struct csv_options {
  char delimiter = 0;  // 0: detect among , ; TAB | from the first lines
  bool header = true;  // false: columns are named col_1, col_2, ...
  int n_threads = 0;   // 0: every core; parsing runs in its own task arena
  std::size_t chunk_bytes = std::size_t{8} << 20;  // unit of parallel parsing
  // Columns forced to a kind regardless of inference (by name). A value that does not parse
  // as a number in a forced numeric column is an error naming its line and column.
  std::vector<std::string> numeric, categorical;
  // true: a forced name that is not a column of the file is passed over instead (for reading
  // new data with the kinds a model was trained with, where a missing column is reported later).
  bool forced_may_be_absent = false;
};

// Reads a CSV/TSV file (RFC 4180: quoted fields with doubled quotes, delimiters and newlines
// inside; LF or CRLF; optional UTF-8 BOM; trailing blank lines; last line with or without a
// newline). Numbers are parsed exactly and locale-free. A column is numeric if every non-missing
// field is a finite number, boolean if every non-missing field is a boolean word, categorical
// otherwise. Rejected with a message: a missing or unreadable path, a directory, an empty file,
// a header without rows, duplicate or empty column names, ragged rows, an unterminated quote,
// text that is not UTF-8, NUL bytes (a binary file), a line over 16 MiB, inf or nan literals
// (or numbers beyond float32) in a numeric column, a quote inside an unquoted field. Blank
// lines are skipped anywhere; a column number in a message is the field's position (1-based).
// Categorical levels and codes are the same for any thread count and chunk size.
table read_csv(const std::string& path, const csv_options& options = {});

// The same on text in memory; `source` names it in messages.
table read_csv_text(std::string_view text, const csv_options& options = {},
                    const std::string& source = "<memory>");

// One column typed from the texts of its fields exactly as read_csv types a column of a file
// (for data that arrives as text from elsewhere, e.g. a pandas object column): missing if
// is_missing_token, numeric if every other field is a finite float32 number (parsed as read_csv
// parses it), boolean if every one is a boolean word, categorical otherwise (levels are the
// texts in order of first appearance). `forced` as csv_options::numeric / categorical. Throws
// tmlp::error naming `source`, the column, the (0-based) row and the text: a non-finite number,
// or text in a column forced numeric, or text that is not UTF-8.
enum class forced_kind : int { none = 0, numeric, categorical };
column column_from_texts(const std::string& name, std::span<const std::string_view> fields,
                         forced_kind forced = forced_kind::none,
                         std::string_view source = "<memory>");

// Reads a NumPy .npy file (format 1.0 to 3.0) of float32, float64, int32 or int64 (either byte
// order) in C or Fortran order, 1-D (one column) or 2-D. Columns are named col_1, col_2, ...;
// values are rounded to float32 (a finite float64 beyond its range is an error), NaN is a
// missing value, an infinity is an error. Rejects object arrays, other types, empty arrays, more
// than 2 dimensions, and files whose size does not match the header.
table read_npy(const std::string& path);

}  // namespace tmlp
