// Ensembles (tmlp/ensemble.hpp): the members' seeds and threads, the same file for any thread
// count, member 0 the single model, predictions the mean of independently trained models, and
// the model file's versions (old single-model files load and save as they were).
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "io/container.hpp"
#include "support/common.hpp"
#include "tmlp/data.hpp"
#include "tmlp/ensemble.hpp"
#include "tmlp/error.hpp"
#include "tmlp/io.hpp"
#include "tmlp/predictor.hpp"
#include "tmlp/train_setup.hpp"
#include "tmlp/training_data.hpp"

using Catch::Matchers::Contains;
using tmlp::test::error_message;

namespace {

const std::string data_dir = TMLP_TEST_DATA_DIR;

// iris, a small network, no validation (so that a run's seed changes nothing but the members).
tmlp::train_options iris_options(std::uint64_t seed, std::uint64_t ensemble, int threads) {
  tmlp::train_options o;
  o.data = data_dir + "/iris.csv";
  o.target = "-1";
  o.layers = "16,8";
  o.epochs = 4;
  o.batch_size = 32;
  o.valid_fraction = 0.0f;
  o.early_stop = 0;
  o.seed = seed;
  o.ensemble = ensemble;
  o.threads = threads;
  return o;
}

// The model file's content of a run with o on t, as the program writes it.
tmlp::loaded_model train_file(const tmlp::train_options& o, const tmlp::table& t) {
  const std::unique_ptr<tmlp::training_data> d = tmlp::prepare_training(o, t.view());
  tmlp::ensemble_fit f = tmlp::fit_ensemble(o, *d, tmlp::make_train_config(o));
  return f.file(o, *d);
}

bool same_params(const tmlp::model& a, const tmlp::model& b) {
  return a.n_params() == b.n_params() &&
         std::memcmp(a.parameters().data(), b.parameters().data(), 4 * a.n_params()) == 0;
}

}  // namespace

TEST_CASE("member seeds: member 0 keeps the run's seed, the others are distinct", "[ensemble]") {
  CHECK(tmlp::member_seed(42, 0) == 42);
  std::set<std::uint64_t> seeds;
  for (std::uint64_t s : {0ull, 1ull, 42ull})
    for (std::size_t i = 0; i < 8; ++i) seeds.insert(tmlp::member_seed(s, i));
  CHECK(seeds.size() == 24);  // no two (seed, member) pairs share a seed here
}

TEST_CASE("plan_ensemble: members side by side, the threads split evenly", "[ensemble]") {
  const tmlp::ensemble_plan a = tmlp::plan_ensemble(3, 8);
  CHECK(a.at_once == 3);
  CHECK(a.threads == std::vector<int>{3, 3, 2});
  const tmlp::ensemble_plan b = tmlp::plan_ensemble(5, 2);
  CHECK(b.at_once == 2);
  CHECK(b.threads == std::vector<int>{1, 1, 1, 1, 1});
  const tmlp::ensemble_plan c = tmlp::plan_ensemble(1, 4);
  CHECK(c.at_once == 1);
  CHECK(c.threads == std::vector<int>{4});
}

TEST_CASE("an ensemble size out of range is a one-line error naming --ensemble", "[ensemble]") {
  tmlp::train_options o = iris_options(0, 0, 1);
  CHECK_THAT(error_message([&] { tmlp::make_train_config(o); }),
             Contains("--ensemble: 0; expected a number of members in [1, 256]"));
  o.ensemble = 257;
  CHECK_THAT(error_message([&] { tmlp::make_train_config(o); }), Contains("--ensemble: 257"));
}

