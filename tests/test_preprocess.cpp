// Preprocessing against hand-computed values on small tables built in memory.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "tmlp/error.hpp"
#include "tmlp/preprocess.hpp"
#include "tmlp/training_data.hpp"

#ifdef TMLP_COUNT_ALLOCATIONS
#include "support/alloc_counter.hpp"
#endif

using Catch::Matchers::Contains;
using tmlp::column_kind;

namespace {

const float nan = std::numeric_limits<float>::quiet_NaN();

tmlp::column numeric(std::string name, std::vector<float> v) {
  tmlp::column c{.name = std::move(name), .kind = column_kind::numeric, .values = std::move(v)};
  for (float x : c.values) c.n_missing += std::isnan(x);
  return c;
}

tmlp::column text(std::string name, std::vector<std::int32_t> codes,
                  std::vector<std::string> levels) {
  return {.name = std::move(name),
          .kind = column_kind::categorical,
          .codes = std::move(codes),
          .levels = std::move(levels)};
}

// 5 rows: a numeric feature with one missing value, a categorical feature, a text target.
tmlp::table sample() {
  tmlp::table t{.source = "sample", .n_rows = 5};
  t.columns.push_back(numeric("age", {20, 30, nan, 40, 50}));
  t.columns.push_back(text("color", {0, 1, 0, -1, 2}, {"red", "blue", "green"}));
  t.columns.push_back(text("label", {0, 1, 1, 0, 1}, {"no", "yes"}));
  return t;
}

// 103 rows: a numeric feature, "zip" with 101 levels (z0..z100, row r has z_r, rows 101 and
// 102 are missing), "size" with 3 levels, a 0/1 target.
tmlp::table many_levels() {
  tmlp::table t{.source = "many", .n_rows = 103};
  std::vector<float> x, y;
  std::vector<std::int32_t> zip, size;
  std::vector<std::string> zip_levels;
  for (std::int32_t r = 0; r < 103; ++r) {
    x.push_back(static_cast<float>(r));
    y.push_back(static_cast<float>(r % 2));
    zip.push_back(r <= 100 ? r : -1);
    size.push_back(r % 3);
    if (r <= 100) zip_levels.push_back(std::string(1, 'z').append(std::to_string(r)));
  }
  t.columns.push_back(numeric("x", std::move(x)));
  t.columns.push_back(text("zip", std::move(zip), std::move(zip_levels)));
  t.columns.push_back(text("size", std::move(size), {"s", "m", "l"}));
  t.columns.push_back(numeric("y", std::move(y)));
  return t;
}

// Every row but 50: z50 is unseen in training, leaving 100 training levels.
std::vector<std::uint32_t> all_but_50() {
  std::vector<std::uint32_t> rows;
  for (std::uint32_t r = 0; r < 103; ++r)
    if (r != 50) rows.push_back(r);
  return rows;
}

}  // namespace

TEST_CASE("numeric features are imputed and standardized from the training rows",
          "[data][preprocess]") {
  const tmlp::table t = sample();
  const auto p = tmlp::preprocessor::fit(t, {.target = "label", .missing_indicators = true});
  CHECK(p.task() == tmlp::task_kind::binary);
  CHECK(p.class_labels() == std::vector<std::string>{"no", "yes"});
  // age: mean 35 of the 4 present values, population sd sqrt(125); then a missing indicator;
  // color: red, blue, green, <missing>.
  REQUIRE(p.feature_names() == std::vector<std::string>{"age", "age<missing>", "color=red",
                                                        "color=blue", "color=green",
                                                        "color=<missing>"});
  const tmlp::matrix x = p.features(t);
  const double sd = std::sqrt(125.0);
  CHECK(x(0, 0) == Approx((20 - 35) / sd));
  CHECK(x(2, 0) == Approx(0.0).margin(1e-7));  // imputed with the mean
  CHECK(x(2, 1) == 1.0f);
  CHECK(x(1, 1) == 0.0f);
  CHECK(x(0, 2) == 1.0f);
  CHECK(x(1, 3) == 1.0f);
  CHECK(x(3, 5) == 1.0f);  // missing color
  CHECK(x(4, 4) == 1.0f);
  const tmlp::matrix y = p.targets(t);
  CHECK(y(0, 0) == 0.0f);
  CHECK(y(1, 0) == 1.0f);
}

