/*
 * hooks_mem.c - interposed memory calls: mmap, mmap64, munmap, mremap,
 * mprotect, pkey_mprotect, madvise, mlock, mlock2, munlock, mlockall,
 * munlockall, mseal, remap_file_pages, brk, sbrk, shmat, shmdt and the memory syscalls made
 * through glibc's syscall().
 *
 * Uses the "call record + observed list" pattern (shim.h): after the real call the
 * hook writes one record with the arguments, the result, errno and the
 * duration, then (for calls that can create, merge or split VMAs) a list of
 * the kernel's resulting VMAs around the call, taken with PROCMAP_QUERY.
 * munmap needs no list: removing a range never merges, so vmatop models it
 * exactly. Calls that may have partly applied before failing (mprotect,
 * madvise) are listed even when they fail.
 *
 * The hot path: an anonymous private mmap differs from its modelled effect
 * (a fresh VMA over [ret, ret+len)) only when the kernel merged it with a
 * neighbour, so its list is deferred (changes.c): taken at this thread's
 * next hook, or never when that hook is the munmap of exactly that range
 * (the munmap undoes the merge; the mirror is exact without a list).
 * Snapshots, fork, exec and exit take deferred lists first. On the fast
 * path the mmap's record is parked too (shim.h rec_park), and that munmap
 * completes its slot instead of taking one.
 */
#include "shim.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>

static void *real_mmap(void *a, size_t l, int p, int f, int fd, off_t o)
{
	if (R.mmap)
		return R.mmap(a, l, p, f, fd, o);
	long r = shim_raw_syscall(SYS_mmap, (long)a, (long)l, p, f, fd, (long)o);
	return raw_ret(r) == -1 ? MAP_FAILED : (void *)r;
}

static int real_munmap(void *a, size_t l)
{
	if (R.munmap)
		return R.munmap(a, l);
	return (int)raw_ret(shim_raw_syscall(SYS_munmap, (long)a, (long)l, 0, 0, 0, 0));
}

static int real_mprotect(void *a, size_t l, int p)
{
	if (R.mprotect)
		return R.mprotect(a, l, p);
	return (int)raw_ret(shim_raw_syscall(SYS_mprotect, (long)a, (long)l, p, 0, 0, 0));
}

static int madvise_changes_vma(int adv)
{
	switch (adv) {
	case MADV_NORMAL:
	case MADV_RANDOM:
	case MADV_SEQUENTIAL:
	case MADV_DONTFORK:
	case MADV_DOFORK:
	case MADV_MERGEABLE:
	case MADV_UNMERGEABLE:
	case MADV_HUGEPAGE:
	case MADV_NOHUGEPAGE:
	case MADV_DONTDUMP:
	case MADV_DODUMP:
	case MADV_WIPEONFORK:
	case MADV_KEEPONFORK:
		return 1;
	default:
		return 0;
	}
}

/* The kernel's VMA differs from the model's fresh one only by merges. */
static inline int mmap_deferrable(int flags)
{
	return (flags & (MAP_ANONYMOUS | MAP_HUGETLB | MAP_GROWSDOWN | MAP_TYPE)) ==
	       (MAP_ANONYMOUS | MAP_PRIVATE);
}

static void *do_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	int e;
	int fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
	BEGIN_R(fixed ? PAGE_DOWN(addr) : 0, fixed ? PAGE_UP((uintptr_t)addr + len) : ~0ul);
	void *r = real_mmap(addr, len, prot, flags, fd, off);
	if (r != MAP_FAILED) {
		c.clo = (uintptr_t)r;
		c.chi = PAGE_UP((uintptr_t)r + len);
	}
	AFTER();
	int ok = r != MAP_FAILED;
	int defer = ok && !c.nested && mmap_deferrable(flags);
	call_record_mem(&c, VMT_MMAP, (uintptr_t)addr, len, (unsigned)prot, (unsigned)flags,
			(uint64_t)(int64_t)fd, (uint64_t)off, ok ? (int64_t)(uintptr_t)r : -1,
			ok ? 0 : e, 0, ok && !defer);
	if (defer && !chg_defer(c.clo, c.chi))
		defer = 0;
	if (ok && !defer)
		list_range(call_cid(&c), (uintptr_t)r, len);
	END();
	return r;
}

