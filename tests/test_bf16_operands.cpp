// The operands of the bf16 products (core/bf16_operands.hpp) against their element-wise
// definitions, and blas::bgemm against a naive product of the same bfloat16 values.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "blas/backends.hpp"
#include "blas/blas.hpp"
#include "core/bf16_operands.hpp"
#include "core/network.hpp"
#include "core/random.hpp"
#include "kernels.hpp"

namespace {

using tmlp::core::bf16;
using tmlp::core::even;

std::vector<float> random_vec(std::size_t n, std::uint64_t key) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(2.0 * tmlp::core::uniform01(key, i) - 1.0);
  return v;
}

bf16 one(float x) {
  bf16 y = 0;
  tmlp::kernels::reference().to_bf16(1, &x, &y);
  return y;
}

float widen(bf16 v) { return std::bit_cast<float>(std::uint32_t{v} << 16); }

constexpr bf16 sentinel = 0xabcd;

struct shape {
  std::size_t m, n, k;
};

// Random bf16 operands of an m x n x k product: A with rows lda apart, B as pairs of rows of ldb.
struct bf16_operands {
  std::vector<bf16> a, b;
  bf16_operands(std::size_t m, std::size_t k, std::size_t lda, std::size_t ldb)
      : a(m * lda), b(even(k) * ldb) {
    const auto av = random_vec(a.size(), 11), bv = random_vec(b.size(), 12);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = one(av[i]);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = one(bv[i]);
  }
};

// c (m x n, rows ldc apart) against A·B (+ c0 where beta is 1) summed in double.
void check_product(std::size_t m, std::size_t n, std::size_t k, const bf16_operands& o,
                   std::size_t lda, std::size_t ldb, float beta, const std::vector<float>& c0,
                   const std::vector<float>& c, std::size_t ldc) {
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double want = beta == 0.0f ? 0.0 : c0[i * ldc + j], size = std::fabs(want);
      for (std::size_t p = 0; p < k; ++p) {
        const double t =
            double(widen(o.a[i * lda + p])) * widen(o.b[(p / 2) * 2 * ldb + 2 * j + p % 2]);
        want += t;
        size += std::fabs(t);
      }
      CAPTURE(i, j);
      // Each product of two bf16 values is exact in fp32: only the sums round, each by at most
      // 2^-23 of what it has summed so far.
      REQUIRE(std::fabs(c[i * ldc + j] - want) <= 1.2e-7 * static_cast<double>(k + 1) * size);
    }
}

}  // namespace

TEST_CASE("bf16 operand layouts hold each value where the products read it", "[bf16]") {
  // Sizes across the conversions' chunks (256 columns) and tiles (32), odd and even.
  const std::size_t rows = GENERATE(1, 2, 7, 33, 64), cols = GENERATE(1, 5, 28, 300);
  CAPTURE(rows, cols);
  const auto x = random_vec(rows * cols, rows * 1000 + cols);
  const auto& k = tmlp::kernels::active();
  auto at = [&](std::size_t r, std::size_t c) { return one(x[r * cols + c]); };

  SECTION("rows, padded") {
    const std::size_t ld = even(cols) + 2;
    std::vector<bf16> y(rows * ld + 1, sentinel);
    tmlp::core::bf16_rows(k, rows, cols, x.data(), y.data(), ld);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < ld; ++c)
        REQUIRE(y[r * ld + c] == (c < cols ? at(r, c) : bf16{0}));
    CHECK(y.back() == sentinel);
  }
  // Pairs of rows of ld pairs: the pairs past the matrix's are left as they are.
  SECTION("pairs of rows") {
    const std::size_t ld = cols + GENERATE(0, 3);
    std::vector<bf16> y(even(rows) * ld + 1, sentinel);
    tmlp::core::bf16_row_pairs(k, rows, cols, x.data(), y.data(), ld);
    for (std::size_t r = 0; r < even(rows); ++r)
      for (std::size_t c = 0; c < ld; ++c)
        REQUIRE(y[(r / 2) * 2 * ld + 2 * c + r % 2] == (c >= cols  ? sentinel
                                                        : r < rows ? at(r, c)
                                                                   : bf16{0}));
    CHECK(y.back() == sentinel);
  }
  SECTION("pairs of rows of the transpose") {
    const std::size_t ld = rows + GENERATE(0, 3);
    std::vector<bf16> y(even(cols) * ld + 1, sentinel);
    tmlp::core::bf16_column_pairs(k, rows, cols, x.data(), y.data(), ld);
    for (std::size_t c = 0; c < even(cols); ++c)
      for (std::size_t r = 0; r < ld; ++r)
        REQUIRE(y[(c / 2) * 2 * ld + 2 * r + c % 2] == (r >= rows  ? sentinel
                                                        : c < cols ? at(r, c)
                                                                   : bf16{0}));
    CHECK(y.back() == sentinel);
  }
  SECTION("transposed, padded") {
    const std::size_t ld = even(rows) + GENERATE(0, 2);
    std::vector<bf16> y(cols * ld + 1, sentinel);
    tmlp::core::bf16_transposed(k, rows, cols, x.data(), y.data(), ld);
    for (std::size_t c = 0; c < cols; ++c)
      for (std::size_t r = 0; r < ld; ++r)
        REQUIRE(y[c * ld + r] == (r < rows ? at(r, c) : bf16{0}));
    CHECK(y.back() == sentinel);
  }
}

