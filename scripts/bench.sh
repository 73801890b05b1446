#!/usr/bin/env bash
# Builds the Google Benchmark micro-benchmarks (bench/: activations, optimizers, GEMM, step,
# reduce) in Release if needed and runs them in a fixed environment, writing JSON.
#
#   scripts/bench.sh [--out DIR] [--filter REGEX] [--repetitions N] [--build-dir DIR]
#                    [--no-build] [-- EXTRA GOOGLE BENCHMARK FLAGS]
#
#   --out DIR          where the JSON goes (default bench-results/<date-time>); one file per
#                      benchmark program, <program>.json, and environment.txt
#   --filter REGEX     --benchmark_filter (default: all), e.g. 'step/A|gemm_step'
#   --repetitions N    --benchmark_repetitions (default 5); medians, min and max come from them
#   --build-dir DIR    build tree (default build/release; configured Release with benchmarks)
#   --no-build         run what is built
#
# Fixed environment: TMLP_SIMD unset (the best kernels of this CPU), OPENBLAS_NUM_THREADS=1 and
# OMP_NUM_THREADS=1 (each worker runs its own single-threaded GEMMs), C locale. The machine's load
# is recorded before and after in environment.txt: repeat a run that a busy machine disturbed.
set -euo pipefail
cd "$(dirname "$0")/.."

out="bench-results/$(date +%Y%m%d-%H%M%S)"
filter=""
repetitions=5
build_dir=build/release
build=1
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    --repetitions) repetitions=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "bench.sh: unknown option '$1' (see the top of scripts/bench.sh)" >&2; exit 2 ;;
  esac
done
[[ $repetitions =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --repetitions '$repetitions' is not a positive count" >&2; exit 2; }

programs=(tmlp_bench)  # every Google Benchmark program of bench/CMakeLists.txt
if [[ $build -eq 1 ]]; then
  if [[ ! -f $build_dir/CMakeCache.txt ]]; then
    generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DTMLP_BUILD_BENCH=ON >/dev/null
  else
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DTMLP_BUILD_BENCH=ON >/dev/null
  fi
  cmake --build "$build_dir" -j "$(nproc)" --target "${programs[@]}"
fi

mkdir -p "$out"
{
  echo "date: $(date -Is)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (modified)')"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cores: $(nproc)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/environment.txt"

unset TMLP_SIMD
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 LC_ALL=C
for p in "${programs[@]}"; do
  bin=$(find "$build_dir/bench" -maxdepth 1 -type f -name "$p" -perm -u+x | head -1)
  [[ -n $bin ]] || { echo "bench.sh: $p is not built in $build_dir/bench" >&2; exit 1; }
  args=(--benchmark_repetitions="$repetitions" --benchmark_display_aggregates_only=true
        --benchmark_out="$out/$p.json" --benchmark_out_format=json)
  [[ -n $filter ]] && args+=(--benchmark_filter="$filter")
  echo "== $p ${args[*]} ${extra[*]:-}"
  "$bin" "${args[@]}" "${extra[@]}"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/environment.txt"
echo "bench.sh: results in $out"
