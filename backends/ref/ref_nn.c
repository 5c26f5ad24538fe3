/* ref_nn.c — reference kernels of the neural-network ops (conv2d and its
 * two gradients, max/avg pooling, their gradients and the max-pooling
 * indices, all over 2 or 3 spatial axes; bilinear resize and
 * its adjoint, counter-based random numbers). Plain loops in gather form
 * (each output element sums what reaches it), accumulating in double; the
 * OpenCL kernels of backends/opencl/cl_nn_ops.c must match them. */
#include <math.h>
#include <stdint.h>

#include "backends/ref/ref.h"
#include "ir/nn_geom.h"
#include "ir/op_rules.h"

#define IN(k) (&g->nodes[n->in[k]])

/* Element (id, ih, iw) of plane p (= n C + c) of x, 0 in the padding.
 * A 4-D tensor is D = 1 (nn_geom.h), so every loop below serves 2-D and
 * 3-D alike. */
static double at(const float *x, const nn_conv *c, int64_t p, int64_t id, int64_t ih, int64_t iw) {
  if (id < 0 || id >= c->d || ih < 0 || ih >= c->h || iw < 0 || iw >= c->w) return 0.0;
  return x[((p * c->d + id) * c->h + ih) * c->w + iw];
}

/* Flat index of weight element (o, ci, a, i, j). */
static int64_t widx(const nn_conv *c, int64_t o, int64_t ci, int64_t a, int64_t i, int64_t j) {
  return (((o * c->cg + ci) * c->kd + a) * c->kh + i) * c->kw + j;
}

/* Flat index of output element (n, o, od, oh, ow). */
static int64_t yidx(const nn_conv *c, int64_t b, int64_t o, int64_t od, int64_t oh, int64_t ow) {
  return (((b * c->o + o) * c->od + od) * c->oh + oh) * c->ow + ow;
}

/* y[n,o,od,oh,ow] = sum_{c in group, a, i, j}
 *   x[n, c, od sd + a dd - pd0, oh sh + i dh - pt, ow sw + j dw - pl] w[o, c, a, i, j] */
void ref_conv2d(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  nn_conv c = nn_conv_of(IN(0)->shape, IN(1)->shape, n->attr.win);
  const float *x = in[0], *w = in[1];
  float *y = out;
  const ir_window *v = &c.win;
  for (int64_t b = 0; b < c.n; b++)
    for (int64_t o = 0; o < c.o; o++) {
      int64_t c0 = (o / c.og) * c.cg;
      for (int64_t od = 0; od < c.od; od++)
        for (int64_t oh = 0; oh < c.oh; oh++)
          for (int64_t ow = 0; ow < c.ow; ow++) {
            double acc = 0;
            for (int64_t ci = 0; ci < c.cg; ci++)
              for (int64_t a = 0; a < c.kd; a++)
                for (int64_t i = 0; i < c.kh; i++)
                  for (int64_t j = 0; j < c.kw; j++)
                    acc += at(x, &c, b * c.c + c0 + ci, od * v->sd + a * v->dd - v->pd0,
                              oh * v->sh + i * v->dh - v->pt, ow * v->sw + j * v->dw - v->pl) *
                           w[widx(&c, o, ci, a, i, j)];
            y[yidx(&c, b, o, od, oh, ow)] = (float)acc;
          }
    }
}

/* The output position along one axis whose window tap k lands on input
 * position i, or -1: o s + k d - p = i. */
static int64_t tap_src(int64_t i, int64_t k, int s, int d, int p, int64_t out_len) {
  int64_t num = i + p - k * d;
  if (num < 0 || num % s) return -1;
  return num / s < out_len ? num / s : -1;
}

/* dx[n,c,id,ih,iw] = sum over (o in c's group, a, i, j) with
 * od sd + a dd - pd0 = id (and the same along h and w) of
 * dy[n,o,od,oh,ow] w[o, c - c0, a, i, j]. */
