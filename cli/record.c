/*
 * record.c - `vmatop record`: the collector.
 *
 * Owns the session: a private directory under /dev/shm where every traced
 * process image creates its ring (r-PID-NS), the consumer half of the ring
 * protocol (include/vmatop/records.h), the child reaper (vmatop is a child
 * subreaper, so it follows every descendant) and the trace writer. Records
 * are copied in ring order, each stamped with its stream id (a paired
 * mmap+munmap slot as its two records); a ring is finished when its owner
 * has been reaped (a parked record is then taken as it is, other uncommitted
 * slots left by a killed writer are counted as holes). vmatop flushes after every pass, so
 * a trace is readable up to the last complete record if vmatop dies; the
 * targets never wait for vmatop.
 */
#include "record.h"
#include "bpf_source.h"
#include "source.h"
#include "tickclock.h"
#include "trace.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char record_usage[] =
	"usage: vmatop record [-o FILE] [--stacks[=DEPTH]] [--ring-slots N] -- CMD [ARGS...]\n"
	"  Run CMD with libvmatop.so preloaded, follow its children, write a trace.\n"
	"  -o, --output FILE   trace file (default: vmatop.vmt)\n"
	"  --stacks[=DEPTH]    record call stacks of DEPTH frames (default 16)\n"
	"  --ring-slots N      records per process ring, a power of two (default 32768)\n"
	"  --no-durations      do not time the memory calls (their records carry no duration;\n"
	"                      saves two clock reads per call: the least overhead)\n"
	"  --bpf               require BPF (root, or CAP_BPF + CAP_PERFMON); the default is to\n"
	"                      use it when permitted, and to say which mode vmatop is in\n"
	"  --no-bpf            shim only\n"
	"  --mmap-lock         BPF also measures mmap_lock: waits, holds, contention, long\n"
	"                      waits with stacks, and the fork copy time (costs more per\n"
	"                      call: the lock programs run on every mmap_lock operation)\n"
	"  --lock-threshold T  (implies --mmap-lock) a record with user stack per mmap_lock\n"
	"                      wait >= T (default 100us)\n"
	"  Exits with CMD's exit status (128+N when it was killed by signal N).\n";

struct cring {
	char name[256];
	struct vmt_ring_header *h;
	size_t bytes;
	struct vmt_rec *slots;
	uint64_t nslots, stream, holes;
	uint32_t owner;
	uint32_t clock; /* VMT_RING_CLOCK_*: the unit of its records' times */
	uint64_t created_ns;
	int exec_pending; /* its last exec record: an attempt that did not fail (yet) */
	int dead;
};

struct reaped {
	pid_t pid;
	uint64_t ts;
};

struct rec_session {
	char dir[PATH_MAX];
	struct trace_writer w;
	struct cring *rings;
	size_t nrings, rings_cap;
	uint64_t next_stream;
	struct reaped *reaped;
	size_t nreaped, reaped_cap;
	char **bad;
	size_t nbad, bad_cap;
	struct tickclock *clock; /* rings in TSC ticks: converted to ns as drained */
	uint32_t *spawned;  /* children of posix_spawn or of a vfork that exec'd: each should
			     * open a ring */
	size_t nspawned, spawned_cap;
	unsigned stacks;    /* depth asked for (0: none) */
	int stacks_warned; /* a process could not record stacks: said once */
};

static volatile sig_atomic_t got_signal, signal_count;

static void on_signal(int sig)
{
	got_signal = sig;
	signal_count++;
}

void session_put(struct rec_session *s, const struct vmt_rec *r) { tw_put(&s->w, r); }

uint64_t session_stream_new(struct rec_session *s, uint32_t owner)
{
	struct vmt_rec r = {.type = VMT_RING_OPEN, .ts = now_ns()};
	r.p.ring.stream = ++s->next_stream;
	r.p.ring.owner = owner;
	tw_put(&s->w, &r);
	return r.p.ring.stream;
}

