/*
 * t_mirror.c - the BPF-only mirror is exact: for real programs in the real
 * kernel, the mirror built from BPF records alone matches mm->map_count
 * after every record that can be checked (cli/bpf_mirror.c) and
 * /proc/PID/maps of every process of the tree at its exit
 * (tests/bpf/harness.c). Programs: wl_mix (every kind of change,
 * glibc-internal mappings, raw syscalls, forks, threads), the same
 * statically linked, python3 and git (real programs), wl_mix attached to
 * while running, and threads racing on one region (wl_lock race: records
 * of different threads reach the ring out of order, which the ordering
 * stage repairs). Address-space mode (the default), and with the mmap_lock
 * programs (--mmap-lock), which know exactly when a call wrote.
 *
 * How many count checks a run gets depends on how often threads overlap:
 * a record sent while another call of its mm is in flight is RACED, not
 * checked (without the lock programs "in flight" starts at the call's
 * entry, so overlapping threads make many of those). The minimums below
 * hold for the single-threaded parts alone.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

static int exists(const char *path)
{
	return access(path, X_OK) == 0;
}

static const char *which(const char *name)
{
	static char buf[4][256];
	static int i;
	const char *dirs[] = { "/usr/bin", "/bin", "/usr/local/bin" };
	char *p = buf[i++ & 3];
	for (size_t d = 0; d < 3; d++) {
		snprintf(p, 256, "%s/%s", dirs[d], name);
		if (exists(p))
			return p;
	}
	return NULL;
}

/* 4 test points per run */
static void check_run(const char *what, struct bh_run *r, int min_procs, uint64_t min_checks)
{
	ok(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0, "%s: exits 0 under BPF", what);
	ok(r->m.mismatches == 0, "%s: mirror matches map_count after every record (%llu checks, %llu mismatches%s%s)",
	   what, (unsigned long long)r->m.checks, (unsigned long long)r->m.mismatches,
	   r->m.mismatches ? "; first: " : "", r->m.mismatches ? r->m.first_mismatch[0] : "");
	ok(r->m.checks >= min_checks, "%s: %llu map_count checks (>= %llu), %llu skipped (raced %llu)",
	   what, (unsigned long long)r->m.checks, (unsigned long long)min_checks,
	   (unsigned long long)r->m.skipped_checks, (unsigned long long)r->m.raced);
	ok(r->exit_checks >= min_procs && r->exit_diffs == 0,
	   "%s: mirror == /proc/PID/maps at exit for %d processes (>= %d), %d differences",
	   what, r->exit_checks, min_procs, r->exit_diffs);
	if (r->exit_diffs)
		diag("%s", r->first_diff);
	if (r->counters[VMT_BPF_C_DROPPED] || r->counters[VMT_BPF_C_WALK_ERR] ||
	    r->order.expired || r->order.orphans || r->order.unrepaired)
		diag("%s: dropped %llu, walk errors %llu, order expired %llu orphans %llu "
		     "unrepaired %llu", what,
		     (unsigned long long)r->counters[VMT_BPF_C_DROPPED],
		     (unsigned long long)r->counters[VMT_BPF_C_WALK_ERR],
		     (unsigned long long)r->order.expired, (unsigned long long)r->order.orphans,
		     (unsigned long long)r->order.unrepaired);
}

static void reopen(const struct bh_opts *o)
{
	char err[256];
	bh_close();
	if (bh_open(o, err, sizeof(err)))
		bail_out(err);
}

/* 5 test points: threads racing on one region */
static void race(const char *what, const char *threads)
{
	struct bh_run r;
	char *argv[] = { (char *)bh_prog("wl_lock"), "race", "1", (char *)threads, NULL };
	int ret = bh_run(argv, NULL, &r);
	if (ret) {
		ok(0, "%s: run (%s)", what, strerror(-ret));
		skip(4, "run failed");
		return;
	}
	check_run(what, &r, 1, 1000);
	ok(r.order.unrepaired == 0 && r.counters[VMT_BPF_C_DROPPED] == 0,
	   "%s: %llu records late in the ring, repaired (%llu delivered again), none lost",
	   what, (unsigned long long)r.order.late, (unsigned long long)r.order.redelivered);
	bh_run_free(&r);
}

static void run(const char *what, char *const argv[], int min_procs, uint64_t min_checks)
{
	struct bh_run r;
	int ret = bh_run(argv, NULL, &r);
	if (ret) {
		ok(0, "%s: run (%s)", what, strerror(-ret));
		skip(3, "run failed");
		return;
	}
	check_run(what, &r, min_procs, min_checks);
	bh_run_free(&r);
}