void ref_conv2d_grad_input(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  nn_conv c = nn_conv_of(n->shape, IN(1)->shape, n->attr.win);
  const float *dy = in[0], *w = in[1];
  float *dx = out;
  const ir_window *v = &c.win;
  for (int64_t b = 0; b < c.n; b++)
    for (int64_t ch = 0; ch < c.c; ch++) {
      int64_t grp = ch / c.cg, ci = ch % c.cg;
      for (int64_t id = 0; id < c.d; id++)
        for (int64_t ih = 0; ih < c.h; ih++)
          for (int64_t iw = 0; iw < c.w; iw++) {
            double acc = 0;
            for (int64_t a = 0; a < c.kd; a++) {
              int64_t od = tap_src(id, a, v->sd, v->dd, v->pd0, c.od);
              if (od < 0) continue;
              for (int64_t i = 0; i < c.kh; i++) {
                int64_t oh = tap_src(ih, i, v->sh, v->dh, v->pt, c.oh);
                if (oh < 0) continue;
                for (int64_t j = 0; j < c.kw; j++) {
                  int64_t ow = tap_src(iw, j, v->sw, v->dw, v->pl, c.ow);
                  if (ow < 0) continue;
                  for (int64_t o = grp * c.og; o < (grp + 1) * c.og; o++)
                    acc += (double)dy[yidx(&c, b, o, od, oh, ow)] * w[widx(&c, o, ci, a, i, j)];
                }
              }
            }
            dx[(((b * c.c + ch) * c.d + id) * c.h + ih) * c.w + iw] = (float)acc;
          }
    }
}

/* dw[o,ci,a,i,j] = sum_{n,od,oh,ow} dy[n,o,od,oh,ow]
 *   x[n, c0 + ci, od sd + a dd - pd0, oh sh + i dh - pt, ow sw + j dw - pl] */
void ref_conv2d_grad_weight(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  nn_conv c = nn_conv_of(IN(0)->shape, n->shape, n->attr.win);
  const float *x = in[0], *dy = in[1];
  float *dw = out;
  const ir_window *v = &c.win;
  for (int64_t o = 0; o < c.o; o++) {
    int64_t c0 = (o / c.og) * c.cg;
    for (int64_t ci = 0; ci < c.cg; ci++)
      for (int64_t a = 0; a < c.kd; a++)
        for (int64_t i = 0; i < c.kh; i++)
          for (int64_t j = 0; j < c.kw; j++) {
            double acc = 0;
            for (int64_t b = 0; b < c.n; b++)
              for (int64_t od = 0; od < c.od; od++)
                for (int64_t oh = 0; oh < c.oh; oh++)
                  for (int64_t ow = 0; ow < c.ow; ow++)
                    acc += (double)dy[yidx(&c, b, o, od, oh, ow)] *
                           at(x, &c, b * c.c + c0 + ci, od * v->sd + a * v->dd - v->pd0,
                              oh * v->sh + i * v->dh - v->pt, ow * v->sw + j * v->dw - v->pl);
            dw[widx(&c, o, ci, a, i, j)] = (float)acc;
          }
  }
}

/* Index ((id H) + ih) W + iw of the first maximum (in row-major order) of
 * window (od, oh, ow) of plane p (padding is -infinity; NaN wins, as in
 * the max reduction). */
static int64_t window_argmax(const float *p, const nn_conv *c, int64_t od, int64_t oh, int64_t ow) {
  const ir_window *v = &c->win;
  int64_t best = -1;
  float m = -INFINITY;
  for (int64_t a = 0; a < c->kd; a++) {
    int64_t id = od * v->sd + a * v->dd - v->pd0;
    if (id < 0 || id >= c->d) continue;
    for (int64_t i = 0; i < c->kh; i++) {
      int64_t ih = oh * v->sh + i * v->dh - v->pt;
      if (ih < 0 || ih >= c->h) continue;
      for (int64_t j = 0; j < c->kw; j++) {
        int64_t iw = ow * v->sw + j * v->dw - v->pl;
        if (iw < 0 || iw >= c->w) continue;
        int64_t pos = (id * c->h + ih) * c->w + iw;
        float x = p[pos];
        if (best < 0 || x > m || (isnan(x) && !isnan(m))) {
          m = x;
          best = pos;
        }
      }
    }
  }
  return best;
}

/* Average pooling's divisor and clamped window [lo[k], hi[k]) per axis
 * (depth, height, width) of output (od, oh, ow). */
static double avg_window(const nn_conv *c, int64_t od, int64_t oh, int64_t ow, int64_t lo[3],
                         int64_t hi[3]) {
  const ir_window *v = &c->win;
  int64_t pd, ph, pw;
  nn_avg_span(od, v->sd, c->kd, v->pd0, v->pd1, c->d, &lo[0], &hi[0], &pd);
  nn_avg_span(oh, v->sh, c->kh, v->pt, v->pb, c->h, &lo[1], &hi[1], &ph);
  nn_avg_span(ow, v->sw, c->kw, v->pl, v->pr, c->w, &lo[2], &hi[2], &pw);
  return v->count_include_pad ? (double)(pd * ph * pw)
                              : (double)((hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]));
}

