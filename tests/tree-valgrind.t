#!/usr/bin/env bash
# tree-valgrind.t - runs the maple tree's dup/failure-injection test
# ($VMATOP_BUILD/tests/tree-dup.t) under valgrind memcheck: any invalid
# read/write, use of uninitialised memory or definitely-lost block fails it.
# Also runs the edge-case test the same way. TAP; skips without valgrind.
set -u
build=${VMATOP_BUILD:-build}
progs=(tree-dup.t tree-edge.t)
echo "1..${#progs[@]}"
n=0
failed=0
for p in "${progs[@]}"; do
	n=$((n + 1))
	bin="$build/tests/$p"
	if ! command -v valgrind >/dev/null 2>&1; then
		echo "ok $n # skip valgrind not installed (apt-get install valgrind)"
		continue
	fi
	if [[ ! -x "$bin" ]]; then
		echo "not ok $n - $p under valgrind: $bin not built (make $bin)"
		failed=1
		continue
	fi
	log=$(mktemp)
	start=$SECONDS
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
		--error-exitcode=99 "$bin" >"$log" 2>&1
	rc=$?
	secs=$((SECONDS - start))
	fails=$(grep -c '^not ok' "$log")
	if [[ $rc -eq 0 ]]; then
		echo "ok $n - $p under valgrind: no memory errors, no leaks (${secs}s)"
	else
		why="exit $rc"
		[[ $rc -eq 99 ]] && why="valgrind found memory errors or leaks"
		[[ $fails -gt 0 ]] && why="$why, $fails failing test points"
		echo "not ok $n - $p under valgrind: $why"
		failed=1
		# the valgrind report and the failing points, as TAP comments
		grep -E '^==[0-9]+==|^not ok' "$log" | head -60 | sed 's/^/# /'
	fi
	rm -f "$log"
done
exit $failed
