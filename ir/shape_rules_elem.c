/* shape_rules_elem.c — shape rules of the elementwise, movement and
 * reduction extensions of ir/ops.def (comparisons, logic, where, slice,
 * pad, concat, tile, gather, one-hot, argmax, cumsum). Each checks its
 * inputs and fills the node's dtype and shape, or says why it cannot. */
#include <string.h>

#include "ir/ir.h"
#include "ir/op_rules.h"

#define IN(k) (&g->nodes[n->in[k]])
#define SHP(s) gc_shape_str((s), (char[160]){0}, 160)
#define DT(k) gc_dtype_name(IN(k)->dtype)

static bool is_index(gc_dtype t) { return t == GC_I32 || t == GC_I64; }

static gc_status broadcast2(const ir_graph *g, ir_node *n, int a, int b, gc_shape *out) {
  if (!ir_broadcast_shapes(IN(a)->shape, IN(b)->shape, out))
    return gc_fail(GC_ERR_SHAPE, "shapes %s and %s do not broadcast", SHP(IN(a)->shape),
                   SHP(IN(b)->shape));
  return GC_OK;
}

gc_status shape_broadcast_f32(const ir_graph *g, ir_node *n) {
  if (IN(0)->dtype != GC_F32 || IN(1)->dtype != GC_F32)
    return gc_fail(GC_ERR_SHAPE, "inputs must be f32, got %s and %s", DT(0), DT(1));
  n->dtype = GC_F32;
  return broadcast2(g, n, 0, 1, &n->shape);
}

gc_status shape_compare(const ir_graph *g, ir_node *n) {
  if (IN(0)->dtype != IN(1)->dtype)
    return gc_fail(GC_ERR_SHAPE, "dtypes %s and %s differ", DT(0), DT(1));
  n->dtype = GC_BOOL;
  return broadcast2(g, n, 0, 1, &n->shape);
}

gc_status shape_logical(const ir_graph *g, ir_node *n) {
  for (int k = 0; k < n->nin; k++)
    if (IN(k)->dtype != GC_BOOL)
      return gc_fail(GC_ERR_SHAPE, "input %d must be bool, got %s", k, DT(k));
  n->dtype = GC_BOOL;
  if (n->nin == 1) {
    n->shape = IN(0)->shape;
    return GC_OK;
  }
  return broadcast2(g, n, 0, 1, &n->shape);
}

gc_status shape_where(const ir_graph *g, ir_node *n) {
  if (IN(0)->dtype != GC_BOOL)
    return gc_fail(GC_ERR_SHAPE, "the condition must be bool, got %s", DT(0));
  if (IN(1)->dtype != IN(2)->dtype)
    return gc_fail(GC_ERR_SHAPE, "dtypes %s and %s differ", DT(1), DT(2));
  gc_shape ab, r;
  gc_status st = broadcast2(g, n, 1, 2, &ab);
  if (st) return st;
  if (!ir_broadcast_shapes(IN(0)->shape, ab, &r))
    return gc_fail(GC_ERR_SHAPE, "condition %s does not broadcast with %s", SHP(IN(0)->shape),
                   SHP(ab));
  n->shape = r;
  n->dtype = IN(1)->dtype;
  return GC_OK;
}

/* The slice lattice start + i * step (i < len) must lie inside [0, size). */
static gc_status check_lattice(const ir_node *n, gc_shape x, gc_shape out) {
  if (out.ndim != x.ndim)
    return gc_fail(GC_ERR_SHAPE, "slice of %s has %d dims, want %d", SHP(x), out.ndim, x.ndim);
  for (int d = 0; d < x.ndim; d++) {
    int64_t s = n->attr.starts[d], st = n->attr.steps[d], len = out.dim[d];
    int64_t last = s + (len - 1) * st;
    if (st == 0 || len <= 0 || s < 0 || s >= x.dim[d] || last < 0 || last >= x.dim[d])
      return gc_fail(GC_ERR_SHAPE, "axis %d: %lld elements from %lld by step %lld do not fit in %s",
                     d, (long long)len, (long long)s, (long long)st, SHP(x));
  }
  return GC_OK;
}

