#!/usr/bin/env bash
# A tmlp built without MPI (TMLP_WITH_MPI off, as the sanitizer builds are) started by mpirun:
# one line saying why it cannot train across processes, a non-zero exit and no model file;
# run directly it still trains. Usage: without_mpi.sh TMLP_BINARY DATA_DIR
set -u
tmlp=$(realpath "$1")
data=$(realpath "$2")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

run=("$data/iris.csv" --target target_species --layers 8 --epochs 1 --quiet)
mpirun --oversubscribe -np 2 "$tmlp" train "${run[@]}" -o "$work/m.tmlp" >/dev/null 2>"$work/err"
rc=$?
[[ $rc -ne 0 && $(grep -c "tmlp: error" "$work/err") -eq 1 ]] &&
  grep -q "built without MPI" "$work/err" && [[ ! -e "$work/m.tmlp" ]]
check "under mpirun: one line saying the build has no MPI (exit $rc)" $?
grep "tmlp: error" "$work/err" | sed 's/^/     /'
"$tmlp" train "${run[@]}" -o "$work/m.tmlp" --distributed 2>"$work/err"
[[ $? -ne 0 && $(wc -l <"$work/err") -eq 1 ]] && grep -q "built without MPI" "$work/err"
check "--distributed: the same line" $?
"$tmlp" train "${run[@]}" -o "$work/m.tmlp" && [[ -s "$work/m.tmlp" ]]
check "run directly: it trains" $?
finish
