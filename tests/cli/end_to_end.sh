#!/usr/bin/env bash
# End-to-end tests of the tmlp program on bundled real datasets: train, evaluate, predict, info,
# identical model files for 1 and 2 threads, and one-line errors for bad input.
# Usage: end_to_end.sh TMLP_BINARY DATA_DIR
set -u
tmlp=$1
data=$2
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
metric() {  # metric JSON NAME -> value
  sed -E "s/.*\"$2\":([-0-9.eE+]+).*/\1/" <<<"$1"
}
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

# Binary classification.
"$tmlp" train "$data/breast_cancer.csv" --target target_benign -o "$work/bc.tmlp" --epochs 40 --quiet
check "train breast_cancer" $?
json=$("$tmlp" evaluate "$work/bc.tmlp" "$data/breast_cancer.csv" --json)
check "evaluate breast_cancer" $?
echo "     $json"
at_least "$(metric "$json" accuracy)" 0.95; check "breast_cancer accuracy >= 0.95" $?
at_least "$(metric "$json" auc)" 0.98; check "breast_cancer auc >= 0.98" $?

# Categoricals and missing values: train on rows 1-5634, test on the last 1409 rows.
(head -1 "$data/telco_churn.csv"; sed -n 2,5635p "$data/telco_churn.csv") >"$work/telco_train.csv"
(head -1 "$data/telco_churn.csv"; sed -n 5636,7044p "$data/telco_churn.csv") >"$work/telco_test.csv"
"$tmlp" train "$work/telco_train.csv" --target target_churn -o "$work/telco.tmlp" --epochs 30 --quiet
check "train telco_churn" $?
json=$("$tmlp" evaluate "$work/telco.tmlp" "$work/telco_test.csv" --json)
echo "     $json"
at_least "$(metric "$json" accuracy)" 0.78; check "telco_churn held-out accuracy >= 0.78" $?

# Regression, reported in the target's units.
"$tmlp" train "$data/diabetes.csv" --target target_progression -o "$work/diab.tmlp" --epochs 100 --quiet
check "train diabetes" $?
json=$("$tmlp" evaluate "$work/diab.tmlp" "$data/diabetes.csv" --json)
echo "     $json"
at_least "$(metric "$json" r2)" 0.3; check "diabetes r2 >= 0.3" $?

# Regression with categorical columns: cpssw8 (US CPS earnings), RMSE in dollars per hour below
# the 10.01 of predicting the mean.
"$tmlp" train "$data/cpssw8.csv" --target target_earnings -o "$work/cps.tmlp" --epochs 30 --quiet
check "train cpssw8" $?
json=$("$tmlp" evaluate "$work/cps.tmlp" "$data/cpssw8.csv" --json)
echo "     $json"
awk -v a="$(metric "$json" rmse)" 'BEGIN { exit !(a <= 9.0) }'; check "cpssw8 rmse <= 9.0" $?

# letter: train on rows 1-16000, test on rows 16001-20000 (26 classes).
(head -1 "$data/letter.csv"; sed -n 2,16001p "$data/letter.csv") >"$work/letter_train.csv"
(head -1 "$data/letter.csv"; sed -n 16002,20001p "$data/letter.csv") >"$work/letter_test.csv"
"$tmlp" train "$work/letter_train.csv" --target target_letter -o "$work/letter.tmlp" \
  --layers 256,128 --epochs 60 --early-stop 8 --quiet
json=$("$tmlp" evaluate "$work/letter.tmlp" "$work/letter_test.csv" --json)
echo "     $json"
at_least "$(metric "$json" accuracy)" 0.93; check "letter test accuracy >= 0.93" $?

# Multiclass predictions keep the labels; one row per input row.
"$tmlp" train "$data/iris.csv" --target target_species -o "$work/iris.tmlp" --epochs 100 --quiet
"$tmlp" predict "$work/iris.tmlp" "$data/iris.csv" -o "$work/iris_pred.csv"
check "predict iris" $?
[[ $(wc -l <"$work/iris_pred.csv") -eq 151 ]]; check "predict writes a header and 150 rows" $?
[[ $(tail -n +2 "$work/iris_pred.csv" | sort -u | tr '\n' ' ') == "0 1 2 " ]]; check "predicted labels are the classes" $?
"$tmlp" predict "$work/iris.tmlp" "$data/iris.csv" --proba | head -1 | grep -qx "0,1,2"; check "--proba header names the classes" $?
"$tmlp" info "$work/iris.tmlp" | grep -q "multiclass"; check "info names the task" $?
"$tmlp" info "$work/iris.tmlp" | grep -qx "training   iris.csv --target target_species --scale auto --numeric-embedding periodic --loss ce --label-smoothing 0.1 --optimizer adam --batch-size 32 --schedule constant --seed 0"
check "info shows the training flags" $?

