/* autodiff_elem.c — gradient rules of the elementwise, movement and
 * reduction extensions of ir/ops.def, built from ordinary ops (so they fuse
 * like the forward pass). Formulas follow PyTorch's derivatives.yaml.
 * Nodes may move when the graph grows, so rules copy what they need from
 * the node before adding any. */
#include <math.h>
#include <string.h>

#include "ir/op_rules.h"
#include "passes/passes.h"

#define X(k) (g->nodes[y].in[k])
#define SHAPE(id) (g->nodes[id].shape)
/* M_PI and friends are not C11 */
#define PI 3.14159265358979323846
#define SQRT1_2 0.70710678118654752440

static int32_t mul(ir_graph *g, int32_t a, int32_t b) { return ir_binary(g, IR_OP_MUL, a, b); }
static int32_t add(ir_graph *g, int32_t a, int32_t b) { return ir_binary(g, IR_OP_ADD, a, b); }
static int32_t sub(ir_graph *g, int32_t a, int32_t b) { return ir_binary(g, IR_OP_SUB, a, b); }
static int32_t k(ir_graph *g, float v) { return ir_const_f32(g, v); }
static int32_t where(ir_graph *g, int32_t c, int32_t a, int32_t b) {
  int32_t in[3] = {c, a, b};
  return ir_add(g, IR_OP_WHERE, 3, in, NULL);
}
/* dy where c holds, else 0 */
static int32_t keep_if(ir_graph *g, int32_t c, int32_t dy) { return where(g, c, dy, k(g, 0)); }

void grad_abs(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = mul(g, dy, ir_unary(g, IR_OP_SIGN, X(0)));
}

void grad_reciprocal(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = ir_unary(g, IR_OP_NEG, mul(g, dy, mul(g, y, y)));
}

/* erf'(x) = 2 / sqrt(pi) exp(-x^2) */
void grad_erf(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  int32_t x = X(0);
  int32_t e = ir_unary(g, IR_OP_EXP, ir_unary(g, IR_OP_NEG, mul(g, x, x)));
  dx[0] = mul(g, dy, mul(g, e, k(g, (float)(2.0 / sqrt(PI)))));
}

/* gelu'(x) = Phi(x) + x phi(x) */
void grad_gelu(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  int32_t x = X(0);
  int32_t cdf =
      mul(g, k(g, 0.5f), add(g, k(g, 1), ir_unary(g, IR_OP_ERF, mul(g, x, k(g, (float)SQRT1_2)))));
  int32_t pdf = mul(g, k(g, (float)(1.0 / sqrt(2.0 * PI))),
                    ir_unary(g, IR_OP_EXP, mul(g, mul(g, x, x), k(g, -0.5f))));
  dx[0] = mul(g, dy, add(g, cdf, mul(g, x, pdf)));
}

/* With u = c (x + 0.044715 x^3), t = tanh(u):
 * d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 * 0.044715 x^2). */
void grad_gelu_tanh(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  const float c = 0.797884560802865356f, a = 0.044715f;
  int32_t x = X(0), xx = mul(g, x, x);
  int32_t u = mul(g, k(g, c), add(g, x, mul(g, k(g, a), mul(g, xx, x))));
  int32_t t = ir_unary(g, IR_OP_TANH, u);
  int32_t left = mul(g, k(g, 0.5f), add(g, k(g, 1), t));
  int32_t du = mul(g, k(g, c), add(g, k(g, 1), mul(g, k(g, 3 * a), xx)));
  int32_t right = mul(g, mul(g, k(g, 0.5f), x), mul(g, sub(g, k(g, 1), mul(g, t, t)), du));
  dx[0] = mul(g, dy, add(g, left, right));
}

void grad_leaky_relu(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  float alpha = g->nodes[y].attr.f[0];
  int32_t pos = ir_binary(g, IR_OP_GREATER, X(0), k(g, 0));
  dx[0] = where(g, pos, dy, mul(g, dy, k(g, alpha)));
}

/* for x <= 0: elu' = alpha e^x = y + alpha */
void grad_elu(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  float alpha = g->nodes[y].attr.f[0];
  int32_t pos = ir_binary(g, IR_OP_GREATER, X(0), k(g, 0));
  dx[0] = where(g, pos, dy, mul(g, dy, add(g, y, k(g, alpha))));
}

