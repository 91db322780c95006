/*
 * mtree.h - a userspace maple tree: a range-keyed B-tree for address spaces.
 *
 * Owns the public API of tree/ (libmtree.a). Entries are non-NULL pointers
 * stored over inclusive index ranges [first, last] of unsigned long; every
 * index not covered by an entry is empty. The design follows the ideas of the
 * Linux kernel's lib/maple_tree.c (our own code, not a copy of it):
 *
 * Node layout (struct mt_node in mtree_node.h), 256 bytes, 64-byte aligned:
 *
 *   word 0      parent pointer (NULL for the root)
 *   word 1      meta: node type, index of the last used slot ("end"),
 *               slot number in the parent, flags (dead/moved)
 *   range node  (leaves, and internal nodes of a plain tree)
 *               14 pivots + 15 slots              -> fan-out 15
 *   arange node (internal nodes of an MT_FLAG_ALLOC_RANGE tree)
 *               9 pivots + 10 slots + 10 gaps     -> fan-out 10
 *
 * A node covers [min, max] (inherited from its parent; the root covers
 * [0, ULONG_MAX]). Slot i covers (pivot[i-1], pivot[i]]; slot 0 starts at
 * min and the last used slot ends at max (its pivot is implicit). Leaf slots
 * hold entries or NULL (a gap); two neighbouring leaf slots are never both
 * NULL. Internal slots hold child nodes; in arange nodes gap[i] is the size
 * of the largest empty range in child i's subtree, which makes gap search
 * O(log n). Every leaf is at the same depth. Every node but the root and the
 * right-most node of its level holds at least half its capacity; the
 * right-most one is exempt so that in-order appends (how VMA maps grow)
 * leave full nodes behind.
 *
 * Writes restructure bottom-up: the leaves touched by a store are rewritten
 * into a "big node" and split into fresh nodes, which replace the old ones in
 * their parents, level by level, until one pointer store publishes the
 * change (in place when nothing needs to move and the tree is not in RCU
 * mode). Nodes a write may need are reserved before anything changes, so a
 * write that fails with -ENOMEM leaves the tree exactly as it was.
 *
 * mt_dup() copies a tree node by node in DFS pre-order, allocating all the
 * children of an internal node in one bulk allocation: O(n), no rebalancing,
 * and the copy has exactly the source's shape.
 *
 * Concurrency: one writer at a time (the caller serialises writers). Without
 * MT_FLAG_RCU readers must also be serialised against the writer. With
 * MT_FLAG_RCU, readers run alongside the writer under mt_rcu_read_lock()
 * (liburcu, "memb" flavour); see "RCU mode" below.
 *
 * Errors: functions return 0 or a negative errno.
 */
#ifndef VMATOP_MTREE_H
#define VMATOP_MTREE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MT_NODE_SIZE 256
#define MT_NODE_ALIGN 64
#define MT_MAX_HEIGHT 16
#define MT_RETIRE_BATCH 32

/* Tree flags, given to mt_init(). */
enum mt_flags {
	MT_FLAG_ALLOC_RANGE = 1u << 0, /* track gaps: O(log n) gap search */
	MT_FLAG_RCU = 1u << 1,	       /* copy-on-write for lock-free readers */
};

/*
 * Node allocator. Every node the tree allocates or frees goes through one of
 * these, so tests can inject failure and count leaks. alloc returns one
 * MT_NODE_SIZE block aligned to MT_NODE_ALIGN, or NULL. alloc_bulk (may be
 * NULL: then alloc is called n times) fills out[0..n-1] and returns n, or
 * returns fewer on failure (the ones it did return are the caller's).
 */
struct mt_allocator {
	void *(*alloc)(void *ctx);
	unsigned (*alloc_bulk)(void *ctx, unsigned n, void **out);
	void (*free)(void *ctx, void *node);
	void *ctx;
};

/* The default allocator: a thread-safe slab of 16 KiB chunks. */
extern const struct mt_allocator mt_default_allocator;

struct mt_node;

struct mtree {
	struct mt_node *root; /* NULL when the tree is empty */
	unsigned flags;
	unsigned height;  /* 0 empty, 1 a single leaf, ... */
	size_t nodes;	  /* nodes in the tree */
	size_t entries;	  /* occupied (non-NULL) ranges */
	unsigned long seq; /* bumped by every structural write (cursors) */
	const struct mt_allocator *alloc;
	/*
	 * Nodes reserved for the write in progress (mtree_write.c): the worst
	 * case is reserved before a write changes anything and what is left is
	 * given back when it ends, so between writes nr_reserve is 0 and the
	 * allocator's live nodes for this tree are exactly `nodes`.
	 */
	struct mt_node *reserve;
	unsigned nr_reserve;
	/*
	 * RCU mode: nodes retired by writes, handed to call_rcu() in batches
	 * of MT_RETIRE_BATCH (fewer grace periods, fewer membarrier IPIs on
	 * the readers' CPUs) and freed after a grace period.
	 */
	struct mt_node *retired;
	unsigned nr_retired;
};

