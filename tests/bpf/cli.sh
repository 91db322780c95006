#!/usr/bin/env bash
# cli.sh (installed as $BUILD/tests/bpf-cli.t) - vmatop's BPF mode end to end,
# through the real commands: record (shim + BPF, address space only by
# default, --mmap-lock, static binary, --no-bpf, --bpf without the
# capabilities), verify (snapshots and map_count after every BPF record),
# report --json (mmap_lock, fork copy), attach -p, bench fork, and many
# concurrent short processes (names learned late). TAP;
# skips everything when not root.
set -u
B=${VMATOP_BUILD:-build}
V=$B/vmatop
W=$B/tests/bpf
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP BPF mode needs root (CI runs as root)"; exit 0; fi
if [ ! -r /sys/kernel/btf/vmlinux ]; then echo "1..0 # SKIP no kernel BTF"; exit 0; fi
SHIM_T=$B/tests/shim/shimtest
SCEN=(mmap brk malloc rawsyscall dlopen fork vfork vforkmem clone spawn exec threads forkmt)
echo "1..$((20 + ${#SCEN[@]}))"
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT

# 1-3: record in BPF mode (the default as root) with the mmap_lock programs,
# verify, say the mode
"$V" record --mmap-lock -o "$D/mix.vmt" -- "$W/wl_mix" >/dev/null 2>"$D/mix.err"
ok $? "record --mmap-lock wl_mix (shim + BPF) exits 0"
grep -q "recording with the shim and BPF" "$D/mix.err"
ok $? "record says which mode it is in"
"$V" verify "$D/mix.vmt" >"$D/mix.v" 2>&1
rc=$?
c=$(sed -n 's/^verify: \([0-9]*\) map_count checks after BPF records, 0 mismatches$/\1/p' "$D/mix.v")
[ $rc = 0 ] && [ "${c:-0}" -gt 400 ] && grep -q "snapshots, 0 mismatches" "$D/mix.v"
ok $? "verify: snapshots and ${c:-?} map_count checks, 0 mismatches"
[ $rc = 0 ] || sed -n '1,40s/^/# /p' "$D/mix.v"

# 4-5: the default: address space and fork latency, no mmap_lock programs
"$V" record -o "$D/as.vmt" -- "$W/wl_mix" >/dev/null 2>"$D/as.err" &&
	"$V" verify "$D/as.vmt" >"$D/as.v" 2>&1
rc=$?
c=$(sed -n 's/^verify: \([0-9]*\) map_count checks after BPF records, 0 mismatches$/\1/p' "$D/as.v")
[ $rc = 0 ] && [ "${c:-0}" -gt 150 ] && grep -q "snapshots, 0 mismatches" "$D/as.v"
ok $? "record (default: address space only): verify, snapshots and ${c:-?} map_count checks, 0 mismatches"
[ $rc = 0 ] || sed -n '1,40s/^/# /p' "$D/as.v"
"$V" report "$D/as.vmt" >"$D/as.txt" 2>&1 &&
	grep -q "^BPF: .*mmap_lock not measured: --mmap-lock" "$D/as.txt" &&
	grep -q "fork latency (BPF, p50): total .*copy/rest split: --mmap-lock" "$D/as.txt" &&
	"$V" report --json "$D/as.vmt" | python3 -c '
import json, sys
p = json.load(sys.stdin)["processes"][0]
assert p["mmap_lock"]["measured"] is False and p["mmap_lock"]["acquisitions_write"] == 0, p["mmap_lock"]
assert p["forks"]["count"] == 3 and p["forks"]["copy_source"].startswith("none"), p["forks"]'
ok $? "report without --mmap-lock: says so, fork totals without the split, mmap_lock not measured"

# 6: a static binary (no shim possible) verifies with BPF alone
"$V" record -o "$D/st.vmt" -- "$W/wl_mix_static" >/dev/null 2>&1 &&
	"$V" verify "$D/st.vmt" >"$D/st.v" 2>&1 &&
	grep -q "^pid .* (wl_mix_static) \[BPF\]: [1-9][0-9]* map_count checks .*, 0 mismatches" "$D/st.v"
ok $? "static binary: verify with BPF alone, 0 mismatches"

# 7-9: report --json
"$V" report --json "$D/mix.vmt" >"$D/mix.json" 2>&1
python3 - "$D/mix.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["processes"][0]
m = p["mmap_lock"]
for k in ("acquisitions_read", "acquisitions_write", "contended", "wait_total_ns", "wait_max_ns", "hold_total_ns", "hold_max_ns"):
    assert k in m, k
