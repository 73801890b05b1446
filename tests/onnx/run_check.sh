#!/usr/bin/env bash
# The ONNX export checks (check_export.py), after installing ONNX Runtime for Node.js from the
# committed package.json and package-lock.json into NODE_PREFIX (once; about 190 MB, so in the
# build folder). Usage: run_check.sh TMLP_CLI DATA_DIR TMLP_PYTHONPATH NODE_PREFIX
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prefix=$4
if [[ ! -d "$prefix/node_modules/onnxruntime-node" ]]; then
  mkdir -p "$prefix"
  cp "$here/package.json" "$here/package-lock.json" "$here/.npmrc" "$prefix/"
  # .npmrc: onnxruntime-node's install script would fetch a GPU build from GitHub; skip it.
  (cd "$prefix" && npm ci --no-audit --no-fund --loglevel=error)
fi
/usr/bin/python3 "$here/check_export.py" "$@"
