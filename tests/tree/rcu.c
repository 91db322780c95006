/*
 * rcu.c - stress test of the maple tree's RCU mode: one writer, lock-free
 * readers, every read result checked for legality.
 *
 * The writer (main thread) inserts, erases, replaces (new version, same
 * range), overwrites runs of whole entries with one spanning store, and
 * every so often duplicates the tree and swaps the copy in, for
 * RCU_STRESS_SECONDS (default 5). Reader threads do point lookups, next and
 * prev searches, cursor walks and gap searches under mt_rcu_read_lock()
 * only, and check each answer against a logical clock:
 *
 *  - an entry records its own range, `born` (clock value taken before it
 *    was published) and `died` (taken after it was unpublished). A reader
 *    that read the clock as t0 before and t1 after its search may see entry
 *    E only if E covers what was asked, E.born <= t1 and (E.died == 0 or
 *    E.died > t0): E was in the tree at some moment of the read.
 *  - each address cell records since when it has been continuously occupied
 *    (a clock value taken after the publishing store, cleared before the
 *    erasing one). A gap or an empty lookup returned to a reader must not
 *    cover a cell occupied since before the reader began.
 *
 * Dead entries are freed by the writer in batches after mt_rcu_synchronize()
 * (the caller's side of the RCU rules); nodes go through a counting
 * allocator, which must be back to zero after mt_rcu_barrier(): nothing
 * leaked, nothing freed twice. tree-rcu-valgrind.t reruns this under
 * valgrind memcheck, tree-rcu-tsan.t under ThreadSanitizer.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "mtree.h"
#include "tap.h"

#define CELLS 4096
#define CELL 0x1000UL
#define BASE 0x10000000UL
#define NREADERS 2

struct ent {
	unsigned long first, last;
	uint64_t born;
	_Atomic uint64_t died;
	struct ent *next_dead;
};

static _Atomic uint64_t clk;
static _Atomic uint64_t occ_since[CELLS]; /* 0: free */
static struct ent *owner[CELLS];	  /* writer-private model */
static struct mtree *_Atomic cur;
static atomic_bool stop;
static _Atomic long live_nodes, live_ents, violations, reads;

static uint64_t tick(void) { return atomic_fetch_add(&clk, 1) + 1; }

/* ---- counting node allocator (thread-safe) ---- */
static void *c_alloc(void *ctx)
{
	(void)ctx;
	void *p = aligned_alloc(MT_NODE_ALIGN, MT_NODE_SIZE);
	if (p)
		atomic_fetch_add(&live_nodes, 1);
	return p;
}
static void c_free(void *ctx, void *p)
{
	(void)ctx;
	atomic_fetch_sub(&live_nodes, 1);
	free(p);
}
static const struct mt_allocator counting = {.alloc = c_alloc, .free = c_free};

/* Dead entries wait here for a grace period (writer only). */
static struct ent *dead_list;
static unsigned nr_dead;

static void free_dead(void)
{
	mt_rcu_synchronize(); /* no reader can still hold one */
	while (dead_list) {
		struct ent *e = dead_list;
		dead_list = e->next_dead;
		free(e);
		atomic_fetch_sub(&live_ents, 1);
	}
	nr_dead = 0;
}

static void violation(const char *what, unsigned long idx, const struct ent *e, uint64_t t0,
		      uint64_t t1)
{
	if (atomic_fetch_add(&violations, 1) < 10)
		diag("VIOLATION %s at %#lx: entry [%#lx,%#lx] born %lu died %lu, read [%lu,%lu]",
		     what, idx, e ? e->first : 0, e ? e->last : 0,
		     e ? (unsigned long)e->born : 0, e ? (unsigned long)atomic_load(&e->died) : 0,
		     (unsigned long)t0, (unsigned long)t1);
}

static void check_entry(const char *what, unsigned long lo, unsigned long hi,
			const struct mt_range *r, uint64_t t0, uint64_t t1)
{
	const struct ent *e = r->entry;
	uint64_t died = atomic_load(&e->died);
	if (r->first != e->first || r->last != e->last)
		violation("range differs from the entry's own", lo, e, t0, t1);
	if (e->last < lo || e->first > hi)
		violation(what, lo, e, t0, t1);
	if (e->born > t1 || (died && died <= t0))
		violation("entry not live during the read", lo, e, t0, t1);
}

static unsigned long rnd(unsigned *seed) { return (unsigned long)rand_r(seed); }

