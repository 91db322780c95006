/*
 * model.c - replays a trace into the mirror (see model.h for the rules).
 */
#include "model.h"
#include "aspace.h"
#include "bpf_model.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define PG 4096ull
#define PGUP(x) (((x) + PG - 1) & ~(PG - 1))
#define PGDOWN(x) ((x) & ~(PG - 1))

/* ---- formatting ---- */

static int fmt_line(const struct model *m, uint64_t start, uint64_t end, uint32_t vf,
		    uint64_t offset, uint32_t dev, uint64_t inode, uint64_t name, char *buf,
		    size_t len)
{
	int n = snprintf(
	    buf, len, "%08llx-%08llx %c%c%c%c %08llx %02x:%02x %llu ", (unsigned long long)start,
	    (unsigned long long)end, vf & VMT_VMA_READ ? 'r' : '-', vf & VMT_VMA_WRITE ? 'w' : '-',
	    vf & VMT_VMA_EXEC ? 'x' : '-', vf & VMT_VMA_SHARED ? 's' : 'p',
	    (unsigned long long)offset, dev >> 20, dev & 0xfffff, (unsigned long long)inode);
	if (name && n > 0 && (size_t)n < len) {
		const char *s = trace_str(m->t, name);
		if (!s)
			s = "<unknown name>";
		while (n < 73 && (size_t)n + 1 < len) /* the kernel's seq_pad column */
			buf[n++] = ' ';
		n += snprintf(buf + n, len - (size_t)n, "%s", s);
	}
	return n;
}

int vma_format(const struct model *m, const struct vma *v, char *buf, size_t len)
{
	return fmt_line(m, v->start, v->end, v->vflags, v->offset, v->dev, v->inode, v->name, buf,
			len);
}

int vmt_vma_format(const struct model *m, const struct vmt_vma *v, char *buf, size_t len)
{
	return fmt_line(m, v->start, v->end, v->vflags, v->offset, v->dev, v->inode, v->name_hash,
			buf, len);
}

void aspace_print(const struct model *m, const struct aspace *as, FILE *out)
{
	if (!as)
		return;
	struct mt_cursor c;
	void *e;
	char line[8192];
	mt_for_each((struct mtree *)&as->mt, &c, e, 0, ~0ul)
	{
		vma_format(m, e, line, sizeof(line));
		fprintf(out, "%s\n", line);
	}
}

/* ---- processes ---- */

