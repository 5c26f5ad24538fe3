/* onnx_movement.c — ONNX mappings of data movement and index ops on runtime
 * data (Pad, Where, Gather, GatherElements, GatherND, ScatterElements,
 * Concat, Slice, Split, Tile, OneHot, ArgMax/ArgMin, CumSum, Trilu). Their
 * host-folding twins for shape computations stay in onnx_ops.c; the
 * mappings here run when an input is only known at run time.
 *
 * Integer data: ONNX int64 lives as i32 in the graph (ox_const_value), so
 * ops that produce i64 (argmax) are cast to i32 to keep one index dtype. */
#include <string.h>

#include "frontend/onnx_nn.h"

static gc_status out0(ox_ctx *c, gc_value v) { return ox_out(c, 0, v, ox_in_type(c, 0)); }

static int norm_axis(int64_t a, int r) {
  if (a < 0) a += r;
  return a >= 0 && a < r ? (int)a : -1;
}

static double known_f(const gc_tensor *t, int64_t i) {
  switch (t->dtype) {
    case GC_F32:
      return ((const float *)t->data)[i];
    case GC_I32:
      return ((const int32_t *)t->data)[i];
    case GC_I64:
      return (double)((const int64_t *)t->data)[i];
    default:
      return ((const uint8_t *)t->data)[i];
  }
}

/* Empty results are host values (ox_out_empty). Where the result's shape
 * is not plain (a padded empty axis, an empty one-hot depth), a SKIP. */
static gc_status empty(ox_ctx *c) {
  return ox_unsupported(c, "empty tensors", "%s would give an empty tensor", c->node->op_type);
}

static gc_status empty0(ox_ctx *c, gc_shape s) { return ox_out_empty(c, 0, s, ox_in_type(c, 0)); }

/* f32 builders (argmax, cumsum) on integer data: through f32, which is
 * exact below 2^24. */
static gc_value as_f32(ox_ctx *c, gc_value x) {
  return gc_value_dtype(c->g, x) == GC_F32 ? x : gc_cast(c->g, x, GC_F32);
}

/* Pad: pads (and value) are attributes before opset 11, inputs after;
 * opset 18 adds axes. Negative pads crop, done by a slice first. */
OX_MAP(pad) {
  char buf[32];
  const char *mode = ox_attr_str(c, "mode", "constant", buf, sizeof buf);
  gc_pad_mode m = !strcmp(mode, "constant")  ? GC_PAD_CONSTANT
                  : !strcmp(mode, "reflect") ? GC_PAD_REFLECT
                  : !strcmp(mode, "edge")    ? GC_PAD_EDGE
                                             : (gc_pad_mode)-1;
  if ((int)m < 0) return ox_unsupported(c, "Pad (wrap)", "mode %s", mode);
  gc_shape xs = ox_in_shape(c, 0);
  int r = xs.ndim;
  int64_t p[2 * GC_MAX_DIMS + 1], full[2 * GC_MAX_DIMS] = {0};
  int np;
  float value = 0;
  gc_status st;
  if (c->opset < 11) {
    np = ox_attr_ints(c, "pads", p, 2 * GC_MAX_DIMS);
    value = ox_attr_float(c, "value", 0);
  } else {
    if ((st = ox_ints_in(c, 1, p, 2 * GC_MAX_DIMS, &np))) return st;
    if (ox_has(c, 2)) {
      const gc_tensor *v = ox_host_value(c, 2);
      if (!v) return ox_unsupported(c, "Pad (runtime value)", "constant_value must be known");
      if (gc_shape_numel(v->shape) != 1)
        return ox_err(c, GC_ERR_SHAPE, "constant_value must have one element");
      value = (float)known_f(v, 0);
    }
  }
  int64_t ax[GC_MAX_DIMS + 1];
  int na = r;
  for (int i = 0; i < r; i++) ax[i] = i;
  if (c->opset >= 18 && ox_has(c, 3) && (st = ox_ints_in(c, 3, ax, GC_MAX_DIMS, &na))) return st;
  if (np != 2 * na) return ox_err(c, GC_ERR_SHAPE, "pads has %d entries for %d axes", np, na);
  for (int i = 0; i < na; i++) {
    int d = norm_axis(ax[i], r);
    if (d < 0) return ox_err(c, GC_ERR_SHAPE, "axis %lld out of range", (long long)ax[i]);
    full[d] = p[i];
    full[r + d] = p[na + i];
  }
  gc_value x = ox_in(c, 0);
  int64_t s[GC_MAX_DIMS], e[GC_MAX_DIMS];
  bool crop = false;
  for (int d = 0; d < r; d++) {
    s[d] = full[d] < 0 ? -full[d] : 0;
    e[d] = full[r + d] < 0 ? xs.dim[d] + full[r + d] : xs.dim[d];
    if (s[d] >= e[d]) return empty(c);
    crop |= full[d] < 0 || full[r + d] < 0;
    if (full[d] < 0) full[d] = 0;
    if (full[r + d] < 0) full[r + d] = 0;
  }
  if (crop) x = gc_slice(c->g, x, s, e, NULL, NULL, r);
  return out0(c, gc_pad(c->g, x, full, m, value));
}

