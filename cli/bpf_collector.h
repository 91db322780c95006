/*
 * bpf_collector.h - vmatop's BPF source: loads and attaches the programs of
 * bpf/vmatop.bpf.c, keeps the set of followed processes, polls the ring
 * buffer and hands each record (layouts in include/vmatop/records.h) to a callback, and
 * reads the in-kernel mmap_lock statistics.
 *
 * Owns: the libbpf skeleton objects, the follow set (a bitmap by tgid the
 * programs and this side update with atomic operations, mapped into this
 * process), the ring buffer consumer, the feature probe (tp_btf, else
 * raw_tp; the mmap_lock and contention programs only with lock statistics
 * or dropped when their tracepoint is missing; optional fentry on
 * dup_mmap), and the permission check with its user-facing message.
 *
 * Usage:
 *   struct vmt_bpf_opts o = VMT_BPF_OPTS_DEFAULT;
 *   struct vmt_bpf *b;
 *   if (vmt_bpf_open(&b, &o, on_record, ctx, err, sizeof(err)) < 0) ...;
 *   vmt_bpf_follow(b, pid);            before the target starts changing
 *   while (...) vmt_bpf_poll(b, 100);  on_record() runs for each record
 *   vmt_bpf_drain(b); vmt_bpf_lock_stats(b, ...); vmt_bpf_close(b);
 *
 * Records are delivered in an order consumers can apply them in
 * (cli/bpf_order.c; "The order of records" in include/vmatop/records.h):
 * apply them one after the other. The parts of a VMA_CHANGE
 * (VMT_BPF_F_MORE) are delivered one after the other; a record the ring
 * had late (another thread's newer snapshot went first) is delivered
 * RACED and followed by the newer ones again (VMT_BPF_F_REDO). At the end
 * of a session, vmt_bpf_flush() delivers what is still held.
 *
 * Errors: functions return 0 (or a count) or a negative errno; the message
 * for the user is written to err (vmt_bpf_open) and names the cause and
 * what to do.
 */
#ifndef VMATOP_BPF_COLLECTOR_H
#define VMATOP_BPF_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bpf_order.h"
#include <vmatop/records.h>

#define VMT_BPF_LOCK_THRESHOLD_DEFAULT_NS 100000ull /* --lock-threshold: 100us */

struct vmt_bpf_opts {
	bool system;		    /* follow every process (but vmatop) */
	bool no_vma;		    /* no address-space records */
	bool lock;		    /* mmap_lock statistics (wait, hold, contention,
				     * long waits, the fork copy): the mmap_lock
				     * programs run on every lock operation of
				     * every process, so only when asked */
	bool no_fentry;		    /* do not try the optional fentry programs */
	uint64_t lock_threshold_ns; /* LOCK_WAIT record per wait >= this */
	size_t ringbuf_bytes;	    /* 0: 16 MiB (power of two) */
	int verbose;		    /* print libbpf's messages on stderr */
};

#define VMT_BPF_OPTS_DEFAULT \
	{ .lock_threshold_ns = VMT_BPF_LOCK_THRESHOLD_DEFAULT_NS }

/* What loaded: for "which mode is vmatop in" messages and the trace. */
struct vmt_bpf_info {
	const char *attach;	/* "tp_btf" or "raw_tp" */
	bool syscalls;		/* raw_syscalls sys_enter/sys_exit */
	bool sched;		/* sched_process_fork/exec/exit */
	bool mmap_lock;		/* mmap_lock:* programs loaded (statistics on) */
	bool mmap_lock_tp;	/* the kernel has the mmap_lock tracepoints */
	bool contention;	/* lock:contention_begin/end loaded */
	bool fentry;		/* fentry/fexit dup_mmap */
	bool enter_on_demand;	/* raw sys_enter attached only while a followed
				 * process has several threads (forks: entry
				 * programs of their own) */
	char fentry_why[96];	/* why not, when !fentry */
};

struct vmt_bpf;

/*
 * Called for every record; size is the record's size (>= sizeof(*h)).
 * Return 0 to go on; anything else stops the current poll/drain, which
 * then returns it.
 */
typedef int (*vmt_bpf_record_fn)(void *ctx, const struct vmt_krec_hdr *h, size_t size);

