/* test_ref_ops.c — Check suite for the reference interpreter
 * (backends/ref/): every op of ir/ops.def against hand-computed values,
 * evaluated node by node with ref_eval on buffers owned by the test, so the
 * suite does not depend on the compile pipeline. A coverage test fails when
 * an op of the table has no case here. Also the ref backend's storage
 * (views, in-place aliasing, bounds-checked write/read) through a program
 * built by hand. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/ref/ref.h"
#include "ir/ir.h"
#include "nn_ops.h"

/* ------------------------------------------------------------- helpers */

static gc_value cf(gc_graph *g, gc_shape s, const float *v) { return gc_constant(g, GC_F32, s, v); }
static gc_value ci(gc_graph *g, gc_shape s, const int32_t *v) {
  return gc_constant(g, GC_I32, s, v);
}

/* Evaluates node v, whose inputs are leaves holding data, into out (exactly
 * the node's byte size). */
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
    double d = fabs((double)got[i] - (double)want[i]);
    ck_assert_msg(d <= tol * (1.0 + fabs((double)want[i])), "element %lld: got %.9g want %.9g",
                  (long long)i, got[i], want[i]);
  }
}

static void shape_is(gc_graph *g, gc_value v, gc_shape s) {
  char a[160], b[160];
  ck_assert_msg(ir_shape_eq(gc_value_shape(g, v), s), "shape %s, want %s",
                gc_shape_str(gc_value_shape(g, v), a, sizeof a), gc_shape_str(s, b, sizeof b));
}

#define TOL 1e-6

/* --------------------------------------------------------------- cases */

static void case_leaves(void) {
  gc_graph *g = gc_graph_new();
  float d[2] = {1, 2};
  gc_value v[4] = {gc_input(g, "x", GC_F32, gc_shape1(2)),
                   gc_param(g, "p", gc_shape1(2), GC_ZEROS),
                   cf(g, gc_shape1(2), d),
                   {-1}};
  ir_attr a = {0};
  a.to = GC_F32;
  a.shape = gc_shape1(2);
  v[3] = ir_value(ir_add(g, IR_OP_STATE, 0, NULL, &a));
  for (int i = 0; i < 4; i++) {
    float out[2] = {7, 8}, want[2] = {7, 8};
    eval(g, v[i], out, sizeof out);
    near(out, want, 2, 0); /* a leaf's storage already holds its value */
  }
  gc_graph_free(g);
}

static void case_add_broadcast(void) {
  gc_graph *g = gc_graph_new();
  float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {10, 20, 30}, out[6];
  gc_value r = gc_add(g, cf(g, gc_shape2(2, 3), a), cf(g, gc_shape1(3), b));
  shape_is(g, r, gc_shape2(2, 3));
  eval(g, r, out, sizeof out);
  near(out, (float[]){11, 22, 33, 14, 25, 36}, 6, 0);
  /* the broadcast operand first */
  r = gc_add(g, cf(g, gc_shape1(3), b), cf(g, gc_shape2(2, 3), a));
  eval(g, r, out, sizeof out);
  near(out, (float[]){11, 22, 33, 14, 25, 36}, 6, 0);
  gc_graph_free(g);
}

static void case_sub_outer(void) {
  gc_graph *g = gc_graph_new();
  float a[2] = {1, 2}, b[3] = {10, 20, 30}, out[6];
  gc_value r = gc_sub(g, cf(g, gc_shape2(2, 1), a), cf(g, gc_shape2(1, 3), b));
  shape_is(g, r, gc_shape2(2, 3));
  eval(g, r, out, sizeof out);
  near(out, (float[]){-9, -19, -29, -8, -18, -28}, 6, 0);
  gc_graph_free(g);
}

static void case_mul_outer(void) {
  gc_graph *g = gc_graph_new();
  float a[2] = {2, 3}, b[3] = {1, 2, 3}, out[6];
  gc_value r = gc_mul(g, cf(g, gc_shape2(2, 1), a), cf(g, gc_shape2(1, 3), b));
  eval(g, r, out, sizeof out);
  near(out, (float[]){2, 4, 6, 3, 6, 9}, 6, 0);
  gc_graph_free(g);
}

static void case_div_scalar(void) {
  gc_graph *g = gc_graph_new();
  float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {1, 2, 4}, out[6];
  gc_value r = gc_div(g, cf(g, gc_shape2(2, 3), a), gc_scalar(g, 2));
  shape_is(g, r, gc_shape2(2, 3));
  eval(g, r, out, sizeof out);
  near(out, (float[]){0.5f, 1, 1.5f, 2, 2.5f, 3}, 6, 0);
  r = gc_div(g, gc_scalar(g, 1), cf(g, gc_shape1(3), b));
  shape_is(g, r, gc_shape1(3));
  eval(g, r, out, 3 * sizeof(float));
  near(out, (float[]){1, 0.5f, 0.25f}, 3, 0);
  /* scalar op scalar */
  r = gc_div(g, gc_scalar(g, 3), gc_scalar(g, 4));
  eval(g, r, out, sizeof(float));
  ck_assert(out[0] == 0.75f);
  gc_graph_free(g);
}

