/* test_ref_nn_ops.c — Check suite for the reference kernels of the
 * neural-network ops (backends/ref/ref_nn.c) and their builders: conv2d
 * against a naive loop written here and a hand-computed case, the two conv
 * gradients through the adjoint identities
 * <conv(x, w), dy> = <x, grad_input(dy, w)> = <w, grad_weight(x, dy)>,
 * pooling windows with padding, ceil mode and count_include_pad by hand,
 * the same over three spatial axes (3-D conv against a naive loop, 3-D
 * pooling by hand and against the 2-D kernels on slices), max-pooling
 * indices by hand (ONNX's case, ties, planes, column-major),
 * bilinear resize against PyTorch's values, the random numbers against the
 * hash they are defined by, batched matmul by hand, and the shape errors.
 * Nodes are evaluated one at a time with ref_eval on leaves' data. A
 * coverage test fails when an op of tests/nn_ops.h has no case here. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/ref/ref.h"
#include "ir/ir.h"
#include "ir/nn_geom.h"
#include "nn_ops.h"

static uint64_t rng = 99;
static double urand(void) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(rng >> 11) * 0x1.0p-53;
}

static gc_value cf(gc_graph *g, gc_shape s, const float *v) { return gc_constant(g, GC_F32, s, v); }

static float *rand_buf(int64_t n) {
  float *v = malloc(sizeof *v * (size_t)n);
  for (int64_t i = 0; i < n; i++) v[i] = (float)(2 * urand() - 1);
  return v;
}

/* Evaluates v (its inputs are leaves) into a new buffer. */
static float *eval(gc_graph *g, gc_value v) {
  ck_assert_msg(gc_graph_status(g) == GC_OK, "graph: %s", gc_graph_errmsg(g));
  const ir_node *n = &g->nodes[v.id];
  void *in[IR_MAX_INPUTS];
  for (int k = 0; k < n->nin; k++) {
    in[k] = g->nodes[n->in[k]].data;
    ck_assert(in[k] != NULL);
  }
  float *out = calloc(1, ir_node_bytes(n) + 4);
  ref_eval(g, v.id, in, out);
  return out;
}

static void near(const float *got, const float *want, int64_t n, double tol) {
  for (int64_t i = 0; i < n; i++)
    ck_assert_msg(fabs((double)got[i] - want[i]) <= tol * (1 + fabs((double)want[i])),
                  "element %lld: got %.9g want %.9g", (long long)i, got[i], want[i]);
}

static double dot(const float *a, const float *b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

static gc_conv2d_opts copts(int sh, int sw, int pt, int pl, int pb, int pr, int dh, int dw,
                            int gr) {
  gc_conv2d_opts o = {{sh, sw}, {pt, pl, pb, pr}, {dh, dw}, gr, {0, 0}};
  return o;
}

/* The textbook loop, independent of ref_nn.c. */
static void naive_conv(const float *x, const float *w, float *y, int N, int C, int H, int W, int O,
                       int KH, int KW, const gc_conv2d_opts *o, int OH, int OW) {
  int G = o->groups, cg = C / G, og = O / G;
  for (int n = 0; n < N; n++)
    for (int oc = 0; oc < O; oc++)
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) {
          double s = 0;
          for (int c = 0; c < cg; c++)
            for (int i = 0; i < KH; i++)
              for (int j = 0; j < KW; j++) {
                int ih = oh * o->stride[0] + i * o->dilation[0] - o->padding[0];
                int iw = ow * o->stride[1] + j * o->dilation[1] - o->padding[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                int ic = (oc / og) * cg + c;
                s += (double)x[((n * C + ic) * H + ih) * W + iw] *
                     w[((oc * cg + c) * KH + i) * KW + j];
              }
          y[((n * O + oc) * OH + oh) * OW + ow] = (float)s;
        }
}

START_TEST(test_conv2d_naive) {
  struct {
    int N, C, H, W, O, KH, KW;
    gc_conv2d_opts o;
  } cs[] = {
      {3, 5, 11, 13, 7, 3, 3, copts(2, 2, 1, 0, 2, 1, 1, 1, 1)},
      {3, 5, 11, 13, 7, 5, 3, copts(1, 1, 2, 1, 2, 1, 2, 2, 1)},
      {2, 5, 11, 13, 5, 3, 3, copts(2, 1, 1, 1, 0, 1, 1, 2, 5)},
      {1, 4, 6, 7, 6, 2, 3, copts(1, 3, 0, 2, 1, 0, 2, 1, 2)},
  };
  for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
    gc_graph *g = gc_graph_new();
    int C = cs[k].C, O = cs[k].O, gr = cs[k].o.groups;
    gc_shape xs = gc_shape4(cs[k].N, C, cs[k].H, cs[k].W),
             ws = gc_shape4(O, C / gr, cs[k].KH, cs[k].KW);
    float *x = rand_buf(gc_shape_numel(xs)), *w = rand_buf(gc_shape_numel(ws));
    gc_value y = gc_conv2d(g, cf(g, xs, x), cf(g, ws, w), &cs[k].o);
    gc_shape ys = gc_value_shape(g, y);
    ck_assert_int_eq(ys.ndim, 4);
    float *got = eval(g, y), *want = malloc(sizeof(float) * (size_t)gc_shape_numel(ys));
    naive_conv(x, w, want, cs[k].N, C, cs[k].H, cs[k].W, O, cs[k].KH, cs[k].KW, &cs[k].o,
               (int)ys.dim[2], (int)ys.dim[3]);
    near(got, want, gc_shape_numel(ys), 1e-6);
    /* adjoint identities of the two gradients */
    float *dy = rand_buf(gc_shape_numel(ys));
    gc_value dyv = cf(g, ys, dy);
    ir_attr a = g->nodes[y.id].attr;
    a.shape = xs;
    int32_t in1[2] = {dyv.id, g->nodes[y.id].in[1]};
    float *gi = eval(g, ir_value(ir_add(g, IR_OP_CONV2D_GRAD_INPUT, 2, in1, &a)));
    a.shape = ws;
    int32_t in2[2] = {g->nodes[y.id].in[0], dyv.id};
    float *gw = eval(g, ir_value(ir_add(g, IR_OP_CONV2D_GRAD_WEIGHT, 2, in2, &a)));
    double lhs = dot(want, dy, gc_shape_numel(ys));
    ck_assert_msg(fabs(lhs - dot(x, gi, gc_shape_numel(xs))) < 1e-4 * (1 + fabs(lhs)),
                  "grad_input");
    ck_assert_msg(fabs(lhs - dot(w, gw, gc_shape_numel(ws))) < 1e-4 * (1 + fabs(lhs)),
                  "grad_weight");
    free(x), free(w), free(got), free(want), free(dy), free(gi), free(gw);
    gc_graph_free(g);
  }
}
END_TEST

