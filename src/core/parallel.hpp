// parallel_for_index: the library's one way to fan work out over TBB.
//
//     core::parallel_for_index(n_shards, [&](std::size_t s) { ... shard s ... });
//
// Runs body(i) for every i in [0, n) as its own task (grain 1, simple_partitioner) in the
// caller's task arena and returns when all are done; an exception from a body comes out here.
// Work items are fixed by the caller (shards, parameter blocks, chunks), never by thread count.
//
// ThreadSanitizer builds: TBB's scheduler synchronizes inside libtbb, which is not
// instrumented, so TSan cannot see that the caller's writes happen before a task runs or that
// a task's writes happen before parallel_for_index returns. The annotations below state exactly
// those two edges and nothing between tasks, so a race between two tasks is still reported.
// (cmake/tsan_ignorelist.txt keeps TSan out of TBB's header internals for the same reason.)
#pragma once

#include <cstddef>
#include <utility>

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "core/aligned.hpp"

#if defined(__SANITIZE_THREAD__)
#define TMLP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TMLP_TSAN 1
#endif
#endif

#ifdef TMLP_TSAN
extern "C" void AnnotateHappensBefore(const char* file, int line, const volatile void* addr);
extern "C" void AnnotateHappensAfter(const char* file, int line, const volatile void* addr);
#endif

namespace tmlp::core {

template <class Body>
void parallel_for_index(std::size_t n, Body&& body) {
#ifdef TMLP_TSAN
  char start = 0, finish = 0;
  AnnotateHappensBefore(__FILE__, __LINE__, &start);
#endif
  tbb::parallel_for(
      tbb::blocked_range<std::size_t>(0, n, 1),
      [&](const tbb::blocked_range<std::size_t>& r) {
#ifdef TMLP_TSAN
        AnnotateHappensAfter(__FILE__, __LINE__, &start);
#endif
        for (std::size_t i = r.begin(); i != r.end(); ++i) body(i);
#ifdef TMLP_TSAN
        AnnotateHappensBefore(__FILE__, __LINE__, &finish);
#endif
      },
      tbb::simple_partitioner());
#ifdef TMLP_TSAN
  AnnotateHappensAfter(__FILE__, __LINE__, &finish);
#endif
}

// Storage for per_thread: operator new, aligned to a cache line pair as oneTBB pads the
// elements. oneTBB's own allocator takes memory from libtbbmalloc where that is installed, and
// ThreadSanitizer does not see its frees: a block one thread's scratch had used, handed to
// another thread's scratch table (whose slots oneTBB zeroes with memset), read as a race.
template <class T>
using per_thread_allocator = aligned_allocator<T, 2 * cache_line>;

// Scratch of each thread that runs tasks, made on its first use (workspaces of a pass).
template <class T>
using per_thread = tbb::enumerable_thread_specific<T, per_thread_allocator<T>>;

// The size of a task_arena for n_threads (0: every CPU): no more than the CPUs this process may
// use (its affinity, which an MPI launcher narrows), which is all TBB would give it anyway.
inline int arena_threads(int n_threads) noexcept {
  const int cpus = tbb::info::default_concurrency();
  return n_threads > 0 && n_threads < cpus ? n_threads : cpus;
}

}  // namespace tmlp::core
