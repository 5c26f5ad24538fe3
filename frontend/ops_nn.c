/* ops_nn.c — public builders of the neural-network ops: convolutions and
 * pooling over 1, 2 or 3 spatial axes (primitives with kernels of their
 * own; the 3-D builders make the same ops with 5-D tensors), upsampling, batch /
 * layer / instance normalization and the extra losses (built from
 * primitives, so they fuse), counter-based random numbers and dropout.
 * Errors are sticky on the graph, as for every builder. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/nn_geom.h"

#define BAD ((gc_value){-1})
#define SHP(s) gc_shape_str((s), (char[160]){0}, 160)

static bool ok(gc_graph *g, gc_value v, const char *what) {
  if (!g || g->status) return false;
  if (v.id < 0 || v.id >= g->n) {
    ir_error(g, GC_ERR_INVALID, "%s: invalid input value", what);
    return false;
  }
  return true;
}

static gc_value node(gc_graph *g, ir_op op, int nin, const int32_t *in, const ir_attr *a) {
  return ir_value(ir_add(g, op, nin, in, a));
}

static ir_window conv_window(const gc_conv2d_opts *o) {
  ir_window w = {0};
  if (!o) return w;
  w.sh = o->stride[0], w.sw = o->stride[1];
  w.dh = o->dilation[0], w.dw = o->dilation[1];
  w.pt = o->padding[0], w.pl = o->padding[1], w.pb = o->padding[2], w.pr = o->padding[3];
  w.groups = o->groups;
  w.oph = o->output_padding[0], w.opw = o->output_padding[1];
  return w;
}

static ir_window conv3d_window(const gc_conv3d_opts *o) {
  ir_window w = {0};
  if (!o) return w;
  w.sd = o->stride[0], w.sh = o->stride[1], w.sw = o->stride[2];
  w.dd = o->dilation[0], w.dh = o->dilation[1], w.dw = o->dilation[2];
  w.pd0 = o->padding[0], w.pt = o->padding[1], w.pl = o->padding[2];
  w.pd1 = o->padding[3], w.pb = o->padding[4], w.pr = o->padding[5];
  w.groups = o->groups;
  w.opd = o->output_padding[0], w.oph = o->output_padding[1], w.opw = o->output_padding[2];
  return w;
}

/* x of the rank the builder `what` takes (4: NCHW, 5: NCDHW). */
static bool need_rank(gc_graph *g, gc_value x, int rank, const char *what) {
  if (!ok(g, x, what)) return false;
  gc_shape s = gc_value_shape(g, x);
  if (s.ndim == rank) return true;
  ir_error(g, GC_ERR_SHAPE, "%s: input must be %s, got %s", what,
           rank == 5 ? "5-D [N, C, D, H, W]" : "4-D [N, C, H, W]", SHP(s));
  return false;
}

static gc_value conv(gc_graph *g, gc_value x, gc_value w, ir_window win) {
  ir_attr a = {0};
  a.win = win;
  int32_t in[2] = {x.id, w.id};
  return node(g, IR_OP_CONV2D, 2, in, &a);
}

gc_value gc_conv2d(gc_graph *g, gc_value x, gc_value w, const gc_conv2d_opts *o) {
  if (!need_rank(g, x, 4, "conv2d") || !ok(g, w, "conv2d")) return BAD;
  return conv(g, x, w, conv_window(o));
}

gc_value gc_conv3d(gc_graph *g, gc_value x, gc_value w, const gc_conv3d_opts *o) {
  if (!need_rank(g, x, 5, "conv3d") || !ok(g, w, "conv3d")) return BAD;
  return conv(g, x, w, conv3d_window(o));
}

