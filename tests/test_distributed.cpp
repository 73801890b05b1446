// Training across ranks through tmlp::communicator, with ranks as threads of this process
// (tests/support/thread_communicator.hpp): R ranks end with the parameters and reports of one
// process, bit for bit, with batch norm, dropout, embeddings and every batch shape (ranks
// without shards included); a stop requested on one rank stops all at the same step; ranks
// that describe their runs differently are refused. The same through Open MPI is
// tests/cli/distributed.sh.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "blas/blas.hpp"
#include "core/random.hpp"
#include "support/common.hpp"
#include "support/thread_communicator.hpp"
#include "tmlp/distributed.hpp"
#include "tmlp/error.hpp"
#include "tmlp/trainer.hpp"

namespace {

using tmlp::activation;
using tmlp::fit_status;
using tmlp::test::run_ranks;
using tmlp::test::same_bits;
using tmlp::test::thread_communicator;
using tmlp::test::thread_hub;

// 600 rows: 6 normal features and, in column 6, a category of 40 levels (embedded, 4 values).
struct problem {
  std::size_t n = 600, cols = 7;
  std::vector<float> x, y;
  tmlp::model_spec spec;
};

problem make_problem() {
  problem p;
  for (std::size_t r = 0; r < p.n; ++r) {
    float f[6];
    for (std::size_t j = 0; j < 6; ++j) {
      f[j] = static_cast<float>(tmlp::core::normal(17, r * 6 + j));
      p.x.push_back(f[j]);
    }
    const auto level = static_cast<float>((r * 7) % 40);
    p.x.push_back(level);
    p.y.push_back(f[0] + f[1] * f[2] + (level < 20.0f ? 0.5f : -0.5f) > 0.0f ? 1.0f : 0.0f);
  }
  p.spec = {.n_inputs = p.cols,
            .layers = {{.units = 400, .act = activation::relu, .dropout = 0.2f, .batch_norm = true},
                       {.units = 48, .act = activation::tanh, .batch_norm = true},
                       {.units = 1, .act = activation::identity}},
            .embeddings = {{.column = 6, .cardinality = 40, .dim = 4}},
            .loss = tmlp::loss_kind::bce,
            .seed = 3};
  return p;
}

struct outcome {
  std::vector<float> params;
  tmlp::fit_result result;
};

tmlp::train_config config_for(std::size_t batch) {
  return {.opt = tmlp::adam{.lr = 3e-3f},
          .batch_size = batch,
          .epochs = 3,
          .n_threads = 1,
          .seed = 11,
          .clip_norm = 2.0f,
          .valid_fraction = 0.2f,
          .early_stop = {.patience = 2},
          .shard_rows = 16};
}

outcome fit_on(const problem& p, tmlp::train_config cfg, tmlp::communicator* comm) {
  tmlp::model m = tmlp::model::create(p.spec);
  tmlp::trainer t(std::move(cfg));
  t.distribute(comm);
  outcome o;
  o.result = t.fit(m, {p.x.data(), p.n, p.cols}, {p.y.data(), p.n, 1});
  o.params = tmlp::test::params_of(m);
  return o;
}

void check_same(const outcome& a, const outcome& b) {
  CHECK(same_bits(a.params, b.params));
  CHECK(a.result.status == b.result.status);
  CHECK(a.result.n_steps == b.result.n_steps);
  REQUIRE(a.result.epochs.size() == b.result.epochs.size());
  for (std::size_t e = 0; e < a.result.epochs.size(); ++e) {
    CHECK(std::memcmp(&a.result.epochs[e].train_loss, &b.result.epochs[e].train_loss,
                      sizeof(double)) == 0);
    CHECK(std::memcmp(&*a.result.epochs[e].valid_loss, &*b.result.epochs[e].valid_loss,
                      sizeof(double)) == 0);
  }
}

// Trains p with base on one process, then on 2 and 3 ranks (of 1 and 2 threads), and checks
// every rank ends with the one process's parameters and losses.
void check_ranks(const problem& p, const tmlp::train_config& base) {
  const outcome one = fit_on(p, base, nullptr);
  REQUIRE(one.result.status != fit_status::diverged);
  for (int n_ranks : {2, 3}) {
    CAPTURE(n_ranks);
    thread_hub hub(n_ranks);
    std::vector<outcome> got(static_cast<std::size_t>(n_ranks));
    // (Catch's assertions are not thread-safe: the ranks record, the test checks after.)
    run_ranks(n_ranks, [&](int r) {
      thread_communicator c(hub, r);
      tmlp::train_config cfg = base;
      cfg.n_threads = 1 + r % 2;
      got[static_cast<std::size_t>(r)] = fit_on(p, cfg, &c);
    });
    for (const outcome& o : got) check_same(one, o);
  }
}

}  // namespace

