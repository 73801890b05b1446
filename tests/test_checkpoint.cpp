// Checkpoints and resume: a fit() stopped after any epoch and resumed from its training_state
// (in memory or through a checkpoint file) ends with exactly the parameters of a run that was
// never stopped; checkpoint files round trip and reject damage; fit() on a row_source gives the
// bits of fit() on the same rows in a matrix.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/random.hpp"
#include "io/container.hpp"
#include "io/file_io.hpp"
#include "support/common.hpp"
#include "tmlp/checkpoint.hpp"
#include "tmlp/error.hpp"
#include "tmlp/io.hpp"
#include "tmlp/trainer.hpp"
#include "train/training_state.hpp"

using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

using tmlp::activation;
using tmlp::fit_status;
using tmlp::loss_kind;

using tmlp::test::error_message;
using tmlp::test::params_of;
using tmlp::test::read_bytes;
using tmlp::test::same_bits;
using tmlp::test::write_bytes;
using tmlp::train::state_of;

fs::path temp_dir() { return tmlp::test::scratch_dir("checkpoint"); }

// A 3-class problem on 600 rows of 12 normal features, with some label noise so validation loss
// stops improving and early stopping and plateaus have something to do.
struct problem {
  tmlp::model_spec spec{.n_inputs = 12,
                        .layers = {{.units = 32, .act = activation::relu},
                                   {.units = 16, .act = activation::tanh},
                                   {.units = 3, .act = activation::identity}},
                        .loss = loss_kind::ce,
                        .seed = 3};
  std::size_t n = 600;
  std::vector<float> x, t;

  problem() {
    x.resize(n * 12);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(tmlp::core::normal(41, i));
    for (std::size_t r = 0; r < n; ++r) {
      const float* row = x.data() + r * 12;
      float c = row[0] + row[1] > 0.0f ? (row[2] > 0.0f ? 2.0f : 1.0f) : 0.0f;
      if (r % 7 == 0) c = static_cast<float>((r / 7) % 3);  // noise
      t.push_back(c);
    }
  }
  tmlp::matrix_view xv() const { return {x.data(), n, 12}; }
  tmlp::matrix_view tv() const { return {t.data(), n, 1}; }
};

// What an uninterrupted run leaves at each checkpoint, and at its end.
struct recorded {
  std::map<std::size_t, tmlp::training_state> states;
  std::map<std::size_t, std::vector<float>> params;
  std::vector<float> final_params;
  tmlp::fit_result result;
};

recorded run_recording(const problem& p, tmlp::train_config cfg) {
  recorded rec;
  tmlp::model m = tmlp::model::create(p.spec);
  cfg.checkpoint_every = 1;
  cfg.on_checkpoint = [&](const tmlp::training_state& s) {
    rec.states[s.epochs_done()] = s;
    rec.params[s.epochs_done()] = params_of(m);
  };
  rec.result = tmlp::trainer(cfg).fit(m, p.xv(), p.tv());
  rec.final_params = params_of(m);
  return rec;
}

// A row_source that stores its rows column-major, so gather() really does its own work.
class column_major_rows final : public tmlp::row_source {
 public:
  explicit column_major_rows(tmlp::matrix_view m) : rows_(m.rows), cols_(m.cols) {
    data_.resize(m.rows * m.cols);
    for (std::size_t r = 0; r < m.rows; ++r)
      for (std::size_t c = 0; c < m.cols; ++c) data_[c * m.rows + r] = m(r, c);
  }
  std::size_t rows() const noexcept override { return rows_; }
  std::size_t cols() const noexcept override { return cols_; }
  void gather(const std::uint32_t* idx, std::size_t n, float* out) const noexcept override {
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t c = 0; c < cols_; ++c) out[i * cols_ + c] = data_[c * rows_ + idx[i]];
  }

 private:
  std::size_t rows_, cols_;
  std::vector<float> data_;
};

}  // namespace

