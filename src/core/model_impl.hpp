// What a tmlp::model holds: its spec, the validated network layout and the parameters, and the
// library's access to them (private: nothing in include/tmlp names it).
//
//     core::model_impl(m).net;     // the layout
//     core::model_impl(m).params;  // the flat parameter vector
#pragma once

#include <vector>

#include "core/aligned.hpp"
#include "core/network.hpp"
#include "tmlp/model.hpp"

namespace tmlp {

struct model::impl {
  model_spec spec;
  core::network net;
  core::aligned_vector<float> params;  // net.n_params values
};

namespace core {

struct model_access {
  static model::impl& of(model& m) noexcept { return *m.impl_; }
  static const model::impl& of(const model& m) noexcept { return *m.impl_; }
};

inline auto& model_impl(model& m) noexcept { return model_access::of(m); }
inline const auto& model_impl(const model& m) noexcept { return model_access::of(m); }

}  // namespace core
}  // namespace tmlp
