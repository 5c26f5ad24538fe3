/* test_cl_nn_ops.c — Check suite: the neural-network ops (conv2d and its
 * gradients, conv_transpose2d, conv1d, pooling, their 3-D forms (conv3d,
 * conv_transpose3d, 3-D pooling) and max-pooling indices, upsampling,
 * batched matmul, normalizations, random numbers and dropout, the extra
 * losses) through the
 * whole pipeline on OpenCL (PoCL here) against the reference interpreter,
 * on odd shapes (N = 3, C = 5, 11 x 13 images, 3x3 and 5x3 kernels, stride
 * 2, asymmetric padding, dilation 2, groups 1 and 5).
 *
 * Each case builds one graph whose inputs are parameters, so that the
 * gradients of loss = sum_k sum(out_k * R_k) (R_k fixed random) with
 * respect to every parameter are outputs too: the backward kernels are
 * checked along with the forward ones. Each graph is compiled on "ref"
 * (the oracle) and on OpenCL, and with GRAPHC_TEST_UNFUSED=1 (the long
 * run test_cl_nn_ops_unfused: tests/variants.h) on OpenCL with no_fuse
 * too. Checks: OpenCL vs ref within |got - want| <= tol (1 + |want|)
 * (1e-4 unless a case says otherwise), no_fuse vs fused within 1e-5 (in
 * the long run), all values finite, plan_check,
 * and the sentinels after every buffer (GRAPHC_DEBUG_SENTINELS=1). A
 * coverage test fails when an op of tests/nn_ops.h is used by no case. */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/opencl/cl_debug.h"
#include "nn_ops.h"
#include "variants.h"
#include "passes/passes.h"

static const char *test_device(void) {
  const char *d = getenv("GRAPHC_DEVICE");
  return d && *d && strcmp(d, "ref") ? d : "pocl";
}

#define MAXV 64
#define TOL 1e-4
#define TOL_FUSE 1e-5

typedef struct tensor_io {
  char name[64];
  gc_dtype t;
  int64_t numel;
  double tol;
} tensor_io;

typedef struct harness {
  gc_graph *g;
  uint64_t rng;
  tensor_io out[MAXV], watch[MAXV];
  int nout, nwatch, nparams;
  gc_value loss; /* running sum of the outputs' loss terms */
  int runs;
  bool no_grads;
} harness;

typedef struct results {
  void *out[MAXV], *watch[MAXV];
} results;

static double urand(harness *h) {
  h->rng = h->rng * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(h->rng >> 11) / 9007199254740992.0;
}

static void h_init(harness *h) {
  memset(h, 0, sizeof *h);
  h->g = gc_graph_new();
  h->rng = 4242;
  h->runs = 2;
  h->loss.id = -1;
}

/* A parameter of values uniform in [lo, hi). */
static gc_value prm(harness *h, gc_shape s, double lo, double hi) {
  char name[32];
  snprintf(name, sizeof name, "p%d", h->nparams++);
  gc_value p = gc_param(h->g, name, s, GC_ZEROS);
  ck_assert_msg(gc_value_ok(p), "%s", gc_graph_errmsg(h->g));
  float *d = h->g->nodes[p.id].data;
  for (int64_t i = 0; i < gc_shape_numel(s); i++) d[i] = (float)(lo + (hi - lo) * urand(h));
  return p;
}

static void add_out(harness *h, gc_value v, double tol, const char *name) {
  ck_assert_int_lt(h->nout, MAXV);
  tensor_io *io = &h->out[h->nout++];
  snprintf(io->name, sizeof io->name, "%s", name);
  io->t = gc_value_dtype(h->g, v);
  io->numel = gc_shape_numel(gc_value_shape(h->g, v));
  io->tol = tol;
  gc_output(h->g, v, name);
}

/* Marks v as an output and adds sum(v * R) to the loss. */
static gc_value out(harness *h, gc_value v, double tol) {
  ck_assert_msg(gc_value_ok(v), "graph error: %s", gc_graph_errmsg(h->g));
  char name[32];
  snprintf(name, sizeof name, "o%d", h->nout);
  add_out(h, v, tol, name);
  gc_shape s = gc_value_shape(h->g, v);
  int64_t n = gc_shape_numel(s);
  float *r = malloc(sizeof *r * (size_t)n);
  for (int64_t i = 0; i < n; i++) r[i] = (float)(2 * urand(h) - 1);
  gc_value term = gc_sum(h->g, gc_mul(h->g, v, gc_constant(h->g, GC_F32, s, r)), NULL, 0, 0);
  free(r);
  h->loss = h->loss.id < 0 ? term : gc_add(h->g, h->loss, term);
  return v;
}

static void watch(harness *h, const char *name, double tol) {
  gc_value v = gc_find(h->g, name);
  ck_assert_msg(gc_value_ok(v), "no node %s", name);
  tensor_io *io = &h->watch[h->nwatch++];
  snprintf(io->name, sizeof io->name, "%s", name);
  io->t = gc_value_dtype(h->g, v);
  io->numel = gc_shape_numel(gc_value_shape(h->g, v));
  io->tol = tol;
}

/* The loss and the gradient of every parameter it reaches, as outputs. */
static void finish(harness *h, double tol) {
  if (h->no_grads || h->loss.id < 0) return;
  gc_set_loss(h->g, h->loss);
  ck_assert_msg(gc_differentiate(h->g) == GC_OK, "%s", gc_last_error());
  int n = h->g->n;
  for (int i = 0; i < n; i++) {
    if (h->g->nodes[i].op != IR_OP_PARAM) continue;
    gc_value gr = gc_grad(h->g, ir_value(i));
    if (!gc_value_ok(gr)) continue;
    char name[64];
    snprintf(name, sizeof name, "d_%s", h->g->nodes[i].name);
    add_out(h, gr, tol, name);
  }
}

