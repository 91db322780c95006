/*
 * hooks_proc.c - interposed process calls: fork, vfork, _Fork, clone,
 * fork-like syscall()s, posix_spawn[p], the exec family, exit/_exit/_Exit,
 * dlopen/dlmopen/dlclose, pthread_create/join/exit, setlocale, sem_open.
 *
 * Owns fork following (VMT_FORK_PRE before the real fork, VMT_FORK after it
 * with the latency; the child makes its own ring and announces itself with
 * VMT_PROC_START {cause FORK, fork id}), real vfork (an assembly trampoline;
 * the child changes nothing of the shim, see "vfork" below), the exec
 * snapshot and environment re-injection, the thread-stack table (stacks
 * glibc maps for threads and may unmap later from its cache) and the
 * checkpoints that find changes no call shows (main stack growth, program
 * break).
 */
#include "shim.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <locale.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);

/* Records in this thread now, outside the shim (no marks: exec, exit, spawn, vfork). */
static inline int proc_active(void)
{
	if (atomic_load_explicit(&S.state, memory_order_relaxed) == SHIM_OFF && !T.vfork_child)
		shim_init();
	return shim_active() && T.depth == 0;
}

/* The same for hooks that may change VMAs (a vfork child's call is noted). */
static inline int hook_ok(void)
{
	if (proc_active())
		return 1;
	shim_passthrough();
	return 0;
}

/* Inside the shim, in a hook (see changes.c: the fork child's decision). */
static inline void enter(void)
{
	T.depth++;
	chg_hook_enter();
}

static inline void leave(void)
{
	chg_hook_leave();
	T.depth--;
}

static void emit_simple(uint16_t type, uint32_t cid, uint64_t ts, uint64_t dur, void (*fill)(struct vmt_rec *, void *),
			void *arg)
{
	uint64_t pos;
	struct vmt_rec *r = rec_begin(type, cid, ts, 1, &pos);
	if (!r)
		return;
	r->dur = dur32(dur);
	if (fill)
		fill(r, arg);
	rec_commit(r, pos);
}

/* ---- thread stacks ---- */

#define NSTACKS 512
enum { TS_FREE, TS_LIVE, TS_RETIRED };
static struct {
	int state;
	uintptr_t lo, hi;
} tstacks[NSTACKS];
static _Atomic int tstack_lock;

static void ts_lock(void)
{
	while (atomic_exchange_explicit(&tstack_lock, 1, memory_order_acquire))
		;
}
static void ts_unlock(void) { atomic_store_explicit(&tstack_lock, 0, memory_order_release); }

static __thread uintptr_t my_stack_lo;

static void thread_observe_stack(void)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0), s, e;
	if (obs_vma_at(sp, &s, &e) < 0)
		return;
	/* glibc maps the stack PROT_NONE, then opens all but the guard (below s) */
	obs_list_unannounced(s > PAGE_SZ ? s - PAGE_SZ : s, e, VMT_LIST_INDIRECT, VMT_CAUSE_THREAD);
	my_stack_lo = s;
	ts_lock();
	int freei = -1, found = 0;
	for (int i = 0; i < NSTACKS; i++) {
		if (tstacks[i].state != TS_FREE && tstacks[i].lo == s) {
			tstacks[i].state = TS_LIVE;
			tstacks[i].hi = e;
			found = 1;
			break;
		}
		if (tstacks[i].state == TS_FREE && freei < 0)
			freei = i;
	}
	if (!found && freei >= 0) {
		tstacks[freei].lo = s;
		tstacks[freei].hi = e;
		tstacks[freei].state = TS_LIVE;
	}
	ts_unlock();
}

static void thread_retire(void)
{
	if (!my_stack_lo)
		return;
	ts_lock();
	for (int i = 0; i < NSTACKS; i++)
		if (tstacks[i].state == TS_LIVE && tstacks[i].lo == my_stack_lo)
			tstacks[i].state = TS_RETIRED;
	ts_unlock();
	my_stack_lo = 0;
}

/* glibc unmaps cached stacks of finished threads on its own: look again. */
void threads_check_retired(void)
{
	uintptr_t todo[32][2];
	int n = 0;
	ts_lock();
	for (int i = 0; i < NSTACKS && n < 32; i++) {
		if (tstacks[i].state != TS_RETIRED)
			continue;
		uintptr_t s, e;
		if (obs_vma_at(tstacks[i].lo, &s, &e) == 0 && s == tstacks[i].lo &&
		    e == tstacks[i].hi)
			continue; /* still cached, unchanged */
		todo[n][0] = tstacks[i].lo;
		todo[n][1] = tstacks[i].hi;
		n++;
		tstacks[i].state = TS_FREE;
	}
	ts_unlock();
	for (int i = 0; i < n; i++)
		obs_list_unannounced(todo[i][0] > PAGE_SZ ? todo[i][0] - PAGE_SZ : todo[i][0],
				     todo[i][1], VMT_LIST_INDIRECT, VMT_CAUSE_THREAD);
}