/* One occupied range, as returned by lookups. */
struct mt_range {
	unsigned long first, last;
	void *entry;
};

void mt_init(struct mtree *mt, unsigned flags);
void mt_init_allocator(struct mtree *mt, unsigned flags, const struct mt_allocator *alloc);
/* Frees every node. Entries are the caller's and are not touched. */
void mt_destroy(struct mtree *mt);

/*
 * Store entry over [first, last], overwriting (and splitting) whatever
 * overlapped. Storing NULL erases the range. -EINVAL if first > last or the
 * entry pointer has its low bit set (reserved), -ENOMEM (tree unchanged).
 */
int mt_store(struct mtree *mt, unsigned long first, unsigned long last, void *entry);
/*
 * Like mt_store, but -EEXIST (tree unchanged) if any index in the range is
 * occupied, and -EINVAL for a NULL entry.
 */
int mt_insert(struct mtree *mt, unsigned long first, unsigned long last, void *entry);
/*
 * Erase the whole range that contains index. Returns the entry that was
 * there (NULL if index was empty). On -ENOMEM (possible when erasing forces
 * nodes to merge) returns NULL and sets *err if err is not NULL; *err is
 * set to 0 otherwise.
 */
void *mt_erase(struct mtree *mt, unsigned long index, int *err);
/* The entry at index, or NULL. */
void *mt_load(const struct mtree *mt, unsigned long index);
/* The entry at index with its range; false if index is empty. */
bool mt_load_range(const struct mtree *mt, unsigned long index, struct mt_range *out);

/* The lowest entry with any index in [index, max]; false if none. */
bool mt_next(const struct mtree *mt, unsigned long index, unsigned long max, struct mt_range *out);
/* The highest entry with any index in [min, index]; false if none. */
bool mt_prev(const struct mtree *mt, unsigned long index, unsigned long min, struct mt_range *out);

/*
 * Gap search, the way get_unmapped_area() needs it: the lowest (highest)
 * start s such that [s, s + size - 1] lies inside [min, max] and is empty.
 * Returns 0 and sets *start, -EBUSY if there is no such range, -EINVAL for
 * size 0 or min > max. O(log n) with MT_FLAG_ALLOC_RANGE, O(n) without.
 */
int mt_gap_lowest(const struct mtree *mt, unsigned long min, unsigned long max,
		  unsigned long size, unsigned long *start);
int mt_gap_highest(const struct mtree *mt, unsigned long min, unsigned long max,
		   unsigned long size, unsigned long *start);

/*
 * Replace the entry at index with entry without restructuring (one pointer
 * store; what the fork path does after a dup). -ENOENT if index is empty,
 * -EINVAL if entry is NULL (use mt_erase). *old (if not NULL) gets the
 * previous entry.
 */
int mt_replace(struct mtree *mt, unsigned long index, void *entry, void **old);

/*
 * Duplicate src into dst (which must not be initialised, or be destroyed):
 * DFS pre-order node copy, O(n), same shape. dst gets src's flags and the
 * allocator alloc (src's when NULL). -ENOMEM leaves dst initialised and
 * empty, src untouched, nothing leaked.
 */
int mt_dup(const struct mtree *src, struct mtree *dst, const struct mt_allocator *alloc);

/* Introspection. */
static inline size_t mt_count(const struct mtree *mt) { return mt->entries; }
static inline unsigned mt_height(const struct mtree *mt) { return mt->height; }
static inline bool mt_empty(const struct mtree *mt) { return mt->root == NULL; }
/* Bytes held by the tree's nodes (nodes * MT_NODE_SIZE). */
size_t mt_bytes(const struct mtree *mt);

/*
 * Check every invariant: pivot order, ranges, leaf depth, parent pointers
 * and slots, node fill, no adjacent NULL leaf slots, gap metadata, node and
 * entry counts. Returns 0, or -EUCLEAN with a description of the first
 * violation in msg (if msg is not NULL).
 */
int mt_validate(const struct mtree *mt, char *msg, size_t msglen);

/* Visit every node in DFS pre-order: depth 0 is the root. */
struct mt_node_info {
	unsigned depth;
	bool leaf;
	unsigned slots; /* used slots (fan-out of this node) */
	unsigned long min, max;
};
typedef int (*mt_node_visitor)(const struct mt_node_info *info, void *ctx);
/* Stops early and returns the visitor's value when it is non-zero. */
int mt_walk_nodes(const struct mtree *mt, mt_node_visitor fn, void *ctx);

