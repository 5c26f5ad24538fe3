/* simplify.c — common-subexpression elimination, sums of slice gradients
 * joined into concats (join_slice_grads.c), ReLU masks moved before
 * max-pooling gradients (mask_pool_grads.c), then dead-code elimination. CSE merges nodes that
 * compute the same value: the same pure op on the same inputs with the same attributes, and
 * constants with the same bytes (autodiff emits many equal scalars). DCE keeps what an output, the
 * loss or an in-place update needs, drops the rest and renumbers. (Constant folding comes later;
 * see the design.) */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

static bool same_value(const ir_graph *g, const ir_node *a, const ir_node *b) {
  if (a->op != b->op || a->nin != b->nin || a->dtype != b->dtype ||
      !ir_shape_eq(a->shape, b->shape))
    return false;
  for (int k = 0; k < a->nin; k++)
    if (a->in[k] != b->in[k]) return false;
  if (a->op == IR_OP_CONST) return !memcmp(a->data, b->data, ir_node_bytes(a));
  /* attributes: builders zero them before filling, so bytes compare; a
   * difference in padding could only miss a merge, never make a wrong one */
  return !memcmp(&a->attr, &b->attr, sizeof a->attr);
}

/* Only pure values merge: not storage (inputs, params, state), not
 * in-place writers, not outputs (they keep their own names). */
static bool mergeable(const ir_node *n) {
  unsigned props = ir_ops[n->op].props;
  if (props & IR_P_INPLACE) return false;
  if ((props & IR_P_LEAF) && n->op != IR_OP_CONST) return false;
  return !(n->flags & (IR_F_OUTPUT | IR_F_LOSS));
}

static uint64_t value_hash(const ir_node *n) {
  uint64_t h = 1469598103934665603ull ^ (uint64_t)n->op;
  for (int k = 0; k < n->nin; k++) h = (h ^ (uint64_t)n->in[k]) * 1099511628211ull;
  for (int d = 0; d < n->shape.ndim; d++) h = (h ^ (uint64_t)n->shape.dim[d]) * 1099511628211ull;
  if (n->op == IR_OP_CONST && n->data) {
    const unsigned char *b = n->data;
    size_t bytes = ir_node_bytes(n);
    for (size_t i = 0; i < bytes && i < 64; i++) h = (h ^ b[i]) * 1099511628211ull;
  }
  return h;
}

/* Rewrites every input to the first node computing the same value. */
static gc_status eliminate_common(ir_graph *g) {
  int n = g->n;
  size_t cap = 1;
  while (cap < 2 * (size_t)n + 2) cap <<= 1;
  int32_t *rep = malloc(sizeof *rep * ((size_t)n + 1));
  int32_t *table = malloc(sizeof *table * cap); /* open addressing: node ids */
  if (!rep || !table) {
    free(rep);
    free(table);
    return gc_fail(GC_ERR_NOMEM, "simplify: out of memory");
  }
  for (size_t i = 0; i < cap; i++) table[i] = -1;
  for (int i = 0; i < n; i++) {
    ir_node *nd = &g->nodes[i];
    for (int k = 0; k < nd->nin; k++) nd->in[k] = rep[nd->in[k]];
    rep[i] = i;
    if (!mergeable(nd)) continue;
    for (size_t h = value_hash(nd) & (cap - 1);; h = (h + 1) & (cap - 1)) {
      if (table[h] < 0) {
        table[h] = i;
        break;
      }
      if (same_value(g, &g->nodes[table[h]], nd)) {
        rep[i] = table[h];
        break;
      }
    }
  }
  if (g->loss >= 0) g->loss = rep[g->loss];
  for (int i = 0; g->grad && i < g->ngrad && i < n; i++)
    if (g->grad[i] >= 0) g->grad[i] = rep[g->grad[i]];
  free(rep);
  free(table);
  return GC_OK;
}

gc_status pass_simplify(ir_graph *g) {
  gc_status st = eliminate_common(g);
  if (!st) st = pass_join_slice_grads(g);
  if (!st) st = pass_mask_pool_grads(g);
  if (st) return st;
  int n = g->n;
  bool *live = calloc((size_t)n + 1, sizeof *live);
  int32_t *map = malloc(sizeof *map * ((size_t)n + 1));
  if (!live || !map) {
    free(live);
    free(map);
    return gc_fail(GC_ERR_NOMEM, "simplify: out of memory");
  }
  for (int i = n - 1; i >= 0; i--) {
    const ir_node *nd = &g->nodes[i];
    if (nd->flags & (IR_F_OUTPUT | IR_F_LOSS) || (ir_ops[nd->op].props & IR_P_INPLACE) ||
        nd->op == IR_OP_INPUT)
      live[i] = true;
    if (!live[i]) continue;
    for (int k = 0; k < nd->nin; k++) live[nd->in[k]] = true;
  }
  int m = 0;
  for (int i = 0; i < n; i++) {
    ir_node *nd = &g->nodes[i];
    if (!live[i]) {
      free(nd->name);
      free(nd->out_name);
      free(nd->data);
      map[i] = -1;
      continue;
    }
    for (int k = 0; k < nd->nin; k++) nd->in[k] = map[nd->in[k]];
    map[i] = m;
    g->nodes[m++] = *nd;
  }
  g->n = m;
  g->loss = g->loss >= 0 ? map[g->loss] : -1;
  g->hyper = g->hyper >= 0 ? map[g->hyper] : -1;
  if (g->grad) {
    for (int i = 0; i < g->ngrad; i++) g->grad[i] = g->grad[i] >= 0 ? map[g->grad[i]] : -1;
    /* grad is indexed by old ids: rebuild it over the new ones */
    int32_t *ng = malloc(sizeof *ng * (size_t)(m ? m : 1));
    for (int i = 0; ng && i < m; i++) ng[i] = -1;
    for (int i = 0; ng && i < g->ngrad && i < n; i++)
      if (map[i] >= 0) ng[map[i]] = g->grad[i];
    if (!ng) {
      free(live);
      free(map);
      return gc_fail(GC_ERR_NOMEM, "simplify: out of memory");
    }
    free(g->grad);
    g->grad = ng;
    g->ngrad = m;
  }
  free(live);
  free(map);
  return GC_OK;
}
