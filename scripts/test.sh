#!/usr/bin/env bash
# Sets up (Debian packages), builds and runs the whole tmlp test suite:
#   1. ASan+UBSan build (clang): every test but those tagged [slow], the fuzz regression corpora,
#      the program's end-to-end test (bad input, errors, .tmlpd files) and, since this build has
#      no MPI, what it says under mpirun
#   2. ThreadSanitizer build (clang): the trainer, BLAS-threading, parallel CSV and mapped
#      dataset tests
#   3. Release build: the core and trainer tests again with each SIMD architecture of this CPU
#      but the one it picks forced through TMLP_SIMD (the kernel tests already cover every
#      architecture in one run; step 4 runs them on the one it picks)
#   4. Release build: the whole suite through ctest
# Warnings are errors in every build. Options:
#   --no-sanitize   skip steps 1 and 2 (faster local runs)
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitize) sanitize=0 ;;
    *) echo "test.sh: unknown option '$arg' (expected --no-sanitize)" >&2; exit 2 ;;
  esac
done

bash scripts/setup.sh

jobs=$(nproc)
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DTMLP_WERROR=ON >/dev/null
cmake --build build/release -j "$jobs"

if [[ $sanitize -eq 1 ]]; then
  # At -O1 (AddressSanitizer's documentation asks for -O1 or more): the build takes a tenth less
  # time than at -O2, and its tests ran as fast (114 s against 115 on a 2-core machine).
  # Both sanitizer builds are unity builds: the library's and the program's files compiled eight
  # to a unit, which instantiates the headers' templates once per unit (on a 2-core machine
  # ASan+UBSan 6m01 -> 4m34, ThreadSanitizer 3m15 -> 2m06). The test files stay one per unit.
  cmake -S . -B build/asan -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -DNDEBUG" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -DNDEBUG" -DTMLP_SANITIZE=address,undefined \
    -DCMAKE_UNITY_BUILD=ON -DTMLP_BUILD_BENCH=OFF -DTMLP_WERROR=ON >/dev/null
  cmake --build build/asan -j "$jobs"
  # The Catch2 runs keep their sanitizer's shadow memory on transparent huge pages where the
  # system allows them (the sanitizers' default is 4 KB pages): far fewer page faults in these
  # long processes. On a 2-core machine ThreadSanitizer's run took 155 s against 193, ASan's
  # 91-93 s against 93-96. The short processes of the scripts below gain nothing from it.
  huge_shadow=no_huge_pages_for_shadow=0
  echo "== ASan+UBSan: all tests but [slow]"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:$huge_shadow \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 build/asan/tests/tmlp_tests "~[slow]"
  for corpus in tests/fuzz/corpus/*/; do
    name=$(basename "$corpus")
    echo "== ASan+UBSan: fuzz corpus $name"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "build/asan/tests/fuzz_corpus_$name" "$corpus"
  done
  echo "== ASan+UBSan: the C API from C (every function and error path, no leaks)"
  mkdir -p build/asan/tests/c_api_scratch
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    build/asan/tests/tmlp_c_test tests/data build/asan/tests/c_api_scratch
  echo "== ASan+UBSan: the program end to end"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    bash tests/cli/end_to_end.sh build/asan/src/cli/tmlp tests/data
  echo "== ASan+UBSan: a build without MPI (as the sanitizer builds are) says so under mpirun"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    bash tests/cli/without_mpi.sh build/asan/src/cli/tmlp tests/data
  echo "== ASan+UBSan: a build without ONNX (as the sanitizer builds are) says so on export"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    bash tests/cli/without_onnx.sh build/asan/src/cli/tmlp tests/data

  cmake -S . -B build/tsan -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTMLP_SANITIZE=thread -DCMAKE_UNITY_BUILD=ON -DTMLP_BUILD_BENCH=OFF -DTMLP_WERROR=ON \
    >/dev/null
  # tmlp_thread_tests: the test files with cases of these tags (tests/CMakeLists.txt).
  cmake --build build/tsan -j "$jobs" --target tmlp_thread_tests
  echo "== ThreadSanitizer: trainer, BLAS-threading, parallel CSV and dataset tests but [slow]"
  TSAN_OPTIONS="halt_on_error=1:$huge_shadow:suppressions=$PWD/cmake/tsan_suppressions.txt" \
    build/tsan/tests/tmlp_thread_tests "[train]~[slow],[blas]~[slow],[csv]~[slow],[dataset]~[slow]"
fi

# The architecture the library picks here runs them again in ctest's whole suite below.
own=$(build/release/src/cli/tmlp system | awk '$1 == "simd" { print $4 }')
for arch in $(build/release/src/cli/tmlp system --list-simd); do
  [[ $arch == "$own" ]] && continue
  echo "== Release, TMLP_SIMD=$arch: core and trainer tests"
  TMLP_SIMD=$arch build/release/tests/tmlp_tests "[core],[train]"
done

echo "== Release: whole suite"
cd build/release && ctest --output-on-failure -j "$jobs" --timeout 900
