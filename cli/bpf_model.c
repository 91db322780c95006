/*
 * bpf_model.c - BPF records into the model (see bpf_model.h), and the BPF
 * parts of report and verify.
 *
 * Data structures: struct bpf_model (model->bpf) with the owner table
 * mm -> struct proc (whose tree mirrors that address space); struct
 * bpf_proc (proc->bpf) per process image. Trees are the model's (struct aspace, one
 * maple tree of struct vma), changed here with the same split/erase rules
 * as model.c.
 */
#include "bpf_model.h"
#include "symbolize.h"
#include "util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define PG_ 4096ull

struct bpf_thread_stat {
	uint32_t tid;
	char comm[16];
	struct vmt_bpf_lockstat_rec rw[2];
	uint64_t other[2];	 /* contended acquisitions waiting for another process */
	uint32_t hist[2][2][32]; /* [wait/hold][read/write][bucket] */
};

struct bpf_site {
	uint64_t ips[16];
	unsigned n;
	uint64_t count, total_ns, max_ns;
	int write;
};

struct anon_name {
	uint64_t addr; /* the VMA's start, or its end for [stack] (it grows down) */
	int by_end;
	uint64_t hash;
};

#define VSYSCALL_START 0xffffffffff600000ull

struct name_of {
	uint32_t dev;
	uint64_t ino, hash;
};

struct bpf_proc {
	int shared; /* vfork child: lives in its parent's mm until it execs */
	/* the names this process's own lists gave files (a name belongs to a
	 * mapping: the same inode can be mapped through other links elsewhere) */
	struct name_of *pnames;
	size_t npnames, pnames_cap;
	int vsys;   /* the mirror holds the [vsyscall] gate area (not a VMA) */
	uint64_t vsys_name;
	struct anon_name *an;
	size_t nan, an_cap;
	uint64_t checks, mismatches, skipped;
	char first[3][240];
	uint64_t *copy_ns, *sys_ns; /* per proc->forks entry made by BPF */
	size_t ncopy, copy_cap, nsys, sys_cap;
	struct pend_fork {
		uint32_t child;
		uint64_t copy_ns, dup_ns;
		int32_t vmas;
	} *pend;
	size_t npend, pend_cap;
	struct bpf_thread_stat *th;
	size_t nth, th_cap;
	struct bpf_site *sites;
	size_t nsites, sites_cap;
	uint64_t lock_waits, calls, nochange, lists, faults;
};

struct owner {
	uint64_t mm;
	struct proc *p;
};

struct bpf_model {
	uint32_t mode_flags;
	uint64_t threshold;
	char desc[49];
	struct vmt_bpf_stats stats;
	int have_stats;
	struct owner *own;
	size_t nown, own_cap;
	struct name_of *names;
	size_t nnames, names_cap;
	/* the list being read (its VMAs are consecutive in the BPF stream) */
	uint32_t lcid;
	struct vmt_vma *lv;
	size_t ln, lcap;
	/* the lock wait being read */
	struct proc *wp;
	uint32_t wcid;
	struct bpf_site w;
};

/* ---- processes ---- */

static struct bpf_model *bm(struct model *m)
{
	return m->bpf;
}

static struct bpf_proc *bp(struct proc *p)
{
	if (!p->bpf)
		p->bpf = xcalloc(1, sizeof(struct bpf_proc));
	return p->bpf;
}

static struct proc *latest(struct model *m, uint32_t pid, int alive)
{
	for (size_t i = m->nprocs; i-- > 0;) {
		struct proc *p = m->procs[i];
		if (p->pid == pid && (!alive || (!p->execed && !p->exited)))
			return p;
	}
	return NULL;
}

static struct proc *new_proc(struct model *m, uint32_t pid, uint32_t ppid, uint64_t ts)
{
	struct proc *p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->ppid = ppid;
	p->start_ts = ts;
	p->announced = 1;
	strcpy(p->comm, "?");
	bp(p);
	VEC_PUSH(m->procs, m->nprocs, m->procs_cap, p);
	return p;
}

static struct owner *owner_of(struct model *m, uint64_t mm)
{
	struct bpf_model *b = bm(m);
	for (size_t i = b->nown; i-- > 0;)
		if (b->own[i].mm == mm)
			return &b->own[i];
	return NULL;
}

static struct owner *set_owner(struct model *m, uint64_t mm, struct proc *p)
{
	struct bpf_model *b = bm(m);
	struct owner *o = owner_of(m, mm);
	if (!o) {
		VEC_PUSH(b->own, b->nown, b->own_cap, ((struct owner){.mm = mm}));
		o = &b->own[b->nown - 1];
	}
	o->p = p;
	return o;
}

/* The process a record of pid is about (made if BPF never saw it start:
 * attached, or its exec was before BPF was on). */
static struct proc *proc_for(struct model *m, uint32_t pid, uint64_t ts)
{
	struct proc *p = latest(m, pid, 1);
	if (!p)
		p = new_proc(m, pid, 0, ts);
	bp(p);
	return p;
}

