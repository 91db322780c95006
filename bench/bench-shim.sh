#!/usr/bin/env bash
# bench-shim.sh - overhead of libvmatop.so on an mmap+munmap loop, in one run:
# plain, under the shim (no stacks), under the shim with stacks of depth 16,
# and under `strace -f -e trace=%memory -o /dev/null` as the peer. The loop
# maps one page into the same hole every time (see s_loop in
# tests/shim/shimtest.c: the kernel's work must not depend on the layout);
# LOOP_FREE=1 lets the kernel place read-write pages (the layout then counts).
#
# The machine is shared and noisy, so the configurations are run in
# interleaved rounds (ROUNDS, default 9; strace in 3); a ratio is the median
# over the rounds of (run / the plain run of the same round). Two measures:
#   loop  the loop's own time, printed by the program (the target's slowdown)
#   wall  the whole process under `vmatop record` (start-up, draining, exit)
# and cpu, the target's own user+sys time (getrusage; steadier on a shared
# machine than elapsed time). Targets: shim <= 1.10x without stacks, <= 2x
# with stacks of depth 16 (loop ratio).
set -u
B=${1:-build}
T=$B/tests/shim/shimtest
V=$B/vmatop
N=${LOOPS:-200000}
ROUNDS=${ROUNDS:-9}
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
	local l=$(sed -n 's/^loop \([0-9]*\) ns.*$/\1/p' "$D/err" | tail -1)
	local c=$(sed -n 's/^loop [0-9]* ns user \([0-9]*\) us sys \([0-9]*\) us$/\1 \2/p' "$D/err" |
		tail -1 | awk '{printf "%d\n", ($1 + $2) * 1000}')
	echo "$t ${l:-0} ${c:-0}" >>"$D/$name"
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
paired() { # file column -> median over rounds of (this run / the plain run of the same round)
	head -n "$(wc -l <"$1")" "$D/plain" | paste -d' ' "$1" - |
		awk -v c="$2" '{split($0, f, " "); if (f[c + 3] > 0) print f[c] / f[c + 3]}' |
		sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
read -r pl_lm pl_lb < <(stat "$D/plain" 2)
printf 'mmap+munmap loop, %d iterations, %d rounds (ns per iteration)\n' "$N" "$ROUNDS"
printf '%-28s %10s %10s %8s %10s %8s %10s %8s\n' "" "loop med" "loop best" "ratio" "cpu med" \
	"ratio" "wall med" "ratio"
row() {
	local name=$1 label=$2
	[ -s "$D/$name" ] || return
	read -r lm lb < <(stat "$D/$name" 2)
	read -r cm cb < <(stat "$D/$name" 3)
	read -r wm wb < <(stat "$D/$name" 1)
	local cpu="-" cr="-"
	if [ "$cm" != 0 ]; then
		cpu=$(printf '%.0f' "$(echo "$cm / $N" | bc -l)")
		cr=$(printf '%.2fx' "$(paired "$D/$name" 3)")
	fi
	printf '%-28s %10.0f %10.0f %7.2fx %10s %8s %10.0f %7.2fx\n' "$label" \
		"$(echo "$lm / $N" | bc -l)" "$(echo "$lb / $N" | bc -l)" "$(paired "$D/$name" 2)" \
		"$cpu" "$cr" "$(echo "$wm / $N" | bc -l)" "$(paired "$D/$name" 1)"
}
row plain "plain"
row shim "vmatop record (no stacks)"
row stacks "vmatop record --stacks=16"
row strace "strace -f -e trace=%memory"
echo "loop: the loop's own time; cpu: the target's user+sys time; wall: the whole run under"
echo "vmatop record. ratio: median over the rounds of (run / plain run of the same round)"
echo "targets (loop ratio): no stacks <= 1.10x, stacks 16 <= 2.00x"
