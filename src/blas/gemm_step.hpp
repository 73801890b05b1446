// The matrix products of one MLP training step alone, on constant buffers: what the GEMMs of a
// step cost with nothing else around them. `tmlp bench` times it as the "GEMM limit";
// bench/bench_gemm.cpp times it and each product apart.
//
//     tmlp::blas::gemm_step s({28, 256, 256, 1}, 256);  // widths, rows
//     s.run();                                           // s.flops floating-point operations
//
// The products run as the training step runs them on the backend: with libxsmm, the forward
// product multiplies from W transposed, rows transposed_stride(n_out) apart, the input gradient
// from W with rows padded_stride(n_in) apart (both made once per step there, so not timed
// here), and the weight gradient from dZ and X with rows padded_stride(n_out) and (n_in) apart
// (copied per product there, which is not timed here either).
#pragma once

#include <cstddef>
#include <vector>

#include "blas/blas.hpp"

namespace tmlp::blas {

// One layer n_in -> n_out at `rows` rows, with the buffers of its three products.
struct gemm_layer {
  backend on;
  std::size_t rows, n_in, n_out;
  // On libxsmm: ld_in, ld_out = padded_stride(n_in), (n_out); wp is W with rows ld_in
  // apart, xp and zp are X and Z with rows ld_in and ld_out apart.
  std::size_t ld_in, ld_out;
  std::vector<float> x, w, wt, z, dw, dx, wp, xp, zp;
  gemm_layer(std::size_t r, std::size_t i, std::size_t o, backend b)
      : on(b),
        rows(r),
        n_in(i),
        n_out(o),
        ld_in(b == backend::libxsmm ? padded_stride(i) : i),
        ld_out(b == backend::libxsmm ? padded_stride(o) : o),
        x(r * i, 0.5f),
        w(o * i, 0.01f),
        wt(transposed_stride(o) * i, 0.01f),
        z(r * o, 0.25f),
        dw(o * i, 0.0f),
        dx(r * i, 0.0f),
        wp(o * ld_in, 0.01f),
        xp(r * ld_in, 0.5f),
        zp(r * ld_out, 0.25f) {}
  void forward() {               // Z (rows x n_out) = X (rows x n_in) Wᵀ
    if (on == backend::libxsmm)  // from Wᵀ (n_in x n_out), as the step runs it
      sgemm(on, false, false, rows, n_out, n_in, 1.0f, x.data(), n_in, wt.data(),
            transposed_stride(n_out), 0.0f, z.data(), n_out);
    else
      sgemm(on, false, true, rows, n_out, n_in, 1.0f, x.data(), n_in, w.data(), n_in, 0.0f,
            z.data(), n_out);
  }
  void weight_grad() {  // dW (n_out x n_in) = dZᵀ X
    sgemm(on, true, false, n_out, n_in, rows, 1.0f, zp.data(), ld_out, xp.data(), ld_in, 0.0f,
          dw.data(), n_in);
  }
  void input_grad() {  // dX (rows x n_in) = dZ W
    sgemm(on, false, false, rows, n_in, n_out, 1.0f, z.data(), n_out, wp.data(), ld_in, 0.0f,
          dx.data(), n_in);
  }
};

// The step: every forward product, then from the last layer back its weight gradient and, but
// for the first layer, its input gradient.
struct gemm_step {
  std::vector<gemm_layer> layers;
  double flops = 0.0;  // per run()
  gemm_step(const std::vector<std::size_t>& widths, std::size_t rows,
            backend on = active_backend()) {
    for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
      layers.emplace_back(rows, widths[i], widths[i + 1], on);
      flops += 2.0 * static_cast<double>(rows * widths[i] * widths[i + 1]) * (i == 0 ? 2.0 : 3.0);
    }
  }
  void run() {
    for (auto& l : layers) l.forward();
    for (std::size_t i = layers.size(); i-- > 0;) {
      layers[i].weight_grad();
      if (i > 0) layers[i].input_grad();
    }
  }
};

}  // namespace tmlp::blas
