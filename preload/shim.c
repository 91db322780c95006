/*
 * shim.c - libvmatop.so core: initialisation and teardown, the producer side
 * of the shared-memory ring, string interning, clocks and call bookkeeping.
 *
 * Owns struct shim S (per process) and the ring protocol's producer half
 * (see include/vmatop/records.h, "Rings"). The shim is active only when
 * $VMATOP_SHM_DIR names a session directory made by `vmatop record`;
 * otherwise every hook is a plain call of the real function.
 *
 * Initialisation may happen from the constructor or lazily from the first
 * hook (another library's constructor may call mmap first). The shim never
 * allocates with malloc: rings are mmap'ed files, buffers are static or on
 * the stack.
 */
#include "shim.h"

#include <cpuid.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const _Atomic long stamp_none = 1; /* until (or without) the stamp page */
struct shim S = {.maps_fd = -1, .stamp = &stamp_none, .last_skip = ~0ull};
struct shim_real R;
__thread struct shim_thread T;
/* The TSC path only when the kernel itself keeps time with the TSC. */
static void clock_init(void)
{
#if defined(__x86_64__)
	char cs[32] = "";
	int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		      O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, cs, sizeof(cs) - 1);
		close(fd);
		cs[n > 0 ? n : 0] = 0;
	}
	if (strcmp(cs, "tsc\n") != 0 || getenv("VMATOP_NO_TSC"))
		return;
	S.tsc_ok = 1;
#endif
}

long shim_raw_syscall(long n, long a, long b, long c, long d, long e, long f)
{
#if defined(__x86_64__)
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
#else
	long r = R.syscall ? R.syscall(n, a, b, c, d, e, f) : -1;
	return r == -1 ? -errno : r;
#endif
}

pid_t shim_tid_slow(void)
{
	if (!T.tid)
		T.tid = (pid_t)shim_raw_syscall(SYS_gettid, 0, 0, 0, 0, 0, 0);
	return T.tid;
}

void shim_tid_reset(void) { T.tid = 0; }

uint32_t shim_cid(void)
{
	uint32_t c = atomic_fetch_add_explicit(&S.next_cid, 1, memory_order_relaxed) + 1;
	return c ? c : shim_cid();
}

void shim_debug(const char *fmt, ...)
{
	if (!S.debug)
		return;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = snprintf(buf, sizeof(buf), "libvmatop[%d]: ", (int)S.pid);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	ssize_t w = write(2, buf, (size_t)n);
	(void)w;
}

/* ---- real symbols ---- */

#define RESOLVE(name) R.name = (__typeof__(R.name))dlsym(RTLD_NEXT, #name)

void shim_resolve(void)
{
	/* dlsym may allocate; our malloc hooks call glibc's __libc_* directly,
	 * so that is safe. Memory hooks fall back to raw syscalls until here. */
	RESOLVE(mmap);
	RESOLVE(munmap);
	RESOLVE(mremap);
	RESOLVE(mprotect);
	RESOLVE(pkey_mprotect);
	RESOLVE(madvise);
	RESOLVE(brk);
	RESOLVE(sbrk);
	RESOLVE(shmat);
	RESOLVE(shmdt);
	RESOLVE(syscall);
	RESOLVE(fork);
	RESOLVE(_Fork);
	RESOLVE(posix_spawn);
	RESOLVE(posix_spawnp);
	RESOLVE(execve);
	RESOLVE(execvpe);
	RESOLVE(fexecve);
	RESOLVE(execveat);
	RESOLVE(exit);
	RESOLVE(_exit);
	RESOLVE(dlopen);
	RESOLVE(dlmopen);
	RESOLVE(dlclose);
	RESOLVE(pthread_create);
	RESOLVE(clone);
	RESOLVE(pthread_join);
	RESOLVE(pthread_exit);
	RESOLVE(setlocale);
	RESOLVE(newlocale);
	RESOLVE(ioctl);
	RESOLVE(close);
}

