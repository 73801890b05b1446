// Data files as `tmlp train`, `predict` and the bindings open them: a CSV (parsed into memory)
// or a .tmlpd dataset (memory-mapped, used in place), told apart by the file's first bytes,
// behind one table_view.
//
//     tmlp::data_source s = tmlp::open_data(path, csv);
//     preprocessor::fit(s.view(), ...);  feature_rows(prep, s.view());
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "tmlp/data.hpp"
#include "tmlp/dataset.hpp"

namespace tmlp {

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

// A validation file opened like the training file `train`: a column categorical in train that
// reads as numbers in this CSV (its values happen to look numeric) is read again as categorical.
data_source open_valid_data(const std::string& path, csv_options csv, const table_view& train);

}  // namespace tmlp
