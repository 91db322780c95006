/*
 * static_map.c - a statically linked program (built with -static): LD_PRELOAD
 * has no effect on it, so libvmatop.so never loads. tests/shim-cli.t checks
 * that `vmatop record` says so instead of writing a silently empty trace.
 * Maps and unmaps a page, exits with status 3.
 */
#include <sys/mman.h>

int main(void)
{
	void *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	munmap(p, 4096);
	return 3;
}
