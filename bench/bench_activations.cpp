// Activation kernels: forward and backward of every activation on every architecture this machine
// has, "scalar" being the reference (plain std:: loops). 4096 floats (in cache) for all, and
// 16M floats (64 MiB per array, beyond the caches) for relu; softmax rows and column sums.
// Each benchmark first checks its output against the reference and aborts if it is off.
// Bytes per second count what the kernel reads and writes (4 bytes per float touched).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels.hpp"
#include "tmlp/model.hpp"

namespace {

namespace k = tmlp::kernels;
using k::act;

// Arrays the backward kernel reads (z, y, dy as needed), plus dz written.
const int bwd_arrays[] = {3, 3, 3, 3, 4, 4, 3, 3, 3, 3, 3};

std::vector<float> uniform(std::size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// Loose sanity bound (the tests hold the real ones): relative 1e-5, absolute 1e-6.
void check_or_abort(const std::vector<float>& got, const std::vector<float>& want,
                    const std::string& what) {
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    if (std::isnan(g) != std::isnan(w) || std::fabs(g - w) > 1e-5 * std::fabs(w) + 1e-6) {
      std::fprintf(stderr, "%s: output %zu is %g, reference %g\n", what.c_str(), i, g, w);
      std::abort();
    }
  }
}

void bm_forward(benchmark::State& state, std::string what, const k::kernel_table* t, act a,
                std::size_t n) {
  const auto z = uniform(n, -8.0f, 8.0f, 1);
  const auto slope = uniform(n, 0.0f, 0.5f, 2);
  const k::act_param p{0.1f, slope.data()};
  std::vector<float> y(n), y_ref(n);
  {
    k::reference().act_forward[int(a)](1, n, z.data(), p, y_ref.data());
    t->act_forward[int(a)](1, n, z.data(), p, y.data());
    check_or_abort(y, y_ref, what);
  }
  for (auto _ : state) {
    t->act_forward[int(a)](1, n, z.data(), p, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * std::int64_t(n));
  state.SetBytesProcessed(state.iterations() * std::int64_t(n) * 8);
}

void bm_backward(benchmark::State& state, std::string what, const k::kernel_table* t, act a,
                 std::size_t n) {
  const auto z = uniform(n, -8.0f, 8.0f, 3);
  const auto dy = uniform(n, -1.0f, 1.0f, 4);
  const auto slope = uniform(n, 0.0f, 0.5f, 5);
  const k::act_param p{0.1f, slope.data()};
  std::vector<float> y(n), dz(n), dz_ref(n), ds(n), ds_ref(n);
  k::reference().act_forward[int(a)](1, n, z.data(), p, y.data());
  k::reference().act_backward[int(a)](1, n, z.data(), y.data(), dy.data(), p, dz_ref.data(),
                                      ds_ref.data());
  t->act_backward[int(a)](1, n, z.data(), y.data(), dy.data(), p, dz.data(), ds.data());
  check_or_abort(dz, dz_ref, what);
  for (auto _ : state) {
    t->act_backward[int(a)](1, n, z.data(), y.data(), dy.data(), p, dz.data(), ds.data());
    benchmark::DoNotOptimize(dz.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * std::int64_t(n));
  state.SetBytesProcessed(state.iterations() * std::int64_t(n) * 4 * bwd_arrays[int(a)]);
}

void bm_softmax(benchmark::State& state, std::string what, const k::kernel_table* t, bool log,
                std::size_t rows, std::size_t cols) {
  const auto x = uniform(rows * cols, -10.0f, 10.0f, 6);
  std::vector<float> y(x.size()), y_ref(x.size());
  auto fn = log ? t->log_softmax_rows : t->softmax_rows;
  (log ? k::reference().log_softmax_rows : k::reference().softmax_rows)(rows, cols, x.data(),
                                                                        y_ref.data());
  fn(rows, cols, x.data(), y.data());
  check_or_abort(y, y_ref, what);
  for (auto _ : state) {
    fn(rows, cols, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * std::int64_t(rows * cols));
  state.SetBytesProcessed(state.iterations() * std::int64_t(rows * cols) * 8);
}

void bm_col_sums(benchmark::State& state, std::string what, const k::kernel_table* t,
                 std::size_t rows, std::size_t cols) {
  const auto x = uniform(rows * cols, -1.0f, 1.0f, 7);
  std::vector<float> out(cols), out_ref(cols);
  k::reference().col_sums(rows, cols, x.data(), out_ref.data());
  t->col_sums(rows, cols, x.data(), out.data());
  for (std::size_t c = 0; c < cols; ++c)
    if (out[c] != out_ref[c]) {
      std::fprintf(stderr, "%s: column %zu differs from the reference\n", what.c_str(), c);
      std::abort();
    }
  for (auto _ : state) {
    t->col_sums(rows, cols, x.data(), out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * std::int64_t(rows * cols));
  state.SetBytesProcessed(state.iterations() * std::int64_t(rows * cols) * 4);
}

// benchmark_main provides main(); this object registers everything before it runs.
struct registrar {
  template <class Fn, class... Args>
  static benchmark::internal::Benchmark* reg(const std::string& name, Fn fn, Args... args) {
    return benchmark::RegisterBenchmark(name.c_str(), fn, name, args...);
  }
  registrar() {
    constexpr std::size_t small = 4096, large = std::size_t{1} << 24;
    for (auto arch : k::available()) {
      const k::kernel_table* t = k::find(arch);
      const std::string a(arch);
      for (int i = 0; i < k::n_acts; ++i) {
        const std::string name(tmlp::to_string(act(i)));
        reg("act_fwd/" + name + "/" + a + "/4096", bm_forward, t, act(i), small);
        reg("act_bwd/" + name + "/" + a + "/4096", bm_backward, t, act(i), small);
      }
      reg("act_fwd/relu/" + a + "/16M", bm_forward, t, act::relu, large)
          ->Unit(benchmark::kMillisecond);
      reg("act_bwd/relu/" + a + "/16M", bm_backward, t, act::relu, large)
          ->Unit(benchmark::kMillisecond);
      reg("softmax_rows/" + a + "/256x1000", bm_softmax, t, false, 256, 1000);
      reg("log_softmax_rows/" + a + "/256x1000", bm_softmax, t, true, 256, 1000);
      reg("col_sums/" + a + "/256x1024", bm_col_sums, t, 256, 1024);
    }
  }
};
const registrar registered;

}  // namespace
