/*
 * demo-workload.c - the built-in demo workload (`make demo`,
 * bench/bench-shim.sh): grows its address space to a few thousand VMAs
 * (mmap, mprotect splits, munmap holes), runs threads that map and unmap
 * concurrently, and forks at several VMA counts so the report shows fork
 * latency growing with the number of VMAs.
 *
 * usage: vmatop-demo [VMAS]   (default 3000)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096ul

static void *worker(void *arg)
{
	long id = (long)arg;
	for (int i = 0; i < 300; i++) {
		size_t n = (size_t)(1 + (i + id) % 5) * PG;
		char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			continue;
		p[0] = 1;
		if (i % 4 == 0)
			mprotect(p, PG, PROT_READ);
		munmap(p, n);
	}
	return NULL;
}

static void fork_once(void)
{
	pid_t p = fork();
	if (p == 0) {
		char *x = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (x != MAP_FAILED)
			munmap(x, 4 * PG);
		_exit(0);
	}
	if (p > 0)
		waitpid(p, NULL, 0);
}

int main(int argc, char **argv)
{
	long target = argc > 1 ? atol(argv[1]) : 3000;
	if (target < 10)
		target = 10;
	/* one big region, every other page read-only: target VMAs in 2 calls per pair */
	size_t pages = (size_t)target;
	char *base = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	long done = 0;
	for (size_t i = 1; i < pages; i += 2) {
		mprotect(base + i * PG, PG, PROT_READ);
		done++;
		if (done == target / 8 || done == target / 4 || done == target / 2 - 1)
			fork_once();
	}
	pthread_t th[4];
	for (long i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	/* punch holes, then fork at the peak */
	for (size_t i = 0; i + 8 < pages; i += 64)
		munmap(base + i * PG, 2 * PG);
	fork_once();
	fork_once();
	printf("vmatop-demo: built %zu pages in alternating protections, 4 threads, 5 forks\n",
	       pages);
	return 0;
}
