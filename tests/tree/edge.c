/*
 * edge.c - edge cases and bad input of the maple tree API, both flag modes.
 *
 * Empty trees; [0,0], [0,ULONG_MAX], [ULONG_MAX,ULONG_MAX]; adjacent ranges;
 * an overwrite that splits one range into three; stores spanning many
 * entries; erase of the last entry (the tree becomes empty); trees of
 * height 1 to 4 (and the documented fan-out: 15 leaf slots fit in one
 * leaf); ranges touching ULONG_MAX and walks that must not wrap around at 0
 * or ULONG_MAX; gap search at the ends of the key space; bad input
 * (-EINVAL, -ENOENT, -EEXIST); mt_validate noticing corrupted counters.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "tap.h"

#define MAX ULONG_MAX
static char msg[2048];
static const char *F; /* flag mode name for messages */
static unsigned FL;

static void agree(const struct mtree *mt, const struct model *m, const char *what)
{
	if (!ok(check_tree(mt, m, msg, sizeof(msg)) == 0, "%s: %s: tree valid and equal to model",
		F, what))
		diag("%s", msg);
}

static bool range_is(const struct mt_range *r, unsigned long first, unsigned long last, void *e)
{
	return r->first == first && r->last == last && r->entry == e;
}

static void test_empty(void)
{
	struct mtree t;
	struct model m;
	struct mt_range r = {1, 2, ENT(9)};
	unsigned long s = 7;
	model_init(&m);
	mt_init(&t, FL);
	ok(mt_empty(&t) && mt_height(&t) == 0 && mt_count(&t) == 0 && mt_bytes(&t) == 0 &&
	       t.flags == FL,
	   "%s: a new tree is empty with height 0 and no bytes", F);
	ok(mt_load(&t, 0) == NULL && mt_load(&t, MAX) == NULL && !mt_load_range(&t, 5, &r),
	   "%s: empty: loads find nothing", F);
	ok(!mt_next(&t, 0, MAX, &r) && !mt_prev(&t, MAX, 0, &r),
	   "%s: empty: next/prev find nothing", F);
	int err = 1;
	ok(mt_erase(&t, 3, &err) == NULL && mt_replace(&t, 3, ENT(1), NULL) == -ENOENT,
	   "%s: empty: erase returns NULL, replace -ENOENT", F);
	ok(mt_gap_lowest(&t, 0, MAX, 1, &s) == 0 && s == 0,
	   "%s: empty: lowest gap of 1 at 0 (%#lx)", F, s);
	ok(mt_gap_highest(&t, 0, MAX, 1, &s) == 0 && s == MAX,
	   "%s: empty: highest gap of 1 at ULONG_MAX (%#lx)", F, s);
	ok(mt_gap_lowest(&t, 0, MAX, MAX, &s) == 0 && s == 0 &&
	       mt_gap_highest(&t, 0, MAX, MAX, &s) == 0 && s == 1,
	   "%s: empty: a gap of ULONG_MAX fits at 0 and at 1", F);
	ok(mt_gap_lowest(&t, 5, 5, 1, &s) == 0 && s == 5 &&
	       mt_gap_lowest(&t, 5, 5, 2, &s) == -EBUSY,
	   "%s: empty: min == max fits size 1, not 2", F);
	struct mt_cursor c;
	void *e;
	int n = 0;
	mt_for_each(&t, &c, e, 0, MAX) n++;
	mtc_init(&c, &t, 100);
	ok(n == 0 && mtc_prev(&c, 0) == NULL, "%s: empty: cursors return nothing", F);
	ok(mt_store(&t, 5, 10, NULL) == 0 && mt_empty(&t), "%s: empty: NULL store is a no-op", F);
	agree(&t, &m, "empty");
	/* counter corruption must be noticed: mt_validate can fail */
	t.entries++;
	ok(mt_validate(&t, msg, sizeof(msg)) == -EUCLEAN,
	   "%s: validate notices a wrong entry count "
	   "on an empty tree",
	   F);
	t.entries--;
	FILE *out = fopen("/dev/null", "w");
	mt_dump(&t, out);
	fclose(out);
	mt_destroy(&t);
	mt_destroy(&t); /* destroying twice is harmless on an empty tree */
	model_free(&m);
}

