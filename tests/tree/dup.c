/*
 * dup.c - mt_dup() and allocation failure injection.
 *
 * 1. mt_dup of empty trees and of trees of heights 1..5 in both flag modes:
 *    the copy equals the source entry by entry and node by node (the
 *    mt_walk_nodes() lists are identical), gets the source's flags, and is
 *    independent: writing either never shows in the other.
 * 2. mt_dup under injected allocation failure: for trees of heights 1..3 the
 *    destination allocator fails from the k-th node allocation on (or only
 *    at the k-th), for every k from 0 until the dup succeeds. Each failing
 *    dup must return -ENOMEM, leave dst empty and valid, src unchanged and
 *    valid, and no node may stay allocated; the successful one must allocate
 *    exactly src->nodes nodes. Bulk and one-at-a-time allocators, separate
 *    and shared (alloc == NULL) allocators.
 * 3. mt_store / mt_insert / mt_erase under injected failure, in plain,
 *    ALLOC_RANGE and RCU mode: every failing write returns -ENOMEM and
 *    leaves the tree exactly as it was (entries, node shape, validity), and
 *    the allocator's live count always equals the tree's nodes (plus its
 *    reserve; in RCU mode after the grace period).
 *
 * Fast enough to run under valgrind (tests/tree-valgrind.t).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "tap.h"

static char msg[2048];

static const char *fname(unsigned flags)
{
	if (flags & MT_FLAG_RCU)
		return flags & MT_FLAG_ALLOC_RANGE ? "ALLOC_RANGE|RCU" : "RCU";
	return flags & MT_FLAG_ALLOC_RANGE ? "ALLOC_RANGE" : "plain";
}

static size_t held(const struct mtree *mt)
{
	return mt->nodes + mt->nr_reserve;
}

/* build a tree of n entries: VMA-like (gaps) or dense (adjacent) */
static void build(struct mtree *mt, struct model *m, size_t n, bool dense, uint64_t seed,
		  unsigned long *id)
{
	if (!dense) {
		build_vmas(mt, m, n, 0x10000, seed, id);
		return;
	}
	struct rng g = {seed};
	unsigned long a = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned long len = 1 + rng_below(&g, 5);
		void *e = ENT((*id)++);
		if (mt_store(mt, a, a + len - 1, e))
			bail_out("build: mt_store failed");
		model_store(m, a, a + len - 1, e);
		a += len;
	}
}

/* ---------------------------------------------------------------- part 1 */

static void test_dup_empty(unsigned flags)
{
	struct mtree src, dst;
	struct model m;
	model_init(&m);
	mt_init(&src, flags);
	memset(&dst, 0xcc, sizeof(dst)); /* "must not be initialised" */
	int rc = mt_dup(&src, &dst, NULL);
	ok(rc == 0 && mt_empty(&dst) && mt_count(&dst) == 0 && mt_height(&dst) == 0 &&
	       dst.flags == flags && mt_validate(&dst, msg, sizeof(msg)) == 0,
	   "%s: dup of an empty tree is an empty tree with the same flags (rc %d, flags %#x)",
	   fname(flags), rc, dst.flags);
	/* both stay usable and independent */
	int r1 = mt_store(&dst, 10, 20, ENT(1));
	int r2 = mt_store(&src, 30, 40, ENT(2));
	ok(r1 == 0 && r2 == 0 && mt_load(&dst, 15) == ENT(1) && mt_load(&dst, 35) == NULL &&
	       mt_load(&src, 35) == ENT(2) && mt_load(&src, 15) == NULL,
	   "%s: an empty tree and its dup are independent", fname(flags));
	mt_destroy(&src);
	mt_destroy(&dst);
	model_free(&m);
}