# The same model bytes for 1 and 2 threads.
"$tmlp" train "$data/wine.csv" --target target_cultivar -o "$work/w1.tmlp" --threads 1 --epochs 20 --batch-size 64 --quiet
"$tmlp" train "$data/wine.csv" --target target_cultivar -o "$work/w2.tmlp" --threads 2 --epochs 20 --batch-size 64 --quiet
cmp -s "$work/w1.tmlp" "$work/w2.tmlp"; check "model files identical for --threads 1 and 2" $?
"$tmlp" train "$data/letter.csv" --target target_letter -o "$work/d1.tmlp" --threads 1 --epochs 2 --layers 64,64 --dropout 0.3 --quiet
"$tmlp" train "$data/letter.csv" --target target_letter -o "$work/d2.tmlp" --threads 2 --epochs 2 --layers 64,64 --dropout 0.3 --quiet
cmp -s "$work/d1.tmlp" "$work/d2.tmlp"; check "with --dropout: model files identical for --threads 1 and 2" $?
"$tmlp" info "$work/d1.tmlp" | grep -q "64 relu (dropout 0.3) -> 64 relu (dropout 0.3) -> 26 identity"
check "info shows the dropout of each hidden layer" $?
"$tmlp" train "$data/letter.csv" --target target_letter -o "$work/n1.tmlp" --threads 1 --epochs 2 --layers 64,64 --layer-norm --quiet
"$tmlp" train "$data/letter.csv" --target target_letter -o "$work/n2.tmlp" --threads 2 --epochs 2 --layers 64,64 --layer-norm --quiet
cmp -s "$work/n1.tmlp" "$work/n2.tmlp"; check "with --layer-norm: model files identical for --threads 1 and 2" $?
"$tmlp" info "$work/n1.tmlp" | grep -q "64 layer-norm relu -> 64 layer-norm relu -> 26 identity"
check "info shows layer norm" $?
"$tmlp" train "$data/letter.csv" --target target_letter -o "$work/r1.tmlp" --threads 1 --epochs 2 --layers 64,64 --residual --dropout 0.1 --quiet
"$tmlp" train "$data/letter.csv" --target target_letter -o "$work/r2.tmlp" --threads 2 --epochs 2 --layers 64,64 --residual --dropout 0.1 --quiet
cmp -s "$work/r1.tmlp" "$work/r2.tmlp"; check "with --residual: model files identical for --threads 1 and 2" $?
"$tmlp" info "$work/r1.tmlp" | grep -q "64 relu + skip (dropout 0.1) -> 64 relu + skip (dropout 0.1) -> 26 identity"
check "info shows residual layers" $?
"$tmlp" train "$data/letter.csv" --target target_letter -o "$work/b1.tmlp" --threads 1 --epochs 2 --layers 64,64 --batch-norm --batch-size 200 --quiet
"$tmlp" train "$data/letter.csv" --target target_letter -o "$work/b2.tmlp" --threads 2 --epochs 2 --layers 64,64 --batch-norm --batch-size 200 --quiet
cmp -s "$work/b1.tmlp" "$work/b2.tmlp"; check "with --batch-norm: model files identical for --threads 1 and 2" $?
"$tmlp" info "$work/b1.tmlp" | grep -q "64 batch-norm relu -> 64 batch-norm relu -> 26 identity"
check "info shows batch-norm layers" $?
acc=$("$tmlp" evaluate "$work/b1.tmlp" "$data/letter.csv" | awk '/^accuracy/ {print $2}')
awk -v a="$acc" 'BEGIN { exit !(a > 0.6) }'; check "a --batch-norm model predicts letter (accuracy $acc)" $?
# Label smoothing and balanced class weights (shuttle: one class is 78.6% of the rows), with the
# preprocessing flags: the same bytes for 1 and 2 threads, and the flags in the model file.
smooth=(--target target_class --label-smoothing 0.1 --class-weight balanced --scale minmax
        --impute median --missing-indicators --epochs 2 --layers 32 --quiet)
