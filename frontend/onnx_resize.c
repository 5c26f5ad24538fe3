/* onnx_resize.c — ONNX Resize (opsets 10, 11, 13) and Upsample (7, 9).
 *
 * Interpolation in Resize is separable per axis and every shape is static
 * at import, so the host computes, per resized axis, the source indices
 * and weights of every output coordinate: nearest 1 tap, linear 2, cubic
 * 4, taps past the border read the edge element (or, with
 * exclude_outside, get weight 0 and the rest are renormalized; nearest
 * has no weights to renormalize and ignores it), and a
 * tf_crop_and_resize coordinate outside the input gives
 * extrapolation_value. The axis then becomes the sum over taps of
 * gather(x, axis, idx_t) * w_t: ops whose kernels and gradients (the
 * gather's is a scatter-add) are already tested, and whose elementwise
 * parts the fusion pass merges.
 *
 * The rules are the spec's, and where the spec is silent the ONNX
 * reference implementation's (onnx/reference/ops/op_resize.py), whose
 * outputs the conformance data hold: the neighbourhood of a source
 * coordinate, and the resized length as in * scale (not its floor) when
 * scales are given.
 *
 * Two cases keep faster kernels: nearest upsampling by integer factors (a
 * broadcast that fuses) and bilinear resizing of the last two axes where
 * PyTorch's conventions (gc_resize_bilinear2d, one kernel) agree with
 * ONNX's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx_nn.h"

#define BAD ((gc_value){-1})
/* Larger output lengths are malformed (they would not fit our int32
 * index tables). */
#define LEN_MAX ((int64_t)1 << 26)

typedef enum { RZ_NEAREST, RZ_LINEAR, RZ_CUBIC } rz_mode;

typedef enum {
  CT_HALF_PIXEL,
  CT_PYTORCH_HALF_PIXEL,
  CT_ALIGN_CORNERS,
  CT_ASYMMETRIC,
  CT_TF_HALF_PIXEL_FOR_NN,
  CT_TF_CROP_AND_RESIZE
} rz_coord;

/* NM_SIMPLE: Upsample and Resize-10, whose specs do not say how nearest
 * rounds; ONNX Runtime floors when upsampling an axis and takes the
 * ceiling when downsampling it, and so do we. */
typedef enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE } rz_round;

typedef struct rz_spec {
  rz_mode mode;
  rz_coord ctm;
  rz_round nm;
  double cubic_a;
  bool exclude_outside;
  float extrapolation;
} rz_spec;

/* One axis: lengths, the scale of the coordinate rules (the given scale,
 * or out / in for sizes), the resized length align_corners and
 * tf_crop_and_resize divide by (in * scale, or out for sizes) and the
 * region of interest (tf_crop_and_resize). */
typedef struct rz_axis {
  int64_t in, out;
  double scale, len;
  double roi0, roi1;
} rz_axis;

/* The host tables of one axis: idx and w are [out][ntaps]; outside[o]
 * marks a tf_crop_and_resize output that is extrapolation_value. */
typedef struct rz_taps {
  int ntaps;
  int32_t *idx;
  float *w;
  uint8_t *outside;
  bool any_outside;
} rz_taps;

static void taps_free(rz_taps *t) {
  free(t->idx);
  free(t->w);
  free(t->outside);
  memset(t, 0, sizeof *t);
}

/* ----------------------------------------------------------- host tables */

/* The source coordinate of output x (the spec's coordinate rules). */
static double source_coord(const rz_spec *s, const rz_axis *a, int64_t x, bool *outside) {
  double in = (double)a->in, xd = (double)x;
  *outside = false;
  switch (s->ctm) {
    case CT_HALF_PIXEL:
      return (xd + 0.5) / a->scale - 0.5;
    case CT_PYTORCH_HALF_PIXEL:
      return a->len > 1 ? (xd + 0.5) / a->scale - 0.5 : 0;
    case CT_ALIGN_CORNERS:
      return a->len > 1 ? xd * (in - 1) / (a->len - 1) : 0;
    case CT_ASYMMETRIC:
      return xd / a->scale;
    case CT_TF_HALF_PIXEL_FOR_NN:
      return (xd + 0.5) / a->scale;
    case CT_TF_CROP_AND_RESIZE: {
      double v = a->len > 1
                     ? a->roi0 * (in - 1) + xd * (a->roi1 - a->roi0) * (in - 1) / (a->len - 1)
                     : 0.5 * (a->roi0 + a->roi1) * (in - 1);
      *outside = v < 0 || v > in - 1;
      return v;
    }
  }
  return 0;
}

