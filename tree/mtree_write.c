/*
 * mtree_write.c - the maple tree's write side: store, insert, erase.
 *
 * Every write is one range store ([first, last] = entry, NULL to erase) and
 * runs in three steps:
 *
 * 1. Find the leaf L holding `first` and the leaf R holding `last`. A NULL
 *    store is first widened over the empty ranges next to it, so empty
 *    ranges stay maximal: no two neighbouring leaf slots, even across
 *    leaves, are ever both NULL, and every gap lives in exactly one slot
 *    (which is what makes the per-subtree gap metadata exact).
 *
 * 2. Write L's slots before `first`, the new range, and R's slots after
 *    `last` into a "big node" (a flat list of items). Leaves strictly
 *    between L and R are dropped whole.
 *
 * 3. Rebuild bottom-up. At each level the run of nodes [lo..hi] being
 *    replaced and the big node of their new contents are known. If the
 *    contents are too few (less than half a node, and this is neither the
 *    root nor the right-most node of its level) the neighbouring node at the
 *    same level is pulled in. The contents are cut into 1-3 fresh nodes (the
 *    right-most node of a level is cut left-full, so that appending in
 *    address order leaves full nodes behind). Those nodes, with the kept
 *    slots of the parents left of lo and right of hi, form the big node of
 *    the next level up. The climb stops when one node replaces one node
 *    (one pointer store publishes it) or at the root.
 *
 * Outside RCU mode a level where one node replaces one node is rewritten in
 * place instead, which is the common case of a store inside a leaf that has
 * room: no allocation, no pointer publication.
 *
 * Before the first allocation the writer reserves the worst case (3 nodes a
 * level and a new root), so -ENOMEM is returned before anything changed.
 * Replaced nodes are freed (retired after a grace period in RCU mode) only
 * once the new nodes are published.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mtree_node.h"

struct mt_item {
	unsigned long last; /* last index covered by this slot */
	void *slot;	    /* entry, NULL, or child node */
	unsigned long gap;  /* children of arange nodes: largest gap below */
};

#define MT_BIG_ITEMS (4 * MT_RANGE_SLOTS)

struct mt_big {
	unsigned n;
	struct mt_item it[MT_BIG_ITEMS];
};

struct mt_wr {
	struct mtree *mt;
	bool rcu, arange;
	long delta; /* change in occupied ranges */
	unsigned nmoved, ninterior;
	/* nodes whose contents a rebuild took over: freed after publication */
	struct mt_node *moved[4 * MT_MAX_HEIGHT];
	/* subtrees wholly inside the stored range: freed after publication */
	struct mt_node *interior[2 * MT_RANGE_SLOTS * MT_MAX_HEIGHT];
};

static void big_push(struct mt_big *b, unsigned long last, void *slot, unsigned long gap)
{
	if (b->n >= MT_BIG_ITEMS)
		abort(); /* cannot happen: bounded by 2 nodes + 3 items */
	b->it[b->n++] = (struct mt_item){last, slot, gap};
}

/* ---- node reserve ---- */

static void reserve_release(struct mtree *mt)
{
	while (mt->reserve) {
		struct mt_node *n = mt->reserve;
		mt->reserve = n->parent;
		mt_node_free(mt, n);
	}
	mt->nr_reserve = 0;
}

static int reserve(struct mtree *mt, unsigned need)
{
	while (mt->nr_reserve < need) {
		void *buf[64];
		unsigned want = need - mt->nr_reserve, got = 0;
		if (want > 64)
			want = 64;
		if (mt->alloc->alloc_bulk) {
			got = mt->alloc->alloc_bulk(mt->alloc->ctx, want, buf);
		} else {
			while (got < want && (buf[got] = mt->alloc->alloc(mt->alloc->ctx)))
				got++;
		}
		for (unsigned i = 0; i < got; i++) {
			struct mt_node *n = buf[i];
			n->parent = mt->reserve;
			mt->reserve = n;
			mt->nr_reserve++;
		}
		if (got < want) {
			reserve_release(mt);
			return -ENOMEM;
		}
	}
	return 0;
}

static struct mt_node *take(struct mtree *mt)
{
	struct mt_node *n = mt->reserve;
	if (!n)
		abort(); /* the reserve was sized for the worst case */
	mt->reserve = n->parent;
	mt->nr_reserve--;
	memset(n, 0, sizeof(*n));
	mt->nodes++;
	return n;
}

/* ---- node helpers ---- */

