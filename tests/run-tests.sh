#!/usr/bin/env bash
# run-tests.sh - runs every test under prove (TAP) and ends with prove's
# summary plus one plain line "N passed, N failed, N skipped" counting test
# points. Compiled tests are $BUILD/tests/*.t; scripts are tests/*.t.
# Tests that need root or BPF print "ok N # skip <reason>" elsewhere.
# Every test runs under tests/run-one.sh: a time limit (TEST_TIMEOUT, default
# 600 s), its own process group, stdin from /dev/null. The full TAP stream
# goes to $BUILD/test.log (test-NAME.log for `run-tests.sh BUILD NAME`,
# the targeted runs); the console gets each file's line as it starts and
# ends, plus failures and skips, so a long run shows where it is.
set -u
build=${1:-build}
shopt -s nullglob
progs=("$build"/tests/*.t tests/*.t)
[[ -n "${TESTS_ONLY:-}" ]] && progs=($TESTS_ONLY)
if [[ ${#progs[@]} -eq 0 ]]; then
	echo "no tests found" >&2
	exit 1
fi
# a targeted run (make tree-tests, ...) names itself: its own log, so it does
# not overwrite the log of the last full run
log="$build/test${2:+-$2}.log"
mkdir -p "$build"
export VMATOP_BUILD="$build"
here=$(cd "$(dirname "$0")" && pwd)
prove --exec "$here/run-one.sh" -v --timer "${progs[@]}" 2>&1 </dev/null | tee "$log" |
	grep --line-buffered -E '^\[[0-9:]+\] |^not ok|# (skip|SKIP|TIMEOUT)|^(ok|skipped|FAILED|Dubious)' |
	grep --line-buffered -vE '^ok [0-9]+ - '
rc=${PIPESTATUS[0]}
echo "---- summary (full log: $log) ----"
# Recap what failed (with the diagnostics around it), then prove's summary.
grep -B3 -A8 -E '^not ok|TIMEOUT' "$log" | tail -n 200
sed -n '/^Test Summary Report/,$p;/^All tests successful/,$p' "$log"
total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$log" | tail -n 1)
skip=$(( $(grep -ciE '^ok [0-9]+.*# skip' "$log") + $(grep -ciE '^1\.\.0 # skip' "$log") ))
fail=$(grep -cE '^not ok [0-9]+' "$log")
# a program that failed without a failing test point (died before its plan,
# bad plan, non-zero exit) counts as one failure: prove's summary report
# lists it with "Failed: 0"
bad=$(sed -n '/^Test Summary Report/,$p' "$log" | grep -cE '^[^ ].*\(Wstat: .* Failed: 0\)')
fail=$((fail + bad))
pass=$(( ${total:-0} - fail - skip ))
(( pass < 0 )) && pass=0
echo "$pass passed, $fail failed, $skip skipped"
[[ $rc -eq 0 && $fail -eq 0 ]]