gc_value gc_conv1d(gc_graph *g, gc_value x, gc_value w, const gc_conv2d_opts *o) {
  if (!ok(g, x, "conv1d") || !ok(g, w, "conv1d")) return BAD;
  gc_shape xs = gc_value_shape(g, x), ws = gc_value_shape(g, w);
  if (xs.ndim != 3 || ws.ndim != 3)
    return ir_value(ir_error(g, GC_ERR_SHAPE,
                             "conv1d: want x [N, C, L] and w [O, C/groups, k], got %s and %s",
                             SHP(xs), SHP(ws)));
  gc_conv2d_opts o2 = {{0}};
  if (o) {
    o2.stride[1] = o->stride[1];
    o2.dilation[1] = o->dilation[1];
    o2.padding[1] = o->padding[1];
    o2.padding[3] = o->padding[3];
    o2.groups = o->groups;
  }
  gc_value y = gc_conv2d(g, gc_reshape(g, x, gc_shape4(xs.dim[0], xs.dim[1], 1, xs.dim[2])),
                         gc_reshape(g, w, gc_shape4(ws.dim[0], ws.dim[1], 1, ws.dim[2])), &o2);
  gc_shape ys = gc_value_shape(g, y);
  return gc_value_ok(y) ? gc_reshape(g, y, gc_shape3(ys.dim[0], ys.dim[1], ys.dim[3])) : BAD;
}

/* conv_transpose(x, w) is conv's input gradient with dy = x: the output
 * shape is the conv input that maps onto x's shape. x and w have the rank
 * of the builder (4 or 5); the window is in win. */
static gc_value conv_transpose(gc_graph *g, const char *what, gc_value x, gc_value w, int rank,
                               ir_window win) {
  if (!ok(g, x, what) || !ok(g, w, what)) return BAD;
  gc_shape xs = gc_value_shape(g, x), ws = gc_value_shape(g, w);
  if (xs.ndim != rank || ws.ndim != rank)
    return ir_value(ir_error(
        g, GC_ERR_SHAPE, "%s: want x [N, C, %s] and w [C, O/groups, %s], got %s and %s", what,
        rank == 5 ? "D, H, W" : "H, W", rank == 5 ? "kd, kh, kw" : "kh, kw", SHP(xs), SHP(ws)));
  ir_attr a = {0};
  a.win = win;
  nn_window_normalize(&a.win);
  const ir_window *v = &a.win;
  /* per spatial axis (depth first, for 3-D): stride, dilation, both pads,
   * output padding */
  const int off = rank - 4;
  const int s[3] = {v->sd, v->sh, v->sw}, d[3] = {v->dd, v->dh, v->dw};
  const int p0[3] = {v->pd0, v->pt, v->pl}, p1[3] = {v->pd1, v->pb, v->pr};
  const int op[3] = {v->opd, v->oph, v->opw};
  int64_t dims[5] = {xs.dim[0], ws.dim[1] * v->groups, 0, 0, 0};
  for (int k = 1 - off; k < 3; k++) {
    const int ax = k + 1 + off; /* the axis of x and w */
    if (op[k] < 0 || (op[k] >= s[k] && op[k] >= d[k]))
      return ir_value(ir_error(g, GC_ERR_SHAPE,
                               "%s: output padding %d must be smaller than the stride %d or the "
                               "dilation %d (axis %d of %s)",
                               what, op[k], s[k], d[k], ax, SHP(xs)));
    dims[ax] =
        (xs.dim[ax] - 1) * s[k] - p0[k] - p1[k] + (int64_t)d[k] * (ws.dim[ax] - 1) + op[k] + 1;
    if (dims[ax] < 1)
      return ir_value(ir_error(g, GC_ERR_SHAPE, "%s: input %s with weight %s gives an empty output",
                               what, SHP(xs), SHP(ws)));
  }
  a.shape = gc_shapen(rank, dims);
  int32_t in[2] = {x.id, w.id};
  return node(g, IR_OP_CONV2D_GRAD_INPUT, 2, in, &a);
}

gc_value gc_conv_transpose2d(gc_graph *g, gc_value x, gc_value w, const gc_conv2d_opts *o) {
  return conv_transpose(g, "conv_transpose2d", x, w, 4, conv_window(o));
}