unsigned long mt_node_max_gap(const struct mt_node *n, unsigned long min, unsigned long max)
{
	unsigned long m = 0;

	if (n->type == MT_ARANGE) {
		for (unsigned i = 0; i <= n->end; i++) {
			unsigned long g = __atomic_load_n(&n->a.gap[i], __ATOMIC_RELAXED);
			if (g > m)
				m = g;
		}
	} else if (n->type == MT_LEAF) {
		for (unsigned i = 0; i <= n->end; i++) {
			if (n->r.slot[i])
				continue;
			unsigned long g =
				mt_gap_size(mt_slot_min(n, i, min), mt_slot_max(n, i, max));
			if (g > m)
				m = g;
		}
	}
	return m;
}

static unsigned long node_min(const struct mt_node *n)
{
	for (; n->parent; n = n->parent)
		if (n->pslot)
			return mt_cpivots(n->parent)[n->pslot - 1] + 1;
	return 0;
}

static unsigned long node_max(const struct mt_node *n)
{
	for (; n->parent; n = n->parent)
		if (n->pslot < n->parent->end)
			return mt_cpivots(n->parent)[n->pslot];
	return ULONG_MAX;
}

/* The node next to n at the same depth, on the left (dir < 0) or right. */
static struct mt_node *level_neighbour(struct mt_node *n, int dir)
{
	unsigned depth = 0;

	for (struct mt_node *p = n; p->parent; p = p->parent, depth++) {
		struct mt_node *pp = p->parent;
		if (dir < 0 ? p->pslot == 0 : p->pslot == pp->end)
			continue;
		struct mt_node *c = mt_slots(pp)[p->pslot + dir];
		for (; depth; depth--)
			c = mt_slots(c)[dir < 0 ? c->end : 0];
		return c;
	}
	return NULL;
}

/* Write items into n (fresh or being rewritten in place). */
static void fill_node(struct mt_node *n, enum mt_type type, const struct mt_item *it, unsigned cnt)
{
	n->type = type;
	n->end = cnt - 1;
	memset(&n->r, 0, sizeof(n->r));
	unsigned long *piv = mt_pivots(n);
	void **slot = mt_slots(n);
	for (unsigned i = 0; i < cnt; i++) {
		if (i + 1 < cnt)
			piv[i] = it[i].last;
		slot[i] = it[i].slot;
		if (type != MT_LEAF) {
			struct mt_node *c = it[i].slot;
			c->parent = n;
			c->pslot = i;
			if (type == MT_ARANGE)
				n->a.gap[i] = it[i].gap;
		}
	}
}

/* Append n's slots to b; n covers [.., max]. */
static void big_append_node(struct mt_big *b, const struct mt_node *n, unsigned from, unsigned to,
			    unsigned long max)
{
	const unsigned long *piv = mt_cpivots(n);
	void *const *slot = mt_cslots(n);
	for (unsigned i = from; i <= to; i++)
		big_push(b, i < n->end ? piv[i] : max, slot[i],
			 n->type == MT_ARANGE ? n->a.gap[i] : 0);
}

static void gaps_up(struct mt_node *n, unsigned long gap)
{
	struct mt_node *p;

	while ((p = n->parent)) {
		if (p->a.gap[n->pslot] == gap)
			return;
		__atomic_store_n(&p->a.gap[n->pslot], gap, __ATOMIC_RELAXED);
		gap = mt_node_max_gap(p, 0, 0);
		n = p;
	}
}

static void mark_moved(struct mt_wr *w, struct mt_node *n)
{
	if (n->flags & MT_NODE_MOVED)
		return;
	__atomic_fetch_or(&n->flags, MT_NODE_MOVED, __ATOMIC_RELAXED);
	w->moved[w->nmoved++] = n;
}

static void unmark_moved(struct mt_wr *w, struct mt_node *n)
{
	__atomic_fetch_and(&n->flags, (uint8_t)~MT_NODE_MOVED, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < w->nmoved; i++)
		if (w->moved[i] == n)
			w->moved[i] = NULL;
}

static void drop_interior(struct mt_wr *w, struct mt_node *n)
{
	if (!(n->flags & MT_NODE_MOVED))
		w->interior[w->ninterior++] = n;
}

