/*
 * changes.c - orders concurrent observations without a lock, and keeps what
 * a fork child needs to know about the other threads.
 *
 * Threads change VMAs and take VMA lists concurrently; a list must never
 * reach the ring after the record of a change it did not see. Every call
 * that may change VMAs announces the range it may touch while it runs
 * (chg_begin: the thread's slot) and logs the range it did touch when it is
 * done (chg_end: a 1024-entry log indexed by a change counter, S.gen). After
 * emitting a list, the observer checks for changes that completed since it
 * started or are still running and that meet (one page around) the listed
 * range; if there are any it lists again, over everything the stale list
 * covered (observe.c, obs_list), and after too many rounds it defers the
 * list (below). Unknown ranges are [0, ~0): they conflict with everything.
 *
 * Slots: one per thread (256; threads beyond that are "unslotted" and
 * conflict with everything), 64 bytes each, written only by their owner
 * except for the deferred list, which any thread may take (atomic
 * exchange). A slot is freed when its thread exits (a pthread key
 * destructor), after its deferred list is taken.
 *
 * Deferred lists: a call whose exact list can wait (an anonymous private
 * mmap: only merges with its neighbours are unknown) leaves its range in the
 * slot instead of listing it; the thread lists it at its next hook, unless
 * that hook is the munmap of exactly that range (the mirror is then exact
 * without a list). Snapshots, exec and exit take every thread's deferred list
 * first (obs_flush). At most one per thread.
 *
 * The fork child's decision (chg_fork_child): vmatop copies the parent's
 * mirror at VMT_FORK_PRE (ring position pre_pos). That copy is the child's
 * map iff nothing reached the ring after pre_pos before the fork (S.last_pos,
 * stored at every reservation, is still pre_pos in the child's copy of
 * memory), no other thread was inside a hook (slot in_hook: a hook's effect
 * and its record may straddle the fork, e.g. a mapping glibc made inside
 * malloc and not yet listed), and no thread stack was still unlisted
 * (pthread_create until the new thread lists it). Then the child only lists
 * the deferred ranges again; otherwise its whole map.
 */
#include "shim.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>

#define NLOG 1024
#define NSLOTS 256

static struct {
	_Atomic uint64_t seq;
	_Atomic uintptr_t lo, hi;
} chlog[NLOG];

static struct chg_slot slots[NSLOTS]; /* struct chg_slot: shim.h (inline fast paths) */
/*
 * Single-threaded fast path: while only one thread has ever been in the
 * shim, nobody can list concurrently, so calls neither announce nor log
 * their changes. The first time a second thread appears (pthread_create, or
 * a slot taken by another thread) chg_go_multi() flips `multi`, forces a
 * memory barrier on every thread of the process (membarrier) and waits until
 * no other thread is inside a hook: a hook that began before the flip (and
 * did not announce) is over, and every later one sees `multi` set.
 */
#define multi S.multi
static _Atomic int nslots_used;	    /* high-water mark */
static _Atomic int unslotted;	    /* calls in flight from threads without a slot */
static _Atomic int unslotted_hooks; /* hooks in progress in threads without a slot */
static _Atomic int unlisted_stacks; /* threads created whose stack is not listed yet */
static __thread int my_slot = -1;
static __thread int slot_tried;
static pthread_key_t slot_key;
static _Atomic int key_state; /* 0 none, 1 creating, 2 ready, 3 failed */

static void slot_dtor(void *arg)
{
	(void)arg;
	chg_thread_exit();
}

static void key_init(void)
{
	int z = 0;
	if (!atomic_compare_exchange_strong(&key_state, &z, 1))
		return;
	atomic_store(&key_state, pthread_key_create(&slot_key, slot_dtor) == 0 ? 2 : 3);
}

void chg_go_multi(void)
{
	if (atomic_load(&multi) || atomic_exchange(&multi, 1))
		return;
	if (shim_raw_syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0, 0, 0,
			     0) ||
	    shim_raw_syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0, 0, 0, 0)) {
		struct timespec d = {0, 1000000}; /* no membarrier: stores drain long before */
		nanosleep(&d, NULL);
	}
	int n = atomic_load(&nslots_used);
	for (int i = 0; i < n; i++)
		for (int w = 0; i != my_slot && w < 5000 &&
				atomic_load_explicit(&slots[i].in_hook, memory_order_acquire);
		     w++)
			sched_yield(); /* a hook that may not have announced: let it end */
}

static inline int single(void) { return !atomic_load_explicit(&multi, memory_order_relaxed); }