static void test_zero(void)
{
	struct mtree t;
	struct model m;
	struct mt_range r;
	unsigned long s = 0;
	model_init(&m);
	mt_init(&t, FL);
	ok(mt_store(&t, 0, 0, ENT(1)) == 0, "%s: store [0,0]", F);
	model_store(&m, 0, 0, ENT(1));
	ok(mt_load(&t, 0) == ENT(1) && mt_load(&t, 1) == NULL && mt_load(&t, MAX) == NULL,
	   "%s: [0,0]: load 0 finds it, 1 and ULONG_MAX do not", F);
	ok(mt_load_range(&t, 0, &r) && range_is(&r, 0, 0, ENT(1)), "%s: [0,0]: load_range", F);
	ok(mt_height(&t) == 1 && mt_count(&t) == 1, "%s: [0,0]: height 1, one entry", F);
	ok(mt_next(&t, 0, 0, &r) && range_is(&r, 0, 0, ENT(1)) && !mt_next(&t, 1, MAX, &r),
	   "%s: [0,0]: next(0, 0) finds it, next(1, MAX) does not", F);
	ok(mt_prev(&t, 0, 0, &r) && range_is(&r, 0, 0, ENT(1)) && mt_prev(&t, MAX, 0, &r) &&
	       !mt_prev(&t, MAX, 1, &r),
	   "%s: [0,0]: prev at 0 finds it; prev down to 1 does not", F);
	ok(mt_gap_lowest(&t, 0, MAX, 1, &s) == 0 && s == 1, "%s: [0,0]: lowest gap starts at 1", F);
	ok(mt_gap_highest(&t, 0, 0, 1, &s) == -EBUSY && mt_gap_lowest(&t, 0, 0, 1, &s) == -EBUSY,
	   "%s: [0,0]: no gap inside [0,0]", F);
	ok(mt_gap_highest(&t, 0, MAX, MAX, &s) == 0 && s == 1 &&
	       mt_gap_lowest(&t, 0, MAX, MAX, &s) == 0 && s == 1,
	   "%s: [0,0]: the gap [1,MAX] has size ULONG_MAX", F);
	agree(&t, &m, "[0,0]");
	int err = 7;
	void *e = mt_erase(&t, 0, &err);
	ok(e == ENT(1) && mt_empty(&t) && mt_height(&t) == 0 && t.nodes == 0 && mt_count(&t) == 0,
	   "%s: erasing the only entry empties the tree (height %u, %zu nodes)", F, mt_height(&t),
	   t.nodes);
	ok(err == 0, "%s: a successful erase sets *err to 0 (%d)", F, err);
	model_store(&m, 0, 0, NULL);
	agree(&t, &m, "after erasing [0,0]");
	mt_destroy(&t);
	model_free(&m);
}

static void test_everything(void)
{
	struct mtree t;
	struct model m;
	struct mt_range r;
	unsigned long s = 0;
	model_init(&m);
	mt_init(&t, FL);
	ok(mt_store(&t, 0, MAX, ENT(1)) == 0, "%s: store [0,ULONG_MAX]", F);
	model_store(&m, 0, MAX, ENT(1));
	ok(mt_load(&t, 0) == ENT(1) && mt_load(&t, MAX) == ENT(1) && mt_load(&t, 12345) == ENT(1),
	   "%s: [0,MAX]: every index loads it", F);
	ok(mt_load_range(&t, 77, &r) && range_is(&r, 0, MAX, ENT(1)) && mt_next(&t, 5, 10, &r) &&
	       range_is(&r, 0, MAX, ENT(1)) && mt_prev(&t, 5, 3, &r) &&
	       range_is(&r, 0, MAX, ENT(1)),
	   "%s: [0,MAX]: load_range/next/prev report the whole range", F);
	ok(mt_gap_lowest(&t, 0, MAX, 1, &s) == -EBUSY &&
	       mt_gap_highest(&t, 0, MAX, 1, &s) == -EBUSY,
	   "%s: [0,MAX]: no gap", F);
	ok(mt_insert(&t, 5, 5, ENT(2)) == -EEXIST && mt_load(&t, 5) == ENT(1),
	   "%s: [0,MAX]: insert -EEXIST", F);
	ok(mt_store(&t, 10, 20, ENT(2)) == 0, "%s: store [10,20] inside [0,MAX]", F);
	model_store(&m, 10, 20, ENT(2));
	ok(mt_count(&t) == 3 && mt_load_range(&t, 0, &r) && range_is(&r, 0, 9, ENT(1)) &&
	       mt_load_range(&t, 21, &r) && range_is(&r, 21, MAX, ENT(1)),
	   "%s: the store split [0,MAX] into three", F);
	agree(&t, &m, "[0,MAX] split");
	ok(mt_erase(&t, 15, NULL) == ENT(2) && mt_load(&t, 15) == NULL && mt_count(&t) == 2,
	   "%s: erase the middle (err NULL allowed)", F);
	model_store(&m, 10, 20, NULL);
	ok(mt_gap_lowest(&t, 0, MAX, 11, &s) == 0 && s == 10 &&
	       mt_gap_lowest(&t, 0, MAX, 12, &s) == -EBUSY &&
	       mt_gap_highest(&t, 0, MAX, 11, &s) == 0 && s == 10,
	   "%s: the hole [10,20] is exactly 11 long", F);
	agree(&t, &m, "hole in [0,MAX]");
	ok(mt_store(&t, 0, MAX, NULL) == 0 && mt_empty(&t) && mt_height(&t) == 0,
	   "%s: NULL store over [0,MAX] empties the tree", F);
	model_store(&m, 0, MAX, NULL);
	agree(&t, &m, "after NULL [0,MAX]");
	mt_destroy(&t);
	model_free(&m);
}