/* [5, 7, 11] + [7, 1]: every element against the broadcast formula. */
static void case_add_odd(void) {
  gc_graph *g = gc_graph_new();
  static float a[5 * 7 * 11], out[5 * 7 * 11], want[5 * 7 * 11];
  float b[7];
  for (int i = 0; i < 5 * 7 * 11; i++) a[i] = (float)i * 0.5f;
  for (int j = 0; j < 7; j++) b[j] = (float)(j * 100);
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 7; j++)
      for (int k = 0; k < 11; k++) want[(i * 7 + j) * 11 + k] = a[(i * 7 + j) * 11 + k] + b[j];
  gc_value r = gc_add(g, cf(g, gc_shape3(5, 7, 11), a), cf(g, gc_shape2(7, 1), b));
  eval(g, r, out, sizeof out);
  near(out, want, 5 * 7 * 11, 0);
  gc_graph_free(g);
}

static void case_equal(void) {
  gc_graph *g = gc_graph_new();
  float a[6] = {1, 2, 3, 3, 2, 1}, b[3] = {1, 5, 1}, out[6];
  gc_value r = gc_equal(g, cf(g, gc_shape2(2, 3), a), cf(g, gc_shape1(3), b));
  eval(g, r, out, sizeof out);
  near(out, (float[]){1, 0, 0, 0, 0, 1}, 6, 0);
  int32_t ia[3] = {4, -1, 7}, ib[3] = {4, 1, 7};
  r = gc_equal(g, ci(g, gc_shape1(3), ia), ci(g, gc_shape1(3), ib));
  ck_assert_int_eq(gc_value_dtype(g, r), GC_F32);
  eval(g, r, out, 3 * sizeof(float));
  near(out, (float[]){1, 0, 1}, 3, 0);
  gc_graph_free(g);
}

/* i32 arithmetic: truncating division, x / 0 = 0, wrap-around. */
static void case_int_arith(void) {
  gc_graph *g = gc_graph_new();
  int32_t a[4] = {7, -7, 5, INT32_MAX}, b[4] = {-2, 2, 0, 1}, out[4];
  gc_value x = ci(g, gc_shape1(4), a), y = ci(g, gc_shape1(4), b);
  eval(g, gc_div(g, x, y), out, sizeof out);
  ck_assert_int_eq(out[0], -3);
  ck_assert_int_eq(out[1], -3);
  ck_assert_int_eq(out[2], 0);
  ck_assert_int_eq(out[3], INT32_MAX);
  eval(g, gc_add(g, x, y), out, sizeof out);
  ck_assert_int_eq(out[0], 5);
  ck_assert_int_eq(out[3], INT32_MIN);
  eval(g, gc_sub(g, x, y), out, sizeof out);
  ck_assert_int_eq(out[1], -9);
  eval(g, gc_mul(g, x, y), out, sizeof out);
  ck_assert_int_eq(out[0], -14);
  gc_graph_free(g);
}

static void case_unary(void) {
  gc_graph *g = gc_graph_new();
  float x[5] = {-2, -0.5f, 0, 0.5f, 2}, pos[4] = {0.25f, 1, 4, 2.718281828f}, out[5];
  gc_value vx = cf(g, gc_shape1(5), x), vp = cf(g, gc_shape1(4), pos);
  eval(g, gc_neg(g, vx), out, sizeof out);
  near(out, (float[]){2, 0.5f, 0, -0.5f, -2}, 5, 0);
  eval(g, gc_exp(g, vx), out, sizeof out);
  near(out, (float[]){0.135335283f, 0.60653066f, 1, 1.6487212707f, 7.3890560989f}, 5, TOL);
  eval(g, gc_log(g, vp), out, 4 * sizeof(float));
  near(out, (float[]){-1.3862943611f, 0, 1.3862943611f, 1}, 4, TOL);
  eval(g, gc_sqrt(g, vp), out, 4 * sizeof(float));
  near(out, (float[]){0.5f, 1, 2, 1.6487212707f}, 4, TOL);
  eval(g, gc_relu(g, vx), out, sizeof out);
  near(out, (float[]){0, 0, 0, 0.5f, 2}, 5, 0);
  eval(g, gc_sigmoid(g, vx), out, sizeof out);
  near(out, (float[]){0.119202922f, 0.377540669f, 0.5f, 0.622459331f, 0.880797078f}, 5, TOL);
  eval(g, gc_tanh(g, vx), out, sizeof out);
  near(out, (float[]){-0.96402758f, -0.462117157f, 0, 0.462117157f, 0.96402758f}, 5, TOL);
  eval(g, gc_step(g, vx), out, sizeof out);
  near(out, (float[]){0, 0, 0, 1, 1}, 5, 0); /* step(0) = 0 */
  gc_graph_free(g);
}

