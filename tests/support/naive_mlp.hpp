// A naive MLP in double precision, written independently of src/core and kernels/: the oracle
// for finite-difference gradient checks and for the trainer's agreement tests. Slow and plain.
// It lays out parameters in the documented order (per layer: W n_out x n_in, b, prelu slopes,
// layer norm, projection, batch norm).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "tmlp/model.hpp"

namespace tmlp::test {

inline double naive_alpha(const dense_spec& l) {
  if (l.alpha) return *l.alpha;
  switch (l.act) {
    case activation::leaky_relu:
      return 0.01;
    case activation::prelu:
      return 0.25;
    case activation::elu:
      return 1.0;
    default:
      return 0.0;
  }
}

inline double naive_act(activation a, double x, double alpha, double slope) {
  constexpr double pi = 3.14159265358979323846;
  switch (a) {
    case activation::identity:
      return x;
    case activation::relu:
      return x > 0 ? x : 0.0;
    case activation::leaky_relu:
      return x > 0 ? x : alpha * x;
    case activation::prelu:
      return x > 0 ? x : slope * x;
    case activation::elu:
      return x > 0 ? x : alpha * std::expm1(x);
    case activation::selu: {
      const double l = 1.0507009873554804934193349852946, s = 1.6732632423543772848170429916717;
      return l * (x > 0 ? x : s * std::expm1(x));
    }
    case activation::sigmoid:
      return 1.0 / (1.0 + std::exp(-x));
    case activation::tanh:
      return std::tanh(x);
    case activation::gelu:
      return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case activation::gelu_tanh:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / pi) * (x + 0.044715 * x * x * x)));
    case activation::softplus:
      return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x)));
  }
  return x;
}

struct naive_mlp {
  model_spec spec;
  // Dropout, as fixed multipliers: masks[l] (rows x units of layer l, or empty for none) scales
  // layer l's outputs of each row before the next layer reads them.
  std::vector<std::vector<double>> masks = {};

  // Batch norm: true normalizes with the statistics of the rows passed together (training),
  // false with the running ones (inference).
  bool bn_training = true;

  // Parameters of the layers, which come first.
  std::size_t n_layer_params() const {
    std::size_t n = 0, in = spec.n_inputs;
    for (const auto& t : spec.embeddings) in += t.dim - 1;
    for (const auto& t : spec.periodic_embeddings) in += t.dim - 1;
    for (const auto& l : spec.layers) {
      n += l.units * in + l.units + (l.act == activation::prelu ? l.units : 0) +
           (l.layer_norm ? 2 * l.units : 0) + (l.residual && l.units != in ? l.units * in : 0) +
           (l.batch_norm ? 4 * l.units : 0);
      in = l.units;
    }
    return n;
  }

  bool is_index(std::size_t c) const {
    bool index = false;
    for (const auto& t : spec.embeddings) index |= t.column == c;
    return index;
  }

  std::size_t n_params() const {
    std::size_t n = n_layer_params();
    if (spec.feature_scale)
      for (std::size_t c = 0; c < spec.n_inputs; ++c) n += is_index(c) ? 0 : 1;
    for (const auto& t : spec.periodic_embeddings)
      n += t.n_frequencies + (2 * t.n_frequencies + 1) * t.dim;
    for (const auto& t : spec.embeddings) n += t.cardinality * t.dim;
    return n;
  }

