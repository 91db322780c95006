/*
 * aspace.c - one address space of the mirror: a maple tree (tree/mtree.h) of
 * struct vma, one entry per kernel VMA over [start, end - 1], and the edits
 * the replay rules are made of (store, erase, split, modify a range, the fork
 * copy). Used by the shim's model (model.c) and the BPF model (bpf_model.c).
 */
#include "aspace.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct vma *vma_new(void)
{
	return xcalloc(1, sizeof(struct vma));
}

struct vma *vma_dup(const struct vma *v)
{
	struct vma *c = xmalloc(sizeof(*c));
	*c = *v;
	return c;
}

static void mt_check(int rc, const char *what)
{
	if (rc)
		diex(EXIT_FAIL, "mirror: %s failed: %s", what, strerror(-rc));
}

struct aspace *aspace_new(void)
{
	struct aspace *as = xcalloc(1, sizeof(*as));
	mt_init(&as->mt, MT_FLAG_ALLOC_RANGE);
	return as;
}

size_t aspace_count(const struct aspace *as)
{
	return as ? mt_count(&as->mt) : 0;
}

/* Free every VMA and the tree's nodes; the tree is left destroyed. */
static void destroy_all(struct aspace *as)
{
	struct mt_cursor c;
	void *e;
	mt_for_each(&as->mt, &c, e, 0, ~0ul) free(e);
	mt_destroy(&as->mt);
}

void aspace_free(struct aspace *as)
{
	if (!as)
		return;
	destroy_all(as);
	free(as);
}

void aspace_clear(struct aspace *as)
{
	destroy_all(as);
	mt_init(&as->mt, MT_FLAG_ALLOC_RANGE);
}

void aspace_put(struct aspace *as, struct vma *v)
{
	mt_check(mt_store(&as->mt, v->start, v->end - 1, v), "store");
}

/* Split the VMA containing addr (if any, and not starting there) at addr. */
void aspace_split(struct aspace *as, uint64_t addr)
{
	struct mt_range r;
	if (!addr || !mt_load_range(&as->mt, addr, &r))
		return;
	struct vma *v = r.entry;
	if (v->start == addr)
		return;
	struct vma *right = vma_dup(v);
	right->start = addr;
	if (v->file)
		right->offset += addr - v->start;
	v->end = addr;
	aspace_put(as, v);     /* shrink: [start, addr - 1] */
	aspace_put(as, right); /* [addr, end - 1] */
}

/* Remove [lo, hi), trimming VMAs that straddle the ends. */
void aspace_erase(struct aspace *as, uint64_t lo, uint64_t hi)
{
	struct mt_range r;
	if (hi <= lo || !mt_next(&as->mt, lo, hi - 1, &r))
		return; /* nothing there: no write (a new mmap's list lands here) */
	aspace_split(as, lo);
	aspace_split(as, hi);
	uint64_t idx = lo;
	while (idx < hi && mt_next(&as->mt, idx, hi - 1, &r)) {
		free(r.entry);
		idx = r.last + 1;
		if (!idx)
			break;
	}
	mt_check(mt_store(&as->mt, lo, hi - 1, NULL), "erase");
}

void aspace_store(struct aspace *as, struct vma *v)
{
	aspace_erase(as, v->start, v->end);
	aspace_put(as, v);
}

/* Apply fn to every VMA piece inside [lo, hi) after splitting at the ends. */
void aspace_modify(struct aspace *as, uint64_t lo, uint64_t hi, void (*fn)(struct vma *, void *),
		   void *arg)
{
	if (hi <= lo)
		return;
	aspace_split(as, lo);
	aspace_split(as, hi);
	struct mt_cursor c;
	void *e;
	mt_for_each(&as->mt, &c, e, lo, hi - 1) fn(e, arg);
}

struct aspace *aspace_dup(const struct aspace *src, uint64_t *ns)
{
	uint64_t t0 = now_ns();
	struct aspace *as = xcalloc(1, sizeof(*as));
	struct mt_cursor c;
	void *e;
	size_t ndrop = 0, cap = 0;
	uint64_t *drop = NULL;

	if (!src) {
		mt_init(&as->mt, MT_FLAG_ALLOC_RANGE);
		*ns = 0;
		return as;
	}
	mt_check(mt_dup(&src->mt, &as->mt, NULL), "dup");
	mt_for_each(&as->mt, &c, e, 0, ~0ul)
	{
		struct vma *v = vma_dup(e);
		mt_check(mtc_replace(&c, v), "replace");
		if (v->vflags & VMT_VMA_DONTFORK)
			VEC_PUSH(drop, ndrop, cap, v->start);
	}
	*ns = now_ns() - t0;
	for (size_t i = 0; i < ndrop; i++) {
		struct vma *v = mt_load(&as->mt, drop[i]);
		if (v)
			aspace_erase(as, v->start, v->end);
	}
	free(drop);
	return as;
}
