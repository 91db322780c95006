/*
 * bpf_mirror.h - a reference mirror of the kernel's VMA trees built from BPF
 * records alone (include/vmatop/records.h), one per address space (mm id), each a sorted
 * array of VMAs. It is the executable statement of the snapshot rule, used
 * to check the BPF source on its own (tests/bpf/, vmatop attach --check)
 * independently of the maple-tree model, and to compare a mirror with
 * /proc/PID/maps.
 *
 * Owns: the per-mm VMA arrays, the tgid -> mm map, and the running checks:
 *   - after the last part of every VMA_CHANGE that is not RACED, UNSTABLE or
 *     TRUNC, the mirror's VMA count must equal the record's map_count
 *     (records are applied in the order cli/bpf_order.c delivers them);
 *   - after a FORK, the child's mirror (the parent's, minus VM_DONTCOPY
 *     VMAs) must have child_map_count VMAs (unless the FORK is LISTED: the
 *     child's FULL list follows, and is checked).
 * Each failed check is a "mismatch" (counted, first few kept as text).
 */
#ifndef VMATOP_BPF_MIRROR_H
#define VMATOP_BPF_MIRROR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <vmatop/records.h>

struct vmt_bmirror_as {
	uint64_t mm;
	struct vmt_krec_vma *v; /* sorted by start, disjoint */
	size_t n, cap;
};

struct vmt_bmirror_proc {
	uint32_t tgid;
	uint64_t mm;
	int exited;
};

struct vmt_bmirror {
	struct vmt_bmirror_as *as;
	size_t nas, capas;
	struct vmt_bmirror_proc *proc;
	size_t nproc, capproc;
	uint64_t records, checks, mismatches, skipped_checks;
	uint64_t forks, execs, raced, unstable, trunc, redo, pending;
	char first_mismatch[8][200];
	FILE *log; /* every mismatch, if not NULL */
};

void vmt_bmirror_init(struct vmt_bmirror *m);
void vmt_bmirror_free(struct vmt_bmirror *m);

/* Seed the address space of tgid from /proc/PID/maps (attach). mm is the
 * id BPF records will use (unknown at seed time: 0, bound to the first
 * record of that tgid). 0 or -errno. */
int vmt_bmirror_seed_proc(struct vmt_bmirror *m, pid_t tgid);

/* Apply one record. 0, or -ENOMEM. */
int vmt_bmirror_apply(struct vmt_bmirror *m, const struct vmt_krec_hdr *h, size_t size);

struct vmt_bmirror_as *vmt_bmirror_find(struct vmt_bmirror *m, uint64_t mm);
struct vmt_bmirror_as *vmt_bmirror_of_tgid(struct vmt_bmirror *m, pid_t tgid);

/*
 * Compare the mirror of tgid with /proc/PID/maps (start, end, perms,
 * offset, dev, inode of every VMA; [vsyscall] ignored). Returns the
 * number of differences (0: identical), or -errno; describes the first
 * few on out (if not NULL).
 */
int vmt_bmirror_diff_proc(struct vmt_bmirror *m, pid_t tgid, FILE *out);

#endif