/* 1 x 1 x 3 x 3 input 1..9, 2x2 kernel of ones, padding 1 on the top/left only. */
START_TEST(test_conv2d_hand) {
  gc_graph *g = gc_graph_new();
  float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 1, 1, 1};
  gc_conv2d_opts o = copts(1, 1, 1, 1, 0, 0, 1, 1, 1);
  gc_value y = gc_conv2d(g, cf(g, gc_shape4(1, 1, 3, 3), x), cf(g, gc_shape4(1, 1, 2, 2), w), &o);
  ck_assert(ir_shape_eq(gc_value_shape(g, y), gc_shape4(1, 1, 3, 3)));
  float *r = eval(g, y);
  near(r, (float[]){1, 3, 5, 5, 12, 16, 11, 24, 28}, 9, 0);
  free(r);
  /* conv_transpose2d of a single 1 with stride 2 places the kernel */
  float one[4] = {1, 0, 0, 0}, k[4] = {1, 2, 3, 4};
  gc_conv2d_opts t = copts(2, 2, 0, 0, 0, 0, 1, 1, 1);
  gc_value z = gc_conv_transpose2d(g, cf(g, gc_shape4(1, 1, 2, 2), one),
                                   cf(g, gc_shape4(1, 1, 2, 2), k), &t);
  ck_assert(ir_shape_eq(gc_value_shape(g, z), gc_shape4(1, 1, 4, 4)));
  r = eval(g, z);
  near(r, (float[]){1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 16, 0);
  free(r);
  gc_graph_free(g);
}
END_TEST

