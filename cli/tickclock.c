/*
 * tickclock.c - raw clock ticks of the shim's records to CLOCK_MONOTONIC ns
 * (see tickclock.h). Arithmetic in 128 bits: exact for any span a session
 * can have.
 */
#include "tickclock.h"
#include "util.h"

void tickclock_init(struct tickclock *c, uint64_t min_gap_ns)
{
	c->first = c->n = 0;
	c->origin.tick = c->origin.ns = 0;
	c->min_gap_ns = min_gap_ns;
}

static const struct tick_anchor *at(const struct tickclock *c, unsigned i)
{
	return &c->a[(c->first + i) % TICKCLOCK_ANCHORS];
}

void tickclock_add(struct tickclock *c, uint64_t tick, uint64_t ns)
{
	if (c->n) {
		const struct tick_anchor *last = at(c, c->n - 1);
		if (tick <= last->tick || ns <= last->ns || ns - last->ns < c->min_gap_ns)
			return;
	} else {
		c->origin.tick = tick;
		c->origin.ns = ns;
	}
	if (c->n == TICKCLOCK_ANCHORS) {
		c->first = (c->first + 1) % TICKCLOCK_ANCHORS;
		c->n--;
	}
	struct tick_anchor *slot = &c->a[(c->first + c->n) % TICKCLOCK_ANCHORS];
	slot->tick = tick;
	slot->ns = ns;
	c->n++;
}

void tickclock_sample(struct tickclock *c)
{
#if defined(__x86_64__)
	/* the tick read between two clock reads; a pair far apart was
	 * interrupted: try again (a few times, then take it all the same) */
	uint64_t a = 0, t = 0, b = 0;
	for (int k = 0; k < 4; k++) {
		a = now_ns();
		t = __builtin_ia32_rdtsc();
		b = now_ns();
		if (b - a < 1000)
			break;
	}
	tickclock_add(c, t, a + (b - a) / 2);
#else
	(void)c;
#endif
}

int tickclock_ready(const struct tickclock *c)
{
	return c->n >= 2 && at(c, c->n - 1)->ns - c->origin.ns >= 1000000;
}

/* ns over ticks between two anchors, applied to d ticks */
static uint64_t scale(uint64_t d, const struct tick_anchor *p, const struct tick_anchor *q)
{
	if (q->tick <= p->tick)
		return 0;
	return (uint64_t)((unsigned __int128)d * (q->ns - p->ns) / (q->tick - p->tick));
}

uint64_t tickclock_dur(const struct tickclock *c, uint64_t ticks)
{
	if (!c->n)
		return 0;
	return scale(ticks, &c->origin, at(c, c->n - 1));
}

uint64_t tickclock_ns(const struct tickclock *c, uint64_t tick)
{
	if (!c->n)
		return 0;
	const struct tick_anchor *old = at(c, 0), *last = at(c, c->n - 1);
	if (tick >= last->tick) /* past the newest anchor: the session's rate */
		return last->ns + tickclock_dur(c, tick - last->tick);
	if (tick < old->tick) {
		uint64_t back = tickclock_dur(c, old->tick - tick);
		return back < old->ns ? old->ns - back : 0;
	}
	/* the last anchor at or before tick, then between it and the next */
	unsigned lo = 0, hi = c->n - 1; /* at(lo) <= tick < at(hi) */
	while (hi - lo > 1) {
		unsigned mid = lo + (hi - lo) / 2;
		if (at(c, mid)->tick <= tick)
			lo = mid;
		else
			hi = mid;
	}
	const struct tick_anchor *p = at(c, lo), *q = at(c, hi);
	return p->ns + scale(tick - p->tick, p, q);
}
