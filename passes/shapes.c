/* shapes.c — the shape-inference pass: re-runs every node's shape rule in
 * order (builders already did, but imported or rewritten graphs need it)
 * and then the verifier. A mismatch names the op, node and shapes. */
#include "passes/passes.h"

gc_status pass_shapes(ir_graph *g) {
  for (int i = 0; i < g->n; i++) {
    gc_status st = ir_infer_shape(g, &g->nodes[i]);
    if (st) return gc_fail_context(st, "shapes: %s", ir_node_label(g, i));
  }
  return ir_verify(g);
}
