/*
 * bpf_source.h - the BPF source of `vmatop record` and `vmatop attach`:
 * turns the kernel records of cli/bpf_collector.c (already in an order to
 * apply them in) into trace records (the BPF section of
 * include/vmatop/records.h) and writes them through a sink.
 *
 * Owns: the conversion (one VMT_BPF_LIST per VMA_CHANGE, its VMT_BPF_VMAs,
 * then its VMT_BPF_CALL - none for the lists delivered again, REDO, or made
 * for a fork child; forks, exec with its path string, exits, lock waits
 * with their user stacks), the end-of-session records (per-thread mmap_lock
 * statistics and histograms, thread names, the source's counters), the
 * mode decision for `vmatop record` (auto, --bpf, --no-bpf) and the
 * rec_source that record.c calls (cli/source.h).
 */
#ifndef VMATOP_CLI_BPF_SOURCE_H
#define VMATOP_CLI_BPF_SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <vmatop/records.h>

#include "bpf_collector.h"

/* Where converted records go. */
struct bpf_sink {
	void (*put)(void *ctx, const struct vmt_rec *r);
	uint64_t (*stream_new)(void *ctx, uint32_t owner);
	void *ctx;
};

enum bpf_mode { BPF_AUTO = 0, BPF_REQUIRE = 1, BPF_OFF = -1 };

/* `vmatop record` options for the BPF source (before the source starts). */
struct bpf_record_cfg {
	enum bpf_mode mode;
	bool lock;		    /* --mmap-lock: mmap_lock statistics */
	uint64_t lock_threshold_ns; /* 0: default */
	int verbose;
};
void bpf_source_config(const struct bpf_record_cfg *c);
/*
 * For record: decide the mode and say it on stderr. Returns the source to
 * use (NULL: shim only); exits 1 with a message naming the missing
 * capability when --bpf was given and BPF cannot be used.
 */
const struct rec_source *bpf_source_for_record(void);

/* The converter, also used by `vmatop attach`. */
struct bpf_conv;
struct bpf_conv *bpf_conv_new(const struct bpf_sink *sink, uint32_t mode_flags,
			      uint64_t lock_threshold_ns, const char *desc);
/* The record callback for vmt_bpf_open() (ctx: the converter). */
int bpf_conv_record(void *ctx, const struct vmt_krec_hdr *h, size_t size);
void bpf_conv_set_collector(struct bpf_conv *c, struct vmt_bpf *b);
/* Processes seen (tgids). */
size_t bpf_conv_tgids(const struct bpf_conv *c, const uint32_t **out);
/* End of session: statistics of every thread of the processes seen,
 * counters. Then frees c. */
void bpf_conv_finish(struct bpf_conv *c);

/* Put one string (chunked VMT_STRING records on stream 0); its hash. */
uint64_t bpf_put_string(const struct bpf_sink *sink, const char *s);

#endif
