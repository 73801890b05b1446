// Pieces of the preprocessor shared by its parts (see preprocess_parts.hpp).
#include "data/preprocess_parts.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "io/file_io.hpp"
#include "tmlp/error.hpp"

namespace tmlp::data {

void fail(const std::string& what) { throw error(errc::invalid_data, what); }

std::string number_label(double v) {
  return v == std::floor(v) && std::fabs(v) < 1e15 ? fmt::format("{}", static_cast<long long>(v))
                                                   : fmt::format("{}", v);
}

void check_length(const table_view& t, const column_view& c) {
  const std::size_t n = is_categorical(c.kind) ? c.codes.size() : c.values.size();
  if (n != t.n_rows)
    fail(fmt::format("{}: column '{}' has {} entries for {} rows", t.source, c.name, n, t.n_rows));
}

const column_view& need_column(const table_view& t, const std::string& name, column_kind kind) {
  const column_view* c = t.find(name);
  if (c == nullptr)
    fail(fmt::format("{}: no column named '{}', which the model needs", t.source, name));
  if (is_categorical(c->kind) != is_categorical(kind))
    fail(fmt::format("{}: column '{}' is {} here but was {} in training", t.source, name,
                     to_string(c->kind), to_string(kind)));
  check_length(t, *c);
  return *c;
}

namespace {

// The standard normal distribution's quantile function: Acklam's rational approximation
// (relative error below 1.2e-9), then one Newton step on erfc, which leaves it at about double
// precision. p in (0, 1).
double normal_quantile(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double low = 0.02425;
  double x;
  if (p < low || p > 1.0 - low) {
    const double q = std::sqrt(-2.0 * std::log(p < low ? p : 1.0 - p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    if (p > 1.0 - low) x = -x;
  } else {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
  }
  const double pi = 3.14159265358979323846;
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2.0 * pi) * std::exp(x * x / 2.0);
  return x - u / (1.0 + x * u / 2.0);
}

}  // namespace

void set_quantile_map(preprocessor::feature_column& f, const std::vector<double>& p) {
  constexpr double bound = 1e-7;  // scores within about +-5.2
  f.values.clear();
  for (std::size_t j = 0; j < f.knots.size(); ++j)
    f.values.push_back(normal_quantile(std::clamp(p[j], bound, 1.0 - bound)));
  if (f.knots.size() == 1) f.values[0] = 0.0;  // one value: the map is constant at the middle
  set_quantile_slopes(f);
}

void set_quantile_slopes(preprocessor::feature_column& f) {
  f.slopes.clear();
  for (std::size_t j = 0; j + 1 < f.knots.size(); ++j)
    f.slopes.push_back((f.values[j + 1] - f.values[j]) / (f.knots[j + 1] - f.knots[j]));
  if (f.knots.size() == 1) f.slopes.push_back(0.0);
}

void index_levels(preprocessor::feature_column& f) {
  f.level_order.resize(f.levels.size());
  for (std::size_t i = 0; i < f.levels.size(); ++i)
    f.level_order[i] = static_cast<std::uint32_t>(i);
  std::stable_sort(f.level_order.begin(), f.level_order.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return f.levels[a] < f.levels[b]; });
}

std::ptrdiff_t level_slot(const preprocessor::feature_column& f, std::string_view level) noexcept {
  if (f.n_buckets > 0) return static_cast<std::ptrdiff_t>(io::fnv1a(level) % f.n_buckets);
  const auto it = std::lower_bound(
      f.level_order.begin(), f.level_order.end(), level,
      [&](std::uint32_t i, std::string_view text) { return std::string_view(f.levels[i]) < text; });
  if (it == f.level_order.end() || f.levels[*it] != level) return -1;
  return static_cast<std::ptrdiff_t>(*it);
}

std::size_t width(const preprocessor::feature_column& f) noexcept {
  if (f.kind != column_kind::categorical) {
    const bool piecewise = f.map == preprocessor::feature_column::map_kind::piecewise_linear;
    return (piecewise ? f.knots.size() - 1 : 1) + (f.indicator ? 1 : 0);
  }
  if (f.embedded) return 1;
  return f.n_buckets > 0 ? f.n_buckets : f.levels.size() + 1;  // + the "missing" slot
}

void append_feature_names(const preprocessor::feature_column& f, std::vector<std::string>& names) {
  if (f.kind != column_kind::categorical) {
    if (f.map == preprocessor::feature_column::map_kind::piecewise_linear) {
      for (std::size_t t = 1; t < f.knots.size(); ++t)
        names.push_back(fmt::format("{}#bin{}", f.name, t));
    } else {
      names.push_back(f.name);
    }
    if (f.indicator) names.push_back(f.name + "<missing>");
  } else if (f.embedded) {
    names.push_back(f.name);
  } else if (f.n_buckets > 0) {
    for (std::size_t b = 0; b < f.n_buckets; ++b) names.push_back(fmt::format("{}#{}", f.name, b));
  } else {
    for (const auto& level : f.levels) names.push_back(f.name + "=" + level);
    names.push_back(f.name + "=<missing>");
  }
}

}  // namespace tmlp::data
