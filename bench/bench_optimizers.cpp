// Micro-benchmarks of the optimizer updates, axpy and scale: every kernel on every architecture
// this machine has (scalar = the reference), at n = 2^14 (in cache) and n = 2^24 (beyond cache).
// Reports bytes/s (the bytes each kernel reads and writes: Adam reads g, w, m, v and writes
// w, m, v: 28 bytes per element) and items/s (elements). Each benchmark first checks its
// kernel's output against the scalar reference on its own data (bit-identical, the bound of
// kernels/optimizers.hpp; NaN where the reference has NaN) and aborts with a message if not.
//
//   tmlp_bench --benchmark_filter='optimizers/adam/' --benchmark_min_time=0.2
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>

#include "kernels.hpp"

namespace {

using tmlp::kernels::kernel_table;
using tmlp::kernels::update_args;

enum class kern { axpy, scale, sgd, momentum, nesterov, adam, adamw, rmsprop, adagrad };

struct kern_info {
  kern k;
  const char* name;
  int bytes_per_item;  // bytes read + written per element
};

constexpr kern_info all_kernels[] = {
    {kern::axpy, "axpy", 12},          // read x, y; write y
    {kern::scale, "scale", 8},         // read x; write x
    {kern::sgd, "sgd", 12},            // read g, w; write w
    {kern::momentum, "momentum", 20},  // read g, w, v; write w, v
    {kern::nesterov, "nesterov", 20},  // read g, w, v; write w, v
    {kern::adam, "adam", 28},          // read g, w, m, v; write w, m, v
    {kern::adamw, "adamw", 28},        // adam with decoupled decay, l2 and l1 (all terms on)
    {kern::rmsprop, "rmsprop", 20},    // read g, w, s; write w, s
    {kern::adagrad, "adagrad", 20},    // read g, w, s; write w, s
};

struct arrays {
  std::vector<float> g, w, s1, s2;
};

// Deterministic values of moderate size, so that repeated updates stay finite and normal.
arrays make_arrays(std::size_t n) {
  arrays b{std::vector<float>(n), std::vector<float>(n), std::vector<float>(n),
           std::vector<float>(n)};
  std::uint32_t x = 12345;
  auto next = [&x] {  // uniform in [-1, 1)
    x = x * 1664525U + 1013904223U;
    return static_cast<float>(static_cast<std::int32_t>(x)) * 0x1p-31f;
  };
  for (std::size_t i = 0; i < n; ++i) {
    b.g[i] = next() * 1e-2f;
    b.w[i] = next();
    b.s1[i] = next() * 1e-3f;
    b.s2[i] = std::fabs(next()) * 1e-4f;
  }
  return b;
}

update_args args_of(kern k) {
  update_args a;
  a.lr = 1e-3f;
  a.momentum = 0.9f;
  a.beta1 = 0.9f;
  a.beta2 = 0.999f;
  a.eps = 1e-8f;
  a.bias1 = 0.1f;
  a.bias2 = 0.001f;
  if (k == kern::adamw) {
    a.decay = 1e-2f;
    a.l2 = 1e-4f;
    a.l1 = 1e-5f;
  }
  return a;
}

void run(const kernel_table& t, kern k, const update_args& a, arrays& b) {
  const std::size_t n = b.w.size();
  switch (k) {
    case kern::axpy:
      t.axpy(n, 1e-3f, b.g.data(), b.w.data());
      break;
    case kern::scale:
      t.scale(n, -1.0f, b.w.data());
      break;  // -1 keeps values stable
    case kern::sgd:
      t.sgd(n, a, b.g.data(), b.w.data());
      break;
    case kern::momentum:
      t.momentum(n, a, b.g.data(), b.w.data(), b.s1.data());
      break;
    case kern::nesterov:
      t.nesterov(n, a, b.g.data(), b.w.data(), b.s1.data());
      break;
    case kern::adam:
    case kern::adamw:
      t.adam(n, a, b.g.data(), b.w.data(), b.s1.data(), b.s2.data());
      break;
    case kern::rmsprop:
      t.rmsprop(n, a, b.g.data(), b.w.data(), b.s2.data());
      break;
    case kern::adagrad:
      t.adagrad(n, a, b.g.data(), b.w.data(), b.s2.data());
      break;
  }
}

// True when `got` equals `want` bit for bit, NaN matching NaN.
bool same(const std::vector<float>& want, const std::vector<float>& got) {
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i]) && std::isnan(got[i])) continue;
    if (std::memcmp(&want[i], &got[i], sizeof(float)) != 0) return false;
  }
  return true;
}

void bench(benchmark::State& state, const kernel_table* t, kern_info ki, std::size_t n,
           std::shared_ptr<bool> checked) {
  const update_args a = args_of(ki.k);
  arrays b = make_arrays(n);
  if (!*checked) {
    arrays want = b;
    run(tmlp::kernels::reference(), ki.k, a, want);
    run(*t, ki.k, a, b);
    if (!same(want.w, b.w) || !same(want.s1, b.s1) || !same(want.s2, b.s2)) {
      std::fprintf(stderr, "bench_optimizers: %s on %s (n = %zu) differs from the reference\n",
                   ki.name, t->name, n);
      std::abort();
    }
    *checked = true;
  }
  for (auto _ : state) {
    run(*t, ki.k, a, b);
    benchmark::ClobberMemory();
  }
  const auto items = static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n);
  state.SetItemsProcessed(items);
  state.SetBytesProcessed(items * ki.bytes_per_item);
}

struct registrar {
  registrar() {
    for (const kern_info& ki : all_kernels)
      for (std::string_view arch : tmlp::kernels::available())
        for (std::size_t n : {std::size_t{1} << 14, std::size_t{1} << 24}) {
          const kernel_table* t = tmlp::kernels::find(arch);
          const std::string name = std::string("optimizers/") + ki.name + "/" + std::string(arch) +
                                   "/" + std::to_string(n);
          benchmark::RegisterBenchmark(name.c_str(), bench, t, ki, n,
                                       std::make_shared<bool>(false));
        }
  }
};
const registrar registered;

}  // namespace
