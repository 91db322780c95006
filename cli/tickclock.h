/*
 * tickclock.h - the collector's converter from the shim's raw clock ticks to
 * CLOCK_MONOTONIC ns. The shim stamps its records with the time-stamp
 * counter when the kernel keeps time with it (a ring whose header says
 * VMT_RING_CLOCK_TSC; include/vmatop/records.h): one instruction on the
 * target's hot path, where a conversion would cost ~1% of an mmap+munmap
 * loop. The collector reads both clocks side by side on every pass (an
 * anchor) and converts each record as it drains it: between two anchors by
 * interpolation, past the newest by the rate measured over the whole
 * session. Owns: the anchors (a bounded history), the rate, the conversion.
 * No clock is read inside the conversion: tests feed anchors by hand.
 */
#ifndef VMATOP_TICKCLOCK_H
#define VMATOP_TICKCLOCK_H
#include <stdint.h>

#define TICKCLOCK_ANCHORS 4096 /* at >= 1 ms apart: the last 4 s at least */

struct tick_anchor {
	uint64_t tick, ns;
};

struct tickclock {
	struct tick_anchor a[TICKCLOCK_ANCHORS]; /* a ring, oldest at first */
	unsigned first, n;
	struct tick_anchor origin; /* the session's first anchor (the long rate) */
	uint64_t min_gap_ns;	   /* anchors closer than this are not kept */
};

void tickclock_init(struct tickclock *c, uint64_t min_gap_ns);
/* Add a reading of both clocks (ns increasing; ticks increasing). */
void tickclock_add(struct tickclock *c, uint64_t tick, uint64_t ns);
/* Read both clocks now and add them (x86-64; elsewhere a no-op). */
void tickclock_sample(struct tickclock *c);
/* ns per tick known: at least two anchors 1 ms apart. */
int tickclock_ready(const struct tickclock *c);
/* The CLOCK_MONOTONIC ns of a tick; a duration of d ticks in ns. */
uint64_t tickclock_ns(const struct tickclock *c, uint64_t tick);
uint64_t tickclock_dur(const struct tickclock *c, uint64_t ticks);

#endif
