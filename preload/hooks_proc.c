/*
 * hooks_proc.c - interposed process calls: fork, vfork, _Fork,
 * posix_spawn[p], the exec family, exit/_exit/_Exit, dlopen/dlmopen/dlclose,
 * pthread_create/join/exit, setlocale.
 *
 * Owns fork following (VMT_FORK_PRE before the real fork, VMT_FORK after it
 * with the latency; the child makes its own ring and announces itself with
 * VMT_PROC_START {cause FORK, fork id}), the exec snapshot and environment
 * re-injection, the thread-stack table (stacks glibc maps for threads and
 * may unmap later from its cache) and the checkpoints that find changes no
 * call shows (main stack growth, program break).
 *
 * vfork is run as fork: a vfork child shares the parent's memory, and any
 * shim work in it would write the parent's state. A fork child is
 * indistinguishable for a correct vfork user (exec or _exit only).
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

static inline int hook_ok(void)
{
	int st = atomic_load_explicit(&S.state, memory_order_acquire);
	if (st == SHIM_OFF) {
		shim_init();
		st = atomic_load_explicit(&S.state, memory_order_acquire);
	}
	return st == SHIM_READY && !shim_in_fork && shim_depth == 0;
}

static void emit_simple(uint16_t type, uint32_t cid, uint64_t ts, uint64_t dur, void (*fill)(struct vmt_rec *, void *),
			void *arg)
{
	uint64_t pos;
	struct vmt_rec *r = rec_begin(type, cid, ts, 1, &pos);
	if (!r)
		return;
	r->dur = dur > 0xffffffffull ? 0xffffffffu : (uint32_t)dur;
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
	obs_list(shim_cid(), s > PAGE_SZ ? s - PAGE_SZ : s, e, VMT_LIST_INDIRECT, VMT_CAUSE_THREAD);
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
		obs_list(shim_cid(), todo[i][0] > PAGE_SZ ? todo[i][0] - PAGE_SZ : todo[i][0],
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

static void *tramp_start(void *p)
{
	struct tramp t = *(struct tramp *)p;
	/* This free is the thread's first malloc-family call: glibc creates the
	 * thread's arena (a new heap mapping) inside it. Probe it. */
	__libc_free(p);
	if (shim_active()) {
		shim_depth++;
		thread_observe_stack();
		void *probe = __libc_malloc(32);
		malloc_observe(probe);
		__libc_free(probe);
		shim_depth--;
	}
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
	int r = R.pthread_create(th, attr, tramp_start, t);
	if (r)
		__libc_free(t);
	int e = errno;
	shim_depth++;
	threads_check_retired();
	shim_depth--;
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
		shim_depth++;
		threads_check_retired();
		shim_depth--;
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
}

