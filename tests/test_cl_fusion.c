/* test_cl_fusion.c — Check suite: fusion and memory planning on whole
 * programs, on OpenCL (PoCL) against the reference interpreter:
 * - an elementwise chain is one kernel fused and one per op unfused;
 *   matmul + bias + relu is one kernel; max pooling's gradient takes the
 *   ReLU mask as its epilogue, in place; sum(x * y) fuses the product into
 *   the reduction; a diamond fuses without a group cycle; a join that would
 *   make a cycle between kernels is refused and the program still runs;
 * - producers read only by movement ops (pad, concat, slice, transpose,
 *   tile) run inside them at the coordinates read, costly ones only where
 *   each element is read once; outputs stay stored; no in-place write over
 *   a tensor read at other indices;
 * - the MLP training step (784-256-128-10, batch 64, Adam): loss and all
 *   six gradients agree with the reference;
 * - plan_check passes on every program compiled here, and the arena sizes
 *   are ordered (live lower bound <= arena <= no reuse); a corrupted plan
 *   is caught by plan_check;
 * - in-place ordering: a read of a parameter built after its assign_add
 *   still sees the old value within the run;
 * - --dump-after and --emit-cl (gc_compile_options).
 *
 * Devices are opened inside the tests (Check forks; OpenCL state does not
 * survive fork). */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backend.h"
#include "backends/opencl/cl_codegen.h"
#include "passes/passes.h"

static const char *test_device(void) {
  const char *d = getenv("GRAPHC_DEVICE");
  return d && *d && strcmp(d, "ref") ? d : "pocl";
}

static gc_device *open_cl(void) {
  gc_device *d = NULL;
  ck_assert_msg(gc_device_open(test_device(), &d) == GC_OK, "open %s: %s", test_device(),
                gc_last_error());
  return d;
}

static gc_device *open_ref(void) {
  gc_device *d = NULL;
  ck_assert_int_eq(gc_device_open("ref", &d), GC_OK);
  return d;
}

/* The group-order invariant: every node's predecessors (inputs and the
 * in-place ordering edges) live in its own group or an earlier one. */
static void check_group_order(const gc_program *p) {
  sched_deps d;
  ck_assert_int_eq(sched_deps_build(p->g, &d), GC_OK);
  for (int v = 0; v < p->g->n; v++)
    for (int e = d.start[v]; e < d.start[v + 1]; e++) {
      int32_t u = d.list[e];
      ck_assert_msg(p->fuse.group_of[u] <= p->fuse.group_of[v],
                    "node %d (group %d) runs after its successor %d (group %d)", u,
                    p->fuse.group_of[u], v, p->fuse.group_of[v]);
    }
  sched_deps_free(&d);
}

/* Every program compiled in this file goes through here: plan_check, the
 * arena size relations and the group order. */
static gc_program *compile(gc_graph *g, gc_device *dev, const gc_compile_options *o) {
  ck_assert_msg(gc_graph_status(g) == GC_OK, "graph: %s", gc_graph_errmsg(g));
  gc_program *p = NULL;
  gc_status st = gc_compile(g, dev, o, &p);
  ck_assert_msg(st == GC_OK, "compile: %s", gc_last_error());
  st = plan_check(p->g, &p->fuse, &p->mem);
  ck_assert_msg(st == GC_OK, "plan_check: %s", gc_last_error());
  gc_program_stats s;
  ck_assert_int_eq(gc_program_stats_get(p, &s), GC_OK);
  ck_assert_msg(s.arena_bytes <= s.no_reuse_bytes, "arena %zu > no-reuse %zu", s.arena_bytes,
                s.no_reuse_bytes);
  ck_assert_msg(s.live_lower_bound_bytes <= s.arena_bytes, "live lower bound %zu > arena %zu",
                s.live_lower_bound_bytes, s.arena_bytes);
  if (o && o->no_plan) ck_assert_uint_eq(s.arena_bytes, s.no_reuse_bytes);
  check_group_order(p);
  return p;
}

static int kernels_of(const gc_program *p) {
  gc_program_stats s;
  ck_assert_int_eq(gc_program_stats_get(p, &s), GC_OK);
  return s.kernels;
}

static void fill(float *x, int64_t n, uint64_t seed, float lo, float hi) {
  uint64_t r = seed * 2654435761u + 1;
  for (int64_t i = 0; i < n; i++) {
    r = r * 6364136223846793005ULL + 1442695040888963407ULL;
    x[i] = lo + (hi - lo) * (float)((double)(r >> 11) / 9007199254740992.0);
  }
}

static void near(const float *got, const float *want, int64_t n, double tol, const char *what) {
  for (int64_t i = 0; i < n; i++) {
    ck_assert_msg(isfinite(got[i]) && isfinite(want[i]), "%s[%lld]: %g vs %g", what, (long long)i,
                  got[i], want[i]);
    double d = fabs((double)got[i] - (double)want[i]);
    ck_assert_msg(d <= tol * (1.0 + fabs((double)want[i])), "%s[%lld]: got %.9g want %.9g", what,
                  (long long)i, got[i], want[i]);
  }
}

/* Runs p once with input x (n floats) and reads output "out" (m floats). */
static void run1(gc_program *p, const char *xname, const float *x, int64_t n, const char *oname,
                 float *o, int64_t m) {
  gc_session *s = NULL;
  ck_assert_msg(gc_session_new(p, &s) == GC_OK, "%s", gc_last_error());
  ck_assert_msg(gc_session_set_input(s, xname, x, sizeof *x * (size_t)n) == GC_OK, "%s",
                gc_last_error());
  ck_assert_msg(gc_session_run(s) == GC_OK, "%s", gc_last_error());
  ck_assert_msg(gc_session_get_output(s, oname, o, sizeof *o * (size_t)m) == GC_OK, "%s",
                gc_last_error());
  gc_session_free(s);
}

static const fuse_group *group_of_node(const gc_program *p, int32_t node) {
  return &p->fuse.groups[p->fuse.group_of[node]];
}

/* The compiled graph's node for op (the first one), or -1. */
static int32_t find_op(const gc_program *p, ir_op op) {
  for (int i = 0; i < p->g->n; i++)
    if (p->g->nodes[i].op == op) return i;
  return -1;
}

/* A graph compiled three ways: fused and unfused on OpenCL, and on the
 * reference interpreter. */
typedef struct trio {
  gc_device *cl, *ref;
  gc_program *fused, *unfused, *reference;
} trio;

static trio trio_compile(gc_graph *g) {
  trio t;
  t.cl = open_cl();
  t.ref = open_ref();
  gc_compile_options nf = {0};
  nf.no_fuse = 1;
  t.fused = compile(g, t.cl, NULL);
  t.unfused = compile(g, t.cl, &nf);
  t.reference = compile(g, t.ref, NULL);
  return t;
}

/* Runs the three on input "x" (n floats): each listed output of the fused
 * and of the unfused program must match the reference within tol. */
static void trio_agree(const trio *t, const float *x, int64_t n, const char *const *outs,
                       const int64_t *sizes, int nout, double tol) {
  for (int k = 0; k < nout; k++) {
    float *got = malloc(sizeof *got * (size_t)sizes[k] * 3);
    ck_assert(got != NULL);
    float *unf = got + sizes[k], *want = unf + sizes[k];
    run1(t->fused, "x", x, n, outs[k], got, sizes[k]);
    run1(t->unfused, "x", x, n, outs[k], unf, sizes[k]);
    run1(t->reference, "x", x, n, outs[k], want, sizes[k]);
    near(got, want, sizes[k], tol, outs[k]);
    near(unf, want, sizes[k], tol, outs[k]);
    free(got);
  }
}

static void trio_free(trio *t) {
  gc_program_free(t->fused);
  gc_program_free(t->unfused);
  gc_program_free(t->reference);
  gc_device_free(t->cl);
  gc_device_free(t->ref);
}

/* ------------------------------------------------------ (a) chain */

START_TEST(elementwise_chain_is_one_kernel) {
  gc_device *cl = open_cl(), *ref = open_ref();
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape3(5, 7, 11));
  gc_value y = gc_add(g, gc_mul(g, x, gc_scalar(g, 2.0f)), gc_scalar(g, 1.0f));
  gc_output(g, gc_sigmoid(g, gc_relu(g, y)), "y");
  enum { N = 5 * 7 * 11 };
  float xv[N], fused[N], unfused[N], want[N];
  fill(xv, N, 1, -2, 2);
  gc_compile_options nf = {0};
  nf.no_fuse = 1;
  gc_program *pf = compile(g, cl, NULL), *pu = compile(g, cl, &nf), *pr = compile(g, ref, NULL);
  ck_assert_int_eq(kernels_of(pf), 1);
  ck_assert_int_eq(kernels_of(pu), 4); /* mul, add, relu, sigmoid */
  run1(pf, "x", xv, N, "y", fused, N);
  run1(pu, "x", xv, N, "y", unfused, N);
  run1(pr, "x", xv, N, "y", want, N);
  near(fused, want, N, 1e-5, "fused vs ref");
  near(unfused, fused, N, 1e-5, "unfused vs fused");
  gc_program_free(pf);
  gc_program_free(pu);
  gc_program_free(pr);
  gc_graph_free(g);
  gc_device_free(cl);
  gc_device_free(ref);
}
END_TEST

/* ------------------------------------------- (b) matmul epilogue */

START_TEST(matmul_bias_relu_is_one_kernel) {
  gc_device *cl = open_cl(), *ref = open_ref();
  gc_graph *g = gc_graph_new();
  gc_graph_set_seed(g, 3);
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(33, 17));
  gc_output(g, gc_relu(g, gc_linear(g, x, 65, GC_GLOROT, "fc")), "y");
  /* the zero bias would hide a missing bias add: make it nonzero */
  gc_value b = gc_find(g, "fc.b");
  float *bd = g->nodes[b.id].data;
  fill(bd, 65, 9, -0.5f, 0.5f);
  enum { NX = 33 * 17, NY = 33 * 65 };
  float xv[NX], got[NY], want[NY], unf[NY];
  fill(xv, NX, 2, -1, 1);
  gc_compile_options nf = {0};
  nf.no_fuse = 1;
  /* graphc's own GEMM: under the auto policy a plain product may go to
   * CLBlast, which the kernel count leaves out (it does, for the GPU form
   * on PoCL, where that form is slow) */
  nf.gemm = GC_GEMM_OWN;
  gc_program *pf = compile(g, cl, NULL), *pu = compile(g, cl, &nf), *pr = compile(g, ref, NULL);
  ck_assert_int_eq(kernels_of(pf), 1);
  ck_assert_int_eq(kernels_of(pu), 3);
  const fuse_group *gr = group_of_node(pf, find_op(pf, IR_OP_MATMUL));
  ck_assert_int_eq(gr->kind, FUSE_COMPLEX);
  ck_assert_int_eq(gr->nnodes, 3);
  run1(pf, "x", xv, NX, "y", got, NY);
  run1(pu, "x", xv, NX, "y", unf, NY);
  run1(pr, "x", xv, NX, "y", want, NY);
  near(got, want, NY, 1e-4, "fused vs ref");
  near(unf, got, NY, 1e-5, "unfused vs fused");
  gc_program_free(pf);
  gc_program_free(pu);
  gc_program_free(pr);
  gc_graph_free(g);
  gc_device_free(cl);
  gc_device_free(ref);
}
END_TEST

/* Max pooling keeps the indices of its maxima for the backward instead of
 * its input: the forward pooling kernel stores them (a second result,
 * ROLE_SIBLING; two kernels unfused), the gradient reads them, and the
 * ReLU mask of the pooling's input moves to the pooled gradient
 * (passes/mask_pool_grads.c), so nothing after the forward pooling reads
 * the ReLU's output. Two forms of the mask: a node in dy's kernel where
 * dy is elementwise (here 2 y), and the gradient's masked form
 * maxpool2d_grad(idx, dy, y) where dy is a reshape of a matmul's result.
 * The weight gradients match the reference and the unfused program. */
