/* test_cl_blas.c — Check suite for the GEMM selection: CLBlast as a launch
 * kind (backends/opencl/cl_blas.c), the own|clblast|auto policy
 * (cl_gemm_select.c) and auto's decisions on disk (cl_gemm_choice.c):
 * - the policy from gc_compile_options.gemm and $GRAPHC_GEMM, its errors;
 * - the MLP training step with CLBlast running its plain-store products
 *   (the three weight gradients) matches the reference interpreter and
 *   graphc's own GEMM; the profile names the CLBlast calls;
 * - forward products, batched, shared operand, every transpose, chained
 *   through the arena, 1 x 1: CLBlast vs reference vs own; one large
 *   enough for CLBlast's padded path, through the session's scratch
 *   buffer: CLBlast vs own;
 * - CLBlast writes C without reading it (beta 0): NaN there does not leak;
 * - auto's decision entries round-trip, are reused by later compiles, and
 *   corrupt or forged ones are removed and the shape timed again.
 * Timings are never asserted: only which path ran and the results.
 *
 * Devices are opened inside the tests (Check forks; OpenCL state does not
 * survive fork). Environment changes stay inside each test's process. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backend.h"
#include "backends/opencl/cl_blas.h"
#include "backends/opencl/cl_gemm_choice.h"
#include "backends/opencl/cl_gemm_select.h"
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

static gc_program *compile_with(gc_graph *g, gc_device *dev, gc_gemm_policy policy) {
  gc_compile_options o = {0};
  o.gemm = policy;
  gc_program *p = NULL;
  ck_assert_msg(gc_compile(g, dev, &o, &p) == GC_OK, "compile: %s", gc_last_error());
  return p;
}

static gc_program_stats stats_of(const gc_program *p) {
  gc_program_stats s;
  ck_assert_int_eq(gc_program_stats_get(p, &s), GC_OK);
  return s;
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

/* A fresh directory for the caches (program binaries and decisions) of
 * one test, which remove_tree deletes at its end. */