void shim_checkpoint(void)
{
	obs_check_stack();
	obs_check_brk(VMT_CAUSE_MALLOC);
	threads_check_retired();
}

struct tramp {
	void *(*fn)(void *);
	void *arg;
};

/*
 * A new thread: its stack (mapped by glibc in pthread_create) is counted as
 * unlisted until the thread lists it here (a fork meanwhile lists the whole
 * map in the child).
 */
static void *tramp_start(void *p)
{
	struct tramp t = *(struct tramp *)p;
	/* This free is the thread's first malloc-family call: glibc creates the
	 * thread's arena (a new heap mapping) inside it. Probe it. */
	__libc_free(p);
	if (shim_active()) {
		enter();
		thread_observe_stack();
		void *probe = __libc_malloc(32);
		malloc_observe(probe);
		__libc_free(probe);
		leave();
	}
	chg_unlisted_stack(-1);
	void *ret = t.fn(t.arg);
	thread_retire();
	return ret;
}

SHIM_EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *),
			       void *arg)
{
	if (!R.pthread_create)
		shim_resolve();
	if (!hook_ok())
		return R.pthread_create(th, attr, fn, arg);
	struct tramp *t = __libc_malloc(sizeof(*t));
	if (!t)
		return R.pthread_create(th, attr, fn, arg);
	t->fn = fn;
	t->arg = arg;
	enter();
	obs_flush(0);
	chg_go_multi();
	chg_unlisted_stack(1);
	int r = R.pthread_create(th, attr, tramp_start, t);
	int e = errno;
	if (r) {
		chg_unlisted_stack(-1);
		__libc_free(t);
	}
	threads_check_retired();
	leave();
	errno = e;
	return r;
}

SHIM_EXPORT int pthread_join(pthread_t th, void **ret)
{
	if (!R.pthread_join)
		shim_resolve();
	int r = R.pthread_join(th, ret);
	if (hook_ok()) {
		int e = errno;
		enter();
		threads_check_retired();
		obs_flush_orphans(); /* what the joined thread could not list */
		leave();
		errno = e;
	}
	return r;
}

SHIM_EXPORT void pthread_exit(void *ret)
{
	if (!R.pthread_exit)
		shim_resolve();
	thread_retire();
	R.pthread_exit(ret);
}

/* ---- fork ---- */

struct fork_arg {
	uint64_t fid, gen;
	int64_t child;
	int err;
	unsigned kind;
	int execd; /* SPAWN of vfork kind: the child exec'd */
};

static void fill_fork(struct vmt_rec *r, void *a)
{
	struct fork_arg *f = a;
	r->p.fork.fork_id = f->fid;
	r->p.fork.child = f->child;
	r->p.fork.err = f->err;
	r->p.fork.kind = f->kind;
	r->p.fork.vmas_hint = f->gen;
	if (f->child < 0)
		r->flags |= VMT_F_FAILED;
	if (f->execd)
		r->flags |= VMT_F_EXECD;
}

static pid_t real_fork_kind(unsigned kind)
{
	if (kind == VMT_FORK_KIND_FORK_NOATFORK && R._Fork)
		return R._Fork();
	if (R.fork)
		return R.fork();
	long r = shim_raw_syscall(SYS_fork, 0, 0, 0, 0, 0, 0);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (pid_t)r;
}


/* Locks a thread may have held when the process forked. */
void shim_fork_child_reset(void)
{
	atomic_store(&tstack_lock, 0);
	atomic_store(&S.parked, 0); /* a slot of the parent's ring (raw forks) */
}

/*
 * The child side of every fork the shim handled: own ring, announce (fork
 * id: vmatop gives it the copy of the parent's mirror made at VMT_FORK_PRE,
 * ring position pre_pos, or ~0 when there was none), then list again what
 * that copy may not show (changes.c, chg_fork_child): the deferred ranges of
 * other threads, or the whole map when other threads may have changed VMAs
 * around the fork. Stacks of threads that ended in the meantime: checked.
 */
static void fork_child(uint64_t fid, uint64_t t0, pid_t ppid, uint64_t pre_pos)
{
	uintptr_t r[16][2];
	int n = 0;
	shim_fork_child_reset();
	int full = chg_fork_child(pre_pos, r, 16, &n) || T.fork_dirty;
	T.fork_dirty = 0;
	shim_after_fork_child(fid, t0, ppid);
	if (atomic_load_explicit(&S.state, memory_order_acquire) != SHIM_READY)
		return;
	if (full) {
		obs_maps_list(shim_cid(), VMT_LIST_DISCOVER, VMT_CAUSE_FORK, NULL);
		return;
	}
	for (int i = 0; i < n; i++)
		obs_list(shim_cid(), r[i][0], r[i][1], VMT_LIST_DISCOVER, VMT_CAUSE_FORK);
	threads_check_retired();
}

