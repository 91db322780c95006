/*
 * trace.c - trace file writer and validating reader (see trace.h and
 * man/vmatop-trace.5).
 */
#include "trace.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- writer ---- */

int tw_open(struct trace_writer *w, const char *path, uint32_t stack_depth, uint64_t start_ns)
{
	memset(w, 0, sizeof(*w));
	w->path = path;
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0)
		return -errno;
	w->cap = VMT_REC_SIZE * 1024;
	w->buf = xmalloc(w->cap);
	struct vmt_file_header h = {0};
	memcpy(h.magic, VMT_FILE_MAGIC, 8);
	h.version = VMT_VERSION;
	h.header_size = sizeof(h);
	h.rec_size = VMT_REC_SIZE;
	h.start_ns = start_ns;
	h.start_real = (uint64_t)time(NULL);
	h.stack_depth = stack_depth;
	h.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	if (write(w->fd, &h, sizeof(h)) != (ssize_t)sizeof(h))
		return -errno ? -errno : -EIO;
	return 0;
}

void tw_put(struct trace_writer *w, const struct vmt_rec *r)
{
	if (w->used + VMT_REC_SIZE > w->cap)
		tw_flush(w);
	memcpy(w->buf + w->used, r, VMT_REC_SIZE);
	w->used += VMT_REC_SIZE;
	w->records++;
}

int tw_flush(struct trace_writer *w)
{
	size_t off = 0;
	while (off < w->used) {
		ssize_t n = write(w->fd, w->buf + off, w->used - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!w->failed)
				warnx_("%s: write failed: %s (disk full?)", w->path,
				       n < 0 ? strerror(errno) : "short write");
			w->failed = 1;
			break;
		}
		off += (size_t)n;
	}
	w->used = 0;
	return w->failed ? -EIO : 0;
}

int tw_close(struct trace_writer *w)
{
	tw_flush(w);
	int rc = close(w->fd) < 0 ? -errno : 0;
	free(w->buf);
	return w->failed ? -EIO : rc;
}

/* ---- reader ---- */

const char *vmt_type_name(unsigned type)
{
	switch (type) {
	case VMT_PROC_START: return "proc_start";
	case VMT_STRING: return "string";
	case VMT_MODULE: return "module";
	case VMT_STACK: return "stack";
	case VMT_EXIT: return "exit";
	case VMT_FORK_PRE: return "fork_pre";
	case VMT_FORK: return "fork";
	case VMT_EXEC: return "exec";
	case VMT_EXEC_FAIL: return "exec_fail";
	case VMT_SPAWN: return "spawn";
	case VMT_DLOPEN: return "dlopen";
	case VMT_DLCLOSE: return "dlclose";
	case VMT_MMAP: return "mmap";
	case VMT_MUNMAP: return "munmap";
	case VMT_MREMAP: return "mremap";
	case VMT_MPROTECT: return "mprotect";
	case VMT_PKEY_MPROTECT: return "pkey_mprotect";
	case VMT_MADVISE: return "madvise";
	case VMT_BRK: return "brk";
	case VMT_SBRK: return "sbrk";
	case VMT_SHMAT: return "shmat";
	case VMT_SHMDT: return "shmdt";
	case VMT_SYSCALL: return "syscall";
	case VMT_LIBCALL: return "libcall";
	case VMT_UNMAP_RANGE: return "unmap_range";
	case VMT_VMA: return "vma";
	case VMT_LIST_END: return "list_end";
	case VMT_RING_OPEN: return "ring_open";
	case VMT_RING_CLOSE: return "ring_close";
	case VMT_CMD_EXIT: return "cmd_exit";
	case VMT_END: return "end";
	default: return type >= VMT_BPF_FIRST && type <= VMT_BPF_LAST ? "bpf" : NULL;
	}
}

size_t trace_offset(const struct trace *t, size_t idx)
{
	return t->hdr->header_size + idx * VMT_REC_SIZE;
}

static __attribute__((noreturn)) void bad(const struct trace *t, size_t idx, const char *why)
{
	diex(EXIT_USAGE, "%s: corrupt record at offset %zu (%s); the trace is damaged", t->path,
	     trace_offset(t, idx), why);
}

