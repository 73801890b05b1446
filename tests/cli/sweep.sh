#!/usr/bin/env bash
# scripts/sweep.sh: one-line errors for bad options; a bundle that carries the program with
# every shared object it loads, runs from a folder of its own with nothing but its own files
# (the dynamic loader's list of what it initialized), and writes a report per config whose JSON
# holds each thread count asked for. Timings are not asserted. About ten seconds.
# With MPI, --ranks: a config at 2 ranks x 1 thread under mpirun, its rank table in the JSON.
# Usage: sweep.sh SWEEP_SCRIPT TMLP_BINARY WITH_MPI(ON|OFF)
set -u
sweep=$1
tmlp=$2
with_mpi=${3:-OFF}
python=$(command -v /usr/bin/python3 || command -v python3) || {
  echo "FAIL python3 is needed to check the JSON"
  exit 1
}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

one_line_error "bad thread list" "--threads '2,x'" bash "$sweep" --tmlp "$tmlp" --threads 2,x
one_line_error "unknown config" "unknown config 'Z'" bash "$sweep" --tmlp "$tmlp" --configs "A Z"
one_line_error "bad precision" "--precision 'fp16'" bash "$sweep" --tmlp "$tmlp" --precision fp16
one_line_error "bad row count" "--rows '0'" bash "$sweep" --tmlp "$tmlp" --rows 0
one_line_error "option without a value" "needs a value" bash "$sweep" --tmlp "$tmlp" --out
one_line_error "unknown option" "unknown option '--thread'" bash "$sweep" --thread 2
one_line_error "missing program" "no program at '$work/none'" bash "$sweep" --tmlp "$work/none"
one_line_error "bundle name" "expected a name ending in .tar.xz" \
  bash "$sweep" --tmlp "$tmlp" --bundle "$work/b.zip"
one_line_error "no thread count fits" "none fits" bash "$sweep" --tmlp "$tmlp" --threads 4096
one_line_error "one rank is not a rank sweep" "--ranks '1'" bash "$sweep" --tmlp "$tmlp" --ranks 1
one_line_error "bad rank list" "--ranks '2,x'" bash "$sweep" --tmlp "$tmlp" --ranks 2,x
[[ ! -e $work/b.zip ]]
check "a refused bundle writes nothing" $?

bash "$sweep" --tmlp "$tmlp" --bundle "$work/out/b.tar.xz" >"$work/bundle.txt" 2>&1
check "the bundle is made" $?
mkdir -p "$work/there" && tar -C "$work/there" -xf "$work/out/b.tar.xz"
check "the bundle unpacks" $?
b=$work/there/sweep
[[ -x $b/tmlp && -f $b/sweep.sh && -e $b/lib/ld-linux-x86-64.so.2 && -e $b/lib/libc.so.6 ]]
check "it holds the program, the script, the loader and the C library" $?

# The bundled sweep, with the loader's list of what each process initialized: every process
# of the program (`tmlp system`, one `tmlp bench` per config) loads its libraries, and what
# oneTBB opens itself, from the bundle and from nowhere else.
mkdir -p "$work/ld"
(cd "$work" && LD_DEBUG=libs LD_DEBUG_OUTPUT="$work/ld/p" bash "$b/sweep.sh" --out "$work/r" \
  --configs A,H --threads 1,4096 --rows 3000 --repeats 1 >"$work/run.txt" 2>&1)
check "the bundled sweep runs" $?
ours=0 mixed=0
for f in "$work"/ld/p.*; do
  sed -n 's/.*calling init: //p' "$f" | sort -u >"$work/inits.txt"
  grep -q "^$b/lib/" "$work/inits.txt" || continue
  ours=$((ours + 1))
  if grep -v "^$b/lib/" "$work/inits.txt"; then mixed=$((mixed + 1)); fi
done
[[ $ours -eq 3 && $mixed -eq 0 ]]
check "the program ran 3 times on the bundle's libraries alone (ran $ours, mixed $mixed)" $?
cat "$work"/ld/p.* | grep -q "calling init: $b/lib/libtbbmalloc.so.2" \
  || ! grep -q "libtbbmalloc" "$work"/ld/p.*
check "oneTBB's allocator, where it opens one, is the bundle's" $?
[[ -f $work/r/A.txt && -f $work/r/H.txt && -f $work/r/environment.txt ]]
check "a report per config and the environment" $?
grep -q "^cpus: $(nproc)$" "$work/r/environment.txt" && grep -q "^simd kernels" "$work/r/environment.txt"
check "the environment names the CPUs and the kernels" $?
for c in A H; do
  "$python" - "$work/r/$c.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
rows = r["threads"]
assert [t["n_threads"] for t in rows] == [1], rows  # 4096 left out: more than the CPUs
t = rows[0]
assert t["train"]["samples_per_s"]["median"] > 0
assert t["inference"]["samples_per_s"]["median"] > 0
EOF
  check "config $c: one thread count measured, training and inference" $?
done
one_line_error "no ranks from a bundle" "not a bundle's" \
  bash "$b/sweep.sh" --out "$work/r2" --configs A --ranks 2
one_line_error "no bundle from a bundle" "not a bundle's" bash "$b/sweep.sh" --bundle "$work/c.tar.xz"

if [[ $with_mpi == ON ]]; then
  bash "$sweep" --tmlp "$tmlp" --out "$work/m" --configs A --threads 1 --rows 3000 --repeats 1 \
    --ranks 2,64 >"$work/mpi.txt" 2>&1
  check "the sweep runs 2 ranks under mpirun" $?
  [[ -f $work/m/A-2x1.json && ! -e $work/m/A-64x1.json ]]
  check "one report per ranks x threads within the CPUs (64 ranks left out)" $?
  "$python" - "$work/m/A-2x1.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ranks"] == 2 and r["threads_per_rank"] == 1, r
assert r["samples_per_s"] > 0 and len(r["per_rank"]) == 2
EOF
  check "its JSON has both ranks' figures" $?
fi
finish
