// Benchmarking: the benchmark protocol's configurations (A, B, C, H: BENCHMARKS.md), the
// synthetic data `tmlp bench` trains on, two timing aids that reach inside a training step: its
// matrix products alone (the "GEMM limit" of one worker) and its phases, and the machine's own
// limit: a loop of fused multiply-adds in registers (its "FMA peak").
//
//     const tmlp::bench_config& a = *tmlp::find_bench_config("A");
//     const tmlp::model_spec spec = a.spec(/*seed=*/0);
//     tmlp::bench_data d = tmlp::make_bench_data(spec, a.rows, 4096, /*seed=*/0);
//
//     tmlp::bench_gemm_step g(a.widths(), a.batch_size);
//     g.run();                                 // g.flops() floating-point operations
//
//     tmlp::bench_train_step s(spec, {.opt = a.make_optimizer(), .batch_size = a.batch_size},
//                              d.x.view(), d.y.view(), /*n_threads=*/2);
//     s.run();  s.reset_phases();              // a warm-up step, then time some
//     for (int i = 0; i < 100; ++i) s.run();
//     tmlp::bench_phase_seconds p = s.phases();  // seconds in each phase over those 100
//
//     tmlp::bench_fma_loop f(/*n_threads=*/2);  // the machine's FMA peak on 2 threads
//     f.run();                                 // f.flops() floating-point operations
//
// The timings are the caller's (a clock around run()); these only run the work, the same way
// each time. Hold a bench_thread_allowance to run more threads than cores.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tmlp/matrix.hpp"
#include "tmlp/model.hpp"
#include "tmlp/trainer.hpp"

namespace tmlp {

class communicator;  // tmlp/distributed.hpp

// --- the configurations -------------------------------------------------------------------------
// One MLP problem of the protocol: hidden layers of one activation, an identity output layer.
struct bench_config {
  std::string name;                   // "A", "B", "C" or "H"
  std::size_t n_inputs = 0;           // input columns
  std::vector<std::size_t> hidden;    // hidden layer widths, first to last
  std::size_t n_outputs = 0;          // outputs (classes for ce)
  activation act = activation::relu;  // of every hidden layer
  loss_kind loss = loss_kind::mse;
  std::string optimizer_name;  // as in optimizer_names(): "adam", "momentum", "sgd", ...
  float lr = 0.0f;             // learning rate
  float momentum = 0.0f;       // momentum and nesterov; 0 for the others
  std::size_t batch_size = 0;  // rows per step
  std::size_t rows = 0;        // synthetic training rows

  std::vector<std::size_t> widths() const;        // n_inputs, hidden..., n_outputs
  model_spec spec(std::uint64_t seed = 0) const;  // the layers, the loss and the seed
  optimizer make_optimizer() const;  // optimizer_name's defaults with lr (and momentum) set
};

// A, B, C and H, in that order; static storage.
std::span<const bench_config> bench_configs() noexcept;

// The configuration named exactly `name` ("A", ...), or nullptr.
const bench_config* find_bench_config(std::string_view name) noexcept;

// --- synthetic data -----------------------------------------------------------------------------
// Standard normal inputs and the targets of a random linear teacher t = x vᵀ (v: n_outputs x
// n_inputs, entries N(0, 1 / n_inputs)): a class index per row (argmax of t) for ce, 0/1 per
// output (t > 0) for bce, t itself otherwise. Every value depends on the seed alone.
struct bench_data {
  matrix x;        // rows x spec.n_inputs
  matrix y;        // rows x 1 (ce) or rows x outputs
  matrix x_infer;  // infer_rows x spec.n_inputs, drawn apart from x (for inference timings)
};
bench_data make_bench_data(const model_spec& spec, std::size_t rows, std::size_t infer_rows,
                           std::uint64_t seed);

// --- the matrix products of a training step -----------------------------------------------------
// The GEMMs of one training step of an MLP of these widths on `rows` rows, on constant buffers
// it owns: every layer's forward product, then from the last layer back its weight gradient
// and, but for the first layer, its input gradient. What one data-parallel worker can reach
// at best, since a step does all of this and more. Run it from one thread, with BLAS single-
// threaded (ensure_single_threaded_blas).
class bench_gemm_step {
 public:
  // widths: inputs, hidden..., outputs (at least two); rows: the batch.
  bench_gemm_step(std::span<const std::size_t> widths, std::size_t rows);
  ~bench_gemm_step();
  bench_gemm_step(bench_gemm_step&&) noexcept;
  bench_gemm_step& operator=(bench_gemm_step&&) noexcept;

