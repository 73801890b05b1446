// From `tmlp train`'s options to the library's configs: every value checked once, here, with
// a one-line tmlp::error (errc::invalid_argument) that names the flag, the value and what was
// expected, before any data is read.
//
//     const auto hidden = tmlp::cli::hidden_layers(o);          // --layers, --activation
//     tmlp::train_config cfg = tmlp::cli::make_train_config(o);  // everything else that trains
//     const auto loss = tmlp::cli::parse_loss(o.loss);          // auto: empty
//     ... load the data; choose_loss(loss, task, ...) once the target is known ...
//     tmlp::model m = tmlp::model::create(tmlp::cli::make_model_spec(hidden, prep, l, o.seed));
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/train_flags.hpp"
#include "tmlp/model.hpp"
#include "tmlp/preprocess.hpp"
#include "tmlp/trainer.hpp"

namespace tmlp::cli {

// --activation NAME; an unknown name is an error listing the choices.
activation parse_activation(const std::string& name);

// --optimizer NAME with --lr (lr <= 0: the optimizer's default rate).
optimizer parse_optimizer(const std::string& name, float lr);

// --layers: positive widths, comma-separated ("256,128").
std::vector<std::size_t> parse_widths(const std::string& text);

// --layers (positive widths, comma-separated) with --activation, --dropout, --layer-norm,
// --residual and --batch-norm on each.
std::vector<dense_spec> hidden_layers(const train_options& o);

// --schedule TEXT: constant | step[:EPOCHS[:GAMMA]] | exp[:GAMMA] |
// cosine[:WARMUP[:MIN_FRACTION]] | plateau[:FACTOR[:PATIENCE]].
schedule parse_schedule(const std::string& text);

// Every schedule with its arguments, joined: schedule_choices("|") is
// "constant|step[:EPOCHS[:GAMMA]]|...", schedule_choices(", ", " or ") "constant, ... or
// plateau[...]".
std::string schedule_choices(std::string_view sep, std::string_view last_sep = {});

// Optimizer (--optimizer, --lr, --weight-decay), --schedule, --batch-size, --epochs, --l1,
// --l2, --clip-norm, --clip-value, --early-stop, --threads, --seed. No callbacks, no validation
// split (the program makes its own).
train_config make_train_config(const train_options& o);

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

}  // namespace tmlp::cli
