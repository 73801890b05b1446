// tmlp::read_csv: CSV text to a typed, column-wise table.
//
// Passes over the text (after the header), each over the same chunks in a task arena of
// options.n_threads:
//   split   one sequential memchr scan finds chunk boundaries at record starts (quote-aware);
//           the chunks' rows and physical lines are counted in parallel, so every chunk knows
//           its first row and line (csv_scan.hpp).
//   values  every chunk parses its rows into the final per-column float arrays at its first
//           row: numbers (fast_float), boolean words as 0/1, missing as NaN; per chunk and
//           column it counts numbers, boolean words and other texts and notes the first of
//           each kind of problem. Structure errors (ragged rows, quotes, UTF-8, long lines)
//           stop the chunk; the one in the earliest chunk is reported.
//   types   a column is numeric, boolean or categorical from those counts (or as forced).
//   levels  only if some column is categorical: its float array is freed, its int32 codes
//           allocated, and every chunk re-reads just those fields into chunk-local dictionaries
//           (codes in order of first appearance in the chunk); the dictionaries are merged in
//           chunk order and the codes remapped, so levels and codes are the same for any thread
//           count and chunk size.
// This file: the header, the split and the types; the values pass is in csv_values.cpp, the
// levels pass in csv_levels.cpp, the shared state in csv_reader.hpp, the scanning in csv_scan.hpp.
// Peak memory: the input (mapped, not copied), one float per cell, the categorical columns'
// dictionaries, and per chunk and column a few counters.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>
#include <tbb/task_arena.h>

#include "core/parallel.hpp"
#include "data/csv_reader.hpp"
#include "data/csv_scan.hpp"
#include "io/file_io.hpp"
#include "tmlp/data.hpp"
#include "tmlp/error.hpp"

