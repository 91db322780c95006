/*
 * wl_fork.c - times its own forks, like byte-unixbench's spawn: a process
 * with N VMAs forks and the child exits at once.
 *
 *   wl_fork NVMAS NFORKS     prints one line per fork: the ns fork() took
 *                            in the parent (CLOCK_MONOTONIC around the call)
 * The N VMAs are made from one mapping by mprotecting every other page, so
 * that they cannot merge; NVMAS counts them only (the process has its usual
 * VMAs besides).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG 4096UL

static unsigned long long ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: wl_fork NVMAS NFORKS\n");
		return 2;
	}
	long nv = atol(argv[1]), nf = atol(argv[2]);
	if (nv > 0) {
		char *p = mmap(NULL, nv * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return 1;
		for (long i = 1; i < nv; i += 2)
			mprotect(p + i * PG, PG, PROT_READ);
	}
	unsigned long long *lat = calloc(nf, sizeof(*lat));
	for (long i = 0; i < nf; i++) {
		unsigned long long t0 = ns();
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		unsigned long long t1 = ns();
		if (pid < 0)
			return 1;
		waitpid(pid, NULL, 0);
		lat[i] = t1 - t0;
	}
	for (long i = 0; i < nf; i++)
		printf("%llu\n", lat[i]);
	return 0;
}
