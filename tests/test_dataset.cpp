// The .tmlpd dataset file: round trips of every bundled CSV, preprocessing on mapped views
// equal to in-memory tables bit for bit, row gathers, damaged and hostile files, and the
// memory a mapping saves.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "io/file_io.hpp"
#include "support/common.hpp"
#include "tmlp/dataset.hpp"
#include "tmlp/error.hpp"
#include "tmlp/preprocess.hpp"
#include "train/feature_source.hpp"

#ifdef TMLP_COUNT_ALLOCATIONS
#include "support/alloc_counter.hpp"
#endif

using Catch::Matchers::Contains;
using tmlp::column_kind;

namespace {

const float nan = std::numeric_limits<float>::quiet_NaN();
const char* const bundled[] = {"iris",        "wine",   "breast_cancer", "digits", "diabetes",
                               "telco_churn", "letter", "shuttle",       "cpssw8"};

std::string data_file(const std::string& name) {
  return std::string(TMLP_TEST_DATA_DIR) + "/" + name + ".csv";
}

// A scratch directory removed at the end of the test.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tmlp_dataset_XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

using bytes = std::vector<unsigned char>;
using tmlp::test::read_bytes;
using tmlp::test::same_bits;
using tmlp::test::write_bytes;

std::uint64_t get_u64(const bytes& b, std::size_t at) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[at + static_cast<std::size_t>(i)];
  return v;
}
void put_u64(bytes& b, std::size_t at, std::uint64_t v) {
  for (std::size_t i = 0; i < 8; ++i) b[at + i] = static_cast<unsigned char>(v >> (8 * i));
}
// Recomputes the header+schema checksum, as a deliberate (hostile) writer would.
void reseal(bytes& b) {
  const std::uint64_t schema_bytes = get_u64(b, 32);
  const std::size_t from = std::min<std::size_t>(64, b.size());
  const std::size_t to =
      schema_bytes < b.size() ? 64 + static_cast<std::size_t>(schema_bytes) : b.size();
  const std::uint64_t h =
      tmlp::io::fnv1a(b.data() + from, std::min(to, b.size()) - from,
                      tmlp::io::fnv1a(b.data(), std::min<std::size_t>(56, b.size())));
  put_u64(b, 56, h);
}

// The message of the tmlp::error that opening path throws (fails the test if none); checks
// that it is one line naming the path.
std::string open_error(const std::string& path, tmlp::errc code = tmlp::errc::invalid_data) {
  try {
    const tmlp::mapped_dataset d(path);
  } catch (const tmlp::error& e) {
    const std::string what = e.what();
    CHECK(e.code() == code);
    CHECK(what.find(path) != std::string::npos);
    CHECK(what.find('\n') == std::string::npos);
    return what;
  }
  FAIL("no tmlp::error opening " << path);
  return "";
}

void require_same(const tmlp::table_view& a, const tmlp::table_view& b) {
  REQUIRE(a.n_rows == b.n_rows);
  REQUIRE(a.columns.size() == b.columns.size());
  for (std::size_t i = 0; i < a.columns.size(); ++i) {
    const tmlp::column_view &x = a.columns[i], &y = b.columns[i];
    INFO("column " << x.name);
    CHECK(x.name == y.name);
    CHECK(x.kind == y.kind);
    CHECK(x.n_missing == y.n_missing);
    CHECK(same_bits(x.values, y.values));
    CHECK(std::equal(x.codes.begin(), x.codes.end(), y.codes.begin(), y.codes.end()));
    CHECK(std::equal(x.levels.begin(), x.levels.end(), y.levels.begin(), y.levels.end()));
  }
}

// Small table with every kind, NaN and missing codes, an unused level, an empty level text.
tmlp::table small_table() {
  tmlp::table t{.source = "small", .n_rows = 5};
  t.columns.push_back({.name = "x", .values = {1.5f, nan, -2.0f, 0.0f, 1e30f}, .n_missing = 1});
  t.columns.push_back({.name = "flag",
                       .kind = column_kind::boolean,
                       .values = {1.0f, 0.0f, nan, nan, 1.0f},
                       .n_missing = 2});
  t.columns.push_back({.name = "färg",
                       .kind = column_kind::categorical,
                       .codes = {0, 1, -1, 2, 0},
                       .levels = {"röd", "", "blå", "unused"},
                       .n_missing = 1});
  t.columns.push_back({.name = "y", .values = {0, 1, 0, 1, 1}});
  return t;
}

}  // namespace