namespace tmlp {
namespace {

using namespace data;

constexpr std::size_t max_cells_per_chunk_table = std::size_t{1} << 22;  // chunks x columns

// Reads the first record from p: column names (or, without a header, only their number). Leaves
// p at the first data record (header) or where it was (no header). Returns the line after it.
std::size_t read_header(csv_reader& rd, const char*& p, const char* end, std::size_t line,
                        bool header) {
  const char* q = p;
  const char* const record = q;
  const std::size_t record_line = line;
  std::vector<std::string> names;
  std::string scratch;
  for (;;) {
    csv_field f;
    const std::size_t col = names.size() + 1;
    const csv_status s = csv_read_field(q, end, rd.delimiter, f);
    if (s != csv_status::ok) {
      failure fl = rd.field_failure(s, line, col);
      throw error(fl.code, fl.message);
    }
    line += f.n_newlines;
    const std::string_view t = csv_text(f, scratch);
    if (header) {
      if (const std::size_t bad = csv_invalid_utf8(t); bad != std::string_view::npos)
        throw error(errc::invalid_data, rd.bad_utf8(record_line, col, bad).message);
      if (t.empty())
        throw error(errc::invalid_data,
                    fmt::format("{}: column {} has an empty name in the header; expected a "
                                "name for every column (or csv_options.header = false)",
                                rd.where(record_line, col), col));
      names.emplace_back(t);
    } else {
      names.push_back(fmt::format("col_{}", col));
    }
    if (!csv_next_field(q, end, rd.delimiter)) break;
  }
  if (static_cast<std::size_t>(q - record) > csv_max_record_bytes)
    throw error(errc::invalid_data,
                fmt::format("{}: line of {} bytes; expected lines of at most 16 MiB",
                            rd.where(record_line, 0), q - record));
  if (header) {
    std::unordered_map<std::string_view, std::size_t> seen;
    for (std::size_t i = 0; i < names.size(); ++i) {
      const auto [it, inserted] = seen.emplace(names[i], i + 1);
      if (!inserted)
        throw error(errc::invalid_data,
                    fmt::format("{}: duplicate column name '{}' (columns {} and {}); expected "
                                "distinct names",
                                rd.where(record_line, i + 1), names[i], it->second, i + 1));
    }
    p = q;
  }
  rd.names = std::move(names);
  return header ? line + 1 : record_line;
}

// Column indices named by a forced-kind list; an unknown name is an error.
std::vector<bool> forced(const csv_reader& rd, const std::vector<std::string>& list,
                         const char* field, bool may_be_absent) {
  std::vector<bool> mark(rd.names.size(), false);
  for (const std::string& name : list) {
    std::size_t c = 0;
    while (c < rd.names.size() && rd.names[c] != name) ++c;
    if (c == rd.names.size() && may_be_absent) continue;
    if (c == rd.names.size())
      throw error(errc::invalid_argument,
                  fmt::format("csv_options.{} names column '{}', which is not in {} (columns: "
                              "{})",
                              field, name, rd.source, fmt::join(rd.names, ", ")));
    mark[c] = true;
  }
  return mark;
}

// A delimiter given in csv_options must be able to separate fields.
void check_delimiter(char d) {
  if (d == '"' || d == '\n' || d == '\r' || d == '.' || d == '+' || d == '-' ||
      (d >= '0' && d <= '9') || (d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') ||
      static_cast<unsigned char>(d) >= 0x80)
    throw error(errc::invalid_argument,
                fmt::format("csv_options.delimiter {} cannot separate fields; expected 0 "
                            "(detect) or a punctuation character such as , ; TAB |",
                            static_cast<int>(d)));
}

// The start of the first record of text (after a UTF-8 byte order mark and blank lines; line:
// its line number). Rejects an empty text and NUL bytes.
const char* first_record(const csv_reader& rd, std::string_view text, std::size_t& line) {
  if (text.empty())
    throw error(errc::invalid_data,
                fmt::format("{}: empty file; expected a header line and data rows", rd.source));
  if (const void* nul = std::memchr(text.data(), '\0', text.size()); nul != nullptr) {
    const auto at = static_cast<std::size_t>(static_cast<const char*>(nul) - text.data());
    const auto nul_line =
        1 + static_cast<std::size_t>(std::count(text.data(), text.data() + at, '\n'));
    throw error(errc::invalid_data,
                fmt::format("{}: NUL byte at byte offset {}: a binary file, expected CSV text",
                            rd.where(nul_line, 0), at));
  }
  const char* p = text.data();
  const char* const end = p + text.size();
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") p += 3;  // UTF-8 BOM
  line = 1;
  while (p != end) {  // leading blank lines
    const char* next = csv_skip_blank(p, end);
    if (next == nullptr) break;
    p = next;
    ++line;
  }
  if (p == end)
    throw error(errc::invalid_data,
                fmt::format("{}: empty file; expected a header line and data rows", rd.source));
  return p;
}

// Types: every column's kind from the values pass's counts (or as forced); the first problem in
// file order among all columns is thrown. Returns slot: per column, its index among the
// categorical columns (listed in cat_cols), or -1.
std::vector<int> infer_kinds(const csv_reader& rd, const std::vector<column_counts>& counts,
                             const std::vector<bool>& force_num, const std::vector<bool>& force_cat,
                             table& out, std::vector<std::size_t>& cat_cols) {
  const std::size_t n_cols = rd.names.size(), n_chunks = rd.chunks.size();
  std::optional<failure> problem;
  std::pair<std::size_t, std::size_t> problem_at{SIZE_MAX, SIZE_MAX};
  auto note_problem = [&](const field_note& n, std::string message) {
    if (std::pair(n.line, n.col) < problem_at) {
      problem_at = {n.line, n.col};
      problem = failure{errc::invalid_data, std::move(message)};
    }
  };
  std::vector<int> slot(n_cols, -1);
  for (std::size_t c = 0; c < n_cols; ++c) {
    column_counts sum;
    const field_note *first_text = nullptr, *non_finite = nullptr;
    for (std::size_t k = 0; k < n_chunks; ++k) {
      const column_counts& s = counts[k * n_cols + c];
      sum.n_number += s.n_number;
      sum.n_bool += s.n_bool;
      sum.n_text += s.n_text;
      sum.n_missing += s.n_missing;
      if (first_text == nullptr && s.first_text.line != 0) first_text = &s.first_text;
      if (non_finite == nullptr && s.first_non_finite.line != 0) non_finite = &s.first_non_finite;
    }
    column& col = out.columns[c];
    col.n_missing = sum.n_missing;
    if (force_cat[c] ||
        (!force_num[c] && sum.n_text + sum.n_bool > 0 && (sum.n_text > 0 || sum.n_number > 0))) {
      col.kind = column_kind::categorical;
      slot[c] = static_cast<int>(cat_cols.size());
      cat_cols.push_back(c);
    } else if (!force_num[c] && sum.n_bool > 0) {
      col.kind = column_kind::boolean;
    } else {
      col.kind = column_kind::numeric;
      if (first_text != nullptr)
        note_problem(*first_text, fmt::format("{}: text {} in column '{}', which "
                                              "csv_options.numeric forces numeric; expected a "
                                              "number or a missing value (empty, NA, NaN, null, ?)",
                                              rd.where(first_text->line, first_text->col),
                                              first_text->text, rd.names[c]));
      if (non_finite != nullptr)
        note_problem(*non_finite,
                     fmt::format("{}: non-finite number {}{}; expected a finite float32 "
                                 "number, or empty, NA, NaN, null or ? for a missing value",
                                 rd.where(non_finite->line, non_finite->col), non_finite->text,
                                 rd.column_label(non_finite->col)));
    }
  }
  if (problem) throw error(problem->code, problem->message);
  return slot;
}

table parse_text(std::string_view text, const csv_options& options, const std::string& source) {
  csv_reader rd;
  rd.source = source;
  const char d = options.delimiter;
  check_delimiter(d);
  std::size_t line = 1;
  const char* p = first_record(rd, text, line);
  const char* const end = text.data() + text.size();
  rd.delimiter = d != 0 ? d : csv_detect_delimiter({p, static_cast<std::size_t>(end - p)});
  line = read_header(rd, p, end, line, options.header);
  const std::size_t n_cols = rd.names.size();
  const std::vector<bool> force_num =
      forced(rd, options.numeric, "numeric", options.forced_may_be_absent);
  const std::vector<bool> force_cat =
      forced(rd, options.categorical, "categorical", options.forced_may_be_absent);
  for (std::size_t c = 0; c < n_cols; ++c)
    if (force_num[c] && force_cat[c])
      throw error(errc::invalid_argument,
                  fmt::format("column '{}' is in both csv_options.numeric and "
                              "csv_options.categorical; expected at most one",
                              rd.names[c]));

  table out;
  out.source = source;
  out.columns.resize(n_cols);
  tbb::task_arena arena(core::arena_threads(options.n_threads));
  arena.execute([&] {
    const std::size_t max_chunks = std::max<std::size_t>(1, max_cells_per_chunk_table / n_cols);
    rd.chunks = csv_split(p, end, line, options.chunk_bytes, max_chunks);
    const std::size_t n_chunks = rd.chunks.size();
    const std::size_t n_rows = rd.chunks.back().first_row + rd.chunks.back().n_rows;
    if (n_rows == 0)
      throw error(errc::invalid_data,
                  fmt::format("{}: {} but no data rows; expected at least one row", source,
                              options.header ? "a header" : "a first line"));
    out.n_rows = n_rows;
    std::vector<float*> values(n_cols);
    core::parallel_for_index(n_cols, [&](std::size_t c) {
      out.columns[c].name = rd.names[c];
      out.columns[c].values.resize(n_rows);
      values[c] = out.columns[c].values.data();
    });

    // Values pass; the earliest chunk's problem is the one reported.
    std::vector<column_counts> counts(n_chunks * n_cols);
    std::vector<std::optional<failure>> failures(n_chunks);
    core::parallel_for_index(n_chunks, [&](std::size_t k) {
      failures[k] = parse_values(rd, rd.chunks[k], values.data(), counts.data() + k * n_cols);
    });
    for (const auto& f : failures)
      if (f) throw error(f->code, f->message);

    std::vector<std::size_t> cat_cols;
    const std::vector<int> slot = infer_kinds(rd, counts, force_num, force_cat, out, cat_cols);
    if (!cat_cols.empty()) read_levels(rd, cat_cols, slot, out);
  });
  return out;
}

}  // namespace

table read_csv(const std::string& path, const csv_options& options) {
  // Mapped; a pipe or a file in /proc is read instead.
  const io::file_bytes bytes(path, {.kind = "CSV file", .special_files = true, .read_ahead = true});
  return parse_text(bytes.text(), options, path);
}

table read_csv_text(std::string_view text, const csv_options& options, const std::string& source) {
  return parse_text(text, options, source);
}

}  // namespace tmlp
