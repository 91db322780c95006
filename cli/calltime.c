/*
 * calltime.c - duration histograms of memory calls (see calltime.h).
 *
 * Bucket of v: values below 8 ns have one each; above, the power of two
 * e = floor(log2 v) and the three bits below it pick one of 8 buckets, so a
 * bucket spans 1/8 of its power of two.
 */
#include "calltime.h"

static unsigned bucket(uint64_t v)
{
	if (v < 8)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 3 */
	unsigned b = (e - 2) * 8 + (unsigned)((v >> (e - 3)) & 7);
	return b < CALLTIME_BUCKETS ? b : CALLTIME_BUCKETS - 1;
}

/* the largest value of bucket b */
static uint64_t bucket_hi(unsigned b)
{
	if (b < 8)
		return b;
	unsigned e = b / 8 + 2, sub = b % 8;
	return ((8ull + sub) << (e - 3)) + (1ull << (e - 3)) - 1;
}

void calltime_add(struct calltime *c, uint64_t ns)
{
	c->n++;
	c->total += ns;
	if (ns > c->max)
		c->max = ns;
	c->hist[bucket(ns)]++;
}

uint64_t calltime_pct(const struct calltime *c, double q)
{
	if (!c->n)
		return 0;
	uint64_t want = (uint64_t)(q * (double)c->n + 0.999999), seen = 0;
	if (want < 1)
		want = 1;
	for (unsigned b = 0; b < CALLTIME_BUCKETS; b++) {
		seen += c->hist[b];
		if (seen >= want) {
			if (b == CALLTIME_BUCKETS - 1) /* also every value beyond */
				return c->max;
			uint64_t hi = bucket_hi(b);
			return hi < c->max ? hi : c->max;
		}
	}
	return c->max;
}
