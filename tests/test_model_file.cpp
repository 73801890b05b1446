// Model files: exact round trips, identical bytes, and clear errors on every kind of damage.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include <unistd.h>

#include "io/file_io.hpp"
#include "io/model_file.hpp"
#include "support/common.hpp"
#include "tmlp/error.hpp"
#include "tmlp/io.hpp"

using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

using tmlp::test::error_message;
using tmlp::test::read_bytes;
using tmlp::test::write_bytes;

fs::path temp_dir() { return tmlp::test::scratch_dir("model_file"); }

tmlp::model small_model() {
  return tmlp::model::create(
      {.n_inputs = 3,
       .layers = {{.units = 4, .act = tmlp::activation::prelu, .alpha = 0.2f},
                  {.units = 2,
                   .act = tmlp::activation::identity,
                   .init = tmlp::init_kind::he_normal}},
       .loss = tmlp::loss_kind::ce,
       .seed = 11});
}

}  // namespace

TEST_CASE("fnv1a gives the published FNV-1a 64 values, and chains", "[io][fnv1a]") {
  using tmlp::io::fnv1a;
  CHECK(fnv1a("") == 0xcbf29ce484222325ULL);
  CHECK(fnv1a("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(fnv1a("foobar") == 0x85944171f73967e8ULL);
  CHECK(fnv1a("bar", fnv1a("foo")) == fnv1a("foobar"));
  const unsigned char bytes[] = {'f', 'o', 'o', 'b', 'a', 'r'};
  CHECK(fnv1a(bytes, sizeof bytes) == fnv1a("foobar"));
}

TEST_CASE("a saved model loads with the same spec, parameters and metadata", "[io][model_file]") {
  const fs::path dir = temp_dir();
  const tmlp::model m = small_model();
  const std::string path = (dir / "m.tmlp").string();
  tmlp::save_model(m, path, R"({"labels": ["a", "b"], "n": 3})");
  const tmlp::loaded_model l = tmlp::load_model(path);
  CHECK(tmlp::spec_to_json(l.model.spec()) == tmlp::spec_to_json(m.spec()));
  REQUIRE(l.model.n_params() == m.n_params());
  CHECK(std::memcmp(l.model.parameters().data(), m.parameters().data(), m.n_params() * 4) == 0);
  CHECK(l.metadata == R"({"labels":["a","b"],"n":3})");
  CHECK(tmlp::load_model(path).metadata == l.metadata);
  tmlp::save_model(m, path);
  CHECK(tmlp::load_model(path).metadata == "null");
  fs::remove_all(dir);
}

TEST_CASE("the same model gives the same bytes, and saving replaces the file whole",
          "[io][model_file]") {
  const fs::path dir = temp_dir();
  tmlp::save_model(small_model(), (dir / "a.tmlp").string(), R"({"x": 1})");
  tmlp::save_model(small_model(), (dir / "b.tmlp").string(), R"({"x": 1})");
  CHECK(read_bytes(dir / "a.tmlp") == read_bytes(dir / "b.tmlp"));
  tmlp::model other = small_model();
  other.parameters()[0] += 1.0f;
  tmlp::save_model(other, (dir / "a.tmlp").string());
  CHECK(tmlp::load_model((dir / "a.tmlp").string()).model.parameters()[0] == other.parameters()[0]);
  std::size_t n_files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n_files;
  CHECK(n_files == 2);  // no temporary left behind
  fs::remove_all(dir);
}

TEST_CASE("a failed save leaves the old file and no temporary", "[io][model_file]") {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "m.tmlp").string();
  tmlp::save_model(small_model(), path);
  const auto before = read_bytes(path);
  CHECK_THROWS_WITH(tmlp::save_model(small_model(), path, "{not json"),
                    Contains("metadata is not JSON"));
  CHECK_THROWS_WITH(tmlp::save_model(small_model(), (dir / "no_such_dir" / "m.tmlp").string()),
                    Contains("cannot create"));
  CHECK(read_bytes(path) == before);
  std::size_t n_files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n_files;
  CHECK(n_files == 1);
  fs::remove_all(dir);
}

TEST_CASE("every truncation and every flipped byte is a clear error", "[io][model_file]") {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "m.tmlp").string();
  tmlp::save_model(small_model(), path, R"({"k": "v"})");
  const auto good = read_bytes(path);
  for (std::size_t n = 0; n < good.size(); ++n) {
    const std::vector<unsigned char> cut(good.begin(),
                                         good.begin() + static_cast<std::ptrdiff_t>(n));
    CAPTURE(n);
    CHECK_THROWS_AS(tmlp::parse_model_file(cut, "cut"), tmlp::error);
  }
  for (std::size_t i = 0; i < good.size(); ++i) {
    auto bad = good;
    bad[i] ^= 0x10;
    CAPTURE(i);
    CHECK_THROWS_AS(tmlp::parse_model_file(bad, "flipped"), tmlp::error);
  }
  auto bad = good;
  bad.resize(good.size() - 10);
  write_bytes(path, bad);
  CHECK_THAT(error_message([&] { tmlp::load_model(path); }),
             Contains(path) && Contains("do not match"));
  bad = good;
  bad[8] = 9;  // version
  write_bytes(path, bad);
  CHECK_THAT(error_message([&] { tmlp::load_model(path); }), Contains("format version 9"));
  bad = good;
  bad[0] = 'X';
  write_bytes(path, bad);
  CHECK_THAT(error_message([&] { tmlp::load_model(path); }), Contains("wrong magic"));
  bad = good;
  bad[40] ^= 1;  // inside the JSON header
  write_bytes(path, bad);
  CHECK_THAT(error_message([&] { tmlp::load_model(path); }), Contains("checksum mismatch"));
  fs::remove_all(dir);
}