TEST_CASE("dataset: every bundled CSV and a table of every kind survive a round trip",
          "[data][dataset]") {
  temp_dir dir;
  for (const char* name : bundled) {
    INFO(name);
    const tmlp::table t = tmlp::read_csv(data_file(name));
    const std::string path = dir.file(std::string(name) + ".tmlpd");
    tmlp::write_dataset(t, path);
    const tmlp::mapped_dataset d(path);
    CHECK(d.path() == path);
    CHECK(d.origin() == t.source);
    CHECK(d.n_rows() == t.n_rows);
    CHECK(d.n_columns() == t.columns.size());
    CHECK(d.file_bytes() == std::filesystem::file_size(path));
    const tmlp::table_view v = d.view();
    CHECK(v.source == path);
    require_same(t, v);
    for (const tmlp::column_view& c : v.columns) {
      const void* p = c.kind == column_kind::categorical
                          ? static_cast<const void*>(c.codes.data())
                          : static_cast<const void*>(c.values.data());
      CHECK(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);
    }
    require_same(t, tmlp::read_dataset(path));
  }
  const tmlp::table s = small_table();
  tmlp::write_dataset(s, dir.file("small.tmlpd"));
  const tmlp::mapped_dataset d(dir.file("small.tmlpd"));
  require_same(s, d.view());
  // Written again over itself while mapped: the old mapping keeps the old data.
  tmlp::table changed = s;
  changed.columns[0].values[0] = 7.0f;
  tmlp::write_dataset(changed, dir.file("small.tmlpd"));
  CHECK(d.view().columns[0].values[0] == 1.5f);
  CHECK(tmlp::mapped_dataset(dir.file("small.tmlpd")).view().columns[0].values[0] == 7.0f);
  std::size_t n_files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) n_files += e.exists();
  CHECK(n_files == std::size(bundled) + 1);  // no temporary file left behind
}

TEST_CASE("dataset: preprocessing a mapped view equals preprocessing the table bit for bit",
          "[data][dataset][preprocess]") {
  temp_dir dir;
  const tmlp::table t = tmlp::read_csv(data_file("telco_churn"));
  tmlp::write_dataset(t, dir.file("telco.tmlpd"));
  const tmlp::mapped_dataset d(dir.file("telco.tmlpd"));
  std::vector<std::uint32_t> train;
  for (std::uint32_t r = 0; r < t.n_rows; ++r)
    if (r % 3 != 0) train.push_back(r);
  const tmlp::preprocess_options options[] = {
      {.target = "target_churn", .missing_indicators = true},
      {.target = "target_churn",
       .scale = tmlp::scaling::minmax,
       .impute = tmlp::imputation::median,
       .one_hot_max = 3},
      {.target = "monthly_charges", .scale = tmlp::scaling::none}};
  for (const auto& o : options) {
    INFO(o.target << " one_hot_max " << o.one_hot_max);
    const auto p = tmlp::preprocessor::fit(t, o, train);
    CHECK(tmlp::preprocessor::fit(d.view(), o, train).to_json() == p.to_json());
    tmlp::transform_report r1, r2;
    CHECK(same_bits(p.features(t, &r1), p.features(d.view(), &r2)));
    CHECK(r1.unseen == r2.unseen);
    CHECK(same_bits(p.targets(t), p.targets(d.view())));
  }
}

