// SIGINT while training without the GIL (see interrupt.hpp).
#include "interrupt.hpp"

#include <atomic>

#include "bindings.hpp"

namespace tmlp::python {
namespace {

std::atomic<bool> hit{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_sigint(int) { hit.store(true, std::memory_order_relaxed); }

bool on_main_thread() {
  const py::module_ threading = py::module_::import("threading");
  return threading.attr("current_thread")().is(threading.attr("main_thread")());
}

}  // namespace

interrupt_guard::interrupt_guard() {
  hit.store(false, std::memory_order_relaxed);
  if (!on_main_thread()) return;
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  installed_ = sigaction(SIGINT, &sa, &previous_) == 0;
}

interrupt_guard::~interrupt_guard() {
  if (installed_) sigaction(SIGINT, &previous_, nullptr);
}

bool interrupt_guard::interrupted() noexcept { return hit.load(std::memory_order_relaxed); }

}  // namespace tmlp::python
