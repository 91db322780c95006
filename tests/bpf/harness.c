/*
 * harness.c - see harness.h. One collector per test program; each run
 * points the record callback at its own struct bh_run.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct vmt_bpf *bh_b;
static struct bh_run *bh_cur;
static char bh_why[256];

const char *bh_skip_reason(void)
{
	if (geteuid() != 0)
		return "BPF tests need root (CI runs them as root)";
	if (vmt_bpf_available(bh_why, sizeof(bh_why)))
		return bh_why;
	return NULL;
}

static void add_tgid(struct bh_run *r, uint32_t tgid)
{
	for (size_t i = 0; i < r->ntgids; i++)
		if (r->tgids[i] == tgid)
			return;
	if (r->ntgids < sizeof(r->tgids) / sizeof(r->tgids[0]))
		r->tgids[r->ntgids++] = tgid;
}

static int on_record(void *ctx, const struct vmt_krec_hdr *h, size_t size)
{
	struct bh_run *r = bh_cur;
	(void)ctx;

	if (!r)
		return 0;
	r->records++;
	r->by_type[h->type & 7]++;
	add_tgid(r, h->tgid);
	if (getenv("VMATOP_BPF_DUMP")) {
		char buf[512];
		vmt_bpf_format(h, size, buf, sizeof(buf));
		fprintf(stderr, "# rec %s\n", buf);
	}
	if (vmt_bmirror_apply(&r->m, h, size))
		return -ENOMEM;
	if (h->type == VMT_KREC_FORK && !(h->flags & VMT_BPF_F_THREAD)) {
		struct bh_fork *nf = realloc(r->forks, (r->nforks + 1) * sizeof(*nf));
		if (!nf)
			return -ENOMEM;
		r->forks = nf;
		memset(&nf[r->nforks], 0, sizeof(nf[0]));
		memcpy(&nf[r->nforks].f, h, sizeof(struct vmt_krec_fork));
		r->nforks++;
	} else if (h->type == VMT_KREC_FORK_RET) {
		const struct vmt_krec_fork_ret *fr = (const void *)h;
		for (size_t i = r->nforks; i-- > 0;) {
			if (r->forks[i].f.h.tid == h->tid && r->forks[i].f.child_pid == fr->ret &&
			    !r->forks[i].t_ret) {
				r->forks[i].t_ret = h->ts;
				r->forks[i].t_resume = fr->t_resume;
				r->forks[i].t_enter_ret = fr->t_enter;
				break;
			}
		}
	} else if (h->type == VMT_KREC_LOCK_WAIT) {
		const struct vmt_krec_lockwait *w = (const void *)h;
		r->lock_waits++;
		if (w->nframes > 0)
			r->lock_waits_with_stack++;
	}
	return 0;
}

int bh_open(const struct bh_opts *o, char *err, size_t len)
{
	struct vmt_bpf_opts bo = VMT_BPF_OPTS_DEFAULT;

	if (o && o->lock_threshold_ns)
		bo.lock_threshold_ns = o->lock_threshold_ns;
	if (o && o->verbose)
		bo.verbose = 1;
	/* for experiments (bench/bench-bpf.sh breakdown) */
	bo.no_vma = getenv("VMATOP_BPF_NO_VMA") != NULL;
	bo.lock = o && o->lock;
	return vmt_bpf_open(&bh_b, &bo, on_record, NULL, err, len);
}

void bh_close(void)
{
	vmt_bpf_close(bh_b);
	bh_b = NULL;
}

static void check_exit(struct bh_run *r, pid_t pid)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	int d;

	vmt_bpf_drain(bh_b);
	/* the process is stopped; records still held wait for the records of
	 * threads that are finishing their last calls: give them a moment */
	for (int i = 0; i < 50 && vmt_bpf_held(bh_b); i++)
		vmt_bpf_poll(bh_b, 2);
	d = vmt_bmirror_diff_proc(&r->m, pid, mem);
	fclose(mem);
	r->exit_checks++;
	if (d != 0) {
		r->exit_diffs += d > 0 ? d : 1;
		if (!r->first_diff[0])
			snprintf(r->first_diff, sizeof(r->first_diff), "pid %d: %s\n%s", (int)pid,
				 d > 0 ? "mirror differs from /proc/PID/maps" : strerror(-d),
				 buf ? buf : "");
	}
	free(buf);
}

