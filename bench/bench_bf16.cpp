// The work --precision bf16 adds around its products on bf16 kernels (core/bf16_operands.hpp),
// at the layer shapes of the benchmark configurations, on one thread:
//
// bf16_operands/<config>/<n_in>x<n_out>/<arch>: one 64-row shard's conversions of one layer in
//   a step (its input to rows and to pairs of rows, its output gradient to rows and
//   transposed), to set against that layer's three products (gemm/.../64rows). avx512 converts
//   with AVX512-BF16's instructions where the CPU has them; avx512_xsimd is then the same table
//   with xsimd's integer rounding.
// bf16_weights/<config>/<arch>: the weights' two copies per step (bf16_weights::prepare).
// gemm_bf16/<config>/<n_in>x<n_out>/<fwd|dw|dx>: the bf16 products of a 64-row shard, only
//   where libxsmm has bf16 kernels (blas::bf16_kernels()).
// bf16_kernel/<m>x<n>x<k>/<libxsmm|tmlp>: one product on each of the two bf16 kernels
//   blas::bgemm chooses between, on a CPU with AVX512-BF16 (blas/dpbf16.cpp); /24copies: with
//   the right operand read from one of 24 copies in turn, from memory rather than cache.
// bf16_weight_batch/1024x1024/16x64/<per_shard|segments>: B's wide layer's weight gradient over
//   a batch's 16 shards, one product per shard or one pass (blas::bgemm_segments).
// bf16_peak: vdpbf16ps on sums in registers, the peak those kernels are measured against
//   (twice `tmlp bench`'s fp32 FMA peak per core where the instruction has the FMA's throughput).
#include <benchmark/benchmark.h>
#include <tbb/task_arena.h>

#include <string>
#include <utility>
#include <vector>

#include "blas/backends.hpp"
#include "blas/blas.hpp"
#include "core/bf16_operands.hpp"
#include "core/network.hpp"
#include "kernels.hpp"
#include "tmlp/bench.hpp"

