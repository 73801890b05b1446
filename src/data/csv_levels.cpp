// The levels pass of tmlp::read_csv (see csv.cpp): categorical fields to codes, with levels
// in order of first appearance in the file whatever the chunking.
#include <unordered_map>

#include "data/csv_reader.hpp"

namespace tmlp::data {
namespace {

struct text_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

// Distinct texts in order of first appearance.
struct level_dict {
  std::unordered_map<std::string, std::int32_t, text_hash, std::equal_to<>> index;
  std::vector<const std::string*> order;  // keys of index (node addresses are stable)

  std::int32_t code(std::string_view t) {
    if (const auto it = index.find(t); it != index.end()) return it->second;
    const auto code = static_cast<std::int32_t>(order.size());
    const auto [it, inserted] = index.emplace(std::string(t), code);
    order.push_back(&it->first);
    return code;
  }
};

// Reads the categorical fields (slot[c] >= 0) of chunk `ch` into chunk-local codes.
void parse_levels(const csv_reader& rd, const csv_chunk& ch, const std::vector<int>& slot,
                  std::int32_t* const* codes, level_dict* dicts, std::size_t* n_missing) {
  const char delim = rd.delimiter;
  const char* p = ch.begin;
  const char* const end = ch.end;
  std::size_t row = ch.first_row;
  std::string scratch;
  while (p != end) {
    if (const char* next = csv_skip_blank(p, end)) {
      p = next;
      continue;
    }
    for (std::size_t c = 0;; ++c) {
      csv_field f;
      if (csv_read_field(p, end, delim, f) != csv_status::ok || c >= slot.size())
        throw error(errc::invalid_data, std::string(rd.source) + ": internal error");
      if (const int s = slot[c]; s >= 0) {
        const std::string_view t = csv_text(f, scratch);
        if (is_missing_token(t)) {
          codes[s][row] = -1;
          ++n_missing[s];
        } else {
          codes[s][row] = dicts[s].code(t);
        }
      }
      if (!csv_next_field(p, end, delim)) break;
    }
    ++row;
  }
}

}  // namespace

void read_levels(const csv_reader& rd, const std::vector<std::size_t>& cat_cols,
                 const std::vector<int>& slot, table& out) {
  const std::size_t n_chunks = rd.chunks.size(), n_rows = out.n_rows;
  // Levels pass for the categorical columns.
  const std::size_t n_cat = cat_cols.size();
  std::vector<std::int32_t*> codes(n_cat);
  core::parallel_for_index(n_cat, [&](std::size_t s) {
    column& col = out.columns[cat_cols[s]];
    std::vector<float>().swap(col.values);
    col.codes.resize(n_rows);
    codes[s] = col.codes.data();
  });
  std::vector<level_dict> dicts(n_chunks * n_cat);
  std::vector<std::size_t> n_missing(n_chunks * n_cat, 0);
  core::parallel_for_index(n_chunks, [&](std::size_t k) {
    parse_levels(rd, rd.chunks[k], slot, codes.data(), dicts.data() + k * n_cat,
                 n_missing.data() + k * n_cat);
  });
  // Merge in chunk order, then remap every chunk's codes.
  std::vector<std::vector<std::int32_t>> remap(n_chunks * n_cat);
  core::parallel_for_index(n_cat, [&](std::size_t s) {
    level_dict global;
    column& col = out.columns[cat_cols[s]];
    col.n_missing = 0;
    for (std::size_t k = 0; k < n_chunks; ++k) {
      const level_dict& local = dicts[k * n_cat + s];
      std::vector<std::int32_t>& m = remap[k * n_cat + s];
      m.reserve(local.order.size());
      for (const std::string* t : local.order) m.push_back(global.code(*t));
      col.n_missing += n_missing[k * n_cat + s];
    }
    col.levels.reserve(global.order.size());
    for (const std::string* t : global.order) col.levels.push_back(*t);
  });
  core::parallel_for_index(n_chunks, [&](std::size_t k) {
    const csv_chunk& ch = rd.chunks[k];
    for (std::size_t s = 0; s < n_cat; ++s) {
      const std::vector<std::int32_t>& m = remap[k * n_cat + s];
      std::int32_t* code = codes[s] + ch.first_row;
      for (std::size_t r = 0; r < ch.n_rows; ++r)
        if (code[r] >= 0) code[r] = m[static_cast<std::size_t>(code[r])];
    }
  });
}

}  // namespace tmlp::data
