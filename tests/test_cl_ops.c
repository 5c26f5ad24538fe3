/* test_cl_ops.c — Check suite: every op of ir/ops.def run through the whole
 * pipeline on OpenCL (PoCL here) against the reference interpreter, on odd
 * shapes (5x7x11, 3x13, batch 1 and 3, scalars, broadcasting such as
 * [5,1,11] + [7,1] and [3,13] * [13]), alone and inside fused chains.
 *
 * One loop test walks the whole op table: an op without a case fails the
 * suite (leaves are covered by the cases that use them). Each case is one
 * graph, compiled on "ref" (the oracle) and on OpenCL fused and planned,
 * and with GRAPHC_TEST_UNFUSED=1 (the long run test_cl_ops_unfused:
 * tests/variants.h) with no_fuse and with no_plan too. Checks per case:
 * - OpenCL (fused, planned) vs ref with the op's tolerance, measured as
 *   |got - want| <= tol * (1 + |want|): 1e-5 for elementwise ops, 1e-4 for
 *   matmul, reductions, softmax and the losses;
 * - no_fuse and no_plan results vs the fused, planned ones (1e-5), in the
 *   long run;
 * - every output finite (NaN/Inf checks) on both backends;
 * - plan_check on every compiled program;
 * - sentinels: the suite sets GRAPHC_DEBUG_SENTINELS=1, so every OpenCL
 *   buffer has 256 bytes of 0x7F after its end, checked after the runs by
 *   cl_session_check_sentinels (backends/opencl/cl_debug.h);
 * - in-place ops (assign_add, opt_tick, sgd_update, adam_update): the
 *   updated parameters and optimizer state after several runs.
 *
 * Devices are opened inside each test (Check forks; OpenCL state does not
 * survive fork), once per test function. */
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
#include "nn_ops.h"

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

/* A case is two graphs: part 0 holds the op alone on leaves, on many
 * shapes (fusion and planning change nothing there, so its no_fuse and
 * no_plan programs are byte-identical and come from the binary cache);
 * part 1 holds the op inside fused chains, with intermediates in the
 * arena, where fusion and planning matter. Splitting them keeps PoCL's
 * cold compiles few. */
typedef struct part {
  gc_graph *g;
  tensor_io in[MAXV], out[MAXV], watch[MAXV];
  int nin, nout, nwatch;
} part;

typedef struct harness {
  part parts[2];
  int cur;
  gc_graph *g; /* parts[cur].g: what the builders add to */
  uint64_t rng;
  int runs;
} harness;

#define P(h) (&(h)->parts[(h)->cur])

/* What follows in a case builder goes into part 1 (chains). */
static void chains(harness *h) {
  h->cur = 1;
  h->g = h->parts[1].g;
}

typedef struct results {
  void *out[MAXV], *watch[MAXV];
} results;

static double urand(harness *h) {
  h->rng = h->rng * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(h->rng >> 11) / 9007199254740992.0;
}

static void h_init(harness *h) {
  memset(h, 0, sizeof *h);
  h->parts[0].g = gc_graph_new();
  h->parts[1].g = gc_graph_new();
  h->g = h->parts[0].g;
  h->rng = 12345;
  h->runs = 2; /* replaying must give the same result */
}

static void h_free(harness *h) {
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < h->parts[k].nin; i++) free(h->parts[k].in[i].data);
    gc_graph_free(h->parts[k].g);
  }
}

/* An f32 input with values in [lo, hi); integral = 1 rounds them to whole
 * numbers (for equal). */
static gc_value in_f(harness *h, gc_shape s, double lo, double hi, int integral) {
  ck_assert_int_lt(P(h)->nin, MAXV);
  tensor_io *io = &P(h)->in[P(h)->nin];
  snprintf(io->name, sizeof io->name, "x%d", P(h)->nin);
  io->t = GC_F32;
  io->numel = gc_shape_numel(s);
  float *d = malloc(sizeof *d * (size_t)(io->numel ? io->numel : 1));
  for (int64_t i = 0; i < io->numel; i++) {
    double v = lo + (hi - lo) * urand(h);
    d[i] = (float)(integral ? floor(v) : v);
  }
  io->data = d;
  P(h)->nin++;
  return gc_input(h->g, io->name, GC_F32, s);
}

/* An i32 input with values in [lo, hi]. */
static gc_value in_i(harness *h, gc_shape s, int lo, int hi) {
  ck_assert_int_lt(P(h)->nin, MAXV);
  tensor_io *io = &P(h)->in[P(h)->nin];
  snprintf(io->name, sizeof io->name, "x%d", P(h)->nin);
  io->t = GC_I32;
  io->numel = gc_shape_numel(s);
  int32_t *d = malloc(sizeof *d * (size_t)(io->numel ? io->numel : 1));
  for (int64_t i = 0; i < io->numel; i++) d[i] = lo + (int)((hi - lo + 1) * urand(h));
  io->data = d;
  P(h)->nin++;
  return gc_input(h->g, io->name, GC_I32, s);
}

static gc_value out(harness *h, gc_value v, double tol) {
  ck_assert_msg(gc_value_ok(v), "graph error: %s", gc_graph_errmsg(h->g));
  ck_assert_int_lt(P(h)->nout, MAXV);
  tensor_io *io = &P(h)->out[P(h)->nout];
  snprintf(io->name, sizeof io->name, "o%d", P(h)->nout);
  io->t = gc_value_dtype(h->g, v);
  io->numel = gc_shape_numel(gc_value_shape(h->g, v));
  io->tol = tol;
  P(h)->nout++;
  return gc_output(h->g, v, io->name);
}

/* A parameter (or state) read back after the runs. */
static void watch(harness *h, const char *name, double tol) {
  gc_value v = gc_find(h->g, name);
  ck_assert_msg(gc_value_ok(v), "no node %s", name);
  tensor_io *io = &P(h)->watch[P(h)->nwatch++];
  snprintf(io->name, sizeof io->name, "%s", name);
  io->t = gc_value_dtype(h->g, v);
  io->numel = gc_shape_numel(gc_value_shape(h->g, v));
  io->tol = tol;
}

