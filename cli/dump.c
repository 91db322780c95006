/*
 * dump.c - `vmatop dump [--pid PID] [--range LO-HI] [--all] FILE`: the
 * records of a trace, one line each, in the order `report`, `maps` and
 * `verify` replay them: what the mirror was built from. For finding why a
 * mirror went wrong - e.g. every record that touched the page verify says
 * differs (`--range`).
 */
#include "commands.h"
#include "trace.h"
#include "util.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char dump_usage[] =
	"usage: vmatop dump [--pid PID] [--range LO-HI] [--all] [--ns] FILE\n"
	"  Print the trace's records, one a line, in replay order:\n"
	"  index, ms since the start, pid/tid, type, call id, flags, then the payload.\n"
	"  --pid PID      only the records of PID\n"
	"  --range LO-HI  only the records that touch [LO, HI) (hex addresses, like\n"
	"                 /proc/PID/maps): memory calls, VMAs, list ends\n"
	"  --all          also strings, stack frames and modules (left out by default)\n"
	"  --ns           times as CLOCK_MONOTONIC ns (to set against clock_gettime()\n"
	"                 in the traced program or other logs)\n";

struct dump_ctx {
	const struct trace *t;
	long pid;
	uint64_t lo, hi;
	int ranged, all, ns;
	FILE *out;
};

static int meets(const struct dump_ctx *d, uint64_t a, uint64_t b)
{
	return !d->ranged || (a < d->hi && b > d->lo) || (a == b && a >= d->lo && a < d->hi);
}

static const char *list_kind(unsigned k)
{
	static const char *n[] = {"?", "seed", "observe", "indirect", "discover", "snapshot"};
	return k < sizeof(n) / sizeof(n[0]) ? n[k] : "?";
}

static void perms(uint32_t f, char *p)
{
	p[0] = f & VMT_VMA_READ ? 'r' : '-';
	p[1] = f & VMT_VMA_WRITE ? 'w' : '-';
	p[2] = f & VMT_VMA_EXEC ? 'x' : '-';
	p[3] = f & VMT_VMA_SHARED ? 's' : 'p';
	p[4] = 0;
}