static void check_pool_keeps_indices(bool dense) {
  gc_graph *g = gc_graph_new();
  gc_graph_set_seed(g, 5);
  gc_value x = gc_input(g, "x", GC_F32, gc_shape4(2, 3, 12, 20));
  gc_value w = gc_param(g, "w", gc_shape4(4, 3, 3, 3), GC_GLOROT);
  gc_value r = gc_relu(g, gc_conv2d(g, x, w, NULL));
  gc_pool2d_opts o = {{0}};
  o.kernel[0] = o.kernel[1] = o.stride[0] = o.stride[1] = 2;
  gc_value y = gc_maxpool2d(g, r, &o);
  gc_value w2 = {-1};
  if (dense) {
    w2 = gc_param(g, "w2", gc_shape2(4 * 5 * 9, 7), GC_GLOROT);
    y = gc_matmul(g, gc_reshape(g, y, gc_shape2(2, 4 * 5 * 9)), w2);
  }
  gc_set_loss(g, gc_sum(g, gc_mul(g, y, y), NULL, 0, 0));
  ck_assert_msg(gc_differentiate(g) == GC_OK, "%s", gc_last_error());
  gc_output(g, gc_grad(g, w), "dw");
  if (dense) gc_output(g, gc_grad(g, w2), "dw2");
  trio t = trio_compile(g);
  const gc_program *p = t.fused;
  const ir_graph *pg = p->g;
  int32_t grad = find_op(p, IR_OP_MAXPOOL2D_GRAD), pool = find_op(p, IR_OP_MAXPOOL2D);
  int32_t ix = find_op(p, IR_OP_MAXPOOL2D_INDICES);
  ck_assert(grad >= 0 && pool >= 0 && ix >= 0);
  ck_assert_int_eq(pg->nodes[grad].in[0], ix);
  ck_assert_int_eq(p->fuse.group_of[ix], p->fuse.group_of[pool]);
  ck_assert_int_eq(p->fuse.role[ix], ROLE_SIBLING);
  ck_assert(p->fuse.materialized[ix]);
  int32_t relu = pg->nodes[pool].in[0];
  ck_assert_int_eq(pg->nodes[relu].op, IR_OP_RELU);
  for (int i = 0; i < pg->n; i++)
    for (int k = 0; k < pg->nodes[i].nin; k++)
      if (pg->nodes[i].in[k] == relu)
        ck_assert_msg(p->fuse.group_of[i] == p->fuse.group_of[pool],
                      "%%%d reads the ReLU's output after the forward pooling", i);
  if (dense) { /* the masked form */
    ck_assert_int_eq(pg->nodes[grad].nin, 3);
    ck_assert_int_eq(pg->nodes[grad].in[2], pool);
  } else { /* the mask in the kernel computing dy */
    ck_assert_int_eq(pg->nodes[grad].nin, 2);
    int32_t masked = pg->nodes[grad].in[1];
    ck_assert_int_eq(pg->nodes[masked].op, IR_OP_MUL);
    ck_assert_int_gt(group_of_node(p, masked)->nnodes, 1);
    ck_assert_int_gt(group_of_node(p, pool)->nnodes, 2); /* y * y too */
  }
  ck_assert_int_eq(group_of_node(t.unfused, find_op(t.unfused, IR_OP_MAXPOOL2D_INDICES))->nnodes,
                   1);
  enum { NX = 2 * 3 * 12 * 20 };
  float xv[NX];
  fill(xv, NX, 11, -1, 1);
  const char *outs[2] = {"dw", "dw2"};
  const int64_t sizes[2] = {4 * 3 * 3 * 3, 4 * 5 * 9 * 7};
  trio_agree(&t, xv, NX, outs, sizes, dense ? 2 : 1, 1e-4);
  trio_free(&t);
  gc_graph_free(g);
}

START_TEST(pooling_keeps_its_indices_not_its_input) {
  check_pool_keeps_indices(false);
  check_pool_keeps_indices(true);
}
END_TEST

/* ------------------------------------------ (c) reduce prologue */

START_TEST(sum_of_product_fuses) {
  gc_device *cl = open_cl(), *ref = open_ref();
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape3(5, 7, 11));
  gc_value c = gc_input(g, "c", GC_F32, gc_shape3(5, 7, 11));
  int ax = 1;
  gc_output(g, gc_sum(g, gc_mul(g, x, c), &ax, 1, 0), "s");
  gc_output(g, gc_sum(g, gc_mul(g, x, x), NULL, 0, 0), "t"); /* all axes */
  enum { N = 5 * 7 * 11, NS = 5 * 11 };
  float xv[N], cv[N], got[NS], want[NS], t_got, t_want;
  fill(xv, N, 4, -1, 1);
  fill(cv, N, 5, -1, 1);
  gc_program *pf = compile(g, cl, NULL), *pr = compile(g, ref, NULL);
  ck_assert_int_eq(kernels_of(pf), 2);
  for (int i = 0; i < pf->g->n; i++) {
    if (pf->g->nodes[i].op != IR_OP_MUL) continue;
    const fuse_group *gr = group_of_node(pf, i);
    ck_assert_int_eq(gr->kind, FUSE_REDUCE);
    ck_assert_int_eq(gr->nnodes, 2);
    ck_assert(!pf->fuse.materialized[i]); /* the product stays in registers */
  }
  gc_program *ps[2] = {pf, pr};
  float *outs[2] = {got, want}, *touts[2] = {&t_got, &t_want};
  for (int k = 0; k < 2; k++) {
    gc_session *s = NULL;
    ck_assert_int_eq(gc_session_new(ps[k], &s), GC_OK);
    ck_assert_int_eq(gc_session_set_input(s, "x", xv, sizeof xv), GC_OK);
    ck_assert_int_eq(gc_session_set_input(s, "c", cv, sizeof cv), GC_OK);
    ck_assert_int_eq(gc_session_run(s), GC_OK);
    ck_assert_int_eq(gc_session_get_output(s, "s", outs[k], sizeof got), GC_OK);
    ck_assert_int_eq(gc_session_get_output(s, "t", touts[k], sizeof t_got), GC_OK);
    gc_session_free(s);
  }
  near(got, want, NS, 1e-4, "sum(x*c)");
  near(&t_got, &t_want, 1, 1e-4, "sum(x*x)");
  gc_program_free(pf);
  gc_program_free(pr);
  gc_graph_free(g);
  gc_device_free(cl);
  gc_device_free(ref);
}
END_TEST

/* ------------------------------------------------- (d) diamond */

START_TEST(diamond_fuses_without_cycle) {
  gc_device *cl = open_cl(), *ref = open_ref();
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(3, 13));
  gc_value a = gc_exp(g, x);
  gc_value b = gc_mul(g, a, gc_scalar(g, 2.0f));
  gc_value c = gc_add(g, a, gc_scalar(g, 1.0f));
  gc_output(g, gc_mul(g, b, c), "d");
  enum { N = 39 };
  float xv[N], got[N], want[N], unf[N];
  fill(xv, N, 6, -2, 2);
  gc_compile_options nf = {0};
  nf.no_fuse = 1;
  gc_program *pf = compile(g, cl, NULL), *pu = compile(g, cl, &nf), *pr = compile(g, ref, NULL);
  /* one domain, no reduction: the whole diamond is one kernel, and a (read
   * twice, both inside the group) is never stored */
  ck_assert_int_eq(kernels_of(pf), 1);
  ck_assert(!pf->fuse.materialized[find_op(pf, IR_OP_EXP)]);
  ck_assert_int_eq(kernels_of(pu), 4);
  run1(pf, "x", xv, N, "d", got, N);
  run1(pu, "x", xv, N, "d", unf, N);
  run1(pr, "x", xv, N, "d", want, N);
  near(got, want, N, 1e-5, "diamond vs ref");
  near(unf, got, N, 1e-5, "unfused vs fused");
  gc_program_free(pf);
  gc_program_free(pu);
  gc_program_free(pr);
  gc_graph_free(g);
  gc_device_free(cl);
  gc_device_free(ref);
}
END_TEST

/* --------------------------------------- (e) a join that is a cycle */

START_TEST(cycle_forming_join_is_refused) {
  gc_device *cl = open_cl(), *ref = open_ref();
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(13, 13));
  gc_value y = gc_relu(g, x);
  /* s[i] sums row i, read broadcast along the rows by z (s[j] at (i, j)):
   * not a row kernel's final pass, and z joining y would be a cycle */
  int ax = 1;
  gc_value s = gc_sum(g, y, &ax, 1, 0);
  gc_output(g, gc_mul(g, y, s), "z");
  enum { N = 169 };
  float xv[N], got[N], want[N];
  fill(xv, N, 7, -2, 2);
  gc_program *pf = compile(g, cl, NULL), *pr = compile(g, ref, NULL);
  int32_t relu = find_op(pf, IR_OP_RELU), sum = find_op(pf, IR_OP_SUM);
  int32_t mul = -1;
  for (int i = 0; i < pf->g->n; i++)
    if (pf->g->nodes[i].op == IR_OP_MUL) mul = i;
  ck_assert(relu >= 0 && sum >= 0 && mul >= 0);
  int gy = pf->fuse.group_of[relu], gs = pf->fuse.group_of[sum], gz = pf->fuse.group_of[mul];
  ck_assert_int_ne(gz, gy); /* z would need s, which needs y's group */
  ck_assert_int_ne(gs, gy); /* y is read by z too: not a private prologue */
  ck_assert(gy < gs && gs < gz);
  /* y = relu(x) is stored, or (cheap, its input stored) recomputed by its readers */
  ck_assert(pf->fuse.materialized[relu] || pf->fuse.inlined[relu]);
  /* recomputed, y's group has nothing left to store and launches nothing */
  ck_assert_int_eq(kernels_of(pf), pf->fuse.inlined[relu] ? 2 : 3);
  run1(pf, "x", xv, N, "z", got, N);
  run1(pr, "x", xv, N, "z", want, N);
  near(got, want, N, 1e-4, "z vs ref");
  gc_program_free(pf);
  gc_program_free(pr);
  gc_graph_free(g);
  gc_device_free(cl);
  gc_device_free(ref);
}
END_TEST

/* A row kernel storing two loop values: y = (x - mean) / sqrt(var) needs
 * both passes, z = exp(x) none, and z comes after y in the schedule (it
 * joins through w = z * mean, summed in the second pass). Every stored
 * loop value is written in the pass after the latest one any of them
 * needs, whatever their order. */
START_TEST(row_kernel_stores_after_its_last_pass) {
  gc_device *cl = open_cl(), *ref = open_ref();
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(4, 13));
  int ax = 1;
  gc_value mean = gc_mean(g, x, &ax, 1, 1);
  gc_value d = gc_sub(g, x, mean);
  gc_value var = gc_mean(g, gc_mul(g, d, d), &ax, 1, 1);
  gc_value y = gc_output(g, gc_div(g, d, gc_sqrt(g, var)), "y");
  gc_value z = gc_output(g, gc_exp(g, x), "z");
  gc_output(g, gc_sum(g, gc_mul(g, z, mean), &ax, 1, 1), "s");
  enum { N = 52 };
  float xv[N], got[N], want[N];
  fill(xv, N, 5, -2, 2);
  gc_program *pf = compile(g, cl, NULL), *pr = compile(g, ref, NULL);
  ck_assert_int_eq(pf->fuse.group_of[y.id], pf->fuse.group_of[z.id]);
  ck_assert_int_eq(kernels_of(pf), 1);
  const char *outs[] = {"y", "z"};
  for (int k = 0; k < 2; k++) {
    run1(pf, "x", xv, N, outs[k], got, N);
    run1(pr, "x", xv, N, outs[k], want, N);
    near(got, want, N, 1e-4, outs[k]);
  }
  gc_program_free(pf);
  gc_program_free(pr);
  gc_graph_free(g);
  gc_device_free(cl);
  gc_device_free(ref);
}
END_TEST