static void test_dup_independent(unsigned flags, size_t n, bool dense, unsigned *heights_seen)
{
	struct count_alloc ca, cb;
	struct mtree src, dst;
	struct model m, snap;
	unsigned long id = 1;
	struct rng g = {0xd00d + n};
	const char *what = dense ? "dense" : "vma";
	model_init(&m);
	model_init(&snap);
	count_alloc_init(&ca, true);
	count_alloc_init(&cb, n & 1);
	mt_init_allocator(&src, flags, &ca.a);
	build(&src, &m, n, dense, n * 31 + flags, &id);
	*heights_seen |= 1u << mt_height(&src);

	int rc = mt_dup(&src, &dst, &cb.a);
	struct shape a = {0}, b = {0};
	shape_take(&src, &a);
	shape_take(&dst, &b);
	bool good = rc == 0 && check_tree(&dst, &m, msg, sizeof(msg)) == 0;
	if (rc)
		snprintf(msg, sizeof(msg), "mt_dup = %d", rc);
	if (good && shape_cmp(&a, &b, msg, sizeof(msg)))
		good = false;
	if (good && (mt_height(&dst) != mt_height(&src) || dst.nodes != src.nodes ||
		     dst.flags != src.flags || mt_bytes(&dst) != mt_bytes(&src))) {
		snprintf(msg, sizeof(msg), "height %u/%u nodes %zu/%zu flags %#x/%#x",
			 mt_height(&dst), mt_height(&src), dst.nodes, src.nodes, dst.flags,
			 src.flags);
		good = false;
	}
	if (good && cb.live != held(&dst)) {
		snprintf(msg, sizeof(msg), "copy allocator holds %zu nodes, copy has %zu", cb.live,
			 held(&dst));
		good = false;
	}
	if (!ok(good,
		"%s %s n=%zu height %u: dup equals the source entry by entry and node by node",
		fname(flags), what, n, mt_height(&src)))
		diag("%s", msg);

	/* write the copy: erase a third, overwrite some, add some */
	model_copy(&snap, &m);
	struct model md;
	model_init(&md);
	model_copy(&md, &m);
	good = true;
	for (size_t i = 0; i < n / 3 + 3 && good; i++) {
		if (md.n && rng_pct(&g, 50)) {
			const struct mrange x = md.r[rng_below(&g, md.n)];
			int err = 0;
			if (mt_erase(&dst, x.first, &err) != x.entry || err)
				good = false;
			model_store(&md, x.first, x.last, NULL);
		} else {
			unsigned long f = rng_below(&g, 1ul << 24),
				      l = f + rng_below(&g, 1ul << 14);
			void *e = ENT(id++);
			if (mt_store(&dst, f, l, e))
				good = false;
			model_store(&md, f, l, e);
		}
	}
	if (md.n) { /* and replace one in place */
		const struct mrange *x = &md.r[md.n / 2];
		void *e = ENT(id++);
		if (mt_replace(&dst, x->first, e, NULL))
			good = false;
		model_store(&md, x->first, x->last, e);
	}
	struct shape c = {0};
	shape_take(&src, &c);
	good = good && check_tree(&dst, &md, msg, sizeof(msg)) == 0;
	if (good && check_tree(&src, &snap, msg, sizeof(msg)))
		good = false;
	if (good && shape_cmp(&a, &c, msg, sizeof(msg)))
		good = false;
	if (!ok(good, "%s %s n=%zu: writing the copy leaves the source unchanged", fname(flags),
		what, n))
		diag("%s", msg);

	/* now write the source and check the copy did not move */
	model_copy(&snap, &md);
	struct shape d = {0}, e2 = {0};
	shape_take(&dst, &d);
	good = true;
	for (size_t i = 0; i < n / 3 + 3 && good; i++) {
		if (m.n && rng_pct(&g, 60)) {
			const struct mrange x = m.r[rng_below(&g, m.n)];
			int err = 0;
			if (mt_erase(&src, x.last, &err) != x.entry || err)
				good = false;
			model_store(&m, x.first, x.last, NULL);
		} else {
			unsigned long f = rng_below(&g, 1ul << 24),
				      l = f + rng_below(&g, 1ul << 12);
			void *e = ENT(id++);
			if (mt_store(&src, f, l, e))
				good = false;
			model_store(&m, f, l, e);
		}
	}
	shape_take(&dst, &e2);
	good = good && check_tree(&src, &m, msg, sizeof(msg)) == 0;
	if (good && check_tree(&dst, &snap, msg, sizeof(msg)))
		good = false;
	if (good && shape_cmp(&d, &e2, msg, sizeof(msg)))
		good = false;
	if (!ok(good, "%s %s n=%zu: writing the source leaves the copy unchanged", fname(flags),
		what, n))
		diag("%s", msg);

	mt_destroy(&src);
	mt_destroy(&dst);
	ok(ca.live == 0 && cb.live == 0 && ca.bad_frees == 0 && cb.bad_frees == 0,
	   "%s %s n=%zu: no node leaked or freed twice (live %zu/%zu, bad frees %zu/%zu)",
	   fname(flags), what, n, ca.live, cb.live, ca.bad_frees, cb.bad_frees);
	shape_free(&a);
	shape_free(&b);
	shape_free(&c);
	shape_free(&d);
	shape_free(&e2);
	model_free(&m);
	model_free(&md);
	model_free(&snap);
	count_alloc_fini(&ca);
	count_alloc_fini(&cb);
}