static gc_value param(harness *h, const char *name, gc_shape s, float lo, float hi) {
  gc_init init = {GC_INIT_UNIFORM, lo, hi, 0, 0};
  return gc_param(h->g, name, s, init);
}

/* An optimizer-state leaf (zero or init) named name. */
static gc_value state(harness *h, const char *name, gc_shape s, const float *init) {
  ir_attr a = {0};
  a.to = GC_F32;
  a.shape = s;
  int32_t id = ir_add(h->g, IR_OP_STATE, 0, NULL, &a);
  ck_assert_int_ge(id, 0);
  ir_node *n = &h->g->nodes[id];
  n->flags |= IR_F_STATE;
  size_t bytes = ir_node_bytes(n);
  n->data = calloc(1, bytes ? bytes : 1);
  if (init) memcpy(n->data, init, bytes);
  return gc_set_name(h->g, ir_value(id), name);
}

static gc_value un(harness *h, ir_op op, gc_value x) { return ir_value(ir_unary(h->g, op, x.id)); }
static gc_value bin(harness *h, ir_op op, gc_value a, gc_value b) {
  return ir_value(ir_binary(h->g, op, a.id, b.id));
}
static gc_value sc(harness *h, float v) { return gc_scalar(h->g, v); }

static double elem(const void *p, gc_dtype t, int64_t i) {
  return t == GC_I32 ? (double)((const int32_t *)p)[i] : (double)((const float *)p)[i];
}

static size_t io_bytes(const tensor_io *io) { return (size_t)io->numel * gc_dtype_size(io->t); }

/* Compiles part pt's graph for dev with options o, runs it runs times and
 * reads every output and watched tensor into r (caller frees). */
static void run_on(const part *pt, int runs, gc_device *dev, const gc_compile_options *o,
                   results *r, const char *what) {
  ck_assert_msg(gc_graph_status(pt->g) == GC_OK, "graph error: %s", gc_graph_errmsg(pt->g));
  gc_program *p = NULL;
  gc_status st = gc_compile(pt->g, dev, o, &p);
  ck_assert_msg(st == GC_OK, "%s: compile: %s", what, gc_last_error());
  st = plan_check(p->g, &p->fuse, &p->mem);
  ck_assert_msg(st == GC_OK, "%s: plan_check: %s", what, gc_last_error());
  gc_session *s = NULL;
  st = gc_session_new(p, &s);
  ck_assert_msg(st == GC_OK, "%s: session: %s", what, gc_last_error());
  for (int k = 0; k < runs; k++) {
    for (int i = 0; i < pt->nin; i++) {
      st = gc_session_set_input(s, pt->in[i].name, pt->in[i].data, io_bytes(&pt->in[i]));
      ck_assert_msg(st == GC_OK, "%s: set_input %s: %s", what, pt->in[i].name, gc_last_error());
    }
    st = gc_session_run(s);
    ck_assert_msg(st == GC_OK, "%s: run: %s", what, gc_last_error());
  }
  for (int i = 0; i < pt->nout; i++) {
    size_t b = io_bytes(&pt->out[i]);
    r->out[i] = malloc(b ? b : 1);
    st = gc_session_get_output(s, pt->out[i].name, r->out[i], b);
    ck_assert_msg(st == GC_OK, "%s: get_output %s: %s", what, pt->out[i].name, gc_last_error());
  }
  for (int i = 0; i < pt->nwatch; i++) {
    size_t b = io_bytes(&pt->watch[i]);
    r->watch[i] = malloc(b ? b : 1);
    st = gc_session_get_param(s, pt->watch[i].name, r->watch[i], b);
    ck_assert_msg(st == GC_OK, "%s: get_param %s: %s", what, pt->watch[i].name, gc_last_error());
  }
  if (!gc_device_is_reference(dev)) {
    st = cl_session_check_sentinels(s);
    ck_assert_msg(st == GC_OK, "%s: %s", what, gc_last_error());
  }
  gc_session_free(s);
  gc_program_free(p);
}