/* The CPU form of elementwise kernels walks chunks of the domain in rows
 * of the longest suffix every read walks with one stride. Broadcasts that
 * end that suffix at different dims (b1 after dim 2, b2 at the last), a
 * size-1 dim inside it, a transposed read, a slice (an injective member:
 * the last dim only) and chunks that end mid-row (12,210 elements in rows
 * of 407 or 11) must all read and store the elements they name: fused,
 * unfused (every op its own kernel and suffix) and the reference agree. */
START_TEST(elementwise_rows_of_broadcasts_and_views) {
  gc_graph *g = gc_graph_new();
  enum { N = 6 * 5 * 1 * 37 * 11, NB1 = 5, NB2 = 37, NT = 11 * 37 * 5 * 6, NS = 6 * 5 * 37 * 7 };
  int64_t dims[5] = {6, 5, 1, 37, 11};
  gc_value x = gc_input(g, "x", GC_F32, gc_shapen(5, dims));
  float b1v[NB1], b2v[NB2];
  fill(b1v, NB1, 11, -1, 1);
  fill(b2v, NB2, 12, -1, 1);
  gc_value b1 = gc_constant(g, GC_F32, gc_shape4(5, 1, 1, 1), b1v);
  gc_value b2 = gc_constant(g, GC_F32, gc_shape2(37, 1), b2v);
  gc_output(g, gc_add(g, gc_relu(g, gc_mul(g, x, b1)), b2), "y");
  int perm[5] = {4, 3, 2, 1, 0};
  gc_output(g, gc_add(g, gc_transpose(g, x, perm), gc_scalar(g, 1.0f)), "t");
  int64_t st = 2, en = 9;
  int ax = 4;
  gc_output(g, gc_mul(g, gc_slice(g, x, &st, &en, &ax, NULL, 1), b1), "s");
  static float xv[N];
  fill(xv, N, 13, -2, 2);
  trio t = trio_compile(g);
  const char *outs[3] = {"y", "t", "s"};
  const int64_t sizes[3] = {N, NT, NS};
  trio_agree(&t, xv, N, outs, sizes, 3, 1e-6);
  trio_free(&t);
  gc_graph_free(g);
}
END_TEST

/* passes/fuse_postdom.c joins a group to its immediate post-dominator
 * when every group on a path between them is elementwise, visiting
 * consumers first. Here r = relu(x) [4, 6] is read by two kernels:
 * h = transpose(r) + 1 [6, 4], and y = slice(r) * transpose(slice(h))
 * [4, 4], whose kernel post-dominates both. Neither the walk nor the
 * merges join r: its readers are movement ops in two kernels. The tree
 * does it in order: slice(h), a kernel of its own (y's transpose reads it
 * at other coordinates), joins y; then h, whose one reader is now that
 * slice in y; then r, every read of it now a movement member of y. One
 * kernel, three joins; r, h and the slice evaluated at the coordinates
 * their readers compute. */
START_TEST(postdom_joins_through_a_kernel_between) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(4, 6));
  gc_value r = gc_relu(g, x);
  int perm[2] = {1, 0};
  gc_value h = gc_add(g, gc_transpose(g, r, perm), gc_scalar(g, 1.0f));
  int64_t starts[2] = {0, 1}, ends[2] = {4, 5};
  gc_value sr = gc_slice(g, r, starts, ends, NULL, NULL, 2);
  int64_t starts_h[2] = {2, 0}, ends_h[2] = {6, 4};
  gc_value th = gc_transpose(g, gc_slice(g, h, starts_h, ends_h, NULL, NULL, 2), perm);
  gc_output(g, gc_mul(g, sr, th), "y");
  enum { N = 4 * 6 };
  float xv[N];
  fill(xv, N, 31, -2, 2);
  trio t = trio_compile(g);
  gc_program_stats s;
  ck_assert_int_eq(gc_program_stats_get(t.fused, &s), GC_OK);
  ck_assert_int_eq(kernels_of(t.fused), 1);
  ck_assert_int_eq(s.postdom_joins, 3);
  ck_assert_int_eq(s.postdom_misses, 0);
  ck_assert_int_eq(t.fused->fuse.role[find_op(t.fused, IR_OP_RELU)], ROLE_AT_INDEX);
  ck_assert_int_eq(t.fused->fuse.role[find_op(t.fused, IR_OP_ADD)], ROLE_AT_INDEX);
  ck_assert_int_eq(kernels_of(t.unfused), 7);
  const char *outs[] = {"y"};
  const int64_t sizes[] = {4 * 4};
  trio_agree(&t, xv, N, outs, sizes, 1, 1e-6);
  trio_free(&t);
  gc_graph_free(g);
}
END_TEST

/* A bias summed from slices of a parameter (ONNX's RNNs with an initial
 * bias) is recomputed by the product's epilogue, which reads the
 * parameter at the slices' coordinates (passes/fuse.c, slice_of_leaf;
 * backends/opencl/cl_codegen.c, affine_read): no kernel of its own. y1's
 * slices are contiguous (the float8 epilogue loads them as vectors); y2's
 * first slice steps by 2 (the scalar epilogue). Both against the
 * reference and unfused. */
START_TEST(slices_of_a_parameter_recomputed_in_an_epilogue) {
  gc_graph *g = gc_graph_new();
  gc_graph_set_seed(g, 5);
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(3, 7));
  gc_value w1 = gc_param(g, "w1", gc_shape2(7, 16), GC_GLOROT);
  gc_value w2 = gc_param(g, "w2", gc_shape2(7, 16), GC_GLOROT);
  gc_init u = {GC_INIT_UNIFORM, -1.0f, 1.0f, 0, 0};
  gc_value b1 = gc_param(g, "b1", gc_shape2(1, 40), u), b2 = gc_param(g, "b2", gc_shape1(40), u);
  int ax1 = 1, ax0 = 0;
  int64_t s0 = 0, e16 = 16, s16 = 16, e32 = 32, s1 = 1, e33 = 33, step2 = 2, s20 = 20, e36 = 36;
  gc_value bias1 = gc_add(g, gc_slice(g, b1, &s0, &e16, &ax1, NULL, 1),
                          gc_slice(g, b1, &s16, &e32, &ax1, NULL, 1));
  gc_value bias2 = gc_mul(g, gc_slice(g, b2, &s1, &e33, &ax0, &step2, 1),
                          gc_slice(g, b2, &s20, &e36, &ax0, NULL, 1));
  gc_output(g, gc_add(g, gc_matmul(g, x, w1), bias1), "y1");
  gc_output(g, gc_relu(g, gc_add(g, gc_matmul(g, x, w2), bias2)), "y2");
  enum { N = 3 * 7 };
  float xv[N];
  fill(xv, N, 41, -2, 2);
  trio t = trio_compile(g);
  ck_assert_int_eq(kernels_of(t.fused), 2); /* the two products, with their epilogues */
  gc_program_stats s;
  ck_assert_int_eq(gc_program_stats_get(t.fused, &s), GC_OK);
  ck_assert_int_eq(s.postdom_misses, 0);
  const char *outs[] = {"y1", "y2"};
  const int64_t sizes[] = {3 * 16, 3 * 16};
  trio_agree(&t, xv, N, outs, sizes, 2, 1e-5);
  trio_free(&t);
  gc_graph_free(g);
}
END_TEST

/* Movement ops read their inputs at other indices than their own
 * element; an elementwise producer read only by them is evaluated at
 * those coordinates inside their kernel (passes/fuse_movement.c) instead
 * of being stored and loaded again. */
START_TEST(movement_reads_fuse_their_producers) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape4(2, 3, 5, 7));
  int64_t pads[8] = {0, 0, 1, 2, 0, 1, 1, 0}; /* befores, then afters */
  int ax3 = 3;
  int64_t s2 = 2, e6 = 6, s1 = 1, e5 = 5, s0 = 0;
  /* constant pad of a ReLU: one kernel */
  gc_output(g, gc_pad(g, gc_relu(g, x), pads, GC_PAD_CONSTANT, 0.5f), "p");
  /* concat of tanh (costly, but each element is read once) and a
   * sigmoid of a slice (a movement chain): one kernel */
  gc_value cs[2] = {gc_tanh(g, x), gc_sigmoid(g, gc_slice(g, x, &s2, &e6, &ax3, NULL, 1))};
  gc_output(g, gc_concat(g, cs, 2, 3), "c");
  /* exp read twice by a reflect pad stays stored; the pad runs inside
   * the slice that reads it */
  gc_value rp = gc_pad(g, gc_exp(g, x), pads, GC_PAD_REFLECT, 0.0f);
  gc_output(g, gc_mul(g, gc_slice(g, rp, &s1, &e5, &ax3, NULL, 1), gc_scalar(g, 3.0f)), "s");
  int perm[4] = {0, 3, 1, 2};
  gc_output(g, gc_transpose(g, gc_neg(g, x), perm), "t");
  int64_t reps[4] = {1, 2, 1, 2};
  gc_output(g, gc_tile(g, gc_abs(g, x), reps), "ti");
  /* a cheap producer read twice by one concat */
  gc_value y = gc_softsign(g, x);
  gc_value yy[2] = {y, y};
  gc_output(g, gc_concat(g, yy, 2, 1), "d");
  /* an output is stored whatever reads it */
  gc_value st = gc_step(g, x);
  gc_output(g, st, "o1");
  gc_output(g, gc_pad(g, st, pads, GC_PAD_EDGE, 0.0f), "o2");
  /* a transposed read of a dying square tensor: the transpose, stored
   * for the cumsum reading it, must not write over it in place (its
   * elements are read at other indices than the one written) */
  gc_value cu = gc_cumsum(g, gc_slice(g, x, &s0, &e5, &ax3, NULL, 1), 3, 0, 0);
  int swap[4] = {0, 1, 3, 2};
  gc_output(g, gc_cumsum(g, gc_transpose(g, gc_mul(g, cu, cu), swap), 3, 0, 0), "q");
  enum { N = 2 * 3 * 5 * 7 };
  float xv[N];
  fill(xv, N, 21, -2, 2);
  trio t = trio_compile(g);
  gc_program *pf = t.fused;
  /* p, c, t, ti, d: 1 kernel each; s: exp + slice; o: step + pad; q:
   * slice, cumsum, transpose, cumsum */
  ck_assert_int_eq(kernels_of(pf), 13);
  static const ir_op at_index[] = {IR_OP_RELU, IR_OP_TANH, IR_OP_SIGMOID,
                                   IR_OP_NEG,  IR_OP_ABS,  IR_OP_SOFTSIGN};
  for (size_t k = 0; k < sizeof at_index / sizeof at_index[0]; k++) {
    int32_t v = find_op(pf, at_index[k]);
    ck_assert_msg(v >= 0 && pf->fuse.role[v] == ROLE_AT_INDEX && !pf->fuse.materialized[v],
                  "%s is not evaluated at index", ir_ops[at_index[k]].name);
  }
  ck_assert(pf->fuse.materialized[find_op(pf, IR_OP_EXP)]);
  ck_assert(pf->fuse.materialized[find_op(pf, IR_OP_STEP)]);
  const char *outs[] = {"p", "c", "s", "t", "ti", "d", "o1", "o2", "q"};
  const int64_t sizes[] = {2 * 4 * 7 * 9, 2 * 3 * 5 * 11, 2 * 4 * 7 * 4, N, 4 * N, 2 * N, N,
                           2 * 4 * 7 * 9, 2 * 3 * 5 * 5};
  trio_agree(&t, xv, N, outs, sizes, 9, 1e-5);
  trio_free(&t);
  gc_graph_free(g);
}
END_TEST

/* The index tensor of a gather or a one_hot computed by index arithmetic
 * (ONNX's GatherElements and expanded NLLLoss flatten their indices so)
 * is evaluated where the gather reads it (passes/fuse_movement.c), not
 * stored by a kernel of its own: with negative indices (counted from the
 * end), out-of-range ones (zeros), an index read by several output
 * elements (gather along axis 1 of a [6, 5] table reads each index for
 * every row), and the same indices one-hot encoded. */