/* Parent, before a fork the shim follows: VMT_FORK_PRE. Returns its ring position. */
static uint64_t fork_pre(uint32_t cid, struct fork_arg *fa)
{
	obs_flush(1); /* deferred lists (all threads') go into the copy */
	shim_checkpoint();
	fa->fid = ((uint64_t)(uint32_t)S.pid << 32) | (atomic_fetch_add(&S.fork_seq, 1) + 1);
	fa->gen = atomic_load_explicit(&S.gen, memory_order_acquire);
	uint64_t pos;
	struct vmt_rec *r = rec_begin(VMT_FORK_PRE, cid, 0, 1, &pos);
	if (!r)
		return ~0ull;
	fill_fork(r, fa);
	rec_commit(r, pos);
	return pos;
}

/* Parent, after: VMT_FORK with the latency (and the whole map if a hook ran inside fork). */
static void fork_post(uint32_t cid, struct fork_arg *fa, pid_t p, int e, uint64_t t0, uint64_t t1)
{
	fa->child = p;
	fa->err = p < 0 ? e : 0;
	emit_simple(VMT_FORK, cid, t0, t1 - t0, fill_fork, fa);
	if (S.stack_depth)
		stacks_emit(cid, t0);
	if (T.fork_dirty) { /* an atfork handler mapped: nothing recorded it */
		T.fork_dirty = 0;
		obs_maps_list(shim_cid(), VMT_LIST_DISCOVER, VMT_CAUSE_FORK, NULL);
	}
}

static pid_t do_fork(unsigned kind)
{
	if (!R.fork)
		shim_resolve();
	if (!hook_ok())
		return real_fork_kind(kind);
	enter();
	uint32_t cid = shim_cid();
	struct fork_arg fa = {.kind = kind};
	uint64_t pre = fork_pre(cid, &fa);
	pid_t ppid = S.pid;
	T.fork_dirty = 0;
	uint64_t t0 = shim_ticks();
	T.in_fork = 1;
	pid_t p = real_fork_kind(kind);
	int e = errno;
	uint64_t t1 = shim_ticks();
	T.in_fork = 0;
	if (p == 0)
		fork_child(fa.fid, t0, ppid, pre);
	else
		fork_post(cid, &fa, p, e, t0, t1);
	leave();
	errno = e;
	return p;
}

SHIM_EXPORT pid_t fork(void) { return do_fork(VMT_FORK_KIND_FORK); }
SHIM_EXPORT pid_t _Fork(void) { return do_fork(VMT_FORK_KIND_FORK_NOATFORK); }

/*
 * fork-like raw syscalls through glibc's syscall(): SYS_fork, and SYS_clone
 * without CLONE_VM on the same stack (the child returns like a fork child).
 * Followed like fork(). Returns 1 and *ret when it made the call. Other
 * clones (CLONE_VM, a new stack, clone3) pass through; a child with its own
 * memory is adopted at its first hook (shim_adopt).
 */
int shim_fork_syscall(long nr, long a, long b, long c, long d, long e, long *ret)
{
	int like = nr == SYS_fork ||
		   (nr == SYS_clone && !(a & (CLONE_VM | CLONE_VFORK | CLONE_THREAD | CLONE_SETTLS)) && !b);
	if (!like || !hook_ok())
		return 0;
	enter();
	uint32_t cid = shim_cid();
	struct fork_arg fa = {.kind = VMT_FORK_KIND_SYSCALL};
	uint64_t pre = fork_pre(cid, &fa);
	pid_t ppid = S.pid;
	uint64_t t0 = shim_ticks();
	long r = shim_raw_syscall(nr, a, b, c, d, e, 0);
	uint64_t t1 = shim_ticks();
	if (r == 0) {
		fork_child(fa.fid, t0, ppid, pre);
	} else {
		int err = r < 0 && r > -4096 ? (int)-r : 0;
		fork_post(cid, &fa, err ? -1 : (pid_t)r, err, t0, t1);
	}
	leave();
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		r = -1;
	}
	*ret = r;
	return 1;
}

/*
 * glibc's clone(). Without CLONE_VM (and CLONE_SETTLS) the child has its own
 * copy of memory: followed like fork, the child's side runs first on its new
 * stack (clone_child). CLONE_VM|CLONE_VFORK without CLONE_SETTLS (how
 * posix_spawn-like code uses clone): the child shares our memory and this
 * thread's TLS while we wait, like vfork (below). Other CLONE_VM children
 * (threads and the like) pass through: they share the address space.
 */
struct clone_arg {
	int (*fn)(void *);
	void *arg;
	uint64_t fid, t0, pre;
	pid_t ppid;
	int vm;
};

