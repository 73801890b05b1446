// Training: optimizers, learning-rate schedules, regularization, validation, early stopping,
// callbacks and the trainer that runs them.
//
//     tmlp::model m = tmlp::model::create(spec);
//     tmlp::trainer t(tmlp::train_config{.opt = tmlp::adam{.lr = 1e-3f},
//                                        .batch_size = 256, .epochs = 20,
//                                        .valid_fraction = 0.1f,
//                                        .early_stop = {.patience = 3}});
//     tmlp::fit_result r = t.fit(m, x, y);     // x: n x n_inputs, y: n x targets
//     if (r.status == tmlp::fit_status::diverged) ...
//
// Results are bit-identical for any n_threads given the same data, config and seed: batches
// are cut into shards by size alone and every sum has a fixed order.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tmlp/checkpoint.hpp"
#include "tmlp/matrix.hpp"
#include "tmlp/model.hpp"
#include "tmlp/rows.hpp"

namespace tmlp {

class communicator;  // tmlp/distributed.hpp

// --- optimizers (update rules in kernels; defaults as in common practice) -----------------------
struct sgd {
  float lr = 0.01f;
};
struct momentum {  // v = m v + g; w -= lr v
  float lr = 0.01f;
  float momentum = 0.9f;
};
struct nesterov {  // v = m v + g; w -= lr (g + m v)
  float lr = 0.01f;
  float momentum = 0.9f;
};
struct adam {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
};
struct adamw {  // Adam with decoupled weight decay w -= lr * weight_decay * w
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.01f;
};
struct rmsprop {
  float lr = 0.01f;
  float rho = 0.99f;
  float eps = 1e-8f;
};
struct adagrad {
  float lr = 0.01f;
  float eps = 1e-10f;
};
using optimizer = std::variant<sgd, momentum, nesterov, adam, adamw, rmsprop, adagrad>;

// Optimizer names ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad"), in
// the order of the variant's alternatives; optimizer_from_string gives the default settings.
std::span<const std::string_view> optimizer_names() noexcept;
std::string_view to_string(const optimizer& o) noexcept;
std::optional<optimizer> optimizer_from_string(std::string_view name) noexcept;

// --- learning-rate schedules: the rate of each step from the optimizer's base lr --------------
struct constant_lr {};
struct step_decay {  // lr * gamma^floor(epoch / step_epochs)
  std::size_t step_epochs = 10;
  float gamma = 0.1f;
};
struct exponential_decay {  // lr * gamma^epoch
  float gamma = 0.95f;
};
struct cosine {  // linear warm-up over warmup_epochs, then cosine from lr to lr * min_fraction
  std::size_t warmup_epochs = 0;  // by step over the whole training run (config.epochs)
  float min_fraction = 0.0f;
};
struct reduce_on_plateau {  // lr *= factor after `patience` epochs without improvement
  float factor = 0.1f;      // of the validation loss (the training loss without validation)
  std::size_t patience = 5;
  float min_delta = 1e-4f;
  float min_lr = 0.0f;
};
using schedule =
    std::variant<constant_lr, step_decay, exponential_decay, cosine, reduce_on_plateau>;

// Schedule names ("constant", "step", "exp", "cosine", "plateau"), in the order of the variant's
// alternatives; schedule_from_string gives the default settings.
std::span<const std::string_view> schedule_names() noexcept;
std::string_view to_string(const schedule& s) noexcept;
std::optional<schedule> schedule_from_string(std::string_view name) noexcept;

struct early_stopping {
  std::size_t patience = 0;  // epochs without improvement before stopping; 0 = off
  float min_delta = 0.0f;    // improvement smaller than this does not count
  bool restore_best = true;  // end with the parameters of the best epoch
};

// --- reports ------------------------------------------------------------------------------------
// Health of one dense layer, from the last batch of the epoch.
struct layer_health {
  double grad_norm = 0.0;     // L2 norm of the gradient of W (mean loss over the batch)
  double weight_norm = 0.0;   // L2 norm of W
  double dead_fraction = -1;  // relu: fraction of units that output 0 for every row of
                              // the health sample (up to 1024 training rows); -1 otherwise
  bool vanishing = false;     // grad_norm / weight_norm below 1e-7, or below 1e-4 times the
                              // output layer's: updates that no longer move the layer
  bool exploding = false;     // grad_norm > 1e3 * max(weight_norm, 1), or not finite
};

struct epoch_report {
  std::size_t epoch = 0;    // 1-based
  double train_loss = 0.0;  // mean weighted loss over the epoch's batches
  std::optional<double> valid_loss;
  std::optional<double> valid_metric;  // accuracy for bce and ce, RMSE for regression losses
  std::string metric_name;             // "accuracy" or "rmse"
  float lr = 0.0f;                     // learning rate of the epoch's last step
  double seconds = 0.0;
  double samples_per_second = 0.0;
  std::vector<layer_health> layers;
  bool vanishing = false;  // any layer
  bool exploding = false;  // any layer
  std::size_t member = 0;  // the ensemble member trained (tmlp/ensemble.hpp); 0: one model
};

struct batch_report {
  std::size_t epoch = 0;  // 1-based
  std::size_t batch = 0;  // 1-based within the epoch
  std::size_t n_batches = 0;
  double loss = 0.0;  // mean weighted loss of the batch
  float lr = 0.0f;
  std::size_t member = 0;  // the ensemble member trained (tmlp/ensemble.hpp); 0: one model
};

enum class fit_status {
  completed,            // every epoch ran
  early_stopped,        // validation stopped improving
  stopped_by_callback,  // a callback returned false
  cancelled,            // trainer::cancel()
  diverged,             // a loss or gradient turned NaN or infinite; the model keeps the last
                        // finite parameters (those before the step that failed)
};
std::string_view to_string(fit_status s) noexcept;

struct fit_result {
  fit_status status = fit_status::completed;
  std::vector<epoch_report> epochs;  // those run by this fit() call (after a resume: the rest)
  std::size_t best_epoch = 0;  // 1-based, by validation (or training) loss; 0 if none finished
  double best_loss = 0.0;
  std::size_t n_steps = 0;         // optimizer steps, counting those before a resume
  std::size_t n_shards = 0;        // shards of a full batch
  std::size_t n_workers = 0;       // threads the scheduler used
  std::vector<std::string> notes;  // one-line remarks (e.g. about BLAS threading)
};

// --- configuration ------------------------------------------------------------------------------
// train_config::batch_size chosen from the training rows n by auto_batch_size(n): the power of
// two nearest 4 sqrt(n), within [16, 256]. Small sets get small batches, so that an epoch is
// several steps (96 rows: 32, 1150: 128), and from 4096 rows on every set gets 256; each epoch
// then has at least sqrt(n) / 4 steps.
inline constexpr std::size_t auto_batch = static_cast<std::size_t>(-1);
std::size_t auto_batch_size(std::size_t n) noexcept;

// The number format of the layers' matrix products (train_config::precision).
enum class gemm_precision : std::uint8_t { fp32, bf16 };

struct train_config {
  optimizer opt = adam{};
  schedule sched = constant_lr{};
  // 0 = full batch, 1 = stochastic, auto_batch: auto_batch_size(training rows)
  std::size_t batch_size = 256;
  std::size_t epochs = 10;
  int n_threads = 0;       // 0 = every core
  std::uint64_t seed = 0;  // shuffling and the validation split

