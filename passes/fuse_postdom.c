/* fuse_postdom.c — TVM's fusion along the post-dominator tree, over the
 * groups the walk and the merges of fuse.c and fuse_reduce.c have made.
 *
 * Each round builds the tree of the groups (postdom.c) and visits them
 * consumers first (the topological order backwards). A group G that TVM's
 * rule fuses into its immediate post-dominator P (pd_rule_fuses) joins P
 * where one of the kernel forms can hold the pair:
 * - P reads G only through movement members: G is evaluated inside them,
 *   at the coordinates they read (fuse_movement.c);
 * - P reads G only through broadcasting, G constant along P's last dim:
 *   G is evaluated per row of P's domain (fuse_broadcast.c);
 * - G and P cover one domain: one elementwise chain (fuse.c);
 * - P is a reduction: G runs in its loops or per result row
 *   (fuse_reduce.c).
 * Each form checks the rest itself: every reader of G is in P, the kernel
 * argument budget, no cycle through a third kernel. Where groups lie
 * between G and P, the rule has them all elementwise, and they are
 * visited before G: once they have joined P, G's readers are all in P.
 * A join can leave the tree of this round stale (a group emptied into its
 * post-dominator, or the other way round); the rule then declines, and
 * the next round, on a new tree, sees the groups as they are. The rounds
 * end when one joins nothing.
 *
 * What the rule would fuse but no form holds stays apart and is counted
 * by fuse_postdom_misses on the final plan: a complex op into an
 * elementwise post-dominator reached through other kernels; a producer
 * read both through movement and directly; a producer read by a complex
 * op's epilogue that its readers do not recompute (fuse.c recomputes a
 * cheap one over stored tensors or slices of a parameter, such as the
 * bias that ONNX's RNNs sum from two slices of B: then it has no kernel;
 * exp(b) stays one). */
#include "passes/fuse_builder.h"

/* Joins group gi to p by the first kernel form that holds the pair: 1 if
 * joined, 0 if none does, -1 when out of memory. */
static int join(builder *b, int gi, int p, const int *pos) {
  if (b->groups[gi].kind != FUSE_ELEMWISE) return 0; /* no form takes a complex op later */
  int r = fb_movement_join(b, gi, p, pos);
  if (!r) r = fb_broadcast_join(b, gi, p, pos);
  if (!r && b->groups[p].kind == FUSE_ELEMWISE) r = fb_chain_join(b, gi, p, pos);
  if (!r && b->groups[p].kind == FUSE_REDUCE) r = fb_reduce_join(b, p, gi, pos);
  return r;
}

bool fb_fuse_postdom(builder *b, const int *pos, int *joins) {
  for (bool joined = true; joined;) {
    joined = false;
    pd_tree t;
    if (pd_tree_build(b->g, b->groups, b->ngroups, b->group_of, NULL, &t)) return false;
    for (int q = t.n - 1; q >= 0; q--) {
      int gi = t.order[q];
      if (!pd_rule_fuses(&t, b->groups, gi)) continue;
      int r = join(b, gi, t.ipdom[gi], pos);
      if (r < 0) {
        pd_tree_free(&t);
        return false;
      }
      joined = joined || r > 0;
      *joins += r;
    }
    pd_tree_free(&t);
  }
  return true;
}
