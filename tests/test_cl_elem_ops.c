/* test_cl_elem_ops.c — Check suite: every op of the elementwise, movement
 * and reduction extensions of ir/ops.def (and cast between all dtypes)
 * through the whole pipeline on OpenCL (PoCL here) against the reference
 * interpreter, on odd shapes (5x7x11, 3x13, batch 1, scalars) with
 * broadcasting, alone and inside fused chains; plus the gradients of a
 * small model built from them. The harness is test_cl_ops.c's (ref vs
 * OpenCL fused and planned, no_fuse vs fused with GRAPHC_TEST_UNFUSED=1
 * (the long run test_cl_elem_ops_unfused: tests/variants.h), NaN/Inf
 * checks, plan_check, sentinels after every buffer), extended to i64 and
 * bool. */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/opencl/cl_debug.h"
#include "passes/passes.h"
#include "variants.h"

static const char *test_device(void) {
  const char *d = getenv("GRAPHC_DEVICE");
  return d && *d && strcmp(d, "ref") ? d : "pocl";
}

/* ------------------------------------------------------------ harness */

#define MAXV 64
#define TOL_EW 1e-5   /* elementwise */
#define TOL_RED 1e-4  /* matmul, reductions, softmax, losses */
#define TOL_FUSE 1e-5 /* fused vs unfused, planned vs not */

typedef struct tensor_io {
  char name[64];
  gc_dtype t;
  int64_t numel;
  double tol;
  void *data; /* inputs only */
} tensor_io;

typedef struct harness {
  gc_graph *g;
  uint64_t rng;
  tensor_io in[MAXV], out[MAXV], watch[MAXV];
  int nin, nout, nwatch;
  int runs;
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
  h->rng = 12345;
  h->runs = 2; /* replaying must give the same result */
}

static void h_free(harness *h) {
  for (int i = 0; i < h->nin; i++) free(h->in[i].data);
  gc_graph_free(h->g);
}

/* An f32 input with values in [lo, hi); integral = 1 rounds them to whole
 * numbers (for equal). */
static gc_value in_f(harness *h, gc_shape s, double lo, double hi, int integral) {
  ck_assert_int_lt(h->nin, MAXV);
  tensor_io *io = &h->in[h->nin];
  snprintf(io->name, sizeof io->name, "x%d", h->nin);
  io->t = GC_F32;
  io->numel = gc_shape_numel(s);
  float *d = malloc(sizeof *d * (size_t)(io->numel ? io->numel : 1));
  for (int64_t i = 0; i < io->numel; i++) {
    double v = lo + (hi - lo) * urand(h);
    d[i] = (float)(integral ? floor(v) : v);
  }
  io->data = d;
  h->nin++;
  return gc_input(h->g, io->name, GC_F32, s);
}

/* An i64 input with values in [lo, hi]. */
static gc_value in_l(harness *h, gc_shape s, int lo, int hi) {
  ck_assert_int_lt(h->nin, MAXV);
  tensor_io *io = &h->in[h->nin];
  snprintf(io->name, sizeof io->name, "x%d", h->nin);
  io->t = GC_I64;
  io->numel = gc_shape_numel(s);
  int64_t *d = malloc(sizeof *d * (size_t)(io->numel ? io->numel : 1));
  for (int64_t i = 0; i < io->numel; i++) d[i] = lo + (int)((hi - lo + 1) * urand(h));
  io->data = d;
  h->nin++;
  return gc_input(h->g, io->name, GC_I64, s);
}

/* A bool input, true with probability 1/2. */
static gc_value in_b(harness *h, gc_shape s) {
  ck_assert_int_lt(h->nin, MAXV);
  tensor_io *io = &h->in[h->nin];
  snprintf(io->name, sizeof io->name, "x%d", h->nin);
  io->t = GC_BOOL;
  io->numel = gc_shape_numel(s);
  uint8_t *d = malloc((size_t)(io->numel ? io->numel : 1));
  for (int64_t i = 0; i < io->numel; i++) d[i] = urand(h) < 0.5;
  io->data = d;
  h->nin++;
  return gc_input(h->g, io->name, GC_BOOL, s);
}

/* An i32 input with values in [lo, hi]. */
static gc_value in_i(harness *h, gc_shape s, int lo, int hi) {
  ck_assert_int_lt(h->nin, MAXV);
  tensor_io *io = &h->in[h->nin];
  snprintf(io->name, sizeof io->name, "x%d", h->nin);
  io->t = GC_I32;
  io->numel = gc_shape_numel(s);
  int32_t *d = malloc(sizeof *d * (size_t)(io->numel ? io->numel : 1));
  for (int64_t i = 0; i < io->numel; i++) d[i] = lo + (int)((hi - lo + 1) * urand(h));
  io->data = d;
  h->nin++;
  return gc_input(h->g, io->name, GC_I32, s);
}

static gc_value out(harness *h, gc_value v, double tol) {
  ck_assert_msg(gc_value_ok(v), "graph error: %s", gc_graph_errmsg(h->g));
  ck_assert_int_lt(h->nout, MAXV);
  tensor_io *io = &h->out[h->nout];
  snprintf(io->name, sizeof io->name, "o%d", h->nout);
  io->t = gc_value_dtype(h->g, v);
  io->numel = gc_shape_numel(gc_value_shape(h->g, v));
  io->tol = tol;
  h->nout++;
  return gc_output(h->g, v, io->name);
}

static gc_value un(harness *h, ir_op op, gc_value x) { return ir_value(ir_unary(h->g, op, x.id)); }
static gc_value bin(harness *h, ir_op op, gc_value a, gc_value b) {
  return ir_value(ir_binary(h->g, op, a.id, b.id));
}
static gc_value sc(harness *h, float v) { return gc_scalar(h->g, v); }

