/*
 * rcu_bench.h - the RCU-mode reader benchmark used by mtree-bench: lookups
 * per second of reader threads alone, beside a writer in RCU mode, and
 * beside a writer with a reader-writer lock instead (the baseline).
 */
#ifndef VMATOP_RCU_BENCH_H
#define VMATOP_RCU_BENCH_H

struct rcu_bench_result {
	double readers_alone_ops;	/* lookups/s, RCU tree, no writer */
	double readers_with_writer_ops; /* lookups/s, RCU tree, one writer */
	double rwlock_with_writer_ops;	/* lookups/s, rwlock tree, one writer */
	double readers_with_private_writer_ops; /* control: the writer writes another tree */
	double readers_with_plain_writer_ops;	/* control: that tree not in RCU mode (no grace periods) */
	double rcu_writer_ops;		/* writes/s done by the writer beside RCU readers */
	double rwlock_writer_ops;	/* writes/s done by the writer beside rwlock readers */
	double rwlock_alone_ops;	/* lookups/s under the rwlock's read side, no writer */
	unsigned readers;
};

/* Runs each of the four paired runs for `seconds` (rcu_bench.c); n entries
 * shaped like VMAs; one reader thread. The "with" rates of the controls are
 * scaled to the first run's "alone" rate. 0 or -errno. */
int rcu_bench_run(unsigned n, double seconds, unsigned readers, struct rcu_bench_result *out);

#endif
