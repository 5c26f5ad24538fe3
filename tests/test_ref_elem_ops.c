/* test_ref_elem_ops.c — Check suite for the reference kernels of the
 * elementwise, movement and reduction extensions (backends/ref/
 * ref_elem_ops.c and the min/prod/logsumexp/cast parts of ref_ops.c)
 * against hand-computed values, through the public builders, evaluated
 * node by node with ref_eval. A coverage test fails when an op of that
 * section of ir/ops.def has no case here (test_ref_ops.c defers them to
 * this suite). Also the builders' argument normalization (slice bounds,
 * split, squeeze, unsqueeze, flatten) and their errors. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/ref/ref.h"
#include "ir/ir.h"

/* ------------------------------------------------------------- helpers */

static gc_value cf(gc_graph *g, gc_shape s, const float *v) { return gc_constant(g, GC_F32, s, v); }
static gc_value ci(gc_graph *g, gc_shape s, const int32_t *v) {
  return gc_constant(g, GC_I32, s, v);
}
static gc_value cl64(gc_graph *g, gc_shape s, const int64_t *v) {
  return gc_constant(g, GC_I64, s, v);
}
static gc_value cb(gc_graph *g, gc_shape s, const uint8_t *v) {
  return gc_constant(g, GC_BOOL, s, v);
}

/* Evaluates node v, whose inputs are leaves holding data, into out. */
static void eval(gc_graph *g, gc_value v, void *out, size_t bytes) {
  ck_assert_msg(gc_graph_status(g) == GC_OK, "graph error: %s", gc_graph_errmsg(g));
  ck_assert(gc_value_ok(v));
  const ir_node *n = &g->nodes[v.id];
  ck_assert_msg(ir_node_bytes(n) == bytes, "node has %zu bytes, buffer %zu", ir_node_bytes(n),
                bytes);
  void *in[IR_MAX_INPUTS];
  for (int k = 0; k < n->nin; k++) {
    in[k] = g->nodes[n->in[k]].data;
    ck_assert_msg(in[k] != NULL, "input %d of node %d has no data", k, v.id);
  }
  ref_eval(g, v.id, in, out);
}

static void near(const float *got, const float *want, int64_t n, double tol) {
  for (int64_t i = 0; i < n; i++) {
    if (isinf(want[i]) && got[i] == want[i]) continue;
    double d = fabs((double)got[i] - (double)want[i]);
    ck_assert_msg(d <= tol * (1.0 + fabs((double)want[i])), "element %lld: got %.9g want %.9g",
                  (long long)i, got[i], want[i]);
  }
}

/* f32 output of v, n elements, against want. */
static void expect_f(gc_graph *g, gc_value v, const float *want, int n, double tol) {
  float out[64];
  ck_assert_int_le(n, 64);
  ck_assert_int_eq(gc_value_dtype(g, v), GC_F32);
  eval(g, v, out, (size_t)n * sizeof(float));
  near(out, want, n, tol);
}

static void expect_b(gc_graph *g, gc_value v, const uint8_t *want, int n) {
  uint8_t out[64];
  ck_assert_int_eq(gc_value_dtype(g, v), GC_BOOL);
  eval(g, v, out, (size_t)n);
  for (int i = 0; i < n; i++)
    ck_assert_msg(out[i] == want[i], "element %d: %d want %d", i, out[i], want[i]);
}

static void expect_i64(gc_graph *g, gc_value v, const int64_t *want, int n) {
  int64_t out[64];
  ck_assert_int_eq(gc_value_dtype(g, v), GC_I64);
  eval(g, v, out, (size_t)n * sizeof(int64_t));
  for (int i = 0; i < n; i++)
    ck_assert_msg(out[i] == want[i], "element %d: %lld want %lld", i, (long long)out[i],
                  (long long)want[i]);
}

static void shape_is(gc_graph *g, gc_value v, gc_shape s) {
  char a[160], b[160];
  ck_assert_msg(gc_value_ok(v), "invalid value: %s", gc_graph_errmsg(g));
  ck_assert_msg(ir_shape_eq(gc_value_shape(g, v), s), "shape %s, want %s",
                gc_shape_str(gc_value_shape(g, v), a, sizeof a), gc_shape_str(s, b, sizeof b));
}

