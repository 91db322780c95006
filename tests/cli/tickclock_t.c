/*
 * tickclock_t.c - cli/tickclock.c with anchors fed by hand: a clock whose
 * rate changes between anchors (interpolation exact between them, the
 * session rate past the newest and before the oldest), anchors refused
 * (too close, going backwards), a history longer than the ring keeps the
 * newest, durations, readiness; then the real clocks side by side.
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "tickclock.h"
#include "tap.h"

static uint64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(void)
{
	plan(13);
	struct tickclock *c = malloc(sizeof(*c));
	tickclock_init(c, 1000000);
	ok(!tickclock_ready(c) && tickclock_ns(c, 5) == 0, "empty: not ready, converts to 0");
	/* 2 ticks per ns for 10 ms, then 4 ticks per ns for 10 ms */
	tickclock_add(c, 1000000, 5000000000ull);
	ok(!tickclock_ready(c), "one anchor: not ready");
	tickclock_add(c, 1000000 + 20000000, 5010000000ull);
	tickclock_add(c, 1000000 + 20000000 + 40000000, 5020000000ull);
	ok(tickclock_ready(c), "anchors 20 ms apart: ready");
	ok(tickclock_ns(c, 1000000) == 5000000000ull &&
		   tickclock_ns(c, 21000000) == 5010000000ull,
	   "an anchor's tick gives its ns");
	ok(tickclock_ns(c, 1000000 + 2000) == 5000001000ull &&
		   tickclock_ns(c, 21000000 + 4000) == 5010001000ull,
	   "between anchors: that stretch's rate (2 and 4 ticks per ns)");
	/* session rate: 60M ticks over 20 ms = 3 per ns */
	ok(tickclock_ns(c, 61000000 + 3000) == 5020001000ull, "past the newest: the session's rate");
	ok(tickclock_ns(c, 1000000 - 3000) == 4999999000ull, "before the oldest: the session's rate");
	ok(tickclock_dur(c, 3000) == 1000 && tickclock_dur(c, 0) == 0,
	   "durations at the session's rate");
	tickclock_add(c, 61000000 + 100, 5020000500ull);  /* 0.5 us later: too close */
	tickclock_add(c, 61000000 - 100, 5030000000ull);  /* ticks backwards */
	tickclock_add(c, 71000000, 5020000000ull - 1);	   /* ns backwards */
	ok(c->n == 3, "anchors too close or going backwards are not kept (%u)", c->n);

	/* a longer history than the ring: the oldest go, conversion stays exact */
	tickclock_init(c, 1000000);
	for (uint64_t i = 0; i < TICKCLOCK_ANCHORS + 100; i++)
		tickclock_add(c, 7 + i * 3000000, 1000000000ull + i * 1000000);
	ok(c->n == TICKCLOCK_ANCHORS, "the history keeps %u anchors", c->n);
	uint64_t i = TICKCLOCK_ANCHORS + 50;
	ok(tickclock_ns(c, 7 + i * 3000000 + 1500) == 1000000000ull + i * 1000000 + 500 &&
		   tickclock_ns(c, 7 + 50 * 3000000) == 1000000000ull + 50 * 1000000,
	   "conversion in and before the kept history");

#if defined(__x86_64__)
	/* the real clocks: a TSC read between two clock reads converts into them */
	tickclock_init(c, 1000000);
	tickclock_sample(c);
	nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);
	tickclock_sample(c);
	int good = 0;
	for (int k = 0; k < 20; k++) {
		uint64_t a = mono(), t = __builtin_ia32_rdtsc(), b = mono();
		uint64_t ns = tickclock_ns(c, t);
		/* a little slack for the rate measured over 2 ms */
		good += ns + 2000 >= a && ns <= b + 2000;
		nanosleep(&(struct timespec){.tv_nsec = 300000}, NULL);
	}
	ok(tickclock_ready(c), "two samples 2 ms apart: ready");
	ok(good >= 18, "the TSC converts to within 2 us of CLOCK_MONOTONIC (%d/20)", good);
#else
	skip(2, "no TSC here");
#endif
	free(c);
	return tap_exit();
}
