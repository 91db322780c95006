/*
 * diff.c - randomised differential test of the maple tree against the
 * reference model (tests/tree/common.c).
 *
 * Each configuration (seed, key-space shape, target size, flags, allocator)
 * runs a stream of mixed operations on a tree and on the model: mt_store
 * (fresh ranges, exact overwrites, splits of one range into three, stores
 * spanning many entries, NULL stores), mt_insert, mt_erase, mt_load,
 * mt_load_range, mt_next/mt_prev with limits, mt_gap_lowest/highest,
 * mt_replace and cursor walks (mtc_next/mtc_prev/mtc_replace, with writes
 * through the tree in the middle of a walk). Every result is compared with
 * the model as it happens; after every batch the whole tree is checked
 * (mt_validate, an independent structure check, an entry-by-entry walk) and,
 * with the counting allocator, the live node count. Every few batches the
 * tree is duplicated with mt_dup; the copy must equal the model and have the
 * source's exact node shape, and then one of the two is mutated while the
 * other must not change.
 *
 * Shapes: "vma" (page-aligned ranges separated by gaps, the tree grown in
 * address order first), "dense" (adjacent small ranges), "tiny" (a 64-key
 * space, heavy overwriting, plus the top of the key space). Flags: plain,
 * MT_FLAG_ALLOC_RANGE, and MT_FLAG_RCU (single-threaded here: every write
 * copies; fresh dup copies are sometimes edited after mt_set_rcu(false), as
 * at fork). Concurrent readers are tests/tree/rcu.c's business.
 *
 * Environment: MTREE_TEST_SEED=N runs other seeds (fuzzing; the failing
 * seed is printed), MTREE_TEST_VERBOSE=1 prints coverage counters per
 * configuration, MTREE_TEST_SCALE=0.1 runs a tenth of the ops; the
 * ASan build is compiled with TREE_TEST_QUICK (0.4 of the ops, trees of at
 * most 20000 entries).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "tap.h"

#ifdef TREE_TEST_QUICK
#define DEFAULT_SCALE 0.4
#else
#define DEFAULT_SCALE 1.0
#endif

enum keyshape { SH_VMA, SH_DENSE, SH_TINY };
static const char *shape_name[] = {"vma", "dense", "tiny"};

struct cfg {
	uint64_t seed;
	enum keyshape shape;
	unsigned flags;
	size_t target; /* entries the stream hovers around */
	size_t ops;
	bool counting; /* counting allocator (else the default one) */
};

enum op {
	OP_STORE,
	OP_STORE_NULL,
	OP_INSERT,
	OP_ERASE,
	OP_LOAD,
	OP_LOAD_RANGE,
	OP_NEXT,
	OP_PREV,
	OP_GAP_LOW,
	OP_GAP_HIGH,
	OP_REPLACE,
	OP_WALK,
	OP_WALK_BACK,
	OP_COUNT
};
static const char *op_name[] = {"store",      "store-null", "insert",	"erase",      "load",
				"load_range", "next",	    "prev",	"gap_lowest", "gap_highest",
				"replace",    "walk",	    "walk_back"};

struct oplog {
	enum op op;
	unsigned long a, b, c;
	uintptr_t e;
};
#define NLOG 12

struct run {
	const struct cfg *cfg;
	struct rng rng;
	struct mtree trees[2];
	bool alive[2];
	int cur;
	struct model m;
	struct count_alloc ca, ca2;
	unsigned long next_id;
	/* key space */
	unsigned long kmin, kmax, unit; /* keys are kmin + k * unit */
	struct oplog log[NLOG];
	size_t nlog;
	size_t ops_done;
	/* coverage counters, printed per configuration */
	size_t kind[OP_COUNT], max_n, dups, eexist, gap_found, gap_busy, enoent, rewalks;
	unsigned max_height;
	char msg[1024];
	bool failed;
};

static struct mtree *T(struct run *r)
{
	return &r->trees[r->cur];
}

static void logop(struct run *r, enum op op, unsigned long a, unsigned long b, unsigned long c,
		  void *e)
{
	r->log[r->nlog++ % NLOG] = (struct oplog){op, a, b, c, (uintptr_t)e};
}

__attribute__((format(printf, 2, 3))) static void failf(struct run *r, const char *fmt, ...)
{
	if (r->failed)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	r->failed = true;
	diag("FAIL seed %#llx shape %s target %zu flags %#x after %zu ops: %s",
	     (unsigned long long)r->cfg->seed, shape_name[r->cfg->shape], r->cfg->target,
	     r->cfg->flags, r->ops_done, r->msg);
	size_t from = r->nlog > NLOG ? r->nlog - NLOG : 0;
	for (size_t i = from; i < r->nlog; i++) {
		struct oplog *l = &r->log[i % NLOG];
		diag("  op #%zu: %s(%#lx, %#lx, %#lx) entry %#lx", i, op_name[l->op], l->a, l->b,
		     l->c, (unsigned long)l->e);
	}
	if (T(r)->nodes < 64)
		mt_dump(T(r), stdout);
}