#define TOL 1e-6
#define F(...) ((const float[]){__VA_ARGS__})
#define B(...) ((const uint8_t[]){__VA_ARGS__})
#define L(...) ((const int64_t[]){__VA_ARGS__})

/* --------------------------------------------------------------- cases */

static void case_unary_math(void) {
  gc_graph *g = gc_graph_new();
  gc_value x = cf(g, gc_shape1(4), F(-2, -0.5f, 0, 3));
  expect_f(g, gc_abs(g, x), F(2, 0.5f, 0, 3), 4, 0);
  expect_f(g, gc_sign(g, x), F(-1, -1, 0, 1), 4, 0);
  expect_f(g, gc_reciprocal(g, cf(g, gc_shape1(3), F(2, -4, 0.5f))), F(0.5f, -0.25f, 2), 3, 0);
  expect_f(g, gc_erf(g, cf(g, gc_shape1(4), F(-1, 0, 0.5f, 1))),
           F(-0.842700793f, 0, 0.520499878f, 0.842700793f), 4, TOL);
  gc_value y = cf(g, gc_shape1(4), F(-1, 0, 1, 2));
  expect_f(g, gc_gelu(g, y, 0), F(-0.158655254f, 0, 0.841344746f, 1.954499736f), 4, TOL);
  expect_f(g, gc_gelu(g, y, 1), F(-0.158808009f, 0, 0.841191991f, 1.954597694f), 4, TOL);
  gc_graph_free(g);
}

static void case_activations(void) {
  gc_graph *g = gc_graph_new();
  gc_value x = cf(g, gc_shape1(2), F(-1, 2));
  expect_f(g, gc_leaky_relu(g, cf(g, gc_shape1(2), F(-2, 3)), 0.1f), F(-0.2f, 3), 2, TOL);
  expect_f(g, gc_elu(g, x, 1.0f), F(-0.632120559f, 2), 2, TOL);
  expect_f(g, gc_elu(g, x, 2.0f), F(-1.264241118f, 2), 2, TOL);
  expect_f(g, gc_selu(g, x), F(-1.111330738f, 2.101401975f), 2, TOL);
  expect_f(g, gc_softplus(g, cf(g, gc_shape1(3), F(0, 100, -100))), F(0.693147181f, 100, 0), 3,
           TOL);
  expect_f(g, gc_softsign(g, cf(g, gc_shape1(2), F(3, -1))), F(0.75f, -0.5f), 2, TOL);
  expect_f(g, gc_hard_sigmoid(g, cf(g, gc_shape1(4), F(-3, 0, 1, 3)), 0.2f, 0.5f),
           F(0, 0.5f, 0.7f, 1), 4, TOL);
  expect_f(g, gc_clip(g, cf(g, gc_shape1(3), F(-3, 0.5f, 5)), -1, 2), F(-1, 0.5f, 2), 3, 0);
  gc_graph_free(g);
}

/* sin .. atanh at points inside every domain (acosh: x >= 1), and the
 * inverses' NaN outside theirs. */
