/* onnx_pending.c — ONNX mappings whose builders land with the op branches
 * (conv/pooling/normalization and slice/pad/concat/gather/where/...).
 * Until then each reports SKIP-able GC_ERR_UNSUPPORTED naming the op; the
 * real mapping, written against the builder we expect, waits in the #if 0
 * block below: after merging, delete the stub, enable the block and fix any
 * builder signature that came out differently. */
#include <string.h>

#include "frontend/onnx_nn.h"

static gc_status pending(ox_ctx *c, const char *builder) {
  return ox_unsupported(c, c->node->op_type, "%s on runtime data needs %s, which this build lacks",
                        c->node->op_type, builder);
}

OX_MAP(conv) { return pending(c, "gc_conv2d"); }
OX_MAP(conv_transpose) { return pending(c, "gc_conv_transpose2d"); }
OX_MAP(max_pool) { return pending(c, "gc_max_pool2d"); }
OX_MAP(avg_pool) { return pending(c, "gc_avg_pool2d"); }
OX_MAP(pad) { return pending(c, "gc_pad"); }
OX_MAP(where) { return pending(c, "gc_where"); }
OX_MAP(erf) { return pending(c, "gc_erf"); }
OX_MAP(resize) { return pending(c, "gc_upsample_nearest"); }
OX_MAP(gather) { return pending(c, "gc_gather"); }
OX_MAP(concat) { return pending(c, "gc_concat"); }
OX_MAP(slice) { return pending(c, "gc_slice"); }
OX_MAP(split) { return pending(c, "gc_slice"); }

#if 0 /* TODO(merge): needs gc_conv2d, gc_conv_transpose2d, gc_max_pool2d, \
       * gc_avg_pool2d, gc_pad, gc_where, gc_erf, gc_upsample_nearest,     \
       * gc_gather, gc_concat, gc_slice from the op branches. */

static gc_status out0(ox_ctx *c, gc_value v) { return ox_out(c, 0, v, ox_in_type(c, 0)); }

/* kernel_shape/strides/pads/dilations of a 2-D conv or pool; auto_pad
 * SAME_UPPER/SAME_LOWER resolved against the input's spatial dims. */
static gc_status window_params(ox_ctx *c, gc_shape xs, const int64_t *kernel, int64_t *stride,
                               int64_t *pad, int64_t *dil) {
  int64_t v[8];
  for (int i = 0; i < 2; i++) stride[i] = dil[i] = 1, pad[i] = pad[i + 2] = 0;
  if (ox_attr_ints(c, "strides", v, 2) == 2) stride[0] = v[0], stride[1] = v[1];
  if (ox_attr_ints(c, "dilations", v, 2) == 2) dil[0] = v[0], dil[1] = v[1];
  if (ox_attr_ints(c, "pads", v, 4) == 4) memcpy(pad, v, sizeof v[0] * 4);
  char buf[32];
  const char *ap = ox_attr_str(c, "auto_pad", "NOTSET", buf, sizeof buf);
  if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
    for (int i = 0; i < 2; i++) {
      int64_t in = xs.dim[2 + i], out = (in + stride[i] - 1) / stride[i];
      int64_t total = (out - 1) * stride[i] + (kernel[i] - 1) * dil[i] + 1 - in;
      if (total < 0) total = 0;
      int64_t lo = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2;
      pad[i] = lo;
      pad[i + 2] = total - lo;
    }
  } else if (!strcmp(ap, "VALID")) {
    for (int i = 0; i < 4; i++) pad[i] = 0;
  }
  return GC_OK;
}

OX_MAP(conv) {
  gc_value x = ox_in(c, 0), w = ox_in(c, 1);
  gc_shape ws = gc_value_shape(c->g, w);
  if (ws.ndim != 4) return ox_unsupported(c, "Conv (not 2-D)", "only 2-D convolutions");
  gc_conv_params p = {0};
  int64_t k[2] = {ws.dim[2], ws.dim[3]};
  window_params(c, gc_value_shape(c->g, x), k, p.stride, p.pad, p.dilation);
  p.groups = ox_attr_int(c, "group", 1);
  gc_value y = gc_conv2d(c->g, x, w, &p);
  if (ox_has(c, 2)) y = gc_add(c->g, y, gc_reshape(c->g, ox_in(c, 2), gc_shape3(ws.dim[0], 1, 1)));
  return out0(c, y);
}

OX_MAP(conv_transpose) {
  gc_value x = ox_in(c, 0), w = ox_in(c, 1);
  gc_shape ws = gc_value_shape(c->g, w);
  if (ws.ndim != 4) return ox_unsupported(c, "ConvTranspose (not 2-D)", "only 2-D");
  gc_conv_params p = {0};
  int64_t k[2] = {ws.dim[2], ws.dim[3]}, v[2];
  window_params(c, gc_value_shape(c->g, x), k, p.stride, p.pad, p.dilation);
  p.groups = ox_attr_int(c, "group", 1);
  if (ox_attr_ints(c, "output_padding", v, 2) == 2) p.output_padding[0] = v[0], p.output_padding[1] = v[1];
  gc_value y = gc_conv_transpose2d(c->g, x, w, &p);
  int64_t cout = ws.dim[1] * p.groups;
  if (ox_has(c, 2)) y = gc_add(c->g, y, gc_reshape(c->g, ox_in(c, 2), gc_shape3(cout, 1, 1)));
  return out0(c, y);
}

