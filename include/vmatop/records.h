/*
 * records.h - the one record layout shared by preload/ (libvmatop.so),
 * cli/ (vmatop) and bpf/: fixed-size 96-byte records, explicit-width
 * little-endian fields, used both in the shared-memory rings and in trace
 * files (man/vmatop-trace.5 documents the file format; keep them in sync).
 *
 * Owns: struct vmt_rec and its payloads, record types, the trace file
 * header, the shm ring header and the ring protocol (see "Rings" below).
 *
 * Invariants:
 *   - sizeof(struct vmt_rec) == VMT_REC_SIZE; every payload fits in 64 bytes.
 *   - Adding a record type or a payload field in reserved space is a minor
 *     change (readers skip unknown types); changing a layout bumps
 *     VMT_VERSION.
 *   - Strings (paths, commands) are never inline in VMA records: a VMA
 *     names its string by a 64-bit FNV-1a hash, and a VMT_STRING record
 *     (possibly several chunks) gives the text once per trace.
 */
#ifndef VMATOP_RECORDS_H
#define VMATOP_RECORDS_H

#ifndef __bpf__ /* BPF programs get the uint*_t types from vmlinux.h */
#include <stdint.h>
#endif

#define VMT_VERSION 1
#define VMT_REC_SIZE 96
#define VMT_FILE_MAGIC "VMATRACE"	/* 8 bytes, no NUL */
#define VMT_RING_MAGIC 0x474e495254414d56ull /* "VMATRING" */

/* Record types. 1..99: shim; 100..149: collector; 200..255: BPF. */
enum vmt_type {
	VMT_NONE = 0,
	/* process life */
	VMT_PROC_START = 1, /* first record of every ring: p.proc */
	VMT_STRING = 2,	    /* p.str: a chunk of the text for a name hash */
	VMT_MODULE = 3,	    /* p.mod: a loaded ELF object (for symbolization) */
	VMT_STACK = 4,	    /* p.stack: up to 7 return addresses of call cid */
	VMT_EXIT = 5,	    /* p.exit: exit(), _exit() or library destructor */
	VMT_FORK_PRE = 6,   /* p.fork: parent, just before the real fork */
	VMT_FORK = 7,	    /* p.fork: parent, after; dur = fork latency */
	VMT_EXEC = 8,	    /* p.exec: exec attempt (before) */
	VMT_EXEC_FAIL = 9,  /* p.exec: exec returned (failed) */
	VMT_SPAWN = 10,	    /* p.fork: posix_spawn[p]; dur = latency */
	VMT_DLOPEN = 11,    /* p.dl */
	VMT_DLCLOSE = 12,   /* p.dl */
	/* memory calls (p.mem) */
	VMT_MMAP = 20,
	VMT_MUNMAP = 21,
	VMT_MREMAP = 22,
	VMT_MPROTECT = 23,
	VMT_PKEY_MPROTECT = 24,
	VMT_MADVISE = 25,
	VMT_BRK = 26,
	VMT_SBRK = 27,
	VMT_SHMAT = 28,
	VMT_SHMDT = 29,
	VMT_SYSCALL = 30, /* extra = nr: syscall(SYS_mmap...) through glibc's syscall(),
			   * and the VMA-flag calls (mlock*, munlock*, mseal, mbind) */
	VMT_LIBCALL = 31, /* a library call that maps internally (liburing): a0 its name
			   * (string hash), a1.. its first arguments, extra enum vmt_cause */
	VMT_UNMAP_RANGE = 32, /* modelled removal of [a0, a0+a1) seen through a libcall */
	VMT_RING_SKIP = 39,   /* p.skip: ring only (never in a trace): the next record is at
			       * ring position p.skip.to */
	/* VMA lists */
	VMT_VMA = 40,	     /* p.vma: one VMA of the open list cid */
	VMT_LIST_END = 41,   /* p.list: closes list cid: seed/observe/discover/snapshot */
	/* collector (vmatop record) */
	VMT_RING_OPEN = 100,  /* p.ring: a ring was found; its records follow */
	VMT_RING_CLOSE = 101, /* p.ring: ring finished; lost counts */
	VMT_CMD_EXIT = 102,   /* p.exit: the recorded command's exit status */
	VMT_END = 103,	      /* last record of a cleanly finished trace */

	/* ---- BEGIN reserved for BPF event records (bpf/, cli/bpf_*.c) ----
	 * Types 200..255 and struct vmt_bpf_* payloads below belong to the BPF
	 * source. Readers of shim-only traces ignore them. They all travel on
	 * one stream (vmt_bpf_mode.stream); strings on stream 0. hdr.pid/tid
	 * are the kernel's tgid/tid; hdr.flags may carry enum vmt_bpfh_flags.
	 */
	VMT_BPF_MODE = 200,	 /* p.bpf_mode: the BPF source is on (stream 0) */
	VMT_BPF_CALL = 201,	 /* p.bpf_call: an address-space call; ts entry,
				  * dur entry..exit; cid: its list (0: none) */
	VMT_BPF_VMA = 202,	 /* p.vma: one VMA of BPF list cid */
	VMT_BPF_LIST = 203,	 /* p.bpf_list: closes list cid: the kernel's VMAs
				  * after a change (snapshot rule, see below) */
	VMT_BPF_FORK = 204,	 /* p.bpf_fork: a process or thread was created */
	VMT_BPF_FORK_RET = 205,	 /* p.bpf_fork_ret: the fork call returned in the
				  * parent; ts entry, dur entry..resumed */
	VMT_BPF_EXEC = 206,	 /* p.bpf_exec: new image (a FULL list follows) */
	VMT_BPF_EXIT = 207,	 /* p.bpf_exit: a thread (or the process) exited */
	VMT_BPF_LOCK_WAIT = 208, /* p.bpf_lockwait: an mmap_lock wait over the
				  * threshold; VMT_BPF_STACK records (same cid) */
	VMT_BPF_STACK = 209,	 /* p.stack: user stack of lock wait cid */
	VMT_BPF_LOCK_STAT = 210, /* p.bpf_lockstat: totals of thread tid, read or
				  * write (VMT_BPFH_WRITE), at the end; cid: how
				  * many of the contended acquisitions waited for
				  * a holder in another process (/proc readers,
				  * khugepaged...) */
	VMT_BPF_LOCK_HIST = 211, /* p.bpf_hist: 16 buckets of a log2 histogram;
				  * cid = kind << 8 | write << 4 | half */
	VMT_BPF_STATS = 212,	 /* p.bpf_stats: the BPF source's counters (end) */
	VMT_BPF_THREAD = 213,	 /* p.bpf_thread: name of a thread (with stats) */
	/* ---- END reserved for BPF event records ---- */
	VMT_BPF_FIRST = 200,
	VMT_BPF_LAST = 255,
};