TEST_CASE("R ranks train the same parameters as one process, bit for bit",
          "[train][distributed][determinism]") {
  problem p = make_problem();
  // 128 rows: 8 shards (uneven over 3 ranks); 40: 2 shards (ranks without any at R >= 3);
  // 0: the full batch; 7: one shard of a short batch.
  const std::size_t batch = GENERATE(128, 40, 0, 7);
  // With feature scaling and periodic embeddings of columns 0 to 2 (dense parameters in front).
  const bool numeric = GENERATE(false, true);
  CAPTURE(batch, numeric);
  if (numeric) {
    p.spec.feature_scale = true;
    for (std::size_t c : {2, 0, 1})
      p.spec.periodic_embeddings.push_back({.column = c, .n_frequencies = 4, .dim = 3});
  }
  const outcome one = fit_on(p, config_for(batch), nullptr);
  REQUIRE(one.result.status != fit_status::diverged);
  for (int n_ranks : {1, 2, 3, 4}) {
    CAPTURE(n_ranks);
    thread_hub hub(n_ranks);
    std::vector<outcome> got(static_cast<std::size_t>(n_ranks));
    std::vector<std::uint64_t> sent(static_cast<std::size_t>(n_ranks));
    // (Catch's assertions are not thread-safe: the ranks record, the test checks after.)
    run_ranks(n_ranks, [&](int r) {
      thread_communicator c(hub, r);
      tmlp::train_config cfg = config_for(batch);
      cfg.n_threads = 1 + r % 2;  // ranks of 1 and 2 threads: windows of 1 and 2 blocks
      got[static_cast<std::size_t>(r)] = fit_on(p, cfg, &c);
      sent[static_cast<std::size_t>(r)] = c.bytes_sent();
    });
    for (const outcome& o : got) check_same(one, o);
    for (int r = 0; r < n_ranks && n_ranks > 1; ++r) CHECK(sent[static_cast<std::size_t>(r)] > 0);
  }
}

TEST_CASE("R ranks on bf16 kernels train the same parameters as one process, bit for bit",
          "[train][distributed][determinism][bf16]") {
  // libxsmm's bf16 kernels where it has them, else the reference loop in their place.
  const tmlp::blas::backend_scope gemm(tmlp::blas::backend::libxsmm);
  const tmlp::blas::bf16_reference_scope reference;
  const problem p = make_problem();
  const std::size_t batch = GENERATE(128, 7);
  CAPTURE(batch);
  tmlp::train_config base = config_for(batch);
  base.precision = tmlp::gemm_precision::bf16;
  check_ranks(p, base);
}

TEST_CASE("R ranks train wide layers as one process does, bit for bit",
          "[train][distributed][determinism]") {
  // One process multiplies the weight gradients of W of 2^19 values or more over every shard
  // at once (train/weight_products.cpp: fp32 on libxsmm's AVX-512 code, bf16 on vdpbf16ps
  // kernels); ranks multiply one per shard and add them in the reduction's chain. The sums
  // must be the same.
  const tmlp::blas::backend_scope gemm(tmlp::blas::backend::libxsmm);
  const tmlp::blas::bf16_reference_scope reference;
  problem p = make_problem();
  p.spec.layers = {{.units = 1024, .act = activation::relu},
                   {.units = 512, .act = activation::relu},
                   {.units = 1, .act = activation::identity}};
  const auto precision = GENERATE(tmlp::gemm_precision::fp32, tmlp::gemm_precision::bf16);
  const std::size_t batch = GENERATE(128, 7);
  CAPTURE(batch, precision == tmlp::gemm_precision::bf16);
  if (!(precision == tmlp::gemm_precision::bf16 ? tmlp::blas::bgemm_segments_run(512, 1024)
                                                : tmlp::blas::tn_segments_run(512, 1024)))
    WARN("no kernel here sums the weight gradients over the shards: one product per shard");
  tmlp::train_config base = config_for(batch);
  base.precision = precision;
  // Batches of 7 rows (one shard: ranks without any) take 69 steps an epoch of the 480
  // training rows. One epoch of them: three took 80 of the ThreadSanitizer run's 240 s.
  if (batch == 7) base.epochs = 1;
  check_ranks(p, base);
}

