// Pieces of the preprocessor shared by its fitting (preprocess.cpp), its transforms
// (preprocess_transform.cpp) and its JSON form (preprocess_json.cpp).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tmlp/data.hpp"
#include "tmlp/preprocess.hpp"

namespace tmlp::data {

// Largest cardinality of an embedded column: every index below it is exact in float32.
inline constexpr std::size_t max_embedding_cardinality = std::size_t{1} << 24;

// Throws tmlp::error (errc::invalid_data) with this message.
[[noreturn]] void fail(const std::string& what);

inline bool is_categorical(column_kind k) noexcept { return k == column_kind::categorical; }

// A numeric or boolean class value as text ("3", "0.5").
std::string number_label(double v);

// The column's entries must match the table's row count (a hand-built view could differ).
void check_length(const table_view& t, const column_view& c);

// The column `name` of t with a kind compatible with `kind` (numeric and boolean are); throws
// naming the table, the column and the problem.
const column_view& need_column(const table_view& t, const std::string& name, column_kind kind);

// levels sorted by text (stable: the first of equal texts wins), for level_slot's look-ups.
void index_levels(preprocessor::feature_column& f);

// The feature slot (0-based within the column's features; an embedded column's index) of a
// level's text, or -1 when the level was not seen in training. bind() maps each code of a table
// through it once.
std::ptrdiff_t level_slot(const preprocessor::feature_column& f, std::string_view level) noexcept;

// How many features the column becomes.
std::size_t width(const preprocessor::feature_column& f) noexcept;

// Appends the names of the column's features.
void append_feature_names(const preprocessor::feature_column& f, std::vector<std::string>& names);

}  // namespace tmlp::data