TEST_CASE("dataset: transform_rows on shuffled rows equals the rows of features()",
          "[data][dataset][preprocess]") {
  const tmlp::table t = tmlp::read_csv(data_file("telco_churn"));
  std::vector<std::uint32_t> idx(t.n_rows);
  std::iota(idx.begin(), idx.end(), 0u);
  std::shuffle(idx.begin(), idx.end(), std::mt19937(42));
  // Fit on a tenth of the rows, so some levels are unseen; one_hot_max 3 hashes the columns
  // with more training levels.
  const std::vector<std::uint32_t> few(idx.begin(), idx.begin() + 700);
  for (const std::size_t one_hot_max : {std::size_t{64}, std::size_t{3}}) {
    const auto p = tmlp::preprocessor::fit(
        t, {.target = "target_churn", .missing_indicators = true, .one_hot_max = one_hot_max}, few);
    const tmlp::matrix x = p.features(t);
    const std::size_t nf = p.n_features();
    std::vector<float> out(idx.size() * nf, -1.0f);
    const tmlp::table_view v = t;
    const tmlp::preprocessor::binding bound = p.bind(v);  // the only allocation
#ifdef TMLP_COUNT_ALLOCATIONS
    const std::uint64_t before = tmlp::test::allocations();
#endif
    for (std::size_t at = 0; at < idx.size(); at += 97) {  // uneven batches
      const std::size_t n = std::min<std::size_t>(97, idx.size() - at);
      p.transform_rows(bound, idx.data() + at, n, out.data() + at * nf);
    }
#ifdef TMLP_COUNT_ALLOCATIONS
    CHECK(tmlp::test::allocations() == before);
#endif
    for (std::size_t i = 0; i < idx.size(); ++i)
      REQUIRE(std::memcmp(out.data() + i * nf, x.row(idx[i]), nf * sizeof(float)) == 0);
  }
}

TEST_CASE("dataset: feature_rows gathers mapped rows through the row_source interface",
          "[data][dataset]") {
  temp_dir dir;
  const tmlp::table t = tmlp::read_csv(data_file("cpssw8"));
  tmlp::write_dataset(t, dir.file("cps.tmlpd"));
  const tmlp::mapped_dataset d(dir.file("cps.tmlpd"));
  const auto p = tmlp::preprocessor::fit(d.view(), {.target = "target_earnings"});
  const tmlp::matrix x = p.features(t);
  const tmlp::feature_rows rows(p, d.view());
  const tmlp::row_source& source = rows;
  REQUIRE(source.rows() == t.n_rows);
  REQUIRE(source.cols() == p.n_features());
  // Several threads at once, each its own rows and buffer.
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (std::size_t w = 0; w < ok.size(); ++w)
    threads.emplace_back([&, w] {
      std::vector<std::uint32_t> idx;
      for (std::size_t r = t.n_rows - 1 - w; r < t.n_rows; r -= 13 * ok.size())
        idx.push_back(static_cast<std::uint32_t>(r));
      std::vector<float> out(idx.size() * source.cols());
      source.gather(idx.data(), idx.size(), out.data());
      bool same = true;
      for (std::size_t i = 0; i < idx.size(); ++i)
        same &= std::memcmp(out.data() + i * source.cols(), x.row(idx[i]),
                            source.cols() * sizeof(float)) == 0;
      ok[w] = same ? 1 : 0;
    });
  for (auto& th : threads) th.join();
  CHECK(ok == std::vector<int>(ok.size(), 1));
  // The columns are checked once, when the rows are made.
  tmlp::table other = t;
  other.columns.erase(other.columns.begin());
  CHECK_THROWS_WITH(tmlp::feature_rows(p, other), Contains("no column named"));
}