/* for x <= 0: selu' = scale alpha e^x = y + scale alpha */
void grad_selu(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  float alpha = g->nodes[y].attr.f[0], scale = g->nodes[y].attr.f[1];
  int32_t pos = ir_binary(g, IR_OP_GREATER, X(0), k(g, 0));
  dx[0] = where(g, pos, mul(g, dy, k(g, scale)), mul(g, dy, add(g, y, k(g, scale * alpha))));
}

void grad_softplus(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = mul(g, dy, ir_unary(g, IR_OP_SIGMOID, X(0)));
}

/* softsign' = 1 / (1 + |x|)^2 */
void grad_softsign(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  int32_t d = add(g, k(g, 1), ir_unary(g, IR_OP_ABS, X(0)));
  dx[0] = ir_binary(g, IR_OP_DIV, dy, mul(g, d, d));
}

/* alpha where 0 < alpha x + beta < 1 (read off the output), else 0 */
void grad_hard_sigmoid(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  float alpha = g->nodes[y].attr.f[0];
  int32_t in = ir_binary(g, IR_OP_AND, ir_binary(g, IR_OP_GREATER, y, k(g, 0)),
                         ir_binary(g, IR_OP_LESS, y, k(g, 1)));
  dx[0] = keep_if(g, in, mul(g, dy, k(g, alpha)));
}

/* PyTorch's clamp: the gradient passes where lo <= x <= hi */
void grad_clip(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  float lo = g->nodes[y].attr.f[0], hi = g->nodes[y].attr.f[1];
  int32_t x = X(0);
  int32_t in = ir_binary(g, IR_OP_AND, ir_binary(g, IR_OP_GREATER_EQUAL, x, k(g, lo)),
                         ir_binary(g, IR_OP_LESS_EQUAL, x, k(g, hi)));
  dx[0] = keep_if(g, in, dy);
}

static int32_t un(ir_graph *g, ir_op op, int32_t x) { return ir_unary(g, op, x); }
static int32_t div_(ir_graph *g, int32_t a, int32_t b) { return ir_binary(g, IR_OP_DIV, a, b); }

void grad_sin(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = mul(g, dy, un(g, IR_OP_COS, X(0)));
}

void grad_cos(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = un(g, IR_OP_NEG, mul(g, dy, un(g, IR_OP_SIN, X(0))));
}

/* tan' = 1 + tan^2, read off the output */
void grad_tan(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = mul(g, dy, add(g, k(g, 1), mul(g, y, y)));
}

/* asin' = 1 / sqrt(1 - x^2) */
void grad_asin(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  int32_t x = X(0);
  dx[0] = div_(g, dy, un(g, IR_OP_SQRT, sub(g, k(g, 1), mul(g, x, x))));
}

/* acos' = -asin' */
void grad_acos(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  int32_t x = X(0);
  dx[0] = un(g, IR_OP_NEG, div_(g, dy, un(g, IR_OP_SQRT, sub(g, k(g, 1), mul(g, x, x)))));
}

/* atan' = 1 / (1 + x^2) */
void grad_atan(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  int32_t x = X(0);
  dx[0] = div_(g, dy, add(g, k(g, 1), mul(g, x, x)));
}

void grad_sinh(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = mul(g, dy, un(g, IR_OP_COSH, X(0)));
}

void grad_cosh(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = mul(g, dy, un(g, IR_OP_SINH, X(0)));
}

/* asinh' = 1 / sqrt(x^2 + 1) */
void grad_asinh(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  int32_t x = X(0);
  dx[0] = div_(g, dy, un(g, IR_OP_SQRT, add(g, mul(g, x, x), k(g, 1))));
}

/* acosh' = 1 / sqrt(x^2 - 1) */
void grad_acosh(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  int32_t x = X(0);
  dx[0] = div_(g, dy, un(g, IR_OP_SQRT, sub(g, mul(g, x, x), k(g, 1))));
}