/* ---- ring producer ---- */

static int consumer_alive(void)
{
	uint64_t hb = atomic_load_explicit(&S.ring->heartbeat, memory_order_relaxed);
	return hb && shim_clock() - hb < 1000000000ull;
}

/* Move the head from pos to to + n and leave a skip record {to} at pos:
 * the reservation [to, to+n). ~0 if another producer moved the head. lap:
 * a skip to the next lap (the phantoms' anchor, S.last_skip), not the
 * second skip over them. */
static uint64_t skip_to(struct vmt_ring_header *h, uint64_t pos, uint64_t to, unsigned n, int lap)
{
	if (!atomic_compare_exchange_strong_explicit(&h->head, &pos, to + n, memory_order_acq_rel,
						     memory_order_relaxed))
		return ~0ull;
	if (lap)
		atomic_store_explicit(&S.last_skip, pos, memory_order_relaxed);
	struct vmt_rec *r = rec_at(pos, VMT_RING_SKIP, 0, 1); /* ts 1: never read, no clock */
	r->p.skip.to = to;
	rec_commit(r, pos);
	return to;
}

static uint64_t fresh_tail(struct vmt_ring_header *h)
{
	uint64_t tail = atomic_load_explicit(&h->tail, memory_order_acquire);
	atomic_store_explicit(&S.tail_seen, tail, memory_order_relaxed);
	return tail;
}

/*
 * rec_reserve (shim.h) when the quick try failed: ring missing, looks full,
 * raced, or at the hot window (records.h "Rings"). Positions only grow; the
 * consumer's tail follows the skip records. After a skip from K (slot s of
 * its lap) to the next lap's start L, and until the consumer has read the
 * skip, positions (K, L) are phantoms: the producers reuse the lap's low
 * slots below the consumer (the plain check H + n - tail <= slots is then
 * exactly "below the consumer's slot"); when they reach it they skip again,
 * to L + s + 1, the slots above s that the old lap never wrote, and use
 * them up to L + slots. A slot is always kept free for that second skip.
 */
uint64_t rec_reserve_slow(unsigned n, int wait)
{
	struct vmt_ring_header *h = S.ring;
	if (!h || !n || n + 1 > S.nslots)
		return ~0ull;
	int tries = 0;
	uint64_t mask = S.nslots - 1;
	uint64_t pos = atomic_load_explicit(&h->head, memory_order_relaxed), got;
	for (;;) {
		/* The consumer's tail only grows: a stale copy is conservative, and
		 * the shared cache line is read only when the ring looks full. */
		uint64_t tail = atomic_load_explicit(&S.tail_seen, memory_order_relaxed);
		if (S.window < S.nslots && rec_at_window(pos, n)) {
			/* the first n slots of the next lap must be read (+1: the
			 * second skip's slot) */
			uint64_t lap = pos - (pos & mask) + S.nslots;
			if (lap + n + 1 - tail > S.nslots)
				tail = fresh_tail(h);
			if (lap + n + 1 - tail <= S.nslots) {
				if ((got = skip_to(h, pos, lap, n, 1)) != ~0ull)
					break;
				pos = atomic_load_explicit(&h->head, memory_order_relaxed);
				continue; /* raced */
			}
			/* consumer behind: on linearly */
		}
		if (pos + n + 1 - tail > S.nslots)
			tail = fresh_tail(h);
		if (pos + n + 1 - tail > S.nslots) {
			/* full, or phantoms after a skip the consumer has not read */
			uint64_t k = atomic_load_explicit(&S.last_skip, memory_order_relaxed);
			uint64_t lap = k - (k & mask) + S.nslots;
			int phantom = k != ~0ull && tail <= k && pos >= lap;
			if (phantom && pos - lap > (k & mask) && pos + n <= lap + S.nslots)
				; /* above the old lap's skip: slots it never wrote */
			else if (phantom && pos - lap <= (k & mask) && pos + 1 - tail <= S.nslots &&
				 (k & mask) + 1 + n <= S.nslots) {
				if ((got = skip_to(h, pos, lap + (k & mask) + 1, n, 0)) != ~0ull)
					break;
				pos = atomic_load_explicit(&h->head, memory_order_relaxed);
				continue; /* raced */
			} else if (wait && tries < 4000 && consumer_alive()) { /* bulk lists wait */
				struct timespec d = {0, 250000};
				nanosleep(&d, NULL);
				tries++;
				pos = atomic_load_explicit(&h->head, memory_order_relaxed);
				continue;
			} else {
				atomic_fetch_add_explicit(&h->lost, n, memory_order_relaxed);
				atomic_store_explicit(&S.last_pos, ~0ull, memory_order_relaxed);
				return ~0ull;
			}
		}
		if (atomic_compare_exchange_weak_explicit(&h->head, &pos, pos + n,
							  memory_order_acq_rel,
							  memory_order_relaxed)) {
			got = pos;
			break;
		}
	}
	return rec_reserved(got, n);
}