static void peak(struct proc *p)
{
	size_t n = aspace_count(p->as);
	if (n > p->peak)
		p->peak = n;
}

struct proc *bpf_model_claim(struct model *m, uint32_t pid, uint64_t stream)
{
	if (!m->bpf)
		return NULL;
	struct proc *p = latest(m, pid, 0);
	if (!p || !p->bpf || p->stream || p->execed)
		return NULL;
	p->stream = stream;
	if (stream >= m->nby_stream) {
		size_t n = stream + 64;
		m->by_stream = xrealloc(m->by_stream, n * sizeof(*m->by_stream));
		memset(m->by_stream + m->nby_stream, 0,
		       (n - m->nby_stream) * sizeof(*m->by_stream));
		m->nby_stream = n;
	}
	m->by_stream[stream] = p;
	return p;
}

/* ---- names ---- */

static uint64_t name_find(struct bpf_model *b, uint32_t dev, uint64_t ino)
{
	for (size_t i = 0; i < b->nnames; i++)
		if (b->names[i].dev == dev && b->names[i].ino == ino)
			return b->names[i].hash;
	return 0;
}

static uint64_t pname_find(const struct bpf_proc *x, uint32_t dev, uint64_t ino)
{
	for (size_t i = 0; x && i < x->npnames; i++)
		if (x->pnames[i].dev == dev && x->pnames[i].ino == ino)
			return x->pnames[i].hash;
	return 0;
}

static void pname_set(struct bpf_proc *x, uint32_t dev, uint64_t ino, uint64_t hash)
{
	for (size_t i = 0; i < x->npnames; i++)
		if (x->pnames[i].dev == dev && x->pnames[i].ino == ino) {
			x->pnames[i].hash = hash;
			return;
		}
	VEC_PUSH(x->pnames, x->npnames, x->pnames_cap, ((struct name_of){dev, ino, hash}));
}

static uint64_t anon_find(const struct bpf_proc *x, uint64_t start, uint64_t end)
{
	for (size_t i = 0; x && i < x->nan; i++)
		if (x->an[i].addr == (x->an[i].by_end ? end : start))
			return x->an[i].hash;
	return 0;
}

/* The gate area /proc shows: kept in the mirror so that it compares with
 * the kernel's maps, left out of the map_count checks. */
static void add_vsys(struct proc *p, const struct vmt_vma *s)
{
	struct bpf_proc *x = bp(p);
	if (x->vsys || !p->as)
		return;
	struct vma *v = xcalloc(1, sizeof(*v));
	v->start = s->start;
	v->end = s->end;
	v->vflags = s->vflags & 0xf;
	v->name = s->name_hash;
	v->origin = VO_SEED;
	aspace_put(p->as, v);
	x->vsys = 1;
	if (s->name_hash)
		x->vsys_name = s->name_hash;
}

void bpf_model_learn_names(struct model *m, struct proc *p, const struct vmt_vma *v, size_t n)
{
	struct bpf_model *b = bm(m);
	if (!b)
		return;
	for (size_t i = 0; i < n; i++) {
		if (p && v[i].start == VSYSCALL_START) {
			add_vsys(p, &v[i]);
			continue;
		}
		if (p && !v[i].inode && v[i].name_hash) {
			struct bpf_proc *x = bp(p);
			const char *nm = trace_str(m->t, v[i].name_hash);
			int by_end = nm && !strcmp(nm, "[stack]");
			uint64_t key = by_end ? v[i].end : v[i].start;
			if (anon_find(x, v[i].start, v[i].end) == v[i].name_hash)
				continue;
			VEC_PUSH(x->an, x->nan, x->an_cap,
				 ((struct anon_name){key, by_end, v[i].name_hash}));
			if (p->as) {
				struct vma *e = mt_load(&p->as->mt, key - (by_end ? 1 : 0));
				if (e && !e->inode && !e->name &&
				    (by_end ? e->end : e->start) == key)
					e->name = v[i].name_hash;
			}
			continue;
		}
		if (!v[i].inode || !v[i].name_hash)
			continue;
		if (p)
			pname_set(bp(p), v[i].dev, v[i].inode, v[i].name_hash);
		if (name_find(b, v[i].dev, v[i].inode)) {
			/* Known by inode, but a name belongs to a mapping, not to an
			 * inode: this process may have mirrored the VMA before the name
			 * came (another process's list taught it later in the replay),
			 * or reached the file through another link (sem_open maps a
			 * temporary name that it links and unlinks; other processes map
			 * the final name). The process's own list is the truth. */
			struct vma *e = p && p->as ? mt_load(&p->as->mt, v[i].start) : NULL;
			if (e && e->name != v[i].name_hash && e->inode == v[i].inode &&
			    e->dev == v[i].dev && e->start == v[i].start)
				e->name = v[i].name_hash;
			continue;
		}
		VEC_PUSH(b->names, b->nnames, b->names_cap,
			 ((struct name_of){v[i].dev, v[i].inode, v[i].name_hash}));
		/* name what is already mirrored */
		if (!p || !p->as)
			continue;
		struct mt_cursor c;
		void *e;
		mt_for_each(&p->as->mt, &c, e, 0, ~0ul)
		{
			struct vma *x = e;
			if (!x->name && x->inode == v[i].inode && x->dev == v[i].dev)
				x->name = v[i].name_hash;
		}
	}
}

