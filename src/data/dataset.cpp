// The .tmlpd dataset file (layout in include/tmlp/dataset.hpp): an atomic column-by-column
// writer, and a read-only mapping whose header and schema are checked before anything is used.
#include "tmlp/dataset.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/file_io.hpp"
#include "tmlp/error.hpp"

namespace tmlp {
namespace {

using io::fnv1a;
using io::get_u32;
using io::get_u64;
using io::json_depth;
using io::put_u32;
using io::put_u64;
using io::write_all;

constexpr char magic[8] = {'T', 'M', 'L', 'P', 'D', 'S', 'E', 'T'};
constexpr std::uint64_t header_bytes = 64;
constexpr std::uint64_t checksummed_header_bytes = 56;  // all but the checksum itself
constexpr std::uint64_t alignment = 64;
constexpr std::uint64_t max_levels = std::numeric_limits<std::int32_t>::max();
// A schema nests 4 levels (object, columns array, column object, levels array); a bound on
// the depth keeps a hostile schema from exhausting the stack of the JSON parser.
constexpr int max_json_depth = 8;

static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559);

constexpr bool little_endian = std::endian::native == std::endian::little;

std::uint64_t align_up(std::uint64_t n) noexcept {
  return (n + alignment - 1) / alignment * alignment;
}

[[noreturn]] void bad_file(const std::string& path, const std::string& what) {
  throw error(errc::invalid_data,
              fmt::format("{}: not a usable tmlp dataset file: {}", path, what));
}
[[noreturn]] void bad_table(std::string_view source, const std::string& what) {
  throw error(errc::invalid_argument,
              fmt::format("{}: cannot write as a dataset: {}", source, what));
}

void require_little_endian(const std::string& path) {
  if constexpr (!little_endian)
    throw error(errc::unsupported, path + ": .tmlpd files are little-endian; this machine is not");
}

// ---------------------------------------------------------------------------------------------
// Writing

// What a column holds, counted before anything is written: its missing entries.
std::size_t count_missing(const table_view& t, const column_view& c) {
  const std::size_t n = c.kind == column_kind::categorical ? c.codes.size() : c.values.size();
  if (n != t.n_rows)
    bad_table(t.source, fmt::format("column '{}' has {} entries for {} rows", c.name, n, t.n_rows));
  std::size_t missing = 0;
  if (c.kind == column_kind::categorical) {
    if (c.levels.size() > max_levels)
      bad_table(t.source, fmt::format("column '{}' has {} levels; the format holds at most {}",
                                      c.name, c.levels.size(), max_levels));
    const auto n_levels = static_cast<std::int64_t>(c.levels.size());
    for (std::size_t r = 0; r < n; ++r) {
      const std::int32_t code = c.codes[r];
      if (code < -1 || code >= n_levels)
        bad_table(t.source, fmt::format("column '{}' row {} has code {} but {} levels", c.name,
                                        r + 1, code, n_levels));
      missing += code == -1;
    }
  } else {
    for (std::size_t r = 0; r < n; ++r) {
      const float v = c.values[r];
      if (std::isinf(v))
        bad_table(t.source,
                  fmt::format("column '{}' row {} is {}; the format holds finite numbers and NaN",
                              c.name, r + 1, v));
      missing += std::isnan(v);
    }
  }
  return missing;
}

std::string schema_json(const table_view& t, const std::vector<std::size_t>& n_missing) {
  nlohmann::json columns = nlohmann::json::array();
  for (std::size_t i = 0; i < t.columns.size(); ++i) {
    const column_view& c = t.columns[i];
    nlohmann::json j{{"name", std::string(c.name)},
                     {"kind", std::string(to_string(c.kind))},
                     {"n_missing", n_missing[i]}};
    if (c.kind == column_kind::categorical)
      j["levels"] = std::vector<std::string>(c.levels.begin(), c.levels.end());
    columns.push_back(std::move(j));
  }
  const nlohmann::json schema{{"source", std::string(t.source)}, {"columns", std::move(columns)}};
  try {
    return schema.dump();
  } catch (const nlohmann::json::exception& e) {  // a name or level that is not UTF-8
    bad_table(t.source,
              std::string("a column name, a level or the source is not valid UTF-8: ") + e.what());
  }
}

void write_padding(int fd, std::uint64_t n, const std::string& path) {
  static constexpr unsigned char zeros[alignment] = {};
  write_all(fd, zeros, static_cast<std::size_t>(n), path);
}

// The whole file after its header is validated: header, schema, padding, columns.
void write_contents(int fd, const table_view& t, const std::string& schema,
                    const std::string& path) {
  const std::uint64_t data_offset = align_up(header_bytes + schema.size());
  const std::uint64_t stride = align_up(std::uint64_t{4} * t.n_rows);
  unsigned char head[header_bytes] = {};
  std::memcpy(head, magic, 8);
  put_u32(head + 8, dataset_format_version);
  put_u32(head + 12, 0);
  put_u64(head + 16, t.n_rows);
  put_u64(head + 24, t.columns.size());
  put_u64(head + 32, schema.size());
  put_u64(head + 40, data_offset);
  put_u64(head + 48, data_offset + stride * t.columns.size());
  const std::uint64_t sum = fnv1a(reinterpret_cast<const unsigned char*>(schema.data()),
                                  schema.size(), fnv1a(head, checksummed_header_bytes));
  put_u64(head + 56, sum);
  write_all(fd, head, header_bytes, path);
  write_all(fd, schema.data(), schema.size(), path);
  write_padding(fd, data_offset - header_bytes - schema.size(), path);
  for (const column_view& c : t.columns) {
    if (c.kind == column_kind::categorical)
      write_all(fd, c.codes.data(), c.codes.size_bytes(), path);
    else
      write_all(fd, c.values.data(), c.values.size_bytes(), path);
    write_padding(fd, stride - std::uint64_t{4} * t.n_rows, path);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

struct column_entry {
  std::string name;
  column_kind kind = column_kind::numeric;
  std::vector<std::string> levels;
  std::size_t n_missing = 0;
};

std::string column_label(std::size_t i, const column_entry& c) {
  return c.name.empty() ? fmt::format("column {}", i + 1)
                        : fmt::format("column {} '{}'", i + 1, c.name);
}

// Parses the schema's columns, checking everything the header comment promises.
std::vector<column_entry> parse_schema(const std::string& path, const unsigned char* p,
                                       std::uint64_t n, std::uint64_t n_rows,
                                       std::uint64_t n_columns, std::string& origin) {
  if (json_depth(p, n) > max_json_depth) bad_file(path, "schema JSON is nested too deeply");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(p, p + n);
  } catch (const nlohmann::json::exception& e) {
    // The parser quotes the bytes it last read, which may be anything: keep the line printable.
    std::string what = e.what();
    for (char& ch : what)
      if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f) ch = '?';
    bad_file(path, "schema is not JSON: " + what);
  }
  if (!j.is_object()) bad_file(path, "schema is not a JSON object");
  if (auto it = j.find("source"); it != j.end()) {
    if (!it->is_string()) bad_file(path, "schema 'source' is not a string");
    origin = it->get<std::string>();
  }
  const auto cols = j.find("columns");
  if (cols == j.end() || !cols->is_array()) bad_file(path, "schema has no 'columns' array");
  if (cols->size() != n_columns)
    bad_file(path, fmt::format("schema lists {} columns but the header says {}", cols->size(),
                               n_columns));
  std::vector<column_entry> out(cols->size());
  std::unordered_set<std::string_view> names;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const nlohmann::json& c = (*cols)[i];
    column_entry& e = out[i];
    if (!c.is_object()) bad_file(path, fmt::format("schema column {} is not an object", i + 1));
    const auto name = c.find("name"), kind = c.find("kind"), missing = c.find("n_missing");
    if (name == c.end() || !name->is_string() || name->get_ref<const std::string&>().empty())
      bad_file(path, fmt::format("schema column {} has no name", i + 1));
    e.name = name->get<std::string>();
    if (!names.insert(e.name).second)
      bad_file(path, fmt::format("schema names column '{}' twice", e.name));
    const std::string kind_text =
        kind != c.end() && kind->is_string() ? kind->get<std::string>() : "";
    if (kind_text == "numeric")
      e.kind = column_kind::numeric;
    else if (kind_text == "boolean")
      e.kind = column_kind::boolean;
    else if (kind_text == "categorical")
      e.kind = column_kind::categorical;
    else
      bad_file(path,
               fmt::format("{} has no kind (numeric, boolean or categorical)", column_label(i, e)));
    if (missing == c.end() || !missing->is_number_unsigned() ||
        missing->get<std::uint64_t>() > n_rows)
      bad_file(path, fmt::format("{} has no count of missing values in 0..{}", column_label(i, e),
                                 n_rows));
    e.n_missing = static_cast<std::size_t>(missing->get<std::uint64_t>());
    const auto levels = c.find("levels");
    if (e.kind != column_kind::categorical) {
      if (levels != c.end())
        bad_file(path, fmt::format("{} is {} but has levels", column_label(i, e), kind_text));
      continue;
    }
    if (levels == c.end() || !levels->is_array() || levels->size() > max_levels)
      bad_file(path,
               fmt::format("{} is categorical but has no array of levels", column_label(i, e)));
    e.levels.reserve(levels->size());
    std::unordered_set<std::string_view> seen;
    for (const nlohmann::json& level : *levels) {
      if (!level.is_string())
        bad_file(path, fmt::format("{} has a level that is not a string", column_label(i, e)));
      if (!seen.insert(level.get_ref<const std::string&>()).second)
        bad_file(path, fmt::format("{} lists level '{}' twice", column_label(i, e),
                                   level.get_ref<const std::string&>()));
      e.levels.push_back(level.get<std::string>());
    }
  }
  return out;
}

