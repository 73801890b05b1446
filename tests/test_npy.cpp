// read_npy: every supported dtype, byte order, memory order, rank and format version written by
// hand here and checked value by value; files written by NumPy itself (tests/data/npy); and
// every rejection, with the message naming the file and the problem.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tmlp/data.hpp"
#include "tmlp/error.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

// A fresh directory under the system temporary directory, removed with everything in it.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::random_device rd;
    const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
    path = fs::temp_directory_path() /
           ("tmlp_npy_test_" + std::to_string(t) + "_" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  // Writes bytes to a file in this directory and returns its path.
  std::string write(const std::string& name, const std::string& bytes) const {
    const fs::path p = path / name;
    std::ofstream out(p, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
    return p.string();
  }
};

// The preamble and header exactly as given: magic, version, little-endian length, text.
std::string raw_npy(int major, int minor, const std::string& header, const std::string& data) {
  std::string s = "\x93NUMPY";
  s += static_cast<char>(major);
  s += static_cast<char>(minor);
  const std::size_t n = header.size();
  const int n_len = major == 1 ? 2 : 4;
  for (int k = 0; k < n_len; ++k) s += static_cast<char>((n >> (8 * k)) & 0xff);
  return s + header + data;
}

// A well-formed file as NumPy writes it: the dict, padded with spaces and a newline so the data
// starts at a multiple of 64 bytes.
std::string npy(const std::string& descr, bool fortran, const std::string& shape,
                const std::string& data, int major = 1) {
  std::string header = "{'descr': '" + descr +
                       "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': " + shape + ", }";
  const std::size_t preamble = major == 1 ? 10 : 12;
  while ((preamble + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  return raw_npy(major, 0, header, data);
}

// Values as bytes, little- or big-endian, whatever this machine is.
template <class T>
std::string encode(const std::vector<T>& values, bool big_endian = false) {
  std::string s;
  for (const T v : values) {
    std::uint64_t u = 0;
    if constexpr (sizeof(T) == 4) {
      std::uint32_t u32;
      std::memcpy(&u32, &v, 4);
      u = u32;
    } else {
      std::memcpy(&u, &v, 8);
    }
    for (std::size_t k = 0; k < sizeof(T); ++k) {
      const std::size_t byte = big_endian ? sizeof(T) - 1 - k : k;
      s += static_cast<char>((u >> (8 * byte)) & 0xff);
    }
  }
  return s;
}

// Logical (row-major) values for an n_rows x n_cols array of T, with the values that round or
// sit at the ends of each type's range mixed in.
template <class T>
std::vector<T> sample(std::size_t n_rows, std::size_t n_cols) {
  std::vector<T> v(n_rows * n_cols);
  for (std::size_t k = 0; k < v.size(); ++k) {
    if constexpr (std::is_floating_point_v<T>)
      v[k] = static_cast<T>(static_cast<double>(k) * 0.25 - 3.0);
    else
      v[k] = static_cast<T>(static_cast<long long>(k) * 7 - 20);
  }
  std::vector<T> special;
  if constexpr (std::is_same_v<T, float>)
    special = {0.1f, -1e30f, 1.17549435e-38f, 3.4028235e38f, -0.0f};
  else if constexpr (std::is_same_v<T, double>)
    special = {0.1, -1e30, 1e-40, 3.4028234663852886e38, 1.0 + 1e-12};
  else if constexpr (std::is_same_v<T, std::int32_t>)
    special = {std::numeric_limits<std::int32_t>::max(), std::numeric_limits<std::int32_t>::min(),
               16777217, -16777219};
  else
    special = {std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min(),
               (std::int64_t{1} << 40) + 1, 16777217};
  for (std::size_t k = 0; k < special.size() && k < v.size(); ++k)
    v[(k * 5) % v.size()] = special[k];
  return v;
}

// The same values in file order.
template <class T>
std::vector<T> file_order(const std::vector<T>& v, std::size_t n_rows, std::size_t n_cols,
                          bool fortran) {
  if (!fortran) return v;
  std::vector<T> f(v.size());
  for (std::size_t i = 0; i < n_rows; ++i)
    for (std::size_t j = 0; j < n_cols; ++j) f[j * n_rows + i] = v[i * n_cols + j];
  return f;
}

// Reads the file and checks the table against the logical values, exactly.
template <class T>
void check_table(const std::string& path, const std::vector<T>& v, std::size_t n_rows,
                 std::size_t n_cols) {
  const tmlp::table t = tmlp::read_npy(path);
  CHECK(t.source == path);
  REQUIRE(t.n_rows == n_rows);
  REQUIRE(t.columns.size() == n_cols);
  for (std::size_t j = 0; j < n_cols; ++j) {
    const tmlp::column& c = t.columns[j];
    CHECK(c.name == "col_" + std::to_string(j + 1));
    CHECK(c.kind == tmlp::column_kind::numeric);
    CHECK(c.n_missing == 0);
    CHECK(c.codes.empty());
    CHECK(c.levels.empty());
    REQUIRE(c.values.size() == n_rows);
    std::size_t n_wrong = 0;
    for (std::size_t i = 0; i < n_rows; ++i) {
      const float want = static_cast<float>(v[i * n_cols + j]);
      // Bit equality: -0.0 stays -0.0.
      if (std::memcmp(&c.values[i], &want, sizeof want) != 0) {
        if (n_wrong++ < 5)
          FAIL_CHECK("row " << i << " col " << j << ": " << c.values[i] << " != " << want);
      }
    }
    CHECK(n_wrong == 0);
  }
}

template <class T>
void roundtrip(const temp_dir& dir, const std::string& descr, bool fortran, int major,
               std::size_t n_rows, std::size_t n_cols, bool one_dim) {
  const std::vector<T> v = sample<T>(n_rows, n_cols);
  // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, falsely) on "(" + std::string.
  std::string shape = "(";
  shape += std::to_string(n_rows);
  shape += one_dim ? ",)" : ", " + std::to_string(n_cols) + ")";
  const bool big = descr[0] == '>';
  const std::string path = dir.write(
      "a.npy",
      npy(descr, fortran, shape, encode(file_order(v, n_rows, n_cols, fortran), big), major));
  check_table(path, v, n_rows, n_cols);
}

// read_npy(path) must throw tmlp::error with this code and a message naming the file and `what`.
void require_error(const std::string& path, tmlp::errc code, const std::string& what) {
  CAPTURE(path, what);
  try {
    (void)tmlp::read_npy(path);
    FAIL("read_npy did not throw");
  } catch (const tmlp::error& e) {
    CHECK(e.code() == code);
    const std::string message = e.what();
    CHECK_THAT(message, Contains(path) && Contains(what));
    CHECK(message.find('\n') == std::string::npos);
  }
}

}  // namespace

TEST_CASE("every dtype, order, rank and version reads back exactly", "[data][npy]") {
  const temp_dir dir;
  const bool fortran = GENERATE(false, true);
  const int major = GENERATE(1, 2, 3);
  const bool one_dim = GENERATE(false, true);
  const std::string order = GENERATE(as<std::string>{}, "<", ">", "|", "=");
  CAPTURE(fortran, major, one_dim, order);
  const std::size_t n_rows = 7, n_cols = one_dim ? 1 : 3;
  roundtrip<float>(dir, order + "f4", fortran, major, n_rows, n_cols, one_dim);
  roundtrip<double>(dir, order + "f8", fortran, major, n_rows, n_cols, one_dim);
  roundtrip<std::int32_t>(dir, order + "i4", fortran, major, n_rows, n_cols, one_dim);
  roundtrip<std::int64_t>(dir, order + "i8", fortran, major, n_rows, n_cols, one_dim);
}

TEST_CASE("C-order data crosses the transpose tiles", "[data][npy]") {
  const temp_dir dir;
  // Around the 128-row and 32-column tile edges, and a single row or column.
  const auto [n_rows, n_cols] = GENERATE(
      std::pair<std::size_t, std::size_t>{1, 1}, std::pair<std::size_t, std::size_t>{1, 70},
      std::pair<std::size_t, std::size_t>{300, 1}, std::pair<std::size_t, std::size_t>{127, 31},
      std::pair<std::size_t, std::size_t>{128, 32}, std::pair<std::size_t, std::size_t>{129, 33},
      std::pair<std::size_t, std::size_t>{300, 70});
  CAPTURE(n_rows, n_cols);
  const bool fortran = GENERATE(false, true);
  roundtrip<float>(dir, "<f4", fortran, 1, n_rows, n_cols, false);
  roundtrip<std::int64_t>(dir, ">i8", fortran, 2, n_rows, n_cols, false);
}

TEST_CASE("the examples of the rounding rules hold", "[data][npy]") {
  const temp_dir dir;
  // float64 and int64 that float32 cannot hold exactly round to nearest, ties to even.
  const std::string a = dir.write(
      "a.npy",
      npy("<f8", false, "(3,)", encode(std::vector<double>{0.1, 1.0 + 1e-12, 16777217.0})));
  const tmlp::table t = tmlp::read_npy(a);
  CHECK(t.columns[0].values == std::vector<float>{0.1f, 1.0f, 16777216.0f});
  const std::string b =
      dir.write("b.npy", npy("<i8", false, "(3,)",
                             encode(std::vector<std::int64_t>{
                                 16777217, 16777219, std::numeric_limits<std::int64_t>::max()})));
  const tmlp::table u = tmlp::read_npy(b);
  CHECK(u.columns[0].values ==
        std::vector<float>{16777216.0f, 16777220.0f, 9223372036854775808.0f});
}

TEST_CASE("NaN is a missing value, counted per column", "[data][npy]") {
  const temp_dir dir;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // 3 x 2, C order: column 1 has two NaN, column 2 none.
  const std::string p = dir.write(
      "nan.npy", npy("<f4", false, "(3, 2)", encode(std::vector<float>{nan, 1, 2, 3, nan, 5})));
  const tmlp::table t = tmlp::read_npy(p);
  CHECK(t.columns[0].n_missing == 2);
  CHECK(t.columns[1].n_missing == 0);
  CHECK(std::isnan(t.columns[0].values[0]));
  CHECK(t.columns[0].values[1] == 2.0f);
  CHECK(std::isnan(t.columns[0].values[2]));
  CHECK(t.columns[1].values == std::vector<float>{1, 3, 5});
  // float64 NaN, Fortran order: second column.
  const double dnan = std::numeric_limits<double>::quiet_NaN();
  const std::string q = dir.write(
      "nan8.npy", npy("<f8", true, "(2, 2)", encode(std::vector<double>{1, 2, dnan, dnan})));
  const tmlp::table u = tmlp::read_npy(q);
  CHECK(u.columns[0].n_missing == 0);
  CHECK(u.columns[1].n_missing == 2);
}

TEST_CASE("infinities and float64 beyond the float32 range are errors naming row and column",
          "[data][npy]") {
  const temp_dir dir;
  const float inf = std::numeric_limits<float>::infinity();
  // 3 x 2 C order: +inf at row 3, column 2.
  const std::string a = dir.write(
      "inf.npy", npy("<f4", false, "(3, 2)", encode(std::vector<float>{0, 1, 2, 3, 4, inf})));
  require_error(a, tmlp::errc::invalid_data, "+inf at row 3, column 2 (col_2");
  // Fortran order, big-endian float64: -inf at row 2, column 1.
  const double dinf = std::numeric_limits<double>::infinity();
  const std::string b = dir.write(
      "ninf.npy", npy(">f8", true, "(2, 2)", encode(std::vector<double>{0, -dinf, 1, 2}, true)));
  require_error(b, tmlp::errc::invalid_data, "-inf at row 2, column 1 (col_1");
  // A finite float64 that would become infinite in float32.
  const std::string c =
      dir.write("big.npy", npy("<f8", false, "(2,)", encode(std::vector<double>{1, -1e300})));
  require_error(c, tmlp::errc::invalid_data, "value -1e+300 at row 2, column 1");
  require_error(c, tmlp::errc::invalid_data, "outside the float32 range");
}

TEST_CASE("files written by NumPy load with their values", "[data][npy]") {
  const std::string dir = std::string(TMLP_TEST_DATA_DIR) + "/npy/";
  SECTION("float32, C order, 5 x 3") {
    const tmlp::table t = tmlp::read_npy(dir + "f32_c_5x3.npy");
    REQUIRE(t.n_rows == 5);
    REQUIRE(t.columns.size() == 3);
    for (std::size_t j = 0; j < 3; ++j) {
      CHECK(t.columns[j].name == "col_" + std::to_string(j + 1));
      for (std::size_t i = 0; i < 5; ++i)
        CHECK(t.columns[j].values[i] == static_cast<float>(i * 3 + j) * 0.5f - 3.0f);
    }
  }
  SECTION("float64, Fortran order, 4 x 2, one NaN") {
    const tmlp::table t = tmlp::read_npy(dir + "f64_fortran_4x2.npy");
    REQUIRE(t.n_rows == 4);
    REQUIRE(t.columns.size() == 2);
    const auto& c1 = t.columns[0].values;
    CHECK(c1[0] == 1.5f);
    CHECK(std::isnan(c1[1]));
    CHECK(c1[2] == 0.1f);
    CHECK(c1[3] == 0.0f);
    CHECK(std::signbit(c1[3]));
    CHECK(t.columns[0].n_missing == 1);
    CHECK(t.columns[1].values == std::vector<float>{-2.0f, 1e-3f, 1099511627776.0f, 3.25f});
    CHECK(t.columns[1].n_missing == 0);
  }
  SECTION("int64, 1-D, 7 values") {
    const tmlp::table t = tmlp::read_npy(dir + "i64_7.npy");
    REQUIRE(t.n_rows == 7);
    REQUIRE(t.columns.size() == 1);
    CHECK(t.columns[0].name == "col_1");
    CHECK(t.columns[0].values ==
          std::vector<float>{0, 1, -1, 42, -123456, 16777216.0f, 1099511627776.0f});
  }
  SECTION("big-endian int32, C order, 3 x 2, format 2.0") {
    const tmlp::table t = tmlp::read_npy(dir + "i32_be_v2_3x2.npy");
    REQUIRE(t.n_rows == 3);
    REQUIRE(t.columns.size() == 2);
    CHECK(t.columns[0].values == std::vector<float>{1, 2147483648.0f, 16777216.0f});
    CHECK(t.columns[1].values == std::vector<float>{-2, -2147483648.0f, 7});
  }
}

TEST_CASE("headers NumPy accepts in other spellings parse", "[data][npy]") {
  const temp_dir dir;
  const std::string data = encode(std::vector<float>{1, 2, 3, 4});
  const std::string header =
      GENERATE(as<std::string>{}, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)}\n",
               "{\"shape\": (2,2), \"descr\": \"<f4\", \"fortran_order\": False,}",
               "{ 'fortran_order' : False , 'shape' : ( 2 , 2 , ) , 'descr' : '<f4' }  \n");
  CAPTURE(header);
  const std::string p = dir.write("h.npy", raw_npy(1, 0, header, data));
  const tmlp::table t = tmlp::read_npy(p);
  CHECK(t.columns[0].values == std::vector<float>{1, 3});
  CHECK(t.columns[1].values == std::vector<float>{2, 4});
}

