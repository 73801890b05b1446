// The checkpoint file of each epoch (`tmlp train --checkpoint PATTERN`).
#include "cli/train_checkpoint.hpp"

namespace tmlp::cli {

std::string checkpoint_path(const std::string& pattern, std::size_t epoch) {
  std::string out = pattern;
  const std::string key = "{epoch}", value = std::to_string(epoch);
  for (std::size_t at = 0; (at = out.find(key, at)) != std::string::npos; at += value.size())
    out.replace(at, key.size(), value);
  return out;
}

}  // namespace tmlp::cli
