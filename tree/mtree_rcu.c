/*
 * mtree_rcu.c - RCU mode: retiring nodes that concurrent readers may still
 * be walking, and the read-side wrappers callers use.
 *
 * Flavour: liburcu's "memb" (urcu-memb). Its read-side lock is a per-thread
 * nesting counter and compiler barriers, with no atomic instruction and no
 * signal; the writer side pays with the membarrier() system call. That fits
 * a tree read far more often than written (the live view and exporters read
 * while one collector thread writes), and unlike the QSBR flavour it does
 * not require readers to announce quiescent states, and unlike the signal
 * flavour it does not take over a signal in the host program.
 *
 * A write that replaced nodes retires each one: it is marked dead (readers
 * that meet it start again) and chained on mt->retired through its parent
 * pointer, which readers never follow. Once MT_RETIRE_BATCH nodes wait, the
 * chain is handed to call_rcu() in one batch and freed after a grace
 * period: a grace period costs the readers' CPUs a membarrier() IPI each,
 * so fewer, larger batches disturb readers less. If the
 * batch record cannot be allocated, the writer waits for a grace period
 * (synchronize_rcu) and frees the nodes itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <urcu/urcu-memb.h>

#include "mtree_node.h"

/*
 * liburcu is not built with ThreadSanitizer, so TSan cannot see that a
 * grace period orders every read-side critical section before what comes
 * after it (the frees). Tell it: each read_unlock releases a token that the
 * end of every grace period acquires.
 */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
static char tsan_grace_period;
#define tsan_reader_exit() __tsan_release(&tsan_grace_period)
#define tsan_grace_period_done() __tsan_acquire(&tsan_grace_period)
#else
#define tsan_reader_exit() ((void)0)
#define tsan_grace_period_done() ((void)0)
#endif

struct retire_batch {
	struct rcu_head head;
	struct mt_node *list;
	const struct mt_allocator *alloc;
};

static void free_list(const struct mt_allocator *alloc, struct mt_node *n)
{
	while (n) {
		struct mt_node *next = n->parent;
		alloc->free(alloc->ctx, n);
		n = next;
	}
}

static void batch_free(struct rcu_head *head)
{
	struct retire_batch *b = caa_container_of(head, struct retire_batch, head);
	tsan_grace_period_done();
	free_list(b->alloc, b->list);
	free(b);
}

void mt_node_retire(struct mtree *mt, struct mt_node *n)
{
	__atomic_fetch_or(&n->flags, MT_NODE_DEAD, __ATOMIC_RELEASE);
	if (!(mt->flags & MT_FLAG_RCU)) {
		mt_node_free(mt, n);
		return;
	}
	n->parent = mt->retired;
	mt->retired = n;
	mt->nr_retired++;
}

void mt_retire_flush(struct mtree *mt, bool force)
{
	struct mt_node *list = mt->retired;

	if (!list || (!force && mt->nr_retired < MT_RETIRE_BATCH))
		return;
	mt->retired = NULL;
	mt->nr_retired = 0;
	struct retire_batch *b = malloc(sizeof(*b));
	if (!b) {
		mt_rcu_synchronize();
		free_list(mt->alloc, list);
		return;
	}
	b->list = list;
	b->alloc = mt->alloc;
	urcu_memb_call_rcu(&b->head, batch_free);
}

void mt_set_rcu(struct mtree *mt, bool on)
{
	if (on)
		mt->flags |= MT_FLAG_RCU;
	else {
		mt_retire_flush(mt, true);
		mt->flags &= ~MT_FLAG_RCU;
	}
}

void mt_rcu_flush(struct mtree *mt) { mt_retire_flush(mt, true); }

int mt_rcu_writer_cpu(int cpu)
{
	struct call_rcu_data *crdp = urcu_memb_create_call_rcu_data(0, cpu);
	if (!crdp)
		return -ENOMEM;
	urcu_memb_set_thread_call_rcu_data(crdp);
	return 0;
}

void mt_rcu_register_thread(void) { urcu_memb_register_thread(); }
void mt_rcu_unregister_thread(void) { urcu_memb_unregister_thread(); }
void mt_rcu_read_lock(void) { urcu_memb_read_lock(); }
void mt_rcu_read_unlock(void)
{
	tsan_reader_exit();
	urcu_memb_read_unlock();
}

void mt_rcu_synchronize(void)
{
	urcu_memb_synchronize_rcu();
	tsan_grace_period_done();
}

void mt_rcu_barrier(void)
{
	urcu_memb_barrier();
	tsan_grace_period_done();
}