"$tmlp" train "$data/shuttle.csv" "${smooth[@]}" -o "$work/s1.tmlp" --threads 1
"$tmlp" train "$data/shuttle.csv" "${smooth[@]}" -o "$work/s2.tmlp" --threads 2
cmp -s "$work/s1.tmlp" "$work/s2.tmlp"
check "with --label-smoothing and --class-weight balanced: identical for --threads 1 and 2" $?
"$tmlp" info "$work/s1.tmlp" | grep -q -- "--label-smoothing 0.1 --class-weight balanced"
check "info shows --label-smoothing and --class-weight" $?
one_line_error "--label-smoothing on a regression" "needs a classification loss" \
  "$tmlp" train "$data/diabetes.csv" --target target_progression --label-smoothing 0.1 \
  -o "$work/bad.tmlp"
# cpssw8's age (44 levels) and education (12) as categories over --one-hot-max 8: embedded.
"$tmlp" train "$data/cpssw8.csv" --target target_earnings --categorical age,education --one-hot-max 8 --embedding-dim 4 -o "$work/e1.tmlp" --threads 1 --epochs 2 --quiet
"$tmlp" train "$data/cpssw8.csv" --target target_earnings --categorical age,education --one-hot-max 8 --embedding-dim 4 -o "$work/e2.tmlp" --threads 2 --epochs 2 --quiet
cmp -s "$work/e1.tmlp" "$work/e2.tmlp"; check "with --embedding-dim: model files identical for --threads 1 and 2" $?
"$tmlp" info "$work/e1.tmlp" | grep -q "embedding  age: 46 levels x 4 values"
check "info shows the embeddings" $?
"$tmlp" predict "$work/e1.tmlp" "$data/cpssw8.csv" -o "$work/e1.csv" && [[ $(wc -l <"$work/e1.csv") -eq 61396 ]]
check "predict with embeddings writes a prediction per row" $?
# Feature scaling and periodic embeddings of diabetes's numeric columns (with missing values and
# their indicators, which are not embedded): the same bytes for 1 and 2 threads, shown by info.
plr=(--target target_progression --feature-scale --numeric-embedding periodic
     --periodic-frequencies 8 --periodic-dim 6 --missing-indicators --epochs 2 --quiet)
"$tmlp" train "$data/diabetes.csv" "${plr[@]}" -o "$work/p1.tmlp" --threads 1
"$tmlp" train "$data/diabetes.csv" "${plr[@]}" -o "$work/p2.tmlp" --threads 2
cmp -s "$work/p1.tmlp" "$work/p2.tmlp"
check "with --feature-scale and --numeric-embedding periodic: identical for --threads 1 and 2" $?
"$tmlp" info "$work/p1.tmlp" | grep -q "periodic   bmi: 8 frequencies (sigma 0.1) -> 6 values" &&
  "$tmlp" info "$work/p1.tmlp" | grep -q "scaling    a learned scale per input feature" &&
  "$tmlp" info "$work/p1.tmlp" | grep -q -- "--numeric-embedding periodic --periodic-frequencies 8 --periodic-dim 6 --feature-scale true"
check "info shows the scaling, the periodic embeddings and their flags" $?
one_line_error "--numeric-embedding unknown" "--numeric-embedding: unknown 'wave'" \
  "$tmlp" train "$data/diabetes.csv" --target target_progression --numeric-embedding wave \
  -o "$work/bad.tmlp"
one_line_error "--periodic-sigma 0" "--periodic-sigma: 0 is not a finite value > 0" \
  "$tmlp" train "$data/diabetes.csv" --target target_progression --numeric-embedding periodic \
  --periodic-sigma 0 -o "$work/bad.tmlp"
printf '{"target": "target_earnings", "categorical": ["age", "education"], "one-hot-max": 8, "embedding_dim": 4, "batch-norm": true, "layers": [32, 16], "epochs": 1}' >"$work/bn.json"
"$tmlp" train "$data/cpssw8.csv" --config "$work/bn.json" -o "$work/c.tmlp" --quiet &&
  "$tmlp" info "$work/c.tmlp" | grep -q "10 -> 32 batch-norm relu -> 16 batch-norm relu -> 1 identity"
check "config keys batch-norm, embedding_dim and one-hot-max" $?