static int clone_child(void *p)
{
	struct clone_arg a = *(struct clone_arg *)p; /* our copy of the parent's frame */
	if (a.vm) {
		T.vfork_child = 1;
		return a.fn(a.arg);
	}
	/* never returns into clone(): undo what the parent's copy had on */
	T.in_fork = 0;
	fork_child(a.fid, a.t0, a.ppid, a.pre);
	chg_hook_leave();
	T.depth = 0;
	return a.fn(a.arg);
}

static void vfork_done(uint64_t t0, long ret, int err, unsigned kind);

SHIM_EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	void *ptid = va_arg(ap, void *), *tls = va_arg(ap, void *), *ctid = va_arg(ap, void *);
	va_end(ap);
	if (!R.clone)
		shim_resolve();
	int follow = !(flags & (CLONE_VM | CLONE_SETTLS)) && fn;
	int vforklike = (flags & (CLONE_VM | CLONE_VFORK)) == (CLONE_VM | CLONE_VFORK) &&
			!(flags & (CLONE_SETTLS | CLONE_THREAD)) && fn && !T.vfork_child;
	if (!R.clone || (!follow && !vforklike) || !proc_active())
		return R.clone ? R.clone(fn, stack, flags, arg, ptid, tls, ctid) : (errno = ENOSYS, -1);
	struct clone_arg ca = {.fn = fn, .arg = arg, .vm = vforklike};
	if (vforklike) {
		ca.t0 = shim_ticks();
		int r = R.clone(clone_child, stack, flags, &ca, ptid, tls, ctid);
		int e = errno;
		T.vfork_child = 0; /* the child set it in our TLS */
		vfork_done(ca.t0, r, r < 0 ? e : 0, VMT_SPAWN_KIND_CLONE_VFORK);
		errno = e;
		return r;
	}
	enter();
	uint32_t cid = shim_cid();
	struct fork_arg fa = {.kind = VMT_FORK_KIND_CLONE};
	ca.pre = fork_pre(cid, &fa);
	ca.fid = fa.fid;
	ca.ppid = S.pid;
	ca.t0 = shim_ticks();
	T.in_fork = 1;
	int r = R.clone(clone_child, stack, flags, &ca, ptid, tls, ctid);
	int e = errno;
	uint64_t t1 = shim_ticks();
	T.in_fork = 0;
	fork_post(cid, &fa, r, e, ca.t0, t1);
	leave();
	errno = e;
	return r;
}

/*
 * vfork: the child borrows our memory, TLS included, until it execs or
 * exits, and we wait. A C wrapper cannot call the vfork syscall (the child
 * would return through the wrapper's frame, which the parent needs after),
 * so vfork is the assembly below, as glibc's is: the return address is
 * popped into %rdi, which the kernel keeps across the syscall, and pushed
 * back afterwards. Around it two plain C calls, each on a fresh frame:
 * shim_vfork_pre (parent, before; returns a token kept in %rsi) and
 * shim_vfork_post (both sides, after). The child only sets the per-thread
 * flag T.vfork_child: with it every hook is a plain call (nothing of the
 * shim changes; a mapping call sets T.vfork_dirty), exec still re-injects
 * the environment, so the new image's shim announces itself (ppid = us). The
 * parent, resumed, clears the flag and records VMT_SPAWN {kind vfork,
 * child, latency = how long we were suspended}, and lists its whole map if
 * the child called a mapping hook.
 */
#define VFORK_NESTED 1ull /* token: already a vfork child (the flag stays) */
#define VFORK_OFF 2ull	  /* token: the shim does not record */

SHIM_HIDDEN __attribute__((used, noinline)) uint64_t shim_vfork_pre(void)
{
	if (T.vfork_child)
		return VFORK_NESTED;
	if (!proc_active())
		return VFORK_OFF;
	uint64_t t = shim_ticks();
	return t > VFORK_OFF ? t : VFORK_OFF + 1;
}

SHIM_HIDDEN __attribute__((used, noinline)) long shim_vfork_post(long ret, uint64_t token)
{
	if (ret == 0) { /* the child */
		T.vfork_child = 1;
		return 0;
	}
	int e = errno;
	if (ret < 0 && ret > -4096) {
		e = (int)-ret;
		ret = -1;
	}
	if (token != VFORK_NESTED) {
		T.vfork_child = 0;
		if (token != VFORK_OFF) {
			vfork_done(token, ret, ret < 0 ? e : 0, VMT_SPAWN_KIND_VFORK);
		} else {
			T.vfork_dirty = 0;
			T.vfork_exec = 0;
		}
	} else {
		T.vfork_exec = 0; /* a vfork child resumed: its child's exec is not its own */
	}
	errno = e;
	return ret;
}

