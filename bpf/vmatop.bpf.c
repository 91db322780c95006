// SPDX-License-Identifier: GPL-2.0
/*
 * vmatop.bpf.c - the kernel half of vmatop's BPF mode (libbpf CO-RE).
 *
 * Owns: the set of followed processes (bitmap "follow_bits" by tgid, map
 * "follow" for tgids past it; grown on sched_process_fork, shrunk when a
 * process dies; or every process with cfg_system), per-thread state in task
 * storage, the calls in flight per multi-user mm ("mm_inflight"), the
 * per-thread mmap_lock statistics ("lock_stats") and the records sent
 * through the ring buffer "events" (layouts in include/vmatop/records.h).
 *
 * Only tracepoints are used, as BTF tracepoints (tp_btf/, no tracefs needed)
 * with raw tracepoint twins (raw_tp/) that the loader switches to when tp_btf
 * does not load; no kprobes, no fentry (see vmatop_fentry.bpf.c, optional):
 *
 *   raw_syscalls:sys_enter/sys_exit   address-space calls, fork timing
 *   sched:sched_process_fork/exec/exit   process life cycle, follow set
 *   sched:sched_switch                when a forking parent runs again
 *   mmap_lock:mmap_lock_{start_locking,acquire_returned,released}
 *   lock:contention_begin/end          only with lock statistics (cfg_lock):
 *                                     waits, holds, the fork copy window
 *
 * The address space needs only the syscall and sched programs: each costs
 * something on every call of every process (even an early return), so the
 * mmap_lock programs, which run on every lock operation, are loaded only
 * when lock statistics are asked for.
 *
 * VMAs are read by walking the mm's maple tree (mm->mm_mt) directly, without
 * taking mmap_lock: the tree is in RCU mode and tracepoint programs run under
 * RCU, so nodes cannot be freed under the walk. bpf_find_vma() is not used
 * because it takes mmap_read_trylock(), which fails (-EBUSY) exactly when
 * another thread holds or waits for the lock - the contended case vmatop is
 * about - and would show up in the lock statistics itself. A walk is made
 * consistent with mm->mm_lock_seq (the seqcount every mmap_write_lock()
 * bumps, Linux >= 6.13): read it before and after, retry when it moved.
 *
 * Invariants:
 *  - a VMA_CHANGE record is sent at the exit of every modelled call of a
 *    followed thread (even failed ones); it lists the VMAs around its
 *    ranges after the call from one snapshot of the mm (the snapshot rule
 *    in include/vmatop/records.h) and carries the snapshot's mm_lock_seq,
 *    so a mirror that applies the records in snapshot order converges on
 *    the kernel's VMA tree (cli/bpf_order.c restores that order where the
 *    ring has two threads' records the other way round);
 *  - a record is RACED (not count-checkable) when another call of its mm
 *    was in flight between the record's snapshot and its send;
 *  - a list the mm kept changing under (every read attempt torn) is not
 *    sent torn: the call's record goes without it (LATER) and the list
 *    follows from a later snapshot at the thread's next syscall or exit,
 *    the call counting as in flight until then;
 *  - a call during which mm_lock_seq did not move changed no VMA: its
 *    record is NOCHANGE and lists nothing; a successful munmap lists no
 *    VMA, a successful mmap the one that holds it (records.h says why that
 *    is exact); in a single-user mm those two are built right in the ring;
 *  - a fork from a multi-user mm lists the child's mm in full (a copy of
 *    the parent's mirror could miss a change whose record is on its way);
 *  - the main stack's growth in page faults (mm->stack_vm moves) is listed
 *    at the next syscall of any thread of the mm (FAULT);
 *  - statistics count only operations on the thread's own mm.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include <vmatop/records.h>

char LICENSE[] SEC("license") = "GPL";

/* kfunc (Linux >= 6.2): a read-only BTF view of any kernel address; loads
 * through it are plain loads with an exception-table fixup, much cheaper
 * than bpf_probe_read_kernel() calls */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* ---- configuration (rodata, set by the loader before load) ---------- */

const volatile bool cfg_system = false;	     /* follow every process */
const volatile __u32 cfg_self_tgid = 0;	     /* never follow vmatop itself */
const volatile __u64 cfg_lock_threshold_ns = 100000; /* LOCK_WAIT records */
const volatile bool cfg_vma = true;	     /* address-space records */
const volatile bool cfg_lock = true;	     /* mmap_lock statistics */
const volatile __u32 cfg_max_parts = 4096;  /* record parts per call */
const volatile __u32 cfg_follow_words = 1;  /* entries of follow_bits */

/* ---- maps -------------------------------------------------------------- */

/* Followed tgids: bit (tgid & 63) of word tgid / 64. An array lookup is an
 * inlined address computation, the cheapest test there is for "is this
 * syscall ours"; the loader sizes it from pid_max and maps it into
 * userspace (atomic updates from both sides). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* set by the loader */
	__type(key, __u32);
	__type(value, __u64);
} follow_bits SEC(".maps");

/* tgids past the bitmap (pid_max raised after the load) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);   /* tgid */
	__type(value, __u32); /* 1 */
} follow SEC(".maps");

/* Processes vmatop started itself and follows before their exec: their
 * threads are not listed at first sight (the image to come is listed at
 * the exec). Entries go at the first sight. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* tgid */
	__type(value, __u32); /* 1 */
} fresh SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* Followed processes that have had a second thread (counted in mt_followed
 * until they exit or exec). The collector adds the ones it attaches to. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);  /* tgid */
	__type(value, __u8); /* 1 */
} mt_tgids SEC(".maps");

/* Per mm that has (had) more than one user:
 *  - inflight: modelled calls from their entry (with lock statistics: from
 *    their write) until their record is sent: a record sent while another
 *    call of its mm is in flight cannot be count-checked (RACED);
 *  - holders: (lock statistics) the mm's own threads holding its mmap_lock
 *    right now: a wait with none of them holding it waits for another
 *    process (a /proc reader, khugepaged...). */
struct mmstate {
	__s64 inflight;
	__s64 holders;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* mm */
	__type(value, struct mmstate);
} mm_inflight SEC(".maps");

/* Per-thread mmap_lock statistics: slot i of this array belongs to the
 * thread whose task storage says slot == i + 1 (slots are never reused; an
 * array lookup is a plain address computation, a hash lookup is not). */
#define LOCK_SLOTS 8192
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LOCK_SLOTS);
	__type(key, __u32);
	__type(value, struct vmt_bpf_lockstat);
} lock_stats SEC(".maps");

__u32 lock_slots_used = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VMT_BPF_C_NR);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

#include "tstate.h"

/* FORK_RETs pending in any thread: sched_switch does nothing while 0 */
__s64 forks_pending = 0;
/* set by the collector: the clone family's own entry programs are attached */
volatile __u32 fork_tp_on = 0;
/* followed processes with more than one thread (mt_tgids): the collector
 * attaches raw sys_enter while there are any */
__s64 mt_followed = 0;
/* CLOCK_MONOTONIC when the collector last attached raw sys_enter:
 * for a while after, a call of a multi-user mm may be in flight without
 * having been counted (it entered before), so its mm's records are not
 * count-checked (TS_NOCHECK) */
volatile __u64 enter_attach_ns = 0;
#define ENTER_GRACE_NS 100000000ull

/* A record of st's call may be count-checked from the in-flight count. */
#define INFLIGHT_CHECKABLE(st) (((st)->flags & (TS_COUNTED | TS_NOCHECK)) == TS_COUNTED)
/* sys_enter was attached a moment ago (see enter_attach_ns) */
#define ENTER_GRACE() (bpf_ktime_get_ns() - enter_attach_ns < ENTER_GRACE_NS)

enum {
	TS_IN_SYSCALL = 1u << 0,
	TS_WROTE = 1u << 1, /* lock stats: took the write lock in this call */
	TS_FORKING = 1u << 2,
	TS_SOLO = 1u << 3,    /* the mm had one user at entry */
	TS_COUNTED = 1u << 4, /* counted in mm_inflight (at entry, or the write) */
	TS_NOENTRY = 1u << 5, /* the entry was not seen: its state rebuilt at exit */
	TS_BRK_UNKNOWN = 1u << 6, /* ... and the break before the call is not known */
	TS_SEQ_UNKNOWN = 1u << 7, /* ... and the mm_lock_seq at its entry either:
				   * it counts as written, never as exact */
	TS_NOCHECK = 1u << 8, /* no count check: sys_enter was attached a moment
			       * ago, calls that entered before are not counted */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tstate);
} tstate SEC(".maps");

/*
 * The walk state (in the per-CPU scratch: the BPF stack is too small for
 * it along the call chain). The node is kept as 32 words in the scratch
 * map; the layouts (pivots from word 1; slots from word 16 in range/leaf
 * nodes, 10 in arange nodes; the metadata's "end" byte) come from the
 * kernel's BTF.
 */
struct walk {
	__u64 mm;
	__u64 root;	     /* mm->mm_mt.ma_root at the start of a pass */
	__u64 range[2][2];   /* what to list */
	__u64 addr;	     /* next index to look at */
	__u64 lmin, lmax;    /* range of the leaf in scratch->node */
	__u32 ri;	     /* range being listed */
	__u32 need_descend;
	__u32 off, end;	     /* slot being looked at, last used slot */
	__u32 done, err, full;
	__u32 validate;	     /* the mm may change under the read: use the seq */
	__u32 seq;	     /* mm_lock_seq of the snapshot (of part 0) */
	__u32 torn;	     /* a later part saw another snapshot */
	__u32 part, base_flags;
	__u32 check;	     /* CHECK_*: may the record be count-checked */
	__u32 can_defer;     /* a part that cannot be read consistently is not
			      * sent: what is left goes to pend (deferred) */
	__u32 deferred;
	__u64 pend[2][2];    /* the stretch of the ranges not listed */
	__u64 meta, next;    /* vmt_vma_at(): a node's metadata word, a slot */
	__s32 inflight_ok;   /* CHECK_INFLIGHT: the calls in flight it allows */
};

/* Whether a record can be count-checked is decided between its snapshot
 * and its ring position: every change in the snapshot must have its record
 * in the ring already, i.e. no other call of the mm may be in flight. */
enum {
	CHECK_YES,	/* single-user mm */
	CHECK_INFLIGHT, /* when mm_inflight == inflight_ok (ours, if counted) */
	CHECK_NO,
};