/*
 * Can this process use BPF here? 0 if yes; else -EPERM (capabilities: the
 * message names them) or -ENOTSUP (no kernel BTF, or built without BPF), with
 * a one-line message for the user in why.
 */
int vmt_bpf_available(char *why, size_t len);

int vmt_bpf_open(struct vmt_bpf **out, const struct vmt_bpf_opts *opts, vmt_bpf_record_fn fn,
		 void *ctx, char *err, size_t errlen);
void vmt_bpf_close(struct vmt_bpf *b);
/* Change the record callback (records delivered from now on). */
void vmt_bpf_set_callback(struct vmt_bpf *b, vmt_bpf_record_fn fn, void *ctx);
const struct vmt_bpf_info *vmt_bpf_info(const struct vmt_bpf *b);
/* One line: "BPF: tp_btf, syscalls sched mmap_lock contention, fentry: no (EPERM)";
 * without lock statistics: "BPF: tp_btf, syscalls sched (no mmap_lock statistics)" */
void vmt_bpf_describe(const struct vmt_bpf *b, char *buf, size_t len);

/* Follow a process (tgid) and, from then on, every process it forks. */
int vmt_bpf_follow(struct vmt_bpf *b, pid_t tgid);
/* The same for a process vmatop started and that has not exec'd yet (its
 * address space is listed at the exec, nothing before). */
int vmt_bpf_follow_new(struct vmt_bpf *b, pid_t tgid);
int vmt_bpf_unfollow(struct vmt_bpf *b, pid_t tgid);
/* Take the programs out of the kernel's tracepoints / put them back (maps,
 * follow set and ring stay): what a process pays with vmatop's programs
 * attached against none at all (tests/bpf/ovh --detach). 0 or -errno. */
int vmt_bpf_detach(struct vmt_bpf *b);
int vmt_bpf_reattach(struct vmt_bpf *b);
bool vmt_bpf_following(struct vmt_bpf *b, pid_t tgid);

/* Wait up to timeout_ms for records and handle them: count, or -errno. */
int vmt_bpf_poll(struct vmt_bpf *b, int timeout_ms);
/* Handle every record already in the ring: count, or -errno. Records may
 * stay held for ordering until the records they wait for arrive. */
int vmt_bpf_drain(struct vmt_bpf *b);
/* Drain, then deliver everything still held (end of a session). */
int vmt_bpf_flush(struct vmt_bpf *b);
/* Records held for ordering right now. */
size_t vmt_bpf_held(const struct vmt_bpf *b);
void vmt_bpf_order_stats(const struct vmt_bpf *b, struct vmt_border_stats *s);
/* An fd that becomes readable when records are waiting (epoll). */
int vmt_bpf_fd(const struct vmt_bpf *b);

/*
 * Snapshot of the per-thread mmap_lock statistics: *out is malloc'ed
 * (caller frees), *n entries. Only threads of tgid (0: all).
 */
int vmt_bpf_lock_stats(struct vmt_bpf *b, pid_t tgid, struct vmt_bpf_lockstat **out, size_t *n);
/* Forget the statistics of every thread of tgid (0: all). */
int vmt_bpf_lock_stats_clear(struct vmt_bpf *b, pid_t tgid);
/* Global counters (enum vmt_bpf_counter), summed over CPUs. */
int vmt_bpf_counters(struct vmt_bpf *b, uint64_t out[VMT_BPF_C_NR]);

/* ---- helpers for consumers of records ---------------------------------- */

/* Sum of two lock statistics (per process from per thread). */
void vmt_bpf_lockstat_add(struct vmt_bpf_lockstat *acc, const struct vmt_bpf_lockstat *s);
/* Value at quantile q (0..1) of a log2 histogram (upper bound of the bucket). */
uint64_t vmt_bpf_hist_quantile(const uint32_t *hist, int nb, double q);
/* Short name of a modelled syscall ("mmap"), or NULL. */
const char *vmt_bpf_sysname(uint32_t nr);
/* One line describing a record, for dumps and diagnostics. */
int vmt_bpf_format(const struct vmt_krec_hdr *h, size_t size, char *buf, size_t len);

#endif