TEST_CASE("resuming after any epoch ends with the bits of an uninterrupted run",
          "[train][checkpoint]") {
  const problem p;
  struct variant {
    const char* name;
    tmlp::train_config cfg;
  };
  const std::vector<variant> variants = {
      {"adam, plateau schedule, early stopping restoring the best",
       {.opt = tmlp::adam{.lr = 3e-2f},
        .sched = tmlp::reduce_on_plateau{.factor = 0.5f, .patience = 1},
        .batch_size = 64,
        .epochs = 12,
        .seed = 9,
        .valid_fraction = 0.25f,
        .early_stop = {.patience = 3}}},
      {"momentum, cosine with warm-up, l2 and clipping",
       {.opt = tmlp::momentum{.lr = 0.05f},
        .sched = tmlp::cosine{.warmup_epochs = 2},
        .batch_size = 50,
        .epochs = 7,
        .seed = 4,
        .l2 = 1e-3f,
        .clip_norm = 1.0f,
        .valid_fraction = 0.2f}},
      {"rmsprop, full batch, no validation",
       {.opt = tmlp::rmsprop{.lr = 1e-3f}, .batch_size = 0, .epochs = 6, .seed = 2}},
      {"adamw, stochastic steps, step decay",
       {.opt = tmlp::adamw{.lr = 1e-3f},
        .sched = tmlp::step_decay{.step_epochs = 1, .gamma = 0.5f},
        .batch_size = 1,
        .epochs = 3,
        .seed = 6}},
  };
  for (const variant& v : variants) {
    CAPTURE(v.name);
    const recorded rec = run_recording(p, v.cfg);
    REQUIRE(!rec.states.empty());
    if (v.cfg.early_stop.patience > 0) CHECK(rec.result.status == fit_status::early_stopped);
    // The last epoch's checkpoint (if any) may come after early stopping's last improvement.
    for (const auto& [epoch, state] : rec.states) {
      CAPTURE(epoch);
      tmlp::model m = tmlp::model::create(p.spec);
      std::copy(rec.params.at(epoch).begin(), rec.params.at(epoch).end(), m.parameters().begin());
      tmlp::trainer t(v.cfg);
      t.resume_from(state);
      const tmlp::fit_result r = t.fit(m, p.xv(), p.tv());
      CHECK(same_bits(params_of(m), rec.final_params));
      CHECK(r.status == rec.result.status);
      CHECK(r.best_epoch == rec.result.best_epoch);
      CHECK(r.n_steps == rec.result.n_steps);
      // The epochs after the resume point report exactly what the uninterrupted run did.
      REQUIRE(r.epochs.size() + epoch == rec.result.epochs.size());
      for (std::size_t e = 0; e < r.epochs.size(); ++e) {
        const tmlp::epoch_report& a = r.epochs[e];
        const tmlp::epoch_report& b = rec.result.epochs[epoch + e];
        CHECK(a.epoch == b.epoch);
        CHECK(std::memcmp(&a.train_loss, &b.train_loss, sizeof(double)) == 0);
        CHECK(a.lr == b.lr);
      }
    }
  }
}

TEST_CASE("an early-stopping run checkpoints no state past its stopping point",
          "[train][checkpoint]") {
  const problem p;
  const recorded rec = run_recording(p, {.opt = tmlp::adam{.lr = 2e-2f},
                                         .batch_size = 32,
                                         .epochs = 40,
                                         .seed = 1,
                                         .valid_fraction = 0.3f,
                                         .early_stop = {.patience = 2}});
  REQUIRE(rec.result.status == fit_status::early_stopped);
  // Checkpoints come only when training goes on, so the stopping epoch has none.
  CHECK(rec.states.rbegin()->first + 1 == rec.result.epochs.size());
  CHECK(state_of(rec.states.rbegin()->second).since_best < 2);
  CHECK(!state_of(rec.states.rbegin()->second).best_params.empty());
}