/*
 * The fast path of the two hottest calls (an mmap+munmap loop runs nothing
 * else): a recording process with one thread in the shim (S.multi 0), a
 * call not nested in another hook, no stacks. The general path does the
 * same there - one record, the anonymous mmap's list deferred, the munmap of
 * exactly that range without a list - but spends a third of the shim's time
 * on bookkeeping that is empty in this case (shim_call, announcing, the
 * change log, saving errno around work that cannot touch it). Anything else
 * (a pending list to take first, a failure, a mapping that needs its list now)
 * leaves the fast path before or after the real call.
 */
static inline struct chg_slot *fast_slot(void)
{
	struct chg_slot *m = T.slot;
	if (__builtin_expect(m != NULL && !(T.depth | T.in_fork | T.vfork_child) &&
				     atomic_load_explicit(&S.state, memory_order_relaxed) ==
					     SHIM_READY &&
				     !atomic_load_explicit(&S.multi, memory_order_relaxed) &&
				     !S.stack_depth &&
				     atomic_load_explicit(S.stamp, memory_order_relaxed),
			     1))
		return m;
	return NULL;
}
/* Enter / leave a fast-path hook (what call_begin / call_end do for it). */
static inline void fast_enter(struct chg_slot *m)
{
	T.depth = 1;
	atomic_store_explicit(&m->in_hook, atomic_load_explicit(&m->in_hook, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
}
static inline void fast_leave(struct chg_slot *m, uintptr_t lo, uintptr_t hi)
{
	/* another thread appeared meanwhile (chg_go_multi waited for this hook,
	 * but only so long): log the change, as chg_end does for a call that
	 * began single-threaded */
	if (__builtin_expect(atomic_load_explicit(&S.multi, memory_order_relaxed), 0) && hi > lo)
		chg_note(lo, hi);
	atomic_signal_fence(memory_order_seq_cst);
	atomic_store_explicit(&m->in_hook, atomic_load_explicit(&m->in_hook, memory_order_relaxed) - 1,
			      memory_order_release);
	T.depth = 0;
}
static inline uint64_t fast_dur(uint64_t t0) { return S.durations ? shim_ticks() - t0 : 0; }

/* Fill and commit a munmap record reserved before the call (both paths). */
static void munmap_rec(struct vmt_rec *rec, uint64_t pos, uint64_t dur, uint16_t flags, void *addr,
		       size_t len, int r, int e)
{
	rec->dur = dur32(dur);
	rec->flags = flags;
	rec->p.mem.a0 = (uintptr_t)addr;
	rec->p.mem.a1 = len;
	rec->p.mem.ret = r;
	rec->p.mem.err = r ? e : 0;
	rec_commit(rec, pos);
}

static void *mmap_fast(struct chg_slot *m, void *addr, size_t len, int prot, int flags, int fd,
		       off_t off)
{
	fast_enter(m);
	uint64_t t0 = shim_ticks();
	void *r = real_mmap(addr, len, prot, flags, fd, off);
	uint64_t dur = fast_dur(t0);
	int ok = r != MAP_FAILED;
	uint64_t p = ok ? chg_pack((uintptr_t)r, PAGE_UP((uintptr_t)r + len)) : 0;
	int e = ok ? 0 : errno;
	uint32_t cid = p || !ok ? 0 : shim_cid(); /* a list follows now: it needs the call's id */
	/* the record of a mapping whose list waits is parked: its munmap may
	 * complete it (shim.h rec_park) */
	rec_mem(p ? REC_FAST_PARK : REC_FAST, VMT_MMAP, cid, t0, dur,
		(uint16_t)((ok ? 0 : VMT_F_FAILED) | (cid ? VMT_F_LISTED : 0)), (uintptr_t)addr, len,
		(unsigned)prot, (unsigned)flags, (uint64_t)(int64_t)fd, (uint64_t)off,
		ok ? (int64_t)(uintptr_t)r : -1, e, 0);
	if (p) { /* the list waits for this thread's next hook (changes.c) */
		atomic_store_explicit(&m->pend, p, memory_order_release);
	} else if (ok) {
		e = errno;
		list_range(cid, (uintptr_t)r, len);
		errno = e;
	}
	if (ok)
		fast_leave(m, (uintptr_t)r, PAGE_UP((uintptr_t)r + len));
	else
		fast_leave(m, 0, 0);
	return r;
}

SHIM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct chg_slot *m = fast_slot();
	if (m && !atomic_load_explicit(&m->pend, memory_order_relaxed) && mmap_deferrable(flags))
		return mmap_fast(m, addr, len, prot, flags, fd, off);
	if (!vma_hook_ok())
		return real_mmap(addr, len, prot, flags, fd, off);
	return do_mmap(addr, len, prot, flags, fd, off);
}

SHIM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
	__attribute__((alias("mmap")));

/*
 * The parked record of the mmap this munmap undoes, taken to complete it: the
 * newest slot, of exactly [addr, addr+len), started < 2^32 ticks before t0.
 * Taken with one cmpxchg without the lock prefix (rec_reserve_one: no other
 * thread reserves, and a signal handler cannot split it); a handler's
 * reservation before it commits the slot, and the cmpxchg fails.
 */
static inline struct vmt_rec *park_take(void *addr, size_t len, uint64_t t0)
{
#if defined(__x86_64__)
	uint64_t p = atomic_load_explicit(&S.parked, memory_order_relaxed);
	if (!p || p - 1 != atomic_load_explicit(&S.last_pos, memory_order_relaxed))
		return NULL;
	struct vmt_rec *rec = &S.slots[(p - 1) & (S.nslots - 1)];
	if (rec->p.mem.ret != (int64_t)(uintptr_t)addr || rec->p.mem.a1 != len ||
	    t0 - rec->ts > UINT32_MAX || atomic_load_explicit(&S.multi, memory_order_relaxed))
		return NULL;
	uint64_t seen = p;
	__asm__ volatile("cmpxchgq %2, %1" : "+a"(seen), "+m"(S.parked) : "r"(0ull) : "cc", "memory");
	return seen == p ? rec : NULL;
#else
	(void)addr, (void)len, (void)t0;
	return NULL;
#endif
}

/* munmap with no deferred list, or the one of exactly this range (taken
 * here: if the munmap fails the mapping is still there, and it is listed). */
static int munmap_fast(struct chg_slot *m, void *addr, size_t len, uint64_t pend)
{
	fast_enter(m);
	if (pend) { /* single-threaded: nobody else takes it */
		atomic_store_explicit(&m->pend, 0, memory_order_relaxed);
	}
	uint64_t t0 = shim_ticks();
	struct vmt_rec *pk = pend ? park_take(addr, len, t0) : NULL;
	if (pk) { /* the munmap's place in the ring is the mmap's slot */
		int r = real_munmap(addr, len);
		uint64_t dur = fast_dur(t0);
		if (!r) {
			pk->flags |= VMT_F_RING_PAIRED;
			pk->p.mem.err = (int32_t)(uint32_t)(t0 - pk->ts);
			pk->p.mem.extra = dur32(dur);
		}
		/* tentative (~mark) -> committed (mark) */
		atomic_store_explicit((_Atomic uint32_t *)&pk->commit, ~pk->commit, memory_order_release);
		if (r) { /* still mapped: its list, then the failed munmap's record */
			int e = errno;
			obs_list(shim_cid(), PAGE_DOWN(addr), PAGE_UP((uintptr_t)addr + len),
				 VMT_LIST_OBSERVE, VMT_CAUSE_CALL);
			rec_mem(REC_FAST, VMT_MUNMAP, 0, t0, dur, VMT_F_FAILED, (uintptr_t)addr, len, 0, 0, 0, 0, r,
				e, 0);
			errno = e;
		}
		fast_leave(m, PAGE_DOWN(addr), PAGE_UP((uintptr_t)addr + len));
		return r;
	}
	uint64_t pos = rec_reserve_one(); /* before the call: see munmap */
	struct vmt_rec *rec = pos != ~0ull ? rec_at(pos, VMT_MUNMAP, 0, t0) : NULL;
	int r = real_munmap(addr, len);
	uint64_t dur = fast_dur(t0);
	int e = r ? errno : 0;
	if (r && pend) {
		obs_list(shim_cid(), PAGE_DOWN(addr), PAGE_UP((uintptr_t)addr + len),
			 VMT_LIST_OBSERVE, VMT_CAUSE_CALL);
		errno = e;
	}
	if (rec)
		munmap_rec(rec, pos, dur, (uint16_t)(r ? VMT_F_FAILED : 0), addr, len, r, e);
	fast_leave(m, PAGE_DOWN(addr), PAGE_UP((uintptr_t)addr + len));
	return r;
}

SHIM_EXPORT int munmap(void *addr, size_t len)
{
	struct chg_slot *m = fast_slot();
	if (m) {
		uint64_t pend = atomic_load_explicit(&m->pend, memory_order_relaxed);
		if (!pend || pend == chg_pack(PAGE_DOWN(addr), PAGE_UP((uintptr_t)addr + len)))
			return munmap_fast(m, addr, len, pend);
	}
	if (!vma_hook_ok())
		return real_munmap(addr, len);
	/*
	 * munmap has no list: vmatop applies it by model. Reserve its record
	 * before the real call, so that a mapping another thread makes in the
	 * freed range (and lists) always comes after it in the ring.
	 */
	int e;
	BEGIN_M(PAGE_DOWN(addr), PAGE_UP((uintptr_t)addr + len), 1);
	if (!c.nested && S.stack_depth)
		call_cid(&c);
	uint64_t pos;
	struct vmt_rec *rec = rec_begin(VMT_MUNMAP, c.cid, c.t0, 0, &pos);
	int r = real_munmap(addr, len);
	AFTER();
	if (r && c.exact) /* the mapping is still there: its list after all */
		obs_list(shim_cid(), c.clo, c.chi, VMT_LIST_OBSERVE, VMT_CAUSE_CALL);
	if (rec) {
		munmap_rec(rec, pos, c.dur,
			   (uint16_t)((c.nested ? VMT_F_INTERNAL : 0) | (r ? VMT_F_FAILED : 0)), addr,
			   len, r, e);
		if (!c.nested && S.stack_depth)
			stacks_emit(c.cid, c.t0);
	}
	END();
	return r;
}

SHIM_EXPORT void *mremap(void *old, size_t oldlen, size_t newlen, int flags, ...)
{
	void *na = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		na = va_arg(ap, void *);
		va_end(ap);
	}
	if (!vma_hook_ok()) {
		if (R.mremap)
			return R.mremap(old, oldlen, newlen, flags, na);
		long r = shim_raw_syscall(SYS_mremap, (long)old, (long)oldlen, (long)newlen, flags,
					  (long)na, 0);
		return raw_ret(r) == -1 ? MAP_FAILED : (void *)r;
	}
	int e;
	BEGIN();
	void *r;
	if (R.mremap)
		r = R.mremap(old, oldlen, newlen, flags, na);
	else {
		long x = shim_raw_syscall(SYS_mremap, (long)old, (long)oldlen, (long)newlen, flags,
					  (long)na, 0);
		r = raw_ret(x) == -1 ? MAP_FAILED : (void *)x;
	}
	if (r != MAP_FAILED && r == old) {
		c.clo = PAGE_DOWN(old);
		c.chi = PAGE_UP((uintptr_t)old + (oldlen > newlen ? oldlen : newlen));
	}
	AFTER();
	int ok = r != MAP_FAILED;
	call_record_mem(&c, VMT_MREMAP, (uintptr_t)old, oldlen, newlen, (unsigned)flags,
			(uintptr_t)na, 0, ok ? (int64_t)(uintptr_t)r : -1, ok ? 0 : e, 0, ok);
	if (ok) {
		list_range(call_cid(&c), (uintptr_t)r, newlen);
		if (flags & 4 /* MREMAP_DONTUNMAP */)
			obs_list(shim_cid(), PAGE_DOWN(old), PAGE_UP((uintptr_t)old + oldlen),
				 VMT_LIST_OBSERVE, VMT_CAUSE_CALL);
	}
	END();
	return r;
}