static size_t io_bytes(const tensor_io *io) { return (size_t)io->numel * gc_dtype_size(io->t); }

static double elem(const void *p, gc_dtype t, int64_t i) {
  return t == GC_I32 ? (double)((const int32_t *)p)[i] : (double)((const float *)p)[i];
}

static void run_on(harness *h, gc_device *dev, const gc_compile_options *o, results *r,
                   const char *what) {
  ck_assert_msg(gc_graph_status(h->g) == GC_OK, "graph error: %s", gc_graph_errmsg(h->g));
  gc_program *p = NULL;
  ck_assert_msg(gc_compile(h->g, dev, o, &p) == GC_OK, "%s: compile: %s", what, gc_last_error());
  ck_assert_msg(plan_check(p->g, &p->fuse, &p->mem) == GC_OK, "%s: plan_check: %s", what,
                gc_last_error());
  gc_session *s = NULL;
  ck_assert_msg(gc_session_new(p, &s) == GC_OK, "%s: session: %s", what, gc_last_error());
  for (int k = 0; k < h->runs; k++)
    ck_assert_msg(gc_session_run(s) == GC_OK, "%s: run: %s", what, gc_last_error());
  for (int i = 0; i < h->nout; i++) {
    size_t b = io_bytes(&h->out[i]);
    r->out[i] = malloc(b ? b : 1);
    ck_assert_msg(gc_session_get_output(s, h->out[i].name, r->out[i], b) == GC_OK,
                  "%s: get_output %s: %s", what, h->out[i].name, gc_last_error());
  }
  for (int i = 0; i < h->nwatch; i++) {
    size_t b = io_bytes(&h->watch[i]);
    r->watch[i] = malloc(b ? b : 1);
    ck_assert_msg(gc_session_get_param(s, h->watch[i].name, r->watch[i], b) == GC_OK,
                  "%s: get_param %s: %s", what, h->watch[i].name, gc_last_error());
  }
  if (!gc_device_is_reference(dev))
    ck_assert_msg(cl_session_check_sentinels(s) == GC_OK, "%s: %s", what, gc_last_error());
  gc_session_free(s);
  gc_program_free(p);
}

static void results_free(harness *h, results *r) {
  for (int i = 0; i < h->nout; i++) free(r->out[i]);
  for (int i = 0; i < h->nwatch; i++) free(r->watch[i]);
}

static void compare_set(const tensor_io *ios, int n, void *const *got, void *const *want,
                        double tol, const char *what) {
  for (int i = 0; i < n; i++) {
    const tensor_io *io = &ios[i];
    double t = tol < 0 ? io->tol : tol;
    for (int64_t k = 0; k < io->numel; k++) {
      double a = elem(got[i], io->t, k), b = elem(want[i], io->t, k);
      ck_assert_msg(isfinite(b), "%s: %s[%lld] is %g on the reference", what, io->name,
                    (long long)k, b);
      ck_assert_msg(isfinite(a), "%s: %s[%lld] is %g", what, io->name, (long long)k, a);
      ck_assert_msg(fabs(a - b) <= t * (1.0 + fabs(b)),
                    "%s: %s[%lld] = %.9g, want %.9g (|diff| %.3g > tol %.1g x (1 + |want|))", what,
                    io->name, (long long)k, a, b, fabs(a - b), t);
    }
  }
}

static void check_case(harness *h, gc_device *ref, gc_device *cl) {
  ck_assert_int_gt(h->nout + h->nwatch, 0);
  results r_ref = {0}, r_cl = {0}, r_nofuse = {0};
  gc_compile_options nofuse = {0};
  nofuse.no_fuse = 1;
  run_on(h, ref, NULL, &r_ref, "ref");
  run_on(h, cl, NULL, &r_cl, "opencl");
  compare_set(h->out, h->nout, r_cl.out, r_ref.out, -1, "opencl vs ref");
  compare_set(h->watch, h->nwatch, r_cl.watch, r_ref.watch, -1, "opencl vs ref");
  if (test_unfused_variants()) {
    run_on(h, cl, &nofuse, &r_nofuse, "opencl no_fuse");
    compare_set(h->out, h->nout, r_nofuse.out, r_cl.out, TOL_FUSE, "no_fuse vs fused");
    compare_set(h->watch, h->nwatch, r_nofuse.watch, r_cl.watch, TOL_FUSE, "no_fuse vs fused");
  }
  results_free(h, &r_ref);
  results_free(h, &r_cl);
  results_free(h, &r_nofuse);
}

/* --------------------------------------------------------------- cases */

static gc_conv2d_opts conv_opts(int s, int pt, int pl, int pb, int pr, int d, int groups) {
  gc_conv2d_opts o = {{0}};
  o.stride[0] = o.stride[1] = s;
  o.padding[0] = pt, o.padding[1] = pl, o.padding[2] = pb, o.padding[3] = pr;
  o.dilation[0] = o.dilation[1] = d;
  o.groups = groups;
  return o;
}

/* x [3, 5, 11, 13] with several kernels, strides, paddings, dilations. */
static void case_conv2d(harness *h) {
  gc_value x = prm(h, gc_shape4(3, 5, 11, 13), -1, 1);
  gc_value w33 = prm(h, gc_shape4(7, 5, 3, 3), -0.5, 0.5);
  gc_value w53 = prm(h, gc_shape4(7, 5, 5, 3), -0.5, 0.5);
  gc_conv2d_opts o1 = conv_opts(2, 1, 0, 2, 1, 1, 1);
  out(h, gc_conv2d(h->g, x, w33, &o1), TOL);
  gc_conv2d_opts o2 = conv_opts(1, 2, 1, 2, 1, 1, 1);
  out(h, gc_conv2d(h->g, x, w53, &o2), TOL);
  gc_conv2d_opts o3 = conv_opts(1, 0, 1, 1, 0, 2, 1);
  out(h, gc_conv2d(h->g, x, w33, &o3), TOL);
  gc_conv2d_opts o4 = conv_opts(2, 1, 2, 0, 1, 2, 1);
  out(h, gc_conv2d(h->g, x, w53, &o4), TOL);
  /* unpadded, strided and dilated: the forward and the weight gradient
   * take the im2row form (cl_conv.c) too, not only the input gradient */
  gc_conv2d_opts o5 = conv_opts(2, 0, 0, 0, 0, 2, 1);
  out(h, gc_conv2d(h->g, x, w53, &o5), TOL);
  finish(h, TOL);
}

