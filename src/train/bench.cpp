// tmlp/bench.hpp: the benchmark configurations, their synthetic data, and the timing aids over
// the GEMMs of a step (blas/gemm_step.hpp), the training step itself (train/train_step.hpp) and the
// kernels' FMA loop (kernels/fma_peak.hpp).
#include "tmlp/bench.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <variant>

#include <fmt/format.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include "blas/blas.hpp"
#include "blas/gemm_step.hpp"
#include "core/assert.hpp"
#include "core/model_impl.hpp"
#include "core/parallel.hpp"
#include "core/random.hpp"
#include "kernels.hpp"
#include "tmlp/error.hpp"
#include "tmlp/rows.hpp"
#include "train/split.hpp"
#include "train/train_step.hpp"

namespace tmlp {

// --- the configurations -------------------------------------------------------------------------

std::span<const bench_config> bench_configs() noexcept {
  // clang-format off
  static const std::vector<bench_config> c = {
      {.name = "A", .n_inputs = 28, .hidden = {256, 256}, .n_outputs = 1,
       .act = activation::relu, .loss = loss_kind::bce,
       .optimizer_name = "adam", .lr = 1e-3f, .momentum = 0.0f, .batch_size = 256,
       .rows = 200000},
      {.name = "B", .n_inputs = 100, .hidden = {1024, 1024, 1024}, .n_outputs = 10,
       .act = activation::relu, .loss = loss_kind::ce,
       .optimizer_name = "momentum", .lr = 0.01f, .momentum = 0.9f, .batch_size = 1024,
       .rows = 200000},
      {.name = "C", .n_inputs = 10, .hidden = {64, 64}, .n_outputs = 1,
       .act = activation::tanh, .loss = loss_kind::mse,
       .optimizer_name = "sgd", .lr = 0.01f, .momentum = 0.0f, .batch_size = 64,
       .rows = 200000},
      {.name = "H", .n_inputs = 28, .hidden = {300, 300, 300, 300, 300}, .n_outputs = 1,
       .act = activation::tanh, .loss = loss_kind::bce,
       .optimizer_name = "momentum", .lr = 0.01f, .momentum = 0.9f, .batch_size = 100,
       .rows = 200000},
  };
  // clang-format on
  return c;
}

const bench_config* find_bench_config(std::string_view name) noexcept {
  for (const bench_config& c : bench_configs())
    if (c.name == name) return &c;
  return nullptr;
}

std::vector<std::size_t> bench_config::widths() const {
  std::vector<std::size_t> w{n_inputs};
  w.insert(w.end(), hidden.begin(), hidden.end());
  w.push_back(n_outputs);
  return w;
}

model_spec bench_config::spec(std::uint64_t seed) const {
  model_spec s;
  s.n_inputs = n_inputs;
  for (std::size_t w : hidden) s.layers.push_back({.units = w, .act = act});
  s.layers.push_back({.units = n_outputs, .act = activation::identity});
  s.loss = loss;
  s.seed = seed;
  return s;
}

optimizer bench_config::make_optimizer() const {
  optimizer o = optimizer_from_string(optimizer_name).value();  // the table holds known names
  std::visit([&](auto& v) { v.lr = lr; }, o);
  if (auto* m = std::get_if<tmlp::momentum>(&o)) m->momentum = momentum;
  if (auto* m = std::get_if<nesterov>(&o)) m->momentum = momentum;
  return o;
}

// --- synthetic data -----------------------------------------------------------------------------
namespace {

// rows x cols standard normal values from stream `key`.
matrix normal_matrix(std::size_t rows, std::size_t cols, std::uint64_t key) {
  matrix m(rows, cols);
  float* v = m.data();
  for (std::size_t i = 0; i < m.size(); ++i) v[i] = static_cast<float>(core::normal(key, i));
  return m;
}

// The targets of the teacher t = x vᵀ (v: n_outputs x n_inputs).
matrix teacher_targets(loss_kind loss, const matrix& x, const matrix& v) {
  const std::size_t n_in = x.cols(), k = v.rows();
  const bool ce = loss == loss_kind::ce, bce = loss == loss_kind::bce;
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

bench_data make_bench_data(const model_spec& spec, std::size_t rows, std::size_t infer_rows,
                           std::uint64_t seed) {
  if (spec.layers.empty())
    throw error(errc::invalid_argument, "make_bench_data: the spec has no layers");
  const std::size_t n_in = spec.n_inputs, k = spec.layers.back().units;
  const std::uint64_t key = core::mix64(seed ^ 0x62656e6368ULL);  // "bench"
  matrix v = normal_matrix(k, n_in, key + 1);
  const float scale = 1.0f / std::sqrt(static_cast<float>(n_in));
  for (std::size_t i = 0; i < v.size(); ++i) v.data()[i] *= scale;
  bench_data d;
  d.x = normal_matrix(rows, n_in, key + 2);
  d.y = teacher_targets(spec.loss, d.x, v);
  d.x_infer = normal_matrix(infer_rows, n_in, key + 3);
  return d;
}

// --- the matrix products of a training step -----------------------------------------------------

struct bench_gemm_step::impl {
  blas::gemm_step step;
  impl(std::span<const std::size_t> widths, std::size_t rows)
      : step(std::vector<std::size_t>(widths.begin(), widths.end()), rows) {}
};

bench_gemm_step::bench_gemm_step(std::span<const std::size_t> widths, std::size_t rows) {
  if (widths.size() < 2)
    throw error(errc::invalid_argument,
                fmt::format("bench_gemm_step: {} widths; expected inputs, ..., outputs (at "
                            "least 2)",
                            widths.size()));
  impl_ = std::make_unique<impl>(widths, rows);
}
bench_gemm_step::~bench_gemm_step() = default;
bench_gemm_step::bench_gemm_step(bench_gemm_step&&) noexcept = default;
bench_gemm_step& bench_gemm_step::operator=(bench_gemm_step&&) noexcept = default;

void bench_gemm_step::run() noexcept { impl_->step.run(); }
double bench_gemm_step::flops() const noexcept { return impl_->step.flops; }

// --- the machine's FMA peak ---------------------------------------------------------------------
namespace {

// Steps of one thread's loop in one run(), whatever the architecture: 2 ms with 8 lanes at
// 100 GFLOP/s, long enough that the arena's fork and join (microseconds) stays out of the figure.
constexpr std::size_t fma_steps = std::size_t{1} << 20;

// Starting values of one loop: distinct multiples of 1/4 of both signs. The loop runs
// a = -a + 1, so an even number of steps (fma_steps) gives them back and an odd number 1 - a.
void fma_start_values(float* acc, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) acc[i] = (i % 2 ? -0.25f : 0.25f) * static_cast<float>(i + 1);
}

}  // namespace

struct bench_fma_loop::impl {
  const kernels::kernel_table& k = kernels::active();
  int n_threads;
  std::size_t per_loop = kernels::fma_accumulators * k.lanes;  // floats of one loop's vectors
  std::size_t stride = (per_loop + 15) / 16 * 16;  // one loop's floats, whole 64-byte lines
  std::vector<float> acc;                          // n_threads x stride
  tbb::task_arena arena;

