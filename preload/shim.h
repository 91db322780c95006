/*
 * shim.h - internal interface of libvmatop.so (the LD_PRELOAD shim).
 *
 * Owns nothing itself; declares the per-process shim state (struct shim),
 * the per-thread recursion guard, the real-symbol table and the helpers the
 * hook files share:
 *   shim.c          init/fini, rings (producer side), strings, env
 *   observe.c       PROCMAP_QUERY, /proc/self/maps lists (seed, observe, snapshot), modules
 *   hooks_mem.c     mmap munmap mremap mprotect pkey_mprotect madvise mlock* mseal brk sbrk
 *                   shmat shmdt syscall
 *   hooks_proc.c    fork vfork (asm trampoline) clone _Fork posix_spawn exec* exit _exit dlopen
 *                   dlclose pthread setlocale newlocale sem_*; fork-child bookkeeping
 *   hooks_io.c      AIO rings (io_setup/io_destroy via syscall), liburing's ring setup,
 *                   userfaultfd registration (ioctl, close)
 *   hooks_malloc.c  malloc family (finds glibc's internal mmaps, brk and arena heaps)
 *   changes.c       threads' slots: change log, deferred lists, hooks in progress, fork child
 *   stacks.c        libunwind call stacks
 *
 * Rules every hook follows (see man/libvmatop.7):
 *   - no malloc before the real symbols are resolved; the shim never calls
 *     malloc itself (static and stack buffers only);
 *   - errno is preserved; nothing is printed unless VMATOP_DEBUG is set;
 *   - when the shim is not active (no session, init not done, inside fork,
 *     in a vfork child) a hook is a plain call of the real function;
 *   - a vfork child shares the parent's memory, TLS included: it changes no
 *     shim state but the per-thread T.vfork_dirty flag (see hooks_proc.c);
 *   - records are written to the process's ring with no lock and no syscall
 *     (PROCMAP_QUERY observation is one ioctl per resulting VMA; the list of
 *     an anonymous private mmap is deferred, see changes.c);
 *   - the hot path (shim_ticks, rec_reserve, call_begin, chg_begin/end, hook
 *     enter/leave) is inline below, with out-of-line *_slow paths.
 */
#ifndef VMATOP_SHIM_H
#define VMATOP_SHIM_H

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <string.h>
#include <time.h>
#include <vmatop/records.h>

#define SHIM_EXPORT __attribute__((visibility("default")))
#define PAGE_SZ 4096ul
#define PAGE_DOWN(x) ((uintptr_t)(x) & ~(PAGE_SZ - 1))
#define PAGE_UP(x) (((uintptr_t)(x) + PAGE_SZ - 1) & ~(PAGE_SZ - 1))
#define SHIM_HIDDEN __attribute__((visibility("hidden")))

enum shim_state { SHIM_OFF = 0, SHIM_INIT = 1, SHIM_READY = 2, SHIM_DISABLED = 3 };

/* Read by every hook: the first cache lines; fields written often come later,
 * each on a line of its own (no false sharing between threads). */
