#!/usr/bin/env bash
# The thread-scaling sweep of BENCHMARKS.md: `tmlp bench` for configs A, B and H at 1, 2, 4, 8,
# 12 and 16 threads (those up to the CPUs this process may use), training and inference, with
# efficiency per thread count. One text report and one JSON file per config go to --out
# (plot them with scripts/plot_scaling.py).
#
#   scripts/sweep.sh [--out DIR] [--threads LIST] [--configs "A B H"] [--tmlp BIN]
#                    [--precision fp32|bf16] [--repeats N] [--rows N] [--ranks LIST]
#   scripts/sweep.sh --bundle FILE.tar.xz [--tmlp BIN]
#
#   --out DIR        where the reports go (default sweep-results/<date-time>)
#   --threads LIST   thread counts, comma-separated (default 1,2,4,8,12,16, cut at the CPUs)
#   --configs LIST   named configs, space- or comma-separated (default "A B H")
#   --tmlp BIN       the program (default build/release/src/cli/tmlp, or the bundle's)
#   --precision P    the products' format while training (default fp32)
#   --repeats N      measured epochs and inference rounds per thread count (default 3)
#   --rows N         synthetic training rows of every config (default: B 50,000, one thread
#                    about 4 s an epoch on a 2-core Zen 5; the others bench's 200,000)
#   --ranks LIST     also ranks x threads: for each rank count R of LIST (comma-separated,
#                    from 2) and each thread count T with R x T within the CPUs, training under
#                    `mpirun -np R --bind-to none` at T threads a rank (tmlp bench's rank table:
#                    samples/s, each rank's compute, reduction and waiting time per step);
#                    <config>-<R>x<T>.txt and .json. Needs Open MPI's mpirun (not in a bundle)
#   --bundle FILE    measure nothing: pack the program, every shared library it loads (the
#                    dynamic loader included) and this script into FILE, for a machine that
#                    has none of the dependencies installed. There:
#                        tar xf FILE && bash sweep/sweep.sh --out DIR
#                    runs the program through the bundled loader and libraries only.
#
# OPENBLAS_* variables are passed on as they are.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

out="sweep-results/$(date +%Y%m%d-%H%M%S)"
threads="1,2,4,8,12,16"
configs="A B H"
tmlp=""
precision=fp32
repeats=3
rows=""
ranks=""
bundle=""
die() { echo "sweep.sh: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  [[ $# -ge 2 ]] || die "option '$1' needs a value (see the top of scripts/sweep.sh)"
  case "$1" in
    --out) out=$2 ;;
    --threads) threads=$2 ;;
    --configs) configs=${2//,/ } ;;
    --tmlp) tmlp=$2 ;;
    --precision) precision=$2 ;;
    --repeats) repeats=$2 ;;
    --rows) rows=$2 ;;
    --ranks) ranks=$2 ;;
    --bundle) bundle=$2 ;;
    *) die "unknown option '$1' (see the top of scripts/sweep.sh)" ;;
  esac
  shift 2
