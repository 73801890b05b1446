#!/usr/bin/env bash
# A tmlp built without ONNX (TMLP_WITH_ONNX off, as the sanitizer builds are): `tmlp export`
# says so in one line, exits non-zero and writes no file, with or without --features-only.
# Usage: without_onnx.sh TMLP_BINARY DATA_DIR
set -u
tmlp=$(realpath "$1")
data=$(realpath "$2")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$tmlp" train "$data/iris.csv" --target target_species --layers 8 --epochs 1 --quiet \
  -o "$work/m.tmlp"
check "trains" $?
for extra in "" --features-only; do
  "$tmlp" export "$work/m.tmlp" "$work/m.onnx" $extra 2>"$work/err"
  rc=$?
  [[ $rc -ne 0 && $(wc -l <"$work/err") -eq 1 ]] && grep -q "built without ONNX" "$work/err" &&
    [[ -z $(ls "$work" | grep onnx) ]]
  check "export ${extra:-(whole model)}: one line saying the build has no ONNX (exit $rc)" $?
  sed 's/^/     /' "$work/err"
done
finish