static void test_top(void)
{
	struct mtree t;
	struct model m;
	struct mt_range r;
	unsigned long s = 0;
	struct mt_cursor c;
	model_init(&m);
	mt_init(&t, FL);
	ok(mt_store(&t, MAX, MAX, ENT(3)) == 0 && mt_store(&t, 0, 0, ENT(1)) == 0 &&
	       mt_store(&t, MAX - 2 * PAGE + 1, MAX - PAGE, ENT(2)) == 0,
	   "%s: store [0,0], [MAX-8191,MAX-4096], [MAX,MAX]", F);
	model_store(&m, MAX, MAX, ENT(3));
	model_store(&m, 0, 0, ENT(1));
	model_store(&m, MAX - 2 * PAGE + 1, MAX - PAGE, ENT(2));
	agree(&t, &m, "ranges at both ends");
	ok(mt_load(&t, MAX) == ENT(3) && mt_load(&t, MAX - 1) == NULL &&
	       mt_load(&t, MAX - PAGE) == ENT(2),
	   "%s: loads at the top", F);
	ok(mt_next(&t, MAX, MAX, &r) && range_is(&r, MAX, MAX, ENT(3)) &&
	       mt_next(&t, MAX - PAGE + 1, MAX, &r) && range_is(&r, MAX, MAX, ENT(3)),
	   "%s: next at ULONG_MAX", F);
	ok(mt_prev(&t, MAX - 1, 0, &r) && range_is(&r, MAX - 2 * PAGE + 1, MAX - PAGE, ENT(2)) &&
	       mt_prev(&t, 0, 0, &r) && range_is(&r, 0, 0, ENT(1)) && !mt_prev(&t, 0, 1, &r),
	   "%s: prev below ULONG_MAX and at 0", F);
	ok(mt_gap_highest(&t, 0, MAX, 1, &s) == 0 && s == MAX - 1 &&
	       mt_gap_highest(&t, 0, MAX, PAGE - 1, &s) == 0 && s == MAX - PAGE + 1 &&
	       mt_gap_highest(&t, 0, MAX, PAGE, &s) == 0 && s == MAX - 3 * PAGE + 1,
	   "%s: highest gaps below the top (%#lx)", F, s);
	ok(mt_gap_lowest(&t, MAX - PAGE, MAX, PAGE, &s) == -EBUSY &&
	       mt_gap_lowest(&t, MAX - PAGE, MAX, PAGE - 1, &s) == 0 && s == MAX - PAGE + 1,
	   "%s: lowest gap just under ULONG_MAX (%#lx)", F, s);
	/* forward walk past ULONG_MAX must stop, not wrap to [0,0] */
	mtc_init(&c, &t, MAX - PAGE + 1);
	void *a = mtc_next(&c, MAX), *b = mtc_next(&c, MAX), *d = mtc_next(&c, MAX);
	ok(a == ENT(3) && b == NULL && d == NULL, "%s: a cursor stops after ULONG_MAX (%p %p %p)",
	   F, a, b, d);
	/* ... also when the tree was written after the last entry was returned */
	mtc_init(&c, &t, MAX - PAGE + 1);
	a = mtc_next(&c, MAX);
	mt_store(&t, 0x1000, 0x1fff, ENT(4));
	b = mtc_next(&c, MAX);
	mt_store(&t, 0x1000, 0x1fff, NULL);
	d = mtc_next(&c, MAX);
	ok(a == ENT(3) && b == NULL && d == NULL,
	   "%s: a cursor past ULONG_MAX stays done across writes (%p %p %p)", F, a, b, d);
	mtc_init(&c, &t, 0);
	a = mtc_next(&c, MAX);
	mt_store(&t, 0x1000, 0x1fff, ENT(4));
	b = mtc_prev(&c, 0);
	mt_store(&t, 0x1000, 0x1fff, NULL);
	d = mtc_prev(&c, 0);
	ok(a == ENT(1) && b == NULL && d == NULL,
	   "%s: mtc_prev below [0,0] finds nothing across writes (%p %p %p)", F, a, b, d);
	/* backward walk past 0 must stop, not wrap to [MAX,MAX] */
	mtc_init(&c, &t, PAGE);
	a = mtc_prev(&c, 0);
	b = mtc_prev(&c, 0);
	d = mtc_prev(&c, 0);
	ok(a == ENT(1) && b == NULL && d == NULL, "%s: a cursor stops before 0 (%p %p %p)", F, a, b,
	   d);
	/* the whole walk in both directions */
	void *fw[4] = {0}, *bw[4] = {0};
	int nf = 0, nb = 0;
	void *e;
	mt_for_each(&t, &c, e, 0, MAX) if (nf < 4) fw[nf++] = e;
	mtc_init(&c, &t, MAX);
	while ((e = mtc_prev(&c, 0)) && nb < 4)
		bw[nb++] = e;
	ok(nf == 3 && fw[0] == ENT(1) && fw[1] == ENT(2) && fw[2] == ENT(3) && nb == 3 &&
	       bw[0] == ENT(3) && bw[1] == ENT(2) && bw[2] == ENT(1),
	   "%s: full walks forwards and backwards (%d, %d entries)", F, nf, nb);
	ok(mt_erase(&t, MAX, NULL) == ENT(3) && mt_load(&t, MAX) == NULL, "%s: erase [MAX,MAX]", F);
	model_store(&m, MAX, MAX, NULL);
	ok(mt_gap_highest(&t, 0, MAX, PAGE, &s) == 0 && s == MAX - PAGE + 1,
	   "%s: the top page is free again (%#lx)", F, s);
	agree(&t, &m, "after erasing the top");
	mt_destroy(&t);
	model_free(&m);
}