static void private_cache_dir(char *dir, size_t cap) {
  snprintf(dir, cap, "/tmp/graphc_test_blas_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  ck_assert_int_eq(setenv("GRAPHC_CACHE_DIR", dir, 1), 0);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void remove_tree(const char *dir) {
  ck_assert_int_eq(nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
}

/* Paths of the decision entries in dir, sorted; returns their count. */
static int choice_files(const char *dir, char paths[][512], int max) {
  DIR *dp = opendir(dir);
  ck_assert_ptr_nonnull(dp);
  int n = 0;
  for (struct dirent *e; (e = readdir(dp));) {
    const size_t len = strlen(e->d_name);
    if (strncmp(e->d_name, "gemm-", 5) || len < 7 || strcmp(e->d_name + len - 7, ".choice"))
      continue;
    ck_assert_int_lt(n, max);
    snprintf(paths[n++], 512, "%s/%s", dir, e->d_name);
  }
  closedir(dp);
  for (int i = 1; i < n; i++) /* insertion sort: a stable order between listings */
    for (int j = i; j > 0 && strcmp(paths[j - 1], paths[j]) > 0; j--) {
      char t[512];
      memcpy(t, paths[j], 512);
      memcpy(paths[j], paths[j - 1], 512);
      memcpy(paths[j - 1], t, 512);
    }
  return n;
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(fputs(text, f) >= 0, 1);
  ck_assert_int_eq(fclose(f), 0);
}

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  static char buf[4096];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  return buf;
}

/* ------------------------------------------------------------- policy */

START_TEST(policy_from_options_and_environment) {
  gc_gemm_policy p;
  unsetenv("GRAPHC_GEMM");
  ck_assert_int_eq(cl_gemm_policy(NULL, &p), GC_OK);
  ck_assert_int_eq(p, GC_GEMM_AUTO);
  const char *names[] = {"own", "CLBlast", "auto", ""};
  const gc_gemm_policy want[] = {GC_GEMM_OWN, GC_GEMM_CLBLAST, GC_GEMM_AUTO, GC_GEMM_AUTO};
  for (int i = 0; i < 4; i++) {
    ck_assert_int_eq(setenv("GRAPHC_GEMM", names[i], 1), 0);
    ck_assert_int_eq(cl_gemm_policy(NULL, &p), GC_OK);
    ck_assert_int_eq(p, want[i]);
  }
  /* An explicit option wins over the environment, even a bad one. */
  ck_assert_int_eq(setenv("GRAPHC_GEMM", "fastest", 1), 0);
  gc_compile_options o = {0};
  o.gemm = GC_GEMM_OWN;
  ck_assert_int_eq(cl_gemm_policy(&o, &p), GC_OK);
  ck_assert_int_eq(p, GC_GEMM_OWN);
  o.gemm = GC_GEMM_DEFAULT;
  ck_assert_int_eq(cl_gemm_policy(&o, &p), GC_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(gc_last_error(), "GRAPHC_GEMM=\"fastest\""));
  o.gemm = (gc_gemm_policy)42;
  ck_assert_int_eq(cl_gemm_policy(&o, &p), GC_ERR_INVALID);

  /* ... and through gc_compile: a clear error, no program. */
  gc_device *cl = open_cl();
  gc_graph *g = gc_graph_new();
  gc_value a = gc_input(g, "a", GC_F32, gc_shape2(5, 7));
  gc_value b = gc_input(g, "b", GC_F32, gc_shape2(7, 3));
  gc_output(g, gc_matmul(g, a, b), "c");
  gc_program *prog = NULL;
  ck_assert_int_eq(gc_compile(g, cl, NULL, &prog), GC_ERR_INVALID);
  ck_assert_ptr_null(prog);
  ck_assert_ptr_nonnull(strstr(gc_last_error(), "GRAPHC_GEMM"));
  unsetenv("GRAPHC_GEMM");
  char dir[64];
  private_cache_dir(dir, sizeof dir);
  if (!cl_blas_available()) {
    o.gemm = GC_GEMM_CLBLAST;
    ck_assert_int_eq(gc_compile(g, cl, &o, &prog), GC_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(gc_last_error(), "graphc was built without CLBlast"));
    /* auto is own, and times nothing */
    prog = compile_with(g, cl, GC_GEMM_AUTO);
    gc_program_stats s = stats_of(prog);
    ck_assert_int_eq(s.gemm_own, 1);
    ck_assert_int_eq(s.gemm_clblast + s.gemm_measured, 0);
    gc_program_free(prog);
  } else {
    prog = compile_with(g, cl, GC_GEMM_CLBLAST);
    gc_program_stats s = stats_of(prog);
    ck_assert_int_eq(s.gemm_clblast, 1);
    ck_assert_int_eq(s.gemm_own + s.gemm_measured, 0);
    ck_assert_int_eq(s.kernels, 0); /* the one product is a CLBlast call, not a kernel */
    ck_assert_int_eq(s.launches_per_run, 1);
    gc_program_free(prog);
  }
  prog = compile_with(g, cl, GC_GEMM_OWN);
  gc_program_stats s = stats_of(prog);
  ck_assert_int_eq(s.gemm_own, 1);
  ck_assert_int_eq(s.gemm_clblast + s.gemm_measured, 0);
  gc_program_free(prog);
  gc_graph_free(g);
  gc_device_free(cl);
  remove_tree(dir);
}
END_TEST

/* ---------------------------------------------------- MLP training step */

static const char *const mlp_params[6] = {"fc1.w", "fc1.b", "fc2.w", "fc2.b", "fc3.w", "fc3.b"};

static gc_graph *mlp_graph(void) {
  gc_graph *g = gc_graph_new();
  gc_graph_set_seed(g, 42);
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(64, 784));
  gc_value y = gc_input(g, "y", GC_I32, gc_shape1(64));
  gc_value h = gc_relu(g, gc_linear(g, x, 256, GC_HE, "fc1"));
  h = gc_relu(g, gc_linear(g, h, 128, GC_HE, "fc2"));
  gc_value logits = gc_linear(g, h, 10, GC_GLOROT, "fc3");
  gc_set_loss(g, gc_cross_entropy(g, logits, y));
  gc_adam adam = {.lr = 1e-3f};
  ck_assert_msg(gc_optimize_adam(g, &adam) == GC_OK, "%s", gc_last_error());
  for (int i = 0; i < 6; i++) {
    char name[64];
    snprintf(name, sizeof name, "grad.%s", mlp_params[i]);
    gc_output(g, gc_grad(g, gc_find(g, mlp_params[i])), name);
  }
  ck_assert_msg(gc_graph_status(g) == GC_OK, "%s", gc_graph_errmsg(g));
  return g;
}

typedef struct mlp_result {
  float loss[3];
  float *grads[6];
  float *params[6];
} mlp_result;

/* Three steps on fixed data; the loss of each, the gradients of the first,
 * the parameters after the last (so three Adam updates fed by the
 * gradients of whichever GEMM ran them). */