TEST_CASE("fitting on a subset uses only those rows", "[data][preprocess]") {
  const tmlp::table t = sample();
  const auto p = tmlp::preprocessor::fit(
      t, {.target = "label", .scale = tmlp::scaling::minmax, .impute = tmlp::imputation::median},
      {0, 1, 4});
  // age over rows 0, 1, 4: 20, 30, 50 -> median 30, min 20, max 50; green is not in those rows.
  REQUIRE(p.feature_names() == std::vector<std::string>{"age", "color=red", "color=blue",
                                                        "color=green", "color=<missing>"});
  tmlp::transform_report report;
  const tmlp::matrix x = p.features(t, &report);
  CHECK(x(0, 0) == Approx(0.0));
  CHECK(x(4, 0) == Approx(1.0));
  CHECK(x(2, 0) == Approx(10.0 / 30.0));  // missing: the median 30
  CHECK(report.unseen == 0);              // green was a training level (row 4)
}

TEST_CASE("levels unseen in training become all zeros and are counted", "[data][preprocess]") {
  const tmlp::table t = sample();
  const auto p = tmlp::preprocessor::fit(t, {.target = "label"}, {0, 1, 3});  // red, blue, missing
  tmlp::transform_report report;
  const tmlp::matrix x = p.features(t, &report);
  CHECK(report.unseen == 1);   // row 4: green
  CHECK(p.n_features() == 4);  // age, red, blue, <missing>
  for (std::size_t j = 1; j < 4; ++j) CHECK(x(4, j) == 0.0f);
}

TEST_CASE("targets: integer classes, regression scaling, inference", "[data][preprocess]") {
  tmlp::table t{.source = "t", .n_rows = 4};
  t.columns.push_back(numeric("f", {1, 2, 3, 4}));
  t.columns.push_back(numeric("cls", {3, 1, 7, 1}));
  t.columns.push_back(numeric("value", {1.5f, 2.5f, 3.5f, 4.5f}));
  auto p = tmlp::preprocessor::fit(t, {.target = "cls", .ignore = {"value"}});
  CHECK(p.task() == tmlp::task_kind::multiclass);
  CHECK(p.class_labels() == std::vector<std::string>{"1", "3", "7"});
  auto y = p.targets(t);
  CHECK(y(0, 0) == 1.0f);
  CHECK(y(2, 0) == 2.0f);
  p = tmlp::preprocessor::fit(t, {.target = "value", .ignore = {"cls"}});
  CHECK(p.task() == tmlp::task_kind::regression);
  y = p.targets(t);
  const double sd = std::sqrt(1.25);  // values 1.5..4.5, mean 3
  CHECK(y(0, 0) == Approx(-1.5 / sd));
  CHECK(p.unscale_target(y(3, 0)) == Approx(4.5));
  // A forced task wins over inference.
  p = tmlp::preprocessor::fit(
      t, {.target = "cls", .ignore = {"value"}, .task = tmlp::task_kind::regression});
  CHECK(p.task() == tmlp::task_kind::regression);
}

TEST_CASE("high-cardinality columns are hashed into one_hot_max buckets", "[data][preprocess]") {
  tmlp::table t{.source = "t", .n_rows = 6};
  t.columns.push_back(text("city", {0, 1, 2, 3, 4, 5}, {"a", "b", "c", "d", "e", "f"}));
  t.columns.push_back(numeric("y", {0, 1, 0, 1, 0, 1}));
  const auto p = tmlp::preprocessor::fit(t, {.target = "y", .one_hot_max = 4});
  CHECK(p.n_features() == 4);
  const tmlp::matrix x = p.features(t);
  for (std::size_t r = 0; r < 6; ++r) {
    float sum = 0.0f;
    for (std::size_t j = 0; j < 4; ++j) sum += x(r, j);
    CHECK(sum == 1.0f);
  }
}