gc_value gc_conv_transpose3d(gc_graph *g, gc_value x, gc_value w, const gc_conv3d_opts *o) {
  return conv_transpose(g, "conv_transpose3d", x, w, 5, conv3d_window(o));
}

/* A pooling window of kernel k (depth, height, width), stride s (0: the
 * kernel), dilation d, pads p0 (front, top, left) and p1 (back, bottom,
 * right). */
static ir_window pool_window(const int k[3], const int s[3], const int d[3], const int p0[3],
                             const int p1[3], int ceil_mode, int count_include_pad) {
  ir_window w = {0};
  w.kd = k[0], w.kh = k[1], w.kw = k[2];
  w.sd = s[0] ? s[0] : k[0], w.sh = s[1] ? s[1] : k[1], w.sw = s[2] ? s[2] : k[2];
  w.dd = d[0], w.dh = d[1], w.dw = d[2];
  w.pd0 = p0[0], w.pt = p0[1], w.pl = p0[2];
  w.pd1 = p1[0], w.pb = p1[1], w.pr = p1[2];
  w.ceil_mode = ceil_mode != 0;
  w.count_include_pad = count_include_pad != 0;
  return w;
}

static ir_window pool2d_window(const gc_pool2d_opts *o) {
  const int k[3] = {1, o->kernel[0], o->kernel[1]}, s[3] = {1, o->stride[0], o->stride[1]};
  const int d[3] = {1, o->dilation[0], o->dilation[1]};
  const int p0[3] = {0, o->padding[0], o->padding[1]}, p1[3] = {0, o->padding[2], o->padding[3]};
  return pool_window(k, s, d, p0, p1, o->ceil_mode, o->count_include_pad);
}

static ir_window pool3d_window(const gc_pool3d_opts *o) {
  const int p0[3] = {o->padding[0], o->padding[1], o->padding[2]};
  const int p1[3] = {o->padding[3], o->padding[4], o->padding[5]};
  return pool_window(o->kernel, o->stride, o->dilation, p0, p1, o->ceil_mode, o->count_include_pad);
}

/* op (maxpool2d, avgpool2d or maxpool2d_indices) of x of rank `rank` over
 * the window of o2 (4-D) or o3 (5-D); what names the builder. */
static gc_value pool(gc_graph *g, ir_op op, const char *what, gc_value x, int rank,
                     const gc_pool2d_opts *o2, const gc_pool3d_opts *o3, int mode) {
  if (!need_rank(g, x, rank, what)) return BAD;
  if (rank == 4 ? !o2 : !o3)
    return ir_value(
        ir_error(g, GC_ERR_INVALID, "%s: options with the kernel size are required", what));
  ir_attr a = {0};
  a.win = rank == 4 ? pool2d_window(o2) : pool3d_window(o3);
  a.mode = mode;
  return node(g, op, 1, &x.id, &a);
}

gc_value gc_maxpool2d(gc_graph *g, gc_value x, const gc_pool2d_opts *o) {
  return pool(g, IR_OP_MAXPOOL2D, "maxpool2d", x, 4, o, NULL, 0);
}
gc_value gc_avgpool2d(gc_graph *g, gc_value x, const gc_pool2d_opts *o) {
  return pool(g, IR_OP_AVGPOOL2D, "avgpool2d", x, 4, o, NULL, 0);
}
gc_value gc_maxpool2d_indices(gc_graph *g, gc_value x, const gc_pool2d_opts *o, int column_major) {
  return pool(g, IR_OP_MAXPOOL2D_INDICES, "maxpool2d_indices", x, 4, o, NULL, column_major != 0);
}
gc_value gc_maxpool3d(gc_graph *g, gc_value x, const gc_pool3d_opts *o) {
  return pool(g, IR_OP_MAXPOOL2D, "maxpool3d", x, 5, NULL, o, 0);
}
gc_value gc_avgpool3d(gc_graph *g, gc_value x, const gc_pool3d_opts *o) {
  return pool(g, IR_OP_AVGPOOL2D, "avgpool3d", x, 5, NULL, o, 0);
}
gc_value gc_maxpool3d_indices(gc_graph *g, gc_value x, const gc_pool3d_opts *o, int column_major) {
  return pool(g, IR_OP_MAXPOOL2D_INDICES, "maxpool3d_indices", x, 5, NULL, o, column_major != 0);
}

