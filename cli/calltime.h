/*
 * calltime.h - how long a process's memory calls took: per call type a
 * count, total, maximum and a log-linear histogram of durations (8 buckets
 * per power of two, so a percentile read from it is within 12.5% of the
 * true value, and never below it), filled from the dur of the shim's call
 * records. Fixed size, no per-call allocation: millions of calls cost
 * nothing more than thousands.
 */
#ifndef VMATOP_CALLTIME_H
#define VMATOP_CALLTIME_H
#include <stdint.h>

#define CALLTIME_BUCKETS 344

struct calltime {
	uint64_t n, total, max;
	uint32_t hist[CALLTIME_BUCKETS];
};

void calltime_add(struct calltime *c, uint64_t ns);
/* The q-th fraction (0 < q <= 1) of the durations: the upper edge of the
 * bucket holding it, at most the maximum; 0 when empty. */
uint64_t calltime_pct(const struct calltime *c, double q);

#endif
