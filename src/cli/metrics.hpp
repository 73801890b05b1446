// Evaluation metrics over predictions and true targets.
#pragma once

#include <cstddef>
#include <vector>

namespace tmlp::cli {

struct classification_metrics {
  double accuracy = 0.0;
  double log_loss = 0.0;
  double auc = 0.0;  // binary: ROC AUC; multiclass: one-vs-rest macro average
  double f1 = 0.0;   // macro F1
};

// proba: rows x k class probabilities (row-major); truth: class index per row.
classification_metrics classification(const std::vector<float>& proba, std::size_t k,
                                      const std::vector<int>& truth);

struct regression_metrics {
  double rmse = 0.0, mae = 0.0, r2 = 0.0;
};
regression_metrics regression(const std::vector<double>& predicted,
                              const std::vector<double>& truth);

}  // namespace tmlp::cli
