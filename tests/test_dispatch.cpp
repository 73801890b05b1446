// The dispatch table: which architectures exist, and how TMLP_SIMD values are answered.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "kernels.hpp"
#include "tmlp/error.hpp"

TEST_CASE("the scalar reference is always available and listed first", "[kernels][dispatch]") {
  const auto names = tmlp::kernels::available();
  REQUIRE(!names.empty());
  CHECK(names.front() == "scalar");
  CHECK(tmlp::kernels::find("scalar") == &tmlp::kernels::reference());
  CHECK(tmlp::kernels::reference().lanes == 1);
  for (auto n : names) {
    const auto* t = tmlp::kernels::find(n);
    REQUIRE(t != nullptr);
    CHECK(std::string(t->name) == std::string(n));
  }
  CHECK(tmlp::kernels::find("avx1024") == nullptr);
}

TEST_CASE("every table is completely filled", "[kernels][dispatch]") {
  for (auto n : tmlp::kernels::available()) {
    const auto& t = *tmlp::kernels::find(n);
    CAPTURE(n);
    for (int a = 0; a < tmlp::kernels::n_acts; ++a) {
      CHECK(t.act_forward[a] != nullptr);
      CHECK(t.act_backward[a] != nullptr);
    }
    CHECK(t.softmax_rows != nullptr);
    CHECK(t.log_softmax_rows != nullptr);
    CHECK(t.col_sums != nullptr);
    CHECK(t.axpy != nullptr);
    CHECK(t.scale != nullptr);
    CHECK(t.sgd != nullptr);
    CHECK(t.momentum != nullptr);
    CHECK(t.nesterov != nullptr);
    CHECK(t.adam != nullptr);
    CHECK(t.rmsprop != nullptr);
    CHECK(t.adagrad != nullptr);
    CHECK(t.fma_loop != nullptr);
    CHECK(t.transpose != nullptr);
    CHECK(t.add_xwt != nullptr);
  }
}

TEST_CASE("TMLP_SIMD values: default, each available, unknown", "[kernels][dispatch]") {
  using Catch::Matchers::Contains;
  const auto names = tmlp::kernels::available();
  CHECK(std::string(tmlp::kernels::select_table(nullptr).name) == std::string(names.back()));
  CHECK(std::string(tmlp::kernels::select_table("").name) == std::string(names.back()));
  for (auto n : names)
    CHECK(std::string(tmlp::kernels::select_table(std::string(n).c_str()).name) == std::string(n));
  CHECK_THROWS_WITH(tmlp::kernels::select_table("avx9000"),
                    Contains("TMLP_SIMD=avx9000") && Contains("unknown") && Contains("scalar"));
  for (const char* n : {"sse2", "avx2", "avx512"})
    if (tmlp::kernels::find(n) == nullptr)
      CHECK_THROWS_WITH(tmlp::kernels::select_table(n), Contains("does not support"));
  // The process's choice follows the environment the suite was started with.
  const char* env = std::getenv("TMLP_SIMD");
  if (env != nullptr && *env != '\0') CHECK(std::string(tmlp::kernels::active().name) == env);
}
