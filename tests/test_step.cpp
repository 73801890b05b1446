// The data-parallel gradient: shard plans, bit-identity across thread counts, and agreement
// with a single whole-batch pass.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <optional>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include "blas/blas.hpp"
#include "core/aligned.hpp"
#include "core/bf16_operands.hpp"
#include "core/linear.hpp"
#include "core/model_impl.hpp"
#include "core/network.hpp"
#include "core/random.hpp"
#include "core/workspace.hpp"
#include "support/alloc_counter.hpp"
#include "support/engine_pass.hpp"
#include "tmlp/model.hpp"
#include "tmlp/trainer.hpp"
#include "train/gradient_engine.hpp"

using tmlp::activation;

TEST_CASE("shard plans depend on the batch and shard size only", "[train][step]") {
  using tmlp::train::plan_shards;
  // The power of two nearest to rows / shard_rows (in ratio), capped by max_shards and rows.
  CHECK(plan_shards(256, 64, 16).n_shards == 4);    // benchmark config A
  CHECK(plan_shards(1024, 64, 16).n_shards == 16);  // B
  CHECK(plan_shards(64, 64, 16).n_shards == 1);     // C
  CHECK(plan_shards(100, 64, 16).n_shards == 2);    // H: 1.56 is nearer 2 than 1
  CHECK(plan_shards(90, 64, 16).n_shards == 1);     // 1.41 is nearer 1
  CHECK(plan_shards(1024, 64, 12).n_shards == 8);
  CHECK(plan_shards(1, 64, 16).n_shards == 1);
  CHECK(plan_shards(5, 1, 64).n_shards == 4);  // never more shards than rows
  CHECK(plan_shards(1 << 20, 32, 64).n_shards == 64);
  const auto p = plan_shards(1000, 1, 7);
  CHECK(p.n_shards == 4);
  std::size_t total = 0;
  for (std::size_t s = 0; s < p.n_shards; ++s) {
    CHECK(p.begin(s) == total);
    CHECK((p.size(s) == 250));
    total += p.size(s);
  }
  CHECK(total == 1000);
}

namespace {

struct data {
  tmlp::model_spec spec;
  std::size_t n = 0;
  std::vector<float> x, y, w, params;
  std::vector<std::uint32_t> idx;
};

// extras: batch norm on both hidden layers and an embedding (cardinality 50, dim 4) for
// column 0, which then holds indices 0..59 (50..59: out of range, the last row).
data make_data(std::size_t n, bool extras = false) {
  data d;
  d.spec = {.n_inputs = 13,
            .layers = {{.units = 40, .act = activation::tanh},
                       {.units = 24, .act = activation::prelu},
                       {.units = 4, .act = activation::identity}},
            .loss = tmlp::loss_kind::ce,
            .seed = 5};
  d.n = n;
  for (std::size_t i = 0; i < n * 13; ++i)
    d.x.push_back(static_cast<float>(tmlp::core::normal(1, i)));
  for (std::size_t i = 0; i < n; ++i) {
    d.y.push_back(static_cast<float>(i % 4));
    d.w.push_back(static_cast<float>(0.5 + tmlp::core::uniform01(2, i)));
    d.idx.push_back(static_cast<std::uint32_t>((i * 7919) % n));  // a permutation (n prime to 7919)
  }
  if (extras) {
    d.spec.layers[0].batch_norm = true;
    d.spec.layers[1].batch_norm = true;
    d.spec.embeddings = {{.column = 0, .cardinality = 50, .dim = 4}};
    for (std::size_t i = 0; i < n; ++i) d.x[i * 13] = static_cast<float>((i * 37) % 60);
  }
  const auto net = tmlp::core::network::from_spec(d.spec);
  d.params.resize(net.n_params);
  tmlp::core::init_params(net, d.spec, d.params.data());
  return d;
}

std::vector<float> gradient(const data& d, int n_threads, std::size_t batch, double* loss,
                            tmlp::gemm_precision precision = tmlp::gemm_precision::fp32) {
  const auto net = tmlp::core::network::from_spec(d.spec);
  tmlp::train::gradient_engine engine(net, batch, 16, 64, 0.0f, precision);
  std::vector<float> g(net.n_params);
  tbb::task_arena arena(n_threads);
  arena.execute([&] {
    *loss = engine.compute(tmlp::kernels::active(), d.params.data(), {d.x.data(), d.n, 13},
                           d.y.data(), d.w.data(), d.idx.data(), batch, g.data());
  });
  return g;
}

}  // namespace

