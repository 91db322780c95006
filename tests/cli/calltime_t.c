/*
 * calltime_t.c - cli/calltime.c against exact percentiles: random durations
 * from several spreads (ns to seconds), each percentile read from the
 * histogram must be at least the true one and at most 1/8 above it (or the
 * maximum); count, total and max exact; edge cases (empty, one value,
 * values below 8 ns, huge values).
 */
#include <stdint.h>
#include <stdlib.h>

#include "calltime.h"
#include "tap.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* the true q-th value: the smallest v with at least ceil(q n) values <= v */
static uint64_t exact(const uint64_t *v, size_t n, double q)
{
	size_t want = (size_t)(q * (double)n + 0.999999);
	return v[(want ? want : 1) - 1];
}

int main(void)
{
	static const double qs[] = {0.01, 0.5, 0.9, 0.99, 0.999, 1.0};
	static const uint64_t spread[] = {16, 1000, 100000, 50000000, 4000000000ull};
	plan(5 * 2 + 7);
	uint64_t seed = 88172645463325252ull;
	for (unsigned s = 0; s < 5; s++) {
		size_t n = 20000 + s * 1000;
		uint64_t *v = malloc(n * sizeof(*v));
		struct calltime *c = calloc(1, sizeof(*c));
		uint64_t total = 0, max = 0;
		for (size_t i = 0; i < n; i++) {
			/* mostly around the spread, a tail 100x longer */
			v[i] = rnd(&seed) % spread[s] + (rnd(&seed) % 100 == 0 ? spread[s] * 100 : 0);
			calltime_add(c, v[i]);
			total += v[i];
			max = v[i] > max ? v[i] : max;
		}
		qsort(v, n, sizeof(*v), cmp_u64);
		int good = 1;
		for (unsigned k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
			uint64_t t = exact(v, n, qs[k]), got = calltime_pct(c, qs[k]);
			if (got < t || (got > t + t / 8 + 1 && got != max)) {
				diag("spread %llu q %.3f: true %llu, histogram %llu",
				     (unsigned long long)spread[s], qs[k], (unsigned long long)t,
				     (unsigned long long)got);
				good = 0;
			}
		}
		ok(good, "spread %llu: every percentile within [true, true + 1/8]",
		   (unsigned long long)spread[s]);
		ok(c->n == n && c->total == total && c->max == max, "spread %llu: count, total, max exact",
		   (unsigned long long)spread[s]);
		free(v);
		free(c);
	}
	struct calltime e = {0};
	ok(calltime_pct(&e, 0.5) == 0, "empty: 0");
	calltime_add(&e, 5);
	ok(calltime_pct(&e, 0.5) == 5 && calltime_pct(&e, 1.0) == 5, "one value below 8 ns: itself");
	calltime_add(&e, 7);
	ok(calltime_pct(&e, 0.5) == 5 && calltime_pct(&e, 1.0) == 7, "small values are exact");
	struct calltime h = {0};
	calltime_add(&h, UINT64_MAX);
	calltime_add(&h, 1ull << 60);
	ok(h.max == UINT64_MAX && calltime_pct(&h, 1.0) == UINT64_MAX,
	   "huge values land in the last bucket; the maximum stays exact");
	ok(calltime_pct(&h, 0.5) <= UINT64_MAX && calltime_pct(&h, 0.5) >= (1ull << 60),
	   "a huge percentile is not below its value");
	struct calltime z = {0};
	for (int i = 0; i < 100; i++)
		calltime_add(&z, 1000);
	ok(calltime_pct(&z, 0.01) == 1000 && calltime_pct(&z, 0.99) == 1000,
	   "all equal: every percentile is the value (capped by the maximum)");
	struct calltime w = {0};
	calltime_add(&w, 1000);
	calltime_add(&w, 1001);
	ok(calltime_pct(&w, 0.5) >= 1000 && calltime_pct(&w, 0.5) <= 1125, "neighbours: upper bucket edge");
	return tap_exit();
}
