/*
 * observe.c - how the shim learns the kernel's VMAs: PROCMAP_QUERY ioctls on
 * /proc/self/maps (Linux >= 6.11) for the neighbourhood of a call, and the
 * /proc/self/maps text for seeds, snapshots and the fallback on older
 * kernels. Also the module list (dl_iterate_phdr + build-ids).
 *
 * Owns the /proc/self/maps fd (S.maps_fd: O_CLOEXEC, moved to fd >= 1000,
 * reopened after fork because it names the mm of the opener, and reopened
 * if the program closed or reused it) and the VMA-list emitters: a list is
 * a run of VMT_VMA records with one cid closed by VMT_LIST_END {lo, hi, n,
 * kind}, meaning "the kernel's VMAs meeting [lo, hi) are exactly these".
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/types.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* struct procmap_query from linux/fs.h (6.11); defined here for older headers. */
struct shim_pmq {
	__u64 size;
	__u64 query_flags;
	__u64 query_addr;
	__u64 vma_start;
	__u64 vma_end;
	__u64 vma_flags;
	__u64 vma_page_size;
	__u64 vma_offset;
	__u64 inode;
	__u32 dev_major;
	__u32 dev_minor;
	__u32 vma_name_size;
	__u32 build_id_size;
	__u64 vma_name_addr;
	__u64 build_id_addr;
};
#define SHIM_PROCMAP_QUERY _IOWR('f', 17, struct shim_pmq)
#define PMQ_COVERING_OR_NEXT 0x10
/* the query made by the shim itself, not through its ioctl interposer */
static int pmq_ioctl(int fd, struct shim_pmq *q)
{
	return (int)raw_ret(shim_raw_syscall(SYS_ioctl, fd, (long)SHIM_PROCMAP_QUERY, (long)q, 0, 0, 0));
}

int obs_open_maps(void)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, 1000);
	if (hi >= 0) {
		close(fd);
		fd = hi;
	}
	struct shim_pmq q = {.size = sizeof(q), .query_flags = PMQ_COVERING_OR_NEXT};
	S.have_pmq = pmq_ioctl(fd, &q) == 0;
	return fd;
}

void obs_reopen_maps(void)
{
	if (S.maps_fd >= 0)
		close(S.maps_fd);
	S.maps_fd = obs_open_maps();
}

/* One query; reopens the fd once if the program closed or reused it. */
static int pmq(uintptr_t addr, struct shim_pmq *q, char *name, unsigned namesz)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		memset(q, 0, sizeof(*q));
		q->size = sizeof(*q);
		q->query_flags = PMQ_COVERING_OR_NEXT;
		q->query_addr = addr;
		q->vma_name_size = namesz;
		q->vma_name_addr = (uintptr_t)name;
		if (S.maps_fd >= 0 && pmq_ioctl(S.maps_fd, q) == 0)
			return 0;
		int e = S.maps_fd >= 0 ? errno : EBADF;
		if (e == ENOENT)
			return -ENOENT;
		if (e == ENAMETOOLONG) {
			namesz = 0; /* name too long for our buffer: keep the rest */
			continue;
		}
		/* EBADF, ENOTTY, EINVAL...: not our fd any more. Do not close it. */
		S.maps_fd = obs_open_maps();
	}
	return -EIO;
}

int obs_vma_at(uintptr_t addr, uintptr_t *start, uintptr_t *end)
{
	struct shim_pmq q;
	if (!S.have_pmq || pmq(addr, &q, NULL, 0) < 0 || q.vma_start > addr)
		return -1;
	*start = q.vma_start;
	*end = q.vma_end;
	return 0;
}

static int emit_vma(uint32_t cid, uint64_t ts, uint64_t start, uint64_t end, uint32_t vflags,
		    uint64_t offset, uint32_t dev, uint64_t inode, const char *name, size_t nlen,
		    int wait)
{
	uint64_t nh = nlen ? shim_string(name, nlen) : 0;
	uint64_t pos;
	struct vmt_rec *r = rec_begin(VMT_VMA, cid, ts, wait, &pos);
	if (!r)
		return -1;
	r->p.vma.start = start;
	r->p.vma.end = end;
	r->p.vma.offset = offset;
	r->p.vma.inode = inode;
	r->p.vma.name_hash = nh;
	r->p.vma.dev = dev;
	r->p.vma.vflags = vflags;
	rec_commit(r, pos);
	return 0;
}

