/*
 * mtree-bench.c - speed and memory of the maple tree (libmtree.a) on
 * VMA-like address maps, against the structures it replaces.
 *
 * Entries are "VMAs": page-aligned ranges separated by gaps, kept in an
 * MT_FLAG_ALLOC_RANGE tree built in address order (how vmatop mirrors an
 * address space). Measured, all in one run so ratios are comparable:
 *
 *   dup           mt_dup() of the whole tree vs rebuilding a copy by
 *                 mt_store() of every entry in order, n = 21 .. 51221 and
 *                 1,000,000 (copies are freed outside the timed region);
 *   fork_replace  what fork does after the copy: mt_dup() + replacing every
 *                 entry in place through a cursor (mtc_replace), vs
 *                 mt_dup() + mt_store() of every entry;
 *   lookup        random point lookups on 51221 ranges: maple tree vs glibc
 *                 tsearch/tfind (a red-black tree; ranges compare equal when
 *                 they overlap) vs binary search in a sorted array, with the
 *                 same key sequence;
 *   modify        erase a random VMA, then store it back: per-op cost of
 *                 each phase, maple tree vs tsearch tree;
 *   memory        mt_bytes() / mt_count() at 51221 entries.
 *
 * Every sample is the median of several repetitions. Targets are printed as
 * ratios with PASS/MISS; a MISS never makes the program fail.
 *
 * Usage: mtree-bench [--json] [--json-file PATH] [--quick]
 *   --json        print exactly one JSON object on stdout (nothing else)
 *   --json-file   print the human table and also write the JSON to PATH
 *   --quick       fewer repetitions and no 1,000,000-entry tree (smoke test)
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <search.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mtree.h"
#include "rcu_bench.h"

#define PAGE 4096UL

struct vma {
	unsigned long start, end; /* [start, end) */
	unsigned long flags;
};

static bool quick;

/* ------------------------------------------------------------- helpers */

static uint64_t rng_state = 0x5eed5eed;
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (!p) {
		fprintf(stderr, "mtree-bench: out of memory (%zu x %zu bytes)\n", n, size);
		exit(1);
	}
	return p;
}

static void die_rc(const char *what, int rc)
{
	fprintf(stderr, "mtree-bench: %s failed: %s\n", what, strerror(-rc));
	exit(1);
}

/* n VMA-like ranges from 0x400000 up: 1..16 pages, gaps of 1..8 pages */
static struct vma *make_vmas(size_t n)
{
	struct vma *v = xcalloc(n ? n : 1, sizeof(*v));
	unsigned long a = 0x400000;
	for (size_t i = 0; i < n; i++) {
		v[i].start = a;
		v[i].end = a + (1 + rnd() % 16) * PAGE;
		v[i].flags = i;
		a = v[i].end + (1 + rnd() % 8) * PAGE;
	}
	return v;
}

static void build(struct mtree *t, const struct vma *v, size_t n)
{
	mt_init(t, MT_FLAG_ALLOC_RANGE);
	for (size_t i = 0; i < n; i++) {
		int rc = mt_store(t, v[i].start, v[i].end - 1, (void *)&v[i]);
		if (rc)
			die_rc("mt_store", rc);
	}
}

/* copies per timed sample, so that one sample takes a few milliseconds */
static size_t copies_for(size_t n)
{
	size_t m = 400000 / (n + 1);
	if (quick)
		m /= 4;
	return m < 1 ? 1 : m > 2000 ? 2000 : m;
}

static int samples_for(size_t n)
{
	if (quick)
		return 3;
	return n >= 500000 ? 5 : 9;
}

/* ---------------------------------------------------------------- dup */

struct dup_row {
	size_t n;
	double dup_ns, rebuild_ns;	     /* whole tree */
	double dup_replace_ns, dup_store_ns; /* fork: dup + replace every entry */
	size_t bytes, nodes, copy_bytes;
	unsigned height;
};

