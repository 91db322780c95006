/*
 * changes.c - orders concurrent observations without a lock.
 *
 * Threads change VMAs and take VMA lists concurrently; a list must never
 * reach the ring after the record of a change it did not see. Every call
 * that may change VMAs announces the range it may touch while it runs
 * (chg_begin: a per-thread slot) and logs the range it did touch when it
 * is done (chg_end: a 1024-entry log indexed by a change counter). After
 * emitting a list, the observer checks for changes that completed since it
 * started or are still running and that meet (one page around) the listed
 * range; if there are any, it lists again (the later list supersedes).
 *
 * Owns S.gen (the counter), the log and the per-thread slots. Unknown
 * ranges are [0, ~0): they conflict with everything.
 */
#include "shim.h"

#define NLOG 1024
#define NSLOTS 256

static struct {
	_Atomic uint64_t seq;
	_Atomic uintptr_t lo, hi;
} chlog[NLOG];

static struct {
	_Atomic int owned, busy;
	_Atomic uintptr_t lo, hi;
} slots[NSLOTS];
static _Atomic int nslots_used;
static _Atomic int unslotted; /* calls in flight from threads without a slot */
static __thread int my_slot = -1;
static __thread int slot_tried;

static int slot(void)
{
	if (my_slot >= 0 || slot_tried)
		return my_slot;
	slot_tried = 1;
	int n = atomic_load(&nslots_used);
	for (int i = 0; i < NSLOTS; i++) {
		int z = 0;
		if (atomic_compare_exchange_strong(&slots[i].owned, &z, 1)) {
			my_slot = i;
			while (n < i + 1 && !atomic_compare_exchange_weak(&nslots_used, &n, i + 1))
				;
			break;
		}
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
	atomic_store_explicit(&slots[s].busy, 1, memory_order_seq_cst);
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

int chg_conflict(uint64_t g0, uintptr_t lo, uintptr_t hi)
{
	int n = atomic_load(&nslots_used);
	for (int i = 0; i < n; i++)
		if (i != my_slot && atomic_load_explicit(&slots[i].busy, memory_order_seq_cst) &&
		    meets(atomic_load(&slots[i].lo), atomic_load(&slots[i].hi), lo, hi))
			return 1;
	if (atomic_load(&unslotted) > (my_slot < 0 && shim_depth > 0 ? 1 : 0))
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

/*
 * fork child: only the forking thread exists; no call is in flight any more.
 * Returns 1 if some other thread was inside a change when the fork happened
 * (its effect may or may not be in the child).
 */
int chg_after_fork(void)
{
	/* any other thread that ever changed VMAs: its records between
	 * VMT_FORK_PRE and the fork are not in the child's copy */
	int busy = atomic_load(&unslotted) > 0 || atomic_load(&nslots_used) > 1;
	for (int i = 0; i < NSLOTS; i++) {
		if (i != my_slot && atomic_load(&slots[i].busy))
			busy = 1;
		if (i != my_slot)
			atomic_store(&slots[i].busy, 0);
	}
	atomic_store(&unslotted, 0);
	return busy;
}
