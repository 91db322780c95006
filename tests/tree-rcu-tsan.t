#!/usr/bin/env bash
# tree-rcu-tsan.t - the RCU stress test (tests/tree/rcu.c) built with
# ThreadSanitizer: no data race between the writer and the lock-free
# readers. TAP; the test's own points plus one for the TSan verdict.
build=${VMATOP_BUILD:-build}
bin="$build/tests/tree-rcu-tsan"
if [[ ! -x "$bin" ]]; then
	echo "1..1"
	echo "not ok 1 - $bin not built (make $bin)"
	exit 1
fi
log=$(mktemp)
RCU_STRESS_SECONDS=${RCU_STRESS_SECONDS:-3} \
TSAN_OPTIONS="suppressions=tests/tsan.supp exitcode=66 halt_on_error=0 report_signal_unsafe=0" \
	"$bin" 2>"$log" | sed '/^1\.\./s/^1\.\.\([0-9]*\)/echo 1..$((\1+1))/e'
rc=${PIPESTATUS[0]}
races=$(grep -c 'WARNING: ThreadSanitizer' "$log")
if [[ $rc -eq 0 && $races -eq 0 ]]; then
	echo "ok 7 - ThreadSanitizer: no data race"
else
	grep -A14 'WARNING: ThreadSanitizer' "$log" | head -60 | sed 's/^/# /'
	echo "not ok 7 - ThreadSanitizer: $races race report(s), exit $rc"
fi
rm -f "$log"
[[ $rc -eq 0 && $races -eq 0 ]]
