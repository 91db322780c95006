/*
 * t_lock.c - mmap_lock statistics from the kernel: page-faulting threads
 * racing one thread that mprotects/mmaps/munmaps their region wait for the
 * lock and contend for it; a single thread doing the same never contends
 * with itself - only with other processes that take its mmap_lock (ps,
 * anything reading /proc/PID/cmdline or maps: this machine is shared, and
 * the test runs a reader of its own to make sure), which vmatop tells
 * apart. Also: the in-kernel histograms add up to the counts, long waits
 * come with a user stack, and the mirror stays exact under contention.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

static uint64_t hist_sum(const uint32_t *h)
{
	uint64_t s = 0;
	for (int i = 0; i < VMT_BPF_HIST; i++)
		s += h[i];
	return s;
}

/* Like ps: read every process's cmdline (which takes its mmap_lock for
 * reading) until killed. Not our child (the harness waits for all of
 * those): a grandchild, its pid through a pipe. */
static pid_t start_reader(void)
{
	int p[2];
	pid_t pid = -1;
	if (pipe(p))
		return -1;
	pid_t mid = fork();
	if (mid < 0)
		return -1;
	if (mid > 0) {
		close(p[1]);
		if (read(p[0], &pid, sizeof(pid)) != sizeof(pid))
			pid = -1;
		close(p[0]);
		waitpid(mid, NULL, 0);
		return pid;
	}
	close(p[0]);
	pid = fork();
	if (pid != 0) {
		if (write(p[1], &pid, sizeof(pid)) != sizeof(pid))
			pid = -1;
		_exit(0);
	}
	close(p[1]);
	for (;;) {
		DIR *d = opendir("/proc");
		struct dirent *e;
		char path[300], buf[256];
		while (d && (e = readdir(d))) {
			if (e->d_name[0] < '1' || e->d_name[0] > '9')
				continue;
			snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
			int fd = open(path, O_RDONLY);
			if (fd >= 0) {
				while (read(fd, buf, sizeof(buf)) > 0)
					;
				close(fd);
			}
		}
		if (d)
			closedir(d);
	}
}

int main(void)
{
	const char *why = bh_skip_reason();
	struct bh_opts o = { .lock_threshold_ns = 20000, .lock = true };
	struct bh_run r;
	char err[256];

	if (why)
		plan_skip_all(why);
	if (bh_open(&o, err, sizeof(err)))
		plan_skip_all(err);
	plan(11);

	char *contend[] = { (char *)bh_prog("wl_lock"), "contend", "1", "3", NULL };
	if (bh_run(contend, &o, &r))
		bail_out("cannot run wl_lock");
	struct vmt_bpf_lockstat *t = &r.total;
	diag("contend: read acq %llu contended %llu wait %llu ns (max %llu); write acq %llu "
	     "contended %llu wait %llu ns (max %llu); %llu long waits; %llu contended waited "
	     "for another process",
	     (unsigned long long)t->acquisitions[0], (unsigned long long)t->contended[0],
	     (unsigned long long)t->wait_total[0], (unsigned long long)t->wait_max[0],
	     (unsigned long long)t->acquisitions[1], (unsigned long long)t->contended[1],
	     (unsigned long long)t->wait_total[1], (unsigned long long)t->wait_max[1],
	     (unsigned long long)r.lock_waits,
	     (unsigned long long)(t->contended_other[0] + t->contended_other[1]));
	ok(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "contend: exits 0");
	ok(t->acquisitions[0] > 0 && t->acquisitions[1] > 0, "contend: read and write acquisitions");
	ok(t->wait_total[0] + t->wait_total[1] > 0, "contend: mmap_lock waits > 0");
	ok(t->contended[0] + t->contended[1] > 0, "contend: contended acquisitions > 0 (%llu)",
	   (unsigned long long)(t->contended[0] + t->contended[1]));
	ok(hist_sum(t->wait_hist[0]) == t->acquisitions[0] &&
	       hist_sum(t->wait_hist[1]) == t->acquisitions[1],
	   "contend: wait histograms add up to the acquisitions");
	ok(r.lock_waits > 0 && r.lock_waits_with_stack == r.lock_waits,
	   "contend: %llu waits over 20 us, each with a user stack (%llu)",
	   (unsigned long long)r.lock_waits, (unsigned long long)r.lock_waits_with_stack);
	ok(r.m.mismatches == 0 && r.exit_diffs == 0 && r.m.checks > 100,
	   "contend: mirror exact under contention (%llu checks, %llu mismatches, %d differences)",
	   (unsigned long long)r.m.checks, (unsigned long long)r.m.mismatches, r.exit_diffs);
	bh_run_free(&r);

	char *single[] = { (char *)bh_prog("wl_lock"), "single", "0.5", NULL };
	pid_t reader = start_reader();
	int ret = bh_run(single, &o, &r);
	if (reader > 0)
		kill(reader, SIGKILL);
	if (ret)
		bail_out("cannot run wl_lock");
	t = &r.total;
	diag("single: read acq %llu write acq %llu contended %llu/%llu, of which %llu/%llu waited "
	     "for another process (a /proc reader)",
	     (unsigned long long)t->acquisitions[0], (unsigned long long)t->acquisitions[1],
	     (unsigned long long)t->contended[0], (unsigned long long)t->contended[1],
	     (unsigned long long)t->contended_other[0], (unsigned long long)t->contended_other[1]);
	ok(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "single: exits 0");
	ok(t->acquisitions[1] > 1000, "single: write acquisitions counted (%llu)",
	   (unsigned long long)t->acquisitions[1]);
	ok(t->contended[0] + t->contended[1] == t->contended_other[0] + t->contended_other[1],
	   "single-threaded: 0 contended acquisitions waiting for its own thread (%llu waited for "
	   "/proc readers)",
	   (unsigned long long)(t->contended_other[0] + t->contended_other[1]));
	ok(hist_sum(t->hold_hist[1]) == t->acquisitions[1] && t->hold_total[1] > 0,
	   "single: every write hold measured (%llu holds, %llu ns)",
	   (unsigned long long)hist_sum(t->hold_hist[1]), (unsigned long long)t->hold_total[1]);
	bh_run_free(&r);
	bh_close();
	return tap_exit();
}