/* The payload: 0 to leave the record out (range, --all). */
static int payload(const struct dump_ctx *d, const struct vmt_rec *r, char *b, size_t n)
{
	const struct vmt_mem *a = &r->p.mem;
	switch (r->type) {
	case VMT_MMAP: {
		uint64_t s = a->ret != -1 ? (uint64_t)a->ret : a->a0;
		if (!meets(d, s, s + a->a1))
			return 0;
		snprintf(b, n,
			 "addr=%#" PRIx64 " len=%#" PRIx64 " prot=%#" PRIx64 " flags=%#" PRIx64
			 " fd=%" PRId64 " off=%#" PRIx64 " -> %#" PRIx64 " err=%d dur=%uns",
			 a->a0, a->a1, a->a2, a->a3, (int64_t)a->a4, a->a5, (uint64_t)a->ret, a->err,
			 r->dur);
		return 1;
	}
	case VMT_MREMAP:
		if (!meets(d, a->a0, a->a0 + a->a1) &&
		    !meets(d, (uint64_t)a->ret, (uint64_t)a->ret + a->a2))
			return 0;
		snprintf(b, n,
			 "old=%#" PRIx64 " oldlen=%#" PRIx64 " newlen=%#" PRIx64 " flags=%#" PRIx64
			 " new=%#" PRIx64 " -> %#" PRIx64 " err=%d dur=%uns",
			 a->a0, a->a1, a->a2, a->a3, a->a4, (uint64_t)a->ret, a->err, r->dur);
		return 1;
	case VMT_MUNMAP:
	case VMT_MPROTECT:
	case VMT_PKEY_MPROTECT:
	case VMT_MADVISE:
	case VMT_UNMAP_RANGE:
	case VMT_SHMDT:
		if (!meets(d, a->a0, a->a0 + a->a1))
			return 0;
		snprintf(b, n, "addr=%#" PRIx64 " len=%#" PRIx64 " arg=%#" PRIx64 " -> %" PRId64
			 " err=%d dur=%uns",
			 a->a0, a->a1, a->a2, a->ret, a->err, r->dur);
		return 1;
	case VMT_BRK:
	case VMT_SBRK:
	case VMT_SHMAT:
	case VMT_LIBCALL: {
		if (d->ranged)
			return 0;
		const char *fn = trace_str(d->t, a->a0);
		snprintf(b, n, "fn=%s a1=%#" PRIx64 " a2=%#" PRIx64 " -> %" PRId64 " err=%d cause=%u dur=%uns",
			 fn ? fn : "?", a->a1, a->a2, a->ret, a->err, a->extra, r->dur);
		return 1;
	}
	case VMT_SYSCALL:
		if (d->ranged)
			return 0;
		snprintf(b, n, "a0=%#" PRIx64 " a1=%#" PRIx64 " -> %#" PRIx64 " err=%d extra=%u dur=%uns",
			 a->a0, a->a1, (uint64_t)a->ret, a->err, a->extra, r->dur);
		return 1;
	case VMT_VMA:
	case VMT_BPF_VMA: {
		const struct vmt_vma *v = &r->p.vma;
		char p[5];
		if (!meets(d, v->start, v->end))
			return 0;
		perms(v->vflags, p);
		const char *name = v->name_hash ? trace_str(d->t, v->name_hash) : NULL;
		snprintf(b, n, "%" PRIx64 "-%" PRIx64 " %s %08" PRIx64 " %02x:%02x %" PRIu64 " %s",
			 v->start, v->end, p, v->offset, (unsigned)(v->dev >> 20),
			 (unsigned)(v->dev & 0xfffff), v->inode, name ? name : "");
		return 1;
	}
	case VMT_LIST_END: {
		const struct vmt_list *l = &r->p.list;
		if (!meets(d, l->lo, l->hi))
			return 0;
		snprintf(b, n, "[%#" PRIx64 ", %#" PRIx64 ") n=%u %s cause=%u", l->lo, l->hi, l->n,
			 list_kind(l->kind), l->cause);
		return 1;
	}
	case VMT_BPF_LIST: {
		const struct vmt_bpf_list *l = &r->p.bpf_list;
		if (!meets(d, l->lo[0], l->hi[0]) && !meets(d, l->lo[1], l->hi[1]))
			return 0;
		snprintf(b, n,
			 "[%#" PRIx64 ", %#" PRIx64 ") [%#" PRIx64 ", %#" PRIx64 ") n=%u map_count=%d "
			 "seq=%u/%u",
			 l->lo[0], l->hi[0], l->lo[1], l->hi[1], l->n, l->map_count, l->wr_seq,
			 l->lock_seq);
		return 1;
	}
	case VMT_BPF_CALL: {
		const struct vmt_bpf_call *c = &r->p.bpf_call;
		if (d->ranged && !meets(d, c->a[0], c->a[0] + c->a[1]) &&
		    !meets(d, (uint64_t)c->ret, (uint64_t)c->ret + c->a[1]))
			return 0;
		snprintf(b, n,
			 "nr=%u (%#" PRIx64 ", %#" PRIx64 ", %#" PRIx64 ") -> %#" PRIx64
			 " map_count=%d dur=%uns",
			 c->nr, c->a[0], c->a[1], c->a[2], (uint64_t)c->ret, c->map_count, r->dur);
		return 1;
	}
	case VMT_PROC_START: {
		if (d->ranged)
			return 0;
		const struct vmt_proc *p = &r->p.proc;
		char comm[17];
		memcpy(comm, p->comm, 16);
		comm[16] = 0;
		snprintf(b, n, "ppid=%u cause=%u fork_id=%" PRIu64 " comm=%s", p->ppid, p->cause,
			 p->fork_id, comm);
		return 1;
	}
	case VMT_FORK_PRE:
	case VMT_FORK:
	case VMT_SPAWN:
		if (d->ranged)
			return 0;
		snprintf(b, n, "fork_id=%" PRIu64 " child=%" PRId64 " kind=%u err=%d dur=%uns%s",
			 r->p.fork.fork_id, r->p.fork.child, r->p.fork.kind, r->p.fork.err, r->dur,
			 r->type == VMT_SPAWN && (r->flags & VMT_F_EXECD) ? " execd" : "");
		return 1;
	case VMT_EXIT:
	case VMT_CMD_EXIT:
		if (d->ranged)
			return 0;
		snprintf(b, n, "status=%d how=%u", r->p.exit.status, r->p.exit.how);
		return 1;
	case VMT_STRING:
	case VMT_STACK:
	case VMT_MODULE:
		if (!d->all || d->ranged)
			return 0;
		b[0] = 0;
		return 1;
	default:
		if (d->ranged)
			return 0;
		b[0] = 0;
		return 1;
	}
}

