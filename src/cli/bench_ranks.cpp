// tmlp bench under mpirun: one training step across the ranks, timed by phase on every rank.
#include "cli/bench_ranks.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <span>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tmlp/bench.hpp"
#include "tmlp/error.hpp"

namespace tmlp::cli {
namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// One rank's figures per step: wall time, compute (worker time of gather, forward and backward
// over the workers), reduce (with waiting), wait, update, bytes sent.
struct rank_figures {
  double step = 0, compute = 0, reduce = 0, wait = 0, update = 0, bytes = 0;
};

// The link between ranks 0 and 1, by ping-pong: the one-way latency of a small message and the
// bandwidth of large ones, in seconds and bytes per second (0, 0 for one rank).
struct link_figures {
  double latency = 0, bandwidth = 0;
};

link_figures measure_link(communicator& world) {
  link_figures l;
  if (world.size() < 2) return l;
  const int me = world.rank();
  auto ping_pong = [&](std::vector<std::byte>& buf, int rounds) {
    const auto t0 = clock_type::now();
    for (int i = 0; i < rounds; ++i) {
      if (me == 0) {
        world.post_send(1, buf);
        world.post_recv(1, buf);
      } else if (me == 1) {
        world.post_recv(0, buf);
        world.wait_all();
        world.post_send(0, buf);
      }
      world.wait_all();
    }
    return seconds_since(t0) / (2.0 * rounds);  // one way
  };
  std::vector<std::byte> small(8), large(std::size_t{4} << 20);
  ping_pong(small, 10);
  l.latency = ping_pong(small, 2000);
  ping_pong(large, 2);
  const double t_large = ping_pong(large, 20);
  l.bandwidth = static_cast<double>(large.size()) / std::max(t_large - l.latency, 1e-9);
  world.broadcast(0, std::as_writable_bytes(std::span(&l, 1)));
  return l;
}

}  // namespace

int bench_ranks(const bench_problem& p, int n_threads, double min_time, std::uint64_t seed,
                const std::string& json_path, bool quiet, communicator& world) {
  const int me = world.rank(), n_ranks = world.size();
  const link_figures link = measure_link(world);
  const bench_data d = make_bench_data(p.spec, p.rows, 16, seed);
  train_config cfg{.opt = p.opt, .batch_size = p.batch_size, .seed = seed};
  cfg.precision = p.precision;
  cfg.shard_rows = p.shard_rows;
  bench_train_step step(p.spec, cfg, d.x.view(), d.y.view(), n_threads, &world);
  // Warm-up, then as many steps as rank 0 finds fill min_time (every rank runs as many).
  const auto t_warm = clock_type::now();
  for (int i = 0; i < 3; ++i) step.run();
  double per_step = seconds_since(t_warm) / 3.0;
  world.broadcast(0, std::as_writable_bytes(std::span(&per_step, 1)));
  const auto n_steps =
      static_cast<std::size_t>(std::clamp(std::ceil(min_time / per_step), 10.0, 1e5));
  step.reset_phases();
  const std::uint64_t bytes0 = step.phases().bytes_sent;
  double sync = 0.0;
  world.broadcast(0, std::as_writable_bytes(std::span(&sync, 1)));
  const auto t0 = clock_type::now();
  for (std::size_t i = 0; i < n_steps; ++i) step.run();
  const double wall = seconds_since(t0);
  const bench_phase_seconds ph = step.phases();
  const double n = static_cast<double>(n_steps);
  const rank_figures mine{
      wall / n,      (ph.gather + ph.forward + ph.backward) / n / step.n_workers(),
      ph.reduce / n, ph.wait / n,
      ph.update / n, static_cast<double>(ph.bytes_sent - bytes0) / n};
  std::vector<rank_figures> all(static_cast<std::size_t>(n_ranks));
  world.all_gather(std::as_bytes(std::span(&mine, 1)), std::as_writable_bytes(std::span(all)));
  if (me != 0) return 0;

  double slowest = 0.0;
  for (const rank_figures& f : all) slowest = std::max(slowest, f.step);
  const double samples_per_s = static_cast<double>(step.batch_size()) / slowest;
  // overlap: the share of the reduction a rank spent adding and sending rather than waiting.
  auto overlap = [](const rank_figures& f) { return f.reduce > 0 ? 1.0 - f.wait / f.reduce : 1.0; };
  if (!quiet) {
    fmt::print("config {} on {} ranks x {} threads: batch {}, {} steps; {:.0f} samples/s\n", p.name,
               n_ranks, n_threads, step.batch_size(), n_steps, samples_per_s);
    if (n_ranks > 1)
      fmt::print("link rank 0 - rank 1: {:.1f} us one way, {:.2f} GB/s\n", link.latency * 1e6,
                 link.bandwidth / 1e9);
    fmt::print("{:>4} {:>9} {:>11} {:>10} {:>8} {:>10} {:>13} {:>8}\n", "rank", "step ms",
               "compute ms", "reduce ms", "wait ms", "update ms", "MB sent/step", "overlap");
    for (int r = 0; r < n_ranks; ++r) {
      const rank_figures& f = all[static_cast<std::size_t>(r)];
      fmt::print("{:>4} {:>9.3f} {:>11.3f} {:>10.3f} {:>8.3f} {:>10.3f} {:>13.3f} {:>7.0f}%\n", r,
                 f.step * 1e3, f.compute * 1e3, f.reduce * 1e3, f.wait * 1e3, f.update * 1e3,
                 f.bytes / 1e6, 100.0 * overlap(f));
    }
  }
  if (!json_path.empty()) {
    nlohmann::ordered_json j{{"config", p.name},
                             {"ranks", n_ranks},
                             {"threads_per_rank", n_threads},
                             {"batch", step.batch_size()},
                             {"steps", n_steps},
                             {"samples_per_s", samples_per_s},
                             {"link_latency_s", link.latency},
                             {"link_bandwidth_bytes_per_s", link.bandwidth},
                             {"per_rank", nlohmann::json::array()}};
    for (const rank_figures& f : all)
      j["per_rank"].push_back({{"step_s", f.step},
                               {"compute_s", f.compute},
                               {"reduce_s", f.reduce},
                               {"wait_s", f.wait},
                               {"update_s", f.update},
                               {"bytes_sent_per_step", f.bytes},
                               {"overlap", overlap(f)}});
    std::ofstream out(json_path);
    out << j.dump(2) << '\n';
    if (!out) throw error(errc::io, fmt::format("--json: {}: cannot write", json_path));
  }
  return 0;
}

}  // namespace tmlp::cli