/* Per-CPU scratch: the maple node being read, the walk, the record being
 * built. (Programs do not nest on a CPU: the kernel skips a program that
 * would run again on a CPU where it is already running.) */
struct scratch {
	__u64 node[32]; /* one maple node (struct maple_node is 256 bytes) */
	struct walk w;
	struct vmt_krec_vmachg rec;
	struct vmt_krec_lockwait lw;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* ---- small helpers -------------------------------------------------------- */

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);
	if (c)
		*c += 1;
}

static __always_inline bool followed(__u32 tgid)
{
	__u32 w = tgid >> 6;

	if (cfg_system)
		return tgid != cfg_self_tgid && tgid != 0;
	if (w < cfg_follow_words) {
		__u64 *b = bpf_map_lookup_elem(&follow_bits, &w);
		return b && ((*b >> (tgid & 63)) & 1);
	}
	return bpf_map_lookup_elem(&follow, &tgid) != NULL;
}

static __always_inline void follow_set(__u32 tgid, bool on)
{
	__u32 w = tgid >> 6;

	if (w < cfg_follow_words) {
		__u64 *b = bpf_map_lookup_elem(&follow_bits, &w);
		if (!b)
			return;
		if (on)
			__sync_fetch_and_or(b, 1ULL << (tgid & 63));
		else
			__sync_fetch_and_and(b, ~(1ULL << (tgid & 63)));
		return;
	}
	if (on) {
		__u32 one = 1;
		bpf_map_update_elem(&follow, &tgid, &one, BPF_ANY);
	} else {
		bpf_map_delete_elem(&follow, &tgid);
	}
}

static __always_inline __u32 cur_tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

static __always_inline struct mm_struct *cur_mm(void)
{
	/* a trusted pointer: a plain load, no helper call */
	return bpf_get_current_task_btf()->mm;
}

static __always_inline struct tstate *ts_get(bool create)
{
	struct task_struct *t = bpf_get_current_task_btf();
	return bpf_task_storage_get(&tstate, t, 0, create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

static __always_inline void hdr_fill(struct vmt_krec_hdr *h, __u16 type, __u16 size, __u32 flags,
				     __u64 ts, __u64 mm)
{
	__u64 id = bpf_get_current_pid_tgid();
	h->type = type;
	h->size = size;
	h->flags = flags;
	h->ts = ts;
	h->tgid = id >> 32;
	h->tid = (__u32)id;
	h->mm = mm;
}

/* No wakeup per record (an IPI in a VM): the consumers poll with a
 * timeout; wake them only once a batch is waiting (a quarter of the ring;
 * set by the loader). */
const volatile __u64 cfg_wakeup_bytes = 4 << 20;

static __always_inline void send(void *rec, __u64 size)
{
	__u64 fl = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= cfg_wakeup_bytes ?
			   BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&events, rec, size, fl))
		count(VMT_BPF_C_DROPPED);
}

/* regs as a read-only BTF pointer (raw_tp passes a plain number) */
static __always_inline struct pt_regs *regsv(const void *regs)
{
	return bpf_rdonly_cast(regs, bpf_core_type_id_kernel(struct pt_regs));
}

/* mm as a read-only BTF pointer: its fields are plain loads */
static __always_inline struct mm_struct *mmv(const void *mm)
{
	return bpf_rdonly_cast(mm, bpf_core_type_id_kernel(struct mm_struct));
}

/* mm->mm_lock_seq.sequence, or 0 on kernels without it (no validation). */
static __always_inline __u32 mm_seq(struct mm_struct *mm)
{
	if (bpf_core_field_exists(mm->mm_lock_seq.sequence))
		return mmv(mm)->mm_lock_seq.sequence;
	return 0;
}

/* The seq moved since the call's entry (an unknown entry counts as moved). */
static __always_inline bool seq_moved(const struct tstate *st, __u32 seq)
{
	return seq != st->seq_enter || (st->flags & TS_SEQ_UNKNOWN);
}

/* The seq of the call's own write when seq (a snapshot) is that write
 * alone since its entry, else 0 (the record's wr_seq). */
static __always_inline __u32 own_write_seq(const struct tstate *st, __u32 seq)
{
	return seq == st->seq_enter + 2 && !(st->flags & TS_SEQ_UNKNOWN) ? st->seq_enter + 1 : 0;
}

static __always_inline bool mm_has_seq(struct mm_struct *mm)
{
	return bpf_core_field_exists(mm->mm_lock_seq.sequence);
}

static __always_inline __u32 log2_bucket(__u64 v)
{
	__u32 r = 0;
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r < VMT_BPF_HIST ? r : VMT_BPF_HIST - 1;
}

/* ---- calls in flight per multi-user mm ------------------------------------- */

static __always_inline struct mmstate *mmstate_get(__u64 mm, bool create)
{
	struct mmstate *c = bpf_map_lookup_elem(&mm_inflight, &mm);

	if (!c && create) {
		struct mmstate zero = {};
		bpf_map_update_elem(&mm_inflight, &mm, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&mm_inflight, &mm);
	}
	return c;
}

/* Add d to the calls in flight of mm; the count before, or -1 if the map
 * has no room (then nothing is known: records are RACED). */
static __always_inline __s64 inflight_add(__u64 mm, __s64 d)
{
	struct mmstate *c = mmstate_get(mm, d > 0);
	return c ? __sync_fetch_and_add(&c->inflight, d) : -1;
}

static __always_inline __s64 inflight_get(__u64 mm)
{
	struct mmstate *c = mmstate_get(mm, false);
	return c ? c->inflight : -1;
}

/* ---- the maple-tree walk ---------------------------------------------------- */

#define MT_NODE_MASK 255UL
#define MT_TYPE_SHIFT 3
#define MT_TYPE_MASK 15
#define MT_MAX_LEVELS 10
#define MT_LEAF 1    /* maple_leaf_64 */
#define MT_RANGE 2   /* maple_range_64 */
#define MT_ARANGE 3  /* maple_arange_64 */

static __always_inline struct scratch *scratch_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch, &zero);
}

#define W_PIVOT(n, j) ((n)[(1 + (j)) & 31])

static __always_inline __u32 w_slot_base(__u32 type)
{
	if (type == MT_ARANGE)
		return bpf_core_field_offset(struct maple_arange_64, slot) / 8;
	return bpf_core_field_offset(struct maple_range_64, slot) / 8;
}

/* Walk from the root down to the leaf holding w->addr; the leaf stays in
 * scratch->node. 0, or -1 for an empty tree or a malformed node. */
__noinline int vmt_descend(void)
{
	struct scratch *s = scratch_get();
	__u64 enode, min = 0, max = ~0UL;
	struct walk *w;
	__u64 *n;

	if (!s)
		return -1;
	w = &s->w;
	n = s->node;
	enode = w->root;
	if ((enode & 3) != 2 || enode <= 4096)
		return -1; /* empty, or a lone entry at index 0: no VMAs */
	for (int level = 0; level < MT_MAX_LEVELS; level++) {
		__u32 type = (enode >> MT_TYPE_SHIFT) & MT_TYPE_MASK;
		__u32 end, off, npiv, sbase;
		__u8 *bytes = (__u8 *)n;

		{
			struct maple_node *mn = bpf_rdonly_cast((void *)(enode & ~MT_NODE_MASK),
							       bpf_core_type_id_kernel(struct maple_node));
			/* words 1..31 of the node (word 0 is the parent) */
#pragma unroll
			for (int i = 0; i < 31; i++)
				n[i + 1] = (__u64)mn->slot[i];
		}
		if (type == MT_ARANGE) {
			end = bytes[(bpf_core_field_offset(struct maple_arange_64, meta) +
				     bpf_core_field_offset(struct maple_metadata, end)) & 255];
			npiv = 9;
		} else if (type == MT_LEAF || type == MT_RANGE) {
			__u64 last = W_PIVOT(n, 14);
			if (!last)
				end = bytes[(bpf_core_field_offset(struct maple_range_64, meta) +
					     bpf_core_field_offset(struct maple_metadata, end)) & 255];
			else if (last == max)
				end = 14;
			else
				end = 15;
			npiv = 15;
		} else {
			return -1;
		}
		if (end > npiv)
			return -1;
		off = end;
		for (__u32 j = 0; j < 15; j++) {
			if (j >= end)
				break;
			if (W_PIVOT(n, j) >= w->addr) {
				off = j;
				break;
			}
		}
		if (type == MT_LEAF) {
			w->lmin = min;
			w->lmax = max;
			w->end = end;
			w->off = off;
			return 0;
		}
		sbase = w_slot_base(type);
		{
			__u64 cmin = off ? W_PIVOT(n, off - 1) + 1 : min;
			__u64 cmax = off < end ? W_PIVOT(n, off) : max;
			enode = n[(sbase + off) & 31];
			min = cmin;
			max = cmax;
		}
		if (!enode)
			return -1;
	}
	return -1;
}

/*
 * The entry of the tree at scratch->w.root that holds scratch->w.addr (in
 * the scratch: the root is a pointer, a subprogram takes only numbers):
 * one descent, reading only
 * the pivots up to the one found (no copy of the nodes). The VMA pointer,
 * or 0 (none there, an empty tree, or a node that does not parse).
 */
#define MT_SCAN(np, piv, slot)                                            \
	do {                                                              \
		*(volatile __u64 *)&s->w.next = 0;                        \
		_Pragma("unroll") for (int j = 0; j < (np); j++)          \
		{                                                         \
			if (j == end || (piv)[j] >= addr) {               \
				*(volatile __u64 *)&s->w.next =           \
					(__u64)(slot)[j];                 \
				found = 1;                                \
				break;                                    \
			}                                                 \
		}                                                         \
		if (!found && end == (np))                                \
			*(volatile __u64 *)&s->w.next = (__u64)(slot)[(np)]; \
		/* through memory: a number, not a pointer */            \
		next = *(volatile __u64 *)&s->w.next;                     \
	} while (0)

