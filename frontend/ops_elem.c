/* ops_elem.c — public builders of the elementwise, movement and reduction
 * extensions (graphc.h, "more elementwise, movement and reduction ops"):
 * they turn user conventions (negative axes, ONNX-style slice bounds, pad
 * order) into the normalized attributes of the IR ops; split, squeeze,
 * unsqueeze and flatten are slices and reshapes. Errors are sticky on the
 * graph, as for every builder. */
#include <math.h>
#include <string.h>

#include "ir/ir.h"

#define BAD ((gc_value){-1})
#define SHP(s) gc_shape_str((s), (char[160]){0}, 160)

static gc_value node(gc_graph *g, ir_op op, int nin, const int32_t *in, const ir_attr *a) {
  if (!g) return BAD;
  return ir_value(ir_add(g, op, nin, in, a));
}

static gc_value unary_f(gc_graph *g, ir_op op, gc_value x, float f0, float f1) {
  ir_attr a = {0};
  a.f[0] = f0;
  a.f[1] = f1;
  return node(g, op, 1, &x.id, &a);
}

static gc_value binary(gc_graph *g, ir_op op, gc_value a, gc_value b) {
  int32_t in[2] = {a.id, b.id};
  return node(g, op, 2, in, NULL);
}

/* The input's shape, or NULL after recording an error. */
static const gc_shape *shape_of(gc_graph *g, gc_value x, const char *op) {
  if (!g || g->status) return NULL;
  if (x.id < 0 || x.id >= g->n) {
    ir_error(g, GC_ERR_INVALID, "%s: invalid input value", op);
    return NULL;
  }
  return &g->nodes[x.id].shape;
}

static int norm_axis(gc_graph *g, int axis, int ndim, const char *op, gc_value x) {
  int ax = ir_axis(axis, ndim);
  if (ax < 0)
    ir_error(g, GC_ERR_SHAPE, "%s: axis %d out of range for %d-D input %s", op, axis, ndim,
             ir_node_label(g, x.id));
  return ax;
}

/* ---- elementwise ---- */

gc_value gc_abs(gc_graph *g, gc_value x) { return unary_f(g, IR_OP_ABS, x, 0, 0); }
gc_value gc_sign(gc_graph *g, gc_value x) { return unary_f(g, IR_OP_SIGN, x, 0, 0); }
gc_value gc_reciprocal(gc_graph *g, gc_value x) { return unary_f(g, IR_OP_RECIPROCAL, x, 0, 0); }
gc_value gc_erf(gc_graph *g, gc_value x) { return unary_f(g, IR_OP_ERF, x, 0, 0); }
gc_value gc_gelu(gc_graph *g, gc_value x, int approximate_tanh) {
  return unary_f(g, approximate_tanh ? IR_OP_GELU_TANH : IR_OP_GELU, x, 0, 0);
}
gc_value gc_leaky_relu(gc_graph *g, gc_value x, float alpha) {
  return unary_f(g, IR_OP_LEAKY_RELU, x, alpha, 0);
}
gc_value gc_elu(gc_graph *g, gc_value x, float alpha) { return unary_f(g, IR_OP_ELU, x, alpha, 0); }
gc_value gc_selu(gc_graph *g, gc_value x) {
  return unary_f(g, IR_OP_SELU, x, 1.67326324235437728f, 1.05070098735548049f);
}
gc_value gc_softplus(gc_graph *g, gc_value x) { return unary_f(g, IR_OP_SOFTPLUS, x, 0, 0); }
gc_value gc_softsign(gc_graph *g, gc_value x) { return unary_f(g, IR_OP_SOFTSIGN, x, 0, 0); }
gc_value gc_sin(gc_graph *g, gc_value x) { return unary_f(g, IR_OP_SIN, x, 0, 0); }
gc_value gc_cos(gc_graph *g, gc_value x) { return unary_f(g, IR_OP_COS, x, 0, 0); }
gc_value gc_tan(gc_graph *g, gc_value x) { return unary_f(g, IR_OP_TAN, x, 0, 0); }
gc_value gc_asin(gc_graph *g, gc_value x) { return unary_f(g, IR_OP_ASIN, x, 0, 0); }
gc_value gc_acos(gc_graph *g, gc_value x) { return unary_f(g, IR_OP_ACOS, x, 0, 0); }
gc_value gc_atan(gc_graph *g, gc_value x) { return unary_f(g, IR_OP_ATAN, x, 0, 0); }
gc_value gc_sinh(gc_graph *g, gc_value x) { return unary_f(g, IR_OP_SINH, x, 0, 0); }
gc_value gc_cosh(gc_graph *g, gc_value x) { return unary_f(g, IR_OP_COSH, x, 0, 0); }
gc_value gc_asinh(gc_graph *g, gc_value x) { return unary_f(g, IR_OP_ASINH, x, 0, 0); }
gc_value gc_acosh(gc_graph *g, gc_value x) { return unary_f(g, IR_OP_ACOSH, x, 0, 0); }
gc_value gc_atanh(gc_graph *g, gc_value x) { return unary_f(g, IR_OP_ATANH, x, 0, 0); }
gc_value gc_hard_sigmoid(gc_graph *g, gc_value x, float alpha, float beta) {
  return unary_f(g, IR_OP_HARD_SIGMOID, x, alpha, beta);
}
gc_value gc_clip(gc_graph *g, gc_value x, float lo, float hi) {
  if (g && !g->status && !(lo <= hi))
    return ir_value(ir_error(g, GC_ERR_INVALID, "clip: min %g > max %g", lo, hi));
  return unary_f(g, IR_OP_CLIP, x, lo, hi);
}