done
[[ $threads =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--threads '$threads' is not a list like 1,2,4"
[[ $repeats =~ ^[1-9][0-9]*$ ]] || die "--repeats '$repeats' is not a positive count"
[[ -z $rows || $rows =~ ^[1-9][0-9]*$ ]] || die "--rows '$rows' is not a positive count"
[[ -z $ranks || $ranks =~ ^([2-9]|[1-9][0-9]+)(,([2-9]|[1-9][0-9]+))*$ ]] ||
  die "--ranks '$ranks' is not a list of rank counts from 2 like 2,4"
[[ $precision == fp32 || $precision == bf16 ]] || die "--precision '$precision': expected fp32 or bf16"
for c in $configs; do
  [[ $c == A || $c == B || $c == C || $c == H ]] || die "--configs: unknown config '$c' (A, B, C or H)"
done

# Inside a bundle the program runs through its own loader: --library-path puts the bundle's
# libraries before the system's, and the loader is the one they were linked against.
run=()
bundled=0
if [[ -z $tmlp && -x $here/tmlp && -e $here/lib/ld-linux-x86-64.so.2 ]]; then
  bundled=1
  run=("$here/lib/ld-linux-x86-64.so.2" --library-path "$here/lib" "$here/tmlp")
else
  [[ -n $tmlp ]] || tmlp="$here/../build/release/src/cli/tmlp"
  [[ -x $tmlp ]] || die "no program at '$tmlp' (build it, or name it with --tmlp)"
  run=("$tmlp")
fi

if [[ -n $bundle ]]; then
  [[ $bundle == *.tar.xz ]] || die "--bundle '$bundle': expected a name ending in .tar.xz"
  ((!bundled)) || die "--bundle packs an installed tmlp, not a bundle's"
  stage=$(mktemp -d)
  trap 'rm -rf "$stage" "$bundle.partial"' EXIT
  mkdir -p "$stage/sweep/lib"
  cp "${run[0]}" "$stage/sweep/tmlp"
  cp "$0" "$stage/sweep/sweep.sh"
  # Every library the loader resolves (ldd's "name => path" lines) and the loader itself.
  ldd "${run[0]}" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /ld-linux/ {print $1}' |
    while read -r lib; do cp -L "$lib" "$stage/sweep/lib/$(basename "$lib")"; done
  [[ -e $stage/sweep/lib/ld-linux-x86-64.so.2 ]] || die "ldd named no x86-64 loader for '${run[0]}'"
  # And the allocator oneTBB loads itself where it finds one (dlopen, which ldd does not see).
  tbb=$(ldd "${run[0]}" | awk '$1 ~ /^libtbb\.so/ {print $3}')
  if [[ -n $tbb && -e $(dirname "$tbb")/libtbbmalloc.so.2 ]]; then
    cp -L "$(dirname "$tbb")/libtbbmalloc.so.2" "$stage/sweep/lib/"
  fi
  mkdir -p "$(dirname "$bundle")"
  tar -C "$stage" -I "xz -1 -T0" -cf "$bundle.partial" sweep
  mv "$bundle.partial" "$bundle"
  echo "sweep.sh: $bundle ($(du -h "$bundle" | cut -f1)): tar xf it, then bash sweep/sweep.sh --out DIR"
  exit 0
fi

# Thread counts past the CPUs this process may use measure oversubscription: left out.
cpus=$(nproc)
list=""
for t in ${threads//,/ }; do
  if ((t <= cpus)); then list+="${list:+,}$t"; fi
done
[[ -n $list ]] || die "--threads '$threads': none fits the $cpus CPU(s) here"

mpirun=()
if [[ -n $ranks ]]; then
  ((!bundled)) || die "--ranks runs an installed tmlp, not a bundle's"
  command -v mpirun >/dev/null || die "--ranks needs Open MPI's mpirun, which is not on PATH here"
  # R x T is within the CPUs already; Open MPI counts cores, not CPUs, as its slots.
  mpirun=(mpirun --bind-to none --oversubscribe)
  # Open MPI refuses to start as root unless asked; a measurement machine often runs as root.
  [[ $(id -u) -ne 0 ]] || mpirun+=(--allow-run-as-root)
fi

# size: the --rows flag for config $1 (B: 50,000 unless --rows says otherwise).
size_of() {
  local n=$rows
  [[ -n $n || $1 != B ]] || n=50000
  size=()
  [[ -z $n ]] || size=(--rows "$n")
}

mkdir -p "$out"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "cpus: $cpus"
  grep -m1 "model name" /proc/cpuinfo || true
  echo "avx512: $(grep -o 'avx512[a-z0-9_]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  env | grep -E '^(OPENBLAS|TMLP|LIBXSMM)_' || true
  "${run[@]}" system || true
} >"$out/environment.txt" 2>&1
for c in $configs; do
  size_of "$c"
  echo "sweep.sh: config $c at $list thread(s)"
  "${run[@]}" bench "$c" --threads "$list" --mode both --precision "$precision" \
    --repeats "$repeats" "${size[@]}" --json "$out/$c.json" | tee "$out/$c.txt"
done
for c in $configs; do
  size_of "$c"
  for r in ${ranks//,/ }; do
    for t in ${list//,/ }; do
      ((r * t <= cpus)) || continue
      echo "sweep.sh: config $c on $r ranks x $t thread(s)"
      "${mpirun[@]}" -np "$r" "${run[@]}" bench "$c" --threads "$t" --precision "$precision" \
        "${size[@]}" --json "$out/$c-${r}x$t.json" | tee "$out/$c-${r}x$t.txt"
    done
  done
done
echo "sweep.sh: reports in $out"