static void mlp_run(gc_program *p, const gc_graph *g, mlp_result *r, int profile) {
  enum { B = 64 };
  float *x = malloc(sizeof *x * B * 784);
  int32_t y[B];
  fill(x, B * 784, 11, 0, 1);
  for (int i = 0; i < B; i++) y[i] = (i * 7 + 3) % 10;
  gc_session *s;
  ck_assert_msg(gc_session_new(p, &s) == GC_OK, "%s", gc_last_error());
  for (int step = 0; step < 3; step++) {
    /* profiled from the second step: the first builds CLBlast's kernels,
     * host time the profile would charge to the first call */
    if (profile && step == 1) ck_assert_int_eq(gc_session_set_profiling(s, 1), GC_OK);
    ck_assert_int_eq(gc_session_set_input(s, "x", x, sizeof *x * B * 784), GC_OK);
    ck_assert_int_eq(gc_session_set_input(s, "y", y, sizeof y), GC_OK);
    ck_assert_msg(gc_session_run(s) == GC_OK, "%s", gc_last_error());
    ck_assert_int_eq(gc_session_get_output(s, "loss", &r->loss[step], sizeof(float)), GC_OK);
    for (int i = 0; i < 6 && step == 0; i++) {
      char name[64];
      snprintf(name, sizeof name, "grad.%s", mlp_params[i]);
      size_t bytes =
          sizeof(float) * (size_t)gc_shape_numel(gc_value_shape(g, gc_find(g, mlp_params[i])));
      r->grads[i] = malloc(bytes);
      ck_assert_int_eq(gc_session_get_output(s, name, r->grads[i], bytes), GC_OK);
    }
  }
  for (int i = 0; i < 6; i++) {
    size_t bytes =
        sizeof(float) * (size_t)gc_shape_numel(gc_value_shape(g, gc_find(g, mlp_params[i])));
    r->params[i] = malloc(bytes);
    ck_assert_int_eq(gc_session_get_param(s, mlp_params[i], r->params[i], bytes), GC_OK);
  }
  if (profile) {
    /* Every launch is in the profile, the CLBlast calls by name. */
    gc_kernel_profile prof[64];
    int n = 0, named = 0;
    ck_assert_int_eq(gc_session_profile(s, prof, 64, &n), GC_OK);
    ck_assert_int_eq(n, stats_of(p).launches_per_run);
    for (int i = 0; i < n; i++) {
      ck_assert_int_eq(prof[i].launches, 2);
      ck_assert(prof[i].seconds >= 0);
      if (!strstr(prof[i].name, "_clblast")) continue;
      named++;
      ck_assert_ptr_nonnull(strstr(prof[i].what, "CLBlast"));
      printf("  profile: %s %.1f us per step (%s)\n", prof[i].name, 1e6 * prof[i].seconds / 2,
             prof[i].what);
    }
    ck_assert_int_eq(named, stats_of(p).gemm_clblast);
  }
  gc_session_free(s);
  free(x);
}

static void mlp_compare(const mlp_result *got, const mlp_result *want, const gc_graph *g,
                        double tol, const char *what) {
  char label[128];
  for (int step = 0; step < 3; step++) {
    snprintf(label, sizeof label, "%s: loss of step %d", what, step + 1);
    near(&got->loss[step], &want->loss[step], 1, tol, label);
  }
  for (int i = 0; i < 6; i++) {
    const int64_t n = gc_shape_numel(gc_value_shape(g, gc_find(g, mlp_params[i])));
    snprintf(label, sizeof label, "%s: gradient of %s", what, mlp_params[i]);
    near(got->grads[i], want->grads[i], n, tol, label);
    snprintf(label, sizeof label, "%s: %s after 3 steps", what, mlp_params[i]);
    near(got->params[i], want->params[i], n, tol, label);
  }
}

static void mlp_free(mlp_result *r) {
  for (int i = 0; i < 6; i++) {
    free(r->grads[i]);
    free(r->params[i]);
  }
}

