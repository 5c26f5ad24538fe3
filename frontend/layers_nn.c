/* layers_nn.c — neural-network layers with their parameters, named after
 * the layer: conv2d (+ bias), batch normalization (affine + running
 * statistics), layer normalization. */
#include <stdio.h>

#include "ir/ir.h"

#define SHP(s) gc_shape_str((s), (char[160]){0}, 160)

static bool named(gc_graph *g, const char *name, const char *what) {
  if (!g || g->status) return false;
  if (name && *name) return true;
  ir_error(g, GC_ERR_INVALID, "%s: a name is required (its parameters are named after it)", what);
  return false;
}

static gc_value param(gc_graph *g, const char *base, const char *suffix, gc_shape s, gc_init init) {
  char n[300];
  snprintf(n, sizeof n, "%s.%s", base, suffix);
  return gc_param(g, n, s, init);
}

gc_value gc_conv2d_layer(gc_graph *g, gc_value x, int64_t out, int kh, int kw,
                         const gc_conv2d_opts *o, gc_init w_init, const char *name) {
  if (!named(g, name, "conv2d_layer")) return (gc_value){-1};
  gc_shape xs = gc_value_shape(g, x);
  if (xs.ndim != 4) {
    ir_error(g, GC_ERR_SHAPE, "conv2d_layer \"%s\": input must be [N, C, H, W], got %s", name,
             SHP(xs));
    return (gc_value){-1};
  }
  int groups = o && o->groups > 0 ? o->groups : 1;
  gc_value w = param(g, name, "w", gc_shape4(out, xs.dim[1] / groups, kh, kw), w_init);
  gc_value b = param(g, name, "b", gc_shape3(out, 1, 1), GC_ZEROS);
  return gc_add(g, gc_conv2d(g, x, w, o), b);
}

gc_value gc_batch_norm_layer(gc_graph *g, gc_value x, int training, float momentum, float eps,
                             const char *name) {
  if (!named(g, name, "batch_norm_layer")) return (gc_value){-1};
  gc_shape xs = gc_value_shape(g, x);
  if (xs.ndim < 2) {
    ir_error(g, GC_ERR_SHAPE, "batch_norm_layer \"%s\": input must be [N, C, ...], got %s", name,
             SHP(xs));
    return (gc_value){-1};
  }
  gc_shape c = gc_shape1(xs.dim[1]);
  gc_init ones = {GC_INIT_ONES, 0, 0, 0, 0};
  gc_value gamma = param(g, name, "gamma", c, ones), beta = param(g, name, "beta", c, GC_ZEROS);
  gc_value rm = param(g, name, "running_mean", c, GC_ZEROS);
  gc_value rv = param(g, name, "running_var", c, ones);
  return gc_batch_norm(g, x, gamma, beta, rm, rv, training, momentum, eps);
}

gc_value gc_layer_norm_layer(gc_graph *g, gc_value x, int k, float eps, const char *name) {
  if (!named(g, name, "layer_norm_layer")) return (gc_value){-1};
  gc_shape xs = gc_value_shape(g, x);
  if (k < 1 || k > xs.ndim) {
    ir_error(g, GC_ERR_SHAPE, "layer_norm_layer \"%s\": cannot normalize the last %d axes of %s",
             name, k, SHP(xs));
    return (gc_value){-1};
  }
  gc_shape s = gc_shapen(k, xs.dim + xs.ndim - k);
  gc_init ones = {GC_INIT_ONES, 0, 0, 0, 0};
  return gc_layer_norm(g, x, k, param(g, name, "gamma", s, ones),
                       param(g, name, "beta", s, GC_ZEROS), eps);
}