struct shim {
	_Atomic int state;
	pid_t pid;
	struct vmt_ring_header *ring;
	struct vmt_rec *slots;
	uint64_t nslots;
	uint64_t window;	   /* hot window: slots of a lap used while the consumer keeps up
				    * (records.h "Rings"); nslots: off */
	const _Atomic long *stamp; /* nonzero; a MADV_WIPEONFORK page: 0 in a fork child
				    * no fork path of the shim handled (shim_adopt) */
	unsigned stack_depth;  /* 0: no stacks */
	_Atomic int multi;     /* 0: one thread only in the shim (changes.c: no announcing) */
	uint8_t durations;     /* time memory calls (dur); VMATOP_DURATIONS=0 turns it off */
	uint8_t tsc_ok;	       /* clocksource tsc: records carry raw TSC (shim_ticks) */
	uint8_t prefetchw;     /* the CPU has PREFETCHW (CPUID 80000001h ECX bit 8) */
	/* ^ the fast path reads only the first 64 bytes (above) */
	int have_pmq;	       /* PROCMAP_QUERY works */
	int maps_fd;	       /* /proc/self/maps (CLOEXEC, high fd), -1 if none */
	size_t ring_bytes;
	uintptr_t brk_seen;    /* last program break the mirror knows */
	uintptr_t stack_lo, stack_hi; /* main thread [stack] as last seen */
	uintptr_t self_lo, self_hi;   /* libvmatop.so text (to skip in stacks) */
	char dir[512];	       /* session directory */
	char preload[512];     /* our own path (exec re-injection) */
	unsigned slots_wanted;
	unsigned window_wanted; /* hot window asked for (0: off) */
	int debug;
	_Alignas(64) _Atomic uint64_t last_pos; /* ring position of the latest reservation */
	_Atomic uint64_t parked; /* position + 1 of the parked mmap record (rec_park), 0: none */
	_Atomic uint64_t tail_seen; /* consumer tail as last read (saves a shared read) */
	_Atomic uint64_t last_skip; /* position of the last skip record (~0: none) */
	_Alignas(64) _Atomic uint64_t gen; /* bumped after every call that may change VMAs */
	_Alignas(64) _Atomic uint32_t next_cid;
	_Atomic uint32_t fork_seq;
	char pad_end[56];
};

SHIM_HIDDEN extern struct shim S;
_Static_assert(offsetof(struct shim, prefetchw) < 64, "the hooks' fields share one cache line");
/*
 * The calling thread's shim state, one cache line of TLS: every hook reads it
 * through one GOT entry (initial-exec), and the fast path touches no other
 * thread-local line. A vfork child shares it with its parent (same memory):
 * it writes vfork_dirty and vfork_exec only.
 */
struct chg_slot;
struct shim_thread {
	int depth;		/* >0: inside the shim on this thread */
	int in_fork;		/* inside the shim's fork(): hooks pass through */
	int vfork_child;	/* 1 in a vfork child (shared TLS) */
	int vfork_dirty;	/* the vfork child called a mapping hook */
	int vfork_exec;		/* the vfork child is in exec (set before, cleared if it returns) */
	int fork_dirty;		/* a hook passed through inside fork() */
	pid_t tid;		/* gettid() once (shim_tid), 0: not asked yet */
	struct chg_slot *slot;	/* this thread's slot (changes.c), NULL: none (yet) */
} __attribute__((aligned(64)));
SHIM_HIDDEN extern __thread struct shim_thread T;

/* Real functions (RTLD_NEXT); resolved by shim_resolve(). */
struct shim_real {
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	int (*munmap)(void *, size_t);
	void *(*mremap)(void *, size_t, size_t, int, ...);
	int (*mprotect)(void *, size_t, int);
	int (*pkey_mprotect)(void *, size_t, int, int);
	int (*madvise)(void *, size_t, int);
	int (*brk)(void *);
	void *(*sbrk)(intptr_t);
	void *(*shmat)(int, const void *, int);
	int (*shmdt)(const void *);
	long (*syscall)(long, ...);
	pid_t (*fork)(void);
	pid_t (*_Fork)(void);
	int (*posix_spawn)(pid_t *, const char *, const void *, const void *, char *const[],
			   char *const[]);
	int (*posix_spawnp)(pid_t *, const char *, const void *, const void *, char *const[],
			    char *const[]);
	int (*execve)(const char *, char *const[], char *const[]);
	int (*execvpe)(const char *, char *const[], char *const[]);
	int (*fexecve)(int, char *const[], char *const[]);
	int (*execveat)(int, const char *, char *const[], char *const[], int);
	void (*exit)(int) __attribute__((noreturn));
	void (*_exit)(int) __attribute__((noreturn));
	void *(*dlopen)(const char *, int);
	void *(*dlmopen)(long, const char *, int);
	int (*dlclose)(void *);
	int (*pthread_create)(void *, const void *, void *(*)(void *), void *);
	int (*clone)(int (*)(void *), void *, int, void *, ...);
	int (*pthread_join)(unsigned long, void **);
	void (*pthread_exit)(void *) __attribute__((noreturn));
	char *(*setlocale)(int, const char *);
	void *(*newlocale)(int, const char *, void *); /* locale_t (locale.h) */
	int (*ioctl)(int, unsigned long, ...);
	int (*close)(int);
};
SHIM_HIDDEN extern struct shim_real R;

