/*
 * bpf_model.h - replays the BPF records of a trace (types 200..255,
 * include/vmatop/records.h) into the model of cli/model.h, and the BPF parts
 * of report and verify.
 *
 * Owns: struct bpf_proc (hung on proc->bpf: map_count checks, the fork
 * split, per-thread mmap_lock statistics, waiting stacks) and the model-wide
 * BPF state (model->bpf: mode, counters, which proc owns which mm).
 *
 * Rules (BPF is the authority for VMA boundaries when it is in the trace):
 *   - an exec starts a new process image with a fresh tree, filled by the
 *     FULL list that follows; a fork creates the child from a duplicate of
 *     the parent's tree (mt_dup) minus its don't-fork VMAs, or, for a vfork
 *     or posix_spawn child that shares the mm, with no tree of its own;
 *   - a list applies to the process that owns its mm (the snapshot rule);
 *     after it, when the list is exact, the tree must hold map_count VMAs;
 *   - a process image made by BPF is adopted by the shim's stream of the
 *     same pid (bpf_model_claim), so both sources fill one struct proc: the
 *     shim adds stacks, call records and snapshots; its VMA effects are then
 *     not applied (model.c asks bpf_model_owns()).
 */
#ifndef VMATOP_CLI_BPF_MODEL_H
#define VMATOP_CLI_BPF_MODEL_H

#include <stdint.h>
#include <stdio.h>

#include "model.h"

/* A BPF record (type >= VMT_BPF_FIRST): apply it. */
void bpf_model_rec(struct model *m, const struct vmt_rec *r);
/* The process image BPF made for pid, handed to the shim's stream; NULL if
 * none. */
struct proc *bpf_model_claim(struct model *m, uint32_t pid, uint64_t stream);
/* Does BPF own the VMAs of p (the shim's VMA effects are skipped)? */
static inline int bpf_model_owns(const struct proc *p) { return p->bpf != NULL; }
/* Names the shim knows (seed and call lists) for VMAs BPF stored unnamed. */
void bpf_model_learn_names(struct model *m, struct proc *p, const struct vmt_vma *v, size_t n);
void bpf_model_free(struct model *m);

/* ---- report and verify ---- */
/* Text lines for p (fork split, mmap_lock, waiting stacks). */
void bpf_report_text(struct model *m, struct proc *p, FILE *f);
/* Inside "forks": {...}: ", \"copy_p50_ns\": N, ..." (zeros without BPF). */
void bpf_report_json_forks(struct model *m, struct proc *p, FILE *f);
/* After the other fields of a process: ", \"mmap_lock\": {...}, ...". */
void bpf_report_json_proc(struct model *m, struct proc *p, FILE *f);
/* One line of the trace's BPF mode for the report header, or nothing. */
void bpf_report_header(struct model *m, FILE *f);
/*
 * verify: print the map_count checks of p; returns the mismatches (0 when
 * BPF was off). *checks gets the number of checks.
 */
size_t bpf_verify_proc(struct model *m, struct proc *p, FILE *f, uint64_t *checks);

#endif
