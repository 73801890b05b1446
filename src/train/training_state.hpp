// What a tmlp::training_state holds, and the library's access to it (private: nothing in
// include/tmlp names it). The trainer fills it at a checkpoint and reads it on resume; the
// checkpoint file format (src/io/checkpoint.cpp) stores and reads its fields.
//
//     tmlp::training_state s = train::state_access::make({.epochs_done = 3, ...});
//     const train::training_state_data& f = train::state_of(s);
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "tmlp/checkpoint.hpp"

namespace tmlp::train {

struct training_state_data {
  std::size_t epochs_done = 0;  // whole epochs completed
  std::size_t n_steps = 0;      // optimizer updates so far (Adam's bias correction counts them)
  int optimizer_kind = 0;       // index into tmlp::optimizer, checked on resume
  std::vector<float> moments1;  // optimizer state: momentum, first moment or squared sums
  std::vector<float> moments2;  // second moment (Adam, AdamW); empty otherwise
  float plateau_lr = 0.0f;      // reduce_on_plateau: current rate, best loss, bad epochs
  double plateau_best = 0.0;
  std::size_t plateau_bad = 0;
  std::size_t best_epoch = 0;  // early stopping: best epoch (0: none yet), its loss, and
  double best_loss = 0.0;      // epochs since it
  std::size_t since_best = 0;
  std::vector<float> best_params;  // parameters of best_epoch when early stopping restores
                                   // them; empty otherwise
};

struct state_access {
  static training_state make(training_state_data fields) {
    training_state s;
    *s.impl_ = std::move(fields);
    return s;
  }
  static training_state_data& of(training_state& s) noexcept { return *s.impl_; }
  static const training_state_data& of(const training_state& s) noexcept { return *s.impl_; }
};

inline training_state_data& state_of(training_state& s) noexcept { return state_access::of(s); }
inline const training_state_data& state_of(const training_state& s) noexcept {
  return state_access::of(s);
}

}  // namespace tmlp::train
