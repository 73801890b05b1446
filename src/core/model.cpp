// tmlp::model: creation, copies and batched prediction.
#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <tbb/task_arena.h>

#include "blas/blas.hpp"
#include "core/aligned.hpp"
#include "core/linear.hpp"
#include "core/model_impl.hpp"
#include "core/parallel.hpp"
#include "kernels.hpp"
#include "tmlp/error.hpp"

namespace tmlp {

model::model(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
model::model(const model& other) : impl_(std::make_unique<impl>(*other.impl_)) {}
model& model::operator=(const model& other) {
  if (this != &other) impl_ = std::make_unique<impl>(*other.impl_);
  return *this;
}
model::model(model&&) noexcept = default;
model& model::operator=(model&&) noexcept = default;
model::~model() = default;

model model::create(const model_spec& spec) {
  auto p = std::make_unique<impl>();
  p->spec = spec;
  p->net = core::network::from_spec(spec);
  p->params.resize(p->net.n_params);
  core::init_params(p->net, spec, p->params.data());
  return model(std::move(p));
}

const model_spec& model::spec() const noexcept { return impl_->spec; }
std::size_t model::n_inputs() const noexcept { return impl_->net.n_inputs; }
std::size_t model::n_outputs() const noexcept { return impl_->net.n_outputs; }
std::size_t model::n_params() const noexcept { return impl_->net.n_params; }
std::span<float> model::parameters() noexcept { return impl_->params; }
std::span<const float> model::parameters() const noexcept { return impl_->params; }

matrix model::predict(matrix_view x, const predict_options& options) const {
  matrix out(x.rows, n_outputs());
  predict(x, out.span(), options);
  return out;
}

namespace {

// The calling thread's arena of n threads for predictions of one chunk, kept between its calls:
// a serving thread's next request finds the arena's workers still there instead of waking new
// ones (an arena made per call costs more than a row). One per calling thread, so concurrent
// callers never queue behind each other.
tbb::task_arena& one_chunk_arena(int n) {
  thread_local std::vector<std::unique_ptr<tbb::task_arena>> arenas;
  const auto i = static_cast<std::size_t>(n);
  if (arenas.size() <= i) arenas.resize(i + 1);
  if (!arenas[i]) arenas[i] = std::make_unique<tbb::task_arena>(n);
  return *arenas[i];
}

}  // namespace

void model::predict(matrix_view x, matrix_span out, const predict_options& options) const {
  const core::network& net = impl_->net;
  if (x.cols != net.n_inputs)
    throw error(
        errc::invalid_argument,
        fmt::format("predict: input has {} columns, the model expects {}", x.cols, net.n_inputs));
  if (out.rows != x.rows || out.cols != net.n_outputs)
    throw error(errc::invalid_argument, fmt::format("predict: output is {} x {}, expected {} x {}",
                                                    out.rows, out.cols, x.rows, net.n_outputs));
  if (options.n_threads < 0)
    throw error(errc::invalid_argument,
                fmt::format("predict: n_threads {} is negative", options.n_threads));
  if (x.rows == 0) return;

  // Each chunk runs its own GEMMs on one core: OpenBLAS's own threads would only contend with
  // the workers (a threaded OpenBLAS runs on one thread until this call returns).
  blas::active_backend();  // a bad TMLP_GEMM is reported here, before any product runs
  const blas::single_thread_scope blas_pin;
  const kernels::kernel_table& k = kernels::active();
  const std::size_t chunk = std::max<std::size_t>(options.chunk_rows, 1);
  const std::size_t n_chunks = (x.rows + chunk - 1) / chunk;
  const std::size_t k_out = net.n_outputs;
  const float* params = impl_->params.data();
  // Batch norm at predict time is an affine map per unit after the layer's affine map: folded
  // into W and b of a copy, it costs nothing per row.
  std::optional<core::network> folded;
  core::aligned_vector<float> folded_params;
  if (!net.bn_layers.empty()) {
    folded = net;
    folded_params = impl_->params;
    core::fold_batch_norm(*folded, folded_params.data());
    params = folded_params.data();
  }
  const core::network& run_net = folded ? *folded : net;
  // One chunk (up to chunk_rows rows: a serving request): its large weight matrices
  // (core::dot_product_matrix) split their layers' outputs over the threads, so that every
  // thread works on a small batch (core::linear_forward); up to core::dot_rows_max rows they
  // multiply by dot products of rows on W as stored, with no copy. The other matrices, and
  // every product of several chunks (a chunk per thread), run on the GEMM backend, from a copy
  // transposed once per call if the backend wants one (not for one row: matrix-vector
  // products). The same bits for any thread count.
  const bool one_chunk = n_chunks == 1;
  std::vector<char> only;  // one chunk: the layers whose matrices the copy holds
  bool copy = x.rows > 1 && blas::wants_transposed_weights();
  if (copy && one_chunk && x.rows <= core::dot_rows_max) {
    for (const core::dense_layer& l : run_net.layers)
      only.push_back(core::dot_product_matrix(l.n_out, l.n_in) ? 0 : 1);
    copy = std::find(only.begin(), only.end(), 1) != only.end();
  }
  core::aligned_buffer<float> transposed;  // the parts the products read are written first
  if (copy) transposed = core::make_aligned_buffer<float>(run_net.n_transposed);
  core::per_thread<core::workspace> workspaces(
      [&] { return core::workspace(run_net, std::min(chunk, x.rows)); });

  auto run = [&] {
    if (copy)
      core::transpose_weights(k, run_net, params, transposed.get(),
                              only.empty() ? nullptr : only.data());
    core::parallel_for_index(n_chunks, [&](std::size_t c) {
      core::workspace& ws = workspaces.local();
      const std::size_t r0 = c * chunk, rows = std::min(chunk, x.rows - r0);
      const float* y = core::forward(k, run_net, params, rows, x.row(r0), ws, nullptr, one_chunk,
                                     transposed.get());
      float* o = out.row(r0);
      std::memcpy(o, y, rows * k_out * sizeof(float));
      if (options.raw) return;
      if (net.loss.kind == loss_kind::bce)
        k.act_forward[static_cast<int>(kernels::act::sigmoid)](rows, k_out, o, {}, o);
      else if (net.loss.kind == loss_kind::ce)
        k.softmax_rows(rows, k_out, o, o);
    });
  };
  if (one_chunk) {
    one_chunk_arena(core::arena_threads(options.n_threads)).execute(run);
  } else {
    tbb::task_arena arena(core::arena_threads(options.n_threads));
    arena.execute(run);
  }
}

}  // namespace tmlp
