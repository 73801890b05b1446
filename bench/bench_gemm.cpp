// GEMM at the layer shapes of the benchmark configurations (../BENCHMARKS.md in the design
// docs: A, B, C, H), through the library's BLAS wrapper with one thread per call.
//
// gemm/<config>/<layer>/<fwd|dw|dx>: one product of one layer at the config's batch size.
// gemm_step/<config>: the exact sequence of GEMMs one training step needs (forward, weight
// gradients, input gradients but for the first layer), back to back: the "GEMM limit" of a
// single worker. items/s of that benchmark is samples/s.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "blas.hpp"

namespace {

struct config {
  const char* name;
  std::vector<std::size_t> widths;  // inputs, hidden..., outputs
  std::size_t batch;
};

const std::vector<config>& configs() {
  static const std::vector<config> c = {
      {"A", {28, 256, 256, 1}, 256},
      {"B", {100, 1024, 1024, 1024, 10}, 1024},
      {"C", {10, 64, 64, 1}, 64},
      {"H", {28, 300, 300, 300, 300, 300, 1}, 100},
  };
  return c;
}

std::vector<float> filled(std::size_t n, float v) { return std::vector<float>(n, v); }

// Runs one product of a layer n_in -> n_out at `rows` rows: kind 0 = forward (Z = X·Wᵀ),
// 1 = weight gradient (dW = dZᵀ·X), 2 = input gradient (dX = dZ·W).
struct layer_buffers {
  std::size_t rows, n_in, n_out;
  std::vector<float> x, w, z, dw, dx;
  layer_buffers(std::size_t r, std::size_t i, std::size_t o)
      : rows(r),
        n_in(i),
        n_out(o),
        x(filled(r * i, 0.5f)),
        w(filled(o * i, 0.01f)),
        z(filled(r * o, 0.25f)),
        dw(filled(o * i, 0.0f)),
        dx(filled(r * i, 0.0f)) {}
  void run(int kind) {
    using tmlp::blas::sgemm;
    if (kind == 0)
      sgemm(false, true, rows, n_out, n_in, 1.0f, x.data(), n_in, w.data(), n_in, 0.0f, z.data(),
            n_out);
    if (kind == 1)
      sgemm(true, false, n_out, n_in, rows, 1.0f, z.data(), n_out, x.data(), n_in, 0.0f, dw.data(),
            n_in);
    if (kind == 2)
      sgemm(false, false, rows, n_in, n_out, 1.0f, z.data(), n_out, w.data(), n_in, 0.0f, dx.data(),
            n_in);
  }
};

void check_once(layer_buffers& l) {
  // Every output of the first forward product is sum_i 0.5 * 0.01 = 0.005 * n_in.
  l.run(0);
  const float want = 0.005f * static_cast<float>(l.n_in);
  if (std::abs(l.z[0] - want) > 1e-3f * want || std::abs(l.z.back() - want) > 1e-3f * want) {
    std::fprintf(stderr, "bench_gemm: wrong GEMM result %g, expected %g\n", double(l.z[0]),
                 double(want));
    std::abort();
  }
  l.z.assign(l.z.size(), 0.25f);
}

void bm_layer(benchmark::State& state, std::size_t rows, std::size_t n_in, std::size_t n_out,
              int kind) {
  layer_buffers l(rows, n_in, n_out);
  check_once(l);
  for (auto _ : state) {
    l.run(kind);
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * double(rows) * double(n_in) * double(n_out);
  state.counters["GFLOP"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void bm_step(benchmark::State& state, const config* c) {
  std::vector<layer_buffers> layers;
  double flops = 0.0;
  for (std::size_t i = 0; i + 1 < c->widths.size(); ++i) {
    layers.emplace_back(c->batch, c->widths[i], c->widths[i + 1]);
    flops +=
        2.0 * double(c->batch) * double(c->widths[i]) * double(c->widths[i + 1]) * (i == 0 ? 2 : 3);
  }
  check_once(layers.front());
  for (auto _ : state) {
    for (auto& l : layers) l.run(0);
    for (std::size_t i = layers.size(); i-- > 0;) {
      layers[i].run(1);
      if (i > 0) layers[i].run(2);
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * c->batch));
  state.counters["GFLOP"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

const int registered = [] {
  const char* kinds[] = {"fwd", "dw", "dx"};
  for (const config& c : configs()) {
    benchmark::RegisterBenchmark((std::string("gemm_step/") + c.name).c_str(), bm_step, &c);
    for (std::size_t i = 0; i + 1 < c.widths.size(); ++i) {
      if (i >= 2 && c.widths[i] == c.widths[i - 1] && c.widths[i + 1] == c.widths[i])
        continue;  // same shape
      for (int k = 0; k < 3; ++k) {
        const std::string name = std::string("gemm/") + c.name + "/" + std::to_string(c.widths[i]) +
                                 "x" + std::to_string(c.widths[i + 1]) + "/" + kinds[k];
        benchmark::RegisterBenchmark(name.c_str(), bm_layer, c.batch, c.widths[i], c.widths[i + 1],
                                     k);
      }
    }
  }
  return 0;
}();

}  // namespace