static gc_status pool(ox_ctx *c, bool max) {
  gc_value x = ox_in(c, 0);
  gc_pool_params p = {0};
  int64_t k[4];
  if (ox_attr_ints(c, "kernel_shape", k, 2) != 2) return ox_unsupported(c, "Pool (not 2-D)", "only 2-D pooling");
  p.kernel[0] = k[0], p.kernel[1] = k[1];
  window_params(c, gc_value_shape(c->g, x), k, p.stride, p.pad, p.dilation);
  p.ceil_mode = ox_attr_int(c, "ceil_mode", 0);
  p.count_include_pad = ox_attr_int(c, "count_include_pad", 0);
  if (max && ox_out_wanted(c, 1)) return ox_unsupported(c, "MaxPool (indices)", "MaxPool indices");
  return out0(c, max ? gc_max_pool2d(c->g, x, &p) : gc_avg_pool2d(c->g, x, &p));
}
OX_MAP(max_pool) { return pool(c, true); }
OX_MAP(avg_pool) { return pool(c, false); }

/* Pad: pads attribute before opset 11, input after; constant mode only. */
OX_MAP(pad) {
  char buf[32];
  const char *mode = ox_attr_str(c, "mode", "constant", buf, sizeof buf);
  if (strcmp(mode, "constant")) return ox_unsupported(c, "Pad (reflect/edge)", "mode %s", mode);
  int64_t p[2 * GC_MAX_DIMS + 1];
  int np;
  float value = 0;
  if (c->opset < 11) {
    np = ox_attr_ints(c, "pads", p, 2 * GC_MAX_DIMS);
    value = ox_attr_float(c, "value", 0);
  } else {
    gc_status st = ox_ints_in(c, 1, p, 2 * GC_MAX_DIMS, &np);
    if (st) return st;
    const gc_tensor *v = ox_known(c, 2);
    if (ox_has(c, 2) && !v) return ox_unsupported(c, "Pad", "constant_value must be known");
    if (v) value = ((const float *)v->data)[0];
  }
  int r = ox_in_shape(c, 0).ndim;
  if (np != 2 * r) return ox_err(c, GC_ERR_SHAPE, "pads has %d entries for rank %d", np, r);
  return out0(c, gc_pad(c->g, ox_in(c, 0), p, p + r, value));
}

OX_MAP(where) { return ox_out(c, 0, gc_where(c->g, ox_in(c, 0), ox_in(c, 1), ox_in(c, 2)), ox_in_type(c, 1)); }
OX_MAP(erf) { return out0(c, gc_erf(c->g, ox_in(c, 0))); }

/* Upsample (scales attribute / input) and Resize (scales or sizes input),
 * nearest mode with integer scales on the two spatial dims. */
OX_MAP(resize) {
  char buf[32];
  const char *mode = ox_attr_str(c, "mode", "nearest", buf, sizeof buf);
  if (strcmp(mode, "nearest")) return ox_unsupported(c, "Resize (linear)", "mode %s", mode);
  gc_shape xs = ox_in_shape(c, 0);
  float sc[GC_MAX_DIMS];
  int ns = -1;
  const gc_tensor *t = NULL;
  if (!strcmp(c->node->op_type, "Upsample") && c->opset < 9) ns = ox_attr_floats(c, "scales", sc, GC_MAX_DIMS);
  else t = ox_known(c, !strcmp(c->node->op_type, "Upsample") ? 1 : 2);
  if (t) for (ns = 0; ns < gc_shape_numel(t->shape) && ns < GC_MAX_DIMS; ns++) sc[ns] = ((const float *)t->data)[ns];
  if (ns <= 0 && ox_has(c, 3)) {
    const gc_tensor *sz = ox_known(c, 3);
    if (!sz) return ox_unsupported(c, "Resize", "sizes must be known");
    for (ns = 0; ns < xs.ndim; ns++) sc[ns] = (float)((const int64_t *)sz->data)[ns] / (float)xs.dim[ns];
  }
  if (ns != 4 || sc[0] != 1 || sc[1] != 1 || sc[2] != (int)sc[2] || sc[3] != (int)sc[3])
    return ox_unsupported(c, "Resize (non-integer)", "only integer spatial scales");
  return out0(c, gc_upsample_nearest(c->g, ox_in(c, 0), (int)sc[2], (int)sc[3]));
}

OX_MAP(gather) {
  int r = ox_in_shape(c, 0).ndim;
  int64_t a = ox_attr_int(c, "axis", 0);
  if (a < 0) a += r;
  return out0(c, gc_gather(c->g, ox_in(c, 0), ox_in(c, 1), (int)a));
}

OX_MAP(concat) {
  gc_value xs[64];
  int n = 0;
  for (int k = 0; k < ox_nin(c) && n < 64; k++)
    if (ox_has(c, k)) xs[n++] = ox_in(c, k);
  int r = ox_in_shape(c, 0).ndim;
  int64_t a = ox_attr_int(c, "axis", 0);
  if (a < 0) a += r;
  return out0(c, gc_concat(c->g, xs, n, (int)a));
}

/* Slice/Split on runtime data reuse the host parameter resolution of
 * onnx_ops.c (slice_params), to be exported from there when enabled. */
OX_MAP(slice) {
  int64_t start[GC_MAX_DIMS], step[GC_MAX_DIMS];
  gc_shape s;
  gc_status st = ox_slice_params(c, ox_in_shape(c, 0), start, step, &s);
  if (st) return st;
  return out0(c, gc_slice(c->g, ox_in(c, 0), start, step, s));
}

OX_MAP(split) {
  /* as fold_split, one gc_slice per output */
  return ox_split_outputs(c);
}
#endif