/* ------------------------------------------------------------ key choice */

static unsigned long key(struct run *r, unsigned long k)
{
	return r->kmin + k * r->unit;
}
static unsigned long nkeys(struct run *r)
{
	return (r->kmax - r->kmin) / r->unit + 1;
}

/* a random index, 60% inside an existing entry */
static unsigned long rand_index(struct run *r)
{
	struct rng *g = &r->rng;
	if (r->m.n && rng_pct(g, 60)) {
		const struct mrange *x = &r->m.r[rng_below(g, r->m.n)];
		switch (rng_below(g, 3)) {
		case 0:
			return x->first;
		case 1:
			return x->last;
		default:
			return rng_range(g, x->first, x->last);
		}
	}
	if (rng_pct(g, 3))
		return rng_pct(g, 50) ? 0 : ULONG_MAX;
	return rng_range(g, r->kmin, r->kmax);
}

/* a random range [*first, *last] to store over */
static void rand_range(struct run *r, unsigned long *first, unsigned long *last)
{
	struct rng *g = &r->rng;
	unsigned maxlen = r->cfg->shape == SH_VMA ? 16 : r->cfg->shape == SH_DENSE ? 4 : 8;
	unsigned k = rng_below(g, 100);

	if (r->m.n && k < 15) { /* exactly an existing range */
		const struct mrange *x = &r->m.r[rng_below(g, r->m.n)];
		*first = x->first;
		*last = x->last;
		return;
	}
	if (r->m.n && k < 27) { /* strictly inside one: splits it into three */
		const struct mrange *x = &r->m.r[rng_below(g, r->m.n)];
		if (x->last - x->first >= 2) {
			unsigned long span = x->last - x->first;
			unsigned long a = 1 + rng_below(g, span - 1);
			unsigned long b = a + rng_below(g, span - a);
			if (r->unit > 1 && span >= 3 * r->unit) {
				a = (a / r->unit) * r->unit;
				if (a == 0)
					a = r->unit;
				b = (b / r->unit) * r->unit + r->unit - 1;
				if (b >= span || b < a)
					b = a + r->unit - 1;
				if (b >= span) {
					a = 1;
					b = 1;
				}
			}
			*first = x->first + a;
			*last = x->first + b;
			return;
		}
	}
	if (r->m.n && k < 37) { /* spanning many entries */
		size_t i = rng_below(g, r->m.n);
		size_t span = rng_pct(g, 10) ? rng_below(g, 1000) : 1 + rng_below(g, 40);
		size_t j = i + span < r->m.n ? i + span : r->m.n - 1;
		const struct mrange *x = &r->m.r[i], *y = &r->m.r[j];
		*first = rng_pct(g, 50) ? x->first : rng_range(g, x->first, x->last);
		*last = rng_pct(g, 50) ? y->last : rng_range(g, y->first, y->last);
		if (*last < *first)
			*last = *first;
		return;
	}
	if (r->m.n && k < 45) { /* touching a neighbour */
		const struct mrange *x = &r->m.r[rng_below(g, r->m.n)];
		unsigned long len = (1 + rng_below(g, maxlen)) * r->unit;
		if (rng_pct(g, 50) && x->last != ULONG_MAX) {
			*first = x->last + 1;
			*last = *first + len - 1 < *first ? ULONG_MAX : *first + len - 1;
		} else if (x->first != 0) {
			*last = x->first - 1;
			*first = *last >= len - 1 ? *last - (len - 1) : 0;
		} else {
			*first = 0;
			*last = len - 1;
		}
		return;
	}
	if (k < 47) { /* the ends of the key space */
		unsigned long len = rng_below(g, 1 + 4 * r->unit);
		switch (rng_below(g, r->cfg->target <= 100 ? 5 : 4)) {
		case 0:
			*first = 0;
			*last = len;
			break;
		case 1:
			*first = ULONG_MAX - len;
			*last = ULONG_MAX;
			break;
		case 2:
			*first = ULONG_MAX;
			*last = ULONG_MAX;
			break;
		case 3:
			*first = 0;
			*last = 0;
			break;
		default: /* everything (small trees only) */
			*first = 0;
			*last = ULONG_MAX;
			break;
		}
		return;
	}
	/* a fresh random range in the key space */
	unsigned long nk = nkeys(r);
	unsigned long s = rng_below(g, nk);
	unsigned long len = 1 + rng_below(g, maxlen);
	if (s + len > nk)
		len = nk - s;
	*first = key(r, s);
	*last = key(r, s) + len * r->unit - 1;
}