/* shim.c */
SHIM_HIDDEN void shim_init(void);
SHIM_HIDDEN void shim_resolve(void);
/* A fork child that no shim fork path handled (raw clone, syscall()): own ring, full list. */
SHIM_HIDDEN int shim_adopt(void);
/* The shim records in this thread now: ready, not inside fork, not a vfork child. */
static inline int shim_active(void)
{
	if (atomic_load_explicit(&S.state, memory_order_acquire) != SHIM_READY ||
	    (T.in_fork | T.vfork_child))
		return 0;
	if (__builtin_expect(!atomic_load_explicit(S.stamp, memory_order_relaxed), 0))
		return shim_adopt();
	return 1;
}
/* A hook that runs the real call without recording (not active). */
static inline void shim_passthrough(void)
{
	if (T.vfork_child)
		T.vfork_dirty = 1; /* the parent lists its whole map when it resumes */
	else if (T.in_fork)
		T.fork_dirty = 1; /* an atfork handler: both sides list their whole map */
}
/*
 * Time for the ring's records, in the ring's clock (records.h,
 * VMT_RING_CLOCK_*): when the kernel keeps time with the TSC (S.tsc_ok), the
 * raw TSC - one instruction; the collector converts to CLOCK_MONOTONIC ns as
 * it drains (cli/tickclock.c). Otherwise CLOCK_MONOTONIC ns. Differences
 * are durations in the same unit; anything compared with a time from
 * elsewhere (the consumer's heartbeat, timeouts) uses shim_clock().
 */
static inline uint64_t shim_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
static inline uint64_t shim_ticks(void)
{
#if defined(__x86_64__)
	if (__builtin_expect(S.tsc_ok, 1))
		return __builtin_ia32_rdtsc();
#endif
	return shim_clock();
}
SHIM_HIDDEN pid_t shim_tid_slow(void);
static inline pid_t shim_tid(void) { return T.tid ? T.tid : shim_tid_slow(); }
SHIM_HIDDEN void shim_tid_reset(void);
SHIM_HIDDEN uint32_t shim_cid(void);
SHIM_HIDDEN long shim_raw_syscall(long nr, long a, long b, long c, long d, long e, long f);
/* Reserve a record (NULL: ring full, counted as lost). wait: bulk lists may wait. */
SHIM_HIDDEN struct vmt_rec *rec_begin(uint16_t type, uint32_t cid, uint64_t ts, int wait,
				   uint64_t *pos);
static inline void rec_commit(struct vmt_rec *r, uint64_t pos)
{
	atomic_store_explicit((_Atomic uint32_t *)&r->commit, vmt_commit_mark(pos),
			      memory_order_release);
}
/* Reserve n consecutive slots at once (a list is then one block in the ring):
 * returns the first position or ~0 (ring full: all n counted as lost). One
 * slot stays free for a skip record (rec_reserve_slow). */
SHIM_HIDDEN uint64_t rec_reserve_slow(unsigned n, int wait);
/* Would [pos, pos+n) pass the hot window of its lap from inside it? (Then
 * rec_reserve_slow may skip to the next lap: records.h "Rings".) */
