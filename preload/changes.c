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

#include <pthread.h>
#include <sched.h>

#define NLOG 1024
#define NSLOTS 256

static struct {
	_Atomic uint64_t seq;
	_Atomic uintptr_t lo, hi;
} chlog[NLOG];

struct cslot {
	_Atomic int owned;
	_Atomic int busy;    /* a change of [lo, hi) is running */
	_Atomic int in_hook; /* nesting depth of hooks (fork child decision) */
	int pad0;
	_Atomic uintptr_t lo, hi;
	_Atomic uint64_t pend; /* deferred list, packed (pack()); 0: none */
} __attribute__((aligned(64)));

static struct cslot slots[NSLOTS];
static _Atomic int nslots_used;	    /* high-water mark */
static _Atomic int unslotted;	    /* calls in flight from threads without a slot */
static _Atomic int unslotted_hooks; /* hooks in progress in threads without a slot */
static _Atomic int unlisted_stacks; /* threads created whose stack is not listed yet */
static __thread int my_slot = -1;
static __thread int slot_tried;
__thread uint64_t chg_my_pending;
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
	return my_slot;
}

void chg_begin(uintptr_t lo, uintptr_t hi)
{
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
	uint64_t s = atomic_fetch_add_explicit(&S.gen, 1, memory_order_acq_rel) + 1;
	atomic_store_explicit(&chlog[s % NLOG].lo, lo, memory_order_relaxed);
	atomic_store_explicit(&chlog[s % NLOG].hi, hi, memory_order_relaxed);
	atomic_store_explicit(&chlog[s % NLOG].seq, s, memory_order_release);
}

void chg_end(uintptr_t lo, uintptr_t hi)
{
	chg_note(lo, hi);
	int s = my_slot;
	if (s < 0)
		atomic_fetch_sub(&unslotted, 1);
	else
		atomic_store_explicit(&slots[s].busy, 0, memory_order_release);
}

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

int chg_changed_since(uint64_t g0, uintptr_t (*r)[2], int max)
{
	int k = 0;
	uint64_t g1 = chg_mark();
	if (g1 - g0 > NLOG || atomic_load(&unslotted) > 0)
		return -1;
	for (uint64_t s = g0 + 1; s <= g1; s++) {
		if (atomic_load_explicit(&chlog[s % NLOG].seq, memory_order_acquire) != s || k == max)
			return -1;
		r[k][0] = atomic_load(&chlog[s % NLOG].lo);
		r[k][1] = atomic_load(&chlog[s % NLOG].hi);
		k++;
	}
	int n = atomic_load(&nslots_used);
	for (int i = 0; i < n; i++)
		if (i != my_slot && atomic_load_explicit(&slots[i].busy, memory_order_seq_cst)) {
			if (k == max)
				return -1;
			r[k][0] = atomic_load(&slots[i].lo);
			r[k][1] = atomic_load(&slots[i].hi);
			k++;
		}
	for (int i = 0; i < k; i++)
		if (r[i][0] == 0 && r[i][1] == ~0ul)
			return -1;
	return k;
}

/* ---- hooks in progress ---- */

void chg_hook_enter(void)
{
	int s = slot();
	if (s < 0) {
		atomic_fetch_add(&unslotted_hooks, 1);
		return;
	}
	/* only the owner writes it: a plain increment (a signal handler nests
	 * and restores it before this thread runs on) */
	int v = atomic_load_explicit(&slots[s].in_hook, memory_order_relaxed);
	atomic_store_explicit(&slots[s].in_hook, v + 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
}

void chg_hook_leave(void)
{
	int s = my_slot;
	atomic_signal_fence(memory_order_seq_cst);
	if (s < 0) {
		atomic_fetch_sub(&unslotted_hooks, 1);
		return;
	}
	int v = atomic_load_explicit(&slots[s].in_hook, memory_order_relaxed);
	atomic_store_explicit(&slots[s].in_hook, v - 1, memory_order_release);
}

void chg_unlisted_stack(int delta) { atomic_fetch_add(&unlisted_stacks, delta); }

/* ---- deferred lists ---- */

/* [lo, hi) as one word: page number << 24 | pages (< 2^24); 0 if it does not fit. */
static uint64_t pack(uintptr_t lo, uintptr_t hi)
{
	uint64_t pages = (hi - lo) / PAGE_SZ;
	if (hi <= lo || (lo & (PAGE_SZ - 1)) || pages >= (1u << 24) || (lo >> 12) >= (1ull << 40))
		return 0;
	return (uint64_t)(lo >> 12) << 24 | pages;
}

static void unpack(uint64_t p, uintptr_t *lo, uintptr_t *hi)
{
	*lo = (uintptr_t)(p >> 24) << 12;
	*hi = *lo + (uintptr_t)(p & ((1u << 24) - 1)) * PAGE_SZ;
}

int chg_defer(uintptr_t lo, uintptr_t hi)
{
	int s = slot();
	if (s < 0)
		return 0;
	uint64_t old = atomic_exchange(&slots[s].pend, 0);
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
		chg_my_pending = old;
		return 0;
	}
	atomic_store(&slots[s].pend, p);
	chg_my_pending = p;
	return 1;
}

int chg_take(int s, uintptr_t *lo, uintptr_t *hi)
{
	if (s < 0) {
		s = my_slot;
		chg_my_pending = 0;
		if (s < 0)
			return 0;
	}
	if (!atomic_load_explicit(&slots[s].pend, memory_order_relaxed))
		return 0;
	uint64_t p = atomic_exchange(&slots[s].pend, 0);
	if (!p)
		return 0;
	unpack(p, lo, hi);
	return 1;
}

int chg_nslots(void) { return atomic_load(&nslots_used); }

void chg_thread_exit(void)
{
	int s = my_slot;
	if (s < 0)
		return;
	if (shim_active() && shim_depth == 0) {
		shim_depth++;
		obs_flush(0);
		shim_depth--;
	}
	if (atomic_load(&slots[s].pend)) /* not active: nobody will list it */
		atomic_store(&slots[s].pend, 0);
	chg_my_pending = 0;
	atomic_store(&slots[s].busy, 0);
	atomic_store(&slots[s].in_hook, 0);
	my_slot = -1; /* later hooks of this thread (other destructors): unslotted */
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
	if (full)
		shim_debug("fork child: whole map (%s%s%s)", full & 1 ? "records after the copy " : "",
			   full & 2 ? "unslotted or unlisted stack " : "",
			   full & 4 ? "other thread in a hook" : "");
	return full != 0;
}
