// GEMM at the layer shapes of the benchmark configurations (tmlp::bench_configs(): A, B, C, H),
// through the library's BLAS wrapper with one thread per call.
//
// gemm/<config>/<layer>/<fwd|dw|dx>/<backend>: one product of one layer at the config's batch
// size (rows, or the shard's 64 rows with --benchmark_filter=/64rows).
// gemm_step/<config>/<backend>: the exact sequence of GEMMs one training step needs (forward,
// weight gradients, input gradients but for the first layer), back to back: the "GEMM limit"
// of a single worker. items/s of that benchmark is samples/s.
// weight_batch/1024x1024/16x64/<segments|per_shard>: a batch's weight gradient of B's wide layer
// over 16 shards, as one pass (blas::sgemm_tn_segments) or one product per shard.
// dots/<config>/<layer>/<16|256>rows: a layer's forward product as a predict call of one chunk
// runs it (kernel_table::add_xwt on the active kernels, W as stored, one thread).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "blas/gemm_step.hpp"
#include "core/aligned.hpp"
#include "kernels.hpp"
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

// A batch's weight gradient of one n_in -> n_out layer over `shards` shards of 64 rows, on one
// thread: per_shard, one product per shard into its own buffer, then the shards added in order
// (the step where it cannot use segments: the reduction's copy and add kernel, in one pass);
// segments, blas::sgemm_tn_segments in blocks of block_rows x block_cols of W after packing each
// shard's operands, as the step runs it (there the packing is part of each shard's backward). Same
// bits.
void bm_weight_batch(benchmark::State& state, std::size_t n_in, std::size_t n_out,
                     std::size_t shards, std::size_t rows, bool segments, std::size_t block_rows,
                     std::size_t block_cols) {
  using tmlp::blas::backend;
  const tmlp::blas::backend_scope on(backend::libxsmm);
  if (segments && !tmlp::blas::tn_segments_run(n_out, n_in)) {
    state.SkipWithError("sgemm_tn_segments does not run here");
    return;
  }
  const std::size_t ld_in = tmlp::blas::padded_stride(n_in);
  const std::size_t ld_out = tmlp::blas::padded_stride(n_out);
  std::vector<std::vector<float>> x, d, g, xp, dp;
  std::vector<tmlp::blas::tn_segment> segs;
  for (std::size_t s = 0; s < shards; ++s) {
    x.emplace_back(rows * ld_in, 0.5f + 0.01f * float(s));
    d.emplace_back(rows * ld_out, 0.25f);
    if (!segments) g.emplace_back(n_out * n_in);
    dp.emplace_back(tmlp::blas::tn_packed_a(rows, n_out));
    xp.emplace_back(tmlp::blas::tn_packed_b(rows, n_in));
  }
  std::vector<float> c(n_out * n_in);
  const tmlp::kernels::kernel_table& k = tmlp::kernels::active();
  std::vector<const float*> later;  // shards 1.. for add_arrays
  for (std::size_t s = 1; s < g.size(); ++s) later.push_back(g[s].data());
  // The packing is each shard's backward's part (in place of a copy it makes for 1024-wide
  // layers anyway): not timed here.
  for (std::size_t s = 0; s < shards && segments; ++s) {
    tmlp::blas::pack_tn_a(rows, n_out, d[s].data(), ld_out, dp[s].data());
    tmlp::blas::pack_tn_b(rows, n_in, x[s].data(), ld_in, xp[s].data());
  }
  for (auto _ : state) {
    if (segments) {
      for (std::size_t i = 0; i < n_out; i += block_rows)
        for (std::size_t j = 0; j < n_in; j += block_cols) {
          segs.clear();
          for (std::size_t s = 0; s < shards; ++s)
            segs.push_back({dp[s].data() + i * rows, xp[s].data() + j * rows, rows});
          tmlp::blas::sgemm_tn_segments(std::min(block_rows, n_out - i),
                                        std::min(block_cols, n_in - j), segs, 0.0f,
                                        c.data() + i * n_in + j, n_in);
        }
    } else {
      for (std::size_t s = 0; s < shards; ++s)
        tmlp::blas::sgemm(true, false, n_out, n_in, rows, 1.0f, d[s].data(), ld_out, x[s].data(),
                          ld_in, 0.0f, g[s].data(), n_in);
      std::copy(g[0].begin(), g[0].end(), c.begin());  // then the reduction's add kernel
      k.add_arrays(c.size(), later.data(), later.size(), c.data());
    }
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * double(rows * shards) * double(n_in) * double(n_out);
  state.counters["GFLOP"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void bm_dots(benchmark::State& state, std::size_t rows, std::size_t n_in, std::size_t n_out) {
  const tmlp::kernels::kernel_table& k = tmlp::kernels::active();
  tmlp::core::aligned_vector<float> x(rows * n_in, 0.5f), w(n_out * n_in, 0.01f), z(rows * n_out);
  for (auto _ : state) {
    k.add_xwt(rows, n_out, n_in, x.data(), n_in, w.data(), n_in, z.data(), n_out);
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * double(rows) * double(n_in) * double(n_out);
  state.counters["GFLOP"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

const int registered = [] {
  benchmark::RegisterBenchmark("weight_batch/1024x1024/16x64/segments", bm_weight_batch, 1024, 1024,
                               16, 64, true, 258, 256);
  benchmark::RegisterBenchmark("weight_batch/1024x1024/16x64/per_shard", bm_weight_batch, 1024,
                               1024, 16, 64, false, 0, 0);
  const char* kinds[] = {"fwd", "dw", "dx"};
  using tmlp::blas::backend;
  for (const tmlp::bench_config& c : tmlp::bench_configs()) {
    const std::vector<std::size_t> w = c.widths();
    for (std::size_t i = 0; i + 1 < w.size(); ++i) {
      if (i >= 2 && w[i] == w[i - 1] && w[i + 1] == w[i]) continue;  // same shape
      for (std::size_t rows : {16, 256})
        benchmark::RegisterBenchmark(
            ("dots/" + c.name + "/" + std::to_string(w[i]) + "x" + std::to_string(w[i + 1]) + "/" +
             std::to_string(rows) + "rows")
                .c_str(),
            bm_dots, rows, w[i], w[i + 1]);
    }
  }
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
