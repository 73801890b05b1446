// tmlp bench: the measurements (see bench_measure.hpp).
#include "cli/bench_measure.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#ifdef __linux__
#include <pthread.h>
#include <sched.h>
#endif

#include "tmlp/bench.hpp"
#include "tmlp/trainer.hpp"

namespace tmlp::cli {
namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

}  // namespace

std::optional<bench_core_latency> find_cores() {
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return std::nullopt;
  bench_core_latency c;
  for (int cpu = 0; cpu < CPU_SETSIZE && c.cpus.size() < 16; ++cpu)
    if (CPU_ISSET(cpu, &set)) c.cpus.push_back(cpu);
  if (c.cpus.size() < 2) return std::nullopt;
  return c;
#else
  return std::nullopt;
#endif
}

namespace {

#ifdef __linux__
bool pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// One round: n round trips of a counter between a thread on cpu a and one on cpu b; the one-way
// nanoseconds, or NaN when a thread could not be pinned or the round ran past a quarter of a
// second (about 4 ms when both threads have their CPU; another process on one of them makes
// every hand-over wait for the scheduler).
double ping_pong(int a, int b, int n) {
  alignas(64) std::atomic<int> turn{0};  // 2i + 1: a's i-th ball; 2i + 2: b's answer; -1: stop
  std::atomic<bool> pinned_b{true};
  std::thread other([&] {
    if (!pin_to(b)) pinned_b = false;
    for (int i = 0; i < n; ++i) {
      int v = 0;
      while ((v = turn.load(std::memory_order_acquire)) != 2 * i + 1)
        if (v < 0) return;
      turn.store(2 * i + 2, std::memory_order_release);
    }
  });
  double ns = std::numeric_limits<double>::quiet_NaN();
  std::thread first([&] {
    const bool pinned_a = pin_to(a);
    const auto t0 = clock_type::now();
    for (int i = 0; i < n; ++i) {
      turn.store(2 * i + 1, std::memory_order_release);
      while (turn.load(std::memory_order_acquire) != 2 * i + 2) {
      }
      if (i % 256 == 255 && seconds_since(t0) > 0.25) {
        turn.store(-1, std::memory_order_release);
        return;
      }
    }
    if (pinned_a) ns = seconds_since(t0) * 1e9 / (2.0 * n);
  });
  first.join();
  other.join();
  return pinned_b ? ns : std::numeric_limits<double>::quiet_NaN();
}
#endif

}  // namespace

std::vector<double> measure_core_latency(const bench_core_latency& cores) {
  std::vector<double> out;
#ifdef __linux__
  for (std::size_t i = 1; i < cores.cpus.size(); ++i) {
    std::vector<double> rounds;
    for (int r = 0; r < 3; ++r) rounds.push_back(ping_pong(cores.cpus[0], cores.cpus[i], 10000));
    const bool all =
        std::none_of(rounds.begin(), rounds.end(), [](double x) { return std::isnan(x); });
    out.push_back(all ? bench_stats::of(rounds).median : std::numeric_limits<double>::quiet_NaN());
  }
#endif
  return out;
}

bench_gemm_limit measure_gemm_limit(const bench_problem& p, double min_time) {
  const std::vector<std::size_t> w = p.widths();
  const std::size_t batch = std::min(p.batch_size, p.rows);  // as the trainer cuts it
  bench_gemm_step step(w, batch);
  step.run();  // warm caches and BLAS buffers
  constexpr int n_rounds = 5;
  std::vector<double> per_step;
  for (int r = 0; r < n_rounds; ++r) {
    const auto t0 = clock_type::now();
    std::size_t n = 0;
    double t = 0.0;
    do {
      step.run();
      ++n;
      t = seconds_since(t0);
    } while (t < min_time / n_rounds);
    per_step.push_back(t / static_cast<double>(n));
  }
  bench_gemm_limit g;
  g.step_seconds = bench_stats::of(per_step).min;  // a limit: the best round
  g.samples_per_s = static_cast<double>(batch) / g.step_seconds;
  g.gflops = step.flops() / g.step_seconds * 1e-9;
  return g;
}

bench_fma measure_fma_peak(const std::vector<int>& threads, double min_time) {
  std::vector<int> counts{1};
  for (int t : threads)
    if (std::find(counts.begin(), counts.end(), t) == counts.end()) counts.push_back(t);
  bench_fma out;
  for (int n : counts) {
    bench_fma_loop loop(n);
    out.isa = std::string(loop.isa());
    out.lanes = loop.lanes();
    out.n_vectors = loop.n_vectors();
    loop.run();  // wake the arena's threads
    constexpr int n_rounds = 5;
    double best = std::numeric_limits<double>::infinity();
    for (int r = 0; r < n_rounds; ++r) {
      const auto round0 = clock_type::now();
      do {
        const auto t0 = clock_type::now();
        loop.run();
        best = std::min(best, seconds_since(t0));
      } while (seconds_since(round0) < min_time / n_rounds);
    }
    out.peaks.push_back(
        {.n_threads = n, .run_seconds = best, .gflops = loop.flops() / best * 1e-9});
  }
  return out;
}

