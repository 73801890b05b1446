// libFuzzer target for the CSV reader: any bytes, with reading options chosen by the first
// byte (delimiter given or detected, header on or off, tiny chunks so the parallel split and
// merge paths run on small inputs, one or two threads). A tmlp::error is the expected way to
// reject input; anything else (a crash, a sanitizer report, a hang) is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tmlp/data.hpp"
#include "tmlp/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned mode = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  tmlp::csv_options options;
  constexpr char delimiters[4] = {0, ',', ';', '\t'};
  options.delimiter = delimiters[mode & 3u];
  options.header = (mode & 4u) == 0;
  constexpr std::size_t chunk_sizes[4] = {64, 1, 7, std::size_t{8} << 20};
  options.chunk_bytes = chunk_sizes[(mode >> 3) & 3u];
  options.n_threads = (mode & 32u) != 0 ? 2 : 1;
  if ((mode & 64u) != 0) options.categorical = {"col_1"};
  try {
    const tmlp::table t = tmlp::read_csv_text(text, options, "fuzz.csv");
    // Invariants of every table that comes back.
    for (const tmlp::column& c : t.columns) {
      const std::size_t n =
          c.kind == tmlp::column_kind::categorical ? c.codes.size() : c.values.size();
      if (n != t.n_rows) __builtin_trap();
      for (const std::int32_t code : c.codes)
        if (code < -1 || code >= static_cast<std::int32_t>(c.levels.size())) __builtin_trap();
    }
  } catch (const tmlp::error&) {
  }
  return 0;
}