gc_value gc_pow(gc_graph *g, gc_value a, gc_value b) { return binary(g, IR_OP_POW, a, b); }
gc_value gc_minimum(gc_graph *g, gc_value a, gc_value b) { return binary(g, IR_OP_MINIMUM, a, b); }
gc_value gc_maximum(gc_graph *g, gc_value a, gc_value b) { return binary(g, IR_OP_MAXIMUM, a, b); }
gc_value gc_eq(gc_graph *g, gc_value a, gc_value b) { return binary(g, IR_OP_EQ, a, b); }
gc_value gc_greater(gc_graph *g, gc_value a, gc_value b) { return binary(g, IR_OP_GREATER, a, b); }
gc_value gc_greater_equal(gc_graph *g, gc_value a, gc_value b) {
  return binary(g, IR_OP_GREATER_EQUAL, a, b);
}
gc_value gc_less(gc_graph *g, gc_value a, gc_value b) { return binary(g, IR_OP_LESS, a, b); }
gc_value gc_less_equal(gc_graph *g, gc_value a, gc_value b) {
  return binary(g, IR_OP_LESS_EQUAL, a, b);
}
gc_value gc_logical_and(gc_graph *g, gc_value a, gc_value b) { return binary(g, IR_OP_AND, a, b); }
gc_value gc_logical_or(gc_graph *g, gc_value a, gc_value b) { return binary(g, IR_OP_OR, a, b); }
gc_value gc_logical_xor(gc_graph *g, gc_value a, gc_value b) { return binary(g, IR_OP_XOR, a, b); }
gc_value gc_logical_not(gc_graph *g, gc_value x) { return node(g, IR_OP_NOT, 1, &x.id, NULL); }

gc_value gc_where(gc_graph *g, gc_value cond, gc_value a, gc_value b) {
  int32_t in[3] = {cond.id, a.id, b.id};
  return node(g, IR_OP_WHERE, 3, in, NULL);
}

/* ---- movement ---- */

/* ONNX Slice's clamping of one axis of length len: the first index and
 * the element count (0 when empty). */
static int64_t slice_axis(int64_t len, int64_t start, int64_t end, int64_t step, int64_t *first) {
  if (start < 0) start += len;
  if (end < 0) end += len;
  if (step > 0) {
    start = start < 0 ? 0 : start > len ? len : start;
    end = end < 0 ? 0 : end > len ? len : end;
    *first = start;
    return end > start ? (end - start + step - 1) / step : 0;
  }
  start = start < 0 ? -1 : start > len - 1 ? len - 1 : start;
  end = end < -1 ? -1 : end > len - 1 ? len - 1 : end;
  *first = start;
  return start > end ? (start - end - step - 1) / -step : 0;
}

gc_value gc_slice(gc_graph *g, gc_value x, const int64_t *starts, const int64_t *ends,
                  const int *axes, const int64_t *steps, int n) {
  const gc_shape *xs = shape_of(g, x, "slice");
  if (!xs) return BAD;
  if (!starts || !ends || n < 0 || n > xs->ndim)
    return ir_value(
        ir_error(g, GC_ERR_INVALID, "slice: bad arguments (%d axes for %s)", n, SHP(*xs)));
  ir_attr a = {0};
  a.shape = *xs;
  for (int d = 0; d < xs->ndim; d++) a.steps[d] = 1;
  unsigned seen = 0;
  for (int i = 0; i < n; i++) {
    int ax = norm_axis(g, axes ? axes[i] : i, xs->ndim, "slice", x);
    if (ax < 0) return BAD;
    if (seen & (1u << ax))
      return ir_value(ir_error(g, GC_ERR_INVALID, "slice: axis %d listed twice", ax));
    seen |= 1u << ax;
    int64_t step = steps ? steps[i] : 1;
    if (step == 0) return ir_value(ir_error(g, GC_ERR_INVALID, "slice: step 0 on axis %d", ax));
    int64_t first, len = slice_axis(xs->dim[ax], starts[i], ends[i], step, &first);
    if (len <= 0)
      return ir_value(
          ir_error(g, GC_ERR_SHAPE, "slice: axis %d of %s from %lld to %lld by %lld is empty", ax,
                   SHP(*xs), (long long)starts[i], (long long)ends[i], (long long)step));
    a.starts[ax] = first;
    a.steps[ax] = step;
    a.shape.dim[ax] = len;
  }
  return node(g, IR_OP_SLICE, 1, &x.id, &a);
}

