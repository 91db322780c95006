/*
 * aspace.h - one address space of the mirror: struct vma (one per kernel VMA,
 * stored in a maple tree over [start, end - 1]) and the edits on it. Every
 * edit keeps the tree exact: VMAs never overlap, a split gives file VMAs
 * their moved offset, an erase trims what straddles its ends. Allocation
 * failures end the program (EXIT_FAIL): the mirror cannot go on half-made.
 */
#ifndef VMATOP_CLI_ASPACE_H
#define VMATOP_CLI_ASPACE_H

#include <mtree.h>
#include <stddef.h>
#include <stdint.h>
#include <vmatop/records.h>

enum vma_origin { VO_SEED, VO_CALL, VO_INDIRECT, VO_DISCOVER, VO_MODEL };

struct vma {
	uint64_t start, end, offset, inode, name;
	uint32_t dev, vflags;
	uint8_t origin; /* enum vma_origin */
	uint8_t file;	/* offset moves with the start on splits */
};

struct aspace {
	struct mtree mt;
};

struct vma *vma_new(void);		  /* zeroed */
struct vma *vma_dup(const struct vma *v); /* a private copy */

struct aspace *aspace_new(void);
void aspace_free(struct aspace *as); /* its VMAs too; NULL: nothing */
size_t aspace_count(const struct aspace *as);
void aspace_clear(struct aspace *as); /* drop every VMA */
/* store v over [start, end) as it is (the caller knows nothing overlaps) */
void aspace_put(struct aspace *as, struct vma *v);
/* split the VMA containing addr at addr (nothing when one starts there) */
void aspace_split(struct aspace *as, uint64_t addr);
/* remove [lo, hi), trimming VMAs that straddle the ends */
void aspace_erase(struct aspace *as, uint64_t lo, uint64_t hi);
/* erase [v->start, v->end), then store v */
void aspace_store(struct aspace *as, struct vma *v);
/* split at lo and hi, then apply fn to every VMA inside [lo, hi) */
void aspace_modify(struct aspace *as, uint64_t lo, uint64_t hi, void (*fn)(struct vma *, void *),
		   void *arg);
/* fork: mt_dup (O(n) DFS pre-order), each VMA replaced in place by a private
 * copy, then the don't-fork VMAs dropped; *ns = the time of dup + replace.
 * src NULL: an empty space. */
struct aspace *aspace_dup(const struct aspace *src, uint64_t *ns);

#endif
