// The row sources of a table's preprocessed features for tmlp train (feature_source.hpp).
#include "train/feature_source.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <numeric>
#include <vector>

#include <tbb/task_arena.h>

#include "core/parallel.hpp"

namespace tmlp::train {

feature_matrix::feature_matrix(const preprocessor& p, const table_view& t, int threads)
    : x_(t.n_rows, p.n_features()) {
  const preprocessor::binding b = p.bind(t);
  constexpr std::size_t block = 4096;  // rows per task
  tbb::task_arena arena(threads > 0 ? threads : tbb::task_arena::automatic);
  arena.execute([&] {
    core::parallel_for_index((t.n_rows + block - 1) / block, [&](std::size_t i) {
      const std::size_t r0 = i * block, n = std::min(block, t.n_rows - r0);
      std::vector<std::uint32_t> idx(n);
      std::iota(idx.begin(), idx.end(), static_cast<std::uint32_t>(r0));
      p.transform_rows(b, idx.data(), n, x_.row(r0));
    });
  });
}

void feature_matrix::gather(const std::uint32_t* idx, std::size_t n, float* out) const noexcept {
  const std::size_t cols = x_.cols();
  for (std::size_t i = 0; i < n; ++i)
    std::memcpy(out + i * cols, x_.row(idx[i]), cols * sizeof(float));
}

std::unique_ptr<row_source> feature_source(const preprocessor& p, const table_view& t, int threads,
                                           double max_bytes) {
  if (max_bytes < 0.0) {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    max_bytes =
        pages > 0 && page > 0 ? 0.25 * static_cast<double>(pages) * static_cast<double>(page) : 0.0;
  }
  const double bytes = static_cast<double>(t.n_rows) * static_cast<double>(p.n_features()) *
                       static_cast<double>(sizeof(float));
  if (!t.mapped && bytes <= max_bytes) {
    try {
      return std::make_unique<feature_matrix>(p, t, threads);
    } catch (const std::bad_alloc&) {  // then from the table
    }
  }
  return std::make_unique<feature_rows>(p, t);
}

}  // namespace tmlp::train