OX_MAP(where) {
  gc_value cond = ox_in(c, 0);
  if (gc_value_ok(cond) && gc_value_dtype(c->g, cond) != GC_BOOL)
    cond = gc_cast(c->g, cond, GC_BOOL);
  return ox_out(c, 0, gc_where(c->g, cond, ox_in(c, 1), ox_in(c, 2)), ox_in_type(c, 1));
}

static gc_value index_value(ox_ctx *c, int k) {
  gc_value i = ox_in(c, k);
  if (gc_value_ok(i) && gc_value_dtype(c->g, i) == GC_F32) i = gc_cast(c->g, i, GC_I32);
  return i;
}

OX_MAP(gather) {
  gc_shape is = ox_in_shape(c, 1), ds = ox_in_shape(c, 0);
  int r = ds.ndim;
  int a = norm_axis(ox_attr_int(c, "axis", 0), r);
  if (a < 0) return ox_err(c, GC_ERR_SHAPE, "axis out of range");
  if (gc_shape_numel(is) == 0) {
    if (r - 1 + is.ndim > GC_MAX_DIMS) return ox_err(c, GC_ERR_SHAPE, "result has too many dims");
    gc_shape os = {0, {0}};
    for (int i = 0; i < r; i++)
      if (i != a)
        os.dim[os.ndim++] = ds.dim[i];
      else
        for (int j = 0; j < is.ndim; j++) os.dim[os.ndim++] = is.dim[j];
    return empty0(c, os);
  }
  return out0(c, gc_gather(c->g, ox_in(c, 0), index_value(c, 1), a));
}

/* The flat position in data (shape ds) of each element of indices (shape
 * is) taken along axis a, as GatherElements and ScatterElements read them:
 * a constant (the coordinates off the axis) plus index * stride(axis). */
static gc_value flat_elem_index(ox_ctx *c, gc_shape ds, gc_shape is, int a) {
  gc_graph *g = c->g;
  int64_t dst[GC_MAX_DIMS], k = 1, total = gc_shape_numel(is);
  for (int d = ds.ndim - 1; d >= 0; d--) dst[d] = k, k *= ds.dim[d];
  gc_tensor *base;
  gc_status st = gc_tensor_new(NULL, GC_I32, is, NULL, &base);
  if (st) return ir_value(ir_error(g, st, "%s", gc_last_error()));
  for (int64_t i = 0; i < total; i++) {
    int64_t rem = i, off = 0;
    for (int d = is.ndim - 1; d >= 0; d--) {
      int64_t q = rem % is.dim[d];
      rem /= is.dim[d];
      if (d != a) off += q * dst[d];
    }
    ((int32_t *)base->data)[i] = (int32_t)off;
  }
  gc_value b = ox_const_value(c, base);
  gc_tensor_free(base);
  gc_value idx = index_value(c, 1);
  if (gc_value_ok(idx) && gc_value_dtype(g, idx) != GC_I32) idx = gc_cast(g, idx, GC_I32);
  int32_t len = (int32_t)ds.dim[a], stride = (int32_t)dst[a], zero = 0;
  gc_value z = gc_constant(g, GC_I32, gc_shape0(), &zero);
  gc_value l = gc_constant(g, GC_I32, gc_shape0(), &len);
  gc_value sv = gc_constant(g, GC_I32, gc_shape0(), &stride);
  /* negative indices count from the end of the axis */
  idx = gc_where(g, gc_less(g, idx, z), gc_add(g, idx, l), idx);
  return gc_add(g, b, gc_mul(g, idx, sv));
}