static int do_mprotect(uint16_t type, void *addr, size_t len, int prot, int pkey)
{
	int e;
	BEGIN_R(PAGE_DOWN(addr), PAGE_UP((uintptr_t)addr + len));
	int r;
	if (type == VMT_PKEY_MPROTECT)
		r = R.pkey_mprotect ? R.pkey_mprotect(addr, len, prot, pkey)
				    : (int)raw_ret(shim_raw_syscall(SYS_pkey_mprotect, (long)addr,
								    (long)len, prot, pkey, 0, 0));
	else
		r = real_mprotect(addr, len, prot);
	AFTER();
	call_record_mem(&c, type, (uintptr_t)addr, len, (unsigned)prot, (uint64_t)(int64_t)pkey, 0,
			0, r, r ? e : 0, 0, len > 0);
	if (len > 0)
		list_range(call_cid(&c), (uintptr_t)addr, len);
	END();
	return r;
}

SHIM_EXPORT int mprotect(void *addr, size_t len, int prot)
{
	if (!vma_hook_ok())
		return real_mprotect(addr, len, prot);
	return do_mprotect(VMT_MPROTECT, addr, len, prot, -1);
}

SHIM_EXPORT int pkey_mprotect(void *addr, size_t len, int prot, int pkey)
{
	if (!vma_hook_ok())
		return R.pkey_mprotect ? R.pkey_mprotect(addr, len, prot, pkey)
				       : (int)raw_ret(shim_raw_syscall(SYS_pkey_mprotect,
								       (long)addr, (long)len, prot,
								       pkey, 0, 0));
	return do_mprotect(VMT_PKEY_MPROTECT, addr, len, prot, pkey);
}

