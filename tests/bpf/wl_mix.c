/*
 * wl_mix.c - a workload that changes its address space in every way the BPF
 * mirror must follow: splits, merges, moves, flag changes, glibc-internal
 * mappings (malloc, threads, dlopen), raw syscalls, System V shm, aio rings,
 * forks (fork, vfork+exec, posix_spawn), stack growth, many-VMA calls.
 * Built dynamic (wl_mix) and static (wl_mix_static, -DWL_STATIC).
 *
 *   wl_mix [--wait]     --wait: block on stdin (one byte) before starting,
 *                       for the attach test
 * Leaves mappings behind at exit so that the exit check has work to do.
 * Exit status 0 when every call behaved as expected.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifndef WL_STATIC
#include <dlfcn.h>
#endif

extern char **environ;

#define PG 4096UL
#define CHECK(c)                                                                   \
	do {                                                                       \
		if (!(c)) {                                                        \
			fprintf(stderr, "wl_mix: %s:%d: %s failed (%s)\n", __FILE__, \
				__LINE__, #c, strerror(errno));                    \
			exit(1);                                                   \
		}                                                                  \
	} while (0)

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

static void *map(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	return p;
}

static void *thread_fn(void *arg)
{
	long id = (long)arg;
	for (int i = 0; i < 50; i++) {
		char *p = map(16 * PG, PROT_READ | PROT_WRITE);
		p[0] = 1;
		CHECK(mprotect(p + 4 * PG, PG, PROT_READ) == 0);
		void *m = malloc(200000 + id * 1000); /* mmap'ed by glibc */
		memset(m, 1, 4096);
		free(m);
		if (i % 3)
			CHECK(munmap(p, 16 * PG) == 0);
	}
	return NULL;
}

static int grow_stack(int depth)
{
	volatile char buf[8192];
	buf[0] = (char)depth;
	if (depth <= 0)
		return buf[0];
	return grow_stack(depth - 1) + buf[0];
}