static void test_adjacent_and_split(void)
{
	struct mtree t;
	struct model m;
	struct mt_range r;
	model_init(&m);
	mt_init(&t, FL);
	int rc = 0;
	for (int i = 1; i <= 3; i++)
		rc |= mt_store(&t, i * 10, i * 10 + 9, ENT(i));
	for (int i = 1; i <= 3; i++)
		model_store(&m, i * 10, i * 10 + 9, ENT(i));
	ok(rc == 0 && mt_count(&t) == 3, "%s: adjacent ranges [10,19][20,29][30,39]", F);
	ok(mt_load(&t, 19) == ENT(1) && mt_load(&t, 20) == ENT(2) && mt_load(&t, 39) == ENT(3) &&
	       mt_load(&t, 40) == NULL && mt_load(&t, 9) == NULL,
	   "%s: adjacent: loads at every boundary", F);
	ok(mt_insert(&t, 29, 30, ENT(9)) == -EEXIST && mt_insert(&t, 40, 40, ENT(4)) == 0 &&
	       mt_insert(&t, 9, 9, ENT(5)) == 0,
	   "%s: insert across a boundary fails, touching ones succeed", F);
	model_store(&m, 40, 40, ENT(4));
	model_store(&m, 9, 9, ENT(5));
	agree(&t, &m, "adjacent");
	ok(mt_erase(&t, 25, NULL) == ENT(2) && mt_load(&t, 20) == NULL && mt_load(&t, 29) == NULL &&
	       mt_load(&t, 19) == ENT(1) && mt_load(&t, 30) == ENT(3),
	   "%s: erasing the middle one leaves its neighbours", F);
	model_store(&m, 20, 29, NULL);
	agree(&t, &m, "adjacent minus middle");

	/* one into three */
	ok(mt_store(&t, 100, 199, ENT(10)) == 0 && mt_store(&t, 120, 129, ENT(11)) == 0,
	   "%s: store [120,129] inside [100,199]", F);
	model_store(&m, 100, 199, ENT(10));
	model_store(&m, 120, 129, ENT(11));
	ok(mt_load_range(&t, 100, &r) && range_is(&r, 100, 119, ENT(10)) &&
	       mt_load_range(&t, 125, &r) && range_is(&r, 120, 129, ENT(11)) &&
	       mt_load_range(&t, 199, &r) && range_is(&r, 130, 199, ENT(10)),
	   "%s: the overwrite split one range into three", F);
	ok(mt_store(&t, 150, 159, NULL) == 0 && mt_load(&t, 155) == NULL &&
	       mt_load_range(&t, 149, &r) && range_is(&r, 130, 149, ENT(10)) &&
	       mt_load_range(&t, 160, &r) && range_is(&r, 160, 199, ENT(10)),
	   "%s: a NULL store inside a range erases just that part", F);
	model_store(&m, 150, 159, NULL);
	ok(mt_erase(&t, 135, NULL) == ENT(10) && mt_load(&t, 165) == ENT(10) &&
	       mt_load(&t, 105) == ENT(10),
	   "%s: erase removes only the piece containing the index", F);
	model_store(&m, 130, 149, NULL);
	agree(&t, &m, "splits");

	/* a store spanning many entries */
	for (unsigned long i = 0; i < 300; i++) {
		rc |= mt_store(&t, 1000 + i * 10, 1000 + i * 10 + 4, ENT(100 + i));
		model_store(&m, 1000 + i * 10, 1000 + i * 10 + 4, ENT(100 + i));
	}
	agree(&t, &m, "300 more ranges");
	ok(rc == 0 && mt_store(&t, 1052, 3892, ENT(999)) == 0,
	   "%s: store [1052,3892] over ~285 entries", F);
	model_store(&m, 1052, 3892, ENT(999));
	ok(mt_load_range(&t, 1051, &r) && range_is(&r, 1050, 1051, ENT(105)) &&
	       mt_load_range(&t, 3893, &r) && range_is(&r, 3893, 3894, ENT(389)) &&
	       mt_load_range(&t, 2000, &r) && range_is(&r, 1052, 3892, ENT(999)) &&
	       mt_count(&t) == 25,
	   "%s: the spanning store truncated its neighbours", F);
	agree(&t, &m, "spanning store");
	mt_destroy(&t);
	model_free(&m);
}

