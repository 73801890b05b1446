// The budget and the successive-halving schedule of `tmlp tune`: Hyperband brackets over epochs
// and the promotion of a rung's best trials (tmlp/tune.hpp).
#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "tmlp/error.hpp"
#include "tmlp/tune.hpp"

namespace tmlp {
namespace {
[[noreturn]] void bad(const std::string& what) { throw error(errc::invalid_argument, what); }
}  // namespace

tune_budget parse_tune_budget(const std::string& text) {
  const auto fail = [&text]() {
    bad(fmt::format("--budget: '{}' is not a budget (N-trials, or a time: 90s, 10m, 1.5h)", text));
  };
  std::string t = text;
  for (const std::string_view suffix : {"-trials", "trials", "-trial", "trial"}) {
    if (t.size() > suffix.size() && t.ends_with(suffix)) {
      const std::string n = t.substr(0, t.size() - suffix.size());
      std::size_t v = 0;
      const auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
      if (ec != std::errc() || p != n.data() + n.size()) fail();
      if (v == 0)
        bad(fmt::format("--budget {}: too small for one trial (give at least 1-trials)", text));
      return {.n_trials = v};
    }
  }
  if (t.size() < 2) fail();
  const char unit = t.back();
  const double scale = unit == 's' ? 1.0 : unit == 'm' ? 60.0 : unit == 'h' ? 3600.0 : 0.0;
  if (scale == 0.0) fail();
  double v = 0.0;
  const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size() - 1, v);
  if (ec != std::errc() || p != t.data() + t.size() - 1 || !std::isfinite(v) || v < 0) fail();
  if (v == 0.0) bad(fmt::format("--budget {}: too small for one trial", text));
  return {.seconds = v * scale};
}

std::vector<tune_bracket> hyperband_brackets(std::size_t n_trials, std::size_t max_epochs,
                                             std::size_t min_epochs, std::size_t eta) {
  if (eta < 2) bad(fmt::format("--eta: {} is not a halving rate >= 2", eta));
  if (min_epochs < 1)
    bad(fmt::format("--min-epochs: {} is not a number of epochs >= 1", min_epochs));
  if (max_epochs < min_epochs)
    bad(fmt::format("--epochs: {} is below --min-epochs {}", max_epochs, min_epochs));
  std::size_t s_max = 0;
  for (double r = static_cast<double>(min_epochs) * static_cast<double>(eta);
       r <= static_cast<double>(max_epochs); r *= static_cast<double>(eta))
    ++s_max;
  const double e = static_cast<double>(eta);
  std::vector<tune_bracket> out;
  std::size_t placed = 0;
  while (placed < n_trials) {
    for (std::size_t s = s_max + 1; s-- > 0 && placed < n_trials;) {
      const double eta_s = std::pow(e, static_cast<double>(s));
      const auto full = static_cast<std::size_t>(
          std::ceil(static_cast<double>(s_max + 1) * eta_s / static_cast<double>(s + 1)));
      tune_bracket b{.first_trial = placed, .n_trials = std::min(full, n_trials - placed)};
      for (std::size_t i = 0; i <= s; ++i) {
        const auto n = static_cast<std::size_t>(
            std::floor(static_cast<double>(b.n_trials) / std::pow(e, static_cast<double>(i))));
        if (n == 0) break;
        auto epochs = static_cast<std::size_t>(
            std::llround(static_cast<double>(max_epochs) *
                         std::pow(e, static_cast<double>(i) - static_cast<double>(s))));
        epochs = std::max<std::size_t>(epochs, 1);
        if (!b.rungs.empty()) epochs = std::max(epochs, b.rungs.back().epochs + 1);
        b.rungs.push_back({.n_trials = n, .epochs = std::min(epochs, max_epochs)});
      }
      placed += b.n_trials;
      out.push_back(std::move(b));
    }
  }
  return out;
}

std::vector<std::size_t> promote(std::span<const tune_score> scores, std::size_t n_keep) {
  std::vector<tune_score> s(scores.begin(), scores.end());
  std::sort(s.begin(), s.end(), [](const tune_score& a, const tune_score& b) {
    const bool na = std::isnan(a.loss), nb = std::isnan(b.loss);
    if (na != nb) return nb;  // a number before NaN
    if (!na && a.loss != b.loss) return a.loss < b.loss;
    return a.trial < b.trial;
  });
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < s.size() && i < n_keep; ++i) out.push_back(s[i].trial);
  return out;
}

}  // namespace tmlp
