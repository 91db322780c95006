/*
 * ovh.c - paired measurement of what vmatop's BPF programs add to an
 * mmap+munmap loop (the overhead benchmark's precise line).
 *
 * A child process runs the loop in chunks, one chunk per byte it reads
 * from a pipe; between chunks this process (the collector, ring consumer)
 * either follows or does not follow the child (vmt_bpf_follow/unfollow),
 * alternating, the order within each pair chosen at random. The
 * difference of the two chunks of a pair is the cost of the followed path
 * (the programs stay attached in both halves, so their early return is
 * not in it; bench-bpf.sh measures the whole with separate runs). Chunks
 * are a few milliseconds apart, so a slow period of the machine (a busy
 * neighbour, the host) hits both halves of a pair alike: the median of the
 * paired differences is stable where two separate runs are not.
 *
 *   ovh [-p PAIRS] [-c ITERATIONS] [--lock] [--raw-tp] [--stats] [--detach]
 *
 * --detach: in the "off" half the programs are also out of the kernel's
 * tracepoints (vmt_bpf_detach), so the difference is all that vmatop's BPF
 * source costs the loop: the traced syscall path and the programs' runs
 * included - "BPF on vs off" in one process.
 *
 * Prints: ns/iteration off (median), on (median), median paired
 * difference (wall and thread CPU time), and the ratio. --stats: also the
 * kernel's run time of each vmatop program (BPF_ENABLE_STATS; it costs a
 * little itself), as the median paired difference per iteration.
 * Needs root (BPF); exits 77 with a reason when BPF cannot be used.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bpf_collector.h"

/* vmatop's programs in the kernel: by name (the collector's are ours) */
#define MAXP 32
static struct {
	int fd;
	char name[32];
	uint64_t t, n;
} progs[MAXP];
static int nprogs;

static void progs_find(void)
{
	uint32_t id = 0;
	while (!bpf_prog_get_next_id(id, &id) && nprogs < MAXP) {
		struct bpf_prog_info info = {0};
		uint32_t len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			continue;
		/* names are cut to 15 characters */
		if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
		    (strncmp(info.name, "sys_e", 5) && strncmp(info.name, "sched_", 6) &&
		     strncmp(info.name, "mmap_lock", 9) && strncmp(info.name, "contention", 10))) {
			close(fd);
			continue;
		}
		progs[nprogs].fd = fd;
		snprintf(progs[nprogs].name, sizeof(progs[0].name), "%s", info.name);
		nprogs++;
	}
}

/* run time so far of each program */
static void progs_read(uint64_t *t)
{
	for (int i = 0; i < nprogs; i++) {
		struct bpf_prog_info info = {0};
		uint32_t len = sizeof(info);
		t[i] = bpf_obj_get_info_by_fd(progs[i].fd, &info, &len) ? 0 : info.run_time_ns;
	}
}

#define PG 4096UL

static double now(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n ? v[n / 2] : 0;
}

static void child(int in, int out, long iters)
{
	char c;
	while (read(in, &c, 1) == 1 && c == 'g') {
		double t[2] = { now(CLOCK_MONOTONIC), now(CLOCK_THREAD_CPUTIME_ID) };
		for (long i = 0; i < iters; i++) {
			void *p = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				       -1, 0);
			if (p == MAP_FAILED)
				_exit(1);
			munmap(p, 16 * PG);
		}
		t[0] = (now(CLOCK_MONOTONIC) - t[0]) / iters;
		t[1] = (now(CLOCK_THREAD_CPUTIME_ID) - t[1]) / iters;
		if (write(out, t, sizeof(t)) != sizeof(t))
			_exit(1);
	}
	_exit(0);
}

static unsigned long records;
static int on_rec(void *ctx, const struct vmt_krec_hdr *h, size_t size)
{
	(void)ctx, (void)h, (void)size;
	records++;
	return 0;
}