/* Commit the parked slot (shim.h rec_unpark), unless its munmap or another
 * thread's reservation took it meanwhile. */
void rec_unpark_slow(uint64_t p)
{
	if (!atomic_compare_exchange_strong(&S.parked, &p, 0))
		return;
	rec_commit(&S.slots[(p - 1) & (S.nslots - 1)], p - 1);
}

struct vmt_rec *rec_begin(uint16_t type, uint32_t cid, uint64_t ts, int wait, uint64_t *posp)
{
	struct vmt_ring_header *h = S.ring;
	if (!h)
		return NULL;
	uint64_t pos = rec_reserve(1, wait);
	if (pos == ~0ull)
		return NULL;
	*posp = pos;
	return rec_at(pos, type, cid, ts);
}


/* ---- strings ---- */

#define STRTAB 8192
static _Atomic uint64_t strtab[STRTAB];

uint64_t shim_string(const char *s, size_t n)
{
	if (n > 65535)
		n = 65535;
	uint64_t h = vmt_hash(s, n);
	int fresh = 1;
	for (unsigned i = 0; i < 64; i++) {
		_Atomic uint64_t *slot = &strtab[(h + i) & (STRTAB - 1)];
		uint64_t v = atomic_load_explicit(slot, memory_order_relaxed);
		if (v == h) {
			fresh = 0;
			break;
		}
		if (v == 0) {
			uint64_t z = 0;
			if (atomic_compare_exchange_strong(slot, &z, h))
				break;
			if (z == h) {
				fresh = 0;
				break;
			}
		}
	}
	if (!fresh)
		return h;
	uint64_t ts = shim_ticks();
	for (size_t off = 0; off < n || off == 0; off += 48) {
		uint64_t pos;
		struct vmt_rec *r = rec_begin(VMT_STRING, 0, ts, 1, &pos);
		if (!r)
			break;
		size_t len = n - off < 48 ? n - off : 48;
		r->flags = VMT_F_INTERNAL;
		r->p.str.hash = h;
		r->p.str.total = (uint16_t)n;
		r->p.str.off = (uint16_t)off;
		r->p.str.len = (uint16_t)len;
		memcpy(r->p.str.text, s + off, len);
		rec_commit(r, pos);
		if (n == 0)
			break;
	}
	return h;
}

/* ---- rings ---- */