// Every code of a categorical column is -1 or a level index, and the -1 count is n_missing.
void check_codes(const std::string& path, std::size_t i, const column_entry& e,
                 const std::int32_t* codes, std::size_t n_rows) {
  const auto n_levels = static_cast<std::uint32_t>(e.levels.size());
  std::uint32_t bad = 0;
  std::size_t missing = 0;
  for (std::size_t r = 0; r < n_rows; ++r) {
    // code + 1 in 0..n_levels exactly when code is in -1..n_levels-1 (wraps for code < -1).
    const std::uint32_t shifted = static_cast<std::uint32_t>(codes[r]) + 1u;
    bad |= shifted > n_levels;
    missing += shifted == 0;
  }
  if (bad) {
    for (std::size_t r = 0; r < n_rows; ++r)
      if (codes[r] < -1 || codes[r] >= static_cast<std::int64_t>(n_levels))
        bad_file(path, fmt::format("{} row {} has code {}, outside -1..{}", column_label(i, e),
                                   r + 1, codes[r], static_cast<std::int64_t>(n_levels) - 1));
  }
  if (missing != e.n_missing)
    bad_file(path, fmt::format("{} has {} missing codes but the schema says {}", column_label(i, e),
                               missing, e.n_missing));
}

}  // namespace

// ---------------------------------------------------------------------------------------------

