// tmlp_csv_read: reads one CSV with tmlp::read_csv and prints, as one JSON line, its shape, the
// time, the throughput and the process's peak resident memory: all of it (VmHWM, which counts
// the pages of the memory-mapped file) and the anonymous part (RssAnon, sampled every
// millisecond while the file is parsed: the memory the reader allocates). Used by
// scripts/bench_csv.py.
//
//     tmlp_csv_read FILE [N_THREADS]      (N_THREADS 0 or absent: every core)
#include <sys/stat.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "tmlp/data.hpp"
#include "tmlp/error.hpp"

namespace {

// A field of /proc/self/status in MiB (VmHWM: the peak resident set; RssAnon: the anonymous
// resident memory now).
double status_mib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::size_t n = std::char_traits<char>::length(field);
  while (std::getline(in, line))
    if (line.compare(0, n, field) == 0) return std::strtod(line.c_str() + n, nullptr) / 1024.0;
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
    const double anon_before = status_mib("RssAnon:");
    std::atomic<bool> parsing{true};
    double anon_peak = anon_before;
    std::thread sampler([&] {
      while (parsing.load()) {
        anon_peak = std::max(anon_peak, status_mib("RssAnon:"));
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
    const auto t0 = std::chrono::steady_clock::now();
    const tmlp::table t = tmlp::read_csv(argv[1], options);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    parsing.store(false);
    sampler.join();
    anon_peak = std::max(anon_peak, status_mib("RssAnon:"));
    // A checksum so the result is used (and comparable between runs).
    double sum = 0.0;
    for (const tmlp::column& c : t.columns)
      for (const float v : c.values)
        if (v == v) sum += static_cast<double>(v);
    std::printf(
        "{\"rows\": %zu, \"cols\": %zu, \"bytes\": %lld, \"seconds\": %.6f, \"mb_per_s\": %.1f, "
        "\"peak_rss_mib\": %.1f, \"peak_anon_mib\": %.1f, \"threads\": %d, "
        "\"checksum\": %.6e}\n",
        t.n_rows, t.columns.size(), static_cast<long long>(st.st_size), s,
        static_cast<double>(st.st_size) / 1e6 / s, status_mib("VmHWM:"), anon_peak - anon_before,
        options.n_threads, sum);
  } catch (const tmlp::error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