  float l1 = 0.0f;            // L1 penalty, added to the gradient as l1 * sign(w)
  float l2 = 0.0f;            // L2 penalty, added to the gradient as l2 * w
  float weight_decay = 0.0f;  // decoupled decay w -= lr * weight_decay * w (any optimizer)
  float clip_norm = 0.0f;     // rescale the gradient to this global L2 norm if above; 0 = off
  float clip_value = 0.0f;    // clamp each gradient value to [-v, v]; 0 = off

  float valid_fraction = 0.0f;  // held out from the training rows (stratified for classes)
  early_stopping early_stop;

  // A batch is cut into shards, the unit of parallel work, fixed by the batch size alone: their
  // count is the power of two nearest to batch / shard_rows, at most max_shards. Larger shards
  // run their GEMMs more efficiently; more shards let more cores work.
  std::size_t shard_rows = 64;
  std::size_t max_shards = 16;

  // The dense layers' matrix products while training. bf16 (mixed precision): each product
  // reads bfloat16 roundings (to nearest, ties to even) of the weights and of its other operand
  // (the layer's input forward; dL/dZ backward) and accumulates in fp32; master weights,
  // gradients, optimizer state, activations, losses and validation stay fp32. It needs a CPU
  // with AVX512-BF16, or TMLP_SIMD=scalar (the scalar reference, on any CPU); fit() throws
  // tmlp::error naming what the CPU offers otherwise.
  gemm_precision precision = gemm_precision::fp32;

