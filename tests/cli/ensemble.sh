#!/usr/bin/env bash
# --ensemble through the program: the same file for any thread count, --ensemble 1 the model of
# no flag, predictions the mean of the members trained alone with the seeds `tmlp info` shows,
# the members named in info and the log, and one-line errors for what an ensemble refuses.
# Usage: ensemble.sh TMLP_BINARY DATA_DIR
set -u
tmlp=$1
data=$2
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# No validation rows: a run's seed then changes only its members, not its split.
run=("$data/digits.csv" --target -1 --layers 32 --epochs 3 --batch-size 64 --valid-fraction 0
  --early-stop 0 --quiet)
"$tmlp" train "${run[@]}" --seed 5 --ensemble 3 --threads 1 -o "$work/t1.tmlp"
check "--ensemble 3 trains with 1 thread" $?
"$tmlp" train "${run[@]}" --seed 5 --ensemble 3 --threads 2 -o "$work/t2.tmlp" --log "$work/e.jsonl"
check "--ensemble 3 trains with 2 threads" $?
cmp -s "$work/t1.tmlp" "$work/t2.tmlp"
check "--ensemble 3: the same model file bytes at 1 and 2 threads" $?
"$tmlp" train "${run[@]}" --seed 5 -o "$work/plain.tmlp" && \
  "$tmlp" train "${run[@]}" --seed 5 --ensemble 1 -o "$work/one.tmlp"
cmp -s "$work/plain.tmlp" "$work/one.tmlp"
check "--ensemble 1 writes the bytes of a run without the flag" $?

"$tmlp" info "$work/t1.tmlp" >"$work/info"
grep -q '^members    3 (seeds 5, ' "$work/info"
check "info shows the member count and seeds" $?
[[ $(grep -c '"member":2' "$work/e.jsonl") -eq 3 && $(head -c 10 "$work/e.jsonl") == '{"member":' ]]
check "the log names the member on each line" $?

# Each member alone, with the seed info shows; their probabilities averaged here.
seeds=$(sed -n 's/^members    3 (seeds \(.*\)); .*/\1/p' "$work/info" | tr -d ,)
i=0
for s in $seeds; do
  "$tmlp" train "${run[@]}" --seed "$s" -o "$work/m$i.tmlp" &&
    "$tmlp" predict "$work/m$i.tmlp" "$data/digits.csv" --proba -o "$work/p$i.csv"
  check "member $i trained alone with seed $s" $?
  i=$((i + 1))
done
cmp -s "$work/plain.tmlp" "$work/m0.tmlp"
check "member 0 alone is the run's single model" $?
"$tmlp" predict "$work/t1.tmlp" "$data/digits.csv" --proba -o "$work/pe.csv"
check "predict with an ensemble" $?
paste -d, "$work/p0.csv" "$work/p1.csv" "$work/p2.csv" "$work/pe.csv" | awk -F, '
  NR == 1 { k = NF / 4; next }
  { for (c = 1; c <= k; ++c) {
      mean = ($c + $(c + k) + $(c + 2 * k)) / 3; d = mean - $(c + 3 * k)
      if (d < 0) d = -d
      if (d > 2e-6 + 1e-5 * mean) bad++ } }
  END { exit bad > 0 || NR < 2 }'
check "the ensemble's probabilities are the mean of the members' alone" $?
"$tmlp" evaluate "$work/t1.tmlp" "$data/digits.csv" --json | grep -q '"accuracy"'
check "evaluate with an ensemble" $?

echo '{"ensemble": 3, "seed": 5, "threads": 1}' >"$work/config.json"
"$tmlp" train "${run[@]}" --config "$work/config.json" -o "$work/c.tmlp"
cmp -s "$work/t1.tmlp" "$work/c.tmlp"
check "\"ensemble\" in a --config file" $?

one_line_error "--ensemble 0" "--ensemble: 0; expected a number of members in [1, 256]" \
  "$tmlp" train "${run[@]}" --ensemble 0 -o "$work/x.tmlp"
one_line_error "--ensemble with --checkpoint" "--checkpoint: an ensemble is not checkpointed" \
  "$tmlp" train "${run[@]}" --ensemble 2 --checkpoint "$work/c.ckpt" -o "$work/x.tmlp"
"$tmlp" train "${run[@]}" --checkpoint "$work/c.ckpt" -o "$work/x.tmlp"
one_line_error "--ensemble with --resume" "--resume: an ensemble is not checkpointed" \
  "$tmlp" train "${run[@]}" --ensemble 2 --resume "$work/c.ckpt" -o "$work/x.tmlp"
echo '{"ensemble": [1, 3]}' >"$work/space.json"
one_line_error "an ensemble in a tmlp tune space" "a trial trains one model, not an ensemble" \
  "$tmlp" tune "$data/iris.csv" --target -1 --epochs 2 --budget 2-trials \
  --space "$work/space.json" -o "$work/best.tmlp"
finish