static void emit_end(uint32_t cid, uint64_t ts, uint64_t lo, uint64_t hi, uint32_t n, unsigned kind,
		     unsigned cause, uint64_t label, int wait)
{
	uint64_t pos;
	struct vmt_rec *r = rec_begin(VMT_LIST_END, cid, ts, wait, &pos);
	if (!r)
		return;
	r->p.list.lo = lo;
	r->p.list.hi = hi;
	r->p.list.n = n;
	r->p.list.kind = kind;
	r->p.list.cause = cause;
	r->p.list.label_hash = label;
	rec_commit(r, pos);
}

/* ---- /proc/self/maps text ---- */

static const char *hexnum(const char *p, const char *e, uint64_t *out)
{
	uint64_t v = 0;
	for (; p < e; p++) {
		unsigned d;
		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else
			break;
		v = v * 16 + d;
	}
	*out = v;
	return p;
}

struct maps_line {
	uint64_t start, end, offset, inode;
	uint32_t dev, vflags;
	const char *name;
	size_t nlen;
};

static int parse_line(const char *p, const char *e, struct maps_line *m)
{
	uint64_t maj, min;
	p = hexnum(p, e, &m->start);
	if (p >= e || *p++ != '-')
		return -1;
	p = hexnum(p, e, &m->end);
	if (e - p < 6 || *p++ != ' ')
		return -1;
	m->vflags = (p[0] == 'r' ? VMT_VMA_READ : 0) | (p[1] == 'w' ? VMT_VMA_WRITE : 0) |
		    (p[2] == 'x' ? VMT_VMA_EXEC : 0) | (p[3] == 's' ? VMT_VMA_SHARED : 0);
	p += 4;
	if (p >= e || *p++ != ' ')
		return -1;
	p = hexnum(p, e, &m->offset);
	if (p >= e || *p++ != ' ')
		return -1;
	p = hexnum(p, e, &maj);
	if (p >= e || *p++ != ':')
		return -1;
	p = hexnum(p, e, &min);
	m->dev = (uint32_t)(maj << 20 | min);
	if (p >= e || *p++ != ' ')
		return -1;
	uint64_t ino = 0;
	for (; p < e && *p >= '0' && *p <= '9'; p++)
		ino = ino * 10 + (uint64_t)(*p - '0');
	m->inode = ino;
	while (p < e && *p == ' ')
		p++;
	m->name = p;
	m->nlen = (size_t)(e - p);
	return 0;
}

static char maps_buf[1 << 16];
static _Atomic int maps_busy;

/*
 * Read /proc/self/maps line by line; calls fn for each VMA. Uses the static
 * buffer (or a small stack buffer when it is busy: reentrancy, threads).
 */
static int maps_walk(int (*fn)(const struct maps_line *, void *), void *ctx)
{
	char small[4096];
	char *buf = small;
	size_t cap = sizeof(small);
	int mine = 0;
	if (!atomic_exchange(&maps_busy, 1)) {
		buf = maps_buf;
		cap = sizeof(maps_buf);
		mine = 1;
	}
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	int count = 0;
	if (fd < 0) {
		count = -1;
		goto out;
	}
	size_t have = 0;
	for (;;) {
		ssize_t n = read(fd, buf + have, cap - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		char *p = buf, *end = buf + have;
		for (;;) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl)
				break;
			struct maps_line m;
			if (parse_line(p, nl, &m) == 0) {
				count++;
				if (fn(&m, ctx))
					goto done;
			}
			p = nl + 1;
		}
		have = (size_t)(end - p);
		memmove(buf, p, have);
		if (have == cap) /* a line longer than the buffer: drop it */
			have = 0;
	}
