# Shared by the program-level test scripts (sourced, not run): a scratch folder removed on exit,
# a failure count, and the checks every script makes.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

check() {  # check NAME CONDITION-EXIT-CODE
  if [[ $2 -eq 0 ]]; then echo "ok   $1"; else echo "FAIL $1"; failures=$((failures + 1)); fi
}

# one_line_error NAME EXPECTED-TEXT COMMAND...: the command fails with exactly one line on
# stderr containing EXPECTED-TEXT (shown indented after the check).
one_line_error() {
  local name=$1 expect=$2
  shift 2
  "$@" >/dev/null 2>"$work/err"
  local rc=$?
  [[ $rc -ne 0 && $(wc -l <"$work/err") -eq 1 && $(<"$work/err") == *"$expect"* ]]
  check "$name" $?
  sed 's/^/     /' "$work/err"
}

finish() {  # finish: the summary line, and the exit status of the whole script
  echo "$failures check(s) failed"
  exit $((failures > 0))
}