static double elem(const void *p, gc_dtype t, int64_t i) {
  switch (t) {
    case GC_I32:
      return (double)((const int32_t *)p)[i];
    case GC_I64:
      return (double)((const int64_t *)p)[i];
    case GC_BOOL:
      return (double)((const uint8_t *)p)[i];
    default:
      return (double)((const float *)p)[i];
  }
}

static size_t io_bytes(const tensor_io *io) { return (size_t)io->numel * gc_dtype_size(io->t); }

/* Compiles h's graph for dev with options o, runs it h->runs times and
 * reads every output and watched tensor into r (caller frees). */
static void run_on(harness *h, gc_device *dev, const gc_compile_options *o, results *r,
                   const char *what) {
  ck_assert_msg(gc_graph_status(h->g) == GC_OK, "graph error: %s", gc_graph_errmsg(h->g));
  gc_program *p = NULL;
  gc_status st = gc_compile(h->g, dev, o, &p);
  ck_assert_msg(st == GC_OK, "%s: compile: %s", what, gc_last_error());
  st = plan_check(p->g, &p->fuse, &p->mem);
  ck_assert_msg(st == GC_OK, "%s: plan_check: %s", what, gc_last_error());
  gc_session *s = NULL;
  st = gc_session_new(p, &s);
  ck_assert_msg(st == GC_OK, "%s: session: %s", what, gc_last_error());
  for (int k = 0; k < h->runs; k++) {
    for (int i = 0; i < h->nin; i++) {
      st = gc_session_set_input(s, h->in[i].name, h->in[i].data, io_bytes(&h->in[i]));
      ck_assert_msg(st == GC_OK, "%s: set_input %s: %s", what, h->in[i].name, gc_last_error());
    }
    st = gc_session_run(s);
    ck_assert_msg(st == GC_OK, "%s: run: %s", what, gc_last_error());
  }
  for (int i = 0; i < h->nout; i++) {
    size_t b = io_bytes(&h->out[i]);
    r->out[i] = malloc(b ? b : 1);
    st = gc_session_get_output(s, h->out[i].name, r->out[i], b);
    ck_assert_msg(st == GC_OK, "%s: get_output %s: %s", what, h->out[i].name, gc_last_error());
  }
  for (int i = 0; i < h->nwatch; i++) {
    size_t b = io_bytes(&h->watch[i]);
    r->watch[i] = malloc(b ? b : 1);
    st = gc_session_get_param(s, h->watch[i].name, r->watch[i], b);
    ck_assert_msg(st == GC_OK, "%s: get_param %s: %s", what, h->watch[i].name, gc_last_error());
  }
  if (!gc_device_is_reference(dev)) {
    st = cl_session_check_sentinels(s);
    ck_assert_msg(st == GC_OK, "%s: %s", what, gc_last_error());
  }
  gc_session_free(s);
  gc_program_free(p);
}

static void results_free(harness *h, results *r) {
  for (int i = 0; i < h->nout; i++) free(r->out[i]);
  for (int i = 0; i < h->nwatch; i++) free(r->watch[i]);
}

/* got vs want, element by element; tol < 0 uses each tensor's own. */
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

static void compare(harness *h, results *got, results *want, double tol, const char *what) {
  compare_set(h->out, h->nout, got->out, want->out, tol, what);
  compare_set(h->watch, h->nwatch, got->watch, want->watch, tol, what);
}

/* The whole check of one case (see the file comment). Unlike test_cl_ops.c
 * there is no no_plan run: these ops add nothing to planning, and each
 * compile costs PoCL seconds. */
static void check_case(harness *h, gc_device *ref, gc_device *cl) {
  ck_assert_int_gt(h->nout + h->nwatch, 0);
  results r_ref = {0}, r_cl = {0}, r_nofuse = {0};
  gc_compile_options nofuse = {0};
  nofuse.no_fuse = 1;
  run_on(h, ref, NULL, &r_ref, "ref");
  run_on(h, cl, NULL, &r_cl, "opencl");
  compare(h, &r_cl, &r_ref, -1, "opencl vs ref");
  if (test_unfused_variants()) {
    run_on(h, cl, &nofuse, &r_nofuse, "opencl no_fuse");
    compare(h, &r_nofuse, &r_cl, TOL_FUSE, "no_fuse vs fused");
  }
  results_free(h, &r_ref);
  results_free(h, &r_cl);
  results_free(h, &r_nofuse);
}

/* --------------------------------------------------------------- cases */

static const gc_shape *odd_shapes(int *n) {
  static gc_shape s[4];
  s[0] = gc_shape3(5, 7, 11);
  s[1] = gc_shape2(3, 13);
  s[2] = gc_shape2(1, 13);
  s[3] = gc_shape0();
  *n = 4;
  return s;
}

static gc_value un_f(harness *h, ir_op op, gc_value x, float f0, float f1) {
  ir_attr a = {0};
  a.f[0] = f0;
  a.f[1] = f1;
  return ir_value(ir_add(h->g, op, 1, &x.id, &a));
}

/* A unary f32 op (constants f0, f1) on each odd shape with inputs in
 * [lo, hi), inside a fused chain, and on a broadcast sum. */
