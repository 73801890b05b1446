// The CSV reader: RFC 4180 text, type inference, forced kinds, every rejected input with its
// message, bit-identical results for any thread count and chunk size, and the bundled datasets.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tmlp/data.hpp"
#include "tmlp/error.hpp"

namespace {

using tmlp::column_kind;
using tmlp::csv_options;
using tmlp::read_csv_text;

// The message of the tmlp::error that reading `text` throws (fails the test if none).
std::string error_of(std::string_view text, const csv_options& o = {},
                     tmlp::errc code = tmlp::errc::invalid_data) {
  try {
    (void)read_csv_text(text, o, "t.csv");
  } catch (const tmlp::error& e) {
    CHECK(e.code() == code);
    return e.what();
  }
  FAIL("no tmlp::error for: " << std::string(text.substr(0, 80)));
  return "";
}

std::string error_of_file(const std::string& path, tmlp::errc code) {
  try {
    (void)tmlp::read_csv(path);
  } catch (const tmlp::error& e) {
    CHECK(e.code() == code);
    return e.what();
  }
  FAIL("no tmlp::error for " << path);
  return "";
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// A scratch directory removed at the end of the test.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tmlp_csv_XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::permissions(path, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path, ec);
  }
  std::string write(const std::string& name, std::string_view text) const {
    const auto p = (path / name).string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
};

}  // namespace

TEST_CASE("csv: header, numbers, quotes, CRLF, BOM, blank lines", "[data][csv]") {
  const auto t = read_csv_text(
      "\xEF\xBB\xBF"
      "x,\"name, full\",z\r\n"
      "1.5,\"a \"\"quoted\"\"\nline\",-2e3\r\n"
      "\r\n"
      "  7 ,plain, +4\n"
      "\n\n");
  REQUIRE(t.n_rows == 2);
  REQUIRE(t.columns.size() == 3);
  CHECK(t.source == "<memory>");
  CHECK(t.columns[0].name == "x");
  CHECK(t.columns[1].name == "name, full");
  CHECK(t.columns[0].kind == column_kind::numeric);
  CHECK(t.columns[0].values == std::vector<float>{1.5f, 7.0f});
  CHECK(t.columns[2].values == std::vector<float>{-2000.0f, 4.0f});
  const tmlp::column& name = *t.find("name, full");
  CHECK(name.kind == column_kind::categorical);
  CHECK(name.levels == std::vector<std::string>{"a \"quoted\"\nline", "plain"});
  CHECK(name.codes == std::vector<std::int32_t>{0, 1});
}

TEST_CASE("csv: last line without newline, no header, given and detected delimiters",
          "[data][csv]") {
  const auto a = read_csv_text("1;2\n3;4", {.header = false});
  REQUIRE(a.n_rows == 2);
  REQUIRE(a.columns.size() == 2);
  CHECK(a.columns[0].name == "col_1");
  CHECK(a.columns[1].name == "col_2");
  CHECK(a.columns[1].values == std::vector<float>{2.0f, 4.0f});
  // Detection: consistent counts outside quotes win over a comma inside quotes or text.
  CHECK(read_csv_text("a\tb\n\"x,y\"\t2\n").columns.size() == 2);
  CHECK(read_csv_text("a|b|c\n1|2,5|3\n").columns[1].levels == std::vector<std::string>{"2,5"});
  CHECK(read_csv_text("a;b\n1,5;2\n").columns[0].levels == std::vector<std::string>{"1,5"});
  const auto single = read_csv_text("only\n1\n2\n");
  CHECK(single.columns.size() == 1);
  CHECK(single.n_rows == 2);
  // Given delimiter overrides detection.
  CHECK(read_csv_text("a;b,c\n1;2,3\n", {.delimiter = ','}).columns[0].name == "a;b");
  // An unusable delimiter is the caller's mistake.
  CHECK_THAT(error_of("a\n1\n", {.delimiter = '"'}, tmlp::errc::invalid_argument),
             Catch::Contains("csv_options.delimiter 34"));
}