static void bench_dup(size_t n, struct dup_row *row)
{
	struct vma *v = make_vmas(n), *child = xcalloc(n ? n : 1, sizeof(*child));
	struct mtree src;
	build(&src, v, n);
	for (size_t i = 0; i < n; i++)
		child[i] = v[i];

	size_t m = copies_for(n);
	int s = samples_for(n);
	struct mtree *cp = xcalloc(m, sizeof(*cp));
	double *dup = xcalloc(s, sizeof(double)), *reb = xcalloc(s, sizeof(double));
	double *drep = xcalloc(s, sizeof(double)), *dsto = xcalloc(s, sizeof(double));

	for (int k = 0; k < s; k++) {
		/* dup */
		double t0 = now_ns();
		for (size_t j = 0; j < m; j++) {
			int rc = mt_dup(&src, &cp[j], NULL);
			if (rc)
				die_rc("mt_dup", rc);
		}
		dup[k] = (now_ns() - t0) / m;
		for (size_t j = 0; j < m; j++)
			mt_destroy(&cp[j]);

		/* rebuild by in-order stores */
		t0 = now_ns();
		for (size_t j = 0; j < m; j++)
			build(&cp[j], v, n);
		reb[k] = (now_ns() - t0) / m;
		for (size_t j = 0; j < m; j++)
			mt_destroy(&cp[j]);

		/* fork: dup, then point every entry at the child's copy */
		t0 = now_ns();
		for (size_t j = 0; j < m; j++) {
			struct mt_cursor c;
			void *e;
			int rc = mt_dup(&src, &cp[j], NULL);
			if (rc)
				die_rc("mt_dup", rc);
			mt_for_each(&cp[j], &c, e, 0, ULONG_MAX)
			{
				struct vma *pv = e;
				rc = mtc_replace(&c, &child[pv - v]);
				if (rc)
					die_rc("mtc_replace", rc);
			}
		}
		drep[k] = (now_ns() - t0) / m;
		for (size_t j = 0; j < m; j++)
			mt_destroy(&cp[j]);

		t0 = now_ns();
		for (size_t j = 0; j < m; j++) {
			int rc = mt_dup(&src, &cp[j], NULL);
			if (rc)
				die_rc("mt_dup", rc);
			for (size_t i = 0; i < n; i++) {
				rc = mt_store(&cp[j], v[i].start, v[i].end - 1, &child[i]);
				if (rc)
					die_rc("mt_store", rc);
			}
		}
		dsto[k] = (now_ns() - t0) / m;
		row->copy_bytes = mt_bytes(&cp[0]);
		/* sanity: the copy holds the child's entries */
		if (n && mt_load(&cp[0], v[n / 2].start) != &child[n / 2]) {
			fprintf(stderr, "mtree-bench: dup+store copy is wrong at n=%zu\n", n);
			exit(1);
		}
		for (size_t j = 0; j < m; j++)
			mt_destroy(&cp[j]);
	}
	row->n = n;
	row->dup_ns = median(dup, s);
	row->rebuild_ns = median(reb, s);
	row->dup_replace_ns = median(drep, s);
	row->dup_store_ns = median(dsto, s);
	row->bytes = mt_bytes(&src);
	row->nodes = src.nodes;
	row->height = mt_height(&src);
	mt_destroy(&src);
	free(cp);
	free(dup);
	free(reb);
	free(drep);
	free(dsto);
	free(v);
	free(child);
}

/* ------------------------------------------------------- rbtree (tsearch) */

static int vma_cmp(const void *a, const void *b)
{
	const struct vma *x = a, *y = b;
	if (x->end <= y->start)
		return -1;
	if (x->start >= y->end)
		return 1;
	return 0; /* overlapping ranges (a key inside a VMA) are equal */
}

static void tnoop(void *p)
{
	(void)p;
}

/* ------------------------------------------------------------- lookup */

struct lookup_res {
	double mtree_ns, rbtree_ns, array_ns;
};

static const struct vma *array_find(const struct vma *v, size_t n, unsigned long key)
{
	size_t lo = 0, hi = n;
	while (lo < hi) { /* first with start > key */
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].start > key)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo == 0 || key >= v[lo - 1].end)
		return NULL;
	return &v[lo - 1];
}

