#!/usr/bin/env bash
# cli-valgrind.t - the read commands (report --json, verify) under
# valgrind memcheck on real traces and on damaged copies of them: records
# dropped, duplicated, swapped or moved, the shapes `make fuzz` found bugs
# with (a process's records before its start, a start seen twice, empty
# lists). Each run must end in a result or a clear error (exit 0, 1 or 2),
# with no invalid access and no definite leak. TAP; skips without valgrind.
set -u
B=${VMATOP_BUILD:-build}
V=$B/vmatop
T=$B/tests/shim/shimtest
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
traces=(fork exec)
variants=(orig drop dup swap move early restart)
cmds=("report --json" "verify")
echo "1..$(( ${#traces[@]} * ${#variants[@]} * ${#cmds[@]} ))"
if ! command -v valgrind >/dev/null; then
	for i in $(seq $(( ${#traces[@]} * ${#variants[@]} * ${#cmds[@]} ))); do
		echo "ok $i # skip valgrind not installed"
	done
	exit 0
fi
NOBPF=$("$V" record --help 2>&1 | grep -q -- --no-bpf && echo --no-bpf)
n=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
for t in "${traces[@]}"; do
	"$V" record $NOBPF -o "$D/$t.vmt" -- "$T" "$t" >/dev/null 2>&1
	# damaged copies: the same header, whole 96-byte records moved around
	# (deterministic: a fixed seed), so the reader accepts most of them and
	# the replay meets records in orders a real trace never has
	python3 - "$D/$t.vmt" "$D/$t" <<'PY'
import random, struct, sys
src, out = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
hs = struct.unpack_from("<I", data, 12)[0] if len(data) > 16 else 64
hs = hs if 64 <= hs < len(data) else 64
hdr, body = data[:hs], data[hs:]
recs = [body[i:i + 96] for i in range(0, len(body) - len(body) % 96, 96)]
rnd = random.Random(7)
def write(name, rs):
    open(f"{out}.{name}.vmt", "wb").write(hdr + b"".join(rs))
def typ(rec): return struct.unpack_from("<H", rec, 0)[0]
def stream(rec): return struct.unpack_from("<I", rec, 12)[0]
# records of the processes' own streams (not the collector's stream 0, not
# string chunks): moved only after their stream's first record, so the
# reader still takes the trace and the replay meets them out of order
first = {}
for k, rec in enumerate(recs):
    first.setdefault(stream(rec), k)
movable = [k for k, rec in enumerate(recs) if stream(rec) and typ(rec) not in (2, 100, 101, 103)
           and k > first[stream(rec)]]
write("orig", recs)
def pick(): return rnd.choice(movable)
r = list(recs)
for k in sorted(rnd.sample(movable, min(8, len(movable))), reverse=True):
    del r[k]
write("drop", r)
r = list(recs)
for _ in range(8):  # a copy of a record later in its own stream
    k = pick()
    r.insert(rnd.randrange(k + 1, len(r) - 1), r[k])
write("dup", r)
r = list(recs)
for _ in range(8):  # two records of one stream change places
    k = pick()
    same = [j for j in movable if stream(recs[j]) == stream(recs[k])]
    j = rnd.choice(same)
    r[k], r[j] = r[j], r[k]
write("swap", r)
r = list(recs)
for _ in range(4):  # a record moved to just after its stream's first record
    k = pick()
    rec = r.pop(k)
    r.insert(first[stream(rec)] + 1, rec)
write("move", r)
r = list(recs)
for _ in range(3):  # a record moved before its process's start (a fork child's
    k = pick()      # unmap before its PROC_START: the tree it makes is replaced)
    rec = r.pop(k)
    r.insert(first[stream(rec)], rec)
write("early", r)
r = list(recs)
starts = [k for k, rec in enumerate(recs) if typ(rec) == 1 and stream(rec)]
for k in starts[:3]:  # a process start seen a second time, later in its stream
    r.insert(rnd.randrange(k + 1, len(r) - 1), recs[k])
write("restart", r)
PY
	for v in "${variants[@]}"; do
		for c in "${cmds[@]}"; do
			valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
				--error-exitcode=99 "$V" $c "$D/$t.$v.vmt" >"$D/out" 2>"$D/err"
			rc=$?
			[ $rc -le 2 ]
			ok $? "$c on the $t trace ($v): exit $rc, clean under valgrind"
			[ $rc -le 2 ] || sed 's/^/# /' "$D/err" | tail -20
		done
	done
done