static int find_shim(char *out, size_t len)
{
	const char *env = getenv(VMT_ENV_PRELOAD);
	if (env && *env) {
		if (access(env, R_OK) == 0 && env[0] == '/') {
			snprintf(out, len, "%s", env);
			return 0;
		}
		warnx_("%s=%s: not an absolute path to a readable file", VMT_ENV_PRELOAD, env);
		return -1;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	*slash = 0;
	const char *cands[] = {"%s/libvmatop.so", "%s/../lib/libvmatop.so",
			       "%s/../lib/vmatop/libvmatop.so"};
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		char p[PATH_MAX + 64];
		snprintf(p, sizeof(p), cands[i], exe);
		if (access(p, R_OK) == 0 && realpath(p, out) && strlen(out) < len)
			return 0;
	}
	return -1;
}

static int make_session_dir(char *out, size_t len)
{
	const char *bases[] = {"/dev/shm", getenv("TMPDIR"), "/tmp"};
	for (size_t i = 0; i < 3; i++) {
		if (!bases[i] || access(bases[i], W_OK) != 0)
			continue;
		snprintf(out, len, "%s/vmatop-%d-XXXXXX", bases[i], (int)getpid());
		if (mkdtemp(out))
			return 0;
	}
	return -1;
}

/* ---- rings ---- */

static int reaped_before(struct rec_session *s, uint32_t pid, uint64_t created)
{
	for (size_t i = 0; i < s->nreaped; i++)
		if ((uint32_t)s->reaped[i].pid == pid && s->reaped[i].ts >= created)
			return 1;
	return 0;
}

static int known_name(struct rec_session *s, const char *name)
{
	for (size_t i = 0; i < s->nrings; i++)
		if (!strcmp(s->rings[i].name, name))
			return 1;
	for (size_t i = 0; i < s->nbad; i++)
		if (!strcmp(s->bad[i], name))
			return 1;
	return 0;
}

static void try_open_ring(struct rec_session *s, const char *name)
{
	char path[PATH_MAX + 300];
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(struct vmt_ring_header)) {
		close(fd);
		return;
	}
	size_t bytes = (size_t)st.st_size;
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return;
	struct vmt_ring_header *h = p;
	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != VMT_RING_MAGIC) {
		munmap(p, bytes); /* not ready yet: try again next pass */
		return;
	}
	uint64_t slots = h->slots;
	const char *why = NULL;
	if (h->version != VMT_RING_VERSION || h->rec_size != VMT_REC_SIZE || !slots ||
	    (slots & (slots - 1)) || sizeof(*h) + slots * VMT_REC_SIZE != bytes ||
	    (h->clock != VMT_RING_CLOCK_NS && h->clock != VMT_RING_CLOCK_TSC))
		why = "a bad header";
	else if (h->clock == VMT_RING_CLOCK_TSC && !tickclock_ready(s->clock))
		why = "TSC times this vmatop cannot convert";
	if (why) {
		warnx_("%s: ring with %s (version %u, clock %u, %llu slots); ignored", path, why,
		       h->version, h->clock, (unsigned long long)slots);
		munmap(p, bytes);
		VEC_PUSH(s->bad, s->nbad, s->bad_cap, xstrdup(name));
		return;
	}
	struct cring r = {.h = h, .bytes = bytes, .slots = (struct vmt_rec *)(h + 1),
			  .nslots = slots, .owner = h->owner, .clock = h->clock,
			  .created_ns = h->created_ns};
	snprintf(r.name, sizeof(r.name), "%s", name);
	struct vmt_rec o = {.type = VMT_RING_OPEN, .ts = h->created_ns};
	r.stream = o.p.ring.stream = ++s->next_stream;
	o.p.ring.owner = h->owner;
	o.p.ring.slots = slots;
	tw_put(&s->w, &o);
	VEC_PUSH(s->rings, s->nrings, s->rings_cap, r);
}

static void scan_dir(struct rec_session *s)
{
	DIR *d = opendir(s->dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "r-", 2) || known_name(s, de->d_name))
			continue;
		try_open_ring(s, de->d_name);
	}
	closedir(d);
}

/* A record of a TSC ring in CLOCK_MONOTONIC ns: its time, its duration
 * (saturated stays saturated), a fork child's latency. */