static pid_t real_fork_kind(unsigned kind)
{
	if (kind == 2 && R._Fork)
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

static pid_t do_fork(unsigned kind)
{
	if (!R.fork)
		shim_resolve();
	if (!hook_ok())
		return real_fork_kind(kind);
	shim_depth++;
	shim_checkpoint();
	uint32_t cid = shim_cid();
	uint64_t fid = ((uint64_t)(uint32_t)S.pid << 32) |
		       (atomic_fetch_add(&S.fork_seq, 1) + 1);
	struct fork_arg fa = {.fid = fid, .child = 0, .kind = kind,
			      .gen = atomic_load_explicit(&S.gen, memory_order_acquire)};
	emit_simple(VMT_FORK_PRE, cid, 0, 0, fill_fork, &fa);
	pid_t ppid = S.pid;
	uint64_t t0 = shim_now();
	shim_in_fork = 1;
	pid_t p = real_fork_kind(kind);
	int e = errno;
	uint64_t t1 = shim_now();
	shim_in_fork = 0;
	if (p == 0) {
		atomic_store(&tstack_lock, 0);
		int busy = chg_after_fork();
		shim_after_fork_child(fid, t0, ppid);
		/* Another thread changed VMAs between VMT_FORK_PRE (where vmatop
		 * copies the parent's mirror) and the fork: look again, whole. */
		if (busy || atomic_load(&S.gen) != fa.gen)
			obs_maps_list(shim_cid(), VMT_LIST_DISCOVER, VMT_CAUSE_FORK, NULL);
		shim_depth--;
		errno = e;
		return 0;
	}
	fa.child = p;
	fa.err = p < 0 ? e : 0;
	emit_simple(VMT_FORK, cid, t0, t1 - t0, fill_fork, &fa);
	if (S.stack_depth)
		stacks_emit(cid, t0);
	shim_depth--;
	errno = e;
	return p;
}

SHIM_EXPORT pid_t fork(void) { return do_fork(0); }
SHIM_EXPORT pid_t vfork(void) { return do_fork(1); }
SHIM_EXPORT pid_t _Fork(void) { return do_fork(2); }

/* A fork we did not see (glibc-internal, e.g. daemon()): make the child's ring. */
static void atfork_child(void)
{
	if (shim_in_fork || atomic_load(&S.state) != SHIM_READY)
		return;
	atomic_store(&tstack_lock, 0);
	chg_after_fork();
	pid_t ppid = S.pid;
	shim_depth++;
	shim_after_fork_child(0, shim_now(), ppid);
	shim_depth--;
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
	int active = hook_ok();
	char *fixed[env_count(envp) + 4];
	char ldp[1200], dirv[600];
	char *const *env = env_fix(envp, fixed, ldp, sizeof(ldp), dirv, sizeof(dirv));
	struct exec_arg xa = {0};
	uint32_t cid = 0;
	if (active) {
		shim_depth++;
		shim_checkpoint();
		obs_snapshot(VMT_CAUSE_EXEC, "exec");
		cid = shim_cid();
		xa.path = path ? shim_string(path, strlen(path)) : 0;
		emit_simple(VMT_EXEC, cid, 0, 0, fill_exec, &xa);
	}
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
	if (active) {
		xa.err = e;
		emit_simple(VMT_EXEC_FAIL, cid, 0, 0, fill_exec, &xa);
		shim_depth--;
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
	if (!hook_ok())
		return fn(pid, path, fa, at, argv, env);
	pid_t local;
	if (!pid)
		pid = &local;
	shim_depth++;
	uint32_t cid = shim_cid();
	uint64_t t0 = shim_now();
	int r = fn(pid, path, fa, at, argv, env);
	uint64_t t1 = shim_now();
	struct fork_arg a = {.fid = 0, .child = r ? -1 : *pid, .err = r, .kind = path_search};
	emit_simple(VMT_SPAWN, cid, t0, t1 - t0, fill_fork, &a);
	if (S.stack_depth)
		stacks_emit(cid, t0);
	shim_depth--;
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
	if (hook_ok()) {
		struct exit_arg x = {status, 0};
		emit_simple(VMT_EXIT, shim_cid(), 0, 0, fill_exit, &x);
	}
	R.exit(status);
}

static void quick_exit_record(int status)
{
	if (!hook_ok())
		return;
	shim_depth++;
	shim_checkpoint();
	obs_snapshot(VMT_CAUSE_EXIT, "_exit");
	struct exit_arg x = {status, 1};
	emit_simple(VMT_EXIT, shim_cid(), 0, 0, fill_exit, &x);
	shim_ring_close();
	shim_depth--;
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
	uint64_t t1 = shim_now();
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
	uint64_t t0 = shim_now();
	void *h = R.dlopen(file, flags);
	shim_depth++;
	after_dl(VMT_DLOPEN, cid, t0, file, h, flags, before);
	shim_depth--;
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
	uint64_t t0 = shim_now();
	void *h = R.dlmopen(lm, file, flags);
	shim_depth++;
	after_dl(VMT_DLOPEN, cid, t0, file, h, flags, before);
	shim_depth--;
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
	uint64_t t0 = shim_now();
	int r = R.dlclose(h);
	shim_depth++;
	after_dl(VMT_DLCLOSE, cid, t0, NULL, h, r, before);
	shim_depth--;
	return r;
}

/* ---- locales: glibc maps locale files internally (setlocale; newlocale is
 * left alone: C++ programs call it often and it rarely maps) ---- */

SHIM_EXPORT char *setlocale(int cat, const char *loc)
{
	if (!R.setlocale)
		shim_resolve();
	char *r = R.setlocale(cat, loc);
	if (loc && hook_ok()) {
		int e = errno;
		shim_depth++;
		obs_maps_list(shim_cid(), VMT_LIST_INDIRECT, VMT_CAUSE_LOCALE, NULL);
		shim_depth--;
		errno = e;
	}
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
	sem_t *s = real(name, oflag, mode, value);
	if (s != SEM_FAILED && hook_ok()) {
		int e = errno;
		shim_depth++;
		chg_note((uintptr_t)s, (uintptr_t)s + PAGE_SZ);
		obs_list(shim_cid(), PAGE_DOWN(s), PAGE_DOWN(s) + PAGE_SZ, VMT_LIST_INDIRECT,
			 VMT_CAUSE_CALL);
		shim_depth--;
		errno = e;
	}
	return s;
}

SHIM_EXPORT int sem_close(sem_t *s)
{
	static int (*real)(sem_t *);
	if (!real)
		real = (int (*)(sem_t *))dlsym(RTLD_NEXT, "sem_close");
	uintptr_t lo = 0, hi = 0;
	int active = hook_ok();
	if (active)
		obs_vma_at((uintptr_t)s, &lo, &hi);
	int r = real(s);
	if (active && hi > lo) {
		int e = errno;
		shim_depth++;
		chg_note(lo, hi);
		obs_list(shim_cid(), lo, hi, VMT_LIST_INDIRECT, VMT_CAUSE_CALL);
		shim_depth--;
		errno = e;
	}
	return r;
}