__noinline __u64 vmt_vma_at(void)
{
	struct scratch *s = scratch_get();
	__u64 enode, addr;

	if (!s)
		return 0;
	enode = s->w.root;
	addr = s->w.addr;
	if ((enode & 3) != 2 || enode <= 4096)
		return 0;
	for (int level = 0; level < MT_MAX_LEVELS; level++) {
		__u32 type = (enode >> MT_TYPE_SHIFT) & MT_TYPE_MASK, end, found = 0;
		void *node = (void *)(enode & ~MT_NODE_MASK);
		__u64 next;

		if (type == MT_ARANGE) {
			struct maple_arange_64 *a =
				bpf_rdonly_cast(node, bpf_core_type_id_kernel(struct maple_arange_64));
			end = a->meta.end;
			if (end > 9)
				return 0;
			MT_SCAN(9, a->pivot, a->slot);
		} else if (type == MT_LEAF || type == MT_RANGE) {
			struct maple_range_64 *r =
				bpf_rdonly_cast(node, bpf_core_type_id_kernel(struct maple_range_64));
			if (r->pivot[14]) {
				/* a full node has no metadata: its last slot
				 * runs to the node's end */
				end = 15;
			} else {
				/* the metadata shares the word of slot 15 (a
				 * union the verifier will not let us read a
				 * byte of): through memory, as a number */
				*(volatile __u64 *)&s->w.meta = (__u64)r->slot[15];
				end = (*(volatile __u64 *)&s->w.meta >>
				       (bpf_core_field_offset(struct maple_metadata, end) * 8)) & 0xff;
			}
			if (end > 15)
				return 0;
			MT_SCAN(15, r->pivot, r->slot);
		} else {
			return 0;
		}
		if (type == MT_LEAF)
			return next && (next & 3) != 2 ? next : 0;
		/* a child: node | type << 3 | 4 (only the root has bit 1) */
		enode = next;
		if (enode <= 4096)
			return 0;
	}
	return 0;
}

/* Read one VMA into o. */
static __always_inline void read_vma(struct vmt_krec_vma *o, __u64 vp)
{
	struct vm_area_struct *v = (void *)vp;
	struct file *f;

	v = bpf_rdonly_cast(v, bpf_core_type_id_kernel(struct vm_area_struct));
	o->start = v->vm_start;
	o->end = v->vm_end;
	o->flags = v->vm_flags;
	o->pgoff = v->vm_pgoff;
	f = v->vm_file;
	if (f) {
		struct inode *ino = f->f_inode;
		o->ino = ino->i_ino;
		o->dev = ino->i_sb->s_dev; /* MAJOR << 20 | MINOR */
	} else {
		o->ino = 0;
		o->dev = 0;
	}
	o->pad = 0;
}

static __always_inline void add_vma(struct scratch *s, __u64 vp)
{
	struct vmt_krec_vmachg *r = &s->rec;
	__u32 n = r->nr_vmas;

	read_vma(&r->vmas[n & (VMT_BPF_MAX_VMAS - 1)], vp);
	r->nr_vmas = n + 1;
}

/* One slot of the current leaf per call; moves on to range[1] when
 * range[0] is done; stops (full) when the record has no room left, with
 * w->addr on the slot not taken, for the next part. */
static long walk_step(__u32 i, void *ctx)
{
	struct scratch *s = scratch_get();
	__u64 entry, emin, emax, limit;
	struct walk *w;
	__u64 *n;
	__u32 off, ri;

	if (!s)
		return 1;
	w = &s->w;
	ri = w->ri & 1;
	n = s->node;
	limit = w->range[ri][1];
	if (w->need_descend) {
		if (w->range[ri][1] <= w->range[ri][0] || w->addr >= limit)
			goto next_range;
		if (vmt_descend()) {
			w->err = 1;
			return 1;
		}
		w->need_descend = 0;
	}
	off = w->off;
	if (off > 15) {
		w->err = 1;
		return 1;
	}
	entry = n[(w_slot_base(MT_LEAF) + off) & 31];
	emin = off ? W_PIVOT(n, off - 1) + 1 : w->lmin;
	emax = off < w->end ? W_PIVOT(n, off) : w->lmax;
	if (emin >= limit)
		goto next_range;
	/* a VMA pointer: not NULL and not an internal entry (XA_ZERO_ENTRY
	 * marks a VMA left over by a failed fork) */
	if (entry && (entry & 3) != 2) {
		if (s->rec.nr_vmas >= VMT_BPF_MAX_VMAS) {
			w->full = 1;
			w->addr = emin > w->addr ? emin : w->addr;
			w->need_descend = 1;
			return 1;
		}
		add_vma(s, entry);
	}
	if (emax >= limit - 1 || emax == ~0UL)
		goto next_range;
	w->off = off + 1;
	if (w->off > w->end) {
		w->addr = emax + 1;
		w->need_descend = 1;
	}
	return 0;
next_range:
	if (ri == 0) {
		w->ri = 1;
		w->addr = w->range[1][0];
		w->need_descend = 1;
		return 0;
	}
	w->done = 1;
	return 1;
}

/* Walk until the record part is full or the ranges are done. */
static __always_inline void walk_part(void)
{
	bpf_loop(4 * VMT_BPF_MAX_VMAS + 64, walk_step, NULL, 0);
}

struct seqwait {
	__u64 mm;
	__u32 seq;
};

static long seq_wait_step(__u32 i, void *ctx)
{
	struct seqwait *sw = ctx;
	sw->seq = mm_seq((struct mm_struct *)sw->mm);
	return sw->seq & 1 ? 0 : 1;
}

/* mm_lock_seq once no writer holds the lock (bounded spin: writers hold
 * it for microseconds); odd if we gave up. */
static __always_inline __u32 seq_wait_even(__u64 mm)
{
	struct seqwait sw = { .mm = mm };
	sw.seq = mm_seq((struct mm_struct *)mm);
	if (sw.seq & 1)
		bpf_loop(1 << 14, seq_wait_step, &sw, 0);
	return sw.seq;
}

/* One record part: read (retrying a torn read), then send. */
static long part_step(__u32 i, void *ctx)
{
	struct scratch *s = scratch_get();
	struct vmt_krec_vmachg *r;
	struct mm_struct *mm;
	struct walk *w;
	__u32 start_ri, seq0 = 0, seq1 = 0, n, fl;
	__u64 start_addr;
	bool stable = false, has_seq;

	if (!s)
		return 1;
	w = &s->w;
	r = &s->rec;
	mm = (void *)w->mm;
	start_ri = w->ri;
	start_addr = w->addr;
	has_seq = mm_has_seq(mm);
	for (int attempt = 0; attempt < 6; attempt++) {
		w->ri = start_ri;
		w->addr = start_addr;
		w->need_descend = 1;
		w->done = w->err = w->full = 0;
		r->nr_vmas = 0;
		if (w->validate && has_seq)
			seq0 = seq_wait_even(w->mm);
		w->root = (__u64)mmv(mm)->mm_mt.ma_root;
		r->map_count = mmv(mm)->map_count;
		walk_part();
		if (!w->validate || !has_seq) {
			seq1 = mm_seq(mm);
			stable = true;
			break;
		}
		seq1 = mm_seq(mm);
		if (seq1 == seq0 && !(seq0 & 1)) {
			stable = true;
			break;
		}
	}
	fl = w->base_flags;
	if (!stable && w->can_defer) {
		/* The mm kept changing under every read: a list now could
		 * mix states (a VMA cut by a split whose other half is not in
		 * yet) and spoil the mirror for good. Send no VMAs (the call
		 * is accounted; RACED, LATER), keep what is left of the
		 * ranges for the caller to list from a later snapshot. */
		__u32 sri = start_ri & 1;
		w->pend[0][0] = start_addr;
		w->pend[0][1] = w->range[sri][1];
		w->pend[1][0] = sri ? 0 : w->range[1][0];
		w->pend[1][1] = sri ? 0 : w->range[1][1];
		w->deferred = 1;
		w->full = 0;
		r->nr_vmas = 0;
		r->range[0][0] = r->range[0][1] = r->range[1][0] = r->range[1][1] = 0;
		r->h.flags = (fl & ~VMT_BPF_F_MORE) | VMT_BPF_F_RACED | VMT_BPF_F_LATER;
		r->lock_seq = seq1;
		r->part = w->part++;
		r->h.ts = bpf_ktime_get_ns();
		r->h.size = VMT_KREC_VMACHG_SIZE(0);
		count(VMT_BPF_C_UNSTABLE);
		send(r, VMT_KREC_VMACHG_SIZE(0));
		return 1;
	}
	if (w->part == 0) {
		w->seq = seq1;
		/* after the snapshot, before the ring position */
		if (w->check == CHECK_NO ||
		    (w->check == CHECK_INFLIGHT && inflight_get(w->mm) != w->inflight_ok)) {
			fl |= VMT_BPF_F_RACED;
			w->base_flags |= VMT_BPF_F_RACED;
			count(VMT_BPF_C_RACED);
		}
	} else if (seq1 != w->seq) {
		w->torn = 1; /* the parts are not one snapshot */
	}
	if (w->torn && !w->full) {
		fl |= VMT_BPF_F_UNSTABLE;
		count(VMT_BPF_C_UNSTABLE);
	}
	if (w->err && (w->root & 3) == 2 && w->root > 4096)
		count(VMT_BPF_C_WALK_ERR);
	if (w->full && i + 1 >= cfg_max_parts)
		w->full = 0, w->done = 0; /* out of parts */
	if (!w->done && !w->full && !w->err) {
		fl |= VMT_BPF_F_TRUNC;
		count(VMT_BPF_C_TRUNC);
	}
	if (w->full)
		fl |= VMT_BPF_F_MORE;
	if (!stable) {
		fl |= VMT_BPF_F_UNSTABLE;
		count(VMT_BPF_C_UNSTABLE);
	}
	/* Each part is a record of its own: it erases the stretch of the
	 * ranges it walked (up to the first VMA it had no room for) and lists
	 * the VMAs there, from its own snapshot (lock_seq): parts read at
	 * different times are each exact for their stretch, and ordered by
	 * their seq like any record. */
	{
		__u32 end_ri = w->full ? (w->ri & 1) : 1, sri = start_ri & 1;
		__u64 lo0 = start_addr, hi0, lo1 = 0, hi1 = 0;
		if (end_ri == sri)
			hi0 = w->full ? w->addr : w->range[sri][1];
		else {
			hi0 = w->range[sri][1];
			lo1 = w->range[1][0];
			hi1 = w->full ? w->addr : w->range[1][1];
		}
		r->range[0][0] = lo0;
		r->range[0][1] = hi0;
		r->range[1][0] = lo1;
		r->range[1][1] = hi1;
	}
	r->h.flags = fl;
	r->lock_seq = seq1;
	r->part = w->part++;
	r->h.ts = bpf_ktime_get_ns();
	n = r->nr_vmas;
	if (n > VMT_BPF_MAX_VMAS)
		n = VMT_BPF_MAX_VMAS;
	r->nr_vmas = n;
	r->h.size = VMT_KREC_VMACHG_SIZE(n);
	send(r, VMT_KREC_VMACHG_SIZE(n));
	return w->full ? 0 : 1;
}