static void case_cast(void) {
  gc_graph *g = gc_graph_new();
  float x[6] = {-2.7f, -0.5f, 0.5f, 2.9f, 3e9f, NAN};
  int32_t out[6];
  eval(g, gc_cast(g, cf(g, gc_shape1(6), x), GC_I32), out, sizeof out);
  int32_t want[6] = {-2, 0, 0, 2, INT32_MAX, 0};
  for (int i = 0; i < 6; i++) ck_assert_int_eq(out[i], want[i]);
  int32_t xi[3] = {-3, 7, 16777217};
  float fo[3];
  eval(g, gc_cast(g, ci(g, gc_shape1(3), xi), GC_F32), fo, sizeof fo);
  near(fo, (float[]){-3, 7, 16777216}, 3, 0);
  eval(g, gc_cast(g, cf(g, gc_shape1(3), (float[]){1.5f, -2, 0}), GC_F32), fo, sizeof fo);
  near(fo, (float[]){1.5f, -2, 0}, 3, 0);
  gc_graph_free(g);
}

static void case_expand(void) {
  gc_graph *g = gc_graph_new();
  float x[3] = {1, 2, 3}, out[24];
  gc_value r = gc_expand(g, cf(g, gc_shape2(3, 1), x), gc_shape3(2, 3, 4));
  shape_is(g, r, gc_shape3(2, 3, 4));
  eval(g, r, out, sizeof out);
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++)
      for (int k = 0; k < 4; k++) ck_assert(out[(i * 3 + j) * 4 + k] == x[j]);
  int32_t xi = 42, oi[4];
  eval(g, gc_expand(g, ci(g, gc_shape0(), &xi), gc_shape2(2, 2)), oi, sizeof oi);
  for (int i = 0; i < 4; i++) ck_assert_int_eq(oi[i], 42);
  gc_graph_free(g);
}

static void case_reshape(void) {
  gc_graph *g = gc_graph_new();
  float x[6] = {1, 2, 3, 4, 5, 6}, out[6];
  gc_value r = gc_reshape(g, cf(g, gc_shape2(2, 3), x), gc_shape2(-1, 2));
  shape_is(g, r, gc_shape2(3, 2));
  eval(g, r, out, sizeof out);
  near(out, x, 6, 0);
  gc_graph_free(g);
}

static void case_transpose(void) {
  gc_graph *g = gc_graph_new();
  float x[24], out[24];
  for (int i = 0; i < 24; i++) x[i] = (float)i;
  gc_value r = gc_transpose(g, cf(g, gc_shape3(2, 3, 4), x), (int[]){2, 0, 1});
  shape_is(g, r, gc_shape3(4, 2, 3));
  eval(g, r, out, sizeof out);
  /* out[a][b][c] = x[b][c][a] */
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 2; b++)
      for (int c = 0; c < 3; c++)
        ck_assert(out[(a * 2 + b) * 3 + c] == (float)(b * 12 + c * 4 + a));
  /* perm = NULL reverses the axes */
  r = gc_transpose(g, cf(g, gc_shape2(2, 3), x), NULL);
  shape_is(g, r, gc_shape2(3, 2));
  eval(g, r, out, 6 * sizeof(float));
  near(out, (float[]){0, 3, 1, 4, 2, 5}, 6, 0);
  gc_graph_free(g);
}

static void case_reduce(void) {
  gc_graph *g = gc_graph_new();
  float x[24], out[24];
  for (int i = 0; i < 24; i++) x[i] = (float)i;
  gc_value vx = cf(g, gc_shape3(2, 3, 4), x);
  int ax02[2] = {0, 2}, ax1[1] = {1}, axm1[1] = {-1};
  /* sum over i, k of 12 i + 4 j + k = 60 + 32 j */
  gc_value r = gc_sum(g, vx, ax02, 2, 0);
  shape_is(g, r, gc_shape1(3));
  eval(g, r, out, 3 * sizeof(float));
  near(out, (float[]){60, 92, 124}, 3, 0);
  r = gc_sum(g, vx, ax02, 2, 1);
  shape_is(g, r, gc_shape3(1, 3, 1));
  eval(g, r, out, 3 * sizeof(float));
  near(out, (float[]){60, 92, 124}, 3, 0);
  r = gc_mean(g, vx, ax02, 2, 0);
  eval(g, r, out, 3 * sizeof(float));
  near(out, (float[]){7.5f, 11.5f, 15.5f}, 3, 0);
  r = gc_max(g, vx, ax02, 2, 1);
  eval(g, r, out, 3 * sizeof(float));
  near(out, (float[]){15, 19, 23}, 3, 0);
  /* sum over j of 12 i + 4 j + k = 36 i + 12 + 3 k */
  r = gc_sum(g, vx, ax1, 1, 0);
  shape_is(g, r, gc_shape2(2, 4));
  eval(g, r, out, 8 * sizeof(float));
  near(out, (float[]){12, 15, 18, 21, 48, 51, 54, 57}, 8, 0);
  r = gc_mean(g, vx, axm1, 1, 1);
  shape_is(g, r, gc_shape3(2, 3, 1));
  eval(g, r, out, 6 * sizeof(float));
  near(out, (float[]){1.5f, 5.5f, 9.5f, 13.5f, 17.5f, 21.5f}, 6, 0);
  r = gc_sum(g, vx, NULL, 0, 0);
  shape_is(g, r, gc_shape0());
  eval(g, r, out, sizeof(float));
  ck_assert(out[0] == 276);
  r = gc_max(g, cf(g, gc_shape1(3), (float[]){-3, -1, -2}), NULL, 0, 0);
  eval(g, r, out, sizeof(float));
  ck_assert(out[0] == -1);
  /* NaN is not hidden by max */
  r = gc_max(g, cf(g, gc_shape1(3), (float[]){1, NAN, 2}), NULL, 0, 0);
  eval(g, r, out, sizeof(float));
  ck_assert(isnan(out[0]));
  gc_graph_free(g);
}