# Bad input: one line on stderr, non-zero exit, the old model untouched.
one_line_error "unknown target" "no target column 'nope'" "$tmlp" train "$data/iris.csv" --target nope -o "$work/x.tmlp"
one_line_error "batch and layer norm" "--batch-norm and --layer-norm" "$tmlp" train "$data/iris.csv" --target -1 --batch-norm --layer-norm -o "$work/x.tmlp"
one_line_error "one-hot-max 0" "--one-hot-max: 0" "$tmlp" train "$data/iris.csv" --target -1 --one-hot-max 0 -o "$work/x.tmlp"
one_line_error "bad layers" "--layers" "$tmlp" train "$data/iris.csv" --target target_species --layers 10,x
one_line_error "unknown flag" "--bogus" "$tmlp" train "$data/iris.csv" --target target_species --bogus
one_line_error "missing data file" "" "$tmlp" train "$work/none.csv" --target y
cp "$work/iris.tmlp" "$work/damaged.tmlp"
printf 'XX' | dd of="$work/damaged.tmlp" bs=1 seek=100 conv=notrunc 2>/dev/null
one_line_error "damaged model" "checksum mismatch" "$tmlp" info "$work/damaged.tmlp"
head -c 50 "$work/iris.tmlp" >"$work/cut.tmlp"
one_line_error "truncated model" "do not match" "$tmlp" evaluate "$work/cut.tmlp" "$data/iris.csv"
before=$(cksum <"$work/bc.tmlp")
"$tmlp" train "$data/breast_cancer.csv" --target no_such -o "$work/bc.tmlp" 2>/dev/null
[[ $(cksum <"$work/bc.tmlp") == "$before" ]]; check "a failed run leaves the old model" $?

# --- tmlp train's flags, config file, log and display (small runs) ---
py=/usr/bin/python3
[[ -x $py ]] || py=""
skip() { echo "skip $1"; }

# Every flag is accepted: a short run each, writing a model.
i=0
while read -r flags; do
  i=$((i + 1))
  # shellcheck disable=SC2086  # the flags are words
  "$tmlp" train "$data/iris.csv" --target target_species -o "$work/f$i.tmlp" --epochs 2 --quiet $flags
  [[ $? -eq 0 && -s "$work/f$i.tmlp" ]]; check "train accepts $flags" $?
done <<'FLAGS'
--valid-fraction 0.3 --seed 7 --threads 1
--valid-fraction 0 --early-stop 0
--layers 16 --activation gelu --loss ce
--layers 16,8 --dropout 0.5
--layers 16,8 --layer-norm --activation tanh
--layers 16,16,8 --residual --dropout 0.2
--optimizer sgd --lr 0.05 --batch-size 1
--optimizer momentum --batch-size 0
--optimizer nesterov --schedule step:1:0.5
--optimizer adamw --weight-decay 0.05 --schedule exp:0.9
--optimizer rmsprop --schedule cosine:1:0.1
--optimizer adagrad --schedule plateau:0.5:1
--l1 1e-4 --l2 1e-4 --weight-decay 1e-4 --clip-norm 1 --clip-value 0.5
--numeric petal_width_cm --categorical sepal_width_cm --ignore sepal_length_cm,petal_length_cm
FLAGS
"$tmlp" train "$data/diabetes.csv" --target target_progression -o "$work/huber.tmlp" --epochs 2 --loss huber --quiet
check "train accepts --loss huber" $?
"$tmlp" train "$data/diabetes.csv" --target target_progression -o "$work/mae.tmlp" --epochs 2 --loss mae --quiet
"$tmlp" info "$work/mae.tmlp" | grep -q "loss mae"; check "train --loss mae is stored" $?
"$tmlp" train "$data/iris.csv" --target target_species -o "$work/mse.tmlp" --epochs 2 --loss mse --quiet
"$tmlp" info "$work/mse.tmlp" | grep -q "regression (loss mse)"; check "--loss mse makes a numeric class target a regression" $?

# Display: plain lines when standard output is not a terminal, nothing with --quiet.
"$tmlp" train "$data/iris.csv" --target target_species -o "$work/p.tmlp" --epochs 3 --early-stop 0 >"$work/p.out"
check "train prints progress" $?
[[ $(grep -c '^epoch [ 0-9]*/3  train loss .* valid loss .* valid accuracy .* lr ' "$work/p.out") -eq 3 ]]
check "one line per epoch with losses, metric and lr" $?
! grep -q $'\r' "$work/p.out"; check "no carriage return when not a terminal" $?
[[ -z $("$tmlp" train "$data/iris.csv" --target target_species -o "$work/p.tmlp" --epochs 2 --quiet) ]]
check "--quiet prints nothing" $?

