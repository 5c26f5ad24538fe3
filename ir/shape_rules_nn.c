/* shape_rules_nn.c — shape rules of the neural-network ops of ir/ops.def
 * (conv2d and its gradients, pooling, bilinear resize, random; conv
 * and pooling over 2 or 3 spatial axes): each
 * checks dtypes, ranks and window parameters and fills the output shape,
 * or says which op, shapes and parameters do not fit. */
#include <string.h>

#include "ir/ir.h"
#include "ir/nn_geom.h"
#include "ir/op_rules.h"

#define IN(k) (&g->nodes[n->in[k]])
#define SHP(s) gc_shape_str((s), (char[160]){0}, 160)

static gc_status need_4d_f32(const ir_graph *g, const ir_node *n, int k, const char *what) {
  const ir_node *x = IN(k);
  if (x->dtype != GC_F32)
    return gc_fail(GC_ERR_SHAPE, "%s must be f32, got %s", what, gc_dtype_name(x->dtype));
  if (x->shape.ndim != 4)
    return gc_fail(GC_ERR_SHAPE, "%s must be 4-D (NCHW), got %s", what, SHP(x->shape));
  return GC_OK;
}

/* conv and pooling: f32 images of 2 spatial axes (NCHW) or 3 (NCDHW). */
static gc_status need_image_f32(const ir_graph *g, const ir_node *n, int k, const char *what) {
  const ir_node *x = IN(k);
  if (x->dtype != GC_F32)
    return gc_fail(GC_ERR_SHAPE, "%s must be f32, got %s", what, gc_dtype_name(x->dtype));
  if (x->shape.ndim != 4 && x->shape.ndim != 5)
    return gc_fail(GC_ERR_SHAPE, "%s must be 4-D (NCHW) or 5-D (NCDHW), got %s", what,
                   SHP(x->shape));
  return GC_OK;
}

/* A tensor that must have the rank of the op's image. */
static gc_status same_rank(gc_shape s, gc_shape img, const char *what) {
  if (s.ndim != img.ndim)
    return gc_fail(GC_ERR_SHAPE, "%s %s must have the rank of the image %s", what, SHP(s),
                   SHP(img));
  return GC_OK;
}

/* Padding is never negative; a 4-D image has no depth, so the depth
 * fields must keep their defaults (else they would be silently ignored). */
static gc_status check_window(const ir_window *w, gc_shape img) {
  if (w->pt < 0 || w->pl < 0 || w->pb < 0 || w->pr < 0 || w->pd0 < 0 || w->pd1 < 0)
    return gc_fail(GC_ERR_SHAPE, "negative padding (%d, %d, %d, %d, depth %d, %d)", w->pt, w->pl,
                   w->pb, w->pr, w->pd0, w->pd1);
  if (img.ndim == 4 && (w->kd != 1 || w->sd != 1 || w->dd != 1 || w->pd0 || w->pd1 || w->opd))
    return gc_fail(GC_ERR_SHAPE,
                   "depth window (kernel %d, stride %d, dilation %d, padding %d, %d, output "
                   "padding %d) given for the 4-D image %s",
                   w->kd, w->sd, w->dd, w->pd0, w->pd1, w->opd, SHP(img));
  return GC_OK;
}

/* The conv that x and w describe, checked. */
static gc_status conv_geometry(gc_shape xs, gc_shape ws, ir_window *win, nn_conv *out) {
  nn_window_normalize(win);
  gc_status st = check_window(win, xs);
  if (st) return st;
  if (ws.ndim != xs.ndim)
    return gc_fail(GC_ERR_SHAPE, "weight %s must be %d-D [O, C/groups, %s] for input %s", SHP(ws),
                   xs.ndim, xs.ndim == 5 ? "kd, kh, kw" : "kh, kw", SHP(xs));
  int64_t grp = win->groups;
  if (xs.dim[1] % grp || ws.dim[0] % grp)
    return gc_fail(GC_ERR_SHAPE,
                   "groups %lld must divide input channels of %s and output channels of %s",
                   (long long)grp, SHP(xs), SHP(ws));
  if (ws.dim[1] != xs.dim[1] / grp)
    return gc_fail(GC_ERR_SHAPE, "weight %s needs %lld input channels per group, input %s has %lld",
                   SHP(ws), (long long)ws.dim[1], SHP(xs), (long long)(xs.dim[1] / grp));
  nn_conv c = nn_conv_of(xs, ws, *win);
  if (c.od < 1 || c.oh < 1 || c.ow < 1)
    return gc_fail(GC_ERR_SHAPE, "input %s is smaller than the dilated kernel of %s with padding",
                   SHP(xs), SHP(ws));
  *out = c;
  return GC_OK;
}

