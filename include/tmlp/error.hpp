// tmlp::error: the one exception type the library throws for a user's mistake (a bad spec,
// config, flag, file or model) or an unusable environment. what() is one line that names the
// value, the place (file:line:column for data) and what was expected.
//
//     try { ... } catch (const tmlp::error& e) { std::cerr << e.what() << '\n'; }
#pragma once

#include <stdexcept>
#include <string>

namespace tmlp {

enum class errc : int {
  invalid_argument = 1,  // a spec, config or call argument out of its domain
  invalid_data,          // a data file or matrix the library cannot use
  io,                    // a file that cannot be opened, read or written
  corrupt_model,         // a model or checkpoint file that fails its checks
  unsupported,           // something this build or machine cannot do
  cancelled,             // a run stopped on request
};

class error : public std::runtime_error {
 public:
  error(errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
  errc code() const noexcept { return code_; }

 private:
  errc code_;
};

}  // namespace tmlp