static void results_free(const part *h, results *r) {
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

static void compare(const part *h, results *got, results *want, double tol, const char *what) {
  compare_set(h->out, h->nout, got->out, want->out, tol, what);
  compare_set(h->watch, h->nwatch, got->watch, want->watch, tol, what);
}

/* The whole check of one part of a case (see the file comment). */
static void check_part(const part *h, int runs, gc_device *ref, gc_device *cl, const char *name) {
  results r_ref = {0}, r_cl = {0}, r_nofuse = {0}, r_noplan = {0};
  gc_compile_options nofuse = {0}, noplan = {0};
  nofuse.no_fuse = 1;
  noplan.no_plan = 1;
  char what[4][96];
  const char *v[4] = {"ref", "opencl", "opencl no_fuse", "opencl no_plan"};
  for (int i = 0; i < 4; i++) snprintf(what[i], sizeof what[i], "%s: %s", name, v[i]);
  run_on(h, runs, ref, NULL, &r_ref, what[0]);
  run_on(h, runs, cl, NULL, &r_cl, what[1]);
  compare(h, &r_cl, &r_ref, -1, what[1]);
  if (test_unfused_variants()) {
    run_on(h, runs, cl, &nofuse, &r_nofuse, what[2]);
    compare(h, &r_nofuse, &r_cl, TOL_FUSE, what[2]);
    run_on(h, runs, cl, &noplan, &r_noplan, what[3]);
    compare(h, &r_noplan, &r_cl, TOL_FUSE, what[3]);
  }
  results_free(h, &r_ref);
  results_free(h, &r_cl);
  results_free(h, &r_nofuse);
  results_free(h, &r_noplan);
}

static void check_case(harness *h, gc_device *ref, gc_device *cl) {
  ck_assert_int_gt(h->parts[0].nout + h->parts[0].nwatch, 0);
  check_part(&h->parts[0], h->runs, ref, cl, "alone");
  if (h->parts[1].nout + h->parts[1].nwatch > 0)
    check_part(&h->parts[1], h->runs, ref, cl, "in chains");
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

/* Binary ops: equal shapes, [5,1,11] op [7,1], [3,13] op [13], scalar op
 * [3,13], [3,13] op scalar, batch 1, scalar op scalar, and the op inside a
 * fused chain (prologue and epilogue). b values come from [blo, bhi). */
static void binary_case(harness *h, ir_op op, double blo, double bhi) {
  const gc_shape pairs[][2] = {
      {gc_shape3(5, 7, 11), gc_shape3(5, 7, 11)},
      {gc_shape3(5, 1, 11), gc_shape2(7, 1)},
      {gc_shape2(3, 13), gc_shape1(13)},
      {gc_shape0(), gc_shape2(3, 13)},
      {gc_shape2(3, 13), gc_shape0()},
      {gc_shape2(1, 13), gc_shape2(1, 13)},
      {gc_shape0(), gc_shape0()},
      {gc_shape1(13), gc_shape2(3, 1)},
  };
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    gc_value a = in_f(h, pairs[i][0], -2, 2, 0), b = in_f(h, pairs[i][1], blo, bhi, 0);
    out(h, bin(h, op, a, b), TOL_EW);
  }
  chains(h);
  /* fused: tanh(op(neg(a), b) * 0.5) over a broadcast */
  gc_value a = in_f(h, gc_shape3(5, 1, 11), -2, 2, 0), b = in_f(h, gc_shape2(7, 1), blo, bhi, 0);
  gc_value c = bin(h, op, un(h, IR_OP_NEG, a), b);
  out(h, un(h, IR_OP_TANH, bin(h, IR_OP_MUL, c, sc(h, 0.5f))), TOL_EW);
  /* an intermediate that is an output and also read by the chain */
  gc_value d = out(h, bin(h, op, bin(h, IR_OP_ADD, a, sc(h, 1.0f)), b), TOL_EW);
  out(h, bin(h, IR_OP_MUL, d, d), TOL_EW);
}

static void case_add(harness *h) { binary_case(h, IR_OP_ADD, -2, 2); }
static void case_sub(harness *h) { binary_case(h, IR_OP_SUB, -2, 2); }
static void case_mul(harness *h) { binary_case(h, IR_OP_MUL, -2, 2); }
static void case_div(harness *h) { binary_case(h, IR_OP_DIV, 0.5, 2); }

static void case_equal(harness *h) {
  /* whole numbers in {0, 1, 2} so that both outcomes occur */
  out(h,
      bin(h, IR_OP_EQUAL, in_f(h, gc_shape3(5, 7, 11), 0, 3, 1),
          in_f(h, gc_shape3(5, 7, 11), 0, 3, 1)),
      TOL_EW);
  out(h,
      bin(h, IR_OP_EQUAL, in_f(h, gc_shape3(5, 1, 11), 0, 3, 1), in_f(h, gc_shape2(7, 1), 0, 3, 1)),
      TOL_EW);
  out(h, bin(h, IR_OP_EQUAL, in_f(h, gc_shape2(3, 13), 0, 3, 1), in_f(h, gc_shape0(), 0, 3, 1)),
      TOL_EW);
  out(h, bin(h, IR_OP_EQUAL, in_i(h, gc_shape2(3, 13), 0, 2), in_i(h, gc_shape1(13), 0, 2)),
      TOL_EW);
  chains(h);
  /* accuracy-style: mean(equal(x, y)) */
  gc_value e = bin(h, IR_OP_EQUAL, in_i(h, gc_shape1(13), 0, 2), in_i(h, gc_shape1(13), 0, 2));
  out(h, gc_mean(h->g, e, NULL, 0, 0), TOL_RED);
}

/* Unary ops on each odd shape, and inside a fused chain. */
static void unary_case(harness *h, ir_op op, int positive) {
  int ns;
  const gc_shape *s = odd_shapes(&ns);
  double lo = positive ? 0.05 : -3, hi = 3;
  for (int i = 0; i < ns; i++) out(h, un(h, op, in_f(h, s[i], lo, hi, 0)), TOL_EW);
  chains(h);
  gc_value x = in_f(h, gc_shape3(5, 7, 11), -2, 2, 0);
  gc_value pro = positive ? bin(h, IR_OP_ADD, bin(h, IR_OP_MUL, x, x), sc(h, 0.25f))
                          : bin(h, IR_OP_SUB, bin(h, IR_OP_MUL, x, sc(h, 0.75f)), sc(h, 0.1f));
  gc_value y = un(h, op, pro);
  out(h, bin(h, IR_OP_ADD, bin(h, IR_OP_MUL, y, sc(h, 2.0f)), x), TOL_EW);
  /* broadcast input into the op: op(a [3,1] + b [13]) */
  gc_value a = in_f(h, gc_shape2(3, 1), lo, hi, 0),
           b = in_f(h, gc_shape1(13), positive ? 0 : -1, 1, 0);
  out(h, un(h, op, bin(h, IR_OP_ADD, a, b)), TOL_EW);
}

static void case_neg(harness *h) { unary_case(h, IR_OP_NEG, 0); }
static void case_exp(harness *h) { unary_case(h, IR_OP_EXP, 0); }
static void case_log(harness *h) { unary_case(h, IR_OP_LOG, 1); }
static void case_sqrt(harness *h) { unary_case(h, IR_OP_SQRT, 1); }
static void case_relu(harness *h) { unary_case(h, IR_OP_RELU, 0); }
static void case_sigmoid(harness *h) { unary_case(h, IR_OP_SIGMOID, 0); }
static void case_tanh(harness *h) { unary_case(h, IR_OP_TANH, 0); }
static void case_step(harness *h) { unary_case(h, IR_OP_STEP, 0); }

static void case_cast(harness *h) {
  int ns;
  const gc_shape *s = odd_shapes(&ns);
  for (int i = 0; i < ns; i++) {
    out(h, gc_cast(h->g, in_f(h, s[i], -20, 20, 0), GC_I32), TOL_EW);
    out(h, gc_cast(h->g, in_i(h, s[i], -1000, 1000), GC_F32), TOL_EW);
  }
  chains(h);
  /* round trip inside a chain: cast(cast(x * 3) to i32) to f32 + y */
  gc_value x = in_f(h, gc_shape3(5, 7, 11), -5, 5, 0), y = in_f(h, gc_shape1(11), -1, 1, 0);
  gc_value r = gc_cast(h->g, gc_cast(h->g, bin(h, IR_OP_MUL, x, sc(h, 3.0f)), GC_I32), GC_F32);
  out(h, bin(h, IR_OP_ADD, r, y), TOL_EW);
  /* i32 arithmetic feeding a cast */
  gc_value i = in_i(h, gc_shape2(3, 13), -50, 50), j = in_i(h, gc_shape1(13), -50, 50);
  out(h, gc_cast(h->g, bin(h, IR_OP_ADD, bin(h, IR_OP_MUL, i, j), i), GC_F32), TOL_EW);
}

static void case_expand(harness *h) {
  out(h, gc_expand(h->g, in_f(h, gc_shape3(5, 1, 11), -2, 2, 0), gc_shape3(5, 7, 11)), TOL_EW);
  out(h, gc_expand(h->g, in_f(h, gc_shape1(13), -2, 2, 0), gc_shape2(3, 13)), TOL_EW);
  out(h, gc_expand(h->g, in_f(h, gc_shape0(), -2, 2, 0), gc_shape2(3, 13)), TOL_EW);
  out(h, gc_expand(h->g, in_f(h, gc_shape2(1, 13), -2, 2, 0), gc_shape2(1, 13)), TOL_EW);
  out(h, gc_expand(h->g, in_f(h, gc_shape2(7, 1), -2, 2, 0), gc_shape3(5, 7, 11)), TOL_EW);
  chains(h);
  /* expand a computed value, then use it */
  gc_value e =
      gc_expand(h->g, un(h, IR_OP_EXP, in_f(h, gc_shape2(3, 1), -1, 1, 0)), gc_shape2(3, 13));
  out(h, bin(h, IR_OP_MUL, e, in_f(h, gc_shape2(3, 13), -1, 1, 0)), TOL_EW);
}

static void case_reshape(harness *h) {
  gc_value x = in_f(h, gc_shape3(5, 7, 11), -2, 2, 0);
  out(h, gc_reshape(h->g, x, gc_shape2(35, 11)), TOL_EW); /* a view of an input */
  chains(h);
  /* a view of an intermediate, read by a kernel and output */
  gc_value e = un(h, IR_OP_EXP, in_f(h, gc_shape3(5, 7, 11), -2, 2, 0));
  gc_value r = gc_reshape(h->g, e, gc_shape2(7, -1));
  out(h, bin(h, IR_OP_ADD, r, in_f(h, gc_shape1(55), -1, 1, 0)), TOL_EW);
  gc_value t = un(h, IR_OP_TANH, in_f(h, gc_shape2(3, 13), -2, 2, 0));
  out(h, gc_reshape(h->g, t, gc_shape1(39)), TOL_EW);
  /* scalar <-> [1, 1], batch 1 */
  out(h, un(h, IR_OP_NEG, gc_reshape(h->g, in_f(h, gc_shape0(), -2, 2, 0), gc_shape2(1, 1))),
      TOL_EW);
  out(h, gc_reshape(h->g, un(h, IR_OP_SQRT, in_f(h, gc_shape2(1, 13), 0, 2, 0)), gc_shape1(13)),
      TOL_EW);
  /* a reduction over a reshaped intermediate */
  int ax = 1;
  out(h, gc_sum(h->g, gc_reshape(h->g, e, gc_shape2(35, 11)), &ax, 1, 0), TOL_RED);
}

static void case_transpose(harness *h) {
  const int perms[][3] = {{2, 0, 1}, {1, 0, 2}, {0, 2, 1}, {2, 1, 0}};
  for (int i = 0; i < 4; i++)
    out(h, gc_transpose(h->g, in_f(h, gc_shape3(5, 7, 11), -2, 2, 0), perms[i]), TOL_EW);
  out(h, gc_transpose(h->g, in_f(h, gc_shape2(3, 13), -2, 2, 0), NULL), TOL_EW);
  out(h, gc_transpose(h->g, in_f(h, gc_shape2(1, 13), -2, 2, 0), NULL), TOL_EW);
  chains(h);
  /* transpose of a computed value, with a fused epilogue and broadcast */
  gc_value e = un(h, IR_OP_EXP, in_f(h, gc_shape3(5, 7, 11), -2, 2, 0));
  gc_value t = gc_transpose(h->g, e, perms[0]);
  out(h, un(h, IR_OP_RELU, bin(h, IR_OP_SUB, t, in_f(h, gc_shape1(7), 0, 3, 0))), TOL_EW);
  /* transpose of a transpose */
  out(h, gc_transpose(h->g, gc_transpose(h->g, e, perms[0]), perms[0]), TOL_EW);
}

/* Reductions over every axis set of 5x7x11 with and without keepdims, on
 * 3x13, batch 1 and a scalar, with fused prologues; lo/hi the inputs. */
static void reduce_case(harness *h, ir_op op, double lo, double hi) {
  gc_value (*fn)(gc_graph *, gc_value, const int *, int, int) = op == IR_OP_SUM    ? gc_sum
                                                                : op == IR_OP_MEAN ? gc_mean
                                                                                   : gc_max;
  gc_value x = in_f(h, gc_shape3(5, 7, 11), lo, hi, 0);
  const int sets[][3] = {{0}, {1}, {2}, {0, 2}, {1, 2}, {0, 1}, {-1}};
  const int lens[] = {1, 1, 1, 2, 2, 2, 1};
  for (int i = 0; i < 7; i++) out(h, fn(h->g, x, sets[i], lens[i], i % 2), TOL_RED);
  out(h, fn(h->g, x, NULL, 0, 0), TOL_RED);
  out(h, fn(h->g, x, NULL, 0, 1), TOL_RED);
  int last = -1, first = 0;
  out(h, fn(h->g, in_f(h, gc_shape2(3, 13), lo, hi, 0), &last, 1, 1), TOL_RED);
  out(h, fn(h->g, in_f(h, gc_shape2(3, 13), lo, hi, 0), &first, 1, 0), TOL_RED);
  out(h, fn(h->g, in_f(h, gc_shape2(1, 13), lo, hi, 0), NULL, 0, 0), TOL_RED);
  out(h, fn(h->g, in_f(h, gc_shape2(1, 13), lo, hi, 0), &first, 1, 0), TOL_RED);
  out(h, fn(h->g, in_f(h, gc_shape0(), lo, hi, 0), NULL, 0, 0), TOL_RED);
  /* fused prologues: op(x * y) over axis 1, op(exp(x)) over all */
  chains(h);
  x = in_f(h, gc_shape3(5, 7, 11), lo, hi, 0);
  gc_value y = in_f(h, gc_shape3(5, 7, 11), -1, 1, 0);
  int one = 1;
  out(h, fn(h->g, bin(h, IR_OP_MUL, x, y), &one, 1, 0), TOL_RED);
  out(h, fn(h->g, un(h, IR_OP_EXP, y), NULL, 0, 0), TOL_RED);
  /* broadcast prologue: op(a [5,1,11] + b [7,1]) over axis 2 */
  int two = 2;
  gc_value a = in_f(h, gc_shape3(5, 1, 11), lo, hi, 0), b = in_f(h, gc_shape2(7, 1), -1, 1, 0);
  out(h, fn(h->g, bin(h, IR_OP_ADD, a, b), &two, 1, 1), TOL_RED);
  /* and an epilogue reading the result: x - op(x, keepdims) */
  gc_value k = fn(h->g, x, &two, 1, 1);
  out(h, bin(h, IR_OP_SUB, x, k), TOL_RED);
}

static void case_sum(harness *h) { reduce_case(h, IR_OP_SUM, -2, 2); }
static void case_mean(harness *h) { reduce_case(h, IR_OP_MEAN, -2, 2); }
static void case_max(harness *h) { reduce_case(h, IR_OP_MAX, -5, -1); } /* all negative */

/* All four transpose combinations on odd sizes, plus an epilogue. */
static void case_matmul(harness *h) {
  const int64_t sizes[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 17, 65}, {64, 784, 256}, {130, 70, 129}};
  for (int s = 0; s < 5; s++) {
    int64_t m = sizes[s][0], k = sizes[s][1], n = sizes[s][2];
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        gc_value a = in_f(h, ta ? gc_shape2(k, m) : gc_shape2(m, k), -1, 1, 0);
        gc_value b = in_f(h, tb ? gc_shape2(n, k) : gc_shape2(k, n), -1, 1, 0);
        out(h, ir_value(ir_matmul_t(h->g, a.id, b.id, ta, tb)), TOL_RED);
      }
  }
  chains(h);
  /* epilogue: relu(a b + bias) with a computed operand */
  gc_value a = un(h, IR_OP_TANH, in_f(h, gc_shape2(33, 17), -1, 1, 0));
  gc_value b = in_f(h, gc_shape2(17, 65), -1, 1, 0), bias = in_f(h, gc_shape1(65), -1, 1, 0);
  out(h, un(h, IR_OP_RELU, bin(h, IR_OP_ADD, gc_matmul(h->g, a, b), bias)), TOL_RED);
}