static void ticks_to_ns(const struct tickclock *c, struct vmt_rec *rec)
{
	if (rec->ts)
		rec->ts = tickclock_ns(c, rec->ts);
	if (rec->dur && rec->dur != UINT32_MAX) {
		uint64_t d = tickclock_dur(c, rec->dur);
		rec->dur = d < UINT32_MAX ? (uint32_t)d : UINT32_MAX;
	}
	if (rec->type == VMT_PROC_START)
		rec->p.proc.child_ns = tickclock_dur(c, rec->p.proc.child_ns);
}

/* An mmap slot without what a paired munmap adds to it (records.h "Rings"). */
static void mmap_alone(struct vmt_rec *rec)
{
	rec->flags &= (uint16_t)~VMT_F_RING_PAIRED;
	rec->p.mem.err = 0;
	rec->p.mem.extra = 0;
}

/* A paired slot (an mmap and the munmap of exactly its mapping) as the two
 * records the trace holds: rec becomes the mmap alone. */
static void unpair(struct vmt_rec *rec, struct vmt_rec *unmap)
{
	*unmap = *rec;
	unmap->type = VMT_MUNMAP;
	unmap->flags = rec->flags & (uint16_t)~VMT_F_RING_PAIRED;
	unmap->ts = rec->ts + (uint32_t)rec->p.mem.err;
	unmap->dur = rec->p.mem.extra;
	memset(&unmap->p, 0, sizeof(unmap->p));
	unmap->p.mem.a0 = (uint64_t)rec->p.mem.ret;
	unmap->p.mem.a1 = rec->p.mem.a1;
	mmap_alone(rec);
}

