/*
 * bpf_order.c - the ordering stage for BPF records (see bpf_order.h).
 *
 * Data structures: an array of queues, one per mm id, each a singly linked
 * list of items. An item is READY (records to deliver as they are) or GATE
 * (head of a fork child's queue, opened by the delivery of the FORK). An
 * item holds copies of its records (one per part) and is "open" while its
 * last record had VMT_BPF_F_MORE. Each queue also keeps the log of its
 * mm: copies of recent delivered VMA_CHANGEs of multi-user mms, sorted by
 * lock_seq, and the highest lock_seq delivered.
 * Invariants: an item is delivered only from the head of its queue, and
 * only when it is complete (READY and not open, or GATE opened); a record
 * whose queue is empty is delivered at once, without a copy (the common
 * case); after a VMA_CHANGE is delivered, every logged record with a higher
 * lock_seq has been delivered after it (again, if need be). Every part of
 * a VMA_CHANGE is a record of its own here (its own stretch and snapshot).
 */
#include "bpf_order.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { IT_READY, IT_GATE };

struct blob {
	size_t size;
	unsigned char data[];
};

struct item {
	struct item *next;
	uint32_t tid;
	uint8_t kind;
	uint8_t opened; /* GATE: its FORK was delivered */
	uint8_t open;	/* READY: more parts to come */
	uint64_t arrived;
	size_t n, cap;
	struct blob **recs;
};

/* A delivered VMA_CHANGE, all its parts, kept to deliver again. */
struct logent {
	uint32_t seq;
	uint64_t at;
	size_t n;
	struct blob **recs;
};

#define LOG_MAX 65536
#define LOG_NS 1000000000ull

struct queue {
	uint64_t mm;
	struct item *head, *tail;
	/* the log (sorted by seq) */
	struct logent *log;
	size_t nlog, caplog;
	uint32_t max_seq, trimmed_max; /* valid when have_max, trimmed */
	bool have_max, trimmed;
	uint64_t last_at;
};