/*
 * Send the record prepared in scratch->rec (header with the mm and flags,
 * call fields, ranges), listing every VMA overlapping its ranges (all for
 * FULL), in as many parts as needed. validate: the mm may change under the
 * read (make each part consistent with mm_lock_seq, retrying a torn one).
 */
static __always_inline void walk_send(__u32 validate, __u32 check, __s32 inflight_ok,
				      __u32 can_defer)
{
	struct scratch *s = scratch_get();
	struct vmt_krec_vmachg *r;
	struct walk *w;

	if (!s)
		return;
	w = &s->w;
	r = &s->rec;
	__builtin_memset(w, 0, sizeof(*w));
	w->mm = r->h.mm; /* set by prep_rec() */
	w->validate = validate;
	w->check = check;
	w->inflight_ok = inflight_ok;
	w->can_defer = can_defer;
	w->base_flags = r->h.flags;
	if (w->base_flags & VMT_BPF_F_FULL) {
		w->range[0][0] = 0;
		w->range[0][1] = ~0UL;
	} else {
		w->range[0][0] = r->range[0][0];
		w->range[0][1] = r->range[0][1];
		w->range[1][0] = r->range[1][0];
		w->range[1][1] = r->range[1][1];
	}
	w->addr = w->range[0][0];
	/* most calls list a handful of VMAs: one part, no loop */
	if (part_step(0, NULL) == 0)
		bpf_loop(cfg_max_parts - 1, part_step, NULL, 0);
}

__noinline int vmt_walk_send(__u32 validate, __u32 check, __s32 inflight_ok, __u32 can_defer)
{
	walk_send(validate, check, inflight_ok, can_defer);
	return 0;
}

/* ---- syscalls ------------------------------------------------------------- */

#define PAGE_SZ 4096UL
#define PAGE_UP(x) (((x) + PAGE_SZ - 1) & ~(PAGE_SZ - 1))
#define PAGE_DOWN(x) ((x) & ~(PAGE_SZ - 1))
#define PR_SET_VMA 0x53564d41
#define CLONE_VM_ 0x100
#define CLONE_VFORK_ 0x4000
#define CLONE_THREAD_ 0x10000
#define SIGCHLD_ 17
#define MREMAP_FIXED_ 2
#define MAP_FIXED_ 0x10
#define MAP_FIXED_NOREPLACE_ 0x100000

/* x86-64 syscalls that change VMAs but are not modelled (their effect is
 * not bounded by their arguments): in a multi-user mm a write during one of
 * them is taken as theirs (FULL list); in a single-user mm any syscall's
 * write is. Not ioctl, although a driver's may map (and userfaultfd's
 * UFFDIO_REGISTER splits): it is far too frequent for a FULL list each time
 * another thread wrote; with lock statistics the lock says which call
 * wrote, and every such call is listed. */
#define SYS_ARCH_PRCTL_ 158
#define SYS_IO_SETUP_ 206
#define SYS_IO_DESTROY_ 207
#define SYS_MBIND_ 237
#define SYS_SET_MEMPOLICY_HOME_NODE_ 450

enum sys_class { SC_NONE, SC_VMA, SC_FORK, SC_MAYWRITE };

static __always_inline int sys_class(long nr)
{
	switch (nr) {
	case VMT_SYS_MMAP:
	case VMT_SYS_MPROTECT:
	case VMT_SYS_MUNMAP:
	case VMT_SYS_BRK:
	case VMT_SYS_MREMAP:
	case VMT_SYS_MADVISE:
	case VMT_SYS_SHMAT:
	case VMT_SYS_SHMDT:
	case VMT_SYS_MLOCK:
	case VMT_SYS_MUNLOCK:
	case VMT_SYS_MLOCKALL:
	case VMT_SYS_MUNLOCKALL:
	case VMT_SYS_PRCTL:
	case VMT_SYS_REMAP_FILE_PAGES:
	case VMT_SYS_MLOCK2:
	case VMT_SYS_PKEY_MPROTECT:
	case VMT_SYS_MAP_SHADOW_STACK:
	case VMT_SYS_MSEAL:
		return SC_VMA;
	case VMT_SYS_CLONE:
	case VMT_SYS_FORK:
	case VMT_SYS_VFORK:
	case VMT_SYS_CLONE3:
		return SC_FORK;
	case SYS_ARCH_PRCTL_:
	case SYS_IO_SETUP_:
	case SYS_IO_DESTROY_:
	case SYS_MBIND_:
	case SYS_SET_MEMPOLICY_HOME_NODE_:
		return SC_MAYWRITE;
	}
	return SC_NONE;
}

/* Send the pending FORK_RET of st with the time the parent resumed. */
static __always_inline void fork_ret_send(struct tstate *st, __u64 t_resume)
{
	if (!st->pend.h.type)
		return;
	st->pend.t_resume = t_resume;
	send(&st->pend, sizeof(st->pend));
	if (st->pend.ret > 0)
		__sync_fetch_and_add(&forks_pending, -1);
	st->pend.h.type = 0;
}

static __always_inline void prep_rec(struct scratch *s, __u32 type_flags, struct mm_struct *mm)
{
	struct vmt_krec_vmachg *r = &s->rec;

	hdr_fill(&r->h, VMT_KREC_VMA_CHANGE, 0, type_flags, 0, (__u64)mm);
	r->t_enter = 0;
	r->t_write = 0;
	for (int i = 0; i < 6; i++)
		r->args[i] = 0;
	r->ret = 0;
	r->range[0][0] = r->range[0][1] = r->range[1][0] = r->range[1][1] = 0;
	r->nr = 0;
	r->map_count = 0;
	r->part = 0;
	r->nr_vmas = 0;
	r->lock_seq = 0;
	r->wr_seq = 0;
	r->pad = 0;
}

/*
 * List the record prepared in scratch->rec from a consistent snapshot and
 * send it. solo: the mm had one user at entry; else check/inflight_ok say
 * when the record can be count-checked (CHECK_*). What cannot be read
 * consistently now is left pending in st (with the call's count in flight,
 * if it has one), for pend_retry().
 */
static __always_inline void list_send(struct tstate *st, bool solo, __u32 check,
				      __s32 inflight_ok)
{
	struct scratch *s = scratch_get();

	vmt_walk_send(1, solo ? CHECK_YES : check, inflight_ok, 1);
	if (!s || !s->w.deferred)
		return;
	__builtin_memcpy(st->plist, s->w.pend, sizeof(st->plist));
	st->plist_flags = s->w.base_flags & (VMT_BPF_F_SOLO | VMT_BPF_F_FULL);
	if (st->flags & TS_COUNTED) {
		/* still in flight until its list is out */
		st->flags &= ~TS_COUNTED;
		st->plist_counted = 1;
	}
	st->plist_on = 1;
}

/* A list left pending: try it again (a later snapshot; REDO: not a call of
 * its own). final: the thread exits - send it whatever it reads. */
static __always_inline void pend_retry(struct tstate *st, struct mm_struct *mm, bool final)
{
	struct scratch *s;

	if (!st->plist_on)
		return;
	s = scratch_get();
	if (!s || !mm)
		return;
	prep_rec(s, st->plist_flags | VMT_BPF_F_REDO | VMT_BPF_F_RACED, mm);
	__builtin_memcpy(s->rec.range, st->plist, sizeof(st->plist));
	vmt_walk_send(1, CHECK_NO, 0, final ? 0 : 1);
	if (s->w.deferred) {
		__builtin_memcpy(st->plist, s->w.pend, sizeof(st->plist));
		return;
	}
	st->plist_on = 0;
	if (st->plist_counted) {
		st->plist_counted = 0;
		inflight_add((__u64)mm, -1);
	}
}


/* The main stack grew (or shrank) since this thread last looked: list the
 * VMA at mm->start_stack. A thread seen for the first time (no state made
 * at its fork: attached, or raw_tp) lists it too, unchecked: its mm may be
 * one the mirror does not know yet (but not in a process vmatop started,
 * before its exec). */
static __always_inline void stack_check(struct tstate *st, struct mm_struct *mm, bool solo)
{
	struct mm_struct *mv = mmv(mm);
	__u64 sv = mv->stack_vm, stk;
	struct scratch *s;
	bool first = !st->seen;

	st->seen = 1;
	if (sv == st->stack_vm && !first)
		return;
	st->stack_vm = sv;
	if (first) {
		__u32 tgid = cur_tgid();
		if (bpf_map_lookup_elem(&fresh, &tgid)) {
			bpf_map_delete_elem(&fresh, &tgid);
			return;
		}
	}
	if (!cfg_vma)
		return;
	s = scratch_get();
	if (!s)
		return;
	prep_rec(s, VMT_BPF_F_FAULT | (solo ? VMT_BPF_F_SOLO : 0), mm);
	if (first && solo) {
		s->rec.h.flags |= VMT_BPF_F_RACED;
		count(VMT_BPF_C_RACED);
	}
	stk = mv->start_stack;
	s->rec.range[0][0] = stk;
	s->rec.range[0][1] = stk + 1;
	list_send(st, solo, first || (!solo && ENTER_GRACE()) ? CHECK_NO : CHECK_INFLIGHT, 0);
}

/*
 * Entry of a syscall (a0: its first argument). Raw sys_enter runs it for
 * every syscall, but it is attached only while it is needed (see
 * exit_without_entry); the clone family has entry programs of its own on
 * the per-syscall tracepoints when the kernel has them (fork_tp_on), so
 * that fork latency keeps its entry time without raw sys_enter.
 */
