/*
 * bpf_order.h - hands BPF records on in an order consumers can apply them
 * in (see "The order of records" in include/vmatop/records.h): ring order,
 * except that the parts of a VMA_CHANGE are delivered together at the
 * position of its first part, a fork child's records after the FORK that
 * makes its mirror, and a VMA_CHANGE older than one already delivered for
 * its mm (its snapshot's lock_seq is lower: two threads raced to the ring)
 * is followed by the newer ones again. Pure userspace, no BPF:
 * unit-testable.
 *
 * Owns: one queue per address space (mm id). A record goes straight
 * through when nothing waits in its mm's queue; a VMA_CHANGE with more
 * parts to come opens an item that holds its queue (the records of the mm
 * behind it wait) until its last part arrives. A process FORK puts a gate
 * at the head of the child's queue, opened when the FORK itself is
 * delivered. An open item or gate left waiting for longer than the expiry
 * (a record lost to a full ring) is let go and counted, so a lost record
 * cannot stall a queue forever. Per mm, the VMA_CHANGEs of multi-user mms
 * (not SOLO) delivered in the last second (at most 65536), sorted by
 * lock_seq: the ones to deliver again after a late record (copies, flagged
 * VMT_BPF_F_REDO | VMT_BPF_F_RACED; the late record itself RACED).
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
	uint64_t expired;	/* items/gates let go unfilled (lost records) */
	uint64_t orphans;	/* parts without their first part (lost) */
	uint64_t late;		/* records older than one delivered before */
	uint64_t redelivered;	/* newer records delivered again after them */
	uint64_t unrepaired;	/* late records some of whose newer ones were
				 * no longer kept: the mirror may be wrong */
};

struct vmt_border;

struct vmt_border *vmt_border_new(vmt_border_fn fn, void *ctx);
void vmt_border_set_fn(struct vmt_border *o, vmt_border_fn fn, void *ctx);
void vmt_border_free(struct vmt_border *o);
/* Take one record (arrival order = ring order). now_ns: CLOCK_MONOTONIC. */
int vmt_border_push(struct vmt_border *o, const struct vmt_krec_hdr *h, size_t size,
		    uint64_t now_ns);
/* Let go of open items and gates older than max_wait_ns at the head of their
 * queue. */
int vmt_border_expire(struct vmt_border *o, uint64_t now_ns, uint64_t max_wait_ns);
/* Deliver everything still held, skipping what never got filled. */
int vmt_border_flush(struct vmt_border *o);
/* Records currently held. */
size_t vmt_border_pending(const struct vmt_border *o);
void vmt_border_get_stats(const struct vmt_border *o, struct vmt_border_stats *s);

#endif