TEST_CASE("a checkpoint file round trips and resumes like the state in memory",
          "[io][checkpoint]") {
  const problem p;
  const tmlp::train_config cfg{.opt = tmlp::adam{.lr = 3e-3f},
                               .sched = tmlp::reduce_on_plateau{.factor = 0.5f, .patience = 1},
                               .batch_size = 64,
                               .epochs = 6,
                               .seed = 9,
                               .valid_fraction = 0.25f,
                               .early_stop = {.patience = 10}};
  const recorded rec = run_recording(p, cfg);
  REQUIRE(rec.states.count(3) == 1);
  const fs::path path = temp_dir() / "run.ckpt";
  tmlp::model at3 = tmlp::model::create(p.spec);
  std::copy(rec.params.at(3).begin(), rec.params.at(3).end(), at3.parameters().begin());
  const tmlp::training_state& s = rec.states.at(3);
  tmlp::save_checkpoint(at3, s, path.string(), R"({"note":"x"})");

  tmlp::loaded_checkpoint c = tmlp::load_checkpoint(path.string());
  CHECK(same_bits(params_of(c.model), rec.params.at(3)));
  CHECK(c.metadata == R"({"note":"x"})");
  CHECK(c.state.epochs_done() == 3);
  CHECK(c.state.n_steps() == s.n_steps());
  CHECK(c.state.optimizer_name() == "adam");
  CHECK(c.state.best_epoch() == s.best_epoch());
  CHECK(state_of(c.state).n_steps == state_of(s).n_steps);
  CHECK(state_of(c.state).optimizer_kind == state_of(s).optimizer_kind);
  CHECK(same_bits(state_of(c.state).moments1, state_of(s).moments1));
  CHECK(same_bits(state_of(c.state).moments2, state_of(s).moments2));
  CHECK(same_bits(state_of(c.state).best_params, state_of(s).best_params));
  CHECK(state_of(c.state).plateau_lr == state_of(s).plateau_lr);
  CHECK(std::memcmp(&state_of(c.state).plateau_best, &state_of(s).plateau_best, sizeof(double)) ==
        0);
  CHECK(state_of(c.state).plateau_bad == state_of(s).plateau_bad);
  CHECK(state_of(c.state).best_epoch == state_of(s).best_epoch);
  CHECK(std::memcmp(&state_of(c.state).best_loss, &state_of(s).best_loss, sizeof(double)) == 0);
  CHECK(state_of(c.state).since_best == state_of(s).since_best);

  tmlp::trainer t(cfg);
  t.resume_from(std::move(c.state));
  t.fit(c.model, p.xv(), p.tv());
  CHECK(same_bits(params_of(c.model), rec.final_params));

  // The same state gives the same bytes.
  const fs::path again = temp_dir() / "again.ckpt";
  tmlp::save_checkpoint(at3, s, again.string(), R"({"note":"x"})");
  CHECK(read_bytes(path) == read_bytes(again));
  fs::remove_all(temp_dir());
}

