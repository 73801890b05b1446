#!/usr/bin/env bash
# Checkpoints of the tmlp program: a run resumed from any checkpoint ends with the bytes of the
# uninterrupted run; resuming with other flags or data is a one-line error; and a run killed
# with SIGKILL at random moments never damages the model file or the checkpoint at its paths.
# Usage: checkpoint.sh TMLP_BINARY DATA_DIR
set -u
tmlp=$1
data=$2
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Early stopping with restore, a plateau schedule and Adam: every piece of state matters.
run=("$data/letter.csv" --target target_letter --layers 64,64 --batch-size 128 --epochs 10
  --early-stop 4 --schedule plateau:0.5:1 --lr 0.01 --seed 7 --quiet)
"$tmlp" train "${run[@]}" -o "$work/full.tmlp" --checkpoint "$work/c{epoch}.ckpt" \
  --checkpoint-every 3 --log "$work/full.jsonl"
check "uninterrupted run with checkpoints every 3 epochs" $?
ls "$work"/c3.ckpt "$work"/c6.ckpt >/dev/null
check "checkpoint files named by epoch" $?
for k in 3 6; do
  "$tmlp" train "${run[@]}" -o "$work/r$k.tmlp" --resume "$work/c$k.ckpt" --log "$work/r$k.jsonl"
  check "resume after epoch $k" $?
  cmp -s "$work/full.tmlp" "$work/r$k.tmlp"
  check "resumed after epoch $k: model file identical to the uninterrupted run's" $?
  tail -n +$((k + 1)) "$work/full.jsonl" | cut -d, -f1-2 >"$work/a"
  cut -d, -f1-2 "$work/r$k.jsonl" >"$work/b"
  cmp -s "$work/a" "$work/b"
  check "resumed after epoch $k: the log continues with the same epochs and losses" $?
done
"$tmlp" train "${run[@]}" --threads 1 -o "$work/r1t.tmlp" --resume "$work/c3.ckpt"
cmp -s "$work/full.tmlp" "$work/r1t.tmlp"
check "resumed with --threads 1: identical" $?

one_line_error "resume with another --lr names the flag" "started with --lr 0.01, this one has --lr 0.02" \
  "$tmlp" train "${run[@]/#0.01/0.02}" -o "$work/x.tmlp" --resume "$work/c3.ckpt"
one_line_error "resume with another --max-shards (a flag recorded only when set) names it" \
  "started with --max-shards 16, this one has --max-shards 4" \
  "$tmlp" train "${run[@]}" --max-shards 4 -o "$work/x.tmlp" --resume "$work/c3.ckpt"
short=("${run[@]/#10/4}")  # 4 epochs
"$tmlp" train "${short[@]}" --max-shards 4 -o "$work/s4.tmlp" --checkpoint "$work/s{epoch}.ckpt" \
  --checkpoint-every 2 && "$tmlp" train "${short[@]}" --max-shards 4 -o "$work/s4r.tmlp" \
  --resume "$work/s2.ckpt" && cmp -s "$work/s4.tmlp" "$work/s4r.tmlp"
check "--max-shards 4: resumes to the same bytes" $?
one_line_error "a --max-shards 4 checkpoint resumed without it names the flag" \
  "started with --max-shards 4, this one has --max-shards 16" \
  "$tmlp" train "${short[@]}" -o "$work/x.tmlp" --resume "$work/s2.ckpt"
"$tmlp" info "$work/s4.tmlp" | grep -q -- "--max-shards 4" && ! "$tmlp" info "$work/full.tmlp" | grep -q -- "--max-shards"
check "tmlp info shows --max-shards when it was set, and only then" $?
head -5000 "$data/letter.csv" >"$work/letter_part.csv"
one_line_error "resume on other data says so" "data differs" \
  "$tmlp" train "$work/letter_part.csv" "${run[@]:1}" -o "$work/x.tmlp" --resume "$work/c3.ckpt"
one_line_error "resume from a model file" "not a usable tmlp checkpoint: wrong magic" \
  "$tmlp" train "${run[@]}" -o "$work/x.tmlp" --resume "$work/full.tmlp"