TEST_CASE("JSON round trip gives the same transform", "[data][preprocess]") {
  const tmlp::table t = sample();
  const auto p = tmlp::preprocessor::fit(t, {.target = "label", .missing_indicators = true});
  const auto q = tmlp::preprocessor::from_json(p.to_json());
  CHECK(q.to_json() == p.to_json());
  const tmlp::matrix a = p.features(t), b = q.features(t);
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a.data()[i] == b.data()[i]);
  CHECK_THROWS_AS(tmlp::preprocessor::from_json("{\"task\": 3}"), tmlp::error);
  CHECK_THROWS_WITH(tmlp::preprocessor::from_json("not json"), Contains("malformed"));
}

TEST_CASE("preprocessing errors name the column and the problem", "[data][preprocess]") {
  tmlp::table t = sample();
  CHECK_THROWS_WITH(tmlp::preprocessor::fit(t, {.target = "nope"}),
                    Contains("no target column 'nope'") && Contains("age, color, label"));
  CHECK_THROWS_WITH(tmlp::preprocessor::fit(t, {.target = "label", .ignore = {"size"}}),
                    Contains("cannot ignore column 'size'"));
  CHECK_THROWS_WITH(tmlp::preprocessor::fit(t, {.target = "color"}),
                    Contains("target 'color' is missing in row 4"));
  CHECK_THROWS_WITH(tmlp::preprocessor::fit(t, {.target = "label"}, {1, 2}), Contains("1 class"));
  CHECK_THROWS_WITH(tmlp::preprocessor::fit(t, {.target = "label", .ignore = {"age", "color"}}),
                    Contains("no feature columns"));
  const auto p = tmlp::preprocessor::fit(t, {.target = "label"});
  tmlp::table other = sample();
  other.columns.erase(other.columns.begin());
  CHECK_THROWS_WITH(p.features(other), Contains("no column named 'age'"));
  other = sample();
  other.columns[2].levels = {"no", "maybe"};
  CHECK_THROWS_WITH(p.targets(other), Contains("'maybe', a class not seen in training"));
}

TEST_CASE("check() names a missing or changed column; transform_rows gives rows of features()",
          "[data][preprocess]") {
  const tmlp::table t = sample();
  // Rows 0, 1, 3 have red, blue and a missing color: green (row 4) is unseen.
  const auto p =
      tmlp::preprocessor::fit(t, {.target = "label", .missing_indicators = true}, {0, 1, 3});
  const tmlp::table_view v = t;
  p.check(v);
  const tmlp::matrix x = p.features(v);
  const std::uint32_t idx[] = {4, 2, 0, 3, 4};
  std::vector<float> out(5 * p.n_features(), -1.0f);
  p.transform_rows(p.bind(v), idx, 5, out.data());
  for (std::size_t i = 0; i < 5; ++i)
    for (std::size_t j = 0; j < p.n_features(); ++j)
      CHECK(out[i * p.n_features() + j] == x(idx[i], j));
  tmlp::table other = sample();
  other.columns.erase(other.columns.begin());
  CHECK_THROWS_WITH(p.check(other), Contains("sample: no column named 'age'"));
  other = sample();
  other.columns[1] = numeric("color", {1, 2, 3, 4, 5});
  CHECK_THROWS_WITH(p.check(other),
                    Contains("column 'color' is numeric here but was categorical in training"));
  other = sample();
  other.columns[0].values.pop_back();
  CHECK_THROWS_WITH(p.check(other), Contains("column 'age' has 4 entries for 5 rows"));
  CHECK_THROWS_WITH(tmlp::preprocessor::fit(other, {.target = "label"}),
                    Contains("column 'age' has 4 entries for 5 rows"));
  other.columns[0].values.push_back(1.0f);  // boolean is numeric's kin: accepted
  other.columns[0].kind = column_kind::boolean;
  CHECK_NOTHROW(p.check(other));
}

