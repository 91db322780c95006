/*
 * bpf_attach.c - `vmatop attach -p PID [-d SECONDS] [-o FILE]`: follow a
 * running process with BPF alone. The mirror is seeded from /proc/PID/maps
 * (a FULL BPF list with the names), then kept by BPF records; the trace is
 * written like `vmatop record`'s and reported at the end (the target exits,
 * -d elapses, or Ctrl-C).
 *
 * Order at the start: BPF follows the pid first, then what the ring already
 * holds is dropped and the maps are read, then the records flow: a change
 * made while the maps were read is applied again on top (records are
 * snapshots), a change made before is in the maps.
 */
#include "bpf_commands.h"
#include "bpf_source.h"
#include "commands.h"
#include "trace.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

const char attach_usage[] =
	"usage: vmatop attach (-p PID | --system) [-d SECONDS] [-o FILE] [--mmap-lock]\n"
	"                     [--lock-threshold T] [--json]\n"
	"  Follow a running process (and the processes it forks from now on) with BPF\n"
	"  alone: seed the mirror from /proc/PID/maps, write a trace, report at the end\n"
	"  (the process exits, SECONDS elapse, or Ctrl-C). Needs root, or CAP_BPF +\n"
	"  CAP_PERFMON (and CAP_SYS_PTRACE to read another user's maps).\n"
	"  --system  every process (but vmatop), each seeded from its maps; ends on -d or Ctrl-C\n"
	"  -o FILE   trace file (default: vmatop-attach-PID.vmt, vmatop-system.vmt)\n"
	"  --mmap-lock  also measure mmap_lock waits, holds, contention and the fork copy\n"
	"            time (costs more: the lock programs run on every mmap_lock operation)\n"
	"  --lock-threshold T  (implies --mmap-lock) a record with user stack per wait >= T\n";

static volatile sig_atomic_t stop;
static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

struct tw_sink {
	struct trace_writer w;
	uint64_t next_stream;
};

static void tw_sink_put(void *ctx, const struct vmt_rec *r)
{
	tw_put(&((struct tw_sink *)ctx)->w, r);
}

static uint64_t tw_sink_stream(void *ctx, uint32_t owner)
{
	struct tw_sink *s = ctx;
	struct vmt_rec r = {.type = VMT_RING_OPEN, .ts = now_ns()};
	r.p.ring.stream = ++s->next_stream;
	r.p.ring.owner = owner;
	tw_put(&s->w, &r);
	return r.p.ring.stream;
}

/* /proc/PID/maps as a FULL BPF list (with names), after a process record. */
static int seed(const struct bpf_sink *sink, uint64_t stream, pid_t pid)
{
	char path[64], line[8192], exe[4096];
	uint32_t cid = 0x7fffffff; /* distinct from the converter's list ids */
	size_t n = 0;
	int32_t vmas = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	ssize_t k = readlink(path, exe, sizeof(exe) - 1);
	exe[k > 0 ? k : 0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	uint64_t ts = now_ns();
	struct vmt_rec e = {.type = VMT_BPF_EXEC, .pid = (uint32_t)pid, .tid = (uint32_t)pid,
			    .ts = ts, .commit = (uint32_t)stream};
	e.p.bpf_exec.path_hash = bpf_put_string(sink, exe[0] ? exe : "?");
	e.p.bpf_exec.old_pid = (uint32_t)pid;
	sink->put(sink->ctx, &e);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, en, off, ino;
		unsigned maj, min;
		char perms[5];
		int pos = 0;
		if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &s, &en, perms, &off, &maj, &min,
			   &ino, &pos) < 7)
			continue;
		char *name = line + pos;
		name[strcspn(name, "\n")] = 0;
		struct vmt_rec r = {.type = VMT_BPF_VMA, .pid = (uint32_t)pid, .tid = (uint32_t)pid,
				    .ts = ts, .cid = cid, .commit = (uint32_t)stream};
		r.p.vma.start = s;
		r.p.vma.end = en;
		r.p.vma.offset = off;
		r.p.vma.inode = ino;
		r.p.vma.dev = maj << 20 | min;
		r.p.vma.vflags = (perms[0] == 'r' ? VMT_VMA_READ : 0) |
				 (perms[1] == 'w' ? VMT_VMA_WRITE : 0) |
				 (perms[2] == 'x' ? VMT_VMA_EXEC : 0) |
				 (perms[3] == 's' ? VMT_VMA_SHARED : 0);
		r.p.vma.name_hash = *name ? bpf_put_string(sink, name) : 0;
		sink->put(sink->ctx, &r);
		n++;
		if (!strstr(name, "[vsyscall]"))
			vmas++;
	}
	fclose(f);
	struct vmt_rec l = {.type = VMT_BPF_LIST, .pid = (uint32_t)pid, .tid = (uint32_t)pid,
			    .ts = ts, .cid = cid, .commit = (uint32_t)stream,
			    .flags = VMT_BPFH_FULL | VMT_BPFH_RACED /* read piecewise: no check */};
	l.p.bpf_list.hi[0] = ~0ull;
	l.p.bpf_list.n = (uint32_t)n;
	l.p.bpf_list.map_count = vmas;
	sink->put(sink->ctx, &l);
	return 0;
}

