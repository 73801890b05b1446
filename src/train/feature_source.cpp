// The row sources of a table's preprocessed features for tmlp train (feature_source.hpp).
#include "train/feature_source.hpp"

#include <unistd.h>

#include <new>

namespace tmlp::train {

std::unique_ptr<row_source> feature_source(const preprocessor& p, const table_view& t,
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
      return std::make_unique<feature_matrix>(p.features(t));
    } catch (const std::bad_alloc&) {  // then from the table
    }
  }
  return std::make_unique<feature_rows>(p, t);
}

}  // namespace tmlp::train
