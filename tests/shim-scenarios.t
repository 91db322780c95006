#!/usr/bin/env bash
# shim-scenarios.t - every scenario of tests/shim/shimtest.c under the real
# shim and `vmatop record`; each trace must `vmatop verify` with 0 mismatches.
set -u
B=${VMATOP_BUILD:-build}
V=$B/vmatop
# these tests are about the shim: record without the BPF source when vmatop has one
NOBPF=$("$V" record --help 2>&1 | grep -q -- --no-bpf && echo --no-bpf)
T=$B/tests/shim/shimtest
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
scen=(mmap fastpath sigloop clock brk malloc rawsyscall vmaflags dlopen fork vfork vforkmem clone spawn exec)
THREAD_RUNS=${THREAD_RUNS:-5}
FORKMT_RUNS=${FORKMT_RUNS:-3}
echo "1..$(( ${#scen[@]} * 2 + 1 + 1 + 4 + 4 + THREAD_RUNS * 2 + FORKMT_RUNS * 2 + 3 + 5 + 5 + 3 ))"
n=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
rec() { # name, record options..., -- command
	local name=$1; shift
	"$V" record $NOBPF -o "$D/$name.vmt" "$@" >"$D/$name.out" 2>&1
	local rc=$?
	[ $rc = 0 ] || sed 's/^/# /' "$D/$name.out" | grep -v 'recording with' | head -5
	ok $rc "record $name exits 0"
	out=$("$V" verify "$D/$name.vmt" 2>&1); rc=$?
	[ $rc = 0 ] || echo "$out" | sed 's/^/# /' | head -40
	ok $rc "verify $name: $(echo "$out" | tail -1)"
}
for s in "${scen[@]}"; do
	rec "$s" -- "$T" "$s"
done
# sigloop: every call of the loop and of the signal handler has its record
# (a split ring reservation overwrites some; verify alone may not see it)
read -r _ _ sl_h _ sl_k _ sl_n _ sl_at < <(grep '^sigloop handler' "$D/sigloop.out")
"$V" dump "$D/sigloop.vmt" >"$D/sigloop.dump" 2>&1
sl_lm=$(grep -c " mmap .*addr=$sl_at len=0x1000 prot=0x1 " "$D/sigloop.dump")
sl_hm=$(grep -c " mmap .*addr=0 len=0x1000 prot=0x3 " "$D/sigloop.dump")
sl_um=$(grep -c " munmap .*addr=[0-9a-fx]* len=0x1000 " "$D/sigloop.dump")
[ "${sl_n:-0}" -gt 0 ] && [ "$sl_lm" = "$sl_n" ] && [ "$sl_hm" = "$sl_h" ] &&
	[ "$sl_um" = $((sl_n + sl_h - sl_k + 1)) ]
ok $? "sigloop: records for $sl_lm/${sl_n:-?} loop mmaps, $sl_hm/${sl_h:-?} handler mmaps, $sl_um/$((${sl_n:-0} + ${sl_h:-0} - ${sl_k:-0} + 1)) munmaps"
# vmaflags: the calls that change only VMA flags have their records (by
# syscall number: mlock 149, munlock 150, mlockall 151, munlockall 152,
# remap_file_pages 216, mlock2 325, mseal 462), and the fresh page sealed behind the shim's back:
# its munmap (the fast path's pair of its mmap) failed with EPERM and the
# page is still in the mirror's map at the end
read -r _ _ vf_sealed _ vf_at _ vf_rm < <(grep '^vmaflags sealed' "$D/vmaflags.out")
"$V" dump "$D/vmaflags.vmt" >"$D/vmaflags.dump" 2>&1
vf_calls=$(grep -oE ' syscall .* extra=(149|150|151|152|216|325|462) ' "$D/vmaflags.dump" |
	grep -oE 'extra=[0-9]+' | sort -u | tr '\n' ' ')
vf_ok=1
for x in 149 150 151 152 216 325; do case " $vf_calls" in *" extra=$x "*) ;; *) vf_ok=0 ;; esac; done
# remap_file_pages: the file mapping's second page shows file page 3
vf_p1=$(printf '%x' $((${vf_rm:-0} + 4096))) vf_p2=$(printf '%x' $((${vf_rm:-0} + 8192)))
"$V" maps "$D/vmaflags.vmt" | grep -q "^$vf_p1-$vf_p2 rw-s 00003000 " || vf_ok=0
if [ "${vf_sealed:-0}" = 1 ]; then
	case " $vf_calls" in *" extra=462 "*) ;; *) vf_ok=0 ;; esac
	grep -q " munmap .*addr=$vf_at len=0x1000 .*-> -1 err=1 " "$D/vmaflags.dump" || vf_ok=0
	"$V" maps "$D/vmaflags.vmt" | grep -q "^${vf_at#0x}-" || vf_ok=0