START_TEST(mlp_step_with_clblast_matches_reference_and_own) {
  if (!cl_blas_available()) {
    printf("graphc was built without CLBlast: nothing to compare\n");
    return;
  }
  char dir[64];
  private_cache_dir(dir, sizeof dir);
  gc_device *cl = open_cl(), *ref = open_ref();
  gc_graph *g = mlp_graph();
  /* The clblast program through the environment (the option's default),
   * the own one through the option. */
  ck_assert_int_eq(setenv("GRAPHC_GEMM", "clblast", 1), 0);
  gc_compile_options emit = {0};
  char emit_dir[80];
  snprintf(emit_dir, sizeof emit_dir, "%s/cl", dir);
  emit.emit_cl_dir = emit_dir;
  gc_program *pb = NULL;
  ck_assert_msg(gc_compile(g, cl, &emit, &pb) == GC_OK, "%s", gc_last_error());
  unsetenv("GRAPHC_GEMM");
  gc_program *po = compile_with(g, cl, GC_GEMM_OWN), *pr = compile_with(g, ref, GC_GEMM_DEFAULT);
  gc_program_stats sb = stats_of(pb), so = stats_of(po);
  printf("mlp step: own %d kernels, %d launches; clblast %d kernels, %d launches, %d CLBlast\n",
         so.kernels, so.launches_per_run, sb.kernels, sb.launches_per_run, sb.gemm_clblast);
  /* The three weight gradients are plain stores; the forward products
   * (bias, relu) and the data gradients (relu mask) keep their epilogues. */
  ck_assert_int_eq(sb.gemm_clblast, 3);
  ck_assert_int_eq(sb.gemm_own, 5);
  ck_assert_int_eq(so.gemm_clblast, 0);
  ck_assert_int_eq(so.gemm_own, 8);
  ck_assert_int_eq(sb.gemm_measured + so.gemm_measured, 0);
  ck_assert_int_eq(sb.launches_per_run, so.launches_per_run);
  ck_assert_int_eq(sb.kernels, so.kernels - 3);
  /* --emit-cl shows the calls: no kernel text, a comment naming them. */
  int calls = 0;
  for (int i = 0; i < sb.launches_per_run; i++) {
    char path[160];
    snprintf(path, sizeof path, "%s/k%d_clblast.cl", emit_dir, i);
    const char *text = read_text(path);
    if (!text) continue;
    calls++;
    ck_assert_ptr_nonnull(strstr(text, "CLBlastSgemm"));
    ck_assert_ptr_null(strstr(text, "__kernel"));
  }
  ck_assert_int_eq(calls, 3);

  mlp_result rb = {0}, ro = {0}, rr = {0};
  mlp_run(pb, g, &rb, 1);
  mlp_run(po, g, &ro, 0);
  mlp_run(pr, g, &rr, 0);
  ck_assert(rb.loss[2] < rb.loss[0]);
  mlp_compare(&rb, &rr, g, 1e-4, "clblast vs reference");
  mlp_compare(&rb, &ro, g, 1e-4, "clblast vs own");
  mlp_compare(&ro, &rr, g, 1e-4, "own vs reference");
  mlp_free(&rb);
  mlp_free(&ro);
  mlp_free(&rr);
  gc_program_free(pb);
  gc_program_free(po);
  gc_program_free(pr);
  gc_graph_free(g);
  gc_device_free(cl);
  gc_device_free(ref);
  remove_tree(dir);
}
END_TEST

/* ------------------------------------------ forward products, batched */

enum { NPROD = 9 };

/* Products that stay plain stores (each an output, or read by another
 * product), so every one is a CLBlast candidate:
 * - p0..p3: batched [3] A times batched B, every (trans_a, trans_b);
 * - p4: 2-D A shared by a batched B; p5: batched A times a shared B^T;
 * - t = c0 c1 lives in the arena and feeds p6 = t w (a product reading the
 *   arena at an offset, writing it at another);
 * - p7: [1, 33] x [33, 1];
 * - p8: p0's shape again (one decision serves both). */
static gc_graph *products_graph(int64_t *numel) {
  gc_graph *g = gc_graph_new();
  const int64_t B = 3, M = 5, K = 11, N = 7;
  int np = 0;
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      char an[8], bn[8], pn[8];
      snprintf(an, sizeof an, "a%d", 2 * ta + tb);
      snprintf(bn, sizeof bn, "b%d", 2 * ta + tb);
      snprintf(pn, sizeof pn, "p%d", np);
      gc_value a = gc_input(g, an, GC_F32, ta ? gc_shape3(B, K, M) : gc_shape3(B, M, K));
      gc_value b = gc_input(g, bn, GC_F32, tb ? gc_shape3(B, N, K) : gc_shape3(B, K, N));
      gc_output(g, ir_value(ir_matmul_t(g, a.id, b.id, ta, tb)), pn);
      numel[np++] = B * M * N;
    }
  gc_value s2 = gc_input(g, "s2", GC_F32, gc_shape2(M, K));
  gc_value sb = gc_input(g, "sb", GC_F32, gc_shape3(B, K, N));
  gc_output(g, gc_matmul(g, s2, sb), "p4");
  numel[np++] = B * M * N;
  gc_value sa = gc_input(g, "sa", GC_F32, gc_shape3(B, M, K));
  gc_value st = gc_input(g, "st", GC_F32, gc_shape2(N, K));
  gc_output(g, ir_value(ir_matmul_t(g, sa.id, st.id, 0, 1)), "p5");
  numel[np++] = B * M * N;
  gc_value c0 = gc_input(g, "c0", GC_F32, gc_shape2(13, 9));
  gc_value c1 = gc_input(g, "c1", GC_F32, gc_shape2(9, 17));
  gc_value w = gc_input(g, "w", GC_F32, gc_shape2(17, 6));
  gc_output(g, gc_matmul(g, gc_matmul(g, c0, c1), w), "p6");
  numel[np++] = 13 * 6;
  gc_value r = gc_input(g, "r", GC_F32, gc_shape2(1, 33));
  gc_value col = gc_input(g, "col", GC_F32, gc_shape2(33, 1));
  gc_output(g, gc_matmul(g, r, col), "p7");
  numel[np++] = 1;
  gc_value a8 = gc_input(g, "a8", GC_F32, gc_shape3(B, M, K));
  gc_value b8 = gc_input(g, "b8", GC_F32, gc_shape3(B, K, N));
  gc_output(g, gc_matmul(g, a8, b8), "p8");
  numel[np++] = B * M * N;
  ck_assert_int_eq(np, NPROD);
  ck_assert_msg(gc_graph_status(g) == GC_OK, "%s", gc_graph_errmsg(g));
  return g;
}

