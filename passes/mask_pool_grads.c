/* mask_pool_grads.c — the ReLU mask of a max pooling's input gradient,
 * applied to the pooled gradient instead.
 *
 * relu → maxpool, the usual CNN block, differentiates to
 * mul(maxpool2d_grad(idx, dy), step(x)) with x the ReLU's output: the mask
 * reads all of x, so x (the block's largest tensor, four times the pooled
 * one for 2x2 windows) would live from the forward to the backward only
 * for that. But the gradient is zero except at each window's maximum, and
 * there x equals the window's pooled value y: the product is the pooling
 * gradient of dy times step(y) — exactly the same numbers (the same
 * products, added in the same order; step(NaN) = 0 on both sides). x then
 * dies in the forward, once the pooling that also stores idx
 * (passes/fuse_siblings.c) has read it. Two forms:
 * - where dy is computed in its own shape by an op that fusion can extend
 *   (a conv's or matmul's epilogue, an elementwise kernel), the mask is a
 *   node, mul(dy, step(y)), which joins dy's kernel: y dies there, and the
 *   masked dy replaces dy in memory;
 * - otherwise (dy a reshape of a dense layer's gradient), the gradient's
 *   masked form maxpool2d_grad(idx, dy, y) multiplies each dy as it reads
 *   it, so the mask costs no kernel of its own.
 * A sum of the gradient over all its spatial axes (the bias gradient of
 * the conv before the ReLU) becomes the same sum of the masked dy: each
 * window's value lands on exactly one element, so the two sums add the
 * same numbers (in another order) and the pooled one reads a quarter of
 * the bytes for 2x2 windows (the CNN's conv1 bias gradient: 0.33-0.52 ms
 * -> 0.08-0.10 ms). In the second form the masked dy is then a node read
 * only by the sums, which compute it in their loops.
 * The graph stays in creation order by reusing the nodes: the gradient
 * and the mask are read only by the product; the earlier of them becomes
 * step(y) and the later mul(dy, step(y)) (in the second form only where
 * a sum reads it; else both die in dead-code elimination); the product
 * becomes the pooling gradient. Runs in simplify, after CSE has merged
 * equal masks. */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

/* Is node id read once (by the product), unnamed, no output? */
static bool private_to_product(const ir_graph *g, const int *uses, int32_t id) {
  const ir_node *n = &g->nodes[id];
  return uses[id] == 1 && !n->name && !(n->flags & (IR_F_OUTPUT | IR_F_LOSS));
}

/* Can fusion compute an elementwise product with dy in dy's own kernel
 * (passes/fuse.c): dy computed in its shape (not a view) by a conv, a
 * conv's input gradient, a matmul or an elementwise op? */
static bool extensible(const ir_node *dy) {
  switch (dy->op) {
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_GRAD_INPUT:
    case IR_OP_MATMUL:
      return true;
    default:
      return ir_is_elementwise(dy);
  }
}

/* Does n sum x (f32) over every spatial axis (2 and up)? */
static bool spatial_sum(const ir_graph *g, const ir_node *n, int32_t x) {
  const int rank = g->nodes[x].shape.ndim;
  const uint32_t spatial = ((1u << rank) - 1) & ~3u;
  return n->op == IR_OP_SUM && n->in[0] == x && n->dtype == GC_F32 &&
         (n->attr.axes & spatial) == spatial;
}

/* The maxpool2d before node `before` of x with window win, or -1. */
static int32_t find_pooling(const ir_graph *g, int32_t x, const ir_window *win, int32_t before) {
  for (int32_t i = x + 1; i < before; i++) {
    const ir_node *n = &g->nodes[i];
    if (n->op == IR_OP_MAXPOOL2D && n->in[0] == x && !memcmp(&n->attr.win, win, sizeof *win))
      return i;
  }
  return -1;
}

/* Rewrites product m if it is a pooling gradient masked by step(x). */
static void rewrite(ir_graph *g, const int *uses, int32_t m) {
  ir_node *mn = &g->nodes[m];
  if (mn->op != IR_OP_MUL || mn->dtype != GC_F32) return;
  for (int k = 0; k < 2; k++) {
    const int32_t gid = mn->in[k], sid = mn->in[1 - k];
    const ir_node *gn = &g->nodes[gid], *sn = &g->nodes[sid];
    if (gn->op != IR_OP_MAXPOOL2D_GRAD || gn->nin != 2 || sn->op != IR_OP_STEP ||
        !ir_shape_eq(gn->shape, mn->shape) || !ir_shape_eq(sn->shape, mn->shape) ||
        !private_to_product(g, uses, gid) || !private_to_product(g, uses, sid))
      continue;
    const int32_t idx = gn->in[0], dy = gn->in[1], x = sn->in[0];
    const ir_node *in = &g->nodes[idx];
    if (in->op != IR_OP_MAXPOOL2D_INDICES || in->attr.mode != 0 || in->in[0] != x) continue;
    const int32_t first = gid < sid ? gid : sid, second = gid < sid ? sid : gid;
    const int32_t y = find_pooling(g, x, &in->attr.win, first);
    if (y < 0) continue;
    const ir_attr grad_attr = gn->attr;
    const bool masked_form = !extensible(&g->nodes[dy]);
    bool summed = false;
    for (int32_t j = m + 1; j < g->n && !summed; j++) summed = spatial_sum(g, &g->nodes[j], m);
    mn->op = IR_OP_MAXPOOL2D_GRAD;
    mn->attr = grad_attr;
    mn->in[0] = idx;
    if (masked_form) {
      mn->nin = 3;
      mn->in[1] = dy;
      mn->in[2] = y;
      if (!summed) return; /* else the nodes below feed only the sums */
    }
    const gc_shape ys = g->nodes[y].shape;
    ir_node *a = &g->nodes[first], *b = &g->nodes[second];
    a->op = IR_OP_STEP; /* y < first */
    a->nin = 1;
    a->in[0] = y;
    memset(&a->attr, 0, sizeof a->attr);
    a->shape = ys;
    a->dtype = GC_F32;
    b->op = IR_OP_MUL; /* dy < gid <= second, first < second */
    b->nin = 2;
    b->in[0] = dy;
    b->in[1] = first;
    memset(&b->attr, 0, sizeof b->attr);
    b->shape = ys;
    b->dtype = GC_F32;
    if (!masked_form) {
      mn->nin = 2;
      mn->in[1] = second;
    }
    /* every window's masked dy lands on one element: a sum over all the
     * spatial axes (a conv's bias gradient) is the sum of the pooled
     * values, a quarter of the reads for 2x2 windows */
    for (int32_t j = m + 1; j < g->n; j++)
      if (spatial_sum(g, &g->nodes[j], m)) g->nodes[j].in[0] = second;
    return;
  }
}

gc_status pass_mask_pool_grads(ir_graph *g) {
  int *uses = calloc((size_t)(g->n ? g->n : 1), sizeof *uses);
  if (!uses) return gc_fail(GC_ERR_NOMEM, "simplify: out of memory");
  for (int i = 0; i < g->n; i++)
    for (int k = 0; k < g->nodes[i].nin; k++) uses[g->nodes[i].in[k]]++;
  /* a rewrite drops reads of nodes it does not look at again */
  for (int i = 0; i < g->n; i++)
    if (g->nodes[i].op == IR_OP_MUL) rewrite(g, uses, i);
  free(uses);
  return GC_OK;
}