static void case_trig(void) {
  gc_graph *g = gc_graph_new();
  gc_value x = cf(g, gc_shape1(4), F(-0.5f, 0, 0.25f, 0.75f));
  expect_f(g, gc_sin(g, x), F(-0.479425539f, 0, 0.247403959f, 0.68163876f), 4, TOL);
  expect_f(g, gc_cos(g, x), F(0.877582562f, 1, 0.968912422f, 0.731688869f), 4, TOL);
  expect_f(g, gc_tan(g, x), F(-0.54630249f, 0, 0.255341921f, 0.93159646f), 4, TOL);
  expect_f(g, gc_asin(g, x), F(-0.523598776f, 0, 0.252680255f, 0.848062079f), 4, TOL);
  expect_f(g, gc_acos(g, x), F(2.0943951f, 1.57079633f, 1.31811607f, 0.722734248f), 4, TOL);
  expect_f(g, gc_atan(g, x), F(-0.463647609f, 0, 0.244978663f, 0.643501109f), 4, TOL);
  expect_f(g, gc_sinh(g, x), F(-0.521095305f, 0, 0.252612317f, 0.822316732f), 4, TOL);
  expect_f(g, gc_cosh(g, x), F(1.12762597f, 1, 1.0314131f, 1.29468328f), 4, TOL);
  expect_f(g, gc_asinh(g, x), F(-0.481211825f, 0, 0.247466462f, 0.693147181f), 4, TOL);
  expect_f(g, gc_atanh(g, x), F(-0.549306144f, 0, 0.255412812f, 0.972955075f), 4, TOL);
  expect_f(g, gc_acosh(g, cf(g, gc_shape1(4), F(1, 1.5f, 2, 4))),
           F(0, 0.96242365f, 1.3169579f, 2.06343707f), 4, TOL);
  float nan3[3];
  gc_value out_of_domain = cf(g, gc_shape1(3), F(-2, 2, 0.5f));
  gc_value bad[3] = {gc_asin(g, out_of_domain), gc_acos(g, out_of_domain),
                     gc_acosh(g, out_of_domain)};
  for (int b = 0; b < 3; b++) {
    eval(g, bad[b], nan3, sizeof nan3);
    ck_assert(isnan(nan3[0]));
    ck_assert(b < 2 ? isnan(nan3[1]) && !isnan(nan3[2]) : !isnan(nan3[1]) && isnan(nan3[2]));
  }
  gc_graph_free(g);
}

static void case_pow_minmax(void) {
  gc_graph *g = gc_graph_new();
  expect_f(g, gc_pow(g, cf(g, gc_shape1(3), F(2, 4, 9)), cf(g, gc_shape1(3), F(3, 0.5f, -0.5f))),
           F(8, 2, 1.0f / 3), 3, TOL);
  /* [2, 1] ^ [3]: outer */
  gc_value p = gc_pow(g, cf(g, gc_shape2(2, 1), F(2, 3)), cf(g, gc_shape1(3), F(0, 1, 2)));
  shape_is(g, p, gc_shape2(2, 3));
  expect_f(g, p, F(1, 2, 4, 1, 3, 9), 6, TOL);
  gc_value a = cf(g, gc_shape2(2, 2), F(1, 5, -3, 2)), b = cf(g, gc_shape1(2), F(0, 4));
  expect_f(g, gc_minimum(g, a, b), F(0, 4, -3, 2), 4, 0);
  expect_f(g, gc_maximum(g, a, b), F(1, 5, 0, 4), 4, 0);
  int32_t out[2];
  eval(g,
       gc_maximum(g, ci(g, gc_shape1(2), (int32_t[]){-7, 9}), ci(g, gc_shape0(), (int32_t[]){3})),
       out, sizeof out);
  ck_assert_int_eq(out[0], 3);
  ck_assert_int_eq(out[1], 9);
  gc_graph_free(g);
}

static void case_compare(void) {
  gc_graph *g = gc_graph_new();
  gc_value a = cf(g, gc_shape2(2, 3), F(1, 2, 3, 3, 2, 1)), b = cf(g, gc_shape1(3), F(1, 2, 2));
  expect_b(g, gc_eq(g, a, b), B(1, 1, 0, 0, 1, 0), 6);
  expect_b(g, gc_greater(g, a, b), B(0, 0, 1, 1, 0, 0), 6);
  expect_b(g, gc_greater_equal(g, a, b), B(1, 1, 1, 1, 1, 0), 6);
  expect_b(g, gc_less(g, a, b), B(0, 0, 0, 0, 0, 1), 6);
  expect_b(g, gc_less_equal(g, a, b), B(1, 1, 0, 0, 1, 1), 6);
  /* ints, and NaN compares false (and unequal) */
  gc_value i = cl64(g, gc_shape1(3), L(-5, 0, 1LL << 40)), j = cl64(g, gc_shape0(), L(0));
  expect_b(g, gc_less(g, i, j), B(1, 0, 0), 3);
  gc_value n = cf(g, gc_shape1(2), F(NAN, 1));
  expect_b(g, gc_eq(g, n, n), B(0, 1), 2);
  expect_b(g, gc_greater(g, n, cf(g, gc_shape0(), F(0))), B(0, 1), 2);
  gc_graph_free(g);
}