TEST_CASE(
    "an ensemble is the same file for any thread count, member i is the model trained "
    "alone with member_seed, and predictions are the members' mean",
    "[ensemble]") {
  const tmlp::table t = tmlp::read_csv(data_dir + "/iris.csv");
  const std::uint64_t seed = 7;
  const tmlp::loaded_model one_thread = train_file(iris_options(seed, 3, 1), t);
  const tmlp::loaded_model two_threads = train_file(iris_options(seed, 3, 2), t);
  REQUIRE(one_thread.n_members() == 3);
  CHECK(tmlp::model_to_bytes(one_thread) == tmlp::model_to_bytes(two_threads));
  const tmlp::loaded_model three_threads = train_file(iris_options(seed, 3, 3), t);
  CHECK(tmlp::model_to_bytes(one_thread) == tmlp::model_to_bytes(three_threads));
  const tmlp::loaded_model five_threads = train_file(iris_options(seed, 3, 5), t);  // 2, 2, 1
  CHECK(tmlp::model_to_bytes(one_thread) == tmlp::model_to_bytes(five_threads));

  // Each member is the single model of a run with its seed (member 0: this run's own).
  std::vector<tmlp::predictor> alone;
  for (std::size_t i = 0; i < 3; ++i) {
    tmlp::loaded_model single = train_file(iris_options(tmlp::member_seed(seed, i), 1, 2), t);
    REQUIRE(single.n_members() == 1);
    const tmlp::model& member = i == 0 ? one_thread.model : one_thread.more_members[i - 1];
    CHECK(member.spec().seed == tmlp::member_seed(seed, i));
    CHECK(same_params(member, single.model));
    alone.emplace_back(std::move(single), "single");
  }

  // The ensemble's probabilities: the mean of the single models', in member order.
  const tmlp::predictor ensemble(tmlp::model_from_bytes(tmlp::model_to_bytes(one_thread)), "e");
  CHECK(ensemble.n_members() == 3);
  const tmlp::matrix got = ensemble.probabilities(t.view());
  std::vector<tmlp::matrix> each;
  for (const tmlp::predictor& p : alone) each.push_back(p.probabilities(t.view()));
  REQUIRE(got.rows() == t.n_rows);
  bool equal = true, differ = false;
  for (std::size_t j = 0; j < got.size(); ++j) {
    double sum = 0.0;
    for (const tmlp::matrix& m : each) sum += m.data()[j];
    equal = equal && got.data()[j] == static_cast<float>(sum / 3.0);
    differ = differ || each[0].data()[j] != each[1].data()[j];
  }
  CHECK(equal);
  CHECK(differ);  // the members are different models
}

TEST_CASE("an ensemble of one is the single model, and its file is version 1", "[ensemble]") {
  const tmlp::table t = tmlp::read_csv(data_dir + "/iris.csv");
  tmlp::train_options o = iris_options(3, 1, 2);
  const std::unique_ptr<tmlp::training_data> d = tmlp::prepare_training(o, t.view());
  tmlp::model m = tmlp::model::create(tmlp::training_model_spec(o, *d));
  const tmlp::fit_result r = tmlp::trainer(tmlp::make_train_config(o))
                                 .fit(m, *d->x_train, d->y_train, nullptr, {}, d->w_train);
  const std::vector<unsigned char> single =
      tmlp::model_to_bytes(m, tmlp::model_metadata(o, *d, r, r.epochs.back().epoch));
  const std::vector<unsigned char> ensemble = tmlp::model_to_bytes(train_file(o, t));
  CHECK(single == ensemble);
  REQUIRE(single.size() > 12);
  CHECK(single[8] == 1);
}

TEST_CASE("ensemble model files: version 2 with the member seeds, round trips, clear errors",
          "[ensemble][model_file]") {
  const tmlp::table t = tmlp::read_csv(data_dir + "/iris.csv");
  const tmlp::loaded_model e = train_file(iris_options(5, 2, 2), t);
  const std::vector<unsigned char> bytes = tmlp::model_to_bytes(e);
  CHECK(bytes[8] == tmlp::model_format_version);
  const tmlp::loaded_model back = tmlp::model_from_bytes(bytes);
  REQUIRE(back.n_members() == 2);
  CHECK(same_params(back.more_members[0], e.more_members[0]));
  CHECK(tmlp::model_to_bytes(back) == bytes);

  // A member with another network cannot be saved with the others.
  tmlp::loaded_model bad = e;
  tmlp::model_spec other = bad.model.spec();
  other.layers[0].units += 1;
  bad.more_members[0] = tmlp::model::create(other);
  CHECK_THAT(error_message([&] { tmlp::model_to_bytes(bad); }),
             Contains("member 1 of the ensemble has another network"));

  // raw outputs of an ensemble are not its prediction.
  const tmlp::matrix x(2, e.model.n_inputs());
  tmlp::matrix out(2, e.model.n_outputs());
  const std::vector<const tmlp::model*> members = tmlp::members_of(e);
  CHECK_THAT(
      error_message([&] { tmlp::predict_mean(members, x.view(), out.span(), {.raw = true}); }),
      Contains("raw outputs of an ensemble"));
}

