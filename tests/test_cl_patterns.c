/* test_cl_patterns.c — kernel budgets of the special patterns the model
 * catalogue needs (fusion issue): the LSTM and GRU cell steps (one gate
 * matmul, slices, gate nonlinearities), layer norm over the last axis,
 * batch norm in training mode, and movement ops (pad, concat, slice) over
 * computed values, each forward only and forward + backward.
 *
 * Each budget is the kernel count measured when it was written, so a
 * fusion regression fails here; every pattern's outputs (and, with the
 * backward, the gradients of every parameter) are also compared with the
 * reference interpreter and with the unfused program, so a fusion that
 * saves a kernel but computes something else fails too.
 *
 * All leaves are parameters (seeded initializers), so no inputs need
 * binding and the three compiles see the same values. OpenCL objects are
 * created inside the tests (Check forks). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphc.h"

enum { B = 5, I = 7, H = 11, MAXOUT = 8 };

typedef struct outputs {
  const char *name[MAXOUT];
  int64_t numel[MAXOUT];
  int n;
} outputs;

static void add_out(gc_graph *g, outputs *o, gc_value v, const char *name) {
  gc_output(g, v, name);
  o->name[o->n] = name;
  o->numel[o->n] = gc_shape_numel(gc_value_shape(g, v));
  o->n++;
}

static gc_value uparam(gc_graph *g, const char *name, gc_shape s) {
  return gc_param(g, name, s, (gc_init){GC_INIT_UNIFORM, -1.0f, 1.0f, 0, 0});
}

static gc_value slice_cols(gc_graph *g, gc_value x, int64_t from, int64_t to) {
  int64_t s = from, e = to;
  int axis = 1;
  return gc_slice(g, x, &s, &e, &axis, NULL, 1);
}

static gc_value sum_all(gc_graph *g, gc_value x) {
  int axes[GC_MAX_DIMS], n = gc_value_shape(g, x).ndim;
  for (int i = 0; i < n; i++) axes[i] = i;
  return gc_sum(g, x, axes, n, 0);
}

/* With backward, the loss sums every output times a fixed weight (so each
 * output gets a non-uniform upstream gradient) and the parameters'
 * gradients become outputs. */
static void finish(gc_graph *g, outputs *o, int backward, const gc_value *ys, int ny,
                   const gc_value *params, const char *const *pnames, int np) {
  if (!backward) return;
  gc_value loss = gc_scalar(g, 0.0f);
  for (int k = 0; k < ny; k++) {
    char name[16];
    snprintf(name, sizeof name, "dy%d", k);
    gc_value w = uparam(g, name, gc_value_shape(g, ys[k]));
    loss = gc_add(g, loss, sum_all(g, gc_mul(g, ys[k], w)));
  }
  gc_set_loss(g, loss);
  ck_assert_int_eq(gc_differentiate(g), GC_OK);
  for (int k = 0; k < np; k++) add_out(g, o, gc_grad(g, params[k]), pnames[k]);
}

/* LSTM cell: gates = x W + h R + b [B, 4H] sliced into i, f, g, o;
 * c' = sigmoid(f) c + sigmoid(i) tanh(g); h' = sigmoid(o) tanh(c'). */
static void build_lstm(gc_graph *g, int backward, outputs *o) {
  gc_value x = uparam(g, "x", gc_shape2(B, I)), h = uparam(g, "h", gc_shape2(B, H));
  gc_value c = uparam(g, "c", gc_shape2(B, H));
  gc_value W = uparam(g, "W", gc_shape2(I, 4 * H)), R = uparam(g, "R", gc_shape2(H, 4 * H));
  gc_value b = uparam(g, "b", gc_shape1(4 * H));
  gc_value gates = gc_add(g, gc_add(g, gc_matmul(g, x, W), gc_matmul(g, h, R)), b);
  gc_value gi = gc_sigmoid(g, slice_cols(g, gates, 0, H));
  gc_value gf = gc_sigmoid(g, slice_cols(g, gates, H, 2 * H));
  gc_value gg = gc_tanh(g, slice_cols(g, gates, 2 * H, 3 * H));
  gc_value go = gc_sigmoid(g, slice_cols(g, gates, 3 * H, 4 * H));
  gc_value c2 = gc_add(g, gc_mul(g, gf, c), gc_mul(g, gi, gg));
  gc_value h2 = gc_mul(g, go, gc_tanh(g, c2));
  add_out(g, o, h2, "h2");
  add_out(g, o, c2, "c2");
  gc_value ys[] = {h2, c2}, ps[] = {x, h, c, W, R, b};
  const char *pn[] = {"dx", "dh", "dc", "dW", "dR", "db"};
  finish(g, o, backward, ys, 2, ps, pn, 6);
}