static void case_logic_where(void) {
  gc_graph *g = gc_graph_new();
  gc_value a = cb(g, gc_shape2(2, 2), B(0, 0, 1, 1)), b = cb(g, gc_shape2(2, 2), B(0, 1, 0, 1));
  expect_b(g, gc_logical_and(g, a, b), B(0, 0, 0, 1), 4);
  expect_b(g, gc_logical_or(g, a, b), B(0, 1, 1, 1), 4);
  expect_b(g, gc_logical_xor(g, a, b), B(0, 1, 1, 0), 4);
  expect_b(g, gc_logical_not(g, a), B(1, 1, 0, 0), 4);
  /* broadcast [2] with [2, 1] */
  expect_b(g, gc_logical_and(g, cb(g, gc_shape1(2), B(1, 0)), cb(g, gc_shape2(2, 1), B(1, 0))),
           B(1, 0, 0, 0), 4);
  /* where: cond [3], a [2, 3], b scalar */
  gc_value w = gc_where(g, cb(g, gc_shape1(3), B(1, 0, 1)),
                        cf(g, gc_shape2(2, 3), F(1, 2, 3, 4, 5, 6)), cf(g, gc_shape0(), F(-1)));
  shape_is(g, w, gc_shape2(2, 3));
  expect_f(g, w, F(1, -1, 3, 4, -1, 6), 6, 0);
  int32_t out[2];
  eval(g,
       gc_where(g, cb(g, gc_shape2(2, 1), B(0, 1)), ci(g, gc_shape0(), (int32_t[]){7}),
                ci(g, gc_shape1(1), (int32_t[]){-7})),
       out, sizeof out);
  ck_assert_int_eq(out[0], -7);
  ck_assert_int_eq(out[1], 7);
  gc_graph_free(g);
}

static void case_cast(void) {
  gc_graph *g = gc_graph_new();
  gc_value x = cf(g, gc_shape1(5), F(0, 0.5f, -2, NAN, -0.0f));
  expect_b(g, gc_cast(g, x, GC_BOOL), B(0, 1, 1, 1, 0), 5);
  expect_i64(g, gc_cast(g, cf(g, gc_shape1(4), F(-2.7f, 3e10f, NAN, -1e20f)), GC_I64),
             L(-2, 30000001024LL, 0, INT64_MIN), 4);
  int32_t i32[2];
  eval(g, gc_cast(g, cl64(g, gc_shape1(2), L(4294967297LL, -3)), GC_I32), i32, sizeof i32);
  ck_assert_int_eq(i32[0], 1); /* wraps */
  ck_assert_int_eq(i32[1], -3);
  expect_f(g, gc_cast(g, cb(g, gc_shape1(2), B(1, 0)), GC_F32), F(1, 0), 2, 0);
  expect_b(g, gc_cast(g, ci(g, gc_shape1(3), (int32_t[]){0, -4, 256}), GC_BOOL), B(0, 1, 1), 3);
  expect_i64(g, gc_cast(g, cb(g, gc_shape1(2), B(0, 1)), GC_I64), L(0, 1), 2);
  expect_f(g, gc_cast(g, cl64(g, gc_shape1(2), L(-5, 1LL << 40)), GC_F32), F(-5, 1099511627776.0f),
           2, 0);
  gc_graph_free(g);
}

