// What a tmlp::model holds: its spec, the validated network layout and the parameters.
#pragma once

#include <vector>

#include "core/network.hpp"
#include "tmlp/model.hpp"

namespace tmlp {

struct model::impl {
  model_spec spec;
  core::network net;
  std::vector<float> params;  // net.n_params values
};

}  // namespace tmlp