/* groups 5 (depthwise, 2 outputs per channel) and 5 with 2 channels per
 * group, with epilogues that read the conv (the direct kernels'). */
static void case_conv2d_groups(harness *h) {
  gc_value x = prm(h, gc_shape4(3, 5, 11, 13), -1, 1);
  gc_value wd = prm(h, gc_shape4(10, 1, 3, 3), -0.5, 0.5);
  gc_conv2d_opts o = conv_opts(2, 1, 1, 1, 0, 1, 5);
  gc_value y = gc_conv2d(h->g, x, wd, &o);
  out(h, gc_tanh(h->g, y), TOL);
  gc_value x2 = prm(h, gc_shape4(2, 10, 9, 20), -1, 1);
  gc_value w2 = prm(h, gc_shape4(15, 2, 5, 3), -0.5, 0.5);
  gc_conv2d_opts o2 = conv_opts(1, 2, 0, 1, 2, 2, 5);
  out(h, gc_conv2d(h->g, x2, w2, &o2), TOL);
  /* a layer: bias + relu epilogue */
  out(h, gc_relu(h->g, gc_conv2d_layer(h->g, x, 4, 3, 3, NULL, GC_GLOROT, "c1")), TOL);
  /* the direct kernels' epilogues: a per-channel bias and ReLU after the
   * depthwise conv, and the ReLU mask after a grouped input gradient */
  gc_value bd = prm(h, gc_shape4(1, 10, 1, 1), -0.5, 0.5);
  out(h, gc_relu(h->g, gc_add(h->g, gc_conv2d(h->g, x, wd, &o), bd)), TOL);
  gc_value xr = gc_relu(h->g, prm(h, gc_shape4(2, 10, 9, 20), -1, 1));
  out(h, gc_conv2d(h->g, xr, w2, &o2), TOL);
  finish(h, TOL);
}

static void case_conv_transpose(harness *h) {
  gc_value x = prm(h, gc_shape4(3, 4, 5, 7), -1, 1);
  gc_value w = prm(h, gc_shape4(4, 3, 3, 3), -0.5, 0.5);
  gc_conv2d_opts o = conv_opts(2, 1, 1, 1, 1, 1, 1);
  o.output_padding[0] = 1;
  out(h, gc_conv_transpose2d(h->g, x, w, &o), TOL);
  /* a bias and ReLU as its epilogue (the input gradient's GEMM stores) */
  gc_value b = prm(h, gc_shape4(1, 3, 1, 1), -0.5, 0.5);
  gc_conv2d_opts ob = conv_opts(1, 0, 1, 2, 0, 1, 1);
  out(h, gc_relu(h->g, gc_add(h->g, gc_conv_transpose2d(h->g, x, w, &ob), b)), TOL);
  gc_value w2 = prm(h, gc_shape4(4, 3, 2, 3), -0.5, 0.5);
  gc_conv2d_opts o2 = conv_opts(3, 0, 1, 1, 0, 1, 2);
  o2.output_padding[1] = 2;
  out(h, gc_conv_transpose2d(h->g, x, w2, &o2), TOL);
  /* conv1d too */
  gc_value x1 = prm(h, gc_shape3(3, 4, 17), -1, 1);
  gc_value w1 = prm(h, gc_shape3(6, 2, 5), -0.5, 0.5);
  gc_conv2d_opts o1 = conv_opts(2, 0, 2, 0, 1, 1, 2);
  out(h, gc_conv1d(h->g, x1, w1, &o1), TOL);
  finish(h, TOL);
}

/* LeNet-like shapes, big enough for the implicit-GEMM paths the small
 * cases miss: several tiles per work-item (one input channel, K = 9),
 * float8 strips with 8-row tiles (a weight gradient of 9 columns), a
 * one-row input gradient (C = 1), whole-strip vector stores, and padding
 * ("same") on a 16 x 8 x 3 x 3 layer. */
static void case_conv2d_lenet(harness *h) {
  gc_value x = prm(h, gc_shape4(16, 1, 28, 28), -1, 1);
  gc_value w1 = prm(h, gc_shape4(8, 1, 3, 3), -0.5, 0.5);
  gc_value w2 = prm(h, gc_shape4(16, 8, 3, 3), -0.5, 0.5);
  gc_value y1 = gc_relu(h->g, gc_conv2d(h->g, x, w1, NULL));
  out(h, y1, TOL);
  out(h, gc_conv2d(h->g, y1, w2, NULL), TOL);
  gc_conv2d_opts same = conv_opts(1, 1, 1, 1, 1, 1, 1);
  out(h, gc_conv2d(h->g, y1, w2, &same), TOL);
  finish(h, TOL);
}

/* Double backward: the weight gradient node itself, differentiated. */
static void case_conv_grad_weight(harness *h) {
  gc_value x = prm(h, gc_shape4(2, 3, 9, 8), -1, 1);
  gc_value dy = prm(h, gc_shape4(2, 4, 4, 4), -1, 1);
  ir_attr a = {0};
  a.win.sh = a.win.sw = 2;
  a.win.pt = 1, a.win.pl = 0, a.win.pb = 0, a.win.pr = 1;
  a.shape = gc_shape4(4, 3, 3, 3);
  int32_t in[2] = {x.id, dy.id};
  gc_value dw = ir_value(ir_add(h->g, IR_OP_CONV2D_GRAD_WEIGHT, 2, in, &a));
  out(h, dw, TOL);
  /* and with an epilogue (its GEMM's stores) */
  gc_value bw = prm(h, gc_shape4(4, 3, 1, 1), -0.5, 0.5);
  out(h, gc_tanh(h->g, gc_add(h->g, gc_mul(h->g, dw, gc_scalar(h->g, 0.5f)), bw)), TOL);
  finish(h, TOL);
}