/* [5, 7, 11] summed over axes 0 and 2, against a loop. */
static void case_reduce_odd(void) {
  gc_graph *g = gc_graph_new();
  static float x[385];
  float out[7], want[7] = {0};
  for (int i = 0; i < 385; i++) x[i] = (float)((i * 37) % 101) - 50.0f;
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 7; j++)
      for (int k = 0; k < 11; k++) want[j] += x[(i * 7 + j) * 11 + k];
  gc_value r = gc_sum(g, cf(g, gc_shape3(5, 7, 11), x), (int[]){0, 2}, 2, 0);
  eval(g, r, out, sizeof out);
  near(out, want, 7, 0);
  gc_graph_free(g);
}

static void case_matmul(void) {
  gc_graph *g = gc_graph_new();
  float a[6] = {1, 2, 3, 4, 5, 6}, at[6] = {1, 4, 2, 5, 3, 6};
  float b[6] = {7, 8, 9, 10, 11, 12}, bt[6] = {7, 9, 11, 8, 10, 12};
  float want[4] = {58, 64, 139, 154}, out[4];
  gc_value va = cf(g, gc_shape2(2, 3), a), vat = cf(g, gc_shape2(3, 2), at);
  gc_value vb = cf(g, gc_shape2(3, 2), b), vbt = cf(g, gc_shape2(2, 3), bt);
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      gc_value r = ir_value(ir_matmul_t(g, (ta ? vat : va).id, (tb ? vbt : vb).id, ta, tb));
      shape_is(g, r, gc_shape2(2, 2));
      memset(out, 0, sizeof out);
      eval(g, r, out, sizeof out);
      near(out, want, 4, 0);
    }
  /* odd shape [5, 7] x [7, 11] against a double loop */
  static float x[35], y[77], o[55], w[55];
  for (int i = 0; i < 35; i++) x[i] = (float)(i % 9) - 4;
  for (int i = 0; i < 77; i++) y[i] = (float)(i % 5) * 0.5f - 1;
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 11; j++) {
      double s = 0;
      for (int k = 0; k < 7; k++) s += (double)x[i * 7 + k] * y[k * 11 + j];
      w[i * 11 + j] = (float)s;
    }
  eval(g, gc_matmul(g, cf(g, gc_shape2(5, 7), x), cf(g, gc_shape2(7, 11), y)), o, sizeof o);
  near(o, w, 55, 0);
  gc_graph_free(g);
}

static void case_softmax(void) {
  gc_graph *g = gc_graph_new();
  float x[6] = {1, 2, 3, 0, 0, 0}, out[6];
  gc_value vx = cf(g, gc_shape2(2, 3), x);
  const float t = 1.0f / 3.0f, lt = -1.098612289f;
  eval(g, gc_softmax(g, vx, 1), out, sizeof out);
  near(out, (float[]){0.090030573f, 0.244728471f, 0.665240956f, t, t, t}, 6, TOL);
  eval(g, gc_softmax(g, vx, -1), out, sizeof out);
  near(out, (float[]){0.090030573f, 0.244728471f, 0.665240956f, t, t, t}, 6, TOL);
  eval(g, gc_log_softmax(g, vx, 1), out, sizeof out);
  near(out, (float[]){-2.407605964f, -1.407605964f, -0.407605964f, lt, lt, lt}, 6, TOL);
  eval(g, gc_softmax(g, vx, 0), out, sizeof out);
  near(
      out,
      (float[]){0.731058579f, 0.880797078f, 0.952574127f, 0.268941421f, 0.119202922f, 0.047425873f},
      6, TOL);
  eval(g, gc_log_softmax(g, vx, 0), out, sizeof out);
  near(out,
       (float[]){-0.313261687f, -0.126928011f, -0.048587352f, -1.313261687f, -2.126928011f,
                 -3.048587352f},
       6, TOL);
  /* large logits do not overflow */
  eval(g, gc_softmax(g, cf(g, gc_shape1(2), (float[]){1000, 1001}), 0), out, 2 * sizeof(float));
  near(out, (float[]){0.268941421f, 0.731058579f}, 2, TOL);
  eval(g, gc_log_softmax(g, cf(g, gc_shape1(2), (float[]){-1000, 1000}), 0), out,
       2 * sizeof(float));
  near(out, (float[]){-2000, 0}, 2, TOL);
  /* middle axis of a 3-D tensor: [2, 2, 2], softmax over axis 1 */
  float y[8] = {0, 1, 2, 3, 4, 5, 6, 7}, o8[8];
  eval(g, gc_softmax(g, cf(g, gc_shape3(2, 2, 2), y), 1), o8, sizeof o8);
  const float lo = 0.119202922f, hi = 0.880797078f; /* pairs differ by 2 */
  near(o8, (float[]){lo, lo, hi, hi, lo, lo, hi, hi}, 8, TOL);
  gc_graph_free(g);
}

