/* test_autodiff.c — Check suite for passes/autodiff.c: the gradient of every
 * differentiable op against central finite differences, through small
 * graphs built with the public builders, plus the builders' shape errors.
 *
 * Each case builds a value `out` from named parameters; the harness makes
 * loss = sum (or mean) of out * W with a fixed random W, so every output
 * element matters, differentiates, and evaluates forward and gradients on
 * the reference backend (a program assembled here in node-id order, so the
 * suite needs neither the pass pipeline nor OpenCL). Finite differences
 * perturb each parameter element by +-h through the backend's write.
 *
 * Precision: storage is float32, so the loss carries a relative rounding
 * error near 6e-8 and a difference quotient of step 2h loses about
 * 6e-8 |L| / h; with h = 1e-2 and |L| of a few units that is ~1e-5, well
 * under the 1e-2 relative tolerance. The reference kernels accumulate in
 * double, so reductions and matmuls add no noise beyond that. Inputs keep
 * away from kinks (relu at 0, ties of max) by more than h. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/ref/ref.h"
#include "ir/ir.h"

/* --------------------------------------------------------- test values */

static uint64_t rng_state;

static double urand(void) {
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(rng_state >> 11) * 0x1.0p-53;
}

/* Magnitude in [lo, hi], random sign: keeps values off zero. */
static float away(double lo, double hi) {
  double v = lo + (hi - lo) * urand();
  return (float)(urand() < 0.5 ? -v : v);
}

/* A parameter with the given values (n = numel of s). */
static gc_value prm(gc_graph *g, const char *name, gc_shape s, const float *v) {
  gc_value p = gc_param(g, name, s, GC_ZEROS);
  if (gc_value_ok(p)) memcpy(g->nodes[p.id].data, v, ir_node_bytes(&g->nodes[p.id]));
  return p;
}

/* A parameter of values uniform in +-[lo, hi]. */
static gc_value prm_rand(gc_graph *g, const char *name, gc_shape s, double lo, double hi) {
  int64_t n = gc_shape_numel(s);
  float *v = malloc(sizeof *v * (size_t)n);
  for (int64_t i = 0; i < n; i++) v[i] = away(lo, hi);
  gc_value p = prm(g, name, s, v);
  free(v);
  return p;
}

/* A parameter of values uniform in [lo, hi] (one sign). */
static gc_value prm_pos(gc_graph *g, const char *name, gc_shape s, double lo, double hi) {
  int64_t n = gc_shape_numel(s);
  float *v = malloc(sizeof *v * (size_t)n);
  for (int64_t i = 0; i < n; i++) v[i] = (float)(lo + (hi - lo) * urand());
  gc_value p = prm(g, name, s, v);
  free(v);
  return p;
}

/* Distinct values at least 0.1 apart (a shuffled ramp): max has no ties
 * within a perturbation of h < 0.05. */
static gc_value prm_distinct(gc_graph *g, const char *name, gc_shape s) {
  int64_t n = gc_shape_numel(s);
  float *v = malloc(sizeof *v * (size_t)n);
  for (int64_t i = 0; i < n; i++) v[i] = (float)(0.1 * (double)i - 0.05 * (double)n);
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)(urand() * (double)(i + 1));
    float t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
  gc_value p = prm(g, name, s, v);
  free(v);
  return p;
}

static gc_value cst(gc_graph *g, gc_shape s, double lo, double hi) {
  int64_t n = gc_shape_numel(s);
  float *v = malloc(sizeof *v * (size_t)n);
  for (int64_t i = 0; i < n; i++) v[i] = (float)(lo + (hi - lo) * urand());
  gc_value c = gc_constant(g, GC_F32, s, v);
  free(v);
  return c;
}

/* ------------------------------------------- evaluation on the backend */

typedef struct runner {
  gc_program prog;
  gc_session s;
} runner;

static void runner_init(runner *r, gc_graph *g) {
  memset(r, 0, sizeof *r);
  r->prog.be = &gc_backend_ref;
  r->prog.g = g;
  r->prog.order = malloc(sizeof *r->prog.order * (size_t)g->n);
  for (int i = 0; i < g->n; i++) r->prog.order[i] = i; /* ids are topological */
  ck_assert_int_eq(gc_backend_ref.program_build(&r->prog, NULL), GC_OK);
  r->s.p = &r->prog;
  ck_assert_msg(gc_backend_ref.session_new(&r->s) == GC_OK, "%s", gc_last_error());
}

static void runner_free(runner *r) {
  gc_backend_ref.session_free(&r->s);
  gc_backend_ref.program_free(&r->prog);
  free(r->prog.order);
}

static float run_loss(runner *r) {
  float l;
  ck_assert_int_eq(gc_backend_ref.run(&r->s), GC_OK);
  ck_assert_int_eq(gc_backend_ref.read(&r->s, r->prog.g->loss, &l, sizeof l), GC_OK);
  return l;
}

/* ------------------------------------------------------------ harness */

#define MAX_CHECKED 48 /* elements per parameter checked by differences */

/* Differentiates loss = reduce(out * W) and compares the gradient of every
 * parameter with central differences of step h. */
static void check_grads(gc_graph *g, gc_value out, int use_mean, double h) {
  ck_assert_msg(gc_graph_status(g) == GC_OK, "build: %s", gc_graph_errmsg(g));
  gc_shape os = gc_value_shape(g, out);
  gc_value w = cst(g, os, 0.5, 1.5);
  {
    /* random signs in W too */
    float *wd = g->nodes[w.id].data;
    for (int64_t i = 0; i < gc_shape_numel(os); i++)
      if (urand() < 0.5) wd[i] = -wd[i];
  }
  gc_value prod = gc_mul(g, out, w);
  gc_value loss = use_mean ? gc_mean(g, prod, NULL, 0, 0) : gc_sum(g, prod, NULL, 0, 0);
  gc_set_loss(g, loss);
  ck_assert_msg(gc_graph_status(g) == GC_OK, "loss: %s", gc_graph_errmsg(g));
  ck_assert_msg(gc_differentiate(g) == GC_OK, "differentiate: %s", gc_last_error());
  ck_assert_msg(ir_verify(g) == GC_OK, "verify: %s", gc_last_error());

  runner r;
  runner_init(&r, g);
  float l0 = run_loss(&r);
  ck_assert_msg(isfinite(l0), "loss is %g", l0);
  int nparams = 0;
  for (int32_t i = 0; i < g->ngrad; i++) {
    const ir_node *p = &g->nodes[i];
    if (p->op != IR_OP_PARAM) continue;
    nparams++;
    int32_t gid = gc_grad(g, ir_value(i)).id;
    ck_assert_msg(gid >= 0, "param \"%s\" has no gradient", p->name);
    int64_t n = gc_shape_numel(p->shape);
    size_t bytes = ir_node_bytes(p);
    float *an = malloc(bytes), *val = malloc(bytes);
    ck_assert_int_eq(gc_backend_ref.run(&r.s), GC_OK);
    ck_assert_int_eq(gc_backend_ref.read(&r.s, gid, an, bytes), GC_OK);
    ck_assert_int_eq(gc_backend_ref.read(&r.s, i, val, bytes), GC_OK);
    for (int64_t k = 0; k < n && k < MAX_CHECKED; k++) {
      float orig = val[k], v;
      v = (float)(orig + h);
      gc_backend_ref.write(&r.s, i, (size_t)k * sizeof(float), &v, sizeof v);
      double lp = run_loss(&r);
      v = (float)(orig - h);
      gc_backend_ref.write(&r.s, i, (size_t)k * sizeof(float), &v, sizeof v);
      double lm = run_loss(&r);
      gc_backend_ref.write(&r.s, i, (size_t)k * sizeof(float), &orig, sizeof orig);
      /* the step actually taken in float */
      double step = (double)(float)(orig + h) - (double)(float)(orig - h);
      double fd = (lp - lm) / step, a = an[k];
      double tol = 1e-2 * fmax(fabs(fd), fabs(a)) + 1e-4 + 3e-7 * (1 + fabs(l0)) / h;
      ck_assert_msg(fabs(fd - a) <= tol,
                    "d loss / d %s[%lld]: autodiff %.6g, finite difference %.6g (loss %.6g)",
                    p->name, (long long)k, a, fd, l0);
    }
    free(an);
    free(val);
  }
  ck_assert_msg(nparams > 0, "case has no parameters");
  runner_free(&r);
}