static void bench_lookup(size_t n, struct lookup_res *res)
{
	struct vma *v = make_vmas(n);
	struct mtree t;
	void *root = NULL;
	build(&t, v, n);
	for (size_t i = 0; i < n; i++)
		if (!tsearch(&v[i], &root, vma_cmp)) {
			fprintf(stderr, "mtree-bench: tsearch out of memory\n");
			exit(1);
		}
	size_t nk = quick ? 1 << 18 : 1 << 20;
	unsigned long *keys = xcalloc(nk, sizeof(*keys));
	for (size_t i = 0; i < nk; i++) {
		const struct vma *x = &v[rnd() % n];
		keys[i] = x->start + rnd() % (x->end - x->start);
	}
	/* all three must agree */
	for (size_t i = 0; i < nk; i += 97) {
		struct vma k = {keys[i], keys[i] + 1, 0};
		void **f = tfind(&k, &root, vma_cmp);
		const void *a = mt_load(&t, keys[i]), *b = f ? *f : NULL,
			   *c = array_find(v, n, keys[i]);
		if (!a || a != b || a != c) {
			fprintf(stderr, "mtree-bench: lookups disagree at %#lx: %p %p %p\n",
				keys[i], a, b, c);
			exit(1);
		}
	}

	int s = quick ? 3 : 7;
	double *tm = xcalloc(s, sizeof(double)), *tr = xcalloc(s, sizeof(double)),
	       *ta = xcalloc(s, sizeof(double));
	volatile unsigned long sink = 0;
	for (int k = 0; k < s; k++) {
		unsigned long sum = 0;
		double t0 = now_ns();
		for (size_t i = 0; i < nk; i++)
			sum += ((const struct vma *)mt_load(&t, keys[i]))->flags;
		tm[k] = (now_ns() - t0) / nk;

		t0 = now_ns();
		for (size_t i = 0; i < nk; i++) {
			struct vma key = {keys[i], keys[i] + 1, 0};
			sum += (*(const struct vma **)tfind(&key, &root, vma_cmp))->flags;
		}
		tr[k] = (now_ns() - t0) / nk;

		t0 = now_ns();
		for (size_t i = 0; i < nk; i++)
			sum += array_find(v, n, keys[i])->flags;
		ta[k] = (now_ns() - t0) / nk;
		sink += sum;
	}
	(void)sink;
	res->mtree_ns = median(tm, s);
	res->rbtree_ns = median(tr, s);
	res->array_ns = median(ta, s);
	tdestroy(root, tnoop);
	mt_destroy(&t);
	free(keys);
	free(tm);
	free(tr);
	free(ta);
	free(v);
}

/* ------------------------------------------------------------- modify */

struct modify_res {
	double mtree_store_ns, rbtree_store_ns, mtree_erase_ns, rbtree_erase_ns;
};

static void bench_modify(size_t n, struct modify_res *res)
{
	struct vma *v = make_vmas(n);
	struct mtree t;
	void *root = NULL;
	build(&t, v, n);
	for (size_t i = 0; i < n; i++)
		tsearch(&v[i], &root, vma_cmp);

	enum { B = 1024 };
	int rounds = quick ? 9 : 41;
	size_t *perm = xcalloc(n, sizeof(*perm));
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	double *me = xcalloc(rounds, sizeof(double)), *ms = xcalloc(rounds, sizeof(double)),
	       *re = xcalloc(rounds, sizeof(double)), *rs = xcalloc(rounds, sizeof(double));
	for (int k = 0; k < rounds; k++) {
		/* B distinct random VMAs: a partial Fisher-Yates shuffle */
		for (size_t i = 0; i < B; i++) {
			size_t j = i + rnd() % (n - i), tmp = perm[i];
			perm[i] = perm[j];
			perm[j] = tmp;
		}
		double t0 = now_ns();
		for (size_t i = 0; i < B; i++)
			if (!mt_erase(&t, v[perm[i]].start, NULL)) {
				fprintf(stderr, "mtree-bench: mt_erase found nothing\n");
				exit(1);
			}
		me[k] = (now_ns() - t0) / B;
		t0 = now_ns();
		for (size_t i = 0; i < B; i++) {
			const struct vma *x = &v[perm[i]];
			int rc = mt_store(&t, x->start, x->end - 1, (void *)x);
			if (rc)
				die_rc("mt_store", rc);
		}
		ms[k] = (now_ns() - t0) / B;

		t0 = now_ns();
		for (size_t i = 0; i < B; i++)
			if (!tdelete(&v[perm[i]], &root, vma_cmp)) {
				fprintf(stderr, "mtree-bench: tdelete found nothing\n");
				exit(1);
			}
		re[k] = (now_ns() - t0) / B;
		t0 = now_ns();
		for (size_t i = 0; i < B; i++)
			if (!tsearch(&v[perm[i]], &root, vma_cmp)) {
				fprintf(stderr, "mtree-bench: tsearch out of memory\n");
				exit(1);
			}
		rs[k] = (now_ns() - t0) / B;
	}
	if (mt_count(&t) != n) {
		fprintf(stderr, "mtree-bench: tree has %zu entries after modify, want %zu\n",
			mt_count(&t), n);
		exit(1);
	}
	res->mtree_erase_ns = median(me, rounds);
	res->mtree_store_ns = median(ms, rounds);
	res->rbtree_erase_ns = median(re, rounds);
	res->rbtree_store_ns = median(rs, rounds);
	tdestroy(root, tnoop);
	mt_destroy(&t);
	free(perm);
	free(me);
	free(ms);
	free(re);
	free(rs);
	free(v);
}

