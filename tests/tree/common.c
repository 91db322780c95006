/*
 * common.c - the reference model, the counting allocator and the checkers
 * shared by the maple tree tests. See common.h.
 */
#include "common.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 3, 4))) static int fail(char *msg, size_t len, const char *fmt, ...)
{
	if (msg && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fprintf(stderr, "tests: out of memory\n");
		abort();
	}
	return p;
}

/* ---------------------------------------------------------------- model */

void model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
}

void model_free(struct model *m)
{
	free(m->r);
	memset(m, 0, sizeof(*m));
}

void model_copy(struct model *dst, const struct model *src)
{
	if (dst->cap < src->n) {
		dst->cap = src->n;
		dst->r = xrealloc(dst->r, dst->cap * sizeof(*dst->r));
	}
	if (src->n)
		memcpy(dst->r, src->r, src->n * sizeof(*src->r));
	dst->n = src->n;
}

size_t model_lb_last(const struct model *m, unsigned long index)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->r[mid].last >= index)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

size_t model_ub_first(const struct model *m, unsigned long x)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->r[mid].first > x)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

const struct mrange *model_find(const struct model *m, unsigned long index)
{
	size_t i = model_lb_last(m, index);
	if (i < m->n && m->r[i].first <= index)
		return &m->r[i];
	return NULL;
}

bool model_overlaps(const struct model *m, unsigned long first, unsigned long last)
{
	size_t i = model_lb_last(m, first);
	return i < m->n && m->r[i].first <= last;
}

void model_store(struct model *m, unsigned long first, unsigned long last, void *entry)
{
	size_t i = model_lb_last(m, first); /* first range that may overlap */
	size_t j = model_ub_first(m, last); /* first range after [first, last] */
	struct mrange add[3];
	size_t na = 0;

	if (j < i)
		j = i;
	if (i < j && m->r[i].first < first)
		add[na++] = (struct mrange){m->r[i].first, first - 1, m->r[i].entry};
	if (entry)
		add[na++] = (struct mrange){first, last, entry};
	if (i < j && m->r[j - 1].last > last)
		add[na++] = (struct mrange){last + 1, m->r[j - 1].last, m->r[j - 1].entry};

	size_t removed = j - i;
	size_t newn = m->n - removed + na;
	if (newn > m->cap) {
		m->cap = newn < 16 ? 16 : newn * 2;
		m->r = xrealloc(m->r, m->cap * sizeof(*m->r));
	}
	if (na != removed && m->n > j)
		memmove(&m->r[i + na], &m->r[j], (m->n - j) * sizeof(*m->r));
	if (na)
		memcpy(&m->r[i], add, na * sizeof(*add));
	m->n = newn;
}

bool model_next(const struct model *m, unsigned long index, unsigned long max, struct mt_range *out)
{
	if (index > max)
		return false;
	size_t i = model_lb_last(m, index);
	if (i >= m->n || m->r[i].first > max)
		return false;
	out->first = m->r[i].first;
	out->last = m->r[i].last;
	out->entry = m->r[i].entry;
	return true;
}

bool model_prev(const struct model *m, unsigned long index, unsigned long min, struct mt_range *out)
{
	if (index < min)
		return false;
	size_t i = model_ub_first(m, index);
	if (i == 0 || m->r[i - 1].last < min)
		return false;
	out->first = m->r[i - 1].first;
	out->last = m->r[i - 1].last;
	out->entry = m->r[i - 1].entry;
	return true;
}

int model_gap_lowest(const struct model *m, unsigned long min, unsigned long max,
		     unsigned long size, unsigned long *start)
{
	if (size == 0 || min > max)
		return -EINVAL;
	unsigned long lo = min;
	for (size_t i = model_lb_last(m, min);; i++) {
		if (i < m->n && m->r[i].first <= lo) {
			if (m->r[i].last >= max)
				return -EBUSY;
			lo = m->r[i].last + 1;
			continue;
		}
		unsigned long hi = i < m->n ? m->r[i].first - 1 : ULONG_MAX;
		if (hi > max)
			hi = max;
		if (hi >= lo && hi - lo >= size - 1) {
			*start = lo;
			return 0;
		}
		if (i >= m->n || m->r[i].last >= max)
			return -EBUSY;
		lo = m->r[i].last + 1;
	}
}

