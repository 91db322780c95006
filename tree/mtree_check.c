/*
 * mtree_check.c - seeing inside a maple tree: mt_validate() checks every
 * invariant the other modules rely on and names the first one broken;
 * mt_walk_nodes() visits the nodes in DFS pre-order; mt_dump() prints them.
 *
 * Invariants (all checked by mt_validate):
 *  - the root has no parent; every child's parent pointer and parent slot
 *    point back at the slot that holds it; no reachable node is dead/moved
 *  - node types: leaves at the bottom, all at depth height-1; internal
 *    nodes are arange nodes exactly when the tree tracks gaps
 *  - pivots strictly increase and lie inside the node's [min, max); the last
 *    slot ends at max
 *  - internal nodes have no NULL child; no node is empty; every node but the
 *    root and the right-most node of its level is at least half full
 *  - no two neighbouring leaf slots (also across leaves) are both NULL
 *  - arange gap[i] equals the largest empty range below slot i
 *  - mt->nodes and mt->entries equal what is reachable
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "mtree_node.h"

struct check {
	const struct mtree *mt;
	char *msg;
	size_t msglen;
	size_t nodes, entries;
	bool prev_null, have_prev;
	unsigned long prev_last;
};

__attribute__((format(printf, 3, 4))) static int fail(struct check *c, const struct mt_node *n,
						       const char *fmt, ...)
{
	if (c->msg && c->msglen) {
		int off = snprintf(c->msg, c->msglen, "node %p: ", (const void *)n);
		if (off < 0)
			off = 0;
		if ((size_t)off < c->msglen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(c->msg + off, c->msglen - off, fmt, ap);
			va_end(ap);
		}
	}
	return -EUCLEAN;
}

/* Returns 0 and the node's largest gap in *gap, or -EUCLEAN. */
static int check_node(struct check *c, const struct mt_node *n, const struct mt_node *parent,
		      unsigned pslot, unsigned depth, unsigned long min, unsigned long max,
		      unsigned long *gap)
{
	const struct mtree *mt = c->mt;
	bool leaf_level = depth + 1 == mt->height;
	bool arange = mt->flags & MT_FLAG_ALLOC_RANGE;

	c->nodes++;
	if (n->parent != parent)
		return fail(c, n, "parent pointer %p, expected %p", (void *)n->parent,
			    (const void *)parent);
	if (parent && n->pslot != pslot)
		return fail(c, n, "parent slot %u, expected %u", n->pslot, pslot);
	if (n->flags & (MT_NODE_DEAD | MT_NODE_MOVED))
		return fail(c, n, "reachable node flagged %#x", n->flags);
	if (depth >= mt->height)
		return fail(c, n, "depth %u below the tree height %u", depth, mt->height);
	if (leaf_level != mt_is_leaf(n))
		return fail(c, n, "type %u at depth %u of height %u", n->type, depth, mt->height);
	if (!mt_is_leaf(n) && n->type != (arange ? MT_ARANGE : MT_RANGE))
		return fail(c, n, "internal node type %u in a tree with flags %#x", n->type,
			    mt->flags);
	unsigned cap = mt_cap(n->type);
	if (n->end >= cap)
		return fail(c, n, "end %u beyond capacity %u", n->end, cap);
	if (parent && max != ULONG_MAX && n->end + 1u < cap / 2)
		return fail(c, n, "only %u slots (minimum %u) in a node that is not right-most",
			    n->end + 1u, cap / 2);
	if (!mt_is_leaf(n) && n->end == 0 && !parent)
		return fail(c, n, "internal root with a single child");

	const unsigned long *piv = mt_cpivots(n);
	void *const *slot = mt_cslots(n);
	unsigned long lo = min, best = 0;
	for (unsigned i = 0; i <= n->end; i++) {
		unsigned long hi = i < n->end ? piv[i] : max;
		if (i < n->end && (piv[i] < lo || piv[i] >= max))
			return fail(c, n, "pivot[%u]=%#lx outside [%#lx, %#lx)", i, piv[i], lo, max);
		if (mt_is_leaf(n)) {
			bool null = slot[i] == NULL;
			if (null && c->have_prev && c->prev_null)
				return fail(c, n, "slot %u [%#lx, %#lx] is empty next to an empty range",
					    i, lo, hi);
			if (c->have_prev && lo != c->prev_last + 1)
				return fail(c, n, "slot %u starts at %#lx, previous ended at %#lx", i,
					    lo, c->prev_last);
			if (!c->have_prev && lo != 0)
				return fail(c, n, "first slot starts at %#lx", lo);
			if (null) {
				unsigned long g = mt_gap_size(lo, hi);
				if (g > best)
					best = g;
			} else {
				c->entries++;
				if ((uintptr_t)slot[i] & 1)
					return fail(c, n, "slot %u holds a tagged entry", i);
			}
			c->have_prev = true;
			c->prev_null = null;
			c->prev_last = hi;
		} else {
			const struct mt_node *child = slot[i];
			unsigned long g;
			if (!child)
				return fail(c, n, "internal slot %u is NULL", i);
			int r = check_node(c, child, n, i, depth + 1, lo, hi, &g);
			if (r)
				return r;
			if (arange && n->a.gap[i] != g)
				return fail(c, n, "gap[%u]=%#lx but the largest gap below is %#lx", i,
					    n->a.gap[i], g);
			if (g > best)
				best = g;
		}
		if (hi == ULONG_MAX && i < n->end)
			return fail(c, n, "slot %u reaches ULONG_MAX before the last slot", i);
		lo = hi + 1;
	}
	*gap = best;
	return 0;
}

