/*
 * hooks_io.c - I/O interfaces whose kernel objects map or reshape VMAs
 * behind the memory calls' back:
 *
 *   Linux AIO     io_setup maps the context's ring ("/[aio] (deleted)") at
 *                 the address it returns as the context id; io_destroy
 *                 unmaps it. libaio >= 0.3.111 makes both through glibc's
 *                 syscall(), which routes them here (hooks_mem.c).
 *   io_uring      liburing makes its syscalls itself (io_uring_setup, the
 *                 rings' mmap and munmap): no libc call sees them, so its
 *                 entry points that map or unmap are interposed by name and
 *                 the whole map is listed after each (VMT_LIBCALL, then an
 *                 indirect list: the rings' addresses are in liburing's
 *                 struct, whose layout the shim does not assume).
 *   userfaultfd   ioctl UFFDIO_REGISTER / UFFDIO_UNREGISTER split and merge
 *                 VMAs over their range (the VMA's uffd flags, which
 *                 /proc/PID/maps does not show); close() of a registered
 *                 userfaultfd merges them back, everywhere it was
 *                 registered: the whole map is listed after it.
 *
 * Each is recorded (VMT_SYSCALL with extra = the syscall number, or
 * VMT_LIBCALL) and followed by the list of what it changed, with the
 * call-record pattern of hooks_mem.c (shim.h BEGIN/AFTER/END).
 */
#include "shim.h"

#include <dlfcn.h>
#include <errno.h>
#include <linux/aio_abi.h>
#include <linux/userfaultfd.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- Linux AIO rings ------------------------------------------------- */

int io_syscall_nr(long nr) { return nr == SYS_io_setup || nr == SYS_io_destroy; }

/* io_setup(nr_events, ctx_idp) / io_destroy(ctx_id) made through syscall() */
long io_syscall(long nr, long a, long b)
{
	if (!vma_hook_ok())
		return raw_ret(shim_raw_syscall(nr, a, b, 0, 0, 0, 0));
	int e;
	BEGIN(); /* the ring goes where the kernel puts it */
	long r = raw_ret(shim_raw_syscall(nr, a, b, 0, 0, 0, 0));
	AFTER();
	/* the context id is the ring's address: io_setup wrote it (it
	 * succeeded: the kernel could write there, so can we read it) */
	uintptr_t ring = 0;
	if (r == 0)
		ring = nr == SYS_io_setup ? (uintptr_t)*(aio_context_t *)b : (uintptr_t)a;
	int listed = ring && ring == PAGE_DOWN(ring);
	call_record_mem(&c, VMT_SYSCALL, (uint64_t)a, (uint64_t)b, 0, 0, 0, 0, r, r ? e : 0,
			(uint32_t)nr, listed);
	/* the VMAs meeting the ring's first page: after io_setup the ring,
	 * after io_destroy none (a list replaces every VMA it meets) */
	if (listed)
		list_range(call_cid(&c), ring, PAGE_SZ);
	END();
	return r;
}

/* ---- liburing ----------------------------------------------------------- */

struct io_uring;
struct io_uring_params;
struct io_uring_buf_ring;

/* liburing's own definition of name (the next after this library), looked
 * up once; NULL: no liburing in the process (a program that found our
 * symbol with dlsym(RTLD_DEFAULT) gets -ENOSYS, as from a kernel without
 * io_uring). */
static void *uring_next(const char *name, void *_Atomic *cache)
{
	void *f = atomic_load_explicit(cache, memory_order_acquire);
	if (!f) {
		f = dlsym(RTLD_NEXT, name);
		atomic_store_explicit(cache, f, memory_order_release);
	}
	return f;
}

/* Record this liburing call? liburing's entry points call each other: only
 * the outermost one records and lists. */
static int uring_recording(void) { return T.depth == 0 && vma_hook_ok(); }

/* The call's record (its name interned) and the whole map after it; between
 * AFTER() and END() of the call-record pattern (shim.h). */
static void uring_record(struct shim_call *c, const char *name, uint64_t a1, uint64_t a2,
			 int64_t ret, int err)
{
	uint64_t fn = shim_string(name, strlen(name));
	call_record_mem(c, VMT_LIBCALL, fn, a1, a2, 0, 0, 0, ret, err, VMT_CAUSE_IO, 1);
	obs_maps_list(call_cid(c), VMT_LIST_INDIRECT, VMT_CAUSE_IO, NULL);
}

/*
 * An entry point that returns int (liburing: 0 or -errno): liburing's own
 * definition is found under the same name the hook is exported as; a1 and
 * a2 are the arguments the record keeps.
 */