/* Parent of a vfork (or vfork-like clone), resumed: the record, and the map if the child mapped. */
static void vfork_done(uint64_t t0, long ret, int err, unsigned kind)
{
	uint64_t t1 = shim_ticks();
	int dirty = T.vfork_dirty, execd = T.vfork_exec;
	T.vfork_dirty = 0;
	T.vfork_exec = 0;
	if (!shim_active())
		return;
	enter();
	uint32_t cid = shim_cid();
	struct fork_arg a = {.child = ret, .err = err, .kind = kind, .execd = execd};
	emit_simple(VMT_SPAWN, cid, t0, t1 - t0, fill_fork, &a);
	if (S.stack_depth)
		stacks_emit(cid, t0);
	if (dirty)
		obs_maps_list(shim_cid(), VMT_LIST_DISCOVER, VMT_CAUSE_FORK, NULL);
	leave();
}

#if defined(__x86_64__)
__asm__(".text\n"
	".globl vfork\n"
	".type vfork, @function\n"
	".globl __vfork\n"
	".type __vfork, @function\n"
	".p2align 4\n"
	"vfork:\n"
	"__vfork:\n"
	".cfi_startproc\n"
	"	subq $8, %rsp\n"
	".cfi_adjust_cfa_offset 8\n"
	"	call shim_vfork_pre\n"
	"	addq $8, %rsp\n"
	".cfi_adjust_cfa_offset -8\n"
	"	movq %rax, %rsi\n" /* token: survives the syscall */
	"	popq %rdi\n"	   /* return address: survives the syscall */
	".cfi_adjust_cfa_offset -8\n"
	".cfi_register %rip, %rdi\n"
	"	movl $58, %eax\n" /* SYS_vfork */
	"	syscall\n"
	"	pushq %rdi\n"
	".cfi_adjust_cfa_offset 8\n"
	".cfi_rel_offset %rip, 0\n"
	"	subq $8, %rsp\n"
	".cfi_adjust_cfa_offset 8\n"
	"	movq %rax, %rdi\n"
	"	call shim_vfork_post\n"
	"	addq $8, %rsp\n"
	".cfi_adjust_cfa_offset -8\n"
	"	ret\n"
	".cfi_endproc\n"
	".size vfork, .-vfork\n"
	".size __vfork, .-__vfork\n");
#else
#error "libvmatop.so: vfork trampoline for x86_64 only"
#endif

/* A fork we did not see (glibc-internal, e.g. daemon()): the child's ring and whole map. */
static void atfork_child(void)
{
	if (T.in_fork || T.vfork_child || atomic_load(&S.state) != SHIM_READY)
		return;
	pid_t ppid = S.pid;
	T.depth++;
	fork_child(0, shim_ticks(), ppid, ~0ull);
	T.depth--;
}

__attribute__((constructor(102))) static void proc_ctor(void)
{
	if (atomic_load(&S.state) == SHIM_READY)
		pthread_atfork(NULL, NULL, atfork_child);
}

/* ---- exec ---- */

struct exec_arg {
	uint64_t path;
	int err;
};

static void fill_exec(struct vmt_rec *r, void *a)
{
	struct exec_arg *x = a;
	r->p.exec.path_hash = x->path;
	r->p.exec.err = x->err;
	if (x->err)
		r->flags |= VMT_F_FAILED;
}

static int env_has(char *const *envp, const char *kv)
{
	for (; envp && *envp; envp++)
		if (strcmp(*envp, kv) == 0)
			return 1;
	return 0;
}

/*
 * Programs that clean the environment would drop the shim from their
 * children; put LD_PRELOAD and the session back. Returns envp or a copy in
 * out (caller's VLA of n+5 entries).
 */
static size_t env_count(char *const *envp)
{
	size_t n = 0;
	while (envp && envp[n])
		n++;
	return n;
}

static char *const *env_fix(char *const *envp, char **out, char *ldp, size_t ldpsz, char *dirv,
			    size_t dirsz)
{
	if (!S.preload[0])
		return envp;
	snprintf(dirv, dirsz, "%s=%s", VMT_ENV_DIR, S.dir);
	const char *old = NULL;
	for (size_t i = 0; envp && envp[i]; i++)
		if (strncmp(envp[i], "LD_PRELOAD=", 11) == 0)
			old = envp[i] + 11;
	int have_pl = old && strstr(old, S.preload);
	if (have_pl && env_has(envp, dirv))
		return envp;
	if (have_pl)
		snprintf(ldp, ldpsz, "LD_PRELOAD=%s", old);
	else if (old && *old)
		snprintf(ldp, ldpsz, "LD_PRELOAD=%s:%s", S.preload, old);
	else
		snprintf(ldp, ldpsz, "LD_PRELOAD=%s", S.preload);
	size_t k = 0;
	for (size_t i = 0; envp && envp[i]; i++) {
		if (strncmp(envp[i], "LD_PRELOAD=", 11) == 0 ||
		    strncmp(envp[i], VMT_ENV_DIR "=", sizeof(VMT_ENV_DIR)) == 0)
			continue;
		out[k++] = envp[i];
	}
	out[k++] = ldp;
	out[k++] = dirv;
	out[k] = NULL;
	return out;
}

enum { EX_VE, EX_VPE, EX_FD, EX_AT };