static void case_slice(void) {
  gc_graph *g = gc_graph_new();
  float x[24];
  for (int i = 0; i < 24; i++) x[i] = (float)i;
  gc_value v = cf(g, gc_shape3(2, 3, 4), x);
  /* axis 2 reversed by 2 from the end, axis 1 from 1 to the end */
  gc_value s = gc_slice(g, v, L(-1, 1), L(-100, 3), (int[]){2, 1}, L(-2, 1), 2);
  shape_is(g, s, gc_shape3(2, 2, 2));
  expect_f(g, s, F(7, 5, 11, 9, 19, 17, 23, 21), 8, 0);
  /* ends past the end clamp; steps NULL */
  s = gc_slice(g, v, L(1, 2), L(99, 99), NULL, NULL, 2);
  shape_is(g, s, gc_shape3(1, 1, 4));
  expect_f(g, s, F(20, 21, 22, 23), 4, 0);
  s = gc_slice(g, cf(g, gc_shape1(5), F(0, 1, 2, 3, 4)), L(0), L(5), NULL, L(3), 1);
  expect_f(g, s, F(0, 3), 2, 0);
  /* slice_grad scatters dy back (dy [2] into [5] at 4, 1) */
  ir_attr a = {0};
  a.shape = gc_shape1(5);
  a.starts[0] = 4;
  a.steps[0] = -3;
  int32_t dy = cf(g, gc_shape1(2), F(7, 8)).id;
  gc_value sg = ir_value(ir_add(g, IR_OP_SLICE_GRAD, 1, &dy, &a));
  expect_f(g, sg, F(0, 8, 0, 0, 7), 5, 0);
  /* errors: empty, step 0 */
  ck_assert(!gc_value_ok(gc_slice(g, v, L(2), L(2), (int[]){2}, NULL, 1)));
  ck_assert_int_eq(gc_graph_status(g), GC_ERR_SHAPE);
  ck_assert_msg(strstr(gc_graph_errmsg(g), "slice") && strstr(gc_graph_errmsg(g), "[2, 3, 4]"),
                "%s", gc_graph_errmsg(g));
  gc_graph_free(g);
  g = gc_graph_new();
  v = cf(g, gc_shape1(3), F(1, 2, 3));
  ck_assert(!gc_value_ok(gc_slice(g, v, L(0), L(2), NULL, L(0), 1)));
  ck_assert_int_eq(gc_graph_status(g), GC_ERR_INVALID);
  gc_graph_free(g);
}

static void case_pad(void) {
  gc_graph *g = gc_graph_new();
  gc_value x = cf(g, gc_shape1(3), F(1, 2, 3));
  const int64_t p[2] = {2, 2};
  expect_f(g, gc_pad(g, x, p, GC_PAD_CONSTANT, 9), F(9, 9, 1, 2, 3, 9, 9), 7, 0);
  expect_f(g, gc_pad(g, x, p, GC_PAD_REFLECT, 0), F(3, 2, 1, 2, 3, 2, 1), 7, 0);
  expect_f(g, gc_pad(g, x, p, GC_PAD_EDGE, 0), F(1, 1, 1, 2, 3, 3, 3), 7, 0);
  /* 2-D: [2, 2] with 1 row before, 1 column after */
  gc_value y = gc_pad(g, cf(g, gc_shape2(2, 2), F(1, 2, 3, 4)), L(1, 0, 0, 1), GC_PAD_CONSTANT, 0);
  shape_is(g, y, gc_shape2(3, 3));
  expect_f(g, y, F(0, 0, 0, 1, 2, 0, 3, 4, 0), 9, 0);
  y = gc_pad(g, cf(g, gc_shape2(2, 2), F(1, 2, 3, 4)), L(1, 0, 0, 1), GC_PAD_EDGE, 0);
  expect_f(g, y, F(1, 2, 2, 1, 2, 2, 3, 4, 4), 9, 0);
  /* reflect needs pads < length */
  ck_assert(!gc_value_ok(gc_pad(g, x, L(3, 0), GC_PAD_REFLECT, 0)));
  ck_assert_int_eq(gc_graph_status(g), GC_ERR_SHAPE);
  gc_graph_free(g);
}

