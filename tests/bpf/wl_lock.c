/*
 * wl_lock.c - mmap_lock workloads.
 *
 *   wl_lock contend SECONDS NFAULTERS   NFAULTERS threads keep faulting pages
 *        of a shared region in while one thread mprotects a page in the
 *        middle of that region and mmaps/munmaps next to it in a loop: the
 *        faults hit write-locked VMAs, fall back to mmap_lock and wait.
 *   wl_lock single SECONDS              one thread, the same calls: nothing
 *        can contend.
 *   wl_lock race SECONDS NTHREADS       NTHREADS threads mprotect, mmap
 *        (MAP_FIXED) and munmap random page runs of one shared 512-page
 *        region (now and then half of it: a call over many VMAs, listed in
 *        parts): their VMAs split and merge into each other's all the time
 *        (the hardest case for ordering BPF records of different threads).
 *   wl_lock loop N [wait]               N x (mmap 64 KiB + munmap), timed by
 *        the program itself in chunks of 500: prints the median chunk's ns
 *        per iteration (the overhead bench);
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

#define LOOP_CHUNK 500

static char *region;
static atomic_int stop;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
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

#define RACE_PAGES 512

static void *racer(void *arg)
{
	unsigned seed = (unsigned)(unsigned long)arg * 2654435761u + 1;
	long n = 0;
	while (!atomic_load(&stop)) {
		unsigned k = rand_r(&seed) % RACE_PAGES, len = 1 + rand_r(&seed) % 8;
		if (rand_r(&seed) % 64 == 0)
			len = RACE_PAGES / 2; /* across many VMAs: a list in parts */
		int prot = rand_r(&seed) % 3 == 0 ? PROT_READ : PROT_READ | PROT_WRITE;
		char *p = region + k * PG;
		if (k + len > RACE_PAGES)
			len = RACE_PAGES - k;
		switch (rand_r(&seed) % 4) {
		case 0:
		case 1:
			mprotect(p, len * PG, prot);
			break;
		case 2:
			mmap(p, len * PG, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			break;
		case 3:
			munmap(p, len * PG);
			mmap(p, len * PG, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			break;
		}
		n++;
	}
	return (void *)n;
}

static long race(double seconds, int nt)
{
	pthread_t th[64];
	long total = 0;
	region = mmap(NULL, RACE_PAGES * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		return -1;
	if (nt > 64)
		nt = 64;
	for (long i = 0; i < nt; i++)
		pthread_create(&th[i], NULL, racer, (void *)(i + 1));
	usleep((useconds_t)(seconds * 1e6));
	atomic_store(&stop, 1);
	for (int i = 0; i < nt; i++) {
		void *r;
		pthread_join(th[i], &r);
		total += (long)r;
	}
	return total;
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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: wl_lock contend|single|race SECONDS [NTHREADS] | loop N\n");
		return 2;
	}
	if (!strcmp(argv[1], "loop")) {
		/* timed in chunks of LOOP_CHUNK iterations; the median chunk is
		 * printed: robust against the odd preemption on a busy machine,
		 * unlike the mean (and honest, unlike the minimum) */
		long n = atol(argv[2]), nch;
		static double ch[100000], cpu[100000];
		char c;
		if (argc > 3 && !strcmp(argv[3], "wait") && read(0, &c, 1) != 1)
			return 1;
		nch = n / LOOP_CHUNK;
		if (nch < 1)
			nch = 1;
		if (nch > (long)(sizeof(ch) / sizeof(ch[0])))
			nch = sizeof(ch) / sizeof(ch[0]);
		for (long k = 0; k < nch; k++) {
			double t0 = now(), c0 = cpu_now();
			for (long i = 0; i < LOOP_CHUNK; i++) {
				void *p = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE,
					       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				if (p == MAP_FAILED)
					return 1;
				munmap(p, 16 * PG);
			}
			ch[k] = (now() - t0) * 1e9 / LOOP_CHUNK;
			cpu[k] = (cpu_now() - c0) * 1e9 / LOOP_CHUNK;
		}
		qsort(ch, nch, sizeof(ch[0]), cmp_double);
		qsort(cpu, nch, sizeof(cpu[0]), cmp_double);
		/* wall-clock ns/iteration, then CPU ns/iteration of this thread */
		printf("%.1f %.1f\n", ch[nch / 2], cpu[nch / 2]);
		return 0;
	}
	double seconds = atof(argv[2]);
	int nf = argc > 3 ? atoi(argv[3]) : 3;
	if (!strcmp(argv[1], "race")) {
		printf("%ld\n", race(seconds, nf));
		return 0;
	}
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
