/*
 * bpf_source.c - the BPF source (see bpf_source.h): kernel records to trace
 * records, and the rec_source of `vmatop record`.
 *
 * Conversion (kernel record -> trace records, all on the BPF stream):
 *   VMA_CHANGE (parts)  VMT_BPF_VMA x n, VMT_BPF_LIST, then VMT_BPF_CALL
 *                       (no CALL for FAULT and exec lists; NOCHANGE calls
 *                       are a CALL alone)
 *   FORK / FORK_RET     VMT_BPF_FORK / VMT_BPF_FORK_RET (with the copy time)
 *   EXEC                VMT_STRING (stream 0) + VMT_BPF_EXEC; its FULL list
 *                       follows as a VMA_CHANGE
 *   EXIT                VMT_BPF_EXIT
 *   LOCK_WAIT           VMT_BPF_LOCK_WAIT + VMT_BPF_STACK chunks (same cid)
 * and at the end, per thread of every process seen: VMT_BPF_THREAD,
 * VMT_BPF_LOCK_STAT (read, write), VMT_BPF_LOCK_HIST (non-empty halves);
 * then VMT_BPF_STATS.
 */
#include "bpf_source.h"
#include "source.h"
#include "util.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VM_READ_ 0x1ull
#define VM_WRITE_ 0x2ull
#define VM_EXEC_ 0x4ull
#define VM_MAYSHARE_ 0x80ull
#define VM_DONTCOPY_ 0x20000ull
#define VM_WIPEONFORK_ 0x02000000ull

struct fork_copy {
	uint32_t tid, child;
	uint64_t copy_ns;
};

struct bpf_conv {
	struct bpf_sink sink;
	struct vmt_bpf *b;
	uint64_t stream;
	uint32_t next_cid;
	/* the VMA_CHANGE being assembled */
	uint32_t cid, nvmas;
	/* processes seen */
	uint32_t *tgids;
	size_t ntgids, tgids_cap;
	/* copy time of recent forks, for their FORK_RET */
	struct fork_copy recent[64];
	unsigned nrecent;
};

static void put(struct bpf_conv *c, struct vmt_rec *r)
{
	r->commit = (uint32_t)c->stream;
	c->sink.put(c->sink.ctx, r);
}

static void seen(struct bpf_conv *c, uint32_t tgid)
{
	for (size_t i = c->ntgids; i-- > 0;)
		if (c->tgids[i] == tgid)
			return;
	VEC_PUSH(c->tgids, c->ntgids, c->tgids_cap, tgid);
}

uint64_t bpf_put_string(const struct bpf_sink *sink, const char *s)
{
	size_t len = strlen(s);
	uint64_t h = vmt_hash(s, len);
	if (len > 65535)
		len = 65535;
	for (size_t off = 0; off < len || off == 0; off += 48) {
		struct vmt_rec r = {.type = VMT_STRING, .ts = now_ns()};
		size_t n = len - off < 48 ? len - off : 48;
		r.p.str.hash = h;
		r.p.str.total = (uint16_t)len;
		r.p.str.off = (uint16_t)off;
		r.p.str.len = (uint16_t)n;
		memcpy(r.p.str.text, s + off, n);
		sink->put(sink->ctx, &r); /* stream 0 */
		if (!len)
			break;
	}
	return h;
}

static uint16_t list_flags(uint32_t f)
{
	uint16_t o = 0;
	if (f & VMT_BPF_F_RACED)
		o |= VMT_BPFH_RACED;
	if (f & VMT_BPF_F_UNSTABLE)
		o |= VMT_BPFH_UNSTABLE;
	if (f & VMT_BPF_F_TRUNC)
		o |= VMT_BPFH_TRUNC;
	if (f & VMT_BPF_F_FULL)
		o |= VMT_BPFH_FULL;
	if (f & VMT_BPF_F_FAULT)
		o |= VMT_BPFH_FAULT;
	return o;
}