done:
	close(fd);
out:
	if (mine)
		atomic_store(&maps_busy, 0);
	return count;
}

struct list_ctx {
	uint32_t cid, n;
	uint64_t ts, lo, hi;
	int wait, seed;
};

static int list_cb(const struct maps_line *m, void *arg)
{
	struct list_ctx *c = arg;
	if (m->end <= c->lo || m->start >= c->hi)
		return m->start >= c->hi;
	if (c->seed && m->nlen == 7 && memcmp(m->name, "[stack]", 7) == 0) {
		S.stack_lo = m->start;
		S.stack_hi = m->end;
	}
	if (emit_vma(c->cid, c->ts, m->start, m->end, m->vflags, m->offset, m->dev, m->inode,
		     m->name, m->nlen, c->wait) == 0)
		c->n++;
	return 0;
}

static int maps_list_once(uint32_t cid, unsigned kind, unsigned cause, uint64_t lh)
{
	struct list_ctx c = {.cid = cid, .ts = shim_ticks(), .lo = 0, .hi = ~0ull, .wait = 1,
			     .seed = kind == VMT_LIST_SEED};
	if (maps_walk(list_cb, &c) < 0)
		return -1;
	emit_end(cid, c.ts, 0, ~0ull, c.n, kind, cause, lh, 1);
	return (int)c.n;
}

/*
 * A whole-map list from the /proc/self/maps text (read in pieces, so not one
 * moment of the map). Snapshots are evidence and stay as read. A list that
 * changes the mirror (seed, discover, indirect) is checked like obs_list:
 * the ranges other threads changed while it was read are listed again with
 * obs_list, or the whole map when they are not known.
 */
int obs_maps_list(uint32_t cid, unsigned kind, unsigned cause, const char *label)
{
	uint64_t lh = label ? shim_string(label, strlen(label)) : 0;
	if (kind == VMT_LIST_SNAPSHOT || !S.have_pmq)
		return maps_list_once(cid, kind, cause, lh);
	int n = -1;
	for (int round = 0; round < 3; round++) {
		uint64_t g0 = chg_mark();
		n = maps_list_once(round ? shim_cid() : cid, kind, cause, lh);
		if (n < 0)
			return n;
		uintptr_t r[16][2];
		int k = chg_changed_since(g0, r, 16);
		if (k >= 0) {
			for (int i = 0; i < k; i++)
				obs_list(shim_cid(), r[i][0], r[i][1], kind, cause);
			break;
		}
	}
	return n;
}

#define QMAX 48	    /* VMAs per query batch (stack buffer: hooks may run on small stacks) */
#define LIST_TRIES 24 /* lists of one range before it is deferred */

struct qvma {
	uint64_t start, end, offset, inode, name;
	uint32_t dev, vflags;
};

/*
 * Query the VMAs meeting [*at, hi) into v (at most QMAX). Returns the count
 * or -1; *at is where to go on (>= hi: done); [*xlo, *xhi) is widened to the
 * VMAs found.
 */
static int pmq_query(uintptr_t *at, uintptr_t hi, struct qvma *v, uintptr_t *xlo, uintptr_t *xhi)
{
	char name[1024];
	struct shim_pmq q;
	int n = 0;
	while (n < QMAX) {
		name[0] = 0;
		int rc = pmq(*at, &q, name, sizeof(name));
		if (rc == -ENOENT) {
			*at = ~0ul;
			break;
		}
		if (rc < 0)
			return -1;
		if (q.vma_start >= hi) {
			*at = ~0ul;
			break;
		}
		if (n && q.vma_start < v[n - 1].end)
			return -2; /* the map changed between two queries: start again */
		if (q.vma_start < *xlo)
			*xlo = q.vma_start;
		if (q.vma_end > *xhi)
			*xhi = q.vma_end;
		size_t nl = q.vma_name_size ? strnlen(name, sizeof(name)) : 0;
		v[n++] = (struct qvma){q.vma_start, q.vma_end, q.vma_offset, q.inode,
				       nl ? shim_string(name, nl) : 0, q.dev_major << 20 | q.dev_minor,
				       (uint32_t)(q.vma_flags & 0xf)};
		*at = q.vma_end;
		if (q.vma_end >= hi) {
			*at = ~0ul;
			break;
		}
	}
	return n;
}