/* ---------------------------------------------------------------- part 2 */

enum dup_mode {
	DM_SEPARATE,	  /* dst has its own allocator, fails from k on */
	DM_SEPARATE_ONCE, /* dst allocator fails only the k-th node */
	DM_SEPARATE_NOBULK,
	DM_SHARED, /* alloc == NULL: dst uses src's allocator, armed */
	DM_COUNT
};
static const char *dm_name[] = {"separate allocator", "single failure", "no alloc_bulk",
				"shared allocator"};

static void test_dup_failures(unsigned flags, size_t n, bool dense, enum dup_mode mode,
			      unsigned *heights_seen)
{
	struct count_alloc ca, cb;
	struct mtree src, dst;
	struct model m;
	unsigned long id = 1;
	model_init(&m);
	count_alloc_init(&ca, true);
	count_alloc_init(&cb, mode != DM_SEPARATE_NOBULK);
	mt_init_allocator(&src, flags, &ca.a);
	build(&src, &m, n, dense, 77 * n + mode, &id);
	*heights_seen |= 1u << mt_height(&src);
	struct shape before = {0}, after = {0};
	shape_take(&src, &before);
	size_t src_live = ca.live;

	bool good = src_live == held(&src);
	if (!good)
		snprintf(msg, sizeof(msg),
			 "source allocator holds %zu nodes, tree %zu + reserve %u", src_live,
			 src.nodes, src.nr_reserve);
	long long k;
	int rc = -1;
	unsigned failures = 0;
	unsigned long long used = 0;
	for (k = 0; good && k <= (long long)src.nodes + 8; k++) {
		struct count_alloc *fa = mode == DM_SHARED ? &ca : &cb;
		count_alloc_arm(fa, k, mode == DM_SEPARATE_ONCE);
		memset(&dst, 0xcc, sizeof(dst));
		rc = mt_dup(&src, &dst, mode == DM_SHARED ? NULL : &cb.a);
		used = fa->attempts;
		count_alloc_arm(fa, -1, false);
		if (rc == 0)
			break;
		failures++;
		if (rc != -ENOMEM) {
			snprintf(msg, sizeof(msg), "k=%lld: mt_dup = %d, want -ENOMEM or 0", k, rc);
			good = false;
		} else if (!mt_empty(&dst) || mt_count(&dst) || dst.nodes || mt_height(&dst)) {
			snprintf(msg, sizeof(msg),
				 "k=%lld: failed dup left dst non-empty (%zu entries, %zu nodes)",
				 k, mt_count(&dst), dst.nodes);
			good = false;
		} else if (mt_validate(&dst, msg, sizeof(msg))) {
			good = false;
		} else if (check_tree(&src, &m, msg, sizeof(msg))) {
			good = false;
		} else if ((shape_take(&src, &after),
			    shape_cmp(&before, &after, msg, sizeof(msg)))) {
			good = false;
		} else if (ca.live != src_live || cb.live != 0) {
			snprintf(
			    msg, sizeof(msg),
			    "k=%lld: after a failed dup the allocators hold %zu (src, want %zu) "
			    "and %zu (dst, want 0) nodes",
			    k, ca.live, src_live, cb.live);
			good = false;
		} else if (ca.bad_frees || cb.bad_frees) {
			snprintf(msg, sizeof(msg), "k=%lld: frees of unknown pointers", k);
			good = false;
		}
		/* dst is "initialised and empty": destroying it must be harmless */
		mt_destroy(&dst);
		if (good && (ca.live != src_live || cb.live != 0)) {
			snprintf(msg, sizeof(msg),
				 "k=%lld: mt_destroy of the failed dup freed nodes", k);
			good = false;
		}
	}
	if (good && rc != 0) {
		snprintf(msg, sizeof(msg), "dup still fails (%d) with %lld nodes available", rc, k);
		good = false;
	}
	if (good) {
		shape_take(&dst, &after);
		if (check_tree(&dst, &m, msg, sizeof(msg)) ||
		    shape_cmp(&before, &after, msg, sizeof(msg)))
			good = false;
	}
	const char *what = dense ? "dense" : "vma";
	if (!ok(good,
		"%s %s n=%zu height %u, %s: %u failing dups, each -ENOMEM with dst empty, "
		"src intact, nothing leaked",
		fname(flags), what, n, mt_height(&src), dm_name[mode], failures))
		diag("%s", msg);
	if (good && mode != DM_SEPARATE_ONCE) {
		/* the successful dup allocated exactly one node per source node, and the
		 * first src->nodes - 1 budgets all failed */
		ok(used == src.nodes && failures == src.nodes,
		   "%s %s n=%zu, %s: dup allocates exactly src->nodes (%zu) nodes (asked for %llu, "
		   "first success at k=%u)",
		   fname(flags), what, n, dm_name[mode], src.nodes, used, failures);
	} else if (good) {
		/* failing only once: any k < nodes must fail, later ones succeed */
		ok(failures == src.nodes,
		   "%s %s n=%zu, %s: every single failure among the %zu allocations is reported "
		   "(%u failed dups)",
		   fname(flags), what, n, dm_name[mode], src.nodes, failures);
	} else {
		skip(1, "dup failed above");
	}
	if (rc == 0)
		mt_destroy(&dst);
	mt_destroy(&src);
	ok(ca.live == 0 && cb.live == 0,
	   "%s %s n=%zu, %s: all nodes freed after destroying both (live %zu, %zu)", fname(flags),
	   what, n, dm_name[mode], ca.live, cb.live);
	shape_free(&before);
	shape_free(&after);
	model_free(&m);
	count_alloc_fini(&ca);
	count_alloc_fini(&cb);
}