static struct proc *proc_new(struct model *m, uint32_t pid, uint64_t stream)
{
	struct proc *p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->stream = stream;
	strcpy(p->comm, "?");
	VEC_PUSH(m->procs, m->nprocs, m->procs_cap, p);
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

/* The latest image of pid (not the one given). */
static struct proc *proc_latest(struct model *m, uint32_t pid, const struct proc *except)
{
	for (size_t i = m->nprocs; i-- > 0;)
		if (m->procs[i]->pid == pid && m->procs[i] != except)
			return m->procs[i];
	return NULL;
}

static void note_peak(struct proc *p)
{
	size_t n = aspace_count(p->as);
	if (n > p->peak)
		p->peak = n;
}

/* ---- lists ---- */

static struct open_list *list_get(struct proc *p, uint32_t cid, int create)
{
	for (struct open_list *l = p->open; l; l = l->next)
		if (l->cid == cid)
			return l;
	if (!create)
		return NULL;
	struct open_list *l = xcalloc(1, sizeof(*l));
	l->cid = cid;
	l->next = p->open;
	p->open = l;
	return l;
}

static void list_drop(struct proc *p, struct open_list *l)
{
	for (struct open_list **pp = &p->open; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	free(l->v);
	free(l);
}

static int same_vma(const struct vma *a, const struct vmt_vma *b)
{
	return a->start == b->start && a->end == b->end && (a->vflags & 0xf) == (b->vflags & 0xf) &&
	       a->offset == b->offset && a->dev == b->dev && a->inode == b->inode &&
	       a->name == b->name_hash;
}

/* The kernel's VMA b is the mirror's a but for " (deleted)" after the name:
 * the file was unlinked while mapped. That is no change of the address
 * space (no call, no VMA touched), so the mirror keeps the name it had and a
 * snapshot takes the two as one. */
static int same_but_unlinked(const struct model *m, const struct vma *a, const struct vmt_vma *b)
{
	static const char del[] = " (deleted)";
	struct vmt_vma k = *b;
	k.name_hash = a->name;
	if (!a->inode || !same_vma(a, &k))
		return 0;
	const char *mirror = trace_str(m->t, a->name), *kernel = trace_str(m->t, b->name_hash);
	size_t n = mirror ? strlen(mirror) : 0;
	return mirror && kernel && strlen(kernel) == n + sizeof(del) - 1 &&
	       !strncmp(mirror, kernel, n) && !strcmp(kernel + n, del);
}

static void vma_from(struct vma *v, const struct vmt_vma *s, uint8_t origin)
{
	v->start = s->start;
	v->end = s->end;
	v->offset = s->offset;
	v->inode = s->inode;
	v->name = s->name_hash;
	v->dev = s->dev;
	v->vflags = s->vflags & 0xf;
	v->origin = origin;
	v->file = s->inode != 0;
}

static int cmp_vmt_vma(const void *a, const void *b)
{
	const struct vmt_vma *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static void apply_list(struct proc *p, uint64_t lo, uint64_t hi, struct vmt_vma *v, size_t n,
		       unsigned kind)
{
	uint8_t origin = kind == VMT_LIST_SEED	     ? VO_SEED
			 : kind == VMT_LIST_OBSERVE  ? VO_CALL
			 : kind == VMT_LIST_INDIRECT ? VO_INDIRECT
						     : VO_DISCOVER;
	if (!p->as)
		p->as = aspace_new();
	if (n)
		qsort(v, n, sizeof(*v), cmp_vmt_vma);
	/* A list is VMAs that do not overlap; one that does (a damaged trace)
	 * keeps the first of each overlap, so every entry is stored once. */
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!k || v[i].start >= v[k - 1].end)
			v[k++] = v[i];
	n = k;
	for (size_t i = 0; i < n; i++) {
		if (v[i].start < lo)
			lo = v[i].start;
		if (v[i].end > hi)
			hi = v[i].end;
	}
	if (hi <= lo)
		return;
	/* Count what the list changes, and keep flags the kernel does not show. */
	uint64_t changed = 0;
	struct vma **nv = xmalloc((n ? n : 1) * sizeof(*nv));
	for (size_t i = 0; i < n; i++) {
		nv[i] = vma_new();
		struct mt_range r;
		struct vma *old = mt_load_range(&p->as->mt, v[i].start, &r) ? r.entry : NULL;
		if (old && same_vma(old, &v[i])) {
			*nv[i] = *old;
			continue;
		}
		changed++;
		vma_from(nv[i], &v[i], origin);
		if (old)
			nv[i]->vflags |= old->vflags & (VMT_VMA_DONTFORK | VMT_VMA_WIPEONFORK);
	}
	/* mirror VMAs the kernel no longer has */
	struct mt_cursor c;
	void *e;
	size_t j = 0;
	mt_for_each(&p->as->mt, &c, e, lo, hi - 1)
	{
		struct vma *m = e;
		while (j < n && v[j].start < m->start)
			j++;
		if (!(j < n && v[j].start == m->start && v[j].end == m->end))
			changed++;
	}
	aspace_erase(p->as, lo, hi);
	for (size_t i = 0; i < n; i++)
		aspace_put(p->as, nv[i]);
	free(nv);
	p->changed[kind] += changed;
	note_peak(p);
}

static void snap_line(struct snap_result *s, const char *what, const char *a, const char *b)
{
	char buf[16500];
	if (b)
		snprintf(buf, sizeof(buf), "%s\n      kernel: %s\n      mirror: %s", what, a, b);
	else
		snprintf(buf, sizeof(buf), "%s: %s", what, a);
	VEC_PUSH(s->lines, s->nlines, s->lines_cap, xstrdup(buf));
}

static void compare_snapshot(struct model *m, struct proc *p, const struct vmt_rec *end,
			     struct vmt_vma *v, size_t n, int incomplete)
{
	struct snap_result s = {.ts = end->ts,
				.label = end->p.list.label_hash,
				.cause = end->p.list.cause,
				.incomplete = incomplete};
	if (n)
		qsort(v, n, sizeof(*v), cmp_vmt_vma);
	s.kernel = n;
	s.mirrored = aspace_count(p->as);
	char a[8192], b[8192];
	size_t i = 0;
	struct mt_cursor c;
	struct vma *mv = NULL;
	if (p->as) {
		mtc_init(&c, &p->as->mt, 0);
		mv = mtc_next(&c, ~0ul);
	}
	while (i < n || mv) {
		if (i < n && mv && (same_vma(mv, &v[i]) || same_but_unlinked(m, mv, &v[i]))) {
			i++;
			mv = mtc_next(&c, ~0ul);
			continue;
		}
		s.mismatches++;
		if (i < n && mv && mv->start == v[i].start) {
			vmt_vma_format(m, &v[i], a, sizeof(a));
			vma_format(m, mv, b, sizeof(b));
			snap_line(&s, "differs", a, b);
			i++;
			mv = mtc_next(&c, ~0ul);
		} else if (mv && (i >= n || mv->start < v[i].start)) {
			vma_format(m, mv, b, sizeof(b));
			snap_line(&s, "only in mirror", b, NULL);
			mv = mtc_next(&c, ~0ul);
		} else {
			vmt_vma_format(m, &v[i], a, sizeof(a));
			snap_line(&s, "only in kernel", a, NULL);
			i++;
		}
	}
	VEC_PUSH(p->snaps, p->nsnaps, p->snaps_cap, s);
}

static void list_end(struct model *m, struct proc *p, const struct vmt_rec *r)
{
	struct open_list *l = list_get(p, r->cid, 1);
	unsigned kind = r->p.list.kind;
	int incomplete = l->n != r->p.list.n;
	if (r->flags & VMT_F_FAILED) { /* discarded by the shim (the map changed while it listed) */
		list_drop(p, l);
		return;
	}
	p->lists[kind]++;
	if (kind == VMT_LIST_SNAPSHOT) {
		compare_snapshot(m, p, r, l->v, l->n, incomplete);
	} else if (bpf_model_owns(p)) {
		bpf_model_learn_names(m, p, l->v,
				      l->n); /* BPF has the VMAs, the shim their names */
	} else if (incomplete) {
		p->lists_incomplete++;
	} else if (kind == VMT_LIST_SEED) {
		aspace_free(p->as);
		p->as = aspace_new();
		apply_list(p, 0, ~0ull, l->v, l->n, kind);
	} else {
		apply_list(p, r->p.list.lo, r->p.list.hi, l->v, l->n, kind);
	}
	list_drop(p, l);
}

/* ---- stacks and call sites ---- */

static void stack_flush(struct proc *p)
{
	if (p->nips && p->stack_cid && p->stack_cid == p->create_cid) {
		struct site *s = NULL;
		for (size_t i = 0; i < p->nsites; i++)
			if (p->sites[i].n == p->nips &&
			    !memcmp(p->sites[i].ips, p->ips, p->nips * sizeof(uint64_t))) {
				s = &p->sites[i];
				break;
			}
		if (!s) {
			struct site ns = {.n = p->nips};
			memcpy(ns.ips, p->ips, p->nips * sizeof(uint64_t));
			VEC_PUSH(p->sites, p->nsites, p->sites_cap, ns);
			s = &p->sites[p->nsites - 1];
		}
		s->count++;
	}
	p->nips = 0;
	p->stack_cid = 0;
}

static void stack_add(struct proc *p, const struct vmt_rec *r)
{
	if (r->cid != p->stack_cid) {
		stack_flush(p);
		p->stack_cid = r->cid;
	}
	for (unsigned i = 0; i < r->p.stack.n; i++) {
		unsigned at = r->p.stack.off + i;
		if (at < 32) {
			p->ips[at] = r->p.stack.ip[i];
			if (at + 1 > p->nips)
				p->nips = at + 1;
		}
	}
}

/* ---- memory calls ---- */

static void set_prot(struct vma *v, void *arg)
{
	uint32_t prot = (uint32_t)(uintptr_t)arg;
	v->vflags = (v->vflags & ~7u) | (prot & PROT_READ ? VMT_VMA_READ : 0) |
		    (prot & PROT_WRITE ? VMT_VMA_WRITE : 0) | (prot & PROT_EXEC ? VMT_VMA_EXEC : 0);
	v->origin = VO_MODEL;
}

static void set_flag(struct vma *v, void *arg)
{
	v->vflags |= (uint32_t)(uintptr_t)arg;
}
static void clr_flag(struct vma *v, void *arg)
{
	v->vflags &= ~(uint32_t)(uintptr_t)arg;
}

static void model_mmap(struct proc *p, uint64_t ret, uint64_t len, uint64_t prot, uint64_t flags,
		       int64_t fd, uint64_t off)
{
	struct vma *v = vma_new();
	v->start = ret;
	v->end = ret + PGUP(len);
	if (v->end <= v->start) {
		free(v);
		return;
	}
	v->vflags = (prot & PROT_READ ? VMT_VMA_READ : 0) |
		    (prot & PROT_WRITE ? VMT_VMA_WRITE : 0) |
		    (prot & PROT_EXEC ? VMT_VMA_EXEC : 0) |
		    ((flags & MAP_TYPE) == MAP_SHARED || (flags & MAP_TYPE) == MAP_SHARED_VALIDATE
			 ? VMT_VMA_SHARED
			 : 0);
	v->file = !(flags & MAP_ANONYMOUS) && fd >= 0;
	v->offset = v->file ? off : 0;
	v->origin = VO_MODEL;
	aspace_store(p->as, v);
}

static void model_mremap(struct proc *p, uint64_t old, uint64_t oldlen, uint64_t newlen,
			 uint64_t flags, uint64_t ret)
{
	struct vma *o = mt_load(&p->as->mt, old);
	struct vma tmpl = {0};
	if (o)
		tmpl = *o;
	if (o && tmpl.file)
		tmpl.offset += old - tmpl.start;
	if (ret != old && !(flags & 4 /* MREMAP_DONTUNMAP */) && oldlen)
		aspace_erase(p->as, old, old + PGUP(oldlen));
	else if (ret == old && newlen < oldlen)
		aspace_erase(p->as, old + PGUP(newlen), old + PGUP(oldlen));
	if (!o)
		return;
	struct vma *v = vma_dup(&tmpl);
	v->start = ret;
	v->end = ret + PGUP(newlen);
	v->origin = VO_MODEL;
	if (v->end > v->start)
		aspace_store(p->as, v);
	else
		free(v);
}

static void model_madvise(struct proc *p, uint64_t a, uint64_t len, int adv)
{
	uint64_t lo = PGDOWN(a), hi = PGUP(a + len);
	switch (adv) {
	case MADV_DONTFORK:
		aspace_modify(p->as, lo, hi, set_flag, (void *)(uintptr_t)VMT_VMA_DONTFORK);
		break;
	case MADV_DOFORK:
		aspace_modify(p->as, lo, hi, clr_flag, (void *)(uintptr_t)VMT_VMA_DONTFORK);
		break;
	case MADV_WIPEONFORK:
		aspace_modify(p->as, lo, hi, set_flag, (void *)(uintptr_t)VMT_VMA_WIPEONFORK);
		break;
	case MADV_KEEPONFORK:
		aspace_modify(p->as, lo, hi, clr_flag, (void *)(uintptr_t)VMT_VMA_WIPEONFORK);
		break;
	}
}

/* Apply the modelled effect of a memory call (by syscall number). */
static void model_call(struct proc *p, long nr, const struct vmt_mem *a, int failed)
{
	if (bpf_model_owns(p))
		return; /* BPF: the kernel's own VMAs, no modelling */
	if (!p->as)
		p->as = aspace_new();
	switch (nr) {
	case SYS_mmap:
		if (!failed)
			model_mmap(p, (uint64_t)a->ret, a->a1, a->a2, a->a3, (int64_t)a->a4, a->a5);
		break;
	case SYS_munmap:
		if (!failed)
			aspace_erase(p->as, PGDOWN(a->a0), PGUP(a->a0 + a->a1));
		break;
	case SYS_mremap:
		if (!failed)
			model_mremap(p, a->a0, a->a1, a->a2, a->a3, (uint64_t)a->ret);
		break;
	case SYS_mprotect:
	case SYS_pkey_mprotect:
		if (!failed)
			aspace_modify(p->as, PGDOWN(a->a0), PGUP(a->a0 + a->a1), set_prot,
				      (void *)(uintptr_t)a->a2);
		break;
	case SYS_madvise:
		if (!failed)
			model_madvise(p, a->a0, a->a1, (int)a->a2);
		break;
	}
	note_peak(p);
}

/* ---- forks ---- */

static struct pending_fork *pf_find(struct model *m, uint64_t id)
{
	for (size_t i = 0; i < m->npf; i++)
		if (m->pf[i].id == id)
			return &m->pf[i];
	return NULL;
}

static void pf_take(struct model *m, struct pending_fork *f)
{
	*f = m->pf[--m->npf];
}

static void proc_start(struct model *m, struct proc *p, const struct vmt_rec *r)
{
	p->announced = 1;
	p->ppid = r->p.proc.ppid;
	memcpy(p->comm, r->p.proc.comm, 15);
	p->comm[15] = 0;
	p->cmd = r->p.proc.cmd_hash;
	p->exe = r->p.proc.exe_hash;
	p->start_ts = r->ts;
	p->cause = r->p.proc.cause;
	p->child_ns = r->p.proc.child_ns;
	struct proc *prev = proc_latest(m, p->pid, p);
	if (r->p.proc.cause == VMT_CAUSE_FORK) {
		struct pending_fork *f = r->p.proc.fork_id ? pf_find(m, r->p.proc.fork_id) : NULL;
		/* records before the start (a damaged trace) may have made a tree:
		 * the fork's copy replaces it */
		if (!bpf_model_owns(p)) {
			aspace_free(p->as);
			p->as = NULL;
		}
		if (bpf_model_owns(p)) { /* BPF made the child's tree at the fork */
			if (f) {
				aspace_free(f->as);
				pf_take(m, f);
			}
		} else if (f) {
			p->as = f->as;
			pf_take(m, f);
		} else {
			struct proc *par = proc_latest(m, p->ppid, p);
			uint64_t ns;
			p->as = aspace_dup(par ? par->as : NULL, &ns);
		}
		struct proc *par = proc_latest(m, p->ppid, p);
		if (par) {
			free(p->mods);
			p->mods = xmalloc((par->nmods ? par->nmods : 1) * sizeof(*p->mods));
			if (par->nmods)
				memcpy(p->mods, par->mods, par->nmods * sizeof(*p->mods));
			p->nmods = p->mods_cap = par->nmods;
			for (size_t i = 0; i < par->nforks; i++)
				if (par->forks[i].child == p->pid)
					par->forks[i].child_ns = r->p.proc.child_ns;
		}
		note_peak(p);
	} else if (prev && !prev->exited) {
		prev->execed = 1; /* same pid, new image: exec */
		prev->end_ts = r->ts;
	}
}

static void add_module(struct proc *p, const struct vmt_mod *md)
{
	for (size_t i = 0; i < p->nmods; i++)
		if (p->mods[i].base == md->base && p->mods[i].name == md->name_hash)
			return;
	struct module mo = {.base = md->base,
			    .lo = md->lo,
			    .hi = md->hi,
			    .name = md->name_hash,
			    .bidlen = md->build_id_len};
	memcpy(mo.bid, md->build_id, sizeof(mo.bid));
	VEC_PUSH(p->mods, p->nmods, p->mods_cap, mo);
}

/* ---- replay ---- */

static void collector_rec(struct model *m, const struct vmt_rec *r)
{
	switch (r->type) {
	case VMT_RING_CLOSE: {
		struct proc *p =
		    r->p.ring.stream < m->nby_stream ? m->by_stream[r->p.ring.stream] : NULL;
		if (p)
			p->lost += r->p.ring.lost + r->p.ring.holes;
		break;
	}
	case VMT_EXIT: { /* reaped by the collector */
		struct proc *p = proc_latest(m, r->pid, NULL);
		if (p && !p->execed) {
			p->exited = 1;
			p->end_ts = r->ts;
			int st = r->p.exit.status;
			if ((st & 0x7f) && (st & 0x7f) != 0x7f)
				p->killed_sig = st & 0x7f;
			else if (!p->has_exit)
				p->exit_status = (st >> 8) & 0xff;
		}
		break;
	}
	case VMT_CMD_EXIT:
		m->cmd_exit_seen = 1;
		m->cmd_status = r->p.exit.status;
		break;
	}
}

static void visit(const struct vmt_rec *r, size_t idx, void *ctx)
{
	(void)idx;
	struct model *m = ctx;
	if (m->stop_ts && r->ts > m->stop_ts)
		return;
	m->last_ts = r->ts;
	if (r->type >= VMT_BPF_FIRST && r->type <= VMT_BPF_LAST) {
		bpf_model_rec(m, r); /* BPF records: cli/bpf_model.c */
		return;
	}
	if (r->commit == 0) {
		collector_rec(m, r);
		return;
	}
	struct proc *p = r->commit < m->nby_stream ? m->by_stream[r->commit] : NULL;
	if (!p) /* the image BPF already follows, if any */
		p = bpf_model_claim(m, r->pid, r->commit);
	if (!p)
		p = proc_new(m, r->pid, r->commit);
	p->records++;
	if (r->type < 256)
		p->by_type[r->type]++;
	const struct vmt_mem *a = &r->p.mem;
	int failed = (r->flags & VMT_F_FAILED) != 0;
	if (r->type != VMT_STACK && r->cid != p->stack_cid && p->stack_cid)
		stack_flush(p);
	if (r->type >= CALLTIME_FIRST && r->type < CALLTIME_FIRST + CALLTIME_NTYPES && !p->nodur) {
		struct calltime **c = &p->ct[r->type - CALLTIME_FIRST];
		if (!*c)
			*c = xcalloc(1, sizeof(**c));
		calltime_add(*c, r->dur);
	}
	switch (r->type) {
	case VMT_PROC_START:
		p->nodur = (r->flags & VMT_F_NODUR) != 0;
		proc_start(m, p, r);
		break;
	case VMT_MODULE:
		add_module(p, &r->p.mod);
		break;
	case VMT_STACK:
		stack_add(p, r);
		break;
	case VMT_EXIT:
		p->has_exit = 1;
		p->exit_status = r->p.exit.status;
		p->exit_how = (int)r->p.exit.how;
		break;
	case VMT_FORK_PRE: {
		struct pending_fork f = {.id = r->p.fork.fork_id, .vmas = aspace_count(p->as)};
		if (!bpf_model_owns(p)) /* else BPF copies the tree at the fork */
			f.as = aspace_dup(p->as, &f.dup_ns);
		VEC_PUSH(m->pf, m->npf, m->pf_cap, f);
		break;
	}
	case VMT_FORK: {
		struct pending_fork *f = pf_find(m, r->p.fork.fork_id);
		struct fork_stat fs = {.ns = r->dur,
				       .vmas = f ? f->vmas : aspace_count(p->as),
				       .child = r->p.fork.child > 0 ? (uint32_t)r->p.fork.child : 0,
				       .dup_ns = f ? f->dup_ns : 0};
		if (!failed && !bpf_model_owns(p)) /* BPF measures the forks it saw */
			VEC_PUSH(p->forks, p->nforks, p->forks_cap, fs);
		if (f && failed) {
			aspace_free(f->as);
			pf_take(m, f);
		}
		/* the child may have announced itself (with its side) first */
		struct proc *ch = fs.child ? proc_latest(m, fs.child, NULL) : NULL;
		if (!failed && !bpf_model_owns(p) && ch && ch->cause == VMT_CAUSE_FORK &&
		    ch->announced)
			p->forks[p->nforks - 1].child_ns = ch->child_ns;
		break;
	}
	case VMT_EXEC:
	case VMT_EXEC_FAIL:
		p->exec_tried = r->type == VMT_EXEC;
		p->exec_path = r->p.exec.path_hash;
		break;
	case VMT_SPAWN:
		if (!failed)
			VEC_PUSH(p->spawns, p->nspawns, p->spawns_cap, r->dur);
		break;
	case VMT_MMAP:
		p->create_cid = r->cid;
		model_call(p, SYS_mmap, a, failed);
		break;
	case VMT_MUNMAP:
		model_call(p, SYS_munmap, a, failed);
		break;
	case VMT_MREMAP:
		p->create_cid = r->cid;
		model_call(p, SYS_mremap, a, failed);
		break;
	case VMT_MPROTECT:
	case VMT_PKEY_MPROTECT:
		model_call(p, SYS_mprotect, a, failed);
		break;
	case VMT_MADVISE:
		model_call(p, SYS_madvise, a, failed);
		break;
	case VMT_SHMAT:
		p->create_cid = r->cid;
		break;
	case VMT_SYSCALL:
		if (a->extra == SYS_mmap)
			p->create_cid = r->cid;
		model_call(p, (long)a->extra, a, failed);
		break;
	case VMT_UNMAP_RANGE:
		if (bpf_model_owns(p))
			break;
		if (!p->as)
			p->as = aspace_new();
		aspace_erase(p->as, PGDOWN(a->a0), PGUP(a->a0 + a->a1));
		break;
	case VMT_VMA: {
		struct open_list *l = list_get(p, r->cid, 1);
		VEC_PUSH(l->v, l->n, l->cap, r->p.vma);
		break;
	}
	case VMT_LIST_END:
		list_end(m, p, r);
		break;
	}
}

#ifdef VMATOP_FUZZ
struct model *fuzz_model;
#endif

void model_init(struct model *m, struct trace *t)
{
	memset(m, 0, sizeof(*m));
	m->t = t;
#ifdef VMATOP_FUZZ
	fuzz_model = m;
#endif
}

void model_run(struct model *m)
{
	trace_replay(m->t, visit, m);
	for (size_t i = 0; i < m->nprocs; i++)
		stack_flush(m->procs[i]);
}

void model_load(struct model *m, struct trace *t, const char *path, int64_t at)
{
	trace_open(t, path);
	model_init(m, t);
	if (at >= 0)
		m->stop_ts = t->hdr->start_ns + (uint64_t)at;
	model_run(m);
}

void model_unload(struct model *m)
{
	struct trace *t = m->t;
	model_free(m);
	trace_close(t);
}

void model_free(struct model *m)
{
#ifdef VMATOP_FUZZ
	fuzz_model = NULL;
#endif
	bpf_model_free(m);
	for (size_t i = 0; i < m->nprocs; i++) {
		struct proc *p = m->procs[i];
		aspace_free(p->as);
		while (p->open)
			list_drop(p, p->open);
		for (size_t j = 0; j < p->nsnaps; j++) {
			for (size_t k = 0; k < p->snaps[j].nlines; k++)
				free(p->snaps[j].lines[k]);
			free(p->snaps[j].lines);
		}
		free(p->snaps);
		free(p->forks);
		free(p->spawns);
		for (int k = 0; k < CALLTIME_NTYPES; k++)
			free(p->ct[k]);
		free(p->mods);
		free(p->sites);
		free(p);
	}
	for (size_t i = 0; i < m->npf; i++)
		aspace_free(m->pf[i].as);
	free(m->pf);
	free(m->procs);
	free(m->by_stream);
}
