#include "core/aligned.hpp"

#include <sys/mman.h>

#include <cstring>

namespace tmlp::core {
namespace {
constexpr std::size_t own_pages_from = std::size_t{1} << 20;
}  // namespace

void* zeroed_block(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  if (bytes >= own_pages_from) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return p;
  }
  void* p = ::operator new (bytes, std::align_val_t{cache_line});
  std::memset(p, 0, bytes);
  return p;
}

void free_zeroed_block(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  if (bytes >= own_pages_from)
    ::munmap(p, bytes);
  else
    ::operator delete (p, std::align_val_t{cache_line});
}

}  // namespace tmlp::core