/* ---- records ---- */

static void mismatch(struct proc *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mismatch(struct proc *p, const char *fmt, ...)
{
	struct bpf_proc *x = bp(p);
	if (x->mismatches < 3) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(x->first[x->mismatches], sizeof(x->first[0]), fmt, ap);
		va_end(ap);
	}
	x->mismatches++;
}

static void apply_list(struct model *m, const struct vmt_rec *r)
{
	struct bpf_model *b = bm(m);
	const struct vmt_bpf_list *l = &r->p.bpf_list;
	struct owner *o = owner_of(m, l->mm);
	struct proc *p;

	if (!o || !o->p || o->p->exited) {
		p = proc_for(m, r->pid, r->ts);
		o = set_owner(m, l->mm, p);
	}
	p = o->p;
	struct bpf_proc *x = bp(p);
	if (!p->as)
		p->as = aspace_new();
	if (r->cid != b->lcid)
		b->ln = 0; /* a list without its VMAs (lost): apply what came */
	if (!(r->flags & VMT_BPFH_PART))
		x->lists++;
	if (r->flags & VMT_BPFH_FAULT)
		x->faults++;
	if ((r->flags & VMT_BPFH_FULL) && l->lo[0] == 0 && l->hi[0] == ~0ull) {
		aspace_clear(p->as);
	} else {
		/* a part of a FULL list: its stretch */
		for (int i = 0; i < 2; i++)
			aspace_erase(p->as, l->lo[i], l->hi[i]);
	}
	if (x->vsys && !mt_load(&p->as->mt, VSYSCALL_START)) {
		/* [vsyscall] is not a VMA: it stays */
		struct vmt_vma g = {.start = VSYSCALL_START,
				    .end = VSYSCALL_START + PG_,
				    .vflags = VMT_VMA_EXEC,
				    .name_hash = x->vsys_name};
		x->vsys = 0;
		add_vsys(p, &g);
	}
	for (size_t i = 0; i < b->ln; i++) {
		const struct vmt_vma *s = &b->lv[i];
		if (s->end <= s->start)
			continue;
		if (s->start == VSYSCALL_START) { /* a seed from /proc (attach) */
			add_vsys(p, s);
			continue;
		}
		if (s->name_hash) /* a seed from /proc names what BPF will list */
			bpf_model_learn_names(m, p, s, 1);
		struct vma *v = xcalloc(1, sizeof(*v));
		v->start = s->start;
		v->end = s->end;
		v->offset = s->offset;
		v->inode = s->inode;
		v->dev = s->dev;
		uint64_t own = s->inode && !s->name_hash ? pname_find(x, s->dev, s->inode) : 0;
		v->name = s->name_hash ? s->name_hash
			  : own	       ? own
			  : s->inode   ? name_find(b, s->dev, s->inode)
				       : anon_find(x, s->start, s->end);
		v->vflags = s->vflags;
		v->origin = VO_CALL;
		v->file = s->inode != 0;
		aspace_erase(p->as, v->start, v->end);
		aspace_put(p->as, v);
	}
	b->ln = 0;
	b->lcid = 0;
	peak(p);
	if (r->flags & VMT_BPFH_PART)
		return; /* more of the call's list follows */
	if (r->flags & (VMT_BPFH_RACED | VMT_BPFH_UNSTABLE | VMT_BPFH_TRUNC)) {
		x->skipped++;
		return;
	}
	x->checks++;
	if ((int64_t)(aspace_count(p->as) - x->vsys) != l->map_count)
		mismatch(p, "tid %u at %llu: mirror has %zu VMAs, the kernel %d", r->tid,
			 (unsigned long long)r->ts, aspace_count(p->as) - x->vsys, l->map_count);
}

