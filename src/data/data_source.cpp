// Opening data files: CSV or .tmlpd behind one view.
#include "tmlp/data_source.hpp"

#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "tmlp/error.hpp"

namespace tmlp {

data_source::data_source(table t)
    : table_(std::make_unique<table>(std::move(t))), view_(std::make_unique<table_view>(*table_)) {}

data_source::data_source(mapped_dataset d)
    : mapped_(std::make_unique<mapped_dataset>(std::move(d))),
      view_(std::make_unique<table_view>(mapped_->view())) {}

bool is_dataset_file(const std::string& path) {
  char head[8] = {};
  std::ifstream in(path, std::ios::binary);
  return in.read(head, sizeof head) && std::memcmp(head, "TMLPDSET", 8) == 0;
}

data_source open_data(const std::string& path, const csv_options& csv) {
  if (is_dataset_file(path)) {
    const char* flag = !csv.numeric.empty() ? "--numeric" : "--categorical";
    if (!csv.numeric.empty() || !csv.categorical.empty())
      throw error(errc::invalid_argument,
                  fmt::format("{}: {} is a .tmlpd file, whose column kinds were fixed when it was "
                              "converted (give {} to tmlp convert instead)",
                              flag, path, flag));
    return data_source(mapped_dataset(path));
  }
  try {
    return data_source(read_csv(path, csv));
  } catch (const error& e) {
    std::string m = e.what();
    for (std::size_t at; (at = m.find("csv_options.")) != std::string::npos;)
      m.replace(at, 12, "--");
    throw error(e.code(), m);
  }
}

data_source open_valid_data(const std::string& path, csv_options csv, const table_view& train) {
  data_source v = open_data(path, csv);
  if (v.mapped()) return v;
  bool again = false;
  for (const column_view& c : v.view().columns) {
    const column_view* tc = train.find(c.name);
    if (tc != nullptr && tc->kind == column_kind::categorical &&
        c.kind != column_kind::categorical) {
      csv.categorical.emplace_back(c.name);
      again = true;
    }
  }
  return again ? open_data(path, csv) : std::move(v);
}

}  // namespace tmlp