static __always_inline int on_sys_enter(__u64 a0, long id, bool raw)
{
	struct mm_struct *mm;
	struct tstate *st;
	bool solo;
	int cls;

	if (!followed(cur_tgid()))
		return 0;
	if (raw && fork_tp_on && sys_class(id) == SC_FORK)
		return 0; /* its own entry program has it */
	st = ts_get(true);
	if (!st)
		return 0;
	if (st->pend.h.type) /* back in user space and into the next call */
		fork_ret_send(st, st->fork_out ? bpf_ktime_get_ns() : st->pend.h.ts);
	st->flags = 0;
	mm = cur_mm();
	if (!mm)
		return 0;
	solo = mmv(mm)->mm_users.counter <= 1;
	pend_retry(st, mm, false);
	stack_check(st, mm, solo);
	cls = sys_class(id);
	st->sc_nr = id;
	st->flags = TS_IN_SYSCALL | (solo ? TS_SOLO : 0);
	st->seq_enter = mm_seq(mm);
	if (cls == SC_NONE)
		return 0;
	/* in flight from entry (with lock statistics: from the write, which
	 * the lock programs see - more exact, fewer RACED records) */
	if (!solo && cls != SC_FORK && cfg_vma && !cfg_lock) {
		if (inflight_add((__u64)mm, 1) >= 0)
			st->flags |= TS_COUNTED;
	}
	if (cfg_lock && cls == SC_VMA)
		st->sc_enter = bpf_ktime_get_ns();
	if (id == VMT_SYS_BRK)
		st->brk_before = mmv(mm)->brk;
	if (cls == SC_FORK) {
		__u64 fl = 0;
		st->sc_enter = bpf_ktime_get_ns();
		if (id == VMT_SYS_CLONE)
			fl = a0;
		else if (id == VMT_SYS_CLONE3)
			bpf_probe_read_user(&fl, sizeof(fl), (void *)a0);
		else if (id == VMT_SYS_FORK)
			fl = SIGCHLD_;
		else
			fl = CLONE_VM_ | CLONE_VFORK_ | SIGCHLD_;
		st->clone_flags = fl;
		st->flags |= TS_FORKING;
		st->fork_lock_start = st->fork_lock_acq = st->fork_lock_rel = 0;
		st->dup_start = st->dup_end = 0;
	}
	return 0;
}

/* The syscall's arguments: still in the user registers at exit. */
static __always_inline void read_args(struct pt_regs *regs, __u64 *a)
{
	struct pt_regs *r = regsv(regs);
	a[0] = r->di;
	a[1] = r->si;
	a[2] = r->dx;
	a[3] = r->r10;
	a[4] = r->r8;
	a[5] = r->r9;
}

/* The ranges whose VMAs a call may have changed; FULL for the calls whose
 * effect cannot be bounded from their arguments. */
static __always_inline void call_ranges(struct vmt_krec_vmachg *r, struct tstate *st,
					struct mm_struct *mm)
{
	__u64 *a = r->args;
	__u64 ret = r->ret;
	bool ok = r->ret >= 0 || r->ret < -4095;

	switch (r->nr) {
	case VMT_SYS_MMAP:
		if (ok) {
			r->range[0][0] = ret;
			r->range[0][1] = ret + PAGE_UP(a[1]);
		} else if (a[3] & (MAP_FIXED_ | MAP_FIXED_NOREPLACE_)) {
			r->range[0][0] = PAGE_DOWN(a[0]);
			r->range[0][1] = PAGE_UP(a[0] + a[1]);
		}
		break;
	case VMT_SYS_MREMAP:
		r->range[0][0] = PAGE_DOWN(a[0]);
		r->range[0][1] = PAGE_UP(a[0] + a[1]);
		if (ok) {
			r->range[1][0] = ret;
			r->range[1][1] = ret + PAGE_UP(a[2]);
		} else if (a[3] & MREMAP_FIXED_) {
			r->range[1][0] = PAGE_DOWN(a[4]);
			r->range[1][1] = PAGE_UP(a[4] + a[2]);
		}
		break;
	case VMT_SYS_BRK: {
		__u64 before = st->brk_before, after = mmv(mm)->brk;
		if (st->flags & TS_BRK_UNKNOWN) { /* where the heap ended: list it all */
			r->h.flags |= VMT_BPF_F_FULL;
			break;
		}
		__u64 lo = before < after ? before : after, hi = before < after ? after : before;
		/* the heap VMA's end may move anywhere up to PAGE_UP(hi) */
		r->range[0][0] = PAGE_DOWN(lo);
		r->range[0][1] = PAGE_UP(hi);
		if (r->range[0][1] == r->range[0][0])
			r->range[0][1] += PAGE_SZ;
		break;
	}
	case VMT_SYS_SHMAT:
		/* the segment's size is not an argument: list the VMA at the
		 * returned address, which is all of the new mapping */
		if (ok) {
			r->range[0][0] = ret;
			r->range[0][1] = ret + 1;
		}
		break;
	case VMT_SYS_MAP_SHADOW_STACK:
		if (ok) {
			r->range[0][0] = ret;
			r->range[0][1] = ret + PAGE_UP(a[1]);
		}
		break;
	case VMT_SYS_PRCTL: /* PR_SET_VMA, PR_SET_VMA_ANON_NAME: (attr, addr, size) */
		r->range[0][0] = PAGE_DOWN(a[2]);
		r->range[0][1] = PAGE_UP(a[2] + a[3]);
		break;
	case VMT_SYS_SHMDT:
	case VMT_SYS_MLOCKALL:
	case VMT_SYS_MUNLOCKALL:
		r->h.flags |= VMT_BPF_F_FULL;
		break;
	case VMT_SYS_REMAP_FILE_PAGES:
		/* emulated by a new mmap inside the old VMA: same range */
		r->range[0][0] = PAGE_DOWN(a[0]);
		r->range[0][1] = PAGE_UP(a[0] + a[1]);
		break;
	default: /* munmap mprotect pkey_mprotect madvise mlock munlock mlock2 mseal */
		r->range[0][0] = PAGE_DOWN(a[0]);
		r->range[0][1] = PAGE_UP(a[0] + a[1]);
		break;
	}
}

/*
 * A successful munmap: its range is empty now and nothing else changed
 * (splits at the range's edges, which the mirror makes itself when it
 * erases the range; munmap never merges). Exact without a walk when the
 * call's write is the only one since its entry (else another thread may
 * have mapped into the hole: walk). Returns false to fall back to a walk.
 */
static __always_inline bool munmap_send(struct tstate *st, struct mm_struct *mm, bool solo)
{
	struct scratch *s = scratch_get();
	struct vmt_krec_vmachg *r;
	__u32 seq0, seq1;

	if (!s)
		return false;
	r = &s->rec;
	seq0 = mm_seq(mm);
	if (!solo && (seq0 != st->seq_enter + 2 || (st->flags & TS_SEQ_UNKNOWN)))
		return false;
	r->map_count = mmv(mm)->map_count;
	seq1 = mm_seq(mm);
	if (seq1 != seq0 || (seq0 & 1))
		return false; /* a writer came: walk */
	r->lock_seq = seq0;
	r->wr_seq = own_write_seq(st, seq0);
	/* after the snapshot, before the ring position (see CHECK_INFLIGHT) */
	if (!solo && (!INFLIGHT_CHECKABLE(st) || inflight_get((__u64)mm) != 1)) {
		r->h.flags |= VMT_BPF_F_RACED;
		count(VMT_BPF_C_RACED);
	}
	r->h.ts = bpf_ktime_get_ns();
	r->h.size = VMT_KREC_VMACHG_SIZE(0);
	send(r, VMT_KREC_VMACHG_SIZE(0));
	return true;
}

/*
 * A successful mmap: the new mapping is one VMA (merged with a neighbour
 * or not) that holds all of [ret, ret + len): list just that one, found
 * with one descent. Returns false to fall back to the range walk (the VMA
 * there does not cover the range, a writer got in the way).
 */
static __always_inline bool mmap_send(struct tstate *st, struct mm_struct *mm, bool solo)
{
	struct scratch *s = scratch_get();
	struct vmt_krec_vmachg *r;
	struct mm_struct *mv = mmv(mm);
	__u32 seq0, seq1;
	__u64 vp;

	if (!s)
		return false;
	r = &s->rec;
	seq0 = seq_wait_even((__u64)mm);
	if (seq0 & 1)
		return false;
	r->map_count = mv->map_count;
	s->w.root = (__u64)mv->mm_mt.ma_root;
	s->w.addr = r->range[0][0];
	vp = vmt_vma_at();
	if (!vp)
		return false;
	read_vma(&r->vmas[0], vp);
	seq1 = mm_seq(mm);
	if (seq1 != seq0 || r->vmas[0].start > r->range[0][0] ||
	    r->vmas[0].end < r->range[0][1])
		return false;
	r->nr_vmas = 1;
	r->lock_seq = seq0;
	r->wr_seq = own_write_seq(st, seq0);
	/* after the snapshot, before the ring position (see CHECK_INFLIGHT) */
	if (!solo && (!INFLIGHT_CHECKABLE(st) || inflight_get((__u64)mm) != 1)) {
		r->h.flags |= VMT_BPF_F_RACED;
		count(VMT_BPF_C_RACED);
	}
	r->h.ts = bpf_ktime_get_ns();
	r->h.size = VMT_KREC_VMACHG_SIZE(1);
	send(r, VMT_KREC_VMACHG_SIZE(1));
	return true;
}

/* Fill the fields of a VMA_CHANGE record (r: in the ring) shared by the
 * fast paths. */
static __always_inline void fast_fill(struct vmt_krec_vmachg *r, struct tstate *st,
				      struct pt_regs *regs, long ret, __u64 lo, __u64 hi, __u32 seq,
				      __s32 map_count, __u16 nvmas)
{
	__u64 id = bpf_get_current_pid_tgid();

	r->h.type = VMT_KREC_VMA_CHANGE;
	r->h.size = VMT_KREC_VMACHG_SIZE(nvmas);
	r->h.flags = VMT_BPF_F_SOLO;
	r->h.tgid = id >> 32;
	r->h.tid = (__u32)id;
	r->t_enter = cfg_lock ? st->sc_enter : 0;
	r->t_write = cfg_lock ? st->t_write : 0;
	read_args(regs, r->args);
	r->ret = ret;
	r->range[0][0] = lo;
	r->range[0][1] = hi;
	r->range[1][0] = r->range[1][1] = 0;
	r->nr = st->sc_nr;
	r->map_count = map_count;
	r->part = 0;
	r->nr_vmas = nvmas;
	r->lock_seq = seq;
	r->wr_seq = own_write_seq(st, seq);
	r->pad = 0;
	r->h.ts = bpf_ktime_get_ns();
}

