// The BLAS wrapper against a naive triple loop, for every transpose combination and odd shapes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include "blas/backends.hpp"
#include "blas/blas.hpp"
#include "core/parallel.hpp"
#include "core/random.hpp"

namespace {

std::vector<float> random_vec(std::size_t n, std::uint64_t key) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(2.0 * tmlp::core::uniform01(key, i) - 1.0);
  return v;
}

// n floats that end at an inaccessible page (or, at_end false, start right after one): a product
// that reads or writes one float past its matrix faults.
class guarded {
 public:
  guarded(std::size_t n, bool at_end) {
    const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    const std::size_t bytes = (n * sizeof(float) + page - 1) / page * page;
    size_ = bytes + 2 * page;
    void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    base_ = static_cast<char*>(p);
    REQUIRE(mprotect(base_, page, PROT_NONE) == 0);
    REQUIRE(mprotect(base_ + page + bytes, page, PROT_NONE) == 0);
    data_ =
        reinterpret_cast<float*>(at_end ? base_ + page + bytes - n * sizeof(float) : base_ + page);
  }
  guarded(const guarded&) = delete;
  guarded& operator=(const guarded&) = delete;
  ~guarded() { munmap(base_, size_); }
  float* data() const { return data_; }

 private:
  char* base_ = nullptr;
  std::size_t size_ = 0;
  float* data_ = nullptr;
};

}  // namespace

TEST_CASE("sgemm matches a naive product for every transpose and shape", "[blas]") {
  using shape = std::tuple<std::size_t, std::size_t, std::size_t>;
  using tmlp::blas::backend;
  const backend on = GENERATE(backend::openblas, backend::libxsmm);
  const bool ta = GENERATE(false, true), tb = GENERATE(false, true);
  // m, n or k of 1 take the sgemv and sger paths.
  const auto [m, n, k] = GENERATE(shape{1, 1, 1}, shape{7, 5, 3}, shape{33, 17, 65},
                                  shape{64, 256, 28}, shape{64, 1, 256}, shape{1, 256, 64},
                                  shape{64, 256, 1}, shape{1, 1, 9}, shape{1, 9, 1}, shape{9, 1, 1},
                                  // a layer's shard products (libxsmm's kernels where alpha is 1)
                                  shape{64, 300, 300}, shape{65, 1024, 100}, shape{100, 10, 1024});
  const float alpha = GENERATE(1.0f, 1.5f), beta = GENERATE(0.0f, 0.5f, 1.0f);
  const std::size_t pad = GENERATE(0, 3);  // row strides longer than the rows
  CAPTURE(tmlp::blas::name(on), ta, tb, m, n, k, alpha, beta, pad);
  const std::size_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  const auto a = random_vec((ta ? k : m) * lda, 1), b = random_vec((tb ? n : k) * ldb, 2);
  auto c = random_vec(m * ldc, 3);
  // beta = 0 must not read C: NaN there would leak into the result.
  if (beta == 0.0f)
    for (std::size_t i = 0; i < m; ++i) c[i * ldc] = std::numeric_limits<float>::quiet_NaN();
  const auto c0 = c;
  std::vector<double> ref(m * n);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (std::size_t p = 0; p < k; ++p)
        s += double(ta ? a[p * lda + i] : a[i * lda + p]) *
             double(tb ? b[j * ldb + p] : b[p * ldb + j]);
      ref[i * n + j] = alpha * s + (beta == 0.0f ? 0.0 : beta * c[i * ldc + j]);
    }
  tmlp::blas::sgemm(on, ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j)
      REQUIRE(c[i * ldc + j] == Approx(ref[i * n + j]).margin(1e-4 * double(k)));
    for (std::size_t j = n; j < ldc; ++j) REQUIRE(c[i * ldc + j] == c0[i * ldc + j]);  // padding
  }
}