TEST_CASE("hostile headers and paths are rejected before any large allocation",
          "[io][model_file]") {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "m.tmlp").string();
  tmlp::save_model(small_model(), path);
  auto bad = read_bytes(path);
  for (int i = 0; i < 8; ++i) bad[24 + i] = 0xff;  // 2^64 - 1 parameters
  CHECK_THAT(error_message([&] { tmlp::parse_model_file(bad, "huge"); }), Contains("do not match"));
  bad = read_bytes(path);
  for (int i = 0; i < 8; ++i) bad[16 + i] = 0x7f;  // an enormous JSON header
  CHECK_THAT(error_message([&] { tmlp::parse_model_file(bad, "huge"); }), Contains("do not match"));
  CHECK_THAT(error_message([&] { tmlp::load_model((dir / "missing.tmlp").string()); }),
             Contains("cannot open"));
  CHECK_THAT(error_message([&] { tmlp::load_model(dir.string()); }), Contains("is a directory"));
  std::vector<unsigned char> text = {'h', 'e', 'l', 'l', 'o'};
  write_bytes(path, text);
  CHECK_THAT(error_message([&] { tmlp::load_model(path); }),
             Contains("shorter than any model file"));
  fs::remove_all(dir);
}

TEST_CASE("spec JSON round trips and rejects unknown names", "[io][model_file]") {
  const tmlp::model m = small_model();
  const std::string j = tmlp::spec_to_json(m.spec());
  CHECK(tmlp::spec_to_json(tmlp::spec_from_json(j)) == j);
  CHECK_THROWS_WITH(
      tmlp::spec_from_json(
          R"({"n_inputs": 3, "layers": [{"units": 2, "activation": "swish", "init": "auto"}],
                                            "loss": "mse", "huber_delta": 1, "seed": 0})"),
      Contains("unknown activation 'swish'"));
  CHECK_THROWS_WITH(tmlp::spec_from_json("[1, 2"), Contains("malformed JSON"));
  CHECK_THROWS_WITH(
      tmlp::spec_from_json(
          R"({"n_inputs": 0, "layers": [], "loss": "mse", "huber_delta": 1, "seed": 0})"),
      Contains("model_spec.n_inputs: 0"));
}

