#!/usr/bin/env bash
# run-tests.sh - runs every test under prove (TAP) and ends with prove's
# summary plus one plain line "N passed, N failed, N skipped" counting test
# points. Compiled tests are $BUILD/tests/*.t; scripts are tests/*.t.
# Tests that need root or BPF print "ok N # skip <reason>" elsewhere.
set -u
build=${1:-build}
shopt -s nullglob
progs=("$build"/tests/*.t tests/*.t)
[[ -n "${TESTS_ONLY:-}" ]] && progs=($TESTS_ONLY)
if [[ ${#progs[@]} -eq 0 ]]; then
	echo "no tests found" >&2
	exit 1
fi
log="$build/test.log"
mkdir -p "$build"
export VMATOP_BUILD="$build"
prove --exec '' -v --timer "${progs[@]}" >"$log" 2>&1
rc=$?
# Show what failed or skipped, then prove's own summary.
grep -E '^(not ok|ok .*# (skip|SKIP))|^# |Failed|Dubious|\.\. (ok|skipped|FAILED)|^\[' "$log" | grep -vE '^ok [0-9]+ - ' | tail -n 200
sed -n '/^Test Summary Report/,$p;/^All tests successful/,$p' "$log"
total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$log" | tail -n 1)
skip=$(( $(grep -ciE '^ok [0-9]+.*# skip' "$log") + $(grep -ciE '^1\.\.0 # skip' "$log") ))
fail=$(grep -cE '^not ok [0-9]+' "$log")
# a program that died before its plan counts as one failure
bad=$(grep -cE '^(Dubious|Bad plan|Parse errors)' "$log")
fail=$((fail + bad))
pass=$(( ${total:-0} - fail - skip ))
(( pass < 0 )) && pass=0
echo "$pass passed, $fail failed, $skip skipped"
[[ $rc -eq 0 && $fail -eq 0 ]]
