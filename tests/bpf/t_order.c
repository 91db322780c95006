/*
 * t_order.c - the ordering stage (cli/bpf_order.c) on synthetic records:
 * records follow the order of their MARKs, parts stay together, a call that
 * wrote twice counts at its last MARK, a fork child's records wait for the
 * FORK, a lost record expires instead of stalling its queue. No BPF needed.
 */
#include <stdio.h>
#include <string.h>

#include "bpf_order.h"
#include "tap.h"

static char got[64][32];
static int ngot;

static int sink(void *ctx, const struct vmt_krec_hdr *h, size_t size)
{
	(void)ctx;
	(void)size;
	if (ngot < 64) {
		if (h->type == VMT_KREC_VMA_CHANGE)
			snprintf(got[ngot], sizeof(got[0]), "V%u.%u", h->tid,
				 ((const struct vmt_krec_vmachg *)h)->part);
		else if (h->type == VMT_KREC_FORK)
			snprintf(got[ngot], sizeof(got[0]), "F%u", h->tid);
		else
			snprintf(got[ngot], sizeof(got[0]), "T%u.%u", h->type, h->tid);
		ngot++;
	}
	return 0;
}

static const char *seq(void)
{
	static char buf[512];
	buf[0] = 0;
	for (int i = 0; i < ngot; i++) {
		strcat(buf, got[i]);
		if (i + 1 < ngot)
			strcat(buf, " ");
	}
	ngot = 0;
	return buf;
}

static void mark(struct vmt_border *o, uint64_t mm, uint32_t tid, uint64_t now)
{
	struct vmt_krec_mark m = { .h = { .type = VMT_KREC_MARK, .size = sizeof(m), .tid = tid,
					 .tgid = 1, .mm = mm } };
	vmt_border_push(o, &m.h, sizeof(m), now);
}

static void change(struct vmt_border *o, uint64_t mm, uint32_t tid, uint32_t wr_seq,
		   uint16_t part, int more)
{
	struct vmt_krec_vmachg r;
	memset(&r, 0, sizeof(r));
	r.h.type = VMT_KREC_VMA_CHANGE;
	r.h.size = VMT_KREC_VMACHG_SIZE(0);
	r.h.tid = tid;
	r.h.tgid = 1;
	r.h.mm = mm;
	r.h.flags = more ? VMT_BPF_F_MORE : 0;
	r.wr_seq = wr_seq;
	r.part = part;
	vmt_border_push(o, &r.h, VMT_KREC_VMACHG_SIZE(0), 0);
}

static void other(struct vmt_border *o, uint64_t mm, uint16_t type, uint32_t tid)
{
	struct vmt_krec_exit x;
	memset(&x, 0, sizeof(x));
	x.h.type = type;
	x.h.size = sizeof(x);
	x.h.tid = tid;
	x.h.mm = mm;
	vmt_border_push(o, &x.h, sizeof(x), 0);
}

static void fork_rec(struct vmt_border *o, uint64_t mm, uint32_t tid, uint64_t child_mm,
		     uint32_t wr_seq)
{
	struct vmt_krec_fork f;
	memset(&f, 0, sizeof(f));
	f.h.type = VMT_KREC_FORK;
	f.h.size = sizeof(f);
	f.h.tid = tid;
	f.h.mm = mm;
	f.child_mm = child_mm;
	f.wr_seq = wr_seq;
	vmt_border_push(o, &f.h, sizeof(f), 0);
}

int main(void)
{
	struct vmt_border *o = vmt_border_new(sink, NULL);
	struct vmt_border_stats st;

	plan(10);

	/* no MARK, no wait */
	change(o, 1, 10, 0, 0, 0);
	ok(!strcmp(seq(), "V10.0"), "a record without a change goes straight through");

	/* thread 10 changed first, thread 11 second, records in the other order */
	mark(o, 1, 10, 0);
	mark(o, 1, 11, 0);
	change(o, 1, 11, 3, 0, 0);
	ok(ngot == 0, "11's record waits for 10's");
	change(o, 1, 10, 1, 0, 0);
	ok(!strcmp(seq(), "V10.0 V11.0"), "then both go, in the order of the changes");

	/* parts stay together; another thread's record behind them waits */
	mark(o, 1, 12, 0);
	mark(o, 1, 13, 0);
	change(o, 1, 12, 5, 0, 1);
	change(o, 1, 13, 7, 0, 0);
	change(o, 1, 12, 5, 1, 1);
	ok(ngot == 0, "an open record holds its queue");
	change(o, 1, 12, 5, 2, 0);
	ok(!strcmp(seq(), "V12.0 V12.1 V12.2 V13.0"), "parts in order, then the next change");

	/* a call that wrote twice counts at its last MARK */
	mark(o, 1, 14, 0);
	mark(o, 1, 15, 0);
	mark(o, 1, 14, 0);
	change(o, 1, 15, 9, 0, 0);
	ok(!strcmp(seq(), "V15.0"), "the superseded first MARK does not hold 15");
	change(o, 1, 14, 11, 0, 0);
	ok(!strcmp(seq(), "V14.0"), "14 at its second MARK");

	/* fork: the child's records wait for the FORK, which waits for its MARK */
	mark(o, 1, 16, 0);
	mark(o, 1, 10, 0); /* the copy */
	fork_rec(o, 1, 10, 2, 13);
	change(o, 2, 20, 1, 0, 0); /* the child runs: no MARK for it in this test */
	other(o, 2, VMT_KREC_EXIT, 20);
	ok(ngot == 0, "the child waits for the fork, the fork for 16's change");
	change(o, 1, 16, 12, 0, 0);
	ok(!strcmp(seq(), "V16.0 F10 V20.0 T5.20"), "then change, fork, child, in order");

	/* a lost record expires */
	mark(o, 3, 30, 100);
	other(o, 3, VMT_KREC_EXIT, 30);
	vmt_border_expire(o, 100 + 500, 1000);
	int held = ngot == 0;
	vmt_border_expire(o, 100 + 2000, 1000);
	vmt_border_get_stats(o, &st);
	ok(held && !strcmp(seq(), "T5.30") && st.expired == 1 && vmt_border_pending(o) == 0,
	   "an unfilled slot expires after the wait, and the queue moves on");

	vmt_border_free(o);
	return tap_exit();
}
