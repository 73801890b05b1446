// Checkpoints: a model with the training state that continues its fit().
//
//     cfg.checkpoint_every = 5;
//     cfg.on_checkpoint = [&](const tmlp::training_state& s) {
//       tmlp::save_checkpoint(m, s, "run.ckpt", meta);   // m: the model being trained
//     };
//     ...
//     tmlp::loaded_checkpoint c = tmlp::load_checkpoint("run.ckpt");
//     tmlp::trainer t(cfg);  t.resume_from(std::move(c.state));  t.fit(c.model, x, y);
//
// The same layout as a model file (tmlp/io.hpp) with magic "TMLPCKPT": the JSON holds the
// spec, metadata and the state's scalars (the optimizer by name); the floats are the
// parameters, then the optimizer's moments and the best epoch's parameters. Written atomically
// like save_model, so a kill at any moment leaves the previous checkpoint readable.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "tmlp/model.hpp"

namespace tmlp {

namespace train {
struct training_state_data;  // the fields, private to the library (src/train/training_state.hpp)
struct state_access;
}  // namespace train

// Where a fit() stands after a whole epoch: the optimizer's moments and step count, the
// schedule's and early stopping's state. With the model's parameters of that moment it is
// everything needed to continue: trainer::resume_from() then ends with exactly the parameters
// of a run that was never stopped (the epoch's shuffle and the split are keyed by seed and
// epoch, so there is no other random state). Made by the trainer (train_config::on_checkpoint)
// or read from a file (load_checkpoint); copyable. A moved-from state may only be assigned to
// or destroyed.
class training_state {
 public:
  training_state();  // before the first epoch
  training_state(const training_state& other);
  training_state& operator=(const training_state& other);
  training_state(training_state&&) noexcept;
  training_state& operator=(training_state&&) noexcept;
  ~training_state();

  std::size_t epochs_done() const noexcept;          // whole epochs completed
  std::size_t n_steps() const noexcept;              // optimizer updates so far
  std::string_view optimizer_name() const noexcept;  // "adam", ... (as in tmlp::optimizer)
  std::size_t best_epoch() const noexcept;           // 1-based best epoch so far; 0: none yet

 private:
  friend struct train::state_access;
  std::unique_ptr<train::training_state_data> impl_;
};

// Format 2 stores the optimizer by name; files of format 1 (by its index in tmlp::optimizer)
// still load.
inline constexpr unsigned checkpoint_format_version = 2;

// Writes atomically like save_model (metadata_json: empty or a JSON value). Throws tmlp::error
// (errc::io) naming the path.
void save_checkpoint(const model& m, const training_state& state, const std::string& path,
                     const std::string& metadata_json = "");

struct loaded_checkpoint {
  tmlp::model model;
  training_state state;
  std::string metadata;  // JSON text given to save_checkpoint ("null" if none)
};

// Reads and verifies a checkpoint, with load_model's guarantees for damaged or hostile files.
loaded_checkpoint load_checkpoint(const std::string& path);

}  // namespace tmlp
