// tmlp bench: the measurements (see bench_measure.hpp).
#include "cli/bench_measure.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <vector>

#include <tbb/task_arena.h>

#include "blas.hpp"
#include "core/model_impl.hpp"
#include "core/random.hpp"
#include "gemm_step.hpp"
#include "kernels.hpp"
#include "tmlp/trainer.hpp"
#include "train/split.hpp"
#include "train/train_step.hpp"

namespace tmlp::cli {
namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// rows x cols standard normal values from stream `key`.
matrix normal_matrix(std::size_t rows, std::size_t cols, std::uint64_t key) {
  matrix m(rows, cols);
  float* v = m.data();
  for (std::size_t i = 0; i < m.size(); ++i) v[i] = static_cast<float>(core::normal(key, i));
  return m;
}

// The targets of the teacher t = x v (v: n_outputs x n_inputs, entries N(0, 1 / n_inputs)).
matrix teacher_targets(const bench_problem& p, const matrix& x, const matrix& v) {
  const std::size_t n_in = x.cols(), k = v.rows();
  const bool ce = p.spec.loss == loss_kind::ce, bce = p.spec.loss == loss_kind::bce;
  matrix y(x.rows(), ce ? 1 : k);
  std::vector<double> t(k);
  for (std::size_t r = 0; r < x.rows(); ++r) {
    for (std::size_t j = 0; j < k; ++j) {
      double s = 0.0;
      for (std::size_t i = 0; i < n_in; ++i) s += static_cast<double>(x(r, i)) * v(j, i);
      t[j] = s;
    }
    if (ce) {
      y(r, 0) = static_cast<float>(std::max_element(t.begin(), t.end()) - t.begin());
    } else {
      for (std::size_t j = 0; j < k; ++j)
        y(r, j) = bce ? static_cast<float>(t[j] > 0.0) : static_cast<float>(t[j]);
    }
  }
  return y;
}

}  // namespace

bench_data make_bench_data(const bench_problem& p, std::size_t infer_rows, std::uint64_t seed) {
  const std::size_t n_in = p.spec.n_inputs, k = p.spec.layers.back().units;
  const std::uint64_t key = core::mix64(seed ^ 0x62656e6368ULL);  // "bench"
  matrix v = normal_matrix(k, n_in, key + 1);
  const float scale = 1.0f / std::sqrt(static_cast<float>(n_in));
  for (std::size_t i = 0; i < v.size(); ++i) v.data()[i] *= scale;
  bench_data d;
  d.x = normal_matrix(p.rows, n_in, key + 2);
  d.y = teacher_targets(p, d.x, v);
  d.x_infer = normal_matrix(infer_rows, n_in, key + 3);
  return d;
}

bench_gemm_limit measure_gemm_limit(const bench_problem& p, double min_time) {
  const std::vector<std::size_t> w = p.widths();
  const std::size_t batch = std::min(p.batch_size, p.rows);  // as the trainer cuts it
  blas::gemm_step step(w, batch);
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
  g.gflops = step.flops / g.step_seconds * 1e-9;
  return g;
}

model measure_training(const bench_problem& p, const bench_data& d, int n_threads,
                       std::size_t warmup, std::size_t repeats, std::uint64_t seed,
                       bench_threads& out) {
  model m = model::create(p.spec);
  trainer t(train_config{.opt = p.opt,
                         .batch_size = p.batch_size,
                         .epochs = warmup + repeats,
                         .n_threads = n_threads,
                         .seed = seed});
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
  model m = model::create(p.spec);
  const core::network& net = core::model_impl(m).net;
  std::vector<float>& params = core::model_impl(m).params;
  const train_config cfg{.opt = p.opt, .batch_size = p.batch_size, .seed = seed};
  const std::size_t batch = std::min(p.batch_size, p.rows);
  train::train_step step(net, cfg, batch, std::max<std::size_t>(1, p.rows / batch));
  const int n_workers = train::choose_workers(net, batch, step.n_shards(batch), n_threads);
  tbb::task_arena arena(n_workers);
  const kernels::kernel_table& k = kernels::active();
  std::vector<std::uint32_t> order(p.rows);
  std::iota(order.begin(), order.end(), 0u);
  train::shuffle_epoch(seed, 0, order);

  std::size_t b0 = 0;
  auto one_step = [&] {
    arena.execute([&] {
      step.run(k, params.data(), matrix_rows(d.x.view()), d.y.data(), nullptr, order.data() + b0,
               batch, 0, 0);
    });
    b0 = b0 + 2 * batch <= p.rows ? b0 + batch : 0;
  };
  one_step();  // warm-up, not timed
  step.reset_phases();
  bench_phases ph;
  const auto t0 = clock_type::now();
  double t = 0.0;
  do {
    one_step();
    ++ph.n_steps;
    t = seconds_since(t0);
  } while (ph.n_steps < 3 || t < min_time);
  const train::phase_times pt = step.phases();
  const double per = 1e6 / static_cast<double>(ph.n_steps);
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