/* The position pos (row-major within a D x H x W plane) as ONNX's
 * column-major index: the spatial axes reversed, d + D (h + H w). */
static int64_t column_major(const nn_conv *c, int64_t pos) {
  int64_t iw = pos % c->w, ih = pos / c->w % c->h, id = pos / (c->w * c->h);
  return id + c->d * (ih + c->h * iw);
}

/* maxpool2d, avgpool2d and maxpool2d_indices (i32 out). */
void ref_pool2d(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  nn_conv c = nn_pool_of(IN(0)->shape, n->attr.win);
  const float *x = in[0];
  const int64_t plane = c.d * c.h * c.w;
  for (int64_t p = 0; p < c.n * c.c; p++) {
    const float *xp = x + p * plane;
    for (int64_t od = 0; od < c.od; od++)
      for (int64_t oh = 0; oh < c.oh; oh++)
        for (int64_t ow = 0; ow < c.ow; ow++) {
          int64_t k = ((p * c.od + od) * c.oh + oh) * c.ow + ow;
          if (n->op == IR_OP_MAXPOOL2D_INDICES) {
            int64_t best = window_argmax(xp, &c, od, oh, ow);
            ((int32_t *)out)[k] =
                (int32_t)(p * plane + (n->attr.mode ? column_major(&c, best) : best));
            continue;
          }
          float *o = (float *)out + k;
          if (n->op == IR_OP_MAXPOOL2D) {
            *o = xp[window_argmax(xp, &c, od, oh, ow)];
            continue;
          }
          int64_t lo[3], hi[3];
          double div = avg_window(&c, od, oh, ow, lo, hi), acc = 0;
          for (int64_t id = lo[0]; id < hi[0]; id++)
            for (int64_t ih = lo[1]; ih < hi[1]; ih++)
              for (int64_t iw = lo[2]; iw < hi[2]; iw++) acc += xp[(id * c.h + ih) * c.w + iw];
          *o = (float)(acc / div);
        }
  }
}

/* dx = zeros with each window's dy (times step(y), given the pooled values
 * y) added at its index (flat into x, from maxpool2d_indices): the windows
 * whose first maximum an element is. An index outside x adds nothing. */
void ref_maxpool2d_grad(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  const int32_t *idx = in[0];
  const float *dy = in[1], *y = n->nin == 3 ? in[2] : NULL;
  const int64_t nx = gc_shape_numel(n->shape), ny = gc_shape_numel(IN(1)->shape);
  float *dx = out;
  for (int64_t i = 0; i < nx; i++) dx[i] = 0.0f;
  for (int64_t k = 0; k < ny; k++)
    if (idx[k] >= 0 && idx[k] < nx) dx[idx[k]] += y ? dy[k] * (y[k] > 0.0f ? 1.0f : 0.0f) : dy[k];
}

/* dx[id,ih,iw] = sum over windows containing (id, ih, iw) of dy / divisor. */
void ref_avgpool2d_grad(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  nn_conv c = nn_pool_of(n->shape, n->attr.win);
  const ir_window *v = &c.win;
  const float *dy = in[0];
  float *dx = out;
  for (int64_t p = 0; p < c.n * c.c; p++)
    for (int64_t id = 0; id < c.d; id++)
      for (int64_t ih = 0; ih < c.h; ih++)
        for (int64_t iw = 0; iw < c.w; iw++) {
          double acc = 0;
          for (int64_t a = 0; a < c.kd; a++) {
            int64_t od = tap_src(id, a, v->sd, 1, v->pd0, c.od);
            if (od < 0) continue;
            for (int64_t i = 0; i < c.kh; i++) {
              int64_t oh = tap_src(ih, i, v->sh, 1, v->pt, c.oh);
              if (oh < 0) continue;
              for (int64_t j = 0; j < c.kw; j++) {
                int64_t ow = tap_src(iw, j, v->sw, 1, v->pl, c.ow);
                if (ow < 0) continue;
                int64_t lo[3], hi[3];
                double div = avg_window(&c, od, oh, ow, lo, hi);
                if (id >= lo[0] && id < hi[0] && ih >= lo[1] && ih < hi[1] && iw >= lo[2] &&
                    iw < hi[2])
                  acc += dy[((p * c.od + od) * c.oh + oh) * c.ow + ow] / div;
              }
            }
          }
          dx[((p * c.d + id) * c.h + ih) * c.w + iw] = (float)acc;
        }
}

