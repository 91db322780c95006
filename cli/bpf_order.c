/*
 * bpf_order.c - the ordering stage for BPF records (see bpf_order.h).
 *
 * Data structure: an array of queues, one per mm id, each a singly linked
 * list of items. An item is READY (records to deliver as they are), SLOT
 * (placeholder made by a MARK of thread tid, waiting for its record), or
 * GATE (head of a fork child's queue, opened by the delivery of the FORK).
 * An item holds copies of its records (one per part) and is "open" while
 * its last record had VMT_BPF_F_MORE. Invariant: an item is delivered only
 * from the head of its queue, and only when it is complete (READY and not
 * open, or SLOT filled and not open, or GATE opened).
 */
#include "bpf_order.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { IT_READY, IT_SLOT, IT_GATE };

struct blob {
	size_t size;
	unsigned char data[];
};

struct item {
	struct item *next;
	uint32_t tid;
	uint8_t kind;
	uint8_t filled; /* SLOT: got its record; GATE: opened */
	uint8_t dead;	/* SLOT superseded by a later MARK, or expired */
	uint8_t open;	/* more parts to come */
	uint64_t arrived;
	size_t n, cap;
	struct blob **recs;
};

struct queue {
	uint64_t mm;
	struct item *head, *tail;
};

struct vmt_border {
	vmt_border_fn fn;
	void *ctx;
	struct queue *q;
	size_t nq, capq;
	size_t pending;
	struct vmt_border_stats st;
};

struct vmt_border *vmt_border_new(vmt_border_fn fn, void *ctx)
{
	struct vmt_border *o = calloc(1, sizeof(*o));
	if (o) {
		o->fn = fn;
		o->ctx = ctx;
	}
	return o;
}

void vmt_border_set_fn(struct vmt_border *o, vmt_border_fn fn, void *ctx)
{
	o->fn = fn;
	o->ctx = ctx;
}

static void item_free(struct item *it)
{
	for (size_t i = 0; i < it->n; i++)
		free(it->recs[i]);
	free(it->recs);
	free(it);
}

void vmt_border_free(struct vmt_border *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->nq; i++) {
		struct item *it = o->q[i].head;
		while (it) {
			struct item *nx = it->next;
			item_free(it);
			it = nx;
		}
	}
	free(o->q);
	free(o);
}

static struct queue *queue_find(struct vmt_border *o, uint64_t mm)
{
	for (size_t i = 0; i < o->nq; i++)
		if (o->q[i].mm == mm)
			return &o->q[i];
	return NULL;
}

static struct queue *queue_get(struct vmt_border *o, uint64_t mm)
{
	struct queue *q = queue_find(o, mm);
	if (q)
		return q;
	/* reuse an empty queue before growing */
	for (size_t i = 0; i < o->nq; i++) {
		if (!o->q[i].head) {
			o->q[i].mm = mm;
			return &o->q[i];
		}
	}
	if (o->nq == o->capq) {
		size_t nc = o->capq ? 2 * o->capq : 16;
		struct queue *nq = realloc(o->q, nc * sizeof(*nq));
		if (!nq)
			return NULL;
		o->q = nq;
		o->capq = nc;
	}
	q = &o->q[o->nq++];
	memset(q, 0, sizeof(*q));
	q->mm = mm;
	return q;
}

static struct item *item_new(struct queue *q, int kind, uint32_t tid, uint64_t now)
{
	struct item *it = calloc(1, sizeof(*it));
	if (!it)
		return NULL;
	it->kind = kind;
	it->tid = tid;
	it->arrived = now;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	return it;
}