static void unary_case(harness *h, ir_op op, float f0, float f1, double lo, double hi) {
  int ns;
  const gc_shape *s = odd_shapes(&ns);
  /* the odd shapes side by side in one kernel each would be the same code:
   * 5x7x11 and a scalar alone, 3x13 inside the chain below */
  out(h, un_f(h, op, in_f(h, s[0], lo, hi, 0), f0, f1), TOL_EW);
  out(h, un_f(h, op, in_f(h, s[3], lo, hi, 0), f0, f1), TOL_EW);
  (void)ns;
  gc_value x = in_f(h, gc_shape2(3, 13), lo, hi, 0);
  gc_value pro = bin(h, IR_OP_ADD, bin(h, IR_OP_MUL, x, sc(h, 0.75f)), sc(h, (float)(lo / 4)));
  gc_value y = un_f(h, op, pro, f0, f1);
  out(h, bin(h, IR_OP_ADD, bin(h, IR_OP_MUL, y, sc(h, 2.0f)), x), TOL_EW);
  gc_value a = in_f(h, gc_shape2(3, 1), lo, hi, 0), b = in_f(h, gc_shape1(13), 0, (hi - lo) / 8, 0);
  out(h, un_f(h, op, bin(h, IR_OP_ADD, a, b), f0, f1), TOL_EW);
}

static void case_abs(harness *h) { unary_case(h, IR_OP_ABS, 0, 0, -3, 3); }
static void case_sign(harness *h) { unary_case(h, IR_OP_SIGN, 0, 0, -3, 3); }
static void case_reciprocal(harness *h) { unary_case(h, IR_OP_RECIPROCAL, 0, 0, 0.25, 3); }
static void case_erf(harness *h) { unary_case(h, IR_OP_ERF, 0, 0, -3, 3); }
static void case_gelu(harness *h) { unary_case(h, IR_OP_GELU, 0, 0, -4, 4); }
static void case_gelu_tanh(harness *h) { unary_case(h, IR_OP_GELU_TANH, 0, 0, -4, 4); }
static void case_leaky_relu(harness *h) { unary_case(h, IR_OP_LEAKY_RELU, 0.01f, 0, -3, 3); }
static void case_elu(harness *h) { unary_case(h, IR_OP_ELU, 1.5f, 0, -3, 3); }
static void case_selu(harness *h) {
  unary_case(h, IR_OP_SELU, 1.67326324235437728f, 1.05070098735548049f, -3, 3);
}
static void case_softplus(harness *h) {
  unary_case(h, IR_OP_SOFTPLUS, 0, 0, -20, 20);
  out(h, gc_softplus(h->g, in_f(h, gc_shape2(3, 13), -100, 100, 0)), TOL_EW);
}
static void case_softsign(harness *h) { unary_case(h, IR_OP_SOFTSIGN, 0, 0, -5, 5); }
static void case_hard_sigmoid(harness *h) { unary_case(h, IR_OP_HARD_SIGMOID, 0.2f, 0.5f, -4, 4); }
static void case_clip(harness *h) { unary_case(h, IR_OP_CLIP, -0.5f, 1.25f, -2, 2); }

/* inside the domains, with the broadcast sum's headroom (hi + (hi-lo)/8) */
static void case_sin(harness *h) { unary_case(h, IR_OP_SIN, 0, 0, -6, 6); }
static void case_cos(harness *h) { unary_case(h, IR_OP_COS, 0, 0, -6, 6); }
static void case_tan(harness *h) { unary_case(h, IR_OP_TAN, 0, 0, -1, 1); }
static void case_asin(harness *h) { unary_case(h, IR_OP_ASIN, 0, 0, -0.8, 0.8); }
static void case_acos(harness *h) { unary_case(h, IR_OP_ACOS, 0, 0, -0.8, 0.8); }
static void case_atan(harness *h) { unary_case(h, IR_OP_ATAN, 0, 0, -5, 5); }
static void case_sinh(harness *h) { unary_case(h, IR_OP_SINH, 0, 0, -3, 3); }
static void case_cosh(harness *h) { unary_case(h, IR_OP_COSH, 0, 0, -3, 3); }
static void case_asinh(harness *h) { unary_case(h, IR_OP_ASINH, 0, 0, -5, 5); }
static void case_acosh(harness *h) { unary_case(h, IR_OP_ACOSH, 0, 0, 1.1, 4); }
static void case_atanh(harness *h) { unary_case(h, IR_OP_ATANH, 0, 0, -0.7, 0.7); }

/* Binary f32 ops over the broadcast pairs of test_cl_ops.c, in a chain,
 * and with a stored intermediate. */
static void binary_case(harness *h, ir_op op, double alo, double ahi, double blo, double bhi,
                        int integral) {
  const gc_shape pairs[][2] = {
      {gc_shape3(5, 7, 11), gc_shape3(5, 7, 11)},
      {gc_shape2(3, 13), gc_shape1(13)},
      {gc_shape0(), gc_shape2(3, 13)},
      {gc_shape1(13), gc_shape2(3, 1)},
  };
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    gc_value a = in_f(h, pairs[i][0], alo, ahi, integral);
    gc_value b = in_f(h, pairs[i][1], blo, bhi, integral);
    gc_value r = bin(h, op, a, b);
    if (gc_value_dtype(h->g, r) == GC_BOOL) r = gc_cast(h->g, r, GC_F32);
    out(h, r, TOL_EW);
  }
  gc_value a = in_f(h, gc_shape3(5, 1, 11), alo, ahi, integral);
  gc_value b = in_f(h, gc_shape2(7, 1), blo, bhi, integral);
  gc_value c = bin(h, op, bin(h, IR_OP_MUL, a, sc(h, 1.0f)), b);
  if (gc_value_dtype(h->g, c) == GC_BOOL) {
    out(h, c, TOL_EW); /* a bool output */
    c = gc_cast(h->g, c, GC_F32);
  }
  out(h, un(h, IR_OP_TANH, bin(h, IR_OP_MUL, c, sc(h, 0.5f))), TOL_EW);
}