gc_status shape_slice(const ir_graph *g, ir_node *n) {
  gc_status st = check_lattice(n, IN(0)->shape, n->attr.shape);
  if (st) return st;
  n->shape = n->attr.shape;
  n->dtype = IN(0)->dtype;
  return GC_OK;
}

gc_status shape_slice_grad(const ir_graph *g, ir_node *n) {
  if (IN(0)->dtype != GC_F32) return gc_fail(GC_ERR_SHAPE, "dy must be f32, got %s", DT(0));
  gc_status st = check_lattice(n, n->attr.shape, IN(0)->shape);
  if (st) return st;
  n->shape = n->attr.shape;
  n->dtype = GC_F32;
  return GC_OK;
}

gc_status shape_pad(const ir_graph *g, ir_node *n) {
  const gc_shape *x = &IN(0)->shape;
  if (n->attr.mode < GC_PAD_CONSTANT || n->attr.mode > GC_PAD_EDGE)
    return gc_fail(GC_ERR_INVALID, "unknown pad mode %d", n->attr.mode);
  n->shape = *x;
  for (int d = 0; d < x->ndim; d++) {
    int64_t b = n->attr.pads[d], e = n->attr.pads[GC_MAX_DIMS + d];
    if (b < 0 || e < 0)
      return gc_fail(GC_ERR_SHAPE, "axis %d: negative pads %lld, %lld", d, (long long)b,
                     (long long)e);
    if (n->attr.mode == GC_PAD_REFLECT && (b >= x->dim[d] || e >= x->dim[d]))
      return gc_fail(GC_ERR_SHAPE, "axis %d: reflect pads %lld, %lld must be < %lld (%s)", d,
                     (long long)b, (long long)e, (long long)x->dim[d], SHP(*x));
    n->shape.dim[d] += b + e;
  }
  n->dtype = IN(0)->dtype;
  return GC_OK;
}

gc_status shape_concat(const ir_graph *g, ir_node *n) {
  gc_shape r = IN(0)->shape;
  int ax = ir_axis(n->attr.axis, r.ndim);
  if (ax < 0) return gc_fail(GC_ERR_SHAPE, "axis %d out of range for %s", n->attr.axis, SHP(r));
  for (int k = 1; k < n->nin; k++) {
    const gc_shape *s = &IN(k)->shape;
    if (IN(k)->dtype != IN(0)->dtype)
      return gc_fail(GC_ERR_SHAPE, "input %d is %s, input 0 %s", k, DT(k), DT(0));
    bool ok = s->ndim == r.ndim;
    for (int d = 0; ok && d < r.ndim; d++) ok = d == ax || s->dim[d] == r.dim[d];
    if (!ok)
      return gc_fail(GC_ERR_SHAPE, "input %d %s does not match input 0 %s outside axis %d", k,
                     SHP(*s), SHP(IN(0)->shape), ax);
    r.dim[ax] += s->dim[ax];
  }
  n->attr.axis = ax;
  n->shape = r;
  n->dtype = IN(0)->dtype;
  return GC_OK;
}

gc_status shape_tile(const ir_graph *g, ir_node *n) {
  n->shape = IN(0)->shape;
  for (int d = 0; d < n->shape.ndim; d++) {
    if (n->attr.reps[d] < 1)
      return gc_fail(GC_ERR_SHAPE, "axis %d: %lld repetitions of %s", d, (long long)n->attr.reps[d],
                     SHP(IN(0)->shape));
    n->shape.dim[d] *= n->attr.reps[d];
  }
  n->dtype = IN(0)->dtype;
  return GC_OK;
}