fi
[ "$vf_ok" = 1 ]
ok $? "vmaflags: records ${vf_calls:-none}; sealed fresh page ${vf_at:-?} (sealed=${vf_sealed:-?}) failed munmap recorded, still mapped; remapped file page at ${vf_p1:-?} offset 3 pages"
# clock: each call's record lies inside the CLOCK_MONOTONIC bracket the
# program read around it, its duration no longer than the bracket: with the
# shim's TSC stamps (converted by vmatop as it drains) and with
# VMATOP_NO_TSC=1 (clock_gettime in the shim). The munmap of each mapping
# shares its mmap's ring slot (records.h "Rings", parked records): its
# record, rebuilt by vmatop, must lie in its own bracket.
clock_check() { # output of `shimtest clock`, its trace: prints the calls that pass
	"$V" dump --ns "$2" | awk -v out="$1" '
		BEGIN { while ((getline l < out) > 0) if (split(l, f, " ") == 5 && f[1] == "clock") {
			lo[f[2]] = f[3]; mid[f[2]] = f[4]; hi[f[2]] = f[5] } }
		function dur() { d = $NF; sub(/^dur=/, "", d); sub(/ns$/, "", d); return d + 0 }
		$4 == "mmap" && $5 == "addr=0" && $7 == "prot=0x1" && $8 == "flags=0x22" {
			len = substr($6, 5); d = dur()
			if ((len in lo) && $2 >= lo[len] && $2 <= mid[len] && d > 0 && d <= mid[len] - lo[len]) {
				good++; at[len] = $12 } }
		$4 == "munmap" {
			len = substr($6, 5); d = dur()
			if ((len in at) && $5 == "addr=" at[len] && $2 >= mid[len] && $2 <= hi[len] &&
			    d > 0 && d <= hi[len] - mid[len])
				good++ }
		END { print good + 0 }'
}
c_n=$(clock_check "$D/clock.out" "$D/clock.vmt")
[ "$c_n" = 12 ]
ok $? "clock (TSC stamps when the clocksource is tsc): $c_n/12 calls inside their CLOCK_MONOTONIC bracket"
VMATOP_NO_TSC=1 rec clock_ns -- "$T" clock
c_n=$(clock_check "$D/clock_ns.out" "$D/clock_ns.vmt")
[ "$c_n" = 12 ]
ok $? "clock (VMATOP_NO_TSC=1: clock_gettime): $c_n/12 calls inside their CLOCK_MONOTONIC bracket"
# ringstall: the recorder stopped while the loop writes; a ring of 8192 slots
# keeps 7000 mmap+munmap pairs (one slot each: records.h "Rings", parked
# records) whatever its hot window does, and counts what it drops when 12000
# do not fit
LOOPS=7000 rec ringstall --ring-slots 8192 -- "$T" ringstall
rs_count() { # trace, hint: loop mmaps + munmaps of the hint page (with the set-up munmap)
	"$V" dump "$1" | grep -c " m[un]*map .*addr=$2 len=0x1000 "
}
rs_at=$(sed -n 's/^ringstall loops [0-9]* at //p' "$D/ringstall.out")
rs_n=$(rs_count "$D/ringstall.vmt" "$rs_at")
! grep -q 'records lost' "$D/ringstall.out" && [ "$rs_n" = 14001 ]
ok $? "ringstall: 7000 pairs of a stalled recorder kept in 8192 slots ($rs_n/14001 records, $(grep -c 'records lost' "$D/ringstall.out") loss warnings)"
LOOPS=12000 "$V" record $NOBPF --ring-slots 8192 -o "$D/rs2.vmt" -- "$T" ringstall >"$D/rs2.out" 2>&1
rs_at=$(sed -n 's/^ringstall loops [0-9]* at //p' "$D/rs2.out")
rs_n=$(rs_count "$D/rs2.vmt" "$rs_at")
rs_lost=$("$V" report "$D/rs2.vmt" | sed -n 's/.* \([0-9]*\) lost;.*/\1/p' | head -1)
[ "${rs_lost:-0}" -gt 0 ] && [ $((rs_n - 1 + rs_lost)) = 24000 ]
ok $? "ringstall overflow: $((rs_n - 1)) kept + ${rs_lost:-?} counted lost = 24000 records"
# the benchmark loops (bench/bench-shim.sh), short: their traces verify too
# (pairloop's direct libc calls leave the map as they found it)
LOOPS=2000 rec loop -- "$T" loop
LOOPS=4000 rec pairloop -- "$T" pairloop
# a thread exits while its deferred list cannot be taken (another thread is
# held inside an mmap of unknown range): the list is not dropped - another
# thread lists it later (here the joining main thread: a LIST_END of its own
# over the page the exited thread mapped)
"$V" record $NOBPF -o "$D/te.vmt" -- "$T" threadexit >"$D/te.out" 2>"$D/te.err"
ok $? "record threadexit exits 0"
out=$("$V" verify "$D/te.vmt" 2>&1); rc=$?
[ $rc = 0 ] || echo "$out" | sed 's/^/# /' | head -20
ok $rc "verify threadexit: $(echo "$out" | tail -1)"
python3 - "$D/te.vmt" $(head -1 "$D/te.out") <<'PY' 2>&1 | sed 's/^/# /'
import struct, sys
f = open(sys.argv[1], 'rb').read()
page, main = int(sys.argv[2], 16), int(sys.argv[3], 16)
off, mapped, seen = 64, 0, 0
while off + 96 <= len(f):
    typ, _, pid, tid = struct.unpack_from('<HHII', f, off)
    if typ == 20 and tid != main:  # the other thread's VMT_MMAP of the page
        mapped |= struct.unpack_from('<q', f, off + 32 + 48)[0] == page
    if typ == 41 and tid == main and mapped:  # then a list of the main thread's, not a snapshot
        lo, hi, n, kind = struct.unpack_from('<QQII', f, off + 32)
        seen |= lo <= page < hi and kind != 5
    off += 96
