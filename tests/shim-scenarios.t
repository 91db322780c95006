#!/usr/bin/env bash
# shim-scenarios.t - every scenario of tests/shim/shimtest.c under the real
# shim and `vmatop record`; each trace must `vmatop verify` with 0 mismatches.
set -u
B=${VMATOP_BUILD:-build}
V=$B/vmatop
T=$B/tests/shim/shimtest
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
scen=(mmap brk threads malloc rawsyscall dlopen fork forkmt vfork spawn exec)
echo "1..$(( ${#scen[@]} * 2 + 5 ))"
n=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
for s in "${scen[@]}"; do
	"$V" record -o "$D/$s.vmt" -- "$T" "$s" >"$D/$s.out" 2>&1
	ok $? "record shimtest $s exits 0"
	out=$("$V" verify "$D/$s.vmt" 2>&1); rc=$?
	[ $rc = 0 ] || echo "$out" | sed 's/^/# /' | head -40
	ok $rc "verify $s: $(echo "$out" | tail -1)"
done
# SIGKILL: every record written before the kill is read; the requested
# snapshot verifies and the mapping made after it is in the mirror.
"$V" record -o "$D/kill.vmt" -- "$T" sigkill >"$D/kill.out" 2>/dev/null
ok $([ $? = 137 ] && echo 0 || echo 1) "record exits 128+9 when the target is SIGKILLed"
out=$("$V" verify "$D/kill.vmt" 2>&1); rc=$?
[ $rc = 0 ] || echo "$out" | sed 's/^/# /' | head
ok $rc "verify sigkill: $(echo "$out" | tail -1)"
range=$(head -1 "$D/kill.out")
"$V" maps "$D/kill.vmt" | grep -q "^$range r--p "
ok $? "maps shows the region mapped after the snapshot ($range)"
# maps prints the exact /proc/PID/maps text
"$V" record -o "$D/self.vmt" -- "$T" selfmaps 3>"$D/self.maps" >/dev/null 2>&1
"$V" maps "$D/self.vmt" >"$D/self.mirror"
diff "$D/self.maps" "$D/self.mirror" | head -20 | sed 's/^/# /'
cmp -s "$D/self.maps" "$D/self.mirror"
ok $? "vmatop maps output is byte-identical to the program's /proc/self/maps"
# stacks: symbolized call sites
"$V" record --stacks=8 -o "$D/st.vmt" -- "$T" mmap >/dev/null 2>&1
"$V" report "$D/st.vmt" | grep -A2 'top call sites' | grep -q 's_mmap'
ok $? "report --stacks symbolizes the call site s_mmap"
