/*
 * bpf_collector.c - vmatop's BPF source (see bpf_collector.h): loading with
 * feature probing and fallback, the follow set, the ring buffer consumer,
 * statistics and stacks, and record formatting.
 *
 * Feature probe, in order:
 *   1. permissions (CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN) and kernel BTF;
 *   2. which tracepoints exist: the kernel's BTF has a "btf_trace_<name>"
 *      typedef for each; the programs of missing optional ones (mmap_lock,
 *      lock contention) are not loaded and the info says so;
 *   3. load the tp_btf programs; if that fails, reopen and load the raw_tp
 *      twins (same code, raw tracepoint attachment);
 *   4. optionally load bpf/vmatop_fentry.bpf.c (fentry/fexit dup_mmap),
 *      sharing the task storage map; its failure (EPERM on kernels without
 *      fentry) only clears info.fentry.
 * Nothing needs tracefs.
 */
#include "bpf_collector.h"
#include "bpf_order.h"

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef VMATOP_NO_BPF
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "vmatop.skel.h"
#include "vmatop_fentry.skel.h"
#endif

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static int errf(char *buf, size_t len, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int errf(char *buf, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;
	if (buf && len) {
		va_start(ap, fmt);
		vsnprintf(buf, len, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* Effective capability bits 0..63, or 0 on failure. */
static __attribute__((unused)) uint64_t effective_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return 0;
	return (uint64_t)data[0].effective | ((uint64_t)data[1].effective << 32);
}

int vmt_bpf_available(char *why, size_t len)
{
#ifdef VMATOP_NO_BPF
	return errf(why, len, -ENOTSUP,
		    "vmatop: built without BPF support (clang, bpftool or libbpf-dev were missing "
		    "at build time): rebuild, or use --no-bpf");
#else
	uint64_t caps = effective_caps();
	bool admin = caps & (1ull << CAP_SYS_ADMIN);
	bool bpf = caps & (1ull << CAP_BPF), perfmon = caps & (1ull << CAP_PERFMON);

	if (!admin && !(bpf && perfmon))
		return errf(why, len, -EPERM,
			    "vmatop: BPF needs CAP_BPF and CAP_PERFMON (or root)%s%s%s: "
			    "run as root or use --no-bpf",
			    bpf ? "" : "; missing CAP_BPF", perfmon ? "" : "; missing CAP_PERFMON",
			    "");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return errf(why, len, -ENOTSUP,
			    "vmatop: BPF needs kernel BTF, and /sys/kernel/btf/vmlinux is missing "
			    "(kernel built without CONFIG_DEBUG_INFO_BTF): use --no-bpf");
	return 0;
#endif
}

#ifdef VMATOP_NO_BPF

int vmt_bpf_open(struct vmt_bpf **out, const struct vmt_bpf_opts *opts, vmt_bpf_record_fn fn,
		 void *ctx, char *err, size_t errlen)
{
	(void)opts, (void)fn, (void)ctx;
	*out = NULL;
	return vmt_bpf_available(err, errlen);
}
void vmt_bpf_close(struct vmt_bpf *b) { (void)b; }
void vmt_bpf_set_callback(struct vmt_bpf *b, vmt_bpf_record_fn fn, void *ctx)
{
	(void)b, (void)fn, (void)ctx;
}
const struct vmt_bpf_info *vmt_bpf_info(const struct vmt_bpf *b) { (void)b; return NULL; }
void vmt_bpf_describe(const struct vmt_bpf *b, char *buf, size_t len)
{
	(void)b;
	snprintf(buf, len, "BPF: not built");
}
int vmt_bpf_follow(struct vmt_bpf *b, pid_t tgid) { (void)b, (void)tgid; return -ENOTSUP; }
int vmt_bpf_follow_new(struct vmt_bpf *b, pid_t tgid) { (void)b, (void)tgid; return -ENOTSUP; }
int vmt_bpf_unfollow(struct vmt_bpf *b, pid_t tgid) { (void)b, (void)tgid; return -ENOTSUP; }
bool vmt_bpf_following(struct vmt_bpf *b, pid_t tgid) { (void)b, (void)tgid; return false; }
int vmt_bpf_poll(struct vmt_bpf *b, int t) { (void)b, (void)t; return -ENOTSUP; }
int vmt_bpf_drain(struct vmt_bpf *b) { (void)b; return -ENOTSUP; }
int vmt_bpf_flush(struct vmt_bpf *b) { (void)b; return -ENOTSUP; }
size_t vmt_bpf_held(const struct vmt_bpf *b) { (void)b; return 0; }
void vmt_bpf_order_stats(const struct vmt_bpf *b, struct vmt_border_stats *s)
{
	(void)b;
	memset(s, 0, sizeof(*s));
}
int vmt_bpf_fd(const struct vmt_bpf *b) { (void)b; return -1; }
int vmt_bpf_lock_stats(struct vmt_bpf *b, pid_t tgid, struct vmt_bpf_lockstat **out, size_t *n)
{
	(void)b, (void)tgid;
	*out = NULL;
	*n = 0;
	return -ENOTSUP;
}
int vmt_bpf_lock_stats_clear(struct vmt_bpf *b, pid_t tgid) { (void)b, (void)tgid; return -ENOTSUP; }
int vmt_bpf_counters(struct vmt_bpf *b, uint64_t out[VMT_BPF_C_NR])
{
	(void)b;
	memset(out, 0, sizeof(uint64_t) * VMT_BPF_C_NR);
	return -ENOTSUP;
}

#else /* BPF */

struct vmt_bpf {
	struct vmatop *skel;
	uint64_t *follow_bits;	  /* the "follow_bits" map, mmap'ed */
	uint32_t follow_words;
	size_t follow_len;
	struct vmatop_fentry *fskel;
	struct ring_buffer *rb;
	vmt_bpf_record_fn fn;
	void *ctx;
	struct vmt_bpf_info info;
	struct vmt_border *order; /* records in an order to apply them in */
	uint64_t now;		  /* CLOCK_MONOTONIC at the start of this poll/drain
				   * (one clock read per batch, not per record) */
	uint64_t malformed;	  /* records shorter than their header says */
	/* raw sys_enter and the clone family's entry programs (enter_policy) */
	struct bpf_link *enter_link;
	struct bpf_link *fork_links[4];
	bool fork_tp;		  /* the fork entry programs are attached */
	bool detached;		  /* vmt_bpf_detach: nothing attached */
	bool lock, system;
	int enter_forced;	  /* VMATOP_BPF_ENTER: 1 always, -1 never, 0 as needed */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

#define ORDER_EXPIRE_NS 1000000000ull /* a part or a FORK lost after 1 s */

/* libbpf's messages: kept quiet unless verbose (the verifier log of a
 * failed tp_btf load is expected on kernels that need raw_tp). */
static int libbpf_verbose;
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!libbpf_verbose || (level == LIBBPF_DEBUG && libbpf_verbose < 2))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static bool tp_exists(const struct btf *vmlinux, const char *tp)
{
	char name[128];
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	return btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) > 0;
}

enum tp_group { G_SYSCALLS, G_SCHED, G_MMAP_LOCK, G_CONTENTION };

static int tp_group(const char *tp)
{
	if (!strncmp(tp, "sys_", 4))
		return G_SYSCALLS;
	if (!strncmp(tp, "sched_", 6))
		return G_SCHED;
	if (!strncmp(tp, "mmap_lock_", 10))
		return G_MMAP_LOCK;
	return G_CONTENTION;
}

/* Words of the follow bitmap: one bit per possible tgid (pid_max), at least
 * 32768 bits; tgids past it use the "follow" hash map. */
static uint32_t follow_words(void)
{
	long pid_max = 32768;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
	if (f) {
		if (fscanf(f, "%ld", &pid_max) != 1)
			pid_max = 32768;
		fclose(f);
	}
	if (pid_max < 32768)
		pid_max = 32768;
	if (pid_max > (1L << 22))
		pid_max = 1L << 22; /* PID_MAX_LIMIT */
	return (uint32_t)((pid_max + 63) / 64);
}

/* Open the skeleton, configure it and choose which programs load. */
static struct vmatop *skel_open(const struct vmt_bpf_opts *o, const bool have[4], bool raw,
				uint32_t words)
{
	struct vmatop *skel = vmatop__open();
	struct bpf_program *p;

	if (!skel)
		return NULL;
	skel->rodata->cfg_system = o->system;
	skel->rodata->cfg_self_tgid = getpid();
	skel->rodata->cfg_lock_threshold_ns = o->lock_threshold_ns;
	skel->rodata->cfg_vma = !o->no_vma;
	skel->rodata->cfg_lock = o->lock && have[G_MMAP_LOCK];
	skel->rodata->cfg_follow_words = words;
	bpf_map__set_max_entries(skel->maps.follow_bits, words);
	if (o->ringbuf_bytes)
		bpf_map__set_max_entries(skel->maps.events, o->ringbuf_bytes);
	skel->rodata->cfg_wakeup_bytes = bpf_map__max_entries(skel->maps.events) / 4;
	bpf_object__for_each_program(p, skel->obj)
	{
		const char *sec = bpf_program__section_name(p);
		const char *slash = strchr(sec, '/');
		bool is_raw = !strncmp(sec, "raw_tp/", 7);
		if (!strncmp(sec, "tp/syscalls/", 12)) {
			/* the clone family's entries (attached by enter_policy) */
			bpf_program__set_autoload(p, !o->lock && !o->system);
			bpf_program__set_autoattach(p, false);
			continue;
		}
		int g = slash ? tp_group(slash + 1) : -1;
		bool load = slash && is_raw == raw && have[g];
		/* raw sys_enter: attached by enter_policy, when needed */
		if (slash && !strcmp(slash + 1, "sys_enter"))
			bpf_program__set_autoattach(p, false);
		/* the lock programs (and contention, which needs their
		 * state) only for lock statistics */
		if (slash && !o->lock && (g == G_MMAP_LOCK || g == G_CONTENTION))
			load = false;
		if (slash && g == G_CONTENTION && !have[G_MMAP_LOCK])
			load = false;
		bpf_program__set_autoload(p, load);
	}
	return skel;
}

static void fentry_try(struct vmt_bpf *b)
{
	struct vmatop_fentry *f = vmatop_fentry__open();
	int err;

	if (!f) {
		snprintf(b->info.fentry_why, sizeof(b->info.fentry_why), "open: %s", strerror(errno));
		return;
	}
	err = bpf_map__reuse_fd(f->maps.tstate, bpf_map__fd(b->skel->maps.tstate));
	if (!err)
		err = vmatop_fentry__load(f);
	if (!err)
		err = vmatop_fentry__attach(f);
	if (err) {
		snprintf(b->info.fentry_why, sizeof(b->info.fentry_why), "%s",
			 err == -EPERM ? "EPERM: the kernel refuses fentry" : strerror(-err));
		vmatop_fentry__destroy(f);
		return;
	}
	b->fskel = f;
	b->info.fentry = true;
}

static int on_ring(void *ctx, void *data, size_t size)
{
	struct vmt_bpf *b = ctx;
	const struct vmt_krec_hdr *h = data;

	if (size < sizeof(*h) || h->size < sizeof(*h) || h->size > size) {
		b->malformed++;
		return 0;
	}
	return vmt_border_push(b->order, h, h->size, b->now);
}

/* ---- which entry programs are attached ------------------------------------
 *
 * sys_exit rebuilds a missing entry from what the thread saw at its last
 * exit (bpf/vmatop.bpf.c, exit_without_entry), which is exact for a
 * single-threaded process. So raw sys_enter - a program run on every syscall
 * of every process (~55 ns each in a VM) - is attached only while it is
 * needed: lock statistics, --system, a followed process with several
 * threads (their in-flight count), or when the clone family's own entry
 * programs (per-syscall tracepoints, for the fork latency's entry time)
 * cannot be attached. VMATOP_BPF_ENTER=always|never overrides (tests).
 */

/* tracefs (the per-syscall tracepoints live there): mount it if missing. */
static bool tracefs_ready(void)
{
	if (access("/sys/kernel/tracing/events/syscalls", F_OK) == 0 ||
	    access("/sys/kernel/debug/tracing/events/syscalls", F_OK) == 0)
		return true;
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) < 0)
		return false;
	return access("/sys/kernel/tracing/events/syscalls", F_OK) == 0;
}