/* heights 1..4: append VMA-like ranges and follow the height */
static void test_heights(void)
{
	struct mtree t;
	struct model m;
	unsigned long id = 1;
	unsigned internal = FL & MT_FLAG_ALLOC_RANGE ? T_ARANGE_SLOTS : T_RANGE_SLOTS;
	model_init(&m);
	mt_init(&t, FL);
	bool monotone = true, bound = true;
	unsigned prev = 0;
	size_t first_at[6] = {0};
	unsigned long a = 0x10000;
	for (size_t n = 1; mt_height(&t) < 5 && n < 200000; n++) {
		void *e = ENT(id++);
		unsigned long last = a + PAGE * (1 + n % 3) - 1;
		if (mt_store(&t, a, last, e))
			break;
		model_store(&m, a, last, e);
		a = last + 1 + PAGE;
		unsigned h = mt_height(&t);
		if (h < prev || h > prev + 1)
			monotone = false;
		if (h > prev && h < 6) {
			first_at[h] = n;
			if (!ok(check_tree(&t, &m, msg, sizeof(msg)) == 0,
				"%s: height %u first reached at %zu entries, tree valid", F, h, n))
				diag("%s", msg);
		}
		prev = h;
		/* a tree of height h holds at most 15 * internal^(h-1) leaf slots */
		size_t slots = model_slots(&m);
		double cap = T_LEAF_SLOTS;
		for (unsigned i = 1; i < h; i++)
			cap *= internal;
		if (slots > cap || (slots <= T_LEAF_SLOTS && h != 1))
			bound = false;
	}
	ok(monotone, "%s: appending grows the height one level at a time", F);
	ok(bound, "%s: height matches the documented fan-out (15 slots per leaf, %u per internal)",
	   F, internal);
	ok(first_at[1] && first_at[2] && first_at[3] && first_at[4],
	   "%s: heights 1..4 built (first at %zu, %zu, %zu, %zu entries)", F, first_at[1],
	   first_at[2], first_at[3], first_at[4]);
	/* in-order appends leave full nodes behind: near 15 slots per leaf */
	size_t leaves = 0;
	struct shape s = {0};
	shape_take(&t, &s);
	for (size_t i = 0; i < s.n; i++)
		leaves += s.v[i].leaf;
	double fill = (double)model_slots(&m) / (leaves * T_LEAF_SLOTS);
	ok(fill > 0.75, "%s: appended leaves are %.0f%% full (%zu leaves)", F, fill * 100, leaves);
	shape_free(&s);

	/* counter corruption must be noticed */
	t.entries++;
	int v1 = mt_validate(&t, msg, sizeof(msg));
	t.entries--;
	t.nodes++;
	int v2 = mt_validate(&t, msg, sizeof(msg));
	t.nodes--;
	t.height++;
	int v3 = mt_validate(&t, msg, sizeof(msg));
	t.height--;
	ok(v1 == -EUCLEAN && v2 == -EUCLEAN && v3 == -EUCLEAN && mt_validate(&t, NULL, 0) == 0,
	   "%s: mt_validate notices wrong entry, node and height counters (%d %d %d)", F, v1, v2,
	   v3);

	/* erase everything from the front: the height comes back down to 0 */
	bool down = true;
	prev = mt_height(&t);
	for (size_t i = 0; i < m.n; i++) {
		if (mt_erase(&t, m.r[i].first, NULL) != m.r[i].entry)
			down = false;
		unsigned h = mt_height(&t);
		if (h > prev)
			down = false;
		prev = h;
		if (i % 997 == 0 &&
		    check_structure(&t, &(struct model){m.r + i + 1, m.n - i - 1, 0}, msg,
				    sizeof(msg))) {
			down = false;
			diag("after erasing %zu: %s", i + 1, msg);
		}
	}
	ok(down && mt_empty(&t) && mt_height(&t) == 0 && t.nodes == 0,
	   "%s: erasing every entry in order shrinks the tree to empty (height %u)", F,
	   mt_height(&t));
	model_free(&m);
	mt_destroy(&t);
}