TEST_CASE("R ranks train as one process where a shard's weight gradient is past libxsmm's sizes",
          "[train][distributed][determinism]") {
  // One shard of 480 rows through a 1024 -> 4096 layer: its own product (2 x 10^9
  // multiply-adds, past libxsmm's 2^30), which ranks run, goes to OpenBLAS, which sums in another
  // order than the pass over every shard, so one process must multiply it per shard too.
  const tmlp::blas::backend_scope gemm(tmlp::blas::backend::libxsmm);
  if (!tmlp::blas::tn_segments_run(4096, 1024))
    WARN("no kernel here sums the weight gradients over the shards: one product per shard");
  CHECK_FALSE(tmlp::blas::tn_segment_runs(4096, 1024, 480));
  CHECK(tmlp::blas::tn_segment_runs(4096, 1024, 240) == tmlp::blas::tn_segments_run(4096, 1024));
  problem p = make_problem();
  p.spec.layers = {{.units = 1024, .act = activation::relu},
                   {.units = 4096, .act = activation::relu},
                   {.units = 1, .act = activation::identity}};
  tmlp::train_config base = config_for(0);
  base.shard_rows = 480;
  base.epochs = 1;
  check_ranks(p, base);
}

TEST_CASE("a stop requested on one rank stops every rank at the same step",
          "[train][distributed]") {
  const problem p = make_problem();
  // One process: on_batch returns false after step 5.
  auto stop_at = [](std::size_t step, bool on_this_rank) {
    tmlp::train_config cfg = config_for(32);
    cfg.on_batch = [step, on_this_rank, n = std::size_t{0}](const tmlp::batch_report&) mutable {
      return !(on_this_rank && ++n == step);
    };
    return cfg;
  };
  const outcome one = fit_on(p, stop_at(5, true), nullptr);
  REQUIRE(one.result.status == fit_status::stopped_by_callback);
  REQUIRE(one.result.n_steps == 5);
  thread_hub hub(3);
  std::vector<outcome> got(3);
  run_ranks(3, [&](int r) {
    thread_communicator c(hub, r);
    got[static_cast<std::size_t>(r)] = fit_on(p, stop_at(5, r == 1), &c);
  });
  for (const outcome& o : got) {
    CHECK(same_bits(one.params, o.params));
    CHECK(o.result.status == fit_status::stopped_by_callback);
    CHECK(o.result.n_steps == 5);
  }
}

TEST_CASE("ranks that describe their runs differently are refused on every rank",
          "[train][distributed]") {
  thread_hub hub(3);
  std::vector<std::string> errors(3);
  run_ranks(3, [&](int r) {
    thread_communicator c(hub, r);
    const std::string d = std::string("version: 1\n--lr: ") + (r == 2 ? "0.5" : "0.1") + "\n";
    try {
      tmlp::check_same_on_every_rank(c, d);
    } catch (const tmlp::collective_error& e) {
      errors[static_cast<std::size_t>(r)] = e.what();
    }
  });
  for (const std::string& e : errors)
    CHECK(e == "ranks disagree on --lr: rank 2 has 0.5, rank 0 has 0.1");
  thread_hub agree(2);
  CHECK_NOTHROW(run_ranks(2, [&](int r) {
    thread_communicator c(agree, r);
    tmlp::check_same_on_every_rank(c, "a: 1\nb: 2\n");
  }));
}

TEST_CASE("a file's fingerprint tells files apart by size and content", "[distributed]") {
  const auto dir = tmlp::test::scratch_dir("fingerprint");
  std::vector<unsigned char> bytes(3 << 20, 7);
  tmlp::test::write_bytes(dir / "a", bytes);
  bytes[bytes.size() / 2] = 8;  // inside the sampled pieces? the middle MiB is sampled sparsely
  bytes[10] = 9;                // the first MiB is read whole
  tmlp::test::write_bytes(dir / "b", bytes);
  const std::string a = tmlp::file_fingerprint((dir / "a").string());
  CHECK(a.find("3145728 bytes") == 0);
  CHECK(a == tmlp::file_fingerprint((dir / "a").string()));
  CHECK(a != tmlp::file_fingerprint((dir / "b").string()));
  CHECK_THROWS_AS(tmlp::file_fingerprint((dir / "missing").string()), tmlp::error);
}
