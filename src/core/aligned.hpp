// Vectors whose storage starts on a cache line: the step's and the products' large buffers.
//
//     core::aligned_vector<float> grad(net.n_params);  // grad.data() % 64 == 0
//
// A plain std::vector of a megabyte or more starts 16 bytes past a page (glibc hands such
// blocks out by mmap, after its chunk header), so every 64-byte vector the kernels load from
// it spans two cache lines. On a Zen 5 at 2 threads (CPUs on two dies), the step's buffers on
// cache lines trained A 11-12% (fp32) and 10-14% (bf16) more samples/s, B 1-7% (fp32) and
// 12-20% (bf16) more, and halved H's reduction, with the same bits (README, Performance).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace tmlp::core {

inline constexpr std::size_t cache_line = 64;

template <class T, std::size_t Align = cache_line>
struct aligned_allocator {
  using value_type = T;
  static constexpr std::align_val_t alignment{Align};
  template <class U>
  struct rebind {
    using other = aligned_allocator<U, Align>;
  };
  aligned_allocator() noexcept = default;
  template <class U>
  aligned_allocator(const aligned_allocator<U, Align>& /*other*/) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), alignment)); }
  void deallocate(T* p, std::size_t /*n*/) noexcept { ::operator delete(p, alignment); }
  template <class U>
  bool operator==(const aligned_allocator<U, Align>& /*other*/) const noexcept {
    return true;
  }
};

template <class T>
using aligned_vector = std::vector<T, aligned_allocator<T>>;

// n rounded up to whole cache lines of T: where a buffer's parts start inside it.
template <class T>
constexpr std::size_t line_multiple(std::size_t n) noexcept {
  constexpr std::size_t per_line = cache_line / sizeof(T);
  return (n + per_line - 1) / per_line * per_line;
}

}  // namespace tmlp::core
