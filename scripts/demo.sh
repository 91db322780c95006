#!/usr/bin/env bash
# demo.sh - `make demo`: record the built-in demo workload (build/vmatop-demo:
# a few thousand VMAs, threads, forks) with vmatop, print its report and
# check the mirror against the kernel's snapshots.
set -u
B=${1:-build}
out=${DEMO_TRACE:-$B/demo.vmt}
echo "== vmatop record --stacks -o $out -- $B/vmatop-demo 3000"
"$B/vmatop" record --stacks -o "$out" -- "$B/vmatop-demo" 3000 || exit 1
echo
"$B/vmatop" report "$out"
echo
echo "== vmatop verify $out"
"$B/vmatop" verify "$out" | tail -n 8