TEST_CASE("sgemm matches a naive product past a 64-row shard's 64 x 1024 x 1024", "[blas]") {
  // Products libxsmm's AVX-512 code takes up to 2^30 multiply-adds (predict's 256-row chunks,
  // larger shards; its AVX2 code leaves them to OpenBLAS), in strips of C's columns: all four
  // transposes, as every product of a layer.
  using tmlp::blas::backend;
  const backend on = GENERATE(backend::openblas, backend::libxsmm);
  const bool ta = GENERATE(false, true), tb = GENERATE(false, true);
  const float beta = GENERATE(0.0f, 1.0f);
  const std::size_t m = 200, n = 1100, k = 330;  // 72.6M multiply-adds > 2^26
  CAPTURE(tmlp::blas::name(on), ta, tb, beta);
  const std::size_t lda = ta ? m : k, ldb = tb ? k : n;
  const auto a = random_vec(m * k, 4), b = random_vec(k * n, 5);
  auto c = random_vec(m * n, 6);
  std::vector<double> ref(m * n);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double s = beta * double(c[i * n + j]);
      for (std::size_t p = 0; p < k; ++p)
        s += double(ta ? a[p * lda + i] : a[i * lda + p]) *
             double(tb ? b[j * ldb + p] : b[p * ldb + j]);
      ref[i * n + j] = s;
    }
  tmlp::blas::sgemm(on, ta, tb, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, beta, c.data(), n);
  for (std::size_t i = 0; i < m * n; ++i) REQUIRE(c[i] == Approx(ref[i]).margin(1e-4 * double(k)));
}

TEST_CASE("sgemm reads and writes only inside its matrices", "[blas]") {
  // Each matrix ends at (or starts after) an inaccessible page, rows packed (ld = row length):
  // a kernel that loads or stores a vector past the last row, or before the first, faults. The
  // layer shapes of a shard (row counts not a multiple of any vector length), with A plain (a
  // layer's forward product and dX) and transposed (its weight gradient), beta 0 and 1.
  using tmlp::blas::backend;
  const backend on = GENERATE(backend::openblas, backend::libxsmm);
  const bool ta = GENERATE(false, true), at_end = GENERATE(true, false);
  const float beta = GENERATE(0.0f, 1.0f);
  const std::size_t m = GENERATE(2, 7, 10, 17, 48), n = GENERATE(3, 10, 48, 400),
                    k = GENERATE(2, 7, 16, 400);
  CAPTURE(tmlp::blas::name(on), ta, at_end, beta, m, n, k);
  const auto a0 = random_vec(m * k, 5), b0 = random_vec(k * n, 6), c0 = random_vec(m * n, 7);
  const guarded a(m * k, at_end), b(k * n, at_end), c(m * n, at_end);
  std::copy(a0.begin(), a0.end(), a.data());
  std::copy(b0.begin(), b0.end(), b.data());
  std::copy(c0.begin(), c0.end(), c.data());
  tmlp::blas::sgemm(on, ta, false, m, n, k, 1.0f, a.data(), ta ? m : k, b.data(), n, beta, c.data(),
                    n);
  std::size_t n_wrong = 0;  // (one check: the emulated AVX-512 CPU runs this too)
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double s = beta * double(c0[i * n + j]);
      for (std::size_t p = 0; p < k; ++p)
        s += double(ta ? a0[p * m + i] : a0[i * k + p]) * double(b0[p * n + j]);
      n_wrong += std::abs(double(c.data()[i * n + j]) - s) > 1e-4 * double(k) ? 1 : 0;
    }
  CHECK(n_wrong == 0);
}

TEST_CASE("sgemm with k = 0 scales C by beta", "[blas]") {
  using tmlp::blas::backend;
  const backend on = GENERATE(backend::openblas, backend::libxsmm);
  std::vector<float> c = {1.0f, -2.0f, 3.0f, 4.0f};
  tmlp::blas::sgemm(on, false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.5f, c.data(), 2);
  CHECK(c == std::vector<float>{0.5f, -1.0f, 1.5f, 2.0f});
  tmlp::blas::sgemm(on, false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.0f, c.data(), 2);
  CHECK(c == std::vector<float>{0.0f, 0.0f, 0.0f, 0.0f});
}