/* GatherElements as one gather from the flattened data. */
OX_MAP(gather_elements) {
  gc_graph *g = c->g;
  gc_shape ds = ox_in_shape(c, 0), is = ox_in_shape(c, 1);
  if (ds.ndim != is.ndim) return ox_err(c, GC_ERR_SHAPE, "data and indices differ in rank");
  int a = norm_axis(ox_attr_int(c, "axis", 0), ds.ndim);
  if (a < 0) return ox_err(c, GC_ERR_SHAPE, "axis out of range");
  int64_t dn = gc_shape_numel(ds);
  if (!gc_shape_numel(is)) return empty0(c, is);
  if (dn > INT32_MAX) return ox_unsupported(c, "GatherElements (large)", "data too large");
  gc_value flat = flat_elem_index(c, ds, is, a);
  gc_value data = gc_reshape(g, ox_in(c, 0), gc_shape1(dn));
  return out0(c, gc_gather(g, data, flat, 0));
}

/* ScatterElements (and the older Scatter) on the flattened data: the
 * gather's gradient op scatter-adds updates at the flat positions, which
 * is reduction "add" as it stands; "none" takes the scattered values where
 * any update landed (ONNX leaves duplicate indices undefined there). */
OX_MAP(scatter_elements) {
  gc_graph *g = c->g;
  char buf[16];
  const char *red = ox_attr_str(c, "reduction", "none", buf, sizeof buf);
  bool add = !strcmp(red, "add");
  if (!add && strcmp(red, "none"))
    return ox_unsupported(c, "ScatterElements (mul/min/max)", "reduction %s", red);
  gc_shape ds = ox_in_shape(c, 0), is = ox_in_shape(c, 1);
  if (ds.ndim != is.ndim) return ox_err(c, GC_ERR_SHAPE, "data and indices differ in rank");
  if (!ir_shape_eq(is, ox_in_shape(c, 2)))
    return ox_err(c, GC_ERR_SHAPE, "updates and indices differ in shape");
  int a = norm_axis(ox_attr_int(c, "axis", 0), ds.ndim);
  if (a < 0) return ox_err(c, GC_ERR_SHAPE, "axis out of range");
  int64_t dn = gc_shape_numel(ds);
  if (!gc_shape_numel(is)) return out0(c, ox_in(c, 0));
  if (dn > INT32_MAX) return ox_unsupported(c, "ScatterElements (large)", "data too large");
  gc_value data = ox_in(c, 0), upd = ox_in(c, 2);
  /* the scatter-add op takes f32 only */
  if (gc_value_ok(data) && gc_value_dtype(g, data) != GC_F32)
    return ox_unsupported(c, "ScatterElements (integer data)", "data is not f32");
  gc_value flat = flat_elem_index(c, ds, is, a);
  ir_attr at = {0};
  at.axis = 0;
  at.shape = gc_shape1(dn);
  int32_t in[2] = {upd.id, flat.id};
  gc_value sum = ir_value(ir_add(g, IR_OP_GATHER_GRAD, 2, in, &at));
  data = gc_reshape(g, data, gc_shape1(dn));
  gc_value r;
  if (add) {
    r = gc_add(g, data, sum);
  } else {
    float one = 1, zero = 0;
    in[0] = gc_expand(g, gc_constant(g, GC_F32, gc_shape0(), &one), is).id;
    gc_value hits = ir_value(ir_add(g, IR_OP_GATHER_GRAD, 2, in, &at));
    gc_value z = gc_constant(g, GC_F32, gc_shape0(), &zero);
    r = gc_where(g, gc_greater(g, hits, z), sum, data);
  }
  return out0(c, gc_reshape(g, r, ds));
}