/* The weights of the taps around a source coordinate v = k + r, r in
 * (0, 1] (k, k + 1 for 2 taps; k - 1 .. k + 2 for 4): an integer v is
 * tap k + 1 with r = 1. Nearest gives 0/1 over 2 taps; cubic is Keys'
 * kernel with parameter a. */
static void coeffs(const rz_spec *s, const rz_axis *ax, double r, double *c) {
  switch (s->mode) {
    case RZ_NEAREST: {
      bool up;
      if (r == 1) {
        up = true;
      } else {
        switch (s->nm) {
          case NM_ROUND_PREFER_FLOOR:
            up = r > 0.5;
            break;
          case NM_ROUND_PREFER_CEIL:
            up = r >= 0.5;
            break;
          case NM_FLOOR:
            up = false;
            break;
          case NM_CEIL:
            up = true;
            break;
          default:
            up = ax->scale < 1;
            break;
        }
      }
      c[0] = up ? 0 : 1;
      c[1] = up ? 1 : 0;
      break;
    }
    case RZ_LINEAR:
      c[0] = 1 - r;
      c[1] = r;
      break;
    case RZ_CUBIC: {
      double a = s->cubic_a, p = r + 1, q = 1 - r, t = 2 - r;
      c[0] = ((a * p - 5 * a) * p + 8 * a) * p - 4 * a;
      c[1] = ((a + 2) * r - (a + 3)) * r * r + 1;
      c[2] = ((a + 2) * q - (a + 3)) * q * q + 1;
      c[3] = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
      break;
    }
  }
}

static int32_t clamp_index(int64_t e, int64_t len) {
  return (int32_t)(e < 0 ? 0 : e >= len ? len - 1 : e);
}

/* Fills t for axis a. The neighbourhood follows the reference: n taps
 * (n = 2 for nearest and linear, 4 for cubic) around the source
 * coordinate v, chosen among the input padded with n / 2 edge copies on
 * either side, so a window that would stick out past that padding is
 * shifted back inside it (only tf_crop_and_resize, whose coordinates can
 * lie anywhere, gets there, and those outputs are extrapolated). Returns
 * false when out of memory. */
static bool axis_taps(const rz_spec *s, const rz_axis *a, rz_taps *t) {
  int n = s->mode == RZ_CUBIC ? 4 : 2;
  int pad = n / 2;
  t->ntaps = s->mode == RZ_NEAREST ? 1 : n;
  size_t cells = (size_t)a->out * (size_t)t->ntaps;
  t->idx = malloc(sizeof *t->idx * cells);
  t->w = malloc(sizeof *t->w * cells);
  t->outside = calloc((size_t)a->out, 1);
  t->any_outside = false;
  if (!t->idx || !t->w || !t->outside) return false;
  for (int64_t o = 0; o < a->out; o++) {
    bool out;
    double v = source_coord(s, a, o, &out);
    double k = ceil(v) - 1; /* the last integer below v */
    double c[4];
    coeffs(s, a, v - k, c);
    double start = k - (n / 2 - 1);
    if (start < -pad) start = -pad;
    if (start > (double)(a->in + pad - n)) start = (double)(a->in + pad - n);
    int64_t first = (int64_t)start;
    if (s->exclude_outside && s->mode != RZ_NEAREST) {
      double sum = 0;
      for (int j = 0; j < n; j++) {
        if (first + j < 0 || first + j >= a->in) c[j] = 0;
        sum += c[j];
      }
      if (sum != 0)
        for (int j = 0; j < n; j++) c[j] /= sum;
    }
    int32_t *ix = &t->idx[o * t->ntaps];
    float *w = &t->w[o * t->ntaps];
    if (s->mode == RZ_NEAREST) {
      int j = c[0] != 0 ? 0 : 1; /* exactly one of the two weights is 1 */
      ix[0] = clamp_index(first + j, a->in);
      w[0] = out ? 0.0f : 1.0f;
    } else {
      for (int j = 0; j < n; j++) {
        ix[j] = clamp_index(first + j, a->in);
        w[j] = out ? 0.0f : (float)c[j];
      }
    }
    if (out) t->outside[o] = 1, t->any_outside = true;
  }
  return true;
}

