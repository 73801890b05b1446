// A naive trainer in double precision, written from the documented rules (tmlp/trainer.hpp and
// the update rules at the top of kernels/kernels.hpp), independently of src/train and kernels/:
// the oracle of the trainer's agreement tests. Single-threaded, one row at a time, slow and plain.
//
//     tmlp::test::naive_trainer nt{.net = {spec}, .opt = tmlp::adam{.lr = 1e-2f}};
//     std::vector<double> p = ...;          // initial parameters in the documented layout
//     auto losses = nt.fit(p, rows, x, t);  // p: the parameters after config.epochs epochs
//
// Batches follow the trainer's order: rows 0..n-1 shuffled each epoch with
// train::shuffle_epoch(seed, epoch, rows), cut into batches of batch_size (0 = full batch; the
// last batch may be short). The gradient of a batch is (1/B) sum_r w_r dL_r/dp.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <type_traits>
#include <variant>
#include <vector>

#include "support/naive_mlp.hpp"
#include "tmlp/trainer.hpp"
#include "train/split.hpp"

namespace tmlp::test {

// Optimizer state and update in double. g' = g + l2 w + l1 sign(w); then the rule; then the
// decoupled decay w -= lr * decay * w_old (config.weight_decay, plus adamw's own).
struct naive_optimizer {
  optimizer opt = sgd{};
  double l1 = 0.0, l2 = 0.0, weight_decay = 0.0;
  std::vector<double> s1, s2;  // momentum / first moment / squared sums; second moment
  std::size_t t = 0;

  double base_lr() const {
    return std::visit([](const auto& o) { return static_cast<double>(o.lr); }, opt);
  }

  // One update of w (n values) from g (n values) at rate lr.
  void step(std::vector<double>& w, const std::vector<double>& g, double lr) {
    if (s1.size() != w.size()) s1.assign(w.size(), 0.0);
    if (s2.size() != w.size()) s2.assign(w.size(), 0.0);
    ++t;
    for (std::size_t i = 0; i < w.size(); ++i) {
      const double w0 = w[i];
      const double sign = w0 > 0 ? 1.0 : (w0 < 0 ? -1.0 : 0.0);
      const double gr = g[i] + l2 * w0 + l1 * sign;
      double decay = weight_decay;
      double w1 = w0;
      std::visit(
          [&](const auto& o) {
            using T = std::decay_t<decltype(o)>;
            if constexpr (std::is_same_v<T, sgd>) {
              w1 = w0 - lr * gr;
            } else if constexpr (std::is_same_v<T, momentum>) {
              s1[i] = static_cast<double>(o.momentum) * s1[i] + gr;
              w1 = w0 - lr * s1[i];
            } else if constexpr (std::is_same_v<T, nesterov>) {
              const double m = o.momentum;
              s1[i] = m * s1[i] + gr;
              w1 = w0 - lr * (gr + m * s1[i]);
            } else if constexpr (std::is_same_v<T, adam> || std::is_same_v<T, adamw>) {
              const double b1 = o.beta1, b2 = o.beta2, td = static_cast<double>(t);
              s1[i] = b1 * s1[i] + (1 - b1) * gr;
              s2[i] = b2 * s2[i] + (1 - b2) * gr * gr;
              const double m_hat = s1[i] / (1 - std::pow(b1, td));
              const double v_hat = s2[i] / (1 - std::pow(b2, td));
              w1 = w0 - lr * m_hat / (std::sqrt(v_hat) + static_cast<double>(o.eps));
              if constexpr (std::is_same_v<T, adamw>) decay += static_cast<double>(o.weight_decay);
            } else if constexpr (std::is_same_v<T, rmsprop>) {
              const double rho = o.rho;
              s1[i] = rho * s1[i] + (1 - rho) * gr * gr;
              w1 = w0 - lr * gr / (std::sqrt(s1[i]) + static_cast<double>(o.eps));
            } else if constexpr (std::is_same_v<T, adagrad>) {
              s1[i] += gr * gr;
              w1 = w0 - lr * gr / (std::sqrt(s1[i]) + static_cast<double>(o.eps));
            }
          },
          opt);
      w[i] = w1 - lr * decay * w0;
    }
  }
};

inline double naive_act_derivative(activation a, double z, double y) {
  switch (a) {
    case activation::identity:
      return 1.0;
    case activation::relu:
      return z > 0 ? 1.0 : 0.0;
    case activation::sigmoid:
      return y * (1.0 - y);
    case activation::tanh:
      return 1.0 - y * y;
    default:
      return NAN;  // not needed by the tests that use this trainer
  }
}

// L_r of one row x (n_inputs values) with targets t, and grad += scale * dL_r/dp.
// Activations: identity, relu, sigmoid, tanh; losses: mse, bce, ce. No prelu.
inline double naive_backprop(const naive_mlp& net, const std::vector<double>& p, const double* x,
                             const double* t, double scale, std::vector<double>& grad) {
  const auto& layers = net.spec.layers;
  // a[0] = x; z[l], a[l + 1]: pre-activation and output of layer l.
  std::vector<std::vector<double>> a(layers.size() + 1), z(layers.size());
  std::vector<std::size_t> offset(layers.size());
  a[0].assign(x, x + net.spec.n_inputs);
  std::size_t off = 0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const std::size_t n_in = a[l].size(), n_out = layers[l].units;
    offset[l] = off;
    const double* w = p.data() + off;
    const double* b = w + n_out * n_in;
    z[l].assign(n_out, 0.0);
    a[l + 1].assign(n_out, 0.0);
    for (std::size_t j = 0; j < n_out; ++j) {
      double s = b[j];
      for (std::size_t i = 0; i < n_in; ++i) s += w[j * n_in + i] * a[l][i];
      z[l][j] = s;
      a[l + 1][j] = naive_act(layers[l].act, s, naive_alpha(layers[l]), 0.0);
    }
    off += n_out * n_in + n_out;
  }
  const std::vector<double>& y = a.back();
  const double loss = net.row_loss(y, t);
  // dL/dy from the loss definitions in tmlp/model.hpp.
  const std::size_t k = y.size();
  std::vector<double> dy(k);
  switch (net.spec.loss) {
    case loss_kind::mse:
      for (std::size_t j = 0; j < k; ++j) dy[j] = 2.0 * (y[j] - t[j]) / static_cast<double>(k);
      break;
    case loss_kind::bce:
      for (std::size_t j = 0; j < k; ++j)
        dy[j] = (1.0 / (1.0 + std::exp(-y[j])) - t[j]) / static_cast<double>(k);
      break;
    case loss_kind::ce: {
      double m = y[0], s = 0.0;
      for (double v : y) m = std::max(m, v);
      for (double v : y) s += std::exp(v - m);
      for (std::size_t j = 0; j < k; ++j) dy[j] = std::exp(y[j] - m) / s;
      dy[static_cast<std::size_t>(t[0])] -= 1.0;
      break;
    }
    default:
      for (double& v : dy) v = NAN;  // not needed by the tests that use this trainer
  }
  for (std::size_t l = layers.size(); l-- > 0;) {
    const std::size_t n_in = a[l].size(), n_out = layers[l].units;
    const double* w = p.data() + offset[l];
    double* dw = grad.data() + offset[l];
    double* db = dw + n_out * n_in;
    std::vector<double> dz(n_out), dx(n_in, 0.0);
    for (std::size_t j = 0; j < n_out; ++j)
      dz[j] = dy[j] * naive_act_derivative(layers[l].act, z[l][j], a[l + 1][j]);
    for (std::size_t j = 0; j < n_out; ++j) {
      db[j] += scale * dz[j];
      for (std::size_t i = 0; i < n_in; ++i) {
        dw[j * n_in + i] += scale * dz[j] * a[l][i];
        dx[i] += w[j * n_in + i] * dz[j];
      }
    }
    dy.swap(dx);
  }
  return loss;
}

