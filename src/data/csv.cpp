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
// Peak memory: the input (mapped, not copied), one float per cell, the categorical columns'
// dictionaries, and per chunk and column a few counters.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>
#include <tbb/task_arena.h>

#include "data/csv_scan.hpp"
#include "io/file_io.hpp"
#include "tmlp/data.hpp"
#include "tmlp/error.hpp"

namespace tmlp {
namespace {

using namespace data;

constexpr float missing_value = std::numeric_limits<float>::quiet_NaN();
constexpr std::size_t max_cells_per_chunk_table = std::size_t{1} << 22;  // chunks x columns

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
std::string quoted_excerpt(std::string_view t) {
  if (t.size() > 40) {
    std::size_t n = 40;
    while (n > 0 && (static_cast<unsigned char>(t[n]) & 0xC0) == 0x80) --n;
    return fmt::format("'{}...'", t.substr(0, n));
  }
  return fmt::format("'{}'", t);
}

std::string describe(char d) {
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

// ---- values pass -------------------------------------------------------------------------------

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
      const std::string_view t = csv_text(f, scratch);
      column_counts& k = counts[c];
      float value = missing_value;
      if (is_missing_token(t)) {
        ++k.n_missing;
      } else if (const csv_number num = csv_parse_number(t, v); num != csv_number::none) {
        ++k.n_number;
        if (num == csv_number::finite) {
          value = v;
        } else if (k.first_non_finite.line == 0) {
          k.first_non_finite = {field_line, c + 1, quoted_excerpt(t)};
        }
      } else {
        if (csv_bool_word(t, v)) {
          ++k.n_bool;
          value = v;
        } else {
          if (const std::size_t bad = csv_invalid_utf8(t); bad != std::string_view::npos)
            return rd.bad_utf8(field_line, c + 1, bad);
          ++k.n_text;
        }
        if (k.first_text.line == 0) k.first_text = {field_line, c + 1, quoted_excerpt(t)};
      }
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

// ---- levels pass -------------------------------------------------------------------------------

struct text_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

// Distinct texts in order of first appearance.
struct level_dict {
  std::unordered_map<std::string, std::int32_t, text_hash, std::equal_to<>> index;
  std::vector<const std::string*> order;  // keys of index (node addresses are stable)

  std::int32_t code(std::string_view t) {
    if (const auto it = index.find(t); it != index.end()) return it->second;
    const auto code = static_cast<std::int32_t>(order.size());
    const auto [it, inserted] = index.emplace(std::string(t), code);
    order.push_back(&it->first);
    return code;
  }
};

// Reads the categorical fields (slot[c] >= 0) of chunk `ch` into chunk-local codes.
void parse_levels(const csv_reader& rd, const csv_chunk& ch, const std::vector<int>& slot,
                  std::int32_t* const* codes, level_dict* dicts, std::size_t* n_missing) {
  const char delim = rd.delimiter;
  const char* p = ch.begin;
  const char* const end = ch.end;
  std::size_t row = ch.first_row;
  std::string scratch;
  while (p != end) {
    if (const char* next = csv_skip_blank(p, end)) {
      p = next;
      continue;
    }
    for (std::size_t c = 0;; ++c) {
      csv_field f;
      if (csv_read_field(p, end, delim, f) != csv_status::ok || c >= slot.size())
        throw error(errc::invalid_data, std::string(rd.source) + ": internal error");
      if (const int s = slot[c]; s >= 0) {
        const std::string_view t = csv_text(f, scratch);
        if (is_missing_token(t)) {
          codes[s][row] = -1;
          ++n_missing[s];
        } else {
          codes[s][row] = dicts[s].code(t);
        }
      }
      if (!csv_next_field(p, end, delim)) break;
    }
    ++row;
  }
}

// ---- header
// --------------------------------------------------------------------------------------

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

table parse_text(std::string_view text, const csv_options& options, const std::string& source) {
  csv_reader rd;
  rd.source = source;
  const char d = options.delimiter;
  if (d == '"' || d == '\n' || d == '\r' || d == '.' || d == '+' || d == '-' ||
      (d >= '0' && d <= '9') || (d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') ||
      static_cast<unsigned char>(d) >= 0x80)
    throw error(errc::invalid_argument,
                fmt::format("csv_options.delimiter {} cannot separate fields; expected 0 "
                            "(detect) or a punctuation character such as , ; TAB |",
                            static_cast<int>(d)));
  if (text.empty())
    throw error(errc::invalid_data,
                fmt::format("{}: empty file; expected a header line and data rows", source));
  if (const void* nul = std::memchr(text.data(), '\0', text.size()); nul != nullptr) {
    const auto at = static_cast<std::size_t>(static_cast<const char*>(nul) - text.data());
    const auto line = 1 + static_cast<std::size_t>(std::count(text.data(), text.data() + at, '\n'));
    throw error(errc::invalid_data,
                fmt::format("{}: NUL byte at byte offset {}: a binary file, expected CSV text",
                            rd.where(line, 0), at));
  }
  const char* p = text.data();
  const char* const end = p + text.size();
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") p += 3;  // UTF-8 BOM
  std::size_t line = 1;
  while (p != end) {  // leading blank lines
    const char* next = csv_skip_blank(p, end);
    if (next == nullptr) break;
    p = next;
    ++line;
  }
  if (p == end)
    throw error(errc::invalid_data,
                fmt::format("{}: empty file; expected a header line and data rows", source));
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
  tbb::task_arena arena(options.n_threads > 0 ? options.n_threads : tbb::task_arena::automatic);
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

    // Types: the first problem in file order among all columns wins.
    std::optional<failure> problem;
    std::pair<std::size_t, std::size_t> problem_at{SIZE_MAX, SIZE_MAX};
    auto note_problem = [&](const field_note& n, std::string message) {
      if (std::pair(n.line, n.col) < problem_at) {
        problem_at = {n.line, n.col};
        problem = failure{errc::invalid_data, std::move(message)};
      }
    };
    std::vector<int> slot(n_cols, -1);
    std::vector<std::size_t> cat_cols;
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
          note_problem(*first_text,
                       fmt::format("{}: text {} in column '{}', which "
                                   "csv_options.numeric forces numeric; expected a "
                                   "number or a missing value (empty, NA, NaN, null, ?)",
                                   rd.where(first_text->line, first_text->col), first_text->text,
                                   rd.names[c]));
        if (non_finite != nullptr)
          note_problem(*non_finite,
                       fmt::format("{}: non-finite number {}{}; expected a finite float32 "
                                   "number, or empty, NA, NaN, null or ? for a missing value",
                                   rd.where(non_finite->line, non_finite->col), non_finite->text,
                                   rd.column_label(non_finite->col)));
      }
    }
    if (problem) throw error(problem->code, problem->message);
    if (cat_cols.empty()) return;

    // Levels pass for the categorical columns.
    const std::size_t n_cat = cat_cols.size();
    std::vector<std::int32_t*> codes(n_cat);
    core::parallel_for_index(n_cat, [&](std::size_t s) {
      column& col = out.columns[cat_cols[s]];
      std::vector<float>().swap(col.values);
      col.codes.resize(n_rows);
      codes[s] = col.codes.data();
    });
    std::vector<level_dict> dicts(n_chunks * n_cat);
    std::vector<std::size_t> n_missing(n_chunks * n_cat, 0);
    core::parallel_for_index(n_chunks, [&](std::size_t k) {
      parse_levels(rd, rd.chunks[k], slot, codes.data(), dicts.data() + k * n_cat,
                   n_missing.data() + k * n_cat);
    });
    // Merge in chunk order, then remap every chunk's codes.
    std::vector<std::vector<std::int32_t>> remap(n_chunks * n_cat);
    core::parallel_for_index(n_cat, [&](std::size_t s) {
      level_dict global;
      column& col = out.columns[cat_cols[s]];
      col.n_missing = 0;
      for (std::size_t k = 0; k < n_chunks; ++k) {
        const level_dict& local = dicts[k * n_cat + s];
        std::vector<std::int32_t>& m = remap[k * n_cat + s];
        m.reserve(local.order.size());
        for (const std::string* t : local.order) m.push_back(global.code(*t));
        col.n_missing += n_missing[k * n_cat + s];
      }
      col.levels.reserve(global.order.size());
      for (const std::string* t : global.order) col.levels.push_back(*t);
    });
    core::parallel_for_index(n_chunks, [&](std::size_t k) {
      const csv_chunk& ch = rd.chunks[k];
      for (std::size_t s = 0; s < n_cat; ++s) {
        const std::vector<std::int32_t>& m = remap[k * n_cat + s];
        std::int32_t* code = codes[s] + ch.first_row;
        for (std::size_t r = 0; r < ch.n_rows; ++r)
          if (code[r] >= 0) code[r] = m[static_cast<std::size_t>(code[r])];
      }
    });
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