assert m["measured"] is True and m["acquisitions_write"] > 100, m
assert "copy_p50_ns" in p["forks"]
f = p["forks"]
# fork() copies the VMAs; vfork and posix_spawn share the mm: copy 0
assert f["count"] == 3 and len(f["copy_ns"]) == 3, f
assert sorted(c > 0 for c in f["copy_ns"]) == [False, False, True], f
assert p["bpf"]["map_count_mismatches"] == 0 and p["bpf"]["map_count_checks"] > 100
PY
ok $? "report --json: mmap_lock totals, forks.copy_p50_ns, per-process BPF checks"
"$V" report "$D/mix.vmt" >"$D/mix.txt" 2>&1
grep -q "fork latency (BPF, p50): total .* = copy .* + rest" "$D/mix.txt" &&
	grep -q "contended total wait   max wait   avg wait" "$D/mix.txt"
ok $? "report: fork split and the mmap_lock table (perf lock contention columns)"
grep -q "^BPF: tp_btf\|^BPF: raw_tp" "$D/mix.txt"
ok $? "report names the BPF mode of the trace"

# 10-11: contention through the CLI (--lock-threshold implies --mmap-lock)
"$V" record --lock-threshold 20us -o "$D/lk.vmt" -- "$W/wl_lock" contend 1 3 >/dev/null 2>&1
"$V" report --json "$D/lk.vmt" >"$D/lk.json" 2>&1
out=$(python3 - "$D/lk.json" 2>&1 <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["processes"][0]
m = p["mmap_lock"]
assert m["contended"] > 0 and m["wait_total_ns"] > 0, m
assert len(m["threads"]) >= 4, m["threads"]
assert len(p["top_waits"]) > 0, p["top_waits"]
PY
)
rc=$?
ok $rc "record of page-faulting threads vs an mmap loop: contended > 0, waits > 0, per thread, top waits"
[ $rc = 0 ] || { echo "$out" | sed 's/^/# /'; "$V" report "$D/lk.vmt" 2>&1 | sed -n '1,30s/^/# /p'; }
"$V" record --mmap-lock -o "$D/sg.vmt" -- "$W/wl_lock" single 0.3 >/dev/null 2>&1
"$V" report --json "$D/sg.vmt" | python3 -c '
import json, sys
m = json.load(sys.stdin)["processes"][0]["mmap_lock"]
# a single thread never waits for itself; other processes (ps, /proc
# readers) may hold its mmap_lock, and vmatop tells those apart
assert m["contended"] == m["contended_by_others"] and m["acquisitions_write"] > 100, m'
ok $? "single-threaded: 0 contended acquisitions waiting for its own thread"

# 12-13: attach to a running program
mkfifo "$D/in"
"$W/wl_mix" --wait <"$D/in" >/dev/null 2>&1 &
wpid=$!
exec 7>"$D/in"
"$V" attach -p "$wpid" -o "$D/att.vmt" >"$D/att.txt" 2>&1 &
apid=$!
for _ in $(seq 50); do grep -q "attached to" "$D/att.txt" 2>/dev/null && break; sleep 0.1; done
echo go >&7
exec 7>&-
wait "$wpid"
wait "$apid"
ok $? "attach -p: ends with a report when the process exits"
"$V" verify "$D/att.vmt" >"$D/att.v" 2>&1 &&
	grep -q "^verify: [1-9][0-9]* map_count checks after BPF records, 0 mismatches" "$D/att.v"
ok $? "attach: the seeded mirror verifies, 0 mismatches"

# 14-15: -d ends attach; SIGINT ends it cleanly
sleep 30 &
spid=$!
"$V" attach -p "$spid" -d 0.3 -o "$D/d.vmt" >/dev/null 2>&1
ok $? "attach -d 0.3 returns by itself with a report"
"$V" attach -p "$spid" -o "$D/i.vmt" >"$D/i.txt" 2>&1 &
apid=$!
# Ctrl-C once it is attached (loading the programs takes a while on a busy
# machine; a SIGINT before that is not the case under test)
for _ in $(seq 200); do grep -q "attached to" "$D/i.txt" 2>/dev/null && break; sleep 0.05; done
kill -INT "$apid"
wait "$apid"
rc=$?
kill "$spid" 2>/dev/null
[ $rc = 0 ] && grep -q "vmatop report" "$D/i.txt"
ok $? "attach: Ctrl-C ends it cleanly with a report"