static void case_concat_split(void) {
  gc_graph *g = gc_graph_new();
  gc_value a = cf(g, gc_shape2(2, 1), F(1, 2)), b = cf(g, gc_shape2(2, 2), F(3, 4, 5, 6));
  gc_value c = gc_concat(g, (gc_value[]){a, b, a}, 3, 1);
  shape_is(g, c, gc_shape2(2, 4));
  expect_f(g, c, F(1, 3, 4, 1, 2, 5, 6, 2), 8, 0);
  c = gc_concat(g, (gc_value[]){b, b}, 2, 0);
  shape_is(g, c, gc_shape2(4, 2));
  expect_f(g, c, F(3, 4, 5, 6, 3, 4, 5, 6), 8, 0);
  gc_value parts[4]; /* the failing 4-way split below writes 4 */
  float x[6] = {0, 1, 2, 3, 4, 5};
  ck_assert_int_eq(gc_split(g, cf(g, gc_shape2(1, 6), x), -1, L(1, 3, 2), 3, parts), GC_OK);
  shape_is(g, parts[1], gc_shape2(1, 3));
  expect_f(g, parts[0], F(0), 1, 0);
  expect_f(g, parts[1], F(1, 2, 3), 3, 0);
  expect_f(g, parts[2], F(4, 5), 2, 0);
  ck_assert_int_eq(gc_split(g, cf(g, gc_shape1(6), x), 0, NULL, 2, parts), GC_OK);
  expect_f(g, parts[1], F(3, 4, 5), 3, 0);
  /* mismatched dims */
  ck_assert(!gc_value_ok(gc_concat(g, (gc_value[]){a, cf(g, gc_shape2(3, 1), x)}, 2, 1)));
  ck_assert_int_eq(gc_graph_status(g), GC_ERR_SHAPE);
  ck_assert_msg(strstr(gc_graph_errmsg(g), "concat") && strstr(gc_graph_errmsg(g), "[3, 1]"), "%s",
                gc_graph_errmsg(g));
  gc_graph_free(g);
  g = gc_graph_new();
  ck_assert_int_eq(gc_split(g, cf(g, gc_shape1(6), x), 0, NULL, 4, parts), GC_ERR_SHAPE);
  gc_graph_free(g);
}

static void case_reshapes(void) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape4(2, 1, 3, 1));
  shape_is(g, gc_squeeze(g, x, NULL, 0), gc_shape2(2, 3));
  shape_is(g, gc_squeeze(g, x, (int[]){-1}, 1), gc_shape3(2, 1, 3));
  shape_is(g, gc_unsqueeze(g, gc_input(g, "y", GC_F32, gc_shape2(2, 3)), (int[]){0, -1}, 2),
           gc_shape4(1, 2, 3, 1));
  shape_is(g, gc_flatten(g, x, 2), gc_shape2(2, 3));
  shape_is(g, gc_flatten(g, x, 0), gc_shape2(1, 6));
  ck_assert(!gc_value_ok(gc_squeeze(g, x, (int[]){0}, 1)));
  ck_assert_int_eq(gc_graph_status(g), GC_ERR_SHAPE);
  gc_graph_free(g);
}

static void case_tile(void) {
  gc_graph *g = gc_graph_new();
  expect_f(g, gc_tile(g, cf(g, gc_shape1(2), F(1, 2)), L(3)), F(1, 2, 1, 2, 1, 2), 6, 0);
  gc_value t = gc_tile(g, cf(g, gc_shape2(2, 1), F(1, 2)), L(2, 2));
  shape_is(g, t, gc_shape2(4, 2));
  expect_f(g, t, F(1, 1, 2, 2, 1, 1, 2, 2), 8, 0);
  gc_graph_free(g);
}

static void case_gather(void) {
  gc_graph *g = gc_graph_new();
  gc_value d = cf(g, gc_shape2(3, 2), F(1, 2, 3, 4, 5, 6));
  gc_value r = gc_gather(g, d, ci(g, gc_shape1(4), (int32_t[]){2, 0, -1, 7}), 0);
  shape_is(g, r, gc_shape2(4, 2));
  expect_f(g, r, F(5, 6, 1, 2, 5, 6, 0, 0), 8, 0);
  r = gc_gather(g, d, cl64(g, gc_shape2(2, 2), L(1, 0, 0, 0)), 1);
  shape_is(g, r, gc_shape3(3, 2, 2));
  expect_f(g, r, F(2, 1, 1, 1, 4, 3, 3, 3, 6, 5, 5, 5), 12, 0);
  /* scalar index drops the axis */
  r = gc_gather(g, d, cl64(g, gc_shape0(), L(1)), 0);
  shape_is(g, r, gc_shape1(2));
  expect_f(g, r, F(3, 4), 2, 0);
  /* gather_grad: dy [3, 2] into [3, 2] rows 2, 0, 2 (row 2 twice) */
  ir_attr a = {0};
  a.axis = 0;
  a.shape = gc_shape2(3, 2);
  int32_t in[2] = {cf(g, gc_shape2(3, 2), F(1, 2, 3, 4, 5, 6)).id,
                   ci(g, gc_shape1(3), (int32_t[]){2, 0, -1}).id};
  expect_f(g, ir_value(ir_add(g, IR_OP_GATHER_GRAD, 2, in, &a)), F(3, 4, 0, 0, 6, 8), 6, 0);
  /* float indices are refused */
  ck_assert(!gc_value_ok(gc_gather(g, d, d, 0)));
  ck_assert_int_eq(gc_graph_status(g), GC_ERR_SHAPE);
  gc_graph_free(g);
}

