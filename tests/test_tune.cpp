// tmlp tune's library parts: the Hyperband schedule (rung sizes and epochs), the promotion order,
// the sampled flags, the space file's errors, and a small search whose leaderboard does not
// depend on the thread count.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>

#include "tmlp/data.hpp"
#include "tmlp/error.hpp"
#include "tmlp/io.hpp"
#include "tmlp/train_setup.hpp"
#include "tmlp/training_data.hpp"
#include "tmlp/tune.hpp"
#include "train/tune_trial.hpp"

namespace {

using rungs = std::vector<std::pair<std::size_t, std::size_t>>;  // (trials, epochs)

rungs of(const tmlp::tune_bracket& b) {
  rungs out;
  for (const tmlp::tune_rung& r : b.rungs) out.emplace_back(r.n_trials, r.epochs);
  return out;
}

}  // namespace

TEST_CASE("tune: Hyperband brackets for 27 epochs and eta 3", "[tune]") {
  const auto b = tmlp::hyperband_brackets(49, 27, 1, 3);
  REQUIRE(b.size() == 4);
  CHECK(of(b[0]) == rungs{{27, 1}, {9, 3}, {3, 9}, {1, 27}});
  CHECK(of(b[1]) == rungs{{12, 3}, {4, 9}, {1, 27}});
  CHECK(of(b[2]) == rungs{{6, 9}, {2, 27}});
  CHECK(of(b[3]) == rungs{{4, 27}});
  CHECK(b[1].first_trial == 27);
  CHECK(b[3].first_trial == 45);
}

TEST_CASE("tune: brackets repeat until the trials are placed, the last one cut", "[tune]") {
  const auto b = tmlp::hyperband_brackets(15, 4, 1, 2);
  REQUIRE(b.size() == 5);
  CHECK(of(b[0]) == rungs{{4, 1}, {2, 2}, {1, 4}});
  CHECK(of(b[1]) == rungs{{3, 2}, {1, 4}});
  CHECK(of(b[2]) == rungs{{3, 4}});
  CHECK(of(b[3]) == rungs{{4, 1}, {2, 2}, {1, 4}});  // the next iteration
  CHECK(b[4].first_trial == 14);
  CHECK(of(b[4]) == rungs{{1, 2}});  // one trial left: its first rung only
  std::size_t total = 0;
  for (const auto& br : b) total += br.n_trials;
  CHECK(total == 15);
  CHECK(of(tmlp::hyperband_brackets(1, 9, 9, 3)[0]) == rungs{{1, 9}});  // no halving
  CHECK_THROWS_AS(tmlp::hyperband_brackets(4, 9, 1, 1), tmlp::error);
  CHECK_THROWS_AS(tmlp::hyperband_brackets(4, 9, 0, 3), tmlp::error);
  CHECK_THROWS_AS(tmlp::hyperband_brackets(4, 2, 3, 3), tmlp::error);
}

TEST_CASE("tune: promotion by (metric, trial id), NaN last, whatever the order given", "[tune]") {
  std::vector<tmlp::tune_score> s = {{5, 0.3}, {2, 0.1}, {7, std::nan("")}, {1, 0.3}, {4, 0.2}};
  const std::vector<std::size_t> want = {2, 4, 1};
  CHECK(tmlp::promote(s, 3) == want);
  std::sort(s.begin(), s.end(), [](const auto& a, const auto& b) { return a.trial < b.trial; });
  do {
    CHECK(tmlp::promote(s, 3) == want);
  } while (std::next_permutation(s.begin(), s.end(),
                                 [](const auto& a, const auto& b) { return a.trial < b.trial; }));
  CHECK(tmlp::promote(s, 10) == std::vector<std::size_t>{2, 4, 1, 5, 7});
}

TEST_CASE("tune: a trial's flags depend on (seed, trial) only and stay in the space", "[tune]") {
  const tmlp::tune_space space = tmlp::parse_tune_space(
      R"({"width": [8, 16], "depth": [1, 3], "lr": {"log": [1e-4, 1e-2]},
          "dropout": {"uniform": [0, 0.5]}, "batch-size": {"int": [16, 64]}})",
      "space.json");
  std::set<std::string> layers;
  for (std::size_t t = 0; t < 200; ++t) {
    const tmlp::tune_flags f = tmlp::sample_trial(space, 7, t);
    CHECK(f == tmlp::sample_trial(space, 7, t));
    REQUIRE(f.size() == 4);
    CHECK(f[0].first == "layers");
    layers.insert(f[0].second);
    const double lr = std::stod(f[1].second), dropout = std::stod(f[2].second);
    const long batch = std::stol(f[3].second);
    CHECK((lr >= 1e-4 * 0.995 && lr <= 1e-2 * 1.005));
    CHECK((dropout >= 0 && dropout <= 0.5));
    CHECK((batch >= 16 && batch <= 64));
    tmlp::train_options o;
    tmlp::apply_flags(o, f);
    CHECK(o.layers == f[0].second);
    CHECK(o.batch_size == static_cast<std::uint64_t>(batch));
  }
  CHECK(layers == std::set<std::string>{"8", "16", "8,8,8", "16,16,16"});
  CHECK(tmlp::sample_trial(space, 7, 3) != tmlp::sample_trial(space, 8, 3));
}