TEST_CASE("csv: numbers are exact and whitespace is trimmed for numbers only", "[data][csv]") {
  std::mt19937_64 rng(7);
  std::string text = "v\n";
  std::vector<std::string> fields;
  for (int i = 0; i < 2000; ++i) {
    char buf[64];
    const double x =
        std::ldexp(static_cast<double>(rng() >> 11), static_cast<int>(rng() % 200) - 150);
    std::snprintf(buf, sizeof buf, i % 2 ? "%.17g" : "%.9e", (rng() & 1) ? x : -x);
    fields.emplace_back(buf);
    text += fields.back() + "\n";
  }
  const auto t = read_csv_text(text);
  REQUIRE(t.columns[0].kind == column_kind::numeric);
  for (std::size_t i = 0; i < fields.size(); ++i)
    REQUIRE(same_bits(t.columns[0].values[i], std::strtof(fields[i].c_str(), nullptr)));
  // Spaces around numbers go; around text they stay.
  const auto s = read_csv_text("n,s\n 1 , a \n2,b\n");
  CHECK(s.columns[0].values == std::vector<float>{1.0f, 2.0f});
  CHECK(s.columns[1].levels == std::vector<std::string>{" a ", "b"});
  // Quoted numbers are numbers; denormal and underflow are finite.
  CHECK(read_csv_text("n\n\"3.25\"\n1e-50\n").columns[0].values == std::vector<float>{3.25f, 0.0f});
}

TEST_CASE("csv: numeric, boolean and categorical columns with missing values", "[data][csv]") {
  const auto t = read_csv_text(
      "num,flag,bits,cat,mixed,empty\n"
      "1,true,0,red,1,\n"
      "NA,No,1,green,x,NA\n"
      "?,Y,1,,2,null\n"
      "null,,0,red,1,?\n"
      "NaN,f,1,NA,yes,\n");
  REQUIRE(t.n_rows == 5);
  const auto& num = *t.find("num");
  CHECK(num.kind == column_kind::numeric);
  CHECK(num.n_missing == 4);
  CHECK(num.values[0] == 1.0f);
  CHECK(std::isnan(num.values[1]));
  const auto& flag = *t.find("flag");
  CHECK(flag.kind == column_kind::boolean);
  CHECK(flag.n_missing == 1);
  CHECK(flag.values[0] == 1.0f);
  CHECK(flag.values[1] == 0.0f);
  CHECK(flag.values[2] == 1.0f);
  CHECK(std::isnan(flag.values[3]));
  CHECK(flag.values[4] == 0.0f);
  CHECK(t.find("bits")->kind == column_kind::numeric);  // 0/1 stays numeric
  const auto& cat = *t.find("cat");
  CHECK(cat.kind == column_kind::categorical);
  CHECK(cat.values.empty());
  CHECK(cat.levels == std::vector<std::string>{"red", "green"});
  CHECK(cat.codes == std::vector<std::int32_t>{0, 1, -1, 0, -1});
  CHECK(cat.n_missing == 2);
  const auto& mixed = *t.find("mixed");  // numbers among text are levels by their text
  CHECK(mixed.kind == column_kind::categorical);
  CHECK(mixed.levels == std::vector<std::string>{"1", "x", "2", "yes"});
  CHECK(mixed.codes == std::vector<std::int32_t>{0, 1, 2, 0, 3});
  const auto& empty = *t.find("empty");  // all missing: numeric, all NaN
  CHECK(empty.kind == column_kind::numeric);
  CHECK(empty.n_missing == 5);
  // A boolean word among numbers makes text; inf/nan among text is just text.
  CHECK(read_csv_text("a\n1\ntrue\n").columns[0].kind == column_kind::categorical);
  CHECK(read_csv_text("a\nx\ninf\n").columns[0].levels == std::vector<std::string>{"x", "inf"});
}

TEST_CASE("csv: forced kinds", "[data][csv]") {
  const auto t = read_csv_text("a,b\n1,2\n1.0,3\n", {.categorical = {"a"}});
  CHECK(t.columns[0].kind == column_kind::categorical);
  CHECK(t.columns[0].levels == std::vector<std::string>{"1", "1.0"});
  CHECK(t.columns[1].kind == column_kind::numeric);
  const auto b = read_csv_text("a,b\nyes,2\n,3\n", {.numeric = {"b"}});
  CHECK(b.columns[0].kind == column_kind::boolean);
  CHECK_THAT(
      error_of("a,b\n1,2\n3,x y\n", {.numeric = {"b"}}),
      Catch::Equals("t.csv:3:2: text 'x y' in column 'b', which csv_options.numeric forces "
                    "numeric; expected a number or a missing value (empty, NA, NaN, null, ?)"));
  CHECK_THAT(error_of("a,b\n1,2\n", {.numeric = {"c"}}, tmlp::errc::invalid_argument),
             Catch::Contains("csv_options.numeric names column 'c', which is not in t.csv"));
  CHECK_THAT(error_of("a,b\n1,2\n", {.numeric = {"a"}, .categorical = {"a"}},
                      tmlp::errc::invalid_argument),
             Catch::Contains("'a' is in both"));
}

