#include "core/linear.hpp"

#include <algorithm>
#include <memory>

#include "blas/blas.hpp"
#include "core/bf16_operands.hpp"
#include "core/network.hpp"
#include "core/parallel.hpp"
#include "core/pipeline.hpp"
#include "core/workspace.hpp"

namespace tmlp::core {

void linear_forward(const dense_layer& l, const float* params, std::size_t rows, const float* x,
                    float* z, const kernels::kernel_table* dots, const float* transposed) noexcept {
  // Z = b broadcast, then Z += X·Wᵀ: (rows x n_in)·(n_in x n_out)
  const float* b = params + l.b_offset;
  if (dots != nullptr && dot_product_matrix(l.n_out, l.n_in)) {
    const float* w = params + l.w_offset;
    auto block = [&](std::size_t o, std::size_t n) {
      for (std::size_t r = 0; r < rows; ++r) std::copy(b + o, b + o + n, z + r * l.n_out + o);
      if (rows == 1)  // a matrix-vector product (OpenBLAS's sgemv), as fast
        blas::sgemm(false, true, 1, n, l.n_in, 1.0f, x, l.n_in, w + o * l.n_in, l.n_in, 1.0f, z + o,
                    n);
      else if (rows <= dot_rows_max)
        dots->add_xwt(rows, n, l.n_in, x, l.n_in, w + o * l.n_in, l.n_in, z + o, l.n_out);
      else if (transposed != nullptr)  // a strip of Wᵀ's columns
        blas::sgemm(false, false, rows, n, l.n_in, 1.0f, x, l.n_in, transposed + l.t_offset + o,
                    l.t_ld, 1.0f, z + o, l.n_out);
      else
        blas::sgemm(false, true, rows, n, l.n_in, 1.0f, x, l.n_in, w + o * l.n_in, l.n_in, 1.0f,
                    z + o, l.n_out);
    };
    parallel_for_index((l.n_out + split_block - 1) / split_block, [&](std::size_t i) {
      block(i * split_block, std::min(split_block, l.n_out - i * split_block));
    });
    return;
  }
  for (std::size_t r = 0; r < rows; ++r) std::copy(b, b + l.n_out, z + r * l.n_out);
  if (transposed != nullptr)  // Wᵀ: n_in x n_out, rows t_ld apart
    blas::sgemm(false, false, rows, l.n_out, l.n_in, 1.0f, x, l.n_in, transposed + l.t_offset,
                l.t_ld, 1.0f, z, l.n_out);
  else
    blas::sgemm(false, true, rows, l.n_out, l.n_in, 1.0f, x, l.n_in, params + l.w_offset, l.n_in,
                1.0f, z, l.n_out);
}

namespace {
// m (rows x cols) with rows ld apart, copied to out when ld != cols; else m itself.
const float* with_stride(std::size_t rows, std::size_t cols, const float* m, std::size_t ld,
                         float* out) noexcept {
  if (ld == cols) return m;
  for (std::size_t r = 0; r < rows; ++r) std::copy_n(m + r * cols, cols, out + r * ld);
  return out;
}
}  // namespace

std::size_t padded_rows_room(const dense_layer& l) noexcept {
  const std::size_t in = blas::padded_stride(l.n_in), out = blas::padded_stride(l.n_out);
  return in == l.n_in && out == l.n_out ? 0 : in + out;
}

void linear_backward(const kernels::kernel_table& k, const dense_layer& l, const float* params,
                     std::size_t rows, const float* x, float* d_z, float* grads, float* d_x,
                     bool accumulate_dx, bool round_d_z, const float* padded, float* scratch,
                     kept_operands* keep) noexcept {
  // db = column sums of dZ (before any rounding)
  k.col_sums(rows, l.n_out, d_z, grads + l.b_offset);
  if (round_d_z) k.round_bf16(rows * l.n_out, d_z, d_z);
  if (keep != nullptr) {
    keep->rows = rows;
    blas::pack_tn_a(rows, l.n_out, d_z, l.n_out, keep->d_z);
    blas::pack_tn_b(rows, l.n_in, x, l.n_in, keep->x);
  } else {
    // dW = dZᵀ·X: (n_out x rows)·(rows x n_in); from copies with padded rows where they would
    // otherwise fall on a few cache sets.
    const bool copy = scratch != nullptr && rows > 1 && l.n_out > 1;
    const std::size_t ld_x = copy ? blas::padded_stride(l.n_in) : l.n_in;
    const std::size_t ld_z = copy ? blas::padded_stride(l.n_out) : l.n_out;
    const float* xs = with_stride(rows, l.n_in, x, ld_x, scratch);
    const float* zs = with_stride(rows, l.n_out, d_z, ld_z, copy ? scratch + rows * ld_x : nullptr);
    blas::sgemm(true, false, l.n_out, l.n_in, rows, 1.0f, zs, ld_z, xs, ld_x, 0.0f,
                grads + l.w_offset, l.n_in);
  }
  // dX = dZ·W: (rows x n_out)·(n_out x n_in)
  if (d_x == nullptr) return;
  const bool pad = padded != nullptr && l.pad_offset != no_offset;
  blas::sgemm(false, false, rows, l.n_in, l.n_out, 1.0f, d_z, l.n_out,
              pad ? padded + l.pad_offset : params + l.w_offset, pad ? l.pad_ld : l.n_in,
              accumulate_dx ? 1.0f : 0.0f, d_x, l.n_in);
}

void transpose_weights(const kernels::kernel_table& k, const network& net, const float* params,
                       float* out, const char* only) noexcept {
  // Tasks: strips of 64 columns of each matrix (each layer's W, then its projection, if any), so
  // a wide layer's copy spreads over the workers. Columns c0..c1 of W are rows c0..c1 of Wᵀ:
  // each task writes one contiguous range (whole rows), rather than a slice of every row.
  constexpr std::size_t strip = 64;
  auto strips = [&](std::size_t offset, const dense_layer& l) {
    const bool skip = only != nullptr && only[&l - net.layers.data()] == 0;
    return offset == no_offset || skip ? std::size_t{0} : (l.n_in + strip - 1) / strip;
  };
  std::size_t n_tasks = 0;
  for (const dense_layer& l : net.layers)
    n_tasks += strips(l.w_offset, l) + strips(l.proj_offset, l);
  parallel_for_index(n_tasks, [&](std::size_t t) {
    for (const dense_layer& l : net.layers)  // a few layers: a scan for the task's matrix
      for (const bool proj : {false, true}) {
        const std::size_t from = proj ? l.proj_offset : l.w_offset;
        if (t >= strips(from, l)) {
          t -= strips(from, l);
          continue;
        }
        const std::size_t c0 = t * strip, c1 = std::min(l.n_in, c0 + strip);
        const std::size_t to = proj ? l.t_proj_offset : l.t_offset;
        k.transpose(l.n_out, c1 - c0, params + from + c0, l.n_in, out + to + c0 * l.t_ld, l.t_ld);
        return;
      }
  });
}

bool bf16_kernels_cover(const dense_layer& l, std::size_t rows) noexcept {
  if (l.proj_offset != no_offset) return false;
  // As linear_op::forward_bf16 and backward_bf16 call bgemm.
  const std::size_t k = even(l.n_in), kd = even(l.n_out);
  const float beta = l.residual ? 1.0f : 0.0f;
  return blas::bgemm_may_run(rows, l.n_out) &&
         blas::bgemm_runs(rows, l.n_out, k, bf16_ld(k), bf16_ld(l.n_out), 1.0f, l.n_out) &&
         blas::bgemm_may_run(rows, l.n_in) &&
         blas::bgemm_runs(rows, l.n_in, kd, bf16_ld(kd), bf16_ld(l.n_in), beta, l.n_in);
}

void pad_weights(const network& net, const float* params, float* out) noexcept {
  constexpr std::size_t block = 64;  // rows per task
  auto blocks = [&](const dense_layer& l) {
    return l.pad_offset == no_offset ? std::size_t{0} : (l.n_out + block - 1) / block;
  };
  std::size_t n_tasks = 0;
  for (const dense_layer& l : net.layers) n_tasks += blocks(l);
  parallel_for_index(n_tasks, [&](std::size_t t) {
    for (const dense_layer& l : net.layers) {
      if (t >= blocks(l)) {
        t -= blocks(l);
        continue;
      }
      const std::size_t r1 = std::min(l.n_out, (t + 1) * block);
      for (std::size_t r = t * block; r < r1; ++r)
        std::copy_n(params + l.w_offset + r * l.n_in, l.n_in, out + l.pad_offset + r * l.pad_ld);
      return;
    }
  });
}

void round_weights_bf16(const kernels::kernel_table& k, const network& net, const float* params,
                        float* out, const char* only) noexcept {
  if (only == nullptr) std::copy(params, params + net.n_dense_params, out);
  // Task 2i: layer i's W (and b, with only); task 2i + 1: its projection, if any.
  parallel_for_index(2 * net.layers.size(), [&](std::size_t t) {
    const dense_layer& l = net.layers[t / 2];
    if (only != nullptr && only[t / 2] == 0) return;
    const std::size_t offset = t % 2 == 0 ? l.w_offset : l.proj_offset;
    if (offset != no_offset) k.round_bf16(l.n_out * l.n_in, params + offset, out + offset);
    if (only != nullptr && t % 2 == 0) std::copy_n(params + l.b_offset, l.n_out, out + l.b_offset);
  });
}

namespace {

class linear_op final : public op {
 public:
  linear_op(const dense_layer& l, std::size_t index, slot z, slot d_x) noexcept
      : l_(l), index_(index), z_(z), d_x_(d_x) {}