static unsigned long rand_size(struct run *r)
{
	struct rng *g = &r->rng;
	if (rng_pct(g, 3))
		return rng_pct(g, 50) ? ULONG_MAX : ULONG_MAX / 2;
	if (rng_pct(g, 20))
		return 1 + rng_below(g, 3);
	return (1 + rng_below(g, r->cfg->shape == SH_VMA ? 32 : 10)) * r->unit -
	       (rng_pct(g, 30) ? rng_below(g, r->unit) : 0);
}

static const char *rstr(char *buf, size_t len, bool found, const struct mt_range *x)
{
	if (!found)
		snprintf(buf, len, "none");
	else
		snprintf(buf, len, "%p [%#lx,%#lx]", x->entry, x->first, x->last);
	return buf;
}

/* ------------------------------------------------------------ operations */

static void do_store(struct run *r, bool null)
{
	unsigned long first, last;
	rand_range(r, &first, &last);
	void *e = null ? NULL : ENT(r->next_id++);
	logop(r, null ? OP_STORE_NULL : OP_STORE, first, last, 0, e);
	int rc = mt_store(T(r), first, last, e);
	if (rc != 0)
		return failf(r, "mt_store(%#lx, %#lx, %p) = %d", first, last, e, rc);
	model_store(&r->m, first, last, e);
}

static void do_insert(struct run *r)
{
	unsigned long first, last;
	rand_range(r, &first, &last);
	void *e = ENT(r->next_id++);
	logop(r, OP_INSERT, first, last, 0, e);
	int want = model_overlaps(&r->m, first, last) ? -EEXIST : 0;
	r->eexist += want != 0;
	int rc = mt_insert(T(r), first, last, e);
	if (rc != want)
		return failf(r, "mt_insert(%#lx, %#lx) = %d, want %d", first, last, rc, want);
	if (rc == 0)
		model_store(&r->m, first, last, e);
}

static void do_erase(struct run *r)
{
	unsigned long idx = rand_index(r);
	logop(r, OP_ERASE, idx, 0, 0, NULL);
	const struct mrange *x = model_find(&r->m, idx);
	void *want = x ? x->entry : NULL;
	int err = 0;
	void *got = mt_erase(T(r), idx, &err);
	if (got != want || err != 0)
		return failf(r, "mt_erase(%#lx) = %p err %d, want %p", idx, got, err, want);
	if (x)
		model_store(&r->m, x->first, x->last, NULL);
}

static void do_load(struct run *r, bool range)
{
	unsigned long idx = rand_index(r);
	logop(r, range ? OP_LOAD_RANGE : OP_LOAD, idx, 0, 0, NULL);
	const struct mrange *x = model_find(&r->m, idx);
	if (!range) {
		void *got = mt_load(T(r), idx);
		if (got != (x ? x->entry : NULL))
			failf(r, "mt_load(%#lx) = %p, want %p", idx, got, x ? x->entry : NULL);
		return;
	}
	struct mt_range out = {0, 0, NULL};
	bool found = mt_load_range(T(r), idx, &out);
	if (found != (x != NULL) ||
	    (x && (out.first != x->first || out.last != x->last || out.entry != x->entry)))
		failf(r, "mt_load_range(%#lx) = %d %p [%#lx,%#lx], want %p [%#lx,%#lx]", idx, found,
		      out.entry, out.first, out.last, x ? x->entry : NULL, x ? x->first : 0,
		      x ? x->last : 0);
}

static void do_nextprev(struct run *r, bool next)
{
	struct rng *g = &r->rng;
	unsigned long idx = rand_index(r), lim;
	unsigned long span = rng_pct(g, 20) ? ULONG_MAX : rng_below(g, 64 * r->unit);
	if (next)
		lim = rng_pct(g, 5) ? idx - (idx > 0) : (idx + span < idx ? ULONG_MAX : idx + span);
	else
		lim = rng_pct(g, 5) ? idx + (idx < ULONG_MAX) : (idx < span ? 0 : idx - span);
	logop(r, next ? OP_NEXT : OP_PREV, idx, lim, 0, NULL);
	struct mt_range want = {0, 0, NULL}, got = {0, 0, NULL};
	bool w = next ? model_next(&r->m, idx, lim, &want) : model_prev(&r->m, idx, lim, &want);
	bool f = next ? mt_next(T(r), idx, lim, &got) : mt_prev(T(r), idx, lim, &got);
	if (w != f ||
	    (w && (want.first != got.first || want.last != got.last || want.entry != got.entry))) {
		char b1[128], b2[128];
		failf(r, "%s(%#lx, %#lx) = %s, want %s", next ? "mt_next" : "mt_prev", idx, lim,
		      rstr(b1, sizeof(b1), f, &got), rstr(b2, sizeof(b2), w, &want));
	}
}