SHIM_EXPORT int madvise(void *addr, size_t len, int advice)
{
	if (!vma_hook_ok() || !R.madvise) {
		if (R.madvise)
			return R.madvise(addr, len, advice);
		return (int)raw_ret(
			shim_raw_syscall(SYS_madvise, (long)addr, (long)len, advice, 0, 0, 0));
	}
	int e;
	BEGIN_R(PAGE_DOWN(addr), PAGE_UP((uintptr_t)addr + len));
	int r = R.madvise(addr, len, advice);
	AFTER();
	int listed = madvise_changes_vma(advice) && len > 0;
	call_record_mem(&c, VMT_MADVISE, (uintptr_t)addr, len, (unsigned)advice, 0, 0, 0, r,
			r ? e : 0, 0, listed);
	if (listed)
		list_range(call_cid(&c), (uintptr_t)addr, len);
	END();
	return r;
}

/*
 * Calls that change only VMA flags: mlock, mlock2, munlock (VM_LOCKED,
 * VM_LOCKONFAULT), mseal (Linux 6.10: VM_SEALED), mbind and
 * set_mempolicy_home_node (the VMA's policy). The kernel splits VMAs at the
 * range's ends and merges them back, which /proc/PID/maps shows and no model
 * can tell: each is recorded as VMT_SYSCALL (extra = its syscall number) and
 * its range listed after it, failed or not (mlock over a hole fails after
 * changing the VMAs before it). mlockall and munlockall change every VMA, so
 * any two neighbours may merge or part: the whole address space is listed.
 * remap_file_pages (deprecated; the kernel emulates it by mapping the range
 * again at the new file offset, which splits the VMA) is listed the same way.
 * The shim makes the syscall itself (glibc's wrappers are the bare syscall).
 */
