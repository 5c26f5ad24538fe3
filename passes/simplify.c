/* simplify.c — dead-code elimination: keeps the nodes that an output, the
 * loss or an in-place update needs, drops the rest and renumbers. (Folding
 * constants and CSE come later; see the design.) */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

gc_status pass_simplify(ir_graph *g) {
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
    if (ng) {
      for (int i = 0; i < m; i++) ng[i] = -1;
      for (int i = 0; i < g->ngrad && i < n; i++)
        if (map[i] >= 0) ng[map[i]] = g->grad[i];
    }
    free(g->grad);
    g->grad = ng;
    g->ngrad = ng ? m : 0;
  }
  free(live);
  free(map);
  return GC_OK;
}