static bool need_4d(gc_graph *g, gc_value x, const char *what) {
  if (!ok(g, x, what)) return false;
  gc_shape s = gc_value_shape(g, x);
  if (s.ndim == 4) return true;
  ir_error(g, GC_ERR_SHAPE, "%s: input must be 4-D [N, C, H, W], got %s", what, SHP(s));
  return false;
}

gc_value gc_global_avgpool2d(gc_graph *g, gc_value x) {
  if (!need_4d(g, x, "global_avgpool2d")) return BAD;
  return gc_mean(g, x, (int[]){2, 3}, 2, 1);
}
gc_value gc_global_maxpool2d(gc_graph *g, gc_value x) {
  if (!need_4d(g, x, "global_maxpool2d")) return BAD;
  return gc_max(g, x, (int[]){2, 3}, 2, 1);
}

/* [N,C,H,W] -> [N,C,H,1,W,1] -> expand [N,C,H,sh,W,sw] -> [N,C,H sh,W sw]:
 * a broadcast, so it fuses and its gradient is the expand's sum. */
gc_value gc_upsample_nearest2d(gc_graph *g, gc_value x, int sh, int sw) {
  if (!need_4d(g, x, "upsample_nearest2d")) return BAD;
  if (sh < 1 || sw < 1)
    return ir_value(
        ir_error(g, GC_ERR_INVALID, "upsample_nearest2d: factors %d, %d must be >= 1", sh, sw));
  gc_shape s = gc_value_shape(g, x);
  int64_t d6[6] = {s.dim[0], s.dim[1], s.dim[2], 1, s.dim[3], 1};
  int64_t e6[6] = {s.dim[0], s.dim[1], s.dim[2], sh, s.dim[3], sw};
  gc_value r = gc_expand(g, gc_reshape(g, x, gc_shapen(6, d6)), gc_shapen(6, e6));
  return gc_reshape(g, r, gc_shape4(s.dim[0], s.dim[1], s.dim[2] * sh, s.dim[3] * sw));
}

gc_value gc_resize_bilinear2d(gc_graph *g, gc_value x, int64_t oh, int64_t ow, int align_corners) {
  if (!need_4d(g, x, "resize_bilinear2d")) return BAD;
  gc_shape s = gc_value_shape(g, x);
  ir_attr a = {0};
  a.shape = gc_shape4(s.dim[0], s.dim[1], oh, ow);
  a.win.align_corners = align_corners != 0;
  return node(g, IR_OP_RESIZE_BILINEAR, 1, &x.id, &a);
}

gc_value gc_upsample_bilinear2d(gc_graph *g, gc_value x, int sh, int sw, int align_corners) {
  if (!need_4d(g, x, "upsample_bilinear2d")) return BAD;
  gc_shape s = gc_value_shape(g, x);
  return gc_resize_bilinear2d(g, x, s.dim[2] * sh, s.dim[3] * sw, align_corners);
}

/* ---- normalization, from primitives ---- */

/* (x - mean) / sqrt(var + eps) over the axes in mask (kept as size 1);
 * also hands back the batch mean and biased variance. */
static gc_value normalize(gc_graph *g, gc_value x, const int *axes, int naxes, float eps,
                          gc_value *mean_out, gc_value *var_out) {
  gc_value mean = gc_mean(g, x, axes, naxes, 1);
  gc_value d = gc_sub(g, x, mean);
  gc_value var = gc_mean(g, gc_mul(g, d, d), axes, naxes, 1);
  if (mean_out) *mean_out = mean;
  if (var_out) *var_out = var;
  return gc_div(g, d, gc_sqrt(g, gc_add(g, var, gc_scalar(g, eps))));
}