START_TEST(test_pooling_hand) {
  gc_graph *g = gc_graph_new();
  float x[16] = {1, 5, 2, 0, 3, 4, 8, 1, 0, 2, 6, 7, 9, 1, 3, 2};
  gc_value xv = cf(g, gc_shape4(1, 1, 4, 4), x);
  gc_pool2d_opts o = {{2, 2}, {0, 0}, {0, 0, 0, 0}, {0, 0}, 0, 0};
  float *r = eval(g, gc_maxpool2d(g, xv, &o));
  near(r, (float[]){5, 8, 9, 7}, 4, 0);
  free(r);
  r = eval(g, gc_avgpool2d(g, xv, &o));
  near(r, (float[]){13 / 4.0f, 11 / 4.0f, 12 / 4.0f, 18 / 4.0f}, 4, 1e-7);
  free(r);
  /* 3x3 stride 2 padding 1: windows rows/cols {-1,0,1}, {1,2,3} */
  gc_pool2d_opts p = {{3, 3}, {2, 2}, {1, 1, 1, 1}, {0, 0}, 0, 0};
  gc_value mp = gc_maxpool2d(g, xv, &p);
  r = eval(g, mp);
  near(r, (float[]){5, 8, 9, 8}, 4, 0);
  free(r);
  r = eval(g, gc_avgpool2d(g, xv, &p));
  near(r, (float[]){13 / 4.0f, 20 / 6.0f, 19 / 6.0f, 34 / 9.0f}, 4, 1e-7);
  free(r);
  p.count_include_pad = 1;
  r = eval(g, gc_avgpool2d(g, xv, &p));
  near(r, (float[]){13 / 9.0f, 20 / 9.0f, 19 / 9.0f, 34 / 9.0f}, 4, 1e-7);
  free(r);
  /* ceil mode: 4 wide, kernel 3, stride 2, no padding -> 2 windows (the second clipped) */
  gc_pool2d_opts c = {{3, 3}, {2, 2}, {0, 0, 0, 0}, {0, 0}, 1, 0};
  gc_value cm = gc_avgpool2d(g, xv, &c);
  ck_assert(ir_shape_eq(gc_value_shape(g, cm), gc_shape4(1, 1, 2, 2)));
  r = eval(g, cm);
  near(r, (float[]){31 / 9.0f, 24 / 6.0f, 21 / 6.0f, 18 / 4.0f}, 4, 1e-7);
  free(r);
  /* pads over half the kernel (ONNX allows them): every window still
   * holds an input element. 2x2 input, kernel 3, stride 1, pads 2: rows
   * of the windows {0}, {0,1}, {0,1}, {1}. */
  gc_value x2 = cf(g, gc_shape4(1, 1, 2, 2), (float[]){1, 2, 3, 4});
  gc_pool2d_opts wide = {{3, 3}, {1, 1}, {2, 2, 2, 2}, {0, 0}, 0, 0};
  r = eval(g, gc_maxpool2d(g, x2, &wide));
  near(r, (float[]){1, 2, 2, 2, 3, 4, 4, 4, 3, 4, 4, 4, 3, 4, 4, 4}, 16, 0);
  free(r);
  r = eval(g, gc_avgpool2d(g, x2, &wide));
  near(r, (float[]){1, 1.5f, 1.5f, 2, 2, 2.5f, 2.5f, 3, 2, 2.5f, 2.5f, 3, 3, 3.5f, 3.5f, 4}, 16,
       1e-7);
  free(r);
  wide.count_include_pad = 1;
  r = eval(g, gc_avgpool2d(g, x2, &wide));
  near(r,
       (float[]){1 / 9.0f, 3 / 9.0f, 3 / 9.0f, 2 / 9.0f, 4 / 9.0f, 10 / 9.0f, 10 / 9.0f, 6 / 9.0f,
                 4 / 9.0f, 10 / 9.0f, 10 / 9.0f, 6 / 9.0f, 3 / 9.0f, 7 / 9.0f, 7 / 9.0f, 4 / 9.0f},
       16, 1e-7);
  free(r);
  /* max gradient: dy of each window to its first maximum, from the
   * indices; masked by step(y) (y given: windows 1 and 3 masked) */
  float dy[4] = {1, 2, 3, 4};
  int32_t *ib = (int32_t *)eval(g, gc_maxpool2d_indices(g, xv, &p, 0));
  gc_value idx = gc_constant(g, GC_I32, gc_shape4(1, 1, 2, 2), ib);
  free(ib);
  int32_t in[3] = {idx.id, cf(g, gc_shape4(1, 1, 2, 2), dy).id,
                   cf(g, gc_shape4(1, 1, 2, 2), (float[]){2, -1, 1, 0}).id};
  ir_attr a = g->nodes[mp.id].attr;
  a.shape = gc_shape4(1, 1, 4, 4);
  r = eval(g, ir_value(ir_add(g, IR_OP_MAXPOOL2D_GRAD, 2, in, &a)));
  near(r, (float[]){0, 1, 0, 0, 0, 0, 2 + 4, 0, 0, 0, 0, 0, 3, 0, 0, 0}, 16, 0);
  free(r);
  r = eval(g, ir_value(ir_add(g, IR_OP_MAXPOOL2D_GRAD, 3, in, &a)));
  near(r, (float[]){0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0}, 16, 0);
  free(r);
  /* avg gradient (count_include_pad = 0 windows of the 3x3 s2 p1 case) */
  a = g->nodes[mp.id].attr;
  a.win.count_include_pad = 0;
  a.shape = gc_shape4(1, 1, 4, 4);
  int32_t in1 = in[1];
  r = eval(g, ir_value(ir_add(g, IR_OP_AVGPOOL2D_GRAD, 1, &in1, &a)));
  /* (0,0) is only in window (0,0) with 4 elements; (1,1) in all four */
  ck_assert(fabsf(r[0] - 0.25f) < 1e-7f);
  ck_assert(fabsf(r[5] - (0.25f + 2 / 6.0f + 3 / 6.0f + 4 / 9.0f)) < 1e-6f);
  free(r);
  /* indices that are not i32 of dy's shape: a clear error (last: it
   * stops the graph) */
  a = g->nodes[mp.id].attr;
  a.shape = gc_shape4(1, 1, 4, 4);
  int32_t bad[2] = {in[1], in[1]};
  ck_assert_int_lt(ir_add(g, IR_OP_MAXPOOL2D_GRAD, 2, bad, &a), 0);
  ck_assert_msg(strstr(gc_graph_errmsg(g), "indices must be i32"), "%s", gc_graph_errmsg(g));
  gc_graph_free(g);
  /* pooled values of another shape than dy's for the masked form: a clear
   * error too */
  g = gc_graph_new();
  xv = cf(g, gc_shape4(1, 1, 4, 4), x);
  int32_t masked[3] = {gc_maxpool2d_indices(g, xv, &p, 0).id, cf(g, gc_shape4(1, 1, 2, 2), dy).id,
                       xv.id};
  ck_assert_int_lt(ir_add(g, IR_OP_MAXPOOL2D_GRAD, 3, masked, &a), 0);
  ck_assert_msg(strstr(gc_graph_errmsg(g), "pooled values must be f32 of dy's shape"), "%s",
                gc_graph_errmsg(g));
  gc_graph_free(g);
}
END_TEST

/* ---- 3-D (NCDHW) ---- */

static gc_shape shape5(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e) {
  const int64_t v[5] = {a, b, c, d, e};
  return gc_shapen(5, v);
}

typedef struct geom3 {
  int N, C, D, H, W, O, KD, KH, KW;
  gc_conv3d_opts o;
} geom3;

/* The textbook loop over three spatial axes, independent of ref_nn.c. */
static void naive_conv3d(const float *x, const float *w, float *y, const geom3 *k, int OD, int OH,
                         int OW) {
  const gc_conv3d_opts *o = &k->o;
  int G = o->groups, cg = k->C / G, og = k->O / G;
  for (int n = 0; n < k->N; n++)
    for (int oc = 0; oc < k->O; oc++)
      for (int od = 0; od < OD; od++)
        for (int oh = 0; oh < OH; oh++)
          for (int ow = 0; ow < OW; ow++) {
            double s = 0;
            for (int c = 0; c < cg; c++)
              for (int a = 0; a < k->KD; a++)
                for (int i = 0; i < k->KH; i++)
                  for (int j = 0; j < k->KW; j++) {
                    int id = od * o->stride[0] + a * o->dilation[0] - o->padding[0];
                    int ih = oh * o->stride[1] + i * o->dilation[1] - o->padding[1];
                    int iw = ow * o->stride[2] + j * o->dilation[2] - o->padding[2];
                    if (id < 0 || id >= k->D || ih < 0 || ih >= k->H || iw < 0 || iw >= k->W)
                      continue;
                    int ic = (oc / og) * cg + c;
                    s += (double)x[(((n * k->C + ic) * k->D + id) * k->H + ih) * k->W + iw] *
                         w[(((oc * cg + c) * k->KD + a) * k->KH + i) * k->KW + j];
                  }
            y[(((n * k->O + oc) * OD + od) * OH + oh) * OW + ow] = (float)s;
          }
}

static gc_conv3d_opts c3(int sd, int sh, int sw, int pf, int pt, int pl, int pk, int pb, int pr,
                         int dd, int dh, int dw, int gr) {
  gc_conv3d_opts o = {{sd, sh, sw}, {pf, pt, pl, pk, pb, pr}, {dd, dh, dw}, gr, {0, 0, 0}};
  return o;
}