static const char *const product_inputs[] = {"a0", "b0", "a1",  "b1", "a2", "b2", "a3",
                                             "b3", "s2", "sb",  "sa", "st", "c0", "c1",
                                             "w",  "r",  "col", "a8", "b8"};
enum { NINPUTS = sizeof product_inputs / sizeof product_inputs[0] };

/* Runs p once on seeded inputs and reads outputs p0..p(nout-1). */
static void products_run(gc_program *p, const gc_graph *g, const char *const *inputs, int nin,
                         float **out, const int64_t *numel, int nout) {
  gc_session *s;
  ck_assert_msg(gc_session_new(p, &s) == GC_OK, "%s", gc_last_error());
  for (int i = 0; i < nin; i++) {
    const int64_t n = gc_shape_numel(gc_value_shape(g, gc_find(g, inputs[i])));
    float *x = malloc(sizeof *x * (size_t)n);
    fill(x, n, 100 + (uint64_t)i, -1, 1);
    ck_assert_int_eq(gc_session_set_input(s, inputs[i], x, sizeof *x * (size_t)n), GC_OK);
    free(x);
  }
  ck_assert_msg(gc_session_run(s) == GC_OK, "%s", gc_last_error());
  for (int i = 0; i < nout; i++) {
    char name[8];
    snprintf(name, sizeof name, "p%d", i);
    out[i] = malloc(sizeof(float) * (size_t)numel[i]);
    ck_assert_msg(gc_session_get_output(s, name, out[i], sizeof(float) * (size_t)numel[i]) == GC_OK,
                  "%s", gc_last_error());
  }
  gc_session_free(s);
}

START_TEST(batched_and_transposed_products_with_clblast) {
  if (!cl_blas_available()) {
    printf("graphc was built without CLBlast: nothing to compare\n");
    return;
  }
  char dir[64];
  private_cache_dir(dir, sizeof dir);
  gc_device *cl = open_cl(), *ref = open_ref();
  int64_t numel[NPROD];
  gc_graph *g = products_graph(numel);
  gc_program *pb = compile_with(g, cl, GC_GEMM_CLBLAST), *po = compile_with(g, cl, GC_GEMM_OWN),
             *pr = compile_with(g, ref, GC_GEMM_DEFAULT);
  const gc_program_stats sb = stats_of(pb);
  ck_assert_int_eq(sb.gemm_clblast, NPROD + 1); /* and the inner product of p6 */
  ck_assert_int_eq(sb.gemm_own, 0);
  ck_assert_int_eq(sb.kernels, 0);
  ck_assert_int_eq(stats_of(po).gemm_own, NPROD + 1);
  float *got[NPROD], *own[NPROD], *want[NPROD];
  products_run(pb, g, product_inputs, NINPUTS, got, numel, NPROD);
  products_run(po, g, product_inputs, NINPUTS, own, numel, NPROD);
  products_run(pr, g, product_inputs, NINPUTS, want, numel, NPROD);
  for (int i = 0; i < NPROD; i++) {
    char what[64];
    snprintf(what, sizeof what, "p%d clblast vs reference", i);
    near(got[i], want[i], numel[i], 1e-4, what);
    snprintf(what, sizeof what, "p%d clblast vs own", i);
    near(got[i], own[i], numel[i], 1e-4, what);
    free(got[i]);
    free(own[i]);
    free(want[i]);
  }
  gc_program_free(pb);
  gc_program_free(po);
  gc_program_free(pr);
  gc_graph_free(g);
  gc_device_free(cl);
  gc_device_free(ref);
  remove_tree(dir);
}
END_TEST

/* A product large enough that CLBlast pads it (on PoCL from about 1024^3;
 * the limit is per device), so a session runs it with its own scratch
 * buffer. Against graphc's kernel only: the reference would take seconds,
 * and test_cl_gemm checks graphc's kernel against a host loop. */