/* GatherND as one gather of rows from data reshaped to [rows, rest]: the
 * first batch_dims + m axes (m = the indices' last dim) become the row,
 * whose number is a constant (the batch's first row) plus each index
 * coordinate times its stride; the remaining axes are the row's contents. */
OX_MAP(gather_nd) {
  gc_graph *g = c->g;
  gc_shape ds = ox_in_shape(c, 0), is = ox_in_shape(c, 1);
  int64_t b = ox_attr_int(c, "batch_dims", 0);
  int q = is.ndim;
  if (q < 1) return ox_err(c, GC_ERR_SHAPE, "indices must have rank >= 1");
  int64_t m = is.dim[q - 1];
  if (b < 0 || b >= q || m < 1 || b + m > ds.ndim)
    return ox_err(c, GC_ERR_SHAPE, "batch_dims %lld and index depth %lld do not fit rank %d",
                  (long long)b, (long long)m, ds.ndim);
  for (int d = 0; d < b; d++)
    if (is.dim[d] != ds.dim[d]) return ox_err(c, GC_ERR_SHAPE, "batch dims differ");
  int64_t total = gc_shape_numel(is) / m, dn = gc_shape_numel(ds);
  gc_shape os = {0};
  for (int d = 0; d < q - 1; d++) os.dim[os.ndim++] = is.dim[d];
  for (int d = (int)(b + m); d < ds.ndim; d++) os.dim[os.ndim++] = ds.dim[d];
  if (!gc_shape_numel(os)) return empty0(c, os);
  if (dn > INT32_MAX) return ox_unsupported(c, "GatherND (large)", "data too large");
  int64_t per_batch = 1, rest = 1, batches = 1;
  for (int d = (int)b; d < b + m; d++) per_batch *= ds.dim[d];
  for (int d = (int)(b + m); d < ds.ndim; d++) rest *= ds.dim[d];
  for (int d = 0; d < b; d++) batches *= ds.dim[d];
  /* indices.shape[:-1] + [1]: the row numbers keep a trailing 1 so that a
   * single index tuple still gathers with a non-scalar index */
  gc_shape rs = is;
  rs.dim[q - 1] = 1;
  gc_tensor *base;
  gc_status st = gc_tensor_new(NULL, GC_I32, rs, NULL, &base);
  if (st) return st;
  int64_t per_tuple_batch = total / batches;
  for (int64_t i = 0; i < total; i++)
    ((int32_t *)base->data)[i] = (int32_t)(i / per_tuple_batch * per_batch);
  gc_value row = ox_const_value(c, base);
  gc_tensor_free(base);
  gc_value idx = index_value(c, 1);
  if (gc_value_ok(idx) && gc_value_dtype(g, idx) != GC_I32) idx = gc_cast(g, idx, GC_I32);
  int32_t zero = 0;
  gc_value z = gc_constant(g, GC_I32, gc_shape0(), &zero);
  int64_t stride = per_batch;
  for (int j = 0; j < m; j++) {
    int32_t len = (int32_t)ds.dim[b + j];
    stride /= len;
    int32_t sj = (int32_t)stride;
    int64_t start = j, end = j + 1;
    int ax = q - 1;
    gc_value ij = gc_slice(g, idx, &start, &end, &ax, NULL, 1);
    gc_value l = gc_constant(g, GC_I32, gc_shape0(), &len);
    /* negative indices count from the end of their axis */
    ij = gc_where(g, gc_less(g, ij, z), gc_add(g, ij, l), ij);
    row =
        gc_add(g, row, stride == 1 ? ij : gc_mul(g, ij, gc_constant(g, GC_I32, gc_shape0(), &sj)));
  }
  gc_value data = gc_reshape(g, ox_in(c, 0), gc_shape2(dn / rest, rest));
  return out0(c, gc_reshape(g, gc_gather(g, data, row, 0), os));
}