#ifndef SYS_mseal
#define SYS_mseal 462
#endif
#ifndef SYS_set_mempolicy_home_node
#define SYS_set_mempolicy_home_node 450
#endif
static int vma_flags_nr(long nr)
{
	return nr == SYS_mlock || nr == SYS_mlock2 || nr == SYS_munlock || nr == SYS_mlockall ||
	       nr == SYS_munlockall || nr == SYS_mseal || nr == SYS_mbind ||
	       nr == SYS_set_mempolicy_home_node || nr == SYS_remap_file_pages;
}
static long vma_flags_call(long nr, long a, long b, long cc, long d, long ee, long f)
{
	if (!vma_hook_ok())
		return raw_ret(shim_raw_syscall(nr, a, b, cc, d, ee, f));
	int whole = nr == SYS_mlockall || nr == SYS_munlockall;
	uintptr_t lo = whole ? 0 : PAGE_DOWN(a);
	uintptr_t hi = whole ? ~(uintptr_t)0 : PAGE_UP((uintptr_t)a + (size_t)b);
	int e;
	BEGIN_R(lo, hi);
	long r = raw_ret(shim_raw_syscall(nr, a, b, cc, d, ee, f));
	AFTER();
	int listed = hi > lo;
	call_record_mem(&c, VMT_SYSCALL, (uint64_t)a, (uint64_t)b, (uint64_t)cc, (uint64_t)d,
			(uint64_t)ee, (uint64_t)f, r, r == -1 ? e : 0, (uint32_t)nr, listed);
	if (whole) /* the whole-map list seeds and discoveries use ([vsyscall] too) */
		obs_maps_list(call_cid(&c), VMT_LIST_OBSERVE, VMT_CAUSE_CALL, NULL);
	else if (listed)
		obs_list(call_cid(&c), lo, hi, VMT_LIST_OBSERVE, VMT_CAUSE_CALL);
	END();
	return r;
}

