#!/usr/bin/env bash
# tmlp tune: the same leaderboard and best model on 1 and 2 threads; a search resumed from a cut
# journal, or killed with SIGKILL at random moments and run again, ends with the uninterrupted
# search's leaderboard and model; the best model is the model tmlp train writes with the
# winning flags (its predictions and tmlp info compared; tests/test_tune.cpp compares the
# parameters' bytes); --folds; a time budget; bad spaces and budgets are one-line errors that
# leave an existing model alone.
# Usage: tune.sh TMLP_BINARY DATA_DIR
set -u
tmlp=$1
data=$2
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cat >"$work/space.json" <<'EOF'
{"width": [8, 16], "depth": [1, 2], "lr": {"log": [0.001, 0.03]}, "batch_size": [16, 32]}
EOF
base=("$data/iris.csv" --target -1 --epochs 4 --eta 2 --seed 3)
search=("${base[@]}" --budget 10-trials --space "$work/space.json")

mkdir -p "$work/t1" "$work/t2"
"$tmlp" tune "${search[@]}" --quiet --threads 1 -o "$work/t1/best.tmlp" --log "$work/t1/board.txt"
check "tune on 1 thread" $?
"$tmlp" tune "${search[@]}" --quiet --threads 2 -o "$work/t2/best.tmlp" --log "$work/t2/board.txt"
check "tune on 2 threads" $?
[[ $(wc -l <"$work/t1/board.txt") -eq 11 ]]
check "the leaderboard has a line per trial (10) under its header" $?
cmp -s "$work/t1/board.txt" "$work/t2/board.txt"
check "1 and 2 threads: the same leaderboard" $?
cmp -s "$work/t1/best.tmlp" "$work/t2/best.tmlp"
check "1 and 2 threads: the same best.tmlp bytes" $?
# Hyperband with --epochs 4 --eta 2 over 10 trials: rungs 4, 2, 1 and 3, 1 and 3 runs.
[[ $(wc -l <"$work/t1/best.tmlp.journal.jsonl") -eq $((1 + 14)) ]]
check "the journal: the search line and one line per trial and rung (14)" $?
[[ ! -e "$work/t1/best.tmlp.trials" ]]
check "the trials' folder is removed after the search" $?

# The winner (rank 1) trained by tmlp train with its flags and epochs: the same model (best.tmlp's
# metadata adds the search's choice, so the predictions and the rest of tmlp info are compared).
read -r -a best < <(sed -n 2p "$work/t1/board.txt")
"$tmlp" train "$data/iris.csv" --target -1 --seed 3 --epochs "${best[3]}" "${best[@]:4}" \
  -o "$work/train.tmlp" --quiet
check "tmlp train with the winning flags (${best[*]:3})" $?
for m in t1/best train; do
  "$tmlp" predict "$work/$m.tmlp" "$data/iris.csv" --proba >"$work/$(basename $m).proba"
  "$tmlp" info "$work/$m.tmlp" | grep -v -e "^model" -e "^tuned" >"$work/$(basename $m).info"
done
[[ -s "$work/best.proba" ]] && cmp -s "$work/best.proba" "$work/train.proba" &&
  cmp -s "$work/best.info" "$work/train.info"
check "best.tmlp is the model of tmlp train with the winning flags and epochs" $?
"$tmlp" info "$work/t1/best.tmlp" | grep -q -- "^tuned .*--lr ${best[7]} .*--epochs ${best[3]}"
check "the model's metadata holds the winning flags (tmlp info shows them)" $?

# A journal cut after 6 runs, its last line cut short (a killed write): the search continues.
mkdir -p "$work/cut"
head -n 7 "$work/t1/best.tmlp.journal.jsonl" >"$work/cut/best.tmlp.journal.jsonl"
sed -n 8p "$work/t1/best.tmlp.journal.jsonl" | head -c 40 >>"$work/cut/best.tmlp.journal.jsonl"
"$tmlp" tune "${search[@]}" --threads 2 -o "$work/cut/best.tmlp" \
  --log "$work/cut/board.txt" >"$work/cut/out.txt"