TEST_CASE("a checkpoint of format version 1 loads, and saves again as version 2",
          "[io][checkpoint]") {
  // tests/fixtures/checkpoint_v1_iris_epoch2.ckpt: epoch 2 of 4 of an Adam run with early
  // stopping on iris (tests/cli/old_checkpoint.sh resumes it through the program).
  const std::string v1 = std::string(TMLP_TEST_FIXTURE_DIR) + "/checkpoint_v1_iris_epoch2.ckpt";
  REQUIRE(read_bytes(v1)[8] == 1);
  const tmlp::loaded_checkpoint c = tmlp::load_checkpoint(v1);
  CHECK(c.state.epochs_done() == 2);
  CHECK(c.state.n_steps() == 2);
  CHECK(c.state.optimizer_name() == "adam");
  CHECK(c.state.best_epoch() == 2);
  const auto& f = state_of(c.state);
  CHECK(f.moments1.size() == c.model.n_params());
  CHECK(f.moments2.size() == c.model.n_params());
  CHECK(f.best_params.size() == c.model.n_params());
  CHECK_THAT(c.metadata, Contains(R"("optimizer":"adam")"));

  const fs::path path = temp_dir() / "v2.ckpt";
  tmlp::save_checkpoint(c.model, c.state, path.string(), c.metadata);
  const std::vector<unsigned char> bytes = read_bytes(path);
  CHECK(bytes[8] == tmlp::checkpoint_format_version);
  const std::string text(bytes.begin(), bytes.end());
  CHECK_THAT(text, Contains(R"("optimizer":"adam")") && !Contains("optimizer_kind"));
  const tmlp::loaded_checkpoint again = tmlp::load_checkpoint(path.string());
  const auto& g = state_of(again.state);
  CHECK(g.optimizer_kind == f.optimizer_kind);
  CHECK(g.n_steps == f.n_steps);
  CHECK(same_bits(g.moments1, f.moments1));
  CHECK(same_bits(g.moments2, f.moments2));
  CHECK(same_bits(g.best_params, f.best_params));
  CHECK(same_bits(params_of(again.model), params_of(c.model)));
  CHECK(std::memcmp(&g.best_loss, &f.best_loss, sizeof(double)) == 0);
  fs::remove_all(temp_dir());
}

TEST_CASE("damaged checkpoint files and mismatched states are clear errors", "[io][checkpoint]") {
  const problem p;
  const tmlp::train_config cfg{
      .opt = tmlp::momentum{.lr = 0.01f}, .batch_size = 100, .epochs = 3, .seed = 1};
  const recorded rec = run_recording(p, cfg);
  const tmlp::training_state& s = rec.states.at(1);
  tmlp::model m = tmlp::model::create(p.spec);
  const fs::path path = temp_dir() / "c.ckpt";
  tmlp::save_checkpoint(m, s, path.string());
  const std::vector<unsigned char> good = read_bytes(path);
  const fs::path bad = temp_dir() / "bad.ckpt";

  SECTION("every truncation") {
    for (std::size_t cut = 0; cut < good.size(); cut += (cut < 400 ? 1 : 997)) {
      CAPTURE(cut);
      write_bytes(bad, {good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut)});
      const std::string e = error_message([&] { tmlp::load_checkpoint(bad.string()); });
      CHECK_THAT(e, Contains(bad.string()) && Contains("not a usable tmlp checkpoint"));
    }
  }
  SECTION("flipped bytes") {
    for (std::size_t at = 0; at < good.size(); at += (at < 400 ? 3 : 1999)) {
      CAPTURE(at);
      std::vector<unsigned char> b = good;
      b[at] ^= 0x20;
      write_bytes(bad, b);
      CHECK_THAT(error_message([&] { tmlp::load_checkpoint(bad.string()); }),
                 Contains("not a usable tmlp checkpoint"));
    }
  }
  SECTION("an unknown optimizer name") {
    std::string text(good.begin(), good.end());
    const std::size_t at = text.find(R"("optimizer":"momentum")");
    REQUIRE(at != std::string::npos);
    text.replace(at, 22, R"("optimizer":"momentun")");
    std::vector<unsigned char> b(text.begin(), text.end());
    const std::size_t sum_at = b.size() - tmlp::io::container_checksum_bytes;
    tmlp::io::put_u64(b.data() + sum_at, tmlp::io::fnv1a(b.data(), sum_at));
    write_bytes(bad, b);
    CHECK_THAT(
        error_message([&] { tmlp::load_checkpoint(bad.string()); }),
        Contains("not a usable tmlp checkpoint") && Contains("unknown optimizer 'momentun'"));
  }
  SECTION("a model file is not a checkpoint, nor the other way round") {
    const fs::path model_path = temp_dir() / "m.tmlp";
    tmlp::save_model(m, model_path.string());
    CHECK_THAT(error_message([&] { tmlp::load_checkpoint(model_path.string()); }),
               Contains("wrong magic"));
    CHECK_THAT(error_message([&] { tmlp::load_model(path.string()); }), Contains("wrong magic"));
  }
  SECTION("missing path and directory") {
    CHECK_THAT(error_message([&] { tmlp::load_checkpoint((temp_dir() / "nope").string()); }),
               Contains("cannot open"));
    CHECK_THAT(error_message([&] { tmlp::load_checkpoint(temp_dir().string()); }),
               Contains("is a directory"));
  }
  SECTION("a state for another optimizer or run length") {
    tmlp::trainer adam_trainer({.opt = tmlp::adam{}, .batch_size = 100, .epochs = 3});
    adam_trainer.resume_from(s);
    CHECK_THAT(error_message([&] { adam_trainer.fit(m, p.xv(), p.tv()); }),
               Contains("optimizer momentum") && Contains("uses adam"));
    tmlp::trainer shorter({.opt = tmlp::momentum{.lr = 0.01f}, .batch_size = 100, .epochs = 3});
    tmlp::training_state late = s;
    state_of(late).epochs_done = 5;
    shorter.resume_from(late);
    CHECK_THAT(error_message([&] { shorter.fit(m, p.xv(), p.tv()); }),
               Contains("5 epochs done") && Contains("runs 3"));
  }
  SECTION("a resume state serves one fit() only") {
    tmlp::trainer t(cfg);
    t.resume_from(rec.states.at(3));  // every epoch done: nothing left to run
    CHECK(t.fit(m, p.xv(), p.tv()).epochs.empty());
    CHECK(t.fit(m, p.xv(), p.tv()).epochs.size() == 3);
  }
  fs::remove_all(temp_dir());
}

