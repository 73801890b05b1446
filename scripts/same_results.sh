#!/usr/bin/env bash
# Every result unchanged: builds BASE_REF (any git ref, in a git worktree) and the current working
# tree, runs the same fixed matrix of `tmlp train` (and `tmlp convert`, `tmlp predict`) commands
# with both programs, once with TMLP_SIMD=scalar and once with the default kernels, and compares
# every model, checkpoint, .tmlpd and prediction file byte for byte (cmp). Every change to the
# math runs it against the commit before it to prove what it did or did not change: a refactor
# must pass; a deliberate change must name exactly the runs it means to change.
#
# Usage: bash scripts/same_results.sh BASE_REF [--keep]
#   BASE_REF  the commit to compare against (a hash, branch, tag, HEAD~1, ...)
#   --keep    keep the base worktree (build/same_results/base), so that the next run rebuilds
#             it incrementally (a new worktree's files are all new to ninja), and the scratch
#             directory with the outputs of every run
# Builds (Release, only the program's target tmlp_cli; reused incrementally):
#   build/same_results/base-build (BASE_REF) and build/same_results/work (the working tree).
# Prints one line per run (same / DIFFERENT and why), then a summary; exits 1 when any run
# differs, fails in one program only or exits with another code, 2 on bad usage.
#
# The GEMM backend is part of the result. Both programs run with the backend the environment
# chooses (TMLP_GEMM, else auto: libxsmm on CPUs where it generates AVX-512 code, OpenBLAS
# elsewhere); a base from before the backends (src/blas/) always ran OpenBLAS, and one from
# before auto chose libxsmm ran OpenBLAS on AVX-512 CPUs too: pin TMLP_GEMM=openblas there.
# Switching backends changes the bits of every run (each backend sums a product's terms in its
# own order), not the quality: trained with TMLP_GEMM=libxsmm instead of
# openblas, the nine bundled datasets' test metrics (scripts/quality.py, tmlp's defaults, an
# AVX2 machine) moved by at most 0.11% (diabetes RMSE 58.855 -> 58.789, letter accuracy
# 0.9680 -> 0.9677, cpssw8 RMSE 8.6016 -> 8.5959; the other six the same to four digits).
#
# The matrix covers every layer kind (dropout, layer norm, batch norm, residual, embeddings of a
# categorical column with more than --one-hot-max levels), every optimizer, loss (and auto),
# schedule and activation, --clip-norm and --clip-value, --l1/--l2/--weight-decay, early stopping
# (which restores the best epoch), a .tmlpd input made by each program's `tmlp convert`, a
# --valid file, checkpoint + resume, and 1 and 3 threads. `tmlp train` has no flag for sample
# weights, so there is no weighted run. Data: small slices of tests/data, a few epochs each.
# shellcheck disable=SC2317,SC2054  # the matrix's functions run indirectly; 32,16 is one value
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

usage() {
  echo "usage: bash scripts/same_results.sh BASE_REF [--keep]" >&2
  echo "  builds BASE_REF and the working tree and compares the models they train byte for byte" >&2
  exit 2
}

ref=""
keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -h | --help) usage ;;
    -*) echo "same_results.sh: unknown option '$arg'" >&2; usage ;;
    *)
      [[ -z $ref ]] || { echo "same_results.sh: more than one BASE_REF" >&2; usage; }
      ref=$arg
      ;;
  esac
done
[[ -n $ref ]] || usage
if ! sha=$(git rev-parse --verify --quiet "$ref^{commit}"); then
  echo "same_results.sh: '$ref' is not a commit of this repository" >&2
  exit 2
fi

top=$root/build/same_results
base_src=$top/base
mkdir -p "$top"
scratch=$(mktemp -d "$top/tmp.XXXXXX")

cleanup() {
  if [[ $keep -eq 0 ]]; then
    rm -rf "$scratch"
    if [[ -d $base_src ]]; then
      git worktree remove --force "$base_src" || true
    fi
  fi
}
trap cleanup EXIT

# --- build both programs ---------------------------------------------------------------------
if [[ -e $base_src/.git ]]; then
  git -C "$base_src" checkout --quiet --force --detach "$sha"
else
  rm -rf "$base_src"
  git worktree prune
  git worktree add --quiet --detach "$base_src" "$sha"
fi

build() { # SOURCE_DIR BUILD_DIR
  echo "== building $1 in $2"
  cmake -S "$1" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTMLP_BUILD_TESTS=OFF \
    -DTMLP_BUILD_BENCH=OFF >"$scratch/cmake.log" 2>&1 || { cat "$scratch/cmake.log" >&2; exit 1; }
  cmake --build "$2" -j "$(nproc)" --target tmlp_cli >"$scratch/build.log" 2>&1 ||
    { tail -n 40 "$scratch/build.log" >&2; exit 1; }
}
build "$base_src" "$top/base-build"
build "$root" "$top/work"
base_bin=$top/base-build/src/cli/tmlp
work_bin=$top/work/src/cli/tmlp
echo "== base: $ref ($(git rev-parse --short "$sha")); work: the working tree"