# 16: bench fork, both columns
"$V" bench fork --vmas 221,1621 --seconds 0.3 >"$D/bench.txt" 2>&1
[ "$(grep -cE '^ +[0-9]+ +[0-9]+ \|.*\|.*[0-9]' "$D/bench.txt")" = 2 ] && grep -q "copy p50" "$D/bench.txt"
ok $? "bench fork: forks/s, the benchmark's and the probes' percentiles"
sed 's/^/# /' "$D/bench.txt"

# 17-18: --no-bpf; --bpf without the capabilities
"$V" record --no-bpf -o "$D/nb.vmt" -- /bin/true 2>"$D/nb.err" >/dev/null &&
	grep -q "shim only (--no-bpf)" "$D/nb.err" && ! "$V" report "$D/nb.vmt" | grep -q "^BPF:"
ok $? "--no-bpf: shim only, no BPF records"
if command -v setpriv >/dev/null; then
	setpriv --inh-caps=-all --bounding-set=-all --reuid=65534 --regid=65534 --clear-groups \
		"$V" record --bpf -o /tmp/vmatop-nocap-$$.vmt -- /bin/true >/dev/null 2>"$D/nc.err"
	rc=$?
	rm -f /tmp/vmatop-nocap-$$.vmt
	[ $rc = 1 ] && grep -q "needs CAP_BPF and CAP_PERFMON (or root)" "$D/nc.err"
	ok $? "--bpf without the capabilities: exit 1, the message names them"
else
	n=$((n + 1))
	echo "ok $n # skip no setpriv"
fi

# 17...: every workload of the shim/record issue (tests/shim/shimtest.c), in
# BPF mode: the shim's snapshots against the mirror BPF keeps, and map_count
# after every BPF list
for sc in "${SCEN[@]}"; do
	if [ ! -x "$SHIM_T" ]; then
		n=$((n + 1))
		echo "ok $n # skip $SHIM_T not built"
		continue
	fi
	"$V" record --bpf --ring-slots 262144 -o "$D/s-$sc.vmt" -- "$SHIM_T" "$sc" >/dev/null 2>&1 &&
		"$V" verify "$D/s-$sc.vmt" >"$D/s-$sc.v" 2>&1
	rc=$?
	c=$(sed -n 's/^verify: \([0-9]*\) map_count checks after BPF records, 0 mismatches$/\1/p' "$D/s-$sc.v")
	[ $rc = 0 ] && [ "${c:-0}" -gt 0 ]
	ok $? "shimtest $sc in BPF mode: $(grep -h '^verify:' "$D/s-$sc.v" | tr '\n' ';')"
	[ $rc = 0 ] || sed -n '1,30s/^/# /p' "$D/s-$sc.v"
done

# many short processes of the same binaries at once (like make -j): a
# process's exe VMAs can reach the mirror before another process's list
# teaches their name; every snapshot must still match, names included
bad=0
for k in 1 2 3; do
	"$V" record -o "$D/par$k.vmt" -- sh -c \
		'for i in $(seq 40); do mkdir -p "$0" & true & cat /dev/null & done; wait' "$D/pdir" \
		>/dev/null 2>&1 && "$V" verify "$D/par$k.vmt" >"$D/par$k.v" 2>&1 || {
		bad=$((bad + 1))
		sed -n '/[1-9][0-9]* mismatches/,+4s/^/# /p' "$D/par$k.v" | head -12
	}
done
ok $bad "120 concurrent short processes of 3 binaries, 3 recordings: every snapshot matches ($bad failed)"

# python's forkserver pool: its semaphores are files that sem_open maps under
# a temporary name (then linked and unlinked) in one process and under the
# final name in the others; names belong to mappings, not to inodes
cat >"$D/fs.py" <<'PY'
import mmap, multiprocessing as mp
def w(n):
    bufs = [mmap.mmap(-1, 1 << 16) for _ in range(20)]
    return n + len(bufs)
if __name__ == "__main__":
    with mp.get_context("forkserver").Pool(2) as p:
        print(sum(p.map(w, range(8))))
PY
if command -v python3 >/dev/null; then
	timeout 120 "$V" record -o "$D/fs.vmt" -- python3 "$D/fs.py" >/dev/null 2>&1 &&
		"$V" verify "$D/fs.vmt" >"$D/fs.v" 2>&1
	rc=$?
	ok $rc "python3 forkserver pool in BPF mode: $(grep -h '^verify:' "$D/fs.v" 2>/dev/null | tr '\n' ';')"
	[ $rc = 0 ] || sed -n '/[1-9][0-9]* mismatches/,+4s/^/# /p' "$D/fs.v" | head -12
else
	n=$((n + 1))
	echo "ok $n # skip python3 not installed"
fi