/* Concat of any number of inputs, in groups the IR takes at once. */
OX_MAP(concat) {
  enum { GROUP = 16 };
  gc_value xs[GROUP];
  int r = ox_in_shape(c, 0).ndim;
  int a = norm_axis(ox_attr_int(c, "axis", 0), r);
  if (a < 0) return ox_err(c, GC_ERR_SHAPE, "axis out of range");
  int cnt = 0;
  gc_shape os = ox_in_shape(c, 0);
  os.dim[a] = 0;
  for (int k = 0; k < ox_nin(c); k++) {
    if (ox_has(c, k)) os.dim[a] += ox_in_shape(c, k).dim[a];
    if (!ox_has(c, k) || gc_shape_numel(ox_in_shape(c, k)) == 0) continue;
    if (cnt == GROUP) {
      xs[0] = gc_concat(c->g, xs, cnt, a);
      cnt = 1;
    }
    xs[cnt++] = ox_in(c, k);
  }
  if (!cnt) return empty0(c, os);
  if (cnt == 1) return out0(c, gc_expand(c->g, xs[0], gc_value_shape(c->g, xs[0])));
  return out0(c, gc_concat(c->g, xs, cnt, a));
}

/* Slice: the host resolution of onnx_ops.c gives start, step and length
 * per axis, passed on as absolute bounds. */
OX_MAP(slice) {
  gc_shape xs = ox_in_shape(c, 0), s;
  int64_t start[GC_MAX_DIMS], step[GC_MAX_DIMS], end[GC_MAX_DIMS];
  gc_status st = ox_slice_params(c, xs, start, step, &s);
  if (st) return st;
  if (!gc_shape_numel(s)) return empty0(c, s);
  for (int d = 0; d < xs.ndim; d++) {
    end[d] = start[d] + s.dim[d] * step[d];
    /* one past index 0 going down: ONNX spells it as less than -len */
    if (end[d] < 0) end[d] = INT64_MIN / 2;
  }
  return out0(c, gc_slice(c->g, ox_in(c, 0), start, end, NULL, step, xs.ndim));
}

OX_MAP(split) {
  gc_shape xs = ox_in_shape(c, 0);
  int a = norm_axis(ox_attr_int(c, "axis", 0), xs.ndim);
  if (a < 0) return ox_err(c, GC_ERR_SHAPE, "axis out of range");
  int64_t sz[64];
  gc_status st = ox_split_sizes(c, xs.dim[a], sz, 64);
  if (st) return st;
  /* the graph splits off the parts that have elements */
  int no = ox_nout(c), part[64], m = 0;
  int64_t nz[64];
  for (int i = 0; i < no; i++) {
    part[i] = sz[i] > 0 ? m : -1;
    if (sz[i] > 0) nz[m++] = sz[i];
  }
  gc_value out[64];
  if (m && (st = gc_split(c->g, ox_in(c, 0), a, nz, m, out))) return st;
  for (int i = 0; i < no && !st; i++) {
    gc_shape ps = xs;
    ps.dim[a] = 0;
    st = part[i] >= 0 ? ox_out(c, i, out[part[i]], ox_in_type(c, 0))
                      : ox_out_empty(c, i, ps, ox_in_type(c, 0));
  }
  return st;
}

OX_MAP(tile) {
  int64_t reps[GC_MAX_DIMS + 1];
  int nr;
  gc_status st = ox_ints_in(c, 1, reps, GC_MAX_DIMS, &nr);
  if (st) return st;
  if (nr != ox_in_shape(c, 0).ndim)
    return ox_err(c, GC_ERR_SHAPE, "repeats has %d entries for rank %d", nr,
                  ox_in_shape(c, 0).ndim);
  gc_shape os = ox_in_shape(c, 0);
  for (int i = 0; i < nr; i++) {
    if (reps[i] < 0 || reps[i] > INT32_MAX)
      return ox_err(c, GC_ERR_SHAPE, "repeat %lld out of range", (long long)reps[i]);
    os.dim[i] *= reps[i];
  }
  if (!gc_shape_numel(os)) return empty0(c, os);
  return out0(c, gc_tile(c->g, ox_in(c, 0), reps));
}

