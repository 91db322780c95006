/*
 * rcu_bench.c - how much lock-free readers of an RCU-mode maple tree lose
 * when a writer runs, compared with readers behind a pthread rwlock.
 *
 * One reader thread (first CPU) looks up random addresses of a VMA-shaped
 * tree; one writer thread (last CPU) erases a random VMA and stores it back,
 * over and over. The machine this runs on is shared and its speed drifts by
 * tens of percent within seconds, so "alone" and "beside the writer" are not
 * measured one after the other but paired: the run is cut into windows of
 * 10 ms, in each pair of windows the writer works in one (random which) and
 * sleeps in a futex in the other, and the reader's lookups are summed per
 * kind of window. Drift hits both kinds alike. Four such runs:
 *   1. shared: the writer writes the tree the reader reads (RCU mode:
 *      copy-on-write, retired nodes freed after grace periods);
 *   2. control: the same writes to a private copy no reader reads. On a
 *      small VM any busy second vCPU slows a reader (a host core or its
 *      caches shared); 1 against 2 isolates what sharing the tree costs;
 *   3. control with that private tree in plain mode (no grace periods, no
 *      membarrier IPIs): does reclaiming cost the reader?
 *   4. rwlock: the shared tree in plain mode, every lookup under the read
 *      side of a writer-preferring pthread rwlock, every write under the
 *      write side.
 * Results are lookups per second of reader time in each kind of window.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mtree.h"
#include "rcu_bench.h"

struct vma {
	unsigned long start, last;
};

enum { WINDOW_NS = 10 * 1000 * 1000 };

struct shared {
	struct mtree mt;
	struct mtree private_mt; /* the controls: same writes, a tree no reader reads */
	int writer_private;
	struct vma *v;
	unsigned n;
	int use_rwlock;
	pthread_rwlock_t lock;
	atomic_bool stop;
	atomic_int writer_on; /* futex word: 1 = write, 0 = sleep */
	atomic_long reads;    /* published by the reader every 64 lookups */
	atomic_long writes;
};

/* Readers on the first CPU, the writer on the last (best effort). */
static int pin_self(int last)
{
	cpu_set_t set;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int cpu = last && ncpu > 1 ? (int)ncpu - 1 : 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	return cpu;
}

static void *reader(void *arg)
{
	struct shared *s = arg;
	unsigned seed = (unsigned)(uintptr_t)&seed;
	long n = 0;
	uintptr_t sink = 0;

	pin_self(0);
	mt_rcu_register_thread();
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		for (int k = 0; k < 64; k++) {
			const struct vma *v = &s->v[rand_r(&seed) % s->n];
			unsigned long key = v->start + (unsigned long)rand_r(&seed) % (v->last - v->start + 1);
			if (s->use_rwlock) {
				pthread_rwlock_rdlock(&s->lock);
				sink += (uintptr_t)mt_load(&s->mt, key);
				pthread_rwlock_unlock(&s->lock);
			} else {
				mt_rcu_read_lock();
				sink += (uintptr_t)mt_load(&s->mt, key);
				mt_rcu_read_unlock();
			}
		}
		n += 64;
		atomic_store_explicit(&s->reads, n + (long)(sink & 0), memory_order_relaxed);
	}
	mt_rcu_unregister_thread();
	return NULL;
}