static struct tstr *str_slot(struct trace *t, uint64_t h)
{
	size_t mask = t->nstrs_cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask)
		if (t->strs[i].hash == h || t->strs[i].hash == 0)
			return &t->strs[i];
}

static void str_grow(struct trace *t)
{
	struct tstr *old = t->strs;
	size_t oc = t->nstrs_cap;
	t->nstrs_cap = oc ? oc * 2 : 1024;
	t->strs = xcalloc(t->nstrs_cap, sizeof(*t->strs));
	for (size_t i = 0; i < oc; i++)
		if (old[i].hash)
			*str_slot(t, old[i].hash) = old[i];
	free(old);
}

static void add_chunk(struct trace *t, size_t idx, const struct vmt_str *s)
{
	if (s->len > 48 || (size_t)s->off + s->len > s->total || !s->hash)
		bad(t, idx, "string chunk out of bounds");
	if ((t->nstrs + 1) * 2 > t->nstrs_cap)
		str_grow(t);
	struct tstr *e = str_slot(t, s->hash);
	if (!e->hash) {
		e->hash = s->hash;
		e->total = s->total;
		e->text = xcalloc(1, (size_t)s->total + 1);
		t->nstrs++;
	}
	if (e->total != s->total)
		return; /* hash collision or duplicate with another length: keep the first */
	memcpy(e->text + s->off, s->text, s->len);
}

const char *trace_str(const struct trace *t, uint64_t hash)
{
	if (!hash || !t->nstrs_cap)
		return NULL;
	struct tstr *e = str_slot((struct trace *)t, hash);
	return e->hash ? e->text : NULL;
}

static struct tstream *stream_find(struct trace *t, uint64_t id)
{
	for (size_t i = 0; i < t->nstreams; i++)
		if (t->streams[i].id == id)
			return &t->streams[i];
	return NULL;
}

static int known_type(unsigned type)
{
	return vmt_type_name(type) != NULL;
}

#ifdef VMATOP_FUZZ
struct trace *fuzz_trace;
#endif

void trace_open(struct trace *t, const char *path)
{
	memset(t, 0, sizeof(*t));
	t->path = path;
#ifdef VMATOP_FUZZ
	fuzz_trace = t;
#endif
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		diex(EXIT_USAGE, "%s: cannot open: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		diex(EXIT_USAGE, "%s: not a regular file", path);
	}
	t->size = (size_t)st.st_size;
	if (t->size < sizeof(struct vmt_file_header)) {
		close(fd);
		diex(EXIT_USAGE, "%s: not a vmatop trace (only %zu bytes, the header needs %zu)",
		     path, t->size, sizeof(struct vmt_file_header));
	}
	void *map = mmap(NULL, t->size, PROT_READ, MAP_PRIVATE, fd, 0);
	int map_errno = errno;
	close(fd);
	if (map == MAP_FAILED)
		diex(EXIT_FAIL, "%s: cannot map: %s", path, strerror(map_errno));
	t->map = map;
	t->hdr = (const struct vmt_file_header *)t->map;
	if (memcmp(t->hdr->magic, VMT_FILE_MAGIC, 8))
		diex(EXIT_USAGE, "%s: not a vmatop trace (bad magic at offset 0)", path);
	if (t->hdr->version != VMT_VERSION)
		diex(EXIT_USAGE, "%s: trace format version %u is not supported (this vmatop reads %u)",
		     path, t->hdr->version, VMT_VERSION);
	if (t->hdr->header_size < sizeof(struct vmt_file_header) ||
	    t->hdr->header_size > t->size || t->hdr->rec_size != VMT_REC_SIZE)
		diex(EXIT_USAGE, "%s: corrupt header at offset 0 (header size %u, record size %u)",
		     path, t->hdr->header_size, t->hdr->rec_size);
	size_t body = t->size - t->hdr->header_size;
	t->nrec = body / VMT_REC_SIZE;
	if (body % VMT_REC_SIZE)
		diex(EXIT_USAGE, "%s: truncated record at offset %zu (file cut short?)", path,
		     t->hdr->header_size + t->nrec * VMT_REC_SIZE);
	t->recs = (const struct vmt_rec *)(t->map + t->hdr->header_size);

	/* stream 0: the collector */
	VEC_PUSH(t->streams, t->nstreams, t->streams_cap, ((struct tstream){0}));
	for (size_t i = 0; i < t->nrec; i++) {
		const struct vmt_rec *r = &t->recs[i];
		if (!known_type(r->type)) {
			char why[64];
			snprintf(why, sizeof(why), "unknown record type %u", r->type);
			bad(t, i, why);
		}
		if (t->complete)
			bad(t, i, "record after the end record");
		struct tstream *s;
		if (r->type == VMT_RING_OPEN) {
			if (r->commit != 0 || r->p.ring.stream == 0 || stream_find(t, r->p.ring.stream))
				bad(t, i, "ring opened twice or with stream 0");
			VEC_PUSH(t->streams, t->nstreams, t->streams_cap,
				 ((struct tstream){.id = r->p.ring.stream, .owner = r->p.ring.owner}));
		}
		s = stream_find(t, r->commit);
		if (!s) {
			char why[64];
			snprintf(why, sizeof(why), "stream %u was never opened", r->commit);
			bad(t, i, why);
		}
		switch (r->type) {
		case VMT_STRING:
			add_chunk(t, i, &r->p.str);
			break;
		case VMT_VMA:
			if (r->p.vma.start >= r->p.vma.end)
				bad(t, i, "VMA with start >= end");
			break;
		case VMT_LIST_END:
			if (r->p.list.kind < VMT_LIST_SEED || r->p.list.kind > VMT_LIST_SNAPSHOT)
				bad(t, i, "unknown list kind");
			break;
		case VMT_STACK:
			if (r->p.stack.n > 7)
				bad(t, i, "stack chunk with more than 7 frames");
			break;
		case VMT_RING_CLOSE: {
			struct tstream *o = stream_find(t, r->p.ring.stream);
			if (!o)
				bad(t, i, "ring closed before it was opened");
			o->lost = r->p.ring.lost;
			o->holes = r->p.ring.holes;
			break;
		}
		case VMT_END:
			t->complete = 1;
			break;
		}
		VEC_PUSH(s->idx, s->n, s->cap, i);
	}
	if (!t->complete)
		warnx_("%s: no end record (recording was interrupted?); reading the %zu complete "
		       "records",
		       path, t->nrec);
}