# Target by position: 14 and -1 are wine's last column, target_cultivar; same model bytes.
"$tmlp" train "$data/wine.csv" --target target_cultivar -o "$work/t_name.tmlp" --epochs 3 --quiet
"$tmlp" train "$data/wine.csv" --target -1 -o "$work/t_last.tmlp" --epochs 3 --quiet
"$tmlp" train "$data/wine.csv" --target 14 -o "$work/t_14.tmlp" --epochs 3 --quiet
cmp -s "$work/t_name.tmlp" "$work/t_last.tmlp" && cmp -s "$work/t_name.tmlp" "$work/t_14.tmlp"
check "--target 14 and -1 give the model file of --target target_cultivar" $?

# Config file: its values are used, a flag on the command line wins, an unknown key is an error.
cat >"$work/cfg.json" <<CONFIG
{"target": "target_species", "layers": [8, 4], "activation": "tanh", "epochs": 3,
 "batch_size": 16, "early-stop": 0, "optimizer": "sgd", "lr": 0.05, "log": "$work/cfg.jsonl",
 "quiet": true}
CONFIG
out=$("$tmlp" train "$data/iris.csv" --config "$work/cfg.json" -o "$work/cfg.tmlp")
check "train --config" $?
[[ -z $out && $(wc -l <"$work/cfg.jsonl") -eq 3 ]]; check "config values used (quiet, epochs, log)" $?
"$tmlp" info "$work/cfg.tmlp" | grep -q "layers     4 -> 8 tanh -> 4 tanh -> 3 identity"
check "config layers and activation used" $?
"$tmlp" train "$data/iris.csv" --config "$work/cfg.json" -o "$work/cfg.tmlp" --epochs 2 --layers 5
[[ $(wc -l <"$work/cfg.jsonl") -eq 2 ]] && "$tmlp" info "$work/cfg.tmlp" | grep -q "4 -> 5 tanh -> 3"
check "flags override the config file" $?
echo '{"target": "target_species", "epoch": 3}' >"$work/bad.json"
one_line_error "unknown config key" "bad.json: unknown key 'epoch'" "$tmlp" train "$data/iris.csv" --config "$work/bad.json"
echo '{"target": "target_species", "epochs": "many"}' >"$work/bad.json"
one_line_error "bad config value" "key 'epochs'" "$tmlp" train "$data/iris.csv" --config "$work/bad.json"
echo '{"target": "target_species",' >"$work/bad.json"
one_line_error "config not JSON" "bad.json: not valid JSON" "$tmlp" train "$data/iris.csv" --config "$work/bad.json"

# --valid FILE: validation on a separate file through the training file's preprocessing; the last
# epoch's validation loss is the log loss evaluate reports on that file (without label smoothing,
# which the validation loss includes).
(head -1 "$data/breast_cancer.csv"; sed -n 2,450p "$data/breast_cancer.csv") >"$work/bc_a.csv"
(head -1 "$data/breast_cancer.csv"; sed -n '451,$p' "$data/breast_cancer.csv") >"$work/bc_b.csv"
"$tmlp" train "$work/bc_a.csv" --target target_benign --valid "$work/bc_b.csv" -o "$work/bcv.tmlp" \
  --epochs 5 --early-stop 0 --label-smoothing 0 --log "$work/bcv.jsonl" >"$work/bcv.out"
check "train --valid FILE" $?
grep -q "bc_b.csv: 120 validation rows" "$work/bcv.out"; check "--valid FILE rows are the validation set" $?
json=$("$tmlp" evaluate "$work/bcv.tmlp" "$work/bc_b.csv" --json)
last=$(tail -1 "$work/bcv.jsonl" | sed -E 's/.*"valid_loss":([-0-9.eE+]+).*/\1/')
awk -v a="$last" -v b="$(metric "$json" log_loss)" 'BEGIN { d = a - b; exit !(d < 1e-4 && d > -1e-4) }'
check "validation loss $last = evaluate's log loss on the --valid file" $?

# --log: one JSON object per epoch with every report field, per-layer health included.
if [[ -n $py ]]; then
  $py - "$work/bcv.jsonl" <<'PY'
import json, sys
keys = {"epoch", "train_loss", "valid_loss", "valid_metric", "metric_name", "lr", "seconds",
        "samples_per_second", "vanishing", "exploding", "layers"}
layer_keys = {"grad_norm", "weight_norm", "dead_fraction", "vanishing", "exploding"}
lines = open(sys.argv[1]).read().splitlines()
records = [json.loads(l) for l in lines]
assert len(records) == 5, len(records)
for i, r in enumerate(records):
    assert set(r) == keys, set(r) ^ keys
    assert r["epoch"] == i + 1 and r["metric_name"] == "accuracy"
    assert len(r["layers"]) == 3 and all(set(l) == layer_keys for l in r["layers"])
    assert 0 <= r["valid_metric"] <= 1 and r["train_loss"] > 0 and r["lr"] == 0.001