TEST_CASE("sgemm called concurrently from TBB workers matches serial results", "[blas][threads]") {
  using tmlp::blas::backend;
  const backend on = GENERATE(backend::openblas, backend::libxsmm);
  CAPTURE(tmlp::blas::name(on));
  tmlp::blas::ensure_single_threaded();
  tbb::global_control allow(tbb::global_control::max_allowed_parallelism, 4);
  // 32 independent products of layer-like shapes (shapes no other test uses, so that libxsmm
  // generates their kernels here, from 4 threads at once), then each computed serially; every
  // output bit must agree.
  struct job {
    std::size_t m, n, k;
    std::vector<float> a, b, serial, parallel;
  };
  std::vector<job> jobs;
  for (std::size_t i = 0; i < 32; ++i) {
    const std::size_t m = 17 + 8 * (i % 5), n = 61 + 32 * (i % 3), k = 29 + 50 * (i % 4);
    jobs.push_back({m, n, k, random_vec(m * k, 10 + i), random_vec(k * n, 100 + i),
                    std::vector<float>(m * n), std::vector<float>(m * n)});
  }
  tbb::task_arena arena(4);
  for (int round = 0; round < 5; ++round) {
    arena.execute([&] {
      tmlp::core::parallel_for_index(jobs.size(), [&](std::size_t i) {
        auto& j = jobs[i];
        tmlp::blas::sgemm(on, false, false, j.m, j.n, j.k, 1.0f, j.a.data(), j.k, j.b.data(), j.n,
                          0.0f, j.parallel.data(), j.n);
      });
    });
    for (auto& j : jobs) {
      tmlp::blas::sgemm(on, false, false, j.m, j.n, j.k, 1.0f, j.a.data(), j.k, j.b.data(), j.n,
                        0.0f, j.serial.data(), j.n);
      REQUIRE(j.serial == j.parallel);
    }
  }
}

extern "C" {
int openblas_get_num_threads(void);
int openblas_get_parallel(void);
void openblas_set_num_threads(int);
}

TEST_CASE("TMLP_GEMM names the backend, and a scope changes it for a while", "[blas]") {
  using tmlp::blas::backend;
  CHECK(tmlp::blas::parse_backend("libxsmm") == backend::libxsmm);
  CHECK(tmlp::blas::parse_backend("openblas") == backend::openblas);
  CHECK_FALSE(tmlp::blas::parse_backend("mkl"));
  CHECK(tmlp::blas::describe_backend().find(tmlp::blas::name(tmlp::blas::active_backend())) == 0);
  const backend before = tmlp::blas::active_backend();
  {
    const tmlp::blas::backend_scope s(backend::libxsmm);
    CHECK(tmlp::blas::active_backend() == backend::libxsmm);
    CHECK(tmlp::blas::wants_transposed_weights());
  }
  CHECK(tmlp::blas::active_backend() == before);
  const tmlp::blas::backend_scope s(backend::openblas);
  CHECK_FALSE(tmlp::blas::wants_transposed_weights());
}

TEST_CASE("describe_backend names the code libxsmm generates and what chose it", "[blas]") {
  const std::string d = tmlp::blas::describe_backend();
  CAPTURE(d);
  const std::size_t at = d.find("generating for ");
  REQUIRE(at != std::string::npos);
  const std::string target = d.substr(at + 15, d.find_first_of(" ;,", at + 15) - (at + 15));
  const char* forced = std::getenv("LIBXSMM_TARGET");
  if (forced != nullptr && *forced != '\0')  // libxsmm honours it, and the text says who chose
    CHECK(d.find(" (LIBXSMM_TARGET)") != std::string::npos);
  else
    CHECK(d.find("LIBXSMM_TARGET") == std::string::npos);
  // auto: libxsmm exactly where its code is AVX-512
  bool avx512 = false;
  for (const char* name : {"knl", "knm", "skx", "clx", "cpx", "spr"}) avx512 |= target == name;
  const char* gemm = std::getenv("TMLP_GEMM");
  if (gemm == nullptr || *gemm == '\0' || std::string_view(gemm) == "auto") {
    CHECK(tmlp::blas::auto_backend() ==
          (avx512 ? tmlp::blas::backend::libxsmm : tmlp::blas::backend::openblas));
    CHECK(d.find(avx512 ? "(auto: libxsmm generates AVX-512 code here)"
                        : "(auto: libxsmm has no AVX-512 code for this CPU)") != std::string::npos);
  }
  // bf16 kernels: named when libxsmm generates them, which without LIBXSMM_TARGET is where the
  // CPU has AVX512-BF16.
  const tmlp::blas::backend_scope s(tmlp::blas::backend::libxsmm);
  CHECK((d.find(", bf16 kernels for ") != std::string::npos) == tmlp::blas::bf16_kernels());
  CHECK((d.find(", no bf16 kernels") != std::string::npos) != tmlp::blas::bf16_kernels());
  // tmlp's own bf16 kernel runs beside libxsmm's where the CPU has AVX512-BF16, unless
  // LIBXSMM_TARGET names the code.
  const bool own = d.find(" and tmlp's for right operands of 1 MB or more") != std::string::npos;
  CHECK(own == tmlp::blas::own_bf16_kernel());
  if (forced == nullptr || *forced == '\0') {
    CHECK(tmlp::blas::bf16_kernels() == tmlp::blas::cpu_has_bf16());
    CHECK(own == tmlp::blas::cpu_has_bf16());
  } else {
    CHECK_FALSE(own);
  }
}

