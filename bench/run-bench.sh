#!/usr/bin/env bash
# run-bench.sh - runs every benchmark; each prints a human table and ratios.
set -u
build=${1:-build}
rc=0
for b in bench/bench-*.sh; do
	[[ -e "$b" ]] || continue
	echo "== $b"
	bash "$b" "$build" || rc=1
done
exit $rc
