// validation_policy: the validation loss and metric after each epoch.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "train/policies.hpp"

namespace tmlp::train {

validation_policy::validation_policy(const core::network& net, const fit_plan& plan,
                                     std::size_t chunk)
    : net_(net), plan_(plan), forward_(net, chunk, plan.has_valid() ? plan.valid_y.cols : 0) {}

const char* validation_policy::metric_name() const noexcept {
  return net_.loss.kind == loss_kind::ce || net_.loss.kind == loss_kind::bce ? "accuracy" : "rmse";
}

void validation_policy::run(tbb::task_arena& arena, const kernels::kernel_table& k,
                            const float* params, epoch_report& rep) {
  if (!plan_.has_valid()) return;
  // Deterministic: chunk results are kept apart and added in chunk order.
  const std::vector<std::uint32_t>& rows = plan_.valid_rows;
  const matrix_view y = plan_.valid_y;
  totals_.assign(forward_.chunks(rows.size()), {});
  const std::size_t tw = y.cols, k_out = net_.n_outputs;
  forward_.run(
      arena, k, params, nullptr, *plan_.valid_x, rows, [&](const chunked_forward::chunk& c) {
        for (std::size_t i = 0; i < c.rows; ++i)
          std::memcpy(c.y + i * tw, y.row(rows[c.first + i]), tw * sizeof(float));
        totals& t = totals_[c.index];
        t.loss =
            core::loss_forward_backward(net_.loss, c.rows, k_out, c.out, c.y, nullptr, nullptr);
        t.metric = metric_sum(c.rows, c.out, c.y);
      });
  totals sum;
  for (const totals& t : totals_) {
    sum.loss += t.loss;
    sum.metric += t.metric;
  }
  const auto n = static_cast<double>(rows.size());
  const bool classify = net_.loss.kind == loss_kind::ce || net_.loss.kind == loss_kind::bce;
  rep.valid_loss = sum.loss / n;
  rep.valid_metric =
      classify
          ? sum.metric / (net_.loss.kind == loss_kind::bce ? n * static_cast<double>(k_out) : n)
          : std::sqrt(sum.metric / (n * static_cast<double>(k_out)));
}

double validation_policy::metric_sum(std::size_t n, const float* out,
                                     const float* y) const noexcept {
  const std::size_t k = net_.n_outputs;
  double s = 0.0;
  for (std::size_t r = 0; r < n; ++r) {
    const float* o = out + r * k;
    if (net_.loss.kind == loss_kind::ce) {
      s += static_cast<double>(static_cast<std::size_t>(std::max_element(o, o + k) - o) ==
                               static_cast<std::size_t>(y[r]));
    } else if (net_.loss.kind == loss_kind::bce) {
      for (std::size_t j = 0; j < k; ++j)
        s += static_cast<double>((o[j] >= 0.0f) == (y[r * k + j] >= 0.5f));
    } else {
      for (std::size_t j = 0; j < k; ++j) {
        const double d = static_cast<double>(o[j]) - y[r * k + j];
        s += d * d;
      }
    }
  }
  return s;
}

}  // namespace tmlp::train