/* Which VMA list a VMT_LIST_END closes (p.list.kind). */
enum vmt_list_kind {
	VMT_LIST_SEED = 1,	/* at shim start, from /proc/self/maps */
	VMT_LIST_OBSERVE = 2,	/* the VMAs around an interposed call (PROCMAP_QUERY) */
	VMT_LIST_INDIRECT = 3,	/* VMAs changed inside a libc call (malloc, threads) */
	VMT_LIST_DISCOVER = 4,	/* a rescan found what no call showed */
	VMT_LIST_SNAPSHOT = 5,	/* ground truth from /proc/self/maps: evidence only */
};

/* Where a list was taken (p.list.cause), for reports. */
enum vmt_cause {
	VMT_CAUSE_CALL = 0,
	VMT_CAUSE_INIT = 1,
	VMT_CAUSE_MALLOC = 2,
	VMT_CAUSE_THREAD = 3,
	VMT_CAUSE_DLOPEN = 4,
	VMT_CAUSE_BRK = 5,
	VMT_CAUSE_STACK = 6,
	VMT_CAUSE_EXIT = 7,
	VMT_CAUSE_EXEC = 8,
	VMT_CAUSE_REQUEST = 9,
	VMT_CAUSE_FORK = 10,
	VMT_CAUSE_LOCALE = 11,
	VMT_CAUSE_SHIM = 12, /* the shim's own ring */
	VMT_CAUSE_IO = 13,   /* an I/O library's call that maps rings itself (liburing) */
};

/* VMA flags (p.vma.vflags). Low 4 bits match /proc/PID/maps rwx and s/p. */
enum vmt_vflags {
	VMT_VMA_READ = 1u << 0,
	VMT_VMA_WRITE = 1u << 1,
	VMT_VMA_EXEC = 1u << 2,
	VMT_VMA_SHARED = 1u << 3,
	VMT_VMA_DONTFORK = 1u << 8,   /* MADV_DONTFORK: dropped from a fork child */
	VMT_VMA_WIPEONFORK = 1u << 9, /* MADV_WIPEONFORK: child gets zeroes */
};

/* Flags in the common header (hdr.flags). */
enum vmt_hflags {
	VMT_F_INTERNAL = 1u << 0, /* made by the shim itself or while inside it */
	VMT_F_FAILED = 1u << 1,	  /* the real call failed (see err); on VMT_LIST_END: the
				   * list is discarded (its VMA records are to be ignored) */
	VMT_F_LISTED = 1u << 2,	  /* a VMA list with the same cid follows */
	VMT_F_NODUR = 1u << 3,	  /* on VMT_PROC_START: this process does not time its
				   * memory calls (their dur is 0; VMATOP_DURATIONS=0) */
	VMT_F_EXECD = 1u << 4,	  /* on VMT_SPAWN (vfork kinds): the child called exec and
				   * it did not return (the child's own image runs) */
	VMT_F_RING_PAIRED = 1u << 5, /* in a ring only, never in a trace: an mmap slot that
				      * also holds the munmap of exactly its mapping
				      * (see "Rings": parked records) */
};

#pragma pack(push, 8)
struct vmt_proc {
	uint32_t ppid;
	uint32_t cause;	     /* enum vmt_cause: INIT (fresh image) or FORK */
	uint64_t fork_id;    /* FORK: parent's fork id (its VMT_FORK_PRE) */
	uint64_t child_ns;   /* FORK: child side latency (pre-fork to child running) */
	uint64_t cmd_hash;   /* string: command line */
	uint64_t exe_hash;   /* string: executable path */
	char comm[16];	     /* like /proc/PID/comm */
	uint32_t stack_depth;
	uint32_t shim_pid;   /* pid the shim believed at ring creation */
};

struct vmt_str {
	uint64_t hash;
	uint16_t total;	/* total length of the string */
	uint16_t off;	/* offset of this chunk */
	uint16_t len;	/* bytes in this chunk */
	uint16_t pad;
	char text[48];
};

struct vmt_mod {
	uint64_t base;	    /* load bias (dlpi_addr) */
	uint64_t name_hash; /* string: path */
	uint64_t lo, hi;    /* lowest and highest PT_LOAD address + bias */
	uint8_t build_id_len;
	uint8_t build_id[23];
};

struct vmt_stack {
	uint16_t n;	/* frames in this chunk */
	uint16_t off;	/* index of the first frame */
	uint32_t pad;
	uint64_t ip[7];
};

