// Opening `tmlp train`'s data files (CSV or .tmlpd) for tmlp::prepare_training.
#include "cli/train_data.hpp"

namespace tmlp::cli {

std::unique_ptr<train_data> load_train_data(const train_options& o) {
  auto d = std::make_unique<train_data>();
  const csv_options csv{.n_threads = o.threads, .numeric = o.numeric, .categorical = o.categorical};
  const table_view& t = d->train_file.emplace(open_data(o.data, csv)).view();
  const table_view* v =
      o.valid.empty() ? nullptr : &d->valid_file.emplace(open_valid_data(o.valid, csv, t)).view();
  d->rows = prepare_training(o, t, v);
  return d;
}

}  // namespace tmlp::cli