TEST_CASE("csv: rejected text names the place and what was expected", "[data][csv]") {
  using Catch::Contains;
  using Catch::Equals;
  CHECK_THAT(
      error_of("a,b\n1,2\n3,4,5\n"),
      Equals("t.csv:3:3: ragged row: 3 fields, expected 2 (as in the header) separated by ','"));
  CHECK_THAT(
      error_of("a,b,c\n1,2,3\n4,5\n"),
      Equals("t.csv:3:3: ragged row: 2 fields, expected 3 (as in the header) separated by ','"));
  CHECK_THAT(error_of("a,b\n1,\"2\n3,4\n"),
             Equals("t.csv:2:2: unterminated quoted field (column 'b'): no closing quote before "
                    "the end of the file"));
  // A quote inside an unquoted field is an error, not a literal.
  CHECK_THAT(error_of("a,b\n1,5'10\"\n"),
             Contains("t.csv:2:2: quote inside an unquoted field (column 'b')"));
  CHECK_THAT(error_of("a,b\n1,\"x\"y\n"),
             Contains("t.csv:2:2: unexpected text after a closing quote"));
  CHECK_THAT(error_of(""), Equals("t.csv: empty file; expected a header line and data rows"));
  CHECK_THAT(error_of(std::string_view()), Contains("empty file"));
  CHECK_THAT(error_of("\n\r\n\n"), Contains("empty file"));
  CHECK_THAT(error_of("a,b\n"),
             Equals("t.csv: a header but no data rows; expected at least one row"));
  CHECK_THAT(error_of("a,b\n\n\n"), Contains("no data rows"));
  CHECK_THAT(
      error_of("a,b,a\n1,2,3\n"),
      Equals("t.csv:1:3: duplicate column name 'a' (columns 1 and 3); expected distinct names"));
  CHECK_THAT(error_of("a,,c\n1,2,3\n"), Contains("t.csv:1:2: column 2 has an empty name"));
  CHECK_THAT(error_of("a,b\n1,2\n3,inf\n"),
             Equals("t.csv:3:2: non-finite number 'inf' (column 'b'); "
                    "expected a finite float32 number, or empty, "
                    "NA, NaN, null or ? for a missing value"));
  CHECK_THAT(error_of("a\n-Infinity\n"), Contains("t.csv:2:1: non-finite number '-Infinity'"));
  CHECK_THAT(error_of("a\n1\nnan\n"), Contains("t.csv:3:1: non-finite number 'nan'"));
  CHECK_THAT(error_of("a\n1\n+INF\n"), Contains("t.csv:3:1: non-finite number '+INF'"));
  CHECK_THAT(error_of("a\n1e39\n"), Contains("t.csv:2:1: non-finite number '1e39'"));
  CHECK_THAT(error_of("a,b\nx,1\ny,\xC3\x28z\n"),
             Equals("t.csv:3:2: text is not valid UTF-8 (byte 1 of the field) (column 'b'); "
                    "expected UTF-8 text"));
  CHECK_THAT(error_of("a,b\xFF\n1,2\n"), Contains("t.csv:1:2: text is not valid UTF-8"));
  CHECK_THAT(error_of(std::string("a,b\n1,2\n3,\0\n", 12)),
             Equals("t.csv:3: NUL byte at byte offset 10: a binary file, expected CSV text"));
  // The earliest problem wins whatever the chunking.
  for (std::size_t chunk : {std::size_t{1}, std::size_t{5}, std::size_t{1} << 20})
    for (int threads : {1, 2})
      CHECK_THAT(
          error_of("a,b\n1,2\n3\n4,x\n5,6,7\n", {.n_threads = threads, .chunk_bytes = chunk}),
          Contains("t.csv:3:2: ragged row: 1 field,"));
  // Multi-line quoted fields: later lines are numbered physically.
  CHECK_THAT(error_of("a,b\n\"x\ny\",1\n2,3,4\n"), Contains("t.csv:4:3: ragged row"));
}