TEST_CASE("fit on a row_source gives the bits of fit on the same rows in a matrix",
          "[train][rows]") {
  const problem p;
  const tmlp::train_config cfg{
      .opt = tmlp::adam{.lr = 1e-3f}, .batch_size = 64, .epochs = 3, .n_threads = 2, .seed = 2};
  tmlp::model a = tmlp::model::create(p.spec), b = tmlp::model::create(p.spec);

  SECTION("with a validation fraction") {
    tmlp::train_config c = cfg;
    c.valid_fraction = 0.2f;
    const auto ra = tmlp::trainer(c).fit(a, p.xv(), p.tv());
    const column_major_rows rows(p.xv());
    const auto rb = tmlp::trainer(c).fit(b, rows, p.tv());
    CHECK(same_bits(params_of(a), params_of(b)));
    REQUIRE(rb.epochs.size() == ra.epochs.size());
    CHECK(*rb.epochs.back().valid_loss == *ra.epochs.back().valid_loss);
  }
  SECTION("with a separate validation source") {
    const tmlp::matrix_view xt{p.x.data(), 450, 12}, tt{p.t.data(), 450, 1};
    const tmlp::matrix_view xv{p.x.data() + 450 * 12, 150, 12}, tv{p.t.data() + 450, 150, 1};
    const auto ra = tmlp::trainer(cfg).fit(a, xt, tt, xv, tv);
    const column_major_rows rt(xt), rv(xv);
    const auto rb = tmlp::trainer(cfg).fit(b, rt, tt, &rv, tv);
    CHECK(same_bits(params_of(a), params_of(b)));
    CHECK(*rb.epochs.back().valid_loss == *ra.epochs.back().valid_loss);
  }
  SECTION("a source of the wrong width is an error") {
    const column_major_rows narrow({p.x.data(), 50, 6});
    CHECK_THAT(error_message([&] {
                 tmlp::trainer(cfg).fit(a, narrow, {p.t.data(), 50, 1});
               }),
               Contains("x has 6 columns, expected 12"));
  }
}