static void case_cross_entropy(void) {
  gc_graph *g = gc_graph_new();
  float x[6] = {1, 2, 3, 0, 0, 0}, out;
  gc_value vx = cf(g, gc_shape2(2, 3), x);
  eval(g, gc_cross_entropy(g, vx, ci(g, gc_shape1(2), (int32_t[]){2, 0})), &out, sizeof out);
  near(&out, (float[]){(0.407605964f + 1.098612289f) / 2}, 1, TOL);
  /* out-of-range labels contribute nothing (and do not crash) */
  eval(g, gc_cross_entropy(g, vx, ci(g, gc_shape1(2), (int32_t[]){2, 5})), &out, sizeof out);
  near(&out, (float[]){0.407605964f / 2}, 1, TOL);
  eval(g, gc_cross_entropy(g, vx, ci(g, gc_shape1(2), (int32_t[]){-1, 0})), &out, sizeof out);
  near(&out, (float[]){1.098612289f / 2}, 1, TOL);
  /* stable with large logits */
  eval(g,
       gc_cross_entropy(g, cf(g, gc_shape2(1, 2), (float[]){1000, 1001}),
                        ci(g, gc_shape1(1), (int32_t[]){0})),
       &out, sizeof out);
  near(&out, (float[]){1.313261687f}, 1, TOL);
  gc_graph_free(g);
}

static void case_cross_entropy_grad(void) {
  gc_graph *g = gc_graph_new();
  float x[6] = {1, 2, 3, 0, 0, 0}, out[6];
  gc_value vx = cf(g, gc_shape2(2, 3), x);
  int32_t in3[3];
  in3[0] = vx.id;
  in3[1] = ci(g, gc_shape1(2), (int32_t[]){2, 0}).id;
  in3[2] = gc_scalar(g, 2.0f).id;
  gc_value r = ir_value(ir_add(g, IR_OP_CROSS_ENTROPY_GRAD, 3, in3, NULL));
  shape_is(g, r, gc_shape2(2, 3));
  eval(g, r, out, sizeof out);
  /* dloss 2 / N 2 = 1 times softmax - onehot */
  near(out,
       (float[]){0.090030573f, 0.244728471f, -0.334759044f, -0.666666667f, 0.333333333f,
                 0.333333333f},
       6, TOL);
  in3[1] = ci(g, gc_shape1(2), (int32_t[]){7, 0}).id;
  r = ir_value(ir_add(g, IR_OP_CROSS_ENTROPY_GRAD, 3, in3, NULL));
  eval(g, r, out, sizeof out);
  near(out, (float[]){0, 0, 0, -0.666666667f, 0.333333333f, 0.333333333f}, 6, TOL);
  gc_graph_free(g);
}

/* A state node of shape s with initial value v (n floats). */
static int32_t state_node(gc_graph *g, gc_shape s, const float *v) {
  ir_attr a = {0};
  a.to = GC_F32;
  a.shape = s;
  int32_t id = ir_add(g, IR_OP_STATE, 0, NULL, &a);
  ck_assert_int_ge(id, 0);
  size_t bytes = ir_node_bytes(&g->nodes[id]);
  g->nodes[id].data = calloc(1, bytes);
  if (v) memcpy(g->nodes[id].data, v, bytes);
  g->nodes[id].flags |= IR_F_STATE;
  return id;
}

static void case_assign_add(void) {
  gc_graph *g = gc_graph_new();
  gc_value p = gc_param(g, "p", gc_shape1(3), GC_ZEROS);
  float pv[3] = {1, 2, 3};
  memcpy(g->nodes[p.id].data, pv, sizeof pv);
  gc_value r = gc_assign_add(g, p, cf(g, gc_shape1(3), (float[]){0.5f, -1, 2}));
  ck_assert(gc_value_ok(r));
  void *in[2] = {pv, g->nodes[g->nodes[r.id].in[1]].data};
  ref_eval(g, r.id, in, pv); /* in place: out == in[0] */
  near(pv, (float[]){1.5f, 1, 5}, 3, 0);
  ref_eval(g, r.id, in, pv);
  near(pv, (float[]){2, 0, 7}, 3, 0);
  gc_graph_free(g);
}

static void case_opt_tick(void) {
  gc_graph *g = gc_graph_new();
  int32_t h = state_node(g, gc_shape1(4), (float[]){0.1f, 1, 1, 0});
  ir_attr a = {0};
  a.f[0] = 0.9f;
  a.f[1] = 0.999f;
  int32_t t = ir_add(g, IR_OP_OPT_TICK, 1, &h, &a);
  ck_assert_int_ge(t, 0);
  float hv[4] = {0.1f, 1, 1, 0};
  void *in[1] = {hv};
  ref_eval(g, t, in, hv);
  near(hv, (float[]){0.1f, 0.9f, 0.999f, 1}, 4, TOL);
  ref_eval(g, t, in, hv);
  near(hv, (float[]){0.1f, 0.81f, 0.998001f, 2}, 4, TOL);
  gc_graph_free(g);
}

/* Two SGD steps with a constant gradient, by hand:
 * momentum 0.9, lr 0.1, p = (1, -2), g = (0.5, 1). */
/* split: as sgd_velocity then sgd_apply (passes/split_updates.c), which
 * must give the same values. */
