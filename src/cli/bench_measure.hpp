// The measurements of `tmlp bench`, each on its own: the single-thread GEMM limit
// (tmlp::bench_gemm_step), the FMA peak (tmlp::bench_fma_loop), whole training epochs through
// tmlp::trainer, the phases of a step (tmlp::bench_train_step), inference throughput and single-row
// latency through model::predict. The synthetic data is tmlp::make_bench_data's (tmlp/bench.hpp).
//
// Every function assumes the problem was validated (bench.cpp) and BLAS runs single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "cli/bench_report.hpp"
#include "tmlp/bench.hpp"
#include "tmlp/matrix.hpp"
#include "tmlp/model.hpp"

namespace tmlp::cli {

// The GEMM limit of one worker: five rounds of at least min_time / 5 seconds each; the fastest
// round (a limit is a best case, and interference from other jobs only slows a round down).
bench_gemm_limit measure_gemm_limit(const bench_problem& p, double min_time);

// The FMA peak (tmlp::bench_fma_loop) on one thread and on each of `threads`: for each, five
// rounds of at least min_time / 5 seconds each; the fastest run of all.
bench_fma measure_fma_peak(const std::vector<int>& threads, double min_time);

// The CPUs of this process's affinity mask (the first 16) and, for each after the first, the
// one-way time of a cache line between it and the first (measure_core_latency): nullopt with
// fewer than two CPUs or where threads cannot be pinned.
std::optional<bench_core_latency> find_cores();
// One-way cache-line time from cores.cpus[0] to each other CPU of cores.cpus, in nanoseconds:
// two threads pinned to the pair pass a counter back and forth; the median of three rounds of
// 10,000 round trips. The calling thread is not pinned.
std::vector<double> measure_core_latency(const bench_core_latency& cores);

// Trains a fresh model (spec seed) for warmup + repeats epochs with n_threads threads and
// records the measured epochs' samples/s, workers, shards and status into out. Returns the
// trained model (for the inference measurements).
model measure_training(const bench_problem& p, const bench_data& d, int n_threads,
                       std::size_t warmup, std::size_t repeats, std::uint64_t seed,
                       bench_threads& out);

// Phases of whole steps (gather, forward, backward, reduce, update) over shuffled full
// batches, with the trainer's choice of workers for n_threads: at least min_time seconds.
bench_phases measure_phases(const bench_problem& p, const bench_data& d, int n_threads,
                            double min_time, std::uint64_t seed);

// samples/s of model::predict on d.x_infer with n_threads: `repeats` rounds of at least
// min_time seconds each, after one warm-up call.
std::vector<double> measure_inference(const model& m, const bench_data& d, int n_threads,
                                      std::size_t repeats, double min_time);

// Single-row model::predict on one thread: up to max_n calls (at least 100, or until
// 5 x min_time seconds, whichever ends first once 100 are done).
bench_latency measure_latency(const model& m, const bench_data& d, std::size_t max_n,
                              double min_time);

}  // namespace tmlp::cli