static inline int rec_at_window(uint64_t pos, unsigned n)
{
	uint64_t s = pos & (S.nslots - 1);
	return s <= S.window && s + n > S.window;
}
/* After a reservation of n slots at pos. */
static inline uint64_t rec_reserved(uint64_t pos, unsigned n)
{
	atomic_store_explicit(&S.last_pos, pos + n - 1, memory_order_relaxed);
	/* The consumer read the next slots last (a lap ago): ask for them
	 * now, so the next record does not wait for the cache lines. */
	char *next = (char *)&S.slots[(pos + n) & (S.nslots - 1)];
#if defined(__x86_64__)
	if (S.prefetchw) { /* for ownership: the write needs no upgrade */
		__asm__ volatile("prefetchw %0" : : "m"(*next));
		__asm__ volatile("prefetchw %0" : : "m"(next[64]));
	} else
#endif
	{
		__builtin_prefetch(next, 1, 3);
		__builtin_prefetch(next + 64, 1, 3);
	}
	return pos;
}
/*
 * The parked record (records.h "Rings"): the fast path's anonymous mmap
 * leaves its complete record tentative, so that the munmap of exactly that
 * mapping completes the same slot (hooks_mem.c, munmap_fast) - one slot per
 * mmap+munmap pair. Every reservation commits a parked slot first
 * (rec_unpark), so it is always the newest one and nothing waits behind it
 * for long: only until this process's next record, or its end.
 */
SHIM_HIDDEN void rec_unpark_slow(uint64_t parked);
static inline void rec_unpark(void)
{
	uint64_t p = atomic_load_explicit(&S.parked, memory_order_acquire);
	if (__builtin_expect(p != 0, 0))
		rec_unpark_slow(p);
}
static inline void rec_park(struct vmt_rec *r, uint64_t pos)
{
	uint32_t mark = vmt_commit_mark(pos);
	if (__builtin_expect(mark == UINT32_MAX, 0)) { /* ~mark would read as empty */
		rec_commit(r, pos);
		return;
	}
	atomic_store_explicit((_Atomic uint32_t *)&r->commit, ~mark, memory_order_release);
	atomic_store_explicit(&S.parked, pos + 1, memory_order_release);
}
static inline uint64_t rec_reserve(unsigned n, int wait)
{
	rec_unpark();
	struct vmt_ring_header *h = S.ring;
	if (__builtin_expect(h != NULL, 1)) {
		uint64_t pos = atomic_load_explicit((_Atomic uint64_t *)&h->head, memory_order_relaxed);
		uint64_t tail = atomic_load_explicit(&S.tail_seen, memory_order_relaxed);
		if (pos + n + 1 - tail <= S.nslots && !rec_at_window(pos, n) &&
		    atomic_compare_exchange_weak_explicit((_Atomic uint64_t *)&h->head, &pos, pos + n,
							  memory_order_acq_rel, memory_order_relaxed))
			return rec_reserved(pos, n);
	}
	return rec_reserve_slow(n, wait);
}
/*
 * One slot, for the fast path of a process with one thread in the shim
 * (hooks_mem.c): the head moves with a cmpxchg without the lock prefix. It is
 * one instruction, so a hook in a signal handler on this thread cannot
 * split it, and no other thread reserves: the fast path runs only while
 * S.multi is 0, a new thread is announced (S.multi set) by the thread
 * that creates it before it runs, and one the shim did not see created
 * waits at its first hook for the hooks in progress to end. The lock prefix
 * drains the store buffer, which holds the previous record's stores: ~1.5%
 * of the mmap+munmap loop here (bench/shim-floor.sh, variant locked).
 */
static inline uint64_t rec_reserve_one(void)
{
#if defined(__x86_64__)
	rec_unpark();
	struct vmt_ring_header *h = S.ring;
	/* checked again here: a thread the shim did not see created announces
	 * itself at its first hook, and waits for hooks in progress only so
	 * long (chg_go_multi) */
	if (__builtin_expect(h != NULL && !atomic_load_explicit(&S.multi, memory_order_relaxed),
			     1)) {
		uint64_t pos = atomic_load_explicit((_Atomic uint64_t *)&h->head, memory_order_relaxed);
		uint64_t tail = atomic_load_explicit(&S.tail_seen, memory_order_relaxed);
		if (pos + 2 - tail <= S.nslots && !rec_at_window(pos, 1)) {
			uint64_t seen = pos;
			__asm__ volatile("cmpxchgq %2, %1"
					 : "+a"(seen), "+m"(h->head)
					 : "r"(pos + 1)
					 : "cc", "memory");
			if (seen == pos)
				return rec_reserved(pos, 1);
		}
	}
#endif
	return rec_reserve(1, 0);
}
/* Slot pos of a block from rec_reserve, header filled like rec_begin; the
 * payload is zeroed unless the caller writes all of it (full). */