PY
  check "--log: one JSON line per epoch with every field" $?
  if $py -c 'import matplotlib' 2>/dev/null; then
    $py "$(dirname "$0")/../../scripts/plot_training.py" "$work/bcv.jsonl" -o "$work/bcv.png" >/dev/null &&
      [[ $(head -c 4 "$work/bcv.png" | tail -c 3) == PNG ]]
    check "plot_training.py draws the log" $?
  else
    skip "plot_training.py (no matplotlib)"
  fi
else
  skip "--log JSON check (no /usr/bin/python3)"
fi

# One-line errors that name the flag.
one_line_error "--loss incompatible" "--loss ce: the target 'target_progression' is a regression target" "$tmlp" train "$data/diabetes.csv" --target target_progression --loss ce
one_line_error "--loss unknown" "--loss: unknown 'xx'" "$tmlp" train "$data/iris.csv" --target target_species --loss xx
one_line_error "bad --schedule" "--schedule: 'step:0'" "$tmlp" train "$data/iris.csv" --target target_species --schedule step:0
one_line_error "unknown --schedule" "--schedule: 'warm'" "$tmlp" train "$data/iris.csv" --target target_species --schedule warm
one_line_error "unknown column in --ignore" "--ignore: no column 'nope'" "$tmlp" train "$data/iris.csv" --target target_species --ignore nope
one_line_error "unknown column in --numeric" "--numeric names column 'nope'" "$tmlp" train "$data/iris.csv" --target target_species --numeric nope
one_line_error "--dropout out of range" "--dropout: 1 is outside [0, 1)" "$tmlp" train "$data/iris.csv" --target target_species --dropout 1
one_line_error "negative --l1" "--l1: -1" "$tmlp" train "$data/iris.csv" --target target_species --l1 -1
one_line_error "negative --lr" "--lr: -1 is not a finite value > 0" "$tmlp" train "$data/iris.csv" --target target_species --lr -1
one_line_error "negative --weight-decay with adamw" "--weight-decay: -1" "$tmlp" train "$data/iris.csv" --target target_species --optimizer adamw --weight-decay -1
one_line_error "negative --threads" "--threads: -2 is negative" "$tmlp" train "$data/iris.csv" --target target_species --threads -2
one_line_error "a zero width in --layers" "--layers: 0 is out of range" "$tmlp" train "$data/iris.csv" --target target_species --layers 64,0
one_line_error "negative --clip-norm" "--clip-norm" "$tmlp" train "$data/iris.csv" --target target_species --clip-norm -2
one_line_error "negative --epochs" "--epochs" "$tmlp" train "$data/iris.csv" --target target_species --epochs -3
one_line_error "--valid-fraction out of range" "--valid-fraction: 1.5" "$tmlp" train "$data/iris.csv" --target target_species --valid-fraction 1.5
one_line_error "--valid with --valid-fraction" "--valid-fraction and --valid" "$tmlp" train "$work/bc_a.csv" --target target_benign --valid "$work/bc_b.csv" --valid-fraction 0.1
one_line_error "target position beyond the columns" "--target: no column is named '9'" "$tmlp" train "$data/iris.csv" --target 9
one_line_error "no --target" "--target is required" "$tmlp" train "$data/iris.csv"

# --- tmlp convert and training from a memory-mapped .tmlpd file ---
# The same flags on the CSV and on its .tmlpd give the same predictions, bit for bit, on both.
"$tmlp" convert "$work/telco_train.csv" "$work/telco_train.tmlpd" --quiet
check "convert telco_churn (categoricals, missing values)" $?
"$tmlp" train "$work/telco_train.tmlpd" --target target_churn -o "$work/telco_m.tmlp" --epochs 30 --quiet
check "train from telco_train.tmlpd" $?
"$tmlp" predict "$work/telco.tmlp" "$work/telco_test.csv" --proba >"$work/p_csv.csv"
"$tmlp" predict "$work/telco_m.tmlp" "$work/telco_test.csv" --proba >"$work/p_map.csv"
cmp -s "$work/p_csv.csv" "$work/p_map.csv"
check "model trained from .tmlpd predicts exactly as the one trained from the CSV" $?
"$tmlp" convert "$work/telco_test.csv" "$work/telco_test.tmlpd" --quiet
"$tmlp" predict "$work/telco_m.tmlp" "$work/telco_test.tmlpd" --proba >"$work/p_map2.csv"
cmp -s "$work/p_csv.csv" "$work/p_map2.csv"
check "predict on a .tmlpd file gives the CSV's predictions" $?
[[ $("$tmlp" evaluate "$work/telco_m.tmlp" "$work/telco_test.tmlpd" --json) == \
   $("$tmlp" evaluate "$work/telco_m.tmlp" "$work/telco_test.csv" --json) ]]
