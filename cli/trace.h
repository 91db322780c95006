/*
 * trace.h - trace files (man/vmatop-trace.5): the buffered writer used by
 * `vmatop record` and the validating reader used by report, maps and
 * verify.
 *
 * The reader maps the file, checks the header and every record (a corrupt
 * or truncated trace is an input error: message naming the offset, exit 2),
 * assembles the string table and groups records by stream (one stream per
 * ring, stream 0 for the collector). trace_replay() visits the records in
 * replay order: a k-way merge of the streams by timestamp that never
 * reorders records inside a stream.
 */
#ifndef VMATOP_CLI_TRACE_H
#define VMATOP_CLI_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <vmatop/records.h>

struct trace_writer {
	int fd;
	const char *path;
	char *buf;
	size_t used, cap;
	uint64_t records;
	int failed;
};

int tw_open(struct trace_writer *w, const char *path, uint32_t stack_depth, uint64_t start_ns);
void tw_put(struct trace_writer *w, const struct vmt_rec *r);
int tw_flush(struct trace_writer *w);
int tw_close(struct trace_writer *w);

struct tstream {
	uint64_t id;
	uint32_t owner;
	size_t *idx, n, cap;
	uint64_t lost, holes;
};

struct tstr {
	uint64_t hash;
	char *text;
	uint16_t total;
};

struct trace {
	const char *path;
	unsigned char *map;
	size_t size;
	const struct vmt_file_header *hdr;
	const struct vmt_rec *recs;
	size_t nrec;
	int complete;
	struct tstr *strs;
	size_t nstrs_cap, nstrs;
	struct tstream *streams;
	size_t nstreams, streams_cap;
};

/* Opens and validates; exits 2 with a message naming the offset on bad input. */
void trace_open(struct trace *t, const char *path);
void trace_close(struct trace *t);
const char *trace_str(const struct trace *t, uint64_t hash);
size_t trace_offset(const struct trace *t, size_t idx);
typedef void (*trace_visit)(const struct vmt_rec *r, size_t idx, void *ctx);
void trace_replay(struct trace *t, trace_visit fn, void *ctx);
const char *vmt_type_name(unsigned type);

#endif