int shim_ring_create(void)
{
	char path[640];
	uint64_t ns = shim_clock();
	snprintf(path, sizeof(path), "%s/r-%d-%llu", S.dir, (int)S.pid, (unsigned long long)ns);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		shim_debug("cannot create ring %s: %s", path, strerror(errno));
		return -1;
	}
	size_t bytes = sizeof(struct vmt_ring_header) + (size_t)S.slots_wanted * VMT_REC_SIZE;
	if (ftruncate(fd, (off_t)bytes) < 0) {
		close(fd);
		unlink(path);
		return -1;
	}
	void *p = (void *)shim_raw_syscall(SYS_mmap, 0, (long)bytes, PROT_READ | PROT_WRITE,
					   MAP_SHARED, fd, 0);
	close(fd);
	if ((unsigned long)p > -4096ul) {
		unlink(path);
		return -1;
	}
	struct vmt_ring_header *h = p;
	h->version = VMT_RING_VERSION;
	h->clock = S.tsc_ok ? VMT_RING_CLOCK_TSC : VMT_RING_CLOCK_NS;
	h->rec_size = VMT_REC_SIZE;
	h->slots = S.slots_wanted;
	h->owner = (uint32_t)S.pid;
	h->created_ns = ns;
	S.ring = h;
	S.slots = (struct vmt_rec *)(h + 1);
	S.nslots = S.slots_wanted;
	S.window = S.window_wanted && S.window_wanted * 4 <= S.nslots ? S.window_wanted : S.nslots;
	atomic_store(&S.last_skip, ~0ull);
	S.ring_bytes = bytes;
	atomic_store_explicit((_Atomic uint64_t *)&h->magic, VMT_RING_MAGIC, memory_order_release);
	return 0;
}

void shim_ring_close(void)
{
	if (S.ring)
		__atomic_or_fetch(&S.ring->flags, VMT_RING_CLOSED, __ATOMIC_RELEASE);
}

/*
 * The stamp: one private anonymous page with MADV_WIPEONFORK holding 1. Any
 * child with a copy of our memory (fork, clone without CLONE_VM) sees 0 there
 * until a fork path of the shim stamps it again, so hooks notice children
 * made by raw clone()/syscall() at their first call (shim_adopt). vfork and
 * CLONE_VM children share the page (and the mm): they are not new images.
 */
void shim_stamp(void)
{
	if (S.stamp == &stamp_none) {
		void *p = (void *)shim_raw_syscall(SYS_mmap, 0, (long)PAGE_SZ, PROT_READ | PROT_WRITE,
						   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if ((unsigned long)p > -4096ul)
			return;
		if (shim_raw_syscall(SYS_madvise, (long)p, (long)PAGE_SZ, MADV_WIPEONFORK, 0, 0, 0)) {
			shim_raw_syscall(SYS_munmap, (long)p, (long)PAGE_SZ, 0, 0, 0, 0);
			return;
		}
		*(_Atomic long *)p = 1;
		S.stamp = p;
		return;
	}
	atomic_store((_Atomic long *)S.stamp, 1);
}

static void fill_comm(char comm[16])
{
	int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, comm, 15);
		close(fd);
		if (n > 0) {
			if (comm[n - 1] == '\n')
				n--;
			comm[n] = 0;
			return;
		}
	}
	strcpy(comm, "?");
}

static void emit_proc_start(unsigned cause, pid_t ppid, uint64_t fork_id, uint64_t child_ns)
{
	char cmd[256], exe[512];
	ssize_t n = 0;
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
	}
	if (n < 0)
		n = 0;
	while (n > 0 && cmd[n - 1] == 0)
		n--;
	for (ssize_t i = 0; i < n; i++)
		if (cmd[i] == 0)
			cmd[i] = ' ';
	ssize_t e = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (e < 0)
		e = 0;
	uint64_t ch = shim_string(cmd, (size_t)n);
	uint64_t eh = shim_string(exe, (size_t)e);
	uint64_t pos;
	struct vmt_rec *r = rec_begin(VMT_PROC_START, 0, 0, 1, &pos);
	if (!r)
		return;
	r->p.proc.ppid = (uint32_t)ppid;
	r->p.proc.cause = cause;
	r->p.proc.fork_id = fork_id;
	r->p.proc.child_ns = child_ns;
	r->p.proc.cmd_hash = ch;
	r->p.proc.exe_hash = eh;
	fill_comm(r->p.proc.comm);
	r->p.proc.stack_depth = S.stack_depth;
	r->p.proc.shim_pid = (uint32_t)S.pid;
	if (!S.durations)
		r->flags |= VMT_F_NODUR;
	rec_commit(r, pos);
}