/* ------------------------------------------------------------- cases */

static gc_value c_add_bias(gc_graph *g) {
  return gc_add(g, prm_rand(g, "x", gc_shape2(4, 3), 0.1, 1),
                prm_rand(g, "b", gc_shape1(3), 0.1, 1));
}
static gc_value c_add_scalar(gc_graph *g) {
  return gc_add(g, prm_rand(g, "s", gc_shape0(), 0.1, 1),
                prm_rand(g, "x", gc_shape2(2, 3), 0.1, 1));
}
static gc_value c_sub_bcast(gc_graph *g) {
  return gc_sub(g, prm_rand(g, "x", gc_shape2(2, 3), 0.1, 1),
                prm_rand(g, "c", gc_shape2(2, 1), 0.1, 1));
}
static gc_value c_mul_outer(gc_graph *g) {
  return gc_mul(g, prm_rand(g, "a", gc_shape2(4, 1), 0.2, 1),
                prm_rand(g, "b", gc_shape2(1, 3), 0.2, 1));
}
static gc_value c_mul_scalar(gc_graph *g) {
  return gc_mul(g, prm_rand(g, "x", gc_shape3(2, 3, 2), 0.2, 1),
                prm_rand(g, "s", gc_shape0(), 0.5, 1));
}
static gc_value c_div(gc_graph *g) {
  return gc_div(g, prm_rand(g, "a", gc_shape2(2, 3), 0.2, 1),
                prm_rand(g, "b", gc_shape1(3), 0.5, 1.5));
}
static gc_value c_neg(gc_graph *g) { return gc_neg(g, prm_rand(g, "x", gc_shape1(5), 0.1, 1)); }
static gc_value c_exp(gc_graph *g) { return gc_exp(g, prm_rand(g, "x", gc_shape1(5), 0.1, 1)); }
static gc_value c_log(gc_graph *g) { return gc_log(g, prm_pos(g, "x", gc_shape1(5), 0.5, 2)); }
static gc_value c_sqrt(gc_graph *g) { return gc_sqrt(g, prm_pos(g, "x", gc_shape1(5), 0.5, 2)); }
static gc_value c_relu(gc_graph *g) {
  return gc_relu(g, prm_rand(g, "x", gc_shape2(3, 4), 0.1, 1));
}
static gc_value c_sigmoid(gc_graph *g) {
  return gc_sigmoid(g, prm_rand(g, "x", gc_shape1(6), 0.1, 2));
}
static gc_value c_tanh(gc_graph *g) { return gc_tanh(g, prm_rand(g, "x", gc_shape1(6), 0.1, 2)); }
static gc_value c_cast(gc_graph *g) {
  return gc_cast(g, prm_rand(g, "x", gc_shape1(4), 0.1, 1), GC_F32);
}
/* A value used twice: contributions from both uses add up. */
static gc_value c_reuse(gc_graph *g) {
  gc_value x = prm_rand(g, "x", gc_shape1(4), 0.2, 1);
  return gc_add(g, gc_mul(g, x, x), gc_exp(g, x));
}
static gc_value c_expand(gc_graph *g) {
  return gc_expand(g, prm_rand(g, "x", gc_shape2(3, 1), 0.1, 1), gc_shape3(2, 3, 4));
}
static gc_value c_reshape(gc_graph *g) {
  gc_value x = prm_rand(g, "x", gc_shape2(2, 6), 0.1, 1);
  return gc_exp(g, gc_reshape(g, x, gc_shape2(-1, 4)));
}
static gc_value c_transpose(gc_graph *g) {
  gc_value x = prm_rand(g, "x", gc_shape3(2, 3, 4), 0.1, 1);
  return gc_transpose(g, x, (int[]){2, 0, 1});
}
static gc_value c_sum_02(gc_graph *g) {
  return gc_sum(g, prm_rand(g, "x", gc_shape3(2, 3, 4), 0.1, 1), (int[]){0, 2}, 2, 0);
}
static gc_value c_sum_keep(gc_graph *g) {
  return gc_sum(g, prm_rand(g, "x", gc_shape3(2, 3, 4), 0.1, 1), (int[]){0, 2}, 2, 1);
}
static gc_value c_sum_all(gc_graph *g) {
  return gc_sum(g, prm_rand(g, "x", gc_shape2(3, 5), 0.1, 1), NULL, 0, 0);
}
static gc_value c_mean_1(gc_graph *g) {
  return gc_mean(g, prm_rand(g, "x", gc_shape3(2, 3, 4), 0.1, 1), (int[]){1}, 1, 1);
}
static gc_value c_mean_all(gc_graph *g) {
  return gc_mean(g, prm_rand(g, "x", gc_shape3(2, 3, 4), 0.1, 1), NULL, 0, 0);
}
static gc_value c_max_02(gc_graph *g) {
  return gc_max(g, prm_distinct(g, "x", gc_shape3(2, 3, 4)), (int[]){0, 2}, 2, 0);
}
static gc_value c_max_keep(gc_graph *g) {
  return gc_max(g, prm_distinct(g, "x", gc_shape2(3, 5)), (int[]){-1}, 1, 1);
}

/* op(A) op(B) with A' = [3, 4], B' = [4, 2]; stored transposed when the
 * flag says so. */
