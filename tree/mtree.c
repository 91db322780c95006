/*
 * mtree.c - the maple tree's life cycle and read side: init/destroy, point
 * lookups, next/prev searches, in-place replace and cursors.
 *
 * Every read descends from the root, choosing at each node the first slot
 * whose pivot is >= the index (a linear scan of at most 14 pivots that
 * stays within the node's first two cache lines). In RCU mode a reader that
 * meets a node the writer has retired (MT_NODE_DEAD) starts again from the
 * root: the dead node's contents were true once but may no longer be.
 *
 * Writes live in mtree_write.c, dup in mtree_dup.c, gap search in
 * mtree_gap.c, validation in mtree_check.c.
 */
#include <errno.h>
#include <string.h>

#include "mtree_node.h"

void mt_init_allocator(struct mtree *mt, unsigned flags, const struct mt_allocator *alloc)
{
	memset(mt, 0, sizeof(*mt));
	mt->flags = flags;
	mt->alloc = alloc ? alloc : &mt_default_allocator;
}

void mt_init(struct mtree *mt, unsigned flags) { mt_init_allocator(mt, flags, NULL); }

void mt_destroy(struct mtree *mt)
{
	const struct mt_allocator *alloc = mt->alloc;
	unsigned flags = mt->flags;
	struct mt_node *root = mt->root;

	if (root) {
		MT_PUBLISH(mt->root, NULL);
		mt_free_subtree(mt, root, (mt->flags & MT_FLAG_RCU) != 0);
	}
	mt_retire_flush(mt, true);
	while (mt->reserve) {
		struct mt_node *n = mt->reserve;
		mt->reserve = n->parent;
		mt_node_free(mt, n);
	}
	mt_init_allocator(mt, flags, alloc);
}

size_t mt_bytes(const struct mtree *mt) { return mt->nodes * MT_NODE_SIZE; }

/*
 * Descend to the leaf covering index. Returns the leaf (NULL for an empty
 * tree) with its slot and the range it covers. Restarts when it meets a
 * dead node (only possible in RCU mode).
 */
static struct mt_node *descend(const struct mtree *mt, unsigned long index, unsigned *slotp,
			       unsigned long *minp, unsigned long *maxp)
{
restart:;
	struct mt_node *n = MT_READ(((struct mtree *)mt)->root);
	unsigned long min = 0, max = ULONG_MAX;

	if (!n)
		return NULL;
	for (;;) {
		unsigned i = mt_slot_for(n, index);
		unsigned long smin = mt_slot_min(n, i, min), smax = mt_slot_max(n, i, max);
		if (mt_is_leaf(n)) {
			if (mt_node_dead(n))
				goto restart;
			*slotp = i;
			*minp = min;
			*maxp = max;
			return n;
		}
		struct mt_node *child = MT_READ(mt_slots(n)[i]);
		if (mt_node_dead(n))
			goto restart;
		n = child;
		min = smin;
		max = smax;
	}
}

void *mt_lookup_slot(const struct mtree *mt, unsigned long index, unsigned long *first,
		     unsigned long *last)
{
	unsigned i;
	unsigned long min, max;
	struct mt_node *leaf;

restart:
	leaf = descend(mt, index, &i, &min, &max);
	if (!leaf) {
		*first = 0;
		*last = ULONG_MAX;
		return NULL;
	}
	void *entry = MT_READ(mt_slots(leaf)[i]);
	*first = mt_slot_min(leaf, i, min);
	*last = mt_slot_max(leaf, i, max);
	if (mt_node_dead(leaf))
		goto restart;
	return entry;
}

void *mt_load(const struct mtree *mt, unsigned long index)
{
	unsigned long first, last;
	return mt_lookup_slot(mt, index, &first, &last);
}

bool mt_load_range(const struct mtree *mt, unsigned long index, struct mt_range *out)
{
	unsigned long first, last;
	void *entry = mt_lookup_slot(mt, index, &first, &last);

	if (!entry)
		return false;
	out->first = first;
	out->last = last;
	out->entry = entry;
	return true;
}

bool mt_next(const struct mtree *mt, unsigned long index, unsigned long max, struct mt_range *out)
{
	while (index <= max) {
		unsigned i;
		unsigned long lmin, lmax;
		struct mt_node *leaf = descend(mt, index, &i, &lmin, &lmax);
		if (!leaf)
			return false;
		void **slot = mt_slots(leaf);
		for (; i <= leaf->end; i++) {
			unsigned long s = mt_slot_min(leaf, i, lmin);
			void *e;
			if (s > max)
				return false;
			e = MT_READ(slot[i]);
			if (e) {
				out->first = s;
				out->last = mt_slot_max(leaf, i, lmax);
				out->entry = e;
				if (mt_node_dead(leaf))
					break; /* look again from the root */
				return true;
			}
		}
		if (i <= leaf->end)
			continue; /* dead leaf: same index again */
		if (lmax == ULONG_MAX)
			return false;
		index = lmax + 1;
	}
	return false;
}