static void fork_tp_detach(struct vmt_bpf *b)
{
	for (int i = 0; i < 4; i++) {
		bpf_link__destroy(b->fork_links[i]);
		b->fork_links[i] = NULL;
	}
	b->fork_tp = false;
	b->skel->bss->fork_tp_on = 0;
}

static void fork_tp_attach(struct vmt_bpf *b)
{
	struct bpf_program *p[4] = {b->skel->progs.fork_enter_clone, b->skel->progs.fork_enter_clone3,
				    b->skel->progs.fork_enter_fork, b->skel->progs.fork_enter_vfork};
	if (b->lock || b->system || b->fork_tp || bpf_program__fd(p[0]) < 0 || !tracefs_ready())
		return;
	for (int i = 0; i < 4; i++) {
		b->fork_links[i] = bpf_program__attach(p[i]);
		if (!b->fork_links[i]) {
			fork_tp_detach(b);
			return;
		}
	}
	b->fork_tp = true;
	b->skel->bss->fork_tp_on = 1;
}

static bool enter_needed(struct vmt_bpf *b)
{
	if (b->enter_forced)
		return b->enter_forced > 0;
	return b->lock || b->system || !b->fork_tp ||
	       __atomic_load_n(&b->skel->bss->mt_followed, __ATOMIC_RELAXED) > 0;
}