START_TEST(index_arithmetic_fuses_into_its_gather) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(6, 5));
  /* indices in [-7, 7]: cast(3.5 x) of x in [-2, 2) */
  gc_value ix =
      gc_cast(g,
              gc_mul(g, gc_slice(g, x, (int64_t[]){0}, (int64_t[]){4}, (int[]){0}, NULL, 1),
                     gc_scalar(g, 3.5f)),
              GC_I32);
  gc_output(g, gc_gather(g, gc_neg(g, x), ix, 1), "gx");
  gc_value ix2 = gc_cast(g, gc_mul(g, x, gc_scalar(g, 3.0f)), GC_I32);
  gc_output(g, gc_one_hot(g, ix2, 6), "oh");
  enum { N = 6 * 5 };
  float xv[N];
  fill(xv, N, 17, -2, 2);
  trio t = trio_compile(g);
  gc_program *pf = t.fused;
  int casts = 0;
  for (int i = 0; i < pf->g->n; i++)
    if (pf->g->nodes[i].op == IR_OP_CAST) {
      ck_assert_msg(pf->fuse.role[i] == ROLE_AT_INDEX && !pf->fuse.materialized[i],
                    "the index arithmetic %%%d is not evaluated at index", i);
      casts++;
    }
  ck_assert_int_eq(casts, 2);
  ck_assert_int_eq(kernels_of(pf), 2);
  ck_assert_int_eq(pf->stats.postdom_misses, 0);
  const char *outs[] = {"gx", "oh"};
  const int64_t sizes[] = {6 * 4 * 5, N * 6};
  trio_agree(&t, xv, N, outs, sizes, 2, 1e-5);
  trio_free(&t);
  gc_graph_free(g);
}
END_TEST

/* A concat of values an elementwise kernel computes, over that kernel's
 * domain, is stored by it piece by piece (ROLE_PIECES, fuse_movement.c)
 * when the producers cannot move into the concat's kernel instead (they
 * have other readers): along the first, a middle and the last axis,
 * with a leaf among the pieces and a concat read by a matmul; a concat
 * whose piece is computed from the group by another kernel (a cycle)
 * keeps its own kernel. Every result against the reference and unfused,
 * in both kernel forms (the long suite runs this file with the GPU
 * forms). */
START_TEST(concat_stored_by_its_producers) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape3(4, 3, 5));
  gc_value a = gc_output(g, gc_mul(g, gc_relu(g, x), gc_scalar(g, 2.0f)), "a");
  gc_value e = gc_exp(g, gc_neg(g, a));
  gc_value t = gc_output(g, gc_tanh(g, x), "t");
  gc_value p0[3] = {e, a, x}, p1[2] = {t, gc_sigmoid(g, a)}, p2[3] = {gc_abs(g, t), x, e};
  gc_output(g, gc_concat(g, p0, 3, 0), "c0"); /* [12, 3, 5] */
  gc_output(g, gc_concat(g, p1, 2, 1), "c1"); /* [4, 6, 5] */
  gc_output(g, gc_concat(g, p2, 3, 2), "c2"); /* [4, 3, 15] */
  /* read by a matmul: an arena tensor; its second piece comes from
   * another kernel */
  gc_value q = gc_reshape(g, x, gc_shape2(4, 15));
  gc_value r = gc_output(g, gc_relu(g, q), "r");
  gc_value rr[2] = {r, gc_output(g, gc_sqrt(g, gc_abs(g, q)), "sq")};
  gc_value w = gc_reshape(g,
                          gc_slice(g, gc_reshape(g, x, gc_shape1(60)), (int64_t[]){0},
                                   (int64_t[]){30}, (int[]){0}, NULL, 1),
                          gc_shape2(30, 1));
  gc_output(g, gc_matmul(g, gc_concat(g, rr, 2, 1), w), "m");
  /* a piece computed from the group by a matmul: a concat kernel */
  gc_value u = gc_output(g, gc_neg(g, gc_reshape(g, x, gc_shape2(12, 5))), "u");
  gc_value sq = gc_reshape(g,
                           gc_slice(g, gc_reshape(g, x, gc_shape1(60)), (int64_t[]){0},
                                    (int64_t[]){25}, (int[]){0}, NULL, 1),
                           gc_shape2(5, 5));
  gc_value uu[2] = {u, gc_matmul(g, u, sq)};
  gc_output(g, gc_concat(g, uu, 2, 1), "cy");
  enum { N = 4 * 3 * 5 };
  float xv[N];
  fill(xv, N, 33, -2, 2);
  trio t3 = trio_compile(g);
  const gc_program *pf = t3.fused;
  int pieces = 0, alone = 0;
  for (int i = 0; i < pf->g->n; i++) {
    const ir_node *n = &pf->g->nodes[i];
    if (n->op != IR_OP_CONCAT) continue;
    const fuse_group *gr = group_of_node(pf, i);
    if (pf->fuse.role[i] == ROLE_PIECES) {
      pieces++;
      ck_assert_int_eq(gr->kind, FUSE_ELEMWISE);
      ck_assert(gr->nnodes > 1);
      /* a piece computed in the group and read nowhere else stays in
       * registers (a and t are outputs; e is read by two concats, which
       * land in the groups of their first pieces, a's and t's) */
      for (int k = 0; k < n->nin; k++) {
        int32_t v = n->in[k];
        int nu = 0;
        int32_t *us = ir_users(pf->g, v, &nu);
        bool inside =
            pf->fuse.group_of[v] == pf->fuse.group_of[i] && !(pf->g->nodes[v].flags & IR_F_OUTPUT);
        for (int j = 0; j < nu; j++)
          inside = inside && pf->fuse.group_of[us[j]] == pf->fuse.group_of[i];
        free(us);
        if (inside)
          ck_assert_msg(!pf->fuse.materialized[v], "piece %d of concat %d is stored", k, i);
        else
          ck_assert(pf->fuse.materialized[v] || pf->fuse.group_of[v] != pf->fuse.group_of[i]);
      }
    } else {
      alone++;
      ck_assert_int_eq(gr->nnodes, 1); /* cy */
    }
  }
  ck_assert_int_eq(pieces, 4);
  ck_assert_int_eq(alone, 1);
  const char *outs[] = {"a", "t", "c0", "c1", "c2", "r", "sq", "m", "u", "cy"};
  const int64_t sizes[] = {N, N, 3 * N, 2 * N, 3 * N, N, N, 4, N, 2 * N};
  trio_agree(&t3, xv, N, outs, sizes, 10, 1e-5);
  trio_free(&t3);
  gc_graph_free(g);
}
END_TEST

/* ------------------------------------------- (f) MLP training step */

static const char *const mlp_params[6] = {"fc1.w", "fc1.b", "fc2.w", "fc2.b", "fc3.w", "fc3.b"};

/* The MLP step, with Adam or SGD (momentum, weight decay); grad_outputs:
 * its six gradients are outputs too. */
static gc_graph *mlp_graph_opt(bool grad_outputs, bool sgd) {
  gc_graph *g = gc_graph_new();
  gc_graph_set_seed(g, 42);
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(64, 784));
  gc_value y = gc_input(g, "y", GC_I32, gc_shape1(64));
  gc_value h = gc_relu(g, gc_linear(g, x, 256, GC_HE, "fc1"));
  h = gc_relu(g, gc_linear(g, h, 128, GC_HE, "fc2"));
  gc_value logits = gc_linear(g, h, 10, GC_GLOROT, "fc3");
  gc_set_loss(g, gc_cross_entropy(g, logits, y));
  gc_adam adam = {.lr = 1e-3f};
  gc_sgd sgd_opt = {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 1e-4f};
  ck_assert_msg((sgd ? gc_optimize_sgd(g, &sgd_opt) : gc_optimize_adam(g, &adam)) == GC_OK, "%s",
                gc_last_error());
  for (int i = 0; i < 6 && grad_outputs; i++) {
    char name[64];
    snprintf(name, sizeof name, "grad.%s", mlp_params[i]);
    gc_value gr = gc_grad(g, gc_find(g, mlp_params[i]));
    ck_assert_msg(gc_value_ok(gr), "no gradient for %s", mlp_params[i]);
    gc_output(g, gr, name);
  }
  ck_assert_msg(gc_graph_status(g) == GC_OK, "%s", gc_graph_errmsg(g));
  return g;
}

static gc_graph *mlp_graph(void) { return mlp_graph_opt(true, false); }

/* Kernel count of this step (fused, the six gradients marked as outputs;
 * the test prints it): 20 kernels = 20 launches per run when written —
 * 3 forward GEMMs with their epilogues (bias, relu, and the relu masks
 * step(h) the backward pass needs), cross-entropy and its gradient, 5
 * backward GEMMs (2 data gradients with the mask multiply as epilogue, 3
 * weight gradients), 3 bias-gradient reductions, opt_tick and 6 Adam
 * updates. With the update fusion then in progress in passes/fuse.c (the
 * six Adam updates in one kernel) it was 15. Arena 234,496 bytes (no reuse
 * 300,032, live lower bound 231,936). */
START_TEST(mlp_step_matches_reference) {
  gc_device *cl = open_cl(), *ref = open_ref();
  gc_graph *g = mlp_graph();
  enum { B = 64 };
  float *x = malloc(sizeof *x * B * 784);
  int32_t y[B];
  fill(x, B * 784, 11, 0, 1);
  for (int i = 0; i < B; i++) y[i] = (i * 7 + 3) % 10;
  gc_program *p[2] = {compile(g, cl, NULL), compile(g, ref, NULL)};
  gc_program_stats st;
  gc_program_stats_get(p[0], &st);
  printf(
      "mlp step on %s: %d kernels, %d launches per run, arena %zu (no reuse %zu, live "
      "bound %zu)\n",
      test_device(), st.kernels, st.launches_per_run, st.arena_bytes, st.no_reuse_bytes,
      st.live_lower_bound_bytes);
  gc_session *s[2];
  float loss[2][2];
  float *grads[2][6];
  size_t gbytes[6];
  for (int i = 0; i < 6; i++) {
    gc_value v = gc_find(g, mlp_params[i]);
    gbytes[i] = (size_t)gc_shape_numel(gc_value_shape(g, v)) * sizeof(float);
  }
  for (int d = 0; d < 2; d++) {
    ck_assert_int_eq(gc_session_new(p[d], &s[d]), GC_OK);
    for (int step = 0; step < 2; step++) {
      ck_assert_int_eq(gc_session_set_input(s[d], "x", x, sizeof *x * B * 784), GC_OK);
      ck_assert_int_eq(gc_session_set_input(s[d], "y", y, sizeof y), GC_OK);
      ck_assert_int_eq(gc_session_run(s[d]), GC_OK);
      ck_assert_int_eq(gc_session_get_output(s[d], "loss", &loss[d][step], sizeof(float)), GC_OK);
      if (step > 0) continue;
      for (int i = 0; i < 6; i++) {
        char name[64];
        snprintf(name, sizeof name, "grad.%s", mlp_params[i]);
        grads[d][i] = malloc(gbytes[i]);
        ck_assert_msg(gc_session_get_output(s[d], name, grads[d][i], gbytes[i]) == GC_OK, "%s",
                      gc_last_error());
      }
    }
  }
  near(&loss[0][0], &loss[1][0], 1, 1e-4, "loss, step 1");
  near(&loss[0][1], &loss[1][1], 1, 1e-4, "loss, step 2 (after one Adam update)");
  ck_assert(loss[0][1] < loss[0][0]);
  for (int i = 0; i < 6; i++) {
    near(grads[0][i], grads[1][i], (int64_t)(gbytes[i] / sizeof(float)), 1e-4, mlp_params[i]);
    free(grads[0][i]);
    free(grads[1][i]);
  }
  for (int d = 0; d < 2; d++) {
    gc_session_free(s[d]);
    gc_program_free(p[d]);
  }
  free(x);
  gc_graph_free(g);
  gc_device_free(cl);
  gc_device_free(ref);
}
END_TEST

/* Adam split in two (passes/split_updates.c) in the MLP step without
 * gradient outputs: fc2.w's and fc3.w's moments run in their weight
 * gradients' GEMMs and one kernel steps both parameters. Three steps give
 * the reference's parameters and moments, and the same bits as the
 * program with the updates whole (--no-plan, which does not split): the
 * same float arithmetic, in two kernels. The loss, whose kernel now
 * writes the logits' gradient over the logits, matches too. Loop index 1:
 * SGD (momentum, weight decay), its velocity in the GEMMs. */
