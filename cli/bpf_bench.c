/*
 * bpf_bench.c - `vmatop bench fork [--vmas LIST] [--seconds S]`: the fork
 * benchmark of the __mt_dup() series (byte-unixbench's spawn, with the VMA
 * count as a parameter): a process with N VMAs forks and its child exits at
 * once, for S seconds per N. Prints forks per second and the fork latency
 * percentiles as the benchmark measured them (CLOCK_MONOTONIC around fork()
 * in the parent) and, side by side, as vmatop's probes measured them
 * (BPF: entry to the parent running in user space again), with the copy
 * (mmap_lock write hold in dup_mmap) and the rest.
 *
 * The worker is vmatop itself, re-executed ("vmatop __fork-worker N S FD"),
 * so that its VMA count is what it makes: it maps one region and mprotects
 * every other page until /proc/self/maps has N lines (not fewer than it
 * started with), then reports each fork's latency through a pipe.
 */
#include "bpf_collector.h"
#include "bpf_commands.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

const char bench_usage[] =
	"usage: vmatop bench fork [--vmas LIST] [--seconds S]\n"
	"  A process with N VMAs forks, its child exits at once (byte-unixbench spawn), for\n"
	"  S seconds (default 1) per N in LIST (default 21,121,221,421,821,1621,3221,6421,\n"
	"  12821,25621,51221). Prints forks/s and fork latency percentiles measured by the\n"
	"  benchmark and, with BPF (root), by vmatop's probes: total = copy (mmap_lock write\n"
	"  hold in dup_mmap) + rest.\n";

static const long default_vmas[] = {21, 121, 221, 421, 821, 1621, 3221, 6421, 12821, 25621, 51221};

static long count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	long n = 0;
	int ch;
	if (!f)
		return -1;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

/* The worker: make N VMAs, then fork for S seconds; latencies to fd. */
int cmd_fork_worker(int argc, char **argv)
{
	if (argc < 4)
		return EXIT_USAGE;
	long want = atol(argv[1]);
	double secs = atof(argv[2]);
	int fd = atoi(argv[3]);
	long have = count_maps();
	/* [vsyscall] is a line of maps but not a VMA: count VMAs like the kernel */
	long extra = want - have;
	if (extra > 0) {
		long pages = 2 * extra + 1;
		char *p = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (p == MAP_FAILED)
			return EXIT_FAIL;
		/* one mapping, then every other page read-only: 2 VMAs per pair,
		 * the mapping itself already counts as one */
		long made = 1;
		for (long i = 1; made < extra && i < pages; i += 2, made += 2)
			mprotect(p + i * 4096, 4096, PROT_READ);
	}
	uint64_t end = now_ns() + (uint64_t)(secs * 1e9);
	uint64_t buf[512];
	size_t n = 0;
	while (now_ns() < end) {
		uint64_t t0 = now_ns();
		pid_t c = fork();
		if (c == 0)
			_exit(0);
		uint64_t t1 = now_ns();
		if (c < 0)
			return EXIT_FAIL;
		waitpid(c, NULL, 0);
		buf[n++] = t1 - t0;
		if (n == 512) {
			if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
				return EXIT_FAIL;
			n = 0;
		}
	}
	if (n && write(fd, buf, n * sizeof(buf[0])) != (ssize_t)(n * sizeof(buf[0])))
		return EXIT_FAIL;
	return 0;
}

struct bctx {
	uint32_t worker;
	uint64_t *tot, *copy;
	size_t n, cap, ncopy, copy_cap;
	int32_t vmas;
	struct {
		uint32_t child;
		uint64_t copy;
	} pend[64];
	unsigned np;
};

static int on_rec(void *ctx, const struct vmt_krec_hdr *h, size_t size)
{
	struct bctx *c = ctx;
	if (h->tgid != c->worker)
		return 0;
	if (h->type == VMT_KREC_FORK && size >= sizeof(struct vmt_krec_fork) &&
	    !(h->flags & VMT_BPF_F_THREAD)) {
		const struct vmt_krec_fork *f = (const void *)h;
		c->pend[c->np % 64].child = f->child_pid;
		c->pend[c->np % 64].copy = f->lock_released - f->lock_acquired;
		c->np++;
		c->vmas = f->parent_map_count;
	} else if (h->type == VMT_KREC_FORK_RET && size >= sizeof(struct vmt_krec_fork_ret)) {
		const struct vmt_krec_fork_ret *f = (const void *)h;
		if (f->ret <= 0)
			return 0;
		VEC_PUSH(c->tot, c->n, c->cap, (f->t_resume ? f->t_resume : h->ts) - f->t_enter);
		for (unsigned i = 0; i < 64; i++)
			if (c->pend[i].child == (uint32_t)f->ret) {
				VEC_PUSH(c->copy, c->ncopy, c->copy_cap, c->pend[i].copy);
				break;
			}
	}
	return 0;
}

static uint64_t pct(uint64_t *v, size_t n, double p)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return pct_u64(v, n, p);
}

