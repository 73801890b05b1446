// Reading, splitting and preprocessing `tmlp train`'s data (CSV or .tmlpd).
#include "cli/train_data.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "tmlp/error.hpp"
#include "tmlp/trainer.hpp"

namespace tmlp::cli {
namespace {

[[noreturn]] void bad_flag(const std::string& what) { throw error(errc::invalid_argument, what); }

std::string column_names(const table_view& t) {
  std::string names;
  for (const column_view& c : t.columns) {
    if (!names.empty()) names += ", ";
    names += c.name;
  }
  return names;
}

// Rows `rows` of m, gathered into a new matrix.
matrix gather(const matrix& m, const std::vector<std::uint32_t>& rows) {
  matrix out(rows.size(), m.cols());
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::copy(m.row(rows[i]), m.row(rows[i]) + m.cols(), out.row(i));
  return out;
}

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

// Every row of a file as features, gathered and transformed from its typed table (the parsed
// CSV or the mapping of a .tmlpd file) shard by shard: the feature matrix is never built.
std::unique_ptr<row_source> feature_source(const preprocessor& prep, const data_source& file) {
  return std::make_unique<feature_rows>(prep, file.view());
}

}  // namespace

std::string resolve_target(const table_view& t, const std::string& target) {
  if (t.find(target) != nullptr) return target;
  long long k = 0;
  const auto [end, ec] = std::from_chars(target.data(), target.data() + target.size(), k);
  if (target.empty() || ec != std::errc{} || end != target.data() + target.size()) return target;
  const auto n = static_cast<long long>(t.columns.size());
  if (k == 0 || k > n || k < -n)
    bad_flag(
        fmt::format("--target: no column is named '{}', and {} has {} columns (positions 1 "
                    "to {}, or -1 to -{} from the end)",
                    target, t.source, n, n, n));
  return std::string(t.columns[static_cast<std::size_t>(k > 0 ? k - 1 : n + k)].name);
}

std::unique_ptr<train_data> load_train_data(const train_options& o, std::optional<loss_kind> loss) {
  auto d = std::make_unique<train_data>();
  const csv_options csv{.n_threads = o.threads, .numeric = o.numeric, .categorical = o.categorical};
  const table_view& t = d->train_file.emplace(open_data(o.data, csv)).view();
  for (const std::string& name : o.ignore)
    if (t.find(name) == nullptr)
      bad_flag(fmt::format("--ignore: no column '{}' in {} (columns: {})", name, o.data,
                           column_names(t)));

  d->target = resolve_target(t, o.target);
  if (o.embedding_dim > (std::size_t{1} << 16))
    bad_flag(fmt::format("--embedding-dim: {} is larger than the limit 65536", o.embedding_dim));
  preprocess_options popt{.target = d->target,
                          .ignore = o.ignore,
                          .one_hot_max = o.one_hot_max,
                          .embed = o.embedding_dim > 0};
  // The task as inferred from every row (then fixed, so the training rows cannot change it),
  // unless the loss asks for another.
  preprocessor probe = with_flag_names([&] { return preprocessor::fit(t, popt); });
  const column_view* target = t.find(d->target);
  d->loss = choose_loss(loss, probe.task(), target->kind == column_kind::numeric, d->target);
  popt.task = d->loss.task;
  if (d->loss.task != probe.task()) probe = preprocessor::fit(t, popt);

  if (!o.valid.empty()) {
    const table_view& v = d->valid_file.emplace(open_valid(o.valid, csv, t)).view();
    d->prep = std::move(probe);
    d->x_train = feature_source(d->prep, *d->train_file);
    d->y_train = d->prep.targets(t);
    d->x_valid = feature_source(d->prep, *d->valid_file);
    d->y_valid = d->prep.targets(v);
    d->summary =
        fmt::format("{}: {} training rows; {}: {} validation rows; {} features, task {}", o.data,
                    t.n_rows, o.valid, v.n_rows, d->prep.n_features(), to_string(d->prep.task()));
    return d;
  }

  // Split first, so preprocessing is fitted on the training rows only.
  std::vector<std::uint32_t> train_rows, valid_rows;
  if (o.valid_fraction > 0.0f) {
    const matrix y_all = probe.targets(t);
    split_rows(t.n_rows, o.valid_fraction, o.seed, d->loss.loss, 1, y_all.data(), train_rows,
               valid_rows);
    if (train_rows.empty())
      bad_flag(fmt::format("--valid-fraction: {} leaves no training rows of {}", o.valid_fraction,
                           t.n_rows));
  }
  d->prep = preprocessor::fit(t, popt, train_rows);
  const matrix y_all = d->prep.targets(t);
  d->all_rows = feature_source(d->prep, *d->train_file);
  if (valid_rows.empty()) {
    d->x_train = std::move(d->all_rows);
    d->y_train = y_all;
  } else {
    d->y_train = gather(y_all, train_rows);
    d->y_valid = gather(y_all, valid_rows);
    d->x_train = std::make_unique<row_subset>(*d->all_rows, std::move(train_rows));
    d->x_valid = std::make_unique<row_subset>(*d->all_rows, std::move(valid_rows));
  }
  d->summary = fmt::format("{}: {} rows ({} train, {} validation), {} features, task {}", o.data,
                           t.n_rows, d->x_train->rows(), d->x_valid ? d->x_valid->rows() : 0,
                           d->prep.n_features(), to_string(d->prep.task()));
  return d;
}

}  // namespace tmlp::cli