/*
 * RCU mode (MT_FLAG_RCU, or mt_set_rcu()).
 *
 * The writer never changes a node a reader may be walking: it builds
 * replacement nodes, publishes them with one pointer store, marks the old
 * ones dead and frees them after an RCU grace period (call_rcu). A reader
 * that meets a dead node walks again from the root, so it never returns a
 * value that was not in the tree at some moment during its read.
 *
 * Rules for callers:
 *  - every reader thread calls mt_rcu_register_thread() once (and
 *    mt_rcu_unregister_thread() before it exits);
 *  - readers call mt_load, mt_load_range, mt_next, mt_prev, mt_gap_*,
 *    and cursors only between mt_rcu_read_lock() and mt_rcu_read_unlock();
 *    a cursor must not be used across an unlock;
 *  - what a reader may keep after mt_rcu_read_unlock(): the values it got
 *    (indices, ranges, entry pointers) but not the right to dereference an
 *    entry: the writer may erase it, so entries the writer frees must be
 *    freed through call_rcu()/mt_rcu_synchronize() as well (only after a
 *    grace period may a removed entry's memory be reused);
 *  - writers are serialised by the caller and need no read lock;
 *  - the allocator must be thread-safe (nodes are freed from liburcu's
 *    call_rcu thread) and must outlive mt_rcu_barrier();
 *  - mt_destroy() retires the nodes too; call mt_rcu_barrier() before
 *    exiting or freeing the allocator to have them all freed.
 *
 * Switching: mt_set_rcu(mt, false) is for a tree no reader can reach (for
 * example a fresh mt_dup() copy being edited before it is published, as the
 * kernel does at fork): writes are then done in place, which is faster.
 * Switch it on before publishing the tree to readers.
 */
void mt_set_rcu(struct mtree *mt, bool on);
void mt_rcu_register_thread(void);
void mt_rcu_unregister_thread(void);
void mt_rcu_read_lock(void);
void mt_rcu_read_unlock(void);
/* Wait for a grace period (all readers that started before have finished). */
void mt_rcu_synchronize(void);
/*
 * Wait until every node retired so far has been freed. Nodes of a tree that
 * still waits to fill a batch are handed over first by mt_rcu_flush(mt)
 * (mt_destroy() and mt_set_rcu(mt, false) do that themselves).
 */
void mt_rcu_barrier(void);
void mt_rcu_flush(struct mtree *mt);
/*
 * Called by a writer thread: free the nodes it retires on a reclamation
 * thread of its own pinned to cpu (the writer's CPU), so that freeing and
 * grace-period waits do not run on the readers' CPUs. 0 or -ENOMEM.
 */
int mt_rcu_writer_cpu(int cpu);

/* Human-readable dump of the node structure (for debugging). */
void mt_dump(const struct mtree *mt, FILE *out);

/*
 * Cursor: the lower-level "state" API for walks that continue. A cursor
 * remembers the leaf it stands in; stepping within a leaf is O(1). If the
 * tree is written through anything but the cursor, the next step re-walks
 * from the root (it is never left dangling).
 */
struct mt_cursor {
	struct mtree *mt;
	struct mt_node *node;	/* current leaf, NULL before the first step */
	unsigned slot;		/* current slot in node */
	unsigned long min, max; /* range covered by node */
	unsigned long index;	/* where the next mtc_next() looks from */
	unsigned long seq;	/* mt->seq when node was found */
	struct mt_range cur;	/* the entry last returned */
	bool done;
};

void mtc_init(struct mt_cursor *c, struct mtree *mt, unsigned long index);
/* The next entry at or after the cursor's index, up to max; NULL at the end. */
void *mtc_next(struct mt_cursor *c, unsigned long max);
/*
 * The previous entry before the last one returned (or at/below index), down
 * to min. Like mtc_next it stays on its leaf: a root descent per leaf, not
 * per step.
 */
void *mtc_prev(struct mt_cursor *c, unsigned long min);
/*
 * Replace the entry last returned (c->cur) in place: -EINVAL if entry is
 * NULL, -ENOENT if the cursor has returned nothing yet.
 */
int mtc_replace(struct mt_cursor *c, void *entry);

/* Iterate every entry in [first, last] in ascending order. */
#define mt_for_each(mt, cursor, entry, first, last)                                   \
	for (mtc_init((cursor), (mt), (first)); ((entry) = mtc_next((cursor), (last)));)

#ifdef __cplusplus
}
#endif
#endif