static void do_fork(struct model *m, const struct vmt_rec *r)
{
	const struct vmt_bpf_fork *f = &r->p.bpf_fork;
	struct proc *par, *ch;
	uint64_t dup_ns = 0;

	if (r->flags & VMT_BPFH_WRITE)
		return; /* a thread */
	par = proc_for(m, r->pid, r->ts);
	ch = new_proc(m, f->child_tgid, r->pid, r->ts);
	ch->cause = VMT_CAUSE_FORK;
	memcpy(ch->comm, par->comm, sizeof(ch->comm));
	ch->cmd = par->cmd;
	ch->exe = par->exe;
	if (r->flags & VMT_BPFH_SHARED) {
		bp(ch)->shared = 1; /* its lists name the parent's mm */
	} else {
		aspace_free(ch->as);
		ch->as = aspace_dup(par->as, &dup_ns);
		set_owner(m, f->child_mm, ch);
		struct bpf_proc *cx = bp(ch), *pxx = bp(par);
		cx->vsys = pxx->vsys;
		cx->vsys_name = pxx->vsys_name;
		for (size_t i = 0; i < pxx->nan; i++)
			VEC_PUSH(cx->an, cx->nan, cx->an_cap, pxx->an[i]);
		for (size_t i = 0; i < pxx->npnames; i++)
			VEC_PUSH(cx->pnames, cx->npnames, cx->pnames_cap, pxx->pnames[i]);
		struct bpf_proc *x = bp(ch);
		if (r->flags & VMT_BPFH_LISTED) {
			x->skipped++; /* its FULL list follows (and is checked) */
		} else {
			x->checks++;
			if ((int64_t)(aspace_count(ch->as) - x->vsys) != f->child_vmas)
				mismatch(ch, "fork from %u: copy has %zu VMAs, the kernel %d",
					 r->pid, aspace_count(ch->as) - x->vsys, f->child_vmas);
		}
		peak(ch);
	}
	struct bpf_proc *px = bp(par);
	struct pend_fork pf = {.child = f->child_tgid,
			       .dup_ns = dup_ns,
			       .vmas = f->parent_vmas,
			       .copy_ns = f->lock_released > f->lock_acquired && f->lock_acquired
					      ? f->lock_released - f->lock_acquired
					      : 0};
	VEC_PUSH(px->pend, px->npend, px->pend_cap, pf);
}

static void do_fork_ret(struct model *m, const struct vmt_rec *r)
{
	const struct vmt_bpf_fork_ret *f = &r->p.bpf_fork_ret;
	if ((r->flags & VMT_BPFH_WRITE) || f->ret <= 0)
		return;
	struct proc *p = proc_for(m, r->pid, r->ts);
	struct bpf_proc *x = bp(p);
	for (size_t i = 0; i < x->npend; i++) {
		if ((int64_t)x->pend[i].child != f->ret)
			continue;
		struct fork_stat fs = {.ns = f->t_resume > r->ts ? f->t_resume - r->ts : r->dur,
				       .vmas = (size_t)(x->pend[i].vmas > 0 ? x->pend[i].vmas : 0),
				       .child = x->pend[i].child,
				       .dup_ns = x->pend[i].dup_ns};
		VEC_PUSH(p->forks, p->nforks, p->forks_cap, fs);
		VEC_PUSH(x->copy_ns, x->ncopy, x->copy_cap, x->pend[i].copy_ns);
		VEC_PUSH(x->sys_ns, x->nsys, x->sys_cap, f->t_exit > r->ts ? f->t_exit - r->ts : 0);
		x->pend[i] = x->pend[--x->npend];
		return;
	}
}

static void do_exec(struct model *m, const struct vmt_rec *r)
{
	const struct vmt_bpf_exec *e = &r->p.bpf_exec;
	struct proc *prev = latest(m, r->pid, 1);
	struct proc *p = new_proc(m, r->pid, prev ? prev->ppid : 0, r->ts);
	const char *path = trace_str(m->t, e->path_hash);

	if (prev) {
		prev->execed = 1;
		prev->end_ts = r->ts;
	}
	p->cmd = p->exe = e->path_hash;
	if (path) {
		const char *base = strrchr(path, '/');
		snprintf(p->comm, sizeof(p->comm), "%s", base ? base + 1 : path);
	}
	aspace_free(p->as);
	p->as = aspace_new();
	set_owner(m, e->mm, p);
}

static void do_exit(struct model *m, const struct vmt_rec *r)
{
	if (!r->p.bpf_exit.group_dead)
		return;
	struct proc *p = latest(m, r->pid, 1);
	if (!p)
		return;
	int st = r->p.bpf_exit.exit_code;
	p->exited = 1;
	p->end_ts = r->ts;
	if ((st & 0x7f) && (st & 0x7f) != 0x7f)
		p->killed_sig = st & 0x7f;
	else if (!p->has_exit)
		p->exit_status = (st >> 8) & 0xff;
	p->has_exit = 1;
	if (!strcmp(p->comm, "?"))
		snprintf(p->comm, sizeof(p->comm), "%.15s", r->p.bpf_exit.comm);
}

static struct bpf_thread_stat *thread_of(struct proc *p, uint32_t tid)
{
	struct bpf_proc *x = bp(p);
	for (size_t i = 0; i < x->nth; i++)
		if (x->th[i].tid == tid)
			return &x->th[i];
	VEC_PUSH(x->th, x->nth, x->th_cap, ((struct bpf_thread_stat){.tid = tid}));
	return &x->th[x->nth - 1];
}