static void conv_vma(struct bpf_conv *c, const struct vmt_krec_vmachg *k, const struct vmt_krec_vma *v)
{
	struct vmt_rec r = {.type = VMT_BPF_VMA, .pid = k->h.tgid, .tid = k->h.tid, .cid = c->cid,
			    .ts = k->t_write ? k->t_write : k->h.ts};
	r.p.vma.start = v->start;
	r.p.vma.end = v->end;
	r.p.vma.inode = v->ino;
	r.p.vma.dev = v->dev;
	r.p.vma.offset = v->ino ? v->pgoff << 12 : 0;
	r.p.vma.vflags = (v->flags & VM_READ_ ? VMT_VMA_READ : 0) |
			 (v->flags & VM_WRITE_ ? VMT_VMA_WRITE : 0) |
			 (v->flags & VM_EXEC_ ? VMT_VMA_EXEC : 0) |
			 (v->flags & VM_MAYSHARE_ ? VMT_VMA_SHARED : 0) |
			 (v->flags & VM_DONTCOPY_ ? VMT_VMA_DONTFORK : 0) |
			 (v->flags & VM_WIPEONFORK_ ? VMT_VMA_WIPEONFORK : 0);
	put(c, &r);
}

/* The call record of a change: entered at t0, done at the record's time. */
static void put_call(struct bpf_conv *c, const struct vmt_krec_vmachg *k, uint64_t t0,
		     uint32_t cid, uint32_t flags)
{
	struct vmt_rec r = {.type = VMT_BPF_CALL, .pid = k->h.tgid, .tid = k->h.tid,
			    .ts = t0, .cid = cid, .flags = flags};
	uint64_t d = k->h.ts > t0 ? k->h.ts - t0 : 0;
	r.dur = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
	if (k->h.flags & VMT_BPF_F_FAILED)
		r.flags |= VMT_F_FAILED;
	memcpy(r.p.bpf_call.a, k->args, sizeof(r.p.bpf_call.a));
	r.p.bpf_call.ret = k->ret;
	r.p.bpf_call.nr = k->nr;
	r.p.bpf_call.map_count = k->map_count;
	put(c, &r);
}

static void conv_change(struct bpf_conv *c, const struct vmt_krec_vmachg *k)
{
	/* REDO: a list again, or later (LATER: the call's record has no list;
	 * it follows as a REDO); CHILD: a fork child's mm */
	bool call = k->nr && !(k->h.flags & (VMT_BPF_F_FAULT | VMT_BPF_F_EXEC | VMT_BPF_F_REDO |
					     VMT_BPF_F_CHILD));
	/* the call's entry time is measured with lock statistics only */
	uint64_t t0 = k->t_enter ? k->t_enter : k->h.ts;

	if (k->h.flags & VMT_BPF_F_NOCHANGE) {
		if (k->nr)
			put_call(c, k, t0, 0, VMT_BPFH_NOCHANGE);
		return;
	}
	/* every part is a list of its own (its stretch of the ranges, its
	 * snapshot); the call follows the last */
	c->cid = ++c->next_cid;
	c->nvmas = 0;
	for (unsigned i = 0; i < k->nr_vmas && i < VMT_BPF_MAX_VMAS; i++)
		conv_vma(c, k, &k->vmas[i]);
	c->nvmas += k->nr_vmas;
	struct vmt_rec l = {.type = VMT_BPF_LIST, .pid = k->h.tgid, .tid = k->h.tid, .cid = c->cid,
			    .ts = k->t_write ? k->t_write : k->h.ts, .flags = list_flags(k->h.flags)};
	if (k->h.flags & VMT_BPF_F_MORE)
		l.flags |= VMT_BPFH_PART;
	for (int i = 0; i < 2; i++) {
		l.p.bpf_list.lo[i] = k->range[i][0];
		l.p.bpf_list.hi[i] = k->range[i][1];
	}
	l.p.bpf_list.n = c->nvmas;
	l.p.bpf_list.map_count = k->map_count;
	l.p.bpf_list.wr_seq = k->wr_seq;
	l.p.bpf_list.lock_seq = k->lock_seq;
	l.p.bpf_list.mm = k->h.mm;
	l.p.bpf_list.t_write = k->t_write;
	put(c, &l);
	if (k->h.flags & VMT_BPF_F_MORE)
		return;
	if (call)
		put_call(c, k, t0, c->cid, 0);
}

