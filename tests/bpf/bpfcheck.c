/*
 * bpfcheck.c - run a command (or attach to a pid) under vmatop's BPF source
 * and check the BPF-only mirror: map_count after every record, and
 * /proc/PID/maps of every process of the tree at its exit. A debugging aid
 * for the BPF tests.
 *
 *   bpfcheck [-d] [-v] [-n] [-o] [-l] [-t NS] -- COMMAND [ARGS...]
 *   bpfcheck [-d] [-v] [-l] -p PID
 *     -d  dump every record on stderr (also: VMATOP_BPF_DUMP=1)
 *     -l  mmap_lock statistics too (vmatop record --mmap-lock)
 *     -v  libbpf messages
 *     -t  --lock-threshold in ns
 *     -n  no ptrace (no exit checks; for timing)
 *     -o  the command's stdout stays on ours
 * Exit 0 when there was no mismatch and no difference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static void lockline(const char *what, const struct vmt_bpf_lockstat *s, int w)
{
	printf("  %s: acquisitions %llu, failed %llu, contended %llu, wait total %llu ns max %llu ns, "
	       "hold total %llu ns max %llu ns\n",
	       what, (unsigned long long)s->acquisitions[w], (unsigned long long)s->failed[w],
	       (unsigned long long)s->contended[w], (unsigned long long)s->wait_total[w],
	       (unsigned long long)s->wait_max[w], (unsigned long long)s->hold_total[w],
	       (unsigned long long)s->hold_max[w]);
}

int main(int argc, char **argv)
{
	struct bh_opts o = { 0 };
	struct bh_run r;
	pid_t pid = 0;
	char err[256];
	int opt, ret;

	while ((opt = getopt(argc, argv, "+dvnolt:p:")) != -1) {
		switch (opt) {
		case 'd':
			setenv("VMATOP_BPF_DUMP", "1", 1);
			setvbuf(stderr, NULL, _IOFBF, 1 << 20); /* keep up with the ring */
			break;
		case 'v': o.verbose = true; break;
		case 'l': o.lock = true; break;
		case 'n': o.no_ptrace = true; break;
		case 'o': o.out_path = "/dev/stdout"; break;
		case 't': o.lock_threshold_ns = strtoull(optarg, NULL, 0); break;
		case 'p': pid = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bpfcheck [-d] [-v] [-l] [-t NS] (-p PID | -- CMD ARGS...)\n");
			return 2;
		}
	}
	if (!pid && optind >= argc) {
		fprintf(stderr, "usage: bpfcheck [-d] [-v] [-l] [-t NS] (-p PID | -- CMD ARGS...)\n");
		return 2;
	}
	if (bh_open(&o, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	ret = pid ? bh_attach(pid, -1, &o, &r) : bh_run(argv + optind, &o, &r);
	if (ret) {
		fprintf(stderr, "bpfcheck: %s\n", strerror(-ret));
		return 1;
	}
	printf("%s\n", r.mode);
	printf("status %d, records %llu (vma %llu fork %llu fork_ret %llu exec %llu exit %llu lock_wait %llu)\n",
	       WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1, (unsigned long long)r.records,
	       (unsigned long long)r.by_type[1], (unsigned long long)r.by_type[2],
	       (unsigned long long)r.by_type[3], (unsigned long long)r.by_type[4],
	       (unsigned long long)r.by_type[5], (unsigned long long)r.by_type[6]);
	printf("mirror: %llu map_count checks (%llu skipped: raced %llu unstable %llu trunc %llu), "
	       "%llu mismatches\n",
	       (unsigned long long)r.m.checks, (unsigned long long)r.m.skipped_checks,
	       (unsigned long long)r.m.raced, (unsigned long long)r.m.unstable,
	       (unsigned long long)r.m.trunc, (unsigned long long)r.m.mismatches);
	printf("order: %llu delivered, %llu held (max %llu at once), %llu orphans, %llu late (%llu again, %llu unrepaired), "
	       "%llu expired\n",
	       (unsigned long long)r.order.delivered, (unsigned long long)r.order.held,
	       (unsigned long long)r.order.held_max,
	       (unsigned long long)r.order.orphans, (unsigned long long)r.order.late, (unsigned long long)r.order.redelivered, (unsigned long long)r.order.unrepaired, (unsigned long long)r.order.expired);
	for (unsigned i = 0; i < r.m.mismatches && i < 8; i++)
		printf("  %s\n", r.m.first_mismatch[i]);
	printf("exit checks: %d processes, %d differences\n", r.exit_checks, r.exit_diffs);
	if (r.first_diff[0])
		printf("%s", r.first_diff);
	printf("kernel counters: events %llu dropped %llu raced %llu unstable %llu trunc %llu "
	       "walk_err %llu\n",
	       (unsigned long long)r.counters[VMT_BPF_C_EVENTS],
	       (unsigned long long)r.counters[VMT_BPF_C_DROPPED],
	       (unsigned long long)r.counters[VMT_BPF_C_RACED],
	       (unsigned long long)r.counters[VMT_BPF_C_UNSTABLE],
	       (unsigned long long)r.counters[VMT_BPF_C_TRUNC],
	       (unsigned long long)r.counters[VMT_BPF_C_WALK_ERR]);
	printf("mmap_lock (all threads):\n");
	lockline("read ", &r.total, 0);
	lockline("write", &r.total, 1);
	printf("lock waits over threshold: %llu (%llu with a user stack)\n",
	       (unsigned long long)r.lock_waits, (unsigned long long)r.lock_waits_with_stack);
	for (size_t i = 0; i < r.nforks && i < 5; i++) {
		struct bh_fork *f = &r.forks[i];
		printf("fork %u -> %u: vmas %d, total %llu ns (syscall %llu ns), copy (write hold) %llu ns\n",
		       f->f.h.tgid, f->f.child_pid, f->f.parent_map_count,
		       (unsigned long long)(f->t_resume - f->f.t_enter),
		       (unsigned long long)(f->t_ret - f->f.t_enter),
		       (unsigned long long)(f->f.lock_released - f->f.lock_acquired));
	}
	ret = r.m.mismatches || r.exit_diffs;
	bh_run_free(&r);
	bh_close();
	return ret;
}