  const float* forward(const pass& p, const float* in) const noexcept override {
    float* z = p.ws.floats(z_);
    if (p.bf16_w != nullptr && forward_bf16(p, in, z)) return z;
    linear_forward(l_, p.product_weights(), p.rows, rounded_input(p, in), z,
                   p.dot_products ? &p.k : nullptr, p.transposed);
    return z;
  }

  float* backward(const pass& p, const float* in, const float*, float* d) const noexcept override {
    // A residual layer's skip has already written its share of dL/dX: add to it. d is this
    // op's alone: bf16 rounds it in place.
    float* d_x = d_x_ == no_slot ? nullptr : p.ws.floats(d_x_);
    if (p.bf16_w != nullptr) {
      backward_bf16(p, in, d, d_x);
      return d_x;
    }
    kept_operands* keep = kept(p);
    linear_backward(p.k, l_, p.product_weights(), p.rows, rounded_input(p, in), d, p.grads, d_x,
                    l_.residual, p.bf16_params != nullptr, p.padded, p.pad_scratch, keep);
    return d_x;
  }

 private:
  dense_layer l_;
  std::size_t index_;  // in network::layers
  slot z_, d_x_;

  // Where the gradient engine keeps this layer's weight-gradient operands, or nullptr.
  kept_operands* kept(const pass& p) const noexcept {
    if (p.kept == nullptr) return nullptr;
    kept_operands& o = p.kept[index_];
    return o.d_z != nullptr || o.d_z16 != nullptr ? &o : nullptr;
  }

