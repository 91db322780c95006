#!/usr/bin/env bash
# shim-io.t - kernel objects that map behind the memory calls' back, under
# the real shim and `vmatop record` (tests/shim/iomaps.c): Linux AIO rings
# made by libaio, io_uring rings made by liburing with its own syscalls,
# userfaultfd registrations. Each trace must verify with 0 mismatches (the
# parent and a fork child), and hold the records the shim writes for them.
set -u
B=${VMATOP_BUILD:-build}
V=$B/vmatop
NOBPF=$("$V" record --help 2>&1 | grep -q -- --no-bpf && echo --no-bpf)
T=$B/tests/shim/iomaps
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
scen=(aio uring uffd uffd-close)
echo "1..$(( ${#scen[@]} * 3 ))"
n=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
skip() { n=$((n+1)); echo "ok $n # skip $1"; }
if [ ! -x "$T" ]; then
	for i in $(seq $(( ${#scen[@]} * 3 ))); do
		skip "iomaps not built: liburing-dev and libaio-dev are missing (scripts/deps.sh installs them)"
	done
	exit 0
fi
rec() { # name, args...
	local name=$1; shift
	"$V" record $NOBPF -o "$D/$name.vmt" -- "$T" "$@" >"$D/$name.out" 2>&1
	local rc=$?
	[ $rc = 0 ] || sed 's/^/# /' "$D/$name.out" | grep -v 'recording with' | head -5
	ok $rc "record $name exits 0"
	out=$("$V" verify "$D/$name.vmt" 2>&1); rc=$?
	[ $rc = 0 ] || echo "$out" | sed 's/^/# /' | head -40
	ok $rc "verify $name: $(echo "$out" | tail -1)"
	"$V" dump "$D/$name.vmt" >"$D/$name.dump" 2>&1
}
parent_maps() { # the first process's map at the end
	"$V" maps --pid "$(grep -m1 -oE ' [0-9]+/[0-9]+ proc_start' "$D/$1.dump" | cut -d/ -f1)" "$D/$1.vmt"
}
count() { grep -cE -- "$1" "$D/$2.dump"; }

# aio: io_setup (206) twice, io_destroy (207) once, each with its record and
# list; the kept ring is in the map at the end, the destroyed one is not
rec aio aio
read -r _ _ gone _ kept < <(grep '^aio destroyed' "$D/aio.out")
s=$(count ' syscall .* extra=206 ' aio) d=$(count ' syscall .* extra=207 ' aio)
parent_maps aio >"$D/aio.maps"
[ "$s" = 2 ] && [ "$d" = 1 ] && [ -n "${kept:-}" ] &&
	grep -q "^${kept#0x}-.*\[aio\]" "$D/aio.maps" && ! grep -q "^${gone#0x}-" "$D/aio.maps"
ok $? "aio: $s io_setup and $d io_destroy records; ring ${kept:-?} mapped, ${gone:-?} gone"

# uring: liburing's calls recorded by name, its rings in the map at the end
rec uring uring
calls=$(grep -oE ' libcall .*fn=[a-z_]+' "$D/uring.dump" | sed 's/.*fn=//' | sort | uniq -c |
	awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }')
parent_maps uring >"$D/uring.maps"
rings=$(grep -c 'anon_inode:\[io_uring\]' "$D/uring.maps")
[ "$(count 'libcall .*fn=io_uring_queue_init ' uring)" = 1 ] &&
	[ "$(count 'libcall .*fn=io_uring_queue_init_params ' uring)" = 1 ] &&
	[ "$(count 'libcall .*fn=io_uring_queue_exit ' uring)" = 1 ] && [ "$rings" -ge 1 ] &&
	[ "$(count 'list_end .* indirect cause=13' uring)" -ge 3 ]
ok $? "uring: records ${calls:-none}; $rings io_uring VMAs mapped at the end"

# uffd: two registrations, one bad pointer (EFAULT), one unregistration as
# ioctl (16) records; the registered pages are VMAs of their own at the end
for c in uffd uffd-close; do
	if [ $c = uffd ]; then rec $c uffd; else rec $c uffd close; fi
	read -r _ _ at _ closed < <(grep '^uffd at' "$D/$c.out")
	if [ -z "${at:-}" ]; then
		skip "userfaultfd unavailable here: $(cat "$D/$c.out" | head -1)"
		continue
	fi
	good=$(count ' syscall .* a1=0xc020aa00 -> 0 err=0 extra=16 ' $c)
	efault=$(count ' syscall .* a1=0xc020aa00 -> 0xffffffffffffffff err=14 extra=16 ' $c)
	unreg=$(count ' syscall .* a1=0x8010aa01 -> 0 err=0 extra=16 ' $c)
	closes=$(count ' syscall .* extra=3 ' $c)
	p1=$(printf '%x' $((at + 4096))) p2=$(printf '%x' $((at + 8192)))
	parent_maps $c >"$D/$c.maps"
	if [ "$closed" = 1 ]; then # merged back: one VMA holds the page and the one before it
		holds=1
		while read -r r _; do
			lo=$((16#${r%-*})) hi=$((16#${r#*-}))
			[ $lo -le $((at)) ] && [ $hi -ge $((at + 8192)) ] && holds=0
		done <"$D/$c.maps"
		[ $holds = 0 ]
	else # the first registered page alone
		grep -q "^$p1-$p2 rw-p" "$D/$c.maps"
	fi
	shape=$?
	[ "$good" = 2 ] && [ "$efault" = 1 ] && [ "$unreg" = 1 ] && [ "$closes" = "$closed" ] &&
		[ $shape = 0 ]
	ok $? "$c: $good registrations, $efault EFAULT, $unreg unregistration, $closes close records; map at $at $( [ "$closed" = 1 ] && echo merged back || echo split)"
done
