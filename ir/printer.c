/* printer.c — the IR as text, one node per line:
 *   %12 = add(%10, %11) f32[64, 256] "fc1.out" {output}
 * Used by --dump-after and in error reports. */
#include <stdio.h>

#include "ir/ir.h"

static void print_attrs(const ir_node *n, FILE *out) {
  switch (n->op) {
    case IR_OP_SUM:
    case IR_OP_MEAN:
    case IR_OP_MAX:
      fprintf(out, " axes=0x%x keepdims=%d", n->attr.axes, n->attr.keepdims);
      break;
    case IR_OP_MATMUL:
      if (n->attr.trans_a || n->attr.trans_b)
        fprintf(out, " trans_a=%d trans_b=%d", n->attr.trans_a, n->attr.trans_b);
      break;
    case IR_OP_SOFTMAX:
    case IR_OP_LOG_SOFTMAX:
      fprintf(out, " axis=%d", n->attr.axis);
      break;
    case IR_OP_TRANSPOSE:
      fprintf(out, " perm=");
      for (int i = 0; i < n->shape.ndim; i++) fprintf(out, "%s%d", i ? "," : "", n->attr.perm[i]);
      break;
    case IR_OP_ADAM_UPDATE:
    case IR_OP_ADAM_MOMENTS:
    case IR_OP_ADAM_APPLY:
    case IR_OP_SGD_UPDATE:
    case IR_OP_SGD_VELOCITY:
    case IR_OP_SGD_APPLY:
    case IR_OP_OPT_TICK:
      fprintf(out, " hyper=%g,%g,%g,%g", n->attr.f[0], n->attr.f[1], n->attr.f[2], n->attr.f[3]);
      break;
    default:
      break;
  }
}

gc_status ir_print(const ir_graph *g, FILE *out) {
  if (!g || !out) return gc_fail(GC_ERR_INVALID, "ir_print: null argument");
  char buf[160];
  for (int i = 0; i < g->n; i++) {
    const ir_node *n = &g->nodes[i];
    fprintf(out, "%%%d = %s(", i, ir_ops[n->op].name);
    for (int k = 0; k < n->nin; k++) fprintf(out, "%s%%%d", k ? ", " : "", n->in[k]);
    fprintf(out, ") %s%s", gc_dtype_name(n->dtype), gc_shape_str(n->shape, buf, sizeof buf));
    print_attrs(n, out);
    if (n->name) fprintf(out, " \"%s\"", n->name);
    if (n->flags & (IR_F_OUTPUT | IR_F_LOSS)) {
      fprintf(out, " {");
      if (n->flags & IR_F_OUTPUT) fprintf(out, "output %s", n->out_name ? n->out_name : "");
      if (n->flags & IR_F_LOSS) fprintf(out, "%sloss", n->flags & IR_F_OUTPUT ? ", " : "");
      fprintf(out, "}");
    }
    fprintf(out, "\n");
  }
  return GC_OK;
}

gc_status gc_graph_print(const gc_graph *g, FILE *out) { return ir_print(g, out); }