static void case_pow(harness *h) { binary_case(h, IR_OP_POW, 0.25, 3, -2, 2, 0); }
static void minmax_case(harness *h, ir_op op) {
  binary_case(h, op, -2, 2, -2, 2, 0);
  out(h, bin(h, op, in_i(h, gc_shape2(3, 13), -50, 50), in_i(h, gc_shape1(13), -50, 50)), TOL_EW);
  out(h, bin(h, op, in_l(h, gc_shape2(3, 13), -50, 50), in_l(h, gc_shape0(), -50, 50)), TOL_EW);
}
static void case_minimum(harness *h) { minmax_case(h, IR_OP_MINIMUM); }
static void case_maximum(harness *h) { minmax_case(h, IR_OP_MAXIMUM); }

/* Comparisons: whole numbers {0, 1, 2} so all outcomes occur; f32, i32
 * and i64; a bool output; where over the comparison, fused. */
static void compare_case(harness *h, ir_op op) {
  binary_case(h, op, 0, 3, 0, 3, 1);
  out(h, bin(h, op, in_i(h, gc_shape2(3, 13), 0, 2), in_i(h, gc_shape1(13), 0, 2)), TOL_EW);
  out(h, bin(h, op, in_l(h, gc_shape3(5, 7, 11), 0, 2), in_l(h, gc_shape2(7, 1), 0, 2)), TOL_EW);
  gc_value a = in_f(h, gc_shape2(3, 13), 0, 3, 1), b = in_f(h, gc_shape2(3, 1), 0, 3, 1);
  out(h, gc_where(h->g, bin(h, op, a, b), a, un(h, IR_OP_NEG, b)), TOL_EW);
}
static void case_eq(harness *h) { compare_case(h, IR_OP_EQ); }
static void case_greater(harness *h) { compare_case(h, IR_OP_GREATER); }
static void case_greater_equal(harness *h) { compare_case(h, IR_OP_GREATER_EQUAL); }
static void case_less(harness *h) { compare_case(h, IR_OP_LESS); }
static void case_less_equal(harness *h) { compare_case(h, IR_OP_LESS_EQUAL); }

/* Logic on bool inputs (broadcast) and on comparisons computed in the
 * same kernel. */
static void logic_case(harness *h, ir_op op) {
  if (op == IR_OP_NOT) {
    int ns;
    const gc_shape *s = odd_shapes(&ns);
    for (int i = 0; i < ns; i++) out(h, un(h, op, in_b(h, s[i])), TOL_EW);
    gc_value x = in_f(h, gc_shape3(5, 7, 11), -1, 1, 0);
    gc_value m = un(h, op, bin(h, IR_OP_GREATER, x, sc(h, 0.0f)));
    out(h, bin(h, IR_OP_MUL, gc_cast(h->g, m, GC_F32), x), TOL_EW);
    return;
  }
  out(h, bin(h, op, in_b(h, gc_shape3(5, 7, 11)), in_b(h, gc_shape3(5, 7, 11))), TOL_EW);
  out(h, bin(h, op, in_b(h, gc_shape3(5, 1, 11)), in_b(h, gc_shape2(7, 1))), TOL_EW);
  out(h, bin(h, op, in_b(h, gc_shape2(3, 13)), in_b(h, gc_shape0())), TOL_EW);
  gc_value x = in_f(h, gc_shape2(3, 13), -1, 1, 0), y = in_f(h, gc_shape1(13), -1, 1, 0);
  gc_value m = bin(h, op, bin(h, IR_OP_GREATER, x, y), bin(h, IR_OP_LESS, x, sc(h, 0.5f)));
  out(h, gc_where(h->g, m, x, y), TOL_EW);
}
static void case_and(harness *h) { logic_case(h, IR_OP_AND); }
static void case_or(harness *h) { logic_case(h, IR_OP_OR); }
static void case_xor(harness *h) { logic_case(h, IR_OP_XOR); }
static void case_not(harness *h) { logic_case(h, IR_OP_NOT); }

static void case_where(harness *h) {
  gc_graph *g = h->g;
  out(h,
      gc_where(g, in_b(h, gc_shape3(5, 7, 11)), in_f(h, gc_shape3(5, 7, 11), -2, 2, 0),
               in_f(h, gc_shape3(5, 7, 11), -2, 2, 0)),
      TOL_EW);
  out(h,
      gc_where(g, in_b(h, gc_shape3(5, 1, 11)), in_f(h, gc_shape2(7, 1), -2, 2, 0),
               in_f(h, gc_shape0(), -2, 2, 0)),
      TOL_EW);
  out(h,
      gc_where(g, in_b(h, gc_shape1(13)), in_i(h, gc_shape2(3, 1), -9, 9),
               in_i(h, gc_shape2(3, 13), -9, 9)),
      TOL_EW);
  out(h,
      gc_where(g, in_b(h, gc_shape0()), in_l(h, gc_shape2(3, 13), -9, 9),
               in_l(h, gc_shape1(13), -9, 9)),
      TOL_EW);
  /* in a chain: relu written as where, then scaled */
  gc_value x = in_f(h, gc_shape3(5, 7, 11), -2, 2, 0);
  gc_value r = gc_where(g, bin(h, IR_OP_GREATER, x, sc(h, 0.0f)), un(h, IR_OP_EXP, x), sc(h, 0.0f));
  out(h, bin(h, IR_OP_MUL, r, sc(h, 3.0f)), TOL_EW);
}