static inline struct vmt_rec *rec_at_full(uint64_t pos, uint16_t type, uint32_t cid, uint64_t ts,
					  int full)
{
	struct vmt_rec *r = &S.slots[pos & (S.nslots - 1)];
	/* The commit word is written last; clear the rest of the slot. */
	if (!full)
		memset(r->p.raw, 0, sizeof(r->p.raw));
	r->type = type;
	r->flags = 0;
	r->pid = (uint32_t)S.pid;
	r->tid = (uint32_t)shim_tid();
	r->cid = cid;
	r->dur = 0;
	r->ts = ts ? ts : shim_ticks();
	return r;
}
static inline struct vmt_rec *rec_at(uint64_t pos, uint16_t type, uint32_t cid, uint64_t ts)
{
	return rec_at_full(pos, type, cid, ts, 0);
}
/* Intern a string: returns its hash, emits VMT_STRING the first time. */
SHIM_HIDDEN uint64_t shim_string(const char *s, size_t n);
SHIM_HIDDEN int shim_ring_create(void);
SHIM_HIDDEN void shim_ring_close(void);
SHIM_HIDDEN void shim_after_fork_child(uint64_t fork_id, uint64_t t0, pid_t ppid);
SHIM_HIDDEN void shim_stamp(void);
SHIM_HIDDEN void shim_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* observe.c */
SHIM_HIDDEN int obs_open_maps(void);
SHIM_HIDDEN void obs_reopen_maps(void);
/* Emit the kernel's VMAs meeting [lo, hi) as list cid; returns VMAs listed or -1. */
SHIM_HIDDEN int obs_list(uint32_t cid, uintptr_t lo, uintptr_t hi, unsigned kind, unsigned cause);
/* A change no call announced (glibc made it inside a libc call): note [lo, hi), which must
 * hold all the change touched on its way, then list it (changes.c: why the note). */
SHIM_HIDDEN int obs_list_unannounced(uintptr_t lo, uintptr_t hi, unsigned kind, unsigned cause);
/* Full list from /proc/self/maps text: seed, discover or snapshot. */
SHIM_HIDDEN int obs_maps_list(uint32_t cid, unsigned kind, unsigned cause, const char *label);
SHIM_HIDDEN void obs_modules(void);
/* Query the VMA containing addr: 0 and [*start,*end), or -1. */
SHIM_HIDDEN int obs_vma_at(uintptr_t addr, uintptr_t *start, uintptr_t *end);
/* Checks for changes no call shows: main stack growth, program break. */
SHIM_HIDDEN void obs_check_stack(void);
SHIM_HIDDEN void obs_check_brk(unsigned cause);
SHIM_HIDDEN void obs_snapshot(unsigned cause, const char *label);
/* Take the deferred list of this thread (all: of every thread, and the
 * orphans) now; a list deferred again is retried for a while (bounded). */
SHIM_HIDDEN void obs_flush(int all);
/* List the deferred lists of threads that exited (pthread_join); how many. */
SHIM_HIDDEN int obs_flush_orphans(void);

/* hooks_proc.c */
SHIM_HIDDEN void threads_check_retired(void);
/* Fork child: locks another thread may have held (thread-stack table). */
SHIM_HIDDEN void shim_fork_child_reset(void);
/* syscall(SYS_fork / SYS_clone ...) followed like fork; 0: not handled. */
SHIM_HIDDEN int shim_fork_syscall(long nr, long a, long b, long c, long d, long e, long *ret);

SHIM_HIDDEN void shim_checkpoint(void);

/* hooks_io.c: syscall() numbers it makes and records (io_setup, io_destroy) */
SHIM_HIDDEN int io_syscall_nr(long nr);
SHIM_HIDDEN long io_syscall(long nr, long a, long b);