/* Attach or detach raw sys_enter as enter_needed() says. */
static int enter_policy(struct vmt_bpf *b)
{
	if (b->detached)
		return 0;
	bool need = enter_needed(b);
	if (need && !b->enter_link) {
		struct bpf_program *p = b->skel->progs.sys_enter_btf;
		if (bpf_program__fd(p) < 0)
			p = b->skel->progs.sys_enter_raw;
		b->enter_link = bpf_program__attach(p);
		if (!b->enter_link)
			return -errno;
		b->skel->bss->enter_attach_ns = mono_ns();
	} else if (!need && b->enter_link) {
		bpf_link__destroy(b->enter_link);
		b->enter_link = NULL;
	}
	b->info.enter_on_demand = !b->lock && !b->system && b->fork_tp;
	return 0;
}

/* A followed process that already has several threads (attach). */
static void mt_note(struct vmt_bpf *b, pid_t tgid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)tgid);
	DIR *d = opendir(path);
	if (!d)
		return;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < 2)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	uint32_t k = (uint32_t)tgid;
	uint8_t one = 1;
	if (n > 1 && !bpf_map_update_elem(bpf_map__fd(b->skel->maps.mt_tgids), &k, &one, BPF_NOEXIST))
		__atomic_fetch_add(&b->skel->bss->mt_followed, 1, __ATOMIC_RELAXED);
}