gc_status shape_conv2d(const ir_graph *g, ir_node *n) {
  gc_status st;
  if ((st = need_image_f32(g, n, 0, "input")) || (st = need_image_f32(g, n, 1, "weight")))
    return st;
  nn_conv c;
  if ((st = conv_geometry(IN(0)->shape, IN(1)->shape, &n->attr.win, &c))) return st;
  n->shape = nn_out_shape(&c, c.o);
  n->dtype = GC_F32;
  return GC_OK;
}

/* attr.shape is x's shape; dy must be what conv2d(x, w) gives. */
gc_status shape_conv2d_grad_input(const ir_graph *g, ir_node *n) {
  gc_status st;
  if ((st = need_image_f32(g, n, 0, "dy")) || (st = need_image_f32(g, n, 1, "weight"))) return st;
  gc_shape xs = n->attr.shape;
  if ((st = same_rank(xs, IN(0)->shape, "the input shape"))) return st;
  if (gc_shape_numel(xs) <= 0)
    return gc_fail(GC_ERR_SHAPE, "the input shape %s must not be empty", SHP(xs));
  nn_conv c;
  if ((st = conv_geometry(xs, IN(1)->shape, &n->attr.win, &c))) return st;
  gc_shape want = nn_out_shape(&c, c.o);
  if (!ir_shape_eq(want, IN(0)->shape))
    return gc_fail(GC_ERR_SHAPE, "dy %s does not match conv2d of %s with weight %s (gives %s)",
                   SHP(IN(0)->shape), SHP(xs), SHP(IN(1)->shape), SHP(want));
  if (n->nin == 3) { /* the weight tap-major: [KH KW, C, O], 2-D and groups 1 only */
    gc_shape ws = IN(1)->shape, tap = {0};
    if (ws.ndim == 4) tap = gc_shape3(ws.dim[2] * ws.dim[3], ws.dim[1], ws.dim[0]);
    if (ws.ndim != 4 || c.win.groups > 1 || !ir_shape_eq(IN(2)->shape, tap) ||
        IN(2)->dtype != GC_F32)
      return gc_fail(GC_ERR_SHAPE,
                     "the tap-major weight %s does not match weight %s (want f32 [KH KW, C, O] "
                     "of a 2-D convolution with groups 1)",
                     SHP(IN(2)->shape), SHP(ws));
  }
  n->shape = xs;
  n->dtype = GC_F32;
  return GC_OK;
}

/* attr.shape is w's shape. */
gc_status shape_conv2d_grad_weight(const ir_graph *g, ir_node *n) {
  gc_status st;
  if ((st = need_image_f32(g, n, 0, "input")) || (st = need_image_f32(g, n, 1, "dy"))) return st;
  gc_shape ws = n->attr.shape;
  nn_conv c;
  if ((st = conv_geometry(IN(0)->shape, ws, &n->attr.win, &c))) return st;
  gc_shape want = nn_out_shape(&c, c.o);
  if (!ir_shape_eq(want, IN(1)->shape))
    return gc_fail(GC_ERR_SHAPE, "dy %s does not match conv2d of %s with weight %s (gives %s)",
                   SHP(IN(1)->shape), SHP(IN(0)->shape), SHP(ws), SHP(want));
  n->shape = ws;
  n->dtype = GC_F32;
  return GC_OK;
}

