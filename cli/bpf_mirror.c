/*
 * bpf_mirror.c - the reference mirror (see bpf_mirror.h): sorted VMA arrays
 * per address space, the snapshot rule, fork duplication, the running
 * map_count checks, and the comparison with /proc/PID/maps.
 *
 * The snapshot rule (include/vmatop/records.h): a VMA_CHANGE (each part of
 * one) erases its ranges and stores its VMAs over what is there. Erasing [lo, hi) trims the VMAs that straddle lo or hi (the
 * piece past hi keeps its file offset consistent: pgoff advances).
 */
#include "bpf_mirror.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VM_READ_ 0x1ull
#define VM_WRITE_ 0x2ull
#define VM_EXEC_ 0x4ull
#define VM_MAYSHARE_ 0x80ull
#define VM_DONTCOPY_ 0x20000ull
#define PAGE_SHIFT_ 12

void vmt_bmirror_init(struct vmt_bmirror *m)
{
	memset(m, 0, sizeof(*m));
}

void vmt_bmirror_free(struct vmt_bmirror *m)
{
	for (size_t i = 0; i < m->nas; i++)
		free(m->as[i].v);
	free(m->as);
	free(m->proc);
	memset(m, 0, sizeof(*m));
}

struct vmt_bmirror_as *vmt_bmirror_find(struct vmt_bmirror *m, uint64_t mm)
{
	for (size_t i = 0; i < m->nas; i++)
		if (m->as[i].mm == mm)
			return &m->as[i];
	return NULL;
}

static struct vmt_bmirror_as *as_get(struct vmt_bmirror *m, uint64_t mm)
{
	struct vmt_bmirror_as *a = vmt_bmirror_find(m, mm);

	if (a)
		return a;
	if (m->nas == m->capas) {
		size_t nc = m->capas ? 2 * m->capas : 8;
		struct vmt_bmirror_as *na = realloc(m->as, nc * sizeof(*na));
		if (!na)
			return NULL;
		m->as = na;
		m->capas = nc;
	}
	a = &m->as[m->nas++];
	memset(a, 0, sizeof(*a));
	a->mm = mm;
	return a;
}

static struct vmt_bmirror_proc *proc_get(struct vmt_bmirror *m, uint32_t tgid, bool create)
{
	for (size_t i = 0; i < m->nproc; i++)
		if (m->proc[i].tgid == tgid && !m->proc[i].exited)
			return &m->proc[i];
	if (!create)
		return NULL;
	if (m->nproc == m->capproc) {
		size_t nc = m->capproc ? 2 * m->capproc : 8;
		struct vmt_bmirror_proc *np = realloc(m->proc, nc * sizeof(*np));
		if (!np)
			return NULL;
		m->proc = np;
		m->capproc = nc;
	}
	m->proc[m->nproc] = (struct vmt_bmirror_proc){ .tgid = tgid };
	return &m->proc[m->nproc++];
}

struct vmt_bmirror_as *vmt_bmirror_of_tgid(struct vmt_bmirror *m, pid_t tgid)
{
	struct vmt_bmirror_proc *p = proc_get(m, tgid, false);
	return p ? vmt_bmirror_find(m, p->mm) : NULL;
}