TEST_CASE("LIBXSMM_TARGET: a name libxsmm does not take, or code this CPU lacks, is named",
          "[blas]") {
  using tmlp::blas::detail::xsmm_target_problem;
  // libxsmm 1.17's ids for the code of each name (libxsmm_cpuid.h).
  constexpr int generic = 1, avx2 = 1006, knm = 1011, skx = 1020;
  for (const char* bad : {"bogus", "spr", "HSW", "hsw ", "1006", "avx512_core"}) {
    const std::string p = xsmm_target_problem(bad, skx);
    CAPTURE(bad, p);
    CHECK(p.find(std::string("LIBXSMM_TARGET=") + bad + ": not a libxsmm 1.17 target name") == 0);
  }
  CHECK(xsmm_target_problem("generic", generic).empty());
  CHECK(xsmm_target_problem("none", generic).empty());
  const bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  CHECK(xsmm_target_problem("hsw", avx2).empty() == has_avx2);
  CHECK(xsmm_target_problem("avx2", avx2).empty() == has_avx2);
  // Knights Mill code needs its 4FMAPS instructions, which no other CPU has: a process that ran
  // it would stop at its first product.
  if (!__builtin_cpu_supports("avx5124fmaps")) {
    const std::string p = xsmm_target_problem("knm", knm);
    CAPTURE(p);
    CHECK(p.find("LIBXSMM_TARGET=knm: this CPU lacks instructions that libxsmm's knm code uses") ==
          0);
  }
  const bool has_skx = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
                       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                       __builtin_cpu_supports("avx512vl");
  CHECK(xsmm_target_problem("skx", skx).empty() == has_skx);
  // The suite runs with no LIBXSMM_TARGET, or one this CPU runs (scripts/avx512_emulated.sh:
  // skx on an emulated Skylake-X).
  CHECK(xsmm_target_problem().empty());
}

TEST_CASE("single_thread_scope runs a threaded OpenBLAS on one thread and then restores it",
          "[blas]") {
  if (openblas_get_parallel() == 0) {
    WARN("a sequential OpenBLAS: nothing to pin");
    return;
  }
  const int original = openblas_get_num_threads();
  openblas_set_num_threads(3);
  {
    const tmlp::blas::single_thread_scope outer;
    CHECK(openblas_get_num_threads() == 1);
    CHECK(outer.note().find("3 threads") != std::string::npos);
    {
      const tmlp::blas::single_thread_scope inner;  // nested, as predict inside a fit callback
      CHECK(openblas_get_num_threads() == 1);
      CHECK(inner.note().empty());
    }
    CHECK(openblas_get_num_threads() == 1);  // still inside the outer scope
  }
  CHECK(openblas_get_num_threads() == 3);
  openblas_set_num_threads(original);
}