static gc_pool2d_opts pool_opts(int k0, int k1, int s, int pt, int pl, int pb, int pr, int ceil,
                                int cip) {
  gc_pool2d_opts o = {{0}};
  o.kernel[0] = k0, o.kernel[1] = k1;
  o.stride[0] = o.stride[1] = s;
  o.padding[0] = pt, o.padding[1] = pl, o.padding[2] = pb, o.padding[3] = pr;
  o.ceil_mode = ceil;
  o.count_include_pad = cip;
  return o;
}

/* maxpool2d_grad itself on x's pooling by o, from its indices: plain, and
 * masked by step(y) of a random y (about half the windows masked) */
static void pool_grad_nodes(harness *h, gc_value x, const gc_pool2d_opts *o) {
  gc_value idx = gc_maxpool2d_indices(h->g, x, o, 0);
  ck_assert_msg(gc_value_ok(idx), "%s", gc_graph_errmsg(h->g));
  gc_shape ys = gc_value_shape(h->g, idx);
  gc_value dy = prm(h, ys, -1, 1), y = prm(h, ys, -1, 1);
  ir_attr a = h->g->nodes[idx.id].attr;
  a.mode = 0;
  a.shape = gc_value_shape(h->g, x);
  int32_t in[3] = {idx.id, dy.id, y.id};
  out(h, ir_value(ir_add(h->g, IR_OP_MAXPOOL2D_GRAD, 2, in, &a)), TOL);
  out(h, ir_value(ir_add(h->g, IR_OP_MAXPOOL2D_GRAD, 3, in, &a)), TOL);
}

static void case_maxpool(harness *h) {
  gc_value x = prm(h, gc_shape4(3, 5, 11, 13), -1, 1);
  gc_pool2d_opts o1 = pool_opts(2, 2, 2, 0, 0, 0, 0, 0, 0);
  out(h, gc_maxpool2d(h->g, x, &o1), TOL);
  gc_pool2d_opts o2 = pool_opts(3, 3, 2, 1, 1, 1, 0, 1, 0);
  out(h, gc_maxpool2d(h->g, x, &o2), TOL);
  gc_pool2d_opts o3 = pool_opts(3, 2, 1, 0, 1, 1, 0, 0, 0);
  o3.dilation[0] = 2;
  out(h, gc_maxpool2d(h->g, x, &o3), TOL);
  /* pads over half the kernel, as ONNX allows */
  gc_pool2d_opts o4 = pool_opts(3, 3, 1, 2, 2, 2, 1, 0, 0);
  out(h, gc_maxpool2d(h->g, x, &o4), TOL);
  /* windows that tile the input (the gradient's fast path), the last
   * partial ones kept by ceil_mode */
  gc_pool2d_opts o5 = pool_opts(2, 3, 0, 0, 0, 0, 0, 1, 0);
  o5.stride[0] = 2, o5.stride[1] = 3;
  out(h, gc_maxpool2d(h->g, x, &o5), TOL);
  out(h, gc_global_maxpool2d(h->g, x), TOL);
  /* rows of 8 windows or more take the CPU vector kernel, whose last 8
   * are shifted back; an odd row and an odd column get no window */
  gc_value x2 = prm(h, gc_shape4(2, 3, 17, 20), -1, 1);
  out(h, gc_maxpool2d(h->g, x2, &o1), TOL);
  gc_value x3 = prm(h, gc_shape4(2, 2, 6, 37), -1, 1);
  out(h, gc_maxpool2d(h->g, x3, &o1), TOL);
  gc_value x4 = prm(h, gc_shape4(2, 2, 11, 11), -1, 1); /* 5 windows: 4 at a time */
  out(h, gc_maxpool2d(h->g, x4, &o1), TOL);
  /* the gradient node itself, from the indices, on ReLU's zeros: ties go
   * to the first maximum */
  gc_value xt = gc_relu(h->g, prm(h, gc_shape4(2, 2, 7, 36), -1, 1));
  pool_grad_nodes(h, xt, &o1);
  /* the scalar forms: windows that tile (a cut last cell), overlapping */
  pool_grad_nodes(h, xt, &(gc_pool2d_opts){{3, 3}, {3, 3}, {0, 0, 0, 0}, {0, 0}, 0, 0});
  pool_grad_nodes(h, xt, &(gc_pool2d_opts){{3, 3}, {2, 2}, {1, 1, 1, 1}, {0, 0}, 0, 0});
  /* NaN wins, the first one where a window has two (outputs read as -5) */
  gc_value xn = prm(h, gc_shape4(1, 2, 4, 20), -1, 1);
  float *xd = h->g->nodes[xn.id].data;
  xd[1] = xd[20 + 4] = xd[9] = xd[20 + 8] = xd[80 + 2 * 20 + 15] = NAN;
  gc_value yn = gc_maxpool2d(h->g, xn, &o1);
  out(h, gc_where(h->g, gc_greater_equal(h->g, yn, yn), yn, gc_scalar(h->g, -5.0f)), TOL);
  pool_grad_nodes(h, xn, &o1);
  /* an integer epilogue (an ONNX uint8 pooling casts back), in the vector
   * form and a scalar one */
  add_out(h,
          gc_cast(h->g, gc_mul(h->g, gc_maxpool2d(h->g, x2, &o1), gc_scalar(h->g, 20.0f)), GC_I32),
          0, "pool_i32_vector");
  add_out(h,
          gc_cast(h->g, gc_mul(h->g, gc_maxpool2d(h->g, x, &o2), gc_scalar(h->g, 20.0f)), GC_I32),
          0, "pool_i32_scalar");
  finish(h, TOL);
}