static int as_reserve(struct vmt_bmirror_as *a, size_t extra)
{
	if (a->n + extra <= a->cap)
		return 0;
	size_t nc = a->cap ? a->cap : 16;
	while (nc < a->n + extra)
		nc *= 2;
	struct vmt_krec_vma *nv = realloc(a->v, nc * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	a->v = nv;
	a->cap = nc;
	return 0;
}

/* First index whose end > addr. */
static size_t as_lower(const struct vmt_bmirror_as *a, uint64_t addr)
{
	size_t lo = 0, hi = a->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (a->v[mid].end > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Remove [lo, hi) from the address space, trimming straddling VMAs. */
static int as_erase(struct vmt_bmirror_as *a, uint64_t lo, uint64_t hi)
{
	size_t i, j;

	if (hi <= lo)
		return 0;
	i = as_lower(a, lo);
	if (i < a->n && a->v[i].start < lo && a->v[i].end > hi) {
		/* split one VMA in two */
		if (as_reserve(a, 1))
			return -ENOMEM;
		memmove(&a->v[i + 1], &a->v[i], (a->n - i) * sizeof(a->v[0]));
		a->n++;
		a->v[i].end = lo;
		a->v[i + 1].pgoff += (hi - a->v[i + 1].start) >> PAGE_SHIFT_;
		a->v[i + 1].start = hi;
		return 0;
	}
	if (i < a->n && a->v[i].start < lo) {
		a->v[i].end = lo;
		i++;
	}
	j = i;
	while (j < a->n && a->v[j].end <= hi)
		j++;
	if (j < a->n && a->v[j].start < hi) {
		a->v[j].pgoff += (hi - a->v[j].start) >> PAGE_SHIFT_;
		a->v[j].start = hi;
	}
	if (j > i) {
		memmove(&a->v[i], &a->v[j], (a->n - j) * sizeof(a->v[0]));
		a->n -= j - i;
	}
	return 0;
}

static int as_store(struct vmt_bmirror_as *a, const struct vmt_krec_vma *v)
{
	size_t i;

	if (v->end <= v->start)
		return 0;
	if (as_erase(a, v->start, v->end) || as_reserve(a, 1))
		return -ENOMEM;
	i = as_lower(a, v->start);
	memmove(&a->v[i + 1], &a->v[i], (a->n - i) * sizeof(a->v[0]));
	a->v[i] = *v;
	a->n++;
	return 0;
}

static void mismatch(struct vmt_bmirror *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void mismatch(struct vmt_bmirror *m, const char *fmt, ...)
{
	char buf[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (m->mismatches < sizeof(m->first_mismatch) / sizeof(m->first_mismatch[0]))
		snprintf(m->first_mismatch[m->mismatches], sizeof(m->first_mismatch[0]), "%s", buf);
	m->mismatches++;
	if (m->log)
		fprintf(m->log, "mismatch: %s\n", buf);
}

/* Bind the record's thread group to its mm (seeded processes learn their
 * mm id from their first record). */
static struct vmt_bmirror_as *bind(struct vmt_bmirror *m, uint32_t tgid, uint64_t mm)
{
	struct vmt_bmirror_proc *p = proc_get(m, tgid, true);
	struct vmt_bmirror_as *a;

	if (!p)
		return NULL;
	if (p->mm == 0 && mm) {
		/* a seeded address space (mm 0) takes its real id */
		a = vmt_bmirror_find(m, 0);
		if (a && !vmt_bmirror_find(m, mm))
			a->mm = mm;
		p->mm = mm;
	} else if (mm && p->mm != mm) {
		p->mm = mm; /* exec, or the record is for a new image */
	}
	return as_get(m, mm);
}

static int apply_vmachg(struct vmt_bmirror *m, const struct vmt_krec_vmachg *r, size_t size)
{
	struct vmt_bmirror_as *a;
	unsigned nv = r->nr_vmas;

	if (size < VMT_KREC_VMACHG_SIZE(0) || nv > VMT_BPF_MAX_VMAS || size < VMT_KREC_VMACHG_SIZE(nv))
		return 0;
	a = bind(m, r->h.tgid, r->h.mm);
	if (!a)
		return -ENOMEM;
	if (r->h.flags & VMT_BPF_F_NOCHANGE)
		return 0;
	/* every part erases its own stretch (FULL: of [0, ~0)) */
	for (int i = 0; i < 2; i++)
		if (as_erase(a, r->range[i][0], r->range[i][1]))
			return -ENOMEM;
	for (unsigned i = 0; i < nv; i++)
		if (as_store(a, &r->vmas[i]))
			return -ENOMEM;
	if (r->h.flags & VMT_BPF_F_MORE)
		return 0;
	if (r->h.flags & VMT_BPF_F_RACED)
		m->raced++;
	if (r->h.flags & VMT_BPF_F_UNSTABLE)
		m->unstable++;
	if (r->h.flags & VMT_BPF_F_TRUNC)
		m->trunc++;
	if (r->h.flags & VMT_BPF_F_REDO)
		m->redo++;
	if (r->h.flags & (VMT_BPF_F_RACED | VMT_BPF_F_UNSTABLE | VMT_BPF_F_TRUNC)) {
		m->skipped_checks++;
		return 0;
	}
	m->checks++;
	if ((int64_t)a->n != r->map_count)
		mismatch(m, "%u/%u nr %u ret %lld seq %u: mirror has %zu VMAs, kernel map_count %d",
			 r->h.tgid, r->h.tid, r->nr, (long long)r->ret, r->lock_seq, a->n,
			 r->map_count);
	return 0;
}

static int apply_fork(struct vmt_bmirror *m, const struct vmt_krec_fork *f)
{
	struct vmt_bmirror_as *pa, *ca;
	struct vmt_bmirror_proc *cp;
	size_t n = 0;

	if (f->h.flags & VMT_BPF_F_THREAD)
		return 0;
	m->forks++;
	pa = bind(m, f->h.tgid, f->h.mm);
	if (!pa)
		return -ENOMEM;
	cp = proc_get(m, f->child_tgid, true);
	if (!cp)
		return -ENOMEM;
	cp->mm = f->child_mm;
	if (f->h.flags & VMT_BPF_F_SHARED_MM)
		return 0;
	ca = as_get(m, f->child_mm);
	pa = vmt_bmirror_find(m, f->h.mm); /* as_get may have moved it */
	if (!ca || !pa)
		return -ENOMEM;
	ca->n = 0;
	if (as_reserve(ca, pa->n))
		return -ENOMEM;
	for (size_t i = 0; i < pa->n; i++)
		if (!(pa->v[i].flags & VM_DONTCOPY_))
			ca->v[n++] = pa->v[i];
	ca->n = n;
	if (f->h.flags & VMT_BPF_F_LISTED) {
		m->skipped_checks++; /* the child's own FULL list follows */
		return 0;
	}
	m->checks++;
	if ((int64_t)n != f->child_map_count)
		mismatch(m, "fork %u -> %u: child mirror has %zu VMAs, kernel map_count %d "
			    "(parent mirror %zu, kernel %d)",
			 f->h.tgid, f->child_tgid, n, f->child_map_count, pa->n, f->parent_map_count);
	return 0;
}

int vmt_bmirror_apply(struct vmt_bmirror *m, const struct vmt_krec_hdr *h, size_t size)
{
	m->records++;
	switch (h->type) {
	case VMT_KREC_VMA_CHANGE:
		return apply_vmachg(m, (const void *)h, size);
	case VMT_KREC_FORK:
		if (size < sizeof(struct vmt_krec_fork))
			return 0;
		return apply_fork(m, (const void *)h);
	case VMT_KREC_EXEC: {
		struct vmt_bmirror_as *a;
		m->execs++;
		a = bind(m, h->tgid, h->mm);
		if (!a)
			return -ENOMEM;
		a->n = 0; /* the FULL list follows */
		return 0;
	}
	case VMT_KREC_EXIT:
		if (h->flags & VMT_BPF_F_GROUP_DEAD) {
			struct vmt_bmirror_proc *p = proc_get(m, h->tgid, false);
			if (p)
				p->exited = 1;
		}
		return 0;
	}
	return 0;
}

/* ---- /proc/PID/maps ------------------------------------------------------------ */

struct pmap {
	uint64_t start, end, off, ino;
	unsigned maj, min;
	char perms[5];
};

static int read_maps(pid_t pid, struct pmap **out, size_t *n)
{
	char path[64], line[4096];
	size_t cap = 64, cnt = 0;
	struct pmap *v;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	v = malloc(cap * sizeof(*v));
	if (!v) {
		fclose(f);
		return -ENOMEM;
	}
	while (fgets(line, sizeof(line), f)) {
		struct pmap p;
		unsigned long long s, e, o, ino;
		if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu", &s, &e, p.perms, &o, &p.maj, &p.min,
			   &ino) != 7)
			continue;
		if (strstr(line, "[vsyscall]"))
			continue;
		p.start = s, p.end = e, p.off = o, p.ino = ino;
		if (cnt == cap) {
			struct pmap *nv = realloc(v, 2 * cap * sizeof(*v));
			if (!nv) {
				free(v);
				fclose(f);
				return -ENOMEM;
			}
			v = nv;
			cap *= 2;
		}
		v[cnt++] = p;
	}
	fclose(f);
	*out = v;
	*n = cnt;
	return 0;
}

int vmt_bmirror_seed_proc(struct vmt_bmirror *m, pid_t tgid)
{
	struct vmt_bmirror_proc *p;
	struct vmt_bmirror_as *a;
	struct pmap *v;
	size_t n;
	int ret = read_maps(tgid, &v, &n);

	if (ret)
		return ret;
	p = proc_get(m, tgid, true);
	a = p ? as_get(m, 0) : NULL;
	if (!a) {
		free(v);
		return -ENOMEM;
	}
	p->mm = 0;
	a->n = 0;
	for (size_t i = 0; i < n; i++) {
		struct vmt_krec_vma x = {
			.start = v[i].start,
			.end = v[i].end,
			.flags = (v[i].perms[0] == 'r' ? VM_READ_ : 0) |
				 (v[i].perms[1] == 'w' ? VM_WRITE_ : 0) |
				 (v[i].perms[2] == 'x' ? VM_EXEC_ : 0) |
				 (v[i].perms[3] == 's' ? VM_MAYSHARE_ : 0),
			.pgoff = v[i].ino ? v[i].off >> PAGE_SHIFT_ : 0,
			.ino = v[i].ino,
			.dev = (v[i].maj << 20) | v[i].min,
		};
		if (as_store(a, &x)) {
			free(v);
			return -ENOMEM;
		}
	}
	free(v);
	return 0;
}

int vmt_bmirror_diff_proc(struct vmt_bmirror *m, pid_t tgid, FILE *out)
{
	struct vmt_bmirror_as *a = vmt_bmirror_of_tgid(m, tgid);
	struct pmap *v;
	size_t n, i = 0, j = 0;
	int diffs = 0, ret;

	if (!a)
		return -ENOENT;
	ret = read_maps(tgid, &v, &n);
	if (ret)
		return ret;
	while (i < n || j < a->n) {
		const struct pmap *p = i < n ? &v[i] : NULL;
		const struct vmt_krec_vma *x = j < a->n ? &a->v[j] : NULL;
		char perms[5];
		uint64_t off;

		if (x) {
			perms[0] = x->flags & VM_READ_ ? 'r' : '-';
			perms[1] = x->flags & VM_WRITE_ ? 'w' : '-';
			perms[2] = x->flags & VM_EXEC_ ? 'x' : '-';
			perms[3] = x->flags & VM_MAYSHARE_ ? 's' : 'p';
			perms[4] = 0;
		}
		off = x && x->ino ? x->pgoff << PAGE_SHIFT_ : 0;
		if (p && x && p->start == x->start && p->end == x->end && !strcmp(p->perms, perms) &&
		    (p->ino ? p->off : 0) == off && p->ino == x->ino &&
		    ((p->maj << 20) | p->min) == x->dev) {
			i++, j++;
			continue;
		}
		diffs++;
		if (out && diffs <= 10) {
			if (p)
				fprintf(out, "#   kernel %" PRIx64 "-%" PRIx64 " %s %08" PRIx64 " %02x:%02x %" PRIu64 "\n",
					p->start, p->end, p->perms, p->off, p->maj, p->min, p->ino);
			if (x)
				fprintf(out, "#   mirror %" PRIx64 "-%" PRIx64 " %s %08" PRIx64 " %02x:%02x %" PRIu64 " (flags %#" PRIx64 ")\n",
					x->start, x->end, perms, off, x->dev >> 20, x->dev & 0xfffff,
					x->ino, x->flags);
		}
		/* advance the one that starts first (both when equal) */
		if (p && x) {
			if (p->start <= x->start)
				i++;
			if (x->start <= p->start)
				j++;
		} else if (p) {
			i++;
		} else {
			j++;
		}
	}
	free(v);
	return diffs;
}