void trace_close(struct trace *t)
{
#ifdef VMATOP_FUZZ
	fuzz_trace = NULL;
#endif
	for (size_t i = 0; i < t->nstrs_cap; i++)
		free(t->strs[i].text);
	free(t->strs);
	for (size_t i = 0; i < t->nstreams; i++)
		free(t->streams[i].idx);
	free(t->streams);
	if (t->map)
		munmap(t->map, t->size);
}

/* Binary heap of streams keyed by the timestamp of their next record. */
struct hent {
	uint64_t ts;
	size_t s;
};

static int hless(const struct hent *a, const struct hent *b)
{
	return a->ts < b->ts || (a->ts == b->ts && a->s < b->s);
}

static void hdown(struct hent *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && hless(&h[l], &h[m]))
			m = l;
		if (r < n && hless(&h[r], &h[m]))
			m = r;
		if (m == i)
			return;
		struct hent x = h[i];
		h[i] = h[m];
		h[m] = x;
		i = m;
	}
}

void trace_replay(struct trace *t, trace_visit fn, void *ctx)
{
	size_t ns = t->nstreams;
	size_t *pos = xcalloc(ns, sizeof(size_t));
	struct hent *h = xmalloc(ns * sizeof(*h));
	size_t n = 0;
	for (size_t i = 0; i < ns; i++)
		if (t->streams[i].n)
			h[n++] = (struct hent){t->recs[t->streams[i].idx[0]].ts, i};
	for (size_t i = n; i-- > 0;)
		hdown(h, n, i);
	while (n) {
		size_t s = h[0].s;
		size_t idx = t->streams[s].idx[pos[s]++];
		fn(&t->recs[idx], idx, ctx);
		if (pos[s] < t->streams[s].n) {
			/* keep in-stream order even if a timestamp goes backwards */
			uint64_t ts = t->recs[t->streams[s].idx[pos[s]]].ts;
			h[0].ts = ts > h[0].ts ? ts : h[0].ts;
		} else {
			h[0] = h[--n];
		}
		hdown(h, n, 0);
	}
	free(pos);
	free(h);
}