static void fill_vma(struct vmt_rec *r, const struct qvma *v)
{
	r->p.vma.start = v->start;
	r->p.vma.end = v->end;
	r->p.vma.offset = v->offset;
	r->p.vma.inode = v->inode;
	r->p.vma.name_hash = v->name;
	r->p.vma.dev = v->dev;
	r->p.vma.vflags = v->vflags;
}

/* VMA records of list cid (and its end if end_lo < end_hi), in one block of the ring. */
static void emit_block(uint32_t cid, uint64_t ts, const struct qvma *v, int n, int end,
		       uint64_t lo, uint64_t hi, uint32_t total, unsigned kind, unsigned cause)
{
	unsigned k = (unsigned)n + (end ? 1 : 0);
	if (!k)
		return;
	uint64_t pos = rec_reserve(k, 0);
	if (pos == ~0ull)
		return;
	for (int i = 0; i < n; i++) {
		struct vmt_rec *r = rec_at(pos + (uint64_t)i, VMT_VMA, cid, ts);
		fill_vma(r, &v[i]);
		rec_commit(r, pos + (uint64_t)i);
	}
	if (end) {
		struct vmt_rec *r = rec_at(pos + (uint64_t)n, VMT_LIST_END, cid, ts);
		r->p.list.lo = lo;
		r->p.list.hi = hi;
		r->p.list.n = total;
		r->p.list.kind = kind;
		r->p.list.cause = cause;
		rec_commit(r, pos + (uint64_t)n);
	}
}

/* Close list cid as discarded (VMT_F_FAILED): its VMA records are dropped. */
static void emit_discard(uint32_t cid, uint64_t ts)
{
	uint64_t pos;
	struct vmt_rec *r = rec_begin(VMT_LIST_END, cid, ts, 0, &pos);
	if (!r)
		return;
	r->flags = VMT_F_FAILED;
	r->p.list.kind = VMT_LIST_OBSERVE;
	rec_commit(r, pos);
}

/*
 * One list of [lo, hi): every VMA meeting it, queried in batches and
 * emitted as it goes. Returns the VMAs listed (-1: query failed) and the
 * range the list replaces in the mirror, [lo, hi) widened to its VMAs.
 */
static int list_once(uint32_t cid, uintptr_t lo, uintptr_t hi, unsigned kind, unsigned cause,
		     uint64_t g0, int precheck, uintptr_t *xlo, uintptr_t *xhi, int *skipped)
{
	struct qvma v[QMAX];
	uint64_t ts = shim_ticks();
	uintptr_t at = lo;
	*xlo = lo;
	*xhi = hi;
	*skipped = 0;
	int n = pmq_query(&at, hi, v, xlo, xhi);
	if (n == -2) {
		*skipped = 1;
		return 0;
	}
	if (n < 0)
		return -1;
	if (at >= hi || at == ~0ul) { /* the common case: one batch, one block */
		if (precheck && chg_conflict(g0, *xlo, *xhi)) {
			*skipped = 1;
			return 0;
		}
		emit_block(cid, ts, v, n, 1, lo, hi, (uint32_t)n, kind, cause);
		return n;
	}
	uint32_t total = 0;
	uintptr_t last = 0;
	for (;;) { /* more than a batch: VMA records now, the end record last */
		if (n && v[0].start < last) { /* changed between batches: VMAs overlap */
			emit_discard(cid, ts);
			*skipped = 1;
			return 0;
		}
		emit_block(cid, ts, v, n, 0, 0, 0, 0, kind, cause);
		total += (uint32_t)n;
		if (n)
			last = v[n - 1].end;
		if (at >= hi || at == ~0ul)
			break;
		n = pmq_query(&at, hi, v, xlo, xhi);
		if (n == -2 || (n >= 0 && n && v[0].start < last)) {
			emit_discard(cid, ts);
			*skipped = 1;
			return 0;
		}
		if (n < 0)
			return -1;
	}
	emit_block(cid, ts, v, 0, 1, lo, hi, total, kind, cause);
	return (int)total;
}