/* Whether the tables of an axis with out == in map every output onto the
 * same input element: the axis can be left alone. */
static bool is_identity(const rz_axis *a, const rz_taps *t) {
  if (a->out != a->in || t->any_outside) return false;
  for (int64_t o = 0; o < a->out; o++)
    for (int j = 0; j < t->ntaps; j++) {
      float w = t->w[o * t->ntaps + j];
      if (w != 0 && (w != 1 || t->idx[o * t->ntaps + j] != o)) return false;
    }
  return true;
}

/* Whether nearest sampling of the axis repeats each input element f =
 * out / in times (source o / f for output o). */
static bool is_repeat(const rz_axis *a, const rz_taps *t) {
  if (a->out % a->in || t->any_outside) return false;
  int64_t f = a->out / a->in;
  for (int64_t o = 0; o < a->out; o++)
    if (t->idx[o] != o / f) return false;
  return true;
}

/* ----------------------------------------------------------------- graph */

/* Nearest upsampling by integer factors along any axes: each scaled axis
 * d becomes [d, 1] broadcast to [d, f] and merged, so it fuses like
 * gc_upsample_nearest2d. */
static gc_value upsample_nearest(ox_ctx *c, gc_value x, const int64_t *f) {
  gc_shape s = gc_value_shape(c->g, x), r = {0, {0}}, e = {0, {0}}, o = {0, {0}};
  for (int i = 0; i < s.ndim; i++) {
    r.dim[r.ndim++] = s.dim[i], e.dim[e.ndim++] = s.dim[i];
    if (f[i] > 1) r.dim[r.ndim++] = 1, e.dim[e.ndim++] = f[i];
    o.dim[o.ndim++] = s.dim[i] * f[i];
  }
  if (ir_shape_eq(s, o)) return x;
  return gc_reshape(c->g, gc_expand(c->g, gc_reshape(c->g, x, r), e), o);
}

/* Axis ax of x resized by its tables: sum over taps j of gather(x, ax,
 * idx[:, j]) * w[:, j] (the weight broadcast along the axes after ax),
 * and extrapolation_value where outside. A tap whose weights are all 1
 * needs no product. Later axes interpolate the extrapolated values with
 * weights that sum to 1, so an output outside along any axis stays
 * extrapolation_value. */
static gc_value resize_axis(ox_ctx *c, gc_value x, int ax, const rz_axis *a, const rz_taps *t,
                            float extrapolation) {
  gc_graph *g = c->g;
  int r = gc_value_shape(g, x).ndim;
  gc_shape ws = {r - ax, {0}};
  ws.dim[0] = a->out;
  for (int i = 1; i < ws.ndim; i++) ws.dim[i] = 1;
  int32_t *col = malloc(sizeof *col * (size_t)a->out);
  float *wc = malloc(sizeof *wc * (size_t)a->out);
  gc_value y = BAD;
  if (!col || !wc) {
    free(col);
    free(wc);
    return ir_value(ir_error(g, GC_ERR_NOMEM, "Resize: out of memory"));
  }
  for (int j = 0; j < t->ntaps; j++) {
    bool unit = true;
    for (int64_t o = 0; o < a->out; o++) {
      col[o] = t->idx[o * t->ntaps + j];
      wc[o] = t->w[o * t->ntaps + j];
      unit = unit && wc[o] == 1;
    }
    gc_value term = gc_gather(g, x, gc_constant(g, GC_I32, gc_shape1(a->out), col), ax);
    if (!unit) term = gc_mul(g, term, gc_constant(g, GC_F32, ws, wc));
    y = j ? gc_add(g, y, term) : term;
  }
  if (t->any_outside) {
    /* a select, not a sum: exact, and no 0 * inf from the edge taps */
    y = gc_where(g, gc_constant(g, GC_BOOL, ws, t->outside), gc_scalar(g, extrapolation), y);
  }
  free(col);
  free(wc);
  return y;
}

/* --------------------------------------------------------------- parsing */

/* The string attribute name mapped through names[] (NULL-terminated) to
 * its index; def when absent, -1 when unknown. */
static int attr_choice(ox_ctx *c, const char *name, const char *def, const char *const *names,
                       char *buf, size_t n) {
  const char *v = ox_attr_str(c, name, def, buf, n);
  for (int i = 0; names[i]; i++)
    if (!strcmp(v, names[i])) return i;
  return -1;
}