START_TEST(large_product_through_session_scratch) {
  if (!cl_blas_available()) return;
  char dir[64];
  private_cache_dir(dir, sizeof dir);
  gc_device *cl = open_cl();
  gc_graph *g = gc_graph_new();
  gc_value la = gc_input(g, "la", GC_F32, gc_shape2(1030, 1029));
  gc_value lb = gc_input(g, "lb", GC_F32, gc_shape2(1029, 1027));
  gc_output(g, gc_matmul(g, la, lb), "p0");
  gc_program *pb = compile_with(g, cl, GC_GEMM_CLBLAST), *po = compile_with(g, cl, GC_GEMM_OWN);
  cl_blas_gemm big;
  int gi = 0;
  while (gi < pb->fuse.ngroups && !cl_blas_candidate(pb, gi, &big)) gi++;
  ck_assert_int_lt(gi, pb->fuse.ngroups);
  size_t temp = 0;
  ck_assert_int_eq(cl_blas_temp_bytes(((cl_dev *)cl->impl)->queue, &big, &temp), GC_OK);
  printf("1030x1027x1029: CLBlast scratch %zu bytes%s\n", temp,
         temp ? "" : " (none on this device: the padded path is not covered here)");
  const char *const in[] = {"la", "lb"};
  const int64_t numel[] = {1030 * 1027};
  float *got, *own;
  products_run(pb, g, in, 2, &got, numel, 1);
  products_run(po, g, in, 2, &own, numel, 1);
  near(got, own, numel[0], 1e-4, "1030x1027x1029 clblast vs own");
  free(got);
  free(own);
  gc_program_free(pb);
  gc_program_free(po);
  gc_graph_free(g);
  gc_device_free(cl);
  remove_tree(dir);
}
END_TEST

/* ------------------------------------------- beta 0: C is never read */

/* C is filled with NaN before the call, at an offset, with one product on
 * CLBlast's direct kernel and one on its padded path (on PoCL): every
 * result must be finite (0 * NaN is NaN, so a read of C would show) and
 * match a host loop (every element of the small one, every 61st of the
 * large one). */
START_TEST(clblast_never_reads_c) {
  if (!cl_blas_available()) return;
  gc_device *dev = open_cl();
  cl_dev *d = dev->impl;
  const int64_t shapes[2][3] = {{7, 5, 3}, {1030, 1027, 1029}};
  for (int t = 0; t < 2; t++) {
    cl_blas_gemm g = {0};
    g.m = shapes[t][0];
    g.n = shapes[t][1];
    g.k = shapes[t][2];
    g.trans_b = 1;
    g.batch = 1;
    g.lda = g.k;
    g.ldb = g.k;
    g.ldc = g.n;
    g.a_off = 3;
    g.b_off = 5;
    g.c_off = 7;
    const size_t na = (size_t)(g.a_off + g.m * g.k), nb = (size_t)(g.b_off + g.n * g.k),
                 nc = (size_t)(g.c_off + g.m * g.n);
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = malloc(nc * sizeof *c);
    fill(a, (int64_t)na, 1, -1, 1);
    fill(b, (int64_t)nb, 2, -1, 1);
    for (size_t i = 0; i < nc; i++) c[i] = NAN;
    cl_int err;
    cl_mem ma = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, na * 4, a, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    cl_mem mb = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, nb * 4, b, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    cl_mem mc = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, nc * 4, c, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    size_t temp_bytes = 0;
    ck_assert_int_eq(cl_blas_temp_bytes(d->queue, &g, &temp_bytes), GC_OK);
    cl_mem temp = NULL;
    if (temp_bytes) {
      temp = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE, temp_bytes, NULL, &err);
      ck_assert_int_eq(err, CL_SUCCESS);
    }
    ck_assert_msg(cl_blas_enqueue(d->queue, &g, ma, mb, mc, temp, NULL) == GC_OK, "%s",
                  gc_last_error());
    ck_assert_int_eq(clEnqueueReadBuffer(d->queue, mc, CL_TRUE, 0, nc * 4, c, 0, NULL, NULL),
                     CL_SUCCESS);
    for (int64_t e = 0; e < g.m * g.n; e++) ck_assert(isfinite(c[g.c_off + e]));
    for (int64_t e = 0; e < g.m * g.n; e += t ? 61 : 1) {
      const int64_t i = e / g.n, j = e % g.n;
      double s = 0;
      for (int64_t k = 0; k < g.k; k++)
        s += (double)a[g.a_off + i * g.k + k] * (double)b[g.b_off + j * g.k + k];
      float want = (float)s, got = c[g.c_off + i * g.n + j];
      near(&got, &want, 1, 1e-4, t ? "padded path" : "direct kernel");
    }
    for (int64_t i = 0; i < g.c_off; i++) ck_assert(isnan(c[i])); /* before C: untouched */
    printf("beta 0, %lldx%lldx%lld: scratch %zu bytes, C never read\n", (long long)g.m,
           (long long)g.n, (long long)g.k, temp_bytes);
    clReleaseMemObject(ma);
    clReleaseMemObject(mb);
    clReleaseMemObject(mc);
    if (temp) clReleaseMemObject(temp);
    free(a);
    free(b);
    free(c);
  }
  /* A bad call is an error that names the call and CLBlast's status. */
  cl_blas_gemm bad = {.m = 4, .n = 4, .k = 4, .batch = 1, .lda = 2, .ldb = 4, .ldc = 4};
  cl_int err;
  cl_mem m = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE, 64 * 4, NULL, &err);
  ck_assert_int_eq(err, CL_SUCCESS);
  ck_assert_int_eq(cl_blas_enqueue(d->queue, &bad, m, m, m, NULL, NULL), GC_ERR_OPENCL);
  ck_assert_ptr_nonnull(strstr(gc_last_error(), "CLBlastSgemm failed: CLBlastInvalidLeadDimA"));
  clReleaseMemObject(m);
  ck_assert_str_eq(cl_blas_status_name(-9999), "CLBlastStatus(-9999)");
  gc_device_free(dev);
}
END_TEST