TEST_CASE("dataset: tmlp train's row sources: in memory for a table, from the mapping for a file",
          "[data][dataset]") {
  temp_dir dir;
  const tmlp::table t = tmlp::read_csv(data_file("cpssw8"));
  tmlp::write_dataset(t, dir.file("cps.tmlpd"));
  const tmlp::mapped_dataset d(dir.file("cps.tmlpd"));
  CHECK(d.view().mapped);
  CHECK_FALSE(t.view().mapped);
  const auto p = tmlp::preprocessor::fit(t, {.target = "target_earnings"});
  const tmlp::matrix x = p.features(t);
  const auto in_memory = tmlp::train::feature_source(p, t);
  const auto mapped = tmlp::train::feature_source(p, d.view());
  const auto over_budget = tmlp::train::feature_source(p, t, 1000.0);  // bytes
  CHECK(dynamic_cast<const tmlp::train::feature_matrix*>(in_memory.get()) != nullptr);
  CHECK(dynamic_cast<const tmlp::feature_rows*>(mapped.get()) != nullptr);
  CHECK(dynamic_cast<const tmlp::feature_rows*>(over_budget.get()) != nullptr);
  // Every source gives p.features' rows, bit for bit, in any order.
  std::vector<std::uint32_t> idx;
  for (std::size_t r = t.n_rows - 1; r < t.n_rows; r -= 7)
    idx.push_back(static_cast<std::uint32_t>(r));
  std::shuffle(idx.begin(), idx.end(), std::mt19937(5));
  const std::size_t nf = p.n_features();
  for (const tmlp::row_source* source : {in_memory.get(), mapped.get(), over_budget.get()}) {
    REQUIRE(source->rows() == t.n_rows);
    REQUIRE(source->cols() == nf);
    std::vector<float> out(idx.size() * nf);
    source->gather(idx.data(), idx.size(), out.data());
    std::size_t differ = 0;
    for (std::size_t i = 0; i < idx.size(); ++i)
      differ += std::memcmp(out.data() + i * nf, x.row(idx[i]), nf * sizeof(float)) != 0;
    CHECK(differ == 0);
  }
}

TEST_CASE("dataset: write_dataset refuses tables the format cannot hold", "[data][dataset]") {
  temp_dir dir;
  const std::string path = dir.file("bad.tmlpd");
  auto error_of = [&](const tmlp::table& t) -> std::string {
    try {
      tmlp::write_dataset(t, path);
    } catch (const tmlp::error& e) {
      CHECK(e.code() == tmlp::errc::invalid_argument);
      return e.what();
    }
    FAIL("no error");
    return "";
  };
  tmlp::table t = small_table();
  t.columns[0].values[2] = std::numeric_limits<float>::infinity();
  CHECK_THAT(error_of(t), Contains("small") && Contains("column 'x' row 3 is inf"));
  t = small_table();
  t.columns[2].codes[1] = 4;
  CHECK_THAT(error_of(t), Contains("column 'färg' row 2 has code 4 but 4 levels"));
  t = small_table();
  t.columns[3].name = "x";
  CHECK_THAT(error_of(t), Contains("two columns are named 'x'"));
  t = small_table();
  t.columns[1].values.pop_back();
  CHECK_THAT(error_of(t), Contains("column 'flag' has 4 entries for 5 rows"));
  CHECK_THAT(error_of(tmlp::table{.source = "empty"}), Contains("no rows"));
  CHECK_FALSE(std::filesystem::exists(path));
  try {
    tmlp::write_dataset(small_table(), dir.file("no/such/dir.tmlpd"));
    FAIL("no error");
  } catch (const tmlp::error& e) {
    CHECK(e.code() == tmlp::errc::io);
    CHECK_THAT(e.what(), Contains("no/such/dir.tmlpd"));
  }
  // n_missing is counted, not trusted.
  t = small_table();
  t.columns[0].n_missing = 3;
  tmlp::write_dataset(t, path);
  CHECK(tmlp::mapped_dataset(path).view().columns[0].n_missing == 1);
}

