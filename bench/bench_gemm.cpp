// GEMM at the layer shapes of the benchmark configurations (tmlp::bench_configs(): A, B, C, H),
// through the library's BLAS wrapper with one thread per call.
//
// gemm/<config>/<layer>/<fwd|dw|dx>/<backend>: one product of one layer at the config's batch
// size (rows, or the shard's 64 rows with --benchmark_filter=/64rows).
// gemm_step/<config>/<backend>: the exact sequence of GEMMs one training step needs (forward,
// weight gradients, input gradients but for the first layer), back to back: the "GEMM limit"
// of a single worker. items/s of that benchmark is samples/s.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "blas/gemm_step.hpp"
#include "tmlp/bench.hpp"

namespace {

using tmlp::blas::gemm_layer;

// Runs one product of a layer: kind 0 = forward (Z = X·Wᵀ), 1 = weight gradient (dW = dZᵀ·X),
// 2 = input gradient (dX = dZ·W).
void run(gemm_layer& l, int kind) {
  if (kind == 0) l.forward();
  if (kind == 1) l.weight_grad();
  if (kind == 2) l.input_grad();
}

void check_once(gemm_layer& l) {
  // Every output of the first forward product is sum_i 0.5 * 0.01 = 0.005 * n_in.
  l.forward();
  const float want = 0.005f * static_cast<float>(l.n_in);
  if (std::abs(l.z[0] - want) > 1e-3f * want || std::abs(l.z.back() - want) > 1e-3f * want) {
    std::fprintf(stderr, "bench_gemm: wrong GEMM result %g, expected %g\n", double(l.z[0]),
                 double(want));
    std::abort();
  }
  l.z.assign(l.z.size(), 0.25f);
}

void bm_layer(benchmark::State& state, std::size_t rows, std::size_t n_in, std::size_t n_out,
              int kind, tmlp::blas::backend on) {
  gemm_layer l(rows, n_in, n_out, on);
  check_once(l);
  for (auto _ : state) {
    run(l, kind);
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * double(rows) * double(n_in) * double(n_out);
  state.counters["GFLOP"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void bm_step(benchmark::State& state, const tmlp::bench_config* c, tmlp::blas::backend on) {
  tmlp::blas::gemm_step step(c->widths(), c->batch_size, on);
  check_once(step.layers.front());
  for (auto _ : state) {
    step.run();
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * c->batch_size));
  state.counters["GFLOP"] =
      benchmark::Counter(step.flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

const int registered = [] {
  const char* kinds[] = {"fwd", "dw", "dx"};
  using tmlp::blas::backend;
  for (const tmlp::bench_config& c : tmlp::bench_configs())
    for (backend on : {backend::openblas, backend::libxsmm}) {
      const std::string b(tmlp::blas::name(on));
      benchmark::RegisterBenchmark(("gemm_step/" + c.name + "/" + b).c_str(), bm_step, &c, on);
      const std::vector<std::size_t> w = c.widths();
      for (std::size_t i = 0; i + 1 < w.size(); ++i) {
        if (i >= 2 && w[i] == w[i - 1] && w[i + 1] == w[i]) continue;  // same shape
        for (int k = 0; k < 3; ++k)
          for (std::size_t rows : {c.batch_size, std::size_t{64}}) {
            const std::string name = "gemm/" + c.name + "/" + std::to_string(w[i]) + "x" +
                                     std::to_string(w[i + 1]) + "/" + kinds[k] + "/" + b +
                                     (rows == 64 ? "/64rows" : "");
            benchmark::RegisterBenchmark(name.c_str(), bm_layer, rows, w[i], w[i + 1], k, on);
          }
      }
    }
  return 0;
}();

}  // namespace