/* Every pair of dtypes; floats within int range, with fractions. */
static void case_cast(harness *h) {
  const gc_dtype ts[4] = {GC_F32, GC_I32, GC_I64, GC_BOOL};
  for (int i = 0; i < 4; i++) {
    gc_shape s = i % 2 ? gc_shape2(3, 13) : gc_shape3(5, 7, 11);
    gc_value x = ts[i] == GC_F32   ? in_f(h, s, -20, 20, 0)
                 : ts[i] == GC_I32 ? in_i(h, s, -3, 3)
                 : ts[i] == GC_I64 ? in_l(h, s, -1000, 1000)
                                   : in_b(h, s);
    for (int j = 0; j < 4; j++) out(h, gc_cast(h->g, x, ts[j]), TOL_EW);
  }
  /* saturation and NaN through a computed value: x * 1e10 to i32 / i64 */
  gc_value x = in_f(h, gc_shape2(3, 13), -1, 1, 0);
  gc_value big = bin(h, IR_OP_MUL, x, sc(h, 1e10f));
  out(h, gc_cast(h->g, big, GC_I32), TOL_EW);
  out(h, gc_cast(h->g, bin(h, IR_OP_MUL, x, sc(h, 1e20f)), GC_I64), TOL_EW);
  gc_value nan = un(h, IR_OP_LOG, bin(h, IR_OP_SUB, x, sc(h, 2.0f))); /* log < 0: NaN */
  out(h, gc_cast(h->g, gc_cast(h->g, nan, GC_I32), GC_F32), TOL_EW);
  out(h, gc_cast(h->g, gc_cast(h->g, nan, GC_BOOL), GC_F32), TOL_EW);
}

static void case_slice(harness *h) {
  gc_graph *g = h->g;
  gc_value x = in_f(h, gc_shape3(5, 7, 11), -2, 2, 0);
  out(h,
      gc_slice(g, x, (int64_t[]){1, -2, 0}, (int64_t[]){4, 0, 11}, NULL, (int64_t[]){1, -1, 3}, 3),
      TOL_EW);
  out(h, gc_slice(g, x, (int64_t[]){-1}, (int64_t[]){-100}, (int[]){2}, (int64_t[]){-2}, 1),
      TOL_EW);
  out(h,
      gc_slice(g, in_f(h, gc_shape2(3, 13), -2, 2, 0), (int64_t[]){2}, (int64_t[]){3}, NULL, NULL,
               1),
      TOL_EW);
  out(h,
      gc_slice(g, in_i(h, gc_shape1(13), -9, 9), (int64_t[]){1}, (int64_t[]){13}, NULL,
               (int64_t[]){4}, 1),
      TOL_EW);
  /* a slice of a computed value, with a fused broadcast consumer */
  gc_value e = un(h, IR_OP_EXP, in_f(h, gc_shape3(5, 7, 11), -2, 2, 0));
  gc_value s =
      gc_slice(g, e, (int64_t[]){6, 10}, (int64_t[]){0, 0}, (int[]){1, 2}, (int64_t[]){-2, -3}, 2);
  out(h, bin(h, IR_OP_ADD, un(h, IR_OP_TANH, s), in_f(h, gc_shape1(4), -1, 1, 0)), TOL_EW);
  /* a reduction over a slice, and a slice of a slice */
  int ax = 1;
  out(h, gc_sum(g, s, &ax, 1, 0), TOL_RED);
  out(h, gc_slice(g, s, (int64_t[]){1}, (int64_t[]){3}, (int[]){0}, NULL, 1), TOL_EW);
}

static gc_value slice_grad(harness *h, gc_value dy, gc_shape full, const int64_t *starts,
                           const int64_t *steps) {
  ir_attr a = {0};
  a.shape = full;
  for (int d = 0; d < full.ndim; d++) {
    a.starts[d] = starts[d];
    a.steps[d] = steps[d];
  }
  return ir_value(ir_add(h->g, IR_OP_SLICE_GRAD, 1, &dy.id, &a));
}

static void case_slice_grad(harness *h) {
  out(h,
      slice_grad(h, in_f(h, gc_shape3(3, 7, 4), -2, 2, 0), gc_shape3(5, 7, 11),
                 (int64_t[]){1, 6, 10}, (int64_t[]){1, -1, -3}),
      TOL_EW);
  gc_value t = un(h, IR_OP_TANH, in_f(h, gc_shape2(2, 5), -2, 2, 0));
  gc_value r = slice_grad(h, t, gc_shape2(3, 13), (int64_t[]){0, 2}, (int64_t[]){2, 2});
  out(h, bin(h, IR_OP_ADD, r, in_f(h, gc_shape1(13), -1, 1, 0)), TOL_EW);
}

static void case_pad(harness *h) {
  gc_graph *g = h->g;
  const int64_t p3[6] = {1, 0, 3, 2, 6, 0}, p2[4] = {2, 12, 0, 5};
  for (int m = GC_PAD_CONSTANT; m <= GC_PAD_EDGE; m++) {
    out(h, gc_pad(g, in_f(h, gc_shape3(5, 7, 11), -2, 2, 0), p3, (gc_pad_mode)m, 1.5f), TOL_EW);
    out(h, gc_pad(g, in_f(h, gc_shape2(3, 13), -2, 2, 0), p2, (gc_pad_mode)m, -0.5f), TOL_EW);
    /* of a computed value, with a consumer */
    gc_value e = un(h, IR_OP_EXP, in_f(h, gc_shape2(3, 13), -1, 1, 0));
    gc_value p = gc_pad(g, e, p2, (gc_pad_mode)m, 0);
    out(h, bin(h, IR_OP_MUL, p, sc(h, 2.0f)), TOL_EW);
  }
  out(h, gc_pad(g, in_i(h, gc_shape1(13), -9, 9), (int64_t[]){3, 1}, GC_PAD_CONSTANT, 7), TOL_EW);
}

