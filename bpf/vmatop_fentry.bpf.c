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

#include <vmatop/records.h>

#include "tstate.h"

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
