/*
 * tap.h - a tiny header-only TAP producer for the C tests.
 *
 * Owns the test-point counter of one test program. Usage:
 *
 *   plan(3);                     or plan_no_plan() ... done_testing()
 *   ok(x == 1, "x is %d", x);    returns the condition (evaluated first)
 *   skip(2, "no valgrind");      prints "ok N # skip reason" twice
 *   diag("seed %u", seed);       "# ..." comment line
 *   return tap_exit();           0 if every point passed and the plan held
 *
 * Output goes to stdout, unbuffered per line, so that diagnostics and test
 * points stay in order under prove. Each program includes this header once.
 */
#ifndef VMATOP_TESTS_TAP_H
#define VMATOP_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned tap_n_;	      /* test points emitted */
static unsigned tap_failed_;  /* of which failed */
static unsigned tap_planned_; /* 0: no plan yet */
static int tap_noplan_;

static inline void tap_init_(void)
{
	static int done;
	if (!done) {
		setvbuf(stdout, NULL, _IOLBF, 0);
		done = 1;
	}
}

static inline void plan(unsigned n)
{
	tap_init_();
	tap_planned_ = n;
	printf("1..%u\n", n);
}

static inline void plan_no_plan(void)
{
	tap_init_();
	tap_noplan_ = 1;
}

static inline void plan_skip_all(const char *reason)
{
	tap_init_();
	printf("1..0 # SKIP %s\n", reason);
	exit(0);
}

__attribute__((format(printf, 1, 2))) static inline void diag(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	tap_init_();
	/* one "# " per line so multi-line messages stay TAP comments */
	char *p = buf;
	for (;;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = 0;
		printf("# %s\n", p);
		if (!nl || !nl[1])
			break;
		p = nl + 1;
	}
}

__attribute__((format(printf, 2, 3))) static inline int ok_(int cond, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	tap_init_();
	tap_n_++;
	if (!cond)
		tap_failed_++;
	printf("%sok %u - %s\n", cond ? "" : "not ", tap_n_, buf);
	return cond;
}

/* the condition is evaluated before the message's arguments (GNU C) */
#define ok(cond, ...)                                                                              \
	({                                                                                         \
		int ok_cond_ = !!(cond);                                                           \
		ok_(ok_cond_, __VA_ARGS__);                                                        \
	})

static inline void skip(unsigned n, const char *reason)
{
	tap_init_();
	while (n--)
		printf("ok %u # skip %s\n", ++tap_n_, reason);
}

static inline void bail_out(const char *reason)
{
	tap_init_();
	printf("Bail out! %s\n", reason);
	exit(255);
}

static inline void done_testing(void)
{
	if (tap_noplan_ && !tap_planned_) {
		tap_planned_ = tap_n_;
		printf("1..%u\n", tap_n_);
	}
}

/* Exit status: nonzero if any test point failed or the plan was not met. */
static inline int tap_exit(void)
{
	done_testing();
	if (tap_planned_ != tap_n_) {
		diag("planned %u tests but ran %u", tap_planned_, tap_n_);
		return 255;
	}
	if (tap_failed_) {
		diag("failed %u of %u tests", tap_failed_, tap_n_);
		return tap_failed_ > 254 ? 254 : (int)tap_failed_;
	}
	return 0;
}

#endif