TEST_CASE("bf16_weights: every layer's two copies, converted in blocks of rows", "[bf16]") {
  // Layers wider than a block (64 rows), odd widths, one output, and 1024 inputs and outputs,
  // whose pairs of rows are padded (bf16_ld).
  const tmlp::model_spec spec{
      .n_inputs = 13,
      .layers = {{.units = 131}, {.units = 1024}, {.units = 70}, {.units = 1}},
      .loss = tmlp::loss_kind::mse};
  const auto net = tmlp::core::network::from_spec(spec);
  const auto params = random_vec(net.n_params, 21);
  tmlp::core::bf16_weights w(net);
  w.prepare(tmlp::kernels::active(), params.data());
  const auto& k = tmlp::kernels::reference();
  for (const auto& l : net.layers) {
    CAPTURE(l.n_in, l.n_out);
    const std::size_t ld_f = tmlp::core::bf16_ld(l.n_out), ld_b = tmlp::core::bf16_ld(l.n_in);
    CHECK(ld_f == (l.n_out == 1024 ? 1040 : l.n_out));
    // The padding pairs hold zeros, as the room they were made in.
    std::vector<bf16> fwd(even(l.n_in) * ld_f), bwd(even(l.n_out) * ld_b);
    tmlp::core::bf16_column_pairs(k, l.n_out, l.n_in, params.data() + l.w_offset, fwd.data(), ld_f);
    tmlp::core::bf16_row_pairs(k, l.n_out, l.n_in, params.data() + l.w_offset, bwd.data(), ld_b);
    CHECK(std::equal(fwd.begin(), fwd.end(), w.forward(l.w_offset)));
    CHECK(std::equal(bwd.begin(), bwd.end(), w.backward(l.w_offset)));
  }
}

TEST_CASE("bgemm multiplies bfloat16 operands with fp32 sums", "[blas][bf16]") {
  // libxsmm's bf16 kernels where it generates them (AVX512-BF16, or LIBXSMM_TARGET=skx), else
  // the reference loop.
  const tmlp::blas::backend_scope gemm(tmlp::blas::backend::libxsmm);
  const tmlp::blas::bf16_reference_scope reference;
  REQUIRE(tmlp::blas::bf16_kernels());
  INFO(tmlp::blas::describe_backend());
  // A layer's products of a 64-row shard (forward, input gradient, weight gradient), with odd
  // sizes and a left operand with a longer row stride.
  const shape s =
      GENERATE(shape{64, 256, 28}, shape{64, 28, 256}, shape{256, 28, 64}, shape{64, 300, 300},
               shape{33, 10, 1024}, shape{10, 1024, 34}, shape{3, 5, 2}, shape{65, 17, 66});
  const float beta = GENERATE(0.0f, 1.0f);
  const std::size_t lda = s.k + GENERATE(0, 6), ldb = s.n + GENERATE(0, 16);
  CAPTURE(s.m, s.n, s.k, beta, lda, ldb);
  const bf16_operands o(s.m, s.k, lda, ldb);
  const auto c0 = random_vec(s.m * s.n, 13);
  std::vector<float> c = c0;
  REQUIRE(tmlp::blas::bgemm(s.m, s.n, s.k, o.a.data(), lda, o.b.data(), ldb, beta, c.data(), s.n));
  check_product(s.m, s.n, s.k, o, lda, ldb, beta, c0, c, s.n);
}

