/*
 * t_order.c - the ordering stage (cli/bpf_order.c) on synthetic records:
 * ring order, parts of a record together at the position of the first
 * (what came behind them in their mm waits), other mms not held, a fork
 * child's records after the FORK, a lost part expires instead of stalling
 * its queue. No BPF needed.
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
			snprintf(got[ngot], sizeof(got[0]), "V%u.%u%s%s", h->tid,
				 ((const struct vmt_krec_vmachg *)h)->part,
				 h->flags & VMT_BPF_F_REDO ? "again" :
				 h->flags & VMT_BPF_F_RACED ? "raced" : "",
				 "");
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

/* a VMA_CHANGE of a multi-user mm, snapshot seq */
static void snap(struct vmt_border *o, uint64_t mm, uint32_t tid, uint32_t seq, uint32_t flags)
{
	struct vmt_krec_vmachg r;
	memset(&r, 0, sizeof(r));
	r.h.type = VMT_KREC_VMA_CHANGE;
	r.h.size = VMT_KREC_VMACHG_SIZE(0);
	r.h.tid = tid;
	r.h.tgid = 1;
	r.h.mm = mm;
	r.h.flags = flags;
	r.lock_seq = seq;
	vmt_border_push(o, &r.h, VMT_KREC_VMACHG_SIZE(0), 0);
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

	plan(14);

	change(o, 1, 10, 0, 0, 0);
	ok(!strcmp(seq(), "V10.0"), "a record goes straight through");
	change(o, 1, 11, 0, 0, 0);
	change(o, 1, 10, 0, 0, 0);
	ok(!strcmp(seq(), "V11.0 V10.0"), "records of one mm stay in ring order");

	/* parts stay together; another thread's record behind them waits */
	change(o, 1, 12, 0, 0, 1);
	change(o, 1, 13, 0, 0, 0);
	change(o, 1, 12, 0, 1, 1);
	ok(ngot == 0, "an open record holds its queue");
	other(o, 2, VMT_KREC_EXIT, 40);
	ok(!strcmp(seq(), "T5.40"), "... not the queues of other mms");
	change(o, 1, 12, 0, 2, 0);
	ok(!strcmp(seq(), "V12.0 V12.1 V12.2 V13.0"), "parts in order, then what came behind");

	/* two open records of one mm, interleaved parts */
	change(o, 1, 14, 0, 0, 1);
	change(o, 1, 15, 0, 0, 1);
	change(o, 1, 15, 0, 1, 0);
	change(o, 1, 14, 0, 1, 0);
	ok(!strcmp(seq(), "V14.0 V14.1 V15.0 V15.1"),
	   "interleaved parts of two threads: each record whole, at its first part");

	/* fork: the child's records wait for the FORK */
	change(o, 1, 16, 0, 0, 1); /* open in the parent's mm */
	fork_rec(o, 1, 10, 3, 0);
	change(o, 3, 20, 0, 0, 0); /* the child's list (made at the fork) */
	other(o, 3, VMT_KREC_EXIT, 20);
	ok(ngot == 0, "the child waits for the fork, the fork for the open record");
	change(o, 1, 16, 0, 1, 0);
	ok(!strcmp(seq(), "V16.0 V16.1 F10 V20.0 T5.20"), "then record, fork, child, in order");

	/* a lost part expires */
	change(o, 4, 30, 0, 0, 1);
	other(o, 4, VMT_KREC_EXIT, 30);
	vmt_border_expire(o, 100 + 500, 1000);
	int held = ngot == 0;
	vmt_border_expire(o, 2000, 1000);
	vmt_border_get_stats(o, &st);
	ok(held && !strcmp(seq(), "V30.0 T5.30") && st.expired == 1 && vmt_border_pending(o) == 0,
	   "an open record missing its last part is let go after the wait");
	change(o, 5, 31, 0, 1, 0);
	vmt_border_get_stats(o, &st);
	ok(!strcmp(seq(), "V31.1") && st.orphans == 1, "a part without its first goes through, counted");

	/* a record older than one delivered: it, then the newer ones again */
	snap(o, 6, 60, 10, 0);
	snap(o, 6, 61, 14, 0);
	snap(o, 6, 62, 16, 0);
	snap(o, 6, 60, 12, 0); /* read at 12, in the ring after 14 and 16 */
	vmt_border_get_stats(o, &st);
	ok(!strcmp(seq(), "V60.0 V61.0 V62.0 V60.0raced V61.0again V62.0again") && st.late == 1 &&
	       st.redelivered == 2,
	   "a late record is delivered RACED, then the newer ones again (REDO), in seq order");
	snap(o, 6, 61, 13, 0); /* later than 12, earlier than 14: 14, 16 again */
	ok(!strcmp(seq(), "V61.0raced V61.0again V62.0again"),
	   "... the late one joins the log at its seq (not at the end)");
	/* single-user records are not kept (they cannot race); a new life of
	 * the mm id (exec, fork; the kernel reuses mm_struct addresses) starts
	 * afresh */
	other(o, 6, VMT_KREC_EXEC, 60);
	snap(o, 6, 60, 2, VMT_BPF_F_SOLO);
	ok(!strcmp(seq(), "T4.60 V60.0"), "after an exec of the mm id, low seqs are not late");
	snap(o, 6, 60, 4, 0);
	snap(o, 6, 60, 6, VMT_BPF_F_SOLO);
	snap(o, 6, 61, 5, 0);
	ok(!strcmp(seq(), "V60.0 V60.0 V61.0raced"),
	   "a late record after a single-user one: nothing kept to deliver again");

	vmt_border_free(o);
	return tap_exit();
}