struct vmt_mem {	/* arguments of a memory call; meaning per type */
	uint64_t a0, a1, a2, a3, a4, a5; /* mmap: addr len prot flags fd off */
	int64_t ret;	/* result (address or 0/-1) */
	int32_t err;	/* errno when failed, else 0 */
	uint32_t extra; /* LIBCALL: enum vmt_cause; SYSCALL: nr */
};

struct vmt_fork {
	uint64_t fork_id;
	int64_t child; /* child pid, or -1 */
	int32_t err;
	uint32_t kind; /* FORK_PRE, FORK: enum vmt_fork_kind; SPAWN: enum vmt_spawn_kind */
	uint64_t vmas_hint; /* FORK_PRE: the shim's change counter (internal) */
};

enum vmt_fork_kind {
	VMT_FORK_KIND_FORK = 0,
	VMT_FORK_KIND_VFORK_AS_FORK = 1, /* traces of shims that ran vfork as fork */
	VMT_FORK_KIND_FORK_NOATFORK = 2, /* _Fork */
	VMT_FORK_KIND_SYSCALL = 3,	 /* syscall(SYS_fork), syscall(SYS_clone) without CLONE_VM */
	VMT_FORK_KIND_CLONE = 4,	 /* clone() without CLONE_VM */
};

/* VMT_SPAWN: the child shared the parent's memory until it exec'd or exited;
 * dur is how long the parent waited. */
enum vmt_spawn_kind {
	VMT_SPAWN_KIND_POSIX_SPAWN = 0,
	VMT_SPAWN_KIND_POSIX_SPAWNP = 1,
	VMT_SPAWN_KIND_VFORK = 2,	/* vfork() (real vfork: memory shared) */
	VMT_SPAWN_KIND_CLONE_VFORK = 3, /* clone(CLONE_VM|CLONE_VFORK) */
};

struct vmt_exec {
	uint64_t path_hash;
	int32_t err;
	uint32_t pad;
};

struct vmt_dl {
	uint64_t name_hash;
	uint64_t handle;
	int32_t flags;
	int32_t err;
};

struct vmt_exit {
	int32_t status;
	uint32_t how; /* 0 exit(), 1 _exit(), 2 destructor, 3 signal (collector) */
};

struct vmt_vma {
	uint64_t start, end;
	uint64_t offset;    /* as shown in /proc/PID/maps */
	uint64_t inode;
	uint64_t name_hash; /* 0: no name */
	uint32_t dev;	    /* major << 20 | minor */
	uint32_t vflags;    /* enum vmt_vflags */
};

struct vmt_skip {
	uint64_t to; /* ring position of the next record: the first of a later lap */
};

struct vmt_list {
	uint64_t lo, hi;    /* the kernel's VMAs meeting [lo, hi) are exactly the list */
	uint32_t n;	    /* VMT_VMA records in the list */
	uint32_t kind;	    /* enum vmt_list_kind */
	uint32_t cause;	    /* enum vmt_cause */
	uint32_t pad;
	uint64_t label_hash; /* snapshot label (string), 0 if none */
};

struct vmt_ring {
	uint64_t stream;  /* stream id in this trace */
	uint32_t owner;	  /* pid that created the ring */
	uint32_t pad;
	uint64_t lost;	  /* records the producers could not write (ring full) */
	uint64_t holes;	  /* reserved slots never committed (writer killed) */
	uint64_t slots;
};

/* ---- BEGIN BPF trace payloads (bpf/, cli/bpf_*.c) ----
 *
 * The snapshot rule (VMT_BPF_LIST): erase [lo[i], hi[i]) for i = 0, 1 (the
 * whole address space with VMT_BPFH_FULL in traces that have [0, ~0) there;
 * a FULL list in parts has their stretches), then store every VMT_BPF_VMA of
 * the list over its [start, end). The list holds every VMA that overlaps a
 * range after the change, read in the kernel, so the mirror then equals the
 * kernel in and around the ranges. BPF lists are written in the order of the
 * changes (cli/bpf_order.c); a reader applies them one after the other and,
 * when hdr.flags has none of RACED, UNSTABLE, TRUNC, may check its VMA count
 * against map_count.
 */
enum vmt_bpfh_flags { /* in hdr.flags of BPF records, above enum vmt_hflags */
	VMT_BPFH_NOCHANGE = 1u << 8,  /* CALL: the call changed no VMA */
	VMT_BPFH_RACED = 1u << 9,     /* LIST: shows later changes too (no count check) */
	VMT_BPFH_UNSTABLE = 1u << 10, /* LIST: read while a writer held the lock */
	VMT_BPFH_TRUNC = 1u << 11,    /* LIST: VMAs missing (walk limit) */
	VMT_BPFH_FULL = 1u << 12,     /* LIST: the whole address space */
	VMT_BPFH_FAULT = 1u << 13,    /* LIST: change made in a page fault (stack) */
	VMT_BPFH_WRITE = 1u << 14,    /* LOCK_*: write side; FORK: CLONE_THREAD */
	VMT_BPFH_SHARED = 1u << 15,   /* FORK: the child shares the mm (vfork, thread) */
	VMT_BPFH_PART = VMT_BPFH_NOCHANGE, /* LIST: one part of a call's list, more
					    * follow (not checked) */
	VMT_BPFH_LISTED = VMT_BPFH_FULL, /* FORK: the child's FULL list follows (it is
					  * the child's mirror, not the copy) */
};

