/* onnx_conv.c — ONNX mappings of the windowed image ops: Conv,
 * ConvTranspose, MaxPool (with its Indices), AveragePool (1-D, 2-D and
 * 3-D; 1-D runs as 2-D with H = 1). Resize/Upsample live in onnx_resize.c.
 *
 * Our kernels follow PyTorch; ONNX differs in corners (pooling windows
 * wholly inside the padding, ceil_mode windows starting past it). Each
 * mapping checks that the case at hand is one where both agree and
 * reports GC_ERR_UNSUPPORTED naming the feature otherwise, so a SKIP never
 * hides a wrong answer. */
#include <string.h>

#include "frontend/onnx_nn.h"
#include "ir/nn_geom.h"

/* Sizes beyond this are malformed for our int window fields. */
#define WIN_MAX (1 << 20)

static gc_status out_typed(ox_ctx *c, gc_value v) { return ox_out(c, 0, v, ox_in_type(c, 0)); }

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* One conv/pool window over 1, 2 or 3 spatial axes, held as 3-D (depth,
 * height, width): fewer axes leave the leading slots at size 1 with unit
 * kernel, stride and dilation and no padding (a 1-D window runs as 2-D
 * with H = 1, a 2-D one as 2-D). */
typedef struct win3 {
  int nsp;                  /* spatial axes in the ONNX tensor: 1, 2 or 3 */
  int64_t in[3];            /* input D, H, W */
  int64_t k[3], s[3], d[3]; /* kernel, stride, dilation (D, H, W) */
  int64_t p[6];             /* begin D, H, W, end D, H, W (ONNX's pads order) */
} win3;

/* Reads an ints attribute of nsp entries (or 2 nsp for pads) into the
 * 3-D slots: the values go to the last nsp of each group of 3. Returns
 * false if it is present with the wrong length. */
static bool attr_sp(ox_ctx *c, const char *name, int nsp, int64_t *dst3, int per) {
  int64_t v[8];
  int n = ox_attr_ints(c, name, v, 8);
  if (n < 0) return true;
  if (n != nsp * per) return false;
  for (int j = 0; j < per; j++)
    for (int i = 0; i < nsp; i++) dst3[j * 3 + (3 - nsp) + i] = v[j * nsp + i];
  return true;
}

/* Strides, dilations, pads and auto_pad of a forward window (Conv and the
 * pools): SAME_UPPER/SAME_LOWER put the odd pad unit at the end/start. */
static gc_status read_window(ox_ctx *c, gc_shape xs, const int64_t *kernel, win3 *w) {
  w->nsp = xs.ndim - 2;
  for (int i = 0; i < 3; i++) {
    w->in[i] = 1, w->k[i] = 1, w->s[i] = 1, w->d[i] = 1;
    w->p[i] = w->p[i + 3] = 0;
  }
  for (int i = 0; i < w->nsp; i++) {
    w->in[3 - w->nsp + i] = xs.dim[2 + i];
    w->k[3 - w->nsp + i] = kernel[i];
  }
  if (!attr_sp(c, "strides", w->nsp, w->s, 1) || !attr_sp(c, "dilations", w->nsp, w->d, 1) ||
      !attr_sp(c, "pads", w->nsp, w->p, 2))
    return ox_err(c, GC_ERR_FORMAT, "strides, dilations or pads has the wrong length");
  char buf[32];
  const char *ap = ox_attr_str(c, "auto_pad", "NOTSET", buf, sizeof buf);
  bool upper = !strcmp(ap, "SAME_UPPER");
  if (upper || !strcmp(ap, "SAME_LOWER")) {
    for (int i = 0; i < 3; i++) {
      if (w->s[i] < 1) break; /* rejected below */
      int64_t out = (w->in[i] + w->s[i] - 1) / w->s[i];
      int64_t total = (out - 1) * w->s[i] + (w->k[i] - 1) * w->d[i] + 1 - w->in[i];
      if (total < 0) total = 0;
      w->p[i] = upper ? total / 2 : total - total / 2;
      w->p[i + 3] = total - w->p[i];
    }
  } else if (!strcmp(ap, "VALID")) {
    for (int i = 0; i < 6; i++) w->p[i] = 0;
  } else if (strcmp(ap, "NOTSET")) {
    return ox_err(c, GC_ERR_FORMAT, "unknown auto_pad %s", ap);
  }
  for (int i = 0; i < 3; i++)
    if (w->k[i] < 1 || w->k[i] > WIN_MAX || w->s[i] < 1 || w->s[i] > WIN_MAX || w->d[i] < 1 ||
        w->d[i] > WIN_MAX)
      return ox_err(c, GC_ERR_FORMAT, "kernel, stride or dilation out of range");
  for (int i = 0; i < 6; i++)
    if (w->p[i] < 0 || w->p[i] > WIN_MAX) return ox_err(c, GC_ERR_FORMAT, "pads out of range");
  return GC_OK;
}