/* atanh' = 1 / (1 - x^2) */
void grad_atanh(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  int32_t x = X(0);
  dx[0] = div_(g, dy, sub(g, k(g, 1), mul(g, x, x)));
}

/* d a^b / da = b a^(b-1), d a^b / db = a^b log a */
void grad_pow(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  int32_t a = X(0), b = X(1);
  gc_shape sa = SHAPE(a), sb = SHAPE(b);
  if (need[0]) {
    int32_t p = ir_binary(g, IR_OP_POW, a, sub(g, b, k(g, 1)));
    dx[0] = ir_unbroadcast(g, mul(g, dy, mul(g, b, p)), sa);
  }
  if (need[1]) dx[1] = ir_unbroadcast(g, mul(g, dy, mul(g, y, ir_unary(g, IR_OP_LOG, a))), sb);
}

/* The selected input gets dy; at ties each gets half (as PyTorch). */
void grad_minmax(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  int32_t a = X(0), b = X(1);
  gc_shape sa = SHAPE(a), sb = SHAPE(b);
  ir_op wins = g->nodes[y].op == IR_OP_MAXIMUM ? IR_OP_GREATER : IR_OP_LESS;
  ir_attr to_f32 = {0};
  to_f32.to = GC_F32;
  int32_t w = ir_binary(g, wins, a, b), t = ir_binary(g, IR_OP_EQ, a, b);
  w = ir_add(g, IR_OP_CAST, 1, &w, &to_f32);
  t = ir_add(g, IR_OP_CAST, 1, &t, &to_f32);
  int32_t m = add(g, w, mul(g, t, k(g, 0.5f))); /* share of a */
  if (need[0]) dx[0] = ir_unbroadcast(g, mul(g, dy, m), sa);
  if (need[1]) dx[1] = ir_unbroadcast(g, mul(g, dy, sub(g, k(g, 1), m)), sb);
}

void grad_where(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  int32_t c = X(0);
  gc_shape sa = SHAPE(X(1)), sb = SHAPE(X(2));
  if (need[1]) dx[1] = ir_unbroadcast(g, keep_if(g, c, dy), sa);
  if (need[2]) dx[2] = ir_unbroadcast(g, where(g, c, k(g, 0), dy), sb);
}

/* ---- movement ---- */

/* x sliced along one axis: len elements from start by step. */
static int32_t slice_axis(ir_graph *g, int32_t x, int axis, int64_t start, int64_t step,
                          int64_t len) {
  if (x < 0) return -1;
  ir_attr at = {0};
  at.shape = SHAPE(x);
  for (int d = 0; d < at.shape.ndim; d++) at.steps[d] = 1;
  at.starts[axis] = start;
  at.steps[axis] = step;
  at.shape.dim[axis] = len;
  return ir_add(g, IR_OP_SLICE, 1, &x, &at);
}

/* x padded with zeros along one axis. */
static int32_t zero_pad_axis(ir_graph *g, int32_t x, int axis, int64_t before, int64_t after) {
  if (before == 0 && after == 0) return x;
  ir_attr at = {0};
  at.pads[axis] = before;
  at.pads[GC_MAX_DIMS + axis] = after;
  return ir_add(g, IR_OP_PAD, 1, &x, &at);
}

void grad_slice(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  ir_attr at = g->nodes[y].attr;
  at.shape = SHAPE(X(0));
  dx[0] = ir_add(g, IR_OP_SLICE_GRAD, 1, &dy, &at);
}

/* Padding is separable, so the gradient undoes it one axis at a time: the
 * middle is the input's own element; reflect adds the mirrored borders
 * (flipped slices placed at 1..b and n-1-e..n-2), edge adds each border's
 * sum to the first / last element. */