bool mt_prev(const struct mtree *mt, unsigned long index, unsigned long min, struct mt_range *out)
{
	while (index >= min) {
		unsigned i;
		unsigned long lmin, lmax;
		struct mt_node *leaf = descend(mt, index, &i, &lmin, &lmax);
		bool dead = false;
		if (!leaf)
			return false;
		void **slot = mt_slots(leaf);
		for (;; i--) {
			unsigned long e_last = mt_slot_max(leaf, i, lmax);
			void *e;
			if (e_last < min)
				return false;
			e = MT_READ(slot[i]);
			if (e) {
				out->first = mt_slot_min(leaf, i, lmin);
				out->last = e_last;
				out->entry = e;
				if (mt_node_dead(leaf)) {
					dead = true;
					break;
				}
				return true;
			}
			if (i == 0)
				break;
		}
		if (dead)
			continue;
		if (lmin == 0)
			return false;
		index = lmin - 1;
	}
	return false;
}

int mt_replace(struct mtree *mt, unsigned long index, void *entry, void **old)
{
	unsigned i;
	unsigned long lmin, lmax;
	struct mt_node *leaf;

	if (!entry || ((uintptr_t)entry & 1))
		return -EINVAL;
	leaf = descend(mt, index, &i, &lmin, &lmax);
	if (!leaf || !mt_slots(leaf)[i])
		return -ENOENT;
	if (old)
		*old = mt_slots(leaf)[i];
	MT_PUBLISH(mt_slots(leaf)[i], entry);
	return 0;
}

/* ---- cursors ---- */

void mtc_init(struct mt_cursor *c, struct mtree *mt, unsigned long index)
{
	memset(c, 0, sizeof(*c));
	c->mt = mt;
	c->index = index;
}

/* Position c on the leaf covering c->index. */
static bool cursor_seek(struct mt_cursor *c)
{
	unsigned i;
	c->node = descend(c->mt, c->index, &i, &c->min, &c->max);
	c->slot = i;
	c->seq = __atomic_load_n(&c->mt->seq, __ATOMIC_RELAXED);
	return c->node != NULL;
}

void *mtc_next(struct mt_cursor *c, unsigned long max)
{
	if (c->done)
		return NULL;
	for (;;) {
		if (c->index > max)
			return NULL;
		if (!c->node || c->seq != __atomic_load_n(&c->mt->seq, __ATOMIC_RELAXED) ||
		    mt_node_dead(c->node)) {
			if (!cursor_seek(c)) {
				c->done = true;
				return NULL;
			}
		}
		struct mt_node *n = c->node;
		void **slot = mt_slots(n);
		for (unsigned i = c->slot; i <= n->end; i++) {
			unsigned long s = mt_slot_min(n, i, c->min);
			unsigned long e = mt_slot_max(n, i, c->max);
			void *entry;
			if (e < c->index)
				continue;
			if (s > max)
				return NULL;
			entry = MT_READ(slot[i]);
			if (!entry)
				continue;
			if (mt_node_dead(n))
				break;
			c->cur.first = s;
			c->cur.last = e;
			c->cur.entry = entry;
			c->slot = i + 1;
			if (e == ULONG_MAX)
				c->done = true;
			else
				c->index = e + 1;
			return entry;
		}
		if (mt_node_dead(n)) {
			c->node = NULL;
			continue;
		}
		if (c->max == ULONG_MAX) {
			c->done = true;
			return NULL;
		}
		c->index = c->max + 1;
		c->node = NULL;
	}
}

void *mtc_prev(struct mt_cursor *c, unsigned long min)
{
	unsigned long from;

	if (c->cur.entry) {
		if (c->cur.first == 0 || c->cur.first - 1 < min)
			return NULL;
		from = c->cur.first - 1;
	} else {
		from = c->index;
	}
	for (;;) {
		/* stay on the leaf while it covers `from` (a root descent only
		 * per leaf, as in mtc_next) */
		if (!c->node || c->seq != __atomic_load_n(&c->mt->seq, __ATOMIC_RELAXED) ||
		    mt_node_dead(c->node) || from < c->min || from > c->max) {
			c->index = from;
			if (!cursor_seek(c))
				return NULL;
		}
		struct mt_node *n = c->node;
		void **slot = mt_slots(n);
		unsigned i = 0;
		while (i < n->end && mt_slot_max(n, i, c->max) < from)
			i++;
		for (;; i--) {
			unsigned long e = mt_slot_max(n, i, c->max);
			void *entry;
			if (e < min)
				return NULL;
			entry = MT_READ(slot[i]);
			if (entry) {
				if (mt_node_dead(n))
					break;
				c->cur.first = mt_slot_min(n, i, c->min);
				c->cur.last = e;
				c->cur.entry = entry;
				c->slot = i + 1;
				c->done = e == ULONG_MAX;
				c->index = e + 1;
				return entry;
			}
			if (i == 0)
				break;
		}
		if (mt_node_dead(n)) {
			c->node = NULL;
			continue;
		}
		if (c->min == 0 || c->min - 1 < min)
			return NULL;
		from = c->min - 1;
	}
}

int mtc_replace(struct mt_cursor *c, void *entry)
{
	if (!entry || ((uintptr_t)entry & 1))
		return -EINVAL;
	if (!c->cur.entry)
		return -ENOENT;
	if (c->node && c->seq == c->mt->seq && c->slot > 0) {
		void **slot = mt_slots(c->node);
		if (slot[c->slot - 1] == c->cur.entry) {
			MT_PUBLISH(slot[c->slot - 1], entry);
			c->cur.entry = entry;
			return 0;
		}
	}
	int ret = mt_replace(c->mt, c->cur.first, entry, NULL);
	if (!ret)
		c->cur.entry = entry;
	return ret;
}
