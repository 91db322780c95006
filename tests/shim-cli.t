#!/usr/bin/env bash
# shim-cli.t - the vmatop command line: --help/--version, usage errors
# (exit 2), corrupt and truncated traces (message naming the offset, exit 2,
# no crash), report --json keys, the shim is inert without a session, and it
# leaks no fd into the target.
set -u
B=${VMATOP_BUILD:-build}
V=$B/vmatop
# these tests are about the shim: record without the BPF source when vmatop has one
NOBPF=$("$V" record --help 2>&1 | grep -q -- --no-bpf && echo --no-bpf)
T=$B/tests/shim/shimtest
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
echo "1..28"
n=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
is() { [ "$1" = "$2" ]; ok $? "$3 (got $1, want $2)"; }
"$V" --help | grep -q 'record \[-o FILE\]'; ok $? "--help prints usage"
"$V" --version | grep -q '^vmatop '; ok $? "--version"
"$V" >/dev/null 2>&1; is $? 2 "no command: exit 2"
"$V" frobnicate >/dev/null 2>&1; is $? 2 "unknown command: exit 2"
"$V" record $NOBPF >/dev/null 2>&1; is $? 2 "record without command: exit 2"
"$V" maps --at nonsense x.vmt >/dev/null 2>&1; is $? 2 "maps --at nonsense: exit 2"
"$V" record $NOBPF -o "$D/t.vmt" -- sh -c 'exit 7' >/dev/null 2>&1; is $? 7 "record exits with the command's status"
size=$(stat -c %s "$D/t.vmt")
head -c $((size - 50)) "$D/t.vmt" >"$D/trunc.vmt"
msg=$("$V" verify "$D/trunc.vmt" 2>&1); rc=$?
echo "$msg" | grep -q 'truncated record at offset'; ok $? "truncated trace names the offset: $msg"
is $rc 2 "truncated trace: exit 2"
cp "$D/t.vmt" "$D/bad.vmt"
printf '\xee\xee' | dd of="$D/bad.vmt" bs=1 seek=$((64 + 96 * 3)) conv=notrunc 2>/dev/null
msg=$("$V" report "$D/bad.vmt" 2>&1); rc=$?
echo "$msg" | grep -q 'corrupt record at offset 352'; ok $? "corrupt record names the offset: $msg"
is $rc 2 "corrupt trace: exit 2"
"$V" record $NOBPF -o "$D/j.vmt" -- "$T" fork >/dev/null 2>&1
"$V" report --json "$D/j.vmt" | python3 -c '
import json,sys
d=json.load(sys.stdin)
p=d["processes"][0]
for k in ("pid","ppid","comm","vmas","peak_vmas","lost","forks"): assert k in p, k
for k in ("count","p50_ns","p90_ns","p99_ns","max_ns"): assert k in p["forks"], k
assert p["forks"]["count"] >= 1
' 2>&1 | sed 's/^/# /'
ok ${PIPESTATUS[1]} "report --json has the stable keys"
# time in memory calls: one entry per call type, as many calls as records,
# ordered percentiles; --no-durations: not measured (null), calls still counted
LOOPS=3000 "$V" record $NOBPF -o "$D/ct.vmt" -- "$T" loop >/dev/null 2>&1
"$V" report --json "$D/ct.vmt" | python3 -c '
import json,sys
p=json.load(sys.stdin)["processes"][0]
ct=p["call_time"]
for t in ("mmap","munmap"):
    c=ct[t]
    assert c["count"] == p["by_type"][t], (t, c, p["by_type"])
    assert 0 < c["p50_ns"] <= c["p90_ns"] <= c["p99_ns"] <= c["max_ns"], c
    assert c["count"] * c["p50_ns"] / 2 <= c["total_ns"] <= c["count"] * c["max_ns"], c
