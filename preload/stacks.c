/*
 * stacks.c - optional call stacks (VMATOP_STACKS=DEPTH, `vmatop record
 * --stacks`): libunwind's unw_backtrace over the caller's frames, frames of
 * libvmatop.so itself skipped, written as VMT_STACK records (7 return
 * addresses each) with the cid of the call they belong to. vmatop
 * symbolizes them offline from the VMT_MODULE list (path, base, build-id).
 *
 * Owns the range of our own text (S.self_lo/hi). Per-thread unwind caches
 * (UNW_CACHE_PER_THREAD) keep it lock-free; libunwind's own mmaps come back
 * through our mmap hook as internal records.
 *
 * libunwind is loaded only when stacks are asked for (dlopen, RTLD_LOCAL,
 * before the seed, so the seed and the module list show it): linked in, it
 * and liblzma would add ten VMAs and two libraries to every traced process,
 * stacks or not (the target should look as it does without vmatop).
 */
#include "shim.h"

#include <dlfcn.h>
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <link.h>

#ifndef VMATOP_LIBUNWIND
#define VMATOP_LIBUNWIND "libunwind.so.8"
#endif
#define STR_(x) #x
#define STR(x)	STR_(x)

static int (*unwind_backtrace)(void **, int);

static int self_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	uintptr_t me = (uintptr_t)arg;
	uintptr_t lo = ~0ul, hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
	}
	if (me >= lo && me < hi) {
		S.self_lo = lo;
		S.self_hi = hi;
		return 1;
	}
	return 0;
}

void stacks_init(void)
{
	if (!S.stack_depth)
		return;
	void *h = NULL;
	if (R.dlopen) {
		h = R.dlopen(VMATOP_LIBUNWIND, RTLD_NOW | RTLD_LOCAL);
		if (!h)
			h = R.dlopen("libunwind.so", RTLD_NOW | RTLD_LOCAL);
	}
	int (*set_caching)(unw_addr_space_t, unw_caching_policy_t) =
	    h ? (int (*)(unw_addr_space_t, unw_caching_policy_t))dlsym(h,
								       STR(unw_set_caching_policy))
	      : NULL;
	unw_addr_space_t *local = h ? dlsym(h, STR(unw_local_addr_space)) : NULL;
	unwind_backtrace = h ? (int (*)(void **, int))dlsym(h, "unw_backtrace") : NULL;
	if (!set_caching || !local || !unwind_backtrace) {
		/* said in the trace: the process record carries stack depth 0 */
		shim_debug("stacks off: cannot load %s", VMATOP_LIBUNWIND);
		S.stack_depth = 0;
		unwind_backtrace = NULL;
		return;
	}
	set_caching(*local, UNW_CACHE_PER_THREAD);
	dl_iterate_phdr(self_cb, (void *)(uintptr_t)&stacks_init);
}

void stacks_emit(uint32_t cid, uint64_t ts)
{
	void *ips[160];
	unsigned want = S.stack_depth + 8;
	if (want > 160)
		want = 160;
	if (!unwind_backtrace)
		return;
	int n = unwind_backtrace(ips, (int)want);
	int i = 0;
	while (i < n && (uintptr_t)ips[i] >= S.self_lo && (uintptr_t)ips[i] < S.self_hi)
		i++;
	unsigned total = 0;
	while (i < n && total < S.stack_depth) {
		uint64_t pos;
		struct vmt_rec *r = rec_begin(VMT_STACK, cid, ts, 0, &pos);
		if (!r)
			return;
		unsigned k = 0;
		for (; k < 7 && i < n && total < S.stack_depth; k++, i++, total++)
			r->p.stack.ip[k] = (uintptr_t)ips[i];
		r->p.stack.n = (uint16_t)k;
		r->p.stack.off = (uint16_t)(total - k);
		rec_commit(r, pos);
	}
}