TEST_CASE("dropout is saved with the spec, defaults to none, and is validated",
          "[io][model_file][dropout]") {
  tmlp::model_spec spec{.n_inputs = 3,
                        .layers = {{.units = 4, .act = tmlp::activation::relu, .dropout = 0.25f},
                                   {.units = 2, .act = tmlp::activation::identity}},
                        .loss = tmlp::loss_kind::mse};
  const std::string j = tmlp::spec_to_json(spec);
  CHECK_THAT(j, Contains("\"dropout\":0.25"));
  CHECK(tmlp::spec_from_json(j).layers[0].dropout == 0.25f);
  CHECK(tmlp::spec_from_json(j).layers[1].dropout == 0.0f);  // absent: none (older files)
  const fs::path path = temp_dir() / "dropout.tmlp";
  tmlp::save_model(tmlp::model::create(spec), path.string());
  CHECK(tmlp::load_model(path.string()).model.spec().layers[0].dropout == 0.25f);

  spec.layers[0].dropout = 1.0f;
  CHECK_THROWS_WITH(tmlp::validate(spec),
                    Contains("model_spec.layers[0].dropout: 1 is outside [0, 1)"));
  spec.layers[0].dropout = 0.0f;
  spec.layers[1].dropout = 0.5f;
  CHECK_THROWS_WITH(tmlp::validate(spec), Contains("on the output layer"));
  fs::remove_all(temp_dir());
}

TEST_CASE("layer norm is saved with the spec and adds a gain and shift per unit",
          "[io][model_file][layer_norm]") {
  const tmlp::model_spec spec{
      .n_inputs = 3,
      .layers = {{.units = 4, .act = tmlp::activation::tanh, .layer_norm = true},
                 {.units = 2, .act = tmlp::activation::identity}},
      .loss = tmlp::loss_kind::mse};
  const tmlp::model m = tmlp::model::create(spec);
  CHECK(m.n_params() == 3 * 4 + 4 + 2 * 4 + 4 * 2 + 2);
  const fs::path path = temp_dir() / "ln.tmlp";
  tmlp::save_model(m, path.string());
  const tmlp::loaded_model l = tmlp::load_model(path.string());
  CHECK(l.model.spec().layers[0].layer_norm);
  CHECK(!l.model.spec().layers[1].layer_norm);
  CHECK(
      std::equal(l.model.parameters().begin(), l.model.parameters().end(), m.parameters().begin()));
  fs::remove_all(temp_dir());
}

TEST_CASE("residual layers are saved with the spec, with a projection when widths differ",
          "[io][model_file][residual]") {
  tmlp::model_spec spec{.n_inputs = 3,
                        .layers = {{.units = 4, .act = tmlp::activation::relu, .residual = true},
                                   {.units = 4, .act = tmlp::activation::relu, .residual = true},
                                   {.units = 2, .act = tmlp::activation::identity}},
                        .loss = tmlp::loss_kind::mse};
  const tmlp::model m = tmlp::model::create(spec);
  CHECK(m.n_params() == (3 * 4 + 4 + 4 * 3) + (4 * 4 + 4) + (4 * 2 + 2));  // P only where 3 != 4
  const fs::path path = temp_dir() / "res.tmlp";
  tmlp::save_model(m, path.string());
  const tmlp::loaded_model l = tmlp::load_model(path.string());
  CHECK(l.model.spec().layers[0].residual);
  CHECK(l.model.spec().layers[1].residual);
  CHECK(
      std::equal(l.model.parameters().begin(), l.model.parameters().end(), m.parameters().begin()));
  spec.layers[2].residual = true;
  CHECK_THROWS_WITH(tmlp::validate(spec), Contains("layers[2].residual: on the output layer"));
  fs::remove_all(temp_dir());
}

