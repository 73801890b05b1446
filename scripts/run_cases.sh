#!/usr/bin/env bash
# Runs the test cases of a Catch2 test binary that a test spec selects, each case in its own
# process and JOBS of them at a time, as ctest runs the release build's cases: the sanitizer
# builds' cases would otherwise run one after another in one process, on one core of CI's two
# for most of it. Prints each failing case's output and one summary line; exits non-zero if any
# case failed (or none was selected).
#   usage: run_cases.sh JOBS BINARY [TEST SPEC...]
# Environment (ASAN_OPTIONS, TSAN_OPTIONS, TMLP_SIMD, ...) reaches every case.
set -euo pipefail

if [[ $# -lt 2 || ! $1 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: run_cases.sh JOBS BINARY [TEST SPEC...]" >&2
  exit 2
fi
jobs=$1 binary=$2
shift 2
[[ -x $binary ]] || { echo "run_cases.sh: no test binary at '$binary'" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# (Catch2 2's listing exits with the number of cases it lists.)
{ "$binary" "$@" --list-test-names-only || true; } | sed '/^$/d' > "$work/names"
cases=$(wc -l < "$work/names")
[[ $cases -gt 0 ]] || { echo "run_cases.sh: no test case matches '$*'" >&2; exit 1; }

# Case i: its name in names.i, its output in out.i, its exit status in rc.i. Catch2's
# --input-file takes a line as one test spec, so the characters that a spec reads as syntax
# (commas, brackets, wildcards, quotes, backslashes) are escaped. The cases start in reverse
# order of declaration, which starts the distributed and trainer tests (the longest under the
# sanitizers) first.
# shellcheck disable=SC2016  # $1..$3 are the inner shell's arguments
tac "$work/names" | sed 's/[][\\,*"]/\\&/g' |
  awk -v dir="$work" '{ f = dir "/names." NR; print > f; close(f); print NR }' |
  xargs -P "$jobs" -I{} sh -c '"$1" -f "$2/names.$3" > "$2/out.$3" 2>&1; echo $? > "$2/rc.$3"' \
    sh "$binary" "$work" {}

# A case passed if its process exited 0 and says it ran one test case, which passed (with its
# count of assertions, or "test cases: 1 | 1 passed" where every check sits behind a mismatch).
failed=0 assertions=0
for ((i = 1; i <= cases; ++i)); do
  rc=$(cat "$work/rc.$i" 2>/dev/null || echo none)
  n=$(sed -n -e 's/^All tests passed (\([0-9]*\) assertions\{0,1\} in 1 test case)$/\1/p' \
    -e 's/^test cases: 1 | 1 passed$/0/p' "$work/out.$i" 2>/dev/null || true)
  if [[ $rc != 0 || -z $n ]]; then
    failed=$((failed + 1))
    echo "---- FAILED (exit $rc): $(tac "$work/names" | sed -n "${i}p")"
    cat "$work/out.$i" 2>/dev/null || true
  else
    assertions=$((assertions + n))
  fi
done
if [[ $failed -gt 0 ]]; then
  echo "run_cases.sh: $failed of $cases test cases failed"
  exit 1
fi
echo "All $cases test cases passed ($assertions assertions; $jobs at a time, one process each)"