static void sgd_two_steps(float wd, bool split, const float *want1, const float *want2) {
  gc_graph *g = gc_graph_new();
  gc_value p = gc_param(g, "p", gc_shape1(2), GC_ZEROS);
  gc_value gr = cf(g, gc_shape1(2), (float[]){0.5f, 1});
  int32_t vel = state_node(g, gc_shape1(2), NULL);
  int32_t hy = state_node(g, gc_shape1(4), (float[]){0.1f, 1, 1, 0});
  ir_attr a = {0};
  a.f[0] = 0.9f;
  a.f[1] = wd;
  int32_t in4[4] = {p.id, gr.id, vel, hy}, in_v[4] = {vel, gr.id, p.id, hy};
  int32_t u =
      split ? ir_add(g, IR_OP_SGD_VELOCITY, 4, in_v, &a) : ir_add(g, IR_OP_SGD_UPDATE, 4, in4, &a);
  int32_t in_p[3] = {p.id, u, hy};
  int32_t ap = split ? ir_add(g, IR_OP_SGD_APPLY, 3, in_p, &a) : 0;
  ck_assert_msg(u >= 0 && ap >= 0, "%s", gc_graph_errmsg(g));
  float pv[2] = {1, -2}, vv[2] = {0, 0}, hv[4] = {0.1f, 1, 1, 0};
  void *in[4] = {pv, g->nodes[gr.id].data, vv, hv};
  void *vin[4] = {vv, g->nodes[gr.id].data, pv, hv}, *pin[3] = {pv, vv, hv};
  for (int step = 0; step < 2; step++) {
    if (split) {
      ref_eval(g, u, vin, vv);
      ref_eval(g, ap, pin, pv);
    } else {
      ref_eval(g, u, in, pv);
    }
    near(pv, step ? want2 : want1, 2, TOL);
  }
  gc_graph_free(g);
}

static void case_sgd(void) {
  for (int split = 0; split < 2; split++) {
    /* v1 = g; p1 = p - 0.1 g.  v2 = 0.9 g + g; p2 = p1 - 0.1 v2 */
    sgd_two_steps(0, split, (float[]){0.95f, -2.1f}, (float[]){0.855f, -2.29f});
    /* g' = g + 0.01 p: v1 = (0.51, 0.98), p1 = (0.949, -2.098);
     * v2 = 0.9 v1 + g + 0.01 p1 = (0.96849, 1.86102), p2 = (0.852151, -2.284102) */
    sgd_two_steps(0.01f, split, (float[]){0.949f, -2.098f}, (float[]){0.852151f, -2.284102f});
  }
}

/* Two Adam steps (lr 0.1, betas 0.9/0.999, eps 1e-8) from p = (1, -2) with
 * gradients (0.5, -1) then (0.1, 2); expected values follow torch.optim.Adam
 * (denominator sqrt(v) / sqrt(1 - b2^t) + eps, step lr / (1 - b1^t)).
 * split: as adam_moments then adam_apply (passes/split_updates.c), which
 * must give the same values. */
static void adam_two_steps(float wd, bool split, const float *want1, const float *want2) {
  gc_graph *g = gc_graph_new();
  gc_value p = gc_param(g, "p", gc_shape1(2), GC_ZEROS);
  gc_value gr = cf(g, gc_shape1(2), (float[]){0, 0});
  int32_t m = state_node(g, gc_shape1(2), NULL), v = state_node(g, gc_shape1(2), NULL);
  int32_t hy = state_node(g, gc_shape1(4), (float[]){0.1f, 1, 1, 0});
  ir_attr ta = {0};
  ta.f[0] = 0.9f;
  ta.f[1] = 0.999f;
  int32_t tick = ir_add(g, IR_OP_OPT_TICK, 1, &hy, &ta);
  ir_attr a = {0};
  a.f[0] = 0.9f;
  a.f[1] = 0.999f;
  a.f[2] = 1e-8f;
  a.f[3] = wd;
  int32_t in5[5] = {p.id, gr.id, m, v, tick}, in_m[4] = {m, gr.id, v, tick};
  int32_t u =
      split ? ir_add(g, IR_OP_ADAM_MOMENTS, 4, in_m, &a) : ir_add(g, IR_OP_ADAM_UPDATE, 5, in5, &a);
  int32_t in_p[4] = {p.id, u, v, tick};
  int32_t ap = split ? ir_add(g, IR_OP_ADAM_APPLY, 4, in_p, &a) : 0;
  ck_assert_msg(u >= 0 && ap >= 0, "%s", gc_graph_errmsg(g));
  float pv[2] = {1, -2}, gv[2] = {0.5f, -1}, mv[2] = {0}, vv[2] = {0}, hv[4] = {0.1f, 1, 1, 0};
  void *tin[1] = {hv}, *in[5] = {pv, gv, mv, vv, hv};
  void *min[4] = {mv, gv, vv, hv}, *pin[4] = {pv, mv, vv, hv};
  for (int step = 0; step < 2; step++) {
    if (step) {
      gv[0] = 0.1f;
      gv[1] = 2;
    }
    ref_eval(g, tick, tin, hv);
    if (split) {
      ref_eval(g, u, min, mv);
      ref_eval(g, ap, pin, pv);
    } else {
      ref_eval(g, u, in, pv);
    }
    near(pv, step ? want2 : want1, 2, TOL);
    near(mv, step ? (float[]){0.055f, 0.11f} : (float[]){0.05f, -0.1f}, 2, TOL);
    near(vv, step ? (float[]){0.00025975f, 0.004999f} : (float[]){0.00025f, 0.001f}, 2, TOL);
  }
  gc_graph_free(g);
}