/* GRU cell (PyTorch's): gx = x W + bw, gh = h R + br [B, 3H];
 * r = sigmoid(gx_r + gh_r), z = sigmoid(gx_z + gh_z),
 * n = tanh(gx_n + r gh_n), h' = (1 - z) n + z h. */
static void build_gru(gc_graph *g, int backward, outputs *o) {
  gc_value x = uparam(g, "x", gc_shape2(B, I)), h = uparam(g, "h", gc_shape2(B, H));
  gc_value W = uparam(g, "W", gc_shape2(I, 3 * H)), R = uparam(g, "R", gc_shape2(H, 3 * H));
  gc_value bw = uparam(g, "bw", gc_shape1(3 * H)), br = uparam(g, "br", gc_shape1(3 * H));
  gc_value gx = gc_add(g, gc_matmul(g, x, W), bw), gh = gc_add(g, gc_matmul(g, h, R), br);
  gc_value r = gc_sigmoid(g, gc_add(g, slice_cols(g, gx, 0, H), slice_cols(g, gh, 0, H)));
  gc_value z = gc_sigmoid(g, gc_add(g, slice_cols(g, gx, H, 2 * H), slice_cols(g, gh, H, 2 * H)));
  gc_value n = gc_tanh(
      g, gc_add(g, slice_cols(g, gx, 2 * H, 3 * H), gc_mul(g, r, slice_cols(g, gh, 2 * H, 3 * H))));
  gc_value h2 = gc_add(g, gc_mul(g, gc_sub(g, gc_scalar(g, 1.0f), z), n), gc_mul(g, z, h));
  add_out(g, o, h2, "h2");
  gc_value ys[] = {h2}, ps[] = {x, h, W, R, bw, br};
  const char *pn[] = {"dx", "dh", "dW", "dR", "dbw", "dbr"};
  finish(g, o, backward, ys, 1, ps, pn, 6);
}

/* layer norm of x [B, 13] over its last axis. */
static void build_layer_norm(gc_graph *g, int backward, outputs *o) {
  gc_value x = uparam(g, "x", gc_shape2(B, 13));
  gc_value gamma = uparam(g, "gamma", gc_shape1(13)), beta = uparam(g, "beta", gc_shape1(13));
  gc_value y = gc_layer_norm(g, x, 1, gamma, beta, 1e-5f);
  add_out(g, o, y, "y");
  gc_value ys[] = {y}, ps[] = {x, gamma, beta};
  const char *pn[] = {"dx", "dgamma", "dbeta"};
  finish(g, o, backward, ys, 1, ps, pn, 3);
}

/* batch norm in training mode of x [6, 5, 3, 4] (batch statistics, running
 * statistics updated in place). */
static void build_batch_norm(gc_graph *g, int backward, outputs *o) {
  gc_value x = uparam(g, "x", gc_shape4(6, 5, 3, 4));
  gc_value gamma = uparam(g, "gamma", gc_shape1(5)), beta = uparam(g, "beta", gc_shape1(5));
  gc_value rm = gc_param(g, "rm", gc_shape1(5), GC_ZEROS);
  gc_value rv = gc_param(g, "rv", gc_shape1(5), (gc_init){GC_INIT_ONES, 0, 0, 0, 0});
  gc_value y = gc_batch_norm(g, x, gamma, beta, rm, rv, 1, 0.1f, 1e-5f);
  add_out(g, o, y, "y");
  gc_value ys[] = {y}, ps[] = {x, gamma, beta};
  const char *pn[] = {"dx", "dgamma", "dbeta"};
  finish(g, o, backward, ys, 1, ps, pn, 3);
}

/* Movement ops over computed values (passes/fuse_movement.c): a padded
 * ReLU and a tanh of a sigmoid joined by a concat, then sliced; backward,
 * the gradients of pad, concat and slice are slices and slice_grads of
 * elementwise gradients. */
static void build_pad_concat(gc_graph *g, int backward, outputs *o) {
  gc_value x = uparam(g, "x", gc_shape2(B, I));
  gc_value W1 = uparam(g, "W1", gc_shape2(I, H)), W2 = uparam(g, "W2", gc_shape2(I, 4));
  int64_t pads[4] = {0, 1, 0, 2};
  gc_value p = gc_pad(g, gc_relu(g, gc_matmul(g, x, W1)), pads, GC_PAD_CONSTANT, 0.25f);
  gc_value parts[2] = {p, gc_tanh(g, gc_sigmoid(g, gc_matmul(g, x, W2)))};
  gc_value y = gc_mul(g, slice_cols(g, gc_concat(g, parts, 2, 1), 2, H + 5), gc_scalar(g, 2.0f));
  add_out(g, o, y, "y");
  gc_value ys[] = {y}, ps[] = {x, W1, W2};
  const char *pn[] = {"dx", "dW1", "dW2"};
  finish(g, o, backward, ys, 1, ps, pn, 3);
}