static size_t drain(struct rec_session *s, struct cring *r, int final)
{
	struct vmt_ring_header *h = r->h;
	uint64_t t = __atomic_load_n(&h->tail, __ATOMIC_RELAXED);
	/* A slot's commit word says it is ready; the head is read only at the end
	 * (to count holes): reading it now would take the producers' hottest
	 * cache line away from them on every pass. */
	uint64_t head = final ? __atomic_load_n(&h->head, __ATOMIC_ACQUIRE) : t + r->nslots;
	size_t n = 0;
	while (t < head) {
		struct vmt_rec *slot = &r->slots[t & (r->nslots - 1)];
		uint32_t c = __atomic_load_n(&slot->commit, __ATOMIC_ACQUIRE);
		int parked = c == (uint32_t)~vmt_commit_mark(t);
		if (c != vmt_commit_mark(t) && !(parked && final)) {
			if (!final)
				break;
			r->holes++;
			t++;
			continue;
		}
		struct vmt_rec rec;
		memcpy(&rec, slot, sizeof(rec));
		if (parked && rec.type == VMT_MMAP)
			mmap_alone(&rec); /* its munmap never came (or a producer still
					   * running as recording ends is writing it) */
		if (rec.type == VMT_RING_SKIP) { /* the producers jumped to a later lap */
			uint64_t to = rec.p.skip.to;
			if (to > t && to - t < r->nslots) {
				t = to;
				continue;
			}
			r->holes++; /* not a skip the protocol makes: drop the slot */
			t++;
			continue;
		}
		rec.commit = (uint32_t)r->stream;
		struct vmt_rec unmap;
		int paired = rec.type == VMT_MMAP && (rec.flags & VMT_F_RING_PAIRED);
		if (paired)
			unpair(&rec, &unmap);
		if (r->clock == VMT_RING_CLOCK_TSC) {
			ticks_to_ns(s->clock, &rec);
			if (paired)
				ticks_to_ns(s->clock, &unmap);
		}
		if (rec.type == VMT_PROC_START && s->stacks && !rec.p.proc.stack_depth &&
		    !s->stacks_warned) {
			s->stacks_warned = 1;
			warnx_("pid %u records no stacks: the shim could not load libunwind "
			       "(install libunwind8)",
			       rec.pid);
		}
		if (rec.type == VMT_EXEC || rec.type == VMT_EXEC_FAIL)
			r->exec_pending = rec.type == VMT_EXEC;
		if (rec.type == VMT_SPAWN && rec.p.fork.child > 0 && !rec.p.fork.err &&
		    (rec.p.fork.kind <= VMT_SPAWN_KIND_POSIX_SPAWNP || (rec.flags & VMT_F_EXECD)))
			VEC_PUSH(s->spawned, s->nspawned, s->spawned_cap, (uint32_t)rec.p.fork.child);
		tw_put(&s->w, &rec);
		if (paired)
			tw_put(&s->w, &unmap);
		t++;
		n++;
		if ((n & 1023) == 0)
			__atomic_store_n(&h->tail, t, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&h->tail, t, __ATOMIC_RELEASE);
	return n;
}

static void ring_finish(struct rec_session *s, struct cring *r)
{
	drain(s, r, 1);
	struct vmt_rec c = {.type = VMT_RING_CLOSE, .ts = now_ns()};
	c.p.ring.stream = r->stream;
	c.p.ring.owner = r->owner;
	c.p.ring.lost = __atomic_load_n(&r->h->lost, __ATOMIC_RELAXED);
	c.p.ring.holes = r->holes;
	c.p.ring.slots = r->nslots;
	tw_put(&s->w, &c);
	if (c.p.ring.lost || r->holes)
		warnx_("pid %u: %llu records lost (ring full), %llu unfinished", r->owner,
		       (unsigned long long)c.p.ring.lost, (unsigned long long)r->holes);
	munmap(r->h, r->bytes);
	char path[PATH_MAX + 300];
	snprintf(path, sizeof(path), "%s/%s", s->dir, r->name);
	unlink(path);
	r->h = NULL;
	r->dead = 1;
}

/* A ring of process owner was created after after_ns (0: any; the session's
 * rings stay listed after they are finished). */
static int ring_after(const struct rec_session *s, uint32_t owner, uint64_t after_ns)
{
	for (size_t j = 0; j < s->nrings; j++)
		if (s->rings[j].owner == owner && s->rings[j].created_ns > after_ns)
			return 1;
	return 0;
}

/* A process whose exec succeeded opens a new ring, and so does a child of
 * posix_spawn or a vfork child that exec'd (VMT_F_EXECD); one that did not
 * loaded a program that ignores LD_PRELOAD (static or set-user-ID): say so,
 * since the trace follows it no further. */
static void exec_check(struct rec_session *s)
{
	for (size_t i = 0; i < s->nspawned; i++) {
		if (!ring_after(s, s->spawned[i], 0))
			warnx_("pid %u (from posix_spawn or vfork) never loaded libvmatop.so (a statically "
			       "linked or set-user-ID program ignores LD_PRELOAD): the trace holds "
			       "nothing of it",
			       s->spawned[i]);
	}
	for (size_t i = 0; i < s->nrings; i++) {
		struct cring *r = &s->rings[i];
		if (r->exec_pending && !ring_after(s, r->owner, r->created_ns))
			warnx_("pid %u exec'd a program that never loaded libvmatop.so (a statically "
			       "linked or set-user-ID program ignores LD_PRELOAD): the shim's records "
			       "of it end at the exec",
			       r->owner);
	}
}

static size_t pass(struct rec_session *s)
{
	size_t n = 0;
	tickclock_sample(s->clock);
	uint64_t now = now_ns();
	scan_dir(s);
	for (size_t i = 0; i < s->nrings; i++) {
		struct cring *r = &s->rings[i];
		if (r->dead)
			continue;
		__atomic_store_n(&r->h->heartbeat, now, __ATOMIC_RELAXED);
		n += drain(s, r, 0);
		if (reaped_before(s, r->owner, r->h->created_ns))
			ring_finish(s, r);
	}
	return n;
}

static void cleanup_dir(struct rec_session *s)
{
	DIR *d = opendir(s->dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			char path[PATH_MAX + 300];
			snprintf(path, sizeof(path), "%s/%s", s->dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(s->dir);
}

static void set_env(const char *shim, unsigned stacks, const char *dir)
{
	const char *old = getenv("LD_PRELOAD");
	size_t n = strlen(shim) + (old ? strlen(old) : 0) + 2;
	char *v = xmalloc(n);
	if (old && *old)
		snprintf(v, n, "%s:%s", shim, old);
	else
		snprintf(v, n, "%s", shim);
	setenv("LD_PRELOAD", v, 1);
	free(v);
	setenv(VMT_ENV_DIR, dir, 1);
	setenv(VMT_ENV_PRELOAD, shim, 1);
	char buf[32];
	snprintf(buf, sizeof(buf), "%u", stacks);
	setenv(VMT_ENV_STACKS, buf, 1);
}

int cmd_record(int argc, char **argv)
{
	const char *out = "vmatop.vmt";
	unsigned stacks = 0;
	int no_durations = 0;
	struct bpf_record_cfg bcfg = {.mode = BPF_AUTO};
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'}, {"stacks", optional_argument, NULL, 's'},
		{"ring-slots", required_argument, NULL, 'r'}, {"bpf", no_argument, NULL, 'b'},
		{"no-bpf", no_argument, NULL, 'B'}, {"lock-threshold", required_argument, NULL, 'L'},
		{"mmap-lock", no_argument, NULL, 'M'}, {"no-durations", no_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'}, {0}};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 's': {
			if (!optarg) {
				stacks = 16;
				break;
			}
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v < 1 || v > 128) {
				fprintf(stderr, "vmatop: --stacks=%s: depth must be 1..128\n%s",
					optarg, record_usage);
				return EXIT_USAGE;
			}
			stacks = (unsigned)v;
			break;
		}
		case 'r': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v < 1024 || v > (1ul << 24) || (v & (v - 1))) {
				fprintf(stderr,
					"vmatop: --ring-slots=%s: need a power of two in 1024..16777216\n%s",
					optarg, record_usage);
				return EXIT_USAGE;
			}
			setenv(VMT_ENV_SLOTS, optarg, 1);
			break;
		}
		case 'b':
			bcfg.mode = BPF_REQUIRE;
			break;
		case 'B':
			bcfg.mode = BPF_OFF;
			break;
		case 'L': {
			int64_t t = parse_duration(optarg);
			if (t < 0) {
				fprintf(stderr, "vmatop: --lock-threshold=%s: not a duration (100us, 1ms)\n%s",
					optarg, record_usage);
				return EXIT_USAGE;
			}
			bcfg.lock_threshold_ns = (uint64_t)t;
			bcfg.lock = true;
			break;
		}
		case 'M':
			bcfg.lock = true;
			break;
		case 'D':
			no_durations = 1;
			break;
		case 'h':
			fputs(record_usage, stdout);
			return 0;
		default:
			fputs(record_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "vmatop record: no command given\n%s", record_usage);
		return EXIT_USAGE;
	}
	bpf_source_config(&bcfg);
	const struct rec_source *bpf = bpf_source_for_record(); /* says the mode; --bpf: or exit */
	char shim[PATH_MAX];
	if (find_shim(shim, sizeof(shim)) < 0)
		diex(EXIT_FAIL, "cannot find libvmatop.so next to vmatop or in ../lib "
				"(set %s to its absolute path)",
		     VMT_ENV_PRELOAD);

	struct rec_session s = {.stacks = stacks, .clock = xmalloc(sizeof(struct tickclock))};
	/* two anchors 1.5 ms apart: the tick rate is known before any ring */
	tickclock_init(s.clock, 1000000);
	tickclock_sample(s.clock);
	nanosleep(&(struct timespec){.tv_nsec = 1500000}, NULL);
	tickclock_sample(s.clock);
	if (make_session_dir(s.dir, sizeof(s.dir)) < 0)
		diex(EXIT_FAIL, "cannot create a session directory in /dev/shm or /tmp: %s",
		     strerror(errno));
	uint64_t t_start = now_ns();
	int rc = tw_open(&s.w, out, stacks, t_start);
	if (rc < 0) {
		rmdir(s.dir);
		diex(EXIT_FAIL, "%s: cannot create trace: %s", out, strerror(-rc));
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	int sync[2];
	if (pipe2(sync, O_CLOEXEC) < 0)
		diex(EXIT_FAIL, "pipe: %s", strerror(errno));
	pid_t child = fork();
	if (child < 0)
		diex(EXIT_FAIL, "fork: %s", strerror(errno));
	if (child == 0) {
		close(sync[1]);
		char b;
		while (read(sync[0], &b, 1) < 0 && errno == EINTR)
			;
		close(sync[0]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		set_env(shim, stacks, s.dir);
		if (no_durations)
			setenv(VMT_ENV_DURATIONS, "0", 1);
		execvp(argv[optind], &argv[optind]);
		fprintf(stderr, "vmatop: %s: cannot run: %s\n", argv[optind], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(sync[0]);
	if (bpf && bpf->start && (rc = bpf->start(&s, child)) < 0) {
		if (bcfg.mode == BPF_REQUIRE) {
			kill(child, SIGKILL);
			diex(EXIT_FAIL, "--bpf: the BPF source did not start (%s)", strerror(-rc));
		}
		warnx_("bpf source: %s; recording with the shim only", strerror(-rc));
		bpf = NULL;
	}
	if (write(sync[1], "g", 1) < 0)
		warnx_("cannot start %s: %s", argv[optind], strerror(errno));
	close(sync[1]);

	int status = 0, have_status = 0, forwarded = 0;
	for (;;) {
		size_t n = pass(&s);
		if (bpf && bpf->poll)
			n += (size_t)bpf->poll(&s);
		int st;
		pid_t p;
		int gone = 0;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			struct vmt_rec e = {.type = VMT_EXIT, .pid = (uint32_t)p, .ts = now_ns()};
			e.p.exit.status = st;
			e.p.exit.how = 3;
			tw_put(&s.w, &e);
			VEC_PUSH(s.reaped, s.nreaped, s.reaped_cap, ((struct reaped){p, e.ts}));
			if (p == child) {
				status = st;
				have_status = 1;
			}
		}
		if (p < 0 && errno == ECHILD)
			gone = 1;
		tw_flush(&s.w);
		if (gone)
			break;
		if (got_signal && !forwarded) {
			forwarded = 1;
			if (!have_status)
				kill(child, got_signal);
		}
		if (signal_count > 1)
			break;
		if (n < 4096) {
			/* Little to do: sleep rather than spin beside the targets (a ring
			 * holds 32768+ records; a target fills one in far more than this). */
			struct timespec d = {0, n ? 1000000 : 2000000};
			nanosleep(&d, NULL);
		}
	}
	/* last pass: everything left belongs to dead processes */
	pass(&s);
	if (bpf && bpf->poll)
		bpf->poll(&s);
	if (bpf && bpf->stop)
		bpf->stop(&s);
	for (size_t i = 0; i < s.nrings; i++)
		if (!s.rings[i].dead)
			ring_finish(&s, &s.rings[i]);
	exec_check(&s);
	if (!ring_after(&s, (uint32_t)child, 0) && !s.nbad && have_status)
		warnx_("%s (pid %d) never loaded libvmatop.so: a statically linked or set-user-ID "
		       "program ignores LD_PRELOAD, so %s",
		       argv[optind], (int)child,
		       bpf ? "only the BPF source followed it"
			   : "the trace holds nothing of it (as root, vmatop record follows any "
			     "program with BPF)");
	struct vmt_rec ce = {.type = VMT_CMD_EXIT, .pid = (uint32_t)child, .ts = now_ns()};
	ce.p.exit.status = status;
	tw_put(&s.w, &ce);
	struct vmt_rec end = {.type = VMT_END, .ts = now_ns()};
	tw_put(&s.w, &end);
	if (tw_close(&s.w) < 0)
		warnx_("%s: the trace is incomplete", out);
	cleanup_dir(&s);
	for (size_t i = 0; i < s.nbad; i++)
		free(s.bad[i]);
	free(s.bad);
	free(s.rings);
	free(s.spawned);
	free(s.reaped);
	free(s.clock);
	if (!have_status)
		return 130;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_FAIL;
}