static void conv_fork(struct bpf_conv *c, const struct vmt_krec_fork *f)
{
	struct vmt_rec r = {.type = VMT_BPF_FORK, .pid = f->h.tgid, .tid = f->h.tid, .ts = f->h.ts};
	if (f->h.flags & VMT_BPF_F_THREAD)
		r.flags |= VMT_BPFH_WRITE;
	if (f->h.flags & VMT_BPF_F_SHARED_MM)
		r.flags |= VMT_BPFH_SHARED;
	if (f->h.flags & VMT_BPF_F_LISTED)
		r.flags |= VMT_BPFH_LISTED;
	r.p.bpf_fork.t_enter = f->t_enter;
	r.p.bpf_fork.lock_start = f->lock_start;
	r.p.bpf_fork.lock_acquired = f->lock_acquired;
	r.p.bpf_fork.lock_released = f->lock_released;
	r.p.bpf_fork.clone_flags = f->clone_flags;
	r.p.bpf_fork.child_pid = f->child_pid;
	r.p.bpf_fork.child_tgid = f->child_tgid;
	r.p.bpf_fork.parent_vmas = f->parent_map_count;
	r.p.bpf_fork.child_vmas = f->child_map_count;
	r.p.bpf_fork.child_mm = f->child_mm;
	r.cid = f->nr;
	put(c, &r);
	if (!(f->h.flags & VMT_BPF_F_THREAD))
		seen(c, f->child_tgid);
	struct fork_copy *fc = &c->recent[c->nrecent++ % 64];
	fc->tid = f->h.tid;
	fc->child = f->child_pid;
	fc->copy_ns = f->lock_released > f->lock_acquired && f->lock_acquired
			      ? f->lock_released - f->lock_acquired
			      : 0;
}

static void conv_fork_ret(struct bpf_conv *c, const struct vmt_krec_fork_ret *f)
{
	struct vmt_rec r = {.type = VMT_BPF_FORK_RET, .pid = f->h.tgid, .tid = f->h.tid, .ts = f->t_enter};
	uint64_t end = f->t_resume ? f->t_resume : f->h.ts;
	uint64_t d = end > f->t_enter ? end - f->t_enter : 0;
	r.dur = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
	if (f->ret < 0)
		r.flags |= VMT_F_FAILED;
	if (f->h.flags & VMT_BPF_F_THREAD)
		r.flags |= VMT_BPFH_WRITE;
	r.p.bpf_fork_ret.t_exit = f->h.ts;
	r.p.bpf_fork_ret.t_resume = end;
	r.p.bpf_fork_ret.ret = f->ret;
	r.p.bpf_fork_ret.clone_flags = f->clone_flags;
	r.p.bpf_fork_ret.nr = f->nr;
	for (unsigned i = 0; i < 64 && i < c->nrecent; i++) {
		struct fork_copy *fc = &c->recent[i];
		if (fc->tid == f->h.tid && (int64_t)fc->child == f->ret) {
			r.p.bpf_fork_ret.copy_ns = fc->copy_ns;
			break;
		}
	}
	put(c, &r);
}

static void conv_lockwait(struct bpf_conv *c, const struct vmt_krec_lockwait *w, size_t size)
{
	const uint64_t *ips = w->ips;
	int n = w->nframes <= VMT_BPF_STACK_DEPTH ? (int)w->nframes : 0;
	uint32_t cid = ++c->next_cid;
	struct vmt_rec r = {.type = VMT_BPF_LOCK_WAIT, .pid = w->h.tgid, .tid = w->h.tid, .ts = w->h.ts,
			    .cid = cid};
	while (n > 0 && size < offsetof(struct vmt_krec_lockwait, ips) + (size_t)n * 8)
		n--; /* cut short */
	r.p.bpf_lockwait.wait_ns = w->wait_ns;
	r.p.bpf_lockwait.mm = w->h.mm;
	r.p.bpf_lockwait.stack_id = -1;
	r.p.bpf_lockwait.nframes = (uint32_t)n;
	r.p.bpf_lockwait.write = !!(w->h.flags & VMT_BPF_F_WRITE);
	r.p.bpf_lockwait.contended = !!(w->h.flags & VMT_BPF_F_CONTENDED);
	if (w->h.flags & VMT_BPF_F_WRITE)
		r.flags |= VMT_BPFH_WRITE;
	if (w->h.flags & VMT_BPF_F_LOCK_FAILED)
		r.flags |= VMT_F_FAILED;
	put(c, &r);
	for (int off = 0; off < n; off += 7) {
		struct vmt_rec s = {.type = VMT_BPF_STACK, .pid = w->h.tgid, .tid = w->h.tid,
				    .ts = w->h.ts, .cid = cid};
		s.p.stack.off = (uint16_t)off;
		s.p.stack.n = (uint16_t)(n - off < 7 ? n - off : 7);
		memcpy(s.p.stack.ip, ips + off, s.p.stack.n * sizeof(uint64_t));
		put(c, &s);
	}
}