/* ------------------------------------------------- auto's decisions */

/* Four products, three distinct shapes (one shape twice). */
static gc_graph *auto_graph(void) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(6, 10));
  gc_value w1 = gc_input(g, "w1", GC_F32, gc_shape2(10, 12));
  gc_value w2 = gc_input(g, "w2", GC_F32, gc_shape2(12, 4));
  gc_value x2 = gc_input(g, "x2", GC_F32, gc_shape2(6, 10));
  gc_output(g, gc_matmul(g, gc_matmul(g, x, w1), w2), "y");
  gc_output(g, gc_matmul(g, x2, w1), "y2");
  gc_output(g, ir_value(ir_matmul_t(g, x.id, x2.id, 1, 0)), "xtx");
  ck_assert_msg(gc_graph_status(g) == GC_OK, "%s", gc_graph_errmsg(g));
  return g;
}

static gc_program_stats compile_auto(gc_graph *g, gc_device *cl) {
  gc_program *p = compile_with(g, cl, GC_GEMM_AUTO);
  gc_program_stats s = stats_of(p);
  ck_assert_int_eq(s.gemm_own + s.gemm_clblast, 4);
  gc_program_free(p);
  return s;
}

START_TEST(auto_decisions_persist_and_corrupt_ones_are_ignored) {
  char dir[64], paths[8][512];
  private_cache_dir(dir, sizeof dir);
  gc_device *cl = open_cl();
  gc_graph *g = auto_graph();
  gc_program_stats s = compile_auto(g, cl);
  if (!cl_blas_available()) { /* auto is own: nothing timed, nothing stored */
    ck_assert_int_eq(s.gemm_measured, 0);
    ck_assert_int_eq(choice_files(dir, paths, 8), 0);
    gc_graph_free(g);
    gc_device_free(cl);
    remove_tree(dir);
    return;
  }
  ck_assert_int_eq(s.gemm_measured, 3);
  ck_assert_int_eq(choice_files(dir, paths, 8), 3);
  printf("auto: %d own, %d clblast\n", s.gemm_own, s.gemm_clblast);
  for (int i = 0; i < 3; i++) {
    const char *text = read_text(paths[i]);
    ck_assert_ptr_nonnull(text);
    printf("  %s:\n%s", paths[i], text);
  }
  /* A later compile reuses every decision. */
  gc_program_stats again = compile_auto(g, cl);
  ck_assert_int_eq(again.gemm_measured, 0);
  ck_assert_int_eq(again.gemm_clblast, s.gemm_clblast);

  /* Corrupt each entry a different way: a changed digit (checksum), a
   * truncation, garbage. Each is removed and its shape timed again. */
  char *text = read_text(paths[0]);
  char *digit = strstr(text, "own_seconds ") + strlen("own_seconds ");
  *digit = *digit == '9' ? '1' : (char)(*digit + 1);
  write_text(paths[0], text);
  text = read_text(paths[1]);
  text[strlen(text) / 2] = 0;
  write_text(paths[1], text);
  write_text(paths[2],
             "\x7f"
             "ELF not a decision\n");
  s = compile_auto(g, cl);
  ck_assert_int_eq(s.gemm_measured, 3);
  ck_assert_int_eq(choice_files(dir, paths, 8), 3);
  ck_assert_int_eq(compile_auto(g, cl).gemm_measured, 0);

  /* An entry forged with a valid checksum but a pick its times do not
   * support (CLBlast picked though slower), or times that are not
   * positive, is not trusted either. */
  for (int forge = 0; forge < 2; forge++) {
    text = read_text(paths[0]);
    char *body_end = strstr(text, "own_seconds ");
    ck_assert_ptr_nonnull(body_end);
    char forged[1024];
    snprintf(forged, sizeof forged, "%.*s%s", (int)(body_end - text), text,
             forge ? "own_seconds -0.5\nclblast_seconds -1\npick own\n"
                   : "own_seconds 1e-06\nclblast_seconds 2e-06\npick clblast\n");
    const size_t len = strlen(forged);
    snprintf(forged + len, sizeof forged - len, "check %016llx\n",
             (unsigned long long)cl_cache_hash_bytes(0, forged, len));
    write_text(paths[0], forged);
    s = compile_auto(g, cl);
    ck_assert_int_eq(s.gemm_measured, 1);
    ck_assert_ptr_null(strstr(read_text(paths[0]), forged + (body_end - text)));
  }
  /* With the cache off every compile times its shapes (once each). */
  ck_assert_int_eq(setenv("GRAPHC_CACHE_DIR", "off", 1), 0);
  ck_assert_int_eq(compile_auto(g, cl).gemm_measured, 3);
  gc_graph_free(g);
  gc_device_free(cl);
  remove_tree(dir);
}
END_TEST