static void do_gap(struct run *r, bool low)
{
	struct rng *g = &r->rng;
	unsigned long min, max;
	if (rng_pct(g, 10)) {
		min = 0;
		max = ULONG_MAX;
	} else {
		min = rand_index(r);
		unsigned long span = rng_pct(g, 20) ? ULONG_MAX : rng_below(g, 256 * r->unit);
		max = min + span < min ? ULONG_MAX : min + span;
		if (rng_pct(g, 30) && min > 0) /* unaligned bounds */
			min--;
	}
	unsigned long size = rand_size(r);
	logop(r, low ? OP_GAP_LOW : OP_GAP_HIGH, min, max, size, NULL);
	unsigned long ws = 0xdead, gs = 0xbeef;
	int w = low ? model_gap_lowest(&r->m, min, max, size, &ws)
		    : model_gap_highest(&r->m, min, max, size, &ws);
	int f = low ? mt_gap_lowest(T(r), min, max, size, &gs)
		    : mt_gap_highest(T(r), min, max, size, &gs);
	r->gap_found += w == 0;
	r->gap_busy += w == -EBUSY;
	if (w != f || (w == 0 && ws != gs))
		failf(r, "%s(min %#lx, max %#lx, size %#lx) = %d start %#lx, want %d start %#lx",
		      low ? "mt_gap_lowest" : "mt_gap_highest", min, max, size, f, gs, w, ws);
}

static void do_replace(struct run *r)
{
	struct rng *g = &r->rng;
	unsigned long idx = rand_index(r);
	bool null = rng_pct(g, 5);
	void *e = null ? NULL : ENT(r->next_id++);
	logop(r, OP_REPLACE, idx, 0, 0, e);
	const struct mrange *x = model_find(&r->m, idx);
	void *old = (void *)0x1234;
	int want = null ? -EINVAL : x ? 0 : -ENOENT;
	r->enoent += want == -ENOENT;
	int rc = mt_replace(T(r), idx, e, &old);
	if (rc != want)
		return failf(r, "mt_replace(%#lx, %p) = %d, want %d", idx, e, rc, want);
	if (rc == 0) {
		if (old != x->entry)
			return failf(r, "mt_replace(%#lx) old = %p, want %p", idx, old, x->entry);
		model_store(&r->m, x->first, x->last, e);
	}
}

/* a forward cursor walk with in-place replaces and, sometimes, a write through
 * the tree in the middle (the cursor must notice and re-walk) */
static void do_walk(struct run *r)
{
	struct rng *g = &r->rng;
	unsigned long idx = rand_index(r);
	unsigned long span = rng_pct(g, 30) ? ULONG_MAX : rng_below(g, 200 * r->unit);
	unsigned long max = idx + span < idx ? ULONG_MAX : idx + span;
	unsigned steps = 1 + rng_below(g, 100);
	unsigned write_at = rng_pct(g, 30) ? rng_below(g, steps) : UINT_MAX;
	bool back_at_end = rng_pct(g, 20);
	logop(r, OP_WALK, idx, max, steps, NULL);

	struct mt_cursor c;
	unsigned long pos = idx;
	bool more = true;
	mtc_init(&c, T(r), idx);
	for (unsigned s = 0; s < steps; s++) {
		struct mt_range want;
		bool w = more && model_next(&r->m, pos, max, &want);
		void *e = mtc_next(&c, max);
		if (!w) {
			if (e)
				return failf(r,
					     "walk from %#lx max %#lx step %u: mtc_next = %p "
					     "[%#lx,%#lx], want none",
					     idx, max, s, e, c.cur.first, c.cur.last);
			/* it stays at the end */
			if ((e = mtc_next(&c, max)))
				return failf(r, "walk from %#lx: mtc_next after the end = %p", idx,
					     e);
			return;
		}
		if (e != want.entry || c.cur.entry != want.entry || c.cur.first != want.first ||
		    c.cur.last != want.last)
			return failf(r,
				     "walk from %#lx max %#lx step %u: mtc_next = %p cur %p "
				     "[%#lx,%#lx], want %p [%#lx,%#lx]",
				     idx, max, s, e, c.cur.entry, c.cur.first, c.cur.last,
				     want.entry, want.first, want.last);
		if (want.last == ULONG_MAX)
			more = false;
		pos = want.last + 1;
		if (rng_pct(g, 25)) {
			void *ne = ENT(r->next_id++);
			int rc = mtc_replace(&c, ne);
			if (rc != 0)
				return failf(r, "mtc_replace at [%#lx,%#lx] = %d", want.first,
					     want.last, rc);
			model_store(&r->m, want.first, want.last, ne);
			if (rng_pct(g, 10) && (rc = mtc_replace(&c, NULL)) != -EINVAL)
				return failf(r, "mtc_replace(NULL) = %d, want -EINVAL", rc);
		}
		if (s == write_at && more) {
			/* write strictly above the current entry through the tree */
			unsigned long first, last;
			rand_range(r, &first, &last);
			if (first < pos) {
				unsigned long len = last - first;
				first = pos;
				last = first + len < first ? ULONG_MAX : first + len;
			}
			void *ne = rng_pct(g, 30) ? NULL : ENT(r->next_id++);
			logop(r, OP_STORE, first, last, 1, ne);
			r->rewalks++;
			int rc = mt_store(T(r), first, last, ne);
			if (rc != 0)
				return failf(r, "mid-walk mt_store(%#lx, %#lx) = %d", first, last,
					     rc);
			model_store(&r->m, first, last, ne);
		}
	}
	if (back_at_end) {
		/* mtc_prev after mtc_next: the entry before the last one returned */
		unsigned long min = rng_pct(g, 50) ? 0 : (idx > span ? idx - span : 0);
		struct mt_range want;
		bool w = c.cur.first > 0 && model_prev(&r->m, c.cur.first - 1, min, &want);
		unsigned long cf = c.cur.first;
		void *e = mtc_prev(&c, min);
		if (w != (e != NULL) || (w && (e != want.entry || c.cur.first != want.first ||
					       c.cur.last != want.last)))
			return failf(r, "mtc_prev(min %#lx) after entry at %#lx = %p, want %p", min,
				     cf, e, w ? want.entry : NULL);
		/* and forwards again: the entry after the one mtc_prev returned */
		if (w && want.last != ULONG_MAX) {
			struct mt_range want2;
			bool w2 = model_next(&r->m, want.last + 1, ULONG_MAX, &want2);
			e = mtc_next(&c, ULONG_MAX);
			if (w2 != (e != NULL) ||
			    (w2 && (e != want2.entry || c.cur.first != want2.first)))
				return failf(r,
					     "mtc_next after mtc_prev returned [%#lx,%#lx] = %p, "
					     "want %p",
					     want.first, want.last, e, w2 ? want2.entry : NULL);
		}
	}
}