static gc_value matmul_case(gc_graph *g, int ta, int tb) {
  gc_value a = prm_rand(g, "a", ta ? gc_shape2(4, 3) : gc_shape2(3, 4), 0.1, 1);
  gc_value b = prm_rand(g, "b", tb ? gc_shape2(2, 4) : gc_shape2(4, 2), 0.1, 1);
  return ir_value(ir_matmul_t(g, a.id, b.id, ta, tb));
}
static gc_value c_matmul_nn(gc_graph *g) { return matmul_case(g, 0, 0); }
static gc_value c_matmul_tn(gc_graph *g) { return matmul_case(g, 1, 0); }
static gc_value c_matmul_nt(gc_graph *g) { return matmul_case(g, 0, 1); }
static gc_value c_matmul_tt(gc_graph *g) { return matmul_case(g, 1, 1); }
static gc_value c_matmul_public(gc_graph *g) {
  return gc_matmul(g, prm_rand(g, "a", gc_shape2(5, 3), 0.1, 1),
                   prm_rand(g, "b", gc_shape2(3, 7), 0.1, 1));
}

static gc_value c_softmax_1(gc_graph *g) {
  return gc_softmax(g, prm_rand(g, "x", gc_shape2(3, 4), 0.1, 2), 1);
}
static gc_value c_softmax_0(gc_graph *g) {
  return gc_softmax(g, prm_rand(g, "x", gc_shape2(3, 4), 0.1, 2), 0);
}
static gc_value c_log_softmax_1(gc_graph *g) {
  return gc_log_softmax(g, prm_rand(g, "x", gc_shape2(3, 4), 0.1, 2), 1);
}
static gc_value c_log_softmax_0(gc_graph *g) {
  return gc_log_softmax(g, prm_rand(g, "x", gc_shape2(3, 4), 0.1, 2), 0);
}
static gc_value c_cross_entropy(gc_graph *g) {
  gc_value x = prm_rand(g, "logits", gc_shape2(4, 5), 0.1, 2);
  gc_value y = gc_constant(g, GC_I32, gc_shape1(4), (int32_t[]){3, 0, 4, 1});
  return gc_cross_entropy(g, x, y);
}

/* x [4, 3] -> linear 5 -> relu -> linear 2 -> mse against a target. */
static gc_value c_mlp_mse(gc_graph *g) {
  gc_value x = cst(g, gc_shape2(4, 3), -1, 1);
  gc_value w1 = prm_rand(g, "w1", gc_shape2(3, 5), 0.2, 1);
  gc_value b1 = prm_rand(g, "b1", gc_shape1(5), 0.1, 0.5);
  gc_value w2 = prm_rand(g, "w2", gc_shape2(5, 2), 0.2, 1);
  gc_value b2 = prm_rand(g, "b2", gc_shape1(2), 0.1, 0.5);
  gc_value h = gc_relu(g, gc_add(g, gc_matmul(g, x, w1), b1));
  gc_value y = gc_add(g, gc_matmul(g, h, w2), b2);
  return gc_mse(g, y, cst(g, gc_shape2(4, 2), -1, 1));
}

/* The same with cross-entropy and the linear layers from frontend/. */
static gc_value c_mlp_ce(gc_graph *g) {
  gc_value x = cst(g, gc_shape2(4, 3), -1, 1);
  gc_value h = gc_tanh(g, gc_linear(g, x, 5, GC_GLOROT, "fc1"));
  gc_value logits = gc_linear(g, h, 3, GC_GLOROT, "fc2");
  return gc_cross_entropy(g, logits, gc_constant(g, GC_I32, gc_shape1(4), (int32_t[]){0, 2, 1, 2}));
}

static gc_value c_tanh_sigmoid_chain(gc_graph *g) {
  gc_value x = prm_rand(g, "x", gc_shape2(2, 3), 0.1, 1);
  gc_value w = prm_rand(g, "w", gc_shape1(3), 0.3, 1.5);
  gc_value t = gc_tanh(g, gc_mul(g, x, w));
  return gc_sigmoid(g, gc_sub(g, gc_tanh(g, t), gc_div(g, t, gc_scalar(g, 3))));
}

/* ---- neural-network ops (small shapes) ---- */

static gc_conv2d_opts copts(int s, int pt, int pl, int pb, int pr, int dh, int dw, int groups) {
  gc_conv2d_opts o = {{0}};
  o.stride[0] = o.stride[1] = s;
  o.padding[0] = pt, o.padding[1] = pl, o.padding[2] = pb, o.padding[3] = pr;
  o.dilation[0] = dh, o.dilation[1] = dw;
  o.groups = groups;
  return o;
}
static gc_value c_conv2d(gc_graph *g) {
  gc_conv2d_opts o = copts(2, 1, 0, 0, 1, 1, 2, 1);
  return gc_conv2d(g, prm_rand(g, "x", gc_shape4(2, 3, 6, 5), 0.1, 1),
                   prm_rand(g, "w", gc_shape4(4, 3, 3, 2), 0.1, 1), &o);
}
static gc_value c_conv2d_groups(gc_graph *g) {
  gc_conv2d_opts o = copts(1, 1, 1, 1, 1, 1, 1, 2);
  return gc_conv2d(g, prm_rand(g, "x", gc_shape4(1, 4, 4, 5), 0.1, 1),
                   prm_rand(g, "w", gc_shape4(4, 2, 3, 3), 0.1, 1), &o);
}
static gc_value c_conv_transpose(gc_graph *g) {
  gc_conv2d_opts o = copts(2, 1, 0, 0, 1, 1, 1, 1);
  o.output_padding[0] = 1;
  return gc_conv_transpose2d(g, prm_rand(g, "x", gc_shape4(2, 3, 3, 4), 0.1, 1),
                             prm_rand(g, "w", gc_shape4(3, 2, 3, 2), 0.1, 1), &o);
}
static gc_value c_conv_grad_weight(gc_graph *g) {
  gc_value x = prm_rand(g, "x", gc_shape4(2, 3, 5, 4), 0.1, 1);
  gc_value dy = prm_rand(g, "dy", gc_shape4(2, 2, 2, 2), 0.1, 1);
  ir_attr a = {0};
  a.win.sh = a.win.sw = 2;
  a.win.pt = 1, a.win.pr = 1;
  a.shape = gc_shape4(2, 3, 3, 3);
  int32_t in[2] = {x.id, dy.id};
  return ir_value(ir_add(g, IR_OP_CONV2D_GRAD_WEIGHT, 2, in, &a));
}
static gc_value c_maxpool(gc_graph *g) {
  gc_pool2d_opts o = {{3, 3}, {2, 2}, {1, 1, 1, 0}, {0, 0}, 1, 0};
  return gc_maxpool2d(g, prm_distinct(g, "x", gc_shape4(2, 2, 5, 6)), &o);
}
static gc_value c_avgpool(gc_graph *g) {
  gc_pool2d_opts o = {{3, 2}, {2, 2}, {1, 1, 1, 0}, {0, 0}, 1, 1};
  return gc_avgpool2d(g, prm_rand(g, "x", gc_shape4(2, 2, 5, 6), 0.1, 1), &o);
}
static gc_value c_avgpool_grad(gc_graph *g) {
  gc_value dy = prm_rand(g, "dy", gc_shape4(1, 2, 3, 3), 0.1, 1);
  ir_attr a = {0};
  a.win.kh = a.win.kw = 3;
  a.win.sh = a.win.sw = 2;
  a.win.pt = a.win.pl = a.win.pb = a.win.pr = 1;
  a.shape = gc_shape4(1, 2, 5, 6);
  return ir_value(ir_add(g, IR_OP_AVGPOOL2D_GRAD, 1, &dy.id, &a));
}
/* 3-D (NCDHW): the same ops over a depth axis too. The shapes keep the
 * first MAX_CHECKED elements of each parameter spread over whole planes. */