enum vmt_bpfm_flags { /* vmt_bpf_mode.flags */
	VMT_BPFM_RAW_TP = 1u << 0,     /* raw_tp programs (tp_btf did not load) */
	VMT_BPFM_MMAP_LOCK = 1u << 1,  /* mmap_lock statistics */
	VMT_BPFM_CONTENTION = 1u << 2, /* lock:contention_* */
	VMT_BPFM_FENTRY = 1u << 3,     /* fentry on dup_mmap */
	VMT_BPFM_SYSTEM = 1u << 4,     /* every process */
	VMT_BPFM_ATTACH = 1u << 5,     /* vmatop attach: seeded, BPF only */
	VMT_BPFM_AUTHORITY = 1u << 6,  /* BPF lists are the truth for VMAs: readers
					* ignore the shim's VMA effects */
};

#pragma pack(push, 8)
struct vmt_bpf_mode {
	uint32_t flags;		    /* enum vmt_bpfm_flags */
	uint32_t stream;	    /* the stream of the BPF records */
	uint64_t lock_threshold_ns; /* VMT_BPF_LOCK_WAIT above this */
	char desc[48];		    /* "tp_btf fentry:no" ... */
};

struct vmt_bpf_call {
	uint64_t a[6];	   /* raw arguments */
	int64_t ret;	   /* raw return (negative errno) */
	uint32_t nr;	   /* x86-64 syscall number */
	int32_t map_count; /* mm->map_count after the call */
};

struct vmt_bpf_list {
	uint64_t lo[2], hi[2]; /* ranges replaced */
	uint32_t n;	       /* VMT_BPF_VMA records in the list */
	int32_t map_count;     /* mm->map_count in the same snapshot */
	uint32_t wr_seq;       /* mm_lock_seq of the change (0: none) */
	uint32_t lock_seq;     /* mm_lock_seq of the snapshot */
	uint64_t mm;	       /* address-space id */
	uint64_t t_write;      /* the change was done (write lock released) */
};

struct vmt_bpf_fork { /* ts: sched_process_fork; pid/tid: the parent; cid: syscall nr */
	uint64_t t_enter;	/* clone/fork/vfork/clone3 entry */
	uint64_t lock_start;	/* the copy asked for the parent's mmap_lock */
	uint64_t lock_acquired; /* ... got it */
	uint64_t lock_released; /* ... and released it: the copy is done */
	uint64_t clone_flags;
	uint32_t child_pid, child_tgid;
	int32_t parent_vmas, child_vmas; /* map_count of each */
	uint64_t child_mm;	/* the child's address-space id (== parent's: SHARED) */
};

struct vmt_bpf_fork_ret { /* ts: entry; dur: entry..resumed */
	uint64_t t_exit;     /* sys_exit */
	uint64_t t_resume;   /* the parent ran in user space again */
	int64_t ret;	     /* child pid or negative errno */
	uint64_t clone_flags;
	uint64_t copy_ns;    /* mmap_lock write hold in the copy (0: none) */
	uint32_t nr, pad;
};

struct vmt_bpf_exec {
	uint64_t path_hash; /* string: the file executed */
	uint32_t old_pid;   /* tid that called exec */
	int32_t map_count;
	uint64_t mm;
};

struct vmt_bpf_exit {
	int32_t exit_code;
	uint32_t group_dead; /* the process is gone */
	char comm[16];
};

struct vmt_bpf_lockwait { /* ts: acquired */
	uint64_t wait_ns;
	uint64_t mm;
	int32_t stack_id; /* -1 (the frames are in the records that follow) */
	uint32_t nframes; /* in the VMT_BPF_STACK records that follow */
	uint32_t write, contended;
};

struct vmt_bpf_lockstat_rec { /* one side (hdr.flags & VMT_BPFH_WRITE) of a thread */
	uint64_t acquisitions, failed, contended, contended_ns;
	uint64_t wait_total, wait_max, hold_total, hold_max;
};

struct vmt_bpf_hist {
	uint32_t b[16];
};

struct vmt_bpf_stats {
	uint64_t events, dropped, raced, unstable, trunc, walk_err, order_expired, order_orphans;
};

struct vmt_bpf_thread {
	char comm[16];
	uint32_t tgid, tid;
};
#pragma pack(pop)
/* ---- END BPF trace payloads ---- */

/* Common header, 32 bytes, then a 64-byte payload. */
struct vmt_rec {
	uint16_t type;	 /* enum vmt_type */
	uint16_t flags;	 /* enum vmt_hflags */
	uint32_t pid;
	uint32_t tid;
	uint32_t commit; /* ring: commit mark (slot position + 1); file: stream id */
	uint32_t cid;	 /* call id within the process (0: none); lists use it */
	uint32_t dur;	 /* ns spent in the real call (saturates at 2^32-1) */
	uint64_t ts;	 /* CLOCK_MONOTONIC ns at the start of the call */
	union {
		struct vmt_proc proc;
		struct vmt_str str;
		struct vmt_mod mod;
		struct vmt_stack stack;
		struct vmt_mem mem;
		struct vmt_fork fork;
		struct vmt_exec exec;
		struct vmt_dl dl;
		struct vmt_exit exit;
		struct vmt_vma vma;
		struct vmt_list list;
		struct vmt_ring ring;
		struct vmt_skip skip;
		/* ---- BEGIN reserved for BPF event payloads ---- */
		struct vmt_bpf_mode bpf_mode;
		struct vmt_bpf_call bpf_call;
		struct vmt_bpf_list bpf_list;
		struct vmt_bpf_fork bpf_fork;
		struct vmt_bpf_fork_ret bpf_fork_ret;
		struct vmt_bpf_exec bpf_exec;
		struct vmt_bpf_exit bpf_exit;
		struct vmt_bpf_lockwait bpf_lockwait;
		struct vmt_bpf_lockstat_rec bpf_lockstat;
		struct vmt_bpf_hist bpf_hist;
		struct vmt_bpf_stats bpf_stats;
		struct vmt_bpf_thread bpf_thread;
		/* ---- END reserved for BPF event payloads ---- */
		uint8_t raw[64];
	} p;
};
#pragma pack(pop)