int bpf_conv_record(void *ctx, const struct vmt_krec_hdr *h, size_t size)
{
	struct bpf_conv *c = ctx;

	seen(c, h->tgid);
	switch (h->type) {
	case VMT_KREC_VMA_CHANGE:
		if (size >= VMT_KREC_VMACHG_SIZE(0))
			conv_change(c, (const void *)h);
		break;
	case VMT_KREC_FORK:
		if (size >= sizeof(struct vmt_krec_fork))
			conv_fork(c, (const void *)h);
		break;
	case VMT_KREC_FORK_RET:
		if (size >= sizeof(struct vmt_krec_fork_ret))
			conv_fork_ret(c, (const void *)h);
		break;
	case VMT_KREC_EXEC: {
		const struct vmt_krec_exec *e = (const void *)h;
		char fn[VMT_BPF_FILENAME + 1];
		if (size < sizeof(*e))
			break;
		memcpy(fn, e->filename, VMT_BPF_FILENAME);
		fn[VMT_BPF_FILENAME] = 0;
		struct vmt_rec r = {.type = VMT_BPF_EXEC, .pid = h->tgid, .tid = h->tid, .ts = h->ts};
		r.p.bpf_exec.path_hash = bpf_put_string(&c->sink, fn);
		r.p.bpf_exec.old_pid = e->old_pid;
		r.p.bpf_exec.map_count = e->map_count;
		r.p.bpf_exec.mm = h->mm;
		put(c, &r);
		break;
	}
	case VMT_KREC_EXIT: {
		const struct vmt_krec_exit *x = (const void *)h;
		if (size < sizeof(*x))
			break;
		struct vmt_rec r = {.type = VMT_BPF_EXIT, .pid = h->tgid, .tid = h->tid, .ts = h->ts};
		r.p.bpf_exit.exit_code = x->exit_code;
		r.p.bpf_exit.group_dead = !!(h->flags & VMT_BPF_F_GROUP_DEAD);
		memcpy(r.p.bpf_exit.comm, x->comm, 16);
		put(c, &r);
		break;
	}
	case VMT_KREC_LOCK_WAIT:
		if (size >= offsetof(struct vmt_krec_lockwait, ips))
			conv_lockwait(c, (const void *)h, size);
		break;
	}
	return 0;
}

struct bpf_conv *bpf_conv_new(const struct bpf_sink *sink, uint32_t mode_flags,
			      uint64_t lock_threshold_ns, const char *desc)
{
	struct bpf_conv *c = xcalloc(1, sizeof(*c));
	c->sink = *sink;
	c->stream = sink->stream_new(sink->ctx, 0);
	struct vmt_rec m = {.type = VMT_BPF_MODE, .ts = now_ns()};
	m.p.bpf_mode.flags = mode_flags;
	m.p.bpf_mode.stream = (uint32_t)c->stream;
	m.p.bpf_mode.lock_threshold_ns = lock_threshold_ns;
	snprintf(m.p.bpf_mode.desc, sizeof(m.p.bpf_mode.desc), "%s", desc ? desc : "");
	sink->put(sink->ctx, &m); /* stream 0: readers meet it first */
	return c;
}

void bpf_conv_set_collector(struct bpf_conv *c, struct vmt_bpf *b)
{
	c->b = b;
}