static void wait_done(struct bpf_model *b)
{
	if (!b->wp)
		return;
	struct bpf_proc *x = bp(b->wp);
	struct bpf_site *s = NULL;
	for (size_t i = 0; i < x->nsites; i++)
		if (x->sites[i].n == b->w.n && x->sites[i].write == b->w.write &&
		    !memcmp(x->sites[i].ips, b->w.ips, b->w.n * sizeof(uint64_t))) {
			s = &x->sites[i];
			break;
		}
	if (!s) {
		struct bpf_site ns = b->w;
		ns.count = 0;
		ns.total_ns = 0;
		ns.max_ns = 0;
		VEC_PUSH(x->sites, x->nsites, x->sites_cap, ns);
		s = &x->sites[x->nsites - 1];
	}
	s->count++;
	s->total_ns += b->w.total_ns;
	if (b->w.total_ns > s->max_ns)
		s->max_ns = b->w.total_ns;
	b->wp = NULL;
}

void bpf_model_rec(struct model *m, const struct vmt_rec *r)
{
	struct bpf_model *b = bm(m);

	if (r->type == VMT_BPF_MODE) {
		if (!b) {
			b = m->bpf = xcalloc(1, sizeof(*b));
			b->mode_flags = r->p.bpf_mode.flags;
			b->threshold = r->p.bpf_mode.lock_threshold_ns;
			memcpy(b->desc, r->p.bpf_mode.desc, sizeof(r->p.bpf_mode.desc));
		}
		return;
	}
	if (!b)
		return; /* BPF records without their mode record: ignored */
	if (b->wp && !(r->type == VMT_BPF_STACK && r->cid == b->wcid))
		wait_done(b);
	switch (r->type) {
	case VMT_BPF_VMA:
		if (r->cid != b->lcid) {
			b->lcid = r->cid;
			b->ln = 0;
		}
		VEC_PUSH(b->lv, b->ln, b->lcap, r->p.vma);
		break;
	case VMT_BPF_LIST:
		apply_list(m, r);
		break;
	case VMT_BPF_CALL: {
		struct proc *p = proc_for(m, r->pid, r->ts);
		struct bpf_proc *x = bp(p);
		x->calls++;
		if (r->flags & VMT_BPFH_NOCHANGE)
			x->nochange++;
		p->by_type[VMT_BPF_CALL]++;
		break;
	}
	case VMT_BPF_FORK:
		do_fork(m, r);
		break;
	case VMT_BPF_FORK_RET:
		do_fork_ret(m, r);
		break;
	case VMT_BPF_EXEC:
		do_exec(m, r);
		break;
	case VMT_BPF_EXIT:
		do_exit(m, r);
		break;
	case VMT_BPF_LOCK_WAIT: {
		struct proc *p = latest(m, r->pid, 0);
		if (!p)
			p = proc_for(m, r->pid, r->ts);
		bp(p)->lock_waits++;
		b->wp = p;
		b->wcid = r->cid;
		memset(&b->w, 0, sizeof(b->w));
		b->w.total_ns = r->p.bpf_lockwait.wait_ns;
		b->w.write = r->p.bpf_lockwait.write;
		break;
	}
	case VMT_BPF_STACK:
		for (unsigned i = 0; i < r->p.stack.n && i < 7; i++) {
			unsigned at = r->p.stack.off + i;
			if (at < 16) {
				b->w.ips[at] = r->p.stack.ip[i];
				if (at + 1 > b->w.n)
					b->w.n = at + 1;
			}
		}
		break;
	case VMT_BPF_THREAD: {
		struct proc *p = latest(m, r->pid, 0);
		if (p)
			memcpy(thread_of(p, r->tid)->comm, r->p.bpf_thread.comm, 16);
		break;
	}
	case VMT_BPF_LOCK_STAT: {
		struct proc *p = latest(m, r->pid, 0);
		if (p) {
			struct bpf_thread_stat *t = thread_of(p, r->tid);
			int w = (r->flags & VMT_BPFH_WRITE) ? 1 : 0;
			t->rw[w] = r->p.bpf_lockstat;
			t->other[w] = r->cid;
		}
		break;
	}
	case VMT_BPF_LOCK_HIST: {
		struct proc *p = latest(m, r->pid, 0);
		unsigned kind = (r->cid >> 8) & 1, w = (r->cid >> 4) & 1, half = r->cid & 1;
		if (p)
			memcpy(&thread_of(p, r->tid)->hist[kind][w][half * 16], r->p.bpf_hist.b,
			       sizeof(r->p.bpf_hist.b));
		break;
	}
	case VMT_BPF_STATS:
		b->stats = r->p.bpf_stats;
		b->have_stats = 1;
		break;
	}
}

