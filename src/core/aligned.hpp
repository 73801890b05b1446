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
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace tmlp::core {

// bytes of zeros on a cache line (aligned.cpp); throws std::bad_alloc. free_zeroed_block takes
// the same size back.
void* zeroed_block(std::size_t bytes);
void free_zeroed_block(void* p, std::size_t bytes) noexcept;

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

// n values of T on a cache line from the heap, not initialized: scratch a pass writes before it
// reads it (predict's transposed weights), where a vector's zeroing would be a pass of its own.
struct aligned_delete {
  void operator()(void* p) const noexcept { ::operator delete (p, std::align_val_t{cache_line}); }
};
template <class T>
using aligned_buffer = std::unique_ptr<T[], aligned_delete>;
template <class T>
aligned_buffer<T> make_aligned_buffer(std::size_t n) {
  static_assert(std::is_trivially_default_constructible_v<T> &&
                std::is_trivially_destructible_v<T>);
  return aligned_buffer<T>(
      static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{cache_line})));
}

// n rounded up to whole cache lines of T: where a buffer's parts start inside it.
template <class T>
constexpr std::size_t line_multiple(std::size_t n) noexcept {
  constexpr std::size_t per_line = cache_line / sizeof(T);
  return (n + per_line - 1) / per_line * per_line;
}

// n values of T set to zero, fixed in size. From a megabyte on, the block is pages of its own
// from the OS, which come zeroed and take memory only once written: a shard's gradient, whose
// parts for the layers the step multiplies over every shard at once (train/weight_products.cpp)
// are never written, costs only what its shard writes (B: 16 shards x 8.9 MB, of which about
// 0.5 MB is written). Smaller blocks are cache-line aligned from the heap, zeroed here.
template <class T>
class zeroed_array {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  zeroed_array() noexcept = default;
  explicit zeroed_array(std::size_t n) : n_(n) {
    data_ = static_cast<T*>(zeroed_block(n * sizeof(T)));
  }
  zeroed_array(zeroed_array&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  zeroed_array& operator=(zeroed_array&& o) noexcept {
    if (this != &o) {
      free_zeroed_block(data_, n_ * sizeof(T));
      data_ = std::exchange(o.data_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  zeroed_array(const zeroed_array&) = delete;
  zeroed_array& operator=(const zeroed_array&) = delete;
  ~zeroed_array() { free_zeroed_block(data_, n_ * sizeof(T)); }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return n_; }
  T* begin() noexcept { return data_; }
  T* end() noexcept { return data_ + n_; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }

 private:
  T* data_ = nullptr;
  std::size_t n_ = 0;
};

}  // namespace tmlp::core