int model_gap_highest(const struct model *m, unsigned long min, unsigned long max,
		      unsigned long size, unsigned long *start)
{
	if (size == 0 || min > max)
		return -EINVAL;
	unsigned long hi = max;
	for (size_t i = model_ub_first(m, max);; i--) {
		/* candidate range below hi is r[i-1] */
		if (i > 0 && m->r[i - 1].last >= hi) {
			if (m->r[i - 1].first <= min)
				return -EBUSY;
			hi = m->r[i - 1].first - 1;
			continue;
		}
		unsigned long lo = i > 0 ? m->r[i - 1].last + 1 : 0;
		if (lo < min)
			lo = min;
		if (hi >= lo && hi - lo >= size - 1) {
			*start = hi - (size - 1);
			return 0;
		}
		if (i == 0 || m->r[i - 1].first <= min)
			return -EBUSY;
		hi = m->r[i - 1].first - 1;
	}
}

size_t model_slots(const struct model *m)
{
	if (m->n == 0)
		return 1;
	size_t s = m->n;
	if (m->r[0].first > 0)
		s++;
	if (m->r[m->n - 1].last < ULONG_MAX)
		s++;
	for (size_t i = 1; i < m->n; i++)
		if (m->r[i].first != m->r[i - 1].last + 1)
			s++;
	return s;
}

/* ---------------------------------------------------- counting allocator */

static size_t ptr_hash(void *p, size_t cap)
{
	uint64_t x = (uintptr_t)p >> 6;
	x *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(x >> 17) & (cap - 1);
}

#define TOMB ((void *)1)

static void set_grow(struct count_alloc *ca);

static void set_add(struct count_alloc *ca, void *p)
{
	if ((ca->set_used + 1) * 2 > ca->set_cap)
		set_grow(ca);
	size_t h = ptr_hash(p, ca->set_cap);
	while (ca->set[h] && ca->set[h] != TOMB)
		h = (h + 1) & (ca->set_cap - 1);
	if (!ca->set[h])
		ca->set_used++;
	ca->set[h] = p;
}

static void set_grow(struct count_alloc *ca)
{
	void **old = ca->set;
	size_t oldcap = ca->set_cap;
	ca->set_cap = oldcap ? oldcap * 2 : 1024;
	/* only live entries count; shrink back if mostly tombstones */
	while (ca->set_cap > 1024 && ca->live * 4 < ca->set_cap / 2)
		ca->set_cap /= 2;
	ca->set = calloc(ca->set_cap, sizeof(void *));
	if (!ca->set)
		abort();
	ca->set_used = 0;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i] && old[i] != TOMB)
			set_add(ca, old[i]);
	free(old);
}

static bool set_del(struct count_alloc *ca, void *p)
{
	if (!ca->set_cap)
		return false;
	size_t h = ptr_hash(p, ca->set_cap);
	while (ca->set[h]) {
		if (ca->set[h] == p) {
			ca->set[h] = TOMB;
			return true;
		}
		h = (h + 1) & (ca->set_cap - 1);
	}
	return false;
}

static bool ca_refuse(struct count_alloc *ca)
{
	unsigned long long k = ca->attempts++;
	bool refuse = ca->fail_at >= 0 && (ca->fail_once ? k == (unsigned long long)ca->fail_at
							 : k >= (unsigned long long)ca->fail_at);
	if (refuse)
		ca->failed++;
	return refuse;
}

static void *ca_get(struct count_alloc *ca)
{
	void *p = aligned_alloc(MT_NODE_ALIGN, MT_NODE_SIZE);
	if (!p)
		abort();
	memset(p, 0xa5, MT_NODE_SIZE); /* garbage: the tree must initialise nodes */
	set_add(ca, p);
	ca->live++;
	return p;
}

static void *ca_alloc(void *ctx)
{
	struct count_alloc *ca = ctx;
	void *p = NULL;
	pthread_mutex_lock(&ca->lock);
	if (!ca_refuse(ca))
		p = ca_get(ca);
	pthread_mutex_unlock(&ca->lock);
	return p;
}

static unsigned ca_alloc_bulk(void *ctx, unsigned n, void **out)
{
	struct count_alloc *ca = ctx;
	unsigned i;
	pthread_mutex_lock(&ca->lock);
	ca->bulk_calls++;
	for (i = 0; i < n; i++) {
		if (ca_refuse(ca))
			break;
		out[i] = ca_get(ca);
	}
	pthread_mutex_unlock(&ca->lock);
	return i;
}