/* [C] -> [C, 1, ..., 1] to broadcast against [N, C, ...] */
static gc_value per_channel(gc_graph *g, gc_value v, int ndim) {
  gc_shape s = gc_value_shape(g, v);
  int64_t d[GC_MAX_DIMS];
  d[0] = s.ndim == 1 ? s.dim[0] : -1;
  for (int i = 1; i < ndim - 1; i++) d[i] = 1;
  return gc_reshape(g, v, gc_shapen(ndim - 1, d));
}

static bool channels_match(gc_graph *g, gc_value x, gc_value v, const char *what, const char *arg) {
  gc_shape xs = gc_value_shape(g, x), s = gc_value_shape(g, v);
  if (s.ndim == 1 && s.dim[0] == xs.dim[1]) return true;
  ir_error(g, GC_ERR_SHAPE, "%s: %s must be [%lld] for input %s, got %s", what, arg,
           (long long)xs.dim[1], SHP(xs), SHP(s));
  return false;
}

gc_value gc_batch_norm(gc_graph *g, gc_value x, gc_value gamma, gc_value beta,
                       gc_value running_mean, gc_value running_var, int training, float momentum,
                       float eps) {
  const char *w = "batch_norm";
  if (!ok(g, x, w) || !ok(g, gamma, w) || !ok(g, beta, w) || !ok(g, running_mean, w) ||
      !ok(g, running_var, w))
    return BAD;
  gc_shape xs = gc_value_shape(g, x);
  if (xs.ndim < 2)
    return ir_value(
        ir_error(g, GC_ERR_SHAPE, "batch_norm: input must be [N, C, ...], got %s", SHP(xs)));
  if (!channels_match(g, x, gamma, w, "gamma") || !channels_match(g, x, beta, w, "beta") ||
      !channels_match(g, x, running_mean, w, "running_mean") ||
      !channels_match(g, x, running_var, w, "running_var"))
    return BAD;
  int axes[GC_MAX_DIMS], na = 0;
  for (int i = 0; i < xs.ndim; i++)
    if (i != 1) axes[na++] = i;
  gc_value xn;
  if (training) {
    gc_value mean, var;
    xn = normalize(g, x, axes, na, eps, &mean, &var);
    double count = (double)gc_shape_numel(xs) / (double)xs.dim[1];
    float unbias = count > 1 ? (float)(count / (count - 1)) : 1.0f;
    gc_shape cs = gc_shape1(xs.dim[1]);
    gc_value m = gc_scalar(g, momentum);
    /* running += momentum (batch - running) */
    gc_value dm = gc_mul(g, m, gc_sub(g, gc_reshape(g, mean, cs), running_mean));
    gc_value bv = gc_mul(g, gc_reshape(g, var, cs), gc_scalar(g, unbias));
    gc_value dv = gc_mul(g, m, gc_sub(g, bv, running_var));
    gc_assign_add(g, running_mean, dm);
    gc_assign_add(g, running_var, dv);
  } else {
    gc_value rm = per_channel(g, running_mean, xs.ndim), rv = per_channel(g, running_var, xs.ndim);
    xn = gc_div(g, gc_sub(g, x, rm), gc_sqrt(g, gc_add(g, rv, gc_scalar(g, eps))));
  }
  return gc_add(g, gc_mul(g, xn, per_channel(g, gamma, xs.ndim)), per_channel(g, beta, xs.ndim));
}

