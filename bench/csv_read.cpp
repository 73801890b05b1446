// tmlp_csv_read: reads one CSV with tmlp::read_csv and prints, as one JSON line, its shape, the
// time, the throughput and the process's peak resident memory. Used by scripts/bench_csv.py.
//
//     tmlp_csv_read FILE [N_THREADS]      (N_THREADS 0 or absent: every core)
#include <sys/stat.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "tmlp/data.hpp"
#include "tmlp/error.hpp"

namespace {

// VmHWM from /proc/self/status, in MiB (the peak resident set).
double peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  return -1.0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [N_THREADS]\n", argv[0]);
    return 2;
  }
  tmlp::csv_options options;
  if (argc > 2) options.n_threads = std::atoi(argv[2]);
  struct stat st {};
  if (::stat(argv[1], &st) != 0) {
    std::fprintf(stderr, "%s: cannot stat\n", argv[1]);
    return 1;
  }
  try {
    const auto t0 = std::chrono::steady_clock::now();
    const tmlp::table t = tmlp::read_csv(argv[1], options);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // A checksum so the result is used (and comparable between runs).
    double sum = 0.0;
    for (const tmlp::column& c : t.columns)
      for (const float v : c.values)
        if (v == v) sum += static_cast<double>(v);
    std::printf(
        "{\"rows\": %zu, \"cols\": %zu, \"bytes\": %lld, \"seconds\": %.6f, \"mb_per_s\": %.1f, "
        "\"peak_rss_mib\": %.1f, \"threads\": %d, \"checksum\": %.6e}\n",
        t.n_rows, t.columns.size(), static_cast<long long>(st.st_size), s,
        static_cast<double>(st.st_size) / 1e6 / s, peak_rss_mib(), options.n_threads, sum);
  } catch (const tmlp::error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