# --- data: small slices of the bundled sets, shared read-only by every run -------------------
data=$scratch/data
mkdir -p "$data"
cp tests/data/iris.csv tests/data/wine.csv tests/data/diabetes.csv "$data/"
head -n 1501 tests/data/letter.csv >"$data/letter.csv"
{ head -n 1 tests/data/letter.csv; sed -n 1502,1901p tests/data/letter.csv; } >"$data/letter_valid.csv"
head -n 1201 tests/data/telco_churn.csv >"$data/telco.csv"
head -n 1501 tests/data/cpssw8.csv >"$data/cpssw8.csv"
chmod a-w "$data"/*

# Each run is a shell function of the matrix below that calls `tmlp` (the program under test) in
# the current directory. It runs once per program and kernel mode, in a directory of its own
# (run/<mode>/<base|work>/<name>), with the same relative paths, so the two programs see the
# same command lines. Data paths: $D.
tmlp() { "$bin" "$@"; }
D=../../../../data
common=(--seed 3 --quiet)
# with_defaults ARGS...: prints ARGS, one a line, plus --threads 1, --batch-size 64 and
# --epochs 3 where ARGS do not set them (a flag may be given only once)
with_defaults() {
  local args=("$@") flag
  for flag in --threads:1 --batch-size:64 --epochs:3; do
    [[ " ${args[*]} " == *" ${flag%%:*} "* ]] || args+=("${flag%%:*}" "${flag#*:}")
  done
  printf '%s\n' "${args[@]}"
}

declare -a names=() files=() funcs=()
add() { # NAME "FILES TO COMPARE" FUNCTION
  names+=("$1")
  files+=("$2")
  funcs+=("$3")
}
# train_run DATA ARGS...: a plain training run writing model.tmlp
train_run() {
  local data=$1 args
  shift
  mapfile -t args < <(with_defaults "$@")
  tmlp train "$D/$data" "${common[@]}" -o model.tmlp "${args[@]}"
}
# One-line runs: t NAME DATA ARGS... (compares model.tmlp).
t() {
  local name=$1
  shift
  eval "run_$name() { train_run $(printf '%q ' "$@"); }"
  add "$name" model.tmlp "run_$name"
}

# Layer kinds
t dropout iris.csv --target -1 --layers 16,8 --dropout 0.2
t layer_norm wine.csv --target -1 --layers 16,8 --layer-norm
t batch_norm wine.csv --target -1 --layers 16,8 --batch-norm
t residual wine.csv --target -1 --layers 16,16,8 --residual
t residual_ln_dropout letter.csv --target -1 --layers 32,32 --residual --layer-norm --dropout 0.1
t embedding cpssw8.csv --target -1 --layers 16,8 --one-hot-max 2 --embedding-dim 3
t embedding_bn telco.csv --target -1 --layers 16,8 --one-hot-max 2 --embedding-dim 2 --batch-norm
t hashed cpssw8.csv --target -1 --layers 16 --one-hot-max 2
# Optimizers
for opt in sgd momentum nesterov adam adamw rmsprop adagrad; do
  t "opt_$opt" wine.csv --target -1 --layers 16,8 --optimizer "$opt"
done
t opt_sgd_lr letter.csv --target -1 --layers 32 --optimizer sgd --lr 0.05 --batch-size 1 --epochs 1
t full_batch letter.csv --target -1 --layers 32 --batch-size 0 --epochs 4
# Losses
t loss_auto_reg diabetes.csv --target -1 --layers 16,8
t loss_auto_bin telco.csv --target -1 --layers 16,8
t loss_auto_multi letter.csv --target -1 --layers 32,16
t loss_mse diabetes.csv --target -1 --layers 16,8 --loss mse
t loss_mae diabetes.csv --target -1 --layers 16,8 --loss mae
t loss_huber cpssw8.csv --target -1 --layers 16,8 --loss huber
t loss_bce telco.csv --target -1 --layers 16,8 --loss bce
t loss_ce iris.csv --target -1 --layers 16,8 --loss ce
t loss_mse_classes iris.csv --target -1 --layers 16,8 --loss mse
# Schedules (4 epochs so that each changes the rate)
t sched_constant letter.csv --target -1 --layers 32 --epochs 4 --schedule constant
t sched_step letter.csv --target -1 --layers 32 --epochs 4 --schedule step:1:0.5
t sched_exp letter.csv --target -1 --layers 32 --epochs 4 --schedule exp:0.8
t sched_cosine letter.csv --target -1 --layers 32 --epochs 4 --schedule cosine:1:0.1
t sched_plateau letter.csv --target -1 --layers 32 --epochs 4 --schedule plateau:0.5:1 --lr 0.05
# Clipping and penalties
t clip_norm wine.csv --target -1 --layers 16,8 --clip-norm 0.5
t clip_value wine.csv --target -1 --layers 16,8 --clip-value 0.01
t clip_both letter.csv --target -1 --layers 32 --clip-norm 1 --clip-value 0.05 --optimizer momentum
t l1 diabetes.csv --target -1 --layers 16,8 --l1 0.001
t l2 diabetes.csv --target -1 --layers 16,8 --l2 0.01
t weight_decay wine.csv --target -1 --layers 16,8 --optimizer adamw --weight-decay 0.05
t penalties_sgd wine.csv --target -1 --layers 16,8 --optimizer nesterov --l1 0.001 --l2 0.01 --weight-decay 0.01
# Early stopping, which restores the best epoch (these stop after 5 and 4 of 8 and 10 epochs)
t early_stop letter.csv --target -1 --layers 64,64 --lr 0.03 --epochs 8 --early-stop 1
t early_stop_wine wine.csv --target -1 --layers 32 --lr 0.1 --epochs 10 --early-stop 1
t early_stop_plateau letter.csv --target -1 --layers 32 --epochs 6 --early-stop 2 --schedule plateau:0.5:1 --lr 0.05
t no_valid iris.csv --target -1 --layers 16 --valid-fraction 0 --early-stop 0
# A validation file
t valid_file letter.csv --target -1 --layers 32 --valid "$D/letter_valid.csv" --early-stop 2
# Activations
for act in relu leaky_relu prelu elu selu sigmoid tanh gelu gelu_tanh softplus identity; do
  t "act_$act" diabetes.csv --target -1 --layers 16,8 --activation "$act"
done
t act_gelu_ln_multi letter.csv --target -1 --layers 32,16 --activation gelu --layer-norm
t act_prelu_bn_bin telco.csv --target -1 --layers 16,8 --activation prelu --batch-norm
# Threads: 1 and 3
for th in 1 3; do
  t "threads${th}_plain" letter.csv --target -1 --layers 32,16 --threads "$th"
  t "threads${th}_batch_norm" letter.csv --target -1 --layers 32,16 --batch-norm --threads "$th"
  t "threads${th}_embedding" cpssw8.csv --target -1 --layers 16,8 --one-hot-max 2 --embedding-dim 3 --threads "$th"
  t "threads${th}_residual_dropout" letter.csv --target -1 --layers 32,32 --residual --dropout 0.2 --threads "$th"
  t "threads${th}_big_batch" letter.csv --target -1 --layers 64,64 --batch-size 500 --threads "$th"
done

# .tmlpd input: each program converts the CSV, then trains on its own .tmlpd
run_tmlpd() {
  tmlp convert "$D/telco.csv" telco.tmlpd --threads 1 --quiet
  tmlp train telco.tmlpd --target -1 "${common[@]}" --threads 1 --batch-size 64 --epochs 3 \
    --layers 16,8 -o model.tmlp --one-hot-max 2 --embedding-dim 2
}
add tmlpd "telco.tmlpd model.tmlp" run_tmlpd
run_tmlpd_letter() {
  tmlp convert "$D/letter.csv" letter.tmlpd --threads 1 --quiet
  tmlp train letter.tmlpd --target -1 "${common[@]}" --threads 3 --batch-size 64 --epochs 3 \
    --layers 32 -o model.tmlp
}
add tmlpd_letter_threads3 "letter.tmlpd model.tmlp" run_tmlpd_letter

# Checkpoint + resume: a run with a checkpoint every epoch, then runs resumed from the
# checkpoints of epochs 1 and 2 (with the same flags, as resume requires). Compares the
# checkpoints and all three models.
ckpt_resume() { # THREADS EXTRA_FLAGS...
  local run=("$D/letter.csv" --target -1 "${common[@]}" --batch-size 64 --epochs 4 --layers 32,16
    --early-stop 2 --schedule plateau:0.5:1 --threads "$@")
  tmlp train "${run[@]}" -o full.tmlp --checkpoint 'c{epoch}.ckpt' --checkpoint-every 1
  tmlp train "${run[@]}" -o r1.tmlp --resume c1.ckpt
  tmlp train "${run[@]}" -o r2.tmlp --resume c2.ckpt
}
run_ckpt() { ckpt_resume 1 --optimizer adam; }
run_ckpt_bn3() { ckpt_resume 3 --optimizer rmsprop --batch-norm --dropout 0.1; }
add checkpoint_resume "c1.ckpt c2.ckpt c3.ckpt c4.ckpt full.tmlp r1.tmlp r2.tmlp" run_ckpt
add checkpoint_resume_bn_threads3 "c1.ckpt c2.ckpt c3.ckpt c4.ckpt full.tmlp r1.tmlp r2.tmlp" run_ckpt_bn3

# Predictions of a few models (labels and probabilities)
run_predict_multi() {
  train_run letter.csv --target -1 --layers 32,16 --layer-norm
  tmlp predict model.tmlp "$D/letter_valid.csv" -o labels.csv
  tmlp predict model.tmlp "$D/letter_valid.csv" --proba -o proba.csv
}
run_predict_bin_emb() {
  train_run telco.csv --target -1 --layers 16,8 --one-hot-max 2 --embedding-dim 2 --batch-norm
  tmlp predict model.tmlp "$D/telco.csv" --proba -o proba.csv
}
run_predict_reg() {
  train_run cpssw8.csv --target -1 --layers 16,8 --one-hot-max 2 --embedding-dim 3 --loss huber
  tmlp predict model.tmlp "$D/cpssw8.csv" -o pred.csv
}
add predict_multi "model.tmlp labels.csv proba.csv" run_predict_multi
add predict_binary_embedding "model.tmlp proba.csv" run_predict_bin_emb
add predict_regression "model.tmlp pred.csv" run_predict_reg

# --- run the matrix -------------------------------------------------------------------------
# run_one FUNC DIR: runs FUNC in DIR with $bin, stopping at its first failing command; prints
# the exit code (the output goes to DIR/out.log)
run_one() {
  mkdir -p "$2"
  set +e
  (
    set -e
    cd "$2"
    "$1"
  ) >"$2/out.log" 2>&1
  local rc=$?
  set -e
  echo "$rc"
}

declare -a differ=() formats=()
note=""
n_runs=0
start=$SECONDS
for mode in scalar default; do
  if [[ $mode == scalar ]]; then export TMLP_SIMD=scalar; else unset TMLP_SIMD; fi
  echo "== TMLP_SIMD=${TMLP_SIMD:-(default kernels)}"
  for i in "${!names[@]}"; do
    name=${names[$i]}
    label="$mode/$name"
    bdir=$scratch/run/$mode/base/$name
    wdir=$scratch/run/$mode/work/$name
    bin=$base_bin
    brc=$(run_one "${funcs[$i]}" "$bdir")
    bin=$work_bin
    wrc=$(run_one "${funcs[$i]}" "$wdir")
    n_runs=$((n_runs + 1))
    why=""
    run_note=""
    if [[ $brc != "$wrc" ]]; then
      why="exit code base $brc, work $wrc"
    else
      for f in ${files[$i]}; do
        if [[ -f $bdir/$f && -f $wdir/$f ]]; then
          if cmp -s "$bdir/$f" "$wdir/$f"; then
            :
          elif [[ $f == *.ckpt ]] &&
            note=$(/usr/bin/python3 "$root/scripts/same_checkpoint.py" "$bdir/$f" "$wdir/$f"); then
            formats+=("$label/$f: $note")
            run_note=" (checkpoints in another format, same contents)"
          else
            why+="${why:+, }$f differs${note:+ ($note)}"
          fi
          note=""
        elif [[ -f $bdir/$f || -f $wdir/$f ]]; then
          why+="${why:+, }$f written by one program only"
        elif [[ $brc == 0 ]]; then
          why+="${why:+, }$f not written"
        fi
      done
    fi
    if [[ -z $why && $brc != 0 ]]; then
      echo "  $label: FAILED in both (exit $brc; see out.log with --keep)"
      differ+=("$label (failed in both)")
    elif [[ -z $why ]]; then
      echo "  $label: same$run_note"
    else
      echo "  $label: DIFFERENT ($why)"
      differ+=("$label")
    fi
  done
done
elapsed=$((SECONDS - start))

if [[ ${#formats[@]} -gt 0 ]]; then
  echo "== checkpoints whose bytes differ only by their format version (same spec, metadata,"
  echo "   state and floats; scripts/same_checkpoint.py):"
  printf '  %s\n' "${formats[@]}"
fi
echo "== summary: $n_runs runs ($((n_runs / 2)) per kernel mode) in ${elapsed}s, base $ref ($(git rev-parse --short "$sha"))"
if [[ ${#differ[@]} -eq 0 ]]; then
  echo "all $n_runs runs same"
  exit 0
fi
echo "${#differ[@]} of $n_runs runs DIFFERENT or failed:"
printf '  %s\n' "${differ[@]}"
[[ $keep -eq 1 ]] && echo "outputs kept in $scratch/run/<mode>/<base|work>/<run>"
exit 1
