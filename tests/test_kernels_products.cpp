// Z += X·Wᵀ by dot products (kernel_table::add_xwt): exact on small integers for every
// architecture (each product counted once, whatever the shape and strides), close to a double
// reference on random values, and each pair's sum the same bits whatever rows and columns share
// the call.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <vector>

#include "core/random.hpp"
#include "kernels.hpp"

namespace {

std::vector<float> values(std::size_t n, std::uint64_t seed) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(tmlp::core::uniform01(seed, i) * 2.0 - 1.0);
  return v;
}

// Integers in -3..3: every sum below is exact in float, in any order.
std::vector<float> small_integers(std::size_t n, std::uint64_t seed) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = std::floor(static_cast<float>(tmlp::core::uniform01(seed, i) * 7.0)) - 3.0f;
  return v;
}

struct shape {
  std::size_t rows, n, k;
};

}  // namespace

TEST_CASE("add_xwt: every architecture adds each product once, into z alone",
          "[kernels][products]") {
  const std::size_t rows = GENERATE(1, 2, 3, 4, 5, 7, 8, 9, 13, 64);
  const std::size_t n = GENERATE(1, 3, 4, 5, 16, 17, 64, 65, 130);
  const std::size_t k = GENERATE(1, 3, 4, 8, 15, 16, 17, 33, 100);
  const std::size_t pad = 3;  // strides past the matrices: never read into a sum, never written
  const std::size_t ldx = k + pad, ldw = k + 1, ldz = n + pad;
  const auto x = small_integers(rows * ldx, rows * 131 + k);
  const auto w = small_integers(n * ldw, n * 17 + k);
  const auto z0 = small_integers(rows * ldz, 7);
  std::vector<float> want = z0;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (std::size_t i = 0; i < k; ++i)
        s += static_cast<double>(x[r * ldx + i]) * static_cast<double>(w[j * ldw + i]);
      want[r * ldz + j] = static_cast<float>(z0[r * ldz + j] + s);
    }
  for (auto name : tmlp::kernels::available()) {
    CAPTURE(name, rows, n, k);
    std::vector<float> z = z0;
    tmlp::kernels::find(name)->add_xwt(rows, n, k, x.data(), ldx, w.data(), ldw, z.data(), ldz);
    REQUIRE(z == want);
  }
}

TEST_CASE("add_xwt: close to a double reference on random values", "[kernels][products]") {
  const shape s = GENERATE(shape{1, 1024, 1024}, shape{16, 1024, 100}, shape{37, 300, 300},
                           shape{6, 10, 1024}, shape{256, 64, 28});
  const auto x = values(s.rows * s.k, 1), w = values(s.n * s.k, 2), b = values(s.n, 3);
  for (auto name : tmlp::kernels::available()) {
    CAPTURE(name, s.rows, s.n, s.k);
    std::vector<float> z(s.rows * s.n);
    for (std::size_t r = 0; r < s.rows; ++r) std::memcpy(&z[r * s.n], b.data(), s.n * 4);
    tmlp::kernels::find(name)->add_xwt(s.rows, s.n, s.k, x.data(), s.k, w.data(), s.k, z.data(),
                                       s.n);
    double worst = 0.0;
    for (std::size_t r = 0; r < s.rows; ++r)
      for (std::size_t j = 0; j < s.n; ++j) {
        double sum = b[j], mag = std::fabs(b[j]);
        for (std::size_t i = 0; i < s.k; ++i) {
          const double p = double{x[r * s.k + i]} * double{w[j * s.k + i]};
          sum += p;
          mag += std::fabs(p);
        }
        worst = std::max(worst, std::fabs(z[r * s.n + j] - sum) / mag);
      }
    CHECK(worst < 1e-6 * std::sqrt(static_cast<double>(s.k)) + 1e-7);
  }
}

TEST_CASE("add_xwt: a pair's sum is the same bits whatever rows and columns share the call",
          "[kernels][products]") {
  // Every row and column of a 13 x 37 product again alone, and in blocks that start anywhere:
  // tiles of any position and the one-row tiles must all sum a pair the same way.
  const std::size_t rows = 13, n = 37;
  const std::size_t k = GENERATE(5, 16, 100, 1024);
  const auto x = values(rows * k, 11), w = values(n * k, 12);
  for (auto name : tmlp::kernels::available()) {
    CAPTURE(name, k);
    const auto& t = *tmlp::kernels::find(name);
    std::vector<float> all(rows * n, 0.0f);
    t.add_xwt(rows, n, k, x.data(), k, w.data(), k, all.data(), n);
    for (std::size_t r = 0; r < rows; ++r) {
      std::vector<float> one(n, 0.0f);
      t.add_xwt(1, n, k, x.data() + r * k, k, w.data(), k, one.data(), n);
      CAPTURE(r);
      REQUIRE(std::memcmp(one.data(), all.data() + r * n, n * 4) == 0);
    }
    for (std::size_t r0 : {std::size_t{1}, std::size_t{3}, std::size_t{6}})
      for (std::size_t j0 : {std::size_t{1}, std::size_t{5}, std::size_t{19}}) {
        const std::size_t nr = rows - r0, nc = n - j0;
        std::vector<float> part(nr * nc, 0.0f);
        t.add_xwt(nr, nc, k, x.data() + r0 * k, k, w.data() + j0 * k, k, part.data(), nc);
        for (std::size_t r = 0; r < nr; ++r) {
          CAPTURE(r0, j0, r);
          REQUIRE(std::memcmp(part.data() + r * nc, all.data() + (r0 + r) * n + j0, nc * 4) == 0);
        }
      }
  }
}