_Static_assert(sizeof(struct vmt_rec) == VMT_REC_SIZE, "vmt_rec must be 96 bytes");

/* Trace file header: the first 64 bytes of a trace. */
struct vmt_file_header {
	char magic[8];	     /* VMT_FILE_MAGIC */
	uint32_t version;    /* VMT_VERSION */
	uint32_t header_size; /* 64 */
	uint32_t rec_size;   /* VMT_REC_SIZE */
	uint32_t flags;	     /* reserved */
	uint64_t start_ns;   /* CLOCK_MONOTONIC at record start */
	uint64_t start_real; /* CLOCK_REALTIME (s) at record start */
	uint32_t stack_depth;
	uint32_t page_size;
	uint8_t reserved[16];
};
_Static_assert(sizeof(struct vmt_file_header) == 64, "trace header must be 64 bytes");

/*
 * Rings. One file per process image under the session directory
 * ($VMATOP_SHM_DIR, made by vmatop record), named r-PID-NS. Layout: this
 * 4 KiB header, then `slots` (a power of two) records.
 *
 * Protocol (multi-producer, single consumer, no lock, no syscall):
 *   producer: h = head; if h - tail >= slots: lost++, drop. CAS head h->h+1.
 *             write slot[h % slots], then store-release commit = vmt_commit_mark(h).
 *   consumer: t = tail; wait for slot[t].commit == vmt_commit_mark(t); copy;
 *             store-release tail = t+1.
 * Hot window: while the consumer keeps up, the producers use only the first
 * `window` slots of each lap (shim: 2048, VMATOP_RING_WINDOW), so the lines
 * they write stay in the cache; the rest of the ring is room for bursts.
 * A reservation [h, h+n) that would pass slot `window` of its lap while the
 * consumer has read the first n slots of the next lap (L: its first
 * position) takes [h, L+n) in its one CAS instead, writes a VMT_RING_SKIP
 * record {to = L} at h and its own records at L; the consumer, reading a
 * skip, continues at L. Otherwise the producer goes on linearly. Until the
 * consumer has read that skip, the producers use the new lap's slots below
 * the consumer's; reaching it they skip again, to the slots above h's that
 * the old lap never wrote (preload/shim.c, rec_reserve_slow). A slot is
 * always kept free for such a skip record.
 * Parked records: the shim's single-threaded fast path leaves the record of
 * an anonymous private mmap complete but tentative, commit = ~mark (never a
 * mark the consumer waits for at that slot: the two differ in parity), so
 * that the munmap of exactly that mapping - usually the thread's next call -
 * completes the same slot instead of taking one: it sets VMT_F_RING_PAIRED,
 * p.mem.err = its start minus the mmap's ts (< 2^32), p.mem.extra = its dur,
 * then commit = mark. A parked slot is always the newest reservation: every
 * reservation commits a parked slot first. The consumer waits at a
 * tentative slot like at any uncommitted one; when the owner is dead (or
 * recording ends) it takes it as the plain mmap it is. It writes a paired
 * slot to the trace as two records, the mmap and the munmap (a0 = the
 * mmap's result, a1 = its length, success).
 * A producer killed between reserve and commit leaves a hole: when the
 * owner is dead the consumer skips uncommitted slots up to head and counts
 * them in `holes`. The shim never waits for the consumer, except for bulk
 * lists (seed, snapshot) while `heartbeat` is recent.
 */
struct vmt_ring_header {
	uint64_t magic; /* VMT_RING_MAGIC */
	uint32_t version, rec_size;
	uint64_t slots;
	uint32_t owner; /* pid */
	uint32_t flags; /* VMT_RING_CLOSED once the process finished writing */
	uint64_t created_ns; /* CLOCK_MONOTONIC */
	uint32_t clock;	     /* VMT_RING_CLOCK_*: the unit of the records' times */
	uint8_t pad0[64 - 44];
	uint64_t head; /* producers: next slot to reserve */
	uint8_t pad1[56];
	uint64_t tail; /* consumer: next slot to read */
	uint64_t heartbeat; /* consumer: CLOCK_MONOTONIC ns of its last pass */
	uint8_t pad2[48];
	uint64_t lost; /* producers: records dropped because the ring was full */
	uint8_t pad3[4096 - 200];
};
_Static_assert(sizeof(struct vmt_ring_header) == 4096, "ring header is one page");

/* A ring slot's commit word for position pos: never 0 (empty), and two
 * positions of one slot less than 2^32 apart differ. */
static inline uint32_t vmt_commit_mark(uint64_t pos)
{
	uint32_t m = (uint32_t)pos + 1;
	return m ? m : 1;
}

#define VMT_RING_CLOSED 1u
#define VMT_RING_VERSION 3 /* of this header and protocol (the trace has VMT_VERSION) */

/*
 * The clock of a ring's records: the unit of their ts, dur and
 * p.proc.child_ns. TSC: raw time-stamp counter values; the shim reads the
 * TSC only when the kernel's clocksource is the TSC, so both count the same
 * time, and the collector converts every record it drains to CLOCK_MONOTONIC
 * ns (cli/tickclock.c): traces hold ns only.
 */
enum { VMT_RING_CLOCK_NS = 0, VMT_RING_CLOCK_TSC = 1 };
#define VMT_RING_DEFAULT_SLOTS 32768u
#define VMT_RING_DEFAULT_WINDOW 2048u /* hot window of the shim's rings */