static void test_bad_input(void)
{
	struct mtree t;
	struct model m;
	unsigned long s = 0x55;
	void *old = ENT(77);
	model_init(&m);
	mt_init(&t, FL);
	mt_store(&t, 100, 199, ENT(1));
	model_store(&m, 100, 199, ENT(1));
	ok(mt_store(&t, 10, 9, ENT(2)) == -EINVAL && mt_store(&t, MAX, 0, ENT(2)) == -EINVAL,
	   "%s: store with first > last: -EINVAL", F);
	ok(mt_store(&t, 10, 9, NULL) == -EINVAL, "%s: NULL store with first > last: -EINVAL", F);
	ok(mt_insert(&t, 300, 299, ENT(2)) == -EINVAL, "%s: insert with first > last: -EINVAL", F);
	ok(mt_store(&t, 10, 20, (void *)0x1001) == -EINVAL &&
	       mt_store(&t, 10, 20, (void *)1) == -EINVAL &&
	       mt_insert(&t, 10, 20, (void *)0x3) == -EINVAL,
	   "%s: entries with the low bit set: -EINVAL", F);
	ok(mt_store(&t, 10, 20, (void *)2) == 0 && mt_load(&t, 15) == (void *)2 &&
	       mt_store(&t, 10, 20, (void *)(MAX - 1)) == 0 && mt_load(&t, 15) == (void *)(MAX - 1),
	   "%s: small and large even values are valid entries", F);
	model_store(&m, 10, 20, (void *)(MAX - 1));
	ok(mt_replace(&t, 150, NULL, &old) == -EINVAL && old == ENT(77) &&
	       mt_load(&t, 150) == ENT(1),
	   "%s: replace with NULL: -EINVAL, nothing changed", F);
	ok(mt_replace(&t, 150, (void *)0x11, &old) == -EINVAL && mt_load(&t, 150) == ENT(1),
	   "%s: replace with a low-bit entry: -EINVAL", F);
	ok(mt_replace(&t, 50, ENT(3), &old) == -ENOENT &&
	       mt_replace(&t, 200, ENT(3), NULL) == -ENOENT,
	   "%s: replace on an empty index: -ENOENT", F);
	ok(mt_replace(&t, 150, ENT(4), &old) == 0 && old == ENT(1) && mt_load(&t, 100) == ENT(4) &&
	       mt_load(&t, 199) == ENT(4),
	   "%s: replace swaps the entry of the whole range and returns the old one", F);
	model_store(&m, 100, 199, ENT(4));
	ok(mt_gap_lowest(&t, 0, MAX, 0, &s) == -EINVAL &&
	       mt_gap_highest(&t, 0, MAX, 0, &s) == -EINVAL,
	   "%s: gap search with size 0: -EINVAL", F);
	ok(mt_gap_lowest(&t, 10, 9, 1, &s) == -EINVAL &&
	       mt_gap_highest(&t, 10, 9, 1, &s) == -EINVAL,
	   "%s: gap search with min > max: -EINVAL", F);
	ok(s == 0x55, "%s: failed gap searches leave *start alone", F);
	ok(mt_gap_lowest(&t, 100, 199, 1, &s) == -EBUSY &&
	       mt_gap_highest(&t, 150, 250, 51, &s) == 0 && s == 200 &&
	       mt_gap_highest(&t, 150, 250, 52, &s) == -EBUSY &&
	       mt_gap_lowest(&t, 0, 99, 79, &s) == 0 && s == 21 &&
	       mt_gap_lowest(&t, 0, 99, 80, &s) == -EBUSY,
	   "%s: gap search bounds are inclusive and exact", F);
	struct mt_range r;
	ok(!mt_next(&t, 150, 149, &r) && !mt_prev(&t, 149, 150, &r),
	   "%s: next with index > max and prev with index < min find nothing", F);
	int err = 0;
	ok(mt_erase(&t, 50, &err) == NULL && err == 0,
	   "%s: erase of an empty index: NULL, no error", F);
	ok(mt_store(&t, 150, 160, NULL) == 0 && mt_load(&t, 155) == NULL &&
	       mt_load(&t, 149) == ENT(4) && mt_load(&t, 161) == ENT(4) && mt_count(&t) == 3,
	   "%s: storing NULL erases the range (documented)", F);
	model_store(&m, 150, 160, NULL);
	struct mt_cursor c;
	mtc_init(&c, &t, 0);
	void *e = mtc_next(&c, MAX);
	ok(e == (void *)(MAX - 1) && mtc_replace(&c, NULL) == -EINVAL &&
	       mtc_replace(&c, (void *)5) == -EINVAL && mt_load(&t, 10) == (void *)(MAX - 1),
	   "%s: mtc_replace with NULL or a low-bit entry: -EINVAL", F);
	ok(mtc_replace(&c, ENT(8)) == 0 && mt_load(&t, 20) == ENT(8) && mtc_next(&c, MAX) == ENT(4),
	   "%s: mtc_replace then continue the walk", F);
	model_store(&m, 10, 20, ENT(8));
	ok(mt_insert(&t, 500, 600, NULL) == -EINVAL && mt_load(&t, 550) == NULL,
	   "%s: insert of NULL: -EINVAL", F);
	/* the same pointer on neighbouring ranges stays two ranges */
	struct mt_range r1, r2;
	ok(mt_store(&t, 1000, 1099, ENT(50)) == 0 && mt_store(&t, 1100, 1199, ENT(50)) == 0 &&
	       mt_load_range(&t, 1050, &r1) && range_is(&r1, 1000, 1099, ENT(50)) &&
	       mt_load_range(&t, 1150, &r2) && range_is(&r2, 1100, 1199, ENT(50)),
	   "%s: neighbouring ranges with the same entry are not merged", F);
	model_store(&m, 1000, 1099, ENT(50));
	model_store(&m, 1100, 1199, ENT(50));
	/* mt_dump prints every entry */
	char *buf = NULL;
	size_t blen = 0;
	FILE *mf = open_memstream(&buf, &blen);
	mt_dump(&t, mf);
	fclose(mf);
	bool all = buf != NULL;
	for (size_t i = 0; all && i < m.n; i++) {
		char p[32];
		snprintf(p, sizeof(p), "%p", m.r[i].entry);
		all = strstr(buf, p) != NULL;
	}
	ok(all && blen > 0, "%s: mt_dump lists every entry (%zu bytes)", F, blen);
	free(buf);
	agree(&t, &m, "after bad input");
	mt_destroy(&t);
	model_free(&m);
}