int cmd_bench(int argc, char **argv)
{
	static const struct option opts[] = {{"vmas", required_argument, NULL, 'n'},
					     {"seconds", required_argument, NULL, 's'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	long vmas[64];
	size_t nv = 0;
	double secs = 1;
	int c;

	if (argc < 2 || strcmp(argv[1], "fork")) {
		fputs(bench_usage, argc < 2 ? stderr : stdout);
		return argc < 2 || strcmp(argv[1], "--help") ? EXIT_USAGE : 0;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': {
			char *s = optarg, *e;
			while (*s && nv < 64) {
				long v = strtol(s, &e, 10);
				if (e == s || v < 1 || v > 60000) {
					fprintf(stderr, "vmatop: --vmas %s: a list like 21,121,221 "
							"(1..60000)\n",
						optarg);
					return EXIT_USAGE;
				}
				vmas[nv++] = v;
				s = *e ? e + 1 : e;
			}
			break;
		}
		case 's':
			secs = atof(optarg);
			if (secs <= 0 || secs > 3600) {
				fprintf(stderr, "vmatop: --seconds %s: 0 < S <= 3600\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			fputs(bench_usage, stdout);
			return 0;
		default:
			fputs(bench_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (!nv)
		for (; nv < sizeof(default_vmas) / sizeof(default_vmas[0]); nv++)
			vmas[nv] = default_vmas[nv];

	char why[256];
	struct vmt_bpf *b = NULL;
	struct bctx bc = {0};
	if (vmt_bpf_available(why, sizeof(why)) == 0) {
		struct vmt_bpf_opts o = VMT_BPF_OPTS_DEFAULT;
		o.lock = true; /* the copy time is the mmap_lock write hold */
		if (vmt_bpf_open(&b, &o, on_rec, &bc, why, sizeof(why)))
			b = NULL;
	}
	if (!b)
		fprintf(stderr, "vmatop: bench without the probes (%s)\n",
			strncmp(why, "vmatop: ", 8) ? why : why + 8);

	printf("fork benchmark (byte-unixbench spawn with N VMAs, %.3g s each)\n", secs);
	printf("%7s %9s | %-29s | %-40s\n", "", "", "measured by the benchmark",
	       b ? "measured by vmatop's probes (BPF)" : "(no BPF)");
	printf("%7s %9s | %9s %9s %9s | %9s %9s %9s %9s\n", "VMAs", "forks/s", "p50", "p90", "p99",
	       "p50", "p90", "copy p50", "rest p50");
	for (size_t k = 0; k < nv; k++) {
		int p[2];
		char a1[32], a2[32], a3[32], exe[4096];
		ssize_t el = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (el <= 0 || pipe(p))
			diex(EXIT_FAIL, "bench: cannot start the worker");
		exe[el] = 0;
		snprintf(a1, sizeof(a1), "%ld", vmas[k]);
		snprintf(a2, sizeof(a2), "%g", secs);
		snprintf(a3, sizeof(a3), "%d", p[1]);
		int go[2];
		if (pipe2(go, O_CLOEXEC))
			diex(EXIT_FAIL, "bench: pipe: %s", strerror(errno));
		pid_t w = fork();
		if (w == 0) {
			char ch;
			close(p[0]);
			close(go[1]);
			if (read(go[0], &ch, 1) != 1)
				_exit(EXIT_FAIL);
			execl(exe, "vmatop", "__fork-worker", a1, a2, a3, (char *)NULL);
			_exit(127);
		}
		close(p[1]);
		close(go[0]);
		memset(&bc, 0, sizeof(bc));
		bc.worker = (uint32_t)w;
		if (b)
			vmt_bpf_follow_new(b, w); /* before its exec */
		if (write(go[1], "g", 1) != 1)
			diex(EXIT_FAIL, "bench: cannot start the worker");
		close(go[1]);
		uint64_t *own = NULL, tmp[512];
		size_t nown = 0, cap = 0;
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		for (;;) {
			ssize_t r = read(p[0], tmp, sizeof(tmp));
			if (r > 0) {
				for (size_t i = 0; i < (size_t)r / 8; i++)
					VEC_PUSH(own, nown, cap, tmp[i]);
				continue;
			}
			if (r == 0)
				break;
			if (b)
				vmt_bpf_poll(b, 10);
			else
				usleep(10000);
		}
		close(p[0]);
		int st;
		waitpid(w, &st, 0);
		if (b) {
			vmt_bpf_flush(b);
			vmt_bpf_unfollow(b, w);
			vmt_bpf_lock_stats_clear(b, w);
		}
		double fps = nown / secs;
		uint64_t o50 = pct(own, nown, 50), o90 = pct(own, nown, 90), o99 = pct(own, nown, 99);
		char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32], b7[32];
		printf("%7ld %9.0f | %9s %9s %9s", b && bc.vmas ? (long)bc.vmas : vmas[k], fps,
		       fmt_ns(o50, b1), fmt_ns(o90, b2), fmt_ns(o99, b3));
		if (b && bc.n) {
			uint64_t *rest = xmalloc(bc.n * sizeof(*rest));
			size_t nr = bc.n < bc.ncopy ? bc.n : bc.ncopy;
			for (size_t i = 0; i < nr; i++)
				rest[i] = bc.tot[i] > bc.copy[i] ? bc.tot[i] - bc.copy[i] : 0;
			printf(" | %9s %9s %9s %9s\n", fmt_ns(pct(bc.tot, bc.n, 50), b4),
			       fmt_ns(pct(bc.tot, bc.n, 90), b5), fmt_ns(pct(bc.copy, bc.ncopy, 50), b6),
			       fmt_ns(pct(rest, nr, 50), b7));
			free(rest);
		} else {
			printf(" | %9s\n", "-");
		}
		fflush(stdout);
		free(own);
		free(bc.tot);
		free(bc.copy);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			warnx_("bench: the worker for %ld VMAs failed (max_map_count?)", vmas[k]);
	}
	if (b)
		vmt_bpf_close(b);
	return 0;
}
