#!/usr/bin/env bash
# Installs every build, test and benchmark dependency of tmlp from Debian packages.
# Idempotent and non-interactive. Run as root, or as a user with sudo.
#
#   scripts/setup.sh            C++ toolchain, libraries, test and benchmark tools
#   scripts/setup.sh --peers    also the Python peers used by the comparison scripts
#                               (PyTorch; scikit-learn, pandas, NumPy and matplotlib are
#                               always installed: the Python package's tests and the tune
#                               test use them)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev clang-format
  libtbb-dev libxsimd-dev libopenblas-dev libxsmm-dev
  catch2 libbenchmark-dev
  libfast-float-dev libcli11-dev nlohmann-json3-dev libfmt-dev
  hyperfine
  # training across processes (tmlp train under mpirun) and its tests
  libopenmpi-dev openmpi-bin
  # ONNX export (tmlp export) and its checks: ONNX's schema and checker, protobuf; ONNX
  # Runtime comes from npm (tests/onnx/package-lock.json) when the tests run
  libonnx-dev libprotobuf-dev protobuf-compiler python3-onnx
  # the program-level test scripts (timings with bc, finding a rank's process with pgrep;
  # scripts/sweep.sh's bundles with xz)
  bc procps xz-utils
  # the Python package and its tests (Debian's /usr/bin/python3)
  python3-dev pybind11-dev python3-numpy python3-pandas python3-sklearn python3-pytest
  python3-tqdm
  # scripts/plot_tune.py (tmlp tune's search drawn from its journal), run by the tune test
  python3-matplotlib
)
# ONNX Runtime for the ONNX checks runs under Node.js: Debian's nodejs and npm, unless a node
# and npm are already there (another Node.js distribution ships npm inside its nodejs package).
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
if [[ "${1:-}" == "--peers" ]]; then
  packages+=(python3-torch)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
echo "setup: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