START_TEST(split_updates_match_whole_updates) {
  const bool sgd = _i == 1;
  gc_device *cl = open_cl(), *ref = open_ref();
  gc_graph *g = mlp_graph_opt(false, sgd);
  enum { B = 64 };
  float *xv = malloc(sizeof *xv * B * 784);
  int32_t yv[B];
  fill(xv, B * 784, 5, 0, 1);
  for (int i = 0; i < B; i++) yv[i] = (i * 3 + 1) % 10;
  gc_compile_options whole = {0};
  whole.no_plan = 1;
  gc_program *p[3] = {compile(g, cl, NULL), compile(g, cl, &whole), compile(g, ref, NULL)};
  gc_program_stats st[2];
  for (int d = 0; d < 2; d++) gc_program_stats_get(p[d], &st[d]);
  ck_assert_int_eq(st[0].updates_split, 2);
  ck_assert_int_eq(st[1].updates_split, 0);
  ck_assert_int_eq(st[0].launches_per_run, st[1].launches_per_run + 1);
  /* fc2.w, fc3.w and their optimizer state, after three steps */
  const char *names[2][6] = {
      {"fc2.w", "fc3.w", "fc2.w.adam_m", "fc3.w.adam_m", "fc2.w.adam_v", "fc3.w.adam_v"},
      {"fc2.w", "fc3.w", "fc2.w.velocity", "fc3.w.velocity", "fc2.b", "fc3.b"}};
  const int64_t count[6] = {
      256 * 128, 128 * 10, 256 * 128, 128 * 10, sgd ? 128 : 256 * 128, sgd ? 10 : 128 * 10};
  float *got[3][6], loss[3];
  for (int d = 0; d < 3; d++) {
    gc_session *s;
    ck_assert_int_eq(gc_session_new(p[d], &s), GC_OK);
    for (int step = 0; step < 3; step++) {
      ck_assert_int_eq(gc_session_set_input(s, "x", xv, sizeof *xv * B * 784), GC_OK);
      ck_assert_int_eq(gc_session_set_input(s, "y", yv, sizeof yv), GC_OK);
      ck_assert_int_eq(gc_session_run(s), GC_OK);
    }
    ck_assert_int_eq(gc_session_get_output(s, "loss", &loss[d], sizeof(float)), GC_OK);
    for (int i = 0; i < 6; i++) {
      got[d][i] = malloc(sizeof(float) * (size_t)count[i]);
      int32_t node = ir_find_name(p[d]->g, names[sgd][i]);
      ck_assert_int_ge(node, 0);
      ck_assert_int_eq(p[d]->be->read(s, node, got[d][i], sizeof(float) * (size_t)count[i]), GC_OK);
    }
    gc_session_free(s);
  }
  for (int i = 0; i < 6; i++) {
    ck_assert_msg(!memcmp(got[0][i], got[1][i], sizeof(float) * (size_t)count[i]),
                  "%s: split and whole updates differ", names[sgd][i]);
    near(got[0][i], got[2][i], count[i], 1e-4, names[sgd][i]);
    for (int d = 0; d < 3; d++) free(got[d][i]);
  }
  ck_assert(loss[0] == loss[1]);
  near(&loss[0], &loss[2], 1, 1e-4, "loss after two steps");
  for (int d = 0; d < 3; d++) gc_program_free(p[d]);
  free(xv);
  gc_graph_free(g);
  gc_device_free(cl);
  gc_device_free(ref);
}
END_TEST

/* -------------------------------------------------- (g) plan checks */

/* A chain with odd sizes compiled unfused, so that the arena reuses
 * memory; then copies of its plan are corrupted. */
START_TEST(plan_check_catches_corruption) {
  gc_device *cl = open_cl();
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(3, 13));
  gc_value a = gc_exp(g, x), b = gc_neg(g, a), c = gc_tanh(g, b), d = gc_relu(g, c);
  /* a is read again at the end, so neg cannot work in place over it */
  gc_output(g, gc_add(g, gc_add(g, d, x), a), "y");
  gc_compile_options nf = {0};
  nf.no_fuse = 1;
  gc_program *p = compile(g, cl, &nf);
  ck_assert_msg(p->mem.arena_bytes < p->mem.no_reuse_bytes, "arena %zu, no reuse %zu",
                p->mem.arena_bytes, p->mem.no_reuse_bytes);
  int32_t ea = find_op(p, IR_OP_EXP), nb = find_op(p, IR_OP_NEG);
  ck_assert_int_eq(p->mem.kind[ea], STORE_ARENA);
  ck_assert_int_eq(p->mem.kind[nb], STORE_ARENA);
  ck_assert_uint_ne(p->mem.offset[ea], p->mem.offset[nb]);
  int n = p->g->n;
  mem_plan bad = p->mem;
  bad.offset = malloc(sizeof *bad.offset * (size_t)n);
  memcpy(bad.offset, p->mem.offset, sizeof *bad.offset * (size_t)n);
  /* neg reads exp: both live at neg's kernel; put them on the same bytes */
  bad.offset[nb] = bad.offset[ea];
  ck_assert_int_eq(plan_check(p->g, &p->fuse, &bad), GC_ERR_INTERNAL);
  ck_assert_msg(strstr(gc_last_error(), "overlap"), "%s", gc_last_error());
  /* partial overlap by 4 bytes */
  memcpy(bad.offset, p->mem.offset, sizeof *bad.offset * (size_t)n);
  size_t eb = ir_node_bytes(&p->g->nodes[ea]);
  bad.offset[nb] = p->mem.offset[ea] + eb - 4;
  ck_assert_int_eq(p->mem.narenas, 1);
  size_t size0 = p->mem.arena_sizes[0] + eb;
  bad.arena_sizes = &size0;
  ck_assert_int_eq(plan_check(p->g, &p->fuse, &bad), GC_ERR_INTERNAL);
  ck_assert_msg(strstr(gc_last_error(), "overlap"), "%s", gc_last_error());
  /* past the end of the arena */
  memcpy(bad.offset, p->mem.offset, sizeof *bad.offset * (size_t)n);
  size0 = p->mem.arena_sizes[0];
  bad.offset[nb] = size0;
  ck_assert_int_eq(plan_check(p->g, &p->fuse, &bad), GC_ERR_INTERNAL);
  ck_assert_msg(strstr(gc_last_error(), "past arena 0"), "%s", gc_last_error());
  /* in an arena that does not exist */
  memcpy(bad.offset, p->mem.offset, sizeof *bad.offset * (size_t)n);
  int *arena_of = malloc(sizeof *arena_of * (size_t)n);
  memcpy(arena_of, p->mem.arena_of, sizeof *arena_of * (size_t)n);
  arena_of[nb] = 1;
  bad.arena_of = arena_of;
  ck_assert_int_eq(plan_check(p->g, &p->fuse, &bad), GC_ERR_INTERNAL);
  ck_assert_msg(strstr(gc_last_error(), "in no arena"), "%s", gc_last_error());
  free(arena_of);
  /* the untouched plan still passes */
  ck_assert_int_eq(plan_check(p->g, &p->fuse, &p->mem), GC_OK);
  free(bad.offset);
  gc_program_free(p);
  gc_graph_free(g);
  gc_device_free(cl);
}
END_TEST

/* ------------------------------------------- (h) in-place ordering */

START_TEST(reads_see_the_value_before_the_update) {
  gc_device *cl = open_cl(), *ref = open_ref();
  gc_graph *g = gc_graph_new();
  float p0[39], dv[39];
  fill(p0, 39, 12, -1, 1);
  fill(dv, 39, 13, -1, 1);
  gc_init init = {GC_INIT_UNIFORM, -1, 1, 0, 0};
  gc_value p = gc_param(g, "p", gc_shape2(3, 13), init);
  memcpy(g->nodes[p.id].data, p0, sizeof p0);
  gc_value d = gc_input(g, "d", GC_F32, gc_shape2(3, 13));
  gc_assign_add(g, p, d);
  /* built after the update: must still read the old p */
  gc_output(g, gc_mul(g, p, gc_scalar(g, 2.0f)), "y");
  int ax = 1;
  gc_output(g, gc_sum(g, p, &ax, 1, 0), "s");
  gc_device *devs[2] = {cl, ref};
  for (int k = 0; k < 2; k++) {
    gc_program *pr = compile(g, devs[k], NULL);
    /* the update comes last in the schedule */
    int32_t upd = find_op(pr, IR_OP_ASSIGN_ADD);
    ck_assert_int_eq(pr->order[pr->g->n - 1], upd);
    gc_session *s = NULL;
    ck_assert_int_eq(gc_session_new(pr, &s), GC_OK);
    float cur[39];
    memcpy(cur, p0, sizeof cur);
    for (int step = 0; step < 3; step++) {
      ck_assert_int_eq(gc_session_set_input(s, "d", dv, sizeof dv), GC_OK);
      ck_assert_int_eq(gc_session_run(s), GC_OK);
      float y[39], want[39], sum[3], swant[3] = {0, 0, 0}, pv[39];
      ck_assert_int_eq(gc_session_get_output(s, "y", y, sizeof y), GC_OK);
      ck_assert_int_eq(gc_session_get_output(s, "s", sum, sizeof sum), GC_OK);
      for (int i = 0; i < 39; i++) {
        want[i] = 2.0f * cur[i];
        swant[i / 13] += cur[i];
        cur[i] += dv[i];
      }
      near(y, want, 39, 1e-6, "y = 2 p (old p)");
      near(sum, swant, 3, 1e-5, "sum(p) (old p)");
      ck_assert_int_eq(gc_session_get_param(s, "p", pv, sizeof pv), GC_OK);
      near(pv, cur, 39, 1e-6, "p after the update");
    }
    gc_session_free(s);
    gc_program_free(pr);
  }
  gc_graph_free(g);
  gc_device_free(cl);
  gc_device_free(ref);
}
END_TEST

/* ------------------------------------------------ (i) dump-after */

static char *slurp(FILE *f) {
  fflush(f);
  long n = ftell(f);
  ck_assert_int_ge(n, 0);
  char *buf = calloc(1, (size_t)n + 1);
  rewind(f);
  ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  return buf;
}

START_TEST(dump_after_fuse_lists_kernels) {
  gc_device *cl = open_cl();
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(3, 13));
  gc_value y = gc_relu(g, gc_mul(g, x, x));
  int ax = 1;
  gc_output(g, gc_sum(g, y, &ax, 1, 0), "s");
  gc_output(g, y, "y");
  FILE *f = tmpfile();
  ck_assert_ptr_nonnull(f);
  gc_compile_options o = {0};
  o.dump_after = "fuse";
  o.dump_to = f;
  gc_program *p = compile(g, cl, &o);
  char *text = slurp(f);
  ck_assert_msg(strstr(text, "after fuse"), "%s", text);
  /* numbered by group (leaf groups launch nothing and are not listed) */
  ck_assert_msg(strstr(text, "kernel "), "%s", text);
  ck_assert_msg(strstr(text, "elementwise") && strstr(text, "reduce"), "%s", text);
  ck_assert_msg(!strstr(text, "after plan") && !strstr(text, "after shapes"), "%s", text);
  /* one "kernel" line per launch */
  int lines = 0;
  for (const char *c = text; (c = strstr(c, "kernel ")); c++) lines++;
  ck_assert_int_eq(lines, kernels_of(p));
  free(text);
  fclose(f);
  gc_program_free(p);

  /* "all" dumps after every pass */
  f = tmpfile();
  o.dump_after = "all";
  o.dump_to = f;
  p = compile(g, cl, &o);
  text = slurp(f);
  for (const char *const *n = gc_pass_names(); *n; n++) {
    char want[64];
    snprintf(want, sizeof want, "after %s", *n);
    ck_assert_msg(strstr(text, want), "no \"%s\" in:\n%s", want, text);
  }
  free(text);
  fclose(f);
  gc_program_free(p);

  /* an unknown pass fails and names it */
  o.dump_after = "fusion";
  o.dump_to = NULL;
  p = NULL;
  ck_assert_int_eq(gc_compile(g, cl, &o, &p), GC_ERR_INVALID);
  ck_assert_ptr_null(p);
  ck_assert_msg(strstr(gc_last_error(), "\"fusion\""), "%s", gc_last_error());
  gc_graph_free(g);
  gc_device_free(cl);
}
END_TEST

