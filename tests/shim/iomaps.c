/*
 * iomaps.c - scenarios whose VMAs the kernel makes for an I/O object, run
 * under `vmatop record` by tests/shim-io.t (each trace must verify with 0
 * mismatches):
 *   aio    libaio (io_setup/io_queue_init through glibc's syscall()): two
 *          [aio] rings, one destroyed, a fork child that inherits the other
 *   uring  liburing (its own syscalls): two rings, one torn down, a buffer
 *          ring when liburing has io_uring_setup_buf_ring, a fork child
 *   uffd   userfaultfd: registrations that split an anonymous mapping, an
 *          unregistration, a bad argument (EFAULT), and with "close" the
 *          descriptor closed while registered (the kernel merges back)
 * Each prints one line "NAME ..." with what it made, for the test to check
 * the trace against.
 */
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <linux/userfaultfd.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096ul
#define CHECK(x)                                                                           \
	do {                                                                               \
		if (!(x)) {                                                                \
			fprintf(stderr, "iomaps: %s:%d: %s (%s)\n", __FILE__, __LINE__, #x,   \
				strerror(errno));                                          \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

static void child_and_wait(void)
{
	pid_t p = fork();
	CHECK(p >= 0);
	if (p == 0) {
		void *m = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		_exit(m == MAP_FAILED);
	}
	int st;
	CHECK(waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void s_aio(void)
{
	io_context_t a = 0, b = 0;
	CHECK(io_setup(32, &a) == 0);
	CHECK(io_queue_init(16, &b) == 0);
	CHECK(io_destroy(a) == 0);
	child_and_wait();
	printf("aio destroyed %#lx kept %#lx\n", (unsigned long)a, (unsigned long)b);
}

static void s_uring(void)
{
	struct io_uring a, b;
	CHECK(io_uring_queue_init(64, &a, 0) == 0);
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	CHECK(io_uring_queue_init_params(8, &b, &p) == 0);
	int bufring = 0;
#ifdef IO_URING_VERSION_MAJOR /* liburing >= 2.4 has io_uring_setup_buf_ring */
#if IO_URING_VERSION_MAJOR > 2 || IO_URING_VERSION_MINOR >= 4
	int err = 0;
	struct io_uring_buf_ring *br = io_uring_setup_buf_ring(&b, 8, 1, 0, &err);
	if (br) {
		bufring = 1;
		CHECK(io_uring_free_buf_ring(&b, br, 8, 1) == 0);
	}
#endif
#endif
	/* a no-op through the ring: it works with the shim in the process */
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b);
	CHECK(sqe != NULL);
	io_uring_prep_nop(sqe);
	CHECK(io_uring_submit(&b) == 1);
	struct io_uring_cqe *cqe;
	CHECK(io_uring_wait_cqe(&b, &cqe) == 0 && cqe->res == 0);
	io_uring_cqe_seen(&b, cqe);
	io_uring_queue_exit(&a);
	child_and_wait();
	printf("uring rings %d bufring %d\n", 2, bufring);
}

static void s_uffd(int close_it)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (fd < 0) {
		printf("uffd unavailable %d\n", errno);
		return;
	}
	struct uffdio_api api = {.api = UFFD_API};
	CHECK(ioctl(fd, UFFDIO_API, &api) == 0);
	char *m = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(m != MAP_FAILED);
	/* another hook takes the mmap's deferred list: the mirror has the
	 * mapping whole before the registrations split it */
	void *q = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(q != MAP_FAILED && munmap(q, PG) == 0);
	struct uffdio_register r1 = {.range = {(unsigned long)m + PG, PG},
				     .mode = UFFDIO_REGISTER_MODE_MISSING};
	CHECK(ioctl(fd, UFFDIO_REGISTER, &r1) == 0);
	struct uffdio_register r2 = {.range = {(unsigned long)m + 5 * PG, 2 * PG},
				     .mode = UFFDIO_REGISTER_MODE_MISSING};
	CHECK(ioctl(fd, UFFDIO_REGISTER, &r2) == 0);
	/* a bad argument: EFAULT for the program, not a crash in the shim */
	errno = 0;
	CHECK(ioctl(fd, UFFDIO_REGISTER, (void *)8) == -1 && errno == EFAULT);
	struct uffdio_range un = {(unsigned long)m + 5 * PG, PG};
	CHECK(ioctl(fd, UFFDIO_UNREGISTER, &un) == 0);
	if (close_it)
		CHECK(close(fd) == 0);
	child_and_wait();
	printf("uffd at %#lx closed %d\n", (unsigned long)m, close_it);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: iomaps aio|uring|uffd [close]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(argv[1], "aio"))
		s_aio();
	else if (!strcmp(argv[1], "uring"))
		s_uring();
	else if (!strcmp(argv[1], "uffd"))
		s_uffd(argc > 2 && !strcmp(argv[2], "close"));
	else {
		fprintf(stderr, "iomaps: unknown scenario %s\n", argv[1]);
		return 2;
	}
	return 0;
}