static void do_walk_back(struct run *r)
{
	struct rng *g = &r->rng;
	unsigned long idx = rand_index(r);
	unsigned long span = rng_pct(g, 30) ? ULONG_MAX : rng_below(g, 200 * r->unit);
	unsigned long min = idx < span ? 0 : idx - span;
	unsigned steps = 1 + rng_below(g, 60);
	logop(r, OP_WALK_BACK, idx, min, steps, NULL);

	struct mt_cursor c;
	unsigned long pos = idx;
	bool more = true;
	mtc_init(&c, T(r), idx);
	for (unsigned s = 0; s < steps; s++) {
		struct mt_range want;
		bool w = more && model_prev(&r->m, pos, min, &want);
		void *e = mtc_prev(&c, min);
		if (!w) {
			if (e)
				return failf(r,
					     "walk back from %#lx min %#lx step %u: mtc_prev = %p "
					     "[%#lx,%#lx], want none",
					     idx, min, s, e, c.cur.first, c.cur.last);
			return;
		}
		if (e != want.entry || c.cur.first != want.first || c.cur.last != want.last)
			return failf(r,
				     "walk back from %#lx min %#lx step %u: mtc_prev = %p "
				     "[%#lx,%#lx], want %p [%#lx,%#lx]",
				     idx, min, s, e, c.cur.first, c.cur.last, want.entry,
				     want.first, want.last);
		if (rng_pct(g, 15)) {
			void *ne = ENT(r->next_id++);
			int rc = mtc_replace(&c, ne);
			if (rc != 0)
				return failf(r, "mtc_replace (backwards) = %d", rc);
			model_store(&r->m, want.first, want.last, ne);
		}
		if (want.first == 0)
			more = false;
		pos = want.first - 1;
	}
}

static void one_op(struct run *r)
{
	struct rng *g = &r->rng;
	size_t n = r->m.n, t = r->cfg->target;
	/* weights: grow towards the target, shrink above it */
	unsigned w[OP_COUNT] = {
	    [OP_STORE] = 30,	[OP_STORE_NULL] = 4, [OP_INSERT] = 8,  [OP_ERASE] = 10,
	    [OP_LOAD] = 10,	[OP_LOAD_RANGE] = 6, [OP_NEXT] = 6,    [OP_PREV] = 6,
	    [OP_GAP_LOW] = 3,	[OP_GAP_HIGH] = 3,   [OP_REPLACE] = 5, [OP_WALK] = 2,
	    [OP_WALK_BACK] = 1,
	};
	if (n < t) {
		w[OP_ERASE] = 3;
		w[OP_STORE_NULL] = 1;
		w[OP_INSERT] = 15;
	} else if (n > t + t / 10 + 8) {
		w[OP_ERASE] = 30;
		w[OP_STORE_NULL] = 10;
		w[OP_INSERT] = 2;
	}
	/* O(n) gap search without gap tracking: keep it rare on big trees */
	if (!(r->cfg->flags & MT_FLAG_ALLOC_RANGE) && n > 20000)
		w[OP_GAP_LOW] = w[OP_GAP_HIGH] = 0;
	unsigned total = 0;
	for (int i = 0; i < OP_COUNT; i++)
		total += w[i];
	unsigned k = rng_below(g, total);
	enum op op = 0;
	while (k >= w[op])
		k -= w[op++];
	r->kind[op]++;
	switch (op) {
	case OP_STORE:
		do_store(r, false);
		break;
	case OP_STORE_NULL:
		do_store(r, true);
		break;
	case OP_INSERT:
		do_insert(r);
		break;
	case OP_ERASE:
		do_erase(r);
		break;
	case OP_LOAD:
		do_load(r, false);
		break;
	case OP_LOAD_RANGE:
		do_load(r, true);
		break;
	case OP_NEXT:
		do_nextprev(r, true);
		break;
	case OP_PREV:
		do_nextprev(r, false);
		break;
	case OP_GAP_LOW:
		do_gap(r, true);
		break;
	case OP_GAP_HIGH:
		do_gap(r, false);
		break;
	case OP_REPLACE:
		do_replace(r);
		break;
	case OP_WALK:
		do_walk(r);
		break;
	case OP_WALK_BACK:
		do_walk_back(r);
		break;
	default:
		break;
	}
	r->ops_done++;
	if (r->m.n > r->max_n)
		r->max_n = r->m.n;
	if (mt_height(T(r)) > r->max_height)
		r->max_height = mt_height(T(r));
}

