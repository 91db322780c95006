#!/usr/bin/env bash
# bench-shim.sh - overhead of libvmatop.so on an mmap+munmap loop, in one run:
# plain, under the shim (no stacks), under the shim with stacks of depth 16,
# and under `strace -f -e trace=%memory -o /dev/null` as the peer.
#
# The machine is shared and noisy, so the configurations are run in
# interleaved rounds (ROUNDS, default 7; strace in 3) and each is summarised
# by its median and its best. Two measures:
#   loop  the loop's own time, printed by the program (the target's slowdown)
#   wall  the whole process under `vmatop record` (start-up, draining, exit)
# Ratios are to plain. Targets: shim <= 1.10x without stacks, <= 2x with
# stacks of depth 16 (loop, median).
set -u
B=${1:-build}
T=$B/tests/shim/shimtest
V=$B/vmatop
N=${LOOPS:-200000}
ROUNDS=${ROUNDS:-7}
export LOOPS=$N
[ -x "$T" ] || make -s "$T" >/dev/null
# the shim alone (the BPF source has its own benchmark)
NOBPF=$("$V" record --help 2>&1 | grep -q -- --no-bpf && echo --no-bpf)
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
run() { # name cmd...: appends "wall loop" (ns) to $D/name
	local name=$1; shift
	local t0=$(date +%s%N)
	"$@" >/dev/null 2>"$D/err"
	local t=$(( $(date +%s%N) - t0 ))
	local l=$(sed -n 's/^loop \([0-9]*\) ns$/\1/p' "$D/err" | tail -1)
	echo "$t ${l:-0}" >>"$D/$name"
}
have_strace=$(command -v strace >/dev/null && echo 1)
for r in $(seq 1 "$ROUNDS"); do
	run plain "$T" loop
	run shim "$V" record $NOBPF -o "$D/a.vmt" -- "$T" loop
	run stacks "$V" record $NOBPF --stacks=16 -o "$D/b.vmt" -- "$T" loop
	if [ -n "$have_strace" ] && [ "$r" -le 3 ]; then
		run strace strace -f -e trace=%memory -o /dev/null "$T" loop
	fi
done
stat() { # file column -> "median min"
	cut -d' ' -f"$2" "$1" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)], v[1]}'
}
read -r pl_lm pl_lb < <(stat "$D/plain" 2)
read -r pl_wm pl_wb < <(stat "$D/plain" 1)
printf 'mmap+munmap loop, %d iterations, %d rounds        loop ns/iter (ratio)          wall ns/iter (ratio)\n' "$N" "$ROUNDS"
printf '%-28s %21s %21s %21s %21s\n' "" "median" "best" "median" "best"
row() {
	local name=$1 label=$2
	[ -s "$D/$name" ] || return
	read -r lm lb < <(stat "$D/$name" 2)
	read -r wm wb < <(stat "$D/$name" 1)
	printf '%-28s %12.0f (%5.2fx) %12.0f (%5.2fx) %12.0f (%5.2fx) %12.0f (%5.2fx)\n' "$label" \
		"$(echo "$lm / $N" | bc -l)" "$(echo "$lm / $pl_lm" | bc -l)" \
		"$(echo "$lb / $N" | bc -l)" "$(echo "$lb / $pl_lb" | bc -l)" \
		"$(echo "$wm / $N" | bc -l)" "$(echo "$wm / $pl_wm" | bc -l)" \
		"$(echo "$wb / $N" | bc -l)" "$(echo "$wb / $pl_wb" | bc -l)"
}
row plain "plain"
row shim "vmatop record (no stacks)"
row stacks "vmatop record --stacks=16"
row strace "strace -f -e trace=%memory"
echo "targets (loop, median): no stacks <= 1.10x, stacks 16 <= 2.00x"