#define URING_INT_HOOK(name, params, args, a1, a2)                                                 \
	SHIM_EXPORT int name params                                                                \
	{                                                                                          \
		static void *_Atomic next;                                                         \
		int(*fn) params = uring_next(#name, &next);                                       \
		if (!fn)                                                                           \
			return -ENOSYS;                                                            \
		if (!uring_recording())                                                            \
			return fn args;                                                            \
		int e;                                                                             \
		BEGIN(); /* the rings go where the kernel puts them */                             \
		int r = fn args;                                                                   \
		AFTER();                                                                           \
		uring_record(&c, #name, a1, a2, r, r < 0 ? -r : 0);                                \
		END();                                                                             \
		return r;                                                                          \
	}

URING_INT_HOOK(io_uring_queue_init, (unsigned entries, struct io_uring *ring, unsigned flags),
	       (entries, ring, flags), entries, (uintptr_t)ring)
URING_INT_HOOK(io_uring_queue_init_params,
	       (unsigned entries, struct io_uring *ring, struct io_uring_params *p),
	       (entries, ring, p), entries, (uintptr_t)ring)
/* liburing >= 2.5 (buf: the caller's memory for the rings, or none) */
URING_INT_HOOK(io_uring_queue_init_mem,
	       (unsigned entries, struct io_uring *ring, struct io_uring_params *p, void *buf,
		size_t buf_size),
	       (entries, ring, p, buf, buf_size), entries, (uintptr_t)ring)
/* the rings of a ring fd set up elsewhere */
URING_INT_HOOK(io_uring_queue_mmap, (int fd, struct io_uring_params *p, struct io_uring *ring),
	       (fd, p, ring), (uint64_t)(int64_t)fd, (uintptr_t)ring)
/* liburing >= 2.9: new rings in place of the old */
URING_INT_HOOK(io_uring_resize_rings, (struct io_uring *ring, struct io_uring_params *p),
	       (ring, p), (uintptr_t)ring, 0)
URING_INT_HOOK(io_uring_free_buf_ring,
	       (struct io_uring *ring, struct io_uring_buf_ring *br, unsigned int nentries,
		int bgid),
	       (ring, br, nentries, bgid), (uintptr_t)ring, (uintptr_t)br)

SHIM_EXPORT void io_uring_queue_exit(struct io_uring *ring)
{
	static void *_Atomic next;
	void (*fn)(struct io_uring *) = uring_next("io_uring_queue_exit", &next);
	if (!fn)
		return;
	if (!uring_recording()) {
		fn(ring);
		return;
	}
	int e;
	BEGIN();
	fn(ring);
	AFTER();
	uring_record(&c, "io_uring_queue_exit", (uintptr_t)ring, 0, 0, 0);
	END();
}

/* liburing >= 2.4: a provided-buffer ring mmapped by liburing (NULL and
 * *err on failure) */
SHIM_EXPORT struct io_uring_buf_ring *io_uring_setup_buf_ring(struct io_uring *ring,
							     unsigned int nentries, int bgid,
							     unsigned int flags, int *err)
{
	static void *_Atomic next;
	struct io_uring_buf_ring *(*fn)(struct io_uring *, unsigned int, int, unsigned int,
					int *) = uring_next("io_uring_setup_buf_ring", &next);
	if (!fn) {
		if (err)
			*err = -ENOSYS;
		return NULL;
	}
	if (!uring_recording())
		return fn(ring, nentries, bgid, flags, err);
	int e;
	BEGIN();
	struct io_uring_buf_ring *br = fn(ring, nentries, bgid, flags, err);
	AFTER();
	int fe = !br && err && *err < 0 ? -*err : br ? 0 : EINVAL;
	uring_record(&c, "io_uring_setup_buf_ring", (uintptr_t)ring, nentries,
		     br ? (int64_t)(uintptr_t)br : -1, fe);
	END();
	return br;
}

/* ---- userfaultfd ---------------------------------------------------------- */

/* Userfaultfds with a registration (close lists the whole map): a few slots;
 * more than fit, and every close lists (uffd_overflow). */
#define UFFD_SLOTS 16
static _Atomic int uffd_fds[UFFD_SLOTS]; /* fd + 1; 0: free */
static _Atomic int uffd_count;		 /* slots in use, or overflowed */
static _Atomic int uffd_overflow;

static void uffd_note(int fd)
{
	for (int i = 0; i < UFFD_SLOTS; i++)
		if (atomic_load_explicit(&uffd_fds[i], memory_order_relaxed) == fd + 1)
			return;
	for (int i = 0; i < UFFD_SLOTS; i++) {
		int free_slot = 0;
		if (atomic_compare_exchange_strong(&uffd_fds[i], &free_slot, fd + 1)) {
			atomic_fetch_add(&uffd_count, 1);
			return;
		}
	}
	atomic_store(&uffd_overflow, 1);
	atomic_fetch_add(&uffd_count, 1);
}

/* fd is (or may be) a registered userfaultfd; forget it when it goes */
static int uffd_known(int fd, int forget)
{
	if (atomic_load_explicit(&uffd_overflow, memory_order_relaxed))
		return 1;
	for (int i = 0; i < UFFD_SLOTS; i++) {
		int v = fd + 1;
		if (atomic_load_explicit(&uffd_fds[i], memory_order_relaxed) != v)
			continue;
		if (forget && atomic_compare_exchange_strong(&uffd_fds[i], &v, 0))
			atomic_fetch_sub(&uffd_count, 1);
		return 1;
	}
	return 0;
}

/* Copy the range of a uffd ioctl's argument without trusting the pointer
 * (the target's bad pointer is its EFAULT, never the shim's SIGSEGV). */
static int uffd_range(void *arg, struct uffdio_range *rg)
{
	struct iovec local = {rg, sizeof(*rg)}, remote = {arg, sizeof(*rg)};
	long self = shim_raw_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0); /* S.pid may lag in a raw child */
	return shim_raw_syscall(SYS_process_vm_readv, self, (long)&local, 1, (long)&remote, 1, 0) ==
	       (long)sizeof(*rg);
}

static int real_ioctl(int fd, unsigned long req, void *arg)
{
	if (R.ioctl)
		return R.ioctl(fd, req, arg);
	return (int)raw_ret(shim_raw_syscall(SYS_ioctl, fd, (long)req, (long)arg, 0, 0, 0));
}

static int real_close(int fd)
{
	if (R.close)
		return R.close(fd);
	return (int)raw_ret(shim_raw_syscall(SYS_close, fd, 0, 0, 0, 0, 0));
}

/* Every ioctl argument is one register wide on the ABIs the shim supports:
 * the third is passed on as a pointer. */
SHIM_EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	/* the kernel takes the request as 32 bits (a caller's int may arrive
	 * sign-extended) */
	unsigned cmd = (unsigned)req;
	if (__builtin_expect(cmd != UFFDIO_REGISTER && cmd != UFFDIO_UNREGISTER, 1) ||
	    !vma_hook_ok())
		return real_ioctl(fd, req, arg);
	/* both arguments start with the range */
	struct uffdio_range rg = {0, 0};
	int have = uffd_range(arg, &rg) && rg.len > 0 && rg.start + rg.len > rg.start;
	int e;
	BEGIN_R(have ? PAGE_DOWN(rg.start) : 0, have ? PAGE_UP(rg.start + rg.len) : ~0ul);
	int r = real_ioctl(fd, req, arg);
	AFTER();
	/* listed failed or not (a registration may stop part way), unless the
	 * kernel could not read the range either */
	int listed = have || r == 0;
	call_record_mem(&c, VMT_SYSCALL, (uint64_t)(int64_t)fd, cmd, (uintptr_t)arg, rg.start,
			rg.len, 0, r, r ? e : 0, SYS_ioctl, listed);
	if (have)
		obs_list(call_cid(&c), PAGE_DOWN(rg.start), PAGE_UP(rg.start + rg.len),
			 VMT_LIST_OBSERVE, VMT_CAUSE_CALL);
	else if (listed)
		obs_maps_list(call_cid(&c), VMT_LIST_OBSERVE, VMT_CAUSE_CALL, NULL);
	if (r == 0 && cmd == UFFDIO_REGISTER)
		uffd_note(fd);
	END();
	return r;
}

SHIM_EXPORT int close(int fd)
{
	if (__builtin_expect(!atomic_load_explicit(&uffd_count, memory_order_relaxed), 1) ||
	    fd < 0 || !uffd_known(fd, 0) || !vma_hook_ok())
		return real_close(fd);
	int e;
	BEGIN();
	int r = real_close(fd);
	AFTER();
	if (r == 0 || e == EBADF)
		uffd_known(fd, 1);
	call_record_mem(&c, VMT_SYSCALL, (uint64_t)(int64_t)fd, 0, 0, 0, 0, 0, r, r ? e : 0,
			SYS_close, 1);
	/* the last reference gone, the kernel merged every VMA it had split */
	obs_maps_list(call_cid(&c), VMT_LIST_OBSERVE, VMT_CAUSE_CALL, NULL);
	END();
	return r;
}