TEST_CASE("the batch gradient is bit-identical for 1, 2, 3 and 8 threads",
          "[train][step][determinism]") {
  const bool extras = GENERATE(false, true);  // batch norm and an embedding
  const data d = make_data(1000, extras);
  const std::size_t batch = GENERATE(1, 17, 250, 1000);
  // Each backend computes each shape one way: the same bits on any thread count, in either
  // precision.
  const auto on = GENERATE(tmlp::blas::backend::openblas, tmlp::blas::backend::libxsmm);
  const tmlp::blas::backend_scope gemm(on);
  const auto precision = GENERATE(tmlp::gemm_precision::fp32, tmlp::gemm_precision::bf16);
  // bf16 on bf16 kernels too: libxsmm's where it has them, else the reference loop.
  const bool bf16_kernels = GENERATE(false, true);
  if (bf16_kernels && precision == tmlp::gemm_precision::fp32) return;
  std::optional<tmlp::blas::bf16_reference_scope> reference;
  if (bf16_kernels) reference.emplace();
  CAPTURE(extras, batch, tmlp::blas::name(on), precision == tmlp::gemm_precision::bf16,
          tmlp::blas::bf16_kernels());
  // Let arenas have 8 real threads even on a 2-core machine (a test may set this; the library
  // never does).
  tbb::global_control allow(tbb::global_control::max_allowed_parallelism, 8);
  double l1 = 0.0;
  const auto g1 = gradient(d, 1, batch, &l1, precision);
  for (int t : {2, 3, 8}) {
    CAPTURE(t);
    double lt = 0.0;
    const auto gt = gradient(d, t, batch, &lt, precision);
    CHECK(std::memcmp(&l1, &lt, sizeof l1) == 0);
    REQUIRE(std::memcmp(g1.data(), gt.data(), g1.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("shards share one workspace per thread unless a barrier or embeddings read theirs later",
          "[train][step]") {
  const bool extras = GENERATE(false, true);  // batch norm and an embedding
  const data d = make_data(1000, extras);
  tbb::global_control allow(tbb::global_control::max_allowed_parallelism, 3);
  const auto net = tmlp::core::network::from_spec(d.spec);
  std::vector<float> g(net.n_params);
  tbb::task_arena arena(3);
  arena.execute([&] {
    tmlp::train::gradient_engine engine(net, 1000, 16, 64);  // 64 shards of 15-16 rows
    const double loss =
        engine.compute(tmlp::kernels::active(), d.params.data(), {d.x.data(), d.n, 13}, d.y.data(),
                       d.w.data(), d.idx.data(), 1000, g.data());
    CHECK(std::isfinite(loss));
    CHECK(engine.rooms() == (extras ? std::size_t{64} : std::size_t{3}));
  });
  // Made outside the arena and told its workers, as the trainer does.
  tmlp::train::gradient_engine told(net, 1000, 16, 64);
  told.use_workers(2);
  CHECK(told.rooms() == (extras ? std::size_t{64} : std::size_t{2}));
  std::vector<float> g2(net.n_params);
  tbb::task_arena two(2);
  two.execute([&] {
    told.compute(tmlp::kernels::active(), d.params.data(), {d.x.data(), d.n, 13}, d.y.data(),
                 d.w.data(), d.idx.data(), 1000, g2.data());
  });
  CHECK(told.rooms() == (extras ? std::size_t{64} : std::size_t{2}));
  CHECK(std::memcmp(g2.data(), g.data(), g.size() * sizeof(float)) == 0);
  // The same bits as one thread, whose shards all run in turn in its one workspace.
  double l1 = 0.0;
  const auto g1 = gradient(d, 1, 1000, &l1);
  CHECK(std::memcmp(g1.data(), g.data(), g.size() * sizeof(float)) == 0);
}

TEST_CASE("every batch size up to the maximum fits the preallocated shards", "[train][step]") {
  // Workspaces are sized once; a shard plan that outgrew them would write out of bounds (the
  // sanitizer build catches that) or give a wrong gradient.
  const data d = make_data(300);
  const auto net = tmlp::core::network::from_spec(d.spec);
  for (std::size_t m : {1, 7, 16, 64}) {
    tmlp::train::gradient_engine engine(net, 300, m, 12);
    std::vector<float> g(net.n_params);
    for (std::size_t b = 1; b <= 300; ++b) {
      const double loss =
          engine.compute(tmlp::kernels::active(), d.params.data(), {d.x.data(), d.n, 13},
                         d.y.data(), nullptr, d.idx.data(), b, g.data());
      REQUIRE(std::isfinite(loss));
      REQUIRE(loss > 0.0);
    }
  }
}

TEST_CASE("the sharded gradient equals one whole-batch pass divided by B", "[train][step]") {
  const data d = make_data(600);
  const std::size_t batch = 500;
  double loss = 0.0;
  const auto g = gradient(d, 2, batch, &loss);

  const auto net = tmlp::core::network::from_spec(d.spec);
  std::vector<float> x, y, w;
  for (std::size_t i = 0; i < batch; ++i) {
    const std::size_t r = d.idx[i];
    x.insert(x.end(), d.x.begin() + r * 13, d.x.begin() + (r + 1) * 13);
    y.push_back(d.y[r]);
    w.push_back(d.w[r]);
  }
  std::vector<float> whole;  // one shard of all the batch's rows
  const double l =
      tmlp::test::engine_pass(net, d.params.data(), batch, x.data(), y.data(), w.data(), whole)
          .loss;
  CHECK(loss == Approx(l).epsilon(1e-6));  // GEMMs over fewer rows round differently
  double scale = 0.0;
  for (float v : whole) scale = std::max(scale, std::fabs(double(v)) / batch);
  for (std::size_t i = 0; i < whole.size(); ++i)
    REQUIRE(g[i] == Approx(whole[i] / batch).margin(1e-5 * scale));
}

#ifdef TMLP_COUNT_ALLOCATIONS
TEST_CASE("training steps allocate nothing", "[train][step][alloc]") {
  // Between the on_batch callbacks of batches 1 and n-1 of an epoch (steps that are neither the
  // first nor the last of the epoch, where per-epoch reports are built) no operator new runs,
  // at 1 and 2 threads.
  tbb::global_control allow(tbb::global_control::max_allowed_parallelism, 2);
  const bool extras = GENERATE(false, true);  // batch norm and an embedding
  const data d = make_data(1000, extras);
  for (int threads : {1, 2}) {
    CAPTURE(extras, threads);
    tmlp::model_spec spec = d.spec;  // wide enough that two workers get the shards
    spec.layers[0].units = 256;
    spec.layers[1].units = 256;
    tmlp::model m = tmlp::model::create(spec);
    std::vector<std::uint64_t> at;  // allocations seen at each batch of epoch 2
    at.reserve(64);
    tmlp::trainer t({.opt = tmlp::adam{},
                     .batch_size = 100,
                     .epochs = 2,
                     .n_threads = threads,
                     .clip_norm = 1.0f,
                     .valid_fraction = 0.2f,
                     .shard_rows = 16,
                     .on_batch = [&](const tmlp::batch_report& b) {
                       if (b.epoch == 2) at.push_back(tmlp::test::allocations());
                       return true;
                     }});
    const auto r = t.fit(m, {d.x.data(), d.n, 13}, {d.y.data(), d.n, 1});
    REQUIRE(r.status == tmlp::fit_status::completed);
    REQUIRE(at.size() == 8);
    CHECK(r.n_workers == static_cast<std::size_t>(threads));
    for (std::size_t b = 1; b + 1 < at.size(); ++b) CHECK(at[b] == at[0]);
  }
}
#endif  // TMLP_COUNT_ALLOCATIONS

TEST_CASE("bf16 products: close to fp32, and exactly what their rounded operands give",
          "[train][step][bf16]") {
  const auto on = GENERATE(tmlp::blas::backend::openblas, tmlp::blas::backend::libxsmm);
  const tmlp::blas::backend_scope gemm(on);
  CAPTURE(tmlp::blas::name(on));
  SECTION("a deep network: within bf16's rounding of fp32's gradient, and not equal to it") {
    data d = make_data(500);
    d.spec.layers[0].residual = true;  // 13 -> 40: a projected skip, whose products round too
    const auto net = tmlp::core::network::from_spec(d.spec);
    d.params.resize(net.n_params);
    tmlp::core::init_params(net, d.spec, d.params.data());
    double l32 = 0.0, l16 = 0.0;
    const auto g32 = gradient(d, 2, 500, &l32);
    const auto g16 = gradient(d, 2, 500, &l16, tmlp::gemm_precision::bf16);
    double diff = 0.0, norm = 0.0;
    std::size_t n_differ = 0;
    for (std::size_t i = 0; i < g32.size(); ++i) {
      diff += (double(g16[i]) - g32[i]) * (double(g16[i]) - g32[i]);
      norm += double(g32[i]) * g32[i];
      n_differ += g16[i] != g32[i];
    }
    CHECK(l16 == Approx(l32).epsilon(1e-2));
    CHECK(l16 != l32);
    CHECK(std::sqrt(diff / norm) < 2e-2);  // bf16 keeps 8 significant bits: 2^-9 per operand
    CHECK(n_differ > g32.size() / 2);
  }
  // (Where bf16 kernels run, on libxsmm, the forward pass sums in the kernels' order: the test
  // below is for the fp32 products of the roundings; the one after it covers the kernels.)
  if (tmlp::blas::bf16_kernels()) return;
  SECTION("inputs and weights already bf16: the forward pass and the biases' gradient are fp32's") {
    // One identity layer: Z = X·Wᵀ + b sees the same values either way (rounding a bf16 value
    // changes nothing), so the loss is fp32's to the bit; db sums dL/dZ before it is rounded, so
    // it is fp32's too; dW = round(dL/dZ)ᵀ·X is not.
    data d = make_data(64);
    d.spec.layers = {{.units = 5, .act = activation::identity}};
    const auto net = tmlp::core::network::from_spec(d.spec);
    d.params.resize(net.n_params);
    tmlp::core::init_params(net, d.spec, d.params.data());
    const auto& ref = tmlp::kernels::reference();
    ref.round_bf16(d.x.size(), d.x.data(), d.x.data());
    ref.round_bf16(net.layers[0].n_out * net.layers[0].n_in,
                   d.params.data() + net.layers[0].w_offset,
                   d.params.data() + net.layers[0].w_offset);
    double l32 = 0.0, l16 = 0.0;
    const auto g32 = gradient(d, 1, 64, &l32);
    const auto g16 = gradient(d, 1, 64, &l16, tmlp::gemm_precision::bf16);
    CHECK(std::memcmp(&l32, &l16, sizeof l32) == 0);
    const auto& l = net.layers[0];
    CHECK(std::memcmp(g32.data() + l.b_offset, g16.data() + l.b_offset, l.n_out * sizeof(float)) ==
          0);
    CHECK(std::memcmp(g32.data() + l.w_offset, g16.data() + l.w_offset,
                      l.n_out * l.n_in * sizeof(float)) != 0);
    // dW from the rounded dL/dZ: within bf16's rounding (2^-9 of each term) of fp32's.
    float largest = 0.0f;
    for (std::size_t i = 0; i < l.n_out * l.n_in; ++i)
      largest = std::max(largest, std::fabs(g32[l.w_offset + i]));
    for (std::size_t i = 0; i < l.n_out * l.n_in; ++i)
      REQUIRE(g16[l.w_offset + i] == Approx(g32[l.w_offset + i]).margin(1e-2 * largest));
  }
}

TEST_CASE("bf16 kernels: the products of the rounded operands, in another order of sums",
          "[train][step][bf16]") {
  // The operand layouts of every product (core/bf16_operands.hpp), an odd inner dimension
  // (13 inputs), a projected skip and a 4-output layer: against the fp32 products of the same
  // roundings (TMLP_GEMM=openblas runs those), within fp32's summation error, not to the bit.
  // libxsmm's bf16 kernels where it has them (AVX512-BF16, or LIBXSMM_TARGET=skx), else the
  // reference loop.
  const tmlp::blas::bf16_reference_scope reference;
  data d = make_data(501);
  d.spec.layers[0].residual = true;  // 13 -> 40: the projection runs on the roundings
  d.spec.layers.push_back({.units = 1, .act = activation::identity});  // m or n = 1: fallbacks
  d.spec.loss = tmlp::loss_kind::mse;
  for (std::size_t i = 0; i < d.n; ++i) d.y[i] = static_cast<float>(tmlp::core::normal(3, i));
  const auto net = tmlp::core::network::from_spec(d.spec);
  d.params.resize(net.n_params);
  tmlp::core::init_params(net, d.spec, d.params.data());
  const std::size_t batch = 501;  // odd shards: zero rows in the weight gradient's pairs
  double l_rounded = 0.0, l_kernels = 0.0;
  std::vector<float> g_rounded, g_kernels;
  {
    const tmlp::blas::backend_scope gemm(tmlp::blas::backend::openblas);
    REQUIRE_FALSE(tmlp::blas::bf16_kernels());
    g_rounded = gradient(d, 2, batch, &l_rounded, tmlp::gemm_precision::bf16);
  }
  {
    const tmlp::blas::backend_scope gemm(tmlp::blas::backend::libxsmm);
    REQUIRE(tmlp::blas::bf16_kernels());
    g_kernels = gradient(d, 2, batch, &l_kernels, tmlp::gemm_precision::bf16);
  }
  CHECK(l_kernels == Approx(l_rounded).epsilon(1e-5));
  double scale = 0.0;
  std::size_t n_differ = 0;
  for (float v : g_rounded) scale = std::max(scale, std::fabs(double(v)));
  for (std::size_t i = 0; i < g_rounded.size(); ++i) {
    CAPTURE(i);
    REQUIRE(g_kernels[i] == Approx(g_rounded[i]).margin(1e-5 * scale));
    n_differ += g_kernels[i] != g_rounded[i];
  }
  CHECK(n_differ > 0);  // the kernels ran: their sums are ordered differently
}

TEST_CASE("padded weights and operands: copies row by row, and the same bits from them",
          "[train][step]") {
  // Layers after the first with n_in a multiple of 1024 get a copy of W with padded rows, and the
  // weight gradients copy X and dZ so; the products read them with other row strides and must
  // give exactly what they give from W, X and dZ.
  data d = make_data(300);
  d.spec.layers = {{.units = 1024, .act = activation::tanh},
                   {.units = 64, .act = activation::relu},
                   {.units = 1024, .act = activation::relu},
                   {.units = 4, .act = activation::identity}};
  const auto net = tmlp::core::network::from_spec(d.spec);
  d.params.resize(net.n_params);
  tmlp::core::init_params(net, d.spec, d.params.data());
  std::size_t n_padded = 0;
  for (std::size_t i = 0; i < net.layers.size(); ++i) {
    const auto& l = net.layers[i];
    CAPTURE(i);
    if (i == 0 || i == 2) {
      CHECK(l.pad_offset == tmlp::core::no_offset);
      continue;
    }
    CHECK(l.pad_offset == n_padded);
    CHECK(l.pad_ld == 1024 + 16);
    n_padded += l.n_out * l.pad_ld;
  }
  REQUIRE(net.n_padded == n_padded);
  // Scratch for the weight gradients' copies only where a stride is padded.
  for (const auto& l : net.layers) CHECK(tmlp::core::padded_rows_room(l) > 0);
  CHECK(tmlp::core::padded_rows_room({.n_in = 256, .n_out = 512}) == 0);
  std::vector<float> padded(net.n_padded, -1.0f);
  tbb::task_arena(2).execute([&] { tmlp::core::pad_weights(net, d.params.data(), padded.data()); });
  for (const auto& l : net.layers) {
    if (l.pad_offset == tmlp::core::no_offset) continue;
    for (std::size_t r = 0; r < l.n_out; ++r)
      REQUIRE(std::equal(padded.begin() + l.pad_offset + r * l.pad_ld,
                         padded.begin() + l.pad_offset + r * l.pad_ld + l.n_in,
                         d.params.begin() + l.w_offset + r * l.n_in));
  }

  const auto on = GENERATE(tmlp::blas::backend::openblas, tmlp::blas::backend::libxsmm);
  const tmlp::blas::backend_scope gemm(on);
  const bool accumulate = GENERATE(false, true);
  CAPTURE(tmlp::blas::name(on), accumulate);
  const auto& k = tmlp::kernels::active();
  for (std::size_t i = 0; i < net.layers.size(); ++i) {
    const auto& l = net.layers[i];
    const std::size_t rows = 64;
    std::vector<float> x(rows * l.n_in), dz(rows * l.n_out);
    for (std::size_t j = 0; j < x.size(); ++j) x[j] = float(tmlp::core::normal(7, j));
    for (std::size_t j = 0; j < dz.size(); ++j) dz[j] = float(tmlp::core::normal(8, j));
    std::vector<float> g1(net.n_params), g2(net.n_params), dx1(rows * l.n_in, 0.5f);
    std::vector<float> dx2 = dx1, dz2 = dz, scratch(rows * tmlp::core::padded_rows_room(l), NAN);
    tmlp::core::linear_backward(k, l, d.params.data(), rows, x.data(), dz.data(), g1.data(),
                                dx1.data(), accumulate);
    tmlp::core::linear_backward(k, l, d.params.data(), rows, x.data(), dz2.data(), g2.data(),
                                dx2.data(), accumulate, false, padded.data(), scratch.data());
    // The weight gradient read X and dZ from the scratch, copied with padded rows.
    const std::size_t ld_x = l.n_in == 1024 ? 1040 : l.n_in,
                      ld_z = l.n_out == 1024 ? 1040 : l.n_out;
    for (std::size_t r = 0; r < rows; ++r) {
      if (ld_x != l.n_in)
        REQUIRE(std::equal(x.begin() + r * l.n_in, x.begin() + (r + 1) * l.n_in,
                           scratch.begin() + r * ld_x));
      if (ld_z != l.n_out)
        REQUIRE(std::equal(dz.begin() + r * l.n_out, dz.begin() + (r + 1) * l.n_out,
                           scratch.begin() + rows * ld_x + r * ld_z));
    }
    CAPTURE(i);
    CHECK(std::memcmp(dx1.data(), dx2.data(), dx1.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(g1.data(), g2.data(), g1.size() * sizeof(float)) == 0);
    // And they do read the copy: from zeros, dX is what it held (or zero).
    if (l.pad_offset == tmlp::core::no_offset) continue;
    const std::vector<float> zeros(net.n_padded, 0.0f);
    std::fill(dx2.begin(), dx2.end(), 0.5f);
    tmlp::core::linear_backward(k, l, d.params.data(), rows, x.data(), dz.data(), g2.data(),
                                dx2.data(), accumulate, false, zeros.data());
    CHECK(std::all_of(dx2.begin(), dx2.end(),
                      [&](float v) { return v == (accumulate ? 0.5f : 0.0f); }));
  }
  // The engine's gradient through those copies: the same bits on any thread count.
  tmlp::train::gradient_engine engine(net, 300, 16, 64);
  std::vector<float> first;
  for (int t : {1, 3}) {
    std::vector<float> g(net.n_params);
    tbb::task_arena(t).execute([&] {
      engine.compute(k, d.params.data(), {d.x.data(), d.n, 13}, d.y.data(), d.w.data(),
                     d.idx.data(), 300, g.data());
    });
    if (first.empty()) first = g;
    CHECK(std::memcmp(first.data(), g.data(), g.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("bf16 kernels: each step prepares the fp32 roundings of every layer it falls back on",
          "[train][step][bf16]") {
  // A step whose shards all have bf16 kernels for a layer leaves that layer's roundings (and
  // their transposed copy) as the last step made them. One engine runs a batch of one row (every
  // layer falls back) with other parameters first, then batches whose fallbacks are the
  // one-output layer and the projection only: each must give the bits of a fresh engine, and
  // what the fp32 products of the same roundings give (within their summation error).
  std::optional<tmlp::blas::backend_scope> gemm(tmlp::blas::backend::libxsmm);
  const tmlp::blas::bf16_reference_scope reference;
  data d = make_data(300);
  d.spec.layers[1].residual = true;  // 40 -> 24: a projection
  d.spec.layers.push_back({.units = 1, .act = activation::identity});
  d.spec.loss = tmlp::loss_kind::mse;
  const auto net = tmlp::core::network::from_spec(d.spec);
  d.params.resize(net.n_params);
  tmlp::core::init_params(net, d.spec, d.params.data());
  std::vector<float> other = d.params;
  for (float& v : other) v = 0.5f * v + 0.01f;
  const auto& k = tmlp::kernels::active();
  auto step = [&](tmlp::train::gradient_engine& e, const std::vector<float>& params,
                  std::size_t batch) {
    std::vector<float> g(net.n_params);
    tbb::task_arena(2).execute([&] {
      e.compute(k, params.data(), {d.x.data(), d.n, 13}, d.y.data(), d.w.data(), d.idx.data(),
                batch, g.data(), 0);
    });
    return g;
  };
  for (const std::size_t batch : {64, 200, 300}) {
    CAPTURE(batch);
    tmlp::train::gradient_engine used(net, 300, 16, 64, 0.0f, tmlp::gemm_precision::bf16);
    (void)step(used, other, 1);
    const auto g = step(used, d.params, batch);
    tmlp::train::gradient_engine fresh(net, 300, 16, 64, 0.0f, tmlp::gemm_precision::bf16);
    const auto want = step(fresh, d.params, batch);
    CHECK(std::memcmp(g.data(), want.data(), g.size() * sizeof(float)) == 0);
    gemm.emplace(tmlp::blas::backend::openblas);
    tmlp::train::gradient_engine rounded(net, 300, 16, 64, 0.0f, tmlp::gemm_precision::bf16);
    const auto near = step(rounded, d.params, batch);
    gemm.emplace(tmlp::blas::backend::libxsmm);
    double scale = 0.0;
    for (float v : near) scale = std::max(scale, std::fabs(double(v)));
    for (std::size_t i = 0; i < g.size(); ++i) {
      CAPTURE(i);
      REQUIRE(g[i] == Approx(near[i]).margin(1e-5 * scale));
    }
  }
  // Which layers a step falls back on: one-output layers, projections, one-row shards.
  for (const auto& l : net.layers) {
    CAPTURE(l.n_in, l.n_out);
    CHECK_FALSE(tmlp::core::bf16_kernels_cover(l, 1));
    CHECK(tmlp::core::bf16_kernels_cover(l, 16) ==
          (l.n_out > 1 && l.proj_offset == tmlp::core::no_offset));
  }
}

TEST_CASE("the step's buffers and the parts inside them start on cache lines", "[train][step]") {
  // The kernels load 64-byte vectors; from a buffer that starts 16 bytes past a line (where
  // malloc puts large blocks), each load spans two lines (core/aligned.hpp).
  auto on_line = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 64 == 0; };
  tmlp::model_spec spec{
      .n_inputs = 13,
      .layers = {{.units = 131}, {.units = 1024}, {.units = 70, .residual = true}, {.units = 1}},
      .loss = tmlp::loss_kind::mse};
  const auto net = tmlp::core::network::from_spec(spec);
  for (const auto& l : net.layers) {  // the transposed and padded copies' matrices
    CAPTURE(l.n_in, l.n_out);
    CHECK(l.t_offset % 16 == 0);
    if (l.t_proj_offset != tmlp::core::no_offset) CHECK(l.t_proj_offset % 16 == 0);
    if (l.pad_offset != tmlp::core::no_offset) CHECK(l.pad_offset % 16 == 0);
  }
  CHECK(net.layers[2].t_proj_offset != tmlp::core::no_offset);
  CHECK(net.layers[2].pad_offset != tmlp::core::no_offset);  // 1024 inputs
  const tmlp::core::bf16_weights w(net);
  for (const auto& l : net.layers) {
    CHECK(on_line(w.forward(l.w_offset)));
    CHECK(on_line(w.backward(l.w_offset)));
  }
  // Every op's output in a workspace of an odd number of rows.
  const tmlp::model m = tmlp::model::create(spec);
  const float* params = tmlp::core::model_impl(m).params.data();
  CHECK(on_line(params));
  const std::size_t rows = 37;
  tmlp::core::aligned_vector<float> x(rows * 13, 0.5f);
  tmlp::core::workspace ws(net, rows);
  (void)tmlp::core::forward(tmlp::kernels::active(), net, params, rows, x.data(), ws);
  for (std::size_t i = 0; i < net.ops.size(); ++i) {
    CAPTURE(i);
    CHECK(on_line(ws.op_out(i)));
  }
}

TEST_CASE("zeroed arrays: zeros on cache lines; a large one takes memory only where written",
          "[train][step]") {
  const long page = ::sysconf(_SC_PAGESIZE);
  REQUIRE(page > 0);
  auto on_line = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 64 == 0; };
  tmlp::core::zeroed_array<float> small(1000);
  CHECK(on_line(small.data()));
  CHECK(std::all_of(small.begin(), small.end(), [](float v) { return v == 0.0f; }));

  // 16 MB: nothing resident until written, then the written page (or, where transparent huge
  // pages are on, the 2 MB around it) only.
  const std::size_t n = std::size_t{4} << 20, bytes = n * sizeof(float);
  const std::size_t pages = bytes / static_cast<std::size_t>(page);
  tmlp::core::zeroed_array<float> large(n);
  REQUIRE(large.size() == n);
  CHECK(on_line(large.data()));
  std::vector<unsigned char> resident(pages);
  auto count_resident = [&] {
    REQUIRE(::mincore(large.data(), bytes, resident.data()) == 0);
    return std::count_if(resident.begin(), resident.end(), [](unsigned char r) { return r & 1; });
  };
  CHECK(count_resident() == 0);
  const std::size_t at = 100 * static_cast<std::size_t>(page) / sizeof(float) + 7;
  large[at] = 3.0f;
  const auto written = count_resident();
  CHECK(written >= 1);
  CHECK(written <= (std::ptrdiff_t{2} << 20) / page);
  CHECK((resident[100] & 1) == 1);
  CHECK((resident[pages - 1] & 1) == 0);
  double sum = 0.0;
  for (const float v : large) sum += v;
  CHECK(sum == 3.0);

  tmlp::core::zeroed_array<float> moved(std::move(large));
  CHECK(large.data() == nullptr);
  CHECK(large.size() == 0);
  CHECK(moved[at] == 3.0f);
  small = std::move(moved);
  CHECK(small.size() == n);
  CHECK(small[at] == 3.0f);
}

TEST_CASE("a weight matrix multiplied over every shard at once takes no memory in the shards",
          "[train][step]") {
  // 32 -> 1024 -> 2048 -> 1: the second layer's W (2048 x 1024, 8 MB) is multiplied over all 16
  // shards at once where sgemm_tn_segments runs (train/weight_products.cpp), so no shard's
  // backward writes its part of the shard's gradient buffer, whose pages then stay unmapped.
  if (!tmlp::blas::tn_segments_run(2048, 1024)) {
    WARN("sgemm_tn_segments does not run with this GEMM backend: nothing to check");
    return;
  }
  const tmlp::model_spec spec{.n_inputs = 32,
                              .layers = {{.units = 1024, .act = activation::relu},
                                         {.units = 2048, .act = activation::relu},
                                         {.units = 1, .act = activation::identity}},
                              .loss = tmlp::loss_kind::mse,
                              .seed = 6};
  const auto net = tmlp::core::network::from_spec(spec);
  const tmlp::model m = tmlp::model::create(spec);
  const float* params = tmlp::core::model_impl(m).params.data();
  const std::size_t rows = 1024;
  std::vector<float> x(rows * 32), y(rows);
  for (std::size_t j = 0; j < x.size(); ++j) x[j] = float(tmlp::core::normal(9, j));
  for (std::size_t j = 0; j < y.size(); ++j) y[j] = float(tmlp::core::normal(10, j));
  std::vector<std::uint32_t> idx(rows);
  std::iota(idx.begin(), idx.end(), 0u);
  tmlp::train::gradient_engine engine(net, rows, 64, 16);
  REQUIRE(engine.max_shards() == 16);
  std::vector<float> grad(net.n_params);
  tbb::task_arena arena(2);
  arena.execute([&] {
    engine.compute(tmlp::kernels::active(), params, tmlp::matrix_view{x.data(), rows, 32}, y.data(),
                   nullptr, idx.data(), rows, grad.data());
  });
  const tmlp::core::dense_layer& l = net.layers[1];
  REQUIRE(l.n_out * l.n_in == 2048 * 1024);
  CHECK(std::any_of(grad.begin() + static_cast<std::ptrdiff_t>(l.w_offset),
                    grad.begin() + static_cast<std::ptrdiff_t>(l.w_offset + l.n_out * l.n_in),
                    [](float g) { return g != 0.0f; }));
  // Pages 2 MB or more inside W's part (a transparent huge page around a written neighbour
  // reaches at most 2 MB into it).
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const std::uintptr_t huge = std::uintptr_t{2} << 20;
  for (std::size_t s = 0; s < engine.max_shards(); ++s) {
    CAPTURE(s);
    const float* g = engine.shard_gradient(s);
    const auto begin = reinterpret_cast<std::uintptr_t>(g + l.w_offset) + huge;
    const auto end = reinterpret_cast<std::uintptr_t>(g + l.w_offset + l.n_out * l.n_in) - huge;
    const std::uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
    REQUIRE(last > first);
    std::vector<unsigned char> resident((last - first) / page);
    REQUIRE(::mincore(reinterpret_cast<void*>(first), last - first, resident.data()) == 0);
    CHECK(std::count_if(resident.begin(), resident.end(),
                        [](unsigned char v) { return (v & 1) != 0; }) == 0);
  }
}