/* ---------------------------------------------------------------- part 3 */

enum wop { W_STORE, W_STORE_SPAN, W_STORE_SPLIT, W_STORE_NULL, W_INSERT, W_ERASE, W_COUNT };

static void test_write_failures(unsigned flags, size_t n, bool dense, bool once, unsigned nops)
{
	struct count_alloc ca;
	struct mtree t;
	struct model m;
	unsigned long id = 1;
	struct rng g = {0xfa11 + n + once};
	model_init(&m);
	count_alloc_init(&ca, n & 1);
	mt_init_allocator(&t, flags, &ca.a);
	build(&t, &m, n, dense, 5 * n + 1, &id);
	if (flags & MT_FLAG_RCU) {
		mt_rcu_flush(&t);
		mt_rcu_barrier(); /* free what the build retired */
	}
	unsigned long kmax = m.n ? m.r[m.n - 1].last + 8 * PAGE : 64 * PAGE;
	struct shape before = {0}, after = {0};
	bool good = true;
	unsigned enomem = 0, in_place = 0;

	for (unsigned op = 0; op < nops && good; op++) {
		enum wop w = rng_below(&g, W_COUNT);
		unsigned long first = 0, last = 0;
		void *e = ENT(id++);
		if (m.n == 0 && (w == W_STORE_SPAN || w == W_STORE_SPLIT || w == W_ERASE))
			w = W_STORE;
		switch (w) {
		case W_STORE:
		case W_INSERT:
		case W_STORE_NULL:
			first = rng_below(&g, kmax);
			last = first + rng_below(&g, 6 * PAGE);
			if (rng_pct(&g, 50)) {
				first &= ~(PAGE - 1);
				last = (last | (PAGE - 1));
			}
			break;
		case W_STORE_SPAN: {
			size_t i = rng_below(&g, m.n), j = i + rng_below(&g, 30);
			if (j >= m.n)
				j = m.n - 1;
			first = m.r[i].first + (rng_pct(&g, 50) ? 1 : 0);
			last = m.r[j].last;
			if (last < first)
				last = first;
			break;
		}
		case W_STORE_SPLIT:
		case W_ERASE: {
			const struct mrange *x = &m.r[rng_below(&g, m.n)];
			first = x->first + (x->last - x->first) / 3;
			last = x->first + 2 * ((x->last - x->first) / 3);
			break;
		}
		default:
			break;
		}
		shape_take(&t, &before);
		for (long long k = 0;; k++) {
			if (k > 64) {
				snprintf(msg, sizeof(msg),
					 "op %u still fails with 64 nodes available", op);
				good = false;
				break;
			}
			count_alloc_arm(&ca, k, once);
			int rc = 0;
			void *got = NULL, *want = NULL;
			const struct mrange *x = NULL;
			switch (w) {
			case W_STORE:
			case W_STORE_SPAN:
			case W_STORE_SPLIT:
				rc = mt_store(&t, first, last, e);
				break;
			case W_STORE_NULL:
				rc = mt_store(&t, first, last, NULL);
				break;
			case W_INSERT:
				rc = mt_insert(&t, first, last, e);
				break;
			case W_ERASE:
				x = model_find(&m, first);
				want = x ? x->entry : NULL;
				got = mt_erase(&t, first, &rc);
				if (rc == 0 && got != want) {
					snprintf(msg, sizeof(msg), "mt_erase(%#lx) = %p, want %p",
						 first, got, want);
					good = false;
				} else if (rc == -ENOMEM && got != NULL) {
					snprintf(msg, sizeof(msg), "failed mt_erase returned %p",
						 got);
					good = false;
				}
				break;
			default:
				break;
			}
			count_alloc_arm(&ca, -1, false);
			if (!good)
				break;
			if (rc == -ENOMEM) {
				enomem++;
				shape_take(&t, &after);
				if (check_tree(&t, &m, msg, sizeof(msg)) ||
				    shape_cmp(&before, &after, msg, sizeof(msg))) {
					good = false;
				} else if (ca.live != held(&t)) {
					snprintf(
					    msg, sizeof(msg),
					    "allocator holds %zu nodes after a failed write, tree "
					    "%zu + reserve %u",
					    ca.live, t.nodes, t.nr_reserve);
					good = false;
				}
				if (!good) {
					diag("op %u (kind %d [%#lx,%#lx]) failing at node %lld:",
					     op, w, first, last, k);
					break;
				}
				continue;
			}
			int wantrc = w == W_INSERT && model_overlaps(&m, first, last) ? -EEXIST : 0;
			if (rc != wantrc) {
				snprintf(msg, sizeof(msg), "op %u (%d [%#lx,%#lx]) = %d, want %d",
					 op, w, first, last, rc, wantrc);
				good = false;
				break;
			}
			if (k == 0)
				in_place++;
			if (w == W_ERASE) {
				if (x)
					model_store(&m, x->first, x->last, NULL);
			} else if (rc == 0) {
				model_store(&m, first, last, w == W_STORE_NULL ? NULL : e);
			}
			if (t.flags & MT_FLAG_RCU) {
				/* replaced nodes are freed after a grace period */
				mt_rcu_flush(&t);
				mt_rcu_barrier();
			}
			if (check_tree(&t, &m, msg, sizeof(msg)))
				good = false;
			else if (ca.live != held(&t)) {
				snprintf(msg, sizeof(msg),
					 "allocator holds %zu nodes, tree %zu + reserve %u",
					 ca.live, t.nodes, t.nr_reserve);
				good = false;
			}
			break;
		}
	}
	mt_destroy(&t);
	if (t.flags & MT_FLAG_RCU)
		mt_rcu_barrier();
	if (good && (ca.live != 0 || ca.bad_frees)) {
		snprintf(msg, sizeof(msg), "%zu nodes leaked, %zu bad frees", ca.live,
			 ca.bad_frees);
		good = false;
	}
	if (!ok(good,
		"%s %s n=%zu%s: %u writes, %u injected -ENOMEM each left the tree exactly "
		"as it was, no leak (%u needed no allocation)",
		fname(flags), dense ? "dense" : "vma", n, once ? " single failure" : "", nops,
		enomem, in_place))
		diag("%s", msg);
	/* the injection must actually have hit writes, or it tested nothing */
	ok(enomem >= 10, "%s n=%zu%s: failure injection hit %u write attempts", fname(flags), n,
	   once ? " single failure" : "", enomem);
	shape_free(&before);
	shape_free(&after);
	model_free(&m);
	count_alloc_fini(&ca);
}