/* mode and its options. Upsample and Resize-10 have no options: their
 * coordinates are asymmetric and nearest rounds as NM_SIMPLE says. */
static gc_status read_spec(ox_ctx *c, bool v10, rz_spec *s) {
  static const char *const modes[] = {"nearest", "linear", "cubic", "bilinear", NULL};
  static const char *const ctms[] = {"half_pixel", "pytorch_half_pixel",   "align_corners",
                                     "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize",
                                     NULL};
  static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil",
                                    NULL};
  char buf[64];
  int m = attr_choice(c, "mode", "nearest", modes, buf, sizeof buf);
  if (m < 0 || (m == 2 && v10))
    return ox_err(c, GC_ERR_FORMAT, "unknown mode \"%s\" (%s)", buf,
                  v10 ? "nearest or linear" : "nearest, linear or cubic");
  s->mode = m == 0 ? RZ_NEAREST : m == 2 ? RZ_CUBIC : RZ_LINEAR;
  s->ctm = CT_ASYMMETRIC;
  s->nm = NM_SIMPLE;
  s->cubic_a = -0.75;
  s->exclude_outside = false;
  s->extrapolation = 0;
  if (v10) return GC_OK;
  int t = attr_choice(c, "coordinate_transformation_mode", "half_pixel", ctms, buf, sizeof buf);
  if (t < 0) return ox_err(c, GC_ERR_FORMAT, "unknown coordinate_transformation_mode \"%s\"", buf);
  s->ctm = (rz_coord)t;
  int r = attr_choice(c, "nearest_mode", "round_prefer_floor", nms, buf, sizeof buf);
  if (r < 0) return ox_err(c, GC_ERR_FORMAT, "unknown nearest_mode \"%s\"", buf);
  s->nm = (rz_round)r;
  s->cubic_a = ox_attr_float(c, "cubic_coeff_a", -0.75f);
  s->exclude_outside = ox_attr_int(c, "exclude_outside", 0) != 0;
  s->extrapolation = ox_attr_float(c, "extrapolation_value", 0.0f);
  if (ox_attr_int(c, "antialias", 0))
    return ox_unsupported(c, "Resize (antialias)", "antialiased resizing");
  const char *kp = ox_attr_str(c, "keep_aspect_ratio_policy", "stretch", buf, sizeof buf);
  if (strcmp(kp, "stretch"))
    return ox_unsupported(c, "Resize (keep_aspect_ratio_policy)", "policy %s", kp);
  return GC_OK;
}

/* The lengths and scales of every axis of X (shape xs) from the scales
 * (Upsample-7: attribute; Upsample-9 and Resize-10: input 1; Resize-11+:
 * input 2) or the sizes (Resize-11+: input 3), over the axes listed by the
 * axes attribute (all when absent), and the roi (input 1) for
 * tf_crop_and_resize. */