TEST_CASE("a model file written before ensembles loads as one member and saves to its bytes",
          "[ensemble][model_file]") {
  const std::string path = data_dir + "/../fixtures/checkpoint_v1_iris_final.tmlp";
  const std::vector<unsigned char> old = tmlp::test::read_bytes(path);
  REQUIRE(old.size() > 12);
  CHECK(old[8] == 1);
  const tmlp::predictor p = tmlp::predictor::load(path);
  CHECK(p.n_members() == 1);
  CHECK(tmlp::model_to_bytes(p.file()) == old);
}

TEST_CASE("fit_ensemble: no checkpoints of an ensemble, and a stop stops every member",
          "[ensemble]") {
  const tmlp::table t = tmlp::read_csv(data_dir + "/iris.csv");
  const tmlp::train_options o = iris_options(1, 3, 2);
  const std::unique_ptr<tmlp::training_data> d = tmlp::prepare_training(o, t.view());
  tmlp::train_config cfg = tmlp::make_train_config(o);
  cfg.checkpoint_every = 1;
  cfg.on_checkpoint = [](const tmlp::training_state&) {};
  CHECK_THAT(error_message([&] { tmlp::fit_ensemble(o, *d, cfg); }),
             Contains("an ensemble is not checkpointed"));
  cfg = tmlp::make_train_config(o);
  std::vector<std::size_t> members_seen;
  cfg.on_epoch = [&](const tmlp::epoch_report& e) {
    members_seen.push_back(e.member);
    return false;  // stop at the first epoch's end
  };
  const tmlp::ensemble_fit f = tmlp::fit_ensemble(o, *d, cfg);
  for (const tmlp::fit_result& r : f.results) {
    CHECK(r.status == tmlp::fit_status::stopped_by_callback);
    CHECK(r.epochs.size() <= 1);
  }
  CHECK(!members_seen.empty());
}

TEST_CASE("damaged ensemble headers are clear errors", "[ensemble][model_file]") {
  const tmlp::model a =
      tmlp::model::create({.n_inputs = 2,
                           .layers = {{.units = 2, .act = tmlp::activation::identity}},
                           .loss = tmlp::loss_kind::ce,
                           .seed = 4});
  const std::string spec = tmlp::spec_to_json(a.spec());
  const std::vector<float> params(3 * a.n_params(), 0.5f);
  const auto file = [&](std::uint32_t version, const std::string& members, std::size_t n_floats) {
    const tmlp::io::container_kind kind{"TMLPMODL", 2, "model file", 1};
    const std::string header = R"({"spec": )" + spec + R"(, "metadata": null)" +
                               (members.empty() ? "" : R"(, "members": )" + members) + "}";
    const std::span<const float> floats[] = {std::span(params).first(n_floats)};
    return tmlp::io::encode_container(kind, header, floats, version);
  };
  const std::size_t n = a.n_params();
  CHECK(tmlp::model_from_bytes(file(2, "[4, 5, 6]", 3 * n)).n_members() == 3);
  CHECK(tmlp::model_from_bytes(file(1, "", n)).n_members() == 1);
  CHECK(tmlp::model_from_bytes(file(2, "", n)).n_members() == 1);
  const auto message = [&](std::uint32_t version, const std::string& members, std::size_t k) {
    return error_message([&] { tmlp::model_from_bytes(file(version, members, k * n), "m"); });
  };
  CHECK_THAT(message(1, "[4, 5, 6]", 3), Contains("a format version 1 file has no members"));
  CHECK_THAT(message(2, "[4, 5, 6]", 2), Contains("3 members of"));
  CHECK_THAT(message(2, "[5, 4, 6]", 3), Contains("the first member's seed is not the spec's"));
  CHECK_THAT(message(2, "[4]", 1), Contains("two or more seeds"));
  CHECK_THAT(message(2, "[4, -1]", 2), Contains("is not a whole number"));
  CHECK_THAT(message(2, R"({"a": 1})", 2), Contains("two or more seeds"));
}