static void case_concat(harness *h) {
  gc_graph *g = h->g;
  gc_value a = in_f(h, gc_shape3(5, 7, 11), -2, 2, 0), b = in_f(h, gc_shape3(5, 2, 11), -2, 2, 0);
  gc_value c = un(h, IR_OP_EXP, in_f(h, gc_shape3(5, 1, 11), -2, 2, 0));
  out(h, gc_concat(g, (gc_value[]){a, b, c}, 3, 1), TOL_EW);
  out(h, gc_concat(g, (gc_value[]){a, a}, 2, -1), TOL_EW);
  out(h, gc_concat(g, (gc_value[]){a}, 1, 0), TOL_EW);
  /* 16 inputs (the most), and a consumer */
  gc_value many[16];
  for (int i = 0; i < 16; i++) many[i] = in_f(h, gc_shape2(1, 13), -2, 2, 0);
  gc_value m = gc_concat(g, many, 16, 0);
  out(h, bin(h, IR_OP_ADD, m, in_f(h, gc_shape1(13), -1, 1, 0)), TOL_EW);
  out(h,
      gc_concat(g, (gc_value[]){in_l(h, gc_shape1(3), -9, 9), in_l(h, gc_shape1(10), -9, 9)}, 2, 0),
      TOL_EW);
}

static void case_tile(harness *h) {
  gc_graph *g = h->g;
  out(h, gc_tile(g, in_f(h, gc_shape3(5, 1, 11), -2, 2, 0), (int64_t[]){1, 7, 1}), TOL_EW);
  out(h, gc_tile(g, in_f(h, gc_shape2(3, 13), -2, 2, 0), (int64_t[]){2, 3}), TOL_EW);
  out(h, gc_tile(g, in_b(h, gc_shape1(13)), (int64_t[]){3}), TOL_EW);
  gc_value e = un(h, IR_OP_EXP, in_f(h, gc_shape2(3, 1), -1, 1, 0));
  out(h, bin(h, IR_OP_MUL, gc_tile(g, e, (int64_t[]){1, 13}), in_f(h, gc_shape2(3, 13), -1, 1, 0)),
      TOL_EW);
}

static void case_gather(harness *h) {
  gc_graph *g = h->g;
  gc_value d = in_f(h, gc_shape2(7, 11), -2, 2, 0);
  /* indices in [-8, 8]: negative, and out of range (read 0) */
  out(h, gc_gather(g, d, in_i(h, gc_shape2(5, 3), -8, 8), 0), TOL_EW);
  out(h, gc_gather(g, d, in_l(h, gc_shape1(13), -12, 12), 1), TOL_EW);
  out(h, gc_gather(g, in_f(h, gc_shape3(5, 7, 11), -2, 2, 0), in_i(h, gc_shape0(), 0, 6), 1),
      TOL_EW);
  /* an embedding lookup feeding a fused chain */
  gc_value e = gc_gather(g, un(h, IR_OP_TANH, d), in_i(h, gc_shape1(13), 0, 6), 0);
  out(h, bin(h, IR_OP_ADD, e, in_f(h, gc_shape1(11), -1, 1, 0)), TOL_EW);
}

static gc_value gather_grad(harness *h, gc_value dy, gc_value idx, int axis, gc_shape data) {
  ir_attr a = {0};
  a.axis = axis;
  a.shape = data;
  int32_t in[2] = {dy.id, idx.id};
  return ir_value(ir_add(h->g, IR_OP_GATHER_GRAD, 2, in, &a));
}

static void case_gather_grad(harness *h) {
  out(h,
      gather_grad(h, in_f(h, gc_shape3(5, 3, 11), -2, 2, 0), in_i(h, gc_shape2(5, 3), -8, 8), 0,
                  gc_shape2(7, 11)),
      TOL_RED);
  out(h,
      gather_grad(h, in_f(h, gc_shape2(7, 13), -2, 2, 0), in_l(h, gc_shape1(13), -11, 10), 1,
                  gc_shape2(7, 11)),
      TOL_RED);
  gc_value dy = bin(h, IR_OP_MUL, in_f(h, gc_shape2(13, 11), -2, 2, 0), sc(h, 3.0f));
  out(h, gather_grad(h, dy, in_i(h, gc_shape1(13), 0, 6), 0, gc_shape2(7, 11)), TOL_RED);
}

static gc_value one_hot(harness *h, gc_value idx, int64_t depth, int axis, float off, float on) {
  ir_attr a = {0};
  a.depth = depth;
  a.axis = axis;
  a.f[0] = off;
  a.f[1] = on;
  return ir_value(ir_add(h->g, IR_OP_ONE_HOT, 1, &idx.id, &a));
}

static void case_one_hot(harness *h) {
  out(h, gc_one_hot(h->g, in_i(h, gc_shape2(3, 13), -2, 10), 9), TOL_EW);
  out(h, gc_one_hot(h->g, in_l(h, gc_shape1(13), 0, 6), 7), TOL_EW);
  out(h, one_hot(h, in_i(h, gc_shape2(5, 11), -7, 6), 7, 1, -1, 2), TOL_EW);
  gc_value oh = gc_one_hot(h->g, in_i(h, gc_shape1(13), 0, 10), 11);
  out(h, bin(h, IR_OP_MUL, oh, in_f(h, gc_shape2(13, 11), -1, 1, 0)), TOL_EW);
}

/* Reductions over axis sets of 5x7x11, 3x13, batch 1, a scalar, with
 * fused prologues and an epilogue; inputs in [lo, hi). */
