/*
 * tstate.h - the per-thread state of the BPF programs (task storage map
 * "tstate"), shared by bpf/vmatop.bpf.c and bpf/vmatop_fentry.bpf.c (which
 * writes dup_start/dup_end into the same map): one definition, so that the
 * offsets cannot drift apart. BPF-side only.
 */
#ifndef VMATOP_BPF_TSTATE_H
#define VMATOP_BPF_TSTATE_H

struct tstate {
	/* the syscall in progress (valid while TS_IN_SYSCALL) */
	__u32 sc_nr;
	__u32 flags;	 /* TS_* */
	__u32 seq_enter; /* mm->mm_lock_seq at entry */
	__u32 seen;	 /* stack_vm is valid (set at the fork, or first sight) */
	__u64 sc_enter;	 /* entry time: forks (and every call with lock stats) */
	/* what this thread saw at its last syscall exit (or its fork, exec, first
	 * sight): the entry state of a syscall whose entry was not seen */
	__u64 brk_last;
	__u32 seq_last;
	__u32 last_ok; /* 1: seq_last and brk_last are valid */
	__u64 clone_flags;
	__u64 brk_before;
	__u64 stack_vm;	 /* mm->stack_vm when this thread last looked */
	__u64 t_write;	 /* lock stats: when this call released the write lock */
	/* a list that could not be read consistently, to send later */
	__u64 plist[2][2];
	__u32 plist_flags;
	__u16 plist_on;	     /* 1: plist holds ranges to list */
	__u16 plist_counted; /* the call's count in mm_inflight goes with it */
	/* mmap_lock state on current->mm (lock statistics) */
	__u64 wait_start;
	__u64 hold_start[2];
	__u64 contend_start;
	__u32 read_depth;
	__u8 wait_write;
	__u8 contended; /* contention_begin seen for the pending wait */
	__u8 holding_write;
	__u8 contend_other; /* no thread of the mm held it: another process did */
	__u16 contend_write;
	__u16 held_counted; /* counted in the mm's holders (hold_count) */
	__u16 own_depth;    /* holds of the own mm's lock, any kind (hold_count) */
	__u16 pad1[3];
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
