#!/usr/bin/env bash
# bench-bpf.sh - what vmatop adds to an mmap+munmap loop, in one run:
#
#   plain                     the loop alone
#   BPF attached elsewhere    vmatop attach to another, sleeping process:
#                             the floor (the programs return at once for the
#                             loop; every syscall still takes the traced path)
#   BPF: address space        vmatop attach (the default BPF mode: VMAs,
#                             map_count, forks)
#   BPF: + mmap_lock          vmatop attach --mmap-lock (lock waits and
#                             holds, contention, the fork copy time)
#   shim                      vmatop record --no-bpf (LD_PRELOAD only)
#   shim + BPF                vmatop record (both, address space)
#   strace                    the peer: strace -f -e trace=%memory
#
# The loop times itself in chunks of 500 iterations and prints the median
# chunk (start-up, attach and trace writing are not in it). The machine is
# noisy (a nested VM shared with other work; its speed drifts within
# seconds), so the configurations run in ROUNDS rounds, each in a fresh
# random order with a plain run between any two, and every ratio is taken
# against the plain runs just before and after; the table shows the median
# round (and the range over the rounds). Then the paired measurement
# (tests/bpf/ovh.c): per chunk, follow the loop or not, alternating, so a
# slow moment of the machine hits both halves - the most precise number for
# what the BPF programs add per iteration (their early return on every
# syscall, paid in both halves, left out), and `ovh --detach`, where the off
# half also has the programs detached: BPF on vs off in one process, the
# number the target is about. Target: BPF address space alone adds <= 25%.
# Then the fork benchmark (vmatop bench fork).
# Needs root for the BPF rows (skipped otherwise).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/rounds.sh"
B=${1:-build}
V=$B/vmatop
L=$B/tests/bpf/wl_lock
O=$B/tests/bpf/ovh
N=${LOOPS:-40000}
ROUNDS=${ROUNDS:-7}
[ -x "$L" ] || make -s "$L" >/dev/null
[ -x "$V" ] || make -s "$V" >/dev/null
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT

root=0
[ "$(id -u)" = 0 ] && [ -r /sys/kernel/btf/vmlinux ] && root=1

# one run of a configuration: prints "wall_ns cpu_ns" per iteration
attached() { # the loop under `vmatop attach [options]`
	rm -f "$D/in"
	mkfifo "$D/in"
	"$L" loop "$N" wait <"$D/in" >"$D/out" &
	local p=$!
	exec 8>"$D/in"
	"$V" attach -p "$p" -o "$D/a.vmt" "$@" >/dev/null 2>"$D/attach.err" &
	local a=$!
	for _ in $(seq 200); do grep -q "attached to" "$D/attach.err" 2>/dev/null && break; sleep 0.05; done
	echo g >&8
	exec 8>&-
	wait "$p"
	wait "$a"
	cat "$D/out"
}
idle() { # the loop while vmatop follows another (sleeping) process: the floor
	sleep 600 &
	local sp=$!
	"$V" attach -p "$sp" -o "$D/i.vmt" >/dev/null 2>"$D/idle.err" &
	local a=$!
	for _ in $(seq 200); do grep -q "attached to" "$D/idle.err" 2>/dev/null && break; sleep 0.05; done
	"$L" loop "$N"
	kill -INT "$a" 2>/dev/null
	wait "$a" 2>/dev/null
	kill "$sp" 2>/dev/null
	wait "$sp" 2>/dev/null
}
run() {
	case $1 in
	plain) "$L" loop "$N" ;;
	bpfidle) idle ;;
	bpf) attached ;;
	bpflock) attached --mmap-lock ;;
	shim) "$V" record --no-bpf -o "$D/s.vmt" -- "$L" loop "$N" 2>/dev/null ;;
	shimbpf) "$V" record -o "$D/sb.vmt" -- "$L" loop "$N" 2>/dev/null ;;
	strace) strace -f -e trace=%memory -o /dev/null "$L" loop "$N" ;;
	esac | grep -E '^[0-9.]+ [0-9.]+$' | tail -1
}

CONFIGS="plain"
[ $root = 1 ] && CONFIGS="$CONFIGS bpfidle bpf bpflock"
CONFIGS="$CONFIGS shim"
[ $root = 1 ] && CONFIGS="$CONFIGS shimbpf"
command -v strace >/dev/null && CONFIGS="$CONFIGS strace"
declare -A label=([plain]="plain" [bpfidle]="BPF attached, following another process"
	[bpf]="BPF: address space (attach)"
	[bpflock]="BPF: + mmap_lock (attach --mmap-lock)" [shim]="shim (record --no-bpf)"
	[shimbpf]="shim + BPF (record)" [strace]="strace -f -e trace=%memory")

