/*
 * tstate.h - the per-thread state of the BPF programs (task storage map
 * "tstate"), shared by bpf/vmatop.bpf.c and bpf/vmatop_fentry.bpf.c (which
 * writes dup_start/dup_end into the same map): one definition, so that the
 * offsets cannot drift apart. BPF-side only.
 */
#ifndef VMATOP_BPF_TSTATE_H
#define VMATOP_BPF_TSTATE_H

struct tstate {
	/* the syscall in progress (sc_nr valid while TS_IN_SYSCALL) */
	__u64 sc_enter;
	__u64 args[6];
	__u64 clone_flags;
	__u64 brk_before;
	__u32 sc_nr;
	__u32 flags; /* TS_* */
	/* mmap_lock write hold ended inside this call */
	__u64 t_write;
	__u32 wr_seq; /* mm_lock_seq while we held it (odd) */
	__u32 read_depth;
	/* lock state on current->mm */
	__u64 wait_start;
	__u64 hold_start[2];
	__u64 contend_start;
	__u8 wait_write;
	__u8 contended; /* contention_begin seen for the pending wait */
	__u8 holding_write;
	__u8 pad;
	__u32 contend_write;
	__u32 slot; /* lock_stats index + 1; ~0: none available */
	/* fork copy window (dup_mmap holds the parent's lock for writing) */
	__u64 fork_lock_start, fork_lock_acq, fork_lock_rel;
	__u64 dup_start, dup_end; /* written by vmatop_fentry.bpf.c */
	/* a fork call returned: its FORK_RET waits for the parent to run in
	 * user space again (pend.h.type != 0 while pending) */
	__u64 fork_regs, fork_ip, fork_sp, fork_out;
	struct vmt_krec_fork_ret pend;
};

#endif
