// From `tmlp train`'s options to the library's configs, every value checked before any data is
// read, with a one-line tmlp::error (errc::invalid_argument) that names the flag, the value and
// what was expected: ranges by the library's own validation, its field names turned into flags
// (flag_terms), the rest (syntax, limits of the program) here.
//
//     const auto hidden = tmlp::hidden_layers(o);          // --layers, --activation
//     tmlp::train_config cfg = tmlp::make_train_config(o);  // everything else that trains
//     const auto loss = tmlp::parse_loss(o.loss);          // auto: empty
//     ... load the data; choose_loss(loss, task, ...) once the target is known ...
//     tmlp::model m = tmlp::model::create(tmlp::make_model_spec(hidden, prep, l, o.seed));
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tmlp/error.hpp"
#include "tmlp/model.hpp"
#include "tmlp/preprocess.hpp"
#include "tmlp/train_options.hpp"
#include "tmlp/trainer.hpp"

namespace tmlp {

// message with each library field that a flag sets ("train_config.l1", "model_spec.layers[0]
// .dropout") replaced by the flag ("--l1", "--dropout"): "train_config.l1: -1 is not a finite
// value >= 0" reads "--l1: -1 is not a finite value >= 0". Other text is left as it is.
std::string flag_terms(std::string_view message);

// Runs f; a tmlp::error out of it comes out with its message in flag terms. For the library
// calls that check values made from flags (validate, model::create, preprocessor::fit).
template <class F>
decltype(auto) with_flag_names(F&& f) {
  try {
    return f();
  } catch (const error& e) {
    throw error(e.code(), flag_terms(e.what()));
  }
}

// --activation NAME; an unknown name is an error listing the choices.
activation parse_activation(const std::string& name);

// --optimizer NAME with --lr (lr <= 0: the optimizer's default rate).
optimizer parse_optimizer(const std::string& name, float lr);

// --layers: whole numbers, comma-separated ("256,128"); their range is the library's to check.
std::vector<std::size_t> parse_widths(const std::string& text);

// --layers (positive widths, comma-separated) with --activation, --dropout, --layer-norm,
// --residual and --batch-norm on each, checked by tmlp::validate(model_spec).
std::vector<dense_spec> hidden_layers(const train_options& o);

// --numeric-embedding none|periodic with --periodic-frequencies, --periodic-dim and
// --periodic-sigma: the periodic embedding every numeric column gets (its column left 0), or
// nothing for none; checked by tmlp::validate(model_spec). An unknown name is an error listing
// the choices.
std::optional<periodic_embedding_spec> numeric_embedding(const train_options& o);

// --schedule TEXT: constant | step[:EPOCHS[:GAMMA]] | exp[:GAMMA] |
// cosine[:WARMUP[:MIN_FRACTION]] | plateau[:FACTOR[:PATIENCE]].
schedule parse_schedule(const std::string& text);

// Every schedule with its arguments, joined: schedule_choices("|") is
// "constant|step[:EPOCHS[:GAMMA]]|...", schedule_choices(", ", " or ") "constant, ... or
// plateau[...]".
std::string schedule_choices(std::string_view sep, std::string_view last_sep = {});

// Optimizer (--optimizer, --lr, --weight-decay), --schedule, --batch-size, --epochs, --l1,
// --l2, --clip-norm, --clip-value, --early-stop, --threads, --seed, checked by
// tmlp::validate(train_config) (with --valid-fraction). No callbacks, no validation split (the
// program makes its own).
train_config make_train_config(const train_options& o);

// A config for a trainer on arrays (tmlp.Trainer in Python, tmlp_trainer_create in C) from the
// options in o that `given` names (flag names, '-' or '_' spelling): each must be a flag marked
// train_flag::trainer, else a tmlp::error names it; the trainer flags not given take the
// library's train_config defaults (10 epochs, no validation split, no early stopping) rather
// than the program's.
train_config trainer_config(train_options o, std::span<const std::string> given);

// --loss: empty for auto; an unknown name is an error listing the choices.
std::optional<loss_kind> parse_loss(const std::string& name);

// The loss and task to train: auto (empty) gives the inferred task's loss (bce for binary, ce
// for multiclass, mse for regression). mse, mae and huber make a numeric column (not text, not
// yes/no) a regression target even if its values look like classes; bce needs a binary
// target, ce a multiclass one. A loss that does not fit is an error naming --loss, the target
// and its task.
struct loss_choice {
  loss_kind loss = loss_kind::mse;
  task_kind task = task_kind::regression;
};
loss_choice choose_loss(std::optional<loss_kind> loss, task_kind inferred, bool numeric_target,
                        const std::string& target);

// The network: prep.n_features() inputs (an embedding of embedding_dim values for each of
// prep's embedded features), the hidden layers, an identity output layer (one unit, or one per
// class for multiclass), and the loss, initialized from seed.
model_spec make_model_spec(const std::vector<dense_spec>& hidden, const preprocessor& prep,
                           loss_kind loss, std::uint64_t seed, std::size_t embedding_dim);

}  // namespace tmlp