namespace {

using tmlp::core::bf16;
using tmlp::core::even;
constexpr std::size_t rows = 64;

void bm_operands(benchmark::State& state, std::size_t n_in, std::size_t n_out,
                 const tmlp::kernels::kernel_table* k) {
  const std::vector<float> x(rows * n_in, 0.5f), d(rows * n_out, 0.25f);
  std::vector<bf16> left(even(rows) * (even(std::max(n_in, n_out)) + 16)), right(left.size());
  using tmlp::core::bf16_ld;
  // As the linear op converts them: not for a product with a dimension of 1, which runs on
  // the fp32 kernels (blas::bgemm_may_run).
  for (auto _ : state) {
    if (n_out > 1) {
      tmlp::core::bf16_rows(*k, rows, n_in, x.data(), left.data(), bf16_ld(even(n_in)));  // fwd
      tmlp::core::bf16_transposed(*k, rows, n_out, d.data(), left.data(), even(rows));    // dW
      tmlp::core::bf16_row_pairs(*k, rows, n_in, x.data(), right.data(), bf16_ld(n_in));
    }
    tmlp::core::bf16_rows(*k, rows, n_out, d.data(), left.data(), bf16_ld(even(n_out)));  // dX
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(
      static_cast<std::int64_t>(state.iterations() * 2 * rows * (n_in + n_out) * sizeof(float)));
}

void bm_weights(benchmark::State& state, const tmlp::bench_config* c,
                const tmlp::kernels::kernel_table* k) {
  const auto net = tmlp::core::network::from_spec(c->spec());
  const std::vector<float> params(net.n_params, 0.5f);
  tmlp::core::bf16_weights w(net);
  tbb::task_arena one(1);
  for (auto _ : state) {
    one.execute([&] { w.prepare(*k, params.data()); });
    benchmark::ClobberMemory();
  }
}

void bm_gemm(benchmark::State& state, std::size_t n_in, std::size_t n_out, int kind) {
  // kind 0: Z = X·Wᵀ, 1: dW += dZᵀ·X, 2: dX = dZ·W, with the operands' shapes of the step.
  const std::size_t m = kind == 1 ? n_out : rows, n = kind == 1 ? n_in : (kind == 0 ? n_out : n_in),
                    kk = kind == 0 ? even(n_in) : (kind == 1 ? even(rows) : even(n_out));
  // The step's strides: padded rows (core::bf16_ld) but for dZᵀ's.
  const std::size_t lda = kind == 1 ? kk : tmlp::core::bf16_ld(kk), ldb = tmlp::core::bf16_ld(n);
  const std::vector<bf16> a(m * lda, 0x3f00), b(kk * ldb, 0x3c23);  // 0.5, about 0.01
  std::vector<float> c(m * n, 0.0f);
  for (auto _ : state) {
    if (!tmlp::blas::bgemm(m, n, kk, a.data(), lda, b.data(), ldb, kind == 1 ? 1.0f : 0.0f,
                           c.data(), n))
      state.SkipWithError("no bf16 kernel for this shape");
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP"] = benchmark::Counter(2.0 * double(m) * double(n) * double(kk) * 1e-9,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

// copies: B rotates through that many copies of itself, one per product (24 copies of 1024 x
// 1024 pairs: 48 MB, past a 32 MB L3, as a step's weights may come after the rest of its work
// has passed through the caches).
void bm_kernel(benchmark::State& state, std::size_t m, std::size_t n, std::size_t k, bool own,
               std::size_t copies) {
  const std::size_t lda = tmlp::core::bf16_ld(k), ldb = tmlp::core::bf16_ld(n);
  const std::vector<bf16> a(m * lda, 0x3f00);
  const std::vector<std::vector<bf16>> bs(copies, std::vector<bf16>(k * ldb, 0x3c23));
  std::vector<float> c(m * n, 0.0f);
  std::size_t next = 0;
  for (auto _ : state) {
    const bf16* b = bs[next].data();
    next = (next + 1) % copies;
    if (own)
      tmlp::blas::detail::dp_bgemm(m, n, k, a.data(), lda, b, ldb, 0.0f, c.data(), n);
    else if (!tmlp::blas::detail::xsmm_bgemm(m, n, k, a.data(), lda, b, ldb, 0.0f, c.data(), n))
      state.SkipWithError("no libxsmm kernel for this shape");
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP"] = benchmark::Counter(2.0 * double(m) * double(n) * double(k) * 1e-9,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

// A batch's bf16 weight gradient of an n_in -> n_out layer over `shards` 64-row shards, as the
// step runs it: one bgemm per shard (beta 0, each into its own buffer, as without segments; the
// reduction's additions not timed) or blas::bgemm_segments over the whole W in the step's blocks.
void bm_weight_batch(benchmark::State& state, std::size_t n_in, std::size_t n_out,
                     std::size_t shards, bool segments) {
  constexpr std::size_t block_rows = 258, block_cols = 256;  // as the step's
  if (segments && !tmlp::blas::bgemm_segments_run(n_out, n_in)) {
    state.SkipWithError("bgemm_segments does not run here");
    return;
  }
  const std::size_t ldb = tmlp::core::bf16_ld(n_in);
  std::vector<std::vector<bf16>> a, b;
  for (std::size_t s = 0; s < shards; ++s) {
    a.emplace_back(n_out * rows, bf16{0x3f00});
    b.emplace_back(rows * ldb, bf16{0x3c23});
  }
  std::vector<std::vector<float>> g(segments ? 1 : shards, std::vector<float>(n_out * n_in));
  std::vector<tmlp::blas::bf16_segment> segs;
  for (auto _ : state) {
    if (segments) {
      for (std::size_t i = 0; i < n_out; i += block_rows)
        for (std::size_t j = 0; j < n_in; j += block_cols) {
          segs.clear();
          for (std::size_t s = 0; s < shards; ++s)
            segs.push_back({a[s].data() + i * rows, rows, b[s].data() + 2 * j, ldb, rows});
          tmlp::blas::bgemm_segments(std::min(block_rows, n_out - i),
                                     std::min(block_cols, n_in - j), segs, 0.0f,
                                     g[0].data() + i * n_in + j, n_in);
        }
    } else {
      for (std::size_t s = 0; s < shards; ++s)
        if (!tmlp::blas::bgemm(n_out, n_in, rows, a[s].data(), rows, b[s].data(), ldb, 0.0f,
                               g[s].data(), n_in))
          state.SkipWithError("no bf16 kernel for this shape");
    }
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP"] =
      benchmark::Counter(2.0 * double(rows * shards) * double(n_in) * double(n_out) * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate);
}

void bm_peak(benchmark::State& state) {
  std::vector<float> sums(24, 0.0f);
  double flops = 0.0;
  for (auto _ : state) flops += tmlp::blas::detail::dpbf16_peak_loop(1 << 16, sums.data());
  benchmark::DoNotOptimize(sums.data());
  state.counters["GFLOP"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsRate);
}

const int registered = [] {
  if (tmlp::blas::cpu_has_bf16()) {
    benchmark::RegisterBenchmark("bf16_peak", bm_peak);
    struct shape {
      std::size_t m, n, k;
    };
    for (const shape s : {shape{64, 1024, 1024}, shape{64, 2048, 2048}, shape{64, 512, 1024},
                          shape{64, 512, 512}, shape{64, 256, 256}, shape{1024, 1024, 64}})
      for (const bool own : {false, true})
        benchmark::RegisterBenchmark(
            ("bf16_kernel/" + std::to_string(s.m) + "x" + std::to_string(s.n) + "x" +
             std::to_string(s.k) + "/" + (own ? "tmlp" : "libxsmm"))
                .c_str(),
            bm_kernel, s.m, s.n, s.k, own, std::size_t{1});
    for (const bool own : {false, true})
      benchmark::RegisterBenchmark(
          (std::string("bf16_kernel/64x1024x1024/") + (own ? "tmlp" : "libxsmm") + "/24copies")
              .c_str(),
          bm_kernel, 64, 1024, 1024, own, std::size_t{24});
  }
  for (const bool segments : {false, true})
    benchmark::RegisterBenchmark(
        (std::string("bf16_weight_batch/1024x1024/16x64/") + (segments ? "segments" : "per_shard"))
            .c_str(),
        bm_weight_batch, 1024, 1024, 16, segments);
  for (const tmlp::bench_config& c : tmlp::bench_configs()) {
    const std::vector<std::size_t> w = c.widths();
    std::vector<std::pair<std::string, const tmlp::kernels::kernel_table*>> tables;
    for (const auto& arch : tmlp::kernels::available())
      tables.emplace_back(std::string(arch), tmlp::kernels::find(arch));
    if (const auto* x = tmlp::kernels::avx512_xsimd_bf16()) tables.emplace_back("avx512_xsimd", x);
    for (const auto& [a, k] : tables) {
      benchmark::RegisterBenchmark(("bf16_weights/" + c.name + "/" + a).c_str(), bm_weights, &c, k);
      for (std::size_t i = 0; i + 1 < w.size(); ++i) {
        if (i >= 2 && w[i] == w[i - 1] && w[i + 1] == w[i]) continue;  // same shape
        const std::string shape = std::to_string(w[i]) + "x" + std::to_string(w[i + 1]);
        benchmark::RegisterBenchmark(("bf16_operands/" + c.name + "/" + shape + "/" + a).c_str(),
                                     bm_operands, w[i], w[i + 1], k);
      }
    }
    if (!tmlp::blas::bf16_kernels()) continue;
    const char* kinds[] = {"fwd", "dw", "dx"};
    for (std::size_t i = 0; i + 1 < w.size(); ++i) {
      if (i >= 2 && w[i] == w[i - 1] && w[i + 1] == w[i]) continue;
      for (int kind = 0; kind < 3; ++kind)
        benchmark::RegisterBenchmark(("gemm_bf16/" + c.name + "/" + std::to_string(w[i]) + "x" +
                                      std::to_string(w[i + 1]) + "/" + kinds[kind])
                                         .c_str(),
                                     bm_gemm, w[i], w[i + 1], kind);
    }
  }
  return 0;
}();

}  // namespace
