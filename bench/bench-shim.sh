#!/usr/bin/env bash
# bench-shim.sh - overhead of libvmatop.so on an mmap+munmap loop, in one run:
# plain, under the shim (no stacks), under the shim with stacks of depth 16,
# and under `strace -f -e trace=%memory -o /dev/null` as the peer. Prints
# ns/iteration and ratios to the plain run. Targets: shim <= 1.10x without
# stacks, <= 2x with stacks of depth 16.
set -u
B=${1:-build}
T=$B/tests/shim/shimtest
V=$B/vmatop
N=${LOOPS:-200000}
export LOOPS=$N
[ -x "$T" ] || make -s "$T" >/dev/null
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
best() { # best of 3 wall times in ns
	local b=
	for _ in 1 2 3; do
		local t0=$(date +%s%N)
		"$@" >/dev/null 2>&1
		local t=$(( $(date +%s%N) - t0 ))
		if [ -z "$b" ] || [ "$t" -lt "$b" ]; then b=$t; fi
	done
	echo "$b"
}
plain=$(best "$T" loop)
shim=$(best "$V" record -o "$D/a.vmt" -- "$T" loop)
stk=$(best "$V" record --stacks=16 -o "$D/b.vmt" -- "$T" loop)
if command -v strace >/dev/null; then
	st=$(best strace -f -e trace=%memory -o /dev/null "$T" loop)
fi
printf '%-34s %10s %8s\n' "mmap+munmap loop ($N iterations)" "ns/iter" "ratio"
row() { printf '%-34s %10.0f %8.2fx\n' "$1" "$(echo "$2 / $N" | bc -l)" "$(echo "$2 / $plain" | bc -l)"; }
row "plain" "$plain"
row "vmatop record (no stacks)" "$shim"
row "vmatop record --stacks=16" "$stk"
[ -n "${st:-}" ] && row "strace -f -e trace=%memory" "$st"
echo "targets: no stacks <= 1.10x, stacks 16 <= 2.00x (whole-process wall time, best of 3;"
echo "includes vmatop's start-up and trace writing: see README for per-call numbers)"
