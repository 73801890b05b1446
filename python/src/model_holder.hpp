// What a tmlp.Model holds: the model and the JSON metadata of its file ("null" if none).
#pragma once

#include <string>

#include "tmlp/model.hpp"

namespace tmlp::python {

struct model_holder {
  tmlp::model model;
  std::string metadata = "null";
};

}  // namespace tmlp::python