/* cursors survive writes through the tree: they re-walk */
static void test_cursor_rewalk(void)
{
	struct mtree t;
	struct model m;
	unsigned long id = 1;
	model_init(&m);
	mt_init(&t, FL);
	build_vmas(&t, &m, 2000, 0x10000, 42, &id);
	struct mt_cursor c;
	void *e;
	size_t i = 0;
	bool good = true;
	mt_for_each(&t, &c, e, 0, MAX)
	{
		if (i >= m.n || e != m.r[i].entry) {
			good = false;
			break;
		}
		if (i % 100 == 50) {
			/* erase the next 30 entries and store 40 new ones after them:
			 * splits and merges under the cursor */
			size_t j = i + 1;
			for (size_t k = 0; k < 30 && j < m.n; k++) {
				mt_erase(&t, m.r[j].first, NULL);
				model_store(&m, m.r[j].first, m.r[j].last, NULL);
			}
			if (j + 5 < m.n) {
				unsigned long base = m.r[j + 5].last + 1;
				for (int k = 0; k < 40; k++) {
					void *ne = ENT(100000 + id++);
					if (!model_overlaps(&m, base + k, base + k) &&
					    mt_store(&t, base + k, base + k, ne) == 0)
						model_store(&m, base + k, base + k, ne);
				}
			}
		}
		i++;
	}
	ok(good && i == m.n, "%s: a cursor walk survives writes through the tree (%zu of %zu)", F,
	   i, m.n);
	agree(&t, &m, "after writes under a cursor");
	mt_destroy(&t);
	model_free(&m);
}

static int stop_at_third(const struct mt_node_info *info, void *ctx)
{
	(void)info;
	return ++*(int *)ctx == 3 ? 7 : 0;
}