/* -------------------------------------------------- (j) emit-cl */

/* gc_compile_options.cold builds past graphc's binary cache and PoCL's
 * (its source gets a last line of its own): no cache hit where a plain
 * compile of the same graph has one, and the program computes the same
 * values as the cached one. */
START_TEST(cold_compile_builds_past_the_caches) {
  gc_device *cl = open_cl();
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(5, 9));
  gc_output(g, gc_softmax(g, gc_relu(g, gc_linear(g, x, 11, GC_GLOROT, "fc")), 1), "p");
  gc_compile_options cold = {0};
  cold.cold = 1;
  gc_program *warm = compile(g, cl, NULL), *again = compile(g, cl, NULL);
  gc_program *fresh = compile(g, cl, &cold);
  gc_program_stats s[3];
  gc_program *ps[3] = {warm, again, fresh};
  for (int k = 0; k < 3; k++) ck_assert_int_eq(gc_program_stats_get(ps[k], &s[k]), GC_OK);
  const char *cache = getenv("GRAPHC_CACHE_DIR");
  if (!(cache && !strcmp(cache, "off"))) ck_assert_int_eq(s[1].cache_hit, 1);
  ck_assert_int_eq(s[2].cache_hit, 0);
  enum { N = 5 * 9, M = 5 * 11 };
  float xv[N], a[M], b[M];
  fill(xv, N, 51, -2, 2);
  run1(again, "x", xv, N, "p", a, M);
  run1(fresh, "x", xv, N, "p", b, M);
  for (int i = 0; i < M; i++) ck_assert_float_eq(a[i], b[i]);
  for (int k = 0; k < 3; k++) gc_program_free(ps[k]);
  gc_graph_free(g);
  gc_device_free(cl);
}
END_TEST

START_TEST(emit_cl_writes_kernel_files) {
  gc_device *cl = open_cl();
  char dir[] = "/tmp/graphc_emit_XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(33, 17));
  gc_value h = gc_set_name(g, gc_relu(g, gc_linear(g, x, 65, GC_GLOROT, "fc")), "hidden");
  gc_value e = gc_set_name(g, gc_exp(g, gc_mul(g, h, gc_scalar(g, 0.5f))), "scaled");
  gc_output(g, gc_softmax(g, e, 1), "p");
  gc_compile_options o = {0};
  o.emit_cl_dir = dir;
  gc_program *p = compile(g, cl, &o);
  int nk = kernels_of(p);
  ck_assert_int_eq(nk, 2); /* gemm + bias, relu, mul, exp epilogue; softmax */
  char path[512];
  snprintf(path, sizeof path, "%s/program.cl", dir);
  FILE *f = fopen(path, "r");
  ck_assert_msg(f != NULL, "no %s", path);
  fseek(f, 0, SEEK_END);
  ck_assert_int_gt(ftell(f), 100);
  fclose(f);
  bool saw_hidden = false, saw_scaled = false;
  for (int k = 0; k < nk; k++) {
    snprintf(path, sizeof path, "%s/k%d.cl", dir, k);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no %s", path);
    char head[1024] = "";
    ck_assert_ptr_nonnull(fgets(head, sizeof head, f));
    fclose(f);
    char want[64];
    snprintf(want, sizeof want, "/* kernel k%d: group ", k);
    ck_assert_msg(!strncmp(head, want, strlen(want)), "%s starts with: %s", path, head);
    ck_assert_msg(strstr(head, "fuses %"), "%s: %s", path, head);
    saw_hidden |= strstr(head, "relu \"hidden\"") != NULL;
    saw_scaled |= strstr(head, "exp \"scaled\"") != NULL;
    remove(path);
  }
  ck_assert(saw_hidden && saw_scaled);
  snprintf(path, sizeof path, "%s/k%d.cl", dir, nk);
  ck_assert_int_ne(access(path, F_OK), 0);
  snprintf(path, sizeof path, "%s/program.cl", dir);
  remove(path);
  rmdir(dir);
  gc_program_free(p);
  gc_graph_free(g);
  gc_device_free(cl);
}
END_TEST

/* Updates that cannot be epilogues (a parameter read twice: its gradient
 * is a sum) go to multi-tensor kernels; after three Adam steps every
 * parameter equals the reference's. Two assign_adds of one parameter must
 * not be merged into one kernel (they would race). */
START_TEST(multi_tensor_updates_match_reference) {
  gc_device *cl = open_cl(), *ref = open_ref();
  float got[3][20], want[3][20];
  const char *names[3] = {"w", "v", "u"};
  for (int d = 0; d < 2; d++) {
    gc_graph *g = gc_graph_new();
    gc_value x = gc_input(g, "x", GC_F32, gc_shape2(4, 5));
    gc_value w = gc_param(g, "w", gc_shape2(5, 5), (gc_init){GC_INIT_NORMAL, 0, 0.5f, 0, 0});
    gc_value v = gc_param(g, "v", gc_shape2(4, 5), (gc_init){GC_INIT_NORMAL, 0, 0.5f, 0, 0});
    gc_value u = gc_param(g, "u", gc_shape1(5), (gc_init){GC_INIT_NORMAL, 0, 0.5f, 0, 0});
    gc_value h = gc_tanh(g, gc_matmul(g, gc_matmul(g, x, w), w));
    gc_value l = gc_mean(g, gc_mul(g, gc_add(g, gc_mul(g, h, v), u), gc_add(g, v, u)), NULL, 0, 0);
    gc_set_loss(g, l);
    gc_adam adam = {.lr = 0.1f};
    ck_assert_int_eq(gc_optimize_adam(g, &adam), GC_OK);
    gc_program *p = compile(g, d ? ref : cl, NULL);
    gc_session *s;
    ck_assert_int_eq(gc_session_new(p, &s), GC_OK);
    float xv[20];
    fill(xv, 20, 5, -1, 1);
    for (int k = 0; k < 3; k++) {
      ck_assert_int_eq(gc_session_set_input(s, "x", xv, sizeof xv), GC_OK);
      ck_assert_int_eq(gc_session_run(s), GC_OK);
    }
    size_t bytes[3] = {100, 80, 20};
    for (int k = 0; k < 3; k++)
      ck_assert_int_eq(gc_session_get_param(s, names[k], d ? want[k] : got[k], bytes[k]), GC_OK);
    gc_session_free(s);
    gc_program_free(p);
    gc_graph_free(g);
  }
  near(got[0], want[0], 25, 1e-4, "w");
  near(got[1], want[1], 20, 1e-4, "v");
  near(got[2], want[2], 5, 1e-4, "u");

  /* two writers of one parameter stay in separate kernels, in order */
  gc_graph *g = gc_graph_new();
  gc_value acc = gc_param(g, "acc", gc_shape1(37), GC_ZEROS);
  gc_value d1 = gc_input(g, "d", GC_F32, gc_shape1(37));
  gc_assign_add(g, acc, d1);
  gc_assign_add(g, acc, gc_mul(g, d1, gc_scalar(g, 2.0f)));
  gc_program *p = compile(g, cl, NULL);
  for (int i = 0; i < p->fuse.ngroups; i++) {
    const fuse_group *gr = &p->fuse.groups[i];
    int writers = 0;
    for (int k = 0; k < gr->nnodes; k++)
      writers += p->g->nodes[gr->nodes[k]].op == IR_OP_ASSIGN_ADD;
    ck_assert_int_le(writers, 1);
  }
  gc_session *s;
  ck_assert_int_eq(gc_session_new(p, &s), GC_OK);
  float dv[37], av[37];
  fill(dv, 37, 9, -1, 1);
  ck_assert_int_eq(gc_session_set_input(s, "d", dv, sizeof dv), GC_OK);
  ck_assert_int_eq(gc_session_run(s), GC_OK);
  ck_assert_int_eq(gc_session_run(s), GC_OK);
  ck_assert_int_eq(gc_session_get_param(s, "acc", av, sizeof av), GC_OK);
  for (int i = 0; i < 37; i++) ck_assert_float_eq_tol(av[i], 6.0f * dv[i], 1e-5f);
  gc_session_free(s);
  gc_program_free(p);
  gc_graph_free(g);
  gc_device_free(cl);
  gc_device_free(ref);
}
END_TEST

/* Adam joins the GEMM computing its weight gradient and runs there on
 * eight results at a time (GEMM_STORE8), the scalar epilogue covering the
 * shifted last strip: widths 37 (16-wide tiles, 5 columns left over) and
 * 11 (8-wide tiles, 3 left over). Three steps match the reference. */
START_TEST(adam_in_gemm_epilogue_matches_reference) {
  gc_device *cl = open_cl(), *ref = open_ref();
  float got[2][13 * 37], want[2][13 * 37];
  const char *names[2] = {"w1", "w2"};
  const size_t bytes[2] = {sizeof(float) * 13 * 37, sizeof(float) * 37 * 11};
  for (int d = 0; d < 2; d++) {
    gc_graph *g = gc_graph_new();
    gc_value x = gc_input(g, "x", GC_F32, gc_shape2(9, 13));
    gc_value w1 = gc_param(g, "w1", gc_shape2(13, 37), (gc_init){GC_INIT_NORMAL, 0, 0.5f, 0, 0});
    gc_value w2 = gc_param(g, "w2", gc_shape2(37, 11), (gc_init){GC_INIT_NORMAL, 0, 0.5f, 0, 0});
    gc_value h = gc_matmul(g, gc_tanh(g, gc_matmul(g, x, w1)), w2);
    gc_set_loss(g, gc_mean(g, gc_mul(g, h, h), NULL, 0, 0));
    gc_adam adam = {.lr = 0.05f};
    ck_assert_int_eq(gc_optimize_adam(g, &adam), GC_OK);
    gc_program *p = compile(g, d ? ref : cl, NULL);
    if (!d) { /* both updates are GEMM epilogues */
      int fused = 0;
      for (int i = 0; i < p->fuse.ngroups; i++) {
        const fuse_group *gr = &p->fuse.groups[i];
        for (int k = 0; k < gr->nnodes; k++)
          fused += gr->kind == FUSE_COMPLEX && p->g->nodes[gr->nodes[k]].op == IR_OP_ADAM_UPDATE;
      }
      ck_assert_int_eq(fused, 2);
    }
    gc_session *s;
    ck_assert_int_eq(gc_session_new(p, &s), GC_OK);
    float xv[9 * 13];
    fill(xv, 9 * 13, 17, -1, 1);
    for (int k = 0; k < 3; k++) {
      ck_assert_int_eq(gc_session_set_input(s, "x", xv, sizeof xv), GC_OK);
      ck_assert_int_eq(gc_session_run(s), GC_OK);
    }
    for (int k = 0; k < 2; k++)
      ck_assert_int_eq(gc_session_get_param(s, names[k], d ? want[k] : got[k], bytes[k]), GC_OK);
    gc_session_free(s);
    gc_program_free(p);
    gc_graph_free(g);
  }
  near(got[0], want[0], 13 * 37, 1e-4, "w1");
  near(got[1], want[1], 37 * 11, 1e-4, "w2");
  gc_device_free(cl);
  gc_device_free(ref);
}
END_TEST

/* A GEMM epilogue that multiplies by a ReLU mask recomputed from a stored
 * tensor (step(h), the backward's pattern) and takes a sigmoid runs as
 * float8 code on full strips (GEMM_STORE8, the mask as a select), the
 * scalar epilogue on the columns left over (width 21), and matches the
 * reference and the unfused program. */