static void softmax_case(harness *h, ir_op op) {
  gc_value (*fn)(gc_graph *, gc_value, int) = op == IR_OP_SOFTMAX ? gc_softmax : gc_log_softmax;
  gc_value x = in_f(h, gc_shape3(5, 7, 11), -10, 10, 0);
  for (int ax = 0; ax < 3; ax++) out(h, fn(h->g, x, ax), TOL_RED);
  out(h, fn(h->g, in_f(h, gc_shape2(3, 13), -10, 10, 0), -1), TOL_RED);
  out(h, fn(h->g, in_f(h, gc_shape2(3, 13), -10, 10, 0), 0), TOL_RED);
  out(h, fn(h->g, in_f(h, gc_shape2(1, 13), -10, 10, 0), 1), TOL_RED);
  out(h, fn(h->g, in_f(h, gc_shape1(13), -10, 10, 0), 0), TOL_RED);
  /* computed input and a consumer: the result is written over the input
   * (passes/plan.c, row_in_place), along the last axis and a middle one */
  chains(h);
  x = in_f(h, gc_shape3(5, 7, 11), -10, 10, 0);
  gc_value y = fn(h->g, bin(h, IR_OP_MUL, x, sc(h, 2.0f)), 2);
  out(h, bin(h, IR_OP_MUL, y, sc(h, 3.0f)), TOL_RED);
  y = fn(h->g, bin(h, IR_OP_MUL, x, sc(h, -1.5f)), 1);
  out(h, bin(h, IR_OP_MUL, y, sc(h, 3.0f)), TOL_RED);
}

