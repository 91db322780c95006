/*
 * mtree_rcu.c - retiring nodes that concurrent readers may still be walking.
 *
 * Outside RCU mode nothing reads the tree while it is written, so a retired
 * node is freed at once.
 */
#include "mtree_node.h"

void mt_node_retire(struct mtree *mt, struct mt_node *n)
{
	__atomic_store_n(&n->flags, n->flags | MT_NODE_DEAD, __ATOMIC_RELEASE);
	mt_node_free(mt, n);
}