/* OneHot: gc_one_hot's 0/1 rows on a new last axis, scaled to
 * values = [off, on], moved to axis. Negative indices count from depth. */
OX_MAP(one_hot) {
  gc_graph *g = c->g;
  const gc_tensor *dt = ox_host_value(c, 1);
  if (!dt) return ox_unsupported(c, "OneHot (runtime depth)", "depth must be known");
  if (gc_shape_numel(dt->shape) != 1) return ox_err(c, GC_ERR_SHAPE, "depth must have one element");
  int64_t depth = (int64_t)known_f(dt, 0);
  if (depth <= 0) return empty(c);
  gc_value idx = index_value(c, 0);
  int32_t dp = (int32_t)depth, zero = 0;
  gc_value z = gc_constant(g, GC_I32, gc_shape0(), &zero);
  gc_value dv = gc_constant(g, GC_I32, gc_shape0(), &dp);
  if (gc_value_ok(idx) && gc_value_dtype(g, idx) != GC_I32) idx = gc_cast(g, idx, GC_I32);
  idx = gc_where(g, gc_less(g, idx, z), gc_add(g, idx, dv), idx);
  gc_value oh = gc_one_hot(g, idx, depth);
  gc_value vals = ox_in(c, 2);
  gc_dtype vt = gc_value_dtype(g, vals);
  if (vt != GC_F32) vals = gc_cast(g, vals, GC_F32);
  int64_t s0 = 0, e0 = 1, s1 = 1, e1 = 2;
  gc_value off = gc_slice(g, vals, &s0, &e0, NULL, NULL, 1);
  gc_value on = gc_slice(g, vals, &s1, &e1, NULL, NULL, 1);
  gc_value y = gc_add(g, off, gc_mul(g, gc_sub(g, on, off), oh));
  if (vt != GC_F32) y = gc_cast(g, y, vt);
  int r = gc_value_shape(g, y).ndim;
  int a = norm_axis(ox_attr_int(c, "axis", -1), r);
  if (a < 0) return ox_err(c, GC_ERR_SHAPE, "axis out of range");
  if (a != r - 1) {
    int perm[GC_MAX_DIMS];
    for (int i = 0, k = 0; i < r; i++) perm[i] = i == a ? r - 1 : k++;
    y = gc_transpose(g, y, perm);
  }
  return ox_out(c, 0, y, ox_in_type(c, 2));
}

static gc_status arg(ox_ctx *c, bool max) {
  int r = ox_in_shape(c, 0).ndim;
  int a = norm_axis(ox_attr_int(c, "axis", 0), r);
  if (a < 0) return ox_err(c, GC_ERR_SHAPE, "axis out of range");
  int keep = (int)ox_attr_int(c, "keepdims", 1);
  int last = (int)ox_attr_int(c, "select_last_index", 0);
  gc_value x = as_f32(c, ox_in(c, 0));
  gc_value y = max ? gc_argmax(c->g, x, a, keep, last) : gc_argmin(c->g, x, a, keep, last);
  return ox_out(c, 0, gc_cast(c->g, y, GC_I32), OX_INT64);
}
OX_MAP(argmax) { return arg(c, true); }
OX_MAP(argmin) { return arg(c, false); }

OX_MAP(cumsum) {
  int64_t ax;
  int na;
  gc_status st = ox_ints_in(c, 1, &ax, 1, &na);
  if (st) return st;
  int a = na == 1 ? norm_axis(ax, ox_in_shape(c, 0).ndim) : -1;
  if (a < 0) return ox_err(c, GC_ERR_SHAPE, "bad axis");
  gc_value x = ox_in(c, 0);
  gc_dtype t = gc_value_ok(x) ? gc_value_dtype(c->g, x) : GC_F32;
  gc_value y = gc_cumsum(c->g, as_f32(c, x), a, (int)ox_attr_int(c, "exclusive", 0),
                         (int)ox_attr_int(c, "reverse", 0));
  return out0(c, t == GC_F32 ? y : gc_cast(c->g, y, t));
}