  explicit impl(int n) : n_threads(n), acc(static_cast<std::size_t>(n) * stride), arena(n) {
    // The loop against its closed form once, on this thread: 1 - a after an odd step count.
    std::vector<float> a(per_loop), want(per_loop);
    fma_start_values(a.data(), per_loop);
    for (std::size_t i = 0; i < per_loop; ++i) want[i] = 1.0f - a[i];
    TMLP_ASSERT(k.fma_loop(1001, -1.0f, 1.0f, a.data()) ==
                2.0 * 1001.0 * static_cast<double>(per_loop));
    TMLP_ASSERT(a == want);
    for (int t = 0; t < n; ++t) fma_start_values(acc.data() + t * stride, per_loop);
  }
};

bench_fma_loop::bench_fma_loop(int n_threads) {
  if (n_threads < 1)
    throw error(errc::invalid_argument,
                fmt::format("bench_fma_loop: {} threads; expected at least 1", n_threads));
  impl_ = std::make_unique<impl>(n_threads);
}
bench_fma_loop::~bench_fma_loop() = default;

void bench_fma_loop::run() {
  impl& f = *impl_;
  f.arena.execute([&] {
    core::parallel_for_index(static_cast<std::size_t>(f.n_threads), [&](std::size_t t) {
      f.k.fma_loop(fma_steps, -1.0f, 1.0f, f.acc.data() + t * f.stride);
    });
  });
}

double bench_fma_loop::flops() const noexcept {
  return 2.0 * static_cast<double>(impl_->per_loop) * static_cast<double>(fma_steps) *
         impl_->n_threads;
}
int bench_fma_loop::n_threads() const noexcept { return impl_->n_threads; }
std::string_view bench_fma_loop::isa() const noexcept { return impl_->k.name; }
std::size_t bench_fma_loop::lanes() const noexcept { return impl_->k.lanes; }
std::size_t bench_fma_loop::n_vectors() const noexcept { return kernels::fma_accumulators; }

// --- the phases of whole training steps ---------------------------------------------------------
namespace {

// The model for bench_train_step, once spec, config and data are known to fit together.
model checked_model(const model_spec& spec, const train_config& config, matrix_view x,
                    matrix_view y) {
  model m = model::create(spec);  // validates the spec
  (void)trainer(config);          // and the config
  const std::size_t y_cols = spec.loss == loss_kind::ce ? 1 : m.n_outputs();
  if (x.rows == 0 || x.rows >= (std::size_t{1} << 32) || x.cols != spec.n_inputs ||
      y.rows != x.rows || y.cols != y_cols)
    throw error(errc::invalid_argument,
                fmt::format("bench_train_step: x is {} x {} and y {} x {}; expected n x {} and "
                            "n x {} with 0 < n < 2^32",
                            x.rows, x.cols, y.rows, y.cols, spec.n_inputs, y_cols));
  return m;
}

}  // namespace

struct bench_train_step::impl {
  model m;
  train_config config;
  std::size_t batch;
  train::train_step step;
  int n_workers;
  tbb::task_arena arena;
  const kernels::kernel_table& k;
  matrix_rows x;
  const float* y;
  std::vector<std::uint32_t> order;
  std::size_t b0 = 0;