/* After publication: free what the write replaced. */
static void finish(struct mt_wr *w)
{
	struct mtree *mt = w->mt;

	for (unsigned i = 0; i < w->ninterior; i++)
		w->delta -= (long)mt_free_subtree(mt, w->interior[i], w->rcu);
	for (unsigned i = 0; i < w->nmoved; i++) {
		struct mt_node *n = w->moved[i];
		if (!n)
			continue;
		mt->nodes--;
		if (w->rcu)
			mt_node_retire(mt, n);
		else
			mt_node_free(mt, n);
	}
	mt_retire_flush(mt, false);
	mt->entries += w->delta;
	__atomic_store_n(&mt->seq, mt->seq + 1, __ATOMIC_RELAXED);
}

/* Install root (fresh or rewritten), collapsing single-child internal roots. */
static void set_root(struct mt_wr *w, struct mt_node *root)
{
	struct mtree *mt = w->mt;

	root->parent = NULL;
	root->pslot = 0;
	while (!mt_is_leaf(root) && root->end == 0) {
		struct mt_node *child = mt_slots(root)[0];
		if (root == mt->root)
			mark_moved(w, root); /* published: retire it */
		else {
			mt->nodes--;
			mt_node_free(mt, root); /* never published */
		}
		child->parent = NULL;
		child->pslot = 0;
		root = child;
		mt->height--;
	}
	if (mt_is_leaf(root) && root->end == 0 && !mt_slots(root)[0]) {
		if (root == mt->root)
			mark_moved(w, root);
		else {
			mt->nodes--;
			mt_node_free(mt, root);
		}
		root = NULL;
		mt->height = 0;
	}
	if (root != mt->root)
		MT_PUBLISH(mt->root, root);
}

static unsigned split_sizes(unsigned n, unsigned cap, bool rightmost, unsigned *sizes)
{
	if (n <= cap) {
		sizes[0] = n;
		return 1;
	}
	unsigned k = (n + cap - 1) / cap;
	if (rightmost) {
		for (unsigned j = 0; j + 1 < k; j++)
			sizes[j] = cap;
		sizes[k - 1] = n - cap * (k - 1);
	} else {
		for (unsigned j = 0; j < k; j++)
			sizes[j] = n / k + (j < n % k);
	}
	return k;
}

/*
 * Replace the run of nodes [lo..hi] at height `level` (0 = leaves) whose
 * combined contents are now b, covering [bmin, b's last pivot].
 */
static void rebuild(struct mt_wr *w, struct mt_big *b, struct mt_node *lo, struct mt_node *hi,
		    unsigned long bmin)
{
	struct mtree *mt = w->mt;
	struct mt_big bigs[2];
	unsigned level = 0, flip = 0;

	for (;;) {
		enum mt_type type = level == 0 ? MT_LEAF : w->arange ? MT_ARANGE : MT_RANGE;
		unsigned cap = mt_cap(type), minf = cap / 2;
		bool is_root = lo == mt->root;

		mark_moved(w, lo);
		mark_moved(w, hi);
		if (!is_root && b->n < minf && b->it[b->n - 1].last != ULONG_MAX) {
			struct mt_node *nb = level_neighbour(lo, -1);
			if (nb) {
				struct mt_big tmp;
				tmp.n = 0;
				big_append_node(&tmp, nb, 0, nb->end, bmin - 1);
				memcpy(tmp.it + tmp.n, b->it, b->n * sizeof(b->it[0]));
				tmp.n += b->n;
				*b = tmp;
				bmin = node_min(nb);
				lo = nb;
			} else {
				nb = level_neighbour(hi, 1);
				big_append_node(b, nb, 0, nb->end, node_max(nb));
				hi = nb;
			}
			mark_moved(w, nb);
		}

		unsigned sizes[8];
		unsigned k = split_sizes(b->n, cap, b->it[b->n - 1].last == ULONG_MAX, sizes);

		if (!w->rcu && lo == hi && k == 1) {
			/* One node replaces one node: rewrite it in place. */
			unmark_moved(w, lo);
			fill_node(lo, type, b->it, b->n);
			if (is_root)
				set_root(w, lo);
			else if (w->arange)
				gaps_up(lo, mt_node_max_gap(lo, bmin, b->it[b->n - 1].last));
			finish(w);
			return;
		}

		struct mt_item up[8] = {{0}};
		unsigned long nmin = bmin;
		for (unsigned j = 0, off = 0; j < k; off += sizes[j], j++) {
			struct mt_node *n = take(mt);
			unsigned long last = b->it[off + sizes[j] - 1].last;
			fill_node(n, type, b->it + off, sizes[j]);
			up[j] = (struct mt_item){last, n,
						 w->arange ? mt_node_max_gap(n, nmin, last) : 0};
			nmin = last + 1;
		}

		if (is_root) {
			struct mt_node *root = up[0].slot;
			if (k > 1) {
				root = take(mt);
				fill_node(root, w->arange ? MT_ARANGE : MT_RANGE, up, k);
				mt->height++;
			}
			set_root(w, root);
			finish(w);
			return;
		}

		struct mt_node *pl = lo->parent, *ph = hi->parent;
		if (lo == hi && k == 1) {
			struct mt_node *n = up[0].slot;
			n->parent = pl;
			n->pslot = lo->pslot;
			MT_PUBLISH(mt_slots(pl)[lo->pslot], (void *)n);
			if (w->arange)
				gaps_up(n, up[0].gap);
			finish(w);
			return;
		}

		/* The next level: pl's slots left of lo, the new nodes, ph's right of hi. */
		struct mt_big *nb = &bigs[flip ^= 1];
		nb->n = 0;
		if (lo->pslot)
			big_append_node(nb, pl, 0, lo->pslot - 1, 0);
		if (pl == ph) {
			for (unsigned i = lo->pslot + 1; i < hi->pslot; i++)
				drop_interior(w, mt_slots(pl)[i]);
		} else {
			for (unsigned i = lo->pslot + 1; i <= pl->end; i++)
				drop_interior(w, mt_slots(pl)[i]);
			for (unsigned i = 0; i < hi->pslot; i++)
				drop_interior(w, mt_slots(ph)[i]);
		}
		for (unsigned j = 0; j < k; j++)
			big_push(nb, up[j].last, up[j].slot, up[j].gap);
		if (hi->pslot < ph->end)
			big_append_node(nb, ph, hi->pslot + 1, ph->end, node_max(ph));
		bmin = node_min(pl);
		lo = pl;
		hi = ph;
		b = nb;
		level++;
	}
}