START_TEST(test_conv3d_naive) {
  geom3 cs[] = {
      {2, 3, 5, 6, 7, 4, 3, 3, 2, c3(2, 1, 2, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1)},
      {1, 4, 6, 5, 5, 6, 2, 3, 3, c3(1, 2, 1, 2, 1, 1, 1, 0, 2, 2, 1, 2, 2)},
      {2, 3, 4, 4, 5, 3, 3, 1, 2, c3(3, 1, 1, 0, 0, 1, 2, 0, 0, 1, 1, 1, 3)},
  };
  for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
    gc_graph *g = gc_graph_new();
    const geom3 *q = &cs[k];
    gc_shape xs = shape5(q->N, q->C, q->D, q->H, q->W),
             ws = shape5(q->O, q->C / q->o.groups, q->KD, q->KH, q->KW);
    float *x = rand_buf(gc_shape_numel(xs)), *w = rand_buf(gc_shape_numel(ws));
    gc_value y = gc_conv3d(g, cf(g, xs, x), cf(g, ws, w), &q->o);
    gc_shape ys = gc_value_shape(g, y);
    ck_assert_int_eq(ys.ndim, 5);
    float *got = eval(g, y), *want = malloc(sizeof(float) * (size_t)gc_shape_numel(ys));
    naive_conv3d(x, w, want, q, (int)ys.dim[2], (int)ys.dim[3], (int)ys.dim[4]);
    near(got, want, gc_shape_numel(ys), 1e-6);
    /* adjoint identities of the two gradients, as in 2-D */
    float *dy = rand_buf(gc_shape_numel(ys));
    gc_value dyv = cf(g, ys, dy);
    ir_attr a = g->nodes[y.id].attr;
    a.shape = xs;
    int32_t in1[2] = {dyv.id, g->nodes[y.id].in[1]};
    float *gi = eval(g, ir_value(ir_add(g, IR_OP_CONV2D_GRAD_INPUT, 2, in1, &a)));
    a.shape = ws;
    int32_t in2[2] = {g->nodes[y.id].in[0], dyv.id};
    float *gw = eval(g, ir_value(ir_add(g, IR_OP_CONV2D_GRAD_WEIGHT, 2, in2, &a)));
    double lhs = dot(want, dy, gc_shape_numel(ys));
    ck_assert_msg(fabs(lhs - dot(x, gi, gc_shape_numel(xs))) < 1e-4 * (1 + fabs(lhs)),
                  "grad_input, case %zu", k);
    ck_assert_msg(fabs(lhs - dot(w, gw, gc_shape_numel(ws))) < 1e-4 * (1 + fabs(lhs)),
                  "grad_weight, case %zu", k);
    free(x), free(w), free(got), free(want), free(dy), free(gi), free(gw);
    gc_graph_free(g);
  }
}
END_TEST

/* A depth of 1 with a 1-deep kernel is the 2-D conv; conv_transpose3d of
 * a single 1 with stride 2 places the kernel. */
