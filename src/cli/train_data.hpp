// `tmlp train`'s data: the training file (CSV or .tmlpd) and the --valid file, the target found
// by name or position, the loss and task, preprocessing fitted on the training rows only, and
// the rows the trainer gathers, shard by shard, from the typed table of either kind of file (the
// parsed columns of a CSV, the mapping of a .tmlpd file, which may be larger than RAM): the
// feature matrix is never materialized.
//
//     std::unique_ptr<train_data> d = load_train_data(o, parse_loss(o.loss));
//     trainer.fit(m, *d->x_train, d->y_train, d->x_valid.get(), d->y_valid);
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "cli/data_source.hpp"
#include "cli/train_flags.hpp"
#include "cli/train_setup.hpp"
#include "tmlp/matrix.hpp"
#include "tmlp/preprocess.hpp"
#include "tmlp/rows.hpp"

namespace tmlp::cli {

// Holds the storage its row sources point into: not copyable or movable (made by
// load_train_data, owned through the pointer).
struct train_data {
  train_data() = default;
  train_data(const train_data&) = delete;
  train_data& operator=(const train_data&) = delete;

  std::string target;  // the target column's name
  loss_choice loss;    // the loss trained and the task it implies
  preprocessor prep;   // fitted on the training rows only

  std::unique_ptr<row_source> x_train, x_valid;  // x_valid: null without validation
  matrix y_train, y_valid;                       // rows x 1 each
  std::string summary;                           // one line: files, rows, features, task

  // Storage behind the row sources: the files' typed tables.
  std::optional<data_source> train_file, valid_file;
  std::unique_ptr<row_source> all_rows;  // every row of the training file, when it is split
};

// Reads o.data (and o.valid), holding out o.valid_fraction of the rows (stratified for classes)
// when there is no --valid file, with tmlp::split_rows (the trainer's own split). A file's
// categorical column that reads as numbers in the --valid CSV is read as categorical there too.
// Throws tmlp::error naming the flag, file or column: an unknown column in --ignore, --numeric
// or --categorical, a target position beyond the columns, a loss that does not fit the target
// (see choose_loss), and every reading or preprocessing error.
std::unique_ptr<train_data> load_train_data(const train_options& o, std::optional<loss_kind> loss);

// The target column's name: `target` itself if a column has that name; otherwise, if it is an
// integer k, column k (1-based; from the end when negative, -1 = last); otherwise `target`
// unchanged (the preprocessor then reports that no such column exists).
std::string resolve_target(const table_view& t, const std::string& target);

}  // namespace tmlp::cli