SHIM_EXPORT int mlock(const void *addr, size_t len)
{
	return (int)vma_flags_call(SYS_mlock, (long)addr, (long)len, 0, 0, 0, 0);
}

SHIM_EXPORT int mlock2(const void *addr, size_t len, unsigned int flags)
{
	return (int)vma_flags_call(SYS_mlock2, (long)addr, (long)len, (long)flags, 0, 0, 0);
}

SHIM_EXPORT int munlock(const void *addr, size_t len)
{
	return (int)vma_flags_call(SYS_munlock, (long)addr, (long)len, 0, 0, 0, 0);
}

SHIM_EXPORT int mlockall(int flags)
{
	return (int)vma_flags_call(SYS_mlockall, flags, 0, 0, 0, 0, 0);
}

SHIM_EXPORT int munlockall(void)
{
	return (int)vma_flags_call(SYS_munlockall, 0, 0, 0, 0, 0, 0);
}

SHIM_EXPORT int remap_file_pages(void *addr, size_t size, int prot, size_t pgoff, int flags)
{
	return (int)vma_flags_call(SYS_remap_file_pages, (long)addr, (long)size, prot, (long)pgoff,
				   flags, 0);
}

/* glibc 2.36 has no mseal(); a newer one's wrapper is this call too */
SHIM_EXPORT int mseal(void *addr, size_t len, unsigned long flags)
{
	return (int)vma_flags_call(SYS_mseal, (long)addr, (long)len, (long)flags, 0, 0, 0);
}

SHIM_EXPORT int brk(void *addr)
{
	if (!vma_hook_ok() || !R.brk)
		return R.brk ? R.brk(addr) : -1;
	int e;
	BEGIN();
	int r = R.brk(addr);
	AFTER();
	call_record_mem(&c, VMT_BRK, (uintptr_t)addr, 0, 0, 0, 0, 0, r, r ? e : 0, 0, 1);
	obs_check_brk(VMT_CAUSE_CALL);
	END();
	return r;
}

SHIM_EXPORT void *sbrk(intptr_t incr)
{
	if (!vma_hook_ok() || !R.sbrk)
		return R.sbrk ? R.sbrk(incr) : (void *)-1;
	int e;
	BEGIN();
	void *r = R.sbrk(incr);
	AFTER();
	int ok = r != (void *)-1;
	call_record_mem(&c, VMT_SBRK, (uint64_t)incr, 0, 0, 0, 0, 0, (int64_t)(uintptr_t)r,
			ok ? 0 : e, 0, 1);
	obs_check_brk(VMT_CAUSE_CALL);
	END();
	return r;
}

SHIM_EXPORT void *shmat(int id, const void *addr, int flg)
{
	if (!vma_hook_ok() || !R.shmat)
		return R.shmat ? R.shmat(id, addr, flg) : (void *)-1;
	int e;
	BEGIN();
	void *r = R.shmat(id, addr, flg);
	AFTER();
	int ok = r != (void *)-1;
	call_record_mem(&c, VMT_SHMAT, (uint64_t)id, (uintptr_t)addr, (unsigned)flg, 0, 0, 0,
			ok ? (int64_t)(uintptr_t)r : -1, ok ? 0 : e, 0, ok);
	if (ok)
		list_range(call_cid(&c), (uintptr_t)r, 1);
	END();
	return r;
}