static gc_status pool_geometry(gc_shape xs, ir_window *win, bool avg, nn_conv *out) {
  nn_window_normalize(win);
  gc_status st = check_window(win, xs);
  if (st) return st;
  if (win->kh < 1 || win->kw < 1)
    return gc_fail(GC_ERR_SHAPE, "pooling kernel %dx%d must be at least 1x1", win->kh, win->kw);
  if (avg && (win->dh != 1 || win->dw != 1 || win->dd != 1))
    return gc_fail(GC_ERR_UNSUPPORTED, "average pooling has no dilation");
  nn_conv c = nn_pool_of(xs, *win);
  if (c.od < 1 || c.oh < 1 || c.ow < 1)
    return gc_fail(GC_ERR_SHAPE, "input %s is smaller than the %dx%dx%d pooling window", SHP(xs),
                   win->kd, win->kh, win->kw);
  /* Every window must hold an input element (a max or mean of padding
   * alone is undefined): PyTorch's pads <= kernel / 2 guarantees it, ONNX's
   * larger pads often still do. */
  if (!nn_windows_nonempty(c.d, c.kd, win->sd, win->dd, win->pd0, c.od) ||
      !nn_windows_nonempty(c.h, c.kh, win->sh, win->dh, win->pt, c.oh) ||
      !nn_windows_nonempty(c.w, c.kw, win->sw, win->dw, win->pl, c.ow))
    return gc_fail(GC_ERR_SHAPE,
                   "padding (%d, %d, %d, %d, depth %d, %d) leaves a %dx%dx%d pooling window of %s "
                   "without input",
                   win->pt, win->pl, win->pb, win->pr, win->pd0, win->pd1, win->kd, win->kh,
                   win->kw, SHP(xs));
  *out = c;
  return GC_OK;
}

gc_status shape_pool2d(const ir_graph *g, ir_node *n) {
  gc_status st;
  if ((st = need_image_f32(g, n, 0, "input"))) return st;
  nn_conv c;
  if ((st = pool_geometry(IN(0)->shape, &n->attr.win, n->op == IR_OP_AVGPOOL2D, &c))) return st;
  n->shape = nn_out_shape(&c, c.c);
  n->dtype = GC_F32;
  return GC_OK;
}

/* The i32 flat indices of maxpool2d's maxima: every index of x must fit. */
gc_status shape_maxpool2d_indices(const ir_graph *g, ir_node *n) {
  gc_status st;
  if ((st = need_image_f32(g, n, 0, "input"))) return st;
  if (gc_shape_numel(IN(0)->shape) > INT32_MAX)
    return gc_fail(GC_ERR_UNSUPPORTED, "input %s has more elements than i32 indices reach",
                   SHP(IN(0)->shape));
  if (n->attr.mode != 0 && n->attr.mode != 1)
    return gc_fail(GC_ERR_INVALID, "storage order %d is neither 0 (row-major) nor 1 (column-major)",
                   n->attr.mode);
  nn_conv c;
  if ((st = pool_geometry(IN(0)->shape, &n->attr.win, false, &c))) return st;
  n->shape = nn_out_shape(&c, c.c);
  n->dtype = GC_I32;
  return GC_OK;
}

static gc_status pool_grad(const ir_graph *g, ir_node *n, gc_shape xs, const ir_node *dy,
                           bool avg) {
  nn_conv c;
  gc_status st = same_rank(dy->shape, xs, "dy");
  if (st || (st = pool_geometry(xs, &n->attr.win, avg, &c))) return st;
  gc_shape want = nn_out_shape(&c, c.c);
  if (!ir_shape_eq(want, dy->shape))
    return gc_fail(GC_ERR_SHAPE, "dy %s does not match pooling of %s (gives %s)", SHP(dy->shape),
                   SHP(xs), SHP(want));
  n->shape = xs;
  n->dtype = GC_F32;
  return GC_OK;
}

