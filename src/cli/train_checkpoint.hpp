// `tmlp train --checkpoint / --resume`: what a checkpoint records about the run besides the
// library's training_state, and the check that a resumed run is the same run.
//
//     cfg.on_checkpoint = [&](const tmlp::training_state& s) {
//       tmlp::save_checkpoint(m, s, checkpoint_path(o.checkpoint, s.epochs_done()), meta);
//     };
//     tmlp::loaded_checkpoint c = tmlp::load_checkpoint(o.resume);
//     check_same_run(o.resume, c.metadata, meta);  // throws naming the first flag that differs
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "cli/train_options.hpp"
#include "tmlp/preprocess.hpp"

namespace tmlp::cli {

// Flag f's value in o as checkpoints and model files record it: numbers as their shortest text
// ("0.01"), an unset number as null, switches as booleans, whole numbers as numbers, lists as
// arrays, text as it is.
nlohmann::ordered_json flag_json(const train_flag& f, const train_options& o);

// The checkpoint's metadata: the flags marked in_checkpoint (those that shape the result; not
// --threads, which never does, nor output paths), in the table's order, --valid-fraction as 0
// with a --valid file; the preprocessing fitted on the data, and the row counts.
std::string checkpoint_metadata(const train_options& o, const preprocessor& prep,
                                std::size_t n_train, std::size_t n_valid);

// pattern with each "{epoch}" replaced by epoch.
std::string checkpoint_path(const std::string& pattern, std::size_t epoch);

// Throws tmlp::error naming `path` and the first option (as its flag) whose value differs
// between the checkpoint's run and this one, or saying that the data differs.
void check_same_run(const std::string& path, const std::string& saved_metadata,
                    const std::string& current_metadata);

}  // namespace tmlp::cli
