#!/usr/bin/env bash
# bench-bpf.sh - overhead of vmatop's BPF source on an mmap+munmap loop, in
# one run: plain, BPF alone (vmatop attach to the waiting loop), shim alone
# (vmatop record --no-bpf), shim + BPF (vmatop record), and strace as the
# peer. The loop times itself (ns per mmap+munmap, best of 3), so start-up
# and trace writing are not counted. Target: BPF alone adds <= 25%.
# Then the fork benchmark at a few sizes (vmatop bench fork).
# Needs root for the BPF rows (skipped otherwise).
set -u
B=${1:-build}
V=$B/vmatop
L=$B/tests/bpf/wl_lock
N=${LOOPS:-100000}
[ -x "$L" ] || make -s "$L" >/dev/null
[ -x "$V" ] || make -s "$V" >/dev/null
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
best() { # best of 3 of a command printing ns/iteration
	local b=
	for _ in 1 2 3; do
		local v
		v=$("$@" 2>/dev/null | grep -E '^[0-9.]+$' | tail -1)
		v=${v%.*}
		[ -n "$v" ] || continue
		if [ -z "$b" ] || [ "$v" -lt "$b" ]; then b=$v; fi
	done
	echo "${b:-0}"
}
attached() { # the loop under `vmatop attach`, BPF alone
	mkfifo "$D/in.$$" 2>/dev/null
	"$L" loop "$N" wait <"$D/in.$$" >"$D/out" &
	local p=$!
	exec 8>"$D/in.$$"
	"$V" attach -p "$p" -o "$D/a.vmt" >/dev/null 2>"$D/attach.err" &
	local a=$!
	for _ in $(seq 100); do grep -q "attached to" "$D/attach.err" 2>/dev/null && break; sleep 0.05; done
	echo g >&8
	exec 8>&-
	wait "$p"
	wait "$a"
	rm -f "$D/in.$$"
	cat "$D/out"
}
plain=$(best "$L" loop "$N")
printf '%-40s %10s %8s\n' "mmap+munmap loop ($N iterations)" "ns/iter" "ratio"
row() { [ "$2" -gt 0 ] && printf '%-40s %10d %7.2fx\n' "$1" "$2" "$(echo "$2 / $plain" | bc -l)"; }
row "plain" "$plain"
if [ "$(id -u)" = 0 ] && [ -r /sys/kernel/btf/vmlinux ]; then
	bpf=$(best attached)
	row "BPF alone (vmatop attach)" "$bpf"
	row "shim alone (vmatop record --no-bpf)" "$(best "$V" record --no-bpf -o "$D/s.vmt" -- "$L" loop "$N")"
	row "shim + BPF (vmatop record)" "$(best "$V" record -o "$D/sb.vmt" -- "$L" loop "$N")"
else
	echo "(BPF rows skipped: not root)"
fi
command -v strace >/dev/null && row "strace -f -e trace=%memory" "$(best strace -f -e trace=%memory -o /dev/null "$L" loop "$N")"
if [ -n "${bpf:-}" ] && [ "$bpf" -gt 0 ]; then
	echo "BPF alone adds $(echo "($bpf - $plain) * 100 / $plain" | bc)% (target <= 25%)"
fi
echo
"$V" bench fork --vmas "${FORK_VMAS:-221,3221,12821}" --seconds "${FORK_SECONDS:-0.5}"