static void case_avgpool(harness *h) {
  gc_value x = prm(h, gc_shape4(3, 5, 11, 13), -1, 1);
  gc_pool2d_opts o1 = pool_opts(2, 2, 2, 0, 0, 0, 0, 0, 0);
  out(h, gc_avgpool2d(h->g, x, &o1), TOL);
  gc_pool2d_opts o2 = pool_opts(3, 3, 2, 1, 1, 1, 0, 1, 0);
  out(h, gc_avgpool2d(h->g, x, &o2), TOL);
  gc_pool2d_opts o3 = pool_opts(3, 3, 2, 1, 1, 1, 1, 1, 1);
  out(h, gc_avgpool2d(h->g, x, &o3), TOL);
  gc_pool2d_opts o4 = pool_opts(4, 3, 3, 2, 0, 1, 1, 0, 1);
  out(h, gc_avgpool2d(h->g, x, &o4), TOL);
  gc_pool2d_opts o5 = pool_opts(3, 3, 2, 2, 2, 2, 2, 0, 1);
  out(h, gc_avgpool2d(h->g, x, &o5), TOL);
  gc_pool2d_opts o6 = pool_opts(3, 3, 1, 2, 1, 2, 2, 0, 0);
  out(h, gc_avgpool2d(h->g, x, &o6), TOL);
  out(h, gc_global_avgpool2d(h->g, x), TOL);
  finish(h, TOL);
}

/* The avgpool gradient op differentiated (second order). */
static void case_avgpool_grad(harness *h) {
  gc_value dy = prm(h, gc_shape4(2, 3, 4, 5), -1, 1);
  ir_attr a = {0};
  a.win.kh = a.win.kw = 3;
  a.win.sh = a.win.sw = 2;
  a.win.pt = a.win.pl = a.win.pb = a.win.pr = 1;
  a.shape = gc_shape4(2, 3, 7, 9);
  out(h, ir_value(ir_add(h->g, IR_OP_AVGPOOL2D_GRAD, 1, &dy.id, &a)), TOL);
  finish(h, TOL);
}

/* ---- 3-D (NCDHW): the direct kernels with a depth axis ---- */

static gc_shape shape5(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e) {
  const int64_t v[5] = {a, b, c, d, e};
  return gc_shapen(5, v);
}

/* stride s = (sd, sh, sw), pads p = (front, top, left, back, bottom,
 * right), dilation d, groups */
static gc_conv3d_opts conv3_opts(const int s[3], const int p[6], const int d[3], int groups) {
  gc_conv3d_opts o = {{0}};
  memcpy(o.stride, s, sizeof o.stride);
  memcpy(o.padding, p, sizeof o.padding);
  memcpy(o.dilation, d, sizeof o.dilation);
  o.groups = groups;
  return o;
}

static void case_conv3d(harness *h) {
  gc_value x = prm(h, shape5(2, 5, 5, 7, 6), -1, 1);
  gc_value w = prm(h, shape5(4, 5, 3, 3, 2), -0.5, 0.5);
  gc_conv3d_opts o1 =
      conv3_opts((int[3]){2, 1, 2}, (int[6]){1, 0, 1, 0, 1, 0}, (int[3]){1, 1, 1}, 1);
  out(h, gc_conv3d(h->g, x, w, &o1), TOL);
  gc_conv3d_opts o2 =
      conv3_opts((int[3]){1, 2, 1}, (int[6]){2, 1, 0, 1, 2, 1}, (int[3]){2, 1, 2}, 1);
  out(h, gc_conv3d(h->g, x, w, &o2), TOL);
  /* grouped, with an epilogue */
  gc_value x2 = prm(h, shape5(1, 6, 4, 5, 7), -1, 1);
  gc_value w2 = prm(h, shape5(9, 2, 2, 3, 3), -0.5, 0.5);
  gc_conv3d_opts o3 =
      conv3_opts((int[3]){1, 1, 2}, (int[6]){0, 1, 1, 1, 1, 0}, (int[3]){2, 1, 1}, 3);
  out(h, gc_relu(h->g, gc_conv3d(h->g, x2, w2, &o3)), TOL);
  finish(h, TOL);
}

static void case_conv_transpose3d(harness *h) {
  gc_value x = prm(h, shape5(2, 4, 3, 4, 5), -1, 1);
  gc_value w = prm(h, shape5(4, 3, 3, 2, 3), -0.5, 0.5);
  gc_conv3d_opts o =
      conv3_opts((int[3]){2, 1, 2}, (int[6]){1, 0, 1, 1, 1, 0}, (int[3]){1, 1, 1}, 1);
  o.output_padding[0] = 1, o.output_padding[2] = 1;
  out(h, gc_conv_transpose3d(h->g, x, w, &o), TOL);
  gc_value w2 = prm(h, shape5(4, 2, 2, 2, 2), -0.5, 0.5);
  gc_conv3d_opts o2 =
      conv3_opts((int[3]){3, 2, 1}, (int[6]){0, 1, 0, 1, 0, 1}, (int[3]){1, 2, 1}, 2);
  out(h, gc_conv_transpose3d(h->g, x, w2, &o2), TOL);
  finish(h, TOL);
}

static gc_pool3d_opts pool3_opts(const int k[3], const int s[3], const int p[6], int ceil,
                                 int cip) {
  gc_pool3d_opts o = {{0}};
  memcpy(o.kernel, k, sizeof o.kernel);
  memcpy(o.stride, s, sizeof o.stride);
  memcpy(o.padding, p, sizeof o.padding);
  o.ceil_mode = ceil;
  o.count_include_pad = cip;
  return o;
}

