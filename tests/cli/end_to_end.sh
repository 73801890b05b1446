#!/usr/bin/env bash
# End-to-end tests of the tmlp program on bundled real datasets: train, evaluate, predict, info,
# identical model files for 1 and 2 threads, and one-line errors for bad input.
# Usage: end_to_end.sh TMLP_BINARY DATA_DIR
set -u
tmlp=$1
data=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
check() {  # check NAME CONDITION-EXIT-CODE
  if [[ $2 -eq 0 ]]; then echo "ok   $1"; else echo "FAIL $1"; failures=$((failures + 1)); fi
}
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

# The same model bytes for 1 and 2 threads.
"$tmlp" train "$data/wine.csv" --target target_cultivar -o "$work/w1.tmlp" --threads 1 --epochs 20 --batch-size 64 --quiet
"$tmlp" train "$data/wine.csv" --target target_cultivar -o "$work/w2.tmlp" --threads 2 --epochs 20 --batch-size 64 --quiet
cmp -s "$work/w1.tmlp" "$work/w2.tmlp"; check "model files identical for --threads 1 and 2" $?

# Bad input: one line on stderr, non-zero exit, the old model untouched.
one_line_error() {  # one_line_error NAME EXPECTED-TEXT COMMAND...
  local name=$1 expect=$2
  shift 2
  local err
  err=$("$@" 2>&1 >/dev/null)
  local rc=$?
  [[ $rc -ne 0 && $(wc -l <<<"$err") -eq 1 && $err == *"$expect"* ]]
  check "$name ($err)" $?
}
one_line_error "unknown target" "no target column 'nope'" "$tmlp" train "$data/iris.csv" --target nope -o "$work/x.tmlp"
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

echo "$((failures == 0 ? 1 : 0)) end-to-end suite passed, $failures checks failed"
exit $((failures > 0))