int main(int argc, char **argv)
{
	struct vmt_bpf_opts o = VMT_BPF_OPTS_DEFAULT;
	int pairs = 40;
	long iters = 1000;
	struct vmt_bpf *b;
	char err[256];
	int to[2], from[2], stats = 0, sfd = -1, detach = 0, attached = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-p") && i + 1 < argc)
			pairs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-c") && i + 1 < argc)
			iters = atol(argv[++i]);
		else if (!strcmp(argv[i], "--lock"))
			o.lock = true;
		else if (!strcmp(argv[i], "--stats"))
			stats = 1;
		else if (!strcmp(argv[i], "--detach"))
			detach = 1;
		else if (!strcmp(argv[i], "--raw-tp"))
			setenv("VMATOP_BPF_RAW_TP", "1", 1);
		else {
			fprintf(stderr, "usage: ovh [-p PAIRS] [-c ITERATIONS] [--lock] [--raw-tp] [--stats] "
					"[--detach]\n");
			return 2;
		}
	}
	if (pairs < 1 || pairs > 10000 || iters < 1)
		return 2;
	o.no_fentry = true;
	/* the child first: it must not hold the BPF objects' fds (an inherited
	 * link or perf event fd keeps a program attached after the collector
	 * detached it) */
	if (pipe(to) || pipe(from))
		return 1;
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(to[1]);
		close(from[0]);
		child(to[0], from[1], iters);
	}
	close(to[0]);
	close(from[1]);
	if (vmt_bpf_open(&b, &o, on_rec, NULL, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		kill(pid, SIGKILL);
		return 77;
	}
	if (stats) {
		sfd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		progs_find();
	}

	double *d[2], *v[2][2]; /* d[clock][pair], v[on][clock][pair] */
	double *pd[MAXP];	/* per program: paired difference, ns/iteration */
	for (int k = 0; k < MAXP; k++)
		pd[k] = calloc(pairs, sizeof(double));
	for (int k = 0; k < 2; k++) {
		d[k] = calloc(pairs, sizeof(double));
		v[0][k] = calloc(pairs, sizeof(double));
		v[1][k] = calloc(pairs, sizeof(double));
	}
	srand(getpid());
	/* one warm-up pair (page tables, caches, task storage) */
	for (int p = -1; p < pairs; p++) {
		int first = rand() & 1;
		double t[2][2];
		uint64_t pt0[MAXP], pt1[MAXP];
		double pr[2][MAXP];
		for (int h = 0; h < 2; h++) {
			int on = h ? !first : first;
			if (on)
				vmt_bpf_follow(b, pid);
			else
				vmt_bpf_unfollow(b, pid);
			if (detach && on != attached) {
				if (on ? vmt_bpf_reattach(b) : vmt_bpf_detach(b)) {
					fprintf(stderr, "ovh: cannot attach the programs again\n");
					return 1;
				}
				attached = on;
			}
			vmt_bpf_drain(b);
			progs_read(pt0);
			if (write(to[1], "g", 1) != 1)
				return 1;
			/* consume while the chunk runs, as vmatop would */
			for (;;) {
				struct timespec ts = { 0, 0 };
				ssize_t n;
				vmt_bpf_poll(b, 2);
				fd_set fs;
				FD_ZERO(&fs);
				FD_SET(from[0], &fs);
				struct timeval tv = { 0, 0 };
				(void)ts;
				if (select(from[0] + 1, &fs, NULL, NULL, &tv) > 0) {
					n = read(from[0], t[on], sizeof(t[on]));
					if (n != sizeof(t[on]))
						return 1;
					progs_read(pt1);
					for (int k = 0; k < nprogs; k++)
						pr[on][k] = (double)(pt1[k] - pt0[k]) / iters;
					break;
				}
			}
		}
		if (p < 0)
			continue;
		for (int k = 0; k < nprogs; k++)
			pd[k][p] = pr[1][k] - pr[0][k];
		for (int k = 0; k < 2; k++) {
			d[k][p] = t[1][k] - t[0][k];
			v[0][k][p] = t[0][k];
			v[1][k][p] = t[1][k];
		}
	}
	close(to[1]);
	waitpid(pid, NULL, 0);
	vmt_bpf_flush(b);
	uint64_t c[VMT_BPF_C_NR];
	vmt_bpf_counters(b, c);
	vmt_bpf_close(b);
	double off_w = median(v[0][0], pairs), on_w = median(v[1][0], pairs);
	double off_c = median(v[0][1], pairs), on_c = median(v[1][1], pairs);
	double dw = median(d[0], pairs), dc = median(d[1], pairs);
	printf("mode %s, %d pairs of %ld iterations%s\n",
	       o.lock ? "address space + mmap_lock statistics" : "address space", pairs, iters,
	       detach ? ", off = programs detached" : "");
	printf("wall ns/iter: off %.0f on %.0f, paired difference %.0f (+%.1f%%)\n", off_w, on_w, dw,
	       100 * dw / off_w);
	printf("cpu  ns/iter: off %.0f on %.0f, paired difference %.0f (+%.1f%%)\n", off_c, on_c, dc,
	       100 * dc / off_c);
	printf("records %lu, dropped %llu\n", records, (unsigned long long)c[VMT_BPF_C_DROPPED]);
	for (int k = 0; k < nprogs; k++) {
		double m = median(pd[k], pairs);
		if (m > 0.5 || m < -0.5)
			printf("  %-32s %6.0f ns/iteration (run time, paired)\n", progs[k].name, m);
	}
	if (sfd >= 0)
		close(sfd);
	return 0;
}
