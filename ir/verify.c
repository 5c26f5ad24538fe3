/* verify.c — structural invariants of a graph, checked between passes:
 * inputs precede their users, arities match the op table, every node's
 * dtype and shape are what its shape rule says, names are unique. */
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

gc_status ir_verify(const ir_graph *g) {
  if (!g) return gc_fail(GC_ERR_INVALID, "verify: null graph");
  char a[160], b[160];
  for (int i = 0; i < g->n; i++) {
    const ir_node *n = &g->nodes[i];
    if ((unsigned)n->op >= IR_OP_COUNT)
      return gc_fail(GC_ERR_INTERNAL, "verify: node %d has bad op %d", i, (int)n->op);
    const ir_op_info *info = &ir_ops[n->op];
    if (n->nin < info->min_inputs || n->nin > info->max_inputs)
      return gc_fail(GC_ERR_INTERNAL, "verify: %s has %d inputs", ir_node_label(g, i), n->nin);
    for (int k = 0; k < n->nin; k++)
      if (n->in[k] < 0 || n->in[k] >= i)
        return gc_fail(GC_ERR_INTERNAL, "verify: %s input %d (%d) does not precede it",
                       ir_node_label(g, i), k, n->in[k]);
    ir_node copy = *n;
    gc_status st = ir_infer_shape((ir_graph *)g, &copy);
    if (st) return gc_fail_context(st, "verify: %s", ir_node_label(g, i));
    if (copy.dtype != n->dtype || !ir_shape_eq(copy.shape, n->shape))
      return gc_fail(GC_ERR_INTERNAL, "verify: %s is %s%s but its rule gives %s%s",
                     ir_node_label(g, i), gc_dtype_name(n->dtype), gc_shape_str(n->shape, a, 160),
                     gc_dtype_name(copy.dtype), gc_shape_str(copy.shape, b, 160));
    if ((info->props & IR_P_LEAF) && n->op != IR_OP_INPUT && n->op != IR_OP_STATE && !n->data &&
        gc_shape_numel(n->shape) > 0)
      return gc_fail(GC_ERR_INTERNAL, "verify: %s has no initial data", ir_node_label(g, i));
    if (n->name)
      for (int j = 0; j < i; j++)
        if (g->nodes[j].name && !strcmp(g->nodes[j].name, n->name))
          return gc_fail(GC_ERR_INTERNAL, "verify: name \"%s\" used by nodes %d and %d", n->name, j,
                         i);
  }
  if (g->loss >= g->n) return gc_fail(GC_ERR_INTERNAL, "verify: loss id out of range");
  return GC_OK;
}