START_TEST(test_conv3d_hand) {
  gc_graph *g = gc_graph_new();
  float *x = rand_buf(2 * 3 * 5 * 6), *w = rand_buf(4 * 3 * 3 * 2);
  gc_conv2d_opts o2 = copts(2, 1, 1, 0, 0, 1, 1, 1, 1);
  gc_conv3d_opts o3 = c3(1, 2, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1);
  float *y2 =
      eval(g, gc_conv2d(g, cf(g, gc_shape4(2, 3, 5, 6), x), cf(g, gc_shape4(4, 3, 3, 2), w), &o2));
  gc_value y3v =
      gc_conv3d(g, cf(g, shape5(2, 3, 1, 5, 6), x), cf(g, shape5(4, 3, 1, 3, 2), w), &o3);
  gc_shape y3s = gc_value_shape(g, y3v);
  ck_assert_int_eq(y3s.ndim, 5);
  ck_assert_int_eq(y3s.dim[2], 1);
  float *y3 = eval(g, y3v);
  near(y3, y2, gc_shape_numel(y3s), 0);
  free(x), free(w), free(y2), free(y3);
  float one[8] = {1, 0, 0, 0, 0, 0, 0, 0}, k[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  gc_conv3d_opts t = c3(2, 2, 2, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1);
  gc_value z = gc_conv_transpose3d(g, cf(g, shape5(1, 1, 2, 2, 2), one),
                                   cf(g, shape5(1, 1, 2, 2, 2), k), &t);
  ck_assert(ir_shape_eq(gc_value_shape(g, z), shape5(1, 1, 4, 4, 4)));
  float *r = eval(g, z);
  for (int d = 0; d < 4; d++)
    for (int h = 0; h < 4; h++)
      for (int v = 0; v < 4; v++) {
        float want = d < 2 && h < 2 && v < 2 ? k[(d * 2 + h) * 2 + v] : 0;
        ck_assert_msg(r[(d * 4 + h) * 4 + v] == want, "(%d, %d, %d): %g, want %g", d, h, v,
                      r[(d * 4 + h) * 4 + v], want);
      }
  free(r);
  gc_graph_free(g);
}
END_TEST

/* Two slices of 3x3:
 *   d0 = [1 5 2; 3 4 8; 0 2 6], d1 = [7 1 3; 2 9 1; 4 0 5];
 * 2x2x2 windows, stride 1: each holds the 9 (d1, h1, w1); their sums are
 * 32, 33, 24 and 35. */
START_TEST(test_pooling3d_hand) {
  gc_graph *g = gc_graph_new();
  float x[18] = {1, 5, 2, 3, 4, 8, 0, 2, 6, 7, 1, 3, 2, 9, 1, 4, 0, 5};
  gc_value xv = cf(g, shape5(1, 1, 2, 3, 3), x);
  gc_pool3d_opts o = {{2, 2, 2}, {1, 1, 1}, {0, 0, 0, 0, 0, 0}, {0, 0, 0}, 0, 0};
  gc_value mp = gc_maxpool3d(g, xv, &o);
  ck_assert(ir_shape_eq(gc_value_shape(g, mp), shape5(1, 1, 1, 2, 2)));
  float *r = eval(g, mp);
  near(r, (float[]){9, 9, 9, 9}, 4, 0);
  free(r);
  r = eval(g, gc_avgpool3d(g, xv, &o));
  near(r, (float[]){32 / 8.0f, 33 / 8.0f, 24 / 8.0f, 35 / 8.0f}, 4, 1e-7);
  free(r);
  /* depth padding 1 at the front, count_include_pad: the window of depth
   * 0 is half padding, so it divides by 8 but sums slice 0 only */
  gc_pool3d_opts p = {{2, 2, 2}, {1, 1, 1}, {1, 0, 0, 0, 0, 0}, {0, 0, 0}, 0, 1};
  r = eval(g, gc_avgpool3d(g, xv, &p));
  near(r,
       (float[]){13 / 8.0f, 19 / 8.0f, 9 / 8.0f, 20 / 8.0f, 32 / 8.0f, 33 / 8.0f, 24 / 8.0f,
                 35 / 8.0f},
       8, 1e-7);
  free(r);
  /* max gradient: every window sends its dy to the 9 */
  float dy[4] = {1, 2, 3, 4};
  int32_t *ib = (int32_t *)eval(g, gc_maxpool3d_indices(g, xv, &o, 0));
  int32_t in[2] = {gc_constant(g, GC_I32, shape5(1, 1, 1, 2, 2), ib).id,
                   cf(g, shape5(1, 1, 1, 2, 2), dy).id};
  free(ib);
  ir_attr a = g->nodes[mp.id].attr;
  a.shape = shape5(1, 1, 2, 3, 3);
  r = eval(g, ir_value(ir_add(g, IR_OP_MAXPOOL2D_GRAD, 2, in, &a)));
  for (int i = 0; i < 18; i++) ck_assert(r[i] == (i == 13 ? 10.0f : 0.0f));
  free(r);
  gc_graph_free(g);
}
END_TEST

/* 3-D pooling against the 2-D kernels through two identities: a window
 * one deep pools each depth slice (x as [N, C D, H, W]); a window only
 * along depth is the 2-D pool of x as [N C, 1, D, H W] with a k x 1
 * kernel. Both with padding, dilation and ceil mode. */
START_TEST(test_pooling3d_slices) {
  const int N = 2, C = 3, D = 5, H = 6, W = 7;
  float *x = rand_buf(N * C * D * H * W);
  for (int mx = 0; mx < 2; mx++) {
    gc_graph *g = gc_graph_new();
    gc_value x5 = cf(g, shape5(N, C, D, H, W), x);
    gc_pool3d_opts o3 = {{1, 3, 2}, {1, 2, 1}, {0, 1, 0, 0, 1, 1}, {1, mx ? 2 : 1, 1}, 1, !mx};
    gc_pool2d_opts o2 = {{3, 2}, {2, 1}, {1, 0, 1, 1}, {mx ? 2 : 1, 1}, 1, !mx};
    gc_value x4 = cf(g, gc_shape4(N, C * D, H, W), x);
    gc_value a3 = mx ? gc_maxpool3d(g, x5, &o3) : gc_avgpool3d(g, x5, &o3);
    gc_value a2 = mx ? gc_maxpool2d(g, x4, &o2) : gc_avgpool2d(g, x4, &o2);
    float *r3 = eval(g, a3), *r2 = eval(g, a2);
    ck_assert_int_eq(gc_shape_numel(gc_value_shape(g, a3)), gc_shape_numel(gc_value_shape(g, a2)));
    near(r3, r2, gc_shape_numel(gc_value_shape(g, a2)), 1e-6);
    free(r3), free(r2);
    gc_pool3d_opts d3 = {{3, 1, 1}, {2, 1, 1}, {1, 0, 0, 1, 0, 0}, {mx ? 2 : 1, 1, 1}, 1, !mx};
    gc_pool2d_opts d2 = {{3, 1}, {2, 1}, {1, 0, 1, 0}, {mx ? 2 : 1, 1}, 1, !mx};
    gc_value xf = cf(g, gc_shape4(N * C, 1, D, H * W), x);
    gc_value b3 = mx ? gc_maxpool3d(g, x5, &d3) : gc_avgpool3d(g, x5, &d3);
    gc_value b2 = mx ? gc_maxpool2d(g, xf, &d2) : gc_avgpool2d(g, xf, &d2);
    r3 = eval(g, b3), r2 = eval(g, b2);
    ck_assert_int_eq(gc_shape_numel(gc_value_shape(g, b3)), gc_shape_numel(gc_value_shape(g, b2)));
    near(r3, r2, gc_shape_numel(gc_value_shape(g, b2)), 1e-6);
    free(r3), free(r2);
    gc_graph_free(g);
  }
  free(x);
}
END_TEST

/* ONNX's test_maxpool_with_argmax_2d_precomputed_strides: 1..25 as 5x5,
 * 2x2 windows of stride 2 keep 7, 9, 17, 19 at row-major 6, 8, 16, 18
 * and column-major (h + 5 w) 6, 16, 8, 18. */
START_TEST(test_maxpool_indices) {
  gc_graph *g = gc_graph_new();
  float x[25];
  for (int i = 0; i < 25; i++) x[i] = (float)(i + 1);
  gc_value xv = cf(g, gc_shape4(1, 1, 5, 5), x);
  gc_pool2d_opts o = {{2, 2}, {2, 2}, {0, 0, 0, 0}, {0, 0}, 0, 0};
  gc_value iv = gc_maxpool2d_indices(g, xv, &o, 0);
  ck_assert_int_eq(gc_value_dtype(g, iv), GC_I32);
  ck_assert(ir_shape_eq(gc_value_shape(g, iv), gc_shape4(1, 1, 2, 2)));
  int32_t *r = (int32_t *)eval(g, iv);
  ck_assert(r[0] == 6 && r[1] == 8 && r[2] == 16 && r[3] == 18);
  free(r);
  r = (int32_t *)eval(g, gc_maxpool2d_indices(g, xv, &o, 1));
  ck_assert(r[0] == 6 && r[1] == 16 && r[2] == 8 && r[3] == 18);
  free(r);
  /* ties: the first maximum in row-major order */
  float t[16] = {0};
  gc_value tv = cf(g, gc_shape4(1, 1, 4, 4), t);
  gc_pool2d_opts po = {{3, 3}, {1, 1}, {1, 1, 1, 1}, {0, 0}, 0, 0};
  r = (int32_t *)eval(g, gc_maxpool2d_indices(g, tv, &po, 0));
  for (int h = 0; h < 4; h++)
    for (int w = 0; w < 4; w++)
      ck_assert_int_eq(r[h * 4 + w], (h > 0 ? h - 1 : 0) * 4 + (w > 0 ? w - 1 : 0));
  free(r);
  /* several planes: the index carries the plane offset and reads the max */
  const int64_t n = 2 * 3 * 5 * 6;
  float *rx = rand_buf(n);
  gc_value rv = cf(g, gc_shape4(2, 3, 5, 6), rx);
  gc_pool2d_opts q = {{3, 2}, {2, 1}, {1, 0, 1, 1}, {1, 2}, 1, 0};
  gc_value mv = gc_maxpool2d(g, rv, &q);
  float *m = eval(g, mv);
  int32_t *ri = (int32_t *)eval(g, gc_maxpool2d_indices(g, rv, &q, 0));
  int32_t *ci = (int32_t *)eval(g, gc_maxpool2d_indices(g, rv, &q, 1));
  gc_shape ms = gc_value_shape(g, mv);
  const int64_t per = ms.dim[2] * ms.dim[3];
  for (int64_t k = 0; k < gc_shape_numel(ms); k++) {
    ck_assert(ri[k] >= 0 && ri[k] < n && ri[k] / 30 == k / per);
    ck_assert(rx[ri[k]] == m[k]);
    int64_t at = ri[k] % 30;
    ck_assert_int_eq(ci[k], ri[k] - at + at / 6 + 5 * (at % 6));
  }
  free(rx), free(m), free(ri), free(ci);
  /* 3-D: the 9 of test_pooling3d_hand at (1, 1, 1): row-major 13,
   * column-major 1 + 2 (1 + 3 1) = 9 */
  float x3[18] = {1, 5, 2, 3, 4, 8, 0, 2, 6, 7, 1, 3, 2, 9, 1, 4, 0, 5};
  gc_value x3v = cf(g, shape5(1, 1, 2, 3, 3), x3);
  gc_pool3d_opts o3 = {{2, 2, 2}, {1, 1, 1}, {0, 0, 0, 0, 0, 0}, {0, 0, 0}, 0, 0};
  r = (int32_t *)eval(g, gc_maxpool3d_indices(g, x3v, &o3, 0));
  for (int k = 0; k < 4; k++) ck_assert_int_eq(r[k], 13);
  free(r);
  r = (int32_t *)eval(g, gc_maxpool3d_indices(g, x3v, &o3, 1));
  for (int k = 0; k < 4; k++) ck_assert_int_eq(r[k], 9);
  free(r);
  gc_graph_free(g);
}
END_TEST

/* PyTorch: F.interpolate([[1,2],[3,4]], scale_factor=2, mode='bilinear'). */
START_TEST(test_resize_hand) {
  gc_graph *g = gc_graph_new();
  float x[4] = {1, 2, 3, 4};
  gc_value xv = cf(g, gc_shape4(1, 1, 2, 2), x);
  gc_value y = gc_upsample_bilinear2d(g, xv, 2, 2, 0);
  float *r = eval(g, y);
  near(r,
       (float[]){1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f,
                 3.75f, 4},
       16, 1e-6);
  free(r);
  r = eval(g, gc_resize_bilinear2d(g, xv, 3, 3, 1));
  near(r, (float[]){1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4}, 9, 1e-6);
  free(r);
  /* the gradient is the adjoint: <R x, d> = <x, R^T d> */
  for (int ac = 0; ac < 2; ac++) {
    float *xr = rand_buf(2 * 3 * 5), *d = rand_buf(2 * 7 * 4);
    gc_value xx = cf(g, gc_shape4(1, 2, 3, 5), xr);
    gc_value rr = gc_resize_bilinear2d(g, xx, 7, 4, ac);
    float *rx = eval(g, rr);
    ir_attr a = {0};
    a.shape = gc_shape4(1, 2, 3, 5);
    a.win.align_corners = ac;
    int32_t dv = cf(g, gc_shape4(1, 2, 7, 4), d).id;
    float *rt = eval(g, ir_value(ir_add(g, IR_OP_RESIZE_BILINEAR_GRAD, 1, &dv, &a)));
    double l = dot(rx, d, 56), rgt = dot(xr, rt, 30);
    ck_assert_msg(fabs(l - rgt) < 1e-5 * (1 + fabs(l)), "adjoint %g vs %g", l, rgt);
    free(xr), free(d), free(rx), free(rt);
  }
  gc_graph_free(g);
}
END_TEST

START_TEST(test_random) {
  gc_graph *g = gc_graph_new();
  int32_t step = 5;
  gc_value ctr = gc_constant(g, GC_I32, gc_shape0(), &step);
  ir_attr a = {0};
  a.shape = gc_shape2(100, 100);
  a.win.seed_lo = 1234, a.win.seed_hi = 7;
  a.f[0] = 0, a.f[1] = 1;
  float *u = eval(g, ir_value(ir_add(g, IR_OP_RANDOM, 1, &ctr.id, &a)));
  double mean = 0;
  for (int i = 0; i < 10000; i++) {
    ck_assert(u[i] == nn_unit(nn_hash(1234, 7, 5, (uint32_t)i))); /* bit-exact by definition */
    ck_assert(u[i] >= 0 && u[i] < 1);
    mean += u[i] / 10000;
  }
  ck_assert_msg(fabs(mean - 0.5) < 0.01, "mean %g", mean);
  step = 6; /* another step: other numbers */
  g->nodes[ctr.id].data = memcpy(g->nodes[ctr.id].data, &step, 4);
  float *u2 = eval(g, ir_value(ir_add(g, IR_OP_RANDOM, 1, &ctr.id, &a)));
  int same = 0;
  for (int i = 0; i < 10000; i++) same += u[i] == u2[i];
  ck_assert_int_lt(same, 10);
  a.win.dist = 1;
  a.f[0] = 2, a.f[1] = 3;
  float *nv = eval(g, ir_value(ir_add(g, IR_OP_RANDOM, 1, &ctr.id, &a)));
  double m = 0, v = 0;
  for (int i = 0; i < 10000; i++) m += nv[i] / 10000.0;
  for (int i = 0; i < 10000; i++) v += (nv[i] - m) * (nv[i] - m) / 10000.0;
  ck_assert_msg(fabs(m - 2) < 0.1 && fabs(sqrt(v) - 3) < 0.1, "normal mean %g std %g", m, sqrt(v));
  free(u), free(u2), free(nv);
  /* dropout through the public builder: a state counter and its increment */
  gc_value x = gc_input(g, "x", GC_F32, gc_shape1(8));
  gc_value d = gc_dropout(g, x, 0.25f, 1);
  ck_assert(gc_value_ok(d));
  ck_assert(gc_value_ok(gc_find(g, "rng.step")));
  ck_assert_int_eq(gc_value_dtype(g, gc_find(g, "rng.step")), GC_I32);
  gc_graph_free(g);
}
END_TEST

START_TEST(test_batched_matmul) {
  gc_graph *g = gc_graph_new();
  float a[8] = {1, 2, 3, 4, 5, 6, 7, 8}, b[4] = {1, 0, 1, 1};
  gc_value av = cf(g, gc_shape3(2, 2, 2), a);
  gc_value y = gc_matmul(g, av, cf(g, gc_shape2(2, 2), b));
  ck_assert(ir_shape_eq(gc_value_shape(g, y), gc_shape3(2, 2, 2)));
  float *r = eval(g, y);
  near(r, (float[]){3, 2, 7, 4, 11, 6, 15, 8}, 8, 0);
  free(r);
  r = eval(g, gc_matmul(g, av, av));
  near(r, (float[]){7, 10, 15, 22, 67, 78, 91, 106}, 8, 0);
  free(r);
  /* mismatched batch axes are an error naming both shapes */
  gc_matmul(g, av, cf(g, gc_shape3(3, 2, 2), (float[12]){0}));
  ck_assert_int_eq(gc_graph_status(g), GC_ERR_SHAPE);
  ck_assert_msg(strstr(gc_graph_errmsg(g), "[2, 2, 2]") && strstr(gc_graph_errmsg(g), "[3, 2, 2]"),
                "%s", gc_graph_errmsg(g));
  gc_graph_free(g);
}
END_TEST

/* The input gradient's optional third input, the weight tap-major
 * ([KH KW, C, O]: what the autodiff adds for the OpenCL GEMM), must match
 * the weight; the reference reads the weight and gives the same result. */
START_TEST(test_conv_grad_input_tap_major) {
  enum { N = 2, C = 3, H = 7, W = 6, O = 4, K = 3 };
  gc_graph *g = gc_graph_new();
  float *x = rand_buf(N * C * H * W), *w = rand_buf(O * C * K * K), wt[K * K * C * O];
  for (int o = 0; o < O; o++)
    for (int c = 0; c < C; c++)
      for (int t = 0; t < K * K; t++) wt[(t * C + c) * O + o] = w[(o * C + c) * K * K + t];
  gc_conv2d_opts opts = copts(1, 1, 1, 1, 1, 1, 1, 1, 1);
  gc_value wv = cf(g, gc_shape4(O, C, K, K), w);
  gc_value y = gc_conv2d(g, cf(g, gc_shape4(N, C, H, W), x), wv, &opts);
  gc_shape ys = gc_value_shape(g, y);
  float *dy = rand_buf(gc_shape_numel(ys));
  ir_attr a = g->nodes[y.id].attr;
  a.shape = gc_shape4(N, C, H, W);
  int32_t in[3] = {cf(g, ys, dy).id, wv.id, cf(g, gc_shape3(K * K, C, O), wt).id};
  float *two = eval(g, ir_value(ir_add(g, IR_OP_CONV2D_GRAD_INPUT, 2, in, &a)));
  float *three = eval(g, ir_value(ir_add(g, IR_OP_CONV2D_GRAD_INPUT, 3, in, &a)));
  near(three, two, N * C * H * W, 0);
  /* w merely reshaped ([O, C, KH KW]) is not tap-major */
  in[2] = cf(g, gc_shape3(O, C, K * K), w).id;
  ir_add(g, IR_OP_CONV2D_GRAD_INPUT, 3, in, &a);
  ck_assert_int_eq(gc_graph_status(g), GC_ERR_SHAPE);
  ck_assert_msg(strstr(gc_graph_errmsg(g), "tap-major") &&
                    strstr(gc_graph_errmsg(g), "[4, 3, 9]") &&
                    strstr(gc_graph_errmsg(g), "[4, 3, 3, 3]"),
                "%s", gc_graph_errmsg(g));
  free(x), free(w), free(dy), free(two), free(three);
  gc_graph_free(g);
}
END_TEST

START_TEST(test_shape_errors) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape4(2, 6, 8, 8));
  gc_value w = gc_input(g, "w", GC_F32, gc_shape4(4, 4, 3, 3));
  gc_conv2d_opts o = copts(1, 1, 0, 0, 0, 0, 1, 1, 1);
  ck_assert(!gc_value_ok(gc_conv2d(g, x, w, &o)));
  ck_assert_int_eq(gc_graph_status(g), GC_ERR_SHAPE);
  ck_assert_msg(strstr(gc_graph_errmsg(g), "conv2d") &&
                    strstr(gc_graph_errmsg(g), "[2, 6, 8, 8]") &&
                    strstr(gc_graph_errmsg(g), "[4, 4, 3, 3]"),
                "%s", gc_graph_errmsg(g));
  gc_graph_free(g);
  g = gc_graph_new();
  x = gc_input(g, "x", GC_F32, gc_shape4(2, 6, 8, 8));
  /* kernel 2, stride 2, top pad 2: the first window row is all padding */
  gc_pool2d_opts p = {{2, 2}, {0, 0}, {2, 0, 0, 0}, {0, 0}, 0, 0};
  ck_assert(!gc_value_ok(gc_maxpool2d(g, x, &p)));
  ck_assert_msg(strstr(gc_graph_errmsg(g), "maxpool2d") && strstr(gc_graph_errmsg(g), "padding"),
                "%s", gc_graph_errmsg(g));
  gc_graph_free(g);
  /* 3-D: a weight of another rank, named with both shapes */
  g = gc_graph_new();
  x = gc_input(g, "x", GC_F32, shape5(2, 3, 4, 5, 6));
  w = gc_input(g, "w", GC_F32, gc_shape4(4, 3, 3, 3));
  ck_assert(!gc_value_ok(gc_conv3d(g, x, w, NULL)));
  ck_assert_msg(strstr(gc_graph_errmsg(g), "conv2d") &&
                    strstr(gc_graph_errmsg(g), "[2, 3, 4, 5, 6]") &&
                    strstr(gc_graph_errmsg(g), "[4, 3, 3, 3]"),
                "%s", gc_graph_errmsg(g));
  gc_graph_free(g);
  /* the 2-D builders want 4-D images, the 3-D ones 5-D */
  g = gc_graph_new();
  x = gc_input(g, "x", GC_F32, shape5(2, 3, 4, 5, 6));
  ck_assert(!gc_value_ok(gc_maxpool2d(g, x, &p)));
  ck_assert_msg(
      strstr(gc_graph_errmsg(g), "maxpool2d") && strstr(gc_graph_errmsg(g), "[2, 3, 4, 5, 6]"),
      "%s", gc_graph_errmsg(g));
  gc_graph_free(g);
  g = gc_graph_new();
  x = gc_input(g, "x", GC_F32, gc_shape4(2, 6, 8, 8));
  gc_pool3d_opts p3 = {{2, 2, 2}, {0, 0, 0}, {0, 0, 0, 0, 0, 0}, {0, 0, 0}, 0, 0};
  ck_assert(!gc_value_ok(gc_avgpool3d(g, x, &p3)));
  ck_assert_msg(strstr(gc_graph_errmsg(g), "avgpool3d") && strstr(gc_graph_errmsg(g), "5-D"), "%s",
                gc_graph_errmsg(g));
  gc_graph_free(g);
  /* a depth window on a 4-D image is refused, not ignored */
  g = gc_graph_new();
  x = gc_input(g, "x", GC_F32, gc_shape4(2, 6, 8, 8));
  ir_attr a = {0};
  a.win.kh = a.win.kw = 2, a.win.kd = 2;
  ck_assert_int_lt(ir_add(g, IR_OP_MAXPOOL2D, 1, &x.id, &a), 0);
  ck_assert_msg(strstr(gc_graph_errmsg(g), "maxpool2d") && strstr(gc_graph_errmsg(g), "depth") &&
                    strstr(gc_graph_errmsg(g), "[2, 6, 8, 8]"),
                "%s", gc_graph_errmsg(g));
  gc_graph_free(g);
}
END_TEST

