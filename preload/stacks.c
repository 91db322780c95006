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
 */
#include "shim.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <link.h>

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
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
	dl_iterate_phdr(self_cb, (void *)(uintptr_t)&stacks_init);
}

void stacks_emit(uint32_t cid, uint64_t ts)
{
	void *ips[160];
	unsigned want = S.stack_depth + 8;
	if (want > 160)
		want = 160;
	int n = unw_backtrace(ips, (int)want);
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
