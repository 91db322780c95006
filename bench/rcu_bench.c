/*
 * rcu_bench.c - how much lock-free readers of an RCU-mode maple tree lose
 * when a writer runs, compared with readers behind a pthread rwlock.
 *
 * Phases of the same length over the same VMA-shaped tree and the
 * same random keys:
 *   1. readers alone, each lookup inside mt_rcu_read_lock();
 *   2. the same readers while one writer thread erases a random VMA and
 *      stores it back, over and over (RCU mode: copy-on-write);
 *   3. the control: the same writer doing the same writes to a private
 *      copy of the tree that no reader reads. On a small shared machine
 *      any busy second thread slows a reader (memory bandwidth, a host
 *      core shared by the two vCPUs); phase 2 against phase 3 isolates
 *      what sharing the tree with the writer costs;
 *   3b. the control again with that private tree in plain mode: no
 *      grace periods, no membarrier IPIs (does reclaiming cost readers?);
 *   4. the same as 2, but the tree is in plain mode and every lookup takes
 *      the read side of a writer-preferring rwlock, every write the write
 *      side.
 * The result is lookups per second summed over the reader threads (median
 * of five interleaved rounds of each phase). On a 2-core machine use one
 * reader beside the writer.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "mtree.h"
#include "rcu_bench.h"

struct vma {
	unsigned long start, last;
};

struct shared {
	struct mtree mt;
	struct mtree private_mt; /* the control: same writes, a tree no reader reads */
	int writer_private;
	struct vma *v;
	unsigned n;
	int use_rwlock;
	pthread_rwlock_t lock;
	atomic_bool go, stop;
	atomic_long reads, writes;
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
	while (!atomic_load_explicit(&s->go, memory_order_acquire))
		;
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
	}
	atomic_fetch_add(&s->reads, n + (long)(sink & 0));
	mt_rcu_unregister_thread();
	return NULL;
}

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
	while (!atomic_load_explicit(&s->go, memory_order_acquire))
		;
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
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

static void phase(struct shared *s, unsigned readers, int with_writer, double seconds,
		  double *reads_per_s, double *writes_per_s)
{
	pthread_t th[17];
	unsigned nt = 0;
	struct timespec d = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};

	atomic_store(&s->go, false);
	atomic_store(&s->stop, false);
	atomic_store(&s->reads, 0);
	atomic_store(&s->writes, 0);
	for (unsigned i = 0; i < readers && nt < 16; i++)
		pthread_create(&th[nt++], NULL, reader, s);
	if (with_writer)
		pthread_create(&th[nt++], NULL, writer, s);
	atomic_store_explicit(&s->go, true, memory_order_release);
	nanosleep(&d, NULL);
	atomic_store(&s->stop, true);
	for (unsigned i = 0; i < nt; i++)
		pthread_join(th[i], NULL);
	*reads_per_s = (double)atomic_load(&s->reads) / seconds;
	if (writes_per_s)
		*writes_per_s = (double)atomic_load(&s->writes) / seconds;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
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

	/*
	 * Interleave short rounds of the phases and keep the median of each,
	 * so that load from other processes on this shared machine hits all
	 * phases alike instead of skewing whichever ran during it.
	 */
	enum { ROUNDS = 5 };
	double alone[ROUNDS], with[ROUNDS], priv[ROUNDS], plain[ROUNDS], rw[ROUNDS], wr_rcu[ROUNDS],
		wr_rw[ROUNDS];
	double slice = seconds / ROUNDS;
	out->readers = readers;
	for (int r = 0; r < ROUNDS; r++) {
		mt_set_rcu(&s->mt, true);
		s->use_rwlock = 0;
		phase(s, readers, 0, slice, &alone[r], NULL);
		phase(s, readers, 1, slice, &with[r], &wr_rcu[r]);
		s->writer_private = 1;
		phase(s, readers, 1, slice, &priv[r], NULL);
		mt_set_rcu(&s->private_mt, false);
		phase(s, readers, 1, slice, &plain[r], NULL);
		mt_set_rcu(&s->private_mt, true);
		s->writer_private = 0;
		mt_set_rcu(&s->mt, false);
		s->use_rwlock = 1;
		phase(s, readers, 1, slice, &rw[r], &wr_rw[r]);
	}
	out->readers_alone_ops = median(alone, ROUNDS);
	out->readers_with_writer_ops = median(with, ROUNDS);
	out->rwlock_with_writer_ops = median(rw, ROUNDS);
	out->readers_with_private_writer_ops = median(priv, ROUNDS);
	out->readers_with_plain_writer_ops = median(plain, ROUNDS);
	out->rcu_writer_ops = median(wr_rcu, ROUNDS);
	out->rwlock_writer_ops = median(wr_rw, ROUNDS);

	mt_destroy(&s->mt);
	mt_destroy(&s->private_mt);
	mt_rcu_barrier();
	pthread_rwlock_destroy(&s->lock);
	free(s->v);
	free(s);
	return 0;
}