static void futex_wait(atomic_int *w, int val)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(atomic_int *w) { syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

static void *writer(void *arg)
{
	struct shared *s = arg;
	unsigned seed = 99;
	long n = 0;

	/* reclaim on the writer's CPU, as a collector thread would */
	static int worker_set;
	if (!worker_set++ && !getenv("RCU_BENCH_SHARED_WORKER"))
		mt_rcu_writer_cpu(pin_self(1));
	else
		pin_self(1);
	for (;;) {
		while (!atomic_load_explicit(&s->writer_on, memory_order_acquire) &&
		       !atomic_load_explicit(&s->stop, memory_order_relaxed))
			futex_wait(&s->writer_on, 0); /* asleep: the CPU is idle */
		if (atomic_load_explicit(&s->stop, memory_order_relaxed))
			break;
		unsigned i = rand_r(&seed) % s->n;
		void *e = (void *)(uintptr_t)(((uintptr_t)i + 1) << 1);
		struct mtree *t = s->writer_private ? &s->private_mt : &s->mt;
		if (s->use_rwlock)
			pthread_rwlock_wrlock(&s->lock);
		mt_erase(t, s->v[i].start, NULL);
		mt_store(t, s->v[i].start, s->v[i].last, e);
		if (s->use_rwlock)
			pthread_rwlock_unlock(&s->lock);
		n++;
	}
	atomic_fetch_add(&s->writes, n);
	return NULL;
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/*
 * One paired run: windows of WINDOW_NS, the writer on in one of each pair
 * (random which). *off and *on: the reader's lookups per second in each
 * kind of window; *wps: the writer's writes per second of "on" time.
 */
static void paired(struct shared *s, double seconds, double *off, double *on, double *wps)
{
	pthread_t rd, wr;
	uint64_t cnt[2] = {0, 0}, ns[2] = {0, 0};
	unsigned seed = 4242;
	long pairs = (long)(seconds * 1e9 / (2.0 * WINDOW_NS));
	struct timespec w = {0, WINDOW_NS};

	atomic_store(&s->stop, false);
	atomic_store(&s->writer_on, 0);
	atomic_store(&s->reads, 0);
	atomic_store(&s->writes, 0);
	pthread_create(&rd, NULL, reader, s);
	pthread_create(&wr, NULL, writer, s);
	nanosleep(&w, NULL); /* let both start */
	for (long p = 0; p < (pairs > 0 ? pairs : 1); p++) {
		int first = rand_r(&seed) & 1;
		for (int k = 0; k < 2; k++) {
			int state = k ? !first : first;
			atomic_store_explicit(&s->writer_on, state, memory_order_release);
			if (state)
				futex_wake(&s->writer_on);
			long r0 = atomic_load_explicit(&s->reads, memory_order_relaxed);
			uint64_t t0 = now_ns();
			nanosleep(&w, NULL);
			cnt[state] += (uint64_t)(atomic_load_explicit(&s->reads, memory_order_relaxed) - r0);
			ns[state] += now_ns() - t0;
		}
	}
	atomic_store(&s->stop, true);
	atomic_store(&s->writer_on, 1);
	futex_wake(&s->writer_on);
	pthread_join(rd, NULL);
	pthread_join(wr, NULL);
	*off = ns[0] ? (double)cnt[0] * 1e9 / (double)ns[0] : 0;
	*on = ns[1] ? (double)cnt[1] * 1e9 / (double)ns[1] : 0;
	if (wps)
		*wps = ns[1] ? (double)atomic_load(&s->writes) * 1e9 / (double)ns[1] : 0;
}

int rcu_bench_run(unsigned n, double seconds, unsigned readers, struct rcu_bench_result *out)
{
	struct shared *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->n = n;
	s->v = calloc(n, sizeof(*s->v));
	if (!s->v) {
		free(s);
		return -ENOMEM;
	}
	pthread_rwlockattr_t attr;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&s->lock, &attr);

	unsigned seed = 7;
	unsigned long a = 0x10000000UL;
	mt_init(&s->mt, MT_FLAG_ALLOC_RANGE | MT_FLAG_RCU);
	mt_init(&s->private_mt, MT_FLAG_ALLOC_RANGE | MT_FLAG_RCU);
	for (unsigned i = 0; i < n; i++) {
		unsigned long len = (1 + (unsigned long)rand_r(&seed) % 16) << 12;
		s->v[i].start = a;
		s->v[i].last = a + len - 1;
		mt_store(&s->mt, a, a + len - 1, (void *)(uintptr_t)(((uintptr_t)i + 1) << 1));
		mt_store(&s->private_mt, a, a + len - 1, (void *)(uintptr_t)(((uintptr_t)i + 1) << 1));
		a += len + ((1 + (unsigned long)rand_r(&seed) % 4) << 12);
	}

	double off, off_priv, off_plain, off_rw;
	(void)readers; /* one reader thread: the machine has two CPUs */
	out->readers = 1;
	/* 1. shared tree, RCU mode */
	paired(s, seconds, &off, &out->readers_with_writer_ops, &out->rcu_writer_ops);
	out->readers_alone_ops = off;
	/* 2. control: a private RCU tree */
	s->writer_private = 1;
	paired(s, seconds, &off_priv, &out->readers_with_private_writer_ops, NULL);
	/* 3. control: a private plain tree */
	mt_set_rcu(&s->private_mt, false);
	paired(s, seconds, &off_plain, &out->readers_with_plain_writer_ops, NULL);
	s->writer_private = 0;
	/* 4. rwlock */
	mt_set_rcu(&s->mt, false);
	s->use_rwlock = 1;
	paired(s, seconds, &off_rw, &out->rwlock_with_writer_ops, &out->rwlock_writer_ops);
	/* each run's "on" rate against its own "off" windows, scaled to run 1's */
	out->readers_with_private_writer_ops *= off_priv > 0 ? off / off_priv : 0;
	out->readers_with_plain_writer_ops *= off_plain > 0 ? off / off_plain : 0;
	out->rwlock_alone_ops = off_rw;

	mt_destroy(&s->mt);
	mt_destroy(&s->private_mt);
	mt_rcu_barrier();
	pthread_rwlock_destroy(&s->lock);
	free(s->v);
	free(s);
	return 0;
}