TEST_CASE("tmlp's bf16 kernel sums as the naive product and gives libxsmm's bits", "[blas][bf16]") {
  if (!tmlp::blas::cpu_has_bf16()) {
    WARN("this CPU has no AVX512-BF16: tmlp's bf16 kernel is not run");
    return;
  }
  // Whole and partial tiles (6 rows x 64 columns), k from one pair up, the step's 1024-wide
  // products (which bgemm runs on this kernel), and C's columns past n left alone. Then every
  // one of the kernel's tiles for C's edges (1 to 6 rows x 1 to 4 vectors of 16 columns, whole
  // and masked) below a whole tile or alone, over one strip of 64 columns or two.
  std::vector<shape> shapes{{64, 1024, 1024}, {13, 130, 10}, {6, 64, 2},    {7, 65, 34},
                            {1, 17, 64},      {5, 1, 6},     {64, 48, 300}, {12, 1000, 1026}};
  for (std::size_t m = 1; m <= 12; ++m)
    for (std::size_t n : {9, 16, 23, 32, 41, 48, 57, 64, 73, 112})
      shapes.push_back({m, n, m % 2 == 0 ? std::size_t{2} : std::size_t{34}});
  const shape s = GENERATE_COPY(from_range(shapes));
  const float beta = GENERATE(0.0f, 1.0f);
  const std::size_t lda = s.k + GENERATE(0, 6), ldb = s.n + GENERATE(0, 16), ldc = s.n + 3;
  CAPTURE(s.m, s.n, s.k, beta, lda, ldb);
  const bf16_operands o(s.m, s.k, lda, ldb);
  auto c0 = random_vec(s.m * ldc, 13);
  if (beta == 0.0f)  // never read
    for (std::size_t i = 0; i < s.m; ++i) std::fill_n(c0.begin() + i * ldc, s.n, NAN);
  std::vector<float> c = c0;
  tmlp::blas::detail::dp_bgemm(s.m, s.n, s.k, o.a.data(), lda, o.b.data(), ldb, beta, c.data(),
                               ldc);
  check_product(s.m, s.n, s.k, o, lda, ldb, beta, c0, c, ldc);
  for (std::size_t i = 0; i < s.m; ++i)
    for (std::size_t j = s.n; j < ldc; ++j)
      REQUIRE(std::bit_cast<std::uint32_t>(c[i * ldc + j]) ==
              std::bit_cast<std::uint32_t>(c0[i * ldc + j]));
  // libxsmm's vdpbf16ps kernels (not its emulation under a LIBXSMM_TARGET) sum in the same
  // order over whole vectors of 16 columns, so bgemm may run either on the step's products (of
  // 1024 columns) and give the same bits. (libxsmm's code for a few columns past the last whole
  // vector may not: 65 columns at k = 34 or 130 at k = 10 differ there in the last bit; nor
  // does its code for 16 columns or fewer on fewer than 12 rows: 16 on 3 rows at k = 34.)
  if (tmlp::blas::detail::xsmm_target_forced() || s.m == 1 || s.n == 1 || (s.n <= 16 && s.m < 12))
    return;
  std::vector<float> x = c0;
  REQUIRE(tmlp::blas::detail::xsmm_bgemm(s.m, s.n, s.k, o.a.data(), lda, o.b.data(), ldb, beta,
                                         x.data(), ldc));
  for (std::size_t i = 0; i < s.m; ++i)
    for (std::size_t j = 0; j < s.n / 16 * 16; ++j) {
      CAPTURE(i, j);
      REQUIRE(std::bit_cast<std::uint32_t>(c[i * ldc + j]) ==
              std::bit_cast<std::uint32_t>(x[i * ldc + j]));
    }
}

