/*
 * util.h - small helpers shared by the vmatop commands: error reporting with
 * the exit-code convention (2 usage/input, 1 failure), growable arrays,
 * time parsing and formatting.
 */
#ifndef VMATOP_CLI_UTIL_H
#define VMATOP_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define EXIT_USAGE 2
#define EXIT_FAIL 1

extern const char *prog; /* "vmatop" */

void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void diex(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
#ifdef VMATOP_FUZZ
/* The fuzz build (tests/fuzz/fuzz_trace.c): when set, diex() calls
 * fuzz_cleanup (the commands' open trace and model are known: fuzz_trace,
 * fuzz_model, so it can free them while their frames still exist) and then
 * longjmps here with code + 1 instead of exiting. */
#include <setjmp.h>
struct trace;
struct model;
extern jmp_buf *fuzz_exit;
extern void (*fuzz_cleanup)(void);
extern struct trace *fuzz_trace;
extern struct model *fuzz_model;
#endif
void *xmalloc(size_t n);
void *xcalloc(size_t a, size_t b);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Grow *arr (element size sz) so that index n fits; *cap is updated. */
void vec_reserve(void **arr, size_t *cap, size_t n, size_t sz);
#define VEC_PUSH(arr, len, cap, val)                                                               \
	do {                                                                                       \
		vec_reserve((void **)&(arr), &(cap), (len) + 1, sizeof(*(arr)));                   \
		(arr)[(len)++] = (val);                                                            \
	} while (0)

uint64_t now_ns(void);
/* "1.5", "1.5s", "200ms", "10us", "123ns": relative time in ns; -1 on error. */
int64_t parse_duration(const char *s);
/* Human form of a duration: "1.23 ms". buf of 32 bytes. */
const char *fmt_ns(uint64_t ns, char buf[32]);
int cmp_u64(const void *a, const void *b);
/* Percentile (0..100) of a sorted array. */
uint64_t pct_u64(const uint64_t *v, size_t n, double p);

#endif