static void ca_free(void *ctx, void *node)
{
	struct count_alloc *ca = ctx;
	pthread_mutex_lock(&ca->lock);
	if (!node || !set_del(ca, node)) {
		ca->bad_frees++;
		pthread_mutex_unlock(&ca->lock);
		return; /* do not free what we did not hand out */
	}
	ca->live--;
	pthread_mutex_unlock(&ca->lock);
	memset(node, 0x5a, MT_NODE_SIZE); /* poison: catches use after free */
	free(node);
}

void count_alloc_init(struct count_alloc *ca, bool with_bulk)
{
	memset(ca, 0, sizeof(*ca));
	pthread_mutex_init(&ca->lock, NULL);
	ca->a.alloc = ca_alloc;
	ca->a.alloc_bulk = with_bulk ? ca_alloc_bulk : NULL;
	ca->a.free = ca_free;
	ca->a.ctx = ca;
	ca->fail_at = -1;
}

void count_alloc_arm(struct count_alloc *ca, long long fail_at, bool once)
{
	ca->fail_at = fail_at;
	ca->fail_once = once;
	ca->attempts = 0;
	ca->failed = 0;
}

void count_alloc_fini(struct count_alloc *ca)
{
	/* leaked nodes stay allocated; the caller has reported them */
	pthread_mutex_destroy(&ca->lock);
	free(ca->set);
	ca->set = NULL;
	ca->set_cap = ca->set_used = 0;
}

/* ---------------------------------------------------------------- shapes */

static int shape_visit(const struct mt_node_info *info, void *ctx)
{
	struct shape *s = ctx;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = *info;
	return 0;
}

void shape_take(const struct mtree *mt, struct shape *s)
{
	s->n = 0;
	mt_walk_nodes(mt, shape_visit, s);
}