TEST_CASE("dataset: missing, unreadable, damaged and hostile files are one-line errors",
          "[data][dataset]") {
  temp_dir dir;
  CHECK_THAT(open_error(dir.file("absent.tmlpd"), tmlp::errc::io), Contains("cannot open"));
  CHECK_THAT(open_error(dir.path.string(), tmlp::errc::io), Contains("is a directory"));
  const std::string path = dir.file("d.tmlpd");
  write_bytes(path, {});
  CHECK_THAT(open_error(path), Contains("empty"));

  tmlp::write_dataset(small_table(), dir.file("good.tmlpd"));
  const bytes good = read_bytes(dir.file("good.tmlpd"));
  const std::size_t data_offset = static_cast<std::size_t>(get_u64(good, 40));
  REQUIRE(good.size() == data_offset + 4 * 64);  // 4 columns of 5 rows, each padded to 64
  auto with = [&](auto&& change) {
    bytes b = good;
    change(b);
    write_bytes(path, b);
    return open_error(path);
  };
  CHECK_THAT(with([](bytes& b) { b[0] = 'X'; }), Contains("wrong magic"));
  CHECK_THAT(with([](bytes& b) { b[8] = 2; }), Contains("format version 2"));
  CHECK_THAT(with([](bytes& b) { b.push_back(0); }), Contains("truncated, appended"));

  SECTION("truncated at every byte of the header and schema, and inside the data") {
    std::vector<std::size_t> cuts;
    for (std::size_t n = 0; n <= data_offset; ++n) cuts.push_back(n);
    for (std::size_t n = data_offset + 1; n < good.size(); n += 37) cuts.push_back(n);
    cuts.push_back(good.size() - 1);
    for (const std::size_t n : cuts) {
      INFO("cut at " << n);
      write_bytes(path, bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)));
      open_error(path);
    }
  }
  SECTION("every byte of the header and schema flipped") {
    for (std::size_t i = 0; i < data_offset; ++i) {
      INFO("byte " << i);
      with([&](bytes& b) { b[i] ^= 0x5a; });
    }
    CHECK_THAT(with([&](bytes& b) { b[70] ^= 1; }), Contains("checksum mismatch"));
  }
  SECTION("codes out of range or disagreeing with n_missing") {
    // Column 3 (färg, codes 0 1 -1 2 0) starts at data_offset + 2 * 64.
    const std::size_t at = data_offset + 2 * 64;
    CHECK_THAT(with([&](bytes& b) { b[at + 4] = 9; }),
               Contains("column 3 'färg' row 2 has code 9, outside -1..3"));
    CHECK_THAT(with([&](bytes& b) { std::memcpy(&b[at + 16], "\xfe\xff\xff\xff", 4); }),
               Contains("row 5 has code -2"));
    CHECK_THAT(with([&](bytes& b) { std::memset(&b[at], 0xff, 4); }),
               Contains("2 missing codes but the schema says 1"));
  }
  SECTION("hostile sizes and schemas with a valid checksum") {
    auto sealed = [&](auto&& change) {
      return with([&](bytes& b) {
        change(b);
        reseal(b);
      });
    };
    CHECK_THAT(sealed([](bytes& b) { put_u64(b, 16, std::uint64_t{1} << 62); }),
               Contains("do not fill"));
    CHECK_THAT(sealed([](bytes& b) { put_u64(b, 16, 17); }), Contains("do not fill"));
    CHECK_THAT(sealed([](bytes& b) { put_u64(b, 24, 5); }), Contains("do not fill"));
    CHECK_THAT(sealed([](bytes& b) { put_u64(b, 32, ~std::uint64_t{0}); }),
               Contains("runs past the end"));
    CHECK_THAT(sealed([&](bytes& b) { put_u64(b, 40, data_offset + 64); }),
               Contains("data offset"));
    CHECK_THAT(sealed([](bytes& b) { put_u64(b, 16, 0); }), Contains("0 rows"));
    // Replaces the schema with text of the same length (padded with spaces).
    auto schema = [&](std::string text) {
      const std::size_t n = static_cast<std::size_t>(get_u64(good, 32));
      REQUIRE(text.size() <= n);
      text.resize(n, ' ');
      return sealed([&](bytes& b) { std::memcpy(&b[64], text.data(), n); });
    };
    CHECK_THAT(schema(std::string(100, '[') + std::string(100, ']')),
               Contains("nested too deeply"));
    CHECK_THAT(schema("{\"columns\": [1, 2"), Contains("not JSON"));
    CHECK_THAT(schema("[]"), Contains("not a JSON object"));
    CHECK_THAT(schema("{\"columns\": {}}"), Contains("no 'columns' array"));
    CHECK_THAT(schema("{\"columns\": [1, 2, 3]}"),
               Contains("lists 3 columns but the header says 4"));
    CHECK_THAT(schema("{\"columns\": [1, 2, 3, 4]}"), Contains("column 1 is not an object"));
    const std::string num = R"({"name": "a", "kind": "numeric", "n_missing": 0})";
    CHECK_THAT(schema(R"({"columns": [)" + num + "," + num + "," + num + "," + num + "]}"),
               Contains("names column 'a' twice"));
    CHECK_THAT(schema(R"({"columns": [{"name": "a", "kind": "text", "n_missing": 0}, 1, 2, 3]})"),
               Contains("column 1 'a' has no kind"));
    CHECK_THAT(
        schema(R"({"columns": [{"name": "a", "kind": "numeric", "n_missing": 6}, 1, 2, 3]})"),
        Contains("no count of missing values in 0..5"));
    CHECK_THAT(schema(R"({"columns": [{"name": "", "kind": "numeric", "n_missing": 0}, 1, 2, 3]})"),
               Contains("column 1 has no name"));
    CHECK_THAT(schema(R"({"columns": [{"name": "a", "kind": "categorical", "n_missing": 0,
                   "levels": ["u", "u"]}, 1, 2, 3]})"),
               Contains("lists level 'u' twice"));
    CHECK_THAT(schema(R"({"columns": [{"name": "a", "kind": "numeric", "n_missing": 0,
                         "levels": []}, 1, 2, 3]})"),
               Contains("is numeric but has levels"));
    CHECK_THAT(schema(R"({"columns": [{"name": "a", "kind": "categorical", "n_missing": 0}, 1,
                         2, 3]})"),
               Contains("no array of levels"));
  }
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TMLP_DATASET_UNDER_SANITIZER
#endif
#endif
#else
#define TMLP_DATASET_UNDER_SANITIZER
#endif