/* Trilu: a constant bool mask over the last two axes picks x or 0. */
OX_MAP(trilu) {
  gc_graph *g = c->g;
  gc_shape xs = ox_in_shape(c, 0);
  if (xs.ndim < 2) return ox_err(c, GC_ERR_SHAPE, "input must have at least 2 dims");
  if (gc_shape_numel(xs) == 0) return empty0(c, xs);
  int64_t k = 0;
  if (ox_has(c, 1)) {
    int nk;
    gc_status st = ox_ints_in(c, 1, &k, 1, &nk);
    if (st) return st;
  }
  bool upper = ox_attr_int(c, "upper", 1) != 0;
  int64_t rows = xs.dim[xs.ndim - 2], cols = xs.dim[xs.ndim - 1];
  gc_tensor *m;
  gc_status st = gc_tensor_new(NULL, GC_BOOL, gc_shape2(rows, cols), NULL, &m);
  if (st) return st;
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < cols; j++)
      ((uint8_t *)m->data)[i * cols + j] = upper ? j - i >= k : j - i <= k;
  gc_value mask = gc_constant(g, GC_BOOL, m->shape, m->data);
  gc_tensor_free(m);
  gc_value x = ox_in(c, 0);
  return out0(c, gc_where(g, mask, x, ox_scalar_like(c, x, 0)));
}

/* Hardmax: the one-hot of the first maximum along axis (before opset 13,
 * of the input coerced to 2-D at axis). */
OX_MAP(hardmax) {
  gc_graph *g = c->g;
  gc_shape xs = ox_in_shape(c, 0);
  gc_value x = ox_in(c, 0);
  int a;
  if (c->opset < 13) {
    int ax = xs.ndim ? norm_axis(ox_attr_int(c, "axis", 1), xs.ndim) : -1;
    if (ax < 0) return ox_err(c, GC_ERR_SHAPE, "axis out of range");
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < xs.ndim; i++) *(i < ax ? &outer : &inner) *= xs.dim[i];
    x = gc_reshape(g, x, gc_shape2(outer, inner));
    a = 1;
  } else if ((a = norm_axis(ox_attr_int(c, "axis", -1), xs.ndim)) < 0) {
    return ox_err(c, GC_ERR_SHAPE, "axis out of range");
  }
  gc_shape s = gc_value_shape(g, x);
  gc_value y = gc_one_hot(g, gc_argmax(g, x, a, 0, 0), s.dim[a]);
  if (a != s.ndim - 1) {
    int perm[GC_MAX_DIMS];
    for (int i = 0, k = 0; i < s.ndim; i++) perm[i] = i == a ? s.ndim - 1 : k++;
    y = gc_transpose(g, y, perm);
  }
  return out0(c, gc_reshape(g, y, xs));
}

/* DepthToSpace / SpaceToDepth on NCHW as a 6-D reshape, transpose,
 * reshape. */