static void case_pool3d(harness *h) {
  gc_value x = prm(h, shape5(2, 3, 5, 7, 6), -1, 1);
  gc_pool3d_opts m1 = pool3_opts((int[3]){2, 2, 2}, (int[3]){0, 0, 0}, (int[6]){0}, 0, 0);
  out(h, gc_maxpool3d(h->g, x, &m1), TOL);
  gc_pool3d_opts m2 =
      pool3_opts((int[3]){3, 3, 2}, (int[3]){2, 2, 1}, (int[6]){1, 1, 0, 1, 0, 1}, 1, 0);
  out(h, gc_maxpool3d(h->g, x, &m2), TOL);
  gc_pool3d_opts m3 =
      pool3_opts((int[3]){2, 2, 3}, (int[3]){1, 2, 2}, (int[6]){0, 1, 1, 1, 0, 0}, 0, 0);
  m3.dilation[0] = 2, m3.dilation[2] = 2;
  out(h, gc_maxpool3d(h->g, x, &m3), TOL);
  /* windows that tile the input (the gradient's fast path), the partial
   * last ones kept by ceil_mode */
  gc_pool3d_opts m4 = pool3_opts((int[3]){2, 3, 2}, (int[3]){0, 0, 0}, (int[6]){0}, 1, 0);
  out(h, gc_maxpool3d(h->g, x, &m4), TOL);
  gc_pool3d_opts a1 = pool3_opts((int[3]){2, 2, 2}, (int[3]){0, 0, 0}, (int[6]){0}, 0, 0);
  out(h, gc_avgpool3d(h->g, x, &a1), TOL);
  gc_pool3d_opts a2 =
      pool3_opts((int[3]){3, 3, 3}, (int[3]){2, 2, 2}, (int[6]){1, 1, 1, 1, 0, 1}, 1, 0);
  out(h, gc_avgpool3d(h->g, x, &a2), TOL);
  gc_pool3d_opts a3 =
      pool3_opts((int[3]){3, 2, 3}, (int[3]){2, 1, 3}, (int[6]){1, 0, 2, 0, 1, 1}, 1, 1);
  out(h, gc_avgpool3d(h->g, x, &a3), TOL);
  finish(h, TOL);
}

/* The avgpool gradient op on 5-D tensors, differentiated (second order). */
static void case_avgpool3d_grad(harness *h) {
  gc_value dy = prm(h, shape5(2, 3, 2, 4, 5), -1, 1);
  ir_attr a = {0};
  a.win.kd = 2, a.win.kh = a.win.kw = 3;
  a.win.sd = 2, a.win.sh = a.win.sw = 2;
  a.win.pd1 = 1, a.win.pt = a.win.pl = a.win.pb = a.win.pr = 1;
  a.shape = shape5(2, 3, 3, 7, 9);
  out(h, ir_value(ir_add(h->g, IR_OP_AVGPOOL2D_GRAD, 1, &dy.id, &a)), TOL);
  finish(h, TOL);
}

/* Pooling with fused epilogues (pooling is complex-out-fusable,
 * passes/fuse.c): elementwise work after a pooling op, and the ReLU mask
 * its gradient meets in the backward, run in its kernel's stores, in every
 * kernel form: the 2x2 vector rows (8 wide with a shifted last vector and
 * an odd row and column; 4 wide), the tiles form of the gradient (2x3
 * windows, ceil mode), the window and gather forms (3x3, stride 2,
 * padding), average pooling and 3-D; a pooling result also read elsewhere
 * is stored as well; a broadcast bias reads the plane's channel. The
 * conv -> ReLU -> pool chain is the CNN's: the pooling gradient times the
 * ReLU mask writes over the ReLU's output (passes/plan.c, in place), and
 * without the ReLU the gradient writes over the conv's output where the
 * windows tile it. */
static void case_pool_epilogues(harness *h) {
  gc_value bias = prm(h, gc_shape4(1, 3, 1, 1), -0.5, 0.5);
  gc_pool2d_opts p2 = pool_opts(2, 2, 2, 0, 0, 0, 0, 0, 0);
  gc_value x1 = gc_relu(h->g, prm(h, gc_shape4(2, 3, 17, 20), -1, 1));
  out(h, gc_relu(h->g, gc_add(h->g, gc_maxpool2d(h->g, x1, &p2), bias)), TOL);
  gc_value x2 = gc_relu(h->g, prm(h, gc_shape4(2, 3, 11, 11), -1, 1));
  out(h, gc_tanh(h->g, gc_maxpool2d(h->g, x2, &p2)), TOL);
  gc_pool2d_opts t23 = pool_opts(2, 3, 0, 0, 0, 0, 0, 1, 0);
  t23.stride[0] = 2, t23.stride[1] = 3;
  gc_value x3 = gc_relu(h->g, prm(h, gc_shape4(2, 3, 11, 13), -1, 1));
  out(h, gc_sub(h->g, gc_maxpool2d(h->g, x3, &t23), bias), TOL);
  gc_pool2d_opts w33 = pool_opts(3, 3, 2, 1, 1, 1, 0, 1, 0);
  gc_value x4 = gc_relu(h->g, prm(h, gc_shape4(2, 3, 9, 11), -1, 1));
  gc_value y4 = gc_maxpool2d(h->g, x4, &w33);
  out(h, y4, TOL); /* stored, and read by the epilogue below */
  out(h, gc_mul(h->g, y4, gc_add(h->g, y4, bias)), TOL);
  gc_value x5 = gc_relu(h->g, prm(h, gc_shape4(2, 3, 9, 11), -1, 1));
  out(h, gc_relu(h->g, gc_add(h->g, gc_avgpool2d(h->g, x5, &w33), bias)), TOL);
  gc_value x6 = gc_relu(h->g, prm(h, shape5(2, 3, 5, 7, 6), -1, 1));
  gc_pool3d_opts m3 = pool3_opts((int[3]){2, 2, 2}, (int[3]){0, 0, 0}, (int[6]){0}, 0, 0);
  out(h, gc_add(h->g, gc_maxpool3d(h->g, x6, &m3), gc_scalar(h->g, 1.0f)), TOL);
  out(h, gc_relu(h->g, gc_avgpool3d(h->g, x6, &m3)), TOL);
  gc_value x7 = prm(h, gc_shape4(2, 3, 12, 20), -1, 1);
  gc_value w7 = prm(h, gc_shape4(4, 3, 3, 3), -0.5, 0.5);
  gc_value r7 = gc_relu(h->g, gc_conv2d(h->g, x7, w7, NULL));
  out(h, gc_maxpool2d(h->g, r7, &p2), TOL);
  /* without the ReLU, the gradient alone writes over the conv's output */
  gc_value c8 = gc_conv2d(h->g, prm(h, gc_shape4(2, 3, 12, 20), -1, 1), w7, NULL);
  out(h, gc_maxpool2d(h->g, c8, &p2), TOL);
  /* overlapping windows: there it must not */
  gc_value c9 = gc_conv2d(h->g, prm(h, gc_shape4(2, 3, 11, 13), -1, 1), w7, NULL);
  out(h, gc_maxpool2d(h->g, c9, &w33), TOL);
  finish(h, TOL);
}

