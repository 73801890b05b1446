// tmlp::column_from_texts: one column typed from its fields' texts by read_csv's rules (the
// same number and boolean-word parsers, the same missing tokens, the same choice of kind).
#include <limits>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "data/csv_scan.hpp"
#include "tmlp/data.hpp"
#include "tmlp/error.hpp"

namespace tmlp {
namespace {

struct field_counts {
  std::size_t n_number = 0, n_bool = 0, n_text = 0, n_missing = 0;
  std::size_t first_text = 0, first_non_finite = 0;  // row + 1; 0: none
};

[[noreturn]] void bad_field(std::string_view source, const std::string& name, std::size_t row,
                            std::string_view text, std::string_view why) {
  throw error(errc::invalid_data, fmt::format("{}: column '{}', row {}: '{}' {}", source, name, row,
                                              text.substr(0, 40), why));
}

// Counts each field's kind into k and writes the numeric value of each (NaN if none).
field_counts count_fields(const std::string& name, std::span<const std::string_view> fields,
                          std::vector<float>& values, std::string_view source) {
  field_counts k;
  values.assign(fields.size(), std::numeric_limits<float>::quiet_NaN());
  for (std::size_t r = 0; r < fields.size(); ++r) {
    const std::string_view t = fields[r];
    float v = 0.0f;
    if (is_missing_token(t)) {
      ++k.n_missing;
    } else if (const auto num = data::csv_parse_number(t, v); num != data::csv_number::none) {
      ++k.n_number;
      if (num == data::csv_number::finite)
        values[r] = v;
      else if (k.first_non_finite == 0)
        k.first_non_finite = r + 1;
    } else {
      if (data::csv_bool_word(t, v)) {
        ++k.n_bool;
        values[r] = v;
      } else {
        if (data::csv_invalid_utf8(t) != std::string_view::npos)
          bad_field(source, name, r, "", "is not UTF-8 text");
        ++k.n_text;
      }
      if (k.first_text == 0) k.first_text = r + 1;
    }
  }
  return k;
}

}  // namespace

column column_from_texts(const std::string& name, std::span<const std::string_view> fields,
                         forced_kind forced, std::string_view source) {
  column c{.name = name};
  const field_counts k = count_fields(name, fields, c.values, source);
  c.n_missing = k.n_missing;
  const bool any_text = k.n_text + k.n_bool > 0 && (k.n_text > 0 || k.n_number > 0);
  if (forced == forced_kind::categorical || (forced != forced_kind::numeric && any_text)) {
    c.kind = column_kind::categorical;
    c.values.clear();
    c.codes.resize(fields.size());
    std::unordered_map<std::string_view, std::int32_t> code;
    for (std::size_t r = 0; r < fields.size(); ++r) {
      if (is_missing_token(fields[r])) {
        c.codes[r] = -1;
        continue;
      }
      const auto [it, added] =
          code.try_emplace(fields[r], static_cast<std::int32_t>(c.levels.size()));
      if (added) c.levels.emplace_back(fields[r]);
      c.codes[r] = it->second;
    }
    return c;
  }
  if (forced != forced_kind::numeric && k.n_bool > 0) {
    c.kind = column_kind::boolean;
    return c;
  }
  if (k.first_text != 0)
    bad_field(source, name, k.first_text - 1, fields[k.first_text - 1],
              "is text in a column forced numeric; expected a number or a missing value (empty, "
              "NA, NaN, null, ?)");
  if (k.first_non_finite != 0)
    bad_field(source, name, k.first_non_finite - 1, fields[k.first_non_finite - 1],
              "is not a finite float32 number");
  return c;
}

}  // namespace tmlp