int main(void)
{
	plan_no_plan();
	static const unsigned flagset[] = {0, MT_FLAG_ALLOC_RANGE};

	for (int f = 0; f < 2; f++)
		test_dup_empty(flagset[f]);

	/* part 1: independence, heights 1..5 */
	static const size_t sizes[] = {1, 6, 40, 300, 2000, 20000};
	for (int f = 0; f < 2; f++) {
		unsigned seen = 0;
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			test_dup_independent(flagset[f], sizes[i], false, &seen);
			if (sizes[i] <= 2000)
				test_dup_independent(flagset[f], sizes[i] * 2, true, &seen);
		}
		ok((seen & 0x1e) == 0x1e, "%s: dup tested at heights 1 to 4 (seen mask %#x)",
		   fname(flagset[f]), seen);
	}

	/* part 2: dup failure injection on heights 1..3 */
	static const size_t fsizes[] = {1, 7, 30, 100, 400, 900};
	for (int f = 0; f < 2; f++) {
		unsigned seen = 0;
		for (size_t i = 0; i < sizeof(fsizes) / sizeof(fsizes[0]); i++)
			for (int mode = 0; mode < DM_COUNT; mode++)
				test_dup_failures(flagset[f], fsizes[i], mode & 1, mode, &seen);
		ok((seen & 0xe) == 0xe,
		   "%s: dup failure injection covered heights 1 to 3 (mask %#x)", fname(flagset[f]),
		   seen);
	}

	/* part 3: write failure injection */
	for (int f = 0; f < 2; f++) {
		test_write_failures(flagset[f], 0, false, false, 150);
		test_write_failures(flagset[f], 5, true, false, 150);
		test_write_failures(flagset[f], 60, false, false, 300);
		test_write_failures(flagset[f], 500, false, false, 300);
		test_write_failures(flagset[f], 500, true, true, 200);
		test_write_failures(flagset[f], 1500, false, true, 200);
	}
	/* RCU mode: every write copies; failures must still change nothing */
	test_write_failures(MT_FLAG_RCU | MT_FLAG_ALLOC_RANGE, 60, false, false, 40);
	test_write_failures(MT_FLAG_RCU, 500, true, true, 30);
	return tap_exit();
}
