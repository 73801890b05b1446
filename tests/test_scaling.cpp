// Numeric scalings beyond standardization: robust scaling with the smooth clip, the quantile
// map to normal scores, and the automatic choice per column, against values computed by hand.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tmlp/error.hpp"
#include "tmlp/preprocess.hpp"

using Catch::Matchers::Contains;
using tmlp::column_kind;
using tmlp::scaling;

namespace {

const float missing = std::numeric_limits<float>::quiet_NaN();

// One feature column x (and a boolean column flag if given), and a 0/1 target.
tmlp::table one_column(std::vector<float> x, std::vector<float> flag = {}) {
  tmlp::table t{.source = "t", .n_rows = x.size()};
  tmlp::column c{.name = "x", .kind = column_kind::numeric, .values = std::move(x)};
  for (float v : c.values) c.n_missing += std::isnan(v);
  t.columns.push_back(std::move(c));
  if (!flag.empty())
    t.columns.push_back({.name = "flag", .kind = column_kind::boolean, .values = std::move(flag)});
  std::vector<float> y(t.n_rows);
  for (std::size_t r = 0; r < y.size(); ++r) y[r] = static_cast<float>(r % 2);
  t.columns.push_back({.name = "y", .kind = column_kind::numeric, .values = std::move(y)});
  return t;
}

// The feature of column 0 for each value of v, through p.
std::vector<float> mapped(const tmlp::preprocessor& p, const std::vector<float>& v) {
  const tmlp::matrix x = p.features(one_column(v, std::vector<float>(v.size(), 0.0f)));
  std::vector<float> out;
  for (std::size_t r = 0; r < v.size(); ++r) out.push_back(x(r, 0));
  return out;
}

float smooth_clip(double z) { return static_cast<float>(z / std::sqrt(1.0 + (z / 3) * (z / 3))); }

}  // namespace

TEST_CASE("robust scaling: median and interquartile range, then the smooth clip",
          "[data][preprocess][scaling]") {
  // 1, 2, 3, 4, 100 and a missing value: median 3, quartiles 2 and 4, so z = (x - 3) / 2.
  const tmlp::table t = one_column({1, 2, 3, 4, 100, missing}, {0, 1, 0, 1, 1, 0});
  const auto p = tmlp::preprocessor::fit(t, {.target = "y", .scale = scaling::robust});
  const tmlp::matrix x = p.features(t);
  CHECK(x(0, 0) == smooth_clip(-1.0));
  CHECK(x(2, 0) == 0.0f);
  CHECK(x(3, 0) == smooth_clip(0.5));
  CHECK(x(4, 0) == smooth_clip(48.5));
  CHECK(x(4, 0) < 3.0f);
  CHECK(x(4, 0) > 2.99f);                         // an outlier stays largest, inside +-3
  CHECK(x(5, 0) == smooth_clip((22.0 - 3) / 2));  // imputed with the mean, 22, then mapped
  // The boolean column is standardized: mean 0.5, standard deviation 0.5.
  CHECK(x(0, 1) == -1.0f);
  CHECK(x(1, 1) == 1.0f);

  SECTION("equal quartiles: half the range scales") {
    const auto q = tmlp::preprocessor::fit(one_column({5, 5, 5, 5, 5, 9}),
                                           {.target = "y", .scale = scaling::robust});
    CHECK(mapped(q, {9, 5, 1}) == std::vector<float>{smooth_clip(2.0), 0.0f, smooth_clip(-2.0)});
  }
  SECTION("a constant column maps to 0") {
    const auto q =
        tmlp::preprocessor::fit(one_column({7, 7, 7}), {.target = "y", .scale = scaling::robust});
    CHECK(mapped(q, {7, 8}) == std::vector<float>{0.0f, smooth_clip(1.0)});
  }
}

TEST_CASE("quantile scaling: normal scores of the training quantiles, linear between them",
          "[data][preprocess][scaling]") {
  std::vector<float> v;  // 0..999 in a scrambled order: 1000 knots, at 0, 1, ..., 999
  for (int i = 0; i < 1000; ++i) v.push_back(static_cast<float>((i * 367) % 1000));
  const auto p =
      tmlp::preprocessor::fit(one_column(v), {.target = "y", .scale = scaling::quantile});
  // Knot i is at probability i / 999; 974.025 is at 0.975, whose normal score is 1.959964.
  const std::vector<float> got = mapped(p, {499.5f, 974.025f, 24.975f, 999, 0, 5000, -5000});
  CHECK(got[0] == Approx(0.0).margin(1e-6));
  CHECK(got[1] == Approx(1.959964).epsilon(1e-3));
  CHECK(got[2] == Approx(-1.959964).epsilon(1e-3));
  CHECK(got[3] == Approx(5.199338).epsilon(1e-6));  // 1 - 1e-7: the clipped extreme
  CHECK(got[4] == -got[3]);
  CHECK(got[5] == got[3]);  // beyond the knots: constant
  CHECK(got[6] == got[4]);
  std::vector<float> sweep;
  for (int i = -10; i <= 1010; ++i) sweep.push_back(static_cast<float>(i) * 0.999f);
  const std::vector<float> s = mapped(p, sweep);
  for (std::size_t i = 1; i < s.size(); ++i) REQUIRE(s[i] >= s[i - 1]);  // never decreases

  SECTION("a value many rows share is one knot, at the middle of its probabilities") {
    std::vector<float> w(700, 0.0f);  // 70% zeros, 30% ones
    w.resize(1000, 1.0f);
    const auto q =
        tmlp::preprocessor::fit(one_column(w), {.target = "y", .scale = scaling::quantile});
    const std::vector<float> z = mapped(q, {0, 1, 0.5f});
    CHECK(z[0] == Approx(-0.3853).epsilon(2e-3));  // the normal score of about 0.35
    CHECK(z[1] == Approx(1.0364).epsilon(2e-3));   // of about 0.85
    CHECK(z[2] == Approx((z[0] + z[1]) / 2).epsilon(1e-6));
  }
}