static int do_exec(int how, int dirfd, const char *path, char *const argv[], char *const envp[],
		   int flags)
{
	if (!R.execve)
		shim_resolve();
	int active = proc_active(); /* a vfork child only re-injects the environment */
	char *fixed[env_count(envp) + 4];
	char ldp[1200], dirv[600];
	char *const *env = env_fix(envp, fixed, ldp, sizeof(ldp), dirv, sizeof(dirv));
	struct exec_arg xa = {0};
	uint32_t cid = 0;
	if (active) {
		enter();
		shim_checkpoint();
		obs_snapshot(VMT_CAUSE_EXEC, "exec");
		cid = shim_cid();
		xa.path = path ? shim_string(path, strlen(path)) : 0;
		emit_simple(VMT_EXEC, cid, 0, 0, fill_exec, &xa);
	}
	if (T.vfork_child) /* the parent, resumed, says whether the child exec'd */
		T.vfork_exec = 1;
	int r;
	switch (how) {
	case EX_VPE:
		r = R.execvpe(path, argv, env);
		break;
	case EX_FD:
		r = R.fexecve(dirfd, argv, env);
		break;
	case EX_AT:
		r = R.execveat ? R.execveat(dirfd, path, argv, env, flags)
			       : (int)shim_raw_syscall(SYS_execveat, dirfd, (long)path, (long)argv,
						       (long)env, flags, 0);
		break;
	default:
		r = R.execve(path, argv, env);
	}
	int e = errno;
	if (T.vfork_child)
		T.vfork_exec = 0;
	if (active) {
		xa.err = e;
		emit_simple(VMT_EXEC_FAIL, cid, 0, 0, fill_exec, &xa);
		leave();
	}
	errno = e;
	return r;
}

SHIM_EXPORT int execve(const char *p, char *const a[], char *const e[])
{
	return do_exec(EX_VE, -1, p, a, e, 0);
}
SHIM_EXPORT int execv(const char *p, char *const a[]) { return do_exec(EX_VE, -1, p, a, environ, 0); }
SHIM_EXPORT int execvpe(const char *f, char *const a[], char *const e[])
{
	return do_exec(EX_VPE, -1, f, a, e, 0);
}
SHIM_EXPORT int execvp(const char *f, char *const a[]) { return do_exec(EX_VPE, -1, f, a, environ, 0); }
SHIM_EXPORT int fexecve(int fd, char *const a[], char *const e[])
{
	return do_exec(EX_FD, fd, NULL, a, e, 0);
}
SHIM_EXPORT int execveat(int dfd, const char *p, char *const a[], char *const e[], int fl)
{
	return do_exec(EX_AT, dfd, p, a, e, fl);
}

#define COLLECT_ARGS(first, argv, envp_out)                                                        \
	size_t n_ = 1;                                                                             \
	va_list ap_;                                                                               \
	va_start(ap_, first);                                                                      \
	while (va_arg(ap_, char *))                                                                \
		n_++;                                                                              \
	va_end(ap_);                                                                               \
	char *argv[n_ + 1];                                                                        \
	va_start(ap_, first);                                                                      \
	argv[0] = (char *)first;                                                                   \
	for (size_t i_ = 1; i_ <= n_; i_++)                                                        \
		argv[i_] = va_arg(ap_, char *);                                                    \
	char **envp_out = va_arg(ap_, char **);                                                    \
	va_end(ap_);                                                                               \
	(void)envp_out

SHIM_EXPORT int execl(const char *p, const char *arg, ...)
{
	COLLECT_ARGS(arg, av, ev);
	return do_exec(EX_VE, -1, p, av, environ, 0);
}
SHIM_EXPORT int execlp(const char *f, const char *arg, ...)
{
	COLLECT_ARGS(arg, av, ev);
	return do_exec(EX_VPE, -1, f, av, environ, 0);
}
SHIM_EXPORT int execle(const char *p, const char *arg, ...)
{
	COLLECT_ARGS(arg, av, ev);
	return do_exec(EX_VE, -1, p, av, ev, 0);
}

/* ---- posix_spawn ---- */

static int do_spawn(int path_search, pid_t *pid, const char *path,
		    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at,
		    char *const argv[], char *const envp[])
{
	if (!R.posix_spawn)
		shim_resolve();
	int (*fn)(pid_t *, const char *, const void *, const void *, char *const[],
		  char *const[]) = path_search ? R.posix_spawnp : R.posix_spawn;
	char *fixed[env_count(envp) + 4];
	char ldp[1200], dirv[600];
	char *const *env = env_fix(envp, fixed, ldp, sizeof(ldp), dirv, sizeof(dirv));
	if (!proc_active())
		return fn(pid, path, fa, at, argv, env);
	pid_t local;
	if (!pid)
		pid = &local;
	enter();
	uint32_t cid = shim_cid();
	uint64_t t0 = shim_ticks();
	int r = fn(pid, path, fa, at, argv, env);
	uint64_t t1 = shim_ticks();
	struct fork_arg a = {.fid = 0, .child = r ? -1 : *pid, .err = r,
			     .kind = path_search ? VMT_SPAWN_KIND_POSIX_SPAWNP : VMT_SPAWN_KIND_POSIX_SPAWN};
	emit_simple(VMT_SPAWN, cid, t0, t1 - t0, fill_fork, &a);
	if (S.stack_depth)
		stacks_emit(cid, t0);
	leave();
	return r;
}