/* Max-pooling indices (i32, exact), 2-D and 3-D, row- and column-major:
 * no gradient flows through them. */
static void case_maxpool_indices(harness *h) {
  h->no_grads = true;
  gc_value x = prm(h, gc_shape4(3, 5, 11, 13), -1, 1);
  gc_pool2d_opts o1 = pool_opts(3, 3, 2, 1, 1, 1, 0, 1, 0);
  add_out(h, gc_maxpool2d_indices(h->g, x, &o1, 0), 0, "i0");
  add_out(h, gc_maxpool2d_indices(h->g, x, &o1, 1), 0, "i1");
  gc_pool2d_opts o2 = pool_opts(3, 2, 1, 0, 1, 1, 0, 0, 0);
  o2.dilation[0] = 2;
  add_out(h, gc_maxpool2d_indices(h->g, x, &o2, 0), 0, "i2");
  gc_value x3 = prm(h, shape5(2, 3, 5, 7, 6), -1, 1);
  gc_pool3d_opts m =
      pool3_opts((int[3]){3, 3, 2}, (int[3]){2, 2, 1}, (int[6]){1, 1, 0, 1, 0, 1}, 1, 0);
  add_out(h, gc_maxpool3d_indices(h->g, x3, &m, 0), 0, "i3");
  add_out(h, gc_maxpool3d_indices(h->g, x3, &m, 1), 0, "i4");
  ck_assert_msg(gc_graph_status(h->g) == GC_OK, "%s", gc_graph_errmsg(h->g));
}

static void case_upsample(harness *h) {
  gc_value x = prm(h, gc_shape4(2, 3, 5, 7), -1, 1);
  out(h, gc_upsample_nearest2d(h->g, x, 2, 3), TOL);
  out(h, gc_upsample_bilinear2d(h->g, x, 2, 2, 0), TOL);
  out(h, gc_upsample_bilinear2d(h->g, x, 3, 2, 1), TOL);
  out(h, gc_resize_bilinear2d(h->g, x, 3, 4, 0), TOL);
  out(h, gc_resize_bilinear2d(h->g, x, 4, 11, 1), TOL);
  finish(h, TOL);
}

static void case_resize_grad(harness *h) {
  gc_value dy = prm(h, gc_shape4(2, 3, 9, 8), -1, 1);
  ir_attr a = {0};
  a.shape = gc_shape4(2, 3, 4, 5);
  out(h, ir_value(ir_add(h->g, IR_OP_RESIZE_BILINEAR_GRAD, 1, &dy.id, &a)), TOL);
  finish(h, TOL);
}

static void case_batched_matmul(harness *h) {
  gc_value a = prm(h, gc_shape3(4, 5, 7), -1, 1), b = prm(h, gc_shape3(4, 7, 3), -1, 1);
  out(h, gc_matmul(h->g, a, b), TOL);
  gc_value w = prm(h, gc_shape2(7, 6), -1, 1);
  out(h, gc_relu(h->g, gc_matmul(h->g, a, w)), TOL);
  gc_value l = prm(h, gc_shape2(3, 5), -1, 1);
  out(h, gc_matmul(h->g, l, a), TOL);
  gc_value a4 = prm(h, gc_shape4(2, 3, 5, 7), -1, 1), b4 = prm(h, gc_shape4(2, 3, 9, 7), -1, 1);
  out(h, ir_value(ir_matmul_t(h->g, a4.id, b4.id, 0, 1)), TOL);
  gc_value at = prm(h, gc_shape3(4, 7, 5), -1, 1);
  out(h, ir_value(ir_matmul_t(h->g, at.id, w.id, 1, 0)), TOL);
  finish(h, TOL);
}

static void case_norms(harness *h) {
  gc_value x = prm(h, gc_shape4(3, 5, 11, 13), -1, 2);
  out(h, gc_batch_norm_layer(h->g, x, 1, 0.1f, 1e-5f, "bn"), TOL);
  gc_value x3 = prm(h, gc_shape3(4, 6, 9), -1, 2);
  out(h, gc_layer_norm_layer(h->g, x3, 2, 1e-5f, "ln"), TOL);
  gc_value gm = prm(h, gc_shape1(5), 0.5, 1.5), bt = prm(h, gc_shape1(5), -1, 1);
  out(h, gc_instance_norm(h->g, x, gm, bt, 1e-5f), TOL);
  finish(h, 1e-3);
  watch(h, "bn.running_mean", TOL);
  watch(h, "bn.running_var", TOL);
}