gc_value gc_layer_norm(gc_graph *g, gc_value x, int k, gc_value gamma, gc_value beta, float eps) {
  const char *w = "layer_norm";
  if (!ok(g, x, w) || !ok(g, gamma, w) || !ok(g, beta, w)) return BAD;
  gc_shape xs = gc_value_shape(g, x);
  if (k < 1 || k > xs.ndim)
    return ir_value(ir_error(g, GC_ERR_SHAPE, "layer_norm: cannot normalize the last %d axes of %s",
                             k, SHP(xs)));
  gc_shape ns = gc_shapen(k, xs.dim + xs.ndim - k);
  if (!ir_shape_eq(gc_value_shape(g, gamma), ns) || !ir_shape_eq(gc_value_shape(g, beta), ns))
    return ir_value(ir_error(g, GC_ERR_SHAPE, "layer_norm: gamma %s and beta %s must be %s",
                             SHP(gc_value_shape(g, gamma)), SHP(gc_value_shape(g, beta)), SHP(ns)));
  int axes[GC_MAX_DIMS];
  for (int i = 0; i < k; i++) axes[i] = xs.ndim - k + i;
  gc_value xn = normalize(g, x, axes, k, eps, NULL, NULL);
  return gc_add(g, gc_mul(g, xn, gamma), beta);
}

gc_value gc_instance_norm(gc_graph *g, gc_value x, gc_value gamma, gc_value beta, float eps) {
  const char *w = "instance_norm";
  if (!ok(g, x, w) || !ok(g, gamma, w) || !ok(g, beta, w)) return BAD;
  gc_shape xs = gc_value_shape(g, x);
  if (xs.ndim < 3)
    return ir_value(
        ir_error(g, GC_ERR_SHAPE, "instance_norm: input must be [N, C, ...], got %s", SHP(xs)));
  if (!channels_match(g, x, gamma, w, "gamma") || !channels_match(g, x, beta, w, "beta"))
    return BAD;
  int axes[GC_MAX_DIMS], na = 0;
  for (int i = 2; i < xs.ndim; i++) axes[na++] = i;
  gc_value xn = normalize(g, x, axes, na, eps, NULL, NULL);
  return gc_add(g, gc_mul(g, xn, per_channel(g, gamma, xs.ndim)), per_channel(g, beta, xs.ndim));
}

/* ---- random numbers ---- */

/* The graph's step counter "rng.step" (i32 state, +1 per run), created
 * with its increment on first use. */
static int32_t step_counter(gc_graph *g) {
  int32_t id = ir_find_name(g, "rng.step");
  if (id >= 0) return id;
  ir_attr a = {0};
  a.to = GC_I32;
  a.shape = gc_shape0();
  id = ir_add(g, IR_OP_STATE, 0, NULL, &a);
  if (id < 0) return -1;
  ir_node *n = &g->nodes[id];
  n->flags |= IR_F_STATE;
  n->data = calloc(1, sizeof(int32_t));
  n->name = strdup("rng.step");
  if (!n->data || !n->name) return ir_error(g, GC_ERR_NOMEM, "random: out of memory");
  int32_t one = 1;
  gc_value inc = gc_constant(g, GC_I32, gc_shape0(), &one);
  if (!gc_value_ok(gc_assign_add(g, ir_value(id), inc))) return -1;
  return id;
}

static gc_value random_node(gc_graph *g, gc_shape s, int dist, float a, float b, uint64_t seed) {
  if (!g || g->status) return BAD;
  int32_t ctr = step_counter(g);
  if (ctr < 0) return BAD;
  int stream = 0; /* calls in one graph with one seed differ by stream */
  for (int i = 0; i < g->n; i++) stream += g->nodes[i].op == IR_OP_RANDOM;
  ir_attr at = {0};
  at.shape = s;
  at.win.dist = dist;
  at.win.seed_lo = (uint32_t)seed;
  at.win.seed_hi = (uint32_t)(seed >> 32) + (uint32_t)stream * 0x9e3779b9U;
  at.f[0] = a;
  at.f[1] = b;
  return node(g, IR_OP_RANDOM, 1, &ctr, &at);
}

gc_value gc_random_uniform(gc_graph *g, gc_shape s, float lo, float hi, uint64_t seed) {
  return random_node(g, s, 0, lo, hi, seed);
}
gc_value gc_random_normal(gc_graph *g, gc_shape s, float mean, float std, uint64_t seed) {
  return random_node(g, s, 1, mean, std, seed);
}

