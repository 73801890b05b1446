// Opening `tmlp train`'s data files (CSV or .tmlpd) for tmlp::prepare_training.
#include "cli/train_data.hpp"

namespace tmlp::cli {
namespace {

// The --valid file, opened like the training file; a column that is categorical in training
// but reads as numbers in a CSV here (its values happen to look numeric) is read again as
// categorical.
data_source open_valid(const std::string& path, csv_options csv, const table_view& train) {
  data_source v = open_data(path, csv);
  if (v.mapped()) return v;
  bool again = false;
  for (const column_view& c : v.view().columns) {
    const column_view* tc = train.find(c.name);
    if (tc != nullptr && tc->kind == column_kind::categorical &&
        c.kind != column_kind::categorical) {
      csv.categorical.emplace_back(c.name);
      again = true;
    }
  }
  return again ? open_data(path, csv) : std::move(v);
}

}  // namespace

std::unique_ptr<train_data> load_train_data(const train_options& o) {
  auto d = std::make_unique<train_data>();
  const csv_options csv{.n_threads = o.threads, .numeric = o.numeric, .categorical = o.categorical};
  const table_view& t = d->train_file.emplace(open_data(o.data, csv)).view();
  const table_view* v =
      o.valid.empty() ? nullptr : &d->valid_file.emplace(open_valid(o.valid, csv, t)).view();
  d->rows = prepare_training(o, t, v);
  return d;
}

}  // namespace tmlp::cli