TEST_CASE("csv: a line over 16 MiB is rejected", "[data][csv][slow]") {
  std::string text = "a,b\n1,2\n3,";
  text.append((std::size_t{16} << 20) + 10, 'x');
  text += "\n";
  CHECK_THAT(error_of(text), Catch::Contains("t.csv:3: line of 16777229 bytes; expected lines of "
                                             "at most 16 MiB"));
  std::string header(std::size_t{17} << 20, 'h');
  header += "\n1\n";
  CHECK_THAT(error_of(header), Catch::Contains("t.csv:1: line of"));
}

TEST_CASE("csv: results are bit-identical for any thread count and chunk size", "[data][csv]") {
  std::mt19937 rng(3);
  const char* words[] = {"alpha", "\"be,ta\"", "gamma", "\"multi\nline\"", "NA", "", "delta"};
  std::string text = "x,word,flag,y\r\n";
  for (int i = 0; i < 3000; ++i) {
    text +=
        std::to_string(static_cast<int>(rng() % 2000) - 1000) + "." + std::to_string(rng() % 1000);
    text += ",";
    text += words[rng() % 7];
    text += ",";
    text += (rng() % 3 == 0) ? "" : (rng() % 2 ? "yes" : "no");
    text += ",";
    text += std::to_string(rng() % 7) + (i % 5 == 0 ? "\r\n\r\n" : "\r\n");
  }
  const auto ref = read_csv_text(text, {.n_threads = 1, .chunk_bytes = std::size_t{1} << 30});
  REQUIRE(ref.n_rows == 3000);
  CHECK(ref.columns[1].kind == column_kind::categorical);
  CHECK(ref.columns[1].levels.size() == 5);
  CHECK(ref.columns[2].kind == column_kind::boolean);
  for (std::size_t chunk : {std::size_t{1}, std::size_t{17}, std::size_t{64}, std::size_t{4096}})
    for (int threads : {1, 2}) {
      const auto t = read_csv_text(text, {.n_threads = threads, .chunk_bytes = chunk});
      REQUIRE(t.n_rows == ref.n_rows);
      for (std::size_t c = 0; c < ref.columns.size(); ++c) {
        const auto& a = ref.columns[c];
        const auto& b = t.columns[c];
        CHECK(a.kind == b.kind);
        CHECK(a.levels == b.levels);
        CHECK(a.codes == b.codes);
        CHECK(a.n_missing == b.n_missing);
        REQUIRE(a.values.size() == b.values.size());
        if (!a.values.empty())
          CHECK(std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(float)) ==
                0);
      }
    }
}

TEST_CASE("csv: files: mapped, piped, missing, directory, unreadable", "[data][csv]") {
  temp_dir dir;
  const std::string path = dir.write("a.csv", "x,y\n1,2\n3,4\n");
  const auto t = tmlp::read_csv(path);
  CHECK(t.source == path);
  CHECK(t.n_rows == 2);
  CHECK(t.columns[1].values == std::vector<float>{2.0f, 4.0f});
  // A FIFO cannot be mapped: it is read in pieces.
  const std::string fifo = (dir.path / "pipe.csv").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::thread writer([&] { std::ofstream(fifo) << "p\n5\n6\n7\n"; });
  const auto piped = tmlp::read_csv(fifo);
  writer.join();
  CHECK(piped.columns[0].values == std::vector<float>{5.0f, 6.0f, 7.0f});

  const std::string missing = (dir.path / "nope.csv").string();
  CHECK_THAT(error_of_file(missing, tmlp::errc::io),
             Catch::Equals(missing + ": cannot open: No such file or directory; expected an "
                                     "existing CSV file"));
  CHECK_THAT(error_of_file(dir.path.string(), tmlp::errc::io),
             Catch::Equals(dir.path.string() + ": is a directory; expected a CSV file"));
  CHECK_THAT(error_of_file(dir.write("e.csv", ""), tmlp::errc::invalid_data),
             Catch::Contains("e.csv: empty file"));
  CHECK_THAT(
      error_of_file(dir.write("b.csv", std::string("x\n\0\x01\x02", 5)), tmlp::errc::invalid_data),
      Catch::Contains("b.csv:2: NUL byte at byte offset 2: a binary file"));
  if (::geteuid() != 0) {  // root reads through chmod 000
    const std::string locked = dir.write("locked.csv", "x\n1\n");
    REQUIRE(::chmod(locked.c_str(), 0) == 0);
    CHECK_THAT(error_of_file(locked, tmlp::errc::io),
               Catch::Equals(locked + ": cannot open: Permission denied"));
  }
}

