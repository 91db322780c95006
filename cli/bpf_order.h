/*
 * bpf_order.h - puts BPF records in the order of the changes they describe
 * (see "The order of changes" in include/vmatop/records.h), so that consumers can apply
 * them one after the other. Pure userspace, no BPF: unit-testable.
 *
 * Owns: one queue per address space (mm id). A MARK appends a slot for its
 * thread; that thread's next VMA_CHANGE (or FORK) with a nonzero wr_seq
 * fills the slot (all of its parts; a SOLO change - the mm had one user, so
 * no MARK was sent - needs none); records are delivered from the head of
 * a queue while the head is complete. A process FORK also puts a gate at
 * the head of the child's queue, opened when the FORK itself is delivered:
 * the child's records never overtake the copy that creates its mirror.
 * MARKs themselves are not delivered. A slot or gate left unfilled for
 * longer than the expiry (a record lost to a full ring) is dropped and
 * counted, so a lost record cannot stall a queue forever.
 */
#ifndef VMATOP_BPF_ORDER_H
#define VMATOP_BPF_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include <vmatop/records.h>

/* Same contract as vmt_bpf_record_fn: a negative return stops delivery and
 * is returned by the call that delivered. */
typedef int (*vmt_border_fn)(void *ctx, const struct vmt_krec_hdr *h, size_t size);

struct vmt_border_stats {
	uint64_t delivered;	/* records handed on */
	uint64_t held;		/* of which had to wait in a queue */
	uint64_t held_max;	/* most records waiting at one time */
	uint64_t expired;	/* slots/gates dropped unfilled (lost records) */
	uint64_t orphans;	/* changes without a MARK (MARK lost) */
	uint64_t marks;
};

struct vmt_border;

struct vmt_border *vmt_border_new(vmt_border_fn fn, void *ctx);
void vmt_border_set_fn(struct vmt_border *o, vmt_border_fn fn, void *ctx);
void vmt_border_free(struct vmt_border *o);
/* Take one record (arrival order = ring order). now_ns: CLOCK_MONOTONIC. */
int vmt_border_push(struct vmt_border *o, const struct vmt_krec_hdr *h, size_t size,
		    uint64_t now_ns);
/* Drop slots and gates older than max_wait_ns at the head of their queue. */
int vmt_border_expire(struct vmt_border *o, uint64_t now_ns, uint64_t max_wait_ns);
/* Deliver everything still held, skipping what never got filled. */
int vmt_border_flush(struct vmt_border *o);
/* Records currently held. */
size_t vmt_border_pending(const struct vmt_border *o);
void vmt_border_get_stats(const struct vmt_border *o, struct vmt_border_stats *s);

#endif