static __always_inline __u64 wakeup_flag(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= cfg_wakeup_bytes ?
		       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/*
 * The common calls of a single-user mm, built right in the ring (no
 * scratch copy; nobody else can change the mm, so the ring position may be
 * taken before the read): a successful munmap (its range, no VMA) and a
 * successful mmap (the one VMA that holds it). False: take the general way.
 */
static __always_inline bool solo_fast(struct tstate *st, struct pt_regs *regs, long ret,
				      struct mm_struct *mm)
{
	struct mm_struct *mv = mmv(mm);
	struct vmt_krec_vmachg *r;
	__u64 len = regsv(regs)->si, lo, hi;
	__u32 seq;

	if (ret < 0 && ret >= -4095)
		return false;
	if (st->sc_nr == VMT_SYS_MUNMAP) {
		__s32 mc;
		lo = PAGE_DOWN(regsv(regs)->di);
		hi = PAGE_UP(lo + len);
		seq = mm_seq(mm);
		mc = mv->map_count;
		if (hi <= lo || (seq & 1) || mm_seq(mm) != seq)
			return false;
		r = bpf_ringbuf_reserve(&events, VMT_KREC_VMACHG_SIZE(0), 0);
		if (!r) {
			count(VMT_BPF_C_DROPPED);
			return true;
		}
		r->h.mm = (__u64)mm;
		fast_fill(r, st, regs, ret, lo, hi, seq, mc, 0);
		bpf_ringbuf_submit(r, wakeup_flag());
		return true;
	}
	if (st->sc_nr == VMT_SYS_MMAP) {
		struct scratch *s = scratch_get();
		__s32 mc;
		__u64 vp;
		if (!s)
			return false;
		lo = ret;
		hi = lo + PAGE_UP(len);
		seq = seq_wait_even((__u64)mm);
		if (hi <= lo || (seq & 1))
			return false;
		mc = mv->map_count;
		s->w.root = (__u64)mv->mm_mt.ma_root;
		s->w.addr = lo;
		vp = vmt_vma_at();
		if (!vp)
			return false;
		r = bpf_ringbuf_reserve(&events, VMT_KREC_VMACHG_SIZE(1), 0);
		if (!r) {
			count(VMT_BPF_C_DROPPED);
			return true;
		}
		read_vma(&r->vmas[0], vp);
		if (mm_seq(mm) != seq || r->vmas[0].start > lo || r->vmas[0].end < hi) {
			bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);
			return false;
		}
		r->h.mm = (__u64)mm;
		fast_fill(r, st, regs, ret, lo, hi, seq, mc, 1);
		bpf_ringbuf_submit(r, wakeup_flag());
		return true;
	}
	return false;
}

static __always_inline void vma_call_exit(struct tstate *st, struct pt_regs *regs, long ret)
{
	struct mm_struct *mm = cur_mm();
	bool solo = st->flags & TS_SOLO, ok = ret >= 0 || ret < -4095, wrote;
	struct vmt_krec_vmachg *r;
	struct scratch *s;
	__u32 seq;

	if (!cfg_vma || !mm)
		return;
	if (solo && solo_fast(st, regs, ret, mm))
		return;
	s = scratch_get();
	if (!s)
		return;
	prep_rec(s, 0, mm);
	r = &s->rec;
	read_args(regs, r->args);
	r->ret = ret;
	r->nr = st->sc_nr;
	if (cfg_lock) {
		r->t_enter = st->sc_enter;
		r->t_write = st->t_write;
	}
	if (!ok)
		r->h.flags |= VMT_BPF_F_FAILED;
	if (solo)
		r->h.flags |= VMT_BPF_F_SOLO;
	seq = mm_seq(mm);
	/* did the call write? With lock statistics the lock says; else the
	 * seq: it did not move, so nobody wrote (a move may be another
	 * thread's write: then listing is merely unneeded) */
	wrote = cfg_lock ? (st->flags & TS_WROTE) : seq_moved(st, seq);
	if (!wrote) {
		/* nothing changed, nothing to list */
		r->h.flags |= VMT_BPF_F_NOCHANGE;
		r->map_count = mmv(mm)->map_count;
		r->h.ts = bpf_ktime_get_ns();
		r->h.size = VMT_KREC_VMACHG_SIZE(0);
		send(r, VMT_KREC_VMACHG_SIZE(0));
		return;
	}
	call_ranges(r, st, mm);
	if (r->nr == VMT_SYS_MUNMAP && ok && r->range[0][1] > r->range[0][0] &&
	    munmap_send(st, mm, solo))
		return;
	if (r->nr == VMT_SYS_MMAP && ok && r->range[0][1] > r->range[0][0] &&
	    mmap_send(st, mm, solo))
		return;
	/* others in flight (besides us) when our ring position is taken: a
	 * change of theirs may be in our snapshot with its record to come */
	list_send(st, solo, INFLIGHT_CHECKABLE(st) ? CHECK_INFLIGHT : CHECK_NO, 1);
}

/* What the thread sees now of its mm: the entry state of its next syscall
 * when that one's entry is not seen (exit_without_entry). */
static __always_inline void seen_last(struct tstate *st, struct mm_struct *mm)
{
	if (!mm) {
		st->last_ok = 0;
		return;
	}
	st->seq_last = mm_seq(mm);
	st->brk_last = mmv(mm)->brk;
	st->last_ok = 1;
}

/*
 * sys_exit of a syscall whose entry was not seen: sys_enter is attached only
 * while it is needed (a followed process has several threads, lock
 * statistics, --system; forks have entry programs of their own), or the
 * thread entered before it was. Rebuild what the entry would have recorded
 * from what the thread saw at its last exit: in a single-user mm nobody else
 * writes between two syscalls of its only thread but a page fault growing
 * the stack (stack_check lists it) or another process's rare write (then a
 * walk or a FULL list where the entry would have allowed less). Not known
 * (first sight, or other threads): a modelled call is listed by a walk and
 * not count-checked; another call is let go, as a missed entry always was.
 * False: nothing to do for this exit.
 */
static __always_inline bool exit_without_entry(struct tstate *st, struct pt_regs *regs)
{
	struct mm_struct *mm = cur_mm();
	__u32 nr = (__u32)regsv(regs)->orig_ax, seq;
	bool solo, known;
	int cls;

	if (!mm)
		return false;
	solo = mmv(mm)->mm_users.counter <= 1;
	if (st->pend.h.type) /* back in user space and into this call */
		fork_ret_send(st, st->pend.h.ts);
	pend_retry(st, mm, false);
	stack_check(st, mm, solo);
	cls = sys_class(nr);
	known = solo && st->last_ok;
	seq = mm_seq(mm);
	if (cls == SC_NONE || (!known && cls != SC_VMA)) {
		seen_last(st, mm);
		return false;
	}
	st->sc_nr = nr;
	st->flags = TS_IN_SYSCALL | TS_NOENTRY | (solo ? TS_SOLO : 0) |
		    (known ? 0 : TS_SEQ_UNKNOWN);
	st->seq_enter = known ? st->seq_last : seq;
	if (nr == VMT_SYS_BRK) {
		st->brk_before = st->brk_last;
		if (!known)
			st->flags |= TS_BRK_UNKNOWN;
	}
	return true;
}

static __always_inline int on_sys_exit(struct pt_regs *regs, long ret)
{
	struct tstate *st;
	__u32 nr;
	int cls;

	if (!followed(cur_tgid()))
		return 0;
	st = ts_get(!cfg_lock);
	if (!st)
		return 0;
	if (!(st->flags & TS_IN_SYSCALL)) {
		/* with lock statistics sys_enter is always there: a call whose
		 * entry it missed (attach) is not ours to list */
		if (cfg_lock || !exit_without_entry(st, regs))
			return 0;
	}
	if (!cfg_lock && !(st->flags & TS_SOLO) && ENTER_GRACE())
		st->flags |= TS_NOCHECK;
	nr = st->sc_nr;
	cls = sys_class(nr);
	if (cls == SC_VMA) {
		if (nr != VMT_SYS_PRCTL || regsv(regs)->di == PR_SET_VMA)
			vma_call_exit(st, regs, ret);
	} else if (cls == SC_FORK) {
		struct vmt_krec_fork_ret *fr = &st->pend;
		hdr_fill(&fr->h, VMT_KREC_FORK_RET, sizeof(*fr), 0, bpf_ktime_get_ns(),
			 (__u64)cur_mm());
		fr->t_enter = st->sc_enter;
		fr->t_resume = 0;
		fr->ret = ret;
		fr->clone_flags = st->clone_flags;
		fr->nr = nr;
		fr->pad = 0;
		if (fr->clone_flags & CLONE_THREAD_)
			fr->h.flags |= VMT_BPF_F_THREAD;
		if (fr->clone_flags & CLONE_VFORK_)
			fr->h.flags |= VMT_BPF_F_VFORK;
		if (ret > 0) {
			/* wait: did the parent get back to user space now? */
			st->fork_regs = (__u64)regs;
			st->fork_ip = BPF_CORE_READ(regs, ip);
			st->fork_sp = BPF_CORE_READ(regs, sp);
			st->fork_out = 0;
			__sync_fetch_and_add(&forks_pending, 1);
		} else {
			fork_ret_send(st, fr->h.ts);
		}
	} else if (cfg_vma && nr != VMT_SYS_EXECVE && nr != VMT_SYS_EXECVEAT) {
		/* a call vmatop does not model may have changed the VMA tree
		 * (io_setup, a driver's mmap-like ioctl, ...): list it all */
		struct mm_struct *mm = cur_mm();
		bool solo = st->flags & TS_SOLO, wrote;

		if (cfg_lock)
			wrote = st->flags & TS_WROTE;
		else
			wrote = (solo || cls == SC_MAYWRITE) && mm && seq_moved(st, mm_seq(mm));
		if (wrote && mm) {
			struct scratch *s = scratch_get();
			if (s) {
				prep_rec(s, VMT_BPF_F_FULL | VMT_BPF_F_UNKNOWN |
						    (solo ? VMT_BPF_F_SOLO : 0),
					 mm);
				s->rec.ret = ret;
				s->rec.nr = nr;
				list_send(st, solo,
					  INFLIGHT_CHECKABLE(st) ? CHECK_INFLIGHT : CHECK_NO, 1);
			}
		}
	}
	if (st->flags & TS_COUNTED) {
		struct mm_struct *mm = cur_mm();
		if (mm)
			inflight_add((__u64)mm, -1);
	}
	st->flags = 0;
	seen_last(st, cur_mm());
	return 0;
}

/* ---- mmap_lock (lock statistics only) -------------------------------------- */

