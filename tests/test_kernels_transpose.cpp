// The matrix transpose: the scalar reference by its definition, and every architecture the CPU
// has against it, for shapes with and without whole blocks, strips and edges, and row strides
// wider than the matrices (blocks of rows written into a larger transpose).
#include <catch2/catch.hpp>

#include <cstddef>
#include <vector>

#include "core/random.hpp"
#include "kernels.hpp"

namespace {

std::vector<float> values(std::size_t n, std::uint64_t seed) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(tmlp::core::uniform01(seed, i) - 0.5);
  return v;
}

}  // namespace

TEST_CASE("transpose: the reference moves x[r][c] to y[c][r] and nothing else",
          "[kernels][transpose]") {
  const std::size_t rows = 3, cols = 5, ldx = 7, ldy = 4;
  const auto x = values(rows * ldx, 1);
  std::vector<float> y(cols * ldy, -9.0f);
  tmlp::kernels::reference().transpose(rows, cols, x.data(), ldx, y.data(), ldy);
  for (std::size_t c = 0; c < cols; ++c)
    for (std::size_t r = 0; r < ldy; ++r)
      CHECK(y[c * ldy + r] == (r < rows ? x[r * ldx + c] : -9.0f));
}

TEST_CASE("transpose: every architecture equals the reference", "[kernels][transpose]") {
  const std::size_t rows = GENERATE(1, 3, 4, 7, 8, 9, 16, 17, 28, 64, 100, 300);
  const std::size_t cols = GENERATE(1, 4, 5, 8, 15, 16, 17, 28, 33, 100, 256, 300);
  const std::size_t pad = GENERATE(0, 3);  // row strides past the matrices: untouched
  const std::size_t ldx = cols + pad, ldy = rows + pad;
  const auto x = values(rows * ldx, rows * 1000 + cols);
  std::vector<float> want(cols * ldy, -9.0f);
  tmlp::kernels::reference().transpose(rows, cols, x.data(), ldx, want.data(), ldy);
  for (auto name : tmlp::kernels::available()) {
    CAPTURE(name, rows, cols, pad);
    std::vector<float> got(cols * ldy, -9.0f);
    tmlp::kernels::find(name)->transpose(rows, cols, x.data(), ldx, got.data(), ldy);
    REQUIRE(got == want);
  }
}

TEST_CASE("transpose: blocks of rows make the whole transpose", "[kernels][transpose]") {
  // As core::transpose_weights cuts a layer: 64-row blocks of a 1024 x 100 matrix (a row
  // stride of a power of two on the transposed side), each into its columns of y.
  const std::size_t rows = 1024, cols = 100, block = 64;
  const auto x = values(rows * cols, 5);
  std::vector<float> want(rows * cols);
  tmlp::kernels::reference().transpose(rows, cols, x.data(), cols, want.data(), rows);
  for (auto name : tmlp::kernels::available()) {
    CAPTURE(name);
    std::vector<float> got(rows * cols, -9.0f);
    for (std::size_t r0 = 0; r0 < rows; r0 += block)
      tmlp::kernels::find(name)->transpose(block, cols, x.data() + r0 * cols, cols, got.data() + r0,
                                           rows);
    REQUIRE(got == want);
  }
}