int vmt_bpf_open(struct vmt_bpf **out, const struct vmt_bpf_opts *opts, vmt_bpf_record_fn fn,
		 void *ctx, char *err, size_t errlen)
{
	struct vmt_bpf_opts o = VMT_BPF_OPTS_DEFAULT;
	struct vmt_bpf *b;
	struct btf *vmlinux;
	bool have[4];
	int ret;

	*out = NULL;
	if (opts)
		o = *opts;
	ret = vmt_bpf_available(err, errlen);
	if (ret)
		return ret;
	libbpf_verbose = o.verbose;
	libbpf_set_print(libbpf_print);

	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return errf(err, errlen, -ENOTSUP, "vmatop: cannot read the kernel BTF (%s): use --no-bpf",
			    strerror(errno));
	have[G_SYSCALLS] = tp_exists(vmlinux, "sys_enter") && tp_exists(vmlinux, "sys_exit");
	have[G_SCHED] = tp_exists(vmlinux, "sched_process_fork") && tp_exists(vmlinux, "sched_switch") &&
			tp_exists(vmlinux, "sched_process_exec") &&
			tp_exists(vmlinux, "sched_process_exit");
	have[G_MMAP_LOCK] = tp_exists(vmlinux, "mmap_lock_start_locking") &&
			    tp_exists(vmlinux, "mmap_lock_acquire_returned") &&
			    tp_exists(vmlinux, "mmap_lock_released");
	have[G_CONTENTION] = tp_exists(vmlinux, "contention_begin") &&
			     tp_exists(vmlinux, "contention_end");
	btf__free(vmlinux);
	if (!have[G_SYSCALLS] || !have[G_SCHED])
		return errf(err, errlen, -ENOTSUP,
			    "vmatop: this kernel lacks the raw_syscalls or sched tracepoints BPF mode "
			    "needs: use --no-bpf");

	b = calloc(1, sizeof(*b));
	if (!b)
		return errf(err, errlen, -ENOMEM, "vmatop: out of memory");
	b->fn = fn;
	b->ctx = ctx;
	b->order = vmt_border_new(fn, ctx);
	if (!b->order) {
		free(b);
		return errf(err, errlen, -ENOMEM, "vmatop: out of memory");
	}
	b->info.syscalls = true;
	b->info.sched = true;
	b->info.mmap_lock_tp = have[G_MMAP_LOCK];
	b->info.mmap_lock = have[G_MMAP_LOCK] && o.lock;
	b->info.contention = have[G_CONTENTION] && have[G_MMAP_LOCK] && o.lock;
	b->follow_words = follow_words();

	/* VMATOP_BPF_RAW_TP=1: use the raw_tp twins (tests the fallback) */
	for (int raw = getenv("VMATOP_BPF_RAW_TP") ? 1 : 0; raw < 2; raw++) {
		b->skel = skel_open(&o, have, raw, b->follow_words);
		if (!b->skel) {
			ret = -errno;
			break;
		}
		ret = vmatop__load(b->skel);
		if (!ret) {
			b->info.attach = raw ? "raw_tp" : "tp_btf";
			break;
		}
		vmatop__destroy(b->skel);
		b->skel = NULL;
	}
	if (!b->skel) {
		vmt_border_free(b->order);
		free(b);
		if (ret == -EPERM)
			return errf(err, errlen, ret,
				    "vmatop: the kernel refused to load the BPF programs (EPERM; "
				    "lockdown or a seccomp/LSM policy?): use --no-bpf");
		return errf(err, errlen, ret,
			    "vmatop: the BPF programs do not load on this kernel (%s); run with -v "
			    "for the verifier log, or use --no-bpf",
			    strerror(-ret));
	}
	b->follow_len = ((size_t)b->follow_words * 8 + 4095) & ~(size_t)4095;
	b->follow_bits = mmap(NULL, b->follow_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			      bpf_map__fd(b->skel->maps.follow_bits), 0);
	if (b->follow_bits == MAP_FAILED) {
		ret = -errno;
		b->follow_bits = NULL;
		vmatop__destroy(b->skel);
		vmt_border_free(b->order);
		free(b);
		return errf(err, errlen, ret, "vmatop: cannot map the BPF follow set (%s)",
			    strerror(-ret));
	}
	b->lock = o.lock;
	b->system = o.system;
	const char *force = getenv("VMATOP_BPF_ENTER");
	b->enter_forced = !force ? 0 : !strcmp(force, "always") ? 1 : !strcmp(force, "never") ? -1 : 0;
	ret = vmatop__attach(b->skel);
	if (!ret) {
		fork_tp_attach(b);
		ret = enter_policy(b);
	}
	if (ret) {
		fork_tp_detach(b);
		munmap(b->follow_bits, b->follow_len);
		vmatop__destroy(b->skel);
		vmt_border_free(b->order);
		free(b);
		return errf(err, errlen, ret, "vmatop: cannot attach the BPF programs (%s): use --no-bpf",
			    strerror(-ret));
	}
	if (!o.no_fentry)
		fentry_try(b);
	else
		snprintf(b->info.fentry_why, sizeof(b->info.fentry_why), "not tried");
	b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.events), on_ring, b, NULL);
	if (!b->rb) {
		ret = -errno;
		vmt_bpf_close(b);
		return errf(err, errlen, ret, "vmatop: cannot open the BPF ring buffer (%s)",
			    strerror(-ret));
	}
	*out = b;
	return 0;
}

