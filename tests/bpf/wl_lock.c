/*
 * wl_lock.c - mmap_lock workloads.
 *
 *   wl_lock contend SECONDS NFAULTERS   NFAULTERS threads keep faulting pages
 *        of a shared region in while one thread mprotects a page in the
 *        middle of that region and mmaps/munmaps next to it in a loop: the
 *        faults hit write-locked VMAs, fall back to mmap_lock and wait.
 *   wl_lock single SECONDS              one thread, the same calls: nothing
 *        can contend.
 *   wl_lock loop N [wait]               N x (mmap 64 KiB + munmap), timed by
 *        the program itself: prints ns per iteration (the overhead bench);
 *        wait: first read one byte from stdin (attach before it starts).
 * Prints the number of loop iterations of the mutator (loop: ns/iteration).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PG 4096UL
#define NPAGES 1024

static char *region;
static atomic_int stop;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *faulter(void *arg)
{
	unsigned long me = (unsigned long)arg;
	while (!atomic_load(&stop)) {
		for (unsigned long i = 0; i < NPAGES; i++) {
			if (i == NPAGES / 2)
				continue; /* the mutator's page */
			region[i * PG + (me & 63)] = 1;
		}
		/* throw the pages away so that they fault again */
		madvise(region, NPAGES / 2 * PG, MADV_DONTNEED);
		madvise(region + (NPAGES / 2 + 1) * PG, (NPAGES / 2 - 1) * PG, MADV_DONTNEED);
	}
	return NULL;
}

static long mutate(double seconds)
{
	double end = now() + seconds;
	long n = 0;
	while (now() < end) {
		char *mid = region + NPAGES / 2 * PG;
		mprotect(mid, PG, PROT_READ);
		mprotect(mid, PG, PROT_READ | PROT_WRITE);
		void *p = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED)
			munmap(p, 16 * PG);
		n++;
	}
	return n;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: wl_lock contend|single SECONDS [NFAULTERS] | loop N\n");
		return 2;
	}
	if (!strcmp(argv[1], "loop")) {
		long n = atol(argv[2]);
		char ch;
		if (argc > 3 && !strcmp(argv[3], "wait") && read(0, &ch, 1) != 1)
			return 1;
		double t0 = now();
		for (long i = 0; i < n; i++) {
			void *p = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				       -1, 0);
			if (p == MAP_FAILED)
				return 1;
			munmap(p, 16 * PG);
		}
		printf("%.1f\n", (now() - t0) * 1e9 / (n ? n : 1));
		return 0;
	}
	double seconds = atof(argv[2]);
	int nf = argc > 3 ? atoi(argv[3]) : 3;
	region = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		return 1;
	if (!strcmp(argv[1], "single")) {
		printf("%ld\n", mutate(seconds));
		return 0;
	}
	pthread_t th[64];
	if (nf > 64)
		nf = 64;
	for (long i = 0; i < nf; i++)
		pthread_create(&th[i], NULL, faulter, (void *)i);
	long n = mutate(seconds);
	atomic_store(&stop, 1);
	for (int i = 0; i < nf; i++)
		pthread_join(th[i], NULL);
	printf("%ld\n", n);
	return 0;
}