  // The first layer's input for one row of raw inputs: each column but the embedding indices
  // times its scale (with feature_scale); of those, the columns without an embedding, then each
  // embedding's row (out of range or NaN: the last row), then each periodic embedding:
  // relu(W [sin(2 pi c x), cos(2 pi c x)] + b).
  std::vector<double> embed(const std::vector<double>& p, const double* x) const {
    std::size_t off = n_layer_params();
    std::vector<double> xs(x, x + spec.n_inputs);
    if (spec.feature_scale)
      for (std::size_t c = 0; c < spec.n_inputs; ++c)
        if (!is_index(c)) xs[c] *= p[off++];
    std::vector<double> in;
    for (std::size_t c = 0; c < spec.n_inputs; ++c) {
      bool periodic = false;
      for (const auto& t : spec.periodic_embeddings) periodic |= t.column == c;
      if (!is_index(c) && !periodic) in.push_back(xs[c]);
    }
    std::vector<double> plr;
    for (const auto& t : spec.periodic_embeddings) {
      const std::size_t k = t.n_frequencies;
      const double* c = p.data() + off;
      const double* w = c + k;
      const double* b = w + 2 * k * t.dim;
      std::vector<double> v(2 * k);
      for (std::size_t m = 0; m < k; ++m) {
        v[m] = std::sin(2.0 * 3.14159265358979323846 * c[m] * xs[t.column]);
        v[k + m] = std::cos(2.0 * 3.14159265358979323846 * c[m] * xs[t.column]);
      }
      for (std::size_t q = 0; q < t.dim; ++q) {
        double h = b[q];
        for (std::size_t m = 0; m < 2 * k; ++m) h += w[q * 2 * k + m] * v[m];
        plr.push_back(std::max(h, 0.0));
      }
      off += k + (2 * k + 1) * t.dim;
    }
    for (const auto& t : spec.embeddings) {
      const double v = x[t.column];
      const std::size_t row =
          v >= 0 && v < double(t.cardinality) ? std::size_t(v) : t.cardinality - 1;
      for (std::size_t q = 0; q < t.dim; ++q) in.push_back(p[off + row * t.dim + q]);
      off += t.cardinality * t.dim;
    }
    in.insert(in.end(), plr.begin(), plr.end());
    return in;
  }

  // Outputs of the last layer for row `row` x (n_inputs values).
  std::vector<double> forward(const std::vector<double>& p, const double* x,
                              std::size_t row = 0) const {
    return forward_rows(p, 1, x, row)[0];
  }

