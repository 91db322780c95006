/*
 * hooks_malloc.c - the malloc family, interposed only to see the mappings
 * glibc's allocator makes and removes internally (they bypass our mmap
 * hook): mmapped chunks (large blocks), the main arena's program break and
 * the heaps of the per-thread arenas.
 *
 * Owns the glibc 2.26+ chunk-header knowledge (x86_64/aarch64 LP64):
 *   size word at p - 8: bit 1 IS_MMAPPED, bit 2 NON_MAIN_ARENA;
 *   mmapped chunk: mapping = [chunk - prev_size, chunk + size), chunk = p - 16;
 *   arena heap: heap_info at p & ~(HEAP_MAX - 1) (64 MiB), its mprotect_size
 *   (4th word) grows when glibc extends the heap's read-write part.
 * Allocation goes straight to glibc's exported __libc_* functions: no
 * dlsym, so these hooks are safe before the shim is initialised (they only
 * observe once it is ready).
 */
#include "shim.h"

#include <errno.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

#define IS_MMAPPED 2ul
#define NON_MAIN_ARENA 4ul
#define HEAP_MAX (64ul << 20)
#define CONSOLIDATE_MIN (64ul << 10)

static inline int m_active(void) { return shim_active(); }

/*
 * Not recording (in a vfork child, inside fork, or the shim is off): a call
 * that mapped (a mmapped chunk, the break moved, a thread arena) is noted, so
 * that whoever resumes lists the whole map (shim_passthrough).
 */
static void m_inactive(void *p)
{
	if (!(T.vfork_child | T.in_fork))
		return;
	extern void *__curbrk;
	int mapped = (uintptr_t)__curbrk != S.brk_seen;
	if (p)
		mapped |= (((size_t *)p)[-1] & (IS_MMAPPED | NON_MAIN_ARENA)) != 0;
	if (mapped)
		shim_passthrough();
}

#define NHEAPS 256
static struct {
	_Atomic uintptr_t base;
	_Atomic size_t mprot;
} heaps[NHEAPS];

static void heap_check(uintptr_t heap, int force)
{
	size_t mprot = ((size_t *)heap)[3];
	unsigned i0 = (unsigned)(heap >> 26) & (NHEAPS - 1);
	int slot = -1, found = 0;
	for (unsigned k = 0; k < 8; k++) {
		unsigned i = (i0 + k) & (NHEAPS - 1);
		uintptr_t b = atomic_load_explicit(&heaps[i].base, memory_order_relaxed);
		if (b == heap) {
			if (!force && atomic_load_explicit(&heaps[i].mprot, memory_order_relaxed) == mprot)
				return;
			slot = (int)i;
			found = 1;
			break;
		}
		if (b == 0 && slot < 0) {
			uintptr_t z = 0;
			if (atomic_compare_exchange_strong(&heaps[i].base, &z, heap))
				slot = (int)i;
		}
	}
	if (slot >= 0)
		atomic_store_explicit(&heaps[slot].mprot, mprot, memory_order_relaxed);
	/* A new heap: glibc mapped twice HEAP_MAX and unmapped what lay outside
	 * the aligned heap, a change of [heap - HEAP_MAX, heap + 2 HEAP_MAX) at most. */
	int fresh = slot >= 0 && !found;
	uintptr_t lo = fresh && heap > HEAP_MAX ? heap - HEAP_MAX : heap;
	uintptr_t hi = fresh ? heap + 2 * HEAP_MAX : heap + HEAP_MAX;
	obs_list_unannounced(lo, hi, VMT_LIST_INDIRECT, VMT_CAUSE_MALLOC);
}

static __thread int m_probed; /* this thread's arena has been looked at */
static void after_alloc(void *p);

/*
 * glibc makes a thread's arena inside its first malloc-family call, whatever
 * it is (a free, a large mmapped malloc): look at the arena once per thread.
 */
static void probe_arena(void)
{
	m_probed = 1;
	void *probe = __libc_malloc(32);
	after_alloc(probe);
	__libc_free(probe);
}

static void after_alloc(void *p)
{
	if (!m_probed)
		probe_arena();
	if (p) {
		size_t h = ((size_t *)p)[-1];
		if (h & IS_MMAPPED) {
			uintptr_t chunk = (uintptr_t)p - 16;
			size_t prev = ((size_t *)p)[-2];
			obs_list_unannounced(chunk - prev, chunk + (h & ~7ul), VMT_LIST_INDIRECT,
					     VMT_CAUSE_MALLOC);
		} else if (h & NON_MAIN_ARENA) {
			heap_check((uintptr_t)p & ~(HEAP_MAX - 1), 0);
		}
	}
	obs_check_brk(VMT_CAUSE_MALLOC);
}

void malloc_observe(void *p) { after_alloc(p); }

/* Reserved before glibc unmaps (see munmap in hooks_mem.c), committed after. */
static struct vmt_rec *unmap_begin(uintptr_t lo, uintptr_t hi, uint64_t *pos)
{
	struct vmt_rec *r = rec_begin(VMT_UNMAP_RANGE, shim_cid(), 0, 0, pos);
	if (!r)
		return NULL;
	r->flags = VMT_F_INTERNAL;
	r->p.mem.a0 = lo;
	r->p.mem.a1 = hi - lo;
	r->p.mem.extra = VMT_CAUSE_MALLOC;
	return r;
}