static void reduce_case(harness *h, ir_op op, double lo, double hi) {
  gc_value (*fn)(gc_graph *, gc_value, const int *, int, int) = op == IR_OP_MIN    ? gc_min
                                                                : op == IR_OP_PROD ? gc_prod
                                                                                   : gc_logsumexp;
  gc_value x = in_f(h, gc_shape3(5, 7, 11), lo, hi, 0);
  const int sets[][3] = {{0}, {1}, {2}, {0, 2}, {1, 2}, {0, 1}, {-1}};
  const int lens[] = {1, 1, 1, 2, 2, 2, 1};
  for (int i = 0; i < 7; i++) out(h, fn(h->g, x, sets[i], lens[i], i % 2), TOL_RED);
  out(h, fn(h->g, in_f(h, gc_shape2(3, 13), lo, hi, 0), NULL, 0, 1), TOL_RED);
  int last = -1, first = 0;
  out(h, fn(h->g, in_f(h, gc_shape2(3, 13), lo, hi, 0), &last, 1, 1), TOL_RED);
  out(h, fn(h->g, in_f(h, gc_shape2(1, 13), lo, hi, 0), &first, 1, 0), TOL_RED);
  out(h, fn(h->g, in_f(h, gc_shape0(), lo, hi, 0), NULL, 0, 0), TOL_RED);
  gc_value y = in_f(h, gc_shape3(5, 7, 11), lo, hi, 0);
  int one = 1, two = 2;
  out(h, fn(h->g, bin(h, IR_OP_MUL, x, y), &one, 1, 0), TOL_RED);
  gc_value a = in_f(h, gc_shape3(5, 1, 11), lo, hi, 0), b = in_f(h, gc_shape2(7, 1), 0.9, 1.1, 0);
  out(h, fn(h->g, bin(h, IR_OP_MUL, a, b), &two, 1, 1), TOL_RED);
  out(h, bin(h, IR_OP_SUB, x, fn(h->g, x, &two, 1, 1)), TOL_RED);
}

static void case_min(harness *h) { reduce_case(h, IR_OP_MIN, -5, 5); }
static void case_prod(harness *h) { reduce_case(h, IR_OP_PROD, 0.95, 1.05); }
static void case_logsumexp(harness *h) {
  reduce_case(h, IR_OP_LOGSUMEXP, -10, 10);
  out(h, gc_logsumexp(h->g, in_f(h, gc_shape2(3, 13), 80, 100, 0), NULL, 0, 0), TOL_RED);
}

/* Whole numbers in {0, 1, 2} so that ties occur. */
static void arg_case(harness *h, ir_op op) {
  gc_value (*fn)(gc_graph *, gc_value, int, int, int) = op == IR_OP_ARGMAX ? gc_argmax : gc_argmin;
  gc_value x = in_f(h, gc_shape3(5, 7, 11), 0, 3, 1);
  for (int ax = 0; ax < 3; ax++)
    for (int last = 0; last < 2; last++) out(h, fn(h->g, x, ax, last, last), TOL_EW);
  out(h, fn(h->g, in_f(h, gc_shape2(3, 13), -2, 2, 0), -1, 0, 0), TOL_EW);
  out(h, fn(h->g, in_f(h, gc_shape1(13), -2, 2, 0), 0, 0, 0), TOL_EW);
  gc_value e = un(h, IR_OP_EXP, in_f(h, gc_shape2(3, 13), -2, 2, 0));
  out(h, gc_cast(h->g, fn(h->g, e, 0, 1, 0), GC_F32), TOL_EW);
}
static void case_argmax(harness *h) { arg_case(h, IR_OP_ARGMAX); }
static void case_argmin(harness *h) { arg_case(h, IR_OP_ARGMIN); }

static void case_cumsum(harness *h) {
  gc_value x = in_f(h, gc_shape3(5, 7, 11), -2, 2, 0);
  for (int ax = 0; ax < 3; ax++)
    for (int m = 0; m < 4; m++) out(h, gc_cumsum(h->g, x, ax, m & 1, m >> 1), TOL_RED);
  out(h, gc_cumsum(h->g, in_f(h, gc_shape2(3, 13), -2, 2, 0), -1, 0, 0), TOL_RED);
  gc_value e = un(h, IR_OP_EXP, in_f(h, gc_shape1(13), -2, 2, 0));
  out(h, bin(h, IR_OP_MUL, gc_cumsum(h->g, e, 0, 1, 1), sc(h, 0.5f)), TOL_RED);
}

typedef void (*case_fn)(harness *h);

/* THE table: one case per op of the extension section. */
static const case_fn cases[IR_OP_COUNT] = {
    [IR_OP_ABS] = case_abs,
    [IR_OP_SIGN] = case_sign,
    [IR_OP_RECIPROCAL] = case_reciprocal,
    [IR_OP_ERF] = case_erf,
    [IR_OP_GELU] = case_gelu,
    [IR_OP_GELU_TANH] = case_gelu_tanh,
    [IR_OP_LEAKY_RELU] = case_leaky_relu,
    [IR_OP_ELU] = case_elu,
    [IR_OP_SELU] = case_selu,
    [IR_OP_SOFTPLUS] = case_softplus,
    [IR_OP_SOFTSIGN] = case_softsign,
    [IR_OP_HARD_SIGMOID] = case_hard_sigmoid,
    [IR_OP_CLIP] = case_clip,
    [IR_OP_SIN] = case_sin,
    [IR_OP_COS] = case_cos,
    [IR_OP_TAN] = case_tan,
    [IR_OP_ASIN] = case_asin,
    [IR_OP_ACOS] = case_acos,
    [IR_OP_ATAN] = case_atan,
    [IR_OP_SINH] = case_sinh,
    [IR_OP_COSH] = case_cosh,
    [IR_OP_ASINH] = case_asinh,
    [IR_OP_ACOSH] = case_acosh,
    [IR_OP_ATANH] = case_atanh,
    [IR_OP_POW] = case_pow,
    [IR_OP_MINIMUM] = case_minimum,
    [IR_OP_MAXIMUM] = case_maximum,
    [IR_OP_EQ] = case_eq,
    [IR_OP_GREATER] = case_greater,
    [IR_OP_GREATER_EQUAL] = case_greater_equal,
    [IR_OP_LESS] = case_less,
    [IR_OP_LESS_EQUAL] = case_less_equal,
    [IR_OP_AND] = case_and,
    [IR_OP_OR] = case_or,
    [IR_OP_XOR] = case_xor,
    [IR_OP_NOT] = case_not,
    [IR_OP_WHERE] = case_where,
    [IR_OP_CAST] = case_cast, /* dtypes beyond test_cl_ops.c's f32 <-> i32 */
    [IR_OP_SLICE] = case_slice,
    [IR_OP_SLICE_GRAD] = case_slice_grad,
    [IR_OP_PAD] = case_pad,
    [IR_OP_CONCAT] = case_concat,
    [IR_OP_TILE] = case_tile,
    [IR_OP_GATHER] = case_gather,
    [IR_OP_GATHER_GRAD] = case_gather_grad,
    [IR_OP_ONE_HOT] = case_one_hot,
    [IR_OP_MIN] = case_min,
    [IR_OP_PROD] = case_prod,
    [IR_OP_LOGSUMEXP] = case_logsumexp,
    [IR_OP_ARGMAX] = case_argmax,
    [IR_OP_ARGMIN] = case_argmin,
    [IR_OP_CUMSUM] = case_cumsum,
};