static void case_one_hot(void) {
  gc_graph *g = gc_graph_new();
  gc_value r = gc_one_hot(g, ci(g, gc_shape1(4), (int32_t[]){0, 2, -1, 5}), 3);
  shape_is(g, r, gc_shape2(4, 3));
  expect_f(g, r, F(1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0), 12, 0);
  /* axis 0 with on/off values (ONNX) */
  ir_attr a = {0};
  a.axis = 0;
  a.depth = 2;
  a.f[0] = -1;
  a.f[1] = 5;
  int32_t ix = cl64(g, gc_shape1(3), L(1, 0, 1)).id;
  r = ir_value(ir_add(g, IR_OP_ONE_HOT, 1, &ix, &a));
  shape_is(g, r, gc_shape2(2, 3));
  expect_f(g, r, F(-1, 5, -1, 5, -1, 5), 6, 0);
  gc_graph_free(g);
}

static void case_reduce(void) {
  gc_graph *g = gc_graph_new();
  gc_value x = cf(g, gc_shape2(2, 3), F(1, 2, 3, 4, 5, 6));
  expect_f(g, gc_min(g, x, (int[]){1}, 1, 0), F(1, 4), 2, 0);
  expect_f(g, gc_min(g, x, (int[]){0}, 1, 1), F(1, 2, 3), 3, 0);
  expect_f(g, gc_prod(g, x, (int[]){1}, 1, 0), F(6, 120), 2, 0);
  expect_f(g, gc_prod(g, x, NULL, 0, 0), F(720), 1, 0);
  gc_value l = gc_logsumexp(g, x, (int[]){-1}, 1, 1);
  shape_is(g, l, gc_shape2(2, 1));
  expect_f(g, l, F(3.407605964f, 6.407605964f), 2, TOL);
  expect_f(g, gc_logsumexp(g, cf(g, gc_shape1(2), F(1000, 1000)), NULL, 0, 0), F(1000.693147f), 1,
           TOL);
  expect_f(g, gc_logsumexp(g, cf(g, gc_shape1(2), F(-INFINITY, -INFINITY)), NULL, 0, 0),
           F(-INFINITY), 1, 0);
  float out;
  eval(g, gc_min(g, cf(g, gc_shape1(3), F(1, NAN, 0)), NULL, 0, 0), &out, sizeof out);
  ck_assert(isnan(out)); /* NaN is not hidden, as max */
  gc_graph_free(g);
}

static void case_arg(void) {
  gc_graph *g = gc_graph_new();
  gc_value x = cf(g, gc_shape2(2, 3), F(1, 3, 3, 2, 1, 0));
  expect_i64(g, gc_argmax(g, x, 1, 0, 0), L(1, 0), 2);
  expect_i64(g, gc_argmax(g, x, -1, 0, 1), L(2, 0), 2);
  expect_i64(g, gc_argmin(g, x, 1, 0, 0), L(0, 2), 2);
  gc_value k = gc_argmax(g, x, 0, 1, 0);
  shape_is(g, k, gc_shape2(1, 3));
  expect_i64(g, k, L(1, 0, 0), 3);
  expect_i64(g, gc_argmin(g, x, 0, 0, 0), L(0, 1, 1), 3);
  gc_graph_free(g);
}

static void case_cumsum(void) {
  gc_graph *g = gc_graph_new();
  gc_value x = cf(g, gc_shape1(4), F(1, 2, 3, 4));
  expect_f(g, gc_cumsum(g, x, 0, 0, 0), F(1, 3, 6, 10), 4, 0);
  expect_f(g, gc_cumsum(g, x, 0, 1, 0), F(0, 1, 3, 6), 4, 0);
  expect_f(g, gc_cumsum(g, x, 0, 0, 1), F(10, 9, 7, 4), 4, 0);
  expect_f(g, gc_cumsum(g, x, -1, 1, 1), F(9, 7, 4, 0), 4, 0);
  expect_f(g, gc_cumsum(g, cf(g, gc_shape2(2, 2), F(1, 2, 3, 4)), 0, 0, 0), F(1, 2, 4, 6), 4, 0);
  gc_graph_free(g);
}