check "resume from a cut journal" $?
grep -q "6 read from the journal" "$work/cut/out.txt"
check "the runs in the journal were read back, not trained" $?
cmp -s "$work/t1/board.txt" "$work/cut/board.txt" && cmp -s "$work/t1/best.tmlp" "$work/cut/best.tmlp"
check "resumed: the same leaderboard and best.tmlp" $?

# --folds 3: the same on 1 and 2 threads, a journal line per trial, rung and fold, and the best
# model is tmlp train's with the winning flags (trained on the data with its validation split).
mkdir -p "$work/f1" "$work/f2"
folds=("${base[@]}" --budget 6-trials --space "$work/space.json" --folds 3 --quiet)
"$tmlp" tune "${folds[@]}" --threads 1 -o "$work/f1/best.tmlp" --log "$work/f1/board.txt" &&
  "$tmlp" tune "${folds[@]}" --threads 2 -o "$work/f2/best.tmlp" --log "$work/f2/board.txt"
check "--folds 3 on 1 and 2 threads" $?
cmp -s "$work/f1/board.txt" "$work/f2/board.txt" && cmp -s "$work/f1/best.tmlp" "$work/f2/best.tmlp"
check "--folds 3: the same leaderboard and best.tmlp on 1 and 2 threads" $?
# 6 trials: rungs 4, 2, 1 and 2, 1 runs, each on 3 folds.
[[ $(wc -l <"$work/f1/best.tmlp.journal.jsonl") -eq $((1 + 3 * 10)) ]]
check "--folds 3: a journal line per trial, rung and fold (30)" $?
read -r -a fbest < <(sed -n 2p "$work/f1/board.txt")
"$tmlp" train "$data/iris.csv" --target -1 --seed 3 --epochs "${fbest[3]}" "${fbest[@]:4}" \
  -o "$work/ftrain.tmlp" --quiet &&
  "$tmlp" predict "$work/ftrain.tmlp" "$data/iris.csv" --proba >"$work/ftrain.proba" &&
  "$tmlp" predict "$work/f1/best.tmlp" "$data/iris.csv" --proba >"$work/fbest.proba" &&
  cmp -s "$work/ftrain.proba" "$work/fbest.proba"
check "--folds 3: best.tmlp is tmlp train's model with the winning flags" $?
one_line_error "--folds with --valid" "exclude each other" \
  "$tmlp" tune "${folds[@]}" --valid "$data/iris.csv" -o "$work/x.tmlp"

# Killed with SIGKILL at random moments, then run again to the end: the same result.
cat >"$work/space2.json" <<'EOF'
{"width": [16, 32], "depth": [1, 2], "lr": {"log": [0.001, 0.01]}, "batch-size": [64, 128],
 "early-stop": [1, 5]}
EOF
big=("$data/letter.csv" --target -1 --budget 12-trials --space "$work/space2.json" --epochs 8
  --eta 2 --threads 2 --quiet)
mkdir -p "$work/full" "$work/kill"
"$tmlp" tune "${big[@]}" -o "$work/full/best.tmlp" --log "$work/full/board.txt"
check "letter: uninterrupted search" $?
echo "not a model" >"$work/kill/best.tmlp"
cp "$work/kill/best.tmlp" "$work/kill/before"
for k in 1 2 3; do
  "$tmlp" tune "${big[@]}" -o "$work/kill/best.tmlp" --log "$work/kill/board.txt" &
  pid=$!
  sleep "0.$((RANDOM % 6 + 2))"
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
done
cmp -s "$work/kill/best.tmlp" "$work/kill/before" || cmp -s "$work/kill/best.tmlp" "$work/full/best.tmlp"
check "killed searches left best.tmlp as it was (or wrote the final one whole)" $?
"$tmlp" tune "${big[@]}" -o "$work/kill/best.tmlp" --log "$work/kill/board.txt"
check "letter: the killed search run again to the end" $?
cmp -s "$work/full/board.txt" "$work/kill/board.txt" && cmp -s "$work/full/best.tmlp" "$work/kill/best.tmlp"
check "killed and resumed: the same leaderboard and best.tmlp" $?

