// One whole training step (gather, forward, backward, reduction, update) of the benchmark
// configurations (tmlp::bench_configs(): A, B, C, H) at 1 and 2 threads, and the gradient reduction
// alone.
//
// step/<config>/threads:<T>: items/s is training samples/s; GFLOP counts 6 x weights per sample.
// reduce/<config>/threads:<T>: the sum of the shard gradients of one full batch, bytes/s over
// the shard buffers read and the gradient written.
// predict/<config>/threads:<T>/chunk:<R>: model::predict on 4096 rows in chunks of R rows;
// items/s is samples/s.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include "blas/blas.hpp"
#include "core/network.hpp"
#include "core/random.hpp"
#include "tmlp/bench.hpp"
#include "tmlp/model.hpp"
#include "train/split.hpp"
#include "train/train_step.hpp"

namespace {

using tmlp::bench_config;

struct problem {
  tmlp::model_spec spec;
  tmlp::core::network net;
  std::vector<float> params, x, y;
  std::vector<std::uint32_t> order;
  std::size_t n_rows, n_weights = 0;

  explicit problem(const bench_config& c)
      : spec(c.spec()), n_rows(std::max<std::size_t>(16 * c.batch_size, 4096)) {
    net = tmlp::core::network::from_spec(spec);
    params.resize(net.n_params);
    tmlp::core::init_params(net, spec, params.data());
    for (const auto& l : net.layers) n_weights += l.n_in * l.n_out;
    x.resize(n_rows * spec.n_inputs);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(tmlp::core::normal(1, i));
    const std::size_t k = c.n_outputs;
    for (std::size_t r = 0; r < n_rows; ++r) {
      if (c.loss == tmlp::loss_kind::ce)
        y.push_back(static_cast<float>(r % k));
      else
        for (std::size_t j = 0; j < k; ++j)
          y.push_back(c.loss == tmlp::loss_kind::bce ? float(r % 2) : x[r * spec.n_inputs]);
    }
    order.resize(n_rows);
    std::iota(order.begin(), order.end(), 0u);
    tmlp::train::shuffle_epoch(7, 0, order);
  }
};

void bm_step(benchmark::State& state, const bench_config* c) {
  tmlp::blas::ensure_single_threaded();
  const int n_threads = static_cast<int>(state.range(0));
  tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                            static_cast<std::size_t>(n_threads));
  problem p(*c);
  tmlp::train_config cfg{.opt = c->make_optimizer()};
  if (const char* m = std::getenv("TMLP_BENCH_SHARD_ROWS"))
    cfg.shard_rows = std::strtoul(m, nullptr, 10);
  if (const char* m = std::getenv("TMLP_BENCH_MAX_SHARDS"))
    cfg.max_shards = std::strtoul(m, nullptr, 10);
  tmlp::train::train_step step(p.net, cfg, c->batch_size,
                               std::max<std::size_t>(1, p.n_rows / c->batch_size));
  const auto& k = tmlp::kernels::active();
  const int n_workers =
      tmlp::train::choose_workers(p.net, c->batch_size, step.n_shards(c->batch_size), n_threads);
  tbb::task_arena arena(n_workers);
  const tmlp::matrix_rows x(tmlp::matrix_view{p.x.data(), p.n_rows, p.spec.n_inputs});
  std::size_t b0 = 0;
  arena.execute([&] {  // one checked step before timing
    const auto r =
        step.run(k, p.params.data(), x, p.y.data(), nullptr, p.order.data(), c->batch_size, 0, 0);
    double sq = 0.0;
    for (std::size_t i = 0; i < p.net.n_params; ++i) sq += double(step.grad()[i]) * step.grad()[i];
    if (!r.finite || !(sq > 0.0)) {
      std::fprintf(stderr, "bench_step: config %s gives a non-finite or zero gradient\n",
                   c->name.c_str());
      std::abort();
    }
  });
  step.reset_phases();
  for (auto _ : state) {
    arena.execute([&] {
      step.run(k, p.params.data(), x, p.y.data(), nullptr, p.order.data() + b0, c->batch_size, 0,
               0);
    });
    b0 = b0 + 2 * c->batch_size <= p.n_rows ? b0 + c->batch_size : 0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * c->batch_size));
  state.counters["GFLOP"] =
      benchmark::Counter(6.0 * double(p.n_weights) * double(c->batch_size) * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate);
  state.counters["shards"] = static_cast<double>(step.n_shards(c->batch_size));
  state.counters["workers"] = n_workers;
  // Microseconds per step in each phase (gather/forward/backward: summed over shards).
  const tmlp::train::phase_times ph = step.phases();
  const double per = 1e6 / static_cast<double>(state.iterations());
  state.counters["prepare_us"] = ph.prepare * per;
  state.counters["gather_us"] = ph.gather * per;
  state.counters["fwd_us"] = ph.forward * per;
  state.counters["bwd_us"] = ph.backward * per;
  state.counters["reduce_us"] = ph.reduce * per;
  state.counters["update_us"] = ph.update * per;
}

void bm_reduce(benchmark::State& state, const bench_config* c) {
  const int n_threads = static_cast<int>(state.range(0));
  tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                            static_cast<std::size_t>(n_threads));
  problem p(*c);
  const tmlp::train_config defaults;
  tmlp::train::gradient_engine engine(p.net, c->batch_size, defaults.shard_rows,
                                      defaults.max_shards);
  std::vector<float> grad(p.net.n_params);
  const auto& k = tmlp::kernels::active();
  tbb::task_arena arena(n_threads);
  arena.execute([&] {
    engine.compute(k, p.params.data(), {p.x.data(), p.n_rows, p.spec.n_inputs}, p.y.data(), nullptr,
                   p.order.data(), c->batch_size, grad.data());
  });
  for (auto _ : state) arena.execute([&] { engine.reduce(k, c->batch_size, grad.data()); });
  const std::size_t s = engine.plan_for(c->batch_size).n_shards;
  state.SetBytesProcessed(
      static_cast<std::int64_t>(state.iterations() * (s + 1) * p.net.n_params * sizeof(float)));
  state.counters["shards"] = static_cast<double>(s);
}

void bm_predict(benchmark::State& state, const bench_config* c) {
  const int n_threads = static_cast<int>(state.range(0));
  tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                            static_cast<std::size_t>(n_threads));
  problem p(*c);
  const tmlp::model m = tmlp::model::create(p.spec);
  constexpr std::size_t rows = 4096;
  const tmlp::matrix_view x(p.x.data(), rows, p.spec.n_inputs);
  tmlp::matrix out(rows, m.n_outputs());
  const tmlp::predict_options o{.n_threads = n_threads,
                                .chunk_rows = static_cast<std::size_t>(state.range(1))};
  for (auto _ : state) m.predict(x, out.span(), o);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * rows));
}

const int registered = [] {
  for (const bench_config& c : tmlp::bench_configs()) {
    for (int t : {1, 2}) {
      benchmark::RegisterBenchmark(("step/" + c.name).c_str(), bm_step, &c)
          ->Arg(t)
          ->ArgName("threads")
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark(("reduce/" + c.name).c_str(), bm_reduce, &c)
          ->Arg(t)
          ->ArgName("threads")
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
  for (const bench_config& c : tmlp::bench_configs())
    for (int t : {1, 2})
      for (int chunk : {64, 128, 256, 512, 1024})
        benchmark::RegisterBenchmark(("predict/" + c.name).c_str(), bm_predict, &c)
            ->Args({t, chunk})
            ->ArgNames({"threads", "chunk"})
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
  return 0;
}();

}  // namespace