static void *reader(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	long n = 0;

	mt_rcu_register_thread();
	while (!atomic_load(&stop)) {
		unsigned long idx = BASE + rnd(&seed) % (CELLS * CELL);
		struct mt_range r;
		mt_rcu_read_lock();
		uint64_t t0 = atomic_load(&clk);
		struct mtree *mt = atomic_load_explicit(&cur, memory_order_acquire);
		switch (rnd(&seed) % 6) {
		case 0: {
			bool f = mt_load_range(mt, idx, &r);
			uint64_t t1 = atomic_load(&clk);
			if (f) {
				check_entry("load returned an entry not covering the index", idx, idx,
					    &r, t0, t1);
			} else {
				uint64_t since = atomic_load(&occ_since[(idx - BASE) / CELL]);
				if (since && since <= t0)
					violation("load missed an entry present all along", idx, NULL,
						  t0, since);
			}
			break;
		}
		case 1: {
			unsigned long max = idx + 64 * CELL;
			bool f = mt_next(mt, idx, max, &r);
			uint64_t t1 = atomic_load(&clk);
			if (f)
				check_entry("next outside [index, max]", idx, max, &r, t0, t1);
			break;
		}
		case 2: {
			unsigned long min = idx - 64 * CELL;
			bool f = mt_prev(mt, idx, min, &r);
			uint64_t t1 = atomic_load(&clk);
			if (f)
				check_entry("prev outside [min, index]", min, idx, &r, t0, t1);
			break;
		}
		case 3: {
			struct mt_cursor c;
			void *e;
			unsigned long prev_last = 0;
			int k = 0;
			mt_for_each(mt, &c, e, idx, ULONG_MAX)
			{
				uint64_t t1 = atomic_load(&clk);
				check_entry("walk", idx, ULONG_MAX, &c.cur, t0, t1);
				/* under writes a walk is no snapshot, but it must advance */
				if (k && c.cur.last <= prev_last)
					violation("walk did not advance", c.cur.first, e, t0, t1);
				prev_last = c.cur.last;
				if (++k == 16)
					break;
			}
			break;
		}
		case 4: { /* a cursor walking backwards (mtc_prev stays on its leaf) */
			struct mt_cursor c;
			void *e;
			unsigned long min = idx > BASE + 64 * CELL ? idx - 64 * CELL : 0;
			unsigned long prev_first = ULONG_MAX;
			mtc_init(&c, mt, idx);
			for (int k = 0; k < 16 && (e = mtc_prev(&c, min)); k++) {
				uint64_t t1 = atomic_load(&clk);
				check_entry("walk back", min, idx, &c.cur, t0, t1);
				if (c.cur.first >= prev_first)
					violation("walk back did not retreat", c.cur.first, e, t0, t1);
				prev_first = c.cur.first;
			}
			break;
		}
		default: {
			unsigned long size = (1 + rnd(&seed) % 4) * CELL, start;
			unsigned long min = idx & ~(CELL - 1), max = min + 256 * CELL - 1;
			int ret = rnd(&seed) & 1 ? mt_gap_highest(mt, min, max, size, &start)
						 : mt_gap_lowest(mt, min, max, size, &start);
			if (ret == 0) {
				if (start < min || start + size - 1 > max)
					violation("gap outside the window", start, NULL, t0, 0);
				for (unsigned long a = start; a < start + size; a += CELL) {
					if (a < BASE || a >= BASE + CELLS * CELL)
						continue;
					uint64_t since = atomic_load(&occ_since[(a - BASE) / CELL]);
					if (since && since <= t0)
						violation("gap covers a cell occupied all along", a,
							  NULL, t0, since);
				}
			} else if (ret != -EBUSY) {
				violation("gap search failed", idx, NULL, t0, (uint64_t)-ret);
			}
		}
		}
		mt_rcu_read_unlock();
		n++;
	}
	atomic_fetch_add(&reads, n);
	mt_rcu_unregister_thread();
	return NULL;
}

/* ---- writer ---- */

static struct ent *new_ent(unsigned c0, unsigned c1)
{
	struct ent *e = calloc(1, sizeof(*e));
	if (!e)
		abort();
	atomic_fetch_add(&live_ents, 1);
	e->first = BASE + c0 * CELL;
	e->last = BASE + (c1 + 1) * CELL - 1;
	e->born = tick(); /* before it is published */
	return e;
}

static void kill_ent(struct ent *e)
{
	atomic_store(&e->died, tick()); /* after it was unpublished */
	e->next_dead = dead_list;
	dead_list = e;
	if (++nr_dead == 1024)
		free_dead();
}

static void occupy(unsigned c0, unsigned c1, struct ent *e)
{
	uint64_t now = tick(); /* after the publishing store */
	for (unsigned c = c0; c <= c1; c++) {
		if (!owner[c])
			atomic_store(&occ_since[c], now);
		owner[c] = e;
	}
}

/* Before the erase is published: from now on its cells may read as empty. */
static void vacate(struct ent *e)
{
	for (unsigned long a = e->first; a < e->last; a += CELL) {
		unsigned c = (a - BASE) / CELL;
		owner[c] = NULL;
		atomic_store(&occ_since[c], 0);
	}
}

