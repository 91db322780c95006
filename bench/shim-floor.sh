#!/usr/bin/env bash
# shim-floor.sh - where the shim's overhead on the mmap+munmap loop goes.
#
# Builds libvmatop.so variants from bench/shim-floor.patch (compile-time
# switches EXP_* in the hot path; measurement only, never shipped) in a
# scratch worktree, each in a build directory of its own (make does not
# rebuild objects when only CPPFLAGS change: reusing one directory measures
# a stale variant), then runs `shimtest pairloop` under `vmatop record` for
# every variant, interleaved, ROUNDS times (default 4), and prints the paired
# ratio (shim chunks over libc chunks in one process) per variant: median
# and range. Run: make bench-floor (or bash bench/shim-floor.sh [BUILD]).
#
# Variants (what the interposed mmap/munmap do in a one-thread process):
#   ref        the shipped shim
#   pass       call libc at once: the cost of interposing alone
#   bone       pass + the four clock reads + a 96-byte record into a
#              thread-local buffer (L1): the floor of any shim that
#              timestamps every call and writes something
#   bone_full  bone, every field of the record written (as rec_mem does)
#   bone_ring  bone, the records into the real ring (reservation + commit,
#              two slots a pair)
#   locked     the shipped fast path reserving with the lock prefix (as the
#              general path does): what rec_reserve_one saves
#   dummy      the shipped fast path, records into a thread-local buffer
#              (two a pair: nothing parked, the munmap writes its own)
#   notsc      the shipped fast path, clock reads replaced by a constant
#   norec      the shipped fast path, no records
# SEG=1 also runs the shipped fast path with cycle counts per segment of
# each hook (printed at exit; each segment includes one extra rdtsc).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
B=${1:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
ROUNDS=${ROUNDS:-4}
N=${LOOPS:-200000}
[ -x "$B/vmatop" ] && [ -x "$B/tests/shim/shimtest" ] ||
	make -C "$top" -s all "$B/tests/shim/shimtest" >/dev/null
W=$(mktemp -d /tmp/vmatop-floor.XXXXXX)
trap 'git -C "$top" worktree remove --force "$W/src" >/dev/null 2>&1; rm -rf "$W"' EXIT
git -C "$top" worktree add --detach "$W/src" HEAD >/dev/null 2>&1 ||
	{ echo "shim-floor: cannot make a worktree of $top" >&2; exit 1; }
# the working tree's shim, not only the last commit's
cp "$top"/preload/*.c "$top"/preload/*.h "$W/src/preload/"
git -C "$W/src" apply "$here/shim-floor.patch" ||
	{ echo "shim-floor: bench/shim-floor.patch no longer applies to preload/ (refresh it)" >&2; exit 1; }

declare -A flags=([ref]="" [pass]="-DEXP_PASS" [bone]="-DEXP_BONE"
	[bone_ring]="-DEXP_BONE -DEXP_BONE_RING" [bone_full]="-DEXP_BONE -DEXP_BONE_FULL" [locked]="-DEXP_LOCKED"
	[dummy]="-DEXP_DUMMY" [notsc]="-DEXP_NOTSC" [norec]="-DEXP_NOREC")
VARIANTS=${VARIANTS:-"ref pass bone bone_full bone_ring locked dummy notsc norec"}
for v in $VARIANTS ${SEG:+seg}; do
	f=${flags[$v]-}
	[ "$v" = seg ] && f="-DEXP_SEG"
	mkdir -p "$W/$v"
	make -C "$W/src" -s BUILD="$W/b-$v" CPPFLAGS="$f" "$W/b-$v/libvmatop.so" >"$W/$v.log" 2>&1 ||
		{ echo "shim-floor: variant $v does not build:" >&2; tail -5 "$W/$v.log" >&2; exit 1; }
	cp "$W/b-$v/libvmatop.so" "$B/vmatop" "$W/$v/"
done

one() { # variant: prints the paired ratio
	LOOPS=$N "$W/$1/vmatop" record --no-bpf -o "$W/t.vmt" -- "$B/tests/shim/shimtest" pairloop 2>&1 |
		sed -n 's/^pairloop .* ratio \([0-9.]*\)$/\1/p'
}
for r in $(seq "$ROUNDS"); do
	for v in $(printf '%s\n' $VARIANTS | shuf); do
		x=$(one "$v")
		[ -n "$x" ] && echo "$x" >>"$W/$v.r"
	done
done
printf 'paired ratio (shim chunks / libc chunks), %d rounds of %d iterations\n' "$ROUNDS" "$N"
for v in $VARIANTS; do
	[ -s "$W/$v.r" ] || { printf '  %-10s (no result)\n' "$v"; continue; }
	sort -n "$W/$v.r" | awk -v v="$v" '{ a[NR] = $1 } END {
		printf "  %-10s %.3f  [%.3f - %.3f]\n", v, (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2), a[1], a[NR] }'
done
if [ -n "${SEG:-}" ]; then
	echo "cycles per hook segment (columns: the SEG(i) points of the patch; the last: entry checks)"
	LOOPS=$N "$W/seg/vmatop" record --no-bpf -o "$W/t.vmt" -- "$B/tests/shim/shimtest" loop 2>&1 |
		grep -E '^(mmap|munmap):'
fi