void grad_pad(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  ir_attr at = g->nodes[y].attr;
  gc_shape xs = SHAPE(X(0));
  int32_t cur = dy;
  for (int d = 0; d < xs.ndim && cur >= 0; d++) {
    int64_t b = at.pads[d], e = at.pads[GC_MAX_DIMS + d], n = xs.dim[d];
    if (b == 0 && e == 0) continue;
    int32_t mid = slice_axis(g, cur, d, b, 1, n);
    if (at.mode == GC_PAD_REFLECT) {
      if (b > 0)
        mid = add(g, mid, zero_pad_axis(g, slice_axis(g, cur, d, b - 1, -1, b), d, 1, n - 1 - b));
      if (e > 0)
        mid = add(g, mid,
                  zero_pad_axis(g, slice_axis(g, cur, d, b + n + e - 1, -1, e), d, n - 1 - e, 1));
    } else if (at.mode == GC_PAD_EDGE) {
      if (b > 0) {
        int32_t s = ir_reduce(g, IR_OP_SUM, slice_axis(g, cur, d, 0, 1, b), 1u << d, 1);
        mid = add(g, mid, zero_pad_axis(g, s, d, 0, n - 1));
      }
      if (e > 0) {
        int32_t s = ir_reduce(g, IR_OP_SUM, slice_axis(g, cur, d, b + n, 1, e), 1u << d, 1);
        mid = add(g, mid, zero_pad_axis(g, s, d, n - 1, 0));
      }
    }
    cur = mid;
  }
  dx[0] = cur;
}

void grad_concat(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  int ax = g->nodes[y].attr.axis, nin = g->nodes[y].nin;
  int64_t off = 0;
  for (int i = 0; i < nin; i++) {
    int64_t len = SHAPE(X(i)).dim[ax];
    if (need[i]) dx[i] = slice_axis(g, dy, ax, off, 1, len);
    off += len;
  }
}

/* dy viewed as [r0, n0, r1, n1, ..] (only repeated axes split), summed
 * over the r axes. */
void grad_tile(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  gc_shape xs = SHAPE(X(0)), split = {0, {0}};
  ir_attr at = g->nodes[y].attr;
  int nsplit = xs.ndim;
  for (int d = 0; d < xs.ndim; d++) nsplit += at.reps[d] > 1;
  if (nsplit > GC_MAX_DIMS) {
    dx[0] = ir_error(g, GC_ERR_UNSUPPORTED, "gradient of tile: %d-D input needs %d > %d dims",
                     xs.ndim, nsplit, GC_MAX_DIMS);
    return;
  }
  uint32_t axes = 0;
  for (int d = 0; d < xs.ndim; d++) {
    if (at.reps[d] > 1) {
      axes |= 1u << split.ndim;
      split.dim[split.ndim++] = at.reps[d];
    }
    split.dim[split.ndim++] = xs.dim[d];
  }
  int32_t r = ir_reshape(g, dy, split);
  if (axes) r = ir_reduce(g, IR_OP_SUM, r, axes, 0);
  dx[0] = ir_reshape(g, r, xs);
}

void grad_gather(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  ir_attr at = {0};
  at.axis = g->nodes[y].attr.axis;
  at.shape = SHAPE(X(0));
  int32_t in[2] = {dy, X(1)};
  dx[0] = ir_add(g, IR_OP_GATHER_GRAD, 2, in, &at);
}

/* ---- reductions and scans ---- */

static gc_shape kept(const ir_graph *g, int32_t y) {
  gc_shape s = SHAPE(X(0));
  for (int i = 0; i < s.ndim; i++)
    if (g->nodes[y].attr.axes & (1u << i)) s.dim[i] = 1;
  return s;
}

/* prod / x, for nonzero x */
void grad_prod(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  gc_shape ks = kept(g, y);
  int32_t x = X(0);
  int32_t p = mul(g, ir_reshape(g, dy, ks), ir_reshape(g, y, ks));
  dx[0] = ir_binary(g, IR_OP_DIV, p, x);
}

/* softmax over the reduced axes times dy */
void grad_logsumexp(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  gc_shape ks = kept(g, y);
  int32_t x = X(0);
  int32_t sm = ir_unary(g, IR_OP_EXP, sub(g, x, ir_reshape(g, y, ks)));
  dx[0] = mul(g, sm, ir_reshape(g, dy, ks));
}

/* the transposed scan: a cumsum in the other direction */
void grad_cumsum(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  ir_attr at = {0};
  at.axis = g->nodes[y].attr.axis;
  at.mode = g->nodes[y].attr.mode ^ 2;
  dx[0] = ir_add(g, IR_OP_CUMSUM, 1, &dy, &at);
}