static int slot(void)
{
	if (my_slot >= 0 || slot_tried)
		return my_slot;
	slot_tried = 1;
	int n = atomic_load(&nslots_used);
	for (int i = 0; i < NSLOTS; i++) {
		int z = 0;
		if (atomic_load_explicit(&slots[i].owned, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_strong(&slots[i].owned, &z, 1)) {
			my_slot = i;
			T.slot = &slots[i];
			while (n < i + 1 && !atomic_compare_exchange_weak(&nslots_used, &n, i + 1))
				;
			break;
		}
	}
	if (my_slot >= 0) {
		if (atomic_load(&key_state) == 0)
			key_init();
		if (atomic_load(&key_state) == 2)
			pthread_setspecific(slot_key, (void *)1);
	}
	if (single()) { /* another thread in the shim, now or before: multi-threaded */
		int other = my_slot < 0;
		for (int i = 0; i < atomic_load(&nslots_used) && !other; i++)
			other = i != my_slot && atomic_load(&slots[i].owned);
		if (other)
			chg_go_multi();
	}
	return my_slot;
}

void chg_begin_slow(uintptr_t lo, uintptr_t hi)
{
	if (single() && slot() >= 0 && single())
		return;
	int s = slot();
	if (s < 0) {
		atomic_fetch_add(&unslotted, 1);
		return;
	}
	atomic_store_explicit(&slots[s].lo, lo, memory_order_relaxed);
	atomic_store_explicit(&slots[s].hi, hi, memory_order_relaxed);
#if defined(__x86_64__)
	/* Observers must see busy before they can see the call's effect. The
	 * real call that follows is a syscall whose mmap_lock acquisition is a
	 * locked instruction: on x86 it drains this store first. */
	atomic_store_explicit(&slots[s].busy, 1, memory_order_release);
#else
	atomic_store_explicit(&slots[s].busy, 1, memory_order_seq_cst);
#endif
}

void chg_note(uintptr_t lo, uintptr_t hi)
{
	if (single())
		return;
	uint64_t s = atomic_fetch_add_explicit(&S.gen, 1, memory_order_acq_rel) + 1;
	atomic_store_explicit(&chlog[s % NLOG].lo, lo, memory_order_relaxed);
	atomic_store_explicit(&chlog[s % NLOG].hi, hi, memory_order_relaxed);
	atomic_store_explicit(&chlog[s % NLOG].seq, s, memory_order_release);
}

void chg_end_slow(uintptr_t lo, uintptr_t hi)
{
	int s = my_slot;
	if (s >= 0 && !atomic_load_explicit(&slots[s].busy, memory_order_relaxed) && single())
		return; /* began single-threaded: nothing announced */
	chg_note(lo, hi);
	if (s < 0)
		atomic_fetch_sub(&unslotted, 1);
	else
		atomic_store_explicit(&slots[s].busy, 0, memory_order_release);
}
/* (a call that began single-threaded and ends multi-threaded only logs: its
 * slot was not busy; chg_go_multi waited for it) */

uint64_t chg_mark(void) { return atomic_load_explicit(&S.gen, memory_order_acquire); }

static int meets(uintptr_t a, uintptr_t b, uintptr_t lo, uintptr_t hi)
{
	lo = lo > PAGE_SZ ? lo - PAGE_SZ : 0;
	hi = hi < ~0ul - PAGE_SZ ? hi + PAGE_SZ : ~0ul;
	return a < hi && b > lo;
}

/*
 * A call of unknown range (an mmap without MAP_FIXED) conflicts with every
 * list while it runs; once it ends its log entry says where it mapped. So
 * rather than list again at once, wait a little (a few yields: it is in a
 * short syscall) and look at the log. Bounded: a call that does not end soon
 * (blocked, stopped) is a conflict.
 */
#define UNKNOWN_WAITS 16

int chg_conflict(uint64_t g0, uintptr_t lo, uintptr_t hi)
{
	if (single())
		return 0;
	for (int wait = 0;; wait++) {
		int unknown = 0;
		int n = atomic_load(&nslots_used);
		for (int i = 0; i < n; i++) {
			if (i == my_slot || !atomic_load_explicit(&slots[i].busy, memory_order_seq_cst))
				continue;
			uintptr_t a = atomic_load(&slots[i].lo), b = atomic_load(&slots[i].hi);
			if (!meets(a, b, lo, hi))
				continue;
			if (a == 0 && b == ~0ul && wait < UNKNOWN_WAITS) {
				unknown = 1;
				continue;
			}
			return 1;
		}
		if (!unknown)
			break;
		sched_yield();
	}
	if (atomic_load(&unslotted) > 0)
		return 1;
	uint64_t g1 = chg_mark();
	if (g1 - g0 > NLOG)
		return 1;
	for (uint64_t s = g0 + 1; s <= g1; s++) {
		if (atomic_load_explicit(&chlog[s % NLOG].seq, memory_order_acquire) != s)
			return 1;
		if (meets(atomic_load(&chlog[s % NLOG].lo), atomic_load(&chlog[s % NLOG].hi), lo, hi))
			return 1;
	}
	return 0;
}

/* Add [lo, hi) to the ranges in r (k of them, at most max): when r is full,
 * the last one grows to cover it too (listing more than changed is exact). */
static int add_range(uintptr_t (*r)[2], int k, int max, uintptr_t lo, uintptr_t hi)
{
	if (k < max) {
		r[k][0] = lo;
		r[k][1] = hi;
		return k + 1;
	}
	r[max - 1][0] = lo < r[max - 1][0] ? lo : r[max - 1][0];
	r[max - 1][1] = hi > r[max - 1][1] ? hi : r[max - 1][1];
	return k;
}

int chg_changed_since(uint64_t g0, uintptr_t (*r)[2], int max)
{
	int k = 0;
	uint64_t g1 = chg_mark();
	if (max < 1 || g1 - g0 > NLOG || atomic_load(&unslotted) > 0)
		return -1;
	for (uint64_t s = g0 + 1; s <= g1; s++) {
		if (atomic_load_explicit(&chlog[s % NLOG].seq, memory_order_acquire) != s)
			return -1;
		k = add_range(r, k, max, atomic_load(&chlog[s % NLOG].lo),
			      atomic_load(&chlog[s % NLOG].hi));
	}
	int n = atomic_load(&nslots_used);
	for (int i = 0; i < n; i++)
		if (i != my_slot && atomic_load_explicit(&slots[i].busy, memory_order_seq_cst))
			k = add_range(r, k, max, atomic_load(&slots[i].lo), atomic_load(&slots[i].hi));
	for (int i = 0; i < k; i++)
		if (r[i][0] == 0 && r[i][1] == ~0ul)
			return -1;
	return k;
}

/* ---- hooks in progress ---- */

/* (the common case, a thread with a slot, is inline in shim.h) */
void chg_hook_enter_slow(void)
{
	int s = slot();
	if (s < 0) {
		atomic_fetch_add(&unslotted_hooks, 1);
		return;
	}
	int v = atomic_load_explicit(&slots[s].in_hook, memory_order_relaxed);
	atomic_store_explicit(&slots[s].in_hook, v + 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
}

void chg_hook_leave_slow(void)
{
	atomic_signal_fence(memory_order_seq_cst);
	atomic_fetch_sub(&unslotted_hooks, 1);
}

void chg_unlisted_stack(int delta) { atomic_fetch_add(&unlisted_stacks, delta); }

/* ---- deferred lists ---- */

#define pack chg_pack

static void unpack(uint64_t p, uintptr_t *lo, uintptr_t *hi)
{
	*lo = (uintptr_t)(p >> 24) << 12;
	*hi = *lo + (uintptr_t)(p & ((1u << 24) - 1)) * PAGE_SZ;
}

int chg_defer_slow(uintptr_t lo, uintptr_t hi)
{
	int s = slot();
	if (s < 0)
		return 0;
	/* only the owner makes it nonzero: no locked exchange when it is 0 */
	uint64_t old = atomic_load_explicit(&slots[s].pend, memory_order_relaxed);
	if (old)
		old = atomic_exchange(&slots[s].pend, 0);
	if (old) { /* merge with one already deferred (another thread did not take it) */
		uintptr_t a, b;
		unpack(old, &a, &b);
		lo = a < lo ? a : lo;
		hi = b > hi ? b : hi;
	}
	uint64_t p = pack(PAGE_DOWN(lo), PAGE_UP(hi));
	if (!p) {
		if (old) /* put it back: the caller lists [lo, hi) now */
			atomic_store(&slots[s].pend, old);
		return 0;
	}
	atomic_store_explicit(&slots[s].pend, p, memory_order_release);
	return 1;
}

int chg_take(int s, uintptr_t *lo, uintptr_t *hi)
{
	if (s < 0) {
		s = my_slot;
		if (s < 0)
			return 0;
	}
	uint64_t p = atomic_load_explicit(&slots[s].pend, memory_order_relaxed);
	if (!p)
		return 0;
	if (single()) /* no other taker (a nested signal handler at worst lists it twice) */
		atomic_store_explicit(&slots[s].pend, 0, memory_order_relaxed);
	else if (!(p = atomic_exchange(&slots[s].pend, 0)))
		return 0;
	unpack(p, lo, hi);
	return 1;
}

int chg_nslots(void) { return atomic_load(&nslots_used); }

/*
 * Orphans: deferred lists of threads that exited before they could list
 * them (another thread kept changing the range: obs_list deferred it again).
 * Dropping one would leave its stale list in the mirror for good; the next
 * obs_flush(1) (fork, exec, exit, snapshot) or pthread_join lists it.
 */
#define NORPHANS 8
static _Atomic uint64_t orphans[NORPHANS];

static void orphan_put(uint64_t p)
{
	for (int i = 0; i < NORPHANS; i++) {
		uint64_t z = 0;
		if (atomic_compare_exchange_strong(&orphans[i], &z, p))
			return;
	}
	/* all taken: one range over both (listing more than changed is exact) */
	uint64_t old = atomic_exchange(&orphans[0], 0);
	uintptr_t a, b, c, d;
	unpack(p, &a, &b);
	if (old) {
		unpack(old, &c, &d);
		a = c < a ? c : a;
		b = d > b ? d : b;
	}
	uint64_t u = pack(a, b);
	if (!u || !atomic_compare_exchange_strong(&orphans[0], &(uint64_t){0}, u))
		shim_debug("deferred list %lx-%lx of an exited thread: no room, dropped",
			   (unsigned long)a, (unsigned long)b);
}

int chg_take_orphan(uintptr_t *lo, uintptr_t *hi)
{
	for (int i = 0; i < NORPHANS; i++) {
		uint64_t p = atomic_load_explicit(&orphans[i], memory_order_relaxed);
		if (p && (p = atomic_exchange(&orphans[i], 0))) {
			unpack(p, lo, hi);
			return 1;
		}
	}
	return 0;
}

int chg_any_pending(int all)
{
	if (!all)
		return my_slot >= 0 && atomic_load(&slots[my_slot].pend) != 0;
	int n = atomic_load(&nslots_used);
	for (int i = 0; i < n; i++)
		if (atomic_load(&slots[i].pend))
			return 1;
	for (int i = 0; i < NORPHANS; i++)
		if (atomic_load(&orphans[i]))
			return 1;
	return 0;
}

void chg_thread_exit(void)
{
	int s = my_slot;
	if (s < 0)
		return;
	if (shim_active() && T.depth == 0) {
		T.depth++;
		obs_flush(0);
		T.depth--;
	}
	uint64_t p = atomic_exchange(&slots[s].pend, 0);
	if (p && shim_active()) /* still changing under it: someone lists it later */
		orphan_put(p);
	atomic_store(&slots[s].busy, 0);
	atomic_store(&slots[s].in_hook, 0);
	my_slot = -1; /* later hooks of this thread (other destructors): unslotted */
	T.slot = NULL;
	atomic_store_explicit(&slots[s].owned, 0, memory_order_release);
}

/* ---- fork child ---- */

int chg_fork_child(uint64_t pre_pos, uintptr_t (*r)[2], int max, int *n)
{
	int full = 0;
	*n = 0;
	if (pre_pos == ~0ull || atomic_load(&S.last_pos) != pre_pos)
		full = 1; /* records after VMT_FORK_PRE: not in vmatop's copy */
	if (atomic_load(&unslotted_hooks) > 0 || atomic_load(&unslotted) > 0 ||
	    atomic_load(&unlisted_stacks) > 0)
		full |= 2;
	for (int i = 0; i < NSLOTS; i++) {
		if (i == my_slot)
			continue;
		if (atomic_load(&slots[i].in_hook) || atomic_load(&slots[i].busy))
			full |= 4;
		uintptr_t lo, hi;
		if (chg_take(i, &lo, &hi)) {
			if (*n < max) {
				r[*n][0] = lo;
				r[*n][1] = hi;
				(*n)++;
			} else {
				full = 1;
			}
		}
		/* the thread does not exist here */
		atomic_store(&slots[i].busy, 0);
		atomic_store(&slots[i].in_hook, 0);
		atomic_store(&slots[i].owned, 0);
	}
	atomic_store(&unslotted, 0);
	atomic_store(&unslotted_hooks, 0);
	atomic_store(&unlisted_stacks, 0);
	atomic_store(&nslots_used, my_slot + 1);
	if (my_slot >= 0)
		atomic_store(&slots[my_slot].busy, 0);
	atomic_store(&multi, 0); /* alone now */
	if (full)
		shim_debug("fork child: whole map (%s%s%s)", full & 1 ? "records after the copy " : "",
			   full & 2 ? "unslotted or unlisted stack " : "",
			   full & 4 ? "other thread in a hook" : "");
	return full != 0;
}