SHIM_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			    const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
	return do_spawn(0, pid, path, fa, at, argv, envp);
}

SHIM_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			     const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
	return do_spawn(1, pid, file, fa, at, argv, envp);
}

/* ---- exit ---- */

struct exit_arg {
	int status;
	unsigned how;
};
static void fill_exit(struct vmt_rec *r, void *a)
{
	struct exit_arg *x = a;
	r->p.exit.status = x->status;
	r->p.exit.how = x->how;
}

SHIM_EXPORT void exit(int status)
{
	if (!R.exit)
		shim_resolve();
	if (proc_active()) {
		struct exit_arg x = {status, 0};
		emit_simple(VMT_EXIT, shim_cid(), 0, 0, fill_exit, &x);
	}
	R.exit(status);
}

/* _exit in a vfork child must leave the parent's ring alone: proc_active() is 0 there. */
static void quick_exit_record(int status)
{
	if (!proc_active())
		return;
	enter();
	shim_checkpoint();
	obs_snapshot(VMT_CAUSE_EXIT, "_exit");
	struct exit_arg x = {status, 1};
	emit_simple(VMT_EXIT, shim_cid(), 0, 0, fill_exit, &x);
	shim_ring_close();
	leave();
}

SHIM_EXPORT void _exit(int status)
{
	if (!R._exit)
		shim_resolve();
	quick_exit_record(status);
	R._exit(status);
}

SHIM_EXPORT void _Exit(int status)
{
	if (!R._exit)
		shim_resolve();
	quick_exit_record(status);
	R._exit(status);
}

/* ---- dlopen / dlclose ---- */

static int dl_counts_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	unsigned long long *c = arg;
	c[0] = info->dlpi_adds;
	c[1] = info->dlpi_subs;
	return 1;
}

static void dl_counts(unsigned long long c[2])
{
	c[0] = c[1] = 0;
	dl_iterate_phdr(dl_counts_cb, c);
}

struct dl_arg {
	uint64_t name;
	uint64_t handle;
	int flags, err;
};
static void fill_dl(struct vmt_rec *r, void *a)
{
	struct dl_arg *d = a;
	r->p.dl.name_hash = d->name;
	r->p.dl.handle = d->handle;
	r->p.dl.flags = d->flags;
	r->p.dl.err = d->err;
	if (!d->handle && d->err)
		r->flags |= VMT_F_FAILED;
}

static void after_dl(uint16_t type, uint32_t cid, uint64_t t0, const char *name, void *h, int flags,
		     unsigned long long before[2])
{
	uint64_t t1 = shim_ticks();
	unsigned long long after[2];
	dl_counts(after);
	struct dl_arg d = {.name = name ? shim_string(name, strlen(name)) : 0,
			   .handle = (uintptr_t)h,
			   .flags = flags,
			   .err = type == VMT_DLOPEN ? !h : 0};
	emit_simple(type, cid, t0, t1 - t0, fill_dl, &d);
	if (after[0] != before[0] || after[1] != before[1]) {
		obs_maps_list(shim_cid(), VMT_LIST_INDIRECT, VMT_CAUSE_DLOPEN, NULL);
		obs_modules();
	}
}

SHIM_EXPORT void *dlopen(const char *file, int flags)
{
	if (!R.dlopen)
		shim_resolve();
	if (!hook_ok())
		return R.dlopen(file, flags);
	unsigned long long before[2];
	dl_counts(before);
	uint32_t cid = shim_cid();
	uint64_t t0 = shim_ticks();
	chg_hook_enter(); /* not T.depth: the library's constructors are the program's */
	void *h = R.dlopen(file, flags);
	T.depth++;
	after_dl(VMT_DLOPEN, cid, t0, file, h, flags, before);
	leave();
	return h;
}

SHIM_EXPORT void *dlmopen(Lmid_t lm, const char *file, int flags)
{
	if (!R.dlmopen)
		shim_resolve();
	if (!hook_ok())
		return R.dlmopen(lm, file, flags);
	unsigned long long before[2];
	dl_counts(before);
	uint32_t cid = shim_cid();
	uint64_t t0 = shim_ticks();
	chg_hook_enter(); /* not T.depth: the library's constructors are the program's */
	void *h = R.dlmopen(lm, file, flags);
	T.depth++;
	after_dl(VMT_DLOPEN, cid, t0, file, h, flags, before);
	leave();
	return h;
}