' 2>&1 | sed 's/^/# /'
ok ${PIPESTATUS[1]} "report --json: call_time per call type (count = calls, p50 <= p90 <= p99 <= max)"
"$V" report "$D/ct.vmt" | grep -qE '^    munmap +3001  total .* p50 .* max '
ok $? "report: a time line per memory call type"
LOOPS=300 "$V" record $NOBPF --no-durations -o "$D/nd.vmt" -- "$T" loop >/dev/null 2>&1
[ "$("$V" report --json "$D/nd.vmt" | python3 -c '
import json,sys
p=json.load(sys.stdin)["processes"][0]
print(p["call_time"] is None and p["by_type"]["mmap"] == 301)')" = True ] &&
	"$V" report "$D/nd.vmt" | grep -q 'time in memory calls: not measured'
ok $? "record --no-durations: call_time null, calls counted, report says not measured"
# dump: the records in replay order; --range keeps only those touching it
"$V" dump "$D/ct.vmt" >"$D/dump.all"
page=$(sed -n 's/.* mmap addr=0x[0-9a-f]* len=0x1000 .* -> 0x\([0-9a-f]*\) err=0 .*/\1/p' "$D/dump.all" | head -1)
nmap=$(grep -c ' mmap addr=' "$D/dump.all")
[ -n "$page" ] && [ "$nmap" = 3001 ] && grep -q ' proc_start ppid=' "$D/dump.all"
ok $? "dump: every mmap ($nmap, the loop's page $page) and the process start"
hi=$(printf '%x' $((0x$page + 4096)))
"$V" dump --range "$page-$hi" "$D/ct.vmt" >"$D/dump.r"
[ "$(grep -c " mmap .* -> 0x$page " "$D/dump.r")" -ge 3000 ] && ! grep -q -e 'proc_start' -e 'shimtest' "$D/dump.r" &&
	[ "$(wc -l <"$D/dump.r")" -lt "$(wc -l <"$D/dump.all")" ]
ok $? "dump --range $page-$hi: only records that touch the page ($(wc -l <"$D/dump.r") of $(wc -l <"$D/dump.all"))"
"$V" dump --range 10-5 "$D/ct.vmt" >/dev/null 2>&1; is $? 2 "dump --range with LO >= HI: exit 2"
# exec generations: the pid that exec'd has two entries, image 0 and 1
"$V" record $NOBPF -o "$D/x.vmt" -- "$T" exec >/dev/null 2>&1
"$V" report --json "$D/x.vmt" | python3 -c '
import json,sys
d=json.load(sys.stdin)
p=d["processes"]
assert len(p) == 2 and p[0]["pid"] == p[1]["pid"], p
assert [q["exec_gen"] for q in p] == [0, 1] and all(q["exec_gens"] == 2 for q in p), p
assert p[0]["execed"] and not p[1]["execed"]
assert all(q["exec_not_followed"] is None for q in p), p
' 2>&1 | sed 's/^/# /'
ok ${PIPESTATUS[1]} "report --json numbers the images of an exec'd pid (exec_gen)"
out=$(LD_PRELOAD=$PWD/$B/libvmatop.so sh -c 'echo hi')
is "$out" "hi" "the shim without a session is inert"
"$V" record $NOBPF -o "$D/fd.vmt" -- sh -c 'ls -l /proc/self/fd' >"$D/fd.out" 2>/dev/null
sh -c 'ls -l /proc/self/fd' >"$D/fd.base"
# the shim's only fd is its own /proc/self/maps (O_CLOEXEC, moved to >= 1000)
with=$(grep -c -- '->' "$D/fd.out"); base=$(grep -c -- '->' "$D/fd.base")
ours=$(grep -cE ' 1[0-9]{3} -> /proc/[0-9]+/maps$' "$D/fd.out")
is "$((with - ours)):$ours" "$base:1" "no fd leaked into the target (only the shim's CLOEXEC maps fd)"
# libunwind is loaded only for --stacks: without, the target's own map shows
# just the shim's mappings
"$V" record $NOBPF -o "$D/u.vmt" -- sh -c 'cat /proc/$$/maps' >"$D/u0" 2>/dev/null
"$V" record $NOBPF --stacks=4 -o "$D/u.vmt" -- sh -c 'cat /proc/$$/maps' >"$D/u1" 2>/dev/null
w0=$(grep -c libvmatop "$D/u0"); u0=$(grep -c libunwind "$D/u0"); u1=$(grep -c libunwind "$D/u1")
[ "$w0" -gt 0 ] && [ "$u0" = 0 ] && [ "$u1" -gt 0 ]
ok $? "libunwind mapped only with --stacks (shim mapped $w0, libunwind without $u0, with $u1)"
# a program that never loads the shim (static: LD_PRELOAD ignored) is named,
# as CMD, after an exec, from posix_spawn and from vfork+exec; a normal run
# says nothing of it
ST=$B/tests/shim/static_map
if [ -x "$ST" ]; then
	"$V" record $NOBPF -o "$D/st.vmt" -- "$ST" >/dev/null 2>"$D/st.err"; rc=$?
	grep -q "static_map (pid [0-9]*) never loaded libvmatop.so" "$D/st.err" && [ $rc = 3 ]
	ok $? "record of a static program: says the shim never loaded, exit 3 ($rc: $(tail -1 "$D/st.err"))"
	"$V" record $NOBPF -o "$D/st.vmt" -- sh -c "exec '$PWD/$ST'" >/dev/null 2>"$D/st.err"
	grep -q "pid [0-9]* exec'd a program that never loaded libvmatop.so" "$D/st.err" &&
		"$V" report "$D/st.vmt" | grep -q "exec'd $PWD/$ST, not followed (it never loaded the shim" &&
		[ "$("$V" report --json "$D/st.vmt" | python3 -c '
import json,sys; print(json.load(sys.stdin)["processes"][0]["exec_not_followed"])')" = "$PWD/$ST" ]
	ok $? "an exec of a static program is named by record and report ($(tail -1 "$D/st.err"))"
	if command -v python3 >/dev/null; then
		"$V" record $NOBPF -o "$D/st.vmt" -- python3 -c "
import os,sys
p = os.posix_spawn('$PWD/$ST', ['static_map'], os.environ)
sys.exit(os.waitpid(p, 0)[1] >> 8 != 3)" >/dev/null 2>"$D/st.err"; rc=$?
		grep -q "pid [0-9]* (from posix_spawn or vfork) never loaded libvmatop.so" "$D/st.err" && [ $rc = 0 ]
		ok $? "a posix_spawn child that never loads the shim is named ($(tail -1 "$D/st.err"))"
	else
		n=$((n+1)); echo "ok $n # SKIP no python3 (posix_spawn of a static program)"
	fi
	VFORK_EXEC=$PWD/$ST VFORK_STATUS=3 "$V" record $NOBPF -o "$D/st.vmt" -- "$T" vfork >/dev/null 2>"$D/st.err"; rc=$?
	grep -q "pid [0-9]* (from posix_spawn or vfork) never loaded libvmatop.so" "$D/st.err" && [ $rc = 0 ]
	ok $? "a vfork child that execs a static program is named ($(tail -1 "$D/st.err"))"
else
	for i in 1 2 3 4; do n=$((n+1)); echo "ok $n # SKIP no static libc (libc.a): no static test program"; done
fi
# the parent of a vfork records whether the child exec'd (two _exit, one exec)
"$V" record $NOBPF -o "$D/vf.vmt" -- "$T" vforkmem >/dev/null 2>"$D/vf.err"
"$V" dump "$D/vf.vmt" | grep ' spawn ' >"$D/vf.spawn"
[ "$(grep -c ' kind=2 ' "$D/vf.spawn")" = 3 ] && [ "$(grep -c ' execd$' "$D/vf.spawn")" = 1 ] &&
	tail -1 "$D/vf.spawn" | grep -q ' execd$'
ok $? "vfork: the spawn record says exec'd for the child that exec'd only ($(tr '\n' '|' <"$D/vf.spawn"))"
"$V" record $NOBPF -o "$D/st.vmt" -- sh -c 'sh -c true; exec true' >/dev/null 2>"$D/st.err"
! grep -q "never loaded" "$D/st.err" "$D/vf.err"
ok $? "dynamic programs (sh, fork, exec, vfork with and without exec): no such warning"