/* [N, C, L] -> [N, C, 1, L]; 2-D and 3-D images pass through. */
static gc_value to_4d(ox_ctx *c, gc_value x) {
  gc_shape s = gc_value_shape(c->g, x);
  if (s.ndim != 3) return x;
  return gc_reshape(c->g, x, gc_shape4(s.dim[0], s.dim[1], 1, s.dim[2]));
}

/* Back to the ONNX rank: [N, C, 1, L] -> [N, C, L] for 1-D. */
static gc_value from_4d(ox_ctx *c, gc_value y, int nsp) {
  gc_shape s = gc_value_shape(c->g, y);
  if (nsp != 1 || !gc_value_ok(y)) return y;
  return gc_reshape(c->g, y, gc_shape3(s.dim[0], s.dim[1], s.dim[3]));
}

/* y + bias [C] as [C, 1, ...] over y's spatial axes. */
static gc_value add_bias(ox_ctx *c, gc_value y, int k) {
  if (!ox_has(c, k)) return y;
  gc_shape ys = gc_value_shape(c->g, y);
  int64_t bd[GC_MAX_DIMS] = {ys.dim[1]};
  for (int i = 1; i < ys.ndim - 1; i++) bd[i] = 1;
  return gc_add(c->g, y, gc_reshape(c->g, ox_in(c, k), gc_shapen(ys.ndim - 1, bd)));
}

/* Rank checks shared by the windowed ops: 1-D, 2-D or 3-D images. */
static gc_status need_image(ox_ctx *c, gc_shape xs, const char *op) {
  char what[64];
  if (xs.ndim < 3) return ox_err(c, GC_ERR_SHAPE, "%s input must be [N, C, spatial...]", op);
  if (xs.ndim > 5) {
    snprintf(what, sizeof what, "%s (%d-D)", op, xs.ndim - 2);
    return ox_unsupported(c, what, "%s over %d spatial axes (only 1-D, 2-D and 3-D)", op,
                          xs.ndim - 2);
  }
  return GC_OK;
}

static gc_status need_float(ox_ctx *c, int k, const char *op) {
  if (ox_in_type(c, k) == OX_FLOAT) return GC_OK;
  char what[64];
  snprintf(what, sizeof what, "%s (%s)", op, ox_type_name(ox_in_type(c, k)));
  return ox_unsupported(c, what, "%s on %s data", op, ox_type_name(ox_in_type(c, k)));
}

/* ------------------------------------------------------------------ conv */

/* The window's H and W slots as 2-D options (1-D and 2-D images). */
static gc_conv2d_opts conv2_opts(const win3 *w, int64_t groups, const int64_t *outpad) {
  gc_conv2d_opts o = {{0}};
  for (int i = 0; i < 2; i++) {
    o.stride[i] = (int)w->s[1 + i], o.dilation[i] = (int)w->d[1 + i];
    o.padding[i] = (int)w->p[1 + i], o.padding[2 + i] = (int)w->p[4 + i];
    o.output_padding[i] = (int)outpad[1 + i];
  }
  o.groups = (int)groups;
  return o;
}