void write_dataset(const table_view& t, const std::string& path) {
  require_little_endian(path);
  if (t.n_rows == 0) bad_table(t.source, "it has no rows");
  if (t.columns.empty()) bad_table(t.source, "it has no columns");
  std::unordered_set<std::string_view> names;
  std::vector<std::size_t> n_missing;
  n_missing.reserve(t.columns.size());
  for (const column_view& c : t.columns) {
    if (c.name.empty()) bad_table(t.source, "a column has no name");
    if (!names.insert(c.name).second)
      bad_table(t.source, fmt::format("two columns are named '{}'", c.name));
    n_missing.push_back(count_missing(t, c));
  }
  const std::string schema = schema_json(t, n_missing);

  io::write_atomically(path,
                       [&](int fd, const std::string& tmp) { write_contents(fd, t, schema, tmp); });
}

struct mapped_dataset::state {
  std::string path, origin;
  io::file_bytes file;  // the mapping
  std::size_t n_rows = 0;
  std::uint64_t data_offset = 0, stride = 0;
  std::vector<column_entry> columns;

  const unsigned char* column_data(std::size_t i) const noexcept {
    return file.data() + data_offset + i * stride;
  }
};

mapped_dataset::mapped_dataset(const std::string& path) : s_(std::make_unique<state>()) {
  require_little_endian(path);
  state& s = *s_;
  s.path = path;
  s.file = io::file_bytes(path, {.kind = ".tmlpd dataset file"});
  const std::uint64_t size = s.file.size();
  if (size < header_bytes)
    bad_file(path, size == 0
                       ? std::string("the file is empty")
                       : fmt::format("{} bytes is shorter than the {}-byte header (truncated)",
                                     size, header_bytes));

  // --- header: magic, version, then sizes that must agree with the file's size ---
  const unsigned char* h = s.file.data();
  if (std::memcmp(h, magic, 8) != 0) bad_file(path, "wrong magic bytes (not a .tmlpd file)");
  if (const std::uint32_t v = get_u32(h + 8); v != dataset_format_version)
    bad_file(path, fmt::format("format version {}; this build reads version {}", v,
                               dataset_format_version));
  if (get_u32(h + 12) != 0) bad_file(path, "reserved header field is not 0");
  const std::uint64_t n_rows = get_u64(h + 16), n_columns = get_u64(h + 24),
                      schema_bytes = get_u64(h + 32), data_offset = get_u64(h + 40),
                      file_bytes = get_u64(h + 48);
  if (file_bytes != size)
    bad_file(path, fmt::format("the header says {} bytes but the file has {} (truncated, appended "
                               "to or damaged)",
                               file_bytes, size));
  if (schema_bytes > size - header_bytes)
    bad_file(path, fmt::format("a schema of {} bytes runs past the end of the file", schema_bytes));
  if (fnv1a(h + header_bytes, schema_bytes, fnv1a(h, checksummed_header_bytes)) != get_u64(h + 56))
    bad_file(path, "header or schema checksum mismatch (the file is damaged)");
  if (data_offset != align_up(header_bytes + schema_bytes) || data_offset > size)
    bad_file(path, fmt::format("data offset {} is not the end of the schema", data_offset));
  for (std::uint64_t i = header_bytes + schema_bytes; i < data_offset; ++i)
    if (h[i] != 0) bad_file(path, "the padding after the schema is not zero (the file is damaged)");
  const std::uint64_t data_room = size - data_offset;
  if (n_rows == 0 || n_columns == 0)
    bad_file(path, fmt::format("{} rows and {} columns; a dataset has at least one of each", n_rows,
                               n_columns));
  if (n_rows > data_room / 4 || n_columns > data_room / align_up(4 * n_rows) ||
      data_offset + n_columns * align_up(4 * n_rows) != size)
    bad_file(path, fmt::format("{} columns of {} rows do not fill the {} bytes after the schema",
                               n_columns, n_rows, data_room));
  s.n_rows = static_cast<std::size_t>(n_rows);
  s.data_offset = data_offset;
  s.stride = align_up(4 * n_rows);

  // --- schema, then the categorical codes ---
  s.columns = parse_schema(path, h + header_bytes, schema_bytes, n_rows, n_columns, s.origin);
  for (std::size_t i = 0; i < s.columns.size(); ++i)
    if (s.columns[i].kind == column_kind::categorical)
      check_codes(path, i, s.columns[i], reinterpret_cast<const std::int32_t*>(s.column_data(i)),
                  s.n_rows);
  // Training gathers rows in random order: reading ahead would only waste I/O.
  s.file.advise_random();
}