static gc_shape shape5(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e) {
  const int64_t v[5] = {a, b, c, d, e};
  return gc_shapen(5, v);
}
static gc_conv3d_opts c3opts(int sd, int sh, int pf, int pt, int pk, int pb, int dd, int groups) {
  gc_conv3d_opts o = {{0}};
  o.stride[0] = sd, o.stride[1] = sh, o.stride[2] = 1;
  o.padding[0] = pf, o.padding[1] = pt, o.padding[2] = 1;
  o.padding[3] = pk, o.padding[4] = pb, o.padding[5] = 0;
  o.dilation[0] = dd, o.dilation[1] = 1, o.dilation[2] = 1;
  o.groups = groups;
  return o;
}
static gc_value c_conv3d(gc_graph *g) {
  gc_conv3d_opts o = c3opts(2, 1, 1, 0, 0, 1, 1, 1);
  return gc_conv3d(g, prm_rand(g, "x", shape5(1, 2, 5, 3, 4), 0.1, 1),
                   prm_rand(g, "w", shape5(3, 2, 3, 2, 2), 0.1, 1), &o);
}
static gc_value c_conv3d_dilated(gc_graph *g) {
  gc_conv3d_opts o = c3opts(1, 2, 0, 1, 1, 0, 2, 2);
  return gc_conv3d(g, prm_rand(g, "x", shape5(1, 4, 4, 3, 3), 0.1, 1),
                   prm_rand(g, "w", shape5(4, 2, 2, 2, 2), 0.1, 1), &o);
}
static gc_value c_conv_transpose3d(gc_graph *g) {
  gc_conv3d_opts o = c3opts(2, 1, 1, 0, 0, 1, 1, 1);
  o.output_padding[0] = 1;
  return gc_conv_transpose3d(g, prm_rand(g, "x", shape5(1, 2, 2, 3, 2), 0.1, 1),
                             prm_rand(g, "w", shape5(2, 2, 3, 2, 2), 0.1, 1), &o);
}
static gc_value c_conv3d_grad_weight(gc_graph *g) {
  gc_value x = prm_rand(g, "x", shape5(1, 2, 4, 3, 4), 0.1, 1);
  gc_value dy = prm_rand(g, "dy", shape5(1, 2, 2, 2, 3), 0.1, 1);
  ir_attr a = {0};
  a.win.sd = 2, a.win.pd0 = 1, a.win.pd1 = 0;
  a.win.sh = 2, a.win.pt = 1;
  a.shape = shape5(2, 2, 2, 2, 2);
  int32_t in[2] = {x.id, dy.id};
  return ir_value(ir_add(g, IR_OP_CONV2D_GRAD_WEIGHT, 2, in, &a));
}
static gc_value c_maxpool3d(gc_graph *g) {
  gc_pool3d_opts o = {{2, 3, 2}, {2, 2, 1}, {1, 1, 0, 0, 1, 1}, {1, 1, 1}, 1, 0};
  return gc_maxpool3d(g, prm_distinct(g, "x", shape5(1, 2, 4, 4, 3)), &o);
}
static gc_value c_avgpool3d(gc_graph *g) {
  gc_pool3d_opts o = {{3, 2, 2}, {2, 1, 2}, {1, 0, 1, 1, 1, 0}, {0, 0, 0}, 1, 1};
  return gc_avgpool3d(g, prm_rand(g, "x", shape5(1, 2, 4, 3, 4), 0.1, 1), &o);
}
static gc_value c_avgpool3d_grad(gc_graph *g) {
  gc_value dy = prm_rand(g, "dy", shape5(1, 2, 2, 2, 3), 0.1, 1);
  ir_attr a = {0};
  a.win.kd = 2, a.win.kh = a.win.kw = 3;
  a.win.sd = 2, a.win.sh = a.win.sw = 2;
  a.win.pd1 = 1, a.win.pt = a.win.pl = a.win.pb = a.win.pr = 1;
  a.shape = shape5(1, 2, 3, 3, 5);
  return ir_value(ir_add(g, IR_OP_AVGPOOL2D_GRAD, 1, &dy.id, &a));
}
static gc_value c_resize(gc_graph *g) {
  return gc_resize_bilinear2d(g, prm_rand(g, "x", gc_shape4(1, 2, 3, 4), 0.1, 1), 5, 7, 0);
}
static gc_value c_resize_grad(gc_graph *g) {
  gc_value dy = prm_rand(g, "dy", gc_shape4(1, 2, 5, 3), 0.1, 1);
  ir_attr a = {0};
  a.win.align_corners = 1;
  a.shape = gc_shape4(1, 2, 3, 4);
  return ir_value(ir_add(g, IR_OP_RESIZE_BILINEAR_GRAD, 1, &dy.id, &a));
}
static gc_value c_matmul_batched(gc_graph *g) {
  gc_value a = prm_rand(g, "a", gc_shape3(2, 3, 4), 0.1, 1);
  gc_value b = prm_rand(g, "b", gc_shape3(2, 4, 2), 0.1, 1);
  gc_value w = prm_rand(g, "w", gc_shape2(2, 3), 0.1, 1);
  return gc_matmul(g, gc_matmul(g, a, b), w);
}
static gc_value c_matmul_batched_t(gc_graph *g) {
  gc_value a = prm_rand(g, "a", gc_shape3(2, 4, 3), 0.1, 1);
  gc_value w = prm_rand(g, "w", gc_shape2(2, 4), 0.1, 1);
  return ir_value(ir_matmul_t(g, a.id, w.id, 1, 1));
}
/* Running statistics are state here (the harness wants a gradient for
 * every parameter); their in-place update does not touch the loss. */
