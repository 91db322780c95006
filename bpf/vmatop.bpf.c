// SPDX-License-Identifier: GPL-2.0
/*
 * vmatop.bpf.c - the kernel half of vmatop's BPF mode (libbpf CO-RE).
 *
 * Owns: the set of followed processes (map "follow", tgid -> 1, grown on
 * sched_process_fork, shrunk when a process dies; or every process with
 * cfg_system), per-thread state in task storage, the per-thread mmap_lock
 * statistics (map "lock_stats"), and the records sent through the ring buffer
 * "events" (layouts in include/vmatop/records.h).
 *
 * Only tracepoints are used, as BTF tracepoints (tp_btf/, no tracefs needed)
 * with raw tracepoint twins (raw_tp/) that the loader switches to when tp_btf
 * does not load; no kprobes, no fentry (see vmatop_fentry.bpf.c, optional):
 *
 *   raw_syscalls:sys_enter/sys_exit   address-space calls, fork timing
 *   sched:sched_process_fork/exec/exit   process life cycle, follow set
 *   mmap_lock:mmap_lock_{start_locking,acquire_returned,released}
 *                                     waits, holds, the fork copy window,
 *                                     "this call changed the VMA tree"
 *   lock:contention_begin/end          contended mmap_lock acquisitions
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
 *    followed thread (even failed ones); it lists every VMA overlapping its
 *    ranges after the call, so a mirror that applies the records in ring
 *    order converges on the kernel's VMA tree (snapshot rule in include/vmatop/records.h);
 *  - a call that did not release mmap_lock held for writing on its own mm
 *    changed no VMA: its record is NOCHANGE and lists nothing;
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

/* ---- maps -------------------------------------------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);   /* tgid */
	__type(value, __u32); /* 1 */
} follow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

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
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 4096);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, VMT_BPF_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VMT_BPF_C_NR);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

#include "tstate.h"

/* FORK_RETs pending in any thread: sched_switch does nothing while 0 */
__s64 forks_pending = 0;

enum {
	TS_IN_SYSCALL = 1u << 0,
	TS_WROTE = 1u << 1, /* released/downgraded the write lock in this call */
	TS_FORKING = 1u << 2,
	TS_SOLO = 1u << 3, /* the mm had one user at the write: no MARK sent */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tstate);
} tstate SEC(".maps");

/* Per-CPU scratch: the maple node being read and the record being built. */
struct scratch {
	__u64 node[32]; /* one maple node (struct maple_node is 256 bytes) */
	struct vmt_krec_vmachg rec;
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
	if (cfg_system)
		return tgid != cfg_self_tgid && tgid != 0;
	return bpf_map_lookup_elem(&follow, &tgid) != NULL;
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
 * timeout; wake them only once a batch is waiting. */
#define WAKEUP_BYTES (256 << 10)

static __always_inline void send(void *rec, __u64 size)
{
	__u64 fl = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= WAKEUP_BYTES ?
			   BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&events, rec, size, fl))
		count(VMT_BPF_C_DROPPED);
	else
		count(VMT_BPF_C_EVENTS);
}

/* mm->mm_lock_seq.sequence, or 0 on kernels without it (no validation). */
/* mm as a read-only BTF pointer: its fields are plain loads */
static __always_inline struct mm_struct *mmv(const void *mm)
{
	return bpf_rdonly_cast(mm, bpf_core_type_id_kernel(struct mm_struct));
}