TEST_CASE("batch norm is saved with the spec, running statistics included, and predicts alike",
          "[io][model_file][batch_norm]") {
  tmlp::model_spec spec{.n_inputs = 3,
                        .layers = {{.units = 4, .act = tmlp::activation::tanh, .batch_norm = true},
                                   {.units = 2, .act = tmlp::activation::identity}},
                        .loss = tmlp::loss_kind::mse};
  tmlp::model m = tmlp::model::create(spec);
  CHECK(m.n_params() == 3 * 4 + 4 + 4 * 4 + 4 * 2 + 2);
  auto p = m.parameters();
  for (std::size_t i = 0; i < 4; ++i) {  // gains, shifts and running statistics of a trained model
    p[16 + i] = 0.5f + 0.25f * float(i);
    p[20 + i] = -0.1f * float(i);
    p[24 + i] = 0.3f * float(i);
    p[28 + i] = 2.0f + float(i);
  }
  const fs::path path = temp_dir() / "bn.tmlp";
  tmlp::save_model(m, path.string());
  const tmlp::loaded_model l = tmlp::load_model(path.string());
  CHECK(l.model.spec().layers[0].batch_norm);
  CHECK(!l.model.spec().layers[1].batch_norm);
  CHECK(
      std::equal(l.model.parameters().begin(), l.model.parameters().end(), m.parameters().begin()));
  const std::vector<float> x = {0.5f, -1.0f, 2.0f, 0.0f, 0.25f, -0.75f};
  const tmlp::matrix a = m.predict({x.data(), 2, 3}), b = l.model.predict({x.data(), 2, 3});
  CHECK(std::equal(a.data(), a.data() + 4, b.data()));
  spec.layers[1].batch_norm = true;
  CHECK_THROWS_WITH(tmlp::validate(spec), Contains("layers[1].batch_norm: on the output layer"));
  spec.layers[1].batch_norm = false;
  spec.layers[0].layer_norm = true;
  CHECK_THROWS_WITH(tmlp::validate(spec),
                    Contains("layers[0].batch_norm and model_spec.layers[0].layer_norm"));
  fs::remove_all(temp_dir());
}

TEST_CASE("embeddings are saved with the spec, tables included", "[io][model_file][embedding]") {
  tmlp::model_spec spec{.n_inputs = 3,
                        .layers = {{.units = 4, .act = tmlp::activation::relu},
                                   {.units = 2, .act = tmlp::activation::identity}},
                        .embeddings = {{.column = 1, .cardinality = 5, .dim = 3}},
                        .loss = tmlp::loss_kind::mse};
  const tmlp::model m = tmlp::model::create(spec);
  CHECK(m.n_params() == (2 + 3) * 4 + 4 + 4 * 2 + 2 + 5 * 3);
  const fs::path path = temp_dir() / "emb.tmlp";
  tmlp::save_model(m, path.string());
  const tmlp::loaded_model l = tmlp::load_model(path.string());
  REQUIRE(l.model.spec().embeddings.size() == 1);
  CHECK(l.model.spec().embeddings[0].column == 1);
  CHECK(l.model.spec().embeddings[0].cardinality == 5);
  CHECK(l.model.spec().embeddings[0].dim == 3);
  CHECK(
      std::equal(l.model.parameters().begin(), l.model.parameters().end(), m.parameters().begin()));
  // Rows 2 and 4 (and 4 again for the out-of-range 9) differ only in column 1's index.
  const std::vector<float> x = {0.5f, 2.0f, -1.0f, 0.5f, 4.0f, -1.0f, 0.5f, 9.0f, -1.0f};
  const tmlp::matrix a = m.predict({x.data(), 3, 3}), b = l.model.predict({x.data(), 3, 3});
  CHECK(std::equal(a.data(), a.data() + 6, b.data()));
  CHECK(a.row(0)[0] != a.row(1)[0]);
  CHECK(a.row(1)[0] == a.row(2)[0]);
  spec.embeddings.push_back({.column = 1, .cardinality = 2, .dim = 2});
  CHECK_THROWS_WITH(tmlp::validate(spec),
                    Contains("embeddings[1].column: 1 already has an embedding"));
  spec.embeddings[1] = {.column = 3, .cardinality = 2, .dim = 2};
  CHECK_THROWS_WITH(tmlp::validate(spec), Contains("embeddings[1].column: 3 is out of range"));
  spec.embeddings[1] = {.column = 0, .cardinality = 0, .dim = 2};
  CHECK_THROWS_WITH(tmlp::validate(spec), Contains("embeddings[1].cardinality: 0 is out of range"));
  fs::remove_all(temp_dir());
}