static void case_batchnorm_eval(harness *h) {
  gc_value x = prm(h, gc_shape4(3, 5, 7, 2), -1, 2);
  gc_value bn = gc_batch_norm_layer(h->g, x, 0, 0.1f, 1e-5f, "bn");
  float *rv = h->g->nodes[gc_find(h->g, "bn.running_var").id].data;
  float *rm = h->g->nodes[gc_find(h->g, "bn.running_mean").id].data;
  for (int i = 0; i < 5; i++) rv[i] = 0.5f + 0.25f * (float)i, rm[i] = 0.1f * (float)i;
  out(h, bn, TOL);
  finish(h, TOL);
}

/* Uniform draws and dropout masks are bit-identical to the reference. */
static void case_random(harness *h) {
  h->runs = 3; /* the counter advances: the third step's numbers */
  h->no_grads = true;
  out(h, gc_random_uniform(h->g, gc_shape3(3, 7, 11), -2.0f, 3.0f, 77), 0);
  out(h, gc_random_uniform(h->g, gc_shape2(5, 13), 0.0f, 1.0f, 77), 0);
  out(h, gc_random_normal(h->g, gc_shape2(5, 13), 1.0f, 2.0f, 5), 1e-5);
  gc_value x = prm(h, gc_shape2(17, 19), 0.5, 1.5);
  out(h, gc_dropout(h->g, x, 0.3f, 9), 0);
  watch(h, "rng.step", 0);
}

static void case_dropout_grad(harness *h) {
  gc_value x = prm(h, gc_shape2(17, 19), -1, 1);
  out(h, gc_dropout(h->g, x, 0.5f, 3), TOL);
  finish(h, TOL);
}

static void case_losses(harness *h) {
  gc_value l = prm(h, gc_shape2(6, 5), -3, 3), p = prm(h, gc_shape2(6, 5), 0, 1);
  out(h, gc_cross_entropy_soft(h->g, l, gc_softmax(h->g, p, 1)), TOL);
  gc_value t = prm(h, gc_shape2(6, 5), 0, 1);
  gc_value big = gc_mul(h->g, l, gc_scalar(h->g, 40.0f)); /* |x| up to 120: stable? */
  out(h, gc_bce_with_logits(h->g, big, t), TOL);
  out(h, gc_l1_loss(h->g, l, t), TOL);
  gc_value mu = prm(h, gc_shape2(6, 4), -1, 1), lv = prm(h, gc_shape2(6, 4), -1, 1);
  out(h, gc_kl_normal(h->g, mu, lv), TOL);
  finish(h, TOL);
}

typedef struct cl_case {
  const char *name;
  void (*build)(harness *h);
} cl_case;

static const cl_case cases[] = {
    {"conv2d", case_conv2d},
    {"conv2d_groups", case_conv2d_groups},
    {"conv_transpose", case_conv_transpose},
    {"conv_grad_weight", case_conv_grad_weight},
    {"conv2d_lenet", case_conv2d_lenet},
    {"maxpool", case_maxpool},
    {"avgpool", case_avgpool},
    {"avgpool_grad", case_avgpool_grad},
    {"pool_epilogues", case_pool_epilogues},
    {"conv3d", case_conv3d},
    {"conv_transpose3d", case_conv_transpose3d},
    {"pool3d", case_pool3d},
    {"avgpool3d_grad", case_avgpool3d_grad},
    {"maxpool_indices", case_maxpool_indices},
    {"upsample", case_upsample},
    {"resize_grad", case_resize_grad},
    {"batched_matmul", case_batched_matmul},
    {"norms", case_norms},
    {"batchnorm_eval", case_batchnorm_eval},
    {"random", case_random},
    {"dropout_grad", case_dropout_grad},
    {"losses", case_losses},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

START_TEST(test_cl_nn_case) {
  const cl_case *c = &cases[_i];
  harness h;
  h_init(&h);
  c->build(&h);
  ck_assert_msg(gc_graph_status(h.g) == GC_OK, "%s: %s", c->name, gc_graph_errmsg(h.g));
  gc_device *ref = NULL, *cl = NULL;
  ck_assert_int_eq(gc_device_open("ref", &ref), GC_OK);
  ck_assert_msg(gc_device_open(test_device(), &cl) == GC_OK, "open %s: %s", test_device(),
                gc_last_error());
  check_case(&h, ref, cl);
  gc_device_free(cl);
  gc_device_free(ref);
  gc_graph_free(h.g);
}
END_TEST

/* Every op of tests/nn_ops.h runs in some case (forward or backward). */
START_TEST(test_cl_nn_every_op_covered) {
  bool seen[IR_OP_COUNT] = {0};
  for (int c = 0; c < NCASES; c++) {
    harness h;
    h_init(&h);
    cases[c].build(&h);
    ck_assert_msg(gc_graph_status(h.g) == GC_OK, "%s: %s", cases[c].name, gc_graph_errmsg(h.g));
    for (int i = 0; i < h.g->n; i++) seen[h.g->nodes[i].op] = true;
    gc_graph_free(h.g);
  }
  for (int i = 0; i < NN_NOPS; i++)
    ck_assert_msg(seen[nn_ops[i]], "op %s is used by no case", ir_ops[nn_ops[i]].name);
}
END_TEST

static Suite *cl_nn_suite(void) {
  Suite *s = suite_create("cl_nn_ops");
  TCase *tc = tcase_create("ops");
  tcase_set_timeout(tc, 900);
  tcase_add_test(tc, test_cl_nn_every_op_covered);
  tcase_add_loop_test(tc, test_cl_nn_case, 0, NCASES);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  setenv("GRAPHC_DEBUG_SENTINELS", "1", 1);
  SRunner *sr = srunner_create(cl_nn_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
