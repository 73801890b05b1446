// tmlp.Trainer: placeholder until the train-options API lands.
#include "bindings.hpp"

namespace tmlp::python {
void bind_train(py::module_&) {}
}  // namespace tmlp::python