void bpf_model_free(struct model *m)
{
	struct bpf_model *b = bm(m);
	for (size_t i = 0; i < m->nprocs; i++) {
		struct bpf_proc *x = m->procs[i]->bpf;
		if (!x)
			continue;
		free(x->copy_ns);
		free(x->sys_ns);
		free(x->pend);
		free(x->th);
		free(x->sites);
		free(x->an);
		free(x->pnames);
		free(x);
		m->procs[i]->bpf = NULL;
	}
	if (b) {
		free(b->own);
		free(b->names);
		free(b->lv);
		free(b);
		m->bpf = NULL;
	}
}

/* ---- report ---- */

static uint64_t p50(const uint64_t *v0, size_t n)
{
	if (!n)
		return 0;
	uint64_t *v = xmalloc(n * sizeof(*v));
	memcpy(v, v0, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_u64);
	uint64_t r = pct_u64(v, n, 50);
	free(v);
	return r;
}

struct lock_sum {
	uint64_t acq[2], failed[2], contended[2], contended_ns[2], wait_total[2], wait_max[2],
	    hold_total[2], hold_max[2], other[2];
};

static void sum_of(const struct bpf_proc *x, struct lock_sum *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < x->nth; i++) {
		for (int w = 0; w < 2; w++) {
			const struct vmt_bpf_lockstat_rec *t = &x->th[i].rw[w];
			s->acq[w] += t->acquisitions;
			s->failed[w] += t->failed;
			s->contended[w] += t->contended;
			s->contended_ns[w] += t->contended_ns;
			s->other[w] += x->th[i].other[w];
			s->wait_total[w] += t->wait_total;
			s->hold_total[w] += t->hold_total;
			if (t->wait_max > s->wait_max[w])
				s->wait_max[w] = t->wait_max;
			if (t->hold_max > s->hold_max[w])
				s->hold_max[w] = t->hold_max;
		}
	}
}

static void fork_split(const struct proc *p, uint64_t *tot, uint64_t *copy, uint64_t *rest)
{
	const struct bpf_proc *x = p->bpf;
	size_t n = x ? x->ncopy : 0;
	uint64_t *r = xmalloc((n ? n : 1) * sizeof(*r)), *t = xmalloc((n ? n : 1) * sizeof(*t));
	size_t off = p->nforks >= n ? p->nforks - n : 0; /* BPF forks are the last n */
	for (size_t i = 0; i < n; i++) {
		t[i] = p->forks[off + i].ns;
		r[i] = t[i] > x->copy_ns[i] ? t[i] - x->copy_ns[i] : 0;
	}
	*tot = p50(t, n);
	*copy = n ? p50(x->copy_ns, n) : 0;
	*rest = p50(r, n);
	free(r);
	free(t);
}

static int cmp_site_total(const void *a, const void *b)
{
	const struct bpf_site *x = a, *y = b;
	return x->total_ns < y->total_ns ? 1 : x->total_ns > y->total_ns ? -1 : 0;
}

void bpf_report_header(struct model *m, FILE *f)
{
	struct bpf_model *b = bm(m);
	char t[32];
	if (!b)
		return;
	if (b->mode_flags & VMT_BPFM_MMAP_LOCK)
		fprintf(f, "BPF: %s%s; lock wait records over %s", b->desc,
			b->mode_flags & VMT_BPFM_ATTACH ? " (attached)" : "",
			fmt_ns(b->threshold, t));
	else
		fprintf(f,
			"BPF: %s%s; address space and fork latency (mmap_lock not measured: "
			"--mmap-lock)",
			b->desc, b->mode_flags & VMT_BPFM_ATTACH ? " (attached)" : "");
	if (b->have_stats)
		fprintf(f, "; %llu kernel records, %llu lost, %llu raced",
			(unsigned long long)b->stats.events, (unsigned long long)b->stats.dropped,
			(unsigned long long)b->stats.raced);
	fputc('\n', f);
}