static void case_adam(void) {
  for (int split = 0; split < 2; split++) {
    adam_two_steps(0, split, (float[]){0.900000002f, -1.900000001f},
                   (float[]){0.819695906f, -1.936610353f});
    /* AdamW: p *= 1 - lr wd before each step */
    adam_two_steps(0.01f, split, (float[]){0.899000002f, -1.898000001f},
                   (float[]){0.817796906f, -1.932712353f});
  }
}
/* ---------------------------------------------------------- case table */

typedef struct op_case {
  const char *name;
  void (*run)(void);
  ir_op covers[8];
  int ncovers;
} op_case;

#define COVERS(...) {__VA_ARGS__}, (sizeof((ir_op[]){__VA_ARGS__}) / sizeof(ir_op))

static const op_case cases[] = {
    {"leaves", case_leaves, COVERS(IR_OP_INPUT, IR_OP_PARAM, IR_OP_CONST, IR_OP_STATE)},
    {"add_broadcast", case_add_broadcast, COVERS(IR_OP_ADD)},
    {"sub_outer", case_sub_outer, COVERS(IR_OP_SUB)},
    {"mul_outer", case_mul_outer, COVERS(IR_OP_MUL)},
    {"div_scalar", case_div_scalar, COVERS(IR_OP_DIV)},
    {"add_odd", case_add_odd, COVERS(IR_OP_ADD)},
    {"equal", case_equal, COVERS(IR_OP_EQUAL)},
    {"int_arith", case_int_arith, COVERS(IR_OP_ADD, IR_OP_SUB, IR_OP_MUL, IR_OP_DIV)},
    {"unary", case_unary,
     COVERS(IR_OP_NEG, IR_OP_EXP, IR_OP_LOG, IR_OP_SQRT, IR_OP_RELU, IR_OP_SIGMOID, IR_OP_TANH,
            IR_OP_STEP)},
    {"cast", case_cast, COVERS(IR_OP_CAST)},
    {"expand", case_expand, COVERS(IR_OP_EXPAND)},
    {"reshape", case_reshape, COVERS(IR_OP_RESHAPE)},
    {"transpose", case_transpose, COVERS(IR_OP_TRANSPOSE)},
    {"reduce", case_reduce, COVERS(IR_OP_SUM, IR_OP_MEAN, IR_OP_MAX)},
    {"reduce_odd", case_reduce_odd, COVERS(IR_OP_SUM)},
    {"matmul", case_matmul, COVERS(IR_OP_MATMUL)},
    {"softmax", case_softmax, COVERS(IR_OP_SOFTMAX, IR_OP_LOG_SOFTMAX)},
    {"cross_entropy", case_cross_entropy, COVERS(IR_OP_CROSS_ENTROPY)},
    {"cross_entropy_grad", case_cross_entropy_grad, COVERS(IR_OP_CROSS_ENTROPY_GRAD)},
    {"assign_add", case_assign_add, COVERS(IR_OP_ASSIGN_ADD)},
    {"opt_tick", case_opt_tick, COVERS(IR_OP_OPT_TICK)},
    {"sgd", case_sgd, COVERS(IR_OP_SGD_UPDATE, IR_OP_SGD_VELOCITY, IR_OP_SGD_APPLY)},
    {"adam", case_adam,
     COVERS(IR_OP_ADAM_UPDATE, IR_OP_OPT_TICK, IR_OP_ADAM_MOMENTS, IR_OP_ADAM_APPLY)},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

START_TEST(test_op_case) {
  const op_case *c = &cases[_i];
  c->run();
}
END_TEST

/* A new row in ops.def without a case here fails this test. */
START_TEST(test_every_op_covered) {
  bool seen[IR_OP_COUNT] = {0};
  for (int i = 0; i < NCASES; i++)
    for (int k = 0; k < cases[i].ncovers; k++) seen[cases[i].covers[k]] = true;
  for (int op = 0; op < IR_OP_COUNT; op++) {
    /* the neural-network ops have theirs in test_ref_nn_ops.c; the
     * elementwise, movement and reduction extensions in test_ref_elem_ops.c,
     * whose own coverage test fails for any of them without a case */
    bool elsewhere = is_nn_op(op) || (op >= IR_OP_ABS && op <= IR_OP_CUMSUM);
    ck_assert_msg(seen[op] || elsewhere, "op '%s' has no reference test case", ir_ops[op].name);
    ck_assert_msg(ref_kernels[op] != NULL, "op '%s' has no reference kernel", ir_ops[op].name);
  }
}
END_TEST

/* ------------------------------------------------------- the backend */

static gc_program *program_of(gc_graph *g) {
  gc_program *p = calloc(1, sizeof *p);
  p->be = &gc_backend_ref;
  p->g = g;
  p->order = malloc(sizeof *p->order * (size_t)g->n);
  for (int i = 0; i < g->n; i++) p->order[i] = i;
  ck_assert_int_eq(p->be->program_build(p, NULL), GC_OK);
  return p;
}

static void program_done(gc_program *p) {
  p->be->program_free(p);
  free(p->order);
  free(p);
}

/* A training graph built with the public optimizer runs on the backend:
 * reshape views alias, updates change the parameter in place, and the
 * loss and parameter match two hand-computed SGD steps. */
START_TEST(test_backend_sgd_graph) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape1(2));
  gc_value p = gc_param(g, "p", gc_shape2(1, 2), GC_ZEROS);
  float p0[2] = {1, -2};
  memcpy(g->nodes[p.id].data, p0, sizeof p0);
  /* loss = sum(reshape(p) * x): d loss / d p = x */
  gc_value loss = gc_sum(g, gc_mul(g, gc_reshape(g, p, gc_shape1(2)), x), NULL, 0, 0);
  gc_set_loss(g, loss);
  ck_assert_int_eq(gc_optimize_sgd(g, &(gc_sgd){.lr = 0.1f, .momentum = 0.9f}), GC_OK);
  gc_program *prog = program_of(g);
  gc_session s = {prog, NULL};
  ck_assert_int_eq(gc_backend_ref.session_new(&s), GC_OK);
  float xv[2] = {0.5f, 1}, lv, pv[2];
  ck_assert_int_eq(gc_backend_ref.write(&s, x.id, 0, xv, sizeof xv), GC_OK);
  ck_assert_int_eq(gc_backend_ref.run(&s), GC_OK);
  ck_assert_int_eq(gc_backend_ref.read(&s, loss.id, &lv, sizeof lv), GC_OK);
  near(&lv, (float[]){0.5f - 2}, 1, TOL);
  ck_assert_int_eq(gc_backend_ref.read(&s, p.id, pv, sizeof pv), GC_OK);
  near(pv, (float[]){0.95f, -2.1f}, 2, TOL);
  ck_assert_int_eq(gc_backend_ref.run(&s), GC_OK);
  ck_assert_int_eq(gc_backend_ref.finish(&s), GC_OK);
  ck_assert_int_eq(gc_backend_ref.read(&s, p.id, pv, sizeof pv), GC_OK);
  near(pv, (float[]){0.855f, -2.29f}, 2, TOL);
  /* the graph's initial value is untouched: the session owns its copy */
  near(g->nodes[p.id].data, p0, 2, 0);
  gc_backend_ref.session_free(&s);
  gc_backend_ref.session_free(&s); /* a second free is harmless */
  program_done(prog);
  gc_graph_free(g);
}
END_TEST