TEST_CASE("tune: space and budget errors name the key", "[tune]") {
  const auto message = [](const std::string& json) {
    try {
      tmlp::parse_tune_space(json, "s.json");
    } catch (const tmlp::error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message(R"({"lrr": [1]})").find("s.json: key 'lrr': unknown train flag") == 0);
  CHECK(message(R"({"target": ["y"]})").find("key 'target'") != std::string::npos);
  CHECK(message(R"({"dropout": [0.1, 2]})").find("key 'dropout': --dropout") != std::string::npos);
  CHECK(message(R"({"lr": {"log": [0, 1]}})").find("key 'lr'") != std::string::npos);
  CHECK(message(R"({"lr": {"normal": [0, 1]}})").find("unknown range 'normal'") !=
        std::string::npos);
  CHECK(message(R"([1, 2])").find("expected a JSON object") != std::string::npos);
  CHECK(message(R"({"lr": [)").find("not valid JSON") != std::string::npos);
  CHECK(message(R"({"layers": ["8"], "width": [4]})").find("exclude each other") !=
        std::string::npos);
  CHECK(tmlp::parse_tune_budget("12-trials").n_trials == 12);
  CHECK(tmlp::parse_tune_budget("10m").seconds == 600.0);
  CHECK(tmlp::parse_tune_budget("1.5h").seconds == 5400.0);
  CHECK_THROWS_WITH(tmlp::parse_tune_budget("0-trials"), Catch::Contains("too small"));
  CHECK_THROWS_WITH(tmlp::parse_tune_budget("ten"), Catch::Contains("--budget"));
}

TEST_CASE("tune: the same leaderboard on 1 and 3 threads, and from the journal", "[tune]") {
  const tmlp::table t = tmlp::read_csv(std::string(TMLP_TEST_DATA_DIR) + "/iris.csv");
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / fmt::format("tmlp_tune_{}", ::getpid());
  std::filesystem::create_directories(dir);
  tmlp::tune_config c;
  c.base.data = "iris.csv";
  c.base.target = "target_species";
  c.space = tmlp::parse_tune_space(
      R"({"width": [8, 16], "lr": {"log": [1e-3, 3e-2]}, "batch-size": [16, 32]})", "s");
  c.budget = tmlp::parse_tune_budget("7-trials");
  c.max_epochs = 4;
  c.eta = 2;
  std::vector<std::string> tables;
  for (const int n_threads : {1, 3}) {
    c.n_threads = n_threads;
    const std::string n = std::to_string(n_threads);
    c.journal = (dir / fmt::format("j{}", n)).string();
    c.work_dir = (dir / fmt::format("w{}", n)).string();
    const tmlp::tune_result r = tmlp::tune(c, t, nullptr);
    CHECK(r.n_trained == 4 + 2 + 1 + 3 + 1);  // bracket 0: 4, 2, 1 runs; bracket 1: 3, 1
    tables.push_back(tmlp::leaderboard_table(r));
  }
  CHECK(tables[0] == tables[1]);
  const tmlp::tune_result again = tmlp::tune(c, t, nullptr);  // every run in the journal
  CHECK(again.n_trained == 0);
  CHECK(tmlp::leaderboard_table(again) == tables[0]);

  // The best model: the parameters tmlp train's steps give with the winning flags and epochs,
  // from the trial's file and trained again (its file gone).
  const tmlp::tune_run& best = again.leaderboard.front();
  tmlp::train_options o = c.base;
  tmlp::apply_flags(o, best.flags);
  o.epochs = best.epochs;
  const std::unique_ptr<tmlp::training_data> d = tmlp::prepare_training(o, t);
  tmlp::model m = tmlp::model::create(tmlp::training_model_spec(o, *d));
  tmlp::trainer(tmlp::make_train_config(o))
      .fit(m, *d->x_train, d->y_train, d->x_valid.get(), d->y_valid, d->w_train);
  const std::string path = (dir / "best.tmlp").string();
  tmlp::write_best_model(again, c, t, nullptr, path);
  CHECK(tmlp::model_to_bytes(tmlp::load_model(path).model) == tmlp::model_to_bytes(m));
  std::filesystem::remove_all(c.work_dir);
  tmlp::write_best_model(again, c, t, nullptr, path);
  CHECK(tmlp::model_to_bytes(tmlp::load_model(path).model) == tmlp::model_to_bytes(m));
  CHECK(tmlp::load_model(path).metadata.find("\"tune\"") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("tune: folds partition the rows, seeded, in table order", "[tune]") {
  const tmlp::table t = tmlp::read_csv(std::string(TMLP_TEST_DATA_DIR) + "/iris.csv");
  const auto folds = tmlp::train::make_folds(t, 4, 11);
  REQUIRE(folds.size() == 4);
  std::vector<float> seen;
  for (const auto& f : folds) {
    CHECK(f.train.n_rows + f.valid.n_rows == t.n_rows);
    CHECK((f.valid.n_rows == 37 || f.valid.n_rows == 38));
    const std::vector<float>& v = f.valid.columns[0].values;
    seen.insert(seen.end(), v.begin(), v.end());
  }
  std::vector<float> all = t.columns[0].values;
  std::sort(all.begin(), all.end());
  std::sort(seen.begin(), seen.end());
  CHECK(seen == all);  // every row validates in exactly one fold
  CHECK(tmlp::train::make_folds(t, 4, 11)[2].valid.columns[1].values ==
        folds[2].valid.columns[1].values);
  CHECK(tmlp::train::make_folds(t, 4, 12)[2].valid.columns[1].values !=
        folds[2].valid.columns[1].values);
  CHECK_THROWS_AS(tmlp::train::make_folds(t, 1, 0), tmlp::error);
}