static void case_softmax(harness *h) { softmax_case(h, IR_OP_SOFTMAX); }
static void case_log_softmax(harness *h) { softmax_case(h, IR_OP_LOG_SOFTMAX); }

static void case_cross_entropy(harness *h) {
  out(h, gc_cross_entropy(h->g, in_f(h, gc_shape2(3, 13), -5, 5, 0), in_i(h, gc_shape1(3), 0, 12)),
      TOL_RED);
  out(h, gc_cross_entropy(h->g, in_f(h, gc_shape2(1, 13), -5, 5, 0), in_i(h, gc_shape1(1), 0, 12)),
      TOL_RED);
  out(h, gc_cross_entropy(h->g, in_f(h, gc_shape2(64, 10), -5, 5, 0), in_i(h, gc_shape1(64), 0, 9)),
      TOL_RED);
  /* labels outside [0, C) contribute 0 (the reference's convention) */
  const int32_t bad[3] = {-1, 13, 2};
  out(h,
      gc_cross_entropy(h->g, in_f(h, gc_shape2(3, 13), -5, 5, 0),
                       gc_constant(h->g, GC_I32, gc_shape1(3), bad)),
      TOL_RED);
  chains(h);
  /* computed logits */
  gc_value l = bin(h, IR_OP_MUL, in_f(h, gc_shape2(3, 13), -5, 5, 0), sc(h, 2.0f));
  out(h, gc_cross_entropy(h->g, l, in_i(h, gc_shape1(3), 0, 12)), TOL_RED);
}

static gc_value ce_grad(harness *h, gc_value l, gc_value y, gc_value dl) {
  int32_t in[3] = {l.id, y.id, dl.id};
  return ir_value(ir_add(h->g, IR_OP_CROSS_ENTROPY_GRAD, 3, in, NULL));
}

