/*
 * mtree_gap.c - gap search: the lowest or highest empty range of a given
 * size inside [min, max] (what get_unmapped_area() needs).
 *
 * Empty ranges are maximal NULL leaf slots (mtree_write.c keeps them so),
 * so every gap lives in exactly one slot. In an MT_FLAG_ALLOC_RANGE tree
 * each internal slot carries the largest gap below it; the search skips
 * subtrees whose largest gap is too small and only backtracks on the two
 * boundary paths where the window [min, max] cuts a gap short: O(log n).
 * Without gap metadata the search visits every slot in the window: O(n).
 */
#include <errno.h>

#include "mtree_node.h"

struct gap_query {
	unsigned long min, max, size;
	bool highest;
	bool restart; /* met a retired node (RCU mode): search again */
	unsigned long start;
};

/* Does [s, e] ∩ [min, max] hold size indices? Sets q->start if so. */
static bool gap_fits(struct gap_query *q, unsigned long s, unsigned long e)
{
	if (s < q->min)
		s = q->min;
	if (e > q->max)
		e = q->max;
	if (s > e || e - s < q->size - 1)
		return false;
	q->start = q->highest ? e - (q->size - 1) : s;
	return true;
}

static bool gap_search(struct gap_query *q, const struct mt_node *n, unsigned long min,
		       unsigned long max)
{
	unsigned cnt = n->end + 1;

	for (unsigned k = 0; k < cnt; k++) {
		unsigned i = q->highest ? cnt - 1 - k : k;
		unsigned long s = mt_slot_min(n, i, min), e = mt_slot_max(n, i, max);
		if (e < q->min) {
			if (q->highest)
				break;
			continue;
		}
		if (s > q->max) {
			if (q->highest)
				continue;
			break;
		}
		if (mt_is_leaf(n)) {
			bool empty = !MT_READ(((struct mt_node *)n)->r.slot[i]);
			if (mt_node_dead(n))
				return q->restart = true;
			if (empty && gap_fits(q, s, e))
				return true;
			continue;
		}
		if (n->type == MT_ARANGE &&
		    __atomic_load_n(&n->a.gap[i], __ATOMIC_RELAXED) < q->size)
			continue;
		const struct mt_node *child = MT_READ(mt_cslots(n)[i]);
		if (mt_node_dead(n))
			return q->restart = true;
		if (gap_search(q, child, s, e))
			return true;
	}
	return false;
}

static int gap_find(const struct mtree *mt, unsigned long min, unsigned long max,
		    unsigned long size, unsigned long *start, bool highest)
{
	struct gap_query q = {.min = min, .max = max, .size = size, .highest = highest};

	if (!size || min > max || !start)
		return -EINVAL;
	for (;;) {
		const struct mt_node *root = MT_READ(((struct mtree *)mt)->root);
		if (!root) {
			/* all empty */
			if (!gap_fits(&q, 0, ULONG_MAX))
				return -EBUSY;
			*start = q.start;
			return 0;
		}
		bool ok = gap_search(&q, root, 0, ULONG_MAX);
		/* a result read from a retired node may be stale: look again */
		if (q.restart) {
			q.restart = false;
			continue;
		}
		if (!ok)
			return -EBUSY;
		*start = q.start;
		return 0;
	}
}

int mt_gap_lowest(const struct mtree *mt, unsigned long min, unsigned long max,
		  unsigned long size, unsigned long *start)
{
	return gap_find(mt, min, max, size, start, false);
}

int mt_gap_highest(const struct mtree *mt, unsigned long min, unsigned long max,
		   unsigned long size, unsigned long *start)
{
	return gap_find(mt, min, max, size, start, true);
}