static gc_status read_axes(ox_ctx *c, bool upsample, bool v10, const rz_spec *s, gc_shape xs,
                           rz_axis *ax) {
  int r = xs.ndim;
  char shp[96], got[96];
  gc_shape_str(xs, shp, sizeof shp);
  int64_t axes[GC_MAX_DIMS];
  int na = ox_attr_ints(c, "axes", axes, GC_MAX_DIMS);
  if (na > r) return ox_err(c, GC_ERR_FORMAT, "axes has %d entries, X %s only %d axes", na, shp, r);
  if (na < 0)
    for (na = 0; na < r; na++) axes[na] = na;
  for (int i = 0; i < na; i++) {
    if (axes[i] < 0) axes[i] += r;
    if (axes[i] < 0 || axes[i] >= r)
      return ox_err(c, GC_ERR_FORMAT, "axes entry %d out of range for X %s", i, shp);
  }
  double sc[GC_MAX_DIMS];
  int64_t sz[GC_MAX_DIMS];
  bool have_scales = false, have_sizes = false;
  if (upsample && c->opset < 9) {
    float f[GC_MAX_DIMS + 1];
    int n = ox_attr_floats(c, "scales", f, GC_MAX_DIMS + 1);
    if (n != r)
      return ox_err(c, GC_ERR_FORMAT, "the scales attribute has %d entries, want %d (X is %s)",
                    n < 0 ? 0 : n, r, shp);
    for (int i = 0; i < r; i++) sc[i] = f[i];
    have_scales = true;
  } else {
    int ks = v10 ? 1 : 2;
    const gc_tensor *t = NULL;
    if (ox_has(c, ks)) {
      if (!(t = ox_host_value(c, ks)))
        return ox_unsupported(c, "Resize (runtime scales)", "scales must be known at import");
      int64_t n = gc_shape_numel(t->shape);
      if (n && (t->dtype != GC_F32 || t->shape.ndim != 1 || n != na))
        return ox_err(c, GC_ERR_FORMAT, "scales is %s%s, want %d floats (one per axis of X %s)",
                      gc_dtype_name(t->dtype), gc_shape_str(t->shape, got, sizeof got), na, shp);
      for (int i = 0; i < n; i++) sc[axes[i]] = ((const float *)t->data)[i];
      have_scales = n > 0;
    }
    if (!v10 && ox_has(c, 3)) {
      const gc_tensor *z = ox_host_value(c, 3);
      if (!z) return ox_unsupported(c, "Resize (runtime sizes)", "sizes must be known at import");
      int64_t n = gc_shape_numel(z->shape);
      if (n && (z->dtype != GC_I64 || z->shape.ndim != 1 || n != na))
        return ox_err(c, GC_ERR_FORMAT, "sizes is %s%s, want %d integers (one per axis of X %s)",
                      gc_dtype_name(z->dtype), gc_shape_str(z->shape, got, sizeof got), na, shp);
      for (int i = 0; i < n; i++) sz[axes[i]] = ((const int64_t *)z->data)[i];
      have_sizes = n > 0;
    }
    if (have_scales && have_sizes)
      return ox_err(c, GC_ERR_FORMAT, "scales and sizes are both given; only one may be");
    if (!have_scales && !have_sizes)
      return ox_err(c, GC_ERR_FORMAT, "neither scales nor sizes is given");
  }
  bool listed[GC_MAX_DIMS] = {false};
  for (int i = 0; i < na; i++) listed[axes[i]] = true;
  for (int i = 0; i < r; i++) {
    rz_axis *a = &ax[i];
    a->in = xs.dim[i];
    a->roi0 = 0, a->roi1 = 1;
    if (!listed[i]) {
      a->out = a->in, a->scale = 1, a->len = (double)a->in;
    } else if (have_sizes) {
      a->out = sz[i];
      if (a->out < 0 || a->out > LEN_MAX)
        return ox_err(c, GC_ERR_FORMAT, "sizes entry %lld for axis %d of X %s is out of range",
                      (long long)a->out, i, shp);
      a->scale = (double)a->out / (double)a->in, a->len = (double)a->out;
    } else {
      a->scale = sc[i], a->len = (double)a->in * sc[i];
      if (!(sc[i] > 0) || !(a->len <= (double)LEN_MAX))
        return ox_err(c, GC_ERR_FORMAT, "scale %g for axis %d of X %s is out of range", sc[i], i,
                      shp);
      a->out = (int64_t)floor(a->len);
    }
  }
  if (s->ctm != CT_TF_CROP_AND_RESIZE) return GC_OK;
  const gc_tensor *roi = ox_has(c, 1) ? ox_host_value(c, 1) : NULL;
  if (ox_has(c, 1) && !roi)
    return ox_unsupported(c, "Resize (runtime roi)", "roi must be known at import");
  if (!roi || roi->dtype != GC_F32 || gc_shape_numel(roi->shape) != 2 * na)
    return ox_err(c, GC_ERR_FORMAT, "tf_crop_and_resize needs roi: %d floats (starts, then ends)",
                  2 * na);
  for (int i = 0; i < na; i++) {
    ax[axes[i]].roi0 = ((const float *)roi->data)[i];
    ax[axes[i]].roi1 = ((const float *)roi->data)[na + i];
    if (!isfinite(ax[axes[i]].roi0) || !isfinite(ax[axes[i]].roi1))
      return ox_err(c, GC_ERR_FORMAT, "roi entry for axis %d is not finite", (int)axes[i]);
  }
  return GC_OK;
}

/* ------------------------------------------------------------- the op */

/* The bilinear kernel's conventions (PyTorch's: half-pixel centres
 * clamped at 0, or align_corners) are ONNX's linear half_pixel,
 * pytorch_half_pixel (for outputs longer than 1) and align_corners when
 * only the last two axes change and the coordinate scale is out / in. */