static void case_cross_entropy_grad(harness *h) {
  gc_value dl = in_f(h, gc_shape0(), 0.5, 2, 0);
  out(h, ce_grad(h, in_f(h, gc_shape2(3, 13), -5, 5, 0), in_i(h, gc_shape1(3), 0, 12), dl),
      TOL_RED);
  out(h, ce_grad(h, in_f(h, gc_shape2(1, 13), -5, 5, 0), in_i(h, gc_shape1(1), 0, 12), dl),
      TOL_RED);
  out(h,
      ce_grad(h, in_f(h, gc_shape2(64, 10), -5, 5, 0), in_i(h, gc_shape1(64), 0, 9), sc(h, 1.0f)),
      TOL_RED);
  const int32_t bad[3] = {-1, 13, 2};
  out(h,
      ce_grad(h, in_f(h, gc_shape2(3, 13), -5, 5, 0), gc_constant(h->g, GC_I32, gc_shape1(3), bad),
              dl),
      TOL_RED);
  /* computed logits and a consumer of the gradient */
  chains(h);
  dl = in_f(h, gc_shape0(), 0.5, 2, 0);
  gc_value l = un(h, IR_OP_TANH, in_f(h, gc_shape2(3, 13), -5, 5, 0));
  gc_value g = ce_grad(h, l, in_i(h, gc_shape1(3), 0, 12), dl);
  out(h, bin(h, IR_OP_MUL, g, sc(h, 4.0f)), TOL_RED);
}

static void case_assign_add(harness *h) {
  h->runs = 3;
  gc_value p1 = param(h, "p1", gc_shape3(5, 7, 11), -1, 1);
  gc_value p2 = param(h, "p2", gc_shape2(3, 13), -1, 1);
  gc_value p3 = param(h, "p3", gc_shape0(), -1, 1);
  gc_value s1 = state(h, "s1", gc_shape1(13), NULL);
  /* reads of the old values, built before and after the updates */
  out(h, bin(h, IR_OP_MUL, p1, sc(h, 2.0f)), TOL_EW);
  gc_assign_add(h->g, p1, in_f(h, gc_shape3(5, 7, 11), -1, 1, 0));
  gc_value x = in_f(h, gc_shape2(3, 13), -1, 1, 0);
  gc_assign_add(h->g, p2, bin(h, IR_OP_MUL, x, sc(h, 0.5f)));
  gc_assign_add(h->g, p3, in_f(h, gc_shape0(), -1, 1, 0));
  gc_assign_add(h->g, s1, gc_sum(h->g, x, (int[]){0}, 1, 0));
  out(h, bin(h, IR_OP_ADD, p2, x), TOL_EW);
  out(h, un(h, IR_OP_NEG, p3), TOL_EW);
  watch(h, "p1", TOL_EW);
  watch(h, "p2", TOL_EW);
  watch(h, "p3", TOL_EW);
  watch(h, "s1", TOL_RED);
}

static void case_opt_tick(harness *h) {
  h->runs = 3;
  const float hy[4] = {0.01f, 1, 1, 0}, hz[4] = {0.5f, 0.25f, 2, 5};
  gc_value a = state(h, "hyper_a", gc_shape1(4), hy), b = state(h, "hyper_b", gc_shape1(4), hz);
  ir_attr t1 = {0}, t2 = {0};
  t1.f[0] = 0.9f;
  t1.f[1] = 0.999f;
  t2.f[0] = 0.5f;
  t2.f[1] = 3.0f;
  ck_assert_int_ge(ir_add(h->g, IR_OP_OPT_TICK, 1, &a.id, &t1), 0);
  ck_assert_int_ge(ir_add(h->g, IR_OP_OPT_TICK, 1, &b.id, &t2), 0);
  watch(h, "hyper_a", TOL_EW);
  watch(h, "hyper_b", TOL_EW);
}

static void sgd(harness *h, gc_value p, gc_value g, gc_value vel, gc_value hyper, float mom,
                float wd) {
  ir_attr a = {0};
  a.f[0] = mom;
  a.f[1] = wd;
  int32_t in[4] = {p.id, g.id, vel.id, hyper.id};
  ck_assert_int_ge(ir_add(h->g, IR_OP_SGD_UPDATE, 4, in, &a), 0);
}

static void case_sgd_update(harness *h) {
  h->runs = 3;
  const float hy[4] = {0.1f, 1, 1, 0};
  gc_value hyper = state(h, "hyper", gc_shape1(4), hy);
  gc_value p1 = param(h, "p1", gc_shape3(5, 7, 11), -1, 1);
  gc_value v1 = state(h, "v1", gc_shape3(5, 7, 11), NULL);
  sgd(h, p1, in_f(h, gc_shape3(5, 7, 11), -1, 1, 0), v1, hyper, 0.9f, 0.01f);
  gc_value p2 = param(h, "p2", gc_shape2(3, 13), -1, 1);
  gc_value v2 = state(h, "v2", gc_shape2(3, 13), NULL);
  gc_value x = in_f(h, gc_shape2(3, 13), -1, 1, 0), y = in_f(h, gc_shape1(13), -1, 1, 0);
  sgd(h, p2, bin(h, IR_OP_MUL, x, y), v2, hyper, 0.0f, 0.0f);
  gc_value p3 = param(h, "p3", gc_shape0(), -1, 1);
  gc_value v3 = state(h, "v3", gc_shape0(), NULL);
  sgd(h, p3, in_f(h, gc_shape0(), -1, 1, 0), v3, hyper, 0.5f, 0.0f);
  const char *w[] = {"p1", "v1", "p2", "v2", "p3", "v3", "hyper"};
  for (int i = 0; i < 7; i++) watch(h, w[i], TOL_EW);
}

static void adam(harness *h, gc_value p, gc_value g, gc_value m, gc_value v, gc_value tick,
                 float wd) {
  ir_attr a = {0};
  a.f[0] = 0.9f;
  a.f[1] = 0.999f;
  a.f[2] = 1e-8f;
  a.f[3] = wd;
  int32_t in[5] = {p.id, g.id, m.id, v.id, tick.id};
  ck_assert_int_ge(ir_add(h->g, IR_OP_ADAM_UPDATE, 5, in, &a), 0);
}

