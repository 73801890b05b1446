// Fuzz target: opening a .tmlpd file must turn any bytes into a usable mapping or a
// tmlp::error. The input is written to a temporary file and opened for real (mmap included).
// A file that opens is then read end to end through its view, and preprocessed with its last
// column as the target (fit, features, and transform_rows of every row, compared): the view of
// any file that passes the checks must be safe for everything that consumes views.
//
// Most mutations would only ever reach the header+schema checksum, so unless the input's last
// byte is 0xff the harness writes the correct checksum into bytes 56..63 first (the layout is
// in include/tmlp/dataset.hpp); inputs ending in 0xff keep theirs, so the check is fuzzed too.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "io/file_io.hpp"
#include "tmlp/dataset.hpp"
#include "tmlp/error.hpp"
#include "tmlp/preprocess.hpp"

namespace {

// One scratch file for the whole run (in TMPDIR), removed at exit.
const std::string& scratch_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/tmlp_fuzz_dataset_XXXXXX";
    const int fd = ::mkstemp(tmpl.data());
    if (fd < 0) std::abort();
    ::close(fd);
    std::atexit([] { ::unlink(scratch_path().c_str()); });
    return tmpl;
  }();
  return path;
}

std::uint64_t get_u64(const unsigned char* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// FNV-1a 64 of bytes 0..55 and the schema, stored in bytes 56..63, when the schema fits.
void fix_checksum(std::vector<unsigned char>& b) {
  if (b.size() <= 64 || b.back() == 0xff) return;
  const std::uint64_t schema_bytes = get_u64(b.data() + 32);
  if (schema_bytes > b.size() - 64) return;
  const std::uint64_t h =
      tmlp::io::fnv1a(b.data() + 64, schema_bytes, tmlp::io::fnv1a(b.data(), 56));
  for (std::size_t i = 0; i < 8; ++i) b[56 + i] = static_cast<unsigned char>(h >> (8 * i));
}

void preprocess(const tmlp::table_view& v) {
  const auto p = tmlp::preprocessor::fit(v, {.target = std::string(v.columns.back().name)});
  const tmlp::matrix x = p.features(v);
  (void)p.targets(v);
  std::vector<std::uint32_t> idx(v.n_rows);
  std::iota(idx.rbegin(), idx.rend(), 0u);  // every row, last first
  std::vector<float> out(v.n_rows * p.n_features());
  p.transform_rows(p.bind(v), idx.data(), idx.size(), out.data());
  for (std::size_t i = 0; i < idx.size(); ++i)
    if (std::memcmp(out.data() + i * p.n_features(), x.row(idx[i]),
                    p.n_features() * sizeof(float)) != 0)
      std::abort();  // transform_rows disagrees with features()
}

}  // namespace

// Keeps the reads of a mapped file from being optimized away.
volatile double fuzz_dataset_sink = 0.0;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<unsigned char> bytes(data, data + size);
  fix_checksum(bytes);
  const std::string& path = scratch_path();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  if (size > 0 && std::fwrite(bytes.data(), 1, size, f) != size) std::abort();
  std::fclose(f);
  try {
    const tmlp::mapped_dataset d(path);
    const tmlp::table_view v = d.view();
    double sum = 0.0;
    std::size_t length = 0;
    for (const tmlp::column_view& c : v.columns) {
      for (const float x : c.values) sum += x;
      for (const std::int32_t code : c.codes)
        if (code >= 0) length += c.levels[static_cast<std::size_t>(code)].size();
    }
    fuzz_dataset_sink = sum + static_cast<double>(length);
    if (v.n_rows <= 4096) preprocess(v);  // bounded work per input
  } catch (const tmlp::error& e) {
    if (std::strchr(e.what(), '\n') != nullptr) std::abort();  // messages are one line
  }
  return 0;
}