static unsigned env_uint(const char *name, unsigned dflt)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return dflt;
	char *end;
	unsigned long x = strtoul(v, &end, 10);
	return *end ? dflt : (unsigned)x;
}

void shim_init(void)
{
	int expect = SHIM_OFF;
	if (!atomic_compare_exchange_strong(&S.state, &expect, SHIM_INIT))
		return;
	T.depth++;
	shim_resolve();
	S.debug = getenv("VMATOP_DEBUG") != NULL;
	const char *dir = getenv(VMT_ENV_DIR);
	if (!dir || !*dir || strlen(dir) >= sizeof(S.dir)) {
		atomic_store(&S.state, SHIM_DISABLED);
		T.depth--;
		return;
	}
	strcpy(S.dir, dir);
	const char *pl = getenv(VMT_ENV_PRELOAD);
	if (pl && strlen(pl) < sizeof(S.preload))
		strcpy(S.preload, pl);
	S.stack_depth = env_uint(VMT_ENV_STACKS, 0);
	S.durations = env_uint(VMT_ENV_DURATIONS, 1) != 0;
	clock_init();
#if defined(__x86_64__)
	unsigned a, b, c, d;
	S.prefetchw = __get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & (1u << 8));
#endif
	if (S.stack_depth > 128)
		S.stack_depth = 128;
	unsigned slots = env_uint(VMT_ENV_SLOTS, VMT_RING_DEFAULT_SLOTS);
	if (slots < 1024 || (slots & (slots - 1)))
		slots = VMT_RING_DEFAULT_SLOTS;
	S.slots_wanted = slots;
	/* the hot window: 2048 slots (192 KiB) stay in L2 beside the target's
	 * own data; 0 turns it off (bench/shim-floor.sh compares) */
	unsigned window = env_uint(VMT_ENV_WINDOW, VMT_RING_DEFAULT_WINDOW);
	S.window_wanted = window && !(window & (window - 1)) ? window : 0;
	S.pid = getpid();
	S.maps_fd = obs_open_maps();
	if (shim_ring_create() < 0) {
		atomic_store(&S.state, SHIM_DISABLED);
		T.depth--;
		return;
	}
	stacks_init(); /* may turn stacks off: before the record that says the depth */
	emit_proc_start(VMT_CAUSE_INIT, getppid(), 0, 0);
	extern void *__curbrk;
	S.brk_seen = (uintptr_t)__curbrk;
	shim_stamp(); /* before the seed: the seed lists its page */
	obs_maps_list(shim_cid(), VMT_LIST_SEED, VMT_CAUSE_INIT, NULL);
	obs_modules();
	atomic_store_explicit(&S.state, SHIM_READY, memory_order_release);
	T.depth--;
	shim_debug("ready: ring %zu bytes, procmap_query %d, stacks %u", S.ring_bytes, S.have_pmq,
		   S.stack_depth);
}

