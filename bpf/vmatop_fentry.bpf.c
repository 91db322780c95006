// SPDX-License-Identifier: GPL-2.0
/*
 * vmatop_fentry.bpf.c - optional: fentry/fexit on dup_mmap(), the function
 * that copies the VMAs at fork. Where the kernel allows fentry (this one
 * does not: CONFIG_KPROBES off, fentry load fails with EPERM), it times the
 * copy directly; otherwise vmatop measures the same window with the
 * mmap_lock write hold inside the fork (vmatop.bpf.c). Writes into the main
 * object's task storage (the loader shares the map with bpf_map__reuse_fd).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* Must match struct tstate in vmatop.bpf.c (only the tail is written). */
struct tstate {
	__u64 sc_enter;
	__u64 args[6];
	__u64 clone_flags;
	__u64 brk_before;
	__u32 sc_nr;
	__u32 flags;
	__u64 t_write;
	__u32 wr_seq;
	__u32 read_depth;
	__u64 wait_start;
	__u64 hold_start[2];
	__u64 contend_start;
	__u8 wait_write;
	__u8 contended;
	__u8 holding_write;
	__u8 pad;
	__u32 contend_write;
	__u64 fork_lock_start, fork_lock_acq, fork_lock_rel;
	__u64 dup_start, dup_end;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tstate);
} tstate SEC(".maps");

SEC("fentry/dup_mmap")
int BPF_PROG(dup_mmap_entry, struct mm_struct *mm, struct mm_struct *oldmm)
{
	struct tstate *st = bpf_task_storage_get(&tstate, bpf_get_current_task_btf(), 0, 0);
	if (st) {
		st->dup_start = bpf_ktime_get_ns();
		st->dup_end = 0;
	}
	return 0;
}

SEC("fexit/dup_mmap")
int BPF_PROG(dup_mmap_exit, struct mm_struct *mm, struct mm_struct *oldmm, int ret)
{
	struct tstate *st = bpf_task_storage_get(&tstate, bpf_get_current_task_btf(), 0, 0);
	if (st)
		st->dup_end = bpf_ktime_get_ns();
	return 0;
}