TEST_CASE("automatic scaling: robust for heavy-tailed columns, standardize elsewhere",
          "[data][preprocess][scaling]") {
  std::vector<float> even, tailed;
  for (int i = 0; i < 200; ++i) {
    even.push_back(static_cast<float>(i % 20));                    // uniform: kurtosis -1.2
    tailed.push_back(i < 196 ? static_cast<float>(i % 7) : 1e4f);  // four outliers
  }
  const auto pe =
      tmlp::preprocessor::fit(one_column(even), {.target = "y", .scale = scaling::automatic});
  const auto pt =
      tmlp::preprocessor::fit(one_column(tailed), {.target = "y", .scale = scaling::automatic});
  using map_kind = tmlp::preprocessor::feature_column::map_kind;
  CHECK(pe.input_columns()[0].map == map_kind::linear);
  CHECK(pe.input_columns()[0].offset == Approx(9.5));
  CHECK(pt.input_columns()[0].map == map_kind::smooth_clip);
  CHECK(pt.input_columns()[0].offset == 3.0);  // the median
}

TEST_CASE("robust and quantile maps survive the JSON round trip bit for bit; damage is named",
          "[data][preprocess][scaling]") {
  std::vector<float> v;
  for (int i = 0; i < 300; ++i) v.push_back(std::exp(static_cast<float>(i % 37) / 5.0f));
  v[7] = missing;
  for (const scaling s : {scaling::robust, scaling::quantile}) {
    const tmlp::table t = one_column(v, std::vector<float>(v.size(), 1.0f));
    const auto p = tmlp::preprocessor::fit(t, {.target = "y", .scale = s});
    const auto q = tmlp::preprocessor::from_json(p.to_json());
    const tmlp::matrix a = p.features(t), b = q.features(t);
    REQUIRE(std::equal(a.data(), a.data() + a.size(), b.data()));
  }
  const auto p =
      tmlp::preprocessor::fit(one_column(v), {.target = "y", .scale = scaling::quantile});
  std::string json = p.to_json();
  const std::string knots = "\"knots\":[";
  const std::size_t at = json.find(knots) + knots.size();
  std::string swapped = json;
  swapped.replace(at, json.find(',', at) - at, "1e9");  // a first knot above the next
  CHECK_THROWS_WITH(tmlp::preprocessor::from_json(swapped),
                    Contains("'x'") && Contains("increase"));
  std::string unknown = json;
  unknown.replace(unknown.find("\"quantile\""), 10, "\"cubic\"");
  CHECK_THROWS_WITH(tmlp::preprocessor::from_json(unknown), Contains("unknown map 'cubic'"));
}

TEST_CASE("piecewise-linear encoding: bins between training quantiles, one feature per bin",
          "[data][preprocess][scaling]") {
  std::vector<float> v;  // 0..100 and one missing value: 4 bins with edges 0, 25, 50, 75, 100
  for (int i = 0; i <= 100; ++i) v.push_back(static_cast<float>(i));
  v.push_back(missing);
  const auto p =
      tmlp::preprocessor::fit(one_column(v, std::vector<float>(v.size(), 1.0f)),
                              {.target = "y", .missing_indicators = true, .ple_bins = 4});
  REQUIRE(p.n_features() == 4 + 1 + 1);  // the bins, the indicator, the boolean column
  CHECK(p.feature_names() ==
        std::vector<std::string>{"x#bin1", "x#bin2", "x#bin3", "x#bin4", "x<missing>", "flag"});
  const tmlp::matrix x =
      p.features(one_column({-50, 0, 30, 100, 150, missing}, {0, 0, 0, 0, 0, 0}));
  auto row = [&](std::size_t r) {
    return std::vector<float>{x(r, 0), x(r, 1), x(r, 2), x(r, 3), x(r, 4)};
  };
  CHECK(row(0) == std::vector<float>{-2, 0, 0, 0, 0});  // below the first edge: not clamped
  CHECK(row(1) == std::vector<float>{0, 0, 0, 0, 0});
  CHECK(row(2) == std::vector<float>{1, 0.2f, 0, 0, 0});
  CHECK(row(3) == std::vector<float>{1, 1, 1, 1, 0});
  CHECK(row(4) == std::vector<float>{1, 1, 1, 3, 0});  // above the last edge: not clamped
  CHECK(row(5) == std::vector<float>{1, 1, 0, 0, 1});  // imputed with the mean, 50; indicated
  const auto q = tmlp::preprocessor::from_json(p.to_json());
  const tmlp::matrix y =
      q.features(one_column({-50, 0, 30, 100, 150, missing}, {0, 0, 0, 0, 0, 0}));
  CHECK(std::equal(x.data(), x.data() + x.size(), y.data()));

  SECTION("equal edges merge; too few bins left: the column is scaled as usual") {
    std::vector<float> w(90, 0.0f);  // 90 zeros and 1..10: edges 0 and 10 only
    for (int i = 1; i <= 10; ++i) w.push_back(static_cast<float>(i));
    const auto s = tmlp::preprocessor::fit(one_column(w), {.target = "y", .ple_bins = 8});
    CHECK(s.n_features() == 1);
    CHECK(s.input_columns()[0].map == tmlp::preprocessor::feature_column::map_kind::linear);
  }
  SECTION("more than 1024 bins is an error naming the field") {
    CHECK_THROWS_WITH(tmlp::preprocessor::fit(one_column(v), {.target = "y", .ple_bins = 1025}),
                      Contains("ple_bins") && Contains("1024"));
  }
}