int mt_validate(const struct mtree *mt, char *msg, size_t msglen)
{
	struct check c = {.mt = mt, .msg = msg, .msglen = msglen};
	unsigned long gap;

	if (msg && msglen)
		msg[0] = '\0';
	if (!mt->root) {
		if (mt->height || mt->nodes || mt->entries)
			return fail(&c, NULL, "empty tree with height %u, %zu nodes, %zu entries",
				    mt->height, mt->nodes, mt->entries);
		return 0;
	}
	if (mt->height == 0 || mt->height > MT_MAX_HEIGHT)
		return fail(&c, mt->root, "height %u", mt->height);
	int r = check_node(&c, mt->root, NULL, 0, 0, 0, ULONG_MAX, &gap);
	if (r)
		return r;
	if (c.prev_last != ULONG_MAX)
		return fail(&c, mt->root, "leaves end at %#lx, not ULONG_MAX", c.prev_last);
	if (c.nodes != mt->nodes)
		return fail(&c, mt->root, "%zu nodes reachable, tree counts %zu", c.nodes,
			    mt->nodes);
	if (c.entries != mt->entries)
		return fail(&c, mt->root, "%zu entries reachable, tree counts %zu", c.entries,
			    mt->entries);
	return 0;
}

static int walk(const struct mt_node *n, unsigned depth, unsigned long min, unsigned long max,
		mt_node_visitor fn, void *ctx)
{
	struct mt_node_info info = {depth, mt_is_leaf(n), n->end + 1u, min, max};
	int r = fn(&info, ctx);
	if (r || mt_is_leaf(n))
		return r;
	for (unsigned i = 0; i <= n->end; i++) {
		r = walk(mt_cslots(n)[i], depth + 1, mt_slot_min(n, i, min), mt_slot_max(n, i, max),
			 fn, ctx);
		if (r)
			return r;
	}
	return 0;
}

int mt_walk_nodes(const struct mtree *mt, mt_node_visitor fn, void *ctx)
{
	return mt->root ? walk(mt->root, 0, 0, ULONG_MAX, fn, ctx) : 0;
}

static void dump(const struct mt_node *n, unsigned depth, unsigned long min, unsigned long max,
		 FILE *out)
{
	fprintf(out, "%*s%s %p [%#lx, %#lx] %u slots\n", (int)depth * 2, "",
		mt_is_leaf(n) ? "leaf" : n->type == MT_ARANGE ? "arange" : "range", (const void *)n,
		min, max, n->end + 1u);
	for (unsigned i = 0; i <= n->end; i++) {
		unsigned long s = mt_slot_min(n, i, min), e = mt_slot_max(n, i, max);
		if (mt_is_leaf(n))
			fprintf(out, "%*s[%#lx, %#lx] %p\n", (int)depth * 2 + 2, "", s, e,
				mt_cslots(n)[i]);
		else
			dump(mt_cslots(n)[i], depth + 1, s, e, out);
	}
}

void mt_dump(const struct mtree *mt, FILE *out)
{
	fprintf(out, "mtree %p: height %u, %zu nodes, %zu entries, flags %#x\n", (const void *)mt,
		mt->height, mt->nodes, mt->entries, mt->flags);
	if (mt->root)
		dump(mt->root, 0, 0, ULONG_MAX, out);
}
