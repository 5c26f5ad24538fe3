/* layers.c — layers built from primitive ops: what a model author reaches
 * for, with no kernels of their own (fusion makes them fast). */
#include <stdio.h>

#include "ir/ir.h"

gc_value gc_linear(gc_graph *g, gc_value x, int64_t out, gc_init w_init, const char *name) {
  if (!g || g->status) return (gc_value){-1};
  if (!name || !*name) {
    ir_error(g, GC_ERR_INVALID, "linear: a name is required (its parameters are named after it)");
    return (gc_value){-1};
  }
  gc_shape xs = gc_value_shape(g, x);
  char buf[160];
  if (xs.ndim != 2) {
    ir_error(g, GC_ERR_SHAPE, "linear \"%s\": input must be [N, in], got %s", name,
             gc_shape_str(xs, buf, sizeof buf));
    return (gc_value){-1};
  }
  char wn[256], bn[256];
  snprintf(wn, sizeof wn, "%s.w", name);
  snprintf(bn, sizeof bn, "%s.b", name);
  gc_value w = gc_param(g, wn, gc_shape2(xs.dim[1], out), w_init);
  gc_value b = gc_param(g, bn, gc_shape1(out), GC_ZEROS);
  return gc_add(g, gc_matmul(g, x, w), b);
}

gc_value gc_mse(gc_graph *g, gc_value pred, gc_value target) {
  gc_value d = gc_sub(g, pred, target);
  return gc_mean(g, gc_mul(g, d, d), NULL, 0, 0);
}
