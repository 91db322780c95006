/*
 * shimtest.c - test workloads for libvmatop.so: `shimtest SCENARIO` runs
 * one scenario that exercises interposed calls; tests/shim-*.t record it
 * with `vmatop record` and require `vmatop verify` to find 0 mismatches.
 * Scenarios print nothing on success unless noted; exit status 0.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG 4096ul
#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			fprintf(stderr, "shimtest: %s:%d: %s failed: %s\n", __FILE__, __LINE__,    \
				#x, strerror(errno));                                              \
			exit(3);                                                                   \
		}                                                                                  \
	} while (0)

extern char **environ;
static const char *self;

static void *anon(size_t n, int prot)
{
	void *p = mmap(NULL, n, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	return p;
}

static void snap(const char *label)
{
	int (*fn)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "vmatop_snapshot");
	if (fn)
		fn(label);
}

/* mmap family: anon, file, MAP_FIXED over maps, partial munmap, mprotect split/merge,
 * mremap grow/move/shrink, madvise, pkey_mprotect, mmap64 */
static void s_mmap(void)
{
	char *a = anon(16 * PG, PROT_READ | PROT_WRITE);
	memset(a, 1, 16 * PG);
	CHECK(munmap(a + 4 * PG, 2 * PG) == 0);	      /* split */
	CHECK(mprotect(a, 2 * PG, PROT_READ) == 0);    /* split */
	CHECK(mprotect(a, 2 * PG, PROT_READ | PROT_WRITE) == 0); /* merge back */
	CHECK(mprotect(a + 8 * PG, PG, PROT_NONE) == 0);
	char *f = mmap(a + 10 * PG, 2 * PG, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0);
	CHECK(f == a + 10 * PG); /* MAP_FIXED over existing */
	int fd = open(self, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	char *file = mmap(NULL, 3 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(file != MAP_FAILED);
	CHECK(munmap(file + PG, PG) == 0); /* file split: offsets */
	char *fx = mmap(a + 12 * PG, PG, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, PG);
	CHECK(fx == a + 12 * PG);
	close(fd);
	char *g = anon(4 * PG, PROT_READ | PROT_WRITE);
	g[0] = 1;
	char *g2 = mremap(g, 4 * PG, 64 * PG, MREMAP_MAYMOVE); /* grow (may move) */
	CHECK(g2 != MAP_FAILED);
	char *dst = anon(8 * PG, PROT_NONE);
	char *g3 = mremap(g2, 64 * PG, 8 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, dst); /* move */
	CHECK(g3 == dst);
	CHECK(mremap(g3, 8 * PG, 2 * PG, 0) == g3); /* shrink */
	char *h = anon(8 * PG, PROT_READ | PROT_WRITE);
	CHECK(madvise(h + 2 * PG, 2 * PG, MADV_DONTFORK) == 0);
	CHECK(madvise(h + 4 * PG, 2 * PG, MADV_WIPEONFORK) == 0);
	CHECK(madvise(h, 8 * PG, MADV_DONTNEED) == 0);
	CHECK(madvise(h + 2 * PG, 2 * PG, MADV_DOFORK) == 0);
	CHECK(madvise(h + 6 * PG, PG, MADV_RANDOM) == 0);
	CHECK(pkey_mprotect(h, PG, PROT_READ, -1) == 0);
	void *m64 = mmap64(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(m64 != MAP_FAILED);
	void *sh = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sh != MAP_FAILED);
	CHECK(munmap(sh, PG) == 0);
	CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, -1, 0) == MAP_FAILED); /* failure recorded */
	/* a file unlinked while mapped: /proc says "(deleted)", the mirror
	 * keeps the name (no address-space change), verify takes them as one */
	char tmpl[] = "/tmp/vmatop-unlinked-XXXXXX";
	int tfd = mkstemp(tmpl);
	CHECK(tfd >= 0 && ftruncate(tfd, 2 * PG) == 0);
	char *un = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, tfd, 0);
	CHECK(un != MAP_FAILED);
	close(tfd);
	CHECK(unlink(tmpl) == 0);
	un[0] = 1;
	snap("mmap-done");
	CHECK(munmap(un, 2 * PG) == 0); /* gone again: selfmaps compares bytes */
}

/* The shim's fast mmap/munmap path (one thread, no stacks) and its exits:
 * errno untouched by a successful call and set by a failed one, a failed
 * munmap of exactly the range whose list was deferred, a munmap of another
 * range while a list is deferred, an anonymous mapping that merges. */