int main(void)
{
	const char *why = bh_skip_reason();
	char err[256];

	if (why)
		plan_skip_all(why);
	if (bh_open(NULL, err, sizeof(err)))
		plan_skip_all(err);
	plan(4 * 10 + 2 * 5 + 4);
	diag("%s", "BPF source loaded");

	{
		char *argv[] = { (char *)bh_prog("wl_mix"), NULL };
		/* wl_mix, its fork child, the vfork child and the spawn child */
		run("wl_mix", argv, 4, 150);
	}
	{
		struct bh_run r;
		char *argv[] = { (char *)bh_prog("wl_mix"), NULL };
		int ret = bh_run(argv, NULL, &r);
		ok(!ret && r.nforks >= 3, "wl_mix: the fork, the vfork and the posix_spawn are seen (%zu)",
		   r.nforks);
		int shared = 0;
		for (size_t i = 0; i < r.nforks; i++)
			shared += !!(r.forks[i].f.h.flags & VMT_BPF_F_SHARED_MM);
		ok(shared >= 2, "wl_mix: vfork and posix_spawn children share the parent's mm (%d)",
		   shared);
		bh_run_free(&r);
	}
	if (exists(bh_prog("wl_mix_static"))) {
		char *argv[] = { (char *)bh_prog("wl_mix_static"), NULL };
		run("wl_mix_static (no shim possible)", argv, 4, 150);
	} else {
		skip(4, "no static libc: wl_mix_static not built");
	}
	{
		const char *py = which("python3");
		if (py) {
			char *argv[] = { (char *)py, "-c",
					 "import threading, json, mmap\n"
					 "def work():\n"
					 "    for i in range(30):\n"
					 "        b = bytearray(1 << 20); m = mmap.mmap(-1, 1 << 16); m.close()\n"
					 "t = [threading.Thread(target=work) for _ in range(3)]\n"
					 "[x.start() for x in t]; [x.join() for x in t]\n"
					 "json.dumps(list(range(1000)))\n",
					 NULL };
			run("python3 with threads", argv, 1, 50);
		} else {
			skip(4, "no python3");
		}
	}
	{
		const char *git = which("git");
		if (git) {
			char *argv[] = { (char *)git, "--no-pager", "log", "--oneline", "-n", "3", NULL };
			run("git log", argv, 1, 10);
		} else {
			skip(4, "no git");
		}
	}
	{
		/* attach to a running program: seed from /proc, then BPF only */
		int in[2];
		pid_t pid = -1;
		struct bh_run r;
		if (pipe(in))
			bail_out("pipe");
		pid = fork();
		if (pid < 0)
			bail_out("fork");
		if (pid == 0) {
			dup2(in[0], 0);
			close(in[0]);
			close(in[1]);
			execl(bh_prog("wl_mix"), "wl_mix", "--wait", (char *)NULL);
			_exit(127);
		}
		close(in[0]);
		usleep(100000); /* let it reach its read() */
		int ret = bh_attach(pid, in[1], NULL, &r);
		close(in[1]);
		if (ret) {
			ok(0, "attach: %s", strerror(-ret));
			skip(3, "attach failed");
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		} else {
			check_run("attach -p (wl_mix --wait)", &r, 4, 150);
			bh_run_free(&r);
		}
	}
	{
		char *argv[] = { (char *)bh_prog("wl_mix"), NULL };
		run("wl_mix again (no state leaks between runs)", argv, 4, 150);
	}
	race("race: 4 threads on one region", "4");
	{
		/* raw sys_enter is attached on demand (cli/bpf_collector.c,
		 * enter_policy): a single-threaded program runs without it (the
		 * fork entries have programs of their own), a process with
		 * threads gets it. Both paths, forced: */
		struct bh_run r;
		char *mix[] = { (char *)bh_prog("wl_mix"), NULL };
		char *rc[] = { (char *)bh_prog("wl_lock"), "race", "1", "4", NULL };
		int ret = bh_run(mix, NULL, &r);
		if (!ret && access("/sys/kernel/tracing/events/syscalls", F_OK) == 0)
			ok(strstr(r.mode, "entries on demand") != NULL, "sys_enter on demand: %s", r.mode);
		else
			skip(1, "no per-syscall tracepoints here: sys_enter stays attached");
		if (!ret)
			bh_run_free(&r);
		setenv("VMATOP_BPF_ENTER", "always", 1);
		reopen(NULL);
		run("wl_mix, sys_enter always attached", mix, 4, 150);
		/* threads whose entries are never seen: every call listed by a
		 * walk and not count-checked, the mirror exact all the same */
		setenv("VMATOP_BPF_ENTER", "never", 1);
		reopen(NULL);
		ret = bh_run(rc, NULL, &r);
		if (ret) {
			ok(0, "race without sys_enter: run (%s)", strerror(-ret));
			skip(3, "run failed");
		} else {
			check_run("race, sys_enter never attached", &r, 1, 0);
			bh_run_free(&r);
		}
		unsetenv("VMATOP_BPF_ENTER");
		reopen(NULL);
	}
	{
		/* with the lock programs: in flight only from the write */
		struct bh_opts lo = { .lock = true };
		char *argv[] = { (char *)bh_prog("wl_mix"), NULL };
		reopen(&lo);
		run("wl_mix, --mmap-lock", argv, 4, 400);
		race("race, --mmap-lock", "4");
		reopen(NULL);
	}
	{
		/* the fallback: the raw_tp twins of every program */
		struct bh_run r;
		char *argv[] = { (char *)bh_prog("wl_mix"), NULL };
		setenv("VMATOP_BPF_RAW_TP", "1", 1);
		reopen(NULL);
		int ret = bh_run(argv, NULL, &r);
		ok(!ret && strstr(r.mode, "BPF: raw_tp"), "raw_tp fallback loads: %s", r.mode);
		if (!ret)
			check_run("wl_mix with raw_tp programs", &r, 4, 150);
		else
			skip(4, "run failed");
		bh_run_free(&r);
		unsetenv("VMATOP_BPF_RAW_TP");
	}
	bh_close();
	return tap_exit();
}
