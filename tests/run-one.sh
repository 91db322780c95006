#!/usr/bin/env bash
# run-one.sh - runs one test program for run-tests.sh under a time limit, so
# a test that hangs fails with its name instead of stalling the whole run.
# The test runs in its own process group (timeout(1) makes one); on expiry
# the whole group gets SIGTERM, then SIGKILL 10 s later, and a TAP
# diagnostic plus a "not ok" line name what happened. Limit: $TEST_TIMEOUT
# seconds (default 600). Standard input is /dev/null: no test may wait on it.
t=$1
limit=${TEST_TIMEOUT:-600}
timeout --kill-after=10 "$limit" "$t" </dev/null
rc=$?
if [[ $rc -eq 124 || $rc -eq 137 ]]; then
	echo "# TIMEOUT: $t did not finish within $limit s (killed; rc $rc)"
	echo "not ok 999999 - $t finished within $limit s"
	# a test that left processes in other groups would keep prove's pipe
	# open: nothing to do here but say so
fi
exit $rc