static int item_add(struct vmt_border *o, struct item *it, const struct vmt_krec_hdr *h, size_t size)
{
	struct blob *b;

	if (it->n == it->cap) {
		size_t nc = it->cap ? 2 * it->cap : 2;
		struct blob **nr = realloc(it->recs, nc * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		it->recs = nr;
		it->cap = nc;
	}
	b = malloc(sizeof(*b) + size);
	if (!b)
		return -ENOMEM;
	b->size = size;
	memcpy(b->data, h, size);
	it->recs[it->n++] = b;
	it->open = h->type == VMT_KREC_VMA_CHANGE && (h->flags & VMT_BPF_F_MORE);
	o->pending++;
	o->st.held++;
	if (o->pending > o->st.held_max)
		o->st.held_max = o->pending;
	return 0;
}

static bool item_complete(const struct item *it)
{
	if (it->dead)
		return true;
	if (it->open)
		return false;
	if (it->kind == IT_READY)
		return true;
	return it->filled;
}

static int deliver(struct vmt_border *o, const struct vmt_krec_hdr *h, size_t size);

/* Deliver from the head of q while the head is complete. */
static int queue_flush(struct vmt_border *o, struct queue *q, bool force)
{
	while (q->head && (force || item_complete(q->head))) {
		struct item *it = q->head;
		int ret = 0;

		q->head = it->next;
		if (!q->head)
			q->tail = NULL;
		o->pending -= it->n;
		for (size_t i = 0; i < it->n && ret >= 0; i++)
			if (!it->dead)
				ret = deliver(o, (const void *)it->recs[i]->data, it->recs[i]->size);
		item_free(it);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Open the gate of a fork child's queue. */
static int open_gate(struct vmt_border *o, uint64_t child_mm)
{
	struct queue *q = queue_find(o, child_mm);
	if (!q)
		return 0;
	for (struct item *it = q->head; it; it = it->next) {
		if (it->kind == IT_GATE && !it->filled) {
			it->filled = 1;
			break;
		}
	}
	return queue_flush(o, q, false);
}

static int deliver(struct vmt_border *o, const struct vmt_krec_hdr *h, size_t size)
{
	int ret;

	o->st.delivered++;
	ret = o->fn ? o->fn(o->ctx, h, size) : 0;
	if (ret < 0)
		return ret;
	if (h->type == VMT_KREC_FORK && size >= sizeof(struct vmt_krec_fork) &&
	    !(h->flags & VMT_BPF_F_SHARED_MM))
		return open_gate(o, ((const struct vmt_krec_fork *)h)->child_mm);
	return 0;
}

static bool needs_slot(const struct vmt_krec_hdr *h, size_t size)
{
	if (h->type == VMT_KREC_VMA_CHANGE && size >= VMT_KREC_VMACHG_SIZE(0)) {
		const struct vmt_krec_vmachg *r = (const void *)h;
		/* SOLO: the mm had a single user, no MARK was sent */
		return r->part == 0 && r->wr_seq && !(h->flags & (VMT_BPF_F_FAULT | VMT_BPF_F_SOLO));
	}
	if (h->type == VMT_KREC_FORK && size >= sizeof(struct vmt_krec_fork))
		return ((const struct vmt_krec_fork *)h)->wr_seq != 0 && !(h->flags & VMT_BPF_F_SOLO);
	return false;
}

int vmt_border_push(struct vmt_border *o, const struct vmt_krec_hdr *h, size_t size,
		    uint64_t now_ns)
{
	struct queue *q;
	struct item *it = NULL;
	int ret;

	if (h->type == VMT_KREC_MARK)
		o->st.marks++;
	/* a process fork gates the child's address space */
	if (h->type == VMT_KREC_FORK && size >= sizeof(struct vmt_krec_fork) &&
	    !(h->flags & VMT_BPF_F_SHARED_MM)) {
		const struct vmt_krec_fork *f = (const void *)h;
		struct queue *cq = queue_get(o, f->child_mm);
		if (!cq || !item_new(cq, IT_GATE, 0, now_ns))
			return -ENOMEM;
	}
	q = queue_find(o, h->mm);
	if (!h->mm || ((!q || !q->head) && h->type != VMT_KREC_MARK &&
		       !(h->type == VMT_KREC_VMA_CHANGE && (h->flags & VMT_BPF_F_MORE)))) {
		/* nothing waits in this address space: straight through */
		if (h->type == VMT_KREC_MARK)
			return 0;
		return deliver(o, h, size);
	}
	if (!q && !(q = queue_get(o, h->mm)))
		return -ENOMEM;
	if (h->type == VMT_KREC_MARK) {
		for (it = q->head; it; it = it->next)
			if (it->kind == IT_SLOT && it->tid == h->tid && !it->filled)
				it->dead = 1; /* the call wrote again: its last MARK counts */
		return item_new(q, IT_SLOT, h->tid, now_ns) ? queue_flush(o, q, false) : -ENOMEM;
	}
	if (h->type == VMT_KREC_VMA_CHANGE && ((const struct vmt_krec_vmachg *)h)->part > 0) {
		/* a further part: joins the open item of its thread */
		struct item *x = NULL;
		for (struct item *i = q->head; i; i = i->next)
			if (i->tid == h->tid && i->open)
				x = i;
		it = x;
	} else if (needs_slot(h, size)) {
		struct item *x = NULL;
		for (struct item *i = q->head; i; i = i->next)
			if (i->kind == IT_SLOT && i->tid == h->tid && !i->filled && !i->dead)
				x = i;
		it = x;
		if (it && it == q->head && !(h->flags & VMT_BPF_F_MORE)) {
			/* its turn already: no copy */
			q->head = it->next;
			if (!q->head)
				q->tail = NULL;
			item_free(it);
			ret = deliver(o, h, size);
			return ret < 0 ? ret : queue_flush(o, q, false);
		}
		if (it)
			it->filled = 1;
		else
			o->st.orphans++;
	}
	if (!it) {
		it = item_new(q, IT_READY, h->tid, now_ns);
		if (!it)
			return -ENOMEM;
	}
	ret = item_add(o, it, h, size);
	if (ret)
		return ret;
	return queue_flush(o, q, false);
}

int vmt_border_expire(struct vmt_border *o, uint64_t now_ns, uint64_t max_wait_ns)
{
	for (size_t i = 0; i < o->nq; i++) {
		struct queue *q = &o->q[i];
		while (q->head && !item_complete(q->head) && now_ns - q->head->arrived > max_wait_ns) {
			struct item *it = q->head;
			int ret;
			o->st.expired++;
			if (it->kind == IT_GATE)
				it->filled = 1;
			else if (it->kind == IT_SLOT && !it->filled)
				it->dead = 1;
			else
				it->open = 0; /* missing parts: deliver what came */
			ret = queue_flush(o, q, false);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

int vmt_border_flush(struct vmt_border *o)
{
	for (size_t i = 0; i < o->nq; i++) {
		for (struct item *it = o->q[i].head; it; it = it->next) {
			if (it->kind == IT_SLOT && !it->filled)
				it->dead = 1;
			it->open = 0;
			if (it->kind == IT_GATE)
				it->filled = 1;
		}
		int ret = queue_flush(o, &o->q[i], false);
		if (ret < 0)
			return ret;
	}
	return 0;
}

size_t vmt_border_pending(const struct vmt_border *o)
{
	return o->pending;
}

void vmt_border_get_stats(const struct vmt_border *o, struct vmt_border_stats *s)
{
	*s = o->st;
}