TEST_CASE("paths that are not readable .npy files are rejected", "[data][npy]") {
  const temp_dir dir;
  require_error((dir.path / "missing.npy").string(), tmlp::errc::io, "cannot open");
  require_error(dir.path.string(), tmlp::errc::io, "is a directory");
  require_error(dir.write("empty.npy", ""), tmlp::errc::invalid_data, "empty file");
  require_error(dir.write("text.npy", "a,b\n1,2\n"), tmlp::errc::invalid_data, "bad magic");
  require_error(dir.write("short.npy", "\x93NUM"), tmlp::errc::invalid_data, "truncated: 4 bytes");
  require_error(dir.write("a.npz", std::string("PK\x03\x04", 4) + "rest of a zip"),
                tmlp::errc::invalid_data, ".npz archive");
}

TEST_CASE("bad preambles are rejected", "[data][npy]") {
  const temp_dir dir;
  const std::string good = npy("<f4", false, "(1,)", encode(std::vector<float>{1}));
  std::string v4 = good;
  v4[6] = 4;
  require_error(dir.write("v4.npy", v4), tmlp::errc::invalid_data,
                "unsupported .npy format version 4.0; expected 1.0, 2.0 or 3.0");
  std::string v11 = good;
  v11[7] = 1;
  require_error(dir.write("v11.npy", v11), tmlp::errc::invalid_data, "version 1.1");
  require_error(dir.write("pre.npy", good.substr(0, 8)), tmlp::errc::invalid_data,
                "shorter than the 10-byte");
  require_error(dir.write("pre2.npy", raw_npy(2, 0, "", "").substr(0, 10)),
                tmlp::errc::invalid_data, "shorter than the 12-byte");
  // Header length 118, but the file ends 20 bytes into the header.
  require_error(dir.write("hdr.npy", good.substr(0, 30)), tmlp::errc::invalid_data,
                "truncated header: the preamble announces 118 header bytes but only 20 follow");
  // A 2.0 header length near 4 GiB in a small file.
  std::string huge = raw_npy(2, 0, "{}", "");
  huge[8] = huge[9] = huge[10] = huge[11] = '\xff';
  require_error(dir.write("huge.npy", huge), tmlp::errc::invalid_data, "truncated header");
}