static void s_fastpath(void)
{
	errno = 1234;
	char *p = mmap(NULL, 4 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED && errno == 1234);
	errno = 1234;
	CHECK(munmap(p, 4 * PG) == 0 && errno == 1234);
	CHECK(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED &&
	      errno == EINVAL);
	char *a = anon(8 * PG, PROT_READ | PROT_WRITE);
	char *b = anon(PG, PROT_READ);
	CHECK(munmap(a + 2 * PG, PG) == 0); /* not b: b's list is taken first */
	CHECK(munmap(b, PG) == 0);
	/* into the hole just made, same protection as its neighbours: one VMA
	 * again, which only the deferred list tells; then a munmap of the same
	 * pages that fails (unaligned): the list must still be taken */
	char *m = mmap(a + 2 * PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(m == a + 2 * PG);
	CHECK(munmap(m + 1, PG - 1) == -1 && errno == EINVAL);
	snap("fastpath-merged");
	CHECK(munmap(m, PG) == 0);
	CHECK(munmap(a, 8 * PG) == 0);
	errno = 0;
}

static void s_brk(void)
{
	void *b0 = sbrk(0);
	CHECK(sbrk(64 * PG) != (void *)-1);
	CHECK(brk((char *)b0 + 16 * PG) == 0);
	CHECK(sbrk(8 * PG) != (void *)-1);
	int id = shmget(IPC_PRIVATE, 8 * PG, IPC_CREAT | 0600);
	if (id >= 0) {
		void *p = shmat(id, NULL, 0);
		CHECK(p != (void *)-1);
		void *q = shmat(id, NULL, SHM_RDONLY);
		CHECK(q != (void *)-1);
		CHECK(shmdt(p) == 0);
		shmctl(id, IPC_RMID, NULL);
	}
}

static void *t_maps(void *arg)
{
	long k = (long)arg;
	/* Every thread maps read-write: the kernel places the mappings of all
	 * threads next to each other and merges them (and with malloc's arena
	 * heaps and the thread stacks) while other threads list and unmap. */
	int prot = PROT_READ | PROT_WRITE;
	void *keep[64];
	for (int i = 0; i < 200; i++) {
		void *p = anon((size_t)(1 + (i + k) % 7) * PG, prot);
		keep[i % 64] = p;
		if (i >= 64 && i % 2)
			munmap(keep[(i + 1) % 64], PG);
		void *volatile m = malloc(1000 + (size_t)i * 10);
		free(m);
	}
	void *volatile big = malloc(512 << 10);
	free(big);
	return NULL;
}

static void s_threads(void)
{
	pthread_t th[8];
	for (long i = 0; i < 8; i++)
		CHECK(pthread_create(&th[i], NULL, t_maps, (void *)i) == 0);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	/* a second round reuses (and evicts) cached stacks */
	for (long i = 0; i < 8; i++)
		CHECK(pthread_create(&th[i], NULL, t_maps, (void *)i) == 0);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
}

static void s_malloc(void)
{
	void *p[32];
	for (int i = 0; i < 32; i++) {
		p[i] = malloc((size_t)(200 + i * 50) << 10);
		CHECK(p[i]);
		memset(p[i], 1, 4096);
	}
	for (int i = 0; i < 32; i += 2)
		free(p[i]);
	p[1] = realloc(p[1], 8 << 20);
	p[3] = realloc(p[3], 100);
	void *c = calloc(1, 1 << 20);
	void *al;
	CHECK(posix_memalign(&al, 1 << 16, 1 << 20) == 0);
	void *volatile small[1000];
	for (int i = 0; i < 1000; i++)
		small[i] = malloc(1024);
	for (int i = 0; i < 1000; i++)
		free(small[i]);
	free(c);
	free(al);
	malloc_trim(0);
}

static void s_rawsyscall(void)
{
	long p = syscall(SYS_mmap, 0, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != -1);
	CHECK(syscall(SYS_mprotect, p, PG, PROT_READ) == 0);
	CHECK(syscall(SYS_munmap, p + 4 * PG, PG) == 0);
	long q = syscall(SYS_mremap, p + PG, 2 * PG, 16 * PG, MREMAP_MAYMOVE);
	CHECK(q != -1);
	CHECK(syscall(SYS_madvise, q, PG, MADV_DONTFORK) == 0);
}

/*
 * vmaflags: calls that change only VMA flags split VMAs and merge them back
 * (/proc/self/maps shows it): mlock, munlock, mlock2 (VM_LOCKONFAULT),
 * mlockall/munlockall, the same through syscall(), and mseal (Linux 6.10)
 * through syscall(). Then a fresh page sealed behind the shim's back (a
 * syscall instruction of our own, which no library sees) so that its munmap
 * - the one undoing the mmap just before it, the fast path's pair - fails
 * with EPERM: the mapping stays and the mirror must keep it.
 */
/* a syscall instruction of the test's own: no library (the shim) sees it */
static long own_syscall3(long nr, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}
#ifndef SYS_mseal
#define SYS_mseal 462
#endif
static void s_vmaflags(void)
{
	char *p = anon(6 * PG, PROT_READ | PROT_WRITE);
	p[0] = 1;
	CHECK(mlock(p + PG, PG) == 0); /* [p, +1) [+1, +2 locked) [+2, +6) */
	CHECK(mlock(p + 3 * PG, PG) == 0);
	CHECK(munlock(p + PG, PG) == 0); /* merges back */
	int r2 = mlock2(p + 4 * PG, PG, MLOCK_ONFAULT);
	CHECK(r2 == 0 || errno == ENOSYS);
	CHECK(syscall(SYS_mlock, p + 2 * PG, PG) == 0);
	CHECK(syscall(SYS_munlock, p + 3 * PG, PG) == 0);
	/* every VMA changes; as non-root RLIMIT_MEMLOCK may refuse (ENOMEM,
	 * after locking some) - recorded and listed all the same */
	if (mlockall(MCL_CURRENT) != 0)
		CHECK(errno == ENOMEM || errno == EPERM);
	CHECK(munlockall() == 0);
	int sealed = syscall(SYS_mseal, p + 5 * PG, PG, 0) == 0;
	CHECK(sealed || errno == ENOSYS || errno == EINVAL);
	if (sealed)
		CHECK(munmap(p + 5 * PG, PG) == -1 && errno == EPERM);
	/* a read-only page in a hole between PROT_NONE pages: no merge */
	char *hole = anon(3 * PG, PROT_NONE);
	CHECK(munmap(hole + PG, PG) == 0);
	char *q = mmap(hole + PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(q == hole + PG);
	int qsealed = sealed && own_syscall3(SYS_mseal, (long)q, PG, 0) == 0;
	int qr = munmap(q, PG);
	CHECK(qsealed ? qr == -1 && errno == EPERM : qr == 0);
	/* remap_file_pages: page 1 of a shared file mapping shows file page 3
	 * (the kernel maps it again: [0,1) off 0, [1,2) off 3, [2,4) off 2) */
	int mfd = memfd_create("vmaflags", MFD_CLOEXEC);
	CHECK(mfd >= 0 && ftruncate(mfd, 4 * PG) == 0);
	char *fm = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	CHECK(fm != MAP_FAILED);
	CHECK(remap_file_pages(fm + PG, PG, 0, 3, 0) == 0);
	CHECK(close(mfd) == 0);
	printf("vmaflags sealed %d fresh %p remapped %p\n", qsealed, (void *)q, (void *)fm);
	fflush(stdout);
	CHECK(munmap(p, 5 * PG) == 0);
}

static void s_dlopen(void)
{
	void *h = dlopen("libz.so.1", RTLD_NOW);
	if (!h)
		h = dlopen("libm.so.6", RTLD_NOW);
	CHECK(h);
	void *h2 = dlopen("libutil.so.1", RTLD_NOW | RTLD_LOCAL);
	if (h2)
		dlclose(h2);
	dlclose(h);
}

static void maps_churn(int n)
{
	for (int i = 0; i < n; i++) {
		char *p = anon(3 * PG, PROT_READ | PROT_WRITE);
		p[0] = 1;
		mprotect(p + PG, PG, PROT_NONE);
	}
}

static void fork_chain(int depth)
{
	maps_churn(10);
	char *d = anon(2 * PG, PROT_READ | PROT_WRITE);
	madvise(d, PG, MADV_DONTFORK);
	if (depth == 0)
		return;
	pid_t p = fork();
	CHECK(p >= 0);
	if (p == 0) {
		fork_chain(depth - 1);
		if (depth % 2)
			_exit(0);
		exit(0);
	}
	int st;
	CHECK(waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void s_fork(void)
{
	fork_chain(3);
	for (int i = 0; i < 3; i++) {
		pid_t p = fork();
		if (p == 0) {
			maps_churn(5);
			_exit(0);
		}
		waitpid(p, NULL, 0);
	}
}

static volatile int stop_threads, pause_threads;
static _Atomic int paused_threads;
static void *t_churn(void *a)
{
	/* same protection in every thread: their pages merge */
	(void)a;
	void *keep[8] = {0};
	for (unsigned i = 0; !stop_threads; i++) {
		if (pause_threads) { /* between calls: in no hook */
			atomic_fetch_add(&paused_threads, 1);
			while (pause_threads && !stop_threads)
				usleep(500);
			atomic_fetch_sub(&paused_threads, 1);
			continue;
		}
		void *p = anon(PG * (1 + i % 3), PROT_READ | PROT_WRITE);
		if (keep[i % 8])
			munmap(keep[i % 8], PG);
		keep[i % 8] = p;
		void *volatile m = malloc(200 + i % 5000);
		free(m);
	}
	return NULL;
}

/* fork from a multithreaded parent. FORKMT_IDLE=1: the threads pause
 * (blocked) around each fork, so the children need not list their whole map
 * again (tests/shim-scenarios.t checks how much they listed); otherwise they
 * map, unmap and malloc while the parent forks. */
static void s_forkmt(void)
{
	int idle = getenv("FORKMT_IDLE") != NULL;
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, t_churn, (void *)(long)i);
	for (int i = 0; i < 6; i++) {
		usleep(3000);
		if (idle) {
			pause_threads = 1;
			while (atomic_load(&paused_threads) < 3)
				usleep(200);
		}
		pid_t p = fork();
		if (p == 0) {
			maps_churn(3);
			_exit(0);
		}
		CHECK(p > 0);
		waitpid(p, NULL, 0);
		pause_threads = 0;
	}
	stop_threads = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
}

/*
 * A thread that exits while its deferred list cannot be taken: thread A is
 * held inside its mmap hook (a signal handler that waits runs when the real
 * call returns, before the hook ends), and an mmap without MAP_FIXED is a
 * change of unknown range until it ends, which conflicts with every list;
 * thread B maps a page that merges with its neighbour (only its deferred
 * list tells the mirror) and exits at once. B's list must not be dropped:
 * it is listed later (pthread_join, the exit snapshot) and verify passes.
 */
static _Atomic int te_started, te_in_handler, te_release;
static void te_handler(int sig)
{
	(void)sig;
	atomic_store(&te_in_handler, 1);
	while (!atomic_load(&te_release)) {
		struct timespec d = {0, 1000000};
		nanosleep(&d, NULL);
	}
}
static void *te_long(void *a)
{
	(void)a;
	atomic_store(&te_started, 1);
	/* long enough for the signal to land inside the call */
	void *p = mmap(NULL, 64ul << 20, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	CHECK(p != MAP_FAILED);
	CHECK(munmap(p, 64ul << 20) == 0);
	return NULL;
}
static char *te_region;
static void *te_merge(void *a)
{
	(void)a;
	char *m = mmap(te_region + PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(m == te_region + PG); /* merges with te_region's first page */
	return NULL;
}
/*
 * sigloop: the one-thread fast path (its ring slot taken with an unlocked
 * cmpxchg) while a 100 us timer's handler maps and unmaps through the hooks
 * (nested: the general path, locked reservation) and keeps every 16th page.
 * A reservation split by the handler overwrites records: shim-scenarios.t
 * counts the loop's and the handler's records against the calls printed.
 */
static char *sl_kept[64];
static volatile sig_atomic_t sl_runs, sl_nkept;
static void sl_handler(int sig)
{
	(void)sig;
	int e = errno;
	char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED) {
		if (sl_runs % 16 == 0 && sl_nkept < 64)
			sl_kept[sl_nkept++] = p;
		else
			munmap(p, PG);
	}
	sl_runs++;
	errno = e;
}
static void s_sigloop(void)
{
	char *hole = anon(3 * PG, PROT_NONE);
	CHECK(hole != MAP_FAILED);
	CHECK(munmap(hole + PG, PG) == 0);
	struct sigaction sa = {.sa_handler = sl_handler, .sa_flags = SA_RESTART};
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
	struct itimerval it = {{0, 100}, {0, 100}};
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
	long i;
	for (i = 0; i < 200000 && sl_runs < 400; i++) {
		/* the hint: the handler's own page may have taken the hole */
		void *p = mmap(hole + PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHECK(p != MAP_FAILED);
		CHECK(munmap(p, PG) == 0);
	}
	struct itimerval off = {{0, 0}, {0, 0}};
	CHECK(setitimer(ITIMER_REAL, &off, NULL) == 0);
	CHECK(sl_runs >= 50); /* the handler ran inside the loop's hooks too */
	/* shim-scenarios.t counts the records of these calls in the trace */
	printf("sigloop handler %d kept %d loops %ld at %p\n", (int)sl_runs, (int)sl_nkept, i,
	       (void *)(hole + PG));
	CHECK(munmap(hole, 3 * PG) == 0);
}
/*
 * clock: memory calls bracketed by CLOCK_MONOTONIC reads, 25 ms apart (so
 * the collector converts them across many anchors when the shim stamps with
 * the TSC), and a fork; prints "clock LEN A B C" per mmap+munmap pair (A
 * before the mmap, B between, C after the munmap) for shim-scenarios.t,
 * which finds each call's record (by length and address) and checks its
 * time and duration against its bracket.
 */
static void s_clock(void)
{
	for (int i = 0; i < 6; i++) {
		size_t len = (size_t)(i + 3) * PG;
		struct timespec a, b, c;
		clock_gettime(CLOCK_MONOTONIC, &a);
		void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		clock_gettime(CLOCK_MONOTONIC, &b);
		CHECK(p != MAP_FAILED);
		CHECK(munmap(p, len) == 0);
		clock_gettime(CLOCK_MONOTONIC, &c);
		printf("clock %#zx %llu %llu %llu\n", len,
		       (unsigned long long)a.tv_sec * 1000000000ull + (unsigned long long)a.tv_nsec,
		       (unsigned long long)b.tv_sec * 1000000000ull + (unsigned long long)b.tv_nsec,
		       (unsigned long long)c.tv_sec * 1000000000ull + (unsigned long long)c.tv_nsec);
		usleep(25000);
	}
	fflush(stdout);
	pid_t c = fork();
	CHECK(c >= 0);
	if (c == 0)
		_exit(0);
	int st;
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st));
}
/*
 * ringstall: the recorder stops reading (SIGSTOP to the parent, when it is
 * vmatop) while the loop writes LOOPS pairs, then resumes it. With a ring of
 * S slots the shim must keep ~S pairs (one slot each: a parked mmap record
 * completed by its munmap) however its hot window stands
 * (records.h "Rings": the skips over phantom positions); shim-scenarios.t
 * counts the records, and the lost ones when LOOPS pairs exceed the ring.
 */
static void s_ringstall(void)
{
	long n = getenv("LOOPS") ? atol(getenv("LOOPS")) : 3000;
	char path[64], comm[32] = "";
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)getppid());
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	CHECK(fgets(comm, sizeof(comm), f) != NULL);
	fclose(f);
	CHECK(strcmp(comm, "vmatop\n") == 0); /* only ever stop the recorder */
	char *hole = anon(3 * PG, PROT_NONE);
	CHECK(hole != MAP_FAILED);
	CHECK(munmap(hole + PG, PG) == 0);
	usleep(20000); /* the recorder catches up */
	CHECK(kill(getppid(), SIGSTOP) == 0);
	for (long i = 0; i < n; i++) {
		void *p = mmap(hole + PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHECK(p == hole + PG);
		CHECK(munmap(p, PG) == 0);
	}
	CHECK(kill(getppid(), SIGCONT) == 0);
	usleep(50000); /* the recorder drains: nothing after the loop is dropped */
	printf("ringstall loops %ld at %p\n", n, (void *)(hole + PG));
	fflush(stdout);
	CHECK(munmap(hole, 3 * PG) == 0);
}
static void s_threadexit(void)
{
	te_region = anon(2 * PG, PROT_READ | PROT_WRITE);
	te_region[0] = 1;
	CHECK(munmap(te_region + PG, PG) == 0);
	struct sigaction sa = {.sa_handler = te_handler};
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	pthread_t a, b;
	CHECK(pthread_create(&a, NULL, te_long, NULL) == 0);
	while (!atomic_load(&te_started))
		sched_yield();
	usleep(3000); /* A is in its mmap (populating) */
	CHECK(pthread_kill(a, SIGUSR1) == 0);
	while (!atomic_load(&te_in_handler))
		usleep(200);
	CHECK(pthread_create(&b, NULL, te_merge, NULL) == 0);
	CHECK(pthread_join(b, NULL) == 0);
	printf("%lx %lx\n", (unsigned long)(te_region + PG), (unsigned long)gettid());
	fflush(stdout);
	atomic_store(&te_release, 1);
	CHECK(pthread_join(a, NULL) == 0);
	snap("threadexit");
}

/* vfork + exec of VFORK_EXEC (default /bin/true), which exits VFORK_STATUS (0) */
static void s_vfork(void)
{
	const char *prog = getenv("VFORK_EXEC") ? getenv("VFORK_EXEC") : "/bin/true";
	int want = getenv("VFORK_STATUS") ? atoi(getenv("VFORK_STATUS")) : 0;
	pid_t p = vfork();
	if (p == 0) {
		execl(prog, prog, (char *)NULL);
		_exit(127);
	}
	int st;
	CHECK(waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == want);
}

/*
 * Real vfork: the child runs in the parent's memory until it exits or execs.
 * Its writes (a global, a local of the parent's frame) must be seen by the
 * parent; a mapping it makes is the parent's; and an exec'd child is followed.
 */
static volatile int vf_global;
static void s_vforkmem(void)
{
	volatile int local = 0;
	vf_global = 0;
	pid_t p = vfork();
	if (p == 0) {
		vf_global = 42;
		local = 7;
		_exit(0);
	}
	CHECK(p > 0);
	int st;
	CHECK(waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (vf_global != 42 || local != 7) {
		fprintf(stderr, "shimtest: vfork child's writes not seen by the parent "
				"(global %d, local %d): vfork ran as fork\n",
			vf_global, local);
		exit(4);
	}
	/* a vfork child that maps memory: it is the parent's mapping */
	static void *volatile child_map;
	child_map = NULL;
	p = vfork();
	if (p == 0) {
		child_map = mmap(NULL, 3 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		_exit(0);
	}
	CHECK(p > 0 && waitpid(p, &st, 0) == p);
	CHECK(child_map && child_map != MAP_FAILED);
	CHECK(munmap((char *)child_map + PG, PG) == 0); /* the parent owns it */
	/* vfork + exec of a program under the shim: followed into the new image */
	p = vfork();
	if (p == 0) {
		execl(self, self, "mmap", (char *)NULL);
		_exit(127);
	}
	CHECK(p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	maps_churn(3);
}

/*
 * Children made without fork(): glibc clone() without CLONE_VM, clone with
 * CLONE_VM|CLONE_VFORK (shares memory like vfork), syscall(SYS_fork),
 * syscall(SYS_clone) and a fork through a raw syscall instruction (the shim
 * sees the child only at its first call).
 */
static volatile int cl_seen;
static int cl_proc(void *arg)
{
	(void)arg;
	maps_churn(3);
	_exit(0); /* returning would end it with a raw exit: no snapshot */
}
static int cl_vm(void *arg)
{
	(void)arg;
	cl_seen = 1; /* our memory */
	execl("/bin/true", "true", (char *)NULL);
	return 127;
}
static void s_clone(void)
{
	static char stk[2][256 << 10] __attribute__((aligned(16)));
	int st;
	pid_t p = clone(cl_proc, stk[0] + sizeof(stk[0]), SIGCHLD, NULL);
	CHECK(p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cl_seen = 0;
	p = clone(cl_vm, stk[1] + sizeof(stk[1]), CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
	CHECK(p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(cl_seen == 1);
	maps_churn(2);
	p = (pid_t)syscall(SYS_fork);
	if (p == 0) {
		maps_churn(3);
		_exit(0);
	}
	CHECK(p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	p = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (p == 0) {
		maps_churn(3);
		_exit(0);
	}
	CHECK(p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	long r = own_syscall3(SYS_fork, 0, 0, 0);
	if (r == 0) {
		maps_churn(3);
		exit(0);
	}
	CHECK(r > 0 && waitpid((pid_t)r, &st, 0) == r && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	maps_churn(2);
}

static void s_spawn(void)
{
	pid_t p;
	char *argv[] = {"true", NULL};
	CHECK(posix_spawn(&p, "/bin/true", NULL, NULL, argv, environ) == 0);
	waitpid(p, NULL, 0);
	char *argv2[] = {(char *)self, "mmap", NULL};
	CHECK(posix_spawnp(&p, self, NULL, NULL, argv2, environ) == 0);
	int st;
	CHECK(waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void s_exec(void)
{
	maps_churn(5);
	execl(self, self, "mmap", (char *)NULL);
	CHECK(0);
}

/*
 * SIGKILL: map, ask for a snapshot, map a marker region, print it; then map
 * a last region and die without another hook (write and raise are not
 * interposed), so its record is still parked in the ring (records.h
 * "Rings"): vmatop must take it. Prints both ranges, a line each.
 */
static void s_sigkill(void)
{
	maps_churn(20);
	snap("before-kill");
	char *m = anon(7 * PG, PROT_READ);
	printf("%lx-%lx\n", (unsigned long)m, (unsigned long)(m + 7 * PG));
	fflush(stdout);
	/* the next hooks take m's deferred list; the mapping made and unmapped
	 * leaves none, so the last mmap takes the fast path and parks */
	char *x = anon(PG, PROT_READ);
	CHECK(munmap(x, PG) == 0);
	char *last = anon(5 * PG, PROT_READ);
	char line[64];
	int n = snprintf(line, sizeof(line), "%lx-%lx\n", (unsigned long)last,
			 (unsigned long)(last + 5 * PG));
	CHECK(write(1, line, (size_t)n) == n);
	raise(SIGKILL);
}

/* Dump our own /proc/self/maps to fd 3 right before _exit: `vmatop maps` must print it. */
static void s_selfmaps(void)
{
	s_mmap();
	static char buf[1 << 20];
	size_t n = 0;
	int fd = open("/proc/self/maps", O_RDONLY);
	ssize_t r;
	while ((r = read(fd, buf + n, sizeof(buf) - n)) > 0)
		n += (size_t)r;
	close(fd);
	ssize_t w = write(3, buf, n);
	(void)w;
	_exit(0);
}

/*
 * The benchmark loop (bench/bench-shim.sh): prints its own time and CPU time
 * to stderr ("loop N ns user U us sys S us median M ns/iter", M the median
 * of chunks of 500 iterations) so the ratio can leave out
 * process start and exit. Each page is mapped into the same one-page hole
 * between two PROT_NONE pages (an address hint, not MAP_FIXED), so the
 * kernel does the same work in every run: a page mapped wherever the free
 * gap is would merge (or not) with whatever lies next to it, which differs
 * with and without the shim, and the ratio would measure the layout.
 * LOOP_FREE=1: no hint (read-write pages where the kernel puts them).
 * LOOP_AT=ADDR: the hole at a fixed address: how much the kernel's cost
 * depends on the neighbourhood of the hole in the mm's maple tree.
 */
static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

static void s_loop(void)
{
	long n = getenv("LOOPS") ? atol(getenv("LOOPS")) : 100000;
	int free_place = getenv("LOOP_FREE") != NULL;
	char *hole = NULL;
	if (!free_place) {
		const char *at = getenv("LOOP_AT");
		hole = at ? mmap((void *)strtoul(at, NULL, 0), 3 * PG, PROT_NONE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)
			  : anon(3 * PG, PROT_NONE);
		CHECK(hole != MAP_FAILED);
		CHECK(munmap(hole + PG, PG) == 0);
		hole += PG;
	}
	int prot = free_place ? PROT_READ | PROT_WRITE : PROT_READ;
	enum { CHUNK = 500 };
	long nchunks = n / CHUNK > 0 ? n / CHUNK : 1;
	double *chunk = calloc((size_t)nchunks, sizeof(*chunk));
	CHECK(chunk != NULL);
	struct timespec a, b, c0, c1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	c0 = a;
	for (long i = 0; i < n; i++) {
		void *p = mmap(hole, PG, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		munmap(p, PG);
		if ((i + 1) % CHUNK == 0 && (i + 1) / CHUNK <= nchunks) {
			clock_gettime(CLOCK_MONOTONIC, &c1);
			chunk[(i + 1) / CHUNK - 1] =
				((double)(c1.tv_sec - c0.tv_sec) * 1e9 + (double)(c1.tv_nsec - c0.tv_nsec)) /
				CHUNK;
			c0 = c1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	/* the median chunk: ns per iteration with the moments the machine took
	 * the CPU away left out */
	qsort(chunk, (size_t)nchunks, sizeof(*chunk), cmp_double);
	fprintf(stderr, "loop %lld ns user %lld us sys %lld us median %.1f ns/iter\n",
		(long long)(b.tv_sec - a.tv_sec) * 1000000000ll + (b.tv_nsec - a.tv_nsec),
		(long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
		(long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, chunk[nchunks / 2]);
	free(chunk);
}

/*
 * The loop of s_loop, paired inside one process: chunks of PAIR_CHUNK
 * iterations alternate between the interposed mmap/munmap (through the shim
 * when it is preloaded) and libc's own (looked up in libc.so.6, so no
 * preloaded library sees them). The two sides share the process, its layout
 * and the machine's moment, which drifts by tens of percent within seconds
 * on a shared VM. Prints the median chunk of each side and the median ratio
 * of each interposed chunk to the mean of the direct chunks on either side.
 * Without a preloaded shim both sides are libc: the ratio is ~1.00.
 */
static void s_pairloop(void)
{
	enum { PAIR_CHUNK = 250 };
	long n = getenv("LOOPS") ? atol(getenv("LOOPS")) : 100000;
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	CHECK(libc != NULL);
	void *(*libc_mmap)(void *, size_t, int, int, int, off_t) =
		(void *(*)(void *, size_t, int, int, int, off_t))dlsym(libc, "mmap");
	int (*libc_munmap)(void *, size_t) = (int (*)(void *, size_t))dlsym(libc, "munmap");
	CHECK(libc_mmap && libc_munmap);
	/* LOOP_FREE=1: the allocator's pattern - a read-write page wherever
	 * the kernel puts it (next to other read-write anonymous memory, so it
	 * merges and the munmap splits); default: a read-only page into a
	 * fixed one-page hole between PROT_NONE pages (no merge: the cheapest
	 * kernel path, the strictest ratio) */
	int free_place = getenv("LOOP_FREE") != NULL;
	int prot = free_place ? PROT_READ | PROT_WRITE : PROT_READ;
	char *hole = anon(3 * PG, PROT_NONE);
	CHECK(munmap(hole + PG, PG) == 0);
	hole += PG;
	char *at = free_place ? NULL : hole;
	long nchunks = n / PAIR_CHUNK < 8 ? 8 : n / PAIR_CHUNK;
	nchunks += nchunks & 1; /* direct, interposed, direct, ... */
	double *t = calloc((size_t)nchunks + 1, sizeof(*t));
	double *side[2] = {calloc((size_t)nchunks, sizeof(double)),
			   calloc((size_t)nchunks, sizeof(double))};
	double *ratio = calloc((size_t)nchunks, sizeof(double));
	CHECK(t && side[0] && side[1] && ratio);
	long ns[2] = {0, 0}, nr = 0;
	for (long k = 0; k <= nchunks; k++) {
		int via_shim = k & 1;
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (int i = 0; i < PAIR_CHUNK; i++) {
			void *p;
			if (via_shim) {
				p = mmap(at, PG, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				munmap(p, PG);
			} else {
				p = libc_mmap(at, PG, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				libc_munmap(p, PG);
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		t[k] = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) /
		       PAIR_CHUNK;
		side[via_shim][ns[via_shim]++] = t[k];
		if (!via_shim && k >= 2)
			ratio[nr++] = t[k - 1] / ((t[k - 2] + t[k]) / 2);
	}
	qsort(side[0], (size_t)ns[0], sizeof(double), cmp_double);
	qsort(side[1], (size_t)ns[1], sizeof(double), cmp_double);
	qsort(ratio, (size_t)nr, sizeof(double), cmp_double);
	fprintf(stderr, "pairloop direct %.1f ns/iter interposed %.1f ns/iter ratio %.4f\n",
		side[0][ns[0] / 2], side[1][ns[1] / 2], ratio[nr / 2]);
	CHECK(munmap(hole - PG, 3 * PG) == 0);
	free(t);
	free(side[0]);
	free(side[1]);
	free(ratio);
}

static const struct {
	const char *name;
	void (*fn)(void);
} scen[] = {
	{"mmap", s_mmap},     {"brk", s_brk},	      {"threads", s_threads},
	{"malloc", s_malloc}, {"rawsyscall", s_rawsyscall}, {"dlopen", s_dlopen},
	{"fork", s_fork},     {"forkmt", s_forkmt},   {"vfork", s_vfork},
	{"vforkmem", s_vforkmem}, {"clone", s_clone},
	{"spawn", s_spawn},   {"exec", s_exec},	      {"sigkill", s_sigkill},
	{"selfmaps", s_selfmaps}, {"loop", s_loop}, {"pairloop", s_pairloop},
	{"fastpath", s_fastpath}, {"threadexit", s_threadexit}, {"sigloop", s_sigloop},
	{"ringstall", s_ringstall}, {"clock", s_clock}, {"vmaflags", s_vmaflags},
};

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc < 2) {
		fprintf(stderr, "usage: shimtest SCENARIO...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		size_t k;
		for (k = 0; k < sizeof(scen) / sizeof(scen[0]); k++)
			if (!strcmp(argv[i], scen[k].name)) {
				scen[k].fn();
				break;
			}
		if (k == sizeof(scen) / sizeof(scen[0])) {
			fprintf(stderr, "shimtest: unknown scenario %s\n", argv[i]);
			return 2;
		}
	}
	return 0;
}