/* The two taps and the second's weight of output position o. */
static void resize_taps(int64_t o, int64_t in, int64_t out, int ac, int64_t *i0, int64_t *i1,
                        double *t) {
  float s = nn_resize_src(o, in, out, ac);
  int64_t f = (int64_t)s;
  if (f > in - 1) f = in - 1;
  *i0 = f;
  *i1 = f + 1 < in ? f + 1 : in - 1;
  *t = (double)(s - (float)f);
}

void ref_resize_bilinear(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  const gc_shape *xs = &IN(0)->shape, *ys = &n->shape;
  int64_t H = xs->dim[2], W = xs->dim[3], OH = ys->dim[2], OW = ys->dim[3];
  int ac = n->attr.win.align_corners;
  const float *x = in[0];
  float *y = out;
  for (int64_t p = 0; p < xs->dim[0] * xs->dim[1]; p++)
    for (int64_t oh = 0; oh < OH; oh++) {
      int64_t h0, h1;
      double th;
      resize_taps(oh, H, OH, ac, &h0, &h1, &th);
      for (int64_t ow = 0; ow < OW; ow++) {
        int64_t w0, w1;
        double tw;
        resize_taps(ow, W, OW, ac, &w0, &w1, &tw);
        const float *pl = x + p * H * W;
        double top = (1 - tw) * pl[h0 * W + w0] + tw * pl[h0 * W + w1];
        double bot = (1 - tw) * pl[h1 * W + w0] + tw * pl[h1 * W + w1];
        y[(p * OH + oh) * OW + ow] = (float)((1 - th) * top + th * bot);
      }
    }
}

/* The adjoint: every input sample collects dy times its tap weights. */
void ref_resize_bilinear_grad(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  const gc_shape *ys = &IN(0)->shape, *xs = &n->shape;
  int64_t H = xs->dim[2], W = xs->dim[3], OH = ys->dim[2], OW = ys->dim[3];
  int ac = n->attr.win.align_corners;
  const float *dy = in[0];
  float *dx = out;
  for (int64_t p = 0; p < xs->dim[0] * xs->dim[1]; p++)
    for (int64_t ih = 0; ih < H; ih++)
      for (int64_t iw = 0; iw < W; iw++) {
        double acc = 0;
        for (int64_t oh = 0; oh < OH; oh++) {
          int64_t h0, h1;
          double th;
          resize_taps(oh, H, OH, ac, &h0, &h1, &th);
          double wh = (h0 == ih ? 1 - th : 0) + (h1 == ih ? th : 0);
          if (wh == 0) continue;
          for (int64_t ow = 0; ow < OW; ow++) {
            int64_t w0, w1;
            double tw;
            resize_taps(ow, W, OW, ac, &w0, &w1, &tw);
            double ww = (w0 == iw ? 1 - tw : 0) + (w1 == iw ? tw : 0);
            acc += wh * ww * dy[(p * OH + oh) * OW + ow];
          }
        }
        dx[(p * H + ih) * W + iw] = (float)acc;
      }
}

/* uniform: f0 + (f1 - f0) u with u = nn_unit(hash(i)), in float as OpenCL
 * computes it (bit-identical); normal: Box-Muller on hashes of 2i and
 * 2i + 1 (equal to OpenCL's within its exp/log/cos ulp bounds). */
void ref_random(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  const ir_window *v = &n->attr.win;
  uint32_t counter = (uint32_t) * (const int32_t *)in[0];
  float *y = out, a = n->attr.f[0], b = n->attr.f[1];
  int64_t count = gc_shape_numel(n->shape);
  for (int64_t i = 0; i < count; i++) {
    if (v->dist == 0) {
      float u = nn_unit(nn_hash(v->seed_lo, v->seed_hi, counter, (uint32_t)i));
      float span = b - a, r = span * u; /* two roundings, as OpenCL (no contraction) */
      y[i] = a + r;
    } else {
      float u1 = nn_unit(nn_hash(v->seed_lo, v->seed_hi, counter, (uint32_t)(2 * i)));
      float u2 = nn_unit(nn_hash(v->seed_lo, v->seed_hi, counter, (uint32_t)(2 * i + 1)));
      double r = sqrt(-2.0 * log(1.0 - (double)u1)); /* 1 - u1 in (0, 1]: finite */
      y[i] = (float)((double)a + (double)b * r * cos(6.283185307179586 * (double)u2));
    }
  }
  (void)g;
}
