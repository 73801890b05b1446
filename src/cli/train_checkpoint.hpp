// `tmlp train --checkpoint PATTERN`: the file of each checkpoint. (What a checkpoint records
// about the run, and the same-run check of --resume: tmlp/training_data.hpp.)
#pragma once

#include <cstddef>
#include <string>

namespace tmlp::cli {

// pattern with each "{epoch}" replaced by epoch.
std::string checkpoint_path(const std::string& pattern, std::size_t epoch);

}  // namespace tmlp::cli