/* Softmax cross-entropy over logits [300, 70] (mean over the rows; labels
 * cycle through the classes, every 50th is -1: no loss, no gradient);
 * backward, the logits' gradient. Forward and backward are one kernel
 * (passes/fuse.c, cross_entropy_pair): one work-group, each work-item
 * summing the loss of its rows and writing their gradient
 * (backends/opencl/cl_single.c). 300 rows, not a multiple of the 64
 * work-items; 21,000 logits, more than the 16,384 the pair once took. */
static void build_softmax_ce(gc_graph *g, int backward, outputs *o) {
  enum { R = 300, C = 70 };
  gc_value logits = gc_mul(g, uparam(g, "logits", gc_shape2(R, C)), gc_scalar(g, 4.0f));
  int32_t labels[R];
  for (int i = 0; i < R; i++) labels[i] = i % 50 == 49 ? -1 : (i * 7 + 3) % C;
  gc_value loss = gc_cross_entropy(g, logits, gc_constant(g, GC_I32, gc_shape1(R), labels));
  add_out(g, o, loss, "loss");
  if (!backward) return;
  gc_set_loss(g, loss);
  ck_assert_int_eq(gc_differentiate(g), GC_OK);
  add_out(g, o, gc_grad(g, gc_find(g, "logits")), "dlogits");
}

typedef void (*builder)(gc_graph *, int, outputs *);

/* Compiles the pattern on dev (fused or not), runs it once, reads every
 * output into vals[k] (malloc'd); returns its launches per run (every
 * kernel here runs once, so this is also the number of kernels; the
 * stats' distinct-kernel count folds identical sources together). */
static int run_pattern(builder build, int backward, gc_device *dev, int no_fuse, outputs *o,
                       float **vals) {
  gc_graph *g = gc_graph_new();
  gc_graph_set_seed(g, 11);
  memset(o, 0, sizeof *o);
  build(g, backward, o);
  ck_assert_msg(gc_graph_status(g) == GC_OK, "%s", gc_graph_errmsg(g));
  gc_compile_options co = {0};
  co.no_fuse = no_fuse;
  /* GRAPHC_TEST_DUMP=fuse prints the groups of the fused programs */
  if (!no_fuse) co.dump_after = getenv("GRAPHC_TEST_DUMP");
  gc_program *p = NULL;
  ck_assert_msg(gc_compile(g, dev, &co, &p) == GC_OK, "%s", gc_last_error());
  gc_graph_free(g);
  gc_program_stats st;
  ck_assert_int_eq(gc_program_stats_get(p, &st), GC_OK);
  gc_session *s = NULL;
  ck_assert_msg(gc_session_new(p, &s) == GC_OK, "%s", gc_last_error());
  ck_assert_msg(gc_session_run(s) == GC_OK, "%s", gc_last_error());
  for (int k = 0; k < o->n; k++) {
    size_t bytes = sizeof(float) * (size_t)o->numel[k];
    vals[k] = malloc(bytes);
    ck_assert_msg(gc_session_get_output(s, o->name[k], vals[k], bytes) == GC_OK, "%s: %s",
                  o->name[k], gc_last_error());
  }
  gc_session_free(s);
  gc_program_free(p);
  return st.launches_per_run;
}

static void near(const float *got, const float *want, int64_t n, const char *what, const char *name,
                 const char *vs) {
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - (double)want[i]);
    ck_assert_msg(isfinite(got[i]) && d <= 1e-4 * (1.0 + fabs((double)want[i])),
                  "%s %s[%lld]: fused %.9g vs %s %.9g", what, name, (long long)i, got[i], vs,
                  want[i]);
  }
}

/* The fused kernel count must stay within budget, and its results equal
 * the unfused program's and the reference's. */
static void check_pattern(const char *what, builder build, int backward, int budget) {
  gc_device *cl = NULL, *ref = NULL;
  const char *d = getenv("GRAPHC_DEVICE");
  ck_assert_msg(gc_device_open(d && *d && strcmp(d, "ref") ? d : "pocl", &cl) == GC_OK, "%s",
                gc_last_error());
  ck_assert_int_eq(gc_device_open("ref", &ref), GC_OK);
  outputs o;
  float *fused[MAXOUT], *unfused[MAXOUT], *want[MAXOUT];
  int kf = run_pattern(build, backward, cl, 0, &o, fused);
  int ku = run_pattern(build, backward, cl, 1, &o, unfused);
  run_pattern(build, backward, ref, 0, &o, want);
  printf("%s %s: %d launches fused, %d unfused (budget %d)\n", what,
         backward ? "forward+backward" : "forward", kf, ku, budget);
  for (int k = 0; k < o.n; k++) {
    near(fused[k], want[k], o.numel[k], what, o.name[k], "reference");
    near(fused[k], unfused[k], o.numel[k], what, o.name[k], "unfused");
    free(fused[k]);
    free(unfused[k]);
    free(want[k]);
  }
  ck_assert_msg(kf <= budget, "%s: %d launches, budget %d", what, kf, budget);
  gc_device_free(ref);
  gc_device_free(cl);
}