/* Descend from n (covering [min, max]) to the leaf holding index. */
static struct mt_node *leaf_for(struct mt_node *n, unsigned long index, unsigned long *minp,
				unsigned long *maxp, unsigned *slotp)
{
	unsigned long min = *minp, max = *maxp;
	for (;;) {
		unsigned i = mt_slot_for(n, index);
		if (mt_is_leaf(n)) {
			*minp = min;
			*maxp = max;
			*slotp = i;
			return n;
		}
		unsigned long smin = mt_slot_min(n, i, min);
		max = mt_slot_max(n, i, max);
		min = smin;
		n = mt_slots(n)[i];
	}
}

static unsigned count_entries(const struct mt_node *leaf)
{
	unsigned c = 0;
	for (unsigned i = 0; i <= leaf->end; i++)
		c += leaf->r.slot[i] != NULL;
	return c;
}

static int write_range(struct mtree *mt, unsigned long first, unsigned long last, void *entry)
{
	struct mt_wr w = {.mt = mt,
			  .rcu = (mt->flags & MT_FLAG_RCU) != 0,
			  .arange = (mt->flags & MT_FLAG_ALLOC_RANGE) != 0};
	struct mt_big b = {.n = 0};
	unsigned long s, e;
	int ret;

	bool left_done = !entry ? false : true, right_done = left_done;

	if (!mt->root) {
		if (!entry)
			return 0;
		ret = reserve(mt, 1);
		if (ret)
			return ret;
		if (first > 0)
			big_push(&b, first - 1, NULL, 0);
		big_push(&b, last, entry, 0);
		if (last < ULONG_MAX)
			big_push(&b, ULONG_MAX, NULL, 0);
		struct mt_node *n = take(mt);
		fill_node(n, MT_LEAF, b.it, b.n);
		mt->height = 1;
		mt->entries = 1;
		__atomic_store_n(&mt->seq, mt->seq + 1, __ATOMIC_RELAXED);
		MT_PUBLISH(mt->root, n);
		return 0;
	}

	/* Find the leaves holding first and last. */
	struct mt_node *n, *L, *R;
	unsigned long lmin, lmax, rmin, rmax;
	unsigned sl, sr;
again:
	n = mt->root;
	lmin = 0;
	lmax = ULONG_MAX;
	for (;;) {
		unsigned a = mt_slot_for(n, first);
		if (mt_is_leaf(n)) {
			L = R = n;
			sl = a;
			sr = mt_slot_for(n, last);
			rmin = lmin;
			rmax = lmax;
			break;
		}
		unsigned z = mt_slot_for(n, last);
		if (a != z) {
			rmin = mt_slot_min(n, z, lmin);
			rmax = mt_slot_max(n, z, lmax);
			R = leaf_for(mt_slots(n)[z], last, &rmin, &rmax, &sr);
			unsigned long cmin = mt_slot_min(n, a, lmin);
			lmax = mt_slot_max(n, a, lmax);
			lmin = cmin;
			L = leaf_for(mt_slots(n)[a], first, &lmin, &lmax, &sl);
			break;
		}
		unsigned long cmin = mt_slot_min(n, a, lmin);
		lmax = mt_slot_max(n, a, lmax);
		lmin = cmin;
		n = mt_slots(n)[a];
	}

	/*
	 * A NULL store swallows the empty ranges next to it, so that empty
	 * ranges stay maximal. Inside the leaves that is a look at the
	 * neighbouring slot; at a leaf's edge it takes one lookup in the
	 * neighbouring leaf and, if that extends the range, one more descent.
	 */
	if (!left_done) {
		void **ls = mt_slots(L);
		if (!ls[sl])
			first = mt_slot_min(L, sl, lmin);
		else if (mt_slot_min(L, sl, lmin) == first && sl > 0 && !ls[sl - 1])
			first = mt_slot_min(L, --sl, lmin);
		if (first == lmin && first > 0) {
			left_done = true;
			if (!mt_lookup_slot(mt, first - 1, &s, &e)) {
				first = s;
				goto again;
			}
		}
	}
	if (!right_done) {
		void **rs = mt_slots(R);
		if (!rs[sr])
			last = mt_slot_max(R, sr, rmax);
		else if (mt_slot_max(R, sr, rmax) == last && sr < R->end && !rs[sr + 1])
			last = mt_slot_max(R, ++sr, rmax);
		if (last == rmax && last < ULONG_MAX) {
			right_done = true;
			if (!mt_lookup_slot(mt, last + 1, &s, &e)) {
				last = e;
				goto again;
			}
		}
	}

	/* The leaf-level big node. */
	void **lslot = mt_slots(L), **rslot = mt_slots(R);
	const unsigned long *lpiv = mt_cpivots(L);
	for (unsigned i = 0; i < sl; i++)
		big_push(&b, lpiv[i], lslot[i], 0);
	if (mt_slot_min(L, sl, lmin) < first)
		big_push(&b, first - 1, lslot[sl], 0);
	big_push(&b, last, entry, 0);
	e = mt_slot_max(R, sr, rmax);
	if (e > last)
		big_push(&b, e, rslot[sr], 0);
	if (sr < R->end)
		big_append_node(&b, R, sr + 1, R->end, rmax);

	w.delta = (long)(entry != NULL) - (long)count_entries(L) - (R != L ? (long)count_entries(R) : 0);
	w.delta += (mt_slot_min(L, sl, lmin) < first && lslot[sl]) + (e > last && rslot[sr]);
	for (unsigned i = 0; i < sl; i++)
		w.delta += lslot[i] != NULL;
	for (unsigned i = sr + 1; i <= R->end; i++)
		w.delta += rslot[i] != NULL;

	unsigned cap = MT_RANGE_SLOTS;
	bool exempt = L == mt->root || b.it[b.n - 1].last == ULONG_MAX;
	bool in_place = !w.rcu && L == R && b.n <= cap && (b.n >= cap / 2 || exempt);
	if (!in_place) {
		ret = reserve(mt, 3 * mt->height + 1);
		if (ret)
			return ret;
	}
	rebuild(&w, &b, L, R, lmin);
	/* many small trees (one per address space): keep no spare nodes */
	reserve_release(mt);
	return 0;
}

static bool bad_entry(const void *entry) { return ((uintptr_t)entry & 1) != 0; }

int mt_store(struct mtree *mt, unsigned long first, unsigned long last, void *entry)
{
	if (first > last || bad_entry(entry))
		return -EINVAL;
	return write_range(mt, first, last, entry);
}

int mt_insert(struct mtree *mt, unsigned long first, unsigned long last, void *entry)
{
	struct mt_range r;

	if (first > last || !entry || bad_entry(entry))
		return -EINVAL;
	if (mt_next(mt, first, last, &r))
		return -EEXIST;
	return write_range(mt, first, last, entry);
}

void *mt_erase(struct mtree *mt, unsigned long index, int *err)
{
	unsigned long first, last;
	void *old = mt_lookup_slot(mt, index, &first, &last);
	int ret;

	if (err)
		*err = 0;
	if (!old)
		return NULL;
	ret = write_range(mt, first, last, NULL);
	if (ret) {
		if (err)
			*err = ret;
		return NULL;
	}
	return old;
}
