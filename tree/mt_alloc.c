/*
 * mt_alloc.c - where the maple tree's nodes come from and go to.
 *
 * Owns the default node allocator (a slab: 16 KiB chunks carved into 64
 * nodes of 256 bytes, a shared free list under a mutex with a small
 * per-thread cache in front of it, chunks kept for reuse and never
 * returned to the system) and the tree-side helpers that route
 * every node allocation and free through the tree's struct mt_allocator.
 *
 * Build with -DMT_ALLOC_MALLOC to make the default allocator call
 * aligned_alloc()/free() for every node instead, so that ASan and valgrind
 * can see each node (the sanitizer builds of the tests do).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mtree_node.h"

#ifndef MT_ALLOC_MALLOC

#define MT_CHUNK_BYTES (16u * 1024)
#define MT_CHUNK_NODES (MT_CHUNK_BYTES / MT_NODE_SIZE)

struct slab_free {
	struct slab_free *next;
};

struct slab_chunk {
	struct slab_chunk *next;
};

static struct {
	pthread_mutex_t lock;
	struct slab_free *free;
	/* chunk list, so the memory stays reachable (valgrind: still reachable) */
	void **chunks;
	size_t nr_chunks, cap_chunks;
} slab = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Called with slab.lock held. */
static int slab_grow(void)
{
	if (slab.nr_chunks == slab.cap_chunks) {
		size_t cap = slab.cap_chunks ? slab.cap_chunks * 2 : 64;
		void **c = realloc(slab.chunks, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		slab.chunks = c;
		slab.cap_chunks = cap;
	}
	char *chunk = aligned_alloc(MT_CHUNK_BYTES, MT_CHUNK_BYTES);
	if (!chunk)
		return -ENOMEM;
	slab.chunks[slab.nr_chunks++] = chunk;
	for (unsigned i = MT_CHUNK_NODES; i-- > 0;) {
		struct slab_free *f = (struct slab_free *)(chunk + (size_t)i * MT_NODE_SIZE);
		f->next = slab.free;
		slab.free = f;
	}
	return 0;
}

/*
 * A per-thread cache of free nodes in front of the shared list, so that
 * the writer's allocations and the call_rcu thread's frees do not take the
 * mutex for every node. It moves nodes to and from the shared list in
 * batches and gives its nodes back when the thread exits.
 */
#define CACHE_MAX 64
#define CACHE_BATCH 32

struct node_cache {
	struct slab_free *head;
	unsigned n;
};

static __thread struct node_cache cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_drain(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&slab.lock);
	while (cache.head) {
		struct slab_free *f = cache.head;
		cache.head = f->next;
		f->next = slab.free;
		slab.free = f;
	}
	cache.n = 0;
	pthread_mutex_unlock(&slab.lock);
}

static void cache_key_init(void) { pthread_key_create(&cache_key, cache_drain); }

/* Move up to want nodes from the shared list into this thread's cache. */
static void cache_refill(unsigned want)
{
	pthread_once(&cache_once, cache_key_init);
	pthread_setspecific(cache_key, &cache); /* non-NULL: run cache_drain at exit */
	pthread_mutex_lock(&slab.lock);
	while (want--) {
		if (!slab.free && slab_grow())
			break;
		struct slab_free *f = slab.free;
		slab.free = f->next;
		f->next = cache.head;
		cache.head = f;
		cache.n++;
	}
	pthread_mutex_unlock(&slab.lock);
}

static unsigned slab_alloc_bulk(void *ctx, unsigned n, void **out)
{
	unsigned got = 0;
	(void)ctx;
	while (got < n) {
		if (!cache.head) {
			cache_refill(n - got > CACHE_BATCH ? n - got : CACHE_BATCH);
			if (!cache.head)
				break;
		}
		out[got++] = cache.head;
		cache.head = cache.head->next;
		cache.n--;
	}
	return got;
}

static void *slab_alloc(void *ctx)
{
	void *p = NULL;
	return slab_alloc_bulk(ctx, 1, &p) ? p : NULL;
}

static void slab_free_node(void *ctx, void *node)
{
	struct slab_free *f = node;
	(void)ctx;
	f->next = cache.head;
	cache.head = f;
	if (++cache.n <= CACHE_MAX)
		return;
	/* give a batch back to the shared list */
	pthread_mutex_lock(&slab.lock);
	for (unsigned i = 0; i < CACHE_BATCH; i++) {
		f = cache.head;
		cache.head = f->next;
		f->next = slab.free;
		slab.free = f;
	}
	cache.n -= CACHE_BATCH;
	pthread_mutex_unlock(&slab.lock);
}

const struct mt_allocator mt_default_allocator = {
	.alloc = slab_alloc,
	.alloc_bulk = slab_alloc_bulk,
	.free = slab_free_node,
};

#else /* MT_ALLOC_MALLOC */

static void *malloc_alloc(void *ctx)
{
	(void)ctx;
	return aligned_alloc(MT_NODE_ALIGN, MT_NODE_SIZE);
}

static void malloc_free(void *ctx, void *node)
{
	(void)ctx;
	free(node);
}

const struct mt_allocator mt_default_allocator = {
	.alloc = malloc_alloc,
	.alloc_bulk = NULL,
	.free = malloc_free,
};

#endif

struct mt_node *mt_node_alloc(struct mtree *mt)
{
	struct mt_node *n = mt->alloc->alloc(mt->alloc->ctx);
	if (n)
		memset(n, 0, sizeof(*n));
	return n;
}

void mt_node_free(struct mtree *mt, struct mt_node *n)
{
	mt->alloc->free(mt->alloc->ctx, n);
}

size_t mt_free_subtree(struct mtree *mt, struct mt_node *n, bool retire)
{
	size_t entries = 0;

	if (mt_is_leaf(n)) {
		void **slot = mt_slots(n);
		for (unsigned i = 0; i <= n->end; i++)
			entries += slot[i] != NULL;
	} else {
		void **slot = mt_slots(n);
		for (unsigned i = 0; i <= n->end; i++) {
			struct mt_node *c = slot[i];
			/* NULL: a failed dup never filled it; MOVED: a rebuild owns it */
			if (c && !(c->flags & MT_NODE_MOVED))
				entries += mt_free_subtree(mt, c, retire);
		}
	}
	mt->nodes--;
	if (retire)
		mt_node_retire(mt, n); /* the caller flushes */
	else
		mt_node_free(mt, n);
	return entries;
}