TEST_CASE("bgemm_segments has the bits of one bgemm per segment, added in order", "[blas][bf16]") {
  // The step's bf16 weight gradient over every shard at once (train/weight_products.cpp) must
  // give what one product per shard and the reduction's additions gave.
  const tmlp::blas::backend_scope gemm(tmlp::blas::backend::libxsmm);
  CHECK_FALSE(tmlp::blas::bgemm_segments_run(13, 65));  // libxsmm's last columns: another order
  struct segments {
    std::size_t m, n;
    std::vector<std::size_t> ks;
  };
  const segments s = GENERATE(segments{1024, 1024, std::vector<std::size_t>(16, 64)},
                              segments{13, 145, {2, 8, 64, 66}}, segments{6, 64, {64}},
                              segments{7, 63, {34, 30}}, segments{100, 1024, {128, 128, 128}},
                              segments{12, 1000, {62, 64}}, segments{1024, 100, {64, 64}});
  const std::size_t pad = GENERATE(0, 16);
  const float beta = GENERATE(0.0f, 1.0f);  // 1: C + the first segment's sum from zero
  CAPTURE(s.m, s.n, s.ks.size(), s.ks.front(), pad, beta);
  if (!tmlp::blas::bgemm_segments_run(s.m, s.n)) {
    WARN("no vdpbf16ps kernels of libxsmm's and tmlp's here: bgemm_segments not run");
    return;
  }
  const std::size_t ldb = s.n + pad, ldc = s.n + 3;
  std::vector<bf16_operands> ops;
  std::vector<tmlp::blas::bf16_segment> segs;
  for (std::size_t q = 0; q < s.ks.size(); ++q) ops.emplace_back(s.m, s.ks[q], s.ks[q], ldb);
  for (std::size_t q = 0; q < s.ks.size(); ++q)
    segs.push_back({ops[q].a.data(), s.ks[q], ops[q].b.data(), ldb, s.ks[q]});
  const auto c0 = random_vec(s.m * ldc, 13);
  std::vector<float> want = c0, g(s.m * s.n);
  for (std::size_t q = 0; q < segs.size(); ++q) {
    REQUIRE(tmlp::blas::bgemm(s.m, s.n, s.ks[q], ops[q].a.data(), s.ks[q], ops[q].b.data(), ldb,
                              0.0f, g.data(), s.n));
    for (std::size_t i = 0; i < s.m; ++i)
      for (std::size_t j = 0; j < s.n; ++j)
        want[i * ldc + j] =
            q == 0 && beta == 0.0f ? g[i * s.n + j] : want[i * ldc + j] + g[i * s.n + j];
  }
  std::vector<float> c = c0;
  if (beta == 0.0f)
    for (std::size_t i = 0; i < s.m; ++i) c[i * ldc] = NAN;  // never read
  tmlp::blas::bgemm_segments(s.m, s.n, segs, beta, c.data(), ldc);
  std::size_t differ = 0;
  for (std::size_t i = 0; i < c.size(); ++i)
    differ += std::bit_cast<std::uint32_t>(c[i]) != std::bit_cast<std::uint32_t>(want[i]);
  CHECK(differ == 0);
}

TEST_CASE("bgemm declines what it has no kernel for and leaves C alone", "[blas][bf16]") {
  std::vector<bf16> a(64 * 8, one(0.5f)), b(8 * 64, one(0.25f));
  std::vector<float> c(64 * 64, 3.0f);
  {
    const tmlp::blas::backend_scope gemm(tmlp::blas::backend::libxsmm);
    const tmlp::blas::bf16_reference_scope reference;
    CHECK_FALSE(tmlp::blas::bgemm(1, 64, 8, a.data(), 8, b.data(), 64, 0.0f, c.data(), 64));
    CHECK_FALSE(tmlp::blas::bgemm(64, 1, 8, a.data(), 8, b.data(), 64, 0.0f, c.data(), 1));
    CHECK_FALSE(tmlp::blas::bgemm(64, 64, 7, a.data(), 8, b.data(), 64, 0.0f, c.data(), 64));
    CHECK(tmlp::blas::bgemm(64, 64, 8, a.data(), 8, b.data(), 64, 1.0f, c.data(), 64));
    for (float v : c) REQUIRE(v == 4.0f);  // 3 + 8 * 0.5 * 0.25
    std::fill(c.begin(), c.end(), 3.0f);
  }
  // TMLP_GEMM=openblas (or its scope) runs no bf16 kernels.
  const tmlp::blas::backend_scope gemm(tmlp::blas::backend::openblas);
  const tmlp::blas::bf16_reference_scope reference;
  CHECK_FALSE(tmlp::blas::bf16_kernels());
  CHECK_FALSE(tmlp::blas::bgemm(64, 64, 8, a.data(), 8, b.data(), 64, 0.0f, c.data(), 64));
  for (float v : c) REQUIRE(v == 3.0f);
}

TEST_CASE("the vdpbf16ps peak loop does the steps it counts", "[blas][bf16]") {
  if (!tmlp::blas::cpu_has_bf16()) {
    WARN("this CPU has no AVX512-BF16: the bf16 peak loop is not run");
    return;
  }
  // Each step adds 1 x 2^-7 twice to every lane: 64 steps add 1 exactly.
  std::vector<float> sums(24);
  for (std::size_t j = 0; j < sums.size(); ++j) sums[j] = static_cast<float>(j);
  CHECK(tmlp::blas::detail::dpbf16_peak_loop(64, sums.data()) == 64.0 * 24 * 64);
  for (std::size_t j = 0; j < sums.size(); ++j) CHECK(sums[j] == static_cast<float>(j) + 1.0f);
}
