// The .tmlpd dataset file: a table stored column by column so that it can be memory-mapped and
// used in place. Opening one reads and checks only its header and schema (and the category
// codes); numbers stay in the file and are paged in as training gathers rows, so a dataset
// larger than RAM trains without a copy in anonymous memory.
//
//     tmlp::write_dataset(tmlp::read_csv("train.csv"), "train.tmlpd");   // once
//
//     tmlp::mapped_dataset d("train.tmlpd");       // mmap + checks; throws tmlp::error
//     tmlp::table_view t = d.view();               // spans point into the mapping
//     auto p = tmlp::preprocessor::fit(t, {.target = "y"});
//     tmlp::feature_rows x(p, t);                  // a row_source for the trainer
//     tmlp::matrix y = p.targets(t);               // n_rows x 1 (in memory)
//
// File layout, version 1 (every integer little-endian; this build reads and writes it only on
// little-endian machines):
//
//     offset 0, 64 bytes: the header
//        0  char[8]  magic "TMLPDSET"
//        8  u32      format version (1)
//       12  u32      reserved, 0
//       16  u64      n_rows (>= 1)
//       24  u64      n_columns (>= 1)
//       32  u64      schema_bytes: length of the JSON schema that follows the header
//       40  u64      data_offset: 64 + schema_bytes rounded up to a multiple of 64
//       48  u64      file_bytes: the file's exact size
//       56  u64      checksum: FNV-1a 64 of header bytes 0..55 followed by the schema
//     offset 64: the schema, UTF-8 JSON:
//       {"source": "train.csv", "columns": [{"name": "age", "kind": "numeric", "n_missing": 3},
//        {"name": "color", "kind": "categorical", "n_missing": 0, "levels": ["red", "blue"]},
//        ...]}   (kind: numeric, boolean or categorical; levels only for categorical)
//     zero padding up to data_offset
//     column i (schema order) at data_offset + i * stride, stride = 4 * n_rows rounded up to a
//       multiple of 64 (zero padding): n_rows float32 (numeric, boolean; NaN = missing) or
//       n_rows int32 codes (categorical; -1 = missing, else an index into levels).
//     file_bytes = data_offset + n_columns * stride exactly.
//
// Checked when a file is opened (a failure is a tmlp::error, errc::io for a path that cannot
// be opened or mapped, errc::invalid_data for everything else, with one line naming the path
// and the problem): the magic, version and reserved field; that every size and offset is
// consistent with the others and with the file's actual size (so truncation, appended bytes
// and hostile sizes are caught before any allocation, and nothing is allocated beyond what the
// schema's own bytes justify); the header+schema checksum; zeros in the padding after the
// schema (padding after each column is never read); that the schema is JSON nested at
// most a few levels, with n_columns columns of non-empty, distinct names, known kinds,
// n_missing <= n_rows, and categorical levels that are distinct strings (at most 2^31 - 1);
// and, in one pass over each categorical column, that every code is -1 or a valid level index
// and that the count of -1 is the column's n_missing.
// Not checked (it would read every byte of the data): the float values. NaN is a missing
// value; an infinity (which write_dataset refuses, so only a damaged file or another writer
// has one) passes through preprocessing and makes training report fit_status::diverged; the
// n_missing of a numeric or boolean column is taken as written.
// The mapping is MAP_SHARED and read-only: a file truncated or rewritten in place by another
// process while it is mapped can raise SIGBUS or change values under the view (write_dataset
// itself never does that: it replaces the file by rename, so open mappings keep the old one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "tmlp/data.hpp"

namespace tmlp {

inline constexpr std::uint32_t dataset_format_version = 1;

// Writes t as a .tmlpd file at path, atomically: to a temporary file beside it, flushed to
// disk, then renamed over path (a crash leaves the old file or the new one, never a mix).
// Throws tmlp::error: errc::invalid_argument for a table the format cannot hold (no rows, no
// columns, an empty or repeated column name, an infinite value, a code outside its levels, a
// categorical column with more than 2^31 - 1 levels), errc::io when writing fails.
void write_dataset(const table_view& t, const std::string& path);

// A .tmlpd file mapped read-only into memory. Opening checks what the header comment above
// lists and hints the kernel that rows will be read in random order (MADV_RANDOM). Owns the
// mapping, the column names and the levels; views stay valid until it is destroyed (moving it
// keeps them valid; a moved-from dataset may only be destroyed or assigned to). Safe to read
// from several threads at once.
class mapped_dataset {
 public:
  explicit mapped_dataset(const std::string& path);  // throws tmlp::error (see above)
  ~mapped_dataset();
  mapped_dataset(mapped_dataset&&) noexcept;
  mapped_dataset& operator=(mapped_dataset&&) noexcept;
  mapped_dataset(const mapped_dataset&) = delete;
  mapped_dataset& operator=(const mapped_dataset&) = delete;

  // Every column; values and codes point straight into the mapping. source is path().
  table_view view() const;

  std::size_t n_rows() const noexcept;
  std::size_t n_columns() const noexcept;
  const std::string& path() const noexcept;    // the file opened
  const std::string& origin() const noexcept;  // the source the data was written from
  std::size_t file_bytes() const noexcept;

 private:
  struct state;
  std::unique_ptr<state> s_;
};

// Reads a .tmlpd file into an in-memory table (a copy of every column). Checks as
// mapped_dataset does; source is the path.
table read_dataset(const std::string& path);

}  // namespace tmlp