  // Outputs of the last layer for `rows` rows of x (rows x n_inputs), which are rows
  // first_row.. of the data for the dropout masks and one batch for batch norm.
  std::vector<std::vector<double>> forward_rows(const std::vector<double>& p, std::size_t rows,
                                                const double* x, std::size_t first_row = 0) const {
    std::vector<std::vector<double>> in(rows), out(rows);
    for (std::size_t r = 0; r < rows; ++r) in[r] = embed(p, x + r * spec.n_inputs);
    std::size_t off = 0;
    for (std::size_t li = 0; li < spec.layers.size(); ++li) {
      const auto& l = spec.layers[li];
      const std::size_t n_in = in[0].size();
      const double* w = p.data() + off;
      const double* b = w + l.units * n_in;
      const double* slope = b + l.units;
      const double* gain = slope + (l.act == activation::prelu ? l.units : 0);
      const double* shift = gain + l.units;
      const double* proj = gain + (l.layer_norm ? 2 * l.units : 0);
      const double* bn = proj + (l.residual && n_in != l.units ? l.units * n_in : 0);
      std::vector<std::vector<double>> z(rows, std::vector<double>(l.units));
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < l.units; ++j) {
          z[r][j] = b[j];
          for (std::size_t i = 0; i < n_in; ++i) z[r][j] += w[j * n_in + i] * in[r][i];
        }
      if (l.layer_norm) {  // over the layer's units, then gain and shift
        for (auto& zr : z) {
          double mean = 0.0, var = 0.0;
          for (double v : zr) mean += v;
          mean /= static_cast<double>(l.units);
          for (double v : zr) var += (v - mean) * (v - mean);
          var /= static_cast<double>(l.units);
          for (std::size_t j = 0; j < l.units; ++j)
            zr[j] = gain[j] * (zr[j] - mean) / std::sqrt(var + 1e-5) + shift[j];
        }
      }
      if (l.batch_norm) {  // over the rows, per unit: gain, shift, running mean and variance
        for (std::size_t j = 0; j < l.units; ++j) {
          double mean = bn[2 * l.units + j], var = bn[3 * l.units + j];
          if (bn_training) {
            mean = var = 0.0;
            for (std::size_t r = 0; r < rows; ++r) mean += z[r][j];
            mean /= static_cast<double>(rows);
            for (std::size_t r = 0; r < rows; ++r) var += (z[r][j] - mean) * (z[r][j] - mean);
            var /= static_cast<double>(rows);
          }
          for (std::size_t r = 0; r < rows; ++r)
            z[r][j] = bn[j] * (z[r][j] - mean) / std::sqrt(var + 1e-5) + bn[l.units + j];
        }
      }
      for (std::size_t r = 0; r < rows; ++r) {
        out[r].assign(l.units, 0.0);
        for (std::size_t j = 0; j < l.units; ++j)
          out[r][j] = naive_act(l.act, z[r][j], naive_alpha(l),
                                l.act == activation::prelu ? slope[j] : 0.0);
        if (li < masks.size() && !masks[li].empty())
          for (std::size_t j = 0; j < l.units; ++j)
            out[r][j] *= masks[li][(first_row + r) * l.units + j];
        if (l.residual) {  // + the input, projected by P (units x n_in) when the widths differ
          for (std::size_t j = 0; j < l.units; ++j) {
            if (n_in == l.units) {
              out[r][j] += in[r][j];
            } else {
              for (std::size_t i = 0; i < n_in; ++i) out[r][j] += proj[j * n_in + i] * in[r][i];
            }
          }
        }
      }
      off = static_cast<std::size_t>(bn - p.data()) + (l.batch_norm ? 4 * l.units : 0);
      in.swap(out);
    }
    return in;
  }

  // L_r for one row given outputs y and the row's targets t.
  double row_loss(const std::vector<double>& y, const double* t) const {
    const double k = static_cast<double>(y.size());
    double s = 0.0;
    switch (spec.loss) {
      case loss_kind::mse:
        for (std::size_t j = 0; j < y.size(); ++j) s += (y[j] - t[j]) * (y[j] - t[j]);
        return s / k;
      case loss_kind::mae:
        for (std::size_t j = 0; j < y.size(); ++j) s += std::fabs(y[j] - t[j]);
        return s / k;
      case loss_kind::huber: {
        const double d = spec.huber_delta;
        for (std::size_t j = 0; j < y.size(); ++j) {
          const double a = std::fabs(y[j] - t[j]);
          s += a <= d ? 0.5 * a * a : d * (a - 0.5 * d);
        }
        return s / k;
      }
      case loss_kind::bce:
        for (std::size_t j = 0; j < y.size(); ++j) s += std::log1p(std::exp(y[j])) - t[j] * y[j];
        return s / k;
      case loss_kind::ce: {
        const double m = *std::max_element(y.begin(), y.end());
        for (double v : y) s += std::exp(v - m);
        return m + std::log(s) - y[static_cast<std::size_t>(t[0])];
      }
    }
    return 0.0;
  }

  std::size_t target_width() const {
    return spec.loss == loss_kind::ce ? 1 : spec.layers.back().units;
  }

  // sum_r w_r L_r over rows of x (rows x n_inputs) and targets (rows x target_width()).
  double loss(const std::vector<double>& p, std::size_t rows, const std::vector<double>& x,
              const std::vector<double>& t, const std::vector<double>* w = nullptr) const {
    const auto y = forward_rows(p, rows, x.data());
    double total = 0.0;
    for (std::size_t r = 0; r < rows; ++r)
      total += (w ? (*w)[r] : 1.0) * row_loss(y[r], t.data() + r * target_width());
    return total;
  }

  // Central differences of loss() with step h * max(1, |p_i|).
  std::vector<double> gradient_fd(std::vector<double> p, std::size_t rows,
                                  const std::vector<double>& x, const std::vector<double>& t,
                                  const std::vector<double>* w = nullptr, double h = 1e-6) const {
    std::vector<double> g(p.size());
    for (std::size_t i = 0; i < p.size(); ++i) {
      const double p0 = p[i], step = h * std::max(1.0, std::fabs(p0));
      p[i] = p0 + step;
      const double up = loss(p, rows, x, t, w);
      p[i] = p0 - step;
      const double down = loss(p, rows, x, t, w);
      p[i] = p0;
      g[i] = (up - down) / (2.0 * step);
    }
    return g;
  }
};

}  // namespace tmlp::test