void bpf_report_text(struct model *m, struct proc *p, FILE *f)
{
	struct bpf_proc *x = p->bpf;
	char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];
	if (!m->bpf || !x)
		return;
	if (x->ncopy && !(bm(m)->mode_flags & VMT_BPFM_MMAP_LOCK)) {
		/* no lock programs: the total, not its split */
		uint64_t tot, copy, rest;
		fork_split(p, &tot, &copy, &rest);
		fprintf(f,
			"  fork latency (BPF, p50): total %s; syscall %s (copy/rest split: "
			"--mmap-lock)\n",
			fmt_ns(tot, b1), fmt_ns(p50(x->sys_ns, x->nsys), b4));
		fprintf(f, "  %8s %10s\n", "vmas", "total");
		size_t off = p->nforks - x->ncopy;
		for (size_t i = 0; i < x->ncopy && i < 8; i++) {
			const struct fork_stat *fs = &p->forks[off + i];
			fprintf(f, "  %8zu %10s\n", fs->vmas, fmt_ns(fs->ns, b1));
		}
		if (x->ncopy > 8)
			fprintf(f, "  ... %zu more forks\n", x->ncopy - 8);
	} else if (x->ncopy) {
		uint64_t tot, copy, rest;
		fork_split(p, &tot, &copy, &rest);
		fprintf(f,
			"  fork latency (BPF, p50): total %s = copy %s (mmap_lock write hold in "
			"dup_mmap) + rest %s; syscall %s\n",
			fmt_ns(tot, b1), fmt_ns(copy, b2), fmt_ns(rest, b3),
			fmt_ns(p50(x->sys_ns, x->nsys), b4));
		fprintf(f, "  %8s %10s %10s %10s\n", "vmas", "total", "copy", "rest");
		size_t off = p->nforks - x->ncopy;
		for (size_t i = 0; i < x->ncopy && i < 8; i++) {
			const struct fork_stat *fs = &p->forks[off + i];
			fprintf(f, "  %8zu %10s %10s %10s\n", fs->vmas, fmt_ns(fs->ns, b1),
				fmt_ns(x->copy_ns[i], b2),
				fmt_ns(fs->ns > x->copy_ns[i] ? fs->ns - x->copy_ns[i] : 0, b3));
		}
		if (x->ncopy > 8)
			fprintf(f, "  ... %zu more forks\n", x->ncopy - 8);
	}
	if (x->nth) {
		struct lock_sum s;
		sum_of(x, &s);
		fprintf(f,
			"  mmap_lock: %llu read + %llu write acquisitions, %llu contended "
			"(%llu read, %llu write; %llu waited for another process)\n",
			(unsigned long long)s.acq[0], (unsigned long long)s.acq[1],
			(unsigned long long)(s.contended[0] + s.contended[1]),
			(unsigned long long)s.contended[0], (unsigned long long)s.contended[1],
			(unsigned long long)(s.other[0] + s.other[1]));
		/* columns as perf lock contention, plus holds */
		fprintf(f, "  %9s %10s %10s %10s %10s %10s %6s  %s\n", "contended", "total wait",
			"max wait", "avg wait", "total hold", "max hold", "type", "thread");
		for (size_t i = 0; i < x->nth; i++) {
			for (int w = 0; w < 2; w++) {
				const struct vmt_bpf_lockstat_rec *t = &x->th[i].rw[w];
				if (!t->acquisitions && !t->failed)
					continue;
				fprintf(
				    f, "  %9llu %10s %10s %10s %10s %10s %6s  %u %s\n",
				    (unsigned long long)t->contended, fmt_ns(t->wait_total, b1),
				    fmt_ns(t->wait_max, b2),
				    fmt_ns(t->acquisitions ? t->wait_total / t->acquisitions : 0,
					   b3),
				    fmt_ns(t->hold_total, b4), fmt_ns(t->hold_max, b5),
				    w ? "write" : "read", x->th[i].tid, x->th[i].comm);
			}
		}
		(void)b6;
	}
	if (x->nsites) {
		qsort(x->sites, x->nsites, sizeof(*x->sites), cmp_site_total);
		struct symbolizer *sy = sym_new(m, p);
		fprintf(f, "  top waiting stacks (mmap_lock waits over %s):\n",
			fmt_ns(bm(m)->threshold, b1));
		for (size_t k = 0; k < x->nsites && k < 5; k++) {
			struct bpf_site *s = &x->sites[k];
			char nb[512];
			fprintf(f, "    %6llu waits  total %s  max %s  %s\n",
				(unsigned long long)s->count, fmt_ns(s->total_ns, b1),
				fmt_ns(s->max_ns, b2), s->write ? "write" : "read");
			for (unsigned j = 0; j < s->n && j < 6; j++)
				fprintf(f, "        %s %s\n", j ? "<-" : "  ",
					sym_name(sy, s->ips[j], nb, sizeof(nb)));
		}
		sym_free(sy);
	}
}

void bpf_report_json_forks(struct model *m, struct proc *p, FILE *f)
{
	uint64_t tot = 0, copy = 0, rest = 0;
	if (m->bpf && p->bpf)
		fork_split(p, &tot, &copy, &rest);
	fprintf(f, ", \"copy_p50_ns\": %llu, \"rest_p50_ns\": %llu, \"copy_source\": \"%s\"",
		(unsigned long long)copy, (unsigned long long)rest,
		!m->bpf					 ? "none"
		: bm(m)->mode_flags & VMT_BPFM_MMAP_LOCK ? "mmap_lock write hold in dup_mmap"
							 : "none (recorded without --mmap-lock)");
	if (m->bpf && p->bpf) {
		struct bpf_proc *x = p->bpf;
		fprintf(f, ", \"copy_ns\": [");
		for (size_t i = 0; i < x->ncopy; i++)
			fprintf(f, "%s%llu", i ? ", " : "", (unsigned long long)x->copy_ns[i]);
		fprintf(f, "]");
	}
}