gc_value gc_dropout(gc_graph *g, gc_value x, float p, uint64_t seed) {
  if (!ok(g, x, "dropout")) return BAD;
  if (!(p >= 0 && p < 1))
    return ir_value(ir_error(g, GC_ERR_INVALID, "dropout: p = %g must be in [0, 1)", p));
  if (p == 0) return x;
  gc_value u = gc_random_uniform(g, gc_value_shape(g, x), 0.0f, 1.0f, seed);
  /* keep where u >= p: step(u - p) is 1 where u > p; u == p has measure 2^-24 */
  gc_value keep = gc_step(g, gc_sub(g, u, gc_scalar(g, p)));
  return gc_mul(g, x, gc_mul(g, keep, gc_scalar(g, 1.0f / (1.0f - p))));
}

/* ---- losses, from primitives ---- */

static gc_value absv(gc_graph *g, gc_value x) {
  return gc_add(g, gc_relu(g, x), gc_relu(g, gc_neg(g, x)));
}

/* Batch size: dim 0 (1 for a scalar). */
static float batch_of(gc_graph *g, gc_value x) {
  gc_shape s = gc_value_shape(g, x);
  return s.ndim > 0 ? (float)s.dim[0] : 1.0f;
}

static bool same_shape(gc_graph *g, gc_value a, gc_value b, const char *what) {
  if (!ok(g, a, what) || !ok(g, b, what)) return false;
  if (ir_shape_eq(gc_value_shape(g, a), gc_value_shape(g, b))) return true;
  ir_error(g, GC_ERR_SHAPE, "%s: shapes %s and %s differ", what, SHP(gc_value_shape(g, a)),
           SHP(gc_value_shape(g, b)));
  return false;
}

gc_value gc_cross_entropy_soft(gc_graph *g, gc_value logits, gc_value probs) {
  if (!same_shape(g, logits, probs, "cross_entropy_soft")) return BAD;
  if (gc_value_shape(g, logits).ndim != 2)
    return ir_value(ir_error(g, GC_ERR_SHAPE, "cross_entropy_soft: want [N, C], got %s",
                             SHP(gc_value_shape(g, logits))));
  gc_value s = gc_sum(g, gc_mul(g, probs, gc_log_softmax(g, logits, 1)), NULL, 0, 0);
  return gc_mul(g, s, gc_scalar(g, -1.0f / batch_of(g, logits)));
}

gc_value gc_bce_with_logits(gc_graph *g, gc_value x, gc_value t) {
  if (!same_shape(g, x, t, "bce_with_logits")) return BAD;
  /* log(1 + exp(-|x|)): the exponent is <= 0, so nothing overflows */
  gc_value sp = gc_log(g, gc_add(g, gc_scalar(g, 1.0f), gc_exp(g, gc_neg(g, absv(g, x)))));
  gc_value l = gc_add(g, gc_sub(g, gc_relu(g, x), gc_mul(g, x, t)), sp);
  return gc_mean(g, l, NULL, 0, 0);
}

gc_value gc_l1_loss(gc_graph *g, gc_value pred, gc_value target) {
  if (!same_shape(g, pred, target, "l1_loss")) return BAD;
  return gc_mean(g, absv(g, gc_sub(g, pred, target)), NULL, 0, 0);
}

gc_value gc_kl_normal(gc_graph *g, gc_value mu, gc_value logvar) {
  if (!same_shape(g, mu, logvar, "kl_normal")) return BAD;
  /* -0.5 sum(1 + logvar - mu^2 - exp(logvar)) / N */
  gc_value t = gc_sub(g, gc_sub(g, gc_add(g, gc_scalar(g, 1.0f), logvar), gc_mul(g, mu, mu)),
                      gc_exp(g, logvar));
  return gc_mul(g, gc_sum(g, t, NULL, 0, 0), gc_scalar(g, -0.5f / batch_of(g, mu)));
}
