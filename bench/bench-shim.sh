#!/usr/bin/env bash
# bench-shim.sh - overhead of libvmatop.so on an mmap+munmap loop, in one run:
# plain, under the shim (no stacks), under the shim with stacks of depth 16,
# and under `strace -f -e trace=%memory -o /dev/null` as the peer. The loop
# maps one page into the same hole every time (see s_loop in
# tests/shim/shimtest.c: the kernel's work must not depend on the layout);
# LOOP_FREE=1 lets the kernel place read-write pages (the layout then counts).
#
# The machine is shared and its speed drifts within seconds, so the
# configurations run in ROUNDS interleaved rounds (default 9; bench/rounds.sh:
# random order, a plain run on either side of each run, ratio to the mean of
# those two). Measures, each as ns per iteration:
#   loop  the median chunk of 500 iterations (the loop's own time, with the
#         moments the machine took the CPU away left out): the target's
#         slowdown, and what the targets are about
#   cpu   the target's user+sys time over the whole loop (getrusage)
#   wall  the whole process under `vmatop record` (start-up, draining, exit)
# strace runs a tenth of the iterations (it is ~40x slower; per-iteration
# numbers compare all the same). Targets: shim <= 1.10x without stacks,
# <= 2x with stacks of depth 16 (loop ratio). The run-by-run verdict is
# given only when plain runs agree with their neighbours within 3% (middle
# half): on this VM they often do not, and the paired measurement below is
# the one that can tell.
#
# Then the paired measurement (shimtest pairloop, PAIRED runs, default 7):
# one process under `vmatop record` alternates chunks of 250 iterations
# through the shim and through libc's own mmap/munmap (which no preloaded
# library sees), so both sides share the layout and the machine's moment;
# the ratio is the median of each shim chunk over the direct chunks on
# either side. A control run without the shim after each (its "shim" side
# is then the program's own call through its PLT) reads ~0.99: the direct
# side's call through a pointer is a little slower. The verdict is on
# ratio / control, the shim over the program calling libc itself. This VM switches between a fast (~1.2 us per pair) and a slow
# (~2 us) mode for seconds at a time, which the run-by-run rounds above can
# only partly cancel; the paired ratio moves by ~1% between runs. It leaves
# out what the shim changes for a whole process (its own VMAs, start-up).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/rounds.sh"
B=${1:-build}
T=$B/tests/shim/shimtest
V=$B/vmatop
N=${LOOPS:-100000}
ROUNDS=${ROUNDS:-9}
[ -x "$T" ] || make -s "$T" >/dev/null
# the shim alone (the BPF source has its own benchmark)
NOBPF=$("$V" record --help 2>&1 | grep -q -- --no-bpf && echo --no-bpf)
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT

one() { # iterations cmd...: prints "loop cpu wall" in ns per iteration
	local n=$1
	shift
	local t0 t
	t0=$(date +%s%N)
	LOOPS=$n "$@" >/dev/null 2>"$D/err"
	t=$(($(date +%s%N) - t0))
	sed -n 's/^loop [0-9]* ns user \([0-9]*\) us sys \([0-9]*\) us median \([0-9.]*\) ns\/iter$/\3 \1 \2/p' \
		"$D/err" | tail -1 | awk -v n="$n" -v t="$t" \
		'{ printf "%.1f %.1f %.1f\n", $1, ($2 + $3) * 1000 / n, t / n }'
}
run() {
	case $1 in
	plain) one "$N" "$T" loop ;;
	shim) one "$N" "$V" record $NOBPF -o "$D/a.vmt" -- "$T" loop ;;
	stacks) one "$N" "$V" record $NOBPF --stacks=16 -o "$D/b.vmt" -- "$T" loop ;;
	strace) one $((N / 10)) strace -f -e trace=%memory -o /dev/null "$T" loop ;;
	esac
}
CONFIGS="plain shim stacks"
command -v strace >/dev/null && CONFIGS="$CONFIGS strace"
bench_rounds "$ROUNDS" $CONFIGS

printf 'mmap+munmap loop, %d iterations a run, %d rounds; ns per iteration (median over rounds)\n' \
	"$N" "$ROUNDS"
printf '%-28s %8s %8s %8s   %-22s %7s %7s\n' "" "loop" "cpu" "wall" "loop ratio [range]" \
	"cpu" "wall"
declare -A label=([plain]="plain" [shim]="vmatop record (no stacks)"
	[stacks]="vmatop record --stacks=16" [strace]="strace -f -e trace=%memory")
