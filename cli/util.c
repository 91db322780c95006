/*
 * util.c - error reporting, allocation wrappers, growable arrays, time
 * parsing/formatting and percentiles for the vmatop commands.
 */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *prog = "vmatop";

#ifdef VMATOP_FUZZ
/* tests/fuzz: an error ends the input, not the fuzzer (see util.h) */
jmp_buf *fuzz_exit;
void (*fuzz_cleanup)(void);
#endif

void warnx_(const char *fmt, ...)
{
	va_list ap;
#ifdef VMATOP_FUZZ
	if (fuzz_exit)
		return; /* thousands of inputs a second: no messages */
#endif
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void diex(int code, const char *fmt, ...)
{
	va_list ap;
#ifdef VMATOP_FUZZ
	if (fuzz_exit) {
		if (fuzz_cleanup) /* while the command's frames still exist */
			fuzz_cleanup();
		longjmp(*fuzz_exit, code + 1);
	}
#endif
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(code);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		diex(EXIT_FAIL, "out of memory (%zu bytes)", n);
	return p;
}

void *xcalloc(size_t a, size_t b)
{
	void *p = calloc(a ? a : 1, b ? b : 1);
	if (!p)
		diex(EXIT_FAIL, "out of memory");
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		diex(EXIT_FAIL, "out of memory (%zu bytes)", n);
	return p;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		diex(EXIT_FAIL, "out of memory");
	return d;
}

void vec_reserve(void **arr, size_t *cap, size_t n, size_t sz)
{
	if (n <= *cap)
		return;
	size_t c = *cap ? *cap * 2 : 16;
	while (c < n)
		c *= 2;
	*arr = xrealloc(*arr, c * sz);
	*cap = c;
}

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t parse_duration(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	double mul = 1e9;
	if (!*end || !strcmp(end, "s"))
		mul = 1e9;
	else if (!strcmp(end, "ms"))
		mul = 1e6;
	else if (!strcmp(end, "us"))
		mul = 1e3;
	else if (!strcmp(end, "ns"))
		mul = 1;
	else
		return -1;
	return (int64_t)(v * mul);
}

const char *fmt_ns(uint64_t ns, char buf[32])
{
	if (ns < 10000)
		snprintf(buf, 32, "%llu ns", (unsigned long long)ns);
	else if (ns < 10000000)
		snprintf(buf, 32, "%.1f us", ns / 1e3);
	else if (ns < 10000000000ull)
		snprintf(buf, 32, "%.1f ms", ns / 1e6);
	else
		snprintf(buf, 32, "%.2f s", ns / 1e9);
	return buf;
}

int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

uint64_t pct_u64(const uint64_t *v, size_t n, double p)
{
	if (!n)
		return 0;
	/* nearest-rank */
	size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}
