/*
 * mtree_node.h - the maple tree's node layout and the small helpers every
 * tree/ module shares (internal; not installed).
 *
 * A node is 256 bytes, 64-byte aligned (see the layout in mtree.h). Which
 * arrays are valid depends on the type: leaves and plain internal nodes use
 * .r (14 pivots, 15 slots), internal nodes of an allocation-range tree use
 * .a (9 pivots, 10 slots, 10 gaps).
 *
 * Readers may run concurrently with a writer in RCU mode, so child pointers
 * and the root are read with acquire loads (plain moves on x86) and published
 * with release stores. A published node's pivots, end and type never change
 * afterwards in RCU mode; only a slot pointer (one store) and gap hints do.
 */
#ifndef VMATOP_MTREE_NODE_H
#define VMATOP_MTREE_NODE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "mtree.h"

enum mt_type {
	MT_LEAF = 1,   /* slots are entries (or NULL gaps) */
	MT_RANGE = 2,  /* internal, no gap tracking */
	MT_ARANGE = 3, /* internal, largest gap per child */
};

#define MT_RANGE_SLOTS 15
#define MT_ARANGE_SLOTS 10

enum mt_node_flags {
	MT_NODE_DEAD = 1u << 0,	 /* replaced; readers that see it restart */
	MT_NODE_MOVED = 1u << 1, /* writer-private: content taken by a rebuild */
};

struct mt_node {
	struct mt_node *parent;
	uint8_t type;
	uint8_t end;   /* index of the last used slot */
	uint8_t pslot; /* this node's slot in its parent */
	uint8_t flags;
	uint32_t spare;
	union {
		struct {
			unsigned long pivot[MT_RANGE_SLOTS - 1];
			void *slot[MT_RANGE_SLOTS];
		} r;
		struct {
			unsigned long pivot[MT_ARANGE_SLOTS - 1];
			void *slot[MT_ARANGE_SLOTS];
			unsigned long gap[MT_ARANGE_SLOTS];
		} a;
	};
} __attribute__((aligned(MT_NODE_ALIGN)));

_Static_assert(sizeof(struct mt_node) == MT_NODE_SIZE, "node must be 256 bytes");

#define MT_READ(p) __atomic_load_n(&(p), __ATOMIC_ACQUIRE)
#define MT_PUBLISH(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELEASE)

static inline bool mt_is_leaf(const struct mt_node *n) { return n->type == MT_LEAF; }

static inline unsigned mt_cap(enum mt_type t)
{
	return t == MT_ARANGE ? MT_ARANGE_SLOTS : MT_RANGE_SLOTS;
}

static inline unsigned long *mt_pivots(struct mt_node *n)
{
	return n->type == MT_ARANGE ? n->a.pivot : n->r.pivot;
}

static inline void **mt_slots(struct mt_node *n)
{
	return n->type == MT_ARANGE ? n->a.slot : n->r.slot;
}

static inline const unsigned long *mt_cpivots(const struct mt_node *n)
{
	return n->type == MT_ARANGE ? n->a.pivot : n->r.pivot;
}

static inline void *const *mt_cslots(const struct mt_node *n)
{
	return n->type == MT_ARANGE ? n->a.slot : n->r.slot;
}

/* The slot of n that covers index (n covers index). */
static inline unsigned mt_slot_for(const struct mt_node *n, unsigned long index)
{
	const unsigned long *piv = mt_cpivots(n);
	unsigned end = n->end, i = 0;

	while (i < end && piv[i] < index)
		i++;
	return i;
}

/* Range of slot i of n, a node covering [min, max]. */
static inline unsigned long mt_slot_min(const struct mt_node *n, unsigned i, unsigned long min)
{
	return i ? mt_cpivots(n)[i - 1] + 1 : min;
}

static inline unsigned long mt_slot_max(const struct mt_node *n, unsigned i, unsigned long max)
{
	return i < n->end ? mt_cpivots(n)[i] : max;
}

/* Size of the empty range [s, e]; saturates at ULONG_MAX for [0, ULONG_MAX]. */
static inline unsigned long mt_gap_size(unsigned long s, unsigned long e)
{
	return e - s == ULONG_MAX ? ULONG_MAX : e - s + 1;
}

static inline bool mt_node_dead(const struct mt_node *n)
{
	return __atomic_load_n(&n->flags, __ATOMIC_ACQUIRE) & MT_NODE_DEAD;
}

/* Largest gap below n, a node covering [min, max]. */
unsigned long mt_node_max_gap(const struct mt_node *n, unsigned long min, unsigned long max);

/* Allocator plumbing (mt_alloc.c). */
struct mt_node *mt_node_alloc(struct mtree *mt);
void mt_node_free(struct mtree *mt, struct mt_node *n);
/* Retire a node that readers may still see (RCU mode: after a grace period). */
void mt_node_retire(struct mtree *mt, struct mt_node *n);
/*
 * End of a write: hand the retired nodes to call_rcu once a batch is full,
 * or now if force (mtree_rcu.c).
 */
void mt_retire_flush(struct mtree *mt, bool force);
/*
 * Free n and everything below it (skipping NULL and MOVED children) and
 * take the nodes off mt->nodes; returns the occupied leaf slots freed.
 */
size_t mt_free_subtree(struct mtree *mt, struct mt_node *n, bool retire);

/* Leaf lookup that also reports NULL ranges (mtree.c). */
void *mt_lookup_slot(const struct mtree *mt, unsigned long index, unsigned long *first,
		     unsigned long *last);

#endif