int cmd_attach(int argc, char **argv)
{
	static const struct option opts[] = {{"pid", required_argument, NULL, 'p'},
					     {"duration", required_argument, NULL, 'd'},
					     {"output", required_argument, NULL, 'o'},
					     {"lock-threshold", required_argument, NULL, 'L'},
					     {"mmap-lock", no_argument, NULL, 'M'},
					     {"verbose", no_argument, NULL, 'v'},
					     {"json", no_argument, NULL, 'j'},
					     {"system", no_argument, NULL, 'S'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	struct vmt_bpf_opts bo = VMT_BPF_OPTS_DEFAULT;
	int64_t dur = 0;
	pid_t pid = 0;
	const char *out = NULL;
	char outbuf[64], err[256], desc[160];
	int c, json = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:d:o:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pid = (pid_t)atoi(optarg);
			break;
		case 'd':
			dur = parse_duration(optarg);
			if (dur < 0) {
				fprintf(stderr, "vmatop: -d %s: not a duration\n%s", optarg, attach_usage);
				return EXIT_USAGE;
			}
			break;
		case 'o':
			out = optarg;
			break;
		case 'L': {
			int64_t t = parse_duration(optarg);
			if (t < 0) {
				fprintf(stderr, "vmatop: --lock-threshold %s: not a duration\n%s", optarg,
					attach_usage);
				return EXIT_USAGE;
			}
			bo.lock_threshold_ns = (uint64_t)t;
			bo.lock = true;
			break;
		}
		case 'M':
			bo.lock = true;
			break;
		case 'v':
			bo.verbose = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'S':
			bo.system = true;
			bo.ringbuf_bytes = 64 << 20; /* every process: more in flight */
			break;
		case 'h':
			fputs(attach_usage, stdout);
			return 0;
		default:
			fputs(attach_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if ((pid <= 0) == !bo.system || optind != argc) {
		fputs(attach_usage, stderr);
		return EXIT_USAGE;
	}
	if (!bo.system && kill(pid, 0) && errno == ESRCH)
		diex(EXIT_USAGE, "attach: no process %d", (int)pid);
	if (vmt_bpf_available(err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return EXIT_FAIL;
	}
	if (!out) {
		if (bo.system)
			snprintf(outbuf, sizeof(outbuf), "vmatop-system.vmt");
		else
			snprintf(outbuf, sizeof(outbuf), "vmatop-attach-%d.vmt", (int)pid);
		out = outbuf;
	}
	struct tw_sink ts = {0};
	int rc = tw_open(&ts.w, out, 0, now_ns());
	if (rc < 0)
		diex(EXIT_FAIL, "%s: cannot create trace: %s", out, strerror(-rc));
	struct vmt_bpf *b;
	if (vmt_bpf_open(&b, &bo, NULL, NULL, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		tw_close(&ts.w);
		unlink(out);
		return EXIT_FAIL;
	}
	vmt_bpf_describe(b, desc, sizeof(desc));
	const struct vmt_bpf_info *in = vmt_bpf_info(b);
	char shortd[48];
	snprintf(shortd, sizeof(shortd), "%s%s%s fentry:%s", in->attach,
		 in->mmap_lock ? " mmap_lock" : "", in->contention ? " contention" : "",
		 in->fentry ? "yes" : "no");
	struct bpf_sink sink = {tw_sink_put, tw_sink_stream, &ts};
	struct bpf_conv *conv =
		bpf_conv_new(&sink, VMT_BPFM_ATTACH | VMT_BPFM_AUTHORITY |
					    (bo.system ? VMT_BPFM_SYSTEM : 0) |
					    (in->mmap_lock ? VMT_BPFM_MMAP_LOCK : 0) |
					    (in->contention ? VMT_BPFM_CONTENTION : 0) |
					    (in->fentry ? VMT_BPFM_FENTRY : 0),
			     bo.lock_threshold_ns, shortd);
	bpf_conv_set_collector(conv, b);
	uint64_t stream = ts.next_stream; /* the converter's */
	if (!bo.system) {
		rc = vmt_bpf_follow(b, pid);
		if (rc)
			diex(EXIT_FAIL, "attach: cannot follow %d: %s", (int)pid, strerror(-rc));
	}
	vmt_bpf_drain(b); /* before the seed: in it already */
	vmt_bpf_flush(b);
	vmt_bpf_set_callback(b, bpf_conv_record, conv);
	if (bo.system) {
		/* every process with an address space, but ourselves */
		DIR *d = opendir("/proc");
		struct dirent *de;
		int nseed = 0;
		while (d && (de = readdir(d))) {
			pid_t p = (pid_t)atoi(de->d_name);
			char exe[64], tgt[16];
			snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)p);
			if (p <= 0 || p == getpid() || readlink(exe, tgt, sizeof(tgt)) < 0)
				continue; /* not a pid, us, or a kernel thread */
			if (!seed(&sink, stream, p))
				nseed++;
		}
		if (d)
			closedir(d);
		fprintf(stderr, "vmatop: following every process (%d seeded) with %s; Ctrl-C ends%s\n",
			nseed, desc, dur ? " (or the duration)" : "");
	} else {
		rc = seed(&sink, stream, pid);
		if (rc)
			diex(EXIT_FAIL, "attach: cannot read /proc/%d/maps: %s (need CAP_SYS_PTRACE?)",
			     (int)pid, strerror(-rc));
		fprintf(stderr, "vmatop: attached to %d with %s; Ctrl-C ends%s\n", (int)pid, desc,
			dur ? " (or the duration)" : "");
	}

	struct sigaction sa = {.sa_handler = on_sig};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int pfd = bo.system ? -1 : (int)syscall(SYS_pidfd_open, pid, 0);
	uint64_t end = dur ? now_ns() + (uint64_t)dur : 0;
	while (!stop && (!end || now_ns() < end)) {
		vmt_bpf_poll(b, 50);
		tw_flush(&ts.w);
		if (bo.system) {
			continue;
		} else if (pfd >= 0) {
			struct pollfd p = {.fd = pfd, .events = POLLIN};
			if (poll(&p, 1, 0) > 0)
				break; /* it exited */
		} else if (kill(pid, 0) && errno == ESRCH) {
			break;
		}
	}
	if (pfd >= 0)
		close(pfd);
	vmt_bpf_flush(b);
	bpf_conv_finish(conv);
	vmt_bpf_close(b);
	struct vmt_rec e = {.type = VMT_END, .ts = now_ns()};
	tw_put(&ts.w, &e);
	if (tw_close(&ts.w) < 0)
		warnx_("%s: the trace is incomplete", out);
	fprintf(stderr, "vmatop: trace written to %s\n", out);
	char *rargv[] = {"report", json ? "--json" : (char *)out, json ? (char *)out : NULL, NULL};
	return cmd_report(json ? 3 : 2, rargv);
}
