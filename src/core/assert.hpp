// TMLP_ASSERT: an always-on check of an internal invariant (a bug if it fails, never a user
// mistake). Prints the condition with file:line and aborts. Keep it out of per-element loops.
#pragma once

#include <cstdio>
#include <cstdlib>

#define TMLP_ASSERT(cond)                                                                     \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "tmlp: internal error: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)
