/* nn_geom.h — the geometry of the neural-network ops (conv, pooling,
 * resize), shared by their shape rules, reference kernels and OpenCL
 * emitters so that all three agree on output sizes, window bounds and the
 * counter-based random numbers. Header-only: small static inline helpers. */
#ifndef GC_IR_NN_GEOM_H
#define GC_IR_NN_GEOM_H

#include <stdint.h>

#include "ir/ir.h"

/* Output length of a window sweep, as PyTorch computes it: floor (or ceil
 * with ceil_mode) of (in + p0 + p1 - d (k - 1) - 1) / s + 1; with ceil_mode
 * the last window must start inside the input or the leading padding. */
static inline int64_t nn_out_len(int64_t in, int64_t k, int s, int d, int p0, int p1,
                                 int ceil_mode) {
  int64_t span = in + p0 + p1 - (int64_t)d * (k - 1) - 1;
  if (span < 0) return 0;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p0) out--;
  return out;
}

/* Whether each of the out windows along one axis (start o s - p0, taps d
 * apart) has a tap inside [0, in): pooling needs one element per window.
 * PyTorch's sufficient rule (pads at most half the kernel) is stricter
 * than this; ONNX allows any padding. */
static inline int nn_windows_nonempty(int64_t in, int64_t k, int s, int d, int p0, int64_t out) {
  for (int64_t o = 0; o < out; o++) {
    int64_t start = o * s - p0;
    int64_t j = start >= 0 ? 0 : (-start + d - 1) / d; /* first tap at or after 0 */
    if (j >= k || start + j * d >= in) return 0;
  }
  return 1;
}

/* Every size of a conv (or pooling, with o = c and g = 1) over 2 or 3
 * spatial axes. A 4-D [N, C, H, W] tensor is the 3-D case with D = 1 (and
 * a depth kernel, stride and dilation of 1, no depth padding), so one set
 * of loops and index formulas serves both: the flat index of
 * x[n, c, d, h, w] is ((n C + c) D + d) H W + h W + w either way. */
typedef struct nn_conv {
  int rank;              /* of the tensors: 4 (NCHW) or 5 (NCDHW) */
  int64_t n, c, d, h, w; /* input */
  int64_t o, od, oh, ow; /* output channels and size */
  int64_t kd, kh, kw;    /* kernel */
  int64_t g, cg, og;     /* groups, input and output channels per group */
  ir_window win;
} nn_conv;

/* Zero strides, dilations, groups and depth kernels mean 1. */
static inline void nn_window_normalize(ir_window *w) {
  if (w->sh <= 0) w->sh = 1;
  if (w->sw <= 0) w->sw = 1;
  if (w->dh <= 0) w->dh = 1;
  if (w->dw <= 0) w->dw = 1;
  if (w->sd <= 0) w->sd = 1;
  if (w->dd <= 0) w->dd = 1;
  if (w->kd <= 0) w->kd = 1;
  if (w->groups <= 0) w->groups = 1;
}

/* The input sizes of x [n, c, (d,) h, w] (d = 1 for 4-D). */
static inline void nn_input_of(nn_conv *c, gc_shape x) {
  c->rank = x.ndim == 5 ? 5 : 4;
  const int off = c->rank - 4; /* 1 when a depth axis is present */
  c->n = x.dim[0], c->c = x.dim[1];
  c->d = off ? x.dim[2] : 1;
  c->h = x.dim[2 + off], c->w = x.dim[3 + off];
}

/* conv of x [n,c,(d,)h,w] with w [o,c/g,(kd,)kh,kw] (of x's rank). */
static inline nn_conv nn_conv_of(gc_shape x, gc_shape wt, ir_window win) {
  nn_conv c;
  nn_window_normalize(&win);
  c.win = win;
  nn_input_of(&c, x);
  const int off = c.rank - 4;
  c.o = wt.dim[0];
  c.kd = off ? wt.dim[2] : 1;
  c.kh = wt.dim[2 + off], c.kw = wt.dim[3 + off];
  c.g = win.groups, c.cg = c.c / c.g, c.og = c.o / c.g;
  c.od = nn_out_len(c.d, c.kd, win.sd, win.dd, win.pd0, win.pd1, 0);
  c.oh = nn_out_len(c.h, c.kh, win.sh, win.dh, win.pt, win.pb, 0);
  c.ow = nn_out_len(c.w, c.kw, win.sw, win.dw, win.pl, win.pr, 0);
  return c;
}