int obs_list(uint32_t cid, uintptr_t lo, uintptr_t hi, unsigned kind, unsigned cause)
{
	if (hi <= lo)
		hi = lo + 1;
	if (!S.have_pmq) {
		uint64_t ts = shim_ticks();
		struct list_ctx c = {.cid = cid, .ts = ts, .lo = lo, .hi = hi};
		if (maps_walk(list_cb, &c) < 0)
			return -1;
		emit_end(cid, ts, lo, hi, c.n, kind, cause, 0, 0);
		return (int)c.n;
	}
	/*
	 * Another thread may change VMAs near [lo, hi) while we query. A list
	 * must not reach the ring after the record of a change it did not see
	 * (changes.c): query, skip emitting if a change near it finished or is
	 * running, emit, and check again. A change that slipped in between makes
	 * us list again, over everything the stale list said (its range widened
	 * to its VMAs), so the later list supersedes all of it. When changes
	 * keep coming, the list is deferred: this thread lists it again at its
	 * next hook, and snapshots list every deferred range first.
	 */
	int n = -1;
	uintptr_t qlo = lo, qhi = hi;
	int emitted = 0;
	for (int attempt = 0;; attempt++) {
		uint64_t g0 = chg_mark();
		uintptr_t xlo, xhi;
		int skipped;
		n = list_once(cid, qlo, qhi, kind, cause, g0, !emitted && attempt < LIST_TRIES,
			      &xlo, &xhi, &skipped);
		if (n < 0)
			return -1;
		if (!skipped) {
			emitted = 1;
			if (!chg_conflict(g0, xlo, xhi))
				return n;
			/* the next list replaces all the stale one did */
			qlo = xlo;
			qhi = xhi;
		}
		if (attempt >= LIST_TRIES) {
			if (!chg_defer(qlo, qhi))
				shim_debug("list %lx-%lx: still changing, left as it is", (unsigned long)qlo,
					   (unsigned long)qhi);
			return n;
		}
		if (attempt >= 4)
			sched_yield(); /* let the thread that is changing it finish */
	}
}

int obs_list_unannounced(uintptr_t lo, uintptr_t hi, unsigned kind, unsigned cause)
{
	chg_note(lo, hi);
	return obs_list(shim_cid(), lo, hi, kind, cause);
}

/*
 * A list obs_list could not make consistent is deferred again (another
 * thread kept changing its range - typically a thread preempted inside its
 * call, which is announced until it ends). Those who flush need it listed
 * now - a snapshot would compare a stale mirror, an exiting thread would
 * leave it to nobody - so try again for a while: the other call ends as
 * soon as its thread runs.
 */
#define FLUSH_WAIT_NS 200000000ull

static int flush_once(int all)
{
	uintptr_t lo, hi;
	int found = 0;
	if (chg_take(-1, &lo, &hi)) {
		found = 1;
		obs_list(shim_cid(), lo, hi, VMT_LIST_OBSERVE, VMT_CAUSE_CALL);
	}
	if (!all)
		return found;
	int n = chg_nslots();
	for (int i = 0; i < n; i++)
		if (chg_take(i, &lo, &hi)) {
			found = 1;
			obs_list(shim_cid(), lo, hi, VMT_LIST_OBSERVE, VMT_CAUSE_CALL);
		}
	return obs_flush_orphans() || found;
}

int obs_flush_orphans(void)
{
	uintptr_t lo, hi;
	int n = 0;
	for (; chg_take_orphan(&lo, &hi); n++)
		obs_list(shim_cid(), lo, hi, VMT_LIST_OBSERVE, VMT_CAUSE_CALL);
	return n;
}

