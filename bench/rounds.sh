# rounds.sh - sourced by the bench-*.sh scripts: runs configurations in
# interleaved rounds, for a machine whose speed drifts within seconds.
#
# In each round the configurations other than "plain" run in a fresh random
# order, with a plain run before each and after the last; a configuration's
# ratio, column by column, is its value over the mean of the two plain runs
# on either side of it. The caller sets D (a scratch directory) and defines
# `run CONFIG`, which prints one line of numbers (the same columns for every
# configuration; 0 when a run failed). Results, one line per round:
# $D/CONFIG (the values) and $D/CONFIG.r (the ratios; "nan" where either
# side is 0).

bench_rounds() { # ROUNDS CONFIG...
	local rounds=$1 r c v prev next order
	shift
	for r in $(seq "$rounds"); do
		order=$(for c in "$@"; do [ "$c" = plain ] || echo "$RANDOM $c"; done | sort -n | cut -d' ' -f2)
		prev=$(run plain)
		echo "${prev:-0}" >>"$D/plain"
		for c in $order; do
			v=$(run "$c")
			next=$(run plain)
			echo "${next:-0}" >>"$D/plain"
			echo "${v:-0}" >>"$D/$c"
			echo "${prev:-0}|${next:-0}|${v:-0}" | awk -F'|' '{
				split($1, a, " "); split($2, b, " "); m = split($3, x, " "); line = ""
				for (i = 1; i <= m; i++) {
					p = (a[i] + b[i]) / 2
					line = line (i > 1 ? " " : "") (p > 0 && x[i] > 0 ? sprintf("%.4f", x[i] / p) : "nan")
				}
				print line }' >>"$D/$c.r"
			prev=$next
		done
	done
}

# column N of a results file: median, lowest, highest (nan and 0 left out)
bench_col() { cut -d' ' -f"$2" "$1" | grep -vE '^(nan|0)$' | sort -g; }
bench_med() { bench_col "$1" "$2" | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }'; }
bench_lo() { bench_col "$1" "$2" | head -1; }
bench_hi() { bench_col "$1" "$2" | tail -1; }