SHIM_EXPORT int shmdt(const void *addr)
{
	if (!vma_hook_ok() || !R.shmdt)
		return R.shmdt ? R.shmdt(addr) : -1;
	uintptr_t s = 0, en = 0;
	obs_vma_at((uintptr_t)addr, &s, &en);
	int e;
	BEGIN();
	int r = R.shmdt(addr);
	AFTER();
	call_record_mem(&c, VMT_SHMDT, (uintptr_t)addr, en > s ? en - s : 0, 0, 0, 0, 0, r,
			r ? e : 0, 0, en > s);
	if (en > s)
		obs_list(call_cid(&c), s, en, VMT_LIST_OBSERVE, VMT_CAUSE_CALL);
	END();
	return r;
}

/*
 * syscall(): memory syscalls made through glibc's generic wrapper are
 * recorded as VMT_SYSCALL (extra = nr) with the same lists as the named
 * calls, and the calls that change VMA flags as vma_flags_call does; fork-like
 * ones (SYS_fork, SYS_clone without CLONE_VM on the same
 * stack) are made raw and followed like fork (hooks_proc.c); the rest,
 * SYS_vfork and SYS_clone3 included, pass through unchanged.
 */
SHIM_EXPORT long syscall(long nr, ...)
{
	va_list ap;
	va_start(ap, nr);
	long a = va_arg(ap, long), b = va_arg(ap, long), cc = va_arg(ap, long);
	long d = va_arg(ap, long), ee = va_arg(ap, long), f = va_arg(ap, long);
	va_end(ap);
	int mem = nr == SYS_mmap || nr == SYS_munmap || nr == SYS_mprotect || nr == SYS_mremap ||
		  nr == SYS_madvise || nr == SYS_brk || nr == SYS_pkey_mprotect;
	if (nr == SYS_fork || nr == SYS_clone) {
		long r;
		if (shim_fork_syscall(nr, a, b, cc, d, ee, &r))
			return r;
	}
	if (vma_flags_nr(nr))
		return vma_flags_call(nr, a, b, cc, d, ee, f);
	if (io_syscall_nr(nr))
		return io_syscall(nr, a, b);
	if (!mem || !vma_hook_ok())
		return raw_ret(shim_raw_syscall(nr, a, b, cc, d, ee, f));
	int e;
	BEGIN();
	long r = raw_ret(shim_raw_syscall(nr, a, b, cc, d, ee, f));
	AFTER();
	int ok = r != -1;
	int listed = ok || nr == SYS_mprotect || nr == SYS_madvise || nr == SYS_pkey_mprotect;
	if (nr == SYS_munmap || (nr == SYS_madvise && !madvise_changes_vma((int)cc)))
		listed = 0;
	call_record_mem(&c, VMT_SYSCALL, (uint64_t)a, (uint64_t)b, (uint64_t)cc, (uint64_t)d,
			(uint64_t)ee, (uint64_t)f, r, ok ? 0 : e, (uint32_t)nr, listed && nr != SYS_brk);
	if (listed) {
		if (nr == SYS_mmap)
			list_range(call_cid(&c), (uintptr_t)r, (size_t)b);
		else if (nr == SYS_mremap)
			list_range(call_cid(&c), (uintptr_t)r, (size_t)cc);
		else if (nr == SYS_brk) {
			uintptr_t old = S.brk_seen, cur = (uintptr_t)r;
			if (old && cur != old) {
				uintptr_t lo = cur < old ? cur : old, hi = cur > old ? cur : old;
				obs_list(shim_cid(), PAGE_DOWN(lo), PAGE_UP(hi), VMT_LIST_OBSERVE,
					 VMT_CAUSE_BRK);
			}
		} else
			list_range(call_cid(&c), (uintptr_t)a, (size_t)b);
	}
	END();
	return r;
}
