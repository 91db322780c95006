/*
 * model.h - the mirror: one maple tree (tree/mtree.h) per address space,
 * built by replaying a trace, plus the per-process statistics the commands
 * print.
 *
 * Owns struct vma (one entry per kernel VMA, stored over [start, end - 1]),
 * struct aspace, struct proc and the replay rules:
 *   - a call record applies its modelled effect (munmap erases, mmap stores
 *     a fresh VMA, mremap moves, madvise sets don't-fork flags);
 *   - a VMA list then replaces [lo, hi) (widened to the listed VMAs) with the
 *     kernel's exact VMAs: lists are truth, the model only fills gaps;
 *   - VMT_FORK_PRE duplicates the parent's tree (mt_dup, O(n) DFS pre-order),
 *     replaces every entry with a private copy (mtc_replace) and drops the
 *     don't-fork VMAs; the child's VMT_PROC_START adopts that copy;
 *   - exec (a new image with the same pid) starts a fresh tree;
 *   - snapshot lists are evidence only: they are compared with the mirror
 *     and never change it.
 */
#ifndef VMATOP_CLI_MODEL_H
#define VMATOP_CLI_MODEL_H

#include "calltime.h"
#include "aspace.h"
#include "trace.h"
#include <mtree.h>
#include <stdint.h>
#include <stdio.h>

/* the memory calls whose time a report shows: VMT_MMAP .. VMT_SYSCALL */
#define CALLTIME_FIRST VMT_MMAP
#define CALLTIME_NTYPES (VMT_SYSCALL - VMT_MMAP + 1)

struct fork_stat {
	uint64_t ns, child_ns;
	size_t vmas;
	uint32_t child;
	uint64_t dup_ns; /* time the mirror's mt_dup took */
};

struct snap_result {
	uint64_t ts, label;
	unsigned cause;
	size_t mirrored, kernel, mismatches;
	int incomplete;
	char **lines;
	size_t nlines, lines_cap;
};

struct site {
	uint64_t ips[32];
	unsigned n;
	uint64_t count;
};

struct module {
	uint64_t base, lo, hi, name;
	uint8_t bid[23], bidlen;
};

struct open_list {
	uint32_t cid;
	struct vmt_vma *v;
	size_t n, cap;
	struct open_list *next;
};

struct proc {
	uint32_t pid, ppid;
	uint64_t stream;
	char comm[16];
	uint64_t cmd, exe;
	struct aspace *as;
	uint64_t start_ts, end_ts;
	int exited, exit_status, exit_how, killed_sig, execed, has_exit;
	/* its last exec record: an attempt that did not return (exec_path: its
	 * string); with !execed at the end, the new image never loaded the shim */
	int exec_tried;
	uint64_t exec_path;
	size_t peak;
	uint64_t by_type[256];
	uint64_t records, lost;
	struct fork_stat *forks;
	size_t nforks, forks_cap;
	uint64_t *spawns;
	size_t nspawns, spawns_cap;
	/* time in memory calls, by type VMT_MMAP.. (CALLTIME_FIRST + i): NULL until
	 * the first; nodur: the process did not time them (VMT_F_NODUR) */
	struct calltime *ct[CALLTIME_NTYPES];
	int nodur;
	uint64_t lists[6];	     /* lists by kind */
	uint64_t changed[6];	     /* VMAs added/changed/removed by lists of each kind */
	uint64_t lists_incomplete;   /* lists with lost VMA records: not applied */
	struct snap_result *snaps;
	size_t nsnaps, snaps_cap;
	struct module *mods;
	size_t nmods, mods_cap;
	struct site *sites;
	size_t nsites, sites_cap;
	uint32_t stack_cid, create_cid;
	uint64_t ips[32];
	unsigned nips;
	struct open_list *open;
	int announced; /* saw VMT_PROC_START */
	void *bpf;     /* BPF data (cli/bpf_model.c); set: BPF owns the VMAs */
	unsigned cause;
	uint64_t child_ns; /* fork child: its side of the fork latency */
};

struct pending_fork {
	uint64_t id;
	struct aspace *as;
	size_t vmas;
	uint64_t dup_ns;
};

struct model {
	struct trace *t;
	struct proc **procs;
	size_t nprocs, procs_cap;
	struct proc **by_stream;
	size_t nby_stream;
	struct pending_fork *pf;
	size_t npf, pf_cap;
	uint64_t stop_ts; /* ignore records after this (0: none) */
	int cmd_exit_seen, cmd_status;
	uint64_t last_ts;
	void *bpf; /* BPF state of the trace (cli/bpf_model.c), NULL without BPF */
};

void model_init(struct model *m, struct trace *t);
void model_run(struct model *m);
void model_free(struct model *m);
/* trace_open + model_init + model_run: records later than `at` ns after the
 * trace's start are ignored (at < 0: none). A bad trace exits 2 (trace.h). */
void model_load(struct model *m, struct trace *t, const char *path, int64_t at);
void model_unload(struct model *m); /* model_free + trace_close */

/* The /proc/PID/maps line of v (no newline) into buf. */
int vma_format(const struct model *m, const struct vma *v, char *buf, size_t len);
int vmt_vma_format(const struct model *m, const struct vmt_vma *v, char *buf, size_t len);
/* Print the mirror of p like /proc/PID/maps. */
void aspace_print(const struct model *m, const struct aspace *as, FILE *out);

#endif