static __always_inline __u32 mm_seq(struct mm_struct *mm)
{
	if (bpf_core_field_exists(mm->mm_lock_seq.sequence))
		return mmv(mm)->mm_lock_seq.sequence;
	return 0;
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

/*
 * The walk state. The node is kept as 32 words in the scratch map; the
 * layouts (pivots from word 1; slots from word 16 in range/leaf nodes, 10 in
 * arange nodes; the metadata's "end" byte) come from the kernel's BTF.
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
	__u32 validate, wr_seq;
	__u32 part, base_flags;
};

#define W_PIVOT(n, j) ((n)[(1 + (j)) & 31])

static __always_inline __u32 w_slot_base(__u32 type)
{
	if (type == MT_ARANGE)
		return bpf_core_field_offset(struct maple_arange_64, slot) / 8;
	return bpf_core_field_offset(struct maple_range_64, slot) / 8;
}

/* Walk from the root down to the leaf holding w->addr; the leaf stays in
 * scratch->node. 0, or -1 for an empty tree or a malformed node. */
__noinline int vmt_descend(struct walk *w)
{
	struct scratch *s = scratch_get();
	__u64 enode, min = 0, max = ~0UL;
	__u64 *n;

	if (!w || !s)
		return -1;
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

static __always_inline void add_vma(struct scratch *s, __u64 vp)
{
	struct vmt_krec_vmachg *r = &s->rec;
	struct vm_area_struct *v = (void *)vp;
	struct vmt_krec_vma *o;
	struct file *f;
	__u32 n = r->nr_vmas;

	o = &r->vmas[n & (VMT_BPF_MAX_VMAS - 1)];
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
	r->nr_vmas = n + 1;
}

/* One slot of the current leaf per call; moves on to range[1] when
 * range[0] is done; stops (full) when the record has no room left, with
 * w->addr on the slot not taken, for the next part. */
static long walk_step(__u32 i, void *ctx)
{
	struct walk *w = ctx;
	struct scratch *s = scratch_get();
	__u64 entry, emin, emax, limit;
	__u64 *n;
	__u32 off, ri = w->ri & 1;

	if (!s)
		return 1;
	n = s->node;
	limit = w->range[ri][1];
	if (w->need_descend) {
		if (w->range[ri][1] <= w->range[ri][0] || w->addr >= limit)
			goto next_range;
		if (vmt_descend(w)) {
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
__noinline int vmt_walk_part(struct walk *w)
{
	struct walk local; /* bpf_loop wants its context on our stack */

	if (!w)
		return 0;
	__builtin_memcpy(&local, w, sizeof(local));
	bpf_loop(4 * VMT_BPF_MAX_VMAS + 64, walk_step, &local, 0);
	__builtin_memcpy(w, &local, sizeof(local));
	return 0;
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
	struct walk *w = ctx;
	struct scratch *s = scratch_get();
	struct vmt_krec_vmachg *r;
	struct mm_struct *mm = (void *)w->mm;
	__u32 start_ri = w->ri, seq0 = 0, seq1 = 0, n, fl;
	__u64 start_addr = w->addr;
	bool stable = false, has_seq = mm_has_seq(mm);

	if (!s)
		return 1;
	r = &s->rec;
	for (int attempt = 0; attempt < 3; attempt++) {
		w->ri = start_ri;
		w->addr = start_addr;
		w->need_descend = 1;
		w->done = w->err = w->full = 0;
		r->nr_vmas = 0;
		if (w->validate && has_seq)
			seq0 = seq_wait_even(w->mm);
		w->root = (__u64)mmv(mm)->mm_mt.ma_root;
		r->map_count = mmv(mm)->map_count;
		vmt_walk_part(w);
		if (!w->validate || !has_seq) {
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
	if (w->validate && has_seq && w->wr_seq && seq1 != w->wr_seq + 1) {
		fl |= VMT_BPF_F_RACED;
		count(VMT_BPF_C_RACED);
	}
	r->h.flags = fl;
	r->lock_seq = w->validate ? seq1 : mm_seq(mm);
	r->wr_seq = w->wr_seq;
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
 * Send the record prepared in scratch->rec (header with the mm, call fields,
 * ranges, FULL flag), listing every VMA overlapping its ranges, in as many
 * parts as needed. validate: the caller does not hold mmap_lock - make each
 * part consistent with mm_lock_seq, retrying a torn one. wr_seq: the seq
 * this call wrote under (0: none).
 */
__noinline int vmt_walk_send(__u32 validate, __u32 wr_seq)
{
	struct scratch *s = scratch_get();
	struct vmt_krec_vmachg *r;
	struct walk w = {};

	if (!s)
		return 0;
	r = &s->rec;
	w.mm = r->h.mm; /* set by prep_rec() */
	w.validate = validate;
	w.wr_seq = wr_seq;
	w.base_flags = r->h.flags;
	if (w.base_flags & VMT_BPF_F_FULL) {
		w.range[0][0] = 0;
		w.range[0][1] = ~0UL;
	} else {
		w.range[0][0] = r->range[0][0];
		w.range[0][1] = r->range[0][1];
		w.range[1][0] = r->range[1][0];
		w.range[1][1] = r->range[1][1];
	}
	w.addr = w.range[0][0];
	/* most calls list a handful of VMAs: one part, no loop */
	if (part_step(0, &w) == 0)
		bpf_loop(cfg_max_parts - 1, part_step, &w, 0);
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

enum sys_class { SC_NONE, SC_VMA, SC_FORK };

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

static __always_inline int on_sys_enter(struct pt_regs *regs, long id)
{
	struct tstate *st;
	int cls;

	if (!followed(cur_tgid()))
		return 0;
	st = ts_get(true);
	if (!st)
		return 0;
	if (st->pend.h.type) /* back in user space and into the next call */
		fork_ret_send(st, st->fork_out ? bpf_ktime_get_ns() : st->pend.h.ts);
	st->sc_nr = id;
	st->flags = TS_IN_SYSCALL;
	st->t_write = 0;
	cls = sys_class(id);
	if (cls == SC_NONE)
		return 0;
	{
		/* r10 .. di are contiguous in x86-64 pt_regs: one read */
		__u64 w[8] = {};
		__u32 base = bpf_core_field_offset(struct pt_regs, r10);
#define REGW(f) w[((bpf_core_field_offset(struct pt_regs, f) - base) / 8) & 7]
		bpf_probe_read_kernel(w, sizeof(w), (void *)regs + base);
		st->args[0] = REGW(di);
		if (id == VMT_SYS_PRCTL && st->args[0] != PR_SET_VMA)
			return 0;
		st->args[1] = REGW(si);
		st->args[2] = REGW(dx);
		st->args[3] = REGW(r10);
		st->args[4] = REGW(r8);
		st->args[5] = REGW(r9);
#undef REGW
	}
	st->sc_enter = bpf_ktime_get_ns();
	if (id == VMT_SYS_BRK) {
		struct mm_struct *mm = cur_mm();
		st->brk_before = mmv(mm)->brk;
	}
	if (cls == SC_FORK) {
		__u64 fl = 0;
		if (id == VMT_SYS_CLONE)
			fl = st->args[0];
		else if (id == VMT_SYS_CLONE3)
			bpf_probe_read_user(&fl, sizeof(fl), (void *)st->args[0]);
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

/* The ranges whose VMAs a call may have changed; FULL for the calls whose
 * effect cannot be bounded from their arguments. */
static __always_inline void call_ranges(struct vmt_krec_vmachg *r, struct tstate *st,
					struct mm_struct *mm)
{
	__u64 *a = st->args;
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

static __always_inline void vma_call_exit(struct tstate *st, long ret)
{
	struct mm_struct *mm = cur_mm();
	struct vmt_krec_vmachg *r;
	struct scratch *s;

	if (!cfg_vma || !mm)
		return;
	s = scratch_get();
	if (!s)
		return;
	prep_rec(s, 0, mm);
	r = &s->rec;
	r->t_enter = st->sc_enter;
	r->t_write = st->t_write;
	for (int i = 0; i < 6; i++)
		r->args[i] = st->args[i];
	r->ret = ret;
	r->nr = st->sc_nr;
	if (ret < 0 && ret >= -4095)
		r->h.flags |= VMT_BPF_F_FAILED;
	if (st->flags & TS_SOLO)
		r->h.flags |= VMT_BPF_F_SOLO;
	if (!(st->flags & TS_WROTE)) {
		/* never write-locked: nothing changed, nothing to list */
		r->h.flags |= VMT_BPF_F_NOCHANGE;
		r->map_count = mmv(mm)->map_count;
		r->h.ts = bpf_ktime_get_ns();
		r->h.size = VMT_KREC_VMACHG_SIZE(0);
		send(r, VMT_KREC_VMACHG_SIZE(0));
		return;
	}
	call_ranges(r, st, mm);
	vmt_walk_send(1, st->wr_seq);
}

static __always_inline int on_sys_exit(struct pt_regs *regs, long ret)
{
	struct tstate *st;
	__u32 nr;
	int cls;

	if (!followed(cur_tgid()))
		return 0;
	st = ts_get(false);
	if (!st || !(st->flags & TS_IN_SYSCALL))
		return 0;
	nr = st->sc_nr;
	cls = sys_class(nr);
	if (cls == SC_VMA && !(nr == VMT_SYS_PRCTL && st->args[0] != PR_SET_VMA)) {
		vma_call_exit(st, ret);
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
		if (ret < 0 && st->fork_lock_rel && cfg_vma) {
			/* the copy sent a MARK but no FORK will fill it */
			struct scratch *s = scratch_get();
			if (s) {
				prep_rec(s, VMT_BPF_F_NOCHANGE | VMT_BPF_F_FAILED |
						    (st->flags & TS_SOLO ? VMT_BPF_F_SOLO : 0),
					 cur_mm());
				s->rec.nr = nr;
				s->rec.ret = ret;
				s->rec.wr_seq = st->wr_seq;
				s->rec.h.ts = bpf_ktime_get_ns();
				s->rec.h.size = VMT_KREC_VMACHG_SIZE(0);
				send(&s->rec, VMT_KREC_VMACHG_SIZE(0));
			}
		}
	} else if ((st->flags & TS_WROTE) && cfg_vma && nr != VMT_SYS_EXECVE &&
		   nr != VMT_SYS_EXECVEAT) {
		/* a call vmatop does not model changed the VMA tree
		 * (io_setup, a driver's mmap-like ioctl, ...): list it all */
		struct mm_struct *mm = cur_mm();
		struct scratch *s = scratch_get();
		if (s && mm) {
			prep_rec(s, VMT_BPF_F_FULL | VMT_BPF_F_UNKNOWN |
					    (st->flags & TS_SOLO ? VMT_BPF_F_SOLO : 0),
				 mm);
			s->rec.t_enter = st->sc_enter;
			s->rec.t_write = st->t_write;
			s->rec.ret = ret;
			s->rec.nr = nr;
			vmt_walk_send(1, st->wr_seq);
		}
	}
	st->flags = 0;
	return 0;
}

/* ---- mmap_lock -------------------------------------------------------------- */

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

/* The write hold of this thread on its own mm ends (unlock or downgrade):
 * the VMA tree is final for this change. */
static __always_inline void write_end(struct tstate *st, struct mm_struct *mm, __u64 now)
{
	st->holding_write = 0;
	if (st->flags & TS_IN_SYSCALL) {
		bool exec = st->sc_nr == VMT_SYS_EXECVE || st->sc_nr == VMT_SYS_EXECVEAT;
		st->flags |= TS_WROTE;
		st->t_write = now;
		st->wr_seq = mm_seq(mm);
		if (mmv(mm)->mm_users.counter <= 1) {
			/* nobody else can change this mm before our record:
			 * no MARK needed */
			st->flags |= TS_SOLO;
		} else if (cfg_vma && !exec &&
			   (sys_class(st->sc_nr) != SC_FORK || (st->flags & TS_FORKING))) {
			/* we still hold the lock: the ring order of MARKs is
			 * the order of the changes */
			struct vmt_krec_mark mk;
			hdr_fill(&mk.h, VMT_KREC_MARK, sizeof(mk), 0, now, (__u64)mm);
			mk.seq = st->wr_seq;
			mk.map_count = mmv(mm)->map_count;
			send(&mk, sizeof(mk));
		}
		if (st->flags & TS_FORKING)
			st->fork_lock_rel = now;
		return;
	}
	/* outside a syscall: a page fault that grew the stack (6.5+ upgrades
	 * to the write lock for that). We hold the lock: read it now. */
	if (cfg_vma) {
		struct task_struct *t = (void *)bpf_get_current_task();
		struct scratch *s;
		__u64 stk;

		if (BPF_CORE_READ(t, flags) & 0x4 /* PF_EXITING */)
			return;
		s = scratch_get();
		if (!s)
			return;
		prep_rec(s, VMT_BPF_F_FAULT, mm);
		s->rec.t_write = now;
		stk = mmv(mm)->start_stack;
		s->rec.range[0][0] = stk;
		s->rec.range[0][1] = stk + 1;
		s->rec.lock_seq = mm_seq(mm);
		vmt_walk_send(0, mm_seq(mm));
	}
}

static __always_inline int on_lock_start(struct mm_struct *mm, bool write)
{
	struct tstate *st;

	if (!cfg_lock && !cfg_vma)
		return 0;
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
	struct vmt_bpf_lockstat *ls = NULL;
	struct tstate *st;
	__u64 now, wait;
	int w = write ? 1 : 0;

	if (!followed(cur_tgid()) || mm != cur_mm())
		return 0;
	st = ts_get(true);
	if (!st)
		return 0;
	now = bpf_ktime_get_ns();
	if (cfg_lock)
		ls = lockstat_get(st);
	if (!write && !st->wait_start && st->holding_write) {
		/* mmap_write_downgrade(): the write hold ends, a read hold
		 * starts without a wait */
		hold_end(st, ls, 1, now);
		write_end(st, mm, now);
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
			if ((st->flags & TS_FORKING) && !st->fork_lock_acq) {
				st->fork_lock_start = st->wait_start;
				st->fork_lock_acq = now;
			}
		} else if (st->read_depth++ == 0) {
			st->hold_start[0] = now;
		}
	}
	if (cfg_lock && wait >= cfg_lock_threshold_ns) {
		struct vmt_krec_lockwait lw = {};
		__u32 fl = (w ? VMT_BPF_F_WRITE : 0) | (st->contended ? VMT_BPF_F_CONTENDED : 0) |
			   (success ? 0 : VMT_BPF_F_LOCK_FAILED);
		hdr_fill(&lw.h, VMT_KREC_LOCK_WAIT, sizeof(lw), fl, now, (__u64)mm);
		lw.wait_ns = wait;
		lw.stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
		send(&lw, sizeof(lw));
	}
	st->wait_start = 0;
	st->contended = 0;
	return 0;
}

static __always_inline int on_lock_released(struct mm_struct *mm, bool write)
{
	struct vmt_bpf_lockstat *ls = NULL;
	struct tstate *st;
	__u64 now;

	if (!followed(cur_tgid()) || mm != cur_mm())
		return 0;
	st = ts_get(false);
	if (!st)
		return 0;
	now = bpf_ktime_get_ns();
	if (cfg_lock)
		ls = lockstat_get(st);
	if (write) {
		hold_end(st, ls, 1, now);
		write_end(st, mm, now);
	} else if (st->read_depth) {
		if (--st->read_depth == 0)
			hold_end(st, ls, 0, now);
	}
	return 0;
}

#define LCB_F_READ_ (1U << 1)
#define LCB_F_WRITE_ (1U << 2)

static __always_inline int on_contention_begin(void *lock, __u32 flags)
{
	struct mm_struct *mm;
	struct tstate *st;

	if (!cfg_lock || !followed(cur_tgid()))
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
	return 0;
}

static __always_inline int on_contention_end(void *lock, int ret)
{
	struct vmt_bpf_lockstat *ls;
	struct mm_struct *mm;
	struct tstate *st;
	__u32 w;

	if (!cfg_lock || !followed(cur_tgid()))
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
	}
	st->contend_start = 0;
	return 0;
}

/* ---- process life cycle ------------------------------------------------------ */

static __always_inline int on_fork(struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	struct mm_struct *pmm, *cmm;
	struct vmt_krec_fork f = {};
	struct tstate *st;

	if (!followed(ptgid))
		return 0;
	if (!cfg_system && ctgid != ptgid) {
		__u32 one = 1;
		bpf_map_update_elem(&follow, &ctgid, &one, BPF_ANY);
	}
	pmm = BPF_CORE_READ(parent, mm);
	cmm = BPF_CORE_READ(child, mm);
	hdr_fill(&f.h, VMT_KREC_FORK, sizeof(f), 0, bpf_ktime_get_ns(), (__u64)pmm);
	f.child_pid = BPF_CORE_READ(child, pid);
	f.child_tgid = ctgid;
	f.child_mm = (__u64)cmm;
	f.parent_map_count = pmm ? BPF_CORE_READ(pmm, map_count) : 0;
	f.child_map_count = cmm ? BPF_CORE_READ(cmm, map_count) : 0;
	st = ts_get(false);
	if (st && (st->flags & TS_FORKING)) {
		f.t_enter = st->sc_enter;
		f.clone_flags = st->clone_flags;
		f.nr = st->sc_nr;
		f.lock_start = st->fork_lock_start;
		f.lock_acquired = st->fork_lock_acq;
		f.lock_released = st->fork_lock_rel;
		f.dup_start = st->dup_start;
		f.wr_seq = st->fork_lock_rel ? st->wr_seq : 0;
		if (st->flags & TS_SOLO)
			f.h.flags |= VMT_BPF_F_SOLO;
		f.dup_end = st->dup_end;
	}
	if (ctgid == ptgid)
		f.h.flags |= VMT_BPF_F_THREAD;
	if (cmm == pmm)
		f.h.flags |= VMT_BPF_F_SHARED_MM;
	if (f.clone_flags & CLONE_VFORK_)
		f.h.flags |= VMT_BPF_F_VFORK;
	send(&f, sizeof(f));
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
	mm = BPF_CORE_READ(p, mm);
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
	}
	fn = BPF_CORE_READ(bprm, filename);
	bpf_probe_read_kernel_str(e.filename, sizeof(e.filename), fn);
	send(&e, sizeof(e));
	if (!cfg_vma || !mm)
		return 0;
	s = scratch_get();
	if (!s)
		return 0;
	prep_rec(s, VMT_BPF_F_FULL | VMT_BPF_F_EXEC, mm);
	s->rec.nr = VMT_SYS_EXECVE;
	vmt_walk_send(1, 0);
	return 0;
}

static __always_inline int on_exit(struct task_struct *p, bool group_dead)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct vmt_krec_exit x = {};

	if (!followed(tgid))
		return 0;
	{
		struct tstate *st = ts_get(false);
		if (st && st->pend.h.type)
			fork_ret_send(st, st->pend.h.ts);
	}
	hdr_fill(&x.h, VMT_KREC_EXIT, sizeof(x), group_dead ? VMT_BPF_F_GROUP_DEAD : 0,
		 bpf_ktime_get_ns(), (__u64)BPF_CORE_READ(p, mm));
	x.exit_code = BPF_CORE_READ(p, exit_code);
	bpf_get_current_comm(x.comm, sizeof(x.comm));
	send(&x, sizeof(x));
	if (group_dead && !cfg_system)
		bpf_map_delete_elem(&follow, &tgid);
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

TWIN(sys_enter, on_sys_enter(regs, id), struct pt_regs *regs, long id)
TWIN(sys_exit, on_sys_exit(regs, ret), struct pt_regs *regs, long ret)
TWIN(sched_process_fork, on_fork(parent, child), struct task_struct *parent,
     struct task_struct *child)
TWIN(sched_process_exec, on_exec(p, old_pid, bprm), struct task_struct *p, pid_t old_pid,
     struct linux_binprm *bprm)
TWIN(sched_process_exit, on_exit(p, group_dead), struct task_struct *p, bool group_dead)
TWIN(mmap_lock_start_locking, on_lock_start(mm, write), struct mm_struct *mm, bool write)
TWIN(mmap_lock_acquire_returned, on_lock_acquired(ctx, mm, write, success),
     struct mm_struct *mm, bool write, bool success)
TWIN(mmap_lock_released, on_lock_released(mm, write), struct mm_struct *mm, bool write)
TWIN(contention_begin, on_contention_begin(lock, flags), void *lock, unsigned int flags)
TWIN(contention_end, on_contention_end(lock, ret), void *lock, int ret)