void obs_flush(int all)
{
	uint64_t t0 = 0;
	long nap = 100000; /* ns, doubling: each round lists again */
	int e = errno;
	for (int round = 0;; round++) {
		if (!flush_once(all) || !chg_any_pending(all))
			break;
		uint64_t now = shim_clock();
		if (!t0)
			t0 = now;
		else if (now - t0 > FLUSH_WAIT_NS) {
			shim_debug("deferred lists still changing after %d rounds: left for later", round);
			break;
		}
		struct timespec d = {0, nap};
		nanosleep(&d, NULL);
		if (nap < 25000000)
			nap *= 2;
	}
	errno = e;
}

void obs_snapshot(unsigned cause, const char *label)
{
	obs_flush(1);
	obs_maps_list(shim_cid(), VMT_LIST_SNAPSHOT, cause, label);
}

void obs_check_stack(void)
{
	uintptr_t s, e;
	if (!S.stack_hi || obs_vma_at(S.stack_hi - 1, &s, &e) < 0)
		return;
	if (s == S.stack_lo && e == S.stack_hi)
		return;
	uintptr_t lo = s < S.stack_lo ? s : S.stack_lo;
	obs_list_unannounced(lo, S.stack_hi, VMT_LIST_DISCOVER, VMT_CAUSE_STACK);
	S.stack_lo = s;
}

void obs_check_brk(unsigned cause)
{
	extern void *__curbrk;
	uintptr_t cur = (uintptr_t)__curbrk;
	uintptr_t old = S.brk_seen;
	if (cur == old || !cur)
		return;
	S.brk_seen = cur;
	/* from the page below the lower break: it names the heap VMA (or what
	 * lies below an empty heap), which the list then covers whole */
	uintptr_t low = old && old < cur ? old : cur;
	uintptr_t lo = PAGE_DOWN(low - 1), hi = PAGE_UP(cur > old ? cur : old);
	obs_list_unannounced(lo, hi, cause == VMT_CAUSE_CALL ? VMT_LIST_OBSERVE : VMT_LIST_INDIRECT,
			     cause == VMT_CAUSE_CALL ? VMT_CAUSE_BRK : cause);
}

/* ---- modules ---- */

static int mod_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	char exe[512];
	const char *name = info->dlpi_name;
	if (!name || !*name) {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0)
			return 0;
		exe[n] = 0;
		name = exe;
	}
	if (name[0] != '/')
		return 0; /* vdso and friends: no file to symbolize from */
	uint64_t lo = ~0ull, hi = 0;
	uint8_t bid[23];
	unsigned bidlen = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD) {
			uint64_t a = info->dlpi_addr + ph->p_vaddr;
			if (a < lo)
				lo = a;
			if (a + ph->p_memsz > hi)
				hi = a + ph->p_memsz;
		} else if (ph->p_type == PT_NOTE && !bidlen) {
			const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
			const char *e = p + ph->p_memsz;
			while (p + sizeof(ElfW(Nhdr)) <= e) {
				const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
				const char *nm = p + sizeof(*nh);
				const char *desc = nm + ((nh->n_namesz + 3) & ~3u);
				if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
				    memcmp(nm, "GNU", 4) == 0 && desc + nh->n_descsz <= e) {
					bidlen = nh->n_descsz < sizeof(bid) ? nh->n_descsz
									    : sizeof(bid);
					memcpy(bid, desc, bidlen);
					break;
				}
				p = desc + ((nh->n_descsz + 3) & ~3u);
			}
		}
	}
	uint64_t nh = shim_string(name, strlen(name));
	uint64_t pos;
	struct vmt_rec *r = rec_begin(VMT_MODULE, 0, 0, 1, &pos);
	if (!r)
		return 0;
	r->flags = VMT_F_INTERNAL;
	r->p.mod.base = info->dlpi_addr;
	r->p.mod.name_hash = nh;
	r->p.mod.lo = lo;
	r->p.mod.hi = hi;
	r->p.mod.build_id_len = (uint8_t)bidlen;
	memcpy(r->p.mod.build_id, bid, bidlen);
	rec_commit(r, pos);
	return 0;
}

void obs_modules(void) { dl_iterate_phdr(mod_cb, NULL); }