/* Every op of tests/nn_ops.h is evaluated by some test above: checked by
 * name against the ops these tests build. */
START_TEST(test_every_nn_op_covered) {
  const ir_op covered[] = {IR_OP_CONV2D,
                           IR_OP_CONV2D_GRAD_INPUT,
                           IR_OP_CONV2D_GRAD_WEIGHT,
                           IR_OP_MAXPOOL2D,
                           IR_OP_MAXPOOL2D_GRAD,
                           IR_OP_MAXPOOL2D_INDICES,
                           IR_OP_AVGPOOL2D,
                           IR_OP_AVGPOOL2D_GRAD,
                           IR_OP_RESIZE_BILINEAR,
                           IR_OP_RESIZE_BILINEAR_GRAD,
                           IR_OP_RANDOM};
  for (int i = 0; i < NN_NOPS; i++) {
    bool seen = false;
    for (size_t k = 0; k < sizeof covered / sizeof covered[0]; k++) seen |= covered[k] == nn_ops[i];
    ck_assert_msg(seen, "op '%s' has no reference test case", ir_ops[nn_ops[i]].name);
    ck_assert(ref_kernels[nn_ops[i]] != NULL);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("ref_nn_ops");
  TCase *tc = tcase_create("ops");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_conv2d_naive);
  tcase_add_test(tc, test_conv_grad_input_tap_major);
  tcase_add_test(tc, test_conv2d_hand);
  tcase_add_test(tc, test_pooling_hand);
  tcase_add_test(tc, test_conv3d_naive);
  tcase_add_test(tc, test_conv3d_hand);
  tcase_add_test(tc, test_pooling3d_hand);
  tcase_add_test(tc, test_pooling3d_slices);
  tcase_add_test(tc, test_maxpool_indices);
  tcase_add_test(tc, test_resize_hand);
  tcase_add_test(tc, test_random);
  tcase_add_test(tc, test_batched_matmul);
  tcase_add_test(tc, test_shape_errors);
  tcase_add_test(tc, test_every_nn_op_covered);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
