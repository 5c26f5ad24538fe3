/* split_updates.c — an optimizer's update (Adam, or SGD with its
 * velocity) in two steps where one would hold activations in memory.
 *
 * Fusion puts a parameter's Adam update into the epilogue of the product
 * computing its gradient (passes/fuse.c), so the gradient never reaches
 * memory. But the update overwrites the parameter, so it runs after every
 * other reader of the parameter (schedule.c), and the product with it. In
 * a dense layer's backward the other reader is the input gradient's
 * product, dX = dY W^T, which reads the activations X too (the ReLU mask
 * of the layer below): with the update fused, the weight gradient X^T dY
 * must wait for dX, so X lives until then, and dX cannot be written over
 * X. In the MLP's step that is the arena's peak: h1 (64 KB), dh2 and dh1
 * live together at dh1's product, 160 KB of a 197 KB no-reuse sum.
 *
 * Split in two, adam_moments(m, grad, v) updates only the moments, which
 * no other kernel reads, so it stays in the gradient's epilogue free of
 * the ordering; adam_apply(param, moments, v) writes the parameter later,
 * from the m and v it left: the same arithmetic on the same floats, so
 * the same numbers. The weight gradient then runs before dX, X dies at
 * dX's product and dX takes its storage (the MLP's peak drops to the
 * forward's h1 + h2 + logits, 50% of the no-reuse sum). The applies of all
 * split parameters become one multi-tensor kernel (fuse.c): one launch
 * more per step and a second read of m and v for the split parameters.
 * SGD splits the same way: sgd_velocity(v, grad, param) in the product,
 * sgd_apply(param, velocity) later.
 *
 * The rule, stated: split the Adam or SGD update of parameter p when
 * (1) its gradient is a matmul that it is the only reader of (what fusion
 * puts it into), and (2) some other reader of p is not an ancestor of
 * that matmul (it can run beside the gradient's product, and the update
 * would make the product wait for it). A gradient the user reads (an
 * output) is stored anyway and the update is not fused: no split. A first
 * layer's weights, read only by the forward, stay whole. Runs after
 * simplify, with fusion only: unfused the update is a kernel of its own
 * anyway. */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

/* Is x read only by u, directly or through a chain of single-reader
 * views? (uses: readers per node) */
static bool only_reader(const ir_graph *g, const int *uses, int32_t x, int32_t u) {
  for (int32_t v = g->nodes[u].in[1]; v != x; v = g->nodes[v].in[0])
    if (uses[v] != 1) return false;
  return uses[x] == 1;
}

/* Does a node other than u read p (directly or through views) without
 * being an ancestor of x? anc: scratch, n flags. */
static bool read_beside(const ir_graph *g, int32_t p, int32_t x, int32_t u, bool *anc) {
  memset(anc, 0, sizeof *anc * (size_t)g->n);
  anc[x] = true;
  for (int32_t i = x; i >= 0; i--) /* ids are a topological order */
    if (anc[i])
      for (int k = 0; k < g->nodes[i].nin; k++) anc[g->nodes[i].in[k]] = true;
  for (int32_t r = 0; r < g->n; r++) {
    const ir_node *n = &g->nodes[r];
    if (r == u || anc[r] || (ir_ops[n->op].props & IR_P_VIEW)) continue;
    for (int k = 0; k < n->nin; k++)
      if (ir_view_source(g, n->in[k]) == p) return true;
  }
  return false;
}

/* Marks (split[u]) the updates the rule splits; returns how many, or
 * -1 when out of memory. */
static int mark(const ir_graph *g, bool *split) {
  int n = g->n, count = 0;
  int *uses = calloc((size_t)(n ? n : 1), sizeof *uses);
  bool *anc = malloc(sizeof *anc * (size_t)(n ? n : 1));
  if (!uses || !anc) {
    free(uses);
    free(anc);
    return -1;
  }
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes[i].nin; k++) uses[g->nodes[i].in[k]]++;
  for (int32_t u = 0; u < n; u++) {
    const ir_node *nd = &g->nodes[u];
    split[u] = false;
    if (nd->op != IR_OP_ADAM_UPDATE && nd->op != IR_OP_SGD_UPDATE) continue;
    int32_t x = ir_view_source(g, nd->in[1]);
    split[u] = g->nodes[x].op == IR_OP_MATMUL && !(g->nodes[x].flags & (IR_F_OUTPUT | IR_F_LOSS)) &&
               only_reader(g, uses, x, u) && read_beside(g, nd->in[0], x, u, anc);
    count += split[u];
  }
  free(uses);
  free(anc);
  return count;
}

int pass_split_candidates(const ir_graph *g) {
  bool *split = malloc(sizeof *split * (size_t)(g->n ? g->n : 1));
  int count = split ? mark(g, split) : -1;
  free(split);
  return count;
}

gc_status pass_split_updates(ir_graph *g) {
  int n = g->n;
  bool *split = malloc(sizeof *split * (size_t)(n ? n : 1));
  if (!split || mark(g, split) < 0) {
    free(split);
    return gc_fail(GC_ERR_NOMEM, "split updates: out of memory");
  }
  for (int32_t u = 0; u < n && !g->status; u++) {
    if (!split[u]) continue;
    /* u becomes the state's half (its id stays before the apply that
     * reads it); the apply is appended */
    ir_node *nd = &g->nodes[u];
    const ir_attr a = nd->attr;
    const int32_t p = nd->in[0], grad = nd->in[1];
    if (nd->op == IR_OP_ADAM_UPDATE) { /* (p, g, m, v, hyper) */
      const int32_t m = nd->in[2], v = nd->in[3], hyper = nd->in[4];
      const int32_t half[4] = {m, grad, v, hyper}, in[4] = {p, u, v, hyper};
      nd->op = IR_OP_ADAM_MOMENTS;
      nd->nin = 4;
      memcpy(nd->in, half, sizeof half);
      ir_add(g, IR_OP_ADAM_APPLY, 4, in, &a);
    } else { /* (p, g, velocity, hyper) */
      const int32_t vel = nd->in[2], hyper = nd->in[3];
      const int32_t half[4] = {vel, grad, p, hyper}, in[3] = {p, u, hyper};
      nd->op = IR_OP_SGD_VELOCITY;
      memcpy(nd->in, half, sizeof half);
      ir_add(g, IR_OP_SGD_APPLY, 3, in, &a);
    }
  }
  free(split);
  return g->status ? gc_fail(g->status, "split updates: %s", g->err) : GC_OK;
}