size_t bpf_conv_tgids(const struct bpf_conv *c, const uint32_t **out)
{
	*out = c->tgids;
	return c->ntgids;
}

static void put_hist(struct bpf_conv *c, const struct vmt_bpf_lockstat *s, int kind, int w,
		     uint64_t ts)
{
	const uint32_t *h = kind ? s->hold_hist[w] : s->wait_hist[w];
	for (int half = 0; half < 2; half++) {
		int any = 0;
		for (int i = 0; i < 16; i++)
			any |= h[half * 16 + i] != 0;
		if (!any)
			continue;
		struct vmt_rec r = {.type = VMT_BPF_LOCK_HIST, .pid = s->tgid, .tid = s->tid, .ts = ts,
				    .cid = (uint32_t)(kind << 8 | w << 4 | half)};
		memcpy(r.p.bpf_hist.b, h + half * 16, sizeof(r.p.bpf_hist.b));
		put(c, &r);
	}
}

void bpf_conv_finish(struct bpf_conv *c)
{
	struct vmt_bpf_lockstat *ls = NULL;
	size_t n = 0;
	uint64_t ts = now_ns();

	if (c->b && !vmt_bpf_lock_stats(c->b, 0, &ls, &n)) {
		for (size_t i = 0; i < n; i++) {
			struct vmt_bpf_lockstat *s = &ls[i];
			size_t j;
			for (j = 0; j < c->ntgids; j++)
				if (c->tgids[j] == s->tgid)
					break;
			if (j == c->ntgids)
				continue;
			struct vmt_rec t = {.type = VMT_BPF_THREAD, .pid = s->tgid, .tid = s->tid, .ts = ts};
			memcpy(t.p.bpf_thread.comm, s->comm, 16);
			t.p.bpf_thread.tgid = s->tgid;
			t.p.bpf_thread.tid = s->tid;
			put(c, &t);
			for (int w = 0; w < 2; w++) {
				struct vmt_rec r = {.type = VMT_BPF_LOCK_STAT, .pid = s->tgid,
						    .tid = s->tid, .ts = ts,
						    .flags = w ? VMT_BPFH_WRITE : 0,
						    .cid = s->contended_other[w] > UINT32_MAX
								   ? UINT32_MAX
								   : (uint32_t)s->contended_other[w]};
				struct vmt_bpf_lockstat_rec *o = &r.p.bpf_lockstat;
				o->acquisitions = s->acquisitions[w];
				o->failed = s->failed[w];
				o->contended = s->contended[w];
				o->contended_ns = s->contended_ns[w];
				o->wait_total = s->wait_total[w];
				o->wait_max = s->wait_max[w];
				o->hold_total = s->hold_total[w];
				o->hold_max = s->hold_max[w];
				put(c, &r);
				put_hist(c, s, 0, w, ts);
				put_hist(c, s, 1, w, ts);
			}
		}
		free(ls);
	}
	if (c->b) {
		uint64_t k[VMT_BPF_C_NR];
		struct vmt_border_stats os;
		vmt_bpf_counters(c->b, k);
		vmt_bpf_order_stats(c->b, &os);
		struct vmt_rec r = {.type = VMT_BPF_STATS, .ts = ts};
		r.p.bpf_stats.events = k[VMT_BPF_C_EVENTS];
		r.p.bpf_stats.dropped = k[VMT_BPF_C_DROPPED];
		r.p.bpf_stats.raced = k[VMT_BPF_C_RACED];
		r.p.bpf_stats.unstable = k[VMT_BPF_C_UNSTABLE];
		r.p.bpf_stats.trunc = k[VMT_BPF_C_TRUNC];
		r.p.bpf_stats.walk_err = k[VMT_BPF_C_WALK_ERR];
		r.p.bpf_stats.order_expired = os.expired;
		r.p.bpf_stats.order_orphans = os.orphans;
		put(c, &r);
		if (k[VMT_BPF_C_DROPPED])
			warnx_("BPF: %llu records lost (ring buffer full): the mirror may be wrong",
			       (unsigned long long)k[VMT_BPF_C_DROPPED]);
	}
	free(c->tgids);
	free(c);
}