static __always_inline struct vmt_bpf_lockstat *lockstat_get(struct tstate *st)
{
	struct vmt_bpf_lockstat *ls;
	__u32 idx;

	if (st->slot == ~0u)
		return NULL;
	if (!st->slot) {
		__u64 id = bpf_get_current_pid_tgid();
		idx = __sync_fetch_and_add(&lock_slots_used, 1);
		if (idx >= LOCK_SLOTS) {
			st->slot = ~0u;
			count(VMT_BPF_C_STATS_FULL);
			return NULL;
		}
		ls = bpf_map_lookup_elem(&lock_stats, &idx);
		if (!ls)
			return NULL;
		ls->tgid = id >> 32;
		ls->tid = (__u32)id;
		bpf_get_current_comm(ls->comm, sizeof(ls->comm));
		st->slot = idx + 1;
		return ls;
	}
	idx = st->slot - 1;
	return bpf_map_lookup_elem(&lock_stats, &idx);
}

static __always_inline void hold_end(struct tstate *st, struct vmt_bpf_lockstat *ls, int w,
				     __u64 now)
{
	__u64 h;

	if (!st->hold_start[w & 1])
		return;
	h = now - st->hold_start[w & 1];
	st->hold_start[w & 1] = 0;
	if (!ls)
		return;
	ls->hold_total[w & 1] += h;
	if (h > ls->hold_max[w & 1])
		ls->hold_max[w & 1] = h;
	ls->hold_hist[w & 1][log2_bucket(h) & (VMT_BPF_HIST - 1)]++;
}

/* The mm's own threads holding its mmap_lock (mmstate.holders): every
 * acquisition counts, trylocks too (a page fault's read trylock holds the
 * lock as much as any), but a downgrade (a read "acquisition" while the
 * write seqcount is still open) is the same hold going on; a multi-user
 * mm only (a single-user mm's waiter can only be waiting for another
 * process). */
static __always_inline void hold_count(struct tstate *st, struct mm_struct *mm, bool acquired)
{
	struct mmstate *c;

	if (acquired) {
		if (st->own_depth++ || mmv(mm)->mm_users.counter <= 1 ||
		    /* an exiting thread's last hold (exit_mm: released
		     * after current->mm is gone, a release the programs do
		     * not count) */
		    (bpf_get_current_task_btf()->flags & 0x4 /* PF_EXITING */))
			return;
		c = mmstate_get((__u64)mm, true);
		if (c) {
			__sync_fetch_and_add(&c->holders, 1);
			st->held_counted = 1;
		}
		return;
	}
	if (!st->own_depth || --st->own_depth)
		return;
	if (st->held_counted) {
		c = mmstate_get((__u64)mm, false);
		if (c)
			__sync_fetch_and_add(&c->holders, -1);
		st->held_counted = 0;
	}
}

/* The write hold of this thread on its own mm ends (unlock or downgrade). */
static __always_inline void write_end(struct tstate *st, __u64 now)
{
	st->holding_write = 0;
	if (!(st->flags & TS_IN_SYSCALL))
		return;
	st->t_write = now;
	if (st->flags & TS_FORKING)
		st->fork_lock_rel = now;
}

static __always_inline int on_lock_start(struct mm_struct *mm, bool write)
{
	struct tstate *st;

	if (!followed(cur_tgid()) || mm != cur_mm())
		return 0;
	st = ts_get(true);
	if (!st)
		return 0;
	st->wait_start = bpf_ktime_get_ns();
	st->wait_write = write;
	st->contended = 0;
	return 0;
}

static __always_inline int on_lock_acquired(void *ctx, struct mm_struct *mm, bool write,
					    bool success)
{
	struct vmt_bpf_lockstat *ls;
	struct tstate *st;
	__u64 now, wait;
	int w = write ? 1 : 0;

	if (!followed(cur_tgid()) || mm != cur_mm())
		return 0;
	st = ts_get(true);
	if (!st)
		return 0;
	now = bpf_ktime_get_ns();
	ls = lockstat_get(st);
	if (success && (write || !(mm_seq(mm) & 1)))
		hold_count(st, mm, true); /* not a downgrade: a new hold */
	if (!write && !st->wait_start && st->holding_write) {
		/* mmap_write_downgrade(): the write hold ends, a read hold
		 * starts without a wait */
		hold_end(st, ls, 1, now);
		write_end(st, now);
		if (st->read_depth++ == 0)
			st->hold_start[0] = now;
		return 0;
	}
	if (!st->wait_start)
		return 0; /* the start was before we attached */
	wait = now - st->wait_start;
	if (ls) {
		if (!success) {
			ls->failed[w]++;
		} else {
			ls->acquisitions[w]++;
			ls->wait_total[w] += wait;
			if (wait > ls->wait_max[w])
				ls->wait_max[w] = wait;
			ls->wait_hist[w][log2_bucket(wait) & (VMT_BPF_HIST - 1)]++;
		}
	}
	if (success) {
		if (w) {
			st->hold_start[1] = now;
			st->holding_write = 1;
			if ((st->flags & (TS_IN_SYSCALL | TS_WROTE)) == TS_IN_SYSCALL) {
				/* a change of this call is in the mm from now
				 * until its record is sent */
				st->flags |= TS_WROTE;
				if (!(st->flags & (TS_SOLO | TS_FORKING)) && cfg_vma &&
				    inflight_add((__u64)mm, 1) >= 0)
					st->flags |= TS_COUNTED;
			}
			if ((st->flags & TS_FORKING) && !st->fork_lock_acq) {
				st->fork_lock_start = st->wait_start;
				st->fork_lock_acq = now;
			}
		} else if (st->read_depth++ == 0) {
			st->hold_start[0] = now;
		}
	}
	if (wait >= cfg_lock_threshold_ns) {
		struct scratch *s = scratch_get();
		__u32 fl = (w ? VMT_BPF_F_WRITE : 0) | (st->contended ? VMT_BPF_F_CONTENDED : 0) |
			   (success ? 0 : VMT_BPF_F_LOCK_FAILED);
		if (s) {
			struct vmt_krec_lockwait *lw = &s->lw;
			long got;
			__u64 n;
			hdr_fill(&lw->h, VMT_KREC_LOCK_WAIT, 0, fl, now, (__u64)mm);
			lw->wait_ns = wait;
			lw->pad = 0;
			got = bpf_get_stack(ctx, lw->ips, sizeof(lw->ips), BPF_F_USER_STACK);
			n = got > 0 ? (__u64)got / 8 : 0;
			if (n > VMT_BPF_STACK_DEPTH)
				n = VMT_BPF_STACK_DEPTH;
			lw->nframes = n;
			lw->h.size = sizeof(*lw) - (VMT_BPF_STACK_DEPTH - n) * 8;
			send(lw, sizeof(*lw) - (VMT_BPF_STACK_DEPTH - n) * 8);
		}
	}
	st->wait_start = 0;
	st->contended = 0;
	return 0;
}

static __always_inline int on_lock_released(struct mm_struct *mm, bool write)
{
	struct vmt_bpf_lockstat *ls;
	struct tstate *st;
	__u64 now;

	if (!followed(cur_tgid()) || mm != cur_mm())
		return 0;
	st = ts_get(false);
	if (!st)
		return 0;
	now = bpf_ktime_get_ns();
	ls = lockstat_get(st);
	if (write) {
		hold_end(st, ls, 1, now);
		write_end(st, now);
	} else if (st->read_depth) {
		if (--st->read_depth == 0)
			hold_end(st, ls, 0, now);
	}
	hold_count(st, mm, false);
	return 0;
}

#define LCB_F_READ_ (1U << 1)
#define LCB_F_WRITE_ (1U << 2)

static __always_inline int on_contention_begin(void *lock, __u32 flags)
{
	struct mm_struct *mm;
	struct tstate *st;

	if (!followed(cur_tgid()))
		return 0;
	mm = cur_mm();
	/* perf lock contention's check: is it this mm's mmap_lock? */
	if (!mm || lock != (void *)&mm->mmap_lock)
		return 0;
	st = ts_get(false);
	if (!st)
		return 0;
	st->contended = 1;
	st->contend_start = bpf_ktime_get_ns();
	st->contend_write = (flags & LCB_F_WRITE_) ? 1 : 0;
	/* Waiting for another process? A single thread can wait for nothing
	 * else. With threads: only when none of them holds it (the mm's
	 * holders count) and the rwsem's owner (the writer, or the last reader
	 * to take it; it also covers the moments the count cannot see,
	 * between taking the lock and acquire_returned, between released and
	 * the unlock) is a task of another process. In doubt: not. */
	if (bpf_get_current_task_btf()->signal->nr_threads <= 1) {
		st->contend_other = 1;
	} else {
		struct mmstate *c = mmstate_get((__u64)mm, false);
		__u64 owner = mmv(mm)->mmap_lock.owner.counter & ~7UL;
		st->contend_other = 0;
		if ((!c || c->holders <= 0) && owner > 4096) {
			struct task_struct *t = bpf_rdonly_cast(
				(void *)owner, bpf_core_type_id_kernel(struct task_struct));
			st->contend_other = t->tgid != cur_tgid();
		}
	}
	return 0;
}

static __always_inline int on_contention_end(void *lock, int ret)
{
	struct vmt_bpf_lockstat *ls;
	struct mm_struct *mm;
	struct tstate *st;
	__u32 w;

	if (!followed(cur_tgid()))
		return 0;
	mm = cur_mm();
	if (!mm || lock != (void *)&mm->mmap_lock)
		return 0;
	st = ts_get(false);
	if (!st || !st->contend_start)
		return 0;
	ls = lockstat_get(st);
	w = st->contend_write & 1;
	if (ls) {
		ls->contended[w]++;
		ls->contended_ns[w] += bpf_ktime_get_ns() - st->contend_start;
		if (st->contend_other)
			ls->contended_other[w]++;
	}
	st->contend_start = 0;
	return 0;
}

/* ---- process life cycle ------------------------------------------------------ */

/* child_btf: the child as a trusted pointer (tp_btf; NULL with raw_tp) */
/* tgid has several threads now / is down to one (exit, exec). */
static __always_inline void mt_mark(__u32 tgid)
{
	__u8 one = 1;
	if (!bpf_map_update_elem(&mt_tgids, &tgid, &one, BPF_NOEXIST))
		__sync_fetch_and_add(&mt_followed, 1);
}
static __always_inline void mt_unmark(__u32 tgid)
{
	if (!bpf_map_delete_elem(&mt_tgids, &tgid))
		__sync_fetch_and_add(&mt_followed, -1);
}

