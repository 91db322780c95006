#!/usr/bin/env bash
# run.sh - `make fuzz`: seeds a corpus with real recordings (the shim's test
# scenarios, with and without stacks; BPF traces too as root), then runs the
# trace fuzzer (fuzz_trace.c) for FUZZ_SECONDS (default 300) on FUZZ_JOBS
# processes (default: the CPUs). The corpus grows in $BUILD/fuzz/corpus and
# is reused by the next run; crashes land in $BUILD/fuzz/ as crash-* (replay
# one: build/fuzz/fuzz_trace FILE). Exit 1 if the fuzzer found anything.
set -u
B=${1:-build}
F=$B/fuzz
V=$B/vmatop
T=$B/tests/shim/shimtest
secs=${FUZZ_SECONDS:-300}
jobs=${FUZZ_JOBS:-$(nproc)}
mkdir -p "$F/corpus" "$F/seeds"
[ -x "$T" ] || make -s "$T" >/dev/null
if [ -z "$(ls -A "$F/seeds")" ]; then
	for s in mmap fork exec malloc dlopen vfork spawn clone brk; do
		"$V" record --no-bpf -o "$F/seeds/shim-$s.vmt" -- "$T" "$s" >/dev/null 2>&1
	done
	"$V" record --no-bpf --stacks=4 -o "$F/seeds/stacks.vmt" -- "$T" mmap >/dev/null 2>&1
	if [ "$(id -u)" = 0 ]; then
		"$V" record -o "$F/seeds/bpf-fork.vmt" -- "$T" fork >/dev/null 2>&1
		"$V" record -o "$F/seeds/bpf-exec.vmt" -- "$T" exec >/dev/null 2>&1
		"$V" record --mmap-lock -o "$F/seeds/bpf-lock.vmt" -- "$T" mmap >/dev/null 2>&1
	fi
	# keep the seeds small: the fuzzer runs every command on every input
	find "$F/seeds" -size +300k -delete
fi
echo "fuzz: $(ls "$F/seeds" | wc -l) seeds, $(ls "$F/corpus" | wc -l) corpus entries; $secs s on $jobs jobs"
rm -f "$F"/crash-* "$F"/leak-* "$F"/timeout-* "$F"/oom-*
(cd "$F" && ./fuzz_trace -max_total_time="$secs" -jobs="$jobs" -workers="$jobs" \
	-max_len=300000 -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 corpus seeds \
	>fuzz.log 2>&1)
rm -f /dev/shm/vmatop-fuzz-*.vmt
grep -h "stat::number_of_executed_units\|stat::peak_rss" "$F"/fuzz-*.log "$F"/fuzz.log 2>/dev/null | sort | uniq -c | head -4
found=$(ls "$F"/crash-* "$F"/leak-* "$F"/timeout-* "$F"/oom-* 2>/dev/null)
if [ -n "$found" ]; then
	echo "fuzz: FOUND (replay: $F/fuzz_trace FILE):"
	echo "$found"
	grep -h -A12 "^==.*ERROR\|runtime error" "$F"/fuzz*.log | head -60
	exit 1
fi
echo "fuzz: nothing found"
