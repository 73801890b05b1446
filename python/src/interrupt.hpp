// Ctrl-C during a call that runs without the GIL: Python's own SIGINT handler only sets a flag
// that the interpreter checks between bytecodes, which never happens while C++ trains. While an
// interrupt_guard lives (made on the main thread), SIGINT sets our flag instead; the training
// callbacks read it and stop at the next batch; the destructor puts Python's handler back.
#pragma once

#include <csignal>

namespace tmlp::python {

class interrupt_guard {
 public:
  // Installs the handler if the calling thread is Python's main thread (the only one Python
  // delivers signals to); elsewhere it does nothing and interrupted() stays false.
  interrupt_guard();
  ~interrupt_guard();
  interrupt_guard(const interrupt_guard&) = delete;
  interrupt_guard& operator=(const interrupt_guard&) = delete;

  // A SIGINT arrived since this guard was made.
  static bool interrupted() noexcept;

 private:
  bool installed_ = false;
  struct sigaction previous_ {};
};

}  // namespace tmlp::python
