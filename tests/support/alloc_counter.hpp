// Counts calls to the global operator new (all of the test binary's allocations through new),
// so a test can prove a stretch of code allocates nothing. Defined in alloc_counter.cpp.
#pragma once

#include <cstdint>

namespace tmlp::test {
std::uint64_t allocations() noexcept;
}