TEST_CASE("csv: the bundled datasets", "[data][csv]") {
  const std::string dir = TMLP_TEST_DATA_DIR;
  struct expect {
    const char* file;
    std::size_t rows, cols;
    const char* target;
    std::size_t n_classes;  // 0: regression
  };
  const expect all[] = {
      {"iris", 150, 5, "target_species", 3},          {"wine", 178, 14, "target_cultivar", 3},
      {"breast_cancer", 569, 31, "target_benign", 2}, {"digits", 1797, 65, "target_digit", 10},
      {"diabetes", 442, 11, "target_progression", 0}, {"telco_churn", 7043, 20, "target_churn", 2},
      {"letter", 20000, 17, "target_letter", 26},     {"shuttle", 58000, 10, "target_class", 7},
      {"cpssw8", 61395, 5, "target_earnings", 0},
  };
  const std::vector<std::string> telco_text = {
      "multiple_lines",    "internet_service", "online_security", "online_backup",
      "device_protection", "tech_support",     "streaming_tv",    "streaming_movies",
      "contract",          "payment_method"};
  for (const expect& e : all) {
    INFO(e.file);
    const auto t = tmlp::read_csv(dir + "/" + e.file + ".csv");
    CHECK(t.n_rows == e.rows);
    REQUIRE(t.columns.size() == e.cols);
    const tmlp::column* y = t.find(e.target);
    REQUIRE(y != nullptr);
    CHECK(y == &t.columns.back());
    CHECK(y->kind == column_kind::numeric);
    CHECK(y->n_missing == 0);
    if (e.n_classes > 0) {
      std::vector<int> seen(e.n_classes, 0);
      for (const float v : y->values) {
        REQUIRE(v == std::floor(v));
        REQUIRE(v >= 0.0f);
        REQUIRE(v < static_cast<float>(e.n_classes));
        seen[static_cast<std::size_t>(v)] = 1;
      }
      CHECK(std::count(seen.begin(), seen.end(), 1) == static_cast<long>(e.n_classes));
    }
    std::size_t n_cat = 0, n_missing = 0;
    for (const auto& c : t.columns) {
      n_cat += c.kind == column_kind::categorical ? 1 : 0;
      n_missing += c.n_missing;
      CHECK(c.kind != column_kind::boolean);
    }
    const std::string f = e.file;
    if (f == "telco_churn") {
      CHECK(n_cat == 10);
      for (const auto& name : telco_text) CHECK(t.find(name)->kind == column_kind::categorical);
      CHECK(t.find("total_charges")->n_missing == 11);
      CHECK(n_missing == 11);
      // Row 1: 1,0,1,0,1,0,No phone service,DSL,...,Month-to-month,1,Electronic check,29.85,29.85,0
      CHECK(t.find("multiple_lines")
                ->levels[static_cast<std::size_t>(t.find("multiple_lines")->codes[0])] ==
            "No phone service");
      CHECK(t.find("contract")->levels ==
            std::vector<std::string>{"Month-to-month", "One year", "Two year"});
      CHECK(t.find("monthly_charges")->values[0] == 29.85f);
      CHECK(t.find("total_charges")->values[1] == 1889.5f);
    } else if (f == "cpssw8") {
      CHECK(n_cat == 2);
      CHECK(t.find("gender")->levels == std::vector<std::string>{"male", "female"});
      CHECK(t.find("region")->levels ==
            std::vector<std::string>{"South", "West", "Northeast", "Midwest"});
      CHECK(t.find("target_earnings")->values[0] == 20.67307663f);  // male,31,South,14,20.67307663
      CHECK(t.find("age")->values[0] == 31.0f);
    } else {
      CHECK(n_cat == 0);
      CHECK(n_missing == 0);
    }
    if (f == "iris") {
      CHECK(t.columns[0].values[0] == 5.1f);  // 5.1,3.5,1.4,0.2,0
      CHECK(t.columns[3].values[0] == 0.2f);
    }
    if (f == "letter") CHECK(y->values[0] == 19.0f);             // 2,8,3,5,...,8,19
    if (f == "shuttle") CHECK(t.columns[2].values[0] == 77.0f);  // 50,21,77,0,...
  }
}
