#!/usr/bin/env bash
# Checkpoints written by an earlier version of tmlp still resume: tests/fixtures holds a
# checkpoint of format version 1 (written after epoch 2 of the run below) and the model file of
# that run left uninterrupted, both written by the program before the format stored the
# optimizer by name. Resuming from it must end with the same bytes.
# Usage: old_checkpoint.sh TMLP_BINARY DATA_DIR FIXTURE_DIR
set -u
tmlp=$1
data=$2
fixtures=$3
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# The fixtures were written on OpenBLAS: the backend that gives their bits (auto picks libxsmm
# on AVX-512 CPUs, whose products round differently).
export TMLP_GEMM=openblas

# The defaults that changed since are given as they were then (--batch-size 256,
# --label-smoothing 0, --scale standardize, --numeric-embedding none).
today=("$data/iris.csv" --target target_species --layers 8 --epochs 4 --early-stop 3
  --schedule plateau:0.5:1 --seed 7 --quiet)
run=("${today[@]}" --batch-size 256 --label-smoothing 0 --scale standardize
  --numeric-embedding none)
for threads in 1 3; do
  "$tmlp" train "${run[@]}" --threads $threads -o "$work/r$threads.tmlp" \
    --resume "$fixtures/checkpoint_v1_iris_epoch2.ckpt"
  check "resume from a version 1 checkpoint with $threads thread(s)" $?
  cmp -s "$fixtures/checkpoint_v1_iris_final.tmlp" "$work/r$threads.tmlp"
  check "resumed with $threads thread(s): the uninterrupted run's model file" $?
done
"$tmlp" train "${run[@]}" --threads 2 -o "$work/full.tmlp"
cmp -s "$fixtures/checkpoint_v1_iris_final.tmlp" "$work/full.tmlp"
check "an uninterrupted run today writes the same model file" $?
"$tmlp" train "${run[@]}" -o "$work/next.tmlp" --checkpoint "$work/c{epoch}.ckpt" \
  --checkpoint-every 2
"$tmlp" train "${run[@]}" -o "$work/r.tmlp" --resume "$work/c2.ckpt"
cmp -s "$fixtures/checkpoint_v1_iris_final.tmlp" "$work/r.tmlp"
check "a checkpoint of today's format resumes to the same model file" $?
one_line_error "resume of the old checkpoint with other flags names the flag" \
  "started with --seed 7, this one has --seed 8" \
  "$tmlp" train "${run[@]/#7/8}" -o "$work/x.tmlp" --resume "$fixtures/checkpoint_v1_iris_epoch2.ckpt"
one_line_error "resume of the old checkpoint with today's batch size names the flag" \
  "started with --batch-size 256, this one has --batch-size 32" \
  "$tmlp" train "${today[@]}" -o "$work/x.tmlp" \
  --resume "$fixtures/checkpoint_v1_iris_epoch2.ckpt"
finish
