#!/usr/bin/env bash
# tree-rcu-valgrind.t - the RCU stress test under valgrind memcheck: every
# node and entry retired through call_rcu must be freed, none touched after
# being freed. TAP; skips when valgrind is missing. --fair-sched=yes: with
# the default scheduler lock the spinning readers starve the writer (seen:
# the writer got 0.3% of the CPU for 10 minutes), so the run never ends.
build=${VMATOP_BUILD:-build}
bin="$build/tests/tree-rcu.t"
echo "1..1"
if ! command -v valgrind >/dev/null; then
	echo "ok 1 # skip valgrind not installed"
	exit 0
fi
if [[ ! -x "$bin" ]]; then
	echo "not ok 1 - $bin not built"
	exit 1
fi
log=$(mktemp)
RCU_STRESS_SECONDS=3 valgrind -q --fair-sched=yes --leak-check=full --errors-for-leak-kinds=definite \
	--error-exitcode=99 "$bin" >"$log" 2>&1
rc=$?
if [[ $rc -eq 0 ]]; then
	echo "ok 1 - RCU stress clean under valgrind (no invalid access, no definite leak)"
else
	sed 's/^/# /' "$log" | tail -40
	echo "not ok 1 - RCU stress under valgrind exited $rc"
fi
rm -f "$log"
[[ $rc -eq 0 ]]
