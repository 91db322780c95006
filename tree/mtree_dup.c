/*
 * mtree_dup.c - duplicate a whole maple tree in O(n): mt_dup().
 *
 * The copy is made node by node in DFS pre-order, the way the kernel's
 * __mt_dup() (Linux 6.8) copies an mm's VMA tree at fork. When an internal
 * node is visited, all of its children are allocated in one bulk request
 * and each child gets the source child's pivots, gaps and metadata; leaf
 * children get their entries too. Internal children start with their child
 * slots cleared and are filled when visited. Nothing is searched, split or
 * rebalanced: every node is copied once, so the cost is O(nodes) = O(n),
 * and the copy has exactly the source's shape.
 *
 * If an allocation fails, the nodes already copied form a valid prefix of
 * the tree whose unfilled child slots are NULL; mt_free_subtree() skips
 * NULL children, so the partial copy is freed without leaking and dst is
 * left initialised and empty.
 */
#include <errno.h>
#include <string.h>

#include "mtree_node.h"

/* Copy src's node into dst; child slots of internal nodes start cleared. */
static void copy_node(struct mt_node *dst, const struct mt_node *src, struct mt_node *parent)
{
	memcpy(dst, src, sizeof(*dst));
	dst->parent = parent;
	dst->flags = 0;
	if (!mt_is_leaf(dst))
		memset(mt_slots(dst), 0, (size_t)mt_cap(dst->type) * sizeof(void *));
}

static unsigned alloc_children(const struct mt_allocator *a, unsigned n, void **out)
{
	unsigned got = 0;
	if (a->alloc_bulk)
		return a->alloc_bulk(a->ctx, n, out);
	while (got < n && (out[got] = a->alloc(a->ctx)))
		got++;
	return got;
}

int mt_dup(const struct mtree *src, struct mtree *dst, const struct mt_allocator *alloc)
{
	/* (dst node, src node) pairs still to visit; at most a node's children a level */
	struct {
		struct mt_node *d;
		const struct mt_node *s;
	} stack[MT_RANGE_SLOTS * MT_MAX_HEIGHT];
	unsigned top = 0;
	const struct mt_node *sroot = MT_READ(((struct mtree *)src)->root);

	mt_init_allocator(dst, src->flags, alloc ? alloc : src->alloc);
	if (!sroot)
		return 0;

	struct mt_node *droot = dst->alloc->alloc(dst->alloc->ctx);
	if (!droot)
		return -ENOMEM;
	copy_node(droot, sroot, NULL);
	dst->root = droot;
	dst->nodes = 1;
	stack[top++].d = droot;
	stack[top - 1].s = sroot;

	while (top) {
		struct mt_node *d = stack[--top].d;
		const struct mt_node *s = stack[top].s;
		if (mt_is_leaf(s))
			continue;

		unsigned n = s->end + 1;
		void *kids[MT_RANGE_SLOTS];
		unsigned got = alloc_children(dst->alloc, n, kids);
		if (got < n) {
			for (unsigned i = 0; i < got; i++)
				dst->alloc->free(dst->alloc->ctx, kids[i]);
			mt_destroy(dst);
			return -ENOMEM;
		}
		void **dslot = mt_slots(d);
		void *const *sslot = mt_cslots(s);
		for (unsigned i = 0; i < n; i++) {
			struct mt_node *c = kids[i];
			copy_node(c, sslot[i], d);
			dslot[i] = c;
		}
		dst->nodes += n;
		/* push in reverse so child 0 is visited first (pre-order) */
		for (unsigned i = n; i-- > 0;) {
			stack[top].d = kids[i];
			stack[top].s = sslot[i];
			top++;
		}
	}
	dst->height = src->height;
	dst->entries = src->entries;
	return 0;
}