gc_value gc_pad(gc_graph *g, gc_value x, const int64_t *pads, gc_pad_mode mode, float value) {
  const gc_shape *xs = shape_of(g, x, "pad");
  if (!xs) return BAD;
  if (!pads) return ir_value(ir_error(g, GC_ERR_INVALID, "pad: pads is NULL"));
  ir_attr a = {0};
  for (int d = 0; d < xs->ndim; d++) {
    a.pads[d] = pads[d];
    a.pads[GC_MAX_DIMS + d] = pads[xs->ndim + d];
  }
  a.mode = (int)mode;
  a.f[0] = value;
  return node(g, IR_OP_PAD, 1, &x.id, &a);
}

gc_value gc_concat(gc_graph *g, const gc_value *xs, int n, int axis) {
  if (!g || g->status) return BAD;
  if (!xs || n < 1 || n > IR_MAX_INPUTS)
    return ir_value(ir_error(g, GC_ERR_INVALID, "concat: %d inputs (1..%d)", n, IR_MAX_INPUTS));
  int32_t in[IR_MAX_INPUTS];
  for (int i = 0; i < n; i++) in[i] = xs[i].id;
  ir_attr a = {0};
  a.axis = axis;
  return node(g, IR_OP_CONCAT, n, in, &a);
}

gc_status gc_split(gc_graph *g, gc_value x, int axis, const int64_t *sizes, int n, gc_value *out) {
  if (!g) return GC_ERR_INVALID;
  for (int i = 0; out && i < n; i++) out[i] = BAD;
  const gc_shape *xs = shape_of(g, x, "split");
  if (!xs) return g->status;
  if (!out || n < 1)
    return (gc_status)(ir_error(g, GC_ERR_INVALID, "split: %d parts", n), g->status);
  int ax = norm_axis(g, axis, xs->ndim, "split", x);
  if (ax < 0) return g->status;
  int64_t len = xs->dim[ax], total = 0;
  for (int i = 0; i < n; i++) total += sizes ? sizes[i] : 0;
  if (sizes ? total != len : len % n != 0)
    return (ir_error(g, GC_ERR_SHAPE, "split: axis %d of %s (%lld) does not split into %d parts%s",
                     ax, SHP(*xs), (long long)len, n, sizes ? " of the given sizes" : " equally"),
            g->status);
  int64_t start = 0;
  for (int i = 0; i < n; i++) {
    int64_t sz = sizes ? sizes[i] : len / n, end = start + sz;
    out[i] = gc_slice(g, x, &start, &end, &ax, NULL, 1);
    start = end;
  }
  return g->status;
}

gc_value gc_squeeze(gc_graph *g, gc_value x, const int *axes, int naxes) {
  const gc_shape *xs = shape_of(g, x, "squeeze");
  if (!xs) return BAD;
  unsigned drop = 0;
  for (int i = 0; i < naxes; i++) {
    int ax = norm_axis(g, axes ? axes[i] : 0, xs->ndim, "squeeze", x);
    if (ax < 0) return BAD;
    if (xs->dim[ax] != 1)
      return ir_value(ir_error(g, GC_ERR_SHAPE, "squeeze: axis %d of %s is not 1", ax, SHP(*xs)));
    drop |= 1u << ax;
  }
  gc_shape s = {0, {0}};
  for (int d = 0; d < xs->ndim; d++)
    if (naxes ? !(drop & (1u << d)) : xs->dim[d] != 1) s.dim[s.ndim++] = xs->dim[d];
  return gc_reshape(g, x, s);
}

