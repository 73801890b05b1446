#include "cli/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tmlp::cli {
namespace {

// ROC AUC of scores for the positive rows (label 1) against the rest, ties averaged.
double roc_auc(const std::vector<double>& score, const std::vector<char>& positive) {
  std::vector<std::size_t> order(score.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return score[a] < score[b]; });
  double rank_sum = 0.0, n_pos = 0.0;
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j < order.size() && score[order[j]] == score[order[i]]) ++j;
    const double avg_rank = 0.5 * static_cast<double>(i + 1 + j);  // ranks i+1..j
    for (std::size_t t = i; t < j; ++t)
      if (positive[order[t]]) {
        rank_sum += avg_rank;
        n_pos += 1.0;
      }
    i = j;
  }
  const double n_neg = static_cast<double>(score.size()) - n_pos;
  if (n_pos == 0.0 || n_neg == 0.0) return std::nan("");
  return (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg);
}

}  // namespace

classification_metrics classification(const std::vector<float>& proba, std::size_t k,
                                      const std::vector<int>& truth) {
  classification_metrics m;
  const std::size_t n = truth.size();
  std::vector<double> tp(k, 0.0), fp(k, 0.0), fn(k, 0.0);
  for (std::size_t r = 0; r < n; ++r) {
    const float* p = proba.data() + r * k;
    const auto pred = static_cast<std::size_t>(std::max_element(p, p + k) - p);
    const auto t = static_cast<std::size_t>(truth[r]);
    m.accuracy += pred == t;
    m.log_loss -= std::log(std::clamp(static_cast<double>(p[t]), 1e-15, 1.0));
    if (pred == t) {
      tp[t] += 1.0;
    } else {
      fp[pred] += 1.0;
      fn[t] += 1.0;
    }
  }
  m.accuracy /= static_cast<double>(n);
  m.log_loss /= static_cast<double>(n);
  double f1 = 0.0;
  for (std::size_t c = 0; c < k; ++c) {
    const double d = 2.0 * tp[c] + fp[c] + fn[c];
    f1 += d > 0.0 ? 2.0 * tp[c] / d : 0.0;
  }
  m.f1 = f1 / static_cast<double>(k);
  // AUC: binary uses class 1's probability; multiclass averages one-vs-rest over classes present.
  std::vector<double> score(n);
  std::vector<char> positive(n);
  double auc_sum = 0.0, n_auc = 0.0;
  for (std::size_t c = k == 2 ? 1 : 0; c < k; ++c) {
    for (std::size_t r = 0; r < n; ++r) {
      score[r] = proba[r * k + c];
      positive[r] = static_cast<std::size_t>(truth[r]) == c;
    }
    const double a = roc_auc(score, positive);
    if (!std::isnan(a)) {
      auc_sum += a;
      n_auc += 1.0;
    }
  }
  m.auc = n_auc > 0.0 ? auc_sum / n_auc : std::nan("");
  return m;
}

regression_metrics regression(const std::vector<double>& predicted,
                              const std::vector<double>& truth) {
  regression_metrics m;
  const auto n = static_cast<double>(truth.size());
  double mean = 0.0;
  for (double t : truth) mean += t;
  mean /= n;
  double ss_res = 0.0, ss_tot = 0.0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const double e = predicted[i] - truth[i];
    ss_res += e * e;
    m.mae += std::fabs(e);
    ss_tot += (truth[i] - mean) * (truth[i] - mean);
  }
  m.rmse = std::sqrt(ss_res / n);
  m.mae /= n;
  m.r2 = ss_tot > 0.0 ? 1.0 - ss_res / ss_tot : std::nan("");
  return m;
}

}  // namespace tmlp::cli