static gc_conv3d_opts conv3_opts(const win3 *w, int64_t groups, const int64_t *outpad) {
  gc_conv3d_opts o = {{0}};
  for (int i = 0; i < 3; i++) {
    o.stride[i] = (int)w->s[i], o.dilation[i] = (int)w->d[i];
    o.output_padding[i] = (int)outpad[i];
  }
  for (int i = 0; i < 6; i++) o.padding[i] = (int)w->p[i];
  o.groups = (int)groups;
  return o;
}

static gc_status kernel_of(ox_ctx *c, gc_shape xs, gc_shape ws, int64_t *k) {
  if (ws.ndim != xs.ndim) return ox_err(c, GC_ERR_SHAPE, "weight rank differs from the input's");
  int nsp = xs.ndim - 2;
  for (int i = 0; i < nsp; i++) k[i] = ws.dim[2 + i];
  int64_t ka[8];
  int n = ox_attr_ints(c, "kernel_shape", ka, 8);
  if (n >= 0 && (n != nsp || memcmp(ka, k, sizeof ka[0] * (size_t)nsp)))
    return ox_err(c, GC_ERR_SHAPE, "kernel_shape does not match the weight");
  return GC_OK;
}

static gc_status group_of(ox_ctx *c, int64_t *groups) {
  *groups = ox_attr_int(c, "group", 1);
  if (*groups < 1 || *groups > WIN_MAX) return ox_err(c, GC_ERR_FORMAT, "bad group");
  return GC_OK;
}

OX_MAP(conv) {
  gc_shape xs = ox_in_shape(c, 0), ws = ox_in_shape(c, 1);
  gc_status st;
  int64_t k[3], groups;
  const int64_t no_outpad[3] = {0, 0, 0};
  win3 w;
  if ((st = need_image(c, xs, "Conv")) || (st = need_float(c, 0, "Conv")) ||
      (st = kernel_of(c, xs, ws, k)) || (st = group_of(c, &groups)) ||
      (st = read_window(c, xs, k, &w)))
    return st;
  gc_value y;
  if (w.nsp == 3) {
    gc_conv3d_opts o = conv3_opts(&w, groups, no_outpad);
    y = gc_conv3d(c->g, ox_in(c, 0), ox_in(c, 1), &o);
  } else {
    gc_conv2d_opts o = conv2_opts(&w, groups, no_outpad);
    y = gc_conv2d(c->g, to_4d(c, ox_in(c, 0)), to_4d(c, ox_in(c, 1)), &o);
  }
  return out_typed(c, from_4d(c, add_bias(c, y, 2), w.nsp));
}

/* ConvTranspose: pads come from pads/auto_pad/output_shape as the ONNX
 * spec computes them (total = s (in - 1) + output_padding + (k - 1) d + 1
 * - out, split at the start for SAME_UPPER, at the end otherwise). A
 * negative end pad lengthens the output, which is output_padding to us. */