# A time budget runs until the time is up and says that its leaderboard is not reproducible.
mkdir -p "$work/time"
"$tmlp" tune "${base[@]}" --space "$work/space.json" --budget 1s -o "$work/time/best.tmlp" \
  >"$work/time/out.txt" && grep -q "not reproducible" "$work/time/out.txt" &&
  "$tmlp" info "$work/time/best.tmlp" | grep -q "^tuned"
check "a time budget (1s) writes a model and says the result depends on the machine" $?

# Bad input: one line, non-zero exit, the existing model untouched.
cp "$work/t1/best.tmlp" "$work/keep.tmlp"
echo '{"width": [8], "learning-rate": [0.1]}' >"$work/bad_key.json"
echo '{"lr": [0.1' >"$work/bad_json.json"
echo '{"dropout": {"uniform": [0, 2]}}' >"$work/bad_range.json"
echo '{"threads": [1, 2]}' >"$work/bad_reserved.json"
one_line_error "an unknown flag in the space names the key" "key 'learning-rate': unknown train flag" \
  "$tmlp" tune "${base[@]}" --budget 10-trials --space "$work/bad_key.json" -o "$work/t1/best.tmlp"
one_line_error "a malformed space file" "not valid JSON" \
  "$tmlp" tune "${base[@]}" --budget 10-trials --space "$work/bad_json.json" -o "$work/t1/best.tmlp"
one_line_error "a range outside the flag's domain names the key" "key 'dropout': --dropout" \
  "$tmlp" tune "${base[@]}" --budget 10-trials --space "$work/bad_range.json" -o "$work/t1/best.tmlp"
one_line_error "a flag the tuner sets itself" "key 'threads'" \
  "$tmlp" tune "${base[@]}" --budget 10-trials --space "$work/bad_reserved.json" -o "$work/t1/best.tmlp"
one_line_error "a budget of 0 trials is too small" "too small for one trial" \
  "$tmlp" tune "${search[@]/10-trials/0-trials}" -o "$work/t1/best.tmlp"
one_line_error "a time budget too small for one trial" "too small for one trial" \
  "$tmlp" tune "${search[@]/10-trials/0.0001s}" -o "$work/t1/best.tmlp" --journal "$work/j.jsonl"
one_line_error "a malformed budget" "--budget" \
  "$tmlp" tune "${search[@]/10-trials/ten}" -o "$work/t1/best.tmlp"
one_line_error "a journal of another search names the difference" "written by another search" \
  "$tmlp" tune "${search[@]}" --valid-fraction 0.3 -o "$work/t1/best.tmlp"
sed '2s/^5.1,/5.2,/' "$data/iris.csv" >"$work/iris.csv"
one_line_error "a journal of other data of the same shape says so" "data_hash differs" \
  "$tmlp" tune "$work/iris.csv" "${search[@]:1}" -o "$work/t1/best.tmlp"
one_line_error "no held-out rows" "held-out rows" \
  "$tmlp" tune "${search[@]}" --valid-fraction 0 -o "$work/x.tmlp" --journal "$work/j0.jsonl"
cmp -s "$work/t1/best.tmlp" "$work/keep.tmlp"
check "failed searches left the existing best.tmlp as it was" $?

"$tmlp" tune --help >"$work/help.txt"
grep -q -- "--budget" "$work/help.txt" && grep -q -- "--space" "$work/help.txt" &&
  grep -q "journal" "$work/help.txt" && grep -q "cosine" "$work/help.txt"
check "tmlp tune --help documents the budget, space, journal and cosine schedules" $?

/usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/../../scripts/plot_tune.py" \
  "$work/full/best.tmlp.journal.jsonl" -o "$work/tune.png" >/dev/null && [[ -s "$work/tune.png" ]]
check "scripts/plot_tune.py draws the journal" $?
finish
