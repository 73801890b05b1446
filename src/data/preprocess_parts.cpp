// Pieces of the preprocessor shared by its parts (see preprocess_parts.hpp).
#include "data/preprocess_parts.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "io/file_io.hpp"
#include "tmlp/error.hpp"

namespace tmlp::data {

void fail(const std::string& what) { throw error(errc::invalid_data, what); }

std::string number_label(double v) {
  return v == std::floor(v) && std::fabs(v) < 1e15 ? fmt::format("{}", static_cast<long long>(v))
                                                   : fmt::format("{}", v);
}

void check_length(const table_view& t, const column_view& c) {
  const std::size_t n = is_categorical(c.kind) ? c.codes.size() : c.values.size();
  if (n != t.n_rows)
    fail(fmt::format("{}: column '{}' has {} entries for {} rows", t.source, c.name, n, t.n_rows));
}

const column_view& need_column(const table_view& t, const std::string& name, column_kind kind) {
  const column_view* c = t.find(name);
  if (c == nullptr)
    fail(fmt::format("{}: no column named '{}', which the model needs", t.source, name));
  if (is_categorical(c->kind) != is_categorical(kind))
    fail(fmt::format("{}: column '{}' is {} here but was {} in training", t.source, name,
                     to_string(c->kind), to_string(kind)));
  check_length(t, *c);
  return *c;
}

void index_levels(preprocessor::feature_column& f) {
  f.level_order.resize(f.levels.size());
  for (std::size_t i = 0; i < f.levels.size(); ++i)
    f.level_order[i] = static_cast<std::uint32_t>(i);
  std::stable_sort(f.level_order.begin(), f.level_order.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return f.levels[a] < f.levels[b]; });
}

std::ptrdiff_t level_slot(const preprocessor::feature_column& f, std::string_view level) noexcept {
  if (f.n_buckets > 0) return static_cast<std::ptrdiff_t>(io::fnv1a(level) % f.n_buckets);
  const auto it = std::lower_bound(
      f.level_order.begin(), f.level_order.end(), level,
      [&](std::uint32_t i, std::string_view text) { return std::string_view(f.levels[i]) < text; });
  if (it == f.level_order.end() || f.levels[*it] != level) return -1;
  return static_cast<std::ptrdiff_t>(*it);
}

std::size_t width(const preprocessor::feature_column& f) noexcept {
  if (f.kind != column_kind::categorical) return f.indicator ? 2 : 1;
  if (f.embedded) return 1;
  return f.n_buckets > 0 ? f.n_buckets : f.levels.size() + 1;  // + the "missing" slot
}

void append_feature_names(const preprocessor::feature_column& f, std::vector<std::string>& names) {
  if (f.kind != column_kind::categorical) {
    names.push_back(f.name);
    if (f.indicator) names.push_back(f.name + "<missing>");
  } else if (f.embedded) {
    names.push_back(f.name);
  } else if (f.n_buckets > 0) {
    for (std::size_t b = 0; b < f.n_buckets; ++b) names.push_back(fmt::format("{}#{}", f.name, b));
  } else {
    for (const auto& level : f.levels) names.push_back(f.name + "=" + level);
    names.push_back(f.name + "=<missing>");
  }
}

}  // namespace tmlp::data