# rounds (bench/rounds.sh): random order, a plain run on either side of
# each run, ratio to the mean of those two. $D/<config>: "wall cpu" per
# round, $D/<config>.r: the ratios
bench_rounds "$ROUNDS" $CONFIGS

echo "mmap+munmap loop, $N iterations per run, $ROUNDS rounds (ns per iteration: median chunk;"
echo "ratio: to the plain runs next to it, median round [lowest - highest])"
printf '%-40s %9s %9s %8s %17s\n' "" "wall ns" "cpu ns" "ratio" "range"
for c in $CONFIGS; do
	[ -s "$D/$c" ] || continue
	w=$(bench_med "$D/$c" 1)
	cpu=$(bench_med "$D/$c" 2)
	if [ "$c" = plain ]; then
		printf '%-40s %9.0f %9.0f %7.2fx\n' "${label[$c]}" "$w" "$cpu" 1
		continue
	fi
	rm_=$(bench_med "$D/$c.r" 1)
	printf '%-40s %9.0f %9.0f %7.2fx %8.2f - %5.2f\n' "${label[$c]}" "$w" "$cpu" "$rm_" \
		"$(bench_lo "$D/$c.r" 1)" "$(bench_hi "$D/$c.r" 1)"
	echo "$rm_" >"$D/$c.med"
done
if [ $root = 1 ] && [ -s "$D/bpf.med" ]; then
	pct() { awk -v r="$(cat "$1")" 'BEGIN { printf "%+.0f%%", (r - 1) * 100 }'; }
	a=$(pct "$D/bpf.med")
	echo "BPF address space alone adds $a (target <= +25%: $(awk -v r="$(cat "$D/bpf.med")" \
		'BEGIN { print r <= 1.25 ? "met" : "NOT met" }')); with mmap_lock: $(pct "$D/bpflock.med")"
	[ -x "$O" ] || make -s "$O" >/dev/null 2>&1
	if [ -x "$O" ]; then
		echo
		echo "paired (tests/bpf/ovh: the loop followed or not, alternating chunks; the programs'"
		echo "early return on every syscall, paid in both halves, is in the rows above only):"
		pair() {
			"$O" -p 40 "$@" | sed -n 's/^cpu  ns\/iter: off \([0-9]*\) on \([0-9]*\), paired difference \([-0-9]*\) (+*\(.*\))$/\3 ns (\4) per iteration, cpu \1 -> \2 ns/p'
		}
		echo "  address space: +$(pair)"
		echo "  + mmap_lock:   +$(pair --lock)"
		echo "paired, BPF on vs off (ovh --detach: in the off half the programs are also out of the"
		echo "tracepoints, so the traced syscall path and every program run are in the difference):"
		for i in $(seq "${DETACH_RUNS:-5}"); do
			"$O" -p 40 --detach | sed -n 's/^cpu  ns\/iter: off \([0-9]*\) on \([0-9]*\), paired difference \([-0-9]*\) (+*\(.*\)%)$/\1 \2 \3 \4/p'
		done >"$D/detach"
		if [ -s "$D/detach" ]; then
			printf '  address space: +%.0f ns per iteration, +%.1f%% [%+.1f%% .. %+.1f%% over %d runs], cpu %.0f -> %.0f ns\n' \
				"$(bench_med "$D/detach" 3)" "$(bench_med "$D/detach" 4)" \
				"$(bench_lo "$D/detach" 4)" "$(bench_hi "$D/detach" 4)" "$(wc -l <"$D/detach")" \
				"$(bench_med "$D/detach" 1)" "$(bench_med "$D/detach" 2)"
			echo "BPF address space alone, paired on vs off: $(awk -v p="$(bench_med "$D/detach" 4)" \
				'BEGIN { printf "%+.1f%% (target <= +25%%: %s)", p, p <= 25 ? "met" : "NOT met" }')"
		fi
	fi
fi
echo
if [ $root = 1 ]; then
	"$V" bench fork --vmas "${FORK_VMAS:-221,3221,12821}" --seconds "${FORK_SECONDS:-0.5}"
else
	echo "(BPF rows and the fork benchmark skipped: not root)"
fi