/* FNV-1a 64, the name hash (never 0). */
static inline uint64_t vmt_hash(const char *s, unsigned long n)
{
	uint64_t h = 1469598103934665603ull;
	for (unsigned long i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h ? h : 1;
}

/* Environment between vmatop and the shim. */
#define VMT_ENV_DIR "VMATOP_SHM_DIR"	 /* session directory for rings */
#define VMT_ENV_STACKS "VMATOP_STACKS"	 /* stack depth, 0 = off */
#define VMT_ENV_SLOTS "VMATOP_RING_SLOTS" /* ring size (power of two) */
#define VMT_ENV_PRELOAD "VMATOP_PRELOAD" /* path of libvmatop.so (for exec re-injection) */
#define VMT_ENV_WINDOW "VMATOP_RING_WINDOW" /* hot window (power of two, 0: off) */
#define VMT_ENV_DURATIONS "VMATOP_DURATIONS" /* 1: dur of memory calls too (a clock read more) */

/* ---- BEGIN BPF kernel records (bpf/, cli/bpf_*.c) ---- */
/*
 * BPF kernel records: what the BPF programs (bpf/vmatop.bpf.c) send to vmatop
 * through the BPF ring buffer (variable size, not trace records), and the
 * per-thread mmap_lock statistics they keep in a BPF hash map. Shared, byte
 * for byte, by the kernel side and userspace (cli/bpf_collector.c); compiled
 * by clang -target bpf against the generated vmlinux.h (which provides the
 * uint*_t types) and by gcc against <stdint.h>.
 *
 * Every record starts with struct vmt_krec_hdr. Times are bpf_ktime_get_ns(),
 * i.e. CLOCK_MONOTONIC nanoseconds, the clock the shim uses too. Address
 * spaces are named by "mm", an opaque id (the kernel's mm_struct address):
 * threads, and vfork/posix_spawn children until they exec, share one.
 *
 * How a mirror applies a VMA_CHANGE record (the snapshot rule):
 *   erase every range[i] = [lo, hi) with hi > lo, then store each vmas[j]
 *   over [start, end), overwriting what is there
 * The listed VMAs are every VMA that overlaps a range, read in the kernel at
 * syscall exit with their exact boundaries (merges and splits included), all
 * from one snapshot of the mm (lock_seq: mm->mm_lock_seq, even, unchanged
 * across the read), so after it the mirror equals the kernel in and around
 * the ranges; map_count is mm->map_count in the same snapshot. A call that
 * lists more than VMT_BPF_MAX_VMAS VMAs sends parts (MORE on all but the
 * last), each a record of its own: its ranges are the stretch of the call's
 * ranges it covers (up to the first VMA it had no room for), its snapshot
 * its own (under concurrent writers the parts may be read at different
 * times; then the last one is UNSTABLE: not checked). FULL lists the whole
 * address space (its parts: consecutive stretches of [0, ~0)); [vsyscall]
 * is not a VMA and stays.
 * A call whose effect is known without a read lists less: a successful
 * munmap lists no VMA (its range is empty after it; the kernel splits
 * exactly at the range's page-aligned edges and never merges), a successful
 * mmap the one VMA that holds the new mapping (merged or not).
 *
 * The order of records: a mirror that applies the VMA_CHANGE records of a
 * mm in the order of their snapshots (lock_seq) converges on the kernel: in
 * every region, the record applied last shows the newest state. The ring
 * has them in that order except where two threads of one mm raced (one
 * read its snapshot, another then changed the mm and sent its record
 * first): cli/bpf_order.c delivers records in ring order and, when a record
 * arrives older than one already delivered for its mm, delivers it (RACED)
 * and then the newer ones again (copies flagged REDO), so that consumers
 * can simply apply what they get, in that order. Parts of a record are
 * delivered together; a fork child's records after its FORK.
 *
 * map_count checks: after a record that is not RACED, UNSTABLE or TRUNC the
 * mirror's VMA count equals map_count. RACED means the check cannot be made:
 * another call of the same mm was in flight between this record's snapshot
 * and its send, so the snapshot may hold a change whose record follows (the
 * programs know: every modelled call of a multi-user mm counts itself in
 * map "mm_inflight" from entry until its record is out), or the ordering
 * stage delivered it after a newer one.
 */
#define VMT_BPF_MAX_VMAS 32   /* VMAs per VMA_CHANGE record; more: parts */
#define VMT_BPF_HIST 32	      /* log2(ns) buckets; the last one is open */
#define VMT_BPF_FILENAME 128  /* exec file name, truncated */
#define VMT_BPF_COMM 16
#define VMT_BPF_STACK_DEPTH 64 /* frames kept per user stack */

enum vmt_krec_type {
	VMT_KREC_VMA_CHANGE = 1, /* struct vmt_krec_vmachg: an address-space call */
	VMT_KREC_FORK = 2,	/* struct vmt_krec_fork: sched_process_fork */
	VMT_KREC_FORK_RET = 3,	/* struct vmt_krec_fork_ret: fork call returned */
	VMT_KREC_EXEC = 4,	/* struct vmt_krec_exec (a FULL VMA_CHANGE follows) */
	VMT_KREC_EXIT = 5,	/* struct vmt_krec_exit: a followed thread exited */
	VMT_KREC_LOCK_WAIT = 6,	/* struct vmt_krec_lockwait: a long mmap_lock wait */
	/* 7 was MARK (an ordering scheme replaced by the ring-position check) */
};

/* vmt_krec_hdr.flags */
enum vmt_bpf_flags {
	/* VMA_CHANGE */
	VMT_BPF_F_MORE = 1u << 0,     /* more parts of this call follow */
	VMT_BPF_F_FULL = 1u << 1,     /* the whole address space is listed */
	VMT_BPF_F_NOCHANGE = 1u << 2, /* the call never held mmap_lock for writing */
	VMT_BPF_F_RACED = 1u << 3,    /* not checkable: another call of this mm
				       * was in flight, so the snapshot may hold a
				       * change whose record follows */
	VMT_BPF_F_UNSTABLE = 1u << 4, /* a writer held the lock during every read
				       * attempt: the snapshot may be torn */
	VMT_BPF_F_TRUNC = 1u << 5,    /* walk limit hit: VMAs are missing */
	VMT_BPF_F_FAULT = 1u << 6,    /* the main stack grew (mm->stack_vm moved)
				       * outside this thread's syscalls: its VMA,
				       * listed at the thread's next syscall */
	VMT_BPF_F_UNKNOWN = 1u << 7,  /* a syscall vmatop does not model wrote the
				       * mm (mm_lock_seq moved): FULL dump */
	VMT_BPF_F_EXEC = 1u << 8,     /* the FULL dump of a fresh exec */
	VMT_BPF_F_FAILED = 1u << 9,   /* the call returned an error */
	VMT_BPF_F_SOLO = 1u << 10,    /* (also FORK) the mm had one user at the
				       * call's entry: nothing else could interleave */
	VMT_BPF_F_REDO = 1u << 11,    /* a record delivered again by the ordering
				       * stage (see "The order of records"; never
				       * sent by the kernel): not a call of its
				       * own, not checked */
	VMT_BPF_F_CHILD = 1u << 12,   /* the FULL list of a fork child's new mm
				       * (tgid/tid: the child), sent at the fork */
	VMT_BPF_F_LATER = 1u << 13,   /* the mm kept changing under every read of
				       * this call's list: no VMAs here (the
				       * record ends the call); the list follows
				       * from a later snapshot (REDO) at the
				       * thread's next syscall or exit */
	/* FORK */
	VMT_BPF_F_THREAD = 1u << 16,	/* CLONE_THREAD: a new thread */
	VMT_BPF_F_SHARED_MM = 1u << 17, /* the child shares the parent's mm */
	VMT_BPF_F_VFORK = 1u << 18,	/* CLONE_VFORK */
	VMT_BPF_F_LISTED = 1u << 19,	/* the child's mm is listed in full next
					 * (VMT_BPF_F_CHILD): the parent had other
					 * users, its mirror is no base for a copy */
	/* LOCK_WAIT */
	VMT_BPF_F_WRITE = 1u << 20,	/* write (exclusive) acquisition */
	VMT_BPF_F_CONTENDED = 1u << 21, /* went through the rwsem slow path */
	VMT_BPF_F_LOCK_FAILED = 1u << 22, /* trylock/killable acquisition failed */
	/* EXIT */
	VMT_BPF_F_GROUP_DEAD = 1u << 24, /* last thread: the process is gone */
};

struct vmt_krec_hdr {
	uint16_t type;	/* enum vmt_krec_type */
	uint16_t size;	/* bytes of the whole record */
	uint32_t flags; /* enum vmt_bpf_flags */
	uint64_t ts;	/* CLOCK_MONOTONIC ns when the record was made */
	uint32_t tgid;	/* process */
	uint32_t tid;	/* thread */
	uint64_t mm;	/* address-space id (0: none) */
};

/* One VMA as the kernel has it. */
struct vmt_krec_vma {
	uint64_t start, end; /* [start, end) */
	uint64_t flags;	     /* vm_flags: VM_READ 1, VM_WRITE 2, VM_EXEC 4,
			      * VM_SHARED 8, VM_MAYSHARE 0x80, VM_GROWSDOWN 0x100 */
	uint64_t pgoff;	     /* vm_pgoff (pages; file offset for file VMAs) */
	uint64_t ino;	     /* inode number of the mapped file, 0 if anonymous */
	uint32_t dev;	     /* its device: the kernel's dev_t, major << 20 | minor */
	uint32_t pad;
};

struct vmt_krec_vmachg {
	struct vmt_krec_hdr h;	/* ts: when the VMAs were read (syscall exit) */
	uint64_t t_enter;	/* syscall entry with lock statistics, else 0 */
	uint64_t t_write;	/* with lock statistics: when this call released
				 * the write lock (0: never, or not measured) */
	uint64_t args[6];	/* raw syscall arguments */
	int64_t ret;		/* raw return value (negative errno) */
	uint64_t range[2][2];	/* [lo, hi) ranges replaced by this call */
	uint32_t nr;		/* x86-64 syscall number; 0 for FAULT */
	int32_t map_count;	/* mm->map_count in the same snapshot */
	uint16_t part;		/* 0, 1, ... for calls listing many VMAs */
	uint16_t nr_vmas;	/* VMAs in this part */
	uint32_t lock_seq;	/* mm->mm_lock_seq of the snapshot (even) */
	uint32_t wr_seq;	/* mm_lock_seq at the call's entry + 1 when the
				 * snapshot is the call's own write alone
				 * (lock_seq == wr_seq + 1), else 0 */
	uint32_t pad;
	struct vmt_krec_vma vmas[VMT_BPF_MAX_VMAS]; /* only nr_vmas are sent */
};
#define VMT_KREC_VMACHG_SIZE(n) \
	(__builtin_offsetof(struct vmt_krec_vmachg, vmas) + (n) * sizeof(struct vmt_krec_vma))

struct vmt_krec_fork {
	struct vmt_krec_hdr h;	/* ts: sched_process_fork; tgid/tid/mm: parent */
	uint64_t t_enter;	/* parent entered clone/clone3/fork/vfork (0: unseen) */
	uint64_t lock_start;	/* dup_mmap asked for the parent's mmap_lock (write) */
	uint64_t lock_acquired; /* ... got it */
	uint64_t lock_released; /* ... released it: the VMA copy is over */
	uint64_t clone_flags;
	uint64_t child_mm;	/* child's address space (== h.mm if SHARED_MM) */
	uint32_t child_pid, child_tgid;
	int32_t parent_map_count; /* VMAs the parent had (what fork copies) */
	int32_t child_map_count;  /* VMAs the child got (DONTCOPY ones are not) */
	uint32_t nr;		  /* syscall (56 clone, 57 fork, 58 vfork, 435 clone3) */
	uint32_t wr_seq;	  /* unused (0) */
	uint64_t dup_start, dup_end; /* dup_mmap() entry/exit: only when the
				      * optional fentry program loaded, else 0 */
};

struct vmt_krec_fork_ret {
	struct vmt_krec_hdr h;	/* ts: the call returned in the parent (sys_exit) */
	uint64_t t_enter;
	uint64_t t_resume;	/* the parent ran in user space again: ts, or
				 * later when it was switched out on its way
				 * back (the child ran first on its CPU) */
	int64_t ret;		/* child pid or negative errno */
	uint64_t clone_flags;
	uint32_t nr;
	uint32_t pad;
};

struct vmt_krec_exec {
	struct vmt_krec_hdr h;	/* mm: the new address space */
	uint32_t old_pid;	/* tid that called exec (leader after de_thread) */
	int32_t map_count;
	char filename[VMT_BPF_FILENAME];
};

struct vmt_krec_exit {
	struct vmt_krec_hdr h;
	int32_t exit_code;	/* task->exit_code (wait status encoding) */
	uint32_t pad;
	char comm[VMT_BPF_COMM];
};

struct vmt_krec_lockwait {
	struct vmt_krec_hdr h;	/* ts: when the lock was acquired (or failed) */
	uint64_t wait_ns;	/* start_locking -> acquire_returned */
	uint32_t nframes;	/* user stack frames in ips (0: none) */
	uint32_t pad;
	uint64_t ips[VMT_BPF_STACK_DEPTH]; /* the waiter's user stack, innermost
					    * first (in the record: a stack map
					    * would share buckets between stacks) */
};

/*
 * Per-thread mmap_lock statistics (BPF hash map "lock_stats", key: tid).
 * Index [0] is read (shared) acquisitions, [1] write (exclusive). Only the
 * thread's own mm counts. wait = start_locking -> acquire_returned,
 * hold = acquire_returned -> released (a downgrade ends the write hold and
 * starts a read hold). Bucket b of a histogram counts values v with
 * 2^b <= v < 2^(b+1) ns (bucket 0 also counts 0; the last is open).
 */
struct vmt_bpf_lockstat {
	uint32_t tgid, tid;
	char comm[VMT_BPF_COMM];
	uint64_t acquisitions[2];
	uint64_t failed[2];	/* trylock / killable acquisitions that failed */
	uint64_t contended[2];	/* lock:contention_begin on this mm's mmap_lock */
	uint64_t contended_ns[2]; /* contention_begin -> contention_end */
	uint64_t contended_other[2]; /* of contended: no thread of the process
				      * held the lock - another process did */
	uint64_t wait_total[2], wait_max[2];
	uint64_t hold_total[2], hold_max[2];
	uint32_t wait_hist[2][VMT_BPF_HIST];
	uint32_t hold_hist[2][VMT_BPF_HIST];
};

/* Global counters (BPF array "counters"), for diagnostics. */
enum vmt_bpf_counter {
	VMT_BPF_C_EVENTS,	/* records sent */
	VMT_BPF_C_DROPPED,	/* records lost: ring buffer full */
	VMT_BPF_C_RACED,	/* VMA_CHANGE records flagged RACED */
	VMT_BPF_C_UNSTABLE,	/* ... flagged UNSTABLE */
	VMT_BPF_C_TRUNC,	/* ... flagged TRUNC */
	VMT_BPF_C_WALK_ERR,	/* maple-tree walks that met a malformed node */
	VMT_BPF_C_STATS_FULL,	/* lock_stats map full */
	VMT_BPF_C_NR,
};

/* x86-64 syscall numbers the programs model. */
enum vmt_bpf_sys {
	VMT_SYS_MMAP = 9,
	VMT_SYS_MPROTECT = 10,
	VMT_SYS_MUNMAP = 11,
	VMT_SYS_BRK = 12,
	VMT_SYS_MREMAP = 25,
	VMT_SYS_MADVISE = 28,
	VMT_SYS_SHMAT = 30,
	VMT_SYS_CLONE = 56,
	VMT_SYS_FORK = 57,
	VMT_SYS_VFORK = 58,
	VMT_SYS_EXECVE = 59,
	VMT_SYS_SHMDT = 67,
	VMT_SYS_MLOCK = 149,
	VMT_SYS_MUNLOCK = 150,
	VMT_SYS_MLOCKALL = 151,
	VMT_SYS_MUNLOCKALL = 152,
	VMT_SYS_PRCTL = 157,
	VMT_SYS_REMAP_FILE_PAGES = 216,
	VMT_SYS_EXECVEAT = 322,
	VMT_SYS_MLOCK2 = 325,
	VMT_SYS_PKEY_MPROTECT = 329,
	VMT_SYS_CLONE3 = 435,
	VMT_SYS_MAP_SHADOW_STACK = 453,
	VMT_SYS_MSEAL = 462,
};
/* ---- END BPF kernel records ---- */

#endif