/* Drive the traced tree until every traced process is gone. */
static void trace_loop(struct bh_run *r, pid_t main_pid, bool ptraced)
{
	for (;;) {
		int st;
		pid_t w = waitpid(-1, &st, __WALL | WNOHANG);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD && !ptraced) {
				/* attach without children of ours: poll for the pid */
				if (kill(main_pid, 0) == 0 || errno != ESRCH) {
					vmt_bpf_poll(bh_b, 20);
					continue;
				}
			}
			break;
		}
		if (w == 0) {
			vmt_bpf_poll(bh_b, 5);
			continue;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			if (w == main_pid)
				r->status = st;
			continue;
		}
		if (!WIFSTOPPED(st))
			continue;
		int ev = (unsigned)st >> 16, sig = WSTOPSIG(st);
		if (ev == PTRACE_EVENT_EXIT) {
			check_exit(r, w);
			ptrace(PTRACE_CONT, w, 0, 0);
		} else if (ev == PTRACE_EVENT_STOP) {
			/* a new auto-attached child, or a group stop */
			if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
				ptrace(PTRACE_LISTEN, w, 0, 0);
			else
				ptrace(PTRACE_CONT, w, 0, 0);
		} else if (ev) {
			ptrace(PTRACE_CONT, w, 0, 0);
		} else {
			ptrace(PTRACE_CONT, w, 0, sig); /* deliver the signal */
		}
	}
	vmt_bpf_drain(bh_b);
}

static void finish(struct bh_run *r)
{
	struct vmt_bpf_lockstat *ls;
	size_t n;

	vmt_bpf_flush(bh_b);
	vmt_bpf_counters(bh_b, r->counters);
	vmt_bpf_order_stats(bh_b, &r->order);
	if (!vmt_bpf_lock_stats(bh_b, 0, &ls, &n)) {
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < r->ntgids; j++)
				if (ls[i].tgid == r->tgids[j])
					vmt_bpf_lockstat_add(&r->total, &ls[i]);
		free(ls);
	}
	for (size_t j = 0; j < r->ntgids; j++)
		vmt_bpf_lock_stats_clear(bh_b, r->tgids[j]);
	bh_cur = NULL;
}

static void run_init(struct bh_run *r)
{
	memset(r, 0, sizeof(*r));
	vmt_bmirror_init(&r->m);
	vmt_bpf_describe(bh_b, r->mode, sizeof(r->mode));
	vmt_bpf_drain(bh_b); /* leftovers of an earlier run */
	bh_cur = r;
}

int bh_run(char *const argv[], const struct bh_opts *o, struct bh_run *r)
{
	int go[2];
	pid_t pid;
	char c = 1;

	run_init(r);
	if (pipe2(go, O_CLOEXEC))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(126);
		{
			/* the program's stdout: a file, or away from our TAP */
			const char *out = o && o->out_path ? o->out_path : "/dev/null";
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0 || dup2(fd, 1) < 0)
				_exit(126);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	close(go[0]);
	r->pid = pid;
	if (!getenv("VMATOP_BPF_NO_FOLLOW"))
		vmt_bpf_follow_new(bh_b, pid); /* before its exec */
	add_tgid(r, pid);
	if (!(o && o->no_ptrace) &&
	    ptrace(PTRACE_SEIZE, pid, 0,
		   PTRACE_O_TRACEEXIT | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK) < 0) {
		int e = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -e;
	}
	if (write(go[1], &c, 1) != 1) {
		kill(pid, SIGKILL);
	}
	close(go[1]);
	trace_loop(r, pid, true);
	vmt_bpf_unfollow(bh_b, pid);
	finish(r);
	return 0;
}

int bh_attach(pid_t pid, int ready_fd, const struct bh_opts *o, struct bh_run *r)
{
	char c = 1;
	int ret;
	bool traced = !(o && o->no_ptrace);

	run_init(r);
	r->pid = pid;
	add_tgid(r, pid);
	/* BPF first, then the seed: records made before the seed are drained
	 * away below; the ones made during it re-apply on top (snapshots) */
	vmt_bpf_follow(bh_b, pid);
	if (traced && ptrace(PTRACE_SEIZE, pid, 0,
			     PTRACE_O_TRACEEXIT | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK) < 0)
		return -errno;
	bh_cur = NULL;
	vmt_bpf_drain(bh_b);
	bh_cur = r;
	ret = vmt_bmirror_seed_proc(&r->m, pid);
	if (ret)
		return ret;
	if (ready_fd >= 0 && write(ready_fd, &c, 1) != 1)
		return -errno;
	trace_loop(r, pid, traced);
	vmt_bpf_unfollow(bh_b, pid);
	finish(r);
	return 0;
}

void bh_run_free(struct bh_run *r)
{
	vmt_bmirror_free(&r->m);
	free(r->forks);
	memset(r, 0, sizeof(*r));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

uint64_t bh_median(uint64_t *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

const char *bh_prog(const char *name)
{
	static char buf[8][512];
	static int i;
	const char *b = getenv("VMATOP_BUILD");
	char *p = buf[i++ & 7];

	snprintf(p, 512, "%s/tests/bpf/%s", b ? b : "build", name);
	return p;
}