/* The entry functions directly: a round trip, another key's entry, a
 * different shape under the right key, a file too large. */
START_TEST(choice_entries_round_trip) {
  char dir[64];
  private_cache_dir(dir, sizeof dir);
  cl_blas_gemm g = {.m = 64, .n = 256, .k = 784, .batch = 1, .lda = 784, .ldb = 256, .ldc = 256};
  cl_gemm_choice c = {.own_seconds = 2.5e-5, .clblast_seconds = 1.25e-5, .clblast = 1}, r;
  const uint64_t key = 0x0123456789abcdefULL;
  ck_assert_int_eq(cl_gemm_choice_load(key, &g, &r), 0); /* none yet */
  cl_gemm_choice_store(key, &g, &c);
  memset(&r, 0, sizeof r);
  ck_assert_int_eq(cl_gemm_choice_load(key, &g, &r), 1);
  ck_assert(r.own_seconds == c.own_seconds && r.clblast_seconds == c.clblast_seconds);
  ck_assert_int_eq(r.clblast, 1);
  /* A CLBlast failure is remembered as -1 and picks own. */
  cl_gemm_choice failed = {.own_seconds = 3e-5, .clblast_seconds = -1, .clblast = 0};
  cl_gemm_choice_store(key, &g, &failed);
  ck_assert_int_eq(cl_gemm_choice_load(key, &g, &r), 1);
  ck_assert_int_eq(r.clblast, 0);
  ck_assert(r.clblast_seconds == -1);
  /* Inconsistent choices are never written. */
  cl_gemm_choice lie = {.own_seconds = 1e-5, .clblast_seconds = 2e-5, .clblast = 1};
  cl_gemm_choice_store(key + 1, &g, &lie);
  ck_assert_int_eq(cl_gemm_choice_load(key + 1, &g, &r), 0);

  strbuf a, b;
  sb_init(&a);
  sb_init(&b);
  ck_assert_int_eq(cl_gemm_choice_path(key, &a), 0);
  ck_assert_int_eq(cl_gemm_choice_path(key + 2, &b), 0);
  /* Another key's file under this key's name: rejected and removed. */
  char *text = strdup(read_text(sb_str(&a)));
  write_text(sb_str(&b), text);
  ck_assert_int_eq(cl_gemm_choice_load(key + 2, &g, &r), 0);
  ck_assert_int_eq(access(sb_str(&b), F_OK), -1);
  /* The right key for another shape: rejected and removed. */
  cl_blas_gemm other = g;
  other.trans_a = 1;
  ck_assert_int_eq(cl_gemm_choice_load(key, &other, &r), 0);
  ck_assert_int_eq(access(sb_str(&a), F_OK), -1);
  /* A valid entry followed by junk is not valid; nor is a huge file. */
  char junk[2048];
  snprintf(junk, sizeof junk, "%sjunk\n", text);
  write_text(sb_str(&a), junk);
  ck_assert_int_eq(cl_gemm_choice_load(key, &g, &r), 0);
  memset(junk, 'x', sizeof junk - 1);
  junk[sizeof junk - 1] = 0;
  write_text(sb_str(&a), junk);
  ck_assert_int_eq(cl_gemm_choice_load(key, &g, &r), 0);
  ck_assert_int_eq(access(sb_str(&a), F_OK), -1);
  free(text);
  sb_free(&a);
  sb_free(&b);
  /* Caching off: nothing stored, nothing found. */
  ck_assert_int_eq(setenv("GRAPHC_CACHE_DIR", "off", 1), 0);
  strbuf none;
  sb_init(&none);
  ck_assert_int_eq(cl_gemm_choice_path(key, &none), -1);
  sb_free(&none);
  cl_gemm_choice_store(key, &g, &c);
  ck_assert_int_eq(cl_gemm_choice_load(key, &g, &r), 0);
  remove_tree(dir);
}
END_TEST

static Suite *blas_suite(void) {
  Suite *s = suite_create("cl_blas");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, policy_from_options_and_environment);
  tcase_add_test(tc, choice_entries_round_trip);
  tcase_add_test(tc, clblast_never_reads_c);
  tcase_add_test(tc, batched_and_transposed_products_with_clblast);
  tcase_add_test(tc, large_product_through_session_scratch);
  tcase_add_test(tc, mlp_step_with_clblast_matches_reference_and_own);
  tcase_add_test(tc, auto_decisions_persist_and_corrupt_ones_are_ignored);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(blas_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