  impl(model model_, const train_config& c, matrix_view x_, matrix_view y_, int n_threads,
       communicator* comm)
      : m(std::move(model_)),
        config(c),
        batch(c.batch_size == 0 ? x_.rows : std::min(c.batch_size, x_.rows)),
        step(core::model_impl(m).net, config, batch, std::max<std::size_t>(1, x_.rows / batch),
             comm),
        n_workers(
            train::choose_workers(core::model_impl(m).net, batch, step.n_shards(batch), n_threads)),
        arena(n_workers),
        k(kernels::active()),
        x(x_),
        y(y_.data),
        order(x_.rows) {
    std::iota(order.begin(), order.end(), 0u);
    train::shuffle_epoch(config.seed, 0, order);
    step.use_workers(static_cast<std::size_t>(n_workers));
  }
};

bench_train_step::bench_train_step(const model_spec& spec, const train_config& config,
                                   matrix_view x, matrix_view y, int n_threads, communicator* comm)
    : impl_(std::make_unique<impl>(checked_model(spec, config, x, y), config, x, y, n_threads,
                                   comm)) {}
bench_train_step::~bench_train_step() = default;

void bench_train_step::run() {
  impl& s = *impl_;
  float* params = core::model_impl(s.m).params.data();
  s.arena.execute(
      [&] { s.step.run(s.k, params, s.x, s.y, nullptr, s.order.data() + s.b0, s.batch, 0, 0); });
  s.b0 = s.b0 + 2 * s.batch <= s.order.size() ? s.b0 + s.batch : 0;
}

void bench_train_step::reset_phases() noexcept { impl_->step.reset_phases(); }

bench_phase_seconds bench_train_step::phases() const noexcept {
  const train::phase_times p = impl_->step.phases();
  return {.gather = p.gather,
          .forward = p.forward,
          .backward = p.backward,
          .reduce = p.reduce,
          .update = p.update,
          .prepare = p.prepare,
          .wait = p.wait,
          .bytes_sent = p.bytes};
}

std::size_t bench_train_step::batch_size() const noexcept { return impl_->batch; }
int bench_train_step::n_workers() const noexcept { return impl_->n_workers; }

// --- the process's threads ----------------------------------------------------------------------

std::string ensure_single_threaded_blas() { return blas::ensure_single_threaded(); }

struct bench_thread_allowance::impl {
  tbb::global_control control;
  explicit impl(std::size_t n) : control(tbb::global_control::max_allowed_parallelism, n) {}
};

bench_thread_allowance::bench_thread_allowance(std::size_t n_threads)
    : impl_(std::make_unique<impl>(n_threads)) {}
bench_thread_allowance::~bench_thread_allowance() = default;

}  // namespace tmlp