/* Budgets: the launches measured (batch 5, hidden 11; PoCL), forward /
 * forward + backward. The backward counts include the test's loss (a sum
 * of each output times a weight, one reduction per output).
 * - First: LSTM 6 / 19, GRU 8 / 21, layer norm 5 / 16, batch norm 9 / 20.
 * - Elementwise groups split by movement ops merged (fuse.c,
 *   merge_elementwise): LSTM 3 / 19, GRU 3 / 12, layer norm 3 / 12, batch
 *   norm 7 / 16. The cell forwards are the gate matmuls plus ONE
 *   elementwise kernel reading the gate slices in place.
 * - Row kernels (fuse_reduce.c): reductions over one domain and axes share
 *   one kernel in passes, with the elementwise work that reads their
 *   results (per row, or in a final pass over the domain) and the running
 *   statistics' updates: layer norm 1 / 4 (forward; the loss; dx; dgamma
 *   with dbeta), batch norm 1 / 2 (every statistic, output and gradient
 *   reduces over N, H, W: one kernel; the loss), LSTM 3 / 10, GRU 3 / 11
 *   (the bias gradients with the gate gradients they sum).
 * - Producers evaluated inside the movement ops reading them
 *   (fuse_movement.c): pad + concat + slice 5 / 15 before, 3 / 11 (the two
 *   matmuls and one kernel for pad, concat, slice and the scaling).
 * - The gate gradients' slice_grads summed into one tensor become a
 *   concat (join_slice_grads.c), which the cell's backward kernel stores
 *   piece by piece (fuse_movement.c, ROLE_PIECES): LSTM 3 / 9 (before, a
 *   kernel of slice_grads and adds assembled [B, 4H]), GRU 3 / 10 (the
 *   bias gradients now sum the stored concats). */
START_TEST(lstm_cell_forward) { check_pattern("lstm", build_lstm, 0, 3); }
END_TEST
START_TEST(lstm_cell_backward) { check_pattern("lstm", build_lstm, 1, 9); }
END_TEST
START_TEST(gru_cell_forward) { check_pattern("gru", build_gru, 0, 3); }
END_TEST
START_TEST(gru_cell_backward) { check_pattern("gru", build_gru, 1, 10); }
END_TEST
START_TEST(layer_norm_forward) { check_pattern("layer_norm", build_layer_norm, 0, 1); }
END_TEST
START_TEST(layer_norm_backward) { check_pattern("layer_norm", build_layer_norm, 1, 4); }
END_TEST
START_TEST(batch_norm_forward) { check_pattern("batch_norm", build_batch_norm, 0, 1); }
END_TEST
START_TEST(batch_norm_backward) { check_pattern("batch_norm", build_batch_norm, 1, 2); }
END_TEST
START_TEST(pad_concat_forward) { check_pattern("pad_concat", build_pad_concat, 0, 3); }
END_TEST
START_TEST(pad_concat_backward) { check_pattern("pad_concat", build_pad_concat, 1, 11); }
END_TEST
/* the loss alone; with its gradient (and the scaling of the logits and of
 * their gradient, elementwise kernels of their own) */
START_TEST(softmax_ce_forward) { check_pattern("softmax_ce", build_softmax_ce, 0, 2); }
END_TEST
START_TEST(softmax_ce_backward) { check_pattern("softmax_ce", build_softmax_ce, 1, 3); }
END_TEST

int main(void) {
  Suite *s = suite_create("patterns");
  TCase *tc = tcase_create("patterns");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, lstm_cell_forward);
  tcase_add_test(tc, lstm_cell_backward);
  tcase_add_test(tc, gru_cell_forward);
  tcase_add_test(tc, gru_cell_backward);
  tcase_add_test(tc, layer_norm_forward);
  tcase_add_test(tc, layer_norm_backward);
  tcase_add_test(tc, batch_norm_forward);
  tcase_add_test(tc, batch_norm_backward);
  tcase_add_test(tc, pad_concat_forward);
  tcase_add_test(tc, pad_concat_backward);
  tcase_add_test(tc, softmax_ce_forward);
  tcase_add_test(tc, softmax_ce_backward);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