check "evaluate on a .tmlpd file gives the CSV's metrics" $?
"$tmlp" train "$work/telco_train.tmlpd" --target target_churn -o "$work/telco_v.tmlp" --epochs 3 \
  --valid "$work/telco_test.tmlpd" --quiet
check "train from .tmlpd with a .tmlpd --valid file" $?
"$tmlp" convert "$data/letter.csv" "$work/letter.tmlpd" --threads 2 >"$work/conv.txt"
grep -q "20000 rows, 17 columns (17 numeric, 0 categorical" "$work/conv.txt"
rc=$?; check "convert letter: 20000 rows of 17 numeric columns ($(cat "$work/conv.txt"))" $rc
# NumPy features and targets: x.npy (200 x 2 int32) and y.npy (200 int32: 1 if x0 > x1).
npy_i4() {  # npy_i4 FILE SHAPE VALUES...: a little-endian int32 .npy file (format 1.0)
  local file=$1 shape=$2
  shift 2
  local header="{'descr': '<i4', 'fortran_order': False, 'shape': $shape, }"
  while (((10 + ${#header} + 1) % 64 != 0)); do header+=" "; done
  { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(((${#header} + 1) % 256)))\\x$(printf %02x $(((${#header} + 1) / 256)))"
    printf '%s\n' "$header"
    for v in "$@"; do
      printf "\\x$(printf %02x $((v & 255)))\\x$(printf %02x $(((v >> 8) & 255)))\\x00\\x00"
    done; } >"$file"
}
xs=() ys=()
for ((i = 0; i < 200; i++)); do
  a=$(((i * 37) % 101)) b=$(((i * 53 + 11) % 97))
  xs+=("$a" "$b"); ys+=($((a > b ? 1 : 0)))
done
npy_i4 "$work/x.npy" "(200, 2)" "${xs[@]}"
npy_i4 "$work/y.npy" "(200,)" "${ys[@]}"
"$tmlp" convert "$work/x.npy" "$work/xy.tmlpd" --targets "$work/y.npy" >"$work/conv.txt"
rc=$?; check "convert x.npy with --targets y.npy ($(cat "$work/conv.txt"))" $rc
"$tmlp" train "$work/xy.tmlpd" --target target --layers 16 --epochs 60 --lr 0.01 -o "$work/xy.tmlp" --quiet
json=$("$tmlp" evaluate "$work/xy.tmlp" "$work/xy.tmlpd" --json)
echo "     $json"
at_least "$(metric "$json" accuracy)" 0.9; check "trained from .npy features and targets: accuracy >= 0.9" $?
npy_i4 "$work/y_short.npy" "(150,)" "${ys[@]:0:150}"
one_line_error "--targets with other rows" "has 150 rows" "$tmlp" convert "$work/x.npy" "$work/x2.tmlpd" --targets "$work/y_short.npy"
one_line_error "convert a missing file" "none.csv" "$tmlp" convert "$work/none.csv" "$work/x.tmlpd"
printf 'a,b\n1,2\n3\n' >"$work/ragged.csv"
one_line_error "convert a ragged CSV names line and column" "ragged.csv:3" "$tmlp" convert "$work/ragged.csv" "$work/x.tmlpd"
[[ ! -e "$work/x.tmlpd" ]]; check "a failed convert writes no file" $?
one_line_error "convert a .tmlpd file" "already a .tmlpd file" "$tmlp" convert "$work/letter.tmlpd" "$work/x.tmlpd"
one_line_error "--numeric on a .tmlpd file" "kinds were fixed when it was converted" "$tmlp" train "$work/letter.tmlpd" --target target_letter --numeric x_box
head -c 3000 "$work/letter.tmlpd" >"$work/cut.tmlpd"
one_line_error "train on a truncated .tmlpd file" "cut.tmlpd" "$tmlp" train "$work/cut.tmlpd" --target target_letter -o "$work/x.tmlp"
cp "$work/letter.tmlpd" "$work/flip.tmlpd"
printf 'Z' | dd of="$work/flip.tmlpd" bs=1 seek=80 conv=notrunc 2>/dev/null
one_line_error "train on a damaged .tmlpd schema" "flip.tmlpd" "$tmlp" train "$work/flip.tmlpd" --target target_letter -o "$work/x.tmlp"

# The GEMM backends: each gives the same bytes for 1 and 2 threads; the two differ (in the last
# bits); a bad TMLP_GEMM is one line, before anything is written.
gemm=(--target target_letter --layers 128,128 --epochs 2 --quiet)
for g in openblas libxsmm; do
  TMLP_GEMM=$g "$tmlp" train "$data/letter.csv" "${gemm[@]}" -o "$work/g_${g}_1.tmlp" --threads 1
  TMLP_GEMM=$g "$tmlp" train "$data/letter.csv" "${gemm[@]}" -o "$work/g_${g}_2.tmlp" --threads 2
  cmp -s "$work/g_${g}_1.tmlp" "$work/g_${g}_2.tmlp"
  check "TMLP_GEMM=$g: identical for --threads 1 and 2" $?
done
! cmp -s "$work/g_openblas_1.tmlp" "$work/g_libxsmm_1.tmlp"
check "TMLP_GEMM=openblas and libxsmm give different bits" $?
TMLP_GEMM=libxsmm "$tmlp" system | grep -q "^gemm backend : libxsmm (TMLP_GEMM)"
check "tmlp system names the backend TMLP_GEMM chose" $?
one_line_error "TMLP_GEMM unknown" "TMLP_GEMM=mkl: unknown GEMM backend" \
  env TMLP_GEMM=mkl "$tmlp" train "$data/iris.csv" --target target_species -o "$work/mkl.tmlp"
[[ ! -e "$work/mkl.tmlp" ]]; check "a bad TMLP_GEMM writes no model" $?
# LIBXSMM_TARGET is libxsmm's, but tmlp reads it too: a name libxsmm would ignore, or code this
# CPU cannot run (Knights Mill's, which would stop the process at its first product), is one
# line before anything is written; a good one names the code in `tmlp system`.
one_line_error "LIBXSMM_TARGET unknown" "LIBXSMM_TARGET=sapphire: not a libxsmm 1.17 target name" \
  env LIBXSMM_TARGET=sapphire "$tmlp" train "$data/iris.csv" --target target_species \
  -o "$work/xt.tmlp"
[[ ! -e "$work/xt.tmlp" ]]; check "a bad LIBXSMM_TARGET writes no model" $?
if ! grep -q avx512_4fmaps /proc/cpuinfo; then
  one_line_error "LIBXSMM_TARGET for another CPU" \
    "LIBXSMM_TARGET=knm: this CPU lacks instructions that libxsmm's knm code uses" \
    env LIBXSMM_TARGET=knm TMLP_GEMM=libxsmm "$tmlp" train "$data/iris.csv" \
    --target target_species -o "$work/xt.tmlp"
fi
LIBXSMM_TARGET=generic "$tmlp" system | grep -q "generating for generic (LIBXSMM_TARGET)"
check "LIBXSMM_TARGET=generic: tmlp system names that code" $?

# --precision bf16: through the scalar reference on any CPU, the same bytes for 1 and 2 threads,
# recorded in the model; without TMLP_SIMD=scalar on a CPU without AVX512-BF16, one line.
bf=(--target target_letter --layers 64 --epochs 2 --precision bf16 --quiet)
TMLP_SIMD=scalar "$tmlp" train "$data/letter.csv" "${bf[@]}" -o "$work/bf1.tmlp" --threads 1
TMLP_SIMD=scalar "$tmlp" train "$data/letter.csv" "${bf[@]}" -o "$work/bf2.tmlp" --threads 2
cmp -s "$work/bf1.tmlp" "$work/bf2.tmlp"
check "--precision bf16 (scalar reference): identical for --threads 1 and 2" $?
"$tmlp" info "$work/bf1.tmlp" | grep -q -- "--precision bf16"
check "info shows --precision bf16" $?
if ! grep -q avx512_bf16 /proc/cpuinfo; then
  one_line_error "--precision bf16 without AVX512-BF16" "needs a CPU with AVX512-BF16; this one offers" \
    "$tmlp" train "$data/iris.csv" --target target_species --precision bf16 -o "$work/bf.tmlp"
fi
one_line_error "--precision unknown" "--precision: unknown 'fp16'" \
  "$tmlp" train "$data/iris.csv" --target target_species --precision fp16 -o "$work/bf.tmlp"

finish