static bool graph_uses(const gc_graph *g, ir_op op) {
  for (int i = 0; i < g->n; i++)
    if (g->nodes[i].op == op) return true;
  return false;
}

/* The loop over the extension section of the op table (and cast). */
START_TEST(op_matches_reference) {
  ir_op op = (ir_op)_i;
  if (op != IR_OP_CAST && (op < IR_OP_ABS || op > IR_OP_CUMSUM)) return;
  const char *name = ir_ops[op].name;
  ck_assert_msg(cases[op] != NULL, "op %s has no case in test_cl_elem_ops.c", name);
  harness h;
  h_init(&h);
  cases[op](&h);
  ck_assert_msg(gc_graph_status(h.g) == GC_OK, "%s: graph error: %s", name, gc_graph_errmsg(h.g));
  ck_assert_msg(graph_uses(h.g, op), "the case of %s does not use it", name);
  gc_device *ref = NULL, *cl = NULL;
  ck_assert_int_eq(gc_device_open("ref", &ref), GC_OK);
  ck_assert_msg(gc_device_open(test_device(), &cl) == GC_OK, "open %s: %s", test_device(),
                gc_last_error());
  check_case(&h, ref, cl);
  gc_device_free(cl);
  gc_device_free(ref);
  h_free(&h);
}
END_TEST

/* The gradients of the new ops run on OpenCL as on the reference: a small
 * model using most of them, differentiated, gradients compared. */
START_TEST(test_cl_elem_gradients) {
  harness h;
  h_init(&h);
  gc_graph *g = h.g;
  gc_init u = {GC_INIT_UNIFORM, -1, 1, 0, 0};
  gc_value emb = gc_param(g, "emb", gc_shape2(7, 5), u);
  gc_value w = gc_param(g, "w", gc_shape2(3, 5), u);
  gc_value x = gc_gather(g, emb, in_i(&h, gc_shape2(4, 3), -7, 6), 0); /* [4, 3, 5] */
  gc_value a = gc_gelu(g, gc_mul(g, x, w), 0);
  gc_value b =
      gc_pad(g, gc_slice(g, a, (int64_t[]){-1}, (int64_t[]){-100}, (int[]){2}, (int64_t[]){-2}, 1),
             (int64_t[]){0, 1, 1, 0, 0, 0}, GC_PAD_REFLECT, 0); /* [4, 4, 4] */
  gc_value c = gc_concat(g, (gc_value[]){b, gc_tile(g, gc_elu(g, b, 1), (int64_t[]){1, 1, 1})}, 2,
                         2); /* [4, 4, 8] */
  gc_value d =
      gc_where(g, gc_greater(g, c, gc_scalar(g, 0)), gc_softplus(g, c), gc_clip(g, c, -0.3f, 0.3f));
  gc_value e = gc_cumsum(g, gc_maximum(g, d, gc_minimum(g, c, gc_scalar(g, 0.1f))), 1, 0, 1);
  gc_value l =
      gc_add(g, gc_mean(g, gc_logsumexp(g, e, (int[]){2}, 1, 0), NULL, 0, 0),
             gc_mean(g, gc_prod(g, gc_add(g, gc_abs(g, e), gc_scalar(g, 1)), (int[]){0}, 1, 0),
                     NULL, 0, 0));
  gc_set_loss(g, l);
  ck_assert_int_eq(gc_differentiate(g), GC_OK);
  out(&h, gc_grad(g, emb), TOL_RED);
  out(&h, gc_grad(g, w), TOL_RED);
  gc_device *ref = NULL, *cl = NULL;
  ck_assert_int_eq(gc_device_open("ref", &ref), GC_OK);
  ck_assert_msg(gc_device_open(test_device(), &cl) == GC_OK, "%s", gc_last_error());
  check_case(&h, ref, cl);
  gc_device_free(cl);
  gc_device_free(ref);
  h_free(&h);
}
END_TEST

static Suite *cl_elem_suite(void) {
  Suite *s = suite_create("cl_elem_ops");
  TCase *tc = tcase_create("ops");
  tcase_set_timeout(tc, 900);
  tcase_add_loop_test(tc, op_matches_reference, 0, IR_OP_COUNT);
  tcase_add_test(tc, test_cl_elem_gradients);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  setenv("GRAPHC_DEBUG_SENTINELS", "1", 1);
  SRunner *sr = srunner_create(cl_elem_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