/* ---- vmatop record ------------------------------------------------------------- */

static struct bpf_record_cfg rcfg;
static struct {
	struct bpf_conv *conv;
	struct vmt_bpf *b;
	struct rec_session *s;
} rs;

void bpf_source_config(const struct bpf_record_cfg *c)
{
	rcfg = *c;
}

static void sess_put(void *ctx, const struct vmt_rec *r)
{
	session_put(ctx, r);
}

static uint64_t sess_stream(void *ctx, uint32_t owner)
{
	return session_stream_new(ctx, owner);
}

static int src_start(struct rec_session *s, pid_t target)
{
	struct vmt_bpf_opts o = VMT_BPF_OPTS_DEFAULT;
	char err[256], desc[160];
	struct bpf_sink sink = {sess_put, sess_stream, s};
	int ret;

	if (rcfg.lock_threshold_ns)
		o.lock_threshold_ns = rcfg.lock_threshold_ns;
	o.lock = rcfg.lock;
	o.verbose = rcfg.verbose;
	rs.s = s;
	/* the converter is the collector's callback: make it first (it
	 * needs the session), then open */
	ret = vmt_bpf_open(&rs.b, &o, NULL, NULL, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s\n", err);
		return ret;
	}
	vmt_bpf_describe(rs.b, desc, sizeof(desc));
	const struct vmt_bpf_info *i = vmt_bpf_info(rs.b);
	uint32_t mf = VMT_BPFM_AUTHORITY | (strcmp(i->attach, "raw_tp") ? 0 : VMT_BPFM_RAW_TP) |
		      (i->mmap_lock ? VMT_BPFM_MMAP_LOCK : 0) |
		      (i->contention ? VMT_BPFM_CONTENTION : 0) | (i->fentry ? VMT_BPFM_FENTRY : 0);
	char shortd[48];
	snprintf(shortd, sizeof(shortd), "%s%s%s fentry:%s", i->attach,
		 i->mmap_lock ? " mmap_lock" : "", i->contention ? " contention" : "",
		 i->fentry ? "yes" : "no");
	rs.conv = bpf_conv_new(&sink, mf, o.lock_threshold_ns, shortd);
	bpf_conv_set_collector(rs.conv, rs.b);
	vmt_bpf_set_callback(rs.b, bpf_conv_record, rs.conv);
	ret = vmt_bpf_follow_new(rs.b, target); /* it has not exec'd yet */
	if (ret) {
		vmt_bpf_close(rs.b);
		rs.b = NULL;
		return ret;
	}
	fprintf(stderr, "vmatop: recording with the shim and %s\n", desc);
	return 0;
}

static int src_poll(struct rec_session *s)
{
	(void)s;
	if (!rs.b)
		return 0;
	int n = vmt_bpf_poll(rs.b, 0);
	return n > 0 ? n : 0;
}

static void src_stop(struct rec_session *s)
{
	(void)s;
	if (!rs.b)
		return;
	vmt_bpf_flush(rs.b);
	bpf_conv_finish(rs.conv);
	vmt_bpf_close(rs.b);
	rs.b = NULL;
	rs.conv = NULL;
}

static const struct rec_source bpf_src __attribute__((unused)) = {"bpf", src_start, src_poll,
								   src_stop};

const struct rec_source *vmatop_bpf_source(void)
{
#ifdef VMATOP_NO_BPF
	return NULL;
#else
	return &bpf_src;
#endif
}

const struct rec_source *bpf_source_for_record(void)
{
	char why[256];

	if (rcfg.mode == BPF_OFF) {
		fprintf(stderr, "vmatop: recording with the shim only (--no-bpf)\n");
		return NULL;
	}
	if (vmt_bpf_available(why, sizeof(why))) {
		if (rcfg.mode == BPF_REQUIRE) {
			fprintf(stderr, "%s\n", why);
			exit(EXIT_FAIL);
		}
		fprintf(stderr, "vmatop: recording with the shim only (%s)\n",
			strncmp(why, "vmatop: ", 8) ? why : why + 8);
		return NULL;
	}
	return vmatop_bpf_source();
}