struct naive_trainer {
  naive_mlp net;
  optimizer opt = sgd{};
  std::size_t batch_size = 0;  // 0 = full batch
  std::size_t epochs = 1;
  std::uint64_t seed = 0;
  double l1 = 0.0, l2 = 0.0, weight_decay = 0.0;

  // Trains p in place on rows of x (rows x n_inputs) and t (rows x target width) with sample
  // weights w (rows values, or empty) at the optimizer's constant rate. Returns each epoch's
  // training loss: sum over the epoch's rows of w_r L_r (before each step) over the row count.
  std::vector<double> fit(std::vector<double>& p, std::size_t rows, const std::vector<double>& x,
                          const std::vector<double>& t, const std::vector<double>& w = {}) const {
    naive_optimizer o{.opt = opt, .l1 = l1, .l2 = l2, .weight_decay = weight_decay};
    const std::size_t n_in = net.spec.n_inputs, tw = net.target_width();
    const std::size_t batch = batch_size == 0 ? rows : std::min(batch_size, rows);
    std::vector<std::uint32_t> all(rows);
    std::iota(all.begin(), all.end(), 0u);
    std::vector<double> losses, grad(p.size());
    for (std::size_t e = 0; e < epochs; ++e) {
      std::vector<std::uint32_t> order = all;
      train::shuffle_epoch(seed, e, order);
      double epoch_loss = 0.0;
      for (std::size_t b0 = 0; b0 < rows; b0 += batch) {
        const std::size_t n = std::min(batch, rows - b0);
        std::fill(grad.begin(), grad.end(), 0.0);
        for (std::size_t i = 0; i < n; ++i) {
          const std::size_t r = order[b0 + i];
          const double wr = w.empty() ? 1.0 : w[r];
          epoch_loss += wr * naive_backprop(net, p, x.data() + r * n_in, t.data() + r * tw,
                                            wr / static_cast<double>(n), grad);
        }
        o.step(p, grad, o.base_lr());
      }
      losses.push_back(epoch_loss / static_cast<double>(rows));
    }
    return losses;
  }
};

}  // namespace tmlp::test