void shape_free(struct shape *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int shape_cmp(const struct shape *a, const struct shape *b, char *msg, size_t len)
{
	size_t n = a->n < b->n ? a->n : b->n;
	for (size_t i = 0; i < n; i++) {
		const struct mt_node_info *x = &a->v[i], *y = &b->v[i];
		if (x->depth != y->depth || x->leaf != y->leaf || x->slots != y->slots ||
		    x->min != y->min || x->max != y->max)
			return fail(msg, len,
				    "node %zu differs: depth %u/%u leaf %d/%d slots %u/%u "
				    "range [%#lx,%#lx]/[%#lx,%#lx]",
				    i, x->depth, y->depth, x->leaf, y->leaf, x->slots, y->slots,
				    x->min, x->max, y->min, y->max);
	}
	if (a->n != b->n)
		return fail(msg, len, "node count differs: %zu vs %zu", a->n, b->n);
	return 0;
}

/* ---------------------------------------------------------------- checks */

int check_entries(const struct mtree *mt, const struct model *m, char *msg, size_t len)
{
	struct mt_cursor c;
	void *e;
	size_t i = 0;

	if (mt_count(mt) != m->n)
		return fail(msg, len, "mt_count %zu, model has %zu entries", mt_count(mt), m->n);
	if (mt_empty(mt) != (m->n == 0))
		return fail(msg, len, "mt_empty %d but model has %zu entries", mt_empty(mt), m->n);
	mt_for_each((struct mtree *)mt, &c, e, 0, ULONG_MAX)
	{
		if (i >= m->n)
			return fail(msg, len, "walk: extra entry %p [%#lx,%#lx] after %zu entries",
				    e, c.cur.first, c.cur.last, m->n);
		const struct mrange *r = &m->r[i];
		if (e != r->entry || c.cur.entry != r->entry || c.cur.first != r->first ||
		    c.cur.last != r->last)
			return fail(msg, len,
				    "walk: entry %zu is %p [%#lx,%#lx] (cur.entry %p), model %p "
				    "[%#lx,%#lx]",
				    i, e, c.cur.first, c.cur.last, c.cur.entry, r->entry, r->first,
				    r->last);
		i++;
	}
	if (i != m->n)
		return fail(msg, len, "walk: %zu entries, model has %zu", i, m->n);
	return 0;
}

struct sc_level {
	unsigned long min, max, next_min;
	unsigned slots, seen;
	bool open, ended;
};

struct sc_ctx {
	const struct mtree *mt;
	const struct model *m;
	struct sc_level lv[MT_MAX_HEIGHT + 1];
	size_t nodes, leaves, leaf_slots;
	unsigned maxdepth;
	int err;
	char *msg;
	size_t len;
};

/* close levels >= d: every child seen, last child ends at the parent's max */
static int sc_close(struct sc_ctx *x, unsigned d)
{
	for (unsigned k = MT_MAX_HEIGHT; k + 1 > d; k--) {
		struct sc_level *l = &x->lv[k];
		if (!l->open)
			continue;
		l->open = false;
		if (l->slots == 0 && k + 1 < x->mt->height)
			return fail(x->msg, x->len, "internal node [%#lx,%#lx] has no slots",
				    l->min, l->max);
		if (k + 1 < x->mt->height) {
			if (l->seen != l->slots)
				return fail(x->msg, x->len,
					    "node [%#lx,%#lx] at depth %u has %u slots but %u "
					    "children were visited",
					    l->min, l->max, k, l->slots, l->seen);
			if (!l->ended && l->next_min != l->max + 1)
				return fail(x->msg, x->len,
					    "children of [%#lx,%#lx] end at %#lx, not at its max",
					    l->min, l->max, l->next_min - 1);
		}
	}
	return 0;
}

static int sc_visit(const struct mt_node_info *in, void *ctx)
{
	struct sc_ctx *x = ctx;
	const struct mtree *mt = x->mt;
	bool arange = mt->flags & MT_FLAG_ALLOC_RANGE;
	unsigned cap = in->leaf ? T_LEAF_SLOTS : arange ? T_ARANGE_SLOTS : T_RANGE_SLOTS;

	x->nodes++;
	if (in->depth > MT_MAX_HEIGHT)
		return x->err = fail(x->msg, x->len, "depth %u too deep", in->depth);
	if (in->depth > x->maxdepth)
		x->maxdepth = in->depth;
	if (x->nodes == 1 && in->depth != 0)
		return x->err = fail(x->msg, x->len, "first node visited at depth %u", in->depth);
	if (x->nodes > 1 && in->depth == 0)
		return x->err = fail(x->msg, x->len, "second root visited");
	if (sc_close(x, in->depth))
		return x->err = -1;
	if (in->slots == 0 || in->slots > cap)
		return x->err = fail(x->msg, x->len, "node [%#lx,%#lx] depth %u: %u slots (cap %u)",
				     in->min, in->max, in->depth, in->slots, cap);
	if (in->min > in->max)
		return x->err = fail(x->msg, x->len, "node min %#lx > max %#lx", in->min, in->max);
	if (in->leaf != (in->depth + 1 == mt->height))
		return x->err = fail(x->msg, x->len,
				     "node [%#lx,%#lx] at depth %u leaf=%d but height is %u",
				     in->min, in->max, in->depth, in->leaf, mt->height);
	if (in->depth == 0) {
		if (in->min != 0 || in->max != ULONG_MAX)
			return x->err = fail(x->msg, x->len, "root covers [%#lx,%#lx]", in->min,
					     in->max);
		if (!in->leaf && in->slots < 2)
			return x->err =
				   fail(x->msg, x->len, "internal root has %u child", in->slots);
	} else {
		struct sc_level *p = &x->lv[in->depth - 1];
		if (!p->open)
			return x->err = fail(x->msg, x->len, "node at depth %u has no open parent",
					     in->depth);
		if (p->ended || in->min != p->next_min)
			return x->err = fail(x->msg, x->len,
					     "child [%#lx,%#lx] at depth %u does not start where "
					     "its left sibling ended (%#lx)",
					     in->min, in->max, in->depth, p->next_min);
		if (in->max > p->max)
			return x->err = fail(x->msg, x->len,
					     "child [%#lx,%#lx] exceeds parent [%#lx,%#lx]",
					     in->min, in->max, p->min, p->max);
		p->seen++;
		if (in->max == ULONG_MAX)
			p->ended = true;
		else
			p->next_min = in->max + 1;
		/* half-full rule; the right-most node of a level is exempt */
		if (in->max != ULONG_MAX && in->slots < cap / 2)
			return x->err =
				   fail(x->msg, x->len,
					"node [%#lx,%#lx] depth %u has %u slots, under half of "
					"%u",
					in->min, in->max, in->depth, in->slots, cap);
	}
	struct sc_level *l = &x->lv[in->depth];
	*l = (struct sc_level){in->min, in->max, in->min, in->slots, 0, true, false};
	if (in->leaf) {
		x->leaves++;
		x->leaf_slots += in->slots;
		/* an entry never straddles a leaf boundary */
		if (in->max != ULONG_MAX) {
			const struct mrange *r = model_find(x->m, in->max);
			if (r && r->last != in->max)
				return x->err = fail(x->msg, x->len,
						     "leaf [%#lx,%#lx] ends inside entry %p "
						     "[%#lx,%#lx]",
						     in->min, in->max, r->entry, r->first, r->last);
		}
	}
	return 0;
}

int check_structure(const struct mtree *mt, const struct model *m, char *msg, size_t len)
{
	struct sc_ctx *x = calloc(1, sizeof(*x));
	int rc = 0;
	if (!x)
		abort();
	x->mt = mt;
	x->m = m;
	x->msg = msg;
	x->len = len;

	if (mt_empty(mt)) {
		if (mt->height != 0 || mt->nodes != 0 || mt_count(mt) != 0)
			rc = fail(msg, len, "empty tree with height %u, %zu nodes, %zu entries",
				  mt->height, mt->nodes, mt_count(mt));
		else if (mt_walk_nodes(mt, sc_visit, x) != 0 || x->nodes != 0)
			rc = fail(msg, len, "walk of an empty tree visited %zu nodes", x->nodes);
		goto out;
	}
	int w = mt_walk_nodes(mt, sc_visit, x);
	if (x->err) {
		rc = -1;
		goto out;
	}
	if (w != 0) {
		rc = fail(msg, len, "mt_walk_nodes returned %d", w);
		goto out;
	}
	if (sc_close(x, 0)) {
		rc = -1;
		goto out;
	}
	if (x->maxdepth + 1 != mt->height)
		rc = fail(msg, len, "deepest node at depth %u but height is %u", x->maxdepth,
			  mt->height);
	else if (x->nodes != mt->nodes)
		rc =
		    fail(msg, len, "walk visited %zu nodes, mt->nodes is %zu", x->nodes, mt->nodes);
	else if (mt_bytes(mt) != mt->nodes * MT_NODE_SIZE)
		rc = fail(msg, len, "mt_bytes %zu != %zu nodes * %d", mt_bytes(mt), mt->nodes,
			  MT_NODE_SIZE);
	else {
		size_t need = model_slots(m);
		/* an entry is one slot and so is every empty range, even across a
		 * leaf boundary (gaps are kept maximal: the gap search relies on it) */
		if (x->leaf_slots != need)
			rc = fail(msg, len,
				  "%zu leaves hold %zu slots; the model has %zu ranges and gaps "
				  "(an empty range split across leaves?)",
				  x->leaves, x->leaf_slots, need);
	}
out:
	free(x);
	return rc;
}

int check_tree(const struct mtree *mt, const struct model *m, char *msg, size_t len)
{
	char vmsg[512] = "";
	int rc = mt_validate(mt, vmsg, sizeof(vmsg));
	if (rc != 0)
		return fail(msg, len, "mt_validate: %d: %s", rc, vmsg);
	if (check_entries(mt, m, msg, len))
		return -1;
	return check_structure(mt, m, msg, len);
}

void build_vmas(struct mtree *mt, struct model *m, size_t n, unsigned long base, uint64_t seed,
		unsigned long *next_id)
{
	struct rng r = {seed};
	unsigned long a = base;
	for (size_t i = 0; i < n; i++) {
		unsigned long pages = 1 + rng_below(&r, 16);
		unsigned long gap = 1 + rng_below(&r, 8);
		unsigned long first = a, last = a + pages * PAGE - 1;
		void *e = ENT((*next_id)++);
		int rc = mt_store(mt, first, last, e);
		if (rc != 0) {
			fprintf(stderr, "build_vmas: mt_store [%#lx,%#lx] = %d\n", first, last, rc);
			abort();
		}
		if (m)
			model_store(m, first, last, e);
		a = last + 1 + gap * PAGE;
	}
}
