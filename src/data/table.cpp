// tmlp::table and tmlp::table_view look-ups, and the shared missing-value and kind vocabulary.
#include "tmlp/data.hpp"

#include <algorithm>

namespace tmlp {

std::string_view to_string(column_kind k) noexcept {
  switch (k) {
    case column_kind::numeric:
      return "numeric";
    case column_kind::categorical:
      return "categorical";
    case column_kind::boolean:
      return "boolean";
  }
  return "?";
}

bool is_missing_token(std::string_view f) noexcept {
  return std::find(missing_tokens.begin(), missing_tokens.end(), f) != missing_tokens.end();
}

const column* table::find(std::string_view name) const noexcept {
  for (const column& c : columns)
    if (c.name == name) return &c;
  return nullptr;
}

column* table::find(std::string_view name) noexcept {
  for (column& c : columns)
    if (c.name == name) return &c;
  return nullptr;
}

table_view::table_view(const table& t) : source(t.source), n_rows(t.n_rows) {
  columns.reserve(t.columns.size());
  for (const column& c : t.columns)
    columns.push_back({.name = c.name,
                       .kind = c.kind,
                       .values = c.values,
                       .codes = c.codes,
                       .levels = c.levels,
                       .n_missing = c.n_missing});
}

const column_view* table_view::find(std::string_view name) const noexcept {
  for (const column_view& c : columns)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace tmlp