START_TEST(test_backend_bounds) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(2, 3));
  gc_value y = gc_relu(g, x);
  gc_program *prog = program_of(g);
  gc_session s = {prog, NULL};
  ck_assert_int_eq(gc_backend_ref.session_new(&s), GC_OK);
  float buf[7] = {0};
  ck_assert_int_eq(gc_backend_ref.write(&s, x.id, 0, buf, sizeof buf), GC_ERR_INVALID);
  ck_assert_msg(strstr(gc_last_error(), "24") && strstr(gc_last_error(), "28") &&
                    strstr(gc_last_error(), "\"x\""),
                "message: %s", gc_last_error());
  ck_assert_int_eq(gc_backend_ref.write(&s, x.id, 8, buf, 20), GC_ERR_INVALID);
  ck_assert_int_eq(gc_backend_ref.write(&s, x.id, SIZE_MAX, buf, 2), GC_ERR_INVALID);
  ck_assert_int_eq(gc_backend_ref.write(&s, x.id, 8, (float[]){-1, 2}, 8), GC_OK);
  ck_assert_int_eq(gc_backend_ref.read(&s, y.id, buf, 20), GC_ERR_INVALID);
  ck_assert_msg(strstr(gc_last_error(), "relu") && strstr(gc_last_error(), "24") &&
                    strstr(gc_last_error(), "20"),
                "message: %s", gc_last_error());
  ck_assert_int_eq(gc_backend_ref.read(&s, 99, buf, 4), GC_ERR_INVALID);
  ck_assert_int_eq(gc_backend_ref.write(&s, -1, 0, buf, 4), GC_ERR_INVALID);
  ck_assert_int_eq(gc_backend_ref.run(&s), GC_OK);
  ck_assert_int_eq(gc_backend_ref.read(&s, y.id, buf, 24), GC_OK);
  near(buf, (float[]){0, 0, 0, 2, 0, 0}, 6, 0);
  gc_backend_ref.session_free(&s);
  program_done(prog);
  gc_graph_free(g);
}
END_TEST

static Suite *ref_suite(void) {
  Suite *s = suite_create("ref_ops");
  TCase *tc = tcase_create("ops");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, test_op_case, 0, NCASES);
  tcase_add_test(tc, test_every_op_covered);
  suite_add_tcase(s, tc);
  TCase *tb = tcase_create("backend");
  tcase_set_timeout(tb, 120);
  tcase_add_test(tb, test_backend_sgd_graph);
  tcase_add_test(tb, test_backend_bounds);
  suite_add_tcase(s, tb);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(ref_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
