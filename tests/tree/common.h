/*
 * common.h - shared helpers of the maple tree tests (tests/tree/).
 *
 * Owns four things the tree tests are built from:
 *
 *   - a deterministic PRNG (splitmix64) so every run replays the same ops;
 *   - the reference model: a sorted array of disjoint ranges
 *     [first, last] -> entry, with gaps, and the obvious O(n) versions of
 *     every mtree.h operation (store/erase/next/prev/gap search);
 *   - a counting allocator (struct mt_allocator) that counts live nodes,
 *     catches frees of unknown pointers, poisons memory on alloc and free,
 *     and fails on demand from the k-th node allocation on (bulk allocations
 *     count one per node);
 *   - checkers that compare a tree with the model entry by entry (walking
 *     both), and an independent structural check built on mt_walk_nodes()
 *     (depths, tiling of child ranges, fan-out limits, node fill, entries
 *     never split across leaves, every empty range exactly one leaf slot)
 *     that does not trust mt_validate().
 *
 * Entries are ENT(id) = id << 1: non-NULL, low bit clear, unique per store.
 */
#ifndef VMATOP_TESTS_TREE_COMMON_H
#define VMATOP_TESTS_TREE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>

#include "mtree.h"

/* Documented node geometry (mtree.h header comment). */
#define T_LEAF_SLOTS   15
#define T_RANGE_SLOTS  15
#define T_ARANGE_SLOTS 10

#define ENT(id)	  ((void *)((uintptr_t)(id) << 1))
#define ENT_ID(e) ((uintptr_t)(e) >> 1)
#define PAGE	  4096UL

/* ---- PRNG ---- */
struct rng {
	uint64_t s;
};
static inline uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
/* uniform in [0, n), n > 0 */
static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}
/* uniform in [lo, hi] */
static inline uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi)
{
	if (lo == 0 && hi == UINT64_MAX)
		return rng_next(r);
	return lo + rng_below(r, hi - lo + 1);
}
/* true with probability pct/100 */
static inline bool rng_pct(struct rng *r, unsigned pct)
{
	return rng_below(r, 100) < pct;
}

/* ---- reference model ---- */
struct mrange {
	unsigned long first, last;
	void *entry;
};
struct model {
	struct mrange *r;
	size_t n, cap;
};

void model_init(struct model *m);
void model_free(struct model *m);
void model_copy(struct model *dst, const struct model *src);
/* first i with r[i].last >= index (n if none) */
size_t model_lb_last(const struct model *m, unsigned long index);
/* first i with r[i].first > x (n if none) */
size_t model_ub_first(const struct model *m, unsigned long x);
/* the range containing index, or NULL */
const struct mrange *model_find(const struct model *m, unsigned long index);
/* store entry (NULL: erase) over [first, last], first <= last */
void model_store(struct model *m, unsigned long first, unsigned long last, void *entry);
bool model_overlaps(const struct model *m, unsigned long first, unsigned long last);
bool model_next(const struct model *m, unsigned long index, unsigned long max,
		struct mt_range *out);
bool model_prev(const struct model *m, unsigned long index, unsigned long min,
		struct mt_range *out);
int model_gap_lowest(const struct model *m, unsigned long min, unsigned long max,
		     unsigned long size, unsigned long *start);
int model_gap_highest(const struct model *m, unsigned long min, unsigned long max,
		      unsigned long size, unsigned long *start);
/* leaf slots the model needs: ranges plus the gaps between/around them */
size_t model_slots(const struct model *m);

/* ---- counting allocator ---- */
struct count_alloc {
	struct mt_allocator a; /* first: &ca->a is what the tree gets */
	/* thread-safe: RCU mode frees nodes from liburcu's call_rcu thread */
	pthread_mutex_t lock;
	long long fail_at;	     /* node allocation number failures start at; -1 never */
	bool fail_once;		     /* fail only allocation number fail_at */
	unsigned long long attempts; /* node allocations asked for since arming */
	unsigned long long failed;   /* of which refused */
	size_t live;		     /* nodes handed out and not freed */
	size_t bad_frees;	     /* frees of pointers we never handed out */
	size_t bulk_calls;
	/* open-addressed set of live pointers */
	void **set;
	size_t set_cap, set_used;
};
void count_alloc_init(struct count_alloc *ca, bool with_bulk);
/* fail from the fail_at-th node allocation on (once: only that one); -1 never */
void count_alloc_arm(struct count_alloc *ca, long long fail_at, bool once);
void count_alloc_fini(struct count_alloc *ca);

/* ---- node shapes (mt_walk_nodes output) ---- */
struct shape {
	struct mt_node_info *v;
	size_t n, cap;
};
void shape_take(const struct mtree *mt, struct shape *s);
void shape_free(struct shape *s);
/* 0 if equal, else -1 with the first difference in msg */
int shape_cmp(const struct shape *a, const struct shape *b, char *msg, size_t len);

/* ---- checks: 0 when fine, -1 with a message ---- */
/* mt_validate + independent structure check + entry-by-entry compare */
int check_tree(const struct mtree *mt, const struct model *m, char *msg, size_t len);
/* cheaper: compare entries only (cursor walk) */
int check_entries(const struct mtree *mt, const struct model *m, char *msg, size_t len);
/* independent structural check against the documented invariants */
int check_structure(const struct mtree *mt, const struct model *m, char *msg, size_t len);

/* Build a tree and model of n VMA-like ranges appended in address order. */
void build_vmas(struct mtree *mt, struct model *m, size_t n, unsigned long base, uint64_t seed,
		unsigned long *next_id);

#endif