model measure_training(const bench_problem& p, const bench_data& d, int n_threads,
                       std::size_t warmup, std::size_t repeats, std::uint64_t seed,
                       bench_threads& out) {
  model m = model::create(p.spec);
  train_config cfg{.opt = p.opt,
                   .batch_size = p.batch_size,
                   .epochs = warmup + repeats,
                   .n_threads = n_threads,
                   .seed = seed};
  cfg.precision = p.precision;
  cfg.shard_rows = p.shard_rows;
  trainer t(std::move(cfg));
  const fit_result r = t.fit(m, d.x.view(), d.y.view());
  out.n_workers = r.n_workers;
  out.n_shards = r.n_shards;
  out.status = std::string(to_string(r.status));
  out.epoch_samples_per_s.clear();
  for (std::size_t e = warmup; e < r.epochs.size(); ++e)
    out.epoch_samples_per_s.push_back(r.epochs[e].samples_per_second);
  return m;
}

bench_phases measure_phases(const bench_problem& p, const bench_data& d, int n_threads,
                            double min_time, std::uint64_t seed) {
  train_config cfg{.opt = p.opt, .batch_size = p.batch_size, .seed = seed};
  cfg.precision = p.precision;
  cfg.shard_rows = p.shard_rows;
  bench_train_step step(p.spec, cfg, d.x.view(), d.y.view(), n_threads);
  step.run();  // warm-up, not timed
  step.reset_phases();
  bench_phases ph;
  const auto t0 = clock_type::now();
  double t = 0.0;
  do {
    step.run();
    ++ph.n_steps;
    t = seconds_since(t0);
  } while (ph.n_steps < 3 || t < min_time);
  const bench_phase_seconds pt = step.phases();
  const double per = 1e6 / static_cast<double>(ph.n_steps);
  ph.prepare = pt.prepare * per;
  ph.gather = pt.gather * per;
  ph.forward = pt.forward * per;
  ph.backward = pt.backward * per;
  ph.reduce = pt.reduce * per;
  ph.update = pt.update * per;
  ph.step = t * per;
  return ph;
}

std::vector<double> measure_inference(const model& m, const bench_data& d, int n_threads,
                                      std::size_t repeats, double min_time) {
  const matrix_view x = d.x_infer.view();
  matrix out(x.rows, m.n_outputs());
  const predict_options opts{.n_threads = n_threads};
  m.predict(x, out.span(), opts);  // warm-up
  std::vector<double> rounds;
  for (std::size_t r = 0; r < repeats; ++r) {
    const auto t0 = clock_type::now();
    std::size_t n = 0;
    double t = 0.0;
    do {
      m.predict(x, out.span(), opts);
      ++n;
      t = seconds_since(t0);
    } while (t < min_time);
    rounds.push_back(static_cast<double>(n * x.rows) / t);
  }
  return rounds;
}

bench_latency measure_latency(const model& m, const bench_data& d, std::size_t max_n,
                              double min_time) {
  const std::size_t n_in = m.n_inputs(), n_rows = d.x_infer.rows();
  matrix out(1, m.n_outputs());
  const predict_options opts{.n_threads = 1};
  for (std::size_t i = 0; i < std::min<std::size_t>(10, n_rows); ++i)  // warm-up
    m.predict(matrix_view(d.x_infer.row(i), 1, n_in), out.span(), opts);
  std::vector<double> us;
  us.reserve(max_n);
  const auto start = clock_type::now();
  const std::size_t at_least = std::min<std::size_t>(100, max_n);
  for (std::size_t i = 0; i < max_n; ++i) {
    const matrix_view row(d.x_infer.row(i % n_rows), 1, n_in);
    const auto t0 = clock_type::now();
    m.predict(row, out.span(), opts);
    us.push_back(seconds_since(t0) * 1e6);
    if (us.size() >= at_least && seconds_since(start) >= 5.0 * min_time) break;
  }
  bench_latency l;
  l.n = us.size();
  std::sort(us.begin(), us.end());
  const auto at = [&](double q) {
    return us[std::min(us.size() - 1,
                       static_cast<std::size_t>(q * static_cast<double>(us.size())))];
  };
  l.p50_us = at(0.50);
  l.p99_us = at(0.99);
  l.min_us = us.front();
  l.mean_us = std::accumulate(us.begin(), us.end(), 0.0) / static_cast<double>(us.size());
  return l;
}

}  // namespace tmlp::cli