head -c 3000 "$work/c3.ckpt" >"$work/cut.ckpt"
one_line_error "resume from a truncated checkpoint" "truncated or damaged" \
  "$tmlp" train "${run[@]}" -o "$work/x.tmlp" --resume "$work/cut.ckpt"
[[ ! -e "$work/x.tmlp" ]]
check "failed resumes wrote no model file" $?
one_line_error "--checkpoint-every 0" "checkpoint-every" \
  "$tmlp" train "${run[@]}" -o "$work/x.tmlp" --checkpoint "$work/y.ckpt" --checkpoint-every 0

# A finished run taken to more epochs (--resume with a larger --epochs): the bytes of a run
# started with the larger count, early stopping and a step schedule included; fewer epochs than
# the checkpoint ran, or a cosine schedule (its rate depends on the total), are refused.
more=("$data/letter.csv" --target target_letter --layers 32 --schedule step:2:0.5 --seed 4 --quiet)
"$tmlp" train "${more[@]}" --epochs 3 --checkpoint "$work/m3.ckpt" -o "$work/m3.tmlp" &&
  "$tmlp" train "${more[@]}" --epochs 7 --resume "$work/m3.ckpt" -o "$work/m7_resumed.tmlp" &&
  "$tmlp" train "${more[@]}" --epochs 7 -o "$work/m7.tmlp" &&
  cmp -s "$work/m7_resumed.tmlp" "$work/m7.tmlp"
check "3 epochs resumed to --epochs 7: the model of a 7-epoch run, byte for byte" $?
one_line_error "resume to fewer epochs than the checkpoint ran" "already run 3 epochs" \
  "$tmlp" train "${more[@]}" --epochs 2 --resume "$work/m3.ckpt" -o "$work/m2.tmlp"
"$tmlp" train "$data/iris.csv" --target target_species --schedule cosine --epochs 2 \
  --checkpoint "$work/c2.ckpt" --quiet -o "$work/c2.tmlp"
one_line_error "a cosine run taken to more epochs" "depends on the total" \
  "$tmlp" train "$data/iris.csv" --target target_species --schedule cosine --epochs 4 \
  --resume "$work/c2.ckpt" --quiet -o "$work/c4.tmlp"

# SIGKILL at random moments of a run that writes its model over a good one and checkpoints
# every epoch: the old model stays readable (or the new one is complete), the checkpoint always
# loads, and resuming from it ends with the uninterrupted run's bytes.
long=("$data/letter.csv" --target target_letter --layers 128,128 --batch-size 64 --epochs 40
  --early-stop 0 --seed 3 --quiet)
"$tmlp" train "${long[@]}" -o "$work/long_full.tmlp"
check "long uninterrupted run" $?
RANDOM=12345
for attempt in 1 2 3 4; do
  cp "$work/full.tmlp" "$work/target.tmlp"
  rm -f "$work/k.ckpt"
  "$tmlp" train "${long[@]}" -o "$work/target.tmlp" --checkpoint "$work/k.ckpt" &
  pid=$!
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.3 + 3.0 * r / 32768 }')"
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  if cmp -s "$work/target.tmlp" "$work/full.tmlp"; then state="old model intact"
  else cmp -s "$work/target.tmlp" "$work/long_full.tmlp"; check "killed run $attempt: the model file is the old or the finished one" $?; state="finished"; fi
  "$tmlp" info "$work/target.tmlp" >/dev/null
  check "killed run $attempt ($state): model file readable" $?
  if [[ -e "$work/k.ckpt" ]]; then
    "$tmlp" train "${long[@]}" -o "$work/resumed.tmlp" --resume "$work/k.ckpt"
    check "killed run $attempt: resumed from its checkpoint" $?
    cmp -s "$work/resumed.tmlp" "$work/long_full.tmlp"
    check "killed run $attempt: resumed model identical to the uninterrupted run's" $?
  else
    echo "     (killed before the first checkpoint)"
  fi
done

finish