static gc_value state_leaf(gc_graph *g, gc_shape s) {
  ir_attr a = {0};
  a.to = GC_F32;
  a.shape = s;
  int32_t id = ir_add(g, IR_OP_STATE, 0, NULL, &a);
  g->nodes[id].flags |= IR_F_STATE;
  g->nodes[id].data = calloc(1, ir_node_bytes(&g->nodes[id]));
  return ir_value(id);
}
static gc_value c_batch_norm(gc_graph *g) {
  gc_value x = prm_rand(g, "x", gc_shape4(3, 2, 2, 3), 0.1, 2);
  gc_value gm = prm_rand(g, "gamma", gc_shape1(2), 0.5, 1.5);
  gc_value bt = prm_rand(g, "beta", gc_shape1(2), 0.1, 1);
  return gc_batch_norm(g, x, gm, bt, state_leaf(g, gc_shape1(2)), state_leaf(g, gc_shape1(2)), 1,
                       0.1f, 1e-5f);
}
static gc_value c_layer_norm(gc_graph *g) {
  return gc_layer_norm_layer(g, prm_rand(g, "x", gc_shape3(2, 3, 4), 0.1, 2), 2, 1e-5f, "ln");
}
static gc_value c_bce(gc_graph *g) {
  gc_value x = prm_rand(g, "x", gc_shape2(3, 4), 0.1, 3);
  return gc_bce_with_logits(g, x, cst(g, gc_shape2(3, 4), 0, 1));
}
static gc_value c_kl(gc_graph *g) {
  return gc_kl_normal(g, prm_rand(g, "mu", gc_shape2(3, 2), 0.1, 1),
                      prm_rand(g, "lv", gc_shape2(3, 2), 0.1, 1));
}

/* ---- the elementwise, movement and reduction extensions ---- */

static gc_value c_abs(gc_graph *g) { return gc_abs(g, prm_rand(g, "x", gc_shape2(3, 4), 0.1, 1)); }
static gc_value c_reciprocal(gc_graph *g) {
  return gc_reciprocal(g, prm_rand(g, "x", gc_shape1(6), 0.5, 2));
}
static gc_value c_erf(gc_graph *g) { return gc_erf(g, prm_rand(g, "x", gc_shape1(6), 0.1, 2)); }
static gc_value c_gelu(gc_graph *g) {
  return gc_gelu(g, prm_rand(g, "x", gc_shape1(8), 0.1, 3), 0);
}
static gc_value c_gelu_tanh(gc_graph *g) {
  return gc_gelu(g, prm_rand(g, "x", gc_shape1(8), 0.1, 3), 1);
}
static gc_value c_leaky_relu(gc_graph *g) {
  return gc_leaky_relu(g, prm_rand(g, "x", gc_shape2(3, 4), 0.1, 2), 0.1f);
}
static gc_value c_elu(gc_graph *g) {
  return gc_elu(g, prm_rand(g, "x", gc_shape2(3, 4), 0.1, 2), 1.5f);
}
static gc_value c_selu(gc_graph *g) { return gc_selu(g, prm_rand(g, "x", gc_shape1(8), 0.1, 2)); }
static gc_value c_softplus(gc_graph *g) {
  return gc_softplus(g, prm_rand(g, "x", gc_shape1(8), 0.1, 3));
}
static gc_value c_softsign(gc_graph *g) {
  return gc_softsign(g, prm_rand(g, "x", gc_shape1(8), 0.1, 3));
}
/* kinks at -2.5 and 2.5 and at the clip bounds are kept away from */
static gc_value c_hard_sigmoid(gc_graph *g) {
  const float v[8] = {-3.5f, -2.2f, -1, -0.3f, 0.4f, 1.7f, 2.3f, 3.1f};
  return gc_hard_sigmoid(g, prm(g, "x", gc_shape1(8), v), 0.2f, 0.5f);
}
static gc_value c_clip(gc_graph *g) {
  const float v[8] = {-1.5f, -0.7f, -0.3f, 0.1f, 0.2f, 0.6f, 0.9f, 2};
  return gc_clip(g, prm(g, "x", gc_shape1(8), v), -0.5f, 0.75f);
}
/* inputs inside each domain, away from the poles of the derivatives */
static gc_value c_sin(gc_graph *g) { return gc_sin(g, prm_rand(g, "x", gc_shape1(8), 0.1, 3)); }
static gc_value c_cos(gc_graph *g) { return gc_cos(g, prm_rand(g, "x", gc_shape1(8), 0.1, 3)); }
static gc_value c_tan(gc_graph *g) { return gc_tan(g, prm_rand(g, "x", gc_shape1(8), 0.1, 1.2)); }
static gc_value c_asin(gc_graph *g) { return gc_asin(g, prm_rand(g, "x", gc_shape1(8), 0.1, 0.8)); }
static gc_value c_acos(gc_graph *g) { return gc_acos(g, prm_rand(g, "x", gc_shape1(8), 0.1, 0.8)); }
static gc_value c_atan(gc_graph *g) { return gc_atan(g, prm_rand(g, "x", gc_shape1(8), 0.1, 3)); }
static gc_value c_sinh(gc_graph *g) { return gc_sinh(g, prm_rand(g, "x", gc_shape1(8), 0.1, 2)); }
static gc_value c_cosh(gc_graph *g) { return gc_cosh(g, prm_rand(g, "x", gc_shape1(8), 0.1, 2)); }
static gc_value c_asinh(gc_graph *g) { return gc_asinh(g, prm_rand(g, "x", gc_shape1(8), 0.1, 3)); }
static gc_value c_acosh(gc_graph *g) { return gc_acosh(g, prm_pos(g, "x", gc_shape1(8), 1.2, 3)); }
static gc_value c_atanh(gc_graph *g) {
  return gc_atanh(g, prm_rand(g, "x", gc_shape1(8), 0.1, 0.8));
}
static gc_value c_pow(gc_graph *g) {
  return gc_pow(g, prm_pos(g, "a", gc_shape2(2, 3), 0.5, 2),
                prm_rand(g, "b", gc_shape1(3), 0.2, 1.5));
}
static gc_value c_minimum(gc_graph *g) {
  return gc_minimum(g, prm_rand(g, "a", gc_shape2(3, 4), 0.1, 1),
                    prm_rand(g, "b", gc_shape1(4), 0.1, 1));
}
static gc_value c_maximum(gc_graph *g) {
  return gc_maximum(g, prm_rand(g, "a", gc_shape2(3, 1), 0.1, 1),
                    prm_rand(g, "b", gc_shape2(3, 4), 0.1, 1));
}
static gc_value c_where(gc_graph *g) {
  const uint8_t c[4] = {1, 0, 0, 1};
  gc_value cond = gc_constant(g, GC_BOOL, gc_shape1(4), c);
  return gc_where(g, cond, prm_rand(g, "a", gc_shape2(3, 4), 0.1, 1),
                  prm_rand(g, "b", gc_shape2(3, 1), 0.1, 1));
}
static gc_value c_slice(gc_graph *g) {
  gc_value x = prm_rand(g, "x", gc_shape3(4, 5, 3), 0.1, 1);
  const int64_t st[2] = {-1, 1}, en[2] = {-100, 5}, sp[2] = {-2, 2};
  return gc_slice(g, x, st, en, (int[]){1, 0}, sp, 2);
}
static gc_value pad_case(gc_graph *g, gc_pad_mode mode) {
  const int64_t pads[4] = {1, 2, 2, 1};
  return gc_pad(g, prm_rand(g, "x", gc_shape2(3, 4), 0.1, 1), pads, mode, 0.5f);
}
static gc_value c_pad_constant(gc_graph *g) { return pad_case(g, GC_PAD_CONSTANT); }
static gc_value c_pad_reflect(gc_graph *g) { return pad_case(g, GC_PAD_REFLECT); }
static gc_value c_pad_edge(gc_graph *g) { return pad_case(g, GC_PAD_EDGE); }
static gc_value c_concat(gc_graph *g) {
  gc_value xs[3] = {prm_rand(g, "a", gc_shape2(2, 3), 0.1, 1),
                    prm_rand(g, "b", gc_shape2(2, 1), 0.1, 1),
                    prm_rand(g, "c", gc_shape2(2, 2), 0.1, 1)};
  return gc_concat(g, xs, 3, -1);
}
static gc_value c_tile(gc_graph *g) {
  return gc_tile(g, prm_rand(g, "x", gc_shape2(2, 3), 0.1, 1), (int64_t[]){3, 2});
}
/* an embedding: repeated and negative indices add up */
static gc_value c_gather(gc_graph *g) {
  gc_value idx = gc_constant(g, GC_I32, gc_shape2(2, 2), (int32_t[]){1, 3, 1, -1});
  return gc_gather(g, prm_rand(g, "emb", gc_shape2(5, 3), 0.1, 1), idx, 0);
}
static gc_value c_gather_axis1(gc_graph *g) {
  gc_value idx = gc_constant(g, GC_I64, gc_shape1(3), (int64_t[]){2, 0, 2});
  return gc_gather(g, prm_rand(g, "x", gc_shape3(2, 4, 2), 0.1, 1), idx, 1);
}
static gc_value c_min(gc_graph *g) {
  return gc_min(g, prm_distinct(g, "x", gc_shape3(2, 3, 4)), (int[]){0, 2}, 2, 1);
}
static gc_value c_prod(gc_graph *g) {
  return gc_prod(g, prm_rand(g, "x", gc_shape2(3, 4), 0.5, 1.5), (int[]){1}, 1, 0);
}
static gc_value c_logsumexp(gc_graph *g) {
  return gc_logsumexp(g, prm_rand(g, "x", gc_shape3(2, 3, 4), 0.1, 2), (int[]){0, 2}, 2, 1);
}
static gc_value c_cumsum(gc_graph *g) {
  return gc_cumsum(g, prm_rand(g, "x", gc_shape2(3, 4), 0.1, 1), 1, 0, 0);
}
static gc_value c_cumsum_excl_rev(gc_graph *g) {
  return gc_cumsum(g, prm_rand(g, "x", gc_shape2(3, 4), 0.1, 1), 0, 1, 1);
}