  // The layer's input as the products read it: bf16 rounds it into p.bf16_x.
  const float* rounded_input(const pass& p, const float* in) const noexcept {
    if (p.bf16_params == nullptr) return in;
    p.k.round_bf16(p.rows * l_.n_in, in, p.bf16_x);
    return p.bf16_x;
  }

  // Z = b + X·Wᵀ on a bf16 kernel; false (Z unfinished) when there is none for the shape.
  bool forward_bf16(const pass& p, const float* in, float* z) const noexcept {
    if (!blas::bgemm_may_run(p.rows, l_.n_out)) return false;
    const std::size_t k = even(l_.n_in), lda = bf16_ld(k);
    bf16* x = p.bf16_s->left.data();
    bf16_rows(p.k, p.rows, l_.n_in, in, x, lda);
    const float* b = p.params + l_.b_offset;
    for (std::size_t r = 0; r < p.rows; ++r) std::copy(b, b + l_.n_out, z + r * l_.n_out);
    return blas::bgemm(p.rows, l_.n_out, k, x, lda, p.bf16_w->forward(l_.w_offset),
                       bf16_ld(l_.n_out), 1.0f, z, l_.n_out);
  }

  // The backward products on bf16 kernels, each that has none on fp32 roundings.
  void backward_bf16(const pass& p, const float* in, const float* d, float* d_x) const noexcept {
    p.k.col_sums(p.rows, l_.n_out, d, p.grads + l_.b_offset);
    const float* weights = p.bf16_params;  // the fp32 roundings, for a product without a kernel
    const float* d_rounded = nullptr;
    auto rounded_d = [&] {
      if (d_rounded == nullptr) p.k.round_bf16(p.rows * l_.n_out, d, p.bf16_d);
      return d_rounded = p.bf16_d;
    };
    // dW = dZᵀ·X: dZᵀ (n_out x even(rows)) times X as pairs of rows.
    bf16 *left = p.bf16_s->left.data(), *right = p.bf16_s->right.data();
    const std::size_t k = even(p.rows), ld_in = bf16_ld(l_.n_in);
    float* g = p.grads + l_.w_offset;
    if (kept_operands* keep = kept(p); keep != nullptr) {  // multiplied over the shards later
      keep->rows = p.rows;
      bf16_transposed(p.k, p.rows, l_.n_out, d, keep->d_z16, k);
      bf16_row_pairs(p.k, p.rows, l_.n_in, in, keep->x16, ld_in);
    } else {
      const bool weights_on_kernel = blas::bgemm_may_run(l_.n_out, l_.n_in);
      if (weights_on_kernel) {
        bf16_transposed(p.k, p.rows, l_.n_out, d, left, k);
        bf16_row_pairs(p.k, p.rows, l_.n_in, in, right, ld_in);
      }
      if (!weights_on_kernel ||
          !blas::bgemm(l_.n_out, l_.n_in, k, left, k, right, ld_in, 0.0f, g, l_.n_in))
        blas::sgemm(true, false, l_.n_out, l_.n_in, p.rows, 1.0f, rounded_d(), l_.n_out,
                    rounded_input(p, in), l_.n_in, 0.0f, g, l_.n_in);
    }
    if (d_x == nullptr) return;
    // dX = dZ·W: dZ (rows x even(n_out)) times W as pairs of rows.
    const float beta = l_.residual ? 1.0f : 0.0f;
    const std::size_t kd = even(l_.n_out), lda = bf16_ld(kd);
    const bool input_on_kernel = blas::bgemm_may_run(p.rows, l_.n_in);
    if (input_on_kernel) bf16_rows(p.k, p.rows, l_.n_out, d, left, lda);
    if (!input_on_kernel ||
        !blas::bgemm(p.rows, l_.n_in, kd, left, lda, p.bf16_w->backward(l_.w_offset), ld_in, beta,
                     d_x, l_.n_in))
      blas::sgemm(false, false, p.rows, l_.n_in, l_.n_out, 1.0f, rounded_d(), l_.n_out,
                  weights + l_.w_offset, l_.n_in, beta, d_x, l_.n_in);
  }
};

}  // namespace

void add_linear(pipeline_builder& b, const pipeline_builder::layer_context& c) {
  const slot z = b.plan().floats(c.layer->n_out);
  b.add(std::make_unique<linear_op>(*c.layer, c.index, z, c.d_in));
}

}  // namespace tmlp::core