int vmt_bpf_detach(struct vmt_bpf *b)
{
	bpf_link__destroy(b->enter_link);
	b->enter_link = NULL;
	fork_tp_detach(b);
	vmatop__detach(b->skel);
	b->detached = true;
	return 0;
}

int vmt_bpf_reattach(struct vmt_bpf *b)
{
	int r = vmatop__attach(b->skel);
	if (r)
		return r;
	b->detached = false;
	fork_tp_attach(b);
	return enter_policy(b);
}

void vmt_bpf_close(struct vmt_bpf *b)
{
	if (!b)
		return;
	ring_buffer__free(b->rb);
	if (b->follow_bits)
		munmap(b->follow_bits, b->follow_len);
	if (b->fskel)
		vmatop_fentry__destroy(b->fskel);
	bpf_link__destroy(b->enter_link);
	fork_tp_detach(b);
	vmatop__destroy(b->skel);
	vmt_border_free(b->order);
	free(b);
}

const struct vmt_bpf_info *vmt_bpf_info(const struct vmt_bpf *b)
{
	return b ? &b->info : NULL;
}

void vmt_bpf_set_callback(struct vmt_bpf *b, vmt_bpf_record_fn fn, void *ctx)
{
	b->fn = fn;
	b->ctx = ctx;
	vmt_border_set_fn(b->order, fn, ctx);
}

void vmt_bpf_describe(const struct vmt_bpf *b, char *buf, size_t len)
{
	const struct vmt_bpf_info *i = &b->info;
	if (!i->mmap_lock) {
		snprintf(buf, len, "BPF: %s, syscalls%s sched (no mmap_lock statistics%s)", i->attach,
			 i->enter_on_demand ? " (entries on demand)" : "",
			 i->mmap_lock_tp ? ": --mmap-lock" : ": no mmap_lock tracepoints");
		return;
	}
	snprintf(buf, len, "BPF: %s, syscalls sched mmap_lock%s, fentry: %s%s%s", i->attach,
		 i->contention ? " contention" : " (no lock contention)", i->fentry ? "yes" : "no",
		 i->fentry ? "" : " - ", i->fentry ? "" : i->fentry_why);
}

/* The follow set: a bit per tgid in the mapped bitmap (the programs set
 * and clear bits too: atomic operations on both sides), the hash map past
 * it. */