/* (indices, dy[, y]) -> attr.shape, x's: the indices are i32 and y f32,
 * both of dy's shape */
gc_status shape_maxpool2d_grad(const ir_graph *g, ir_node *n) {
  gc_status st;
  if ((st = need_image_f32(g, n, 1, "dy"))) return st;
  if (IN(0)->dtype != GC_I32 || !ir_shape_eq(IN(0)->shape, IN(1)->shape))
    return gc_fail(GC_ERR_SHAPE, "indices must be i32 of dy's shape %s, got %s %s",
                   SHP(IN(1)->shape), gc_dtype_name(IN(0)->dtype), SHP(IN(0)->shape));
  if (n->nin == 3 && (IN(2)->dtype != GC_F32 || !ir_shape_eq(IN(2)->shape, IN(1)->shape)))
    return gc_fail(GC_ERR_SHAPE, "the pooled values must be f32 of dy's shape %s, got %s %s",
                   SHP(IN(1)->shape), gc_dtype_name(IN(2)->dtype), SHP(IN(2)->shape));
  if (gc_shape_numel(n->attr.shape) > INT32_MAX)
    return gc_fail(GC_ERR_UNSUPPORTED, "input %s has more elements than i32 indices reach",
                   SHP(n->attr.shape));
  return pool_grad(g, n, n->attr.shape, IN(1), false);
}

/* (dy) -> attr.shape */
gc_status shape_avgpool2d_grad(const ir_graph *g, ir_node *n) {
  gc_status st;
  if ((st = need_image_f32(g, n, 0, "dy"))) return st;
  return pool_grad(g, n, n->attr.shape, IN(0), true);
}

static gc_status resize_check(gc_shape from, gc_shape to) {
  if (to.ndim != 4 || to.dim[0] != from.dim[0] || to.dim[1] != from.dim[1] || to.dim[2] < 1 ||
      to.dim[3] < 1)
    return gc_fail(GC_ERR_SHAPE, "cannot resize %s to %s (N and C must match)", SHP(from), SHP(to));
  return GC_OK;
}

gc_status shape_resize_bilinear(const ir_graph *g, ir_node *n) {
  gc_status st;
  if ((st = need_4d_f32(g, n, 0, "input")) || (st = resize_check(IN(0)->shape, n->attr.shape)))
    return st;
  n->shape = n->attr.shape;
  n->dtype = GC_F32;
  return GC_OK;
}

/* attr.shape is the forward's input shape. */
gc_status shape_resize_bilinear_grad(const ir_graph *g, ir_node *n) {
  gc_status st;
  if ((st = need_4d_f32(g, n, 0, "dy")) || (st = resize_check(n->attr.shape, IN(0)->shape)))
    return st;
  n->shape = n->attr.shape;
  n->dtype = GC_F32;
  return GC_OK;
}

gc_status shape_random(const ir_graph *g, ir_node *n) {
  const ir_node *c = IN(0);
  if (c->dtype != GC_I32 || c->shape.ndim != 0)
    return gc_fail(GC_ERR_SHAPE, "the step counter must be an i32 scalar, got %s%s",
                   gc_dtype_name(c->dtype), SHP(c->shape));
  gc_shape s = n->attr.shape;
  if (s.ndim < 0 || s.ndim > GC_MAX_DIMS) return gc_fail(GC_ERR_SHAPE, "bad shape");
  for (int i = 0; i < s.ndim; i++)
    if (s.dim[i] <= 0) return gc_fail(GC_ERR_SHAPE, "shape %s has a dimension <= 0", SHP(s));
  if (gc_shape_numel(s) > INT32_MAX)
    return gc_fail(GC_ERR_UNSUPPORTED, "more than 2^31 random numbers");
  if (n->attr.win.dist != 0 && n->attr.win.dist != 1)
    return gc_fail(GC_ERR_INVALID, "unknown distribution %d", n->attr.win.dist);
  n->shape = s;
  n->dtype = GC_F32;
  return GC_OK;
}
