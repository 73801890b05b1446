// Batch normalization of Z per unit, before the activation. While training it normalizes with
// statistics over the whole batch, which no shard holds alone: it is the pipeline's barrier.
// Forward, each shard computes the moments of its rows of Z; the barrier merges them in shard
// order into batch_stats, which every shard's normalization then reads. Backward, each shard
// sums dL/d(out) and dL/d(out) * x_hat over its rows; the barrier merges the sums, from which
// every shard computes its dL/dZ. Every merge adds shards in order 0, 1, ..., so the result
// does not depend on the threads. At predict time the running statistics are used (folded
// into W and b by fold_batch_norm).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace tmlp::core {

struct network;
class workspace;

inline constexpr float batch_norm_eps = 1e-5f;
inline constexpr float batch_norm_momentum = 0.1f;  // running = (1 - m) running + m batch

// The statistics of one training batch, per batch-norm unit (a layer's units start at its
// dense_layer::bn_stat).
struct batch_stats {
  explicit batch_stats(const network& net);
  // The batch's mean and 1 / sqrt(var + eps) of Z; then the batch means of dL/d(out) and
  // dL/d(out) * x_hat.
  std::vector<float> mean, rstd, mean_d, mean_dx;
  std::vector<double> mean64, var;  // the batch's mean and biased variance, in double
  std::size_t rows = 0;             // rows in the batch
};

// Over a block of rows of z (rows x n):
// moments: this block's mean and sum of squared deviations per unit (2n doubles).
void batch_norm_moments(std::size_t rows, std::size_t n, const float* z, double* moments) noexcept;
// Training: x_hat = (z - mean) * rstd and out = gain * x_hat + shift, mean and rstd the batch's.
void batch_norm_forward(std::size_t rows, std::size_t n, const float* z, const float* mean,
                        const float* rstd, const float* gain, const float* shift, float* x_hat,
                        float* out) noexcept;
// Inference: out = gain * (z - running mean) * rstd + shift, rstd = 1 / sqrt(running var + eps)
// (kept in scratch, n floats); bn: the layer's 4n values.
void batch_norm_infer(std::size_t rows, std::size_t n, const float* z, const float* bn,
                      float* scratch, float* out) noexcept;
// sums: sum over the rows of d and of d * x_hat per unit (2n doubles), d = dL/d(out).
void batch_norm_grad_sums(std::size_t rows, std::size_t n, const float* d, const float* x_hat,
                          double* sums) noexcept;
// d: dL/d(out) -> dL/dZ, from the batch means of dL/d(out) and dL/d(out) * x_hat per unit.
void batch_norm_backward(std::size_t rows, std::size_t n, const float* gain, const float* rstd,
                         const float* mean_d, const float* mean_dx, const float* x_hat,
                         float* d) noexcept;

// After an update with the batch of `stats`: running = (1 - m) running + m batch, the variance
// unbiased (times rows / (rows - 1)).
void update_running_stats(const network& net, const batch_stats& stats, float* params) noexcept;

// Folds each batch-norm layer's running statistics, gain and shift into its W and b, in place,
// and removes the batch norm from net (rebuilding its ops): forward() then gives the same
// outputs (to rounding) without it. params: net.n_params values (the layout does not change).
void fold_batch_norm(network& net, float* params);

}  // namespace tmlp::core
