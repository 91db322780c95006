#!/usr/bin/env bash
# bench-tree.sh - runs the maple tree benchmark (build/mtree-bench): prints
# its table (dup vs rebuild, fork-style dup+replace, lookups and writes vs
# glibc tsearch and a sorted array, bytes per entry) and the ratio targets
# with PASS/MISS, and keeps the JSON in $build/bench-tree.json.
# A MISS is reported, never a failure; only a crash or a missing binary fails.
# Usage: bench/bench-tree.sh [BUILD] [--quick]
set -u
build=${1:-build}
shift || true
bin="$build/mtree-bench"
if [[ ! -x "$bin" ]]; then
	echo "bench-tree: $bin not built (run: make $bin)" >&2
	exit 1
fi
json="$build/bench-tree.json"
"$bin" --json-file "$json" "$@" || {
	echo "bench-tree: $bin failed (exit $?)" >&2
	exit 1
}
miss=$(grep -c '"pass": false' "$json")
echo "bench-tree: $miss target(s) missed; JSON in $json"
exit 0