OX_MAP(conv_transpose) {
  gc_shape xs = ox_in_shape(c, 0), ws = ox_in_shape(c, 1);
  gc_status st;
  int64_t k[3], groups;
  win3 w;
  if ((st = need_image(c, xs, "ConvTranspose")) || (st = need_float(c, 0, "ConvTranspose")) ||
      (st = kernel_of(c, xs, ws, k)) || (st = group_of(c, &groups)))
    return st;
  /* read_window's SAME rule is the forward one; redo it for the adjoint */
  char buf[32];
  const char *ap = ox_attr_str(c, "auto_pad", "NOTSET", buf, sizeof buf);
  bool same = !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER");
  bool upper = !strcmp(ap, "SAME_UPPER");
  if ((st = read_window(c, xs, k, &w))) return st;
  int64_t op[3] = {0, 0, 0}, oshape[3] = {1, 1, 1}; /* unused leading axes: length 1 */
  if (!attr_sp(c, "output_padding", w.nsp, op, 1))
    return ox_err(c, GC_ERR_FORMAT, "output_padding has the wrong length");
  int64_t osv[8];
  int nos = ox_attr_ints(c, "output_shape", osv, 8);
  if (nos >= 0) {
    if (nos != w.nsp && nos != w.nsp + 2)
      return ox_err(c, GC_ERR_FORMAT, "output_shape has the wrong length");
    for (int i = 0; i < w.nsp; i++) oshape[3 - w.nsp + i] = osv[nos - w.nsp + i];
  }
  if (nos >= 0 || same) {
    for (int i = 0; i < 3; i++) {
      int64_t out = nos >= 0 ? oshape[i] : w.in[i] * w.s[i];
      int64_t total = w.s[i] * (w.in[i] - 1) + op[i] + (w.k[i] - 1) * w.d[i] + 1 - out;
      int64_t lo = upper ? floor_div(total, 2) : total - floor_div(total, 2);
      int64_t hi = total - lo;
      if (hi < 0) op[i] -= hi, hi = 0;
      if (lo < 0)
        return ox_unsupported(c, "ConvTranspose (output_shape)",
                              "output_shape needs a negative pad");
      w.p[i] = lo, w.p[i + 3] = hi;
    }
  } else if (!strcmp(ap, "VALID")) {
    for (int i = 0; i < 6; i++) w.p[i] = 0;
  }
  for (int i = 0; i < 3; i++)
    if (op[i] < 0 || (op[i] >= w.s[i] && op[i] >= w.d[i]))
      return ox_unsupported(c, "ConvTranspose (output_padding)",
                            "output padding %lld not below the stride %lld", (long long)op[i],
                            (long long)w.s[i]);
  gc_value y;
  if (w.nsp == 3) {
    gc_conv3d_opts o = conv3_opts(&w, groups, op);
    y = gc_conv_transpose3d(c->g, ox_in(c, 0), ox_in(c, 1), &o);
  } else {
    gc_conv2d_opts o = conv2_opts(&w, groups, op);
    y = gc_conv_transpose2d(c->g, to_4d(c, ox_in(c, 0)), to_4d(c, ox_in(c, 1)), &o);
  }
  return out_typed(c, from_4d(c, add_bias(c, y, 2), w.nsp));
}

/* --------------------------------------------------------------- pooling */

/* ONNX's output length: floor or ceil of (in + pads - (k - 1) d - 1) / s
 * + 1, with no rule against a last window starting in the end padding. */
static int64_t onnx_out_len(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1,
                            bool ceil_mode) {
  int64_t span = in + p0 + p1 - (k - 1) * d - 1;
  if (span < 0) return 0;
  return (ceil_mode ? (span + s - 1) / s : span / s) + 1;
}

/* The pooling options of a window: the H and W slots for 1-D and 2-D
 * images (o2), all three for 3-D ones (o3). */
static void pool_opts(const win3 *w, bool ceil_mode, bool cip, gc_pool2d_opts *o2,
                      gc_pool3d_opts *o3) {
  *o2 = (gc_pool2d_opts){{0}};
  *o3 = (gc_pool3d_opts){{0}};
  for (int i = 0; i < 3; i++) {
    o3->kernel[i] = (int)w->k[i], o3->stride[i] = (int)w->s[i], o3->dilation[i] = (int)w->d[i];
    o3->padding[i] = (int)w->p[i], o3->padding[3 + i] = (int)w->p[3 + i];
  }
  for (int i = 0; i < 2; i++) {
    o2->kernel[i] = o3->kernel[1 + i], o2->stride[i] = o3->stride[1 + i];
    o2->dilation[i] = o3->dilation[1 + i];
    o2->padding[i] = o3->padding[1 + i], o2->padding[2 + i] = o3->padding[4 + i];
  }
  o2->ceil_mode = o3->ceil_mode = ceil_mode;
  o2->count_include_pad = o3->count_include_pad = cip;
}

