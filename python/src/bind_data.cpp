// tmlp.Table (a typed, column-wise table: read from a CSV, mapped from a .tmlpd file, or built
// from columns, which is how tmlp.Table.from_frame brings in a pandas DataFrame), read_csv,
// open_dataset and write_dataset.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "table_holder.hpp"
#include "tmlp/data.hpp"
#include "tmlp/dataset.hpp"

namespace tmlp::python {
namespace {

std::shared_ptr<table_holder> read_csv_file(const std::string& path,
                                            const std::vector<std::string>& numeric,
                                            const std::vector<std::string>& categorical,
                                            int threads) {
  const csv_options o{.n_threads = threads, .numeric = numeric, .categorical = categorical};
  table t;
  {
    py::gil_scoped_release unlocked;
    t = read_csv(path, o);
  }
  return std::make_shared<table_holder>(std::move(t));
}

// One column of a frame: ("numeric", float array), ("boolean", float array of 0/1/NaN) or
// ("text", list of str, None for missing) with the kind forced or not.
column make_column(const std::string& name, const std::string& kind, py::handle data,
                   const std::string& forced, std::size_t n_rows, std::string_view source) {
  if (kind == "numeric" || kind == "boolean") {
    const float_matrix values = as_float_matrix(data, name.c_str(), true);
    if (values.view.cols != 1 || values.view.rows != n_rows)
      bad_input(fmt::format("{}: column '{}' has {} values, expected {}", source, name,
                            values.view.size(), n_rows));
    column c{.name = name, .kind = kind == "numeric" ? column_kind::numeric : column_kind::boolean};
    c.values.assign(values.view.data, values.view.data + n_rows);
    for (std::size_t r = 0; r < n_rows; ++r) {
      const float v = c.values[r];
      if (std::isnan(v)) {
        ++c.n_missing;
      } else if (!std::isfinite(v) || (kind == "boolean" && v != 0.0f && v != 1.0f)) {
        bad_input(fmt::format("{}: column '{}', row {}: {} is not a finite {}", source, name, r, v,
                              kind == "boolean" ? "boolean (0 or 1)" : "float32 number"));
      }
    }
    return c;
  }
  if (kind != "text")
    bad_input(fmt::format("{}: column '{}': unknown kind '{}'", source, name, kind));
  const auto texts = data.cast<std::vector<std::optional<std::string>>>();
  if (texts.size() != n_rows)
    bad_input(fmt::format("{}: column '{}' has {} values, expected {}", source, name, texts.size(),
                          n_rows));
  std::vector<std::string_view> fields(n_rows);
  for (std::size_t r = 0; r < n_rows; ++r)
    if (texts[r]) fields[r] = *texts[r];  // None stays empty: a missing value
  const forced_kind f = forced == "numeric"       ? forced_kind::numeric
                        : forced == "categorical" ? forced_kind::categorical
                                                  : forced_kind::none;
  return column_from_texts(name, fields, f, source);
}

std::shared_ptr<table_holder> from_columns(const py::list& columns, std::size_t n_rows,
                                           const std::string& source) {
  table t{.source = source, .n_rows = n_rows};
  for (py::handle entry : columns) {
    const auto [name, kind, data, forced] =
        entry.cast<std::tuple<std::string, std::string, py::object, std::string>>();
    if (t.find(name) != nullptr)
      bad_input(fmt::format("{}: column '{}' appears twice", source, name));
    t.columns.push_back(make_column(name, kind, data, forced, n_rows, source));
  }
  if (t.columns.empty()) bad_input(fmt::format("{}: no columns", source));
  if (n_rows == 0) bad_input(fmt::format("{}: no rows", source));
  return std::make_shared<table_holder>(std::move(t));
}

py::object column_data(const table_holder& h, const std::string& name) {
  const column_view* c = h.view().find(name);
  if (c == nullptr) throw py::key_error(fmt::format("no column '{}'", name));
  if (c->kind == column_kind::categorical) {
    py::array_t<std::int32_t> codes(c->codes.size());
    std::copy(c->codes.begin(), c->codes.end(), codes.mutable_data());
    return py::make_tuple(codes, std::vector<std::string>(c->levels.begin(), c->levels.end()));
  }
  py::array_t<float> values(c->values.size());
  std::copy(c->values.begin(), c->values.end(), values.mutable_data());
  return values;
}

}  // namespace

void bind_data(py::module_& m) {
  py::class_<table_holder, std::shared_ptr<table_holder>>(
      m, "Table", R"(Typed columns: numeric, boolean or categorical.

    t = tmlp.read_csv("train.csv")          # parsed in parallel, types inferred per column
    t = tmlp.open_dataset("big.tmlpd")      # memory-mapped, larger than RAM is fine
    t = tmlp.Table.from_frame(df)           # a pandas DataFrame, typed as the CSV reader would
)")
      .def_static("_from_columns", &from_columns, py::arg("columns"), py::arg("n_rows"),
                  py::arg("source"))
      .def_property_readonly("n_rows", [](const table_holder& h) { return h.view().n_rows; })
      .def_property_readonly("source",
                             [](const table_holder& h) { return std::string(h.view().source); })
      .def_property_readonly("mapped", &table_holder::mapped)
      .def_property_readonly("columns",
                             [](const table_holder& h) {
                               std::vector<std::string> names;
                               for (const column_view& c : h.view().columns)
                                 names.emplace_back(c.name);
                               return names;
                             })
      .def_property_readonly("kinds",
                             [](const table_holder& h) {
                               py::dict kinds;
                               for (const column_view& c : h.view().columns)
                                 kinds[py::str(std::string(c.name))] =
                                     std::string(to_string(c.kind));
                               return kinds;
                             })
      .def("column", &column_data, py::arg("name"),
           "A numeric or boolean column's values (float32, NaN = missing), or a categorical "
           "column's (codes, levels) (code -1 = missing)")
      .def("__len__", [](const table_holder& h) { return h.view().n_rows; })
      .def("__repr__", [](const table_holder& h) {
        return fmt::format("<tmlp.Table {}: {} rows x {} columns{}>", h.view().source,
                           h.view().n_rows, h.view().columns.size(),
                           h.mapped() ? ", memory-mapped" : "");
      });

  m.def("read_csv", &read_csv_file, py::arg("path"),
        py::arg("numeric") = std::vector<std::string>{},
        py::arg("categorical") = std::vector<std::string>{}, py::arg("threads") = 0,
        "Reads a CSV/TSV file into a Table (the reader of tmlp train; runs without the GIL)");
  m.def(
      "open_data",
      [](const std::string& path, const std::vector<std::string>& categorical, int threads) {
        const csv_options csv{.n_threads = threads, .categorical = categorical};
        return std::make_shared<table_holder>(open_data(path, csv));
      },
      py::arg("path"), py::arg("categorical") = std::vector<std::string>{}, py::arg("threads") = 0,
      "A CSV file read (categorical: columns read as categories whatever they look like) or a "
      ".tmlpd file mapped, told apart by its first bytes, as tmlp train opens its data");
  m.def(
      "open_dataset",
      [](const std::string& path) { return std::make_shared<table_holder>(mapped_dataset(path)); },
      py::arg("path"), "Maps a .tmlpd file (tmlp convert) read-only; nothing is copied");
  m.def(
      "write_dataset",
      [](const table_holder& h, const std::string& path) { write_dataset(h.view(), path); },
      py::arg("table"), py::arg("path"), "Writes a Table as a .tmlpd file, atomically");
}

}  // namespace tmlp::python
