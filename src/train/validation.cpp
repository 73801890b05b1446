// validation_policy: the validation loss and metric after each epoch.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "blas/blas.hpp"
#include "core/parallel.hpp"
#include "train/policies.hpp"

namespace tmlp::train {

validation_policy::validation_policy(const core::network& net, const fit_plan& plan,
                                     std::size_t chunk)
    : net_(net), plan_(plan), chunk_(chunk) {}

const char* validation_policy::metric_name() const noexcept {
  return net_.loss.kind == loss_kind::ce || net_.loss.kind == loss_kind::bce ? "accuracy" : "rmse";
}

void validation_policy::run(tbb::task_arena& arena, const kernels::kernel_table& k,
                            const float* params, epoch_report& rep) {
  if (!plan_.has_valid()) return;
  // Deterministic: chunk results are kept apart and added in chunk order.
  const std::vector<std::uint32_t>& rows = plan_.valid_rows;
  const row_source& x = *plan_.valid_x;
  const matrix_view y = plan_.valid_y;
  const std::size_t n_chunks = (rows.size() + chunk_ - 1) / chunk_;
  totals_.assign(n_chunks, {});
  const std::size_t n_in = net_.n_inputs, tw = y.cols, k_out = net_.n_outputs;
  const float* transposed = nullptr;
  if (blas::wants_transposed_weights()) {
    transposed_.resize(net_.n_transposed);
    arena.execute([&] { core::transpose_weights(k, net_, params, transposed_.data()); });
    transposed = transposed_.data();
  }
  arena.execute([&] {
    core::parallel_for_index(n_chunks, [&](std::size_t c) {
      scratch& s = scratch_.local();
      if (s.x.empty()) {
        s.ws = std::make_unique<core::workspace>(net_, chunk_);
        s.x.resize(chunk_ * n_in);
        s.y.resize(chunk_ * tw);
      }
      const std::size_t r0 = c * chunk_, n = std::min(chunk_, rows.size() - r0);
      x.gather(rows.data() + r0, n, s.x.data());
      for (std::size_t i = 0; i < n; ++i)
        std::memcpy(s.y.data() + i * tw, y.row(rows[r0 + i]), tw * sizeof(float));
      const float* out =
          core::forward(k, net_, params, n, s.x.data(), *s.ws, nullptr, false, transposed);
      totals& t = totals_[c];
      t.loss = core::loss_forward_backward(net_.loss, n, k_out, out, s.y.data(), nullptr, nullptr);
      t.metric = metric_sum(n, out, s.y.data());
    });
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