START_TEST(gemm_mask_epilogue_runs_as_float8) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(12, 13));
  gc_value w = gc_param(g, "w", gc_shape2(13, 21), (gc_init){GC_INIT_NORMAL, 0, 0.5f, 0, 0});
  gc_value z = gc_param(g, "z", gc_shape2(12, 21), (gc_init){GC_INIT_UNIFORM, -1, 1, 0, 0});
  gc_value h = gc_output(g, gc_relu(g, z), "h");
  gc_output(g, gc_sigmoid(g, gc_mul(g, gc_matmul(g, x, w), gc_step(g, h))), "y");
  char dir[] = "/tmp/graphc_mask8_XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  gc_compile_options o = {0};
  o.emit_cl_dir = dir;
  gc_device *cl = open_cl();
  gc_program *p = compile(g, cl, &o);
  int32_t st = find_op(p, IR_OP_STEP);
  ck_assert(st >= 0 && p->fuse.inlined[st]);
  char path[64];
  snprintf(path, sizeof path, "%s/program.cl", dir);
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  char *text = slurp(f);
  fclose(f);
  const char *s8 = strstr(text, "#define GEMM_STORE8");
  ck_assert_msg(s8 != NULL, "no float8 epilogue");
  const char *eol = strchr(s8, '\n');
  const char *sel = strstr(s8, "select(");
  ck_assert_msg(sel && sel < eol, "the mask is not a select in GEMM_STORE8");
  free(text);
  gc_program_free(p);
  gc_device_free(cl);
  /* remove the emitted files */
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    char fp[320];
    snprintf(fp, sizeof fp, "%s/%s", dir, e->d_name);
    unlink(fp);
  }
  closedir(d);
  rmdir(dir);
  float xv[12 * 13];
  fill(xv, 12 * 13, 5, -1, 1);
  trio t = trio_compile(g);
  const char *outs[] = {"h", "y"};
  const int64_t sizes[] = {12 * 21, 12 * 21};
  trio_agree(&t, xv, 12 * 13, outs, sizes, 2, 1e-5);
  trio_free(&t);
  gc_graph_free(g);
}
END_TEST

/* An arena that would pass the largest allocation is split: the MLP step
 * (arena tensors up to 64 KB) under a 70,000-byte cap takes several
 * arenas, each under the cap, the checker accepts the plan, and two steps
 * give the one-arena results. A tensor alone over the cap is an error
 * naming it. */
START_TEST(arena_splits_under_a_limit) {
  gc_device *cl = open_cl();
  gc_graph *g = mlp_graph();
  enum { B = 64 };
  float *x = malloc(sizeof *x * B * 784);
  int32_t y[B];
  fill(x, B * 784, 23, 0, 1);
  for (int i = 0; i < B; i++) y[i] = (i * 3 + 1) % 10;
  gc_compile_options capped = {0};
  capped.max_arena_bytes = 70000;
  gc_program *p[2] = {compile(g, cl, NULL), compile(g, cl, &capped)};
  ck_assert_int_eq(p[0]->mem.narenas, 1);
  ck_assert_int_ge(p[1]->mem.narenas, 2);
  for (int a = 0; a < p[1]->mem.narenas; a++) ck_assert_uint_le(p[1]->mem.arena_sizes[a], 70000);
  ck_assert_int_eq(plan_check(p[1]->g, &p[1]->fuse, &p[1]->mem), GC_OK);
  printf("mlp step under a 70,000-byte arena cap: %d arenas, %zu bytes in all (one arena: %zu)\n",
         p[1]->mem.narenas, p[1]->mem.arena_bytes, p[0]->mem.arena_bytes);
  float loss[2][2], w[2][10];
  for (int d = 0; d < 2; d++) {
    gc_session *s;
    ck_assert_int_eq(gc_session_new(p[d], &s), GC_OK);
    for (int step = 0; step < 2; step++) {
      ck_assert_int_eq(gc_session_set_input(s, "x", x, sizeof *x * B * 784), GC_OK);
      ck_assert_int_eq(gc_session_set_input(s, "y", y, sizeof y), GC_OK);
      ck_assert_int_eq(gc_session_run(s), GC_OK);
      ck_assert_int_eq(gc_session_get_output(s, "loss", &loss[d][step], sizeof(float)), GC_OK);
    }
    ck_assert_int_eq(gc_session_get_param(s, "fc3.b", w[d], sizeof w[d]), GC_OK);
    gc_session_free(s);
    gc_program_free(p[d]);
  }
  near(loss[1], loss[0], 2, 1e-6, "loss, split arenas");
  near(w[1], w[0], 10, 1e-6, "fc3.b after two steps, split arenas");
  gc_compile_options tiny = {0};
  tiny.max_arena_bytes = 4096;
  gc_program *bad = NULL;
  ck_assert_int_eq(gc_compile(g, cl, &tiny, &bad), GC_ERR_UNSUPPORTED);
  ck_assert_msg(strstr(gc_last_error(), "largest allocation"), "%s", gc_last_error());
  ck_assert_ptr_null(bad);
  free(x);
  gc_graph_free(g);
  gc_device_free(cl);
}
END_TEST

/* Profiling: per-kernel device time over the runs since it was switched
 * on, one entry per kernel with its launch count; not on "ref". */
START_TEST(profiling_reports_every_kernel) {
  gc_device *cl = open_cl(), *ref = open_ref();
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(16, 8));
  gc_value h = gc_relu(g, gc_linear(g, x, 4, GC_HE, "fc"));
  gc_output(g, gc_sum(g, h, NULL, 0, 0), "s");
  gc_program *p = compile(g, cl, NULL), *pr = compile(g, ref, NULL);
  gc_session *s, *sr;
  ck_assert_int_eq(gc_session_new(p, &s), GC_OK);
  ck_assert_int_eq(gc_session_new(pr, &sr), GC_OK);
  ck_assert_int_eq(gc_session_set_profiling(sr, 1), GC_ERR_UNSUPPORTED);
  float xv[128];
  fill(xv, 128, 3, -1, 1);
  ck_assert_int_eq(gc_session_set_input(s, "x", xv, sizeof xv), GC_OK);
  ck_assert_int_eq(gc_session_set_profiling(s, 1), GC_OK);
  for (int i = 0; i < 3; i++) ck_assert_int_eq(gc_session_run(s), GC_OK);
  gc_kernel_profile prof[16];
  int count = 0;
  ck_assert_int_eq(gc_session_profile(s, prof, 16, &count), GC_OK);
  ck_assert_int_eq(count, kernels_of(p));
  for (int i = 0; i < count; i++) {
    ck_assert_int_eq(prof[i].launches, 3);
    ck_assert(prof[i].seconds >= 0 && prof[i].seconds < 10);
    ck_assert(prof[i].name[0] && prof[i].what[0]);
  }
  ck_assert_int_eq(gc_session_set_profiling(s, 0), GC_OK);
  ck_assert_int_eq(gc_session_run(s), GC_OK); /* not counted */
  ck_assert_int_eq(gc_session_profile(s, prof, 16, &count), GC_OK);
  ck_assert_int_eq(prof[0].launches, 3);
  gc_session_free(s);
  gc_session_free(sr);
  gc_program_free(p);
  gc_program_free(pr);
  gc_graph_free(g);
  gc_device_free(cl);
  gc_device_free(ref);
}
END_TEST

/* ------------------------------------- (k) long rows, GPU reduce form */

/* Whether the program compiled into dir (then emptied and removed) holds
 * the text needle. */
static bool emitted_has(const char *dir, const char *needle) {
  char path[320];
  snprintf(path, sizeof path, "%s/program.cl", dir);
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END); /* slurp reads what lies before the position */
  char *text = slurp(f);
  fclose(f);
  bool found = strstr(text, needle) != NULL;
  free(text);
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
  return found;
}

/* GRAPHC_KERNEL_FORM set to form ("cpu" or "gpu"); returns what it was
 * (NULL: unset) for kernel_form_restore. */
static char *kernel_form_set(const char *form) {
  const char *was = getenv("GRAPHC_KERNEL_FORM");
  char *saved = was ? strdup(was) : NULL;
  ck_assert_int_eq(setenv("GRAPHC_KERNEL_FORM", form, 1), 0);
  return saved;
}

static void kernel_form_restore(char *saved) {
  if (saved) {
    setenv("GRAPHC_KERNEL_FORM", saved, 1);
    free(saved);
  } else {
    unsetenv("GRAPHC_KERNEL_FORM");
  }
}

/* g compiled in the CPU and then the GPU kernel forms (GRAPHC_KERNEL_FORM,
 * restored after): the program holds needle in the GPU form only, and in
 * both forms the fused and unfused programs agree with the reference on
 * input x (n floats) for the outputs listed. */
static void both_forms_agree(gc_graph *g, const float *x, int64_t n, const char *const *outs,
                             const int64_t *sizes, int nout, const char *needle) {
  char *saved = kernel_form_set("cpu");
  for (int gpu = 0; gpu < 2; gpu++) {
    if (gpu) ck_assert_int_eq(setenv("GRAPHC_KERNEL_FORM", "gpu", 1), 0);
    char dir[] = "/tmp/graphc_forms_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    gc_compile_options o = {0};
    o.emit_cl_dir = dir;
    o.gemm = GC_GEMM_OWN;
    gc_device *cl = open_cl();
    gc_program *p = compile(g, cl, &o);
    gc_program_stats st;
    ck_assert_int_eq(gc_program_stats_get(p, &st), GC_OK);
    /* a split K takes a scratch buffer, and says so */
    const bool split = strstr(needle, "GEMM_KSPLIT") != NULL;
    ck_assert_msg((st.scratch_bytes > 0) == (split && gpu), "scratch %zu bytes", st.scratch_bytes);
    ck_assert_msg(emitted_has(dir, needle) == (gpu == 1), "%s form: \"%s\" %s", gpu ? "GPU" : "CPU",
                  needle, gpu ? "missing" : "unexpected");
    gc_program_free(p);
    gc_device_free(cl);
    trio t = trio_compile(g);
    trio_agree(&t, x, n, outs, sizes, nout, 1e-5);
    trio_free(&t);
  }
  kernel_form_restore(saved);
}

/* Rows of 2,000 reduced elements: sum, mean, max, min and prod, and a
 * two-pass normalization that stores its centred values, in both kernel
 * forms: the GPU form reduces each row with a work-group (a tree in local
 * memory), the CPU form with one work-item. Both agree with the reference
 * and with the unfused program. */
START_TEST(long_rows_reduce_by_work_group) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape3(3, 40, 50));
  const int ax[] = {1, 2};
  gc_value m = gc_mean(g, x, ax, 2, 1);
  gc_value d = gc_output(g, gc_sub(g, x, m), "d");
  gc_value var = gc_mean(g, gc_mul(g, d, d), ax, 2, 1);
  gc_output(g, gc_div(g, d, gc_sqrt(g, gc_add(g, var, gc_scalar(g, 1e-5f)))), "y");
  gc_output(g, gc_sum(g, x, ax, 2, 0), "s");
  gc_output(g, gc_max(g, x, ax, 2, 0), "mx");
  gc_output(g, gc_min(g, x, ax, 2, 0), "mn");
  gc_output(g,
            gc_prod(g, gc_add(g, gc_mul(g, x, gc_scalar(g, 1e-3f)), gc_scalar(g, 1.0f)), ax, 2, 0),
            "pr");
  enum { N = 3 * 40 * 50 };
  float *xv = malloc(sizeof *xv * N);
  ck_assert_ptr_nonnull(xv);
  fill(xv, N, 21, -1, 1);
  const char *outs[] = {"d", "y", "s", "mx", "mn", "pr"};
  const int64_t sizes[] = {N, N, 3, 3, 3, 3};
  /* a row kernel in the work-group form (cl_codegen.c, reduce_by_group) */
  both_forms_agree(g, xv, N, outs, sizes, 6, "get_group_id(0), lid = get_local_id(0)");
  free(xv);
  gc_graph_free(g);
}
END_TEST

/* Batch norm in inference over [4, 8, 9, 11]: its per-channel scale
 * gamma / sqrt(var + eps) joins the kernel over x (passes/
 * fuse_broadcast.c), one kernel in all. The CPU form evaluates the scale
 * once per row of 99 elements, before the row's loop (rows cross the
 * work-items' chunks of 64); the GPU form per element. Both agree with
 * the reference and the unfused program. */
