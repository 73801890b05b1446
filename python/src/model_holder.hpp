// What a tmlp.Model holds: the model (an ensemble's member 0), the JSON metadata of its file
// ("null" if none) and an ensemble's other members (tmlp/ensemble.hpp).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tmlp/io.hpp"
#include "tmlp/model.hpp"

namespace tmlp::python {

struct model_holder {
  tmlp::model model;
  std::string metadata = "null";
  std::vector<tmlp::model> more_members;  // an ensemble's members 1..K-1; empty: one model

  static model_holder of(loaded_model l) {
    return {std::move(l.model), std::move(l.metadata), std::move(l.more_members)};
  }
  // The model file's content, copied.
  loaded_model file() const { return {model, metadata, more_members}; }
  std::size_t n_members() const noexcept { return 1 + more_members.size(); }
};

}  // namespace tmlp::python