/* pooling of x [n,c,(d,)h,w] with kernel win.kd x win.kh x win.kw. */
static inline nn_conv nn_pool_of(gc_shape x, ir_window win) {
  nn_conv c;
  nn_window_normalize(&win);
  c.win = win;
  nn_input_of(&c, x);
  c.o = c.c, c.g = 1, c.cg = c.c, c.og = c.c;
  c.kd = win.kd, c.kh = win.kh, c.kw = win.kw;
  c.od = nn_out_len(c.d, c.kd, win.sd, win.dd, win.pd0, win.pd1, win.ceil_mode);
  c.oh = nn_out_len(c.h, c.kh, win.sh, win.dh, win.pt, win.pb, win.ceil_mode);
  c.ow = nn_out_len(c.w, c.kw, win.sw, win.dw, win.pl, win.pr, win.ceil_mode);
  return c;
}

/* Do pooling c's windows tile its input without overlap (stride = kernel,
 * no padding or dilation)? Each input element is then in one window at
 * most, the partial windows of ceil mode included. */
static inline bool nn_pool_tiles(const nn_conv *c) {
  const ir_window *v = &c->win;
  return v->sh == c->kh && v->sw == c->kw && v->sd == c->kd && v->dh == 1 && v->dw == 1 &&
         v->dd == 1 && !v->pt && !v->pl && !v->pb && !v->pr && !v->pd0 && !v->pd1;
}

/* The output shape [n, channels, (od,) oh, ow], of the input's rank. */
static inline gc_shape nn_out_shape(const nn_conv *c, int64_t channels) {
  if (c->rank == 5) {
    const int64_t d[5] = {c->n, channels, c->od, c->oh, c->ow};
    return gc_shapen(5, d);
  }
  return gc_shape4(c->n, channels, c->oh, c->ow);
}

/* Average pooling's window [*h0, *h1) along one axis (clamped to the
 * input) and the length PyTorch divides by when padding counts: the window
 * clipped to the padded extent. */
static inline void nn_avg_span(int64_t o, int s, int64_t k, int p0, int p1, int64_t in, int64_t *lo,
                               int64_t *hi, int64_t *padded_len) {
  int64_t a = o * s - p0, b = a + k;
  if (b > in + p1) b = in + p1;
  *padded_len = b - a;
  *lo = a < 0 ? 0 : a;
  *hi = b > in ? in : b;
}

/* The source coordinate of output position o of a bilinear resize from
 * in to out samples (PyTorch's area-pixel convention unless
 * align_corners), and the two taps with the weight of the second. The
 * same float arithmetic is emitted in OpenCL. */
static inline float nn_resize_src(int64_t o, int64_t in, int64_t out, int align_corners) {
  if (align_corners) return out > 1 ? (float)o * ((float)(in - 1) / (float)(out - 1)) : 0.0f;
  float s = ((float)o + 0.5f) * ((float)in / (float)out) - 0.5f;
  return s < 0.0f ? 0.0f : s;
}

/* Counter-based random numbers: a 32-bit hash of (seed, counter, index),
 * integer-only so the reference and every OpenCL device produce the same
 * bits. lowbias32 (Chris Wellons' hash prospector) chained over the three
 * words. */
static inline uint32_t nn_mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

static inline uint32_t nn_hash(uint32_t seed_lo, uint32_t seed_hi, uint32_t counter,
                               uint32_t index) {
  uint32_t k = nn_mix32(seed_lo ^ nn_mix32(seed_hi + 0x9e3779b9U));
  k = nn_mix32(k ^ (counter * 0x85ebca6bU + 0x632be59bU));
  return nn_mix32(k ^ index);
}

/* 24 random bits as a float in [0, 1): exact in float. */
static inline float nn_unit(uint32_t h) { return (float)(h >> 8) * (1.0f / 16777216.0f); }

#endif