START_TEST(broadcast_producer_once_per_row) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape4(4, 8, 9, 11));
  const gc_shape c = gc_shape3(8, 1, 1);
  gc_init any = {GC_INIT_UNIFORM, -1, 1, 0, 0}, pos = {GC_INIT_UNIFORM, 0.1f, 2, 0, 0};
  gc_value mean = gc_param(g, "mean", c, any), var = gc_param(g, "var", c, pos);
  gc_value gamma = gc_param(g, "gamma", c, any), beta = gc_param(g, "beta", c, any);
  gc_value scale = gc_div(g, gamma, gc_sqrt(g, gc_add(g, var, gc_scalar(g, 1e-5f))));
  gc_output(g, gc_add(g, gc_mul(g, gc_sub(g, x, mean), scale), beta), "y");
  enum { N = 4 * 8 * 9 * 11 };
  float xv[N];
  fill(xv, N, 31, -2, 2);
  char *saved = kernel_form_set("cpu");
  char dir[] = "/tmp/graphc_bcast_XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  gc_compile_options o = {0};
  o.emit_cl_dir = dir;
  gc_device *cl = open_cl();
  gc_program *p = compile(g, cl, &o);
  ck_assert_int_eq(kernels_of(p), 1);
  ck_assert(emitted_has(dir, "/* once per row */ float"));
  gc_program_free(p);
  gc_device_free(cl);
  kernel_form_restore(saved);
  const char *outs[] = {"y"};
  const int64_t sizes[] = {N};
  /* the GPU form's elementwise kernel: a work-item per element */
  both_forms_agree(g, xv, N, outs, sizes, 1, "if (gid >= 3168) return;");
  gc_graph_free(g);
}
END_TEST

/* A broadcast producer read by a member that a movement op evaluates at
 * its own coordinates (x * scale, evaluated inside a transpose that swaps
 * batch and channel) keeps its kernel (passes/fuse_broadcast.c): joined,
 * the member would read the scale computed at the transpose's index, the
 * wrong channel. The result matches the reference (and so does the
 * unfused program's). */
START_TEST(broadcast_producer_not_read_at_other_coordinates) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape4(3, 3, 4, 5));
  gc_value var = gc_param(g, "var", gc_shape3(3, 1, 1), (gc_init){GC_INIT_UNIFORM, 0.5f, 4, 0, 0});
  gc_value scale = gc_sqrt(g, gc_add(g, var, gc_scalar(g, 1e-5f)));
  const int perm[4] = {1, 0, 2, 3};
  gc_output(g, gc_transpose(g, gc_mul(g, x, scale), perm), "y");
  trio t = trio_compile(g);
  ck_assert_int_eq(kernels_of(t.fused), 2);
  enum { N = 3 * 3 * 4 * 5 };
  float xv[N];
  fill(xv, N, 13, -1, 1);
  const char *outs[] = {"y"};
  const int64_t sizes[] = {N};
  trio_agree(&t, xv, N, outs, sizes, 1, 1e-5);
  trio_free(&t);
  gc_graph_free(g);
}
END_TEST

/* A device whose limits the GPU forms pass (work-groups under 256, as
 * OpenCL allows) takes the CPU forms even when GRAPHC_KERNEL_FORM asks
 * for the GPU's, and the CPU forms' 1-D work-groups shrink to what it
 * allows: here 16, on PoCL with its reported limit lowered. The program
 * (elementwise chunks, row reductions, softmax, a product) then runs and
 * matches the reference. */
START_TEST(small_work_groups_take_the_cpu_forms) {
  char *saved = kernel_form_set("gpu");
  gc_device *cl = open_cl(), *ref = open_ref();
  cl_dev *d = cl->impl;
  ck_assert(!cl_dev_cpu_forms(d));
  d->info.max_work_group_size = 16;
  ck_assert(cl_dev_cpu_forms(d));
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(300, 37));
  int ax = 1;
  gc_value y = gc_relu(g, gc_add(g, gc_mul(g, x, gc_scalar(g, 2.0f)), gc_scalar(g, 1.0f)));
  gc_value w = gc_param(g, "w", gc_shape2(37, 20), (gc_init){GC_INIT_UNIFORM, -1, 1, 0, 0});
  gc_value z = gc_add(g, gc_softmax(g, gc_matmul(g, y, w), 1), gc_sum(g, y, &ax, 1, 1));
  gc_output(g, z, "z");
  gc_program *p[2] = {compile(g, cl, NULL), compile(g, ref, NULL)};
  cl_codegen cg;
  ck_assert_int_eq(cl_codegen_run(p[0], d, NULL, &cg), GC_OK);
  ck_assert_int_ge(cg.nlaunches, 3);
  size_t widest = 0; /* what the launches asked before shrinking: 32 and 64 */
  for (int i = 0; i < cg.nlaunches; i++)
    for (int k = 0; k < (int)cg.launches[i].work_dim; k++)
      ck_assert_uint_le(cg.launches[i].local[k], 16);
  ck_assert_ptr_null(strstr(cg.source, "reqd_work_group_size(16, 16"));
  cl_codegen_free(&cg);
  d->info.max_work_group_size = 4096; /* the CPU forms as PoCL takes them */
  ck_assert_int_eq(setenv("GRAPHC_KERNEL_FORM", "cpu", 1), 0);
  ck_assert_int_eq(cl_codegen_run(p[0], d, NULL, &cg), GC_OK);
  for (int i = 0; i < cg.nlaunches; i++)
    widest = cg.launches[i].local[0] > widest ? cg.launches[i].local[0] : widest;
  ck_assert_uint_gt(widest, 16);
  cl_codegen_free(&cg);
  enum { N = 300 * 37, M = 300 * 20 };
  float xv[N], got[M], want[M];
  fill(xv, N, 3, -1, 1);
  run1(p[0], "x", xv, N, "z", got, M);
  run1(p[1], "x", xv, N, "z", want, M);
  near(got, want, M, 1e-5, "z");
  for (int k = 0; k < 2; k++) gc_program_free(p[k]);
  gc_graph_free(g);
  gc_device_free(cl);
  gc_device_free(ref);
  kernel_form_restore(saved);
}
END_TEST

/* Two products of x^T with a long K (1,000) and few results, as a conv's
 * weight gradient has: 288 x 32 with a bias and ReLU epilogue (36 tiles)
 * and 288 x 64 (72 tiles). The GPU form splits K over work-groups that
 * meet in the program's one scratch buffer (kernels/gemm_gpu.cl), the CPU
 * form does not. Both agree with the reference and the unfused program;
 * and in the GPU form two runs of one session on different inputs each
 * agree with the reference: the kernels share the scratch, and one's
 * partials once lay over the other's tile counters (the 72-tile
 * product's then started a second step non-zero and left tiles stale,
 * which fused vs unfused CNN training on an H100 caught). */
START_TEST(small_products_split_k_in_the_gpu_form) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(1000, 288));
  /* positive operands: sums of 1,000 products without cancellation, so
   * that the orders of summation agree within 1e-5 */
  const gc_init pos = {GC_INIT_UNIFORM, 0, 1, 0, 0};
  gc_value y = gc_param(g, "y", gc_shape2(1000, 32), pos);
  gc_value b = gc_param(g, "b", gc_shape1(32), (gc_init){GC_INIT_UNIFORM, -1, 1, 0, 0});
  gc_value y2 = gc_param(g, "y2", gc_shape2(1000, 64), pos);
  const int perm[] = {1, 0};
  gc_value xt = gc_transpose(g, x, perm);
  gc_output(g, gc_relu(g, gc_add(g, gc_matmul(g, xt, y), b)), "out");
  gc_output(g, gc_matmul(g, xt, y2), "out2");
  enum { N = 1000 * 288 };
  float *xv = malloc(sizeof *xv * N * 2);
  ck_assert_ptr_nonnull(xv);
  fill(xv, N, 8, 0, 1);
  fill(xv + N, N, 9, 0, 1);
  const char *outs[] = {"out", "out2"};
  const int64_t sizes[] = {288 * 32, 288 * 64};
  both_forms_agree(g, xv, N, outs, sizes, 2, "#define GEMM_KSPLIT 3");
  /* two runs of one session in the GPU form, on two inputs */
  char *saved = kernel_form_set("gpu");
  gc_compile_options o = {0};
  o.gemm = GC_GEMM_OWN;
  gc_device *cl = open_cl(), *ref = open_ref();
  gc_program *p = compile(g, cl, &o), *pr = compile(g, ref, NULL);
  gc_session *s = NULL;
  ck_assert_int_eq(gc_session_new(p, &s), GC_OK);
  float *got = malloc(sizeof *got * 288 * 64), *want = malloc(sizeof *want * 288 * 64);
  ck_assert(got && want);
  for (int r = 0; r < 2; r++) {
    ck_assert_int_eq(gc_session_set_input(s, "x", xv + r * N, sizeof *xv * N), GC_OK);
    ck_assert_int_eq(gc_session_run(s), GC_OK);
    for (int k = 0; k < 2; k++) {
      ck_assert_int_eq(gc_session_get_output(s, outs[k], got, sizeof *got * (size_t)sizes[k]),
                       GC_OK);
      run1(pr, "x", xv + r * N, N, outs[k], want, sizes[k]);
      near(got, want, sizes[k], 1e-5, r ? "second run" : "first run");
    }
  }
  free(got);
  free(want);
  gc_session_free(s);
  gc_program_free(p);
  gc_program_free(pr);
  gc_device_free(cl);
  gc_device_free(ref);
  kernel_form_restore(saved);
  free(xv);
  gc_graph_free(g);
}
END_TEST

static Suite *cl_fusion_suite(void) {
  Suite *s = suite_create("cl_fusion");
  TCase *tc = tcase_create("fusion");
  tcase_set_timeout(tc, 900);
  tcase_add_test(tc, elementwise_chain_is_one_kernel);
  tcase_add_test(tc, profiling_reports_every_kernel);
  tcase_add_test(tc, multi_tensor_updates_match_reference);
  tcase_add_test(tc, adam_in_gemm_epilogue_matches_reference);
  tcase_add_test(tc, gemm_mask_epilogue_runs_as_float8);
  tcase_add_test(tc, arena_splits_under_a_limit);
  tcase_add_test(tc, matmul_bias_relu_is_one_kernel);
  tcase_add_test(tc, pooling_keeps_its_indices_not_its_input);
  tcase_add_test(tc, sum_of_product_fuses);
  tcase_add_test(tc, diamond_fuses_without_cycle);
  tcase_add_test(tc, cycle_forming_join_is_refused);
  tcase_add_test(tc, row_kernel_stores_after_its_last_pass);
  tcase_add_test(tc, elementwise_rows_of_broadcasts_and_views);
  tcase_add_test(tc, movement_reads_fuse_their_producers);
  tcase_add_test(tc, postdom_joins_through_a_kernel_between);
  tcase_add_test(tc, slices_of_a_parameter_recomputed_in_an_epilogue);
  tcase_add_test(tc, index_arithmetic_fuses_into_its_gather);
  tcase_add_test(tc, concat_stored_by_its_producers);
  tcase_add_test(tc, mlp_step_matches_reference);
  tcase_add_loop_test(tc, split_updates_match_whole_updates, 0, 2);
  tcase_add_test(tc, plan_check_catches_corruption);
  tcase_add_test(tc, reads_see_the_value_before_the_update);
  tcase_add_test(tc, dump_after_fuse_lists_kernels);
  tcase_add_test(tc, emit_cl_writes_kernel_files);
  tcase_add_test(tc, cold_compile_builds_past_the_caches);
  tcase_add_test(tc, long_rows_reduce_by_work_group);
  tcase_add_test(tc, broadcast_producer_once_per_row);
  tcase_add_test(tc, small_work_groups_take_the_cpu_forms);
  tcase_add_test(tc, broadcast_producer_not_read_at_other_coordinates);
  tcase_add_test(tc, small_products_split_k_in_the_gpu_form);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(cl_fusion_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