static gc_status depth_space(ox_ctx *c, bool to_space) {
  gc_graph *g = c->g;
  gc_shape xs = ox_in_shape(c, 0);
  int64_t b = ox_attr_int(c, "blocksize", 0);
  if (xs.ndim != 4 || b <= 0) return ox_err(c, GC_ERR_SHAPE, "needs 4-D input and blocksize > 0");
  int64_t N = xs.dim[0], C = xs.dim[1], H = xs.dim[2], W = xs.dim[3];
  gc_value x = ox_in(c, 0);
  if (to_space) {
    if (C % (b * b)) return ox_err(c, GC_ERR_SHAPE, "channels not divisible by blocksize^2");
    char buf[8];
    bool crd = !strcmp(ox_attr_str(c, "mode", "DCR", buf, sizeof buf), "CRD");
    int64_t c2 = C / (b * b);
    int64_t d6[6] = {N, b, b, c2, H, W}, d6c[6] = {N, c2, b, b, H, W};
    static const int pd[6] = {0, 3, 4, 1, 5, 2}, pc[6] = {0, 1, 4, 2, 5, 3};
    x = gc_reshape(g, x, gc_shapen(6, crd ? d6c : d6));
    x = gc_transpose(g, x, crd ? pc : pd);
    return out0(c, gc_reshape(g, x, gc_shape4(N, c2, H * b, W * b)));
  }
  if (H % b || W % b) return ox_err(c, GC_ERR_SHAPE, "H, W not divisible by blocksize");
  int64_t d6[6] = {N, C, H / b, b, W / b, b};
  static const int p[6] = {0, 3, 5, 1, 2, 4};
  x = gc_transpose(g, gc_reshape(g, x, gc_shapen(6, d6)), p);
  return out0(c, gc_reshape(g, x, gc_shape4(N, C * b * b, H / b, W / b)));
}
OX_MAP(depth_to_space) { return depth_space(c, true); }
OX_MAP(space_to_depth) { return depth_space(c, false); }

/* Compress with a condition known at import: a gather of the picked
 * indices (of the flattened input when axis is absent). */
OX_MAP(compress) {
  gc_graph *g = c->g;
  const gc_tensor *cond = ox_host_value(c, 1);
  if (!cond) return ox_unsupported(c, "Compress (runtime condition)", "condition must be known");
  gc_shape xs = ox_in_shape(c, 0);
  gc_value x = ox_in(c, 0);
  int a = 0;
  if (ox_attr(c, "axis")) {
    if ((a = norm_axis(ox_attr_int(c, "axis", 0), xs.ndim)) < 0)
      return ox_err(c, GC_ERR_SHAPE, "axis out of range");
  } else {
    x = gc_reshape(g, x, gc_shape1(gc_shape_numel(xs)));
    xs = gc_shape1(gc_shape_numel(xs));
  }
  int64_t nc = gc_shape_numel(cond->shape), k = 0;
  if (nc > xs.dim[a]) nc = xs.dim[a];
  gc_tensor *idx;
  gc_status st = gc_tensor_new(NULL, GC_I32, gc_shape1(nc ? nc : 1), NULL, &idx);
  if (st) return st;
  for (int64_t i = 0; i < nc; i++)
    if (known_f(cond, i) != 0) ((int32_t *)idx->data)[k++] = (int32_t)i;
  idx->shape = gc_shape1(k);
  gc_value iv = k ? gc_constant(g, GC_I32, idx->shape, idx->data) : (gc_value){-1};
  gc_tensor_free(idx);
  if (!k) {
    xs.dim[a] = 0;
    return empty0(c, xs);
  }
  return out0(c, gc_gather(g, x, iv, a));
}

OX_MAP(eye_like) {
  gc_shape s = ox_in_shape(c, 0);
  if (s.ndim != 2) return ox_err(c, GC_ERR_SHAPE, "input must be 2-D");
  int to = ox_attr(c, "dtype") ? (int)ox_attr_int(c, "dtype", 1) : ox_in_type(c, 0);
  gc_dtype t = ox_host_dtype(to);
  if (t == GC_DTYPE_COUNT) return ox_unsupported(c, "EyeLike (dtype)", "dtype %d", to);
  if (!gc_shape_numel(s)) return ox_out_empty(c, 0, s, to);
  int64_t k = ox_attr_int(c, "k", 0);
  gc_tensor *e, *r;
  gc_status st = gc_tensor_new(NULL, GC_F32, s, NULL, &e);
  if (st) return st;
  for (int64_t i = 0; i < s.dim[0]; i++)
    for (int64_t j = 0; j < s.dim[1]; j++) ((float *)e->data)[i * s.dim[1] + j] = j - i == k;
  st = gc_tensor_convert(e, t, &r);
  gc_tensor_free(e);
  if (st) return st;
  return ox_out_known(c, 0, r, to);
}
