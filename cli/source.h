/*
 * source.h - the one hook through which extra record sources (the BPF
 * source, cli/bpf_*.c) join `vmatop record`.
 *
 * Owns the interface only. The shim rings are the built-in source
 * (cli/record.c). A source gets the session after the target is forked but
 * before it execs (so it can attach to the pid first), is polled once per
 * collector pass, and stopped after the last target process is gone.
 * Records it writes with session_put() go into the trace; give them stream
 * 0 (collector) or a stream from session_stream_new(). Record layouts live
 * in include/vmatop/records.h (section reserved for BPF).
 */
#ifndef VMATOP_CLI_SOURCE_H
#define VMATOP_CLI_SOURCE_H

#include <stdint.h>
#include <sys/types.h>
#include <vmatop/records.h>

struct rec_session;

struct rec_source {
	const char *name;
	/* target: pid of the command (stopped before exec). 0 or -errno. */
	int (*start)(struct rec_session *s, pid_t target);
	/* Called every pass; returns the number of records written. */
	int (*poll)(struct rec_session *s);
	void (*stop)(struct rec_session *s);
};

/* Defined by the BPF source when it is built in; NULL otherwise (weak). */
extern const struct rec_source *vmatop_bpf_source(void) __attribute__((weak));

void session_put(struct rec_session *s, const struct vmt_rec *r);
uint64_t session_stream_new(struct rec_session *s, uint32_t owner);

#endif