struct vmt_border {
	vmt_border_fn fn;
	void *ctx;
	struct queue *q;
	size_t nq, capq;
	size_t pending;
	uint64_t now;
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

static void blobs_free(struct blob **b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(b[i]);
	free(b);
}

static void item_free(struct item *it)
{
	blobs_free(it->recs, it->n);
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
		for (size_t j = 0; j < o->q[i].nlog; j++)
			blobs_free(o->q[i].log[j].recs, o->q[i].log[j].n);
		free(o->q[i].log);
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
	/* reuse an idle queue before growing (its log has aged out) */
	for (size_t i = 0; i < o->nq; i++) {
		q = &o->q[i];
		if (!q->head && (!q->have_max || o->now - q->last_at > LOG_NS)) {
			for (size_t j = 0; j < q->nlog; j++)
				blobs_free(q->log[j].recs, q->log[j].n);
			free(q->log);
			memset(q, 0, sizeof(*q));
			q->mm = mm;
			return q;
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

static struct blob *blob_new(const struct vmt_krec_hdr *h, size_t size)
{
	struct blob *b = malloc(sizeof(*b) + size);
	if (b) {
		b->size = size;
		memcpy(b->data, h, size);
	}
	return b;
}

static bool opens(const struct vmt_krec_hdr *h)
{
	return h->type == VMT_KREC_VMA_CHANGE && (h->flags & VMT_BPF_F_MORE);
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
	b = blob_new(h, size);
	if (!b)
		return -ENOMEM;
	it->recs[it->n++] = b;
	it->open = opens(h);
	o->pending++;
	o->st.held++;
	if (o->pending > o->st.held_max)
		o->st.held_max = o->pending;
	return 0;
}

static bool item_complete(const struct item *it)
{
	return it->kind == IT_GATE ? it->opened : !it->open;
}

static int deliver(struct vmt_border *o, const struct vmt_krec_hdr *h, size_t size);

/* Deliver from the head of q while the head is complete. */
static int queue_flush(struct vmt_border *o, struct queue *q)
{
	while (q->head && item_complete(q->head)) {
		struct item *it = q->head;
		int ret = 0;

		q->head = it->next;
		if (!q->head)
			q->tail = NULL;
		o->pending -= it->n;
		for (size_t i = 0; i < it->n && ret >= 0; i++)
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
		if (it->kind == IT_GATE && !it->opened) {
			it->opened = 1;
			break;
		}
	}
	return queue_flush(o, q);
}

static bool process_fork(const struct vmt_krec_hdr *h, size_t size)
{
	return h->type == VMT_KREC_FORK && size >= sizeof(struct vmt_krec_fork) &&
	       !(h->flags & VMT_BPF_F_SHARED_MM);
}

/* ---- the log: late records and the newer ones again ---- */

static int hand_on(struct vmt_border *o, const struct vmt_krec_hdr *h, size_t size)
{
	o->st.delivered++;
	return o->fn ? o->fn(o->ctx, h, size) : 0;
}

/* Deliver a copy of h with extra flags. */
static int hand_on_flagged(struct vmt_border *o, const struct vmt_krec_hdr *h, size_t size,
			   uint32_t flags)
{
	unsigned char buf[VMT_KREC_VMACHG_SIZE(VMT_BPF_MAX_VMAS)];
	if (size > sizeof(buf))
		return hand_on(o, h, size);
	memcpy(buf, h, size);
	((struct vmt_krec_hdr *)buf)->flags |= flags;
	return hand_on(o, (const void *)buf, size);
}

/* Drop the lowest-seq entries (the least likely to be needed again): all
 * older than LOG_NS when the oldest-looking one is, half when full. Runs
 * rarely (amortised O(1) per record). */
static void log_trim(struct queue *q, uint64_t now)
{
	size_t drop = 0;

	if (q->nlog >= LOG_MAX)
		drop = q->nlog / 2;
	else if (q->nlog && now - q->log[0].at > LOG_NS)
		while (drop < q->nlog && now - q->log[drop].at > LOG_NS)
			drop++;
	if (!drop)
		return;
	for (size_t i = 0; i < drop; i++) {
		struct logent *e = &q->log[i];
		if (!q->trimmed || (int32_t)(e->seq - q->trimmed_max) > 0)
			q->trimmed_max = e->seq;
		q->trimmed = true;
		blobs_free(e->recs, e->n);
	}
	memmove(q->log, q->log + drop, (q->nlog - drop) * sizeof(q->log[0]));
	q->nlog -= drop;
}

static int log_add(struct queue *q, uint32_t seq, struct blob **recs, size_t n, uint64_t now)
{
	size_t at = q->nlog;
	if (q->nlog == q->caplog) {
		size_t nc = q->caplog ? 2 * q->caplog : 16;
		struct logent *nl = realloc(q->log, nc * sizeof(*nl));
		if (!nl)
			return -ENOMEM;
		q->log = nl;
		q->caplog = nc;
	}
	while (at > 0 && (int32_t)(q->log[at - 1].seq - seq) > 0)
		at--;
	memmove(&q->log[at + 1], &q->log[at], (q->nlog - at) * sizeof(q->log[0]));
	q->log[at] = (struct logent){.seq = seq, .at = now, .n = n, .recs = recs};
	q->nlog++;
	log_trim(q, now);
	return 0;
}

/* A VMA_CHANGE (one part: each is a record of its own, with its own
 * snapshot) on its way out: late (older than one delivered for its mm) -
 * deliver it RACED, then the newer logged ones again; then keep it. */
static int deliver_change(struct vmt_border *o, const struct vmt_krec_vmachg *r, size_t size)
{
	struct queue *q = queue_get(o, r->h.mm);
	uint32_t seq = r->lock_seq;
	bool late;
	int ret;

	if (!q)
		return -ENOMEM;
	late = q->have_max && (int32_t)(seq - q->max_seq) < 0;
	if (!late) {
		ret = hand_on(o, &r->h, size);
	} else {
		o->st.late++;
		ret = hand_on_flagged(o, &r->h, size, VMT_BPF_F_RACED);
		if (q->trimmed && (int32_t)(seq - q->trimmed_max) < 0)
			o->st.unrepaired++;
		for (size_t i = 0; i < q->nlog && ret >= 0; i++) {
			struct logent *e = &q->log[i];
			if ((int32_t)(e->seq - seq) <= 0)
				continue;
			o->st.redelivered++;
			for (size_t j = 0; j < e->n && ret >= 0; j++)
				ret = hand_on_flagged(o, (const void *)e->recs[j]->data, e->recs[j]->size,
						      VMT_BPF_F_REDO | VMT_BPF_F_RACED);
		}
	}
	if (ret < 0)
		return ret;
	if (!q->have_max || (int32_t)(seq - q->max_seq) > 0)
		q->max_seq = seq;
	q->have_max = true;
	q->last_at = o->now;
	/* only multi-user mms race; their records are kept */
	if (!(r->h.flags & VMT_BPF_F_SOLO)) {
		struct blob **b = malloc(sizeof(*b));
		if (!b)
			return -ENOMEM;
		b[0] = blob_new(&r->h, size);
		if (!b[0] || log_add(q, seq, b, 1, o->now)) {
			blobs_free(b, b[0] ? 1 : 0);
			return -ENOMEM;
		}
	}
	return 0;
}

/* A mm id starts a new life (exec, fork: the kernel reuses the addresses
 * of freed mm_structs) or ends one (the process is gone): forget its log. */
static void mm_forget(struct vmt_border *o, uint64_t mm)
{
	struct queue *q = queue_find(o, mm);
	if (!q)
		return;
	for (size_t j = 0; j < q->nlog; j++)
		blobs_free(q->log[j].recs, q->log[j].n);
	q->nlog = 0;
	q->have_max = q->trimmed = false;
}

static int deliver(struct vmt_border *o, const struct vmt_krec_hdr *h, size_t size)
{
	int ret;

	if (h->type == VMT_KREC_EXEC)
		mm_forget(o, h->mm);
	else if (process_fork(h, size))
		mm_forget(o, ((const struct vmt_krec_fork *)h)->child_mm);
	else if (h->type == VMT_KREC_EXIT && (h->flags & VMT_BPF_F_GROUP_DEAD))
		mm_forget(o, h->mm);
	if (h->type == VMT_KREC_VMA_CHANGE && size >= VMT_KREC_VMACHG_SIZE(0) && h->mm &&
	    !(h->flags & VMT_BPF_F_NOCHANGE) && ((const struct vmt_krec_vmachg *)h)->lock_seq)
		return deliver_change(o, (const void *)h, size);
	ret = hand_on(o, h, size);
	if (ret < 0)
		return ret;
	if (process_fork(h, size))
		return open_gate(o, ((const struct vmt_krec_fork *)h)->child_mm);
	return 0;
}

int vmt_border_push(struct vmt_border *o, const struct vmt_krec_hdr *h, size_t size,
		    uint64_t now_ns)
{
	struct queue *q;
	struct item *it = NULL;
	int ret;

	o->now = now_ns;
	/* a process fork gates the child's address space */
	if (process_fork(h, size)) {
		struct queue *cq = queue_get(o, ((const struct vmt_krec_fork *)h)->child_mm);
		if (!cq || !item_new(cq, IT_GATE, 0, now_ns))
			return -ENOMEM;
	}
	q = queue_find(o, h->mm);
	if (!h->mm || ((!q || !q->head) && !opens(h))) {
		/* nothing waits in this address space: straight through */
		if (h->type == VMT_KREC_VMA_CHANGE && size >= VMT_KREC_VMACHG_SIZE(0) &&
		    ((const struct vmt_krec_vmachg *)h)->part > 0)
			o->st.orphans++; /* a further part whose first was lost */
		return deliver(o, h, size);
	}
	if (!q && !(q = queue_get(o, h->mm)))
		return -ENOMEM;
	if (h->type == VMT_KREC_VMA_CHANGE && size >= VMT_KREC_VMACHG_SIZE(0) &&
	    ((const struct vmt_krec_vmachg *)h)->part > 0) {
		/* a further part: joins the open item of its thread */
		for (struct item *i = q->head; i; i = i->next)
			if (i->kind == IT_READY && i->tid == h->tid && i->open)
				it = i;
		if (!it)
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
	return queue_flush(o, q);
}

int vmt_border_expire(struct vmt_border *o, uint64_t now_ns, uint64_t max_wait_ns)
{
	o->now = now_ns;
	for (size_t i = 0; i < o->nq; i++) {
		struct queue *q = &o->q[i];
		while (q->head && !item_complete(q->head) && now_ns - q->head->arrived > max_wait_ns) {
			int ret;
			o->st.expired++;
			if (q->head->kind == IT_GATE)
				q->head->opened = 1;
			else
				q->head->open = 0; /* missing parts: deliver what came */
			ret = queue_flush(o, q);
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
			it->open = 0;
			it->opened = 1;
		}
		int ret = queue_flush(o, &o->q[i]);
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