/* introspection corner cases */
static void test_introspection(void)
{
	struct mtree t;
	unsigned long id = 1;
	mt_init(&t, FL);
	build_vmas(&t, NULL, 300, 0x10000, 3, &id);
	int seen = 0;
	int rc = mt_walk_nodes(&t, stop_at_third, &seen);
	ok(rc == 7 && seen == 3, "%s: mt_walk_nodes stops at the visitor's first non-zero (%d after %d)",
	   F, rc, seen);
	char small[16];
	memset(small, 'x', sizeof(small));
	t.entries += 5;
	int v1 = mt_validate(&t, NULL, 0);
	int v2 = mt_validate(&t, small, 6);
	t.entries -= 5;
	ok(v1 == -EUCLEAN && v2 == -EUCLEAN && small[5] == 0 && small[6] == 'x' && strlen(small) == 5,
	   "%s: mt_validate reports with no buffer and truncates into a small one", F);
	struct mt_cursor c;
	mtc_init(&c, &t, 0);
	ok(mtc_replace(&c, ENT(1)) == -ENOENT, "%s: mtc_replace before any step: -ENOENT", F);
	/* a cursor limited by max stops there and can go on with a larger max */
	mtc_init(&c, &t, 0);
	void *a = mtc_next(&c, 0x10000); /* the first VMA starts at 0x10000 */
	void *b = mtc_next(&c, 0x10000);
	void *d = mtc_next(&c, ULONG_MAX);
	struct mt_range r;
	bool two = mt_next(&t, c.cur.first, ULONG_MAX, &r) && r.entry == d;
	ok(a == ENT(1) && b == NULL && d == ENT(2) && two,
	   "%s: mtc_next(max) stops at max and resumes with a larger one (%p %p %p)", F, a, b, d);
	mt_destroy(&t);
}

/* whole-tree overwrites of a big tree: every node but one must go */
static void test_big_wipes(void)
{
	struct count_alloc ca;
	struct mtree t;
	struct model m;
	unsigned long id = 1;
	count_alloc_init(&ca, true);
	model_init(&m);
	mt_init_allocator(&t, FL, &ca.a);
	build_vmas(&t, &m, 20000, 0x10000, 7, &id);
	unsigned h = mt_height(&t);
	ok(mt_store(&t, 0, MAX, ENT(id)) == 0 && mt_count(&t) == 1 && mt_height(&t) == 1 &&
	       t.nodes == 1 && ca.live == t.nodes + t.nr_reserve && mt_load(&t, 0x20000) == ENT(id),
	   "%s: [0,MAX] over 20000 entries (height %u) leaves one leaf (%zu nodes, %zu live)", F, h,
	   t.nodes, ca.live);
	model_store(&m, 0, MAX, ENT(id++));
	agree(&t, &m, "after storing [0,MAX] over a big tree");
	mt_destroy(&t);
	model_free(&m);
	model_init(&m);

	mt_init_allocator(&t, FL, &ca.a);
	build_vmas(&t, &m, 20000, 0x10000, 8, &id);
	ok(mt_store(&t, 0, MAX, NULL) == 0 && mt_empty(&t) && t.nodes == 0 && mt_count(&t) == 0 &&
	       ca.live == t.nr_reserve,
	   "%s: NULL over [0,MAX] of 20000 entries empties the tree (%zu live)", F, ca.live);
	model_free(&m);
	model_init(&m);
	build_vmas(&t, &m, 20000, 0x10000, 9, &id);
	/* from the middle of the 5000th entry to the top */
	unsigned long mid = m.r[5000].first + PAGE;
	bool r1 = mt_store(&t, mid, MAX, ENT(id)) == 0;
	model_store(&m, mid, MAX, ENT(id++));
	unsigned long mid2 = m.r[100].last;
	bool r2 = mt_store(&t, 0, mid2, NULL) == 0;
	model_store(&m, 0, mid2, NULL);
	ok(r1 && r2 && mt_count(&t) == m.n,
	   "%s: [mid,MAX] and NULL [0,x] over a big tree (%zu left)", F, mt_count(&t));
	agree(&t, &m, "after cutting both ends of a big tree");
	ok(ca.live == t.nodes + t.nr_reserve, "%s: allocator live %zu == nodes %zu + reserve %u", F,
	   ca.live, t.nodes, t.nr_reserve);
	mt_destroy(&t);
	ok(ca.live == 0 && ca.bad_frees == 0, "%s: big wipes leak nothing (%zu live)", F, ca.live);
	model_free(&m);
	count_alloc_fini(&ca);
}

int main(void)
{
	plan_no_plan();
	for (int f = 0; f < 2; f++) {
		FL = f ? MT_FLAG_ALLOC_RANGE : 0;
		F = f ? "ALLOC_RANGE" : "plain";
		test_empty();
		test_zero();
		test_everything();
		test_top();
		test_adjacent_and_split();
		test_heights();
		test_bad_input();
		test_cursor_rewalk();
		test_big_wipes();
		test_introspection();
	}
	return tap_exit();
}
