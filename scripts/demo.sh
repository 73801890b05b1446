#!/usr/bin/env bash
# Sets up (Debian packages), builds tmlp, and runs its main job on a bundled real dataset:
# trains an MLP on the first 16,000 rows of UCI letter recognition (26 classes), evaluates it on
# the last 4,000 rows, and describes the model file it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" --target tmlp_cli
python=0
if grep -q '^TMLP_BUILD_PYTHON:BOOL=ON' build/release/CMakeCache.txt; then
  cmake --build build/release -j "$(nproc)" --target tmlp_python
  python=1
fi

tmlp=build/release/src/cli/tmlp
data=tests/data/letter.csv  # 20,000 rows, 16 features, 26 classes (UCI letter recognition)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(head -1 "$data"; sed -n 2,16001p "$data") >"$work/train.csv"
(head -1 "$data"; sed -n 16002,20001p "$data") >"$work/test.csv"

"$tmlp" system
echo
echo "== Training on $data rows 1-16000 (a fifth held out for validation and early stopping)"
"$tmlp" train "$work/train.csv" --target target_letter -o "$work/letter.tmlp" \
  --layers 256,128 --epochs 60 --early-stop 8
echo
echo "== Evaluating on rows 16001-20000, never seen in training"
"$tmlp" evaluate "$work/letter.tmlp" "$work/test.csv"
echo
"$tmlp" info "$work/letter.tmlp"
if [[ $python -eq 1 ]]; then
  echo
  echo "== The same model from Python (PYTHONPATH=build/release/python /usr/bin/python3)"
  PYTHONPATH=build/release/python /usr/bin/python3 - "$work/letter.tmlp" "$work/test.csv" <<'PY'
import sys
import numpy as np
import tmlp
predictor = tmlp.Predictor.load(sys.argv[1])
test = tmlp.read_csv(sys.argv[2], categorical=predictor.categorical_columns)
proba = predictor.probabilities(test)
truth = predictor.targets(test)          # each row's class index
print(f"tmlp {tmlp.__version__}: accuracy {np.mean(np.argmax(proba, axis=1) == truth):.4f} "
      f"on {test.n_rows} rows")
PY
fi