/* Adam's hyper-parameters (lr 0.01, bias corrections 1) in state
 * "hyper" and their tick (betas 0.9, 0.999) over three runs. */
static gc_value adam_tick(harness *h) {
  h->runs = 3;
  const float hy[4] = {0.01f, 1, 1, 0};
  gc_value hyper = state(h, "hyper", gc_shape1(4), hy);
  ir_attr t = {0};
  t.f[0] = 0.9f;
  t.f[1] = 0.999f;
  return ir_value(ir_add(h->g, IR_OP_OPT_TICK, 1, &hyper.id, &t));
}

static void case_adam_update(harness *h) {
  gc_value tick = adam_tick(h);
  gc_value p1 = param(h, "p1", gc_shape3(5, 7, 11), -1, 1);
  adam(h, p1, in_f(h, gc_shape3(5, 7, 11), -1, 1, 0), state(h, "m1", gc_shape3(5, 7, 11), NULL),
       state(h, "v1", gc_shape3(5, 7, 11), NULL), tick, 0.0f);
  gc_value p2 = param(h, "p2", gc_shape1(13), -1, 1);
  gc_value x = in_f(h, gc_shape1(13), -1, 1, 0);
  adam(h, p2, bin(h, IR_OP_MUL, x, x), state(h, "m2", gc_shape1(13), NULL),
       state(h, "v2", gc_shape1(13), NULL), tick, 0.01f);
  gc_value p3 = param(h, "p3", gc_shape0(), -1, 1);
  adam(h, p3, in_f(h, gc_shape0(), -1, 1, 0), state(h, "m3", gc_shape0(), NULL),
       state(h, "v3", gc_shape0(), NULL), tick, 0.0f);
  const char *w[] = {"p1", "m1", "v1", "p2", "m2", "v2", "p3", "m3", "v3", "hyper"};
  for (int i = 0; i < 10; i++) watch(h, w[i], TOL_EW);
}

/* Adam in two steps (passes/split_updates.c): moments, then the
 * parameter from them; AdamW on the second tensor. */
static void case_adam_split(harness *h) {
  gc_value tick = adam_tick(h);
  ir_attr a = {0};
  a.f[0] = 0.9f;
  a.f[1] = 0.999f;
  a.f[2] = 1e-8f;
  const gc_shape shapes[2] = {gc_shape3(5, 7, 11), gc_shape0()};
  for (int t = 0; t < 2; t++) {
    char pn[8], mn[8], vn[8];
    snprintf(pn, sizeof pn, "p%d", t);
    snprintf(mn, sizeof mn, "m%d", t);
    snprintf(vn, sizeof vn, "v%d", t);
    gc_value p = param(h, pn, shapes[t], -1, 1), m = state(h, mn, shapes[t], NULL),
             v = state(h, vn, shapes[t], NULL);
    gc_value gr = in_f(h, shapes[t], -1, 1, 0);
    a.f[3] = t ? 0.01f : 0.0f;
    int32_t in_m[4] = {m.id, gr.id, v.id, tick.id};
    int32_t mo = ir_add(h->g, IR_OP_ADAM_MOMENTS, 4, in_m, &a);
    ck_assert_int_ge(mo, 0);
    int32_t in_p[4] = {p.id, mo, v.id, tick.id};
    ck_assert_int_ge(ir_add(h->g, IR_OP_ADAM_APPLY, 4, in_p, &a), 0);
    watch(h, pn, TOL_EW);
    watch(h, mn, TOL_EW);
    watch(h, vn, TOL_EW);
  }
  watch(h, "hyper", TOL_EW);
}

/* SGD in two steps (passes/split_updates.c): the velocity (with weight
 * decay on the second tensor), then the parameter from it. */
static void case_sgd_split(harness *h) {
  h->runs = 3;
  const float hy[4] = {0.1f, 1, 1, 0};
  gc_value hyper = state(h, "hyper", gc_shape1(4), hy);
  const gc_shape shapes[2] = {gc_shape3(5, 7, 11), gc_shape1(13)};
  for (int t = 0; t < 2; t++) {
    char pn[8], vn[8];
    snprintf(pn, sizeof pn, "p%d", t);
    snprintf(vn, sizeof vn, "v%d", t);
    gc_value p = param(h, pn, shapes[t], -1, 1), v = state(h, vn, shapes[t], NULL);
    ir_attr a = {0};
    a.f[0] = 0.9f;
    a.f[1] = t ? 0.01f : 0.0f;
    int32_t in_v[4] = {v.id, in_f(h, shapes[t], -1, 1, 0).id, p.id, hyper.id};
    int32_t ve = ir_add(h->g, IR_OP_SGD_VELOCITY, 4, in_v, &a);
    ck_assert_int_ge(ve, 0);
    int32_t in_p[3] = {p.id, ve, hyper.id};
    ck_assert_int_ge(ir_add(h->g, IR_OP_SGD_APPLY, 3, in_p, &a), 0);
    watch(h, pn, TOL_EW);
    watch(h, vn, TOL_EW);
  }
}

typedef void (*case_fn)(harness *h);

/* THE table: one case per op; leaves (NULL) are covered by the others. */
static const case_fn cases[IR_OP_COUNT] = {
    [IR_OP_ADD] = case_add,
    [IR_OP_SUB] = case_sub,
    [IR_OP_MUL] = case_mul,
    [IR_OP_DIV] = case_div,
    [IR_OP_EQUAL] = case_equal,
    [IR_OP_NEG] = case_neg,
    [IR_OP_EXP] = case_exp,
    [IR_OP_LOG] = case_log,
    [IR_OP_SQRT] = case_sqrt,
    [IR_OP_RELU] = case_relu,
    [IR_OP_SIGMOID] = case_sigmoid,
    [IR_OP_TANH] = case_tanh,
    [IR_OP_STEP] = case_step,
    [IR_OP_CAST] = case_cast,
    [IR_OP_EXPAND] = case_expand,
    [IR_OP_RESHAPE] = case_reshape,
    [IR_OP_TRANSPOSE] = case_transpose,
    [IR_OP_SUM] = case_sum,
    [IR_OP_MEAN] = case_mean,
    [IR_OP_MAX] = case_max,
    [IR_OP_MATMUL] = case_matmul,
    [IR_OP_SOFTMAX] = case_softmax,
    [IR_OP_LOG_SOFTMAX] = case_log_softmax,
    [IR_OP_CROSS_ENTROPY] = case_cross_entropy,
    [IR_OP_CROSS_ENTROPY_GRAD] = case_cross_entropy_grad,
    [IR_OP_ASSIGN_ADD] = case_assign_add,
    [IR_OP_OPT_TICK] = case_opt_tick,
    [IR_OP_SGD_UPDATE] = case_sgd_update,
    [IR_OP_ADAM_UPDATE] = case_adam_update,
    [IR_OP_ADAM_MOMENTS] = case_adam_split,
    [IR_OP_ADAM_APPLY] = case_adam_split,
    [IR_OP_SGD_VELOCITY] = case_sgd_split,
    [IR_OP_SGD_APPLY] = case_sgd_split,
};