/* hooks_malloc.c: observe what a malloc-family result implies (arena heap, mmapped chunk, brk) */
SHIM_HIDDEN void malloc_observe(void *p);

/* stacks.c */
SHIM_HIDDEN void stacks_init(void);
SHIM_HIDDEN void stacks_emit(uint32_t cid, uint64_t ts);

/* changes.c: threads' slots, ranges of running and finished VMA changes,
 * deferred lists, the fork child's decision (see there). */
#define CHG_ALL 0ul, ~0ul
/* A thread's slot (changes.c). Only the owner writes it, but pend (taken by
 * any thread with an atomic exchange). One cache line. */
struct chg_slot {
	_Atomic int owned;
	_Atomic int busy;    /* a change of [lo, hi) is running */
	_Atomic int in_hook; /* nesting depth of hooks (fork child decision) */
	int pad0;
	_Atomic uintptr_t lo, hi;
	_Atomic uint64_t pend; /* deferred list, packed (chg_pack); 0: none */
} __attribute__((aligned(64)));
SHIM_HIDDEN void chg_begin_slow(uintptr_t lo, uintptr_t hi);
SHIM_HIDDEN void chg_end_slow(uintptr_t lo, uintptr_t hi);
SHIM_HIDDEN void chg_hook_enter_slow(void);
SHIM_HIDDEN void chg_hook_leave_slow(void);
SHIM_HIDDEN int chg_defer_slow(uintptr_t lo, uintptr_t hi);

/* A call that may change [lo, hi) starts / ended (single-threaded: nothing to do). */
static inline void chg_begin(uintptr_t lo, uintptr_t hi)
{
	if (__builtin_expect(!atomic_load_explicit(&S.multi, memory_order_relaxed) && T.slot, 1))
		return;
	chg_begin_slow(lo, hi);
}
static inline void chg_end(uintptr_t lo, uintptr_t hi)
{
	struct chg_slot *m = T.slot;
	if (__builtin_expect(m && !atomic_load_explicit(&m->busy, memory_order_relaxed) &&
				     !atomic_load_explicit(&S.multi, memory_order_relaxed),
			     1))
		return;
	chg_end_slow(lo, hi);
}
SHIM_HIDDEN void chg_note(uintptr_t lo, uintptr_t hi);
SHIM_HIDDEN uint64_t chg_mark(void);
SHIM_HIDDEN int chg_conflict(uint64_t g0, uintptr_t lo, uintptr_t hi);
/* Ranges logged since g0 or being changed by other threads now (at most max:
 * the last grows to cover the rest); -1: unknown. */
SHIM_HIDDEN int chg_changed_since(uint64_t g0, uintptr_t (*r)[2], int max);
/* This thread is inside a hook whose effect or record may straddle a fork
 * (only the owner writes in_hook: plain increments; a signal handler nests
 * and restores it). */