static bool bilinear_fits(const rz_spec *s, const rz_axis *ax, const bool *ident, int r) {
  if (s->mode != RZ_LINEAR || r < 2 ||
      (s->ctm != CT_HALF_PIXEL && s->ctm != CT_PYTORCH_HALF_PIXEL && s->ctm != CT_ALIGN_CORNERS))
    return false;
  for (int i = 0; i < r; i++) {
    if (ident[i]) continue;
    if (i < r - 2 || ax[i].len != (double)ax[i].out ||
        (s->ctm == CT_PYTORCH_HALF_PIXEL && ax[i].out == 1))
      return false;
  }
  return true;
}

OX_MAP(resize) {
  gc_graph *g = c->g;
  bool upsample = !strcmp(c->node->op_type, "Upsample");
  bool v10 = upsample || c->opset < 11;
  const char *op = c->node->op_type;
  if (ox_in_type(c, 0) != OX_FLOAT) {
    char what[64];
    snprintf(what, sizeof what, "%s (%s)", op, ox_type_name(ox_in_type(c, 0)));
    return ox_unsupported(c, what, "%s on %s data", op, ox_type_name(ox_in_type(c, 0)));
  }
  gc_shape xs = ox_in_shape(c, 0);
  if (xs.ndim < 1) return ox_err(c, GC_ERR_SHAPE, "X must have at least one axis");
  int r = xs.ndim;
  rz_spec s = {0};
  rz_axis ax[GC_MAX_DIMS] = {{0}};
  gc_status st;
  if ((st = read_spec(c, v10, &s)) || (st = read_axes(c, upsample, v10, &s, xs, ax))) return st;
  gc_shape os = xs;
  for (int i = 0; i < r; i++) os.dim[i] = ax[i].out;
  if (!gc_shape_numel(os)) return ox_out_empty(c, 0, os, OX_FLOAT); /* resized to length 0 */
  rz_taps taps[GC_MAX_DIMS] = {{0}};
  bool ident[GC_MAX_DIMS], repeat = s.mode == RZ_NEAREST, all_ident = true;
  int64_t f[GC_MAX_DIMS];
  int extra = 0;
  for (int i = 0; i < r && !st; i++) {
    if (!axis_taps(&s, &ax[i], &taps[i])) st = gc_fail(GC_ERR_NOMEM, "%s: out of memory", c->file);
    if (st) break;
    ident[i] = is_identity(&ax[i], &taps[i]);
    all_ident = all_ident && ident[i];
    f[i] = 1;
    if (!ident[i] && repeat && (repeat = is_repeat(&ax[i], &taps[i]))) {
      f[i] = ax[i].out / ax[i].in;
      extra++;
    }
  }
  gc_value x = ox_in(c, 0), y = x;
  if (st) {
    /* the tables could not be made */
  } else if (all_ident) {
    y = x;
  } else if (repeat && r + extra <= GC_MAX_DIMS) {
    y = upsample_nearest(c, x, f);
  } else if (bilinear_fits(&s, ax, ident, r)) {
    int64_t lead = 1;
    for (int i = 0; i < r - 2; i++) lead *= xs.dim[i];
    gc_value x4 = gc_reshape(g, x, gc_shape4(lead, 1, xs.dim[r - 2], xs.dim[r - 1]));
    y = gc_resize_bilinear2d(g, x4, ax[r - 2].out, ax[r - 1].out, s.ctm == CT_ALIGN_CORNERS);
    y = gc_reshape(g, y, os);
  } else {
    /* shrinking axes first keeps the intermediate results small */
    int order[GC_MAX_DIMS], n = 0;
    for (int i = 0; i < r; i++)
      if (!ident[i]) order[n++] = i;
    for (int i = 1; i < n; i++)
      for (int j = i;
           j > 0 && ax[order[j]].out * ax[order[j - 1]].in < ax[order[j - 1]].out * ax[order[j]].in;
           j--) {
        int t = order[j];
        order[j] = order[j - 1], order[j - 1] = t;
      }
    for (int k = 0; k < n; k++)
      y = resize_axis(c, y, order[k], &ax[order[k]], &taps[order[k]], s.extrapolation);
  }
  for (int i = 0; i < r; i++) taps_free(&taps[i]);
  if (st) return st;
  return ox_out(c, 0, y, OX_FLOAT);
}