int vmt_bpf_follow(struct vmt_bpf *b, pid_t tgid)
{
	uint32_t k = tgid, one = 1;
	if (tgid <= 0)
		return -EINVAL;
	mt_note(b, tgid); /* before: its threads' syscalls find sys_enter there */
	enter_policy(b);
	if (k / 64 < b->follow_words) {
		__atomic_fetch_or(&b->follow_bits[k / 64], 1ull << (k % 64), __ATOMIC_SEQ_CST);
		return 0;
	}
	if (bpf_map__update_elem(b->skel->maps.follow, &k, sizeof(k), &one, sizeof(one), BPF_ANY))
		return -errno;
	return 0;
}

int vmt_bpf_follow_new(struct vmt_bpf *b, pid_t tgid)
{
	uint32_t k = tgid, one = 1;
	if (tgid <= 0)
		return -EINVAL;
	if (bpf_map__update_elem(b->skel->maps.fresh, &k, sizeof(k), &one, sizeof(one), BPF_ANY))
		return -errno;
	return vmt_bpf_follow(b, tgid);
}

int vmt_bpf_unfollow(struct vmt_bpf *b, pid_t tgid)
{
	uint32_t k = tgid;
	if (tgid <= 0)
		return -EINVAL;
	if (!bpf_map_delete_elem(bpf_map__fd(b->skel->maps.mt_tgids), &k))
		__atomic_fetch_sub(&b->skel->bss->mt_followed, 1, __ATOMIC_RELAXED);
	if (k / 64 < b->follow_words) {
		__atomic_fetch_and(&b->follow_bits[k / 64], ~(1ull << (k % 64)), __ATOMIC_SEQ_CST);
		return 0;
	}
	if (bpf_map__delete_elem(b->skel->maps.follow, &k, sizeof(k), 0) && errno != ENOENT)
		return -errno;
	return 0;
}

bool vmt_bpf_following(struct vmt_bpf *b, pid_t tgid)
{
	uint32_t k = tgid, v;
	if (tgid <= 0)
		return false;
	if (k / 64 < b->follow_words)
		return (__atomic_load_n(&b->follow_bits[k / 64], __ATOMIC_SEQ_CST) >> (k % 64)) & 1;
	return !bpf_map__lookup_elem(b->skel->maps.follow, &k, sizeof(k), &v, sizeof(v), 0);
}

int vmt_bpf_poll(struct vmt_bpf *b, int timeout_ms)
{
	int n, e;
	enter_policy(b);
	b->now = mono_ns();
	n = ring_buffer__poll(b->rb, timeout_ms);
	if (n == -EINTR)
		n = 0;
	b->now = mono_ns();
	e = vmt_border_expire(b->order, b->now, ORDER_EXPIRE_NS);
	return e < 0 ? e : n;
}

int vmt_bpf_flush(struct vmt_bpf *b)
{
	int n = vmt_bpf_drain(b);
	int e = vmt_border_flush(b->order);
	return e < 0 ? e : n;
}

size_t vmt_bpf_held(const struct vmt_bpf *b)
{
	return vmt_border_pending(b->order);
}

void vmt_bpf_order_stats(const struct vmt_bpf *b, struct vmt_border_stats *s)
{
	vmt_border_get_stats(b->order, s);
}

int vmt_bpf_drain(struct vmt_bpf *b)
{
	int total = 0, n;
	enter_policy(b);
	b->now = mono_ns();
	/* consume until empty: records may keep coming while we do */
	while ((n = ring_buffer__consume(b->rb)) > 0)
		total += n;
	return n < 0 && n != -EINTR ? n : total;
}

int vmt_bpf_fd(const struct vmt_bpf *b)
{
	return ring_buffer__epoll_fd(b->rb);
}