TEST_CASE("telco_churn: categoricals, missing values and a binary target from the real file",
          "[data][preprocess]") {
  const tmlp::table t = tmlp::read_csv(std::string(TMLP_TEST_DATA_DIR) + "/telco_churn.csv");
  std::vector<std::uint32_t> train;
  for (std::uint32_t r = 0; r < t.n_rows; ++r)
    if (r % 5 != 0) train.push_back(r);
  const auto p =
      tmlp::preprocessor::fit(t, {.target = "target_churn", .missing_indicators = true}, train);
  CHECK(p.task() == tmlp::task_kind::binary);
  CHECK(p.class_labels() == std::vector<std::string>{"0", "1"});
  tmlp::transform_report report;
  const tmlp::matrix x = p.features(t, &report);
  REQUIRE(x.rows() == 7043);
  REQUIRE(x.cols() == p.n_features());
  for (std::size_t i = 0; i < x.size(); ++i) REQUIRE(std::isfinite(x.data()[i]));
  // total_charges has the file's 11 empty cells: an indicator column follows it.
  const auto& names = p.feature_names();
  CHECK(std::find(names.begin(), names.end(), "total_charges<missing>") != names.end());
  CHECK(std::find(names.begin(), names.end(), "contract=Month-to-month") != names.end());
  double indicator_sum = 0;
  const auto col = static_cast<std::size_t>(
      std::find(names.begin(), names.end(), "total_charges<missing>") - names.begin());
  for (std::size_t r = 0; r < x.rows(); ++r) indicator_sum += x(r, col);
  CHECK(indicator_sum == 11.0);
  // Standardized on the training rows: mean about 0 there.
  const auto tenure =
      static_cast<std::size_t>(std::find(names.begin(), names.end(), "tenure") - names.begin());
  double mean = 0;
  for (std::uint32_t r : train) mean += x(r, tenure);
  CHECK(mean / static_cast<double>(train.size()) == Approx(0.0).margin(1e-5));
  const tmlp::matrix y = p.targets(t);
  double positives = 0;
  for (std::size_t r = 0; r < y.rows(); ++r) positives += y(r, 0);
  CHECK(positives == 1869.0);  // churned customers in the IBM sample
}