SHIM_EXPORT int dlclose(void *h)
{
	if (!R.dlclose)
		shim_resolve();
	if (!hook_ok())
		return R.dlclose(h);
	unsigned long long before[2];
	dl_counts(before);
	uint32_t cid = shim_cid();
	uint64_t t0 = shim_ticks();
	chg_hook_enter();
	int r = R.dlclose(h);
	T.depth++;
	after_dl(VMT_DLCLOSE, cid, t0, NULL, h, r, before);
	leave();
	return r;
}

/* ---- locales: glibc maps locale files internally, the first time a locale
 * is loaded (setlocale, newlocale; it keeps them afterwards) ---- */

SHIM_EXPORT char *setlocale(int cat, const char *loc)
{
	if (!R.setlocale)
		shim_resolve();
	if (!loc || !hook_ok())
		return R.setlocale(cat, loc);
	chg_hook_enter();
	char *r = R.setlocale(cat, loc);
	int e = errno;
	T.depth++;
	obs_maps_list(shim_cid(), VMT_LIST_INDIRECT, VMT_CAUSE_LOCALE, NULL);
	leave();
	errno = e;
	return r;
}

/*
 * newlocale: C++ programs call it often, with the same few names; glibc maps
 * a locale's files only on its first load. So the map is listed only for a
 * (categories, name) pair not seen before (a small lock-free set; when it
 * is full, every call lists).
 */
#define NLOCALES 128
static _Atomic uint64_t locales_seen[NLOCALES];

static int locale_new(int mask, const char *name)
{
	size_t n = name ? strnlen(name, 256) : 0;
	uint64_t h = vmt_hash(name ? name : "", n) ^ ((uint64_t)(unsigned)mask * 0x9e3779b97f4a7c15ull);
	h = h ? h : 1;
	for (unsigned i = 0; i < 16; i++) {
		_Atomic uint64_t *e = &locales_seen[(h + i) & (NLOCALES - 1)];
		uint64_t v = atomic_load_explicit(e, memory_order_relaxed);
		if (v == h)
			return 0;
		if (v == 0) {
			uint64_t z = 0;
			if (atomic_compare_exchange_strong(e, &z, h) || z == h)
				return z != h;
		}
	}
	return 1;
}

SHIM_EXPORT locale_t newlocale(int mask, const char *name, locale_t base)
{
	if (!R.newlocale)
		shim_resolve();
	if (!name || !locale_new(mask, name) || !hook_ok())
		return R.newlocale(mask, name, base);
	chg_hook_enter();
	locale_t r = R.newlocale(mask, name, base);
	int e = errno;
	T.depth++;
	obs_maps_list(shim_cid(), VMT_LIST_INDIRECT, VMT_CAUSE_LOCALE, NULL);
	leave();
	errno = e;
	return r;
}

/* ---- POSIX semaphores: sem_open maps /dev/shm/sem.* inside glibc ---- */

#include <fcntl.h>
#include <semaphore.h>

SHIM_EXPORT sem_t *sem_open(const char *name, int oflag, ...)
{
	static sem_t *(*real)(const char *, int, ...);
	if (!real)
		real = (sem_t * (*)(const char *, int, ...)) dlsym(RTLD_NEXT, "sem_open");
	mode_t mode = 0;
	unsigned value = 0;
	if (oflag & O_CREAT) {
		va_list ap;
		va_start(ap, oflag);
		mode = va_arg(ap, mode_t);
		value = va_arg(ap, unsigned);
		va_end(ap);
	}
	if (!hook_ok())
		return real(name, oflag, mode, value);
	chg_hook_enter();
	sem_t *s = real(name, oflag, mode, value);
	int e = errno;
	T.depth++;
	if (s != SEM_FAILED) {
		chg_note((uintptr_t)s, (uintptr_t)s + PAGE_SZ);
		obs_list(shim_cid(), PAGE_DOWN(s), PAGE_DOWN(s) + PAGE_SZ, VMT_LIST_INDIRECT,
			 VMT_CAUSE_CALL);
	}
	leave();
	errno = e;
	return s;
}

SHIM_EXPORT int sem_close(sem_t *s)
{
	static int (*real)(sem_t *);
	if (!real)
		real = (int (*)(sem_t *))dlsym(RTLD_NEXT, "sem_close");
	uintptr_t lo = 0, hi = 0;
	if (!hook_ok())
		return real(s);
	chg_hook_enter();
	obs_vma_at((uintptr_t)s, &lo, &hi);
	chg_begin(lo, hi > lo ? hi : ~0ul);
	int r = real(s);
	int e = errno;
	chg_end(lo, hi);
	T.depth++;
	if (hi > lo)
		obs_list(shim_cid(), lo, hi, VMT_LIST_INDIRECT, VMT_CAUSE_CALL);
	leave();
	errno = e;
	return r;
}
