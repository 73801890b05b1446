#include "train/fit_plan.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <thread>

#include <fmt/format.h>
#include <tbb/info.h>

#include "blas/blas.hpp"
#include "kernels.hpp"
#include "tmlp/error.hpp"
#include "train/gradient_engine.hpp"
#include "train/split.hpp"
#include "train/train_step.hpp"

namespace tmlp {

std::size_t auto_batch_size(std::size_t n) noexcept {
  const double target = 4.0 * std::sqrt(static_cast<double>(n));
  std::size_t b = 16;
  while (b < 256 && static_cast<double>(b) * std::sqrt(2.0) < target) b *= 2;
  return b;
}

}  // namespace tmlp

namespace tmlp::train {
namespace {

[[noreturn]] void bad_input(const std::string& what) { throw error(errc::invalid_data, what); }

void check_rows(const char* what, std::size_t n) {
  if (n >= (std::size_t{1} << 32))
    bad_input(fmt::format("fit: {} {} exceed the limit of 2^32 - 1", n, what));
}

void check_data(const core::network& net, const row_source& x, matrix_view y,
                const row_source* x_valid, matrix_view y_valid, std::span<const float> weights) {
  const std::size_t n_rows = x.rows(), tw = core::target_width(net.loss.kind, net.n_outputs);
  if (n_rows == 0) bad_input("fit: no training rows");
  check_rows("rows", n_rows);
  if (x.cols() != net.n_inputs)
    bad_input(fmt::format("fit: x has {} columns, expected {}", x.cols(), net.n_inputs));
  check_matrix("y", y, n_rows, tw);
  if (!weights.empty() && weights.size() != n_rows)
    bad_input(fmt::format("fit: {} sample weights for {} rows", weights.size(), n_rows));
  core::check_targets(net.loss, y.rows, net.n_outputs, y.data,
                      weights.empty() ? nullptr : weights.data());
  if (x_valid == nullptr) return;
  if (x_valid->rows() == 0) bad_input("fit: the validation set has no rows");
  check_rows("validation rows", x_valid->rows());
  if (x_valid->cols() != net.n_inputs)
    bad_input(
        fmt::format("fit: x_valid has {} columns, expected {}", x_valid->cols(), net.n_inputs));
  check_matrix("y_valid", y_valid, x_valid->rows(), tw);
  core::check_targets(net.loss, y_valid.rows, net.n_outputs, y_valid.data, nullptr);
}

void check_precision(gemm_precision precision) {
  if (precision != gemm_precision::bf16 || blas::cpu_has_bf16() || blas::bf16_kernels() ||
      std::string_view(kernels::active().name) == "scalar")
    return;
  const auto simd = kernels::available();
  throw error(errc::unsupported,
              fmt::format("precision bf16 needs a CPU with AVX512-BF16; this one offers {}{} (with "
                          "TMLP_SIMD=scalar, bf16 runs through the scalar reference on any CPU)",
                          simd.back(), simd.back() == "avx512" ? " without BF16" : ""));
}

std::vector<std::uint32_t> all_rows(std::size_t n) {
  std::vector<std::uint32_t> rows(n);
  for (std::size_t i = 0; i < n; ++i) rows[i] = static_cast<std::uint32_t>(i);
  return rows;
}

}  // namespace

void check_matrix(const char* name, matrix_view m, std::size_t rows, std::size_t cols) {
  if (m.cols != cols)
    bad_input(fmt::format("fit: {} has {} columns, expected {}", name, m.cols, cols));
  if (m.rows != rows)
    bad_input(fmt::format("fit: {} has {} rows, expected {}", name, m.rows, rows));
  for (std::size_t r = 0; r < m.rows; ++r)
    for (std::size_t c = 0; c < m.cols; ++c)
      if (!std::isfinite(m(r, c)))
        bad_input(fmt::format("fit: {} row {} column {} is {}, expected a finite number", name, r,
                              c, m(r, c)));
}

fit_plan make_fit_plan(const train_config& cfg, const core::network& net, const row_source& x,
                       matrix_view y, const row_source* x_valid, matrix_view y_valid,
                       std::span<const float> weights) {
  check_data(net, x, y, x_valid, y_valid, weights);
  blas::active_backend();  // a bad TMLP_GEMM is reported here, before any product runs
  check_precision(cfg.precision);
  fit_plan p;
  p.x = &x;
  p.y = y;
  p.weights = weights.empty() ? nullptr : weights.data();

  if (x_valid == nullptr && cfg.valid_fraction > 0.0f) {
    split_rows(x.rows(), cfg.valid_fraction, cfg.seed, net.loss.kind, y.cols, y.data, p.train_rows,
               p.valid_rows);
    if (p.train_rows.empty())
      bad_input(fmt::format("fit: valid_fraction {} leaves no training rows", cfg.valid_fraction));
  } else {
    p.train_rows = all_rows(x.rows());
  }
  if (x_valid != nullptr) p.valid_rows = all_rows(x_valid->rows());
  p.valid_x = x_valid != nullptr ? x_valid : &x;
  p.valid_y = x_valid != nullptr ? y_valid : y;

  p.n_train = p.train_rows.size();
  const std::size_t batch =
      cfg.batch_size == auto_batch ? auto_batch_size(p.n_train) : cfg.batch_size;
  p.batch = batch == 0 ? p.n_train : std::min(batch, p.n_train);
  p.n_batches = (p.n_train + p.batch - 1) / p.batch;
  p.n_shards = plan_shards(p.batch, cfg.shard_rows, cfg.max_shards).n_shards;
  // A process whose affinity allows fewer CPUs than the machine has (an MPI launcher binds each
  // rank to a core by default) gets no more TBB threads than those CPUs: ask for no more.
  int hw = cfg.n_threads > 0 ? cfg.n_threads : tbb::info::default_concurrency();
  const int cpus = tbb::info::default_concurrency();
  if (hw > cpus && cpus < static_cast<int>(std::thread::hardware_concurrency())) {
    p.notes.push_back(fmt::format(
        "{} threads asked, but this process may run on only {} of the machine's {} CPUs (its "
        "affinity; under mpirun, add --bind-to none or --map-by slot:PE={})",
        hw, cpus, std::thread::hardware_concurrency(), hw));
    hw = cpus;
  }
  p.n_workers = choose_workers(net, p.batch, p.n_shards, hw);
  if (cfg.precision == gemm_precision::bf16 && !blas::bf16_kernels())
    p.notes.push_back(
        "precision bf16: no bf16 GEMM kernels here (TMLP_GEMM=openblas, or libxsmm generates "
        "none for this CPU), so the products multiply bfloat16 roundings of their operands on "
        "the fp32 kernels: the results of bf16 products, more slowly than fp32");
  return p;
}

}  // namespace tmlp::train