/* ---------------------------------------------------------- case table */

typedef struct op_case {
  const char *name;
  void (*run)(void);
  ir_op covers[16];
  int ncovers;
} op_case;

#define COVERS(...) {__VA_ARGS__}, (sizeof((ir_op[]){__VA_ARGS__}) / sizeof(ir_op))

static const op_case cases[] = {
    {"unary_math", case_unary_math,
     COVERS(IR_OP_ABS, IR_OP_SIGN, IR_OP_RECIPROCAL, IR_OP_ERF, IR_OP_GELU, IR_OP_GELU_TANH)},
    {"activations", case_activations,
     COVERS(IR_OP_LEAKY_RELU, IR_OP_ELU, IR_OP_SELU, IR_OP_SOFTPLUS, IR_OP_SOFTSIGN,
            IR_OP_HARD_SIGMOID, IR_OP_CLIP)},
    {"trig", case_trig,
     COVERS(IR_OP_SIN, IR_OP_COS, IR_OP_TAN, IR_OP_ASIN, IR_OP_ACOS, IR_OP_ATAN, IR_OP_SINH,
            IR_OP_COSH, IR_OP_ASINH, IR_OP_ACOSH, IR_OP_ATANH)},
    {"pow_minmax", case_pow_minmax, COVERS(IR_OP_POW, IR_OP_MINIMUM, IR_OP_MAXIMUM)},
    {"compare", case_compare,
     COVERS(IR_OP_EQ, IR_OP_GREATER, IR_OP_GREATER_EQUAL, IR_OP_LESS, IR_OP_LESS_EQUAL)},
    {"logic_where", case_logic_where,
     COVERS(IR_OP_AND, IR_OP_OR, IR_OP_XOR, IR_OP_NOT, IR_OP_WHERE)},
    {"cast", case_cast, COVERS(IR_OP_CAST)},
    {"slice", case_slice, COVERS(IR_OP_SLICE, IR_OP_SLICE_GRAD)},
    {"pad", case_pad, COVERS(IR_OP_PAD)},
    {"concat_split", case_concat_split, COVERS(IR_OP_CONCAT, IR_OP_SLICE)},
    {"reshapes", case_reshapes, COVERS(IR_OP_RESHAPE)},
    {"tile", case_tile, COVERS(IR_OP_TILE)},
    {"gather", case_gather, COVERS(IR_OP_GATHER, IR_OP_GATHER_GRAD)},
    {"one_hot", case_one_hot, COVERS(IR_OP_ONE_HOT)},
    {"reduce", case_reduce, COVERS(IR_OP_MIN, IR_OP_PROD, IR_OP_LOGSUMEXP)},
    {"arg", case_arg, COVERS(IR_OP_ARGMAX, IR_OP_ARGMIN)},
    {"cumsum", case_cumsum, COVERS(IR_OP_CUMSUM)},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

START_TEST(test_op_case) { cases[_i].run(); }
END_TEST

/* Every op of the extension section (ABS .. CUMSUM) has a case. */
START_TEST(test_every_op_covered) {
  bool seen[IR_OP_COUNT] = {0};
  for (int i = 0; i < NCASES; i++)
    for (int k = 0; k < cases[i].ncovers; k++) seen[cases[i].covers[k]] = true;
  for (int op = IR_OP_ABS; op <= IR_OP_CUMSUM; op++) {
    ck_assert_msg(seen[op], "op '%s' has no reference test case", ir_ops[op].name);
    ck_assert_msg(ref_kernels[op] != NULL, "op '%s' has no reference kernel", ir_ops[op].name);
  }
}
END_TEST

static Suite *ref_elem_suite(void) {
  Suite *s = suite_create("ref_elem_ops");
  TCase *tc = tcase_create("ops");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, test_op_case, 0, NCASES);
  tcase_add_test(tc, test_every_op_covered);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(ref_elem_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
