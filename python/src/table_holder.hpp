// What a tmlp.Table holds: an in-memory table or a memory-mapped .tmlpd file behind one view,
// as the program and the C API hold their data files (tmlp/data_source.hpp).
#pragma once

#include "tmlp/data_source.hpp"

namespace tmlp::python {

using table_holder = data_source;

}  // namespace tmlp::python
