#include "core/workspace.hpp"

#include "core/network.hpp"

namespace tmlp::core {

slot workspace_plan::floats(std::size_t per_row, std::size_t fixed) {
  entries_.push_back({per_row, fixed, false});
  return static_cast<slot>(entries_.size() - 1);
}

slot workspace_plan::doubles(std::size_t n) {
  entries_.push_back({0, n, true});
  return static_cast<slot>(entries_.size() - 1);
}

workspace::workspace(const network& net, std::size_t max_rows)
    : max_rows_(max_rows), in_(net.ops.size()), out_(net.ops.size()) {
  std::size_t n_floats = 0, n_doubles = 0;
  for (const workspace_plan::entry& e : net.plan.entries_) {
    std::size_t& n = e.is_double ? n_doubles : n_floats;
    off_.push_back(n);
    n += e.is_double ? line_multiple<double>(e.per_row * max_rows + e.fixed)
                     : line_multiple<float>(e.per_row * max_rows + e.fixed);  // each on a line
  }
  buf_.assign(n_floats, 0.0f);
  dbuf_.assign(n_doubles, 0.0);
}

}  // namespace tmlp::core