for c in $CONFIGS; do
	[ -s "$D/$c" ] || continue
	if [ "$c" = plain ]; then
		r="1.00x" rc="1.00x" rw="1.00x"
	else
		r=$(printf '%.2fx [%.2f - %.2f]' "$(bench_med "$D/$c.r" 1)" "$(bench_lo "$D/$c.r" 1)" \
			"$(bench_hi "$D/$c.r" 1)")
		rc=$(printf '%.2fx' "$(bench_med "$D/$c.r" 2)")
		rw=$(printf '%.2fx' "$(bench_med "$D/$c.r" 3)")
		bench_med "$D/$c.r" 1 >"$D/$c.med"
	fi
	printf '%-28s %8.0f %8.0f %8.0f   %-22s %7s %7s\n' "${label[$c]}" "$(bench_med "$D/$c" 1)" \
		"$(bench_med "$D/$c" 2)" "$(bench_med "$D/$c" 3)" "$r" "$rc" "$rw"
done
echo "loop: median chunk of the loop; cpu: the target's user+sys; wall: the whole run."
echo "ratio: to the plain runs on either side, median over the rounds [lowest - highest]"
verdict() { awk -v r="$(cat "$D/$1.med" 2>/dev/null || echo 0)" -v t="$2" \
	'BEGIN { printf "%.2fx (target <= %.2fx: %s)", r, t, (r > 0 && r <= t) ? "met" : "NOT met" }'; }
# The noise of this instrument: each plain run against the plain runs on
# either side of it (what a configuration's ratio is taken against). When
# the machine switches speed between runs (this VM: ~1.2 vs ~2 us per pair
# for seconds at a time), plain runs alone spread far wider than the 10% to
# be judged, and the run-by-run verdict says it cannot tell.
cut -d' ' -f1 "$D/plain" | awk '{ v[NR] = $1 } END { for (i = 2; i < NR; i++)
	if (v[i - 1] > 0 && v[i] > 0 && v[i + 1] > 0) printf "%.4f\n", v[i] / ((v[i - 1] + v[i + 1]) / 2) }' |
	sort -g >"$D/noise"
nq() { awk -v q="$1" '{ v[NR] = $1 } END { if (NR) { i = int(q * (NR - 1) + 1.5); if (i > NR) i = NR; print v[i] } else print 0 }' "$D/noise"; }
q1=$(nq 0.25) q3=$(nq 0.75)
printf 'noise: a plain run against the plain runs on either side: middle half %.2f - %.2f, all %.2f - %.2f\n' \
	"$q1" "$q3" "$(head -1 "$D/noise" 2>/dev/null || echo 0)" "$(tail -1 "$D/noise" 2>/dev/null || echo 0)"
if awk -v a="$q1" -v b="$q3" 'BEGIN { exit !(a > 0 && a >= 0.97 && b <= 1.03) }'; then
	echo "shim without stacks: $(verdict shim 1.10); with stacks of depth 16: $(verdict stacks 2.00)"
else
	echo "run by run: cannot tell a 10% difference here (plain runs alone vary more); see the paired measurement"
	echo "  (with stacks of depth 16: $(verdict stacks 2.00))"
fi

P=${PAIRED:-7}
: >"$D/paired"
: >"$D/control"
for i in $(seq "$P"); do
	LOOPS=$N "$V" record $NOBPF -o "$D/p.vmt" -- "$T" pairloop 2>&1 >/dev/null |
		sed -n 's/^pairloop direct \([0-9.]*\) ns\/iter interposed \([0-9.]*\) ns\/iter ratio \([0-9.]*\)$/\1 \2 \3/p' >>"$D/paired"
	LOOPS=$N "$T" pairloop 2>&1 >/dev/null | sed -n 's/.*ratio \([0-9.]*\)$/\1/p' >>"$D/control"
done
if [ -s "$D/paired" ] && [ -s "$D/control" ]; then
	printf '\npaired in one process (%d runs of %d iterations; shim chunks vs libc chunks):\n' "$P" "$N"
	printf '  direct %.0f ns, through the shim %.0f ns per iteration (medians over runs)\n' \
		"$(bench_med "$D/paired" 1)" "$(bench_med "$D/paired" 2)"
	printf '  ratio %.3fx [%.3f - %.3f]; control without the shim (both sides libc): %.3fx [%.3f - %.3f]\n' \
		"$(bench_med "$D/paired" 3)" "$(bench_lo "$D/paired" 3)" "$(bench_hi "$D/paired" 3)" \
		"$(bench_med "$D/control" 1)" "$(bench_lo "$D/control" 1)" "$(bench_hi "$D/control" 1)"
	# the control's "shim" side is the program's own call (through its PLT)
	# to libc: the baseline the shim adds to is that side, not the direct one
	awk -v r="$(bench_med "$D/paired" 3)" -v c="$(bench_med "$D/control" 1)" \
		'BEGIN { if (c > 0) printf "%.4f\n", r / c; else print 0 }' >"$D/pshim.med"
	printf '  overhead over the program calling libc itself (ratio / control): %.3fx\n' "$(cat "$D/pshim.med")"
	echo "shim without stacks, paired: $(verdict pshim 1.10)"
fi
