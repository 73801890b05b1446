// Ensembles: K members that differ only in their seed, trained on the same rows and
// preprocessing and stored in one model file (tmlp/io.hpp); a prediction is the mean of the
// members' outputs (class probabilities for bce and ce, values for regression), taken in member
// order so that it is the same for any thread count.
//
//     tmlp::train_options o;  o.target = "churn";  o.ensemble = 5;
//     std::unique_ptr<tmlp::training_data> d = tmlp::prepare_training(o, t);
//     tmlp::ensemble_fit f = tmlp::fit_ensemble(o, *d, tmlp::make_train_config(o));
//     tmlp::save_model(f.file(o, *d), "churn.tmlp");
//
// Member 0 is trained with o.seed, so an ensemble of one is exactly the model `tmlp train`
// makes without --ensemble; member i > 0 with member_seed(o.seed, i). Members train side by side
// when there are threads for it (plan_ensemble), each in its own task arena; each member's
// result is bit-identical for any thread count, so the ensemble's is too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "tmlp/io.hpp"
#include "tmlp/matrix.hpp"
#include "tmlp/model.hpp"
#include "tmlp/trainer.hpp"
#include "tmlp/training_data.hpp"

namespace tmlp {

// The most members --ensemble takes.
inline constexpr std::uint64_t max_ensemble = 256;

// The seed of member `member` of an ensemble trained with `seed`: seed itself for member 0, a
// splitmix64 mix of (seed, member) for the others. Seeds both the parameters' initialization
// (model_spec::seed) and the shuffling (train_config::seed); the validation split and the
// preprocessing stay those of `seed`.
std::uint64_t member_seed(std::uint64_t seed, std::size_t member) noexcept;

// How n_members share n_threads (0: every core): `at_once` members train side by side, member
// i with threads[i] threads. Members never wait for each other, so side by side is preferred:
// at_once = min(n_members, threads), the threads split evenly (the first ones get the rest).
struct ensemble_plan {
  std::size_t at_once = 1;
  std::vector<int> threads;  // one per member
};
ensemble_plan plan_ensemble(std::size_t n_members, int n_threads);

// The mean of the members' outputs for x (rows x n_inputs) into out (rows x n_outputs): each
// member's predict() (probabilities for bce and ce), summed in double in member order, divided
// by the count and rounded to float once. One member: its own outputs. The members must have the
// same inputs and outputs (tmlp::error otherwise); options.raw with more than one member is a
// tmlp::error (a mean of logits is not the ensemble's prediction).
void predict_mean(std::span<const model* const> members, matrix_view x, matrix_span out,
                  const predict_options& options = {});

// The members of l (l.model, then l.more_members), as predict_mean takes them.
std::vector<const model*> members_of(const loaded_model& l);

struct ensemble_fit {
  std::vector<model> members;       // o.ensemble of them, member 0 first
  std::vector<fit_result> results;  // one per member

  // The model file's content: the members and model_metadata (the first member's fit, and
  // with more than one, "members" in "training": each one's seed, epochs run, best epoch and
  // status). Moves the members out.
  loaded_model file(const train_options& o, const training_data& d);
};

// Trains o.ensemble members on d with cfg (make_train_config(o)): member i's network is
// training_model_spec(o, d) with model_spec::seed and train_config::seed member_seed(o.seed, i),
// with plan_ensemble's threads. cfg's callbacks are called one at a time whatever the members
// running, with each report's `member` set; a false return stops every member at its next
// batch. cfg.on_checkpoint is not supported with more than one member (tmlp::error). Throws
// what a fit throws; a diverged member is reported in its result.
ensemble_fit fit_ensemble(const train_options& o, const training_data& d, train_config cfg);

}  // namespace tmlp