  // Called after each batch and each epoch; return false to stop training. Exceptions pass
  // through fit() and leave the model at its last complete step.
  std::function<bool(const batch_report&)> on_batch;
  std::function<bool(const epoch_report&)> on_epoch;

  // Every checkpoint_every epochs (0 = never), after on_epoch, when training goes on or has
  // run its last epoch: called with the state (tmlp/checkpoint.hpp); the model being trained holds
  // the parameters of that moment. Exceptions pass through fit() (the model keeps the epoch's
  // parameters).
  std::size_t checkpoint_every = 0;
  std::function<void(const training_state&)> on_checkpoint;
};

// Throws tmlp::error (errc::invalid_argument) naming the first field out of range, as
// "train_config.<field>" ("train_config.opt.lr", "train_config.l2"). The trainer's constructor
// calls it.
void validate(const train_config& config);

// The validation split fit() makes from config.valid_fraction, for a caller that needs the same
// rows itself (e.g. to fit preprocessing on the training rows only): rows 0..n-1 into training
// and validation rows, seeded. targets: n x target_cols. For ce (class index per row) and
// single-output bce (target >= 0.5 is class 1) the split is stratified: each class gives
// round(fraction * its count) rows to validation. Both outputs are sorted by row. Throws
// tmlp::error if fraction is outside [0, 1).
void split_rows(std::size_t n, float fraction, std::uint64_t seed, loss_kind loss,
                std::size_t target_cols, const float* targets, std::vector<std::uint32_t>& train,
                std::vector<std::uint32_t>& valid);

class trainer {
 public:
  // Validates the config (throws tmlp::error naming the field).
  explicit trainer(train_config config);
  ~trainer();
  trainer(const trainer&) = delete;
  trainer& operator=(const trainer&) = delete;

  // Trains m in place on x (n x n_inputs) and y (n x n_outputs; one class index per row for
  // ce). weights: n sample weights, or empty. Holds out config.valid_fraction for validation.
  fit_result fit(model& m, matrix_view x, matrix_view y, std::span<const float> weights = {});

  // The same with a separate validation set (config.valid_fraction is then ignored).
  fit_result fit(model& m, matrix_view x, matrix_view y, matrix_view x_valid, matrix_view y_valid,
                 std::span<const float> weights = {});

  // The same with rows gathered from a row_source (e.g. a memory-mapped file): x.rows() x
  // n_inputs features; y stays in memory. x_valid may be nullptr (then valid_fraction applies).
  fit_result fit(model& m, const row_source& x, matrix_view y, const row_source* x_valid = nullptr,
                 matrix_view y_valid = {}, std::span<const float> weights = {});

  // The next fit() continues from `state` instead of starting at epoch 1: m must hold the
  // parameters saved with it, and the config and data must be those of the interrupted run.
  // fit() throws tmlp::error if the state does not fit the model or config (optimizer, sizes,
  // epochs).
  void resume_from(training_state state) { resume_ = std::move(state); }
  // Trains on every rank of comm (tmlp/distributed.hpp): each rank calls fit() with the same
  // model, config and data, computes its share of every batch, and ends with the parameters
  // one process would have, bit for bit. Callbacks run on every rank (write files from one);
  // a stop requested on any rank (cancel, a callback returning false) stops them all at the
  // same step. comm must outlive the fits; nullptr: this process alone.
  void distribute(communicator* comm) noexcept { comm_ = comm; }

  // Stops a running fit() at the next batch; callable from any thread.
  void cancel() noexcept { cancelled_.store(true, std::memory_order_relaxed); }

  const train_config& config() const noexcept { return config_; }

 private:
  fit_result run(model& m, const row_source& x, matrix_view y, const row_source* x_valid,
                 matrix_view y_valid, std::span<const float> weights);

  train_config config_;
  std::optional<training_state> resume_;
  communicator* comm_ = nullptr;
  std::atomic<bool> cancelled_{false};
};

}  // namespace tmlp