void shim_after_fork_child(uint64_t fork_id, uint64_t t0, pid_t ppid)
{
	uint64_t t1 = shim_ticks();
	shim_stamp();
	S.pid = (pid_t)shim_raw_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
	shim_tid_reset();
	atomic_store(&S.last_pos, 0);
	atomic_store(&S.tail_seen, 0);
	obs_reopen_maps();
	void *old = S.ring;
	size_t old_bytes = S.ring_bytes;
	S.ring = NULL;
	if (shim_ring_create() < 0) {
		atomic_store(&S.state, SHIM_DISABLED);
		return;
	}
	emit_proc_start(VMT_CAUSE_FORK, ppid, fork_id, t1 - t0);
	/* The child's own ring is a new VMA; the parent's is unmapped here. */
	obs_list(shim_cid(), (uintptr_t)S.ring, (uintptr_t)S.ring + S.ring_bytes,
		 VMT_LIST_INDIRECT, VMT_CAUSE_SHIM);
	if (old) {
		shim_raw_syscall(SYS_munmap, (long)old, (long)old_bytes, 0, 0, 0, 0);
		uint64_t pos;
		struct vmt_rec *r = rec_begin(VMT_UNMAP_RANGE, shim_cid(), 0, 0, &pos);
		if (r) {
			r->flags = VMT_F_INTERNAL;
			r->p.mem.a0 = (uint64_t)(uintptr_t)old;
			r->p.mem.a1 = old_bytes;
			r->p.mem.extra = VMT_CAUSE_SHIM;
			rec_commit(r, pos);
		}
	}
}

/*
 * A child with a copy of our memory that no fork path of the shim handled
 * (the stamp page reads 0): clone() without CLONE_VM or fork through a raw
 * syscall. Make its ring, announce it (fork id 0: vmatop copies the parent's
 * mirror as it is then) and list its whole map. Returns whether it records.
 */
int shim_adopt(void)
{
	static _Atomic int busy;
	if (atomic_exchange(&busy, 1))
		return 0;
	if (!atomic_load(S.stamp)) {
		pid_t ppid = S.pid;
		uintptr_t r[1][2];
		int n;
		shim_fork_child_reset();
		chg_fork_child(~0ull, r, 0, &n);
		T.depth++;
		shim_after_fork_child(0, shim_ticks(), ppid);
		if (atomic_load_explicit(&S.state, memory_order_acquire) == SHIM_READY)
			obs_maps_list(shim_cid(), VMT_LIST_DISCOVER, VMT_CAUSE_FORK, NULL);
		T.depth--;
		shim_debug("adopted: a child of %d made without fork()", (int)ppid);
	}
	atomic_store(&busy, 0);
	return atomic_load_explicit(&S.state, memory_order_acquire) == SHIM_READY;
}

/* ---- calls ---- */

/* call_begin (shim.h) with a deferred list: list it now, before the call (and
 * its timing), unless the call is the munmap of exactly that range. */
void call_take_pending(struct shim_call *c, int is_munmap)
{
	uintptr_t plo, phi;
	if (!chg_take(-1, &plo, &phi))
		return;
	if (is_munmap && plo == c->clo && phi == c->chi)
		c->exact = 1;
	else
		obs_list(shim_cid(), plo, phi, VMT_LIST_OBSERVE, VMT_CAUSE_CALL);
}


/* ---- constructor / destructor and the public API ---- */

__attribute__((constructor(101))) static void shim_ctor(void) { shim_init(); }

__attribute__((destructor(101))) static void shim_dtor(void)
{
	if (!shim_active())
		return;
	T.depth++;
	chg_hook_enter();
	shim_checkpoint();
	obs_snapshot(VMT_CAUSE_EXIT, "exit");
	uint64_t pos;
	struct vmt_rec *r = rec_begin(VMT_EXIT, shim_cid(), 0, 1, &pos);
	if (r) {
		r->p.exit.how = 2;
		rec_commit(r, pos);
	}
	shim_ring_close();
	chg_hook_leave();
	T.depth--;
}

/*
 * vmatop_snapshot(label): write a ground-truth snapshot of /proc/self/maps
 * into the trace now. Returns 0, or -1 when the shim is not recording.
 * Programs find it with dlsym(RTLD_DEFAULT, "vmatop_snapshot").
 */
SHIM_EXPORT int vmatop_snapshot(const char *label)
{
	if (!shim_active())
		return -1;
	int e = errno;
	T.depth++;
	chg_hook_enter();
	obs_snapshot(VMT_CAUSE_REQUEST, label);
	chg_hook_leave();
	T.depth--;
	errno = e;
	return 0;
}