gc_value gc_unsqueeze(gc_graph *g, gc_value x, const int *axes, int naxes) {
  const gc_shape *xs = shape_of(g, x, "unsqueeze");
  if (!xs) return BAD;
  int nd = xs->ndim + naxes;
  if (nd > GC_MAX_DIMS || naxes < 0 || (naxes && !axes))
    return ir_value(ir_error(g, GC_ERR_SHAPE, "unsqueeze: %d new axes on %s", naxes, SHP(*xs)));
  unsigned add = 0;
  for (int i = 0; i < naxes; i++) {
    int ax = norm_axis(g, axes[i], nd, "unsqueeze", x);
    if (ax < 0) return BAD;
    add |= 1u << ax;
  }
  gc_shape s = {nd, {0}};
  for (int d = 0, k = 0; d < nd; d++) s.dim[d] = (add & (1u << d)) ? 1 : xs->dim[k++];
  return gc_reshape(g, x, s);
}

gc_value gc_flatten(gc_graph *g, gc_value x, int axis) {
  const gc_shape *xs = shape_of(g, x, "flatten");
  if (!xs) return BAD;
  int ax = axis < 0 ? axis + xs->ndim : axis;
  if (ax < 0 || ax > xs->ndim)
    return ir_value(
        ir_error(g, GC_ERR_SHAPE, "flatten: axis %d out of range for %s", axis, SHP(*xs)));
  int64_t a = 1, b = 1;
  for (int d = 0; d < xs->ndim; d++) *(d < ax ? &a : &b) *= xs->dim[d];
  return gc_reshape(g, x, gc_shape2(a, b));
}

gc_value gc_tile(gc_graph *g, gc_value x, const int64_t *reps) {
  const gc_shape *xs = shape_of(g, x, "tile");
  if (!xs) return BAD;
  if (!reps) return ir_value(ir_error(g, GC_ERR_INVALID, "tile: reps is NULL"));
  ir_attr a = {0};
  for (int d = 0; d < xs->ndim; d++) a.reps[d] = reps[d];
  return node(g, IR_OP_TILE, 1, &x.id, &a);
}

gc_value gc_gather(gc_graph *g, gc_value data, gc_value indices, int axis) {
  ir_attr a = {0};
  a.axis = axis;
  int32_t in[2] = {data.id, indices.id};
  return node(g, IR_OP_GATHER, 2, in, &a);
}

gc_value gc_one_hot(gc_graph *g, gc_value indices, int64_t depth) {
  ir_attr a = {0};
  a.axis = -1;
  a.depth = depth;
  a.f[0] = 0.0f;
  a.f[1] = 1.0f;
  return node(g, IR_OP_ONE_HOT, 1, &indices.id, &a);
}

/* ---- reductions ---- */

static gc_value reduce(gc_graph *g, ir_op op, gc_value x, const int *axes, int naxes,
                       int keepdims) {
  const gc_shape *xs = shape_of(g, x, ir_ops[op].name);
  if (!xs) return BAD;
  ir_attr a = {0};
  a.keepdims = keepdims != 0;
  if (naxes == 0) a.axes = xs->ndim ? (uint32_t)((1u << xs->ndim) - 1) : 0;
  for (int i = 0; i < naxes; i++) {
    int ax = norm_axis(g, axes ? axes[i] : 99, xs->ndim, ir_ops[op].name, x);
    if (ax < 0) return BAD;
    a.axes |= 1u << ax;
  }
  return node(g, op, 1, &x.id, &a);
}

gc_value gc_min(gc_graph *g, gc_value x, const int *axes, int naxes, int keepdims) {
  return reduce(g, IR_OP_MIN, x, axes, naxes, keepdims);
}
gc_value gc_prod(gc_graph *g, gc_value x, const int *axes, int naxes, int keepdims) {
  return reduce(g, IR_OP_PROD, x, axes, naxes, keepdims);
}
gc_value gc_logsumexp(gc_graph *g, gc_value x, const int *axes, int naxes, int keepdims) {
  return reduce(g, IR_OP_LOGSUMEXP, x, axes, naxes, keepdims);
}

static gc_value arg(gc_graph *g, ir_op op, gc_value x, int axis, int keepdims, int last) {
  ir_attr a = {0};
  a.axis = axis;
  a.keepdims = keepdims != 0;
  a.mode = last != 0;
  return node(g, op, 1, &x.id, &a);
}

gc_value gc_argmax(gc_graph *g, gc_value x, int axis, int keepdims, int select_last_index) {
  return arg(g, IR_OP_ARGMAX, x, axis, keepdims, select_last_index);
}
gc_value gc_argmin(gc_graph *g, gc_value x, int axis, int keepdims, int select_last_index) {
  return arg(g, IR_OP_ARGMIN, x, axis, keepdims, select_last_index);
}

gc_value gc_cumsum(gc_graph *g, gc_value x, int axis, int exclusive, int reverse) {
  ir_attr a = {0};
  a.axis = axis;
  a.mode = (exclusive ? 1 : 0) | (reverse ? 2 : 0);
  return node(g, IR_OP_CUMSUM, 1, &x.id, &a);
}
