// What `tmlp train` does between reading its data and calling trainer::fit, and what it records
// afterwards, as library calls on tables: the Python and C bindings run exactly these steps,
// so the same data, options and seed give the same model file from any of them.
//
//     tmlp::train_options o;  o.target = "churn";  o.layers = "256,128";   // the train flags
//     tmlp::table t = tmlp::read_csv("train.csv");
//     std::unique_ptr<tmlp::training_data> d = tmlp::prepare_training(o, t);
//     tmlp::model m = tmlp::model::create(tmlp::training_model_spec(o, *d));
//     tmlp::fit_result r = tmlp::trainer(tmlp::make_train_config(o))
//                              .fit(m, *d->x_train, d->y_train, d->x_valid.get(), d->y_valid,
//                                   d->w_train);
//     tmlp::save_model(m, "churn.tmlp", tmlp::model_metadata(o, *d, r, r.epochs.size()));
//
// Every check names the flag (--target, --valid-fraction, ...) as the program's messages do.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tmlp/data.hpp"
#include "tmlp/matrix.hpp"
#include "tmlp/preprocess.hpp"
#include "tmlp/rows.hpp"
#include "tmlp/train_options.hpp"
#include "tmlp/train_setup.hpp"
#include "tmlp/trainer.hpp"

namespace tmlp {

// The rows a fit trains and validates on. Holds row sources that point into the tables given to
// prepare_training (which must outlive it) and into itself: not copyable or movable.
struct training_data {
  training_data() = default;
  training_data(const training_data&) = delete;
  training_data& operator=(const training_data&) = delete;

  std::string target;  // the target column's name
  loss_choice loss;    // the loss trained and the task it implies
  preprocessor prep;   // fitted on the training rows only

  std::unique_ptr<row_source> x_train, x_valid;  // x_valid: null without validation
  matrix y_train, y_valid;                       // rows x 1 each
  std::vector<float> w_train;                    // the training rows' weights; empty: none
  std::string summary;                           // one line: source(s), rows, features, task

  std::unique_ptr<row_source> all_rows;  // every row of the training table, when it is split
};

// The target column's name: `target` itself if a column has that name; otherwise, if it is an
// integer k, column k (1-based; from the end when negative, -1 = last); otherwise `target`
// unchanged (the preprocessor then reports that no such column exists).
std::string resolve_target(const table_view& t, const std::string& target);

// Checks the options that need the data (--ignore, --target, --embedding-dim, --loss against
// the target), chooses the loss and task, fits preprocessing on the training rows only and
// makes the row sources: with `valid`, every row of `train` trains and `valid` validates;
// without, o.valid_fraction of train's rows are held out (stratified for classes, seeded by
// o.seed, with tmlp::split_rows, the trainer's own split). weights: one per row of train (the
// training rows' are kept in w_train), or empty. The features are never materialized: the row
// sources transform each shard's rows from the table. Throws tmlp::error naming the flag, the
// table or the column.
std::unique_ptr<training_data> prepare_training(const train_options& o, const table_view& train,
                                                const table_view* valid = nullptr,
                                                std::span<const float> weights = {});

// The label smoothing of a run that sets none: 0.1 for a classification loss (bce, ce), which
// keeps the network from driving its logits ever further on rows it already classifies (as in
// RealMLP, Holzmüller et al. 2024); 0 for the others.
float default_label_smoothing(loss_kind loss) noexcept;

// The network for d: its features in, o's hidden layers, the output layer for d's task and
// loss, o.seed (= make_model_spec(hidden_layers(o), d.prep, d.loss.loss, o.seed,
// o.embedding_dim)); then --label-smoothing (or its default), --feature-scale, and with
// --numeric-embedding periodic, a periodic embedding of each numeric column's value feature (not
// booleans, missing indicators, piecewise-linear bins or categorical features).
model_spec training_model_spec(const train_options& o, const training_data& d);

// A model file's metadata as `tmlp train` writes it: the preprocessing, and in "training" the
// flags marked in_model (o.data by its file name; the target and loss as resolved from the
// data), the epochs run, the best epoch and the status.
std::string model_metadata(const train_options& o, const training_data& d, const fit_result& r,
                           std::size_t epochs_run);

// A checkpoint's metadata: the flags marked in_checkpoint (those that shape the result), in the
// table's order, --valid-fraction as 0 with a --valid file; the preprocessing and the row
// counts.
std::string checkpoint_metadata(const train_options& o, const training_data& d);

// Throws tmlp::error naming `path` and the first flag whose value differs between the
// checkpoint's run (saved_metadata) and this one (current_metadata), or saying that the data
// differs. --epochs may grow (a finished or interrupted run taken further: the same result as a
// run started with the larger count) when the schedule does not depend on the total, and not
// below epochs_done, the epochs the checkpoint has run.
void check_same_run(const std::string& path, const std::string& saved_metadata,
                    const std::string& current_metadata, std::size_t epochs_done);

}  // namespace tmlp