  void run() noexcept;            // the products, back to back
  double flops() const noexcept;  // floating-point operations of one run()

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// --- the machine's FMA peak ---------------------------------------------------------------------
// The register-only FMA loop of the kernel architecture the library runs (TMLP_SIMD, else the best
// the CPU has; scalar, sse2, avx2 or avx512) once on each of n_threads threads at a time, in a
// task arena of n_threads: independent vectors updated a = a * m + c in registers, no memory
// traffic, 2^20 steps per thread. A clock around run() gives the rate of the FMA units: the
// machine's FLOP/s limit for float32 on that many threads with that instruction set (sse2 has no
// FMA instruction: a multiply and an add). The constructor checks the loop's result against its
// closed form once (a failure is a bug: an assert).
class bench_fma_loop {
 public:
  // n_threads: loops run at once, one per thread. Throws tmlp::error when n_threads < 1.
  explicit bench_fma_loop(int n_threads);
  ~bench_fma_loop();
  bench_fma_loop(const bench_fma_loop&) = delete;
  bench_fma_loop& operator=(const bench_fma_loop&) = delete;

  void run();                              // every thread's loop once; returns when all are done
  double flops() const noexcept;           // floating-point operations of one run(), all threads
  int n_threads() const noexcept;          // loops of one run()
  std::string_view isa() const noexcept;   // the kernel architecture: "avx2", ...
  std::size_t lanes() const noexcept;      // float lanes of one of its vectors
  std::size_t n_vectors() const noexcept;  // independent vectors (accumulators) of each loop

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// --- the phases of whole training steps ---------------------------------------------------------
// Seconds in each part of the steps run since the last reset. gather, forward (with the loss)
// and backward are summed over the shards, i.e. worker time; reduce (with clipping and the
// gradient norm) and update are wall-clock.
struct bench_phase_seconds {
  double gather = 0.0, forward = 0.0, backward = 0.0, reduce = 0.0, update = 0.0;
  // The weights made ready for the products once per step, before the shards: transposed for
  // a backend that multiplies from Wᵀ, rounded for --precision bf16 (0 when neither).
  double prepare = 0.0;
  // Across ranks: the part of reduce spent waiting for other ranks, and the bytes this rank
  // sent (since it was created: not reset).
  double wait = 0.0;
  std::uint64_t bytes_sent = 0;
};

// The training steps of the trainer (tmlp::trainer runs the same ones) on full batches of
// min(config.batch_size, x.rows) rows (x.rows for 0) taken in turn from a shuffled order of x's
// rows (shuffled as the trainer's first epoch with config.seed), starting over when the next batch
// would not fit. Trains a model of its own, created from spec. Its workers are the trainer's choice
// for n_threads.
class bench_train_step {
 public:
  // x: n x spec.n_inputs, y: n x outputs (n x 1 for ce), not copied: they must outlive this.
  // Throws tmlp::error for an invalid spec or config, or mismatched x and y.
  // comm: run each step across its ranks (tmlp/distributed.hpp), every rank calling run() alike.
  bench_train_step(const model_spec& spec, const train_config& config, matrix_view x, matrix_view y,
                   int n_threads, communicator* comm = nullptr);
  ~bench_train_step();
  bench_train_step(const bench_train_step&) = delete;
  bench_train_step& operator=(const bench_train_step&) = delete;

  void run();                    // one step on the next batch
  void reset_phases() noexcept;  // phases() starts again from 0
  bench_phase_seconds phases() const noexcept;
  std::size_t batch_size() const noexcept;  // rows of each step
  int n_workers() const noexcept;           // threads the steps run on

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// --- the process's threads ----------------------------------------------------------------------
// Makes BLAS calls run on the calling thread only, as the library needs (training and
// prediction do it themselves; a benchmark does it before its first timing). Returns a
// one-line note when it had to change a threaded BLAS (process-wide), else "".
std::string ensure_single_threaded_blas();

// While one is alive, the library may run up to n_threads threads at once even when that is
// more than the cores (oversubscription on purpose); without one it runs at most one per core.
class bench_thread_allowance {
 public:
  explicit bench_thread_allowance(std::size_t n_threads);
  ~bench_thread_allowance();
  bench_thread_allowance(const bench_thread_allowance&) = delete;
  bench_thread_allowance& operator=(const bench_thread_allowance&) = delete;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace tmlp