/* ------------------------------------------------------------- targets */

struct target {
	const char *name, *rule;
	double value, limit;
	bool at_least; /* value >= limit passes (else value <= limit) */
	bool valid;
};

static bool pass(const struct target *t)
{
	return t->valid && (t->at_least ? t->value >= t->limit : t->value <= t->limit);
}

/* ------------------------------------------------------------- output */

static const size_t dup_sizes[] = {21,	 121,  221,   421,   821,   1621,
				   3221, 6421, 12821, 25621, 51221, 1000000};
#define NDUP	 (sizeof(dup_sizes) / sizeof(dup_sizes[0]))
#define LOOKUP_N 51221

static void pin_cpu(void)
{
	cpu_set_t set;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	CPU_ZERO(&set);
	CPU_SET(ncpu > 1 ? ncpu - 1 : 0, &set);
	sched_setaffinity(0, sizeof(set), &set); /* best effort */
}

int main(int argc, char **argv)
{
	bool json = false;
	const char *json_file = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--json-file") && i + 1 < argc)
			json_file = argv[++i];
		else if (!strcmp(argv[i], "--quick"))
			quick = true;
		else {
			fprintf(stderr,
				"usage: mtree-bench [--json] [--json-file PATH] [--quick]\n"
				"mtree-bench: unknown argument '%s'\n",
				argv[i]);
			return 2;
		}
	}
	pin_cpu();
	FILE *out = stdout; /* the human table, unless --json */
	bool human = !json;

	struct dup_row rows[NDUP];
	size_t nrows = 0;
	if (human)
		fprintf(out,
			"maple tree: dup vs rebuild (MT_FLAG_ALLOC_RANGE, VMA-like ranges, "
			"median ns)\n"
			"%9s %6s %4s %12s %12s %7s %9s %9s %12s %12s %7s\n",
			"n", "nodes", "h", "dup_ns", "rebuild_ns", "ratio", "dup/entry", "B/entry",
			"dup+replace", "dup+store", "ratio");
	for (size_t i = 0; i < NDUP; i++) {
		if (quick && dup_sizes[i] > 100000)
			continue;
		struct dup_row *r = &rows[nrows++];
		bench_dup(dup_sizes[i], r);
		if (human)
			fprintf(out,
				"%9zu %6zu %4u %12.0f %12.0f %6.1fx %9.2f %9.1f %12.0f %12.0f "
				"%6.1fx\n",
				r->n, r->nodes, r->height, r->dup_ns, r->rebuild_ns,
				r->rebuild_ns / r->dup_ns, r->dup_ns / r->n,
				(double)r->bytes / r->n, r->dup_replace_ns, r->dup_store_ns,
				r->dup_store_ns / r->dup_replace_ns);
	}

	struct lookup_res lk;
	bench_lookup(LOOKUP_N, &lk);
	struct modify_res md;
	bench_modify(LOOKUP_N, &md);
	struct mtree t;
	struct vma *v = make_vmas(LOOKUP_N);
	build(&t, v, LOOKUP_N);
	double bpe = (double)mt_bytes(&t) / mt_count(&t);
	/* glibc tsearch: 3-word node in a 32-byte malloc chunk, per entry */
	double rb_bpe = 32;
	mt_destroy(&t);
	free(v);

	if (human) {
		fprintf(out,
			"\nlookup, %d ranges, random keys (ns/op): maple %.1f  tsearch %.1f  "
			"array %.1f\n",
			LOOKUP_N, lk.mtree_ns, lk.rbtree_ns, lk.array_ns);
		fprintf(out,
			"modify, %d ranges (ns/op): maple store %.1f erase %.1f  tsearch store "
			"%.1f delete %.1f\n",
			LOOKUP_N, md.mtree_store_ns, md.mtree_erase_ns, md.rbtree_store_ns,
			md.rbtree_erase_ns);
		fprintf(out, "memory: %.1f bytes per entry (tsearch: ~%.0f + the range itself)\n",
			bpe, rb_bpe);
	}

	/* RCU mode: one reader thread alone vs beside one writer vs rwlock,
	 * each pair measured in interleaved 10 ms windows (rcu_bench.c) */
	struct rcu_bench_result rc;
	int rc_ok = rcu_bench_run(LOOKUP_N, quick ? 0.5 : 2.0, 1, &rc) == 0;
	if (human && rc_ok)
		fprintf(out,
			"rcu, %d ranges, 1 reader thread, lookups/s (paired 10 ms windows, writer "
			"on/off):\n"
			"     alone %.0f  beside a writer %.0f (%.2fx)  rwlock beside a writer %.0f "
			"(alone %.0f)\n"
			"     control: beside the same writer writing a tree the reader does not "
			"read %.0f (%.2fx); that tree in plain mode, no grace periods %.0f (%.2fx)\n"
			"     writer: %.0f writes/s beside RCU readers, %.0f beside rwlock readers\n",
			LOOKUP_N, rc.readers_alone_ops, rc.readers_with_writer_ops,
			rc.readers_with_writer_ops / rc.readers_alone_ops, rc.rwlock_with_writer_ops,
			rc.rwlock_alone_ops, rc.readers_with_private_writer_ops,
			rc.readers_with_private_writer_ops / rc.readers_alone_ops,
			rc.readers_with_plain_writer_ops,
			rc.readers_with_plain_writer_ops / rc.readers_alone_ops, rc.rcu_writer_ops,
			rc.rwlock_writer_ops);

	/* targets */
	const struct dup_row *r51 = NULL, *r12 = NULL, *r1m = NULL;
	for (size_t i = 0; i < nrows; i++) {
		if (rows[i].n == 51221)
			r51 = &rows[i];
		if (rows[i].n == 12821)
			r12 = &rows[i];
		if (rows[i].n == 1000000)
			r1m = &rows[i];
	}
	struct target tg[] = {
	    {"dup_vs_rebuild_51221", "rebuild_ns / dup_ns at n=51221 >= 5",
	     r51 ? r51->rebuild_ns / r51->dup_ns : 0, 5, true, r51 != NULL},
	    {"dup_scaling_1m_vs_12821", "dup ns/entry at 1e6 / at 12821 <= 2",
	     r1m && r12 ? (r1m->dup_ns / r1m->n) / (r12->dup_ns / r12->n) : 0, 2, false,
	     r1m && r12},
	    {"lookup_vs_rbtree", "rbtree_ns / mtree_ns >= 1.5", lk.rbtree_ns / lk.mtree_ns, 1.5,
	     true, true},
	    {"lookup_vs_array", "mtree_ns / array_ns <= 1.5", lk.mtree_ns / lk.array_ns, 1.5, false,
	     true},
	    {"store_vs_rbtree", "mtree_store_ns / rbtree_store_ns <= 2",
	     md.mtree_store_ns / md.rbtree_store_ns, 2, false, true},
	    {"erase_vs_rbtree", "mtree_erase_ns / rbtree_erase_ns <= 2",
	     md.mtree_erase_ns / md.rbtree_erase_ns, 2, false, true},
	    {"bytes_per_entry", "mt_bytes / mt_count at 51221 <= 48", bpe, 48, false, true},
	    {"rcu_reader_keep", "readers_with_writer / readers_alone >= 0.8",
	     rc_ok ? rc.readers_with_writer_ops / rc.readers_alone_ops : 0, 0.8, true, rc_ok},
	    {"rcu_sharing_keep", "readers_with_writer / with_private_writer >= 0.8",
	     rc_ok ? rc.readers_with_writer_ops / rc.readers_with_private_writer_ops : 0, 0.8,
	     true, rc_ok},
	    {"rcu_vs_rwlock", "readers_with_writer / rwlock_with_writer >= 3",
	     rc_ok ? rc.readers_with_writer_ops / rc.rwlock_with_writer_ops : 0, 3, true, rc_ok},
	};
	size_t ntg = sizeof(tg) / sizeof(tg[0]);
	if (human) {
		fprintf(out, "\ntargets (ratios inside this run):\n");
		for (size_t i = 0; i < ntg; i++) {
			if (!tg[i].valid)
				fprintf(out, "  %-26s %8s   %-40s SKIP (not measured)\n",
					tg[i].name, "-", tg[i].rule);
			else
				fprintf(out, "  %-26s %8.2f   %-40s %s\n", tg[i].name, tg[i].value,
					tg[i].rule, pass(&tg[i]) ? "PASS" : "MISS");
		}
	}

	/* the JSON object: later sections (e.g. "rcu") are added as more keys */
	FILE *jf = NULL;
	if (json)
		jf = stdout;
	else if (json_file && !(jf = fopen(json_file, "w"))) {
		fprintf(stderr, "mtree-bench: %s: %s\n", json_file, strerror(errno));
		return 1;
	}
	if (jf) {
		fprintf(jf, "{\"bench\": \"mtree\", \"quick\": %s,\n \"dup\": [",
			quick ? "true" : "false");
		for (size_t i = 0; i < nrows; i++)
			fprintf(
			    jf,
			    "%s\n  {\"n\": %zu, \"dup_ns\": %.0f, \"rebuild_ns\": %.0f, \"nodes\": "
			    "%zu, \"height\": %u, \"bytes\": %zu}",
			    i ? "," : "", rows[i].n, rows[i].dup_ns, rows[i].rebuild_ns,
			    rows[i].nodes, rows[i].height, rows[i].bytes);
		fprintf(jf, "],\n \"fork_replace\": [");
		for (size_t i = 0; i < nrows; i++)
			fprintf(
			    jf,
			    "%s\n  {\"n\": %zu, \"dup_replace_ns\": %.0f, \"dup_store_ns\": %.0f, "
			    "\"src_bytes\": %zu, \"copy_bytes\": %zu}",
			    i ? "," : "", rows[i].n, rows[i].dup_replace_ns, rows[i].dup_store_ns,
			    rows[i].bytes, rows[i].copy_bytes);
		fprintf(jf,
			"],\n \"lookup\": {\"n\": %d, \"mtree_ns\": %.2f, \"rbtree_ns\": %.2f, "
			"\"array_ns\": %.2f},\n",
			LOOKUP_N, lk.mtree_ns, lk.rbtree_ns, lk.array_ns);
		fprintf(jf,
			" \"modify\": {\"n\": %d, \"mtree_store_ns\": %.2f, \"rbtree_store_ns\": "
			"%.2f, \"mtree_erase_ns\": %.2f, \"rbtree_erase_ns\": %.2f},\n",
			LOOKUP_N, md.mtree_store_ns, md.rbtree_store_ns, md.mtree_erase_ns,
			md.rbtree_erase_ns);
		fprintf(jf, " \"bytes_per_entry\": %.2f,\n \"targets\": [", bpe);
		for (size_t i = 0; i < ntg; i++)
			fprintf(jf,
				"%s\n  {\"name\": \"%s\", \"rule\": \"%s\", \"value\": %.3f, "
				"\"pass\": %s}",
				i ? "," : "", tg[i].name, tg[i].rule, tg[i].valid ? tg[i].value : 0,
				!tg[i].valid   ? "null"
				: pass(&tg[i]) ? "true"
					       : "false");
		fprintf(jf, "]");
		if (rc_ok)
			fprintf(jf,
				",\n \"rcu\": {\"n\": %d, \"reader_threads\": %u, "
				"\"readers_alone_ops\": %.0f, \"readers_with_writer_ops\": %.0f, "
				"\"rwlock_with_writer_ops\": %.0f, "
				"\"readers_with_private_writer_ops\": %.0f, "
				"\"readers_with_plain_writer_ops\": %.0f, \"rcu_writer_ops\": %.0f, "
				"\"rwlock_writer_ops\": %.0f, \"rwlock_alone_ops\": %.0f, "
				"\"method\": \"paired 10 ms windows\"}",
				LOOKUP_N, rc.readers, rc.readers_alone_ops,
				rc.readers_with_writer_ops, rc.rwlock_with_writer_ops,
				rc.readers_with_private_writer_ops, rc.readers_with_plain_writer_ops,
				rc.rcu_writer_ops, rc.rwlock_writer_ops, rc.rwlock_alone_ops);
		fprintf(jf, "\n}\n");
		if (jf != stdout)
			fclose(jf);
	}
	return 0;
}