/*
 * An allocation: the hook is "in progress" for changes.c (a fork meanwhile
 * lists the whole map in the child: glibc may have mapped inside the call,
 * and we have not listed it yet) from before the real call to after its
 * observation.
 */
#define ALLOC(call)                                                                                \
	do {                                                                                       \
		if (!m_active()) {                                                                 \
			p = call;                                                                  \
			m_inactive(p);                                                             \
			break;                                                                     \
		}                                                                                  \
		chg_hook_enter();                                                                  \
		p = call;                                                                          \
		int e_ = errno;                                                                    \
		T.depth++;                                                                      \
		after_alloc(p);                                                                    \
		T.depth--;                                                                      \
		chg_hook_leave();                                                                  \
		errno = e_;                                                                        \
	} while (0)

SHIM_EXPORT void *malloc(size_t n)
{
	void *p;
	ALLOC(__libc_malloc(n));
	return p;
}

SHIM_EXPORT void *calloc(size_t a, size_t b)
{
	void *p;
	ALLOC(__libc_calloc(a, b));
	return p;
}

SHIM_EXPORT void free(void *p)
{
	if (!p)
		return;
	if (!m_active()) {
		if ((T.vfork_child | T.in_fork) && (((size_t *)p)[-1] & IS_MMAPPED))
			shim_passthrough();
		__libc_free(p);
		m_inactive(NULL);
		return;
	}
	chg_hook_enter();
	size_t h = ((size_t *)p)[-1];
	uintptr_t lo = 0, hi = 0, heap = 0;
	if (h & IS_MMAPPED) {
		uintptr_t chunk = (uintptr_t)p - 16;
		lo = chunk - ((size_t *)p)[-2];
		hi = chunk + (h & ~7ul);
	} else if ((h & NON_MAIN_ARENA) && (h & ~7ul) >= CONSOLIDATE_MIN) {
		heap = (uintptr_t)p & ~(HEAP_MAX - 1);
	}
	uint64_t pos = 0;
	if (hi)
		chg_begin(lo, hi);
	struct vmt_rec *ur = hi ? unmap_begin(lo, hi, &pos) : NULL;
	__libc_free(p);
	int e = errno;
	T.depth++;
	if (hi)
		chg_end(lo, hi);
	else if (heap)
		chg_note(heap, heap + HEAP_MAX);
	if (ur)
		rec_commit(ur, pos);
	if (heap)
		obs_list(shim_cid(), heap, heap + HEAP_MAX, VMT_LIST_INDIRECT, VMT_CAUSE_MALLOC);
	obs_check_brk(VMT_CAUSE_MALLOC);
	if (!m_probed)
		probe_arena();
	T.depth--;
	chg_hook_leave();
	errno = e;
}

SHIM_EXPORT void *realloc(void *old, size_t n)
{
	void *p;
	if (!old) {
		ALLOC(__libc_realloc(old, n));
		return p;
	}
	if (!m_active()) {
		if ((T.vfork_child | T.in_fork) && (((size_t *)old)[-1] & IS_MMAPPED))
			shim_passthrough();
		p = __libc_realloc(old, n);
		m_inactive(p);
		return p;
	}
	chg_hook_enter();
	size_t h = ((size_t *)old)[-1];
	uintptr_t lo = 0, hi = 0;
	if (h & IS_MMAPPED) {
		uintptr_t chunk = (uintptr_t)old - 16;
		lo = chunk - ((size_t *)old)[-2];
		hi = chunk + (h & ~7ul);
	}
	uint64_t pos = 0;
	if (hi)
		chg_begin(lo, hi);
	struct vmt_rec *ur = hi ? unmap_begin(lo, hi, &pos) : NULL;
	p = __libc_realloc(old, n);
	int e = errno;
	T.depth++;
	if (hi)
		chg_end(lo, hi);
	if (ur) {
		if (!p && n) /* failed: nothing was unmapped */
			ur->p.mem.a1 = 0;
		rec_commit(ur, pos);
	}
	after_alloc(p);
	T.depth--;
	chg_hook_leave();
	errno = e;
	return p;
}

SHIM_EXPORT void *reallocarray(void *old, size_t a, size_t b)
{
	size_t n;
	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(old, n);
}

SHIM_EXPORT void *memalign(size_t al, size_t n)
{
	void *p;
	ALLOC(__libc_memalign(al, n));
	return p;
}

SHIM_EXPORT void *aligned_alloc(size_t al, size_t n)
{
	if (al == 0 || (al & (al - 1))) {
		errno = EINVAL;
		return NULL;
	}
	return memalign(al, n);
}

SHIM_EXPORT int posix_memalign(void **out, size_t al, size_t n)
{
	if (al % sizeof(void *) || (al & (al - 1)) || al == 0)
		return EINVAL;
	int e = errno;
	void *p;
	ALLOC(__libc_memalign(al, n));
	errno = e;
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

SHIM_EXPORT void *valloc(size_t n) { return memalign(PAGE_SZ, n); }

SHIM_EXPORT void *pvalloc(size_t n) { return memalign(PAGE_SZ, PAGE_UP(n ? n : 1)); }