/* data.shape[:axis] + indices.shape + data.shape[axis+1:] */
static gc_status gathered_shape(const ir_graph *g, ir_node *n, gc_shape data, gc_shape *out) {
  const gc_shape *ix = &IN(1)->shape;
  int ax = ir_axis(n->attr.axis, data.ndim);
  if (ax < 0) return gc_fail(GC_ERR_SHAPE, "axis %d out of range for %s", n->attr.axis, SHP(data));
  if (!is_index(IN(1)->dtype))
    return gc_fail(GC_ERR_SHAPE, "indices must be i32 or i64, got %s", DT(1));
  if (data.ndim - 1 + ix->ndim > GC_MAX_DIMS)
    return gc_fail(GC_ERR_SHAPE, "gathering %s from %s gives more than %d dims", SHP(*ix),
                   SHP(data), GC_MAX_DIMS);
  gc_shape r = {0, {0}};
  for (int d = 0; d < ax; d++) r.dim[r.ndim++] = data.dim[d];
  for (int d = 0; d < ix->ndim; d++) r.dim[r.ndim++] = ix->dim[d];
  for (int d = ax + 1; d < data.ndim; d++) r.dim[r.ndim++] = data.dim[d];
  n->attr.axis = ax;
  *out = r;
  return GC_OK;
}

gc_status shape_gather(const ir_graph *g, ir_node *n) {
  gc_status st = gathered_shape(g, n, IN(0)->shape, &n->shape);
  n->dtype = IN(0)->dtype;
  return st;
}

gc_status shape_gather_grad(const ir_graph *g, ir_node *n) {
  gc_shape want;
  if (IN(0)->dtype != GC_F32) return gc_fail(GC_ERR_SHAPE, "dy must be f32, got %s", DT(0));
  gc_status st = gathered_shape(g, n, n->attr.shape, &want);
  if (st) return st;
  if (!ir_shape_eq(want, IN(0)->shape))
    return gc_fail(GC_ERR_SHAPE, "dy is %s, the gather gave %s", SHP(IN(0)->shape), SHP(want));
  n->shape = n->attr.shape;
  n->dtype = GC_F32;
  return GC_OK;
}

gc_status shape_one_hot(const ir_graph *g, ir_node *n) {
  const gc_shape *ix = &IN(0)->shape;
  if (!is_index(IN(0)->dtype))
    return gc_fail(GC_ERR_SHAPE, "indices must be i32 or i64, got %s", DT(0));
  if (n->attr.depth < 1) return gc_fail(GC_ERR_SHAPE, "depth %lld < 1", (long long)n->attr.depth);
  if (ix->ndim + 1 > GC_MAX_DIMS)
    return gc_fail(GC_ERR_SHAPE, "indices %s have too many dims", SHP(*ix));
  int ax = ir_axis(n->attr.axis, ix->ndim + 1);
  if (ax < 0) return gc_fail(GC_ERR_SHAPE, "axis %d out of range for %s", n->attr.axis, SHP(*ix));
  gc_shape r = {ix->ndim + 1, {0}};
  for (int d = 0, k = 0; d < r.ndim; d++) r.dim[d] = d == ax ? n->attr.depth : ix->dim[k++];
  n->attr.axis = ax;
  n->shape = r;
  n->dtype = GC_F32;
  return GC_OK;
}

gc_status shape_arg(const ir_graph *g, ir_node *n) {
  const gc_shape *x = &IN(0)->shape;
  if (IN(0)->dtype != GC_F32) return gc_fail(GC_ERR_SHAPE, "input must be f32, got %s", DT(0));
  int ax = ir_axis(n->attr.axis, x->ndim);
  if (ax < 0) return gc_fail(GC_ERR_SHAPE, "axis %d out of range for %s", n->attr.axis, SHP(*x));
  gc_shape r = {0, {0}};
  for (int d = 0; d < x->ndim; d++)
    if (d != ax || n->attr.keepdims) r.dim[r.ndim++] = d == ax ? 1 : x->dim[d];
  n->attr.axis = ax;
  n->shape = r;
  n->dtype = GC_I64;
  return GC_OK;
}

gc_status shape_cumsum(const ir_graph *g, ir_node *n) {
  const gc_shape *x = &IN(0)->shape;
  if (IN(0)->dtype != GC_F32) return gc_fail(GC_ERR_SHAPE, "input must be f32, got %s", DT(0));
  int ax = ir_axis(n->attr.axis, x->ndim);
  if (ax < 0) return gc_fail(GC_ERR_SHAPE, "axis %d out of range for %s", n->attr.axis, SHP(*x));
  n->attr.axis = ax;
  n->shape = *x;
  n->dtype = GC_F32;
  return GC_OK;
}
