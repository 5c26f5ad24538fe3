/* onnx_pending.c — ONNX mappings whose builders land with the elementwise
 * and movement op branch (pad, where, erf, gather, concat, slice/split).
 * Each mapping is written against the builder we expect and switched off
 * by its OX_HAVE_* flag below; while off, the op reports a SKIP-able
 * GC_ERR_UNSUPPORTED naming the missing builder. After that branch
 * merges: set the flag to 1 and fix any builder signature that came out
 * differently. (Conv, pooling and resize, the other half of this file
 * once, now live in onnx_conv.c.) */
#include <string.h>

#include "frontend/onnx_nn.h"

#define OX_HAVE_GC_PAD 0    /* Pad */
#define OX_HAVE_GC_WHERE 0  /* Where */
#define OX_HAVE_GC_ERF 0    /* Erf */
#define OX_HAVE_GC_GATHER 0 /* Gather */
#define OX_HAVE_GC_CONCAT 0 /* Concat */
#define OX_HAVE_GC_SLICE 0  /* Slice, Split (also needs ox_slice_params, ox_split_outputs) */

/* Silences "unused" for the helpers when every flag is off. */
#define OX_UNUSED __attribute__((unused))

static OX_UNUSED gc_status pending(ox_ctx *c, const char *builder) {
  return ox_unsupported(c, c->node->op_type, "%s on runtime data needs %s, which this build lacks",
                        c->node->op_type, builder);
}

static OX_UNUSED gc_status out0(ox_ctx *c, gc_value v) { return ox_out(c, 0, v, ox_in_type(c, 0)); }

#if OX_HAVE_GC_PAD
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
#else
OX_MAP(pad) { return pending(c, "gc_pad"); }
#endif

#if OX_HAVE_GC_WHERE
OX_MAP(where) {
  return ox_out(c, 0, gc_where(c->g, ox_in(c, 0), ox_in(c, 1), ox_in(c, 2)), ox_in_type(c, 1));
}
#else
OX_MAP(where) { return pending(c, "gc_where"); }
#endif

#if OX_HAVE_GC_ERF
OX_MAP(erf) { return out0(c, gc_erf(c->g, ox_in(c, 0))); }
#else
OX_MAP(erf) { return pending(c, "gc_erf"); }
#endif

#if OX_HAVE_GC_GATHER
OX_MAP(gather) {
  int r = ox_in_shape(c, 0).ndim;
  int64_t a = ox_attr_int(c, "axis", 0);
  if (a < 0) a += r;
  return out0(c, gc_gather(c->g, ox_in(c, 0), ox_in(c, 1), (int)a));
}
#else
OX_MAP(gather) { return pending(c, "gc_gather"); }
#endif

#if OX_HAVE_GC_CONCAT
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
#else
OX_MAP(concat) { return pending(c, "gc_concat"); }
#endif

#if OX_HAVE_GC_SLICE
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
#else
OX_MAP(slice) { return pending(c, "gc_slice"); }
OX_MAP(split) { return pending(c, "gc_slice"); }
#endif