/* The elementwise, movement and reduction extensions have their own suite
 * (test_cl_elem_ops.c, with the same harness and its own coverage loop). */
static bool tested_elsewhere(int op) { return op >= IR_OP_ABS && op <= IR_OP_CUMSUM; }

static bool graph_uses(const gc_graph *g, ir_op op) {
  for (int i = 0; i < g->n; i++)
    if (g->nodes[i].op == op) return true;
  return false;
}

/* Builds every case's graph (host only) and returns the first case that
 * uses op, or -1. */
static int case_using(ir_op op) {
  for (int c = 0; c < IR_OP_COUNT; c++) {
    if (!cases[c]) continue;
    harness h;
    h_init(&h);
    cases[c](&h);
    bool used = false;
    for (int k = 0; k < 2; k++)
      used |= gc_graph_status(h.parts[k].g) == GC_OK && graph_uses(h.parts[k].g, op);
    h_free(&h);
    if (used) return c;
  }
  return -1;
}

/* The one loop over the op table. */
START_TEST(op_matches_reference) {
  ir_op op = (ir_op)_i;
  const char *name = ir_ops[op].name;
  if (!cases[op] && tested_elsewhere(op)) return;
  if (!cases[op] && !is_nn_op(op)) {
    ck_assert_msg(ir_ops[op].props & IR_P_LEAF, "op %s has no test case in test_cl_ops.c", name);
    ck_assert_msg(case_using(op) >= 0, "leaf op %s is used by no case", name);
    return;
  }
  if (is_nn_op(op)) return; /* test_cl_nn_ops.c */
  harness h;
  h_init(&h);
  cases[op](&h);
  for (int k = 0; k < 2; k++)
    ck_assert_msg(gc_graph_status(h.parts[k].g) == GC_OK, "%s: graph error: %s", name,
                  gc_graph_errmsg(h.parts[k].g));
  ck_assert_msg(graph_uses(h.parts[0].g, op), "the case of %s does not use it", name);
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

/* Every op of the table appears in some case's graph (leaves included). */
START_TEST(every_op_is_covered) {
  bool covered[IR_OP_COUNT] = {0};
  for (int c = 0; c < IR_OP_COUNT; c++) {
    if (!cases[c]) continue;
    harness h;
    h_init(&h);
    cases[c](&h);
    for (int k = 0; k < 2; k++) {
      const gc_graph *g = h.parts[k].g;
      ck_assert_msg(gc_graph_status(g) == GC_OK, "case %s: %s", ir_ops[c].name, gc_graph_errmsg(g));
      for (int i = 0; i < g->n; i++) covered[g->nodes[i].op] = true;
    }
    h_free(&h);
  }
  for (int op = 0; op < IR_OP_COUNT; op++)
    ck_assert_msg(covered[op] || is_nn_op(op) || tested_elsewhere(op), "op %s is used by no case",
                  ir_ops[op].name);
}
END_TEST

/* The sentinels themselves: intact after correct kernels, and a write past
 * an output's end (done by hand through the backend's buffer) is caught. */
START_TEST(sentinels_catch_out_of_bounds_writes) {
  gc_device *cl = NULL;
  ck_assert_msg(gc_device_open(test_device(), &cl) == GC_OK, "%s", gc_last_error());
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(3, 13));
  gc_output(g, gc_relu(g, x), "y");
  gc_program *p = NULL;
  ck_assert_msg(gc_compile(g, cl, NULL, &p) == GC_OK, "%s", gc_last_error());
  gc_session *s = NULL;
  ck_assert_int_eq(gc_session_new(p, &s), GC_OK);
  float xv[39];
  for (int i = 0; i < 39; i++) xv[i] = (float)i - 20.0f;
  ck_assert_int_eq(gc_session_set_input(s, "x", xv, sizeof xv), GC_OK);
  ck_assert_int_eq(gc_session_run(s), GC_OK);
  ck_assert_msg(cl_session_check_sentinels(s) == GC_OK, "%s", gc_last_error());
  /* overwrite one sentinel byte behind x (a write at offset = its size) */
  int32_t xid = -1;
  for (int i = 0; i < p->g->n; i++)
    if (p->g->nodes[i].op == IR_OP_INPUT) xid = i;
  ck_assert_int_ge(xid, 0);
  unsigned char junk = 0;
  ck_assert_int_eq(p->be->write(s, xid, sizeof xv + 10, &junk, 1), GC_OK);
  ck_assert_int_eq(gc_session_finish(s), GC_OK);
  ck_assert_int_eq(cl_session_check_sentinels(s), GC_ERR_INTERNAL);
  ck_assert_msg(strstr(gc_last_error(), "sentinel"), "%s", gc_last_error());
  gc_session_free(s);
  gc_program_free(p);
  gc_graph_free(g);
  gc_device_free(cl);
}
END_TEST

static Suite *cl_ops_suite(void) {
  Suite *s = suite_create("cl_ops");
  TCase *tc = tcase_create("ops");
  tcase_set_timeout(tc, 900);
  tcase_add_test(tc, every_op_is_covered);
  tcase_add_test(tc, sentinels_catch_out_of_bounds_writes);
  tcase_add_loop_test(tc, op_matches_reference, 0, IR_OP_COUNT);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  setenv("GRAPHC_DEBUG_SENTINELS", "1", 1);
  SRunner *sr = srunner_create(cl_ops_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