TEST_CASE("embed: a high-cardinality column becomes one index feature", "[data][preprocess]") {
  const tmlp::table t = many_levels();
  const auto p =
      tmlp::preprocessor::fit(t, {.target = "y", .one_hot_max = 8, .embed = true}, all_but_50());
  // x, zip (one index), size=s, size=m, size=l, size=<missing>
  REQUIRE(p.n_features() == 6);
  CHECK(p.feature_names() ==
        std::vector<std::string>{"x", "zip", "size=s", "size=m", "size=l", "size=<missing>"});
  const auto e = p.embedded_features();
  REQUIRE(e.size() == 1);
  CHECK(e[0].feature == 1);
  CHECK(e[0].cardinality == 102);  // 100 training levels + missing + unseen
  CHECK(e[0].column == "zip");

  tmlp::transform_report report;
  const tmlp::matrix x = p.features(t, &report);
  CHECK(x(0, 1) == 0.0f);      // z0
  CHECK(x(7, 1) == 7.0f);      // z7
  CHECK(x(51, 1) == 50.0f);    // z51: the 51st training level (z50 never seen)
  CHECK(x(100, 1) == 99.0f);   // z100
  CHECK(x(101, 1) == 100.0f);  // missing: L
  CHECK(x(102, 1) == 100.0f);
  CHECK(x(50, 1) == 101.0f);  // unseen: L + 1
  CHECK(report.unseen == 1);
  CHECK(x(4, 2 + 1) == 1.0f);  // size still one-hot: row 4 is "m"

  // The same level numbering as the one-hot slots when the column is not too wide.
  const auto wide = tmlp::preprocessor::fit(t, {.target = "y", .one_hot_max = 1000}, all_but_50());
  CHECK(wide.embedded_features().empty());
  const auto& names = wide.feature_names();
  for (const char* level : {"z0", "z49", "z51", "z100"}) {
    const auto slot = static_cast<std::size_t>(
        std::find(names.begin(), names.end(), std::string("zip=") + level) - names.begin() - 1);
    const auto row = static_cast<std::size_t>(std::stoi(level + 1));
    CHECK(x(row, 1) == static_cast<float>(slot));
  }

  // A second table: levels in another order, one new level, one missing value.
  tmlp::table other{.source = "other", .n_rows = 4};
  other.columns.push_back(numeric("x", {1, 2, 3, 4}));
  other.columns.push_back(text("zip", {0, 1, -1, 2}, {"new", "z100", "z3"}));
  other.columns.push_back(text("size", {0, 1, 2, -1}, {"l", "s", "m"}));
  const tmlp::matrix o = p.features(other, &report);
  CHECK(o(0, 1) == 101.0f);  // "new": unseen
  CHECK(o(1, 1) == 99.0f);
  CHECK(o(2, 1) == 100.0f);
  CHECK(o(3, 1) == 3.0f);
  CHECK(report.unseen == 1);

  // transform_rows: bit for bit the rows of features(), without allocating.
  const std::uint32_t idx[] = {50, 101, 0, 100, 51, 7, 50};
  const std::size_t nf = p.n_features();
  std::vector<float> out(7 * nf, -1.0f);
  const tmlp::table_view v = t;
  const tmlp::preprocessor::binding bound = p.bind(v);
#ifdef TMLP_COUNT_ALLOCATIONS
  const std::uint64_t before = tmlp::test::allocations();
#endif
  p.transform_rows(bound, idx, 7, out.data());
#ifdef TMLP_COUNT_ALLOCATIONS
  CHECK(tmlp::test::allocations() == before);
#endif
  for (std::size_t i = 0; i < 7; ++i)
    CHECK(std::memcmp(out.data() + i * nf, x.row(idx[i]), nf * sizeof(float)) == 0);

  // JSON round trip keeps the flag, the levels and so every value.
  const std::string json = p.to_json();
  CHECK_THAT(json, Contains("\"embedded\":true"));
  const auto q = tmlp::preprocessor::from_json(json);
  CHECK(q.to_json() == json);
  CHECK(q.feature_names() == p.feature_names());
  const auto qe = q.embedded_features();
  REQUIRE(qe.size() == 1);
  CHECK(qe[0].feature == 1);
  CHECK(qe[0].cardinality == 102);
  CHECK(qe[0].column == "zip");
  const tmlp::matrix a = q.features(t), b = q.features(other);
  REQUIRE(a.size() == x.size());
  CHECK(std::memcmp(a.data(), x.data(), x.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(b.data(), o.data(), o.size() * sizeof(float)) == 0);
}

TEST_CASE("embed off: a high-cardinality column is still hashed", "[data][preprocess]") {
  const tmlp::table t = many_levels();
  const auto p = tmlp::preprocessor::fit(t, {.target = "y", .one_hot_max = 8}, all_but_50());
  CHECK(p.embedded_features().empty());
  REQUIRE(p.n_features() == 1 + 8 + 4);
  CHECK(p.feature_names()[1] == "zip#0");
  CHECK(p.feature_names()[8] == "zip#7");
  const tmlp::matrix x = p.features(t);
  for (std::size_t r = 0; r < t.n_rows; ++r) {
    float sum = 0.0f;
    for (std::size_t j = 1; j < 9; ++j) sum += x(r, j);
    CHECK(sum == (r <= 100 ? 1.0f : 0.0f));  // one bucket, even for unseen z50; none if missing
  }
  // A model file without the key reads as not embedded, as files from before embedding do.
  const std::string json = p.to_json();
  CHECK_THAT(json, !Contains("embedded"));
  CHECK(tmlp::preprocessor::from_json(json).embedded_features().empty());
}

TEST_CASE("from_json rejects a corrupted embedded column", "[data][preprocess]") {
  const tmlp::table t = many_levels();
  const auto p = tmlp::preprocessor::fit(t, {.target = "y", .one_hot_max = 8, .embed = true});
  const std::string json = p.to_json();
  const auto with = [&](const std::string& from, const std::string& to) {
    const std::size_t at = json.find(from);
    REQUIRE(at != std::string::npos);
    std::string s = json;
    return s.replace(at, from.size(), to);
  };
  // Embedded and hashed at once.
  CHECK_THROWS_WITH(tmlp::preprocessor::from_json(
                        with("\"buckets\":0,\"embedded\":true", "\"buckets\":8,\"embedded\":true")),
                    Contains("column 'zip' is both embedded and hashed"));
  // A flag that is not a boolean.
  CHECK_THROWS_WITH(tmlp::preprocessor::from_json(with("\"embedded\":true", "\"embedded\":3")),
                    Contains("malformed"));
  // A numeric column marked embedded.
  CHECK_THROWS_WITH(tmlp::preprocessor::from_json(
                        with("\"indicator\":false", "\"indicator\":false,\"embedded\":true")),
                    Contains("column 'x' is numeric but marked embedded"));
  // The flag dropped: 101 one-hot features, not the 1 stored in n_features.
  CHECK_THROWS_WITH(tmlp::preprocessor::from_json(with(",\"embedded\":true", "")),
                    Contains("feature count does not match"));
  try {
    (void)tmlp::preprocessor::from_json(with("\"buckets\":0", "\"buckets\":3"));
    FAIL("accepted an embedded column with buckets");
  } catch (const tmlp::error& e) {
    CHECK(e.code() == tmlp::errc::corrupt_model);
  }
}

TEST_CASE(
    "balanced class weights (--class-weight): each class's training weights sum to n / classes",
    "[data][preprocess]") {
  const tmlp::table t = tmlp::read_csv(std::string(TMLP_TEST_DATA_DIR) + "/telco_churn.csv");
  tmlp::train_options o;
  o.target = "target_churn";
  o.class_weight = "balanced";
  const auto d = tmlp::prepare_training(o, t, nullptr, {});
  const std::size_t n = d->y_train.rows();
  REQUIRE(d->w_train.size() == n);
  double sum[2] = {0.0, 0.0}, count[2] = {0.0, 0.0};
  for (std::size_t r = 0; r < n; ++r) {
    const auto c = static_cast<std::size_t>(d->y_train(r, 0));
    sum[c] += d->w_train[r];
    ++count[c];
  }
  CHECK(count[0] > 2.0 * count[1]);  // churners are the minority
  CHECK(sum[0] == Approx(static_cast<double>(n) / 2.0).epsilon(1e-5));
  CHECK(sum[1] == Approx(static_cast<double>(n) / 2.0).epsilon(1e-5));
  const double first = count[static_cast<std::size_t>(d->y_train(0, 0))];
  CHECK(d->w_train[0] == static_cast<float>(static_cast<double>(n) / (2.0 * first)));

  // Sample weights multiply the class's factor (the split does not depend on them).
  std::vector<float> given(t.n_rows, 1.0f);
  for (std::size_t r = 0; r < t.n_rows; r += 3) given[r] = 2.0f;
  const auto w = tmlp::prepare_training(o, t, nullptr, given);
  REQUIRE(w->w_train.size() == n);
  std::size_t doubled = 0, same = 0;
  for (std::size_t r = 0; r < n; ++r) {
    doubled += w->w_train[r] == 2.0f * d->w_train[r];
    same += w->w_train[r] == d->w_train[r];
  }
  CHECK(doubled + same == n);
  CHECK(doubled > n / 4);

  tmlp::train_options regression;
  regression.target = "monthly_charges";
  regression.class_weight = "balanced";
  CHECK_THROWS_WITH(tmlp::prepare_training(regression, t, nullptr, {}),
                    Catch::Contains("--class-weight"));
  o.class_weight = "equal";
  CHECK_THROWS_WITH(tmlp::prepare_training(o, t, nullptr, {}), Catch::Contains("'equal'"));
}