TEST_CASE("headers that do not parse are rejected", "[data][npy]") {
  const temp_dir dir;
  const std::string data = encode(std::vector<float>{1, 2});
  const auto [header, what] = GENERATE(table<std::string, std::string>(
      {{"", "expected '{'"},
       {"{'descr' '<f4', 'fortran_order': False, 'shape': (2,)}", "expected ':' after the key"},
       {"{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", "expected ',' or '}'"},
       {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", "expected ',' or '}'"},
       {"{'descr': '<f4', 'fortran_order': false, 'shape': (2,)}", "expected True or False"},
       {"{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", "needs a trailing comma"},
       {"{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", "expected '(' opening"},
       {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,,)}", "expected an integer"},
       {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", "negative dimension"},
       {"{'descr': '<f4', 'fortran_order': False, 'shape': (02,)}", "leading zero"},
       {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
        "does not fit in 64 bits"},
       {"{'descr': <f4, 'fortran_order': False, 'shape': (2,)}", "expected a quoted dtype"},
       {"{'descr: '<f4', 'fortran_order': False, 'shape': (2,)}", "expected ':' after the key"},
       {"{'descr': '<f4\\n', 'fortran_order': False, 'shape': (2,)}", "escapes"},
       {"{'descr': '<f4', 'fortran_order': False}", "missing key 'shape'"},
       {"{'fortran_order': False, 'shape': (2,)}", "missing key 'descr'"},
       {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (2,)}",
        "key 'shape' appears twice"},
       {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
        "unknown key 'extra'"},
       {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", "only spaces and a newline"},
       {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\x01", "\\x01"}}));
  CAPTURE(header);
  const std::string p = dir.write("h.npy", raw_npy(1, 0, header, data));
  require_error(p, tmlp::errc::invalid_data, "header does not parse");
  require_error(p, tmlp::errc::invalid_data, what);
}

TEST_CASE("unsupported dtypes are rejected, naming them and the supported ones", "[data][npy]") {
  const temp_dir dir;
  require_error(dir.write("o.npy", npy("|O", false, "(2,)", std::string(16, '\0'))),
                tmlp::errc::invalid_data, "dtype '|O' is an object array");
  const std::string descr = GENERATE(as<std::string>{}, "<u4", "<f2", "|b1", "|u1", "<c16", "<i2",
                                     "<U8", "<M8[ns]", "f4", "<f16", "<f4 ");
  CAPTURE(descr);
  const std::string p = dir.write("d.npy", npy(descr, false, "(2,)", std::string(8, '\0')));
  require_error(p, tmlp::errc::invalid_data, "dtype '" + descr + "' is not supported");
  require_error(p, tmlp::errc::invalid_data,
                "supported: float32 '<f4', float64 '<f8', int32 '<i4', int64 '<i8'");
  const std::string s =
      dir.write("s.npy", raw_npy(1, 0,
                                 "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, "
                                 "'shape': (1,)}\n",
                                 std::string(8, '\0')));
  require_error(s, tmlp::errc::invalid_data, "structured (record) dtype");
}

TEST_CASE("shapes that are not 1-D or 2-D, empty, or that do not match the file are rejected",
          "[data][npy]") {
  const temp_dir dir;
  const std::string data = encode(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8});
  require_error(dir.write("3d.npy", npy("<f4", false, "(2, 2, 2)", data)), tmlp::errc::invalid_data,
                "3 dimensions (shape (2, 2, 2)); expected 1");
  require_error(dir.write("0d.npy", npy("<f4", false, "()", encode(std::vector<float>{1}))),
                tmlp::errc::invalid_data, "0 dimensions");
  require_error(dir.write("e.npy", npy("<f4", false, "(0, 3)", "")), tmlp::errc::invalid_data,
                "array is empty (shape (0, 3))");
  require_error(dir.write("e2.npy", npy("<f4", false, "(1000000000000, 0)", "")),
                tmlp::errc::invalid_data, "array is empty");
  require_error(dir.write("ovf.npy", npy("<f4", false, "(4294967296, 4294967296)", data)),
                tmlp::errc::invalid_data, "more elements than fit in 64 bits");
  // 2^62 elements fit in 64 bits, their bytes do not.
  require_error(dir.write("ovf2.npy", npy("<f8", false, "(4611686018427387904,)", data)),
                tmlp::errc::invalid_data, "size mismatch");
  require_error(
      dir.write("short.npy", npy("<f4", false, "(3, 3)", data)), tmlp::errc::invalid_data,
      "size mismatch: shape (3, 3) of '<f4' needs 9 x 4 data bytes but the file holds 32");
  require_error(dir.write("long.npy", npy("<f4", false, "(7,)", data)), tmlp::errc::invalid_data,
                "extra bytes after the data");
  require_error(dir.write("odd.npy", npy("<f8", false, "(4,)", data + "x")),
                tmlp::errc::invalid_data, "size mismatch");
}

TEST_CASE("a header claiming 10^12 elements in a small file fails on size before allocating",
          "[data][npy]") {
  // Allocating what the header claims (4 TB) would throw std::bad_alloc or take the machine's
  // memory; the size check must come first and throw tmlp::error.
  const temp_dir dir;
  const std::string p = dir.write(
      "lie.npy",
      raw_npy(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000)}\n",
              std::string(100 - 10 - 70, '\0')));
  REQUIRE(fs::file_size(p) == 100);
  require_error(p, tmlp::errc::invalid_data,
                "size mismatch: shape (1000000, 1000000) of '<f4' needs 1000000000000 x 4 data "
                "bytes but the file holds 20");
}
