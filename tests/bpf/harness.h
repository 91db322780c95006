/*
 * harness.h - runs a program under vmatop's BPF source for the BPF tests.
 *
 * Owns: one run = the collector (cli/bpf_collector.c) following the program
 * and its descendants, the reference mirror (cli/bpf_mirror.c) fed with every
 * record, and the exit check: the program is PTRACE_SEIZEd with
 * TRACEEXIT|TRACEFORK|TRACEVFORK so that each process of the tree stops at
 * its exit while its mm still exists; the harness then drains the ring and
 * compares the mirror of that process with /proc/PID/maps.
 * It also keeps what the fork and lock tests need: every FORK and FORK_RET
 * record, the LOCK_WAIT records, and the lock statistics at the end.
 */
#ifndef VMATOP_TESTS_BPF_HARNESS_H
#define VMATOP_TESTS_BPF_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bpf_collector.h"
#include "bpf_mirror.h"

struct bh_opts {
	uint64_t lock_threshold_ns; /* 0: default */
	bool lock;		    /* mmap_lock statistics (bh_open) */
	bool no_ptrace;		    /* no exit checks */
	bool dump;		    /* print every record on stderr */
	bool verbose;
	const char *out_path;	    /* the program's stdout goes here (NULL: inherit) */
};

struct bh_fork {
	struct vmt_krec_fork f;
	uint64_t t_ret;	/* FORK_RET ts in the parent (0: not seen) */
	uint64_t t_resume; /* the parent ran in user space again */
	uint64_t t_enter_ret;
};

struct bh_run {
	int status;		/* wait status of the program */
	pid_t pid;
	struct vmt_bmirror m;
	int exit_checks;	/* processes compared with /proc at exit */
	int exit_diffs;		/* differences found, all processes */
	char first_diff[512];
	uint64_t records, by_type[8];
	uint64_t counters[VMT_BPF_C_NR];
	struct vmt_border_stats order;
	struct bh_fork *forks;	/* process forks (no threads) */
	size_t nforks;
	uint64_t lock_waits, lock_waits_with_stack;
	struct vmt_bpf_lockstat total; /* summed over every thread of every followed process */
	uint32_t tgids[256];	/* processes seen */
	size_t ntgids;
	char mode[160];
};

/* The collector is opened once per test program (loading takes ~100 ms). */
int bh_open(const struct bh_opts *o, char *err, size_t len);
void bh_close(void);
/* Skip reason if BPF cannot be used here (not root, no BTF ...), else NULL. */
const char *bh_skip_reason(void);

/* Run argv to completion. 0 or -errno (setup failures). */
int bh_run(char *const argv[], const struct bh_opts *o, struct bh_run *r);
/*
 * Attach to a running process: seed the mirror from /proc/PID/maps, follow
 * it, PTRACE_SEIZE it for the exit check, and wait until it exits.
 * ready_fd >= 0: write one byte to it after attaching (tells the test that
 * BPF is on). 0 or -errno.
 */
int bh_attach(pid_t pid, int ready_fd, const struct bh_opts *o, struct bh_run *r);
void bh_run_free(struct bh_run *r);

/* Median of n values (sorts v). */
uint64_t bh_median(uint64_t *v, size_t n);
/* Path of a built test helper program: $VMATOP_BUILD/tests/bpf/NAME. */
const char *bh_prog(const char *name);

#endif