static void json_lock(FILE *f, const struct lock_sum *s)
{
	uint64_t acq = s->acq[0] + s->acq[1];
	fprintf(
	    f,
	    "\"acquisitions_read\": %llu, \"acquisitions_write\": %llu, \"contended\": %llu, "
	    "\"contended_read\": %llu, \"contended_write\": %llu, \"contended_by_others\": %llu, "
	    "\"failed\": %llu, "
	    "\"wait_total_ns\": %llu, \"wait_max_ns\": %llu, \"wait_avg_ns\": %llu, "
	    "\"hold_total_ns\": %llu, \"hold_max_ns\": %llu",
	    (unsigned long long)s->acq[0], (unsigned long long)s->acq[1],
	    (unsigned long long)(s->contended[0] + s->contended[1]),
	    (unsigned long long)s->contended[0], (unsigned long long)s->contended[1],
	    (unsigned long long)(s->other[0] + s->other[1]),
	    (unsigned long long)(s->failed[0] + s->failed[1]),
	    (unsigned long long)(s->wait_total[0] + s->wait_total[1]),
	    (unsigned long long)(s->wait_max[0] > s->wait_max[1] ? s->wait_max[0] : s->wait_max[1]),
	    (unsigned long long)(acq ? (s->wait_total[0] + s->wait_total[1]) / acq : 0),
	    (unsigned long long)(s->hold_total[0] + s->hold_total[1]),
	    (unsigned long long)(s->hold_max[0] > s->hold_max[1] ? s->hold_max[0]
								 : s->hold_max[1]));
}

void bpf_report_json_proc(struct model *m, struct proc *p, FILE *f)
{
	struct bpf_proc *x = p->bpf;
	struct lock_sum s;
	struct bpf_proc none = {0};

	if (!x || !m->bpf)
		x = &none;
	sum_of(x, &s);
	fprintf(f, ", \"mmap_lock\": {\"measured\": %s, ",
		m->bpf && (bm(m)->mode_flags & VMT_BPFM_MMAP_LOCK) ? "true" : "false");
	json_lock(f, &s);
	fprintf(f, ", \"threads\": [");
	for (size_t i = 0; i < x->nth; i++) {
		struct lock_sum t = {0};
		for (int w = 0; w < 2; w++) {
			const struct vmt_bpf_lockstat_rec *r = &x->th[i].rw[w];
			t.acq[w] = r->acquisitions;
			t.failed[w] = r->failed;
			t.contended[w] = r->contended;
			t.wait_total[w] = r->wait_total;
			t.wait_max[w] = r->wait_max;
			t.hold_total[w] = r->hold_total;
			t.hold_max[w] = r->hold_max;
			t.other[w] = x->th[i].other[w];
		}
		fprintf(f, "%s{\"tid\": %u, \"comm\": \"", i ? ", " : "", x->th[i].tid);
		for (const char *c = x->th[i].comm; *c && c < x->th[i].comm + 16; c++)
			if (*c != '"' && *c != '\\' && (unsigned char)*c >= 0x20)
				fputc(*c, f);
		fprintf(f, "\", ");
		json_lock(f, &t);
		fprintf(f, "}");
	}
	fprintf(f, "]}");
	fprintf(f, ", \"top_waits\": [");
	if (x->nsites)
		qsort(x->sites, x->nsites, sizeof(*x->sites), cmp_site_total);
	for (size_t k = 0; k < x->nsites && k < 10; k++) {
		struct bpf_site *st = &x->sites[k];
		fprintf(f,
			"%s{\"count\": %llu, \"total_ns\": %llu, \"max_ns\": %llu, \"write\": %s, "
			"\"ips\": [",
			k ? ", " : "", (unsigned long long)st->count,
			(unsigned long long)st->total_ns, (unsigned long long)st->max_ns,
			st->write ? "true" : "false");
		for (unsigned j = 0; j < st->n; j++)
			fprintf(f, "%s\"%#llx\"", j ? ", " : "", (unsigned long long)st->ips[j]);
		fprintf(f, "]}");
	}
	fprintf(f,
		"], \"bpf\": {\"lists\": %llu, \"calls\": %llu, \"map_count_checks\": %llu, "
		"\"map_count_mismatches\": %llu, \"lock_waits\": %llu}",
		(unsigned long long)x->lists, (unsigned long long)x->calls,
		(unsigned long long)x->checks, (unsigned long long)x->mismatches,
		(unsigned long long)x->lock_waits);
}

size_t bpf_verify_proc(struct model *m, struct proc *p, FILE *f, uint64_t *checks)
{
	struct bpf_proc *x = p->bpf;
	*checks = 0;
	if (!m->bpf || !x)
		return 0;
	*checks = x->checks;
	fprintf(f,
		"pid %u (%s) [BPF]: %llu map_count checks after BPF records (%llu skipped: "
		"raced), %llu mismatches\n",
		p->pid, p->comm, (unsigned long long)x->checks, (unsigned long long)x->skipped,
		(unsigned long long)x->mismatches);
	for (uint64_t i = 0; i < x->mismatches && i < 3; i++)
		fprintf(f, "    %s\n", x->first[i]);
	return x->mismatches;
}