static int writer(double seconds, long *nops, long *ndups)
{
	unsigned seed = 12345;
	struct timespec t0, now;
	char msg[256];
	long ops = 0, dups = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct mtree *mt = atomic_load(&cur);
		unsigned c0 = rnd(&seed) % CELLS;
		unsigned op = rnd(&seed) % 100;

		if (op < 40) { /* insert into a free run, leaving a gap before it */
			unsigned len = 1 + rnd(&seed) % 3, c1 = c0 + len - 1, c;
			if (c1 >= CELLS)
				continue;
			for (c = c0; c <= c1 && !owner[c]; c++)
				;
			if (c <= c1)
				continue;
			struct ent *e = new_ent(c0, c1);
			int r = mt_insert(mt, e->first, e->last, e);
			if (r) {
				diag("insert failed: %d", r);
				return -1;
			}
			occupy(c0, c1, e);
		} else if (op < 75) { /* erase */
			struct ent *e = owner[c0];
			if (!e)
				continue;
			vacate(e);
			if (mt_erase(mt, c0 * CELL + BASE, NULL) != e) {
				diag("erase returned the wrong entry");
				return -1;
			}
			kill_ent(e);
		} else if (op < 90) { /* replace with a new version */
			struct ent *e = owner[c0];
			if (!e)
				continue;
			unsigned e0 = (e->first - BASE) / CELL, e1 = (e->last - BASE) / CELL;
			struct ent *n = new_ent(e0, e1);
			if (mt_replace(mt, e->first, n, NULL)) {
				diag("replace failed");
				return -1;
			}
			for (unsigned c = e0; c <= e1; c++)
				owner[c] = n;
			kill_ent(e);
		} else if (op < 98) { /* spanning store over whole entries */
			unsigned c1 = c0 + rnd(&seed) % 24;
			if (c1 >= CELLS)
				continue;
			if (owner[c0])
				c0 = (owner[c0]->first - BASE) / CELL;
			if (owner[c1])
				c1 = (owner[c1]->last - BASE) / CELL;
			struct ent *dead[32];
			unsigned nd = 0;
			for (unsigned c = c0; c <= c1; c++)
				if (owner[c] && (nd == 0 || dead[nd - 1] != owner[c]))
					dead[nd++] = owner[c];
			struct ent *e = new_ent(c0, c1);
			if (mt_store(mt, e->first, e->last, e)) {
				diag("store failed");
				return -1;
			}
			occupy(c0, c1, e); /* cells owned before stay occupied all along */
			for (unsigned i = 0; i < nd; i++)
				kill_ent(dead[i]);
		} else { /* dup and swap */
			struct mtree *copy = malloc(sizeof(*copy));
			if (!copy || mt_dup(mt, copy, NULL)) {
				diag("dup failed");
				return -1;
			}
			atomic_store_explicit(&cur, copy, memory_order_release);
			mt_rcu_synchronize(); /* no reader holds the old struct now */
			mt_destroy(mt);
			free(mt);
			dups++;
		}
		if (++ops % 4096 == 0 &&
		    mt_validate(atomic_load(&cur), msg, sizeof(msg))) {
			diag("invalid tree after %ld ops: %s", ops, msg);
			return -1;
		}
		/* the clock every 256 writes: a writer slowed down a lot
		 * (valgrind, TSan, a loaded machine) still stops on time */
		if (ops % 256 == 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if ((double)(now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9 >=
			    seconds)
				break;
		}
	}
	*nops = ops;
	*ndups = dups;
	return 0;
}

int main(void)
{
	const char *env = getenv("RCU_STRESS_SECONDS");
	double seconds = env ? atof(env) : 5.0;
	pthread_t th[NREADERS];
	long ops = 0, dups = 0;
	char msg[256];

	plan(6);
	struct mtree *mt = malloc(sizeof(*mt));
	mt_init_allocator(mt, MT_FLAG_ALLOC_RANGE | MT_FLAG_RCU, &counting);
	atomic_store(&cur, mt);
	for (int i = 0; i < NREADERS; i++)
		pthread_create(&th[i], NULL, reader, (void *)(uintptr_t)(i + 1));

	int wr = writer(seconds, &ops, &dups);
	atomic_store(&stop, true);
	for (int i = 0; i < NREADERS; i++)
		pthread_join(th[i], NULL);

	ok(wr == 0, "writer ran %.1f s: %ld writes, %ld dup-and-swaps", seconds, ops, dups);
	ok(atomic_load(&reads) > 1000, "readers completed %ld searches alongside the writer",
	   (long)atomic_load(&reads));
	ok(atomic_load(&violations) == 0, "no reader saw an illegal result (%ld violations)",
	   (long)atomic_load(&violations));
	mt = atomic_load(&cur);
	int v = mt_validate(mt, msg, sizeof(msg));
	ok(v == 0, "final tree valid%s%s", v ? ": " : "", v ? msg : "");

	for (unsigned c = 0; c < CELLS; c++)
		if (owner[c] && (c == 0 || owner[c - 1] != owner[c]))
			kill_ent(owner[c]);
	free_dead();
	mt_destroy(mt);
	free(mt);
	mt_rcu_barrier();
	ok(atomic_load(&live_nodes) == 0, "every node freed after the grace periods (%ld left)",
	   (long)atomic_load(&live_nodes));
	ok(atomic_load(&live_ents) == 0, "every entry freed after a grace period (%ld left)",
	   (long)atomic_load(&live_ents));
	return tap_exit();
}
