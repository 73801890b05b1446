// tmlp_predict_latency: times tmlp::model::predict (the C++ API, in-process) on one benchmark
// configuration's network (BENCHMARKS.md: A, B, C, H; weights from the seed, inputs standard
// normal) and prints one JSON line: the median, min and max time per call over blocks of calls
// for about SECONDS. With --export, writes the network's ONNX file instead (the features-only
// export), so that ONNX Runtime runs the very same model. scripts/bench_onnx.py drives both.
//
//     tmlp_predict_latency CONFIG BATCH THREADS SECONDS
//     tmlp_predict_latency CONFIG --export OUT.onnx
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tmlp/bench.hpp"
#include "tmlp/error.hpp"
#include "tmlp/onnx.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr,
                 "usage: %s CONFIG BATCH THREADS SECONDS\n       %s CONFIG --export OUT.onnx\n",
                 argv[0], argv[0]);
    return 2;
  }
  const tmlp::bench_config* c = tmlp::find_bench_config(argv[1]);
  if (c == nullptr) throw tmlp::error(tmlp::errc::invalid_argument, "unknown configuration");
  const tmlp::model m = tmlp::model::create(c->spec(1));
  if (std::string(argv[2]) == "--export") {
    tmlp::export_onnx(m, argv[3], {});
    return 0;
  }
  const std::size_t batch = std::strtoul(argv[2], nullptr, 10);
  const int threads = std::atoi(argv[3]);
  const double budget = std::strtod(argv[4], nullptr);
  const tmlp::bench_data d = tmlp::make_bench_data(c->spec(1), 1, batch, 7);
  tmlp::matrix out(batch, m.n_outputs());
  const tmlp::predict_options o{.n_threads = threads};
  const auto call = [&] { m.predict(d.x_infer.view(), out.span(), o); };

  // Calls per block: about 20 ms of work, measured after a warm-up.
  auto t0 = clock_type::now();
  std::size_t warm = 0;
  while (seconds_since(t0) < std::min(0.2, budget / 5) || warm < 3) {
    call();
    ++warm;
  }
  const double per_call = seconds_since(t0) / static_cast<double>(warm);
  const std::size_t block = std::max<std::size_t>(1, static_cast<std::size_t>(0.02 / per_call));
  std::vector<double> us;
  t0 = clock_type::now();
  while (seconds_since(t0) < budget || us.size() < 5) {
    const auto b0 = clock_type::now();
    for (std::size_t i = 0; i < block; ++i) call();
    us.push_back(seconds_since(b0) * 1e6 / static_cast<double>(block));
  }
  std::sort(us.begin(), us.end());
  std::printf("{\"median_us\": %.4f, \"min_us\": %.4f, \"max_us\": %.4f, \"calls\": %zu}\n",
              us[us.size() / 2], us.front(), us.back(), us.size() * block);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "tmlp_predict_latency: %s\n", e.what());
  return 1;
}
