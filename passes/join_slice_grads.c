/* join_slice_grads.c — a sum of slice gradients that tile their result
 * along one axis is a concat.
 *
 * Autodiff gives a value read through several slices one slice_grad per
 * slice (zeros with the slice's gradient at its place) and adds them up.
 * Where the slices are disjoint, contiguous and together cover the value
 * along one axis (the LSTM's four gates sliced from one [B, 4H] product,
 * a GRU's three, a split's pieces), the sum is the concat of the slice
 * gradients' inputs: no zeros to write, no adds, and a concat is a
 * movement op, which fusion can store from the kernel that computes its
 * inputs (passes/fuse_movement.c). The add tree's root becomes that concat; its
 * inner adds and the slice_grads die in dead-code elimination unless
 * something else reads them. */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

typedef struct tree {
  int32_t leaf[IR_MAX_INPUTS];
  int nleaf;
  int visited; /* nodes walked: a tree of IR_MAX_INPUTS leaves has fewer
                  inner adds, so the walk stops past 2 IR_MAX_INPUTS (a long
                  chain of adds, a gradient summed over many time steps,
                  would otherwise be walked from every one of its adds) */
  bool ok;
} tree;

/* The axis along which slice_grad n places its input dy in a result of
 * shape s: step 1 everywhere, whole along every other axis; -1 if n is
 * not such a slab. *start gets the slab's first index on that axis. */
static int slab_axis(const ir_graph *g, const ir_node *n, gc_shape s, int64_t *start) {
  if (n->op != IR_OP_SLICE_GRAD || n->dtype != GC_F32 || !ir_shape_eq(n->shape, s)) return -1;
  const gc_shape ds = g->nodes[n->in[0]].shape;
  int ax = -1;
  for (int d = 0; d < s.ndim; d++) {
    if (n->attr.steps[d] != 1) return -1;
    if (ds.dim[d] == s.dim[d] && n->attr.starts[d] == 0) continue;
    if (ax >= 0) return -1;
    ax = d;
  }
  *start = ax >= 0 ? n->attr.starts[ax] : 0;
  return ax;
}

/* Collects the leaves of the add tree under id: adds of equal shapes whose
 * inner nodes are read only by their parent and are no outputs. */
static void collect(const ir_graph *g, const int *uses, int32_t id, bool root, tree *t) {
  if (++t->visited > 2 * IR_MAX_INPUTS) {
    t->ok = false;
    return;
  }
  const ir_node *n = &g->nodes[id];
  bool inner = n->op == IR_OP_ADD && n->dtype == GC_F32 &&
               (root || (uses[id] == 1 && !(n->flags & (IR_F_OUTPUT | IR_F_LOSS))));
  if (inner) {
    for (int k = 0; k < 2 && t->ok; k++) {
      const ir_node *x = &g->nodes[n->in[k]];
      if (!ir_shape_eq(x->shape, n->shape))
        t->ok = false;
      else
        collect(g, uses, n->in[k], false, t);
    }
    return;
  }
  if (t->nleaf == IR_MAX_INPUTS) {
    t->ok = false;
    return;
  }
  t->leaf[t->nleaf++] = id;
}

/* Rewrites add node id into a concat if its tree's leaves tile it. */
static void join(ir_graph *g, const int *uses, int32_t id) {
  tree t = {.nleaf = 0, .visited = 0, .ok = true};
  collect(g, uses, id, true, &t);
  if (!t.ok || t.nleaf < 2) return;
  const gc_shape s = g->nodes[id].shape;
  int64_t start[IR_MAX_INPUTS];
  int ax = -1;
  for (int k = 0; k < t.nleaf; k++) {
    int a = slab_axis(g, &g->nodes[t.leaf[k]], s, &start[k]);
    if (a < 0 || (ax >= 0 && a != ax)) return;
    ax = a;
  }
  for (int k = 1; k < t.nleaf; k++) /* by start: few leaves */
    for (int j = k; j > 0 && start[j - 1] > start[j]; j--) {
      int64_t ts = start[j];
      start[j] = start[j - 1];
      start[j - 1] = ts;
      int32_t tl = t.leaf[j];
      t.leaf[j] = t.leaf[j - 1];
      t.leaf[j - 1] = tl;
    }
  int64_t at = 0;
  for (int k = 0; k < t.nleaf; k++) {
    if (start[k] != at) return; /* a gap or an overlap */
    at += g->nodes[g->nodes[t.leaf[k]].in[0]].shape.dim[ax];
  }
  if (at != s.dim[ax]) return;
  ir_node *n = &g->nodes[id];
  n->op = IR_OP_CONCAT;
  n->nin = t.nleaf;
  for (int k = 0; k < t.nleaf; k++) n->in[k] = g->nodes[t.leaf[k]].in[0];
  memset(&n->attr, 0, sizeof n->attr);
  n->attr.axis = ax;
}

gc_status pass_join_slice_grads(ir_graph *g) {
  int *uses = calloc((size_t)(g->n ? g->n : 1), sizeof *uses);
  if (!uses) return gc_fail(GC_ERR_NOMEM, "simplify: out of memory");
  for (int i = 0; i < g->n; i++)
    for (int k = 0; k < g->nodes[i].nin; k++) uses[g->nodes[i].in[k]]++;
  /* from the last node back, so a tree is tried whole, from its root,
   * before its subtrees (which cannot tile the axis once it did) */
  for (int i = g->n - 1; i >= 0; i--)
    if (g->nodes[i].op == IR_OP_ADD) join(g, uses, i);
  free(uses);
  return GC_OK;
}