#ifndef TMLP_DATASET_UNDER_SANITIZER
namespace {
// This process's resident anonymous memory in bytes (/proc/self/status RssAnon).
std::size_t rss_anon() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("RssAnon:", 0) == 0) return std::stoul(line.substr(8)) * 1024;
  return 0;
}
}  // namespace

// Sanitizer builds shadow every byte they touch with anonymous memory, so they skip this.
TEST_CASE("dataset: gathering every row of a mapping needs no anonymous memory for the data",
          "[data][dataset][memory]") {
  temp_dir dir;
  const std::string path = dir.file("big.tmlpd");
  constexpr std::size_t n_rows = 1 << 20, n_cols = 16;  // 64 MiB of float32
  {
    tmlp::table t{.source = "generated", .n_rows = n_rows};
    for (std::size_t j = 0; j < n_cols; ++j) {
      tmlp::column c{.name = std::string(1, 'c').append(std::to_string(j))};
      c.values.resize(n_rows);
      for (std::size_t r = 0; r < n_rows; ++r)
        c.values[r] = static_cast<float>((r * 31 + j) % 1000);
      t.columns.push_back(std::move(c));
    }
    tmlp::write_dataset(t, path);
  }
  const tmlp::mapped_dataset d(path);
  const auto p = tmlp::preprocessor::fit(d.view(), {.target = "c0"});
  const tmlp::feature_rows rows(p, d.view());
  std::vector<std::uint32_t> idx(4096);
  std::vector<float> out(idx.size() * rows.cols());
  const std::size_t before = rss_anon();
  double sum = 0.0;
  for (std::size_t at = 0; at < n_rows; at += idx.size()) {
    for (std::size_t i = 0; i < idx.size(); ++i)
      idx[i] = static_cast<std::uint32_t>((at + i) * 40503u % n_rows);  // a permutation
    rows.gather(idx.data(), idx.size(), out.data());
    sum += out[0];
  }
  const std::size_t grown = rss_anon() - std::min(before, rss_anon());
  const std::size_t data_bytes = n_rows * n_cols * sizeof(float);
  INFO("RssAnon grew by " << grown << " bytes while gathering " << data_bytes << " bytes of rows");
  CHECK(std::isfinite(sum));
  CHECK(grown < data_bytes / 16);
  // The measure itself: a copy of the data in memory does show.
  const tmlp::table copy = tmlp::read_dataset(path);
  CHECK(rss_anon() - std::min(before, rss_anon()) > data_bytes / 2);
}
#endif