static inline void chg_hook_enter(void)
{
	struct chg_slot *m = T.slot;
	if (__builtin_expect(!m, 0)) {
		chg_hook_enter_slow();
		return;
	}
	int v = atomic_load_explicit(&m->in_hook, memory_order_relaxed);
	atomic_store_explicit(&m->in_hook, v + 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
}
static inline void chg_hook_leave(void)
{
	struct chg_slot *m = T.slot;
	if (__builtin_expect(!m, 0)) {
		chg_hook_leave_slow();
		return;
	}
	atomic_signal_fence(memory_order_seq_cst);
	int v = atomic_load_explicit(&m->in_hook, memory_order_relaxed);
	atomic_store_explicit(&m->in_hook, v - 1, memory_order_release);
}
/* [lo, hi) as one word: page number << 24 | pages (< 2^24); 0 if it does not fit. */
static inline uint64_t chg_pack(uintptr_t lo, uintptr_t hi)
{
	uint64_t pages = (hi - lo) / PAGE_SZ;
	if (hi <= lo || (lo & (PAGE_SZ - 1)) || pages >= (1u << 24) || (lo >> 12) >= (1ull << 40))
		return 0;
	return (uint64_t)(lo >> 12) << 24 | pages;
}
/* Deferred lists: one range per thread, listed later (obs_flush). Only the
 * owner makes pend nonzero: no locked instruction when it is 0. */
static inline int chg_defer(uintptr_t lo, uintptr_t hi)
{
	struct chg_slot *m = T.slot;
	uint64_t p;
	if (m && !atomic_load_explicit(&m->pend, memory_order_relaxed) &&
	    (p = chg_pack(PAGE_DOWN(lo), PAGE_UP(hi)))) {
		atomic_store_explicit(&m->pend, p, memory_order_release);
		return 1;
	}
	return chg_defer_slow(lo, hi);
}
SHIM_HIDDEN int chg_take(int slot, uintptr_t *lo, uintptr_t *hi); /* slot -1: own */
/* A deferred list left by a thread that exited (changes.c, orphans). */
SHIM_HIDDEN int chg_take_orphan(uintptr_t *lo, uintptr_t *hi);
/* A deferred list is waiting: this thread's (all: any thread's or an orphan). */
SHIM_HIDDEN int chg_any_pending(int all);
SHIM_HIDDEN int chg_nslots(void);
/* A second thread will run in the shim (pthread_create): leave the single-threaded path. */
SHIM_HIDDEN void chg_go_multi(void);
/* pthread_create: a thread whose stack nobody listed yet (+1 / -1). */
SHIM_HIDDEN void chg_unlisted_stack(int delta);
/* This thread ends: take its deferred list, free its slot. */
SHIM_HIDDEN void chg_thread_exit(void);
/*
 * Fork child (only the forking thread exists): what to list again so that the
 * parent's mirror as of VMT_FORK_PRE (ring position pre_pos) becomes the
 * child's map. Returns 1: everything (uncertain); 0: only the n ranges put
 * in r (at most max; more: 1). Resets the other threads' slots.
 */
SHIM_HIDDEN int chg_fork_child(uint64_t pre_pos, uintptr_t (*r)[2], int max, int *n);

/* A call being recorded: enter/leave the shim around the real call. */
struct shim_call {
	uint64_t t0, dur;
	uintptr_t clo, chi; /* range the call may change */
	uint32_t cid;
	int saved_errno;
	int nested; /* entered while already inside the shim */
	int exact;  /* munmap of exactly this thread's deferred range (no list needed) */
};

/* This thread has a deferred list (another thread may take it meanwhile:
 * call_take_pending copes). */
static inline int chg_has_pending(void)
{
	struct chg_slot *m = T.slot;
	return m && atomic_load_explicit(&m->pend, memory_order_relaxed) != 0;
}

static inline uint32_t call_cid(struct shim_call *c)
{
	if (!c->cid)
		c->cid = shim_cid();
	return c->cid;
}
SHIM_HIDDEN void call_take_pending(struct shim_call *c, int is_munmap);
/* Enter the shim for a call that may change [lo, hi) (takes the deferred list). */
static inline void call_begin(struct shim_call *c, uintptr_t lo, uintptr_t hi, int is_munmap)
{
	c->nested = T.depth > 0;
	T.depth++;
	chg_hook_enter(); /* before the deferred list is taken (changes.c: fork) */
	c->cid = 0;	  /* given when something refers to the call (call_cid) */
	c->exact = 0;
	c->clo = lo;
	c->chi = hi;
	if (__builtin_expect(chg_has_pending(), 0))
		call_take_pending(c, is_munmap);
	c->t0 = shim_ticks();
}
static inline void call_end(struct shim_call *c)
{
	(void)c;
	chg_hook_leave();
	T.depth--;
}
/* A duration for the record's 32-bit dur field (saturating). */
static inline uint32_t dur32(uint64_t d) { return d > 0xffffffffull ? 0xffffffffu : (uint32_t)d; }
/* How rec_mem reserves and commits. */
enum rec_how {
	REC_ANY,       /* any thread (rec_reserve) */
	REC_FAST,      /* the fast path's reservation (rec_reserve_one) */
	REC_FAST_PARK, /* REC_FAST, and the record is parked (rec_park) */
};
/* Write a memory-call record: reserve, all 64 payload bytes, commit. */
static inline void rec_mem(enum rec_how how, uint16_t type, uint32_t cid, uint64_t t0,
			   uint64_t dur, uint16_t flags, uint64_t a0, uint64_t a1, uint64_t a2,
			   uint64_t a3, uint64_t a4, uint64_t a5, int64_t ret, int err, uint32_t extra)
{
	uint64_t pos = how == REC_ANY ? rec_reserve(1, 0) : rec_reserve_one();
	if (pos == ~0ull)
		return;
	struct vmt_rec *r = rec_at_full(pos, type, cid, t0, 1);
	r->dur = dur32(dur);
	r->flags = flags;
	r->p.mem.a0 = a0;
	r->p.mem.a1 = a1;
	r->p.mem.a2 = a2;
	r->p.mem.a3 = a3;
	r->p.mem.a4 = a4;
	r->p.mem.a5 = a5;
	r->p.mem.ret = ret;
	r->p.mem.err = err;
	r->p.mem.extra = extra;
	if (how == REC_FAST_PARK)
		rec_park(r, pos);
	else
		rec_commit(r, pos);
}
/* Emit a memory-call record (and its stack) for c. */
static inline void call_record_mem(struct shim_call *c, uint16_t type, uint64_t a0, uint64_t a1,
				   uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, int64_t ret,
				   int err, uint32_t extra, int listed)
{
	if (listed || (!c->nested && S.stack_depth))
		call_cid(c);
	rec_mem(REC_ANY, type, c->cid, c->t0, c->dur,
		(uint16_t)((c->nested ? VMT_F_INTERNAL : 0) | (err ? VMT_F_FAILED : 0) |
			   (listed ? VMT_F_LISTED : 0)),
		a0, a1, a2, a3, a4, a5, ret, err, extra);
	if (!c->nested && S.stack_depth)
		stacks_emit(c->cid, c->t0);
}

/*
 * The call-record pattern of the hooks that change VMAs (hooks_mem.c,
 * hooks_io.c): vma_hook_ok() says whether to record (it starts the shim on
 * the first call; a nested call records, marked internal); BEGIN_R(lo, hi)
 * enters the shim for a call that may change [lo, hi); AFTER() keeps errno
 * in e and the call's duration; END() leaves, errno restored.
 */
static inline int vma_hook_ok(void)
{
	if (__builtin_expect(atomic_load_explicit(&S.state, memory_order_relaxed) == SHIM_OFF, 0) &&
	    !T.vfork_child)
		shim_init();
	if (shim_active())
		return 1;
	shim_passthrough();
	return 0;
}
/* A raw syscall's result the libc way: -1 and errno for -4095..-1. */
static inline long raw_ret(long r)
{
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}
#define BEGIN_M(lo, hi, is_munmap)                                                                 \
	struct shim_call c;                                                                        \
	call_begin(&c, (uintptr_t)(lo), (uintptr_t)(hi), is_munmap);                               \
	chg_begin(c.clo, c.chi)
#define BEGIN_R(lo, hi) BEGIN_M(lo, hi, 0)
#define BEGIN() BEGIN_R(0, ~0ul)
#define AFTER()                                                                                    \
	do {                                                                                       \
		e = errno;                                                                         \
		c.dur = S.durations ? shim_ticks() - c.t0 : 0;                                     \
		chg_end(c.clo, c.chi);                                                             \
	} while (0)
#define END()                                                                                      \
	do {                                                                                       \
		call_end(&c);                                                                      \
		errno = e;                                                                         \
	} while (0)
/* The observed list of [a, a+len) after call cid. */
static inline void list_range(uint32_t cid, uintptr_t a, size_t len)
{
	obs_list(cid, PAGE_DOWN(a), PAGE_UP(a + len), VMT_LIST_OBSERVE, VMT_CAUSE_CALL);
}

#endif
