// The program's data files: a CSV (parsed into memory) or a .tmlpd dataset (memory-mapped, used
// in place), told apart by the file's first bytes, behind one table_view.
//
//     tmlp::cli::data_source s = tmlp::cli::open_data(path, csv, "--numeric");
//     preprocessor::fit(s.view(), ...);  feature_rows(prep, s.view());
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "tmlp/data.hpp"
#include "tmlp/dataset.hpp"

namespace tmlp::cli {

class data_source {
 public:
  explicit data_source(table t);
  explicit data_source(mapped_dataset d);

  // Every column; valid while this object lives (it does not move its storage when moved).
  const table_view& view() const noexcept { return *view_; }
  bool mapped() const noexcept { return mapped_ != nullptr; }

 private:
  std::unique_ptr<table> table_;
  std::unique_ptr<mapped_dataset> mapped_;
  std::unique_ptr<table_view> view_;
};

// True if the file at path starts with the .tmlpd magic bytes.
bool is_dataset_file(const std::string& path);

// Opens path: a .tmlpd file is mapped; anything else is read as CSV with csv. A .tmlpd file's
// column kinds were fixed by `tmlp convert`, so csv.numeric or csv.categorical with one is an
// error naming the flag. Reader errors name the flags (--numeric, ...) rather than the library's
// option names.
data_source open_data(const std::string& path, const csv_options& csv);

}  // namespace tmlp::cli