sys.exit(0 if seen else 1)
PY
ok ${PIPESTATUS[0]} "the exited thread's deferred list is listed by another thread"
# threads mapping adjacent pages with the same protection (their VMAs merge)
# while others list and unmap: several runs. A larger ring: 8 busy threads
# on a small machine can starve vmatop of CPU, and lost records are not what
# this tests.
for i in $(seq 1 "$THREAD_RUNS"); do
	rec "threads$i" --ring-slots 262144 -- "$T" threads
done
# fork from a multithreaded parent while the threads map, unmap and malloc
for i in $(seq 1 "$FORKMT_RUNS"); do
	rec "forkmt$i" --ring-slots 262144 -- "$T" forkmt
done
# ... and while they are blocked: the children do not list their whole map
# again (fork stays O(changes) in the shim, not O(VMAs))
FORKMT_IDLE=1 rec forkmt-idle -- "$T" forkmt
"$V" report --json "$D/forkmt-idle.vmt" | python3 -c '
import json, sys
d = json.load(sys.stdin)
par = d["processes"][0]
kids = [p for p in d["processes"] if p["ppid"] == par["pid"]]
assert len(kids) == 6, len(kids)
for p in kids:
    # records: the exit snapshot (one per VMA) and a few calls; a whole-map
    # list would add one record per VMA again
    assert p["records"] < p["vmas"] + 100, (p["pid"], p["records"], p["vmas"])
' 2>&1 | sed 's/^/# /'
ok ${PIPESTATUS[1]} "fork children of an idle multithreaded parent list only what changed"
# SIGKILL: every record written before the kill is read; the requested
# snapshot verifies and the mapping made after it is in the mirror.
"$V" record $NOBPF -o "$D/kill.vmt" -- "$T" sigkill >"$D/kill.out" 2>/dev/null
ok $([ $? = 137 ] && echo 0 || echo 1) "record exits 128+9 when the target is SIGKILLed"
out=$("$V" verify "$D/kill.vmt" 2>&1); rc=$?
[ $rc = 0 ] || echo "$out" | sed 's/^/# /' | head
ok $rc "verify sigkill: $(echo "$out" | tail -1)"
range=$(sed -n 1p "$D/kill.out")
"$V" maps "$D/kill.vmt" | grep -q "^$range r--p "
ok $? "maps shows the region mapped after the snapshot ($range)"
range=$(sed -n 2p "$D/kill.out")
"$V" maps "$D/kill.vmt" | grep -q "^$range r--p "
ok $? "maps shows the last region, mapped with no hook after it (parked record: $range)"
# maps prints the exact /proc/PID/maps text
"$V" record $NOBPF -o "$D/self.vmt" -- "$T" selfmaps 3>"$D/self.maps" >/dev/null 2>&1
"$V" maps "$D/self.vmt" >"$D/self.mirror"
diff "$D/self.maps" "$D/self.mirror" | head -20 | sed 's/^/# /'
cmp -s "$D/self.maps" "$D/self.mirror"
ok $? "vmatop maps output is byte-identical to the program's /proc/self/maps"
# stacks: symbolized call sites
"$V" record $NOBPF --stacks=8 -o "$D/st.vmt" -- "$T" mmap >/dev/null 2>&1
"$V" report "$D/st.vmt" | grep -A2 'top call sites' | grep -q 's_mmap'
ok $? "report --stacks symbolizes the call site s_mmap"