typedef struct fd_case {
  const char *name;
  gc_value (*build)(gc_graph *g);
  int use_mean;
  double h;
  ir_op covers[6];
  int ncovers;
} fd_case;

#define COVERS(...) {__VA_ARGS__}, (sizeof((ir_op[]){__VA_ARGS__}) / sizeof(ir_op))
#define H 1e-2

static const fd_case cases[] = {
    {"add_bias", c_add_bias, 0, H, COVERS(IR_OP_ADD)},
    {"add_scalar", c_add_scalar, 1, H, COVERS(IR_OP_ADD)},
    {"sub_bcast", c_sub_bcast, 0, H, COVERS(IR_OP_SUB)},
    {"mul_outer", c_mul_outer, 0, H, COVERS(IR_OP_MUL)},
    {"mul_scalar", c_mul_scalar, 1, H, COVERS(IR_OP_MUL)},
    {"div", c_div, 0, H, COVERS(IR_OP_DIV)},
    {"neg", c_neg, 0, H, COVERS(IR_OP_NEG)},
    {"exp", c_exp, 0, H, COVERS(IR_OP_EXP)},
    {"log", c_log, 0, H, COVERS(IR_OP_LOG)},
    {"sqrt", c_sqrt, 0, H, COVERS(IR_OP_SQRT)},
    {"relu", c_relu, 0, H, COVERS(IR_OP_RELU)},
    {"sigmoid", c_sigmoid, 0, H, COVERS(IR_OP_SIGMOID)},
    {"tanh", c_tanh, 0, H, COVERS(IR_OP_TANH)},
    {"cast", c_cast, 0, H, COVERS(IR_OP_CAST)},
    {"reuse", c_reuse, 0, H, COVERS(IR_OP_ADD, IR_OP_MUL, IR_OP_EXP)},
    {"expand", c_expand, 0, H, COVERS(IR_OP_EXPAND)},
    {"reshape", c_reshape, 0, H, COVERS(IR_OP_RESHAPE)},
    {"transpose", c_transpose, 0, H, COVERS(IR_OP_TRANSPOSE)},
    {"sum_02", c_sum_02, 0, H, COVERS(IR_OP_SUM)},
    {"sum_keep", c_sum_keep, 0, H, COVERS(IR_OP_SUM)},
    {"sum_all", c_sum_all, 0, H, COVERS(IR_OP_SUM)},
    {"mean_1", c_mean_1, 0, H, COVERS(IR_OP_MEAN)},
    {"mean_all", c_mean_all, 0, H, COVERS(IR_OP_MEAN)},
    {"max_02", c_max_02, 0, H, COVERS(IR_OP_MAX)},
    {"max_keep", c_max_keep, 0, H, COVERS(IR_OP_MAX)},
    {"matmul_nn", c_matmul_nn, 0, H, COVERS(IR_OP_MATMUL)},
    {"matmul_tn", c_matmul_tn, 0, H, COVERS(IR_OP_MATMUL)},
    {"matmul_nt", c_matmul_nt, 0, H, COVERS(IR_OP_MATMUL)},
    {"matmul_tt", c_matmul_tt, 0, H, COVERS(IR_OP_MATMUL)},
    {"matmul_public", c_matmul_public, 1, H, COVERS(IR_OP_MATMUL)},
    {"softmax_1", c_softmax_1, 0, H, COVERS(IR_OP_SOFTMAX)},
    {"softmax_0", c_softmax_0, 0, H, COVERS(IR_OP_SOFTMAX)},
    {"log_softmax_1", c_log_softmax_1, 0, H, COVERS(IR_OP_LOG_SOFTMAX)},
    {"log_softmax_0", c_log_softmax_0, 0, H, COVERS(IR_OP_LOG_SOFTMAX)},
    {"cross_entropy", c_cross_entropy, 0, H, COVERS(IR_OP_CROSS_ENTROPY)},
    {"mlp_relu_mse", c_mlp_mse, 0, 1e-3, COVERS(IR_OP_RELU, IR_OP_MATMUL, IR_OP_ADD)},
    {"mlp_tanh_ce", c_mlp_ce, 0, H, COVERS(IR_OP_CROSS_ENTROPY, IR_OP_TANH)},
    {"tanh_sigmoid_chain", c_tanh_sigmoid_chain, 1, H, COVERS(IR_OP_TANH, IR_OP_SIGMOID)},
    {"conv2d", c_conv2d, 0, H, COVERS(IR_OP_CONV2D)},
    {"conv2d_groups", c_conv2d_groups, 0, H, COVERS(IR_OP_CONV2D)},
    {"conv_transpose2d", c_conv_transpose, 0, H, COVERS(IR_OP_CONV2D_GRAD_INPUT)},
    {"conv2d_grad_weight", c_conv_grad_weight, 0, H, COVERS(IR_OP_CONV2D_GRAD_WEIGHT)},
    {"maxpool2d", c_maxpool, 0, H, COVERS(IR_OP_MAXPOOL2D)},
    {"avgpool2d", c_avgpool, 0, H, COVERS(IR_OP_AVGPOOL2D)},
    {"avgpool2d_grad", c_avgpool_grad, 0, H, COVERS(IR_OP_AVGPOOL2D_GRAD)},
    {"conv3d", c_conv3d, 0, H, COVERS(IR_OP_CONV2D)},
    {"conv3d_dilated_groups", c_conv3d_dilated, 0, H, COVERS(IR_OP_CONV2D)},
    {"conv_transpose3d", c_conv_transpose3d, 0, H, COVERS(IR_OP_CONV2D_GRAD_INPUT)},
    {"conv3d_grad_weight", c_conv3d_grad_weight, 0, H, COVERS(IR_OP_CONV2D_GRAD_WEIGHT)},
    {"maxpool3d", c_maxpool3d, 0, H, COVERS(IR_OP_MAXPOOL2D)},
    {"avgpool3d", c_avgpool3d, 0, H, COVERS(IR_OP_AVGPOOL2D)},
    {"avgpool3d_grad", c_avgpool3d_grad, 0, H, COVERS(IR_OP_AVGPOOL2D_GRAD)},
    {"resize_bilinear", c_resize, 0, H, COVERS(IR_OP_RESIZE_BILINEAR)},
    {"resize_bilinear_grad", c_resize_grad, 0, H, COVERS(IR_OP_RESIZE_BILINEAR_GRAD)},
    {"matmul_batched", c_matmul_batched, 0, H, COVERS(IR_OP_MATMUL)},
    {"matmul_batched_t", c_matmul_batched_t, 0, H, COVERS(IR_OP_MATMUL)},
    {"batch_norm", c_batch_norm, 0, 1e-3, COVERS(IR_OP_MEAN, IR_OP_SQRT, IR_OP_DIV)},
    {"layer_norm", c_layer_norm, 0, 1e-3, COVERS(IR_OP_MEAN, IR_OP_SQRT)},
    {"bce_with_logits", c_bce, 0, H, COVERS(IR_OP_RELU, IR_OP_LOG)},
    {"kl_normal", c_kl, 0, H, COVERS(IR_OP_EXP)},
    {"abs", c_abs, 0, H, COVERS(IR_OP_ABS)},
    {"reciprocal", c_reciprocal, 0, 1e-3, COVERS(IR_OP_RECIPROCAL)},
    {"erf", c_erf, 0, H, COVERS(IR_OP_ERF)},
    {"gelu", c_gelu, 0, H, COVERS(IR_OP_GELU)},
    {"gelu_tanh", c_gelu_tanh, 0, H, COVERS(IR_OP_GELU_TANH)},
    {"leaky_relu", c_leaky_relu, 0, H, COVERS(IR_OP_LEAKY_RELU)},
    {"elu", c_elu, 0, H, COVERS(IR_OP_ELU)},
    {"selu", c_selu, 0, H, COVERS(IR_OP_SELU)},
    {"softplus", c_softplus, 0, H, COVERS(IR_OP_SOFTPLUS)},
    {"softsign", c_softsign, 0, H, COVERS(IR_OP_SOFTSIGN)},
    {"hard_sigmoid", c_hard_sigmoid, 0, H, COVERS(IR_OP_HARD_SIGMOID)},
    {"clip", c_clip, 0, H, COVERS(IR_OP_CLIP)},
    {"sin", c_sin, 0, H, COVERS(IR_OP_SIN)},
    {"cos", c_cos, 0, H, COVERS(IR_OP_COS)},
    {"tan", c_tan, 0, H, COVERS(IR_OP_TAN)},
    {"asin", c_asin, 0, H, COVERS(IR_OP_ASIN)},
    {"acos", c_acos, 0, H, COVERS(IR_OP_ACOS)},
    {"atan", c_atan, 0, H, COVERS(IR_OP_ATAN)},
    {"sinh", c_sinh, 0, H, COVERS(IR_OP_SINH)},
    {"cosh", c_cosh, 0, H, COVERS(IR_OP_COSH)},
    {"asinh", c_asinh, 0, H, COVERS(IR_OP_ASINH)},
    {"acosh", c_acosh, 0, H, COVERS(IR_OP_ACOSH)},
    {"atanh", c_atanh, 0, H, COVERS(IR_OP_ATANH)},
    {"pow", c_pow, 0, 1e-3, COVERS(IR_OP_POW)},
    {"minimum", c_minimum, 0, 1e-3, COVERS(IR_OP_MINIMUM)},
    {"maximum", c_maximum, 0, 1e-3, COVERS(IR_OP_MAXIMUM)},
    {"where", c_where, 0, H, COVERS(IR_OP_WHERE)},
    {"slice", c_slice, 0, H, COVERS(IR_OP_SLICE)},
    {"pad_constant", c_pad_constant, 0, H, COVERS(IR_OP_PAD)},
    {"pad_reflect", c_pad_reflect, 0, H, COVERS(IR_OP_PAD)},
    {"pad_edge", c_pad_edge, 0, H, COVERS(IR_OP_PAD)},
    {"concat", c_concat, 0, H, COVERS(IR_OP_CONCAT)},
    {"tile", c_tile, 0, H, COVERS(IR_OP_TILE)},
    {"gather", c_gather, 0, H, COVERS(IR_OP_GATHER)},
    {"gather_axis1", c_gather_axis1, 0, H, COVERS(IR_OP_GATHER)},
    {"min", c_min, 0, H, COVERS(IR_OP_MIN)},
    {"prod", c_prod, 0, H, COVERS(IR_OP_PROD)},
    {"logsumexp", c_logsumexp, 0, H, COVERS(IR_OP_LOGSUMEXP)},
    {"cumsum", c_cumsum, 0, H, COVERS(IR_OP_CUMSUM)},
    {"cumsum_excl_rev", c_cumsum_excl_rev, 0, H, COVERS(IR_OP_CUMSUM)},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

START_TEST(test_fd_case) {
  const fd_case *c = &cases[_i];
  rng_state = 0x5eed0000u + (uint64_t)_i;
  gc_graph *g = gc_graph_new();
  gc_graph_set_seed(g, 7 + (uint64_t)_i);
  gc_value out = c->build(g);
  ck_assert_msg(gc_graph_status(g) == GC_OK, "case %s: %s", c->name, gc_graph_errmsg(g));
  check_grads(g, out, c->use_mean, c->h);
  gc_graph_free(g);
}
END_TEST

/* Every op that gradients flow through has a finite-difference case. */
START_TEST(test_every_differentiable_op_covered) {
  bool seen[IR_OP_COUNT] = {0};
  for (int i = 0; i < NCASES; i++)
    for (int k = 0; k < cases[i].ncovers; k++) seen[cases[i].covers[k]] = true;
  for (int op = 0; op < IR_OP_COUNT; op++) {
    if (ir_ops[op].props & (IR_P_NODIFF | IR_P_LEAF)) continue;
    ck_assert_msg(seen[op], "op '%s' has no finite-difference gradient case", ir_ops[op].name);
  }
}
END_TEST

/* No gradient flows through ints, step or equal: the parameter gets none. */
START_TEST(test_no_gradient_paths) {
  gc_graph *g = gc_graph_new();
  gc_value x = prm_rand(g, "x", gc_shape1(3), 0.5, 2);
  gc_value y = gc_cast(g, gc_cast(g, x, GC_I32), GC_F32);
  gc_value z = gc_add(g, gc_step(g, x), gc_equal(g, x, gc_scalar(g, 1)));
  gc_value q = prm_rand(g, "q", gc_shape1(3), 0.5, 2);
  gc_set_loss(g, gc_sum(g, gc_mul(g, gc_add(g, y, z), q), NULL, 0, 0));
  ck_assert_int_eq(gc_differentiate(g), GC_OK);
  ck_assert_int_eq(gc_differentiate(g), GC_OK); /* idempotent */
  ck_assert(!gc_value_ok(gc_grad(g, x)));
  ck_assert(gc_value_ok(gc_grad(g, q)));
  gc_graph_free(g);
}
END_TEST

/* ------------------------------------------------------- shape errors */

static void msg_has(const char *msg, const char *part) {
  ck_assert_msg(strstr(msg, part) != NULL, "message \"%s\" lacks \"%s\"", msg, part);
}

START_TEST(test_error_broadcast) {
  gc_graph *g = gc_graph_new();
  gc_value a = gc_input(g, "a", GC_F32, gc_shape2(2, 3));
  gc_value b = gc_input(g, "b", GC_F32, gc_shape1(4));
  gc_value c = gc_add(g, a, b);
  ck_assert(!gc_value_ok(c));
  ck_assert_int_eq(gc_graph_status(g), GC_ERR_SHAPE);
  const char *m = gc_graph_errmsg(g);
  msg_has(m, "add");
  msg_has(m, "[2, 3]");
  msg_has(m, "[4]");
  char first[1024];
  snprintf(first, sizeof first, "%s", m);
  /* sticky: later builder calls return invalid values and keep the first error */
  ck_assert(!gc_value_ok(gc_relu(g, a)));
  ck_assert(!gc_value_ok(gc_input(g, "c", GC_F32, gc_shape1(2))));
  ck_assert(!gc_value_ok(gc_matmul(g, a, b)));
  ck_assert(!gc_value_ok(gc_set_loss(g, a)));
  ck_assert_str_eq(gc_graph_errmsg(g), first);
  ck_assert_int_ne(gc_differentiate(g), GC_OK);
  gc_graph_free(g);
}
END_TEST

START_TEST(test_error_matmul) {
  gc_graph *g = gc_graph_new();
  gc_value a = gc_input(g, "a", GC_F32, gc_shape2(2, 3));
  gc_value b = gc_input(g, "b", GC_F32, gc_shape2(4, 5));
  ck_assert(!gc_value_ok(gc_matmul(g, a, b)));
  ck_assert_int_eq(gc_graph_status(g), GC_ERR_SHAPE);
  const char *m = gc_graph_errmsg(g);
  msg_has(m, "matmul");
  msg_has(m, "inner");
  msg_has(m, "[2, 3]");
  msg_has(m, "[4, 5]");
  gc_graph_free(g);
}
END_TEST

START_TEST(test_error_cross_entropy_labels) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(4, 3));
  gc_value y = gc_input(g, "y", GC_F32, gc_shape1(4));
  ck_assert(!gc_value_ok(gc_cross_entropy(g, x, y)));
  ck_assert_int_eq(gc_graph_status(g), GC_ERR_SHAPE);
  msg_has(gc_graph_errmsg(g), "cross_entropy");
  msg_has(gc_graph_errmsg(g), "i32");
  msg_has(gc_graph_errmsg(g), "f32");
  gc_graph_free(g);
}
END_TEST