mapped_dataset::~mapped_dataset() = default;
mapped_dataset::mapped_dataset(mapped_dataset&&) noexcept = default;
mapped_dataset& mapped_dataset::operator=(mapped_dataset&&) noexcept = default;

table_view mapped_dataset::view() const {
  table_view t;
  t.source = s_->path;
  t.n_rows = s_->n_rows;
  t.mapped = true;
  t.columns.reserve(s_->columns.size());
  for (std::size_t i = 0; i < s_->columns.size(); ++i) {
    const column_entry& e = s_->columns[i];
    column_view c{.name = e.name, .kind = e.kind, .levels = e.levels, .n_missing = e.n_missing};
    if (e.kind == column_kind::categorical)
      c.codes = {reinterpret_cast<const std::int32_t*>(s_->column_data(i)), s_->n_rows};
    else
      c.values = {reinterpret_cast<const float*>(s_->column_data(i)), s_->n_rows};
    t.columns.push_back(c);
  }
  return t;
}

std::size_t mapped_dataset::n_rows() const noexcept { return s_->n_rows; }
std::size_t mapped_dataset::n_columns() const noexcept { return s_->columns.size(); }
const std::string& mapped_dataset::path() const noexcept { return s_->path; }
const std::string& mapped_dataset::origin() const noexcept { return s_->origin; }
std::size_t mapped_dataset::file_bytes() const noexcept { return s_->file.size(); }

table read_dataset(const std::string& path) {
  const mapped_dataset d(path);
  const table_view v = d.view();
  table t{.source = path, .n_rows = v.n_rows};
  t.columns.reserve(v.columns.size());
  for (const column_view& c : v.columns)
    t.columns.push_back({.name = std::string(c.name),
                         .kind = c.kind,
                         .values = {c.values.begin(), c.values.end()},
                         .codes = {c.codes.begin(), c.codes.end()},
                         .levels = {c.levels.begin(), c.levels.end()},
                         .n_missing = c.n_missing});
  return t;
}

}  // namespace tmlp