int vmt_bpf_lock_stats(struct vmt_bpf *b, pid_t tgid, struct vmt_bpf_lockstat **out, size_t *n)
{
	int fd = bpf_map__fd(b->skel->maps.lock_stats);
	uint32_t used = __atomic_load_n(&b->skel->bss->lock_slots_used, __ATOMIC_ACQUIRE);
	uint32_t max = bpf_map__max_entries(b->skel->maps.lock_stats);
	size_t cnt = 0;
	struct vmt_bpf_lockstat *v;

	*out = NULL;
	*n = 0;
	if (used > max)
		used = max;
	v = malloc((used ? used : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < used; i++) {
		if (bpf_map_lookup_elem(fd, &i, &v[cnt]))
			continue;
		if (!v[cnt].tid || (tgid && v[cnt].tgid != (uint32_t)tgid))
			continue; /* cleared, or another process */
		cnt++;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int vmt_bpf_lock_stats_clear(struct vmt_bpf *b, pid_t tgid)
{
	int fd = bpf_map__fd(b->skel->maps.lock_stats);
	uint32_t used = __atomic_load_n(&b->skel->bss->lock_slots_used, __ATOMIC_ACQUIRE);
	uint32_t max = bpf_map__max_entries(b->skel->maps.lock_stats);
	struct vmt_bpf_lockstat v, zero;

	memset(&zero, 0, sizeof(zero));
	if (used > max)
		used = max;
	for (uint32_t i = 0; i < used; i++) {
		if (bpf_map_lookup_elem(fd, &i, &v) || !v.tid)
			continue;
		if (!tgid || v.tgid == (uint32_t)tgid)
			bpf_map_update_elem(fd, &i, &zero, BPF_ANY); /* slots are never reused */
	}
	return 0;
}


int vmt_bpf_counters(struct vmt_bpf *b, uint64_t out[VMT_BPF_C_NR])
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(b->skel->maps.counters);
	uint64_t *vals;

	memset(out, 0, sizeof(uint64_t) * VMT_BPF_C_NR);
	if (ncpu <= 0)
		return -EINVAL;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t k = 0; k < VMT_BPF_C_NR; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
	return 0;
}

#endif /* BPF */

/* ---- helpers ---------------------------------------------------------------- */

void vmt_bpf_lockstat_add(struct vmt_bpf_lockstat *a, const struct vmt_bpf_lockstat *s)
{
	for (int w = 0; w < 2; w++) {
		a->acquisitions[w] += s->acquisitions[w];
		a->failed[w] += s->failed[w];
		a->contended[w] += s->contended[w];
		a->contended_ns[w] += s->contended_ns[w];
		a->contended_other[w] += s->contended_other[w];
		a->wait_total[w] += s->wait_total[w];
		a->hold_total[w] += s->hold_total[w];
		if (s->wait_max[w] > a->wait_max[w])
			a->wait_max[w] = s->wait_max[w];
		if (s->hold_max[w] > a->hold_max[w])
			a->hold_max[w] = s->hold_max[w];
		for (int i = 0; i < VMT_BPF_HIST; i++) {
			a->wait_hist[w][i] += s->wait_hist[w][i];
			a->hold_hist[w][i] += s->hold_hist[w][i];
		}
	}
}

uint64_t vmt_bpf_hist_quantile(const uint32_t *hist, int nb, double q)
{
	uint64_t total = 0, acc = 0, want;

	for (int i = 0; i < nb; i++)
		total += hist[i];
	if (!total)
		return 0;
	want = (uint64_t)(q * total + 0.5);
	if (want < 1)
		want = 1;
	for (int i = 0; i < nb; i++) {
		acc += hist[i];
		if (acc >= want)
			return i >= 63 ? UINT64_MAX : (2ull << i) - 1;
	}
	return UINT64_MAX;
}

const char *vmt_bpf_sysname(uint32_t nr)
{
	switch (nr) {
	case VMT_SYS_MMAP: return "mmap";
	case VMT_SYS_MPROTECT: return "mprotect";
	case VMT_SYS_MUNMAP: return "munmap";
	case VMT_SYS_BRK: return "brk";
	case VMT_SYS_MREMAP: return "mremap";
	case VMT_SYS_MADVISE: return "madvise";
	case VMT_SYS_SHMAT: return "shmat";
	case VMT_SYS_CLONE: return "clone";
	case VMT_SYS_FORK: return "fork";
	case VMT_SYS_VFORK: return "vfork";
	case VMT_SYS_EXECVE: return "execve";
	case VMT_SYS_SHMDT: return "shmdt";
	case VMT_SYS_MLOCK: return "mlock";
	case VMT_SYS_MUNLOCK: return "munlock";
	case VMT_SYS_MLOCKALL: return "mlockall";
	case VMT_SYS_MUNLOCKALL: return "munlockall";
	case VMT_SYS_PRCTL: return "prctl";
	case VMT_SYS_REMAP_FILE_PAGES: return "remap_file_pages";
	case VMT_SYS_EXECVEAT: return "execveat";
	case VMT_SYS_MLOCK2: return "mlock2";
	case VMT_SYS_PKEY_MPROTECT: return "pkey_mprotect";
	case VMT_SYS_CLONE3: return "clone3";
	case VMT_SYS_MAP_SHADOW_STACK: return "map_shadow_stack";
	case VMT_SYS_MSEAL: return "mseal";
	}
	return NULL;
}

static const char *type_name(unsigned t)
{
	static const char *names[] = { "?",    "vma",	    "fork", "fork_ret",
				       "exec", "exit", "lock_wait" };
	return t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

int vmt_bpf_format(const struct vmt_krec_hdr *h, size_t size, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%llu.%09llu %u/%u %s", (unsigned long long)(h->ts / 1000000000),
			 (unsigned long long)(h->ts % 1000000000), h->tgid, h->tid, type_name(h->type));
	if (n < 0 || (size_t)n >= len)
		return n;
	switch (h->type) {
	case VMT_KREC_VMA_CHANGE: {
		const struct vmt_krec_vmachg *r = (const void *)h;
		const char *nm;
		if (size < VMT_KREC_VMACHG_SIZE(0))
			break;
		nm = vmt_bpf_sysname(r->nr);
		n += snprintf(buf + n, len - n,
			      " %s(%#llx, %#llx, %#llx) = %lld [%#llx-%#llx)%s map_count=%d seq=%u/%u part=%u vmas=%u%s%s%s%s%s%s%s%s",
			      r->h.flags & VMT_BPF_F_FAULT ? "fault" : nm ? nm : "syscall",
			      (unsigned long long)r->args[0], (unsigned long long)r->args[1],
			      (unsigned long long)r->args[2], (long long)r->ret,
			      (unsigned long long)r->range[0][0], (unsigned long long)r->range[0][1],
			      r->range[1][1] > r->range[1][0] ? "+" : "", r->map_count,
			      r->wr_seq, r->lock_seq, r->part,
			      r->nr_vmas, r->h.flags & VMT_BPF_F_FULL ? " FULL" : "",
			      r->h.flags & VMT_BPF_F_NOCHANGE ? " NOCHANGE" : "",
			      r->h.flags & VMT_BPF_F_RACED ? " RACED" : "",
			      r->h.flags & VMT_BPF_F_UNSTABLE ? " UNSTABLE" : "",
			      r->h.flags & VMT_BPF_F_MORE ? " MORE" : "",
			      r->h.flags & VMT_BPF_F_TRUNC ? " TRUNC" : "",
			      r->h.flags & VMT_BPF_F_REDO ? " REDO" : "",
			      r->h.flags & VMT_BPF_F_CHILD ? " CHILD" : "");
		break;
	}
	case VMT_KREC_FORK: {
		const struct vmt_krec_fork *f = (const void *)h;
		if (size < sizeof(*f))
			break;
		n += snprintf(buf + n, len - n,
			      " child=%u/%u flags=%#llx vmas=%d/%d copy_hold=%lluns%s%s%s", f->child_tgid,
			      f->child_pid, (unsigned long long)f->clone_flags, f->parent_map_count,
			      f->child_map_count,
			      (unsigned long long)(f->lock_released > f->lock_acquired
							   ? f->lock_released - f->lock_acquired
							   : 0),
			      h->flags & VMT_BPF_F_THREAD ? " THREAD" : "",
			      h->flags & VMT_BPF_F_SHARED_MM ? " SHARED_MM" : "",
			      h->flags & VMT_BPF_F_LISTED ? " LISTED" : "");
		break;
	}
	case VMT_KREC_FORK_RET: {
		const struct vmt_krec_fork_ret *f = (const void *)h;
		if (size < sizeof(*f))
			break;
		n += snprintf(buf + n, len - n, " %s = %lld in %lluns (resumed after %lluns)",
			      vmt_bpf_sysname(f->nr), (long long)f->ret,
			      (unsigned long long)(h->ts - f->t_enter),
			      (unsigned long long)(f->t_resume > f->t_enter ? f->t_resume - f->t_enter
									   : 0));
		break;
	}
	case VMT_KREC_EXEC: {
		const struct vmt_krec_exec *e = (const void *)h;
		if (size < sizeof(*e))
			break;
		n += snprintf(buf + n, len - n, " %.*s map_count=%d", VMT_BPF_FILENAME, e->filename,
			      e->map_count);
		break;
	}
	case VMT_KREC_EXIT: {
		const struct vmt_krec_exit *x = (const void *)h;
		if (size < sizeof(*x))
			break;
		n += snprintf(buf + n, len - n, " %.16s code=%d%s", x->comm, x->exit_code,
			      h->flags & VMT_BPF_F_GROUP_DEAD ? " GROUP_DEAD" : "");
		break;
	}
	case VMT_KREC_LOCK_WAIT: {
		const struct vmt_krec_lockwait *w = (const void *)h;
		if (size < offsetof(struct vmt_krec_lockwait, ips))
			break;
		n += snprintf(buf + n, len - n, " %s wait=%lluns frames=%u%s",
			      h->flags & VMT_BPF_F_WRITE ? "write" : "read",
			      (unsigned long long)w->wait_ns, w->nframes,
			      h->flags & VMT_BPF_F_CONTENDED ? " contended" : "");
		break;
	}
	}
	return n;
}