static void fork_children(void)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char *p = map(8 * PG, PROT_READ | PROT_WRITE);
		CHECK(mprotect(p + 2 * PG, 2 * PG, PROT_NONE) == 0);
		void *m = malloc(1 << 20);
		free(m);
		_exit(0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);

	pid = vfork();
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);

	char *argv[] = { "true", NULL };
	CHECK(posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) == 0);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(int argc, char **argv)
{
	char c;

	if (argc > 1 && !strcmp(argv[1], "--wait"))
		CHECK(read(0, &c, 1) == 1);

	/* splits and merges */
	char *a = map(64 * PG, PROT_READ | PROT_WRITE);
	CHECK(munmap(a + 10 * PG, 2 * PG) == 0);		  /* split */
	CHECK(mprotect(a + 20 * PG, 4 * PG, PROT_READ) == 0);	  /* split in 3 */
	CHECK(mprotect(a + 20 * PG, 4 * PG, PROT_READ | PROT_WRITE) == 0); /* merge back */
	CHECK(mprotect(a + 40 * PG, 24 * PG, PROT_READ) == 0);	  /* tail */

	/* a file mapping with an offset, then split it */
	int fd = open("/proc/self/exe", O_RDONLY);
	CHECK(fd >= 0);
	char *f = mmap(NULL, 3 * PG, PROT_READ, MAP_PRIVATE, fd, PG);
	CHECK(f != MAP_FAILED);
	CHECK(munmap(f + PG, PG) == 0);
	close(fd);

	/* mremap: grow in place, move, shrink, dontunmap */
	char *r = map(4 * PG, PROT_READ | PROT_WRITE);
	char *r2 = mremap(r, 4 * PG, 8 * PG, MREMAP_MAYMOVE);
	CHECK(r2 != MAP_FAILED);
	char *blocker = map(PG, PROT_READ);
	(void)blocker;
	char *r3 = mremap(r2, 8 * PG, 64 * PG, MREMAP_MAYMOVE);
	CHECK(r3 != MAP_FAILED);
	r3[0] = 1;
	char *r4 = mremap(r3, 64 * PG, 16 * PG, 0); /* shrink */
	CHECK(r4 == r3);
	char *r5 = mremap(r4, 16 * PG, 16 * PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
	CHECK(r5 != MAP_FAILED);

	/* MAP_FIXED over an existing range; a failing NOREPLACE */
	char *fx = map(16 * PG, PROT_READ);
	CHECK(mmap(fx + 4 * PG, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		   -1, 0) == fx + 4 * PG);
	CHECK(mmap(fx, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) ==
	      MAP_FAILED);

	/* flag changes: madvise, mlock, anon names */
	char *m = map(32 * PG, PROT_READ | PROT_WRITE);
	CHECK(madvise(m + 4 * PG, 4 * PG, MADV_DONTFORK) == 0);
	CHECK(madvise(m + 12 * PG, 4 * PG, MADV_WIPEONFORK) == 0);
	CHECK(madvise(m + 20 * PG, 2 * PG, MADV_DONTNEED) == 0); /* no VMA change */
	CHECK(mlock(m + 24 * PG, 2 * PG) == 0);
	CHECK(munlock(m + 24 * PG, PG) == 0);
	CHECK(prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)(m + 28 * PG), 2 * PG,
		    (unsigned long)"wl_mix") == 0 || errno == EINVAL);

	/* raw syscalls (no libc wrapper) */
	char *raw = (char *)syscall(SYS_mmap, 0, 8 * PG, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(raw != MAP_FAILED);
	CHECK(syscall(SYS_mprotect, raw + PG, PG, PROT_NONE) == 0);
	CHECK(syscall(SYS_munmap, raw + 6 * PG, 2 * PG) == 0);

	/* many VMAs in one call: 100 alternating pages, then one mprotect and
	 * one munmap across them (records in several parts) */
	char *many = map(200 * PG, PROT_READ | PROT_WRITE);
	for (int i = 0; i < 200; i += 2)
		CHECK(mprotect(many + i * PG, PG, PROT_READ) == 0);
	CHECK(mprotect(many, 100 * PG, PROT_READ | PROT_WRITE | PROT_EXEC) == 0 || errno == EACCES);
	CHECK(munmap(many + 100 * PG, 60 * PG) == 0);

	/* malloc: brk growth and trim, mmap'ed chunks */
	void *small[2000];
	for (int i = 0; i < 2000; i++)
		small[i] = malloc(100);
	void *big = malloc(4 << 20);
	memset(big, 1, 4096);
	free(big);
	for (int i = 0; i < 2000; i++)
		free(small[i]);
	CHECK(sbrk(64 * PG) != (void *)-1);
	CHECK(sbrk(-32 * (long)PG) != (void *)-1);

	/* System V shared memory */
	int id = shmget(IPC_PRIVATE, 16 * PG, IPC_CREAT | 0600);
	CHECK(id >= 0);
	char *s1 = shmat(id, NULL, 0);
	CHECK(s1 != (void *)-1);
	char *s2 = shmat(id, NULL, SHM_RDONLY);
	CHECK(s2 != (void *)-1);
	CHECK(shmdt(s1) == 0);
	shmctl(id, IPC_RMID, NULL);

	/* an aio ring: a mapping made by a syscall vmatop does not model */
	unsigned long ctx = 0;
	if (syscall(SYS_io_setup, 8, &ctx) == 0)
		CHECK(syscall(SYS_io_destroy, ctx) == 0 || 1);
	unsigned long ctx2 = 0;
	CHECK(syscall(SYS_io_setup, 4, &ctx2) == 0 || errno == ENOSYS || errno == EAGAIN);

#ifndef WL_STATIC
	void *h = dlopen("libm.so.6", RTLD_NOW);
	if (h)
		dlclose(h);
	h = dlopen("libz.so.1", RTLD_NOW); /* kept open */
	(void)h;
#endif

	/* threads: stacks, guard pages, per-thread malloc arenas */
	pthread_t th[4];
	for (long i = 0; i < 4; i++)
		CHECK(pthread_create(&th[i], NULL, thread_fn, (void *)i) == 0);
	for (int i = 0; i < 4; i++)
		CHECK(pthread_join(th[i], NULL) == 0);

	/* the main stack grows in page faults */
	CHECK(grow_stack(64) >= 0);

	fork_children();
	return 0;
}