/* ------------------------------------------------------------ batches */

/* the counting allocators hold exactly the nodes of the live trees using them */
static void check_live(struct run *r, const char *what)
{
	struct count_alloc *cas[2] = {&r->ca, &r->ca2};
	if (!r->cfg->counting || r->failed)
		return;
	/* RCU mode frees replaced nodes after a grace period: hand over the
	 * batches still filling, then wait for them */
	if (r->cfg->flags & MT_FLAG_RCU) {
		for (int i = 0; i < 2; i++)
			if (r->alive[i])
				mt_rcu_flush(&r->trees[i]);
		mt_rcu_barrier();
	}
	for (int k = 0; k < 2; k++) {
		size_t want = 0;
		for (int i = 0; i < 2; i++)
			if (r->alive[i] && r->trees[i].alloc == &cas[k]->a)
				want += r->trees[i].nodes + r->trees[i].nr_reserve;
		if (cas[k]->live != want)
			return failf(r, "%s: allocator %d has %zu live nodes, trees hold %zu", what,
				     k, cas[k]->live, want);
		if (cas[k]->bad_frees)
			return failf(r, "%s: %zu frees of unknown pointers", what,
				     cas[k]->bad_frees);
	}
}

static void check_batch(struct run *r, const char *what)
{
	if (r->failed)
		return;
	if (check_tree(T(r), &r->m, r->msg, sizeof(r->msg))) {
		char m[1024];
		snprintf(m, sizeof(m), "%s", r->msg);
		return failf(r, "%s: %s", what, m);
	}
	check_live(r, what);
}

static void run_batch(struct run *r, size_t n)
{
	for (size_t i = 0; i < n && !r->failed; i++)
		one_op(r);
}

