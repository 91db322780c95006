#!/usr/bin/env bash
# shim-real.t - programs nobody here wrote, recorded and verified: python3
# with a multiprocessing pool (fork without exec), git on a repository, sh
# pipelines. Each trace must verify with 0 mismatches.
set -u
B=${VMATOP_BUILD:-build}
V=$B/vmatop
# these tests are about the shim: record without the BPF source when vmatop has one
NOBPF=$("$V" record --help 2>&1 | grep -q -- --no-bpf && echo --no-bpf)
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
echo "1..6"
n=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
skip() { n=$((n+1)); echo "ok $n # skip $1"; }
run() { # name, cmd...
	local name=$1; shift
	"$V" record $NOBPF -o "$D/$name.vmt" -- "$@" >"$D/$name.out" 2>&1
	ok $? "record $name"
	out=$("$V" verify "$D/$name.vmt" 2>&1); rc=$?
	[ $rc = 0 ] || echo "$out" | grep -v ' 0 mismatches' | sed 's/^/# /' | head -30
	ok $rc "verify $name: $(echo "$out" | tail -1)"
}
PY=$(command -v python3 || true)
if [ -n "$PY" ]; then
	run python-pool "$PY" -c '
import multiprocessing as mp
def f(x): return sum(range(x))
if __name__ == "__main__":
    ctx = mp.get_context("fork")
    with ctx.Pool(3) as p: print(sum(p.map(f, range(2000))))'
else skip "no python3"; skip "no python3"; fi
if command -v git >/dev/null; then
	git init -q "$D/repo" && (cd "$D/repo" && for i in 1 2 3; do echo $i >f$i; done && git add . &&
		git -c user.name=t -c user.email=t@t commit -qm init)
	run git sh -c "cd '$D/repo' && git log --oneline && git status --short && git gc -q"
else skip "no git"; skip "no git"; fi
run sh-pipeline sh -c 'seq 1 2000 | sort -r | head -5 | wc -l; ls / | grep -c . | cat'