static __always_inline int on_fork(struct task_struct *parent, struct task_struct *child,
				   struct task_struct *child_btf)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	struct mm_struct *pmm, *cmm;
	struct vmt_krec_fork f = {};
	struct tstate *st;
	bool list_child;

	if (!followed(ptgid))
		return 0;
	if (!cfg_system && ctgid != ptgid)
		follow_set(ctgid, true);
	pmm = BPF_CORE_READ(parent, mm);
	cmm = BPF_CORE_READ(child, mm);
	if (cmm && cmm != pmm) {
		/* a new mm: no state of an old one at the same address */
		__u64 k = (__u64)cmm;
		bpf_map_delete_elem(&mm_inflight, &k);
	}
	hdr_fill(&f.h, VMT_KREC_FORK, sizeof(f), 0, bpf_ktime_get_ns(), (__u64)pmm);
	f.child_pid = BPF_CORE_READ(child, pid);
	f.child_tgid = ctgid;
	f.child_mm = (__u64)cmm;
	f.parent_map_count = pmm ? mmv(pmm)->map_count : 0;
	f.child_map_count = cmm ? mmv(cmm)->map_count : 0;
	st = ts_get(false);
	if (st && (st->flags & TS_FORKING)) {
		f.t_enter = st->sc_enter;
		f.clone_flags = st->clone_flags;
		f.nr = st->sc_nr;
		f.lock_start = st->fork_lock_start;
		f.lock_acquired = st->fork_lock_acq;
		f.lock_released = st->fork_lock_rel;
		f.dup_start = st->dup_start;
		f.dup_end = st->dup_end;
		if (st->flags & TS_SOLO)
			f.h.flags |= VMT_BPF_F_SOLO;
	}
	if (child_btf && st) {
		/* the child's stack is where the parent's mirror has it */
		struct tstate *cs = bpf_task_storage_get(&tstate, child_btf, 0,
							 BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (cs) {
			cs->stack_vm = st->stack_vm;
			cs->seen = st->seen;
			seen_last(cs, cmm); /* the child's first syscall may have no entry */
		}
	}
	if (ctgid == ptgid) {
		f.h.flags |= VMT_BPF_F_THREAD;
		mt_mark(ptgid);
	}
	if (cmm == pmm)
		f.h.flags |= VMT_BPF_F_SHARED_MM;
	if (f.clone_flags & CLONE_VFORK_)
		f.h.flags |= VMT_BPF_F_VFORK;
	/* A copy of the parent's mirror is exact only if no other thread's
	 * record of a change before the copy can still be on its way: with
	 * other users of the parent's mm, list the child's new mm instead
	 * (nobody can change it before the child runs). */
	list_child = cfg_vma && cmm && pmm && cmm != pmm && ctgid != ptgid &&
		     mmv(pmm)->mm_users.counter > 1;
	if (list_child)
		f.h.flags |= VMT_BPF_F_LISTED;
	send(&f, sizeof(f));
	if (list_child) {
		struct scratch *s = scratch_get();
		if (s) {
			prep_rec(s, VMT_BPF_F_FULL | VMT_BPF_F_CHILD | VMT_BPF_F_SOLO, cmm);
			s->rec.h.tgid = ctgid;
			s->rec.h.tid = f.child_pid;
			vmt_walk_send(0, CHECK_YES, 0, 0);
		}
	}
	return 0;
}

static __always_inline int on_exec(struct task_struct *p, __u32 old_pid, struct linux_binprm *bprm)
{
	struct vmt_krec_exec e = {};
	struct mm_struct *mm;
	struct scratch *s;
	const char *fn;

	if (!followed(BPF_CORE_READ(p, tgid)))
		return 0;
	mt_unmark(BPF_CORE_READ(p, tgid)); /* exec left one thread */
	mm = BPF_CORE_READ(p, mm);
	if (mm) {
		/* a new mm: no state of an old one at the same address */
		__u64 k = (__u64)mm;
		bpf_map_delete_elem(&mm_inflight, &k);
	}
	hdr_fill(&e.h, VMT_KREC_EXEC, sizeof(e), 0, bpf_ktime_get_ns(), (__u64)mm);
	e.old_pid = old_pid;
	e.map_count = mm ? mmv(mm)->map_count : 0;
	{
		/* the thread's statistics go on under its new name */
		struct tstate *st = ts_get(false);
		if (st && st->slot && st->slot != ~0u) {
			__u32 idx = st->slot - 1;
			struct vmt_bpf_lockstat *ls = bpf_map_lookup_elem(&lock_stats, &idx);
			if (ls)
				bpf_get_current_comm(ls->comm, sizeof(ls->comm));
		}
		if (st && mm)
			st->stack_vm = mmv(mm)->stack_vm; /* listed below */
		if (st)
			seen_last(st, mm);
		if (st) {
			/* exec took the old mm's lock for reading and lets it
			 * go once current->mm is the new one (a release the
			 * programs do not count: not the thread's own mm any
			 * more): the thread holds nothing now. (A holders
			 * count of the old mm dies with it.) */
			st->held_counted = 0;
			st->own_depth = 0;
			st->plist_on = 0; /* ranges of the old mm */
			st->plist_counted = 0;
			st->read_depth = 0;
			st->holding_write = 0;
			st->hold_start[0] = st->hold_start[1] = 0;
			st->wait_start = 0;
		}
	}
	fn = BPF_CORE_READ(bprm, filename);
	bpf_probe_read_kernel_str(e.filename, sizeof(e.filename), fn);
	send(&e, sizeof(e));
	if (!cfg_vma || !mm)
		return 0;
	s = scratch_get();
	if (!s)
		return 0;
	prep_rec(s, VMT_BPF_F_FULL | VMT_BPF_F_EXEC | VMT_BPF_F_SOLO, mm);
	s->rec.nr = VMT_SYS_EXECVE;
	vmt_walk_send(1, CHECK_YES, 0, 0);
	return 0;
}

static __always_inline int on_exit(struct task_struct *p, bool group_dead)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct vmt_krec_exit x = {};
	__u64 mm;

	if (!followed(tgid))
		return 0;
	mm = (__u64)BPF_CORE_READ(p, mm);
	{
		struct tstate *st = ts_get(false);
		if (st && st->pend.h.type)
			fork_ret_send(st, st->pend.h.ts);
		if (st && mm && cfg_vma)
			pend_retry(st, (struct mm_struct *)mm, true);
	}
	hdr_fill(&x.h, VMT_KREC_EXIT, sizeof(x), group_dead ? VMT_BPF_F_GROUP_DEAD : 0,
		 bpf_ktime_get_ns(), mm);
	x.exit_code = BPF_CORE_READ(p, exit_code);
	bpf_get_current_comm(x.comm, sizeof(x.comm));
	send(&x, sizeof(x));
	if (group_dead) {
		if (mm)
			bpf_map_delete_elem(&mm_inflight, &mm);
		bpf_map_delete_elem(&fresh, &tgid);
		mt_unmark(tgid);
		if (!cfg_system)
			follow_set(tgid, false);
	}
	return 0;
}

/*
 * sched_switch, while a FORK_RET is pending: if the parent is switched out
 * with its user registers still where sys_exit left them, it has not run in
 * user space yet (typically: the child runs first on this CPU); it resumes
 * when it is switched in again. tp_btf only (task storage of other tasks);
 * with raw_tp, t_resume is the syscall exit.
 */
SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct tstate *st;
	__u64 now;

	if (forks_pending <= 0)
		return 0;
	now = bpf_ktime_get_ns();
	st = bpf_task_storage_get(&tstate, prev, 0, 0);
	if (st && st->pend.h.type && !st->fork_out) {
		struct pt_regs *regs = (void *)st->fork_regs;
		if (BPF_CORE_READ(regs, ip) == st->fork_ip && BPF_CORE_READ(regs, sp) == st->fork_sp)
			st->fork_out = now;
		else
			fork_ret_send(st, st->pend.h.ts); /* it ran in user space first */
	}
	st = bpf_task_storage_get(&tstate, next, 0, 0);
	if (st && st->pend.h.type && st->fork_out)
		fork_ret_send(st, now);
	return 0;
}

/* ---- attachment: tp_btf (preferred) and raw_tp twins ------------------------- */

#define TWIN(tp, body, ...)                                         \
	SEC("tp_btf/" #tp)                                          \
	int BPF_PROG(tp##_btf, __VA_ARGS__) { return body; }        \
	SEC("raw_tp/" #tp)                                          \
	int BPF_PROG(tp##_raw, __VA_ARGS__) { return body; }

TWIN(sys_enter, on_sys_enter(regsv(regs)->di, id, true), struct pt_regs *regs, long id)

/* The clone family's entries on their per-syscall tracepoints (classic
 * tracepoints: attached through perf, tracefs needed; layout of
 * the format file of events/syscalls/sys_enter_clone). */
struct sys_enter_args {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 args[6];
};
SEC("tp/syscalls/sys_enter_clone")
int fork_enter_clone(struct sys_enter_args *c) { return on_sys_enter(c->args[0], c->nr, false); }
SEC("tp/syscalls/sys_enter_clone3")
int fork_enter_clone3(struct sys_enter_args *c) { return on_sys_enter(c->args[0], c->nr, false); }
SEC("tp/syscalls/sys_enter_fork")
int fork_enter_fork(struct sys_enter_args *c) { return on_sys_enter(0, c->nr, false); }
SEC("tp/syscalls/sys_enter_vfork")
int fork_enter_vfork(struct sys_enter_args *c) { return on_sys_enter(0, c->nr, false); }
TWIN(sys_exit, on_sys_exit(regs, ret), struct pt_regs *regs, long ret)
SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork_btf, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(parent, child, child);
}
SEC("raw_tp/sched_process_fork")
int BPF_PROG(sched_process_fork_raw, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(parent, child, NULL);
}
TWIN(sched_process_exec, on_exec(p, old_pid, bprm), struct task_struct *p, pid_t old_pid,
     struct linux_binprm *bprm)
TWIN(sched_process_exit, on_exit(p, group_dead), struct task_struct *p, bool group_dead)
TWIN(mmap_lock_start_locking, on_lock_start(mm, write), struct mm_struct *mm, bool write)
TWIN(mmap_lock_acquire_returned, on_lock_acquired(ctx, mm, write, success),
     struct mm_struct *mm, bool write, bool success)
TWIN(mmap_lock_released, on_lock_released(mm, write), struct mm_struct *mm, bool write)
TWIN(contention_begin, on_contention_begin(lock, flags), void *lock, unsigned int flags)
TWIN(contention_end, on_contention_end(lock, ret), void *lock, int ret)