/* dup, compare, then mutate one side and check the other did not move */
static void dup_round(struct run *r, size_t batch, bool mutate_copy)
{
	struct mtree *src = T(r), *dst = &r->trees[1 - r->cur];
	const struct mt_allocator *da = NULL;
	if (r->cfg->counting && rng_pct(&r->rng, 50))
		da = &r->ca2.a;
	int rc = mt_dup(src, dst, da);
	r->dups++;
	if (rc != 0)
		return failf(r, "mt_dup = %d (%zu entries)", rc, r->m.n);
	r->alive[1 - r->cur] = true;
	check_live(r, "after mt_dup");
	if (dst->flags != src->flags)
		return failf(r, "mt_dup: flags %#x, source %#x", dst->flags, src->flags);
	if (mt_height(dst) != mt_height(src) || dst->nodes != src->nodes)
		return failf(r, "mt_dup: height %u nodes %zu, source height %u nodes %zu",
			     mt_height(dst), dst->nodes, mt_height(src), src->nodes);
	char m[1024];
	if (check_tree(dst, &r->m, m, sizeof(m)))
		return failf(r, "mt_dup copy: %s", m);
	struct shape a = {0}, b = {0};
	shape_take(src, &a);
	shape_take(dst, &b);
	rc = shape_cmp(&a, &b, m, sizeof(m));
	if (rc)
		failf(r, "mt_dup copy shape: %s", m);
	shape_free(&b);
	if (rc) {
		shape_free(&a);
		return;
	}

	struct model snap;
	model_init(&snap);
	model_copy(&snap, &r->m);
	int frozen = r->cur;
	if (mutate_copy)
		r->cur = 1 - r->cur; /* frozen is the source */
	else
		frozen = 1 - r->cur; /* frozen is the copy */
	/* an RCU tree's fresh copy is edited outside RCU mode (as at fork) */
	bool toggle = mutate_copy && (T(r)->flags & MT_FLAG_RCU) && (r->dups & 2);
	if (toggle)
		mt_set_rcu(T(r), false);
	run_batch(r, batch);
	if (toggle) {
		mt_set_rcu(T(r), true);
		if (!(T(r)->flags & MT_FLAG_RCU))
			failf(r, "mt_set_rcu(true) did not set MT_FLAG_RCU");
	}
	check_batch(r, "after a batch on one side of a dup");
	if (!r->failed) {
		if (check_tree(&r->trees[frozen], &snap, m, sizeof(m)))
			failf(r, "the %s changed when the other side was written: %s",
			      mutate_copy ? "dup source" : "dup copy", m);
		else {
			struct shape c = {0};
			shape_take(&r->trees[frozen], &c);
			if (shape_cmp(&a, &c, m, sizeof(m)))
				failf(r,
				      "the %s's node shape changed when the other side was "
				      "written: %s",
				      mutate_copy ? "dup source" : "dup copy", m);
			shape_free(&c);
		}
	}
	shape_free(&a);
	model_free(&snap);
	mt_destroy(&r->trees[frozen]);
	r->alive[frozen] = false;
	check_live(r, "after mt_destroy of one side of a dup");
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static size_t run_cfg(const struct cfg *cfg0, double scale)
{
	double t0 = now();
	struct cfg cfgq = *cfg0;
	const struct cfg *cfg = &cfgq;
	const char *seed_env = getenv("MTREE_TEST_SEED");
	if (seed_env) /* other seeds, for longer fuzzing runs */
		cfgq.seed ^= strtoull(seed_env, NULL, 0) * 0x9e3779b97f4a7c15ULL;
#ifdef TREE_TEST_QUICK
	if (cfgq.target > 20000) /* sanitizer build: smaller big trees */
		cfgq.target = 20000;
#endif
	struct run *r = calloc(1, sizeof(*r));
	if (!r)
		abort();
	r->cfg = cfg;
	r->rng.s = cfg->seed;
	r->next_id = 1;
	model_init(&r->m);
	count_alloc_init(&r->ca, cfg->seed & 2);
	count_alloc_init(&r->ca2, true);
	if (cfg->counting)
		mt_init_allocator(T(r), cfg->flags, &r->ca.a);
	else
		mt_init(T(r), cfg->flags);
	r->alive[r->cur] = true;

	switch (cfg->shape) {
	case SH_VMA:
		r->unit = PAGE;
		r->kmin = 0x400000;
		r->kmax = r->kmin + ((cfg->target < 64 ? 64 : cfg->target) * 14) * PAGE - 1;
		build_vmas(T(r), &r->m, cfg->target, r->kmin, cfg->seed, &r->next_id);
		break;
	case SH_DENSE: {
		r->unit = 1;
		r->kmin = 0;
		r->kmax = (cfg->target < 16 ? 16 : cfg->target) * 3;
		unsigned long a = 0;
		for (size_t i = 0; i < cfg->target && a <= r->kmax; i++) {
			unsigned long len = 1 + rng_below(&r->rng, 4);
			void *e = ENT(r->next_id++);
			if (mt_store(T(r), a, a + len - 1, e)) {
				failf(r, "dense build: mt_store failed");
				break;
			}
			model_store(&r->m, a, a + len - 1, e);
			a += len;
		}
		break;
	}
	case SH_TINY:
		r->unit = 1;
		r->kmin = 0;
		r->kmax = 63;
		break;
	}
	check_batch(r, "after the initial build");

	size_t ops = (size_t)(cfg->ops * scale);
	if (ops < 200)
		ops = 200;
	size_t batch = cfg->target < 100 ? 100 : cfg->target < 5000 ? 500 : cfg->target / 16;
	if ((cfg->flags & MT_FLAG_RCU) && cfg->counting)
		batch = 2000; /* each check waits for an RCU grace period */
	size_t batches = 0;
	while (r->ops_done < ops && !r->failed) {
		size_t n = ops - r->ops_done < batch ? ops - r->ops_done : batch;
		if (++batches % 7 == 3)
			dup_round(r, n, batches % 2);
		else {
			run_batch(r, n);
			check_batch(r, "after a batch");
		}
	}
	/* erase everything through the tree: it must end empty */
	if (!r->failed) {
		while (r->m.n && !r->failed) {
			/* random order; near the end while big (the model's memmove is O(n)) */
			size_t pick = r->m.n > 4096 ? r->m.n - 1 - rng_below(&r->rng, 1024)
						    : rng_below(&r->rng, r->m.n);
			const struct mrange x = r->m.r[pick];
			logop(r, OP_ERASE, x.first, 0, 0, NULL);
			int err = 0;
			void *e = mt_erase(T(r), rng_range(&r->rng, x.first, x.last), &err);
			if (e != x.entry || err)
				failf(r, "final erase of [%#lx,%#lx] = %p err %d, want %p", x.first,
				      x.last, e, err, x.entry);
			model_store(&r->m, x.first, x.last, NULL);
			if (r->m.n % (r->m.n > 16384 ? 8192 : 1024) == 0)
				check_batch(r, "while erasing everything");
		}
		check_batch(r, "after erasing everything");
		if (!r->failed && (!mt_empty(T(r)) || mt_height(T(r)) != 0))
			failf(r, "tree not empty after erasing everything (height %u, %zu nodes)",
			      mt_height(T(r)), T(r)->nodes);
	}
	mt_destroy(T(r));
	r->alive[r->cur] = false;
	if (cfg->flags & MT_FLAG_RCU)
		mt_rcu_barrier(); /* free what mt_destroy retired */
	check_live(r, "after the final mt_destroy");

	size_t done = r->ops_done;
	if (getenv("MTREE_TEST_VERBOSE") || r->failed)
		diag("  %.2fs; up to %zu entries, height %u; %zu dups; stores %zu null %zu, "
		     "inserts %zu "
		     "(%zu -EEXIST), erases %zu, replaces %zu (%zu -ENOENT), gaps %zu found %zu "
		     "busy, "
		     "walks %zu+%zu (%zu written under)",
		     now() - t0, r->max_n, r->max_height, r->dups, r->kind[OP_STORE],
		     r->kind[OP_STORE_NULL], r->kind[OP_INSERT], r->eexist, r->kind[OP_ERASE],
		     r->kind[OP_REPLACE], r->enoent, r->gap_found, r->gap_busy, r->kind[OP_WALK],
		     r->kind[OP_WALK_BACK], r->rewalks);
	ok(!r->failed, "seed %#llx %s target %zu %s%s: %zu ops match the model",
	   (unsigned long long)cfg->seed, shape_name[cfg->shape], cfg->target,
	   cfg->flags & MT_FLAG_ALLOC_RANGE
	       ? (cfg->flags & MT_FLAG_RCU ? "ALLOC_RANGE|RCU" : "ALLOC_RANGE")
	       : (cfg->flags & MT_FLAG_RCU ? "RCU" : "plain"),
	   cfg->counting ? " counting-alloc" : "", done);
	model_free(&r->m);
	count_alloc_fini(&r->ca);
	count_alloc_fini(&r->ca2);
	free(r);
	return done;
}

int main(void)
{
	const char *env = getenv("MTREE_TEST_SCALE");
	double scale = env ? atof(env) : DEFAULT_SCALE;
	if (scale <= 0)
		scale = DEFAULT_SCALE;
	static const struct cfg cfgs[] = {
	    /* tiny key space: heavy overwriting */
	    {0x7101, SH_TINY, 0, 8, 300000, true},
	    {0x7102, SH_TINY, MT_FLAG_ALLOC_RANGE, 8, 300000, false},
	    {0x7103, SH_TINY, MT_FLAG_ALLOC_RANGE, 30, 200000, true},
	    {0x7104, SH_TINY, 0, 0, 60000, false},
	    /* VMA-like, growing from empty and at several sizes */
	    {0x7201, SH_VMA, MT_FLAG_ALLOC_RANGE, 0, 60000, true},
	    {0x7202, SH_VMA, MT_FLAG_ALLOC_RANGE, 100, 200000, false},
	    {0x7203, SH_VMA, 0, 100, 150000, true},
	    {0x7204, SH_VMA, MT_FLAG_ALLOC_RANGE, 1000, 250000, true},
	    {0x7205, SH_VMA, 0, 1000, 150000, false},
	    {0x7206, SH_VMA, MT_FLAG_ALLOC_RANGE, 10000, 250000, false},
	    {0x7207, SH_VMA, 0, 10000, 150000, true},
	    {0x7208, SH_VMA, MT_FLAG_ALLOC_RANGE, 100000, 200000, true},
	    {0x7209, SH_VMA, 0, 100000, 100000, false},
	    /* dense adjacent ranges */
	    {0x7301, SH_DENSE, MT_FLAG_ALLOC_RANGE, 300, 150000, true},
	    {0x7302, SH_DENSE, 0, 300, 150000, false},
	    {0x7303, SH_DENSE, MT_FLAG_ALLOC_RANGE, 5000, 150000, false},
	    {0x7304, SH_DENSE, 0, 20000, 100000, true},
	    /* RCU mode: every write copies instead of writing in place */
	    {0x7401, SH_VMA, MT_FLAG_ALLOC_RANGE | MT_FLAG_RCU, 1000, 80000, true},
	    {0x7402, SH_TINY, MT_FLAG_RCU, 8, 100000, false},
	};
	size_t ncfg = sizeof(cfgs) / sizeof(cfgs[0]);
	plan(ncfg + 1);
	size_t total = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < ncfg; i++)
		total += run_cfg(&cfgs[i], scale);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	diag("%zu operations in %.1f s (scale %.2f)", total, secs, scale);
	size_t want = (size_t)(1000000 * scale);
	ok(total >= want, "ran %zu mixed operations (want >= %zu)", total, want);
	return tap_exit();
}