static gc_status pool(ox_ctx *c, bool max) {
  const char *op = max ? "MaxPool" : "AveragePool";
  gc_shape xs = ox_in_shape(c, 0);
  gc_status st = need_image(c, xs, op);
  if (st) return st;
  int nsp = xs.ndim - 2;
  int64_t k[8];
  if (ox_attr_ints(c, "kernel_shape", k, 8) != nsp)
    return ox_err(c, GC_ERR_FORMAT, "kernel_shape must have %d entries", nsp);
  /* MaxPool's optional Indices: flat indices into X, row-major
   * (storage_order 0) or column-major (1) */
  const bool indices = max && ox_out_wanted(c, 1);
  const int64_t order = max ? ox_attr_int(c, "storage_order", 0) : 0;
  if (order != 0 && order != 1)
    return ox_err(c, GC_ERR_FORMAT, "storage_order %lld is neither 0 nor 1", (long long)order);
  int t = ox_in_type(c, 0);
  /* small integers survive a round trip through f32 exactly */
  bool via_f32 = max && (t == OX_UINT8 || t == OX_INT8 || t == OX_UINT16 || t == OX_INT16);
  if (!via_f32 && (st = need_float(c, 0, op))) return st;
  win3 w;
  if ((st = read_window(c, xs, k, &w))) return st;
  bool ceil_mode = ox_attr_int(c, "ceil_mode", 0) != 0;
  bool cip = !max && ox_attr_int(c, "count_include_pad", 0) != 0;
  if (!max && (w.d[0] != 1 || w.d[1] != 1 || w.d[2] != 1))
    return ox_unsupported(c, "AveragePool (dilations)", "dilated average pooling");
  for (int i = 0; i < 3; i++) {
    int64_t ours = nn_out_len(w.in[i], w.k[i], (int)w.s[i], (int)w.d[i], (int)w.p[i],
                              (int)w.p[i + 3], ceil_mode);
    /* a window of padding alone: -inf or 0/0 in ONNX, refused by our op */
    if (!nn_windows_nonempty(w.in[i], w.k[i], (int)w.s[i], (int)w.d[i], (int)w.p[i], ours))
      return ox_unsupported(c, "pooling (window of padding only)",
                            "a pooling window that holds no input element");
    int64_t theirs = onnx_out_len(w.in[i], w.k[i], w.s[i], w.d[i], w.p[i], w.p[i + 3], ceil_mode);
    if (ours != theirs)
      return ox_unsupported(c, "pooling (ceil_mode window in the padding)",
                            "a ceil_mode window that starts in the end padding");
    /* PyTorch divides a ceil_mode window that overhangs the padding by
     * its clipped length; ONNX's reference does not agree on it */
    if (cip && ceil_mode && (ours - 1) * w.s[i] + w.k[i] > w.in[i] + w.p[i] + w.p[i + 3])
      return ox_unsupported(c, "AveragePool (ceil_mode with count_include_pad)",
                            "a ceil_mode window past the padding with count_include_pad");
  }
  gc_pool2d_opts o2;
  gc_pool3d_opts o3;
  pool_opts(&w, ceil_mode, cip, &o2, &o3);
  gc_value x = ox_in(c, 0);
  gc_dtype dt = gc_value_dtype(c->g, x);
  if (via_f32) x = gc_cast(c->g, x, GC_F32);
  x = to_4d(c, x);
  gc_value y;
  if (nsp == 3)
    y = max ? gc_maxpool3d(c->g, x, &o3) : gc_avgpool3d(c->g, x, &o3);
  else
    y = max ? gc_maxpool2d(c->g, x, &o2) : gc_avgpool2d(c->g, x, &o2);
  y = from_4d(c, y, nsp);
  if (via_f32) y = gc_cast(c->g, y, dt);
  if ((st = out_typed(c, y)) || !indices) return st;
  /* [N, C, 1, L] indexes as [N, C, L] in either order: plane offset + l */
  gc_value ix = nsp == 3 ? gc_maxpool3d_indices(c->g, x, &o3, (int)order)
                         : gc_maxpool2d_indices(c->g, x, &o2, (int)order);
  return ox_out(c, 1, from_4d(c, ix, nsp), OX_INT64);
}

OX_MAP(max_pool) { return pool(c, true); }
OX_MAP(avg_pool) { return pool(c, false); }