static void dump_one(const struct vmt_rec *r, size_t idx, void *ctx)
{
	struct dump_ctx *d = ctx;
	char b[512];
	if (d->pid >= 0 && r->pid != (uint32_t)d->pid)
		return;
	if (!payload(d, r, b, sizeof(b)))
		return;
	uint64_t t0 = d->t->hdr->start_ns;
	double ms = r->ts >= t0 ? (double)(r->ts - t0) / 1e6 : -(double)(t0 - r->ts) / 1e6;
	if (d->ns)
		fprintf(d->out, "#%zu %" PRIu64 " %u/%u %s", idx, r->ts, r->pid, r->tid,
			vmt_type_name(r->type));
	else
		fprintf(d->out, "#%zu %.6f %u/%u %s", idx, ms, r->pid, r->tid,
			vmt_type_name(r->type));
	if (r->cid)
		fprintf(d->out, " cid=%u", r->cid);
	if (r->flags)
		fprintf(d->out, " fl=%#x", r->flags);
	fprintf(d->out, "%s%s\n", b[0] ? " " : "", b);
}

int cmd_dump(int argc, char **argv)
{
	struct dump_ctx d = {.pid = -1, .out = stdout};
	static const struct option opts[] = {{"pid", required_argument, NULL, 'p'},
					     {"range", required_argument, NULL, 'r'},
					     {"all", no_argument, NULL, 'a'},
					     {"ns", no_argument, NULL, 'n'},
					     {"help", no_argument, NULL, 'h'}, {0}};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:r:anh", opts, NULL)) != -1) {
		switch (c) {
		case 'p': {
			char *end;
			d.pid = strtol(optarg, &end, 10);
			if (*end || d.pid <= 0) {
				fprintf(stderr, "vmatop dump: --pid %s: not a process id\n%s", optarg,
					dump_usage);
				return EXIT_USAGE;
			}
			break;
		}
		case 'r': {
			char *end;
			d.lo = strtoull(optarg, &end, 16);
			if (*end != '-' || (d.hi = strtoull(end + 1, &end, 16), *end) || d.hi <= d.lo) {
				fprintf(stderr, "vmatop dump: --range %s: not LO-HI in hex with LO < HI\n%s",
					optarg, dump_usage);
				return EXIT_USAGE;
			}
			d.ranged = 1;
			break;
		}
		case 'a':
			d.all = 1;
			break;
		case 'n':
			d.ns = 1;
			break;
		case 'h':
			fputs(dump_usage, stdout);
			return 0;
		default:
			fputs(dump_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fputs(dump_usage, stderr);
		return EXIT_USAGE;
	}
	struct trace t;
	trace_open(&t, argv[optind]);
	d.t = &t;
	trace_replay(&t, dump_one, &d);
	trace_close(&t);
	return 0;
}
