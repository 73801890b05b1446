#!/usr/bin/env bash
# Sets up (Debian packages), builds tmlp, and shows what is built: the SIMD kernels chosen for
# this CPU, the BLAS it runs on, a short timing of the vectorized activation kernels against the
# scalar reference, and whole training steps of the benchmark configurations against the time
# their GEMMs alone take. (Training from a CSV file comes with the data reader and the program.)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" --target tmlp_cli tmlp_bench

build/release/src/cli/tmlp system
echo
echo "Activation kernels, vectorized against the scalar reference (4096 floats, in cache):"
OPENBLAS_NUM_THREADS=1 build/release/bench/tmlp_bench --benchmark_min_time=0.05 \
  --benchmark_filter='^act_fwd/(tanh|sigmoid|gelu_erf|relu)/(scalar|avx2|avx512)/4096$'
echo
echo "Training steps (items/s = samples/s) next to the GEMMs alone of the same step, one thread:"
OPENBLAS_NUM_THREADS=1 build/release/bench/tmlp_bench --benchmark_min_time=0.1 \
  --benchmark_filter='^(gemm_step|step)/(A|C|H)'