START_TEST(test_error_reshape) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(2, 3));
  ck_assert(!gc_value_ok(gc_reshape(g, x, gc_shape2(4, 2))));
  ck_assert_int_eq(gc_graph_status(g), GC_ERR_SHAPE);
  msg_has(gc_graph_errmsg(g), "reshape");
  msg_has(gc_graph_errmsg(g), "[2, 3]");
  msg_has(gc_graph_errmsg(g), "[4, 2]");
  gc_graph_free(g);
  /* -1 that cannot divide */
  g = gc_graph_new();
  x = gc_input(g, "x", GC_F32, gc_shape2(2, 3));
  ck_assert(!gc_value_ok(gc_reshape(g, x, gc_shape2(-1, 4))));
  ck_assert_int_eq(gc_graph_status(g), GC_ERR_SHAPE);
  gc_graph_free(g);
}
END_TEST

START_TEST(test_error_loss_not_scalar) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(2, 3));
  ck_assert(!gc_value_ok(gc_set_loss(g, gc_relu(g, x))));
  ck_assert_int_eq(gc_graph_status(g), GC_ERR_SHAPE);
  msg_has(gc_graph_errmsg(g), "loss");
  msg_has(gc_graph_errmsg(g), "[2, 3]");
  gc_graph_free(g);
  /* no loss at all */
  g = gc_graph_new();
  gc_param(g, "p", gc_shape1(2), GC_ZEROS);
  ck_assert_int_eq(gc_differentiate(g), GC_ERR_INVALID);
  gc_graph_free(g);
}
END_TEST

static Suite *autodiff_suite(void) {
  Suite *s = suite_create("autodiff");
  TCase *tc = tcase_create("finite_differences");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, test_fd_case, 0, NCASES);
  tcase_add_test(tc, test_every_differentiable_op_covered);
  tcase_add_test(tc, test_no_gradient_paths);
  suite_add_tcase(s, tc);
  TCase *te = tcase_create("shape_errors");
  tcase_set_timeout(te, 120);
  tcase_add_test(te, test_error_broadcast);
  tcase_add_test(te, test_error_matmul);
  tcase_add_test(te, test_error_cross_entropy_labels);
  tcase_add_test(te, test_error_reshape);
  tcase_add_test(te, test_error_loss_not_scalar);
  suite_add_tcase(s, te);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(autodiff_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
