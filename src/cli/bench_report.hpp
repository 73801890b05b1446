// What `tmlp bench` measured, and its three renderings: a terminal table, JSON and CSV; and the
// list of the named configurations.
//
// Units: samples/s, GFLOP/s (training 6 W and inference 2 W FLOP per sample, W = weights without
// biases; the FMA peak 2 FLOP per lane of each fused multiply-add), microseconds per step for
// phases, microseconds per call for latency. A value that was not measured is NaN here and null in
// JSON (empty in CSV).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tmlp/bench.hpp"
#include "tmlp/model.hpp"
#include "tmlp/trainer.hpp"

namespace tmlp::cli {

// One resolved configuration: the model, the optimizer and the data size.
struct bench_problem {
  std::string name;  // "A", "B", "C", "H" or "custom"
  model_spec spec;
  optimizer opt;
  std::string optimizer_name;
  float lr = 0.0f;
  float momentum = 0.0f;  // momentum and nesterov only; 0 otherwise
  std::size_t batch_size = 0;
  std::size_t rows = 0;
  gemm_precision precision = gemm_precision::fp32;  // of the products while training
  std::size_t shard_rows = train_config{}.shard_rows;

  std::vector<std::size_t> widths() const;  // inputs, hidden..., outputs
  std::size_t n_weights() const;            // W: weights of every layer, biases excluded
};

// Median, min and max of a set of measurements (NaN when the set is empty).
struct bench_stats {
  double median = 0.0, min = 0.0, max = 0.0;
  static bench_stats of(std::vector<double> values);
  bench_stats scaled(double f) const { return {median * f, min * f, max * f}; }
};

// Microseconds per step of each phase (see train::phase_times: gather, forward and backward are
// summed over the shards, i.e. worker time; prepare, reduce and update are wall-clock), and the
// step's wall-clock time.
struct bench_phases {
  double prepare = 0.0, gather = 0.0, forward = 0.0, backward = 0.0, reduce = 0.0, update = 0.0;
  double step = 0.0;
  std::size_t n_steps = 0;
};

// The GEMM sequence of one training step (forward, weight gradients, input gradients but for
// the first layer) run back to back on one thread: what one data-parallel worker can reach.
struct bench_gemm_limit {
  double step_seconds = 0.0;
  double samples_per_s = 0.0;    // batch / step_seconds
  double gflops = 0.0;           // GEMM FLOP of the step / step_seconds
  double pct_of_fma_peak = 0.0;  // gflops against the one-thread FMA peak, in percent
};

// The register-only FMA loop (tmlp::bench_fma_loop) on n_threads threads at once: the machine's
// float32 FLOP/s limit with the kernel architecture it ran.
struct bench_fma_peak {
  int n_threads = 0;
  double run_seconds = 0.0;  // the fastest run (a limit is a best case)
  double gflops = 0.0;       // FLOP of that run / run_seconds
};

struct bench_fma {
  std::string isa;                    // kernel architecture: "scalar", "sse2", "avx2" or "avx512"
  std::size_t lanes = 0;              // float lanes of one vector
  std::size_t n_vectors = 0;          // independent vectors of each thread's loop
  std::vector<bench_fma_peak> peaks;  // one thread, then each thread count of the sweep
  double gflops_at(int n_threads) const;  // the peak measured at n_threads; NaN if none
};

struct bench_threads {
  int n_threads = 0;
  std::size_t n_workers = 0;  // the trainer's choice (fit_result::n_workers)
  std::size_t n_shards = 0;   // shards of a full batch
  std::string status;         // fit status, "" when training was not run

  std::vector<double> epoch_samples_per_s;  // the measured epochs, warm-up excluded
  bench_stats train_samples_per_s;
  bench_stats train_gflops;
  double gemm_limit_samples_per_s = 0.0;  // single-thread limit x min(threads, cores)
  double pct_of_gemm_limit = 0.0;         // median samples/s against that, in percent
  double speedup = 0.0;                   // median samples/s against the smallest thread count's
  double efficiency = 0.0;                // speedup / (threads / smallest thread count)
  double fma_peak_gflops = 0.0;           // the FMA peak at this thread count
  double pct_of_fma_peak = 0.0;           // median training GFLOP/s against it, in percent
  bench_phases phases;

  std::vector<double> infer_round_samples_per_s;
  bench_stats infer_samples_per_s;
  bench_stats infer_gflops;
  double infer_pct_of_fma_peak = 0.0;  // median inference GFLOP/s against the FMA peak
};

// How far apart the CPUs this process may run on are: one cache line passed back and forth
// between two threads pinned to CPU cpus[0] and CPU cpus[i], one way, in nanoseconds, for each
// other CPU i (at most 15), measured before and after the rest of the run. Virtual machines may
// place two virtual CPUs on one die (40-50 ns on a Zen 5) or on two (180-200 ns), and move them
// while a run goes on; every step pays for the lines its workers hand each other.
struct bench_core_latency {
  std::vector<int> cpus;
  std::vector<double> start_ns, end_ns;  // cpus.size() - 1 values each
};

struct bench_latency {
  std::size_t n = 0;  // single-row predicts timed
  double p50_us = 0.0, p99_us = 0.0, mean_us = 0.0, min_us = 0.0;
};

struct bench_report {
  bench_problem problem;
  std::size_t warmup = 0, repeats = 0;
  std::uint64_t seed = 0;
  std::string mode;
  int n_cores = 0;
  std::string simd, blas, gemm;  // gemm: the GEMM backend (tmlp::system_info::gemm)
  std::vector<std::string> notes;
  std::optional<bench_gemm_limit> gemm_limit;  // training modes only
  std::optional<bench_fma> fma;                // the machine's FMA peak
  std::optional<bench_core_latency> cores;     // none with fewer than two CPUs
  std::vector<bench_threads> threads;
  std::optional<bench_latency> latency;  // inference modes only
  std::size_t infer_batch = 0;
};

// Fills the derived fields of every thread row from the measurements: the statistics,
// GFLOP/s, the GEMM-limit and FMA-peak shares, speedup and efficiency.
void derive(bench_report& r);

void print_table(const bench_report& r);

// `tmlp bench --list`: the named configurations on standard output, one table row each, or
// (json) as a JSON array of objects {name, inputs, hidden, outputs, activation, loss, optimizer,
// lr, momentum, batch_size, rows}.
void print_configs(std::span<const bench_config> configs, bool json);
void write_json(const bench_report& r, const std::string& path);  // throws tmlp::error (io)
void write_csv(const bench_report& r, const std::string& path);   // throws tmlp::error (io)

}  // namespace tmlp::cli
