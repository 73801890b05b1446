// `tmlp train`'s data files: the training file (CSV or .tmlpd) and the --valid file, opened
// (a .tmlpd file is mapped, never parsed) and handed to tmlp::prepare_training, which finds the
// target, the loss and task, fits preprocessing on the training rows only and makes the row
// sources the trainer gathers from, shard by shard: the feature matrix is never materialized.
//
//     std::unique_ptr<train_data> d = load_train_data(o);
//     trainer.fit(m, *d->rows->x_train, d->rows->y_train, d->rows->x_valid.get(), ...);
#pragma once

#include <memory>
#include <optional>

#include "tmlp/data_source.hpp"
#include "tmlp/train_options.hpp"
#include "tmlp/training_data.hpp"

namespace tmlp::cli {

// The files and what prepare_training made of them; the row sources point into the files'
// tables, so this is not copyable or movable (owned through the pointer).
struct train_data {
  train_data() = default;
  train_data(const train_data&) = delete;
  train_data& operator=(const train_data&) = delete;

  std::optional<data_source> train_file, valid_file;
  std::unique_ptr<training_data> rows;
};

// Reads o.data (and o.valid) and prepares them (tmlp::prepare_training). A column categorical
// in the training file that reads as numbers in the --valid CSV is read as categorical there
// too. Throws tmlp::error naming the flag, file or column.
std::unique_ptr<train_data> load_train_data(const train_options& o);

}  // namespace tmlp::cli