TEST_CASE("sgemm_tn_segments has the bits of one libxsmm product per segment, added in order",
          "[blas]") {
  // The step's weight gradient over every shard at once (train/weight_products.cpp) must give
  // what one product per shard and the reduction's additions gave.
  using tmlp::blas::backend;
  struct shape {
    std::size_t m, n;
    std::vector<std::size_t> ks;
  };
  std::vector<shape> shapes{{1024, 1024, std::vector<std::size_t>(16, 64)},
                            {13, 145, {2, 7, 64, 65}},
                            {6, 64, {64}},
                            {7, 63, {34, 30}},
                            {5, 17, {3}},
                            {2, 2, {2, 2, 2}},
                            {100, 1024, {128, 128, 128}},
                            {12, 1000, {63, 64}}};
  // Every one of the kernel's tiles for C's edges (1 to 6 rows x 1 to 4 vectors of 16 columns,
  // whole and masked), below whole tiles or alone, over one strip of 64 columns or two (16
  // columns or fewer on 12 rows or more: on fewer, libxsmm sums them in another order).
  for (std::size_t m = 2; m <= 17; ++m)
    for (std::size_t n : {2, 9, 16, 23, 41, 48, 57, 64, 94, 112, 128})
      if (n > 16 || m >= 12) shapes.push_back({m, n, {3, 5}});
  const shape s = GENERATE_COPY(from_range(shapes));
  const std::size_t pad = GENERATE(0, 5);
  const float beta = GENERATE(0.0f, 1.0f);  // 1: C + the first segment's sum from zero
  CAPTURE(s.m, s.n, s.ks.size(), s.ks.front(), pad, beta);
  const tmlp::blas::backend_scope on(backend::libxsmm);
  // Columns 1 to 16 past a multiple of 64: libxsmm's last columns sum in another order.
  CHECK(tmlp::blas::tn_segments_run(13, 65) == false);
  CHECK(tmlp::blas::tn_segments_run(13, 1040) == false);
  CHECK(tmlp::blas::tn_segments_run(11, 16) == false);  // and 16 columns or fewer on 11 rows
  if (!tmlp::blas::tn_segments_run(s.m, s.n)) {
    WARN("libxsmm generates no AVX-512 code of its own choice here: sgemm_tn_segments not run");
    return;
  }
  const std::size_t lda = s.m + pad, ldb = s.n + pad, ldc = s.n + pad;
  std::vector<std::vector<float>> as, bs;
  std::vector<tmlp::blas::tn_segment> segs;
  for (std::size_t q = 0; q < s.ks.size(); ++q) {
    as.push_back(random_vec(s.ks[q] * lda, 10 + q));
    bs.push_back(random_vec(s.ks[q] * ldb, 50 + q));
    // Zeros of both signs, as after a ReLU: a sum's sign of zero must come out the same.
    for (std::size_t r = 0; r < s.ks[q]; ++r) {
      bs[q][r * ldb] = 0.0f;
      if (s.n > 2) bs[q][r * ldb + 2] = (r % 2 == 0) ? -0.0f : 0.0f;
      as[q][r * lda + 1] = -0.0f;
    }
  }
  std::vector<std::vector<float>> ap, bp;  // packed
  for (std::size_t q = 0; q < s.ks.size(); ++q) {
    ap.emplace_back(tmlp::blas::tn_packed_a(s.ks[q], s.m), 5.0f);
    bp.emplace_back(tmlp::blas::tn_packed_b(s.ks[q], s.n), 5.0f);
    tmlp::blas::pack_tn_a(s.ks[q], s.m, as[q].data(), lda, ap[q].data());
    tmlp::blas::pack_tn_b(s.ks[q], s.n, bs[q].data(), ldb, bp[q].data());
    segs.push_back({ap[q].data(), bp[q].data(), s.ks[q]});
  }
  std::vector<float> want(s.m * ldc, 7.0f), g(s.m * s.n);
  for (std::size_t q = 0; q < segs.size(); ++q) {
    tmlp::blas::sgemm(backend::libxsmm, true, false, s.m, s.n, s.ks[q], 1.0f, as[q].data(), lda,
                      bs[q].data(), ldb, 0.0f, g.data(), s.n);
    for (std::size_t i = 0; i < s.m; ++i)
      for (std::size_t j = 0; j < s.n; ++j)
        want[i * ldc + j] =
            q == 0 && beta == 0.0f ? g[i * s.n + j] : want[i * ldc + j] + g[i * s.n + j];
  }
  std::vector<float> c(s.m * ldc, 7.0f);
  if (beta == 0.0f)  // never read
    for (std::size_t i = 0; i < s.m; ++i) c[i * ldc] = std::numeric_limits<float>::quiet_NaN();
  tmlp::blas::sgemm_tn_segments(s.m, s.n, segs, beta, c.data(), ldc);
  std::size_t differ = 0;
  for (std::size_t i = 0; i < c.size(); ++i)
    differ += std::bit_cast<std::uint32_t>(c[i]) != std::bit_cast<std::uint32_t>(want[i]);
  CHECK(differ == 0);
  // And the sums themselves, against double precision (the padding is left at 7).
  const std::size_t i = s.m - 1, j = s.n - 1;
  double ref = beta == 0.0f ? 0.0 : 7.0;
  for (std::size_t q = 0; q < segs.size(); ++q)
    for (std::size_t r = 0; r < s.ks[q]; ++r)
      ref += double(as[q][r * lda + i]) * double(bs[q][r * ldb + j]);
  CHECK(c[i * ldc + j] == Approx(ref).margin(1e-4 * 1024));
  if (pad > 0) CHECK(c[ldc - 1] == 7.0f);
}
