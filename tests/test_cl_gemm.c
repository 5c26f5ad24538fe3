/* test_cl_gemm.c — Check suite for graphc's GEMM (kernels/gemm.cl through
 * backends/opencl/cl_gemm.c): every transpose combination on odd shapes,
 * row pitches wider than the rows, nonzero offsets into A and B, a fused
 * bias + relu epilogue, several instances pasted into one program, the
 * batch dimension, and sentinels around C that catch out-of-bounds writes.
 * Results are compared with a naive double-precision loop.
 *
 * OpenCL objects are created inside each test, never in fixtures (Check
 * forks per test and OpenCL state does not survive fork). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/opencl/cl_device.h"
#include "backends/opencl/cl_gemm.h"
#include "ir/status.h"
#include "ir/strbuf.h"

#define SENTINEL 12345.0f

/* One GEMM case: C[b] = op(A[b]) op(B[b]) (+ bias, relu), C stored with
 * pitch ldc at c_off inside a buffer full of sentinels. */
typedef struct gemm_case {
  int64_t m, n, k;
  int ta, tb;
  int64_t lda_pad, ldb_pad, a_off, b_off; /* extra pitch, leading offset */
  int bias_relu;
  int64_t batch;        /* 0 or 1: one product */
  int a_bcast, b_bcast; /* batch stride 0 for that operand */
  int wm, wn;           /* the GPU form's tile override (0: chosen) */
  int ksplit;           /* the GPU form's K splits (0: chosen) */
  /* filled by case_prepare */
  int64_t lda, ldb, ldc, c_off, a_bstride, b_bstride, c_bstride;
  size_t a_len, b_len, c_len;
  float *a, *b, *bias, *c;
  char name[32], store[256], a_expr[64], b_expr[64];
} gemm_case;

static float frand(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (float)((*s >> 40) & 0xffffff) / (float)0x1000000 - 0.5f;
}

static void case_prepare(gemm_case *c, int index) {
  const int64_t batch = c->batch > 0 ? c->batch : 1;
  c->lda = (c->ta ? c->m : c->k) + c->lda_pad;
  c->ldb = (c->tb ? c->k : c->n) + c->ldb_pad;
  c->ldc = c->n + 3; /* a sentinel gap after every row of C */
  c->c_off = 5;
  const int64_t a_mat = (c->ta ? c->k : c->m) * c->lda, b_mat = (c->tb ? c->n : c->k) * c->ldb;
  c->a_bstride = c->a_bcast ? 0 : a_mat;
  c->b_bstride = c->b_bcast ? 0 : b_mat;
  c->c_bstride = c->m * c->ldc;
  c->a_len = (size_t)(c->a_off + (batch - 1) * c->a_bstride + a_mat);
  c->b_len = (size_t)(c->b_off + (batch - 1) * c->b_bstride + b_mat);
  c->c_len = (size_t)(c->c_off + batch * c->c_bstride + 64); /* sentinels after C */
  c->a = malloc(c->a_len * sizeof(float));
  c->b = malloc(c->b_len * sizeof(float));
  c->bias = malloc((size_t)c->n * sizeof(float));
  c->c = malloc(c->c_len * sizeof(float));
  ck_assert(c->a && c->b && c->bias && c->c);
  uint64_t seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(index + 1);
  for (size_t i = 0; i < c->a_len; i++) c->a[i] = frand(&seed);
  for (size_t i = 0; i < c->b_len; i++) c->b[i] = frand(&seed);
  for (int64_t j = 0; j < c->n; j++) c->bias[j] = frand(&seed);
  for (size_t i = 0; i < c->c_len; i++) c->c[i] = SENTINEL;
  snprintf(c->name, sizeof c->name, "gemm_%d", index);
  snprintf(c->a_expr, sizeof c->a_expr, "(A + %lld)", (long long)c->a_off);
  snprintf(c->b_expr, sizeof c->b_expr, "(B + %lld)", (long long)c->b_off);
  if (c->bias_relu)
    snprintf(c->store, sizeof c->store,
             "C[%lld + gemm_b * %lld + (i) * %lld + (j)] = fmax((v) + bias[j], 0.0f)",
             (long long)c->c_off, (long long)c->c_bstride, (long long)c->ldc);
  else
    snprintf(c->store, sizeof c->store, "C[%lld + gemm_b * %lld + (i) * %lld + (j)] = (v)",
             (long long)c->c_off, (long long)c->c_bstride, (long long)c->ldc);
}

static void case_free(gemm_case *c) {
  free(c->a);
  free(c->b);
  free(c->bias);
  free(c->c);
}

static cl_gemm_spec case_spec(const gemm_case *c, int gpu) {
  return (cl_gemm_spec){.name = c->name,
                        .gpu = gpu,
                        .wm = c->wm,
                        .wn = c->wn,
                        .m = c->m,
                        .n = c->n,
                        .k = c->k,
                        .trans_a = c->ta,
                        .trans_b = c->tb,
                        .lda = c->lda,
                        .ldb = c->ldb,
                        .params =
                            "__global const float *A, __global const float *B, "
                            "__global const float *bias, __global float *C, __global float *S",
                        .scratch = gpu ? "S" : NULL,
                        .ksplit = c->ksplit,
                        .a_expr = c->a_expr,
                        .b_expr = c->b_expr,
                        .store = c->store,
                        .batch = c->batch,
                        .a_batch_stride = c->a_bstride,
                        .b_batch_stride = c->b_bstride};
}

/* Compares c->c with the double-precision reference and the sentinels. */
static void case_check(const gemm_case *c) {
  const int64_t batch = c->batch > 0 ? c->batch : 1;
  char *written = calloc(c->c_len, 1);
  ck_assert_ptr_nonnull(written);
  for (int64_t bi = 0; bi < batch; bi++) {
    const float *a = c->a + c->a_off + bi * c->a_bstride;
    const float *b = c->b + c->b_off + bi * c->b_bstride;
    for (int64_t i = 0; i < c->m; i++)
      for (int64_t j = 0; j < c->n; j++) {
        double acc = 0, mag = 0;
        for (int64_t k = 0; k < c->k; k++) {
          const double x = c->ta ? a[k * c->lda + i] : a[i * c->lda + k];
          const double y = c->tb ? b[j * c->ldb + k] : b[k * c->ldb + j];
          acc += x * y;
          mag += fabs(x * y);
        }
        if (c->bias_relu) {
          acc += c->bias[j];
          mag += fabs(c->bias[j]);
          if (acc < 0) acc = 0;
        }
        const size_t at = (size_t)(c->c_off + bi * c->c_bstride + i * c->ldc + j);
        written[at] = 1;
        const double got = c->c[at];
        ck_assert_msg(fabs(got - acc) <= 1e-5 * mag + 1e-6,
                      "%s (%lldx%lldx%lld ta=%d tb=%d) batch %lld C[%lld][%lld] = %.7g, want %.7g",
                      c->name, (long long)c->m, (long long)c->n, (long long)c->k, c->ta, c->tb,
                      (long long)bi, (long long)i, (long long)j, got, acc);
      }
  }
  for (size_t i = 0; i < c->c_len; i++)
    if (!written[i])
      ck_assert_msg(c->c[i] == SENTINEL, "%s: write outside C at element %zu (%g)", c->name, i,
                    c->c[i]);
  free(written);
}

static cl_mem make_buffer(cl_dev *d, size_t n, float *host) {
  cl_int err;
  cl_mem m = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, n * sizeof(float),
                            host, &err);
  ck_assert_msg(err == CL_SUCCESS, "clCreateBuffer: %s", cl_error_name(err));
  return m;
}

/* Pastes every case into ONE program of one form (kernels/gemm.cl or
 * kernels/gemm_gpu.cl), runs each instance, checks each. */
static void run_cases_form(gemm_case *cases, int count, int gpu) {
  cl_dev *d = NULL;
  ck_assert_msg(cl_dev_open(NULL, &d) == GC_OK, "cl_dev_open: %s", gc_last_error());
  strbuf src;
  sb_init(&src);
  for (int i = 0; i < count; i++) {
    case_prepare(&cases[i], i);
    const cl_gemm_spec spec = case_spec(&cases[i], gpu);
    char *one = NULL;
    ck_assert_msg(cl_gemm_source(&spec, &one) == GC_OK, "cl_gemm_source: %s", gc_last_error());
    sb_append(&src, one);
    free(one);
  }
  char *text = sb_take(&src);
  ck_assert_ptr_nonnull(text);
  cl_program prog = NULL;
  ck_assert_msg(cl_build_program(d, text, "", &prog, NULL) == GC_OK, "build: %s", gc_last_error());
  free(text);
  for (int i = 0; i < count; i++) {
    gemm_case *c = &cases[i];
    const cl_gemm_spec spec = case_spec(c, gpu);
    cl_int err;
    cl_kernel k = clCreateKernel(prog, c->name, &err);
    ck_assert_msg(err == CL_SUCCESS, "clCreateKernel %s: %s", c->name, cl_error_name(err));
    /* the scratch of a split K: zeros (its counters) before the first launch */
    const size_t scratch = cl_gemm_scratch_bytes(&spec) / sizeof(float);
    float *zeros = calloc(scratch + 1, sizeof(float));
    ck_assert_ptr_nonnull(zeros);
    if (gpu && c->ksplit > 1) ck_assert_msg(scratch > 0, "%s: no split", c->name);
    float *sentinels = malloc(c->c_len * sizeof(float));
    ck_assert_ptr_nonnull(sentinels);
    memcpy(sentinels, c->c, c->c_len * sizeof(float));
    cl_mem bufs[5] = {make_buffer(d, c->a_len, c->a), make_buffer(d, c->b_len, c->b),
                      make_buffer(d, (size_t)c->n, c->bias), make_buffer(d, c->c_len, c->c),
                      make_buffer(d, scratch + 1, zeros)};
    for (cl_uint a = 0; a < 5; a++)
      ck_assert_int_eq(clSetKernelArg(k, a, sizeof(cl_mem), &bufs[a]), CL_SUCCESS);
    cl_uint dim;
    size_t global[3], local[3];
    cl_gemm_geometry(&spec, &dim, global, local);
    /* twice, C refilled with sentinels in between: a split K must leave
     * its counters ready for the next launch */
    for (int run = 0; run < 2; run++) {
      if (run)
        ck_assert_int_eq(clEnqueueWriteBuffer(d->queue, bufs[3], CL_TRUE, 0,
                                              c->c_len * sizeof(float), sentinels, 0, NULL, NULL),
                         CL_SUCCESS);
      err = clEnqueueNDRangeKernel(d->queue, k, dim, NULL, global, local, 0, NULL, NULL);
      ck_assert_msg(err == CL_SUCCESS, "clEnqueueNDRangeKernel: %s", cl_error_name(err));
      err = clEnqueueReadBuffer(d->queue, bufs[3], CL_TRUE, 0, c->c_len * sizeof(float), c->c, 0,
                                NULL, NULL);
      ck_assert_msg(err == CL_SUCCESS, "clEnqueueReadBuffer: %s", cl_error_name(err));
      case_check(c);
    }
    free(zeros);
    free(sentinels);
    for (int a = 0; a < 5; a++) clReleaseMemObject(bufs[a]);
    clReleaseKernel(k);
    case_free(c);
  }
  clReleaseProgram(prog);
  cl_dev_close(d);
}

/* Both forms run on any device (PoCL runs the GPU form's work-groups as
 * loops), so both are checked wherever the tests run. */
static void run_cases(gemm_case *cases, int count) {
  run_cases_form(cases, count, 0);
  run_cases_form(cases, count, 1);
}

/* GRAPHC_KERNEL_FORM=gpu: the long-labelled run (tests/CMakeLists.txt). */
static int gpu_forms_run(void) {
  const char *e = getenv("GRAPHC_KERNEL_FORM");
  return e && !strcmp(e, "gpu");
}

/* The odd shapes of one transpose combination, each with padded pitches,
 * offsets and (every other one) the bias + relu epilogue, in one program. */
static void run_transpose(int ta, int tb) {
  static const int64_t shapes[][3] = {{1, 1, 1},      {7, 13, 5},  {33, 17, 65},  {64, 784, 256},
                                      {130, 70, 129}, {5, 3, 300}, {200, 40, 600}};
  enum { N = sizeof shapes / sizeof shapes[0] };
  gemm_case cases[N];
  for (int i = 0; i < N; i++)
    cases[i] = (gemm_case){.m = shapes[i][0],
                           .n = shapes[i][1],
                           .k = shapes[i][2],
                           .ta = ta,
                           .tb = tb,
                           .lda_pad = i % 3 ? 3 + i : 0,
                           .ldb_pad = i % 2 ? 0 : 7,
                           .a_off = 11 * i + 1,
                           .b_off = 13 * i + 2,
                           .bias_relu = i % 2};
  /* PoCL takes about a minute to compile these 28 instances of the GPU
   * form, so the default suite checks that form on the other tests'
   * shapes (every transpose is among them) and the long one on these. */
  if (gpu_forms_run())
    run_cases_form(cases, N, 1);
  else
    run_cases_form(cases, N, 0);
}

START_TEST(test_nn) { run_transpose(0, 0); }
END_TEST
START_TEST(test_tn) { run_transpose(1, 0); }
END_TEST
START_TEST(test_nt) { run_transpose(0, 1); }
END_TEST
START_TEST(test_tt) { run_transpose(1, 1); }
END_TEST

/* The MLP training shapes at batch 64 (m, n, k), as the graph compiler
 * will emit them: forward, dW = X^T dY, dX = dY W^T. */
START_TEST(test_mlp_shapes) {
  gemm_case cases[] = {
      {.m = 64, .n = 256, .k = 784, .bias_relu = 1},
      {.m = 64, .n = 128, .k = 256, .bias_relu = 1},
      {.m = 64, .n = 10, .k = 128},
      {.m = 784, .n = 256, .k = 64, .ta = 1},
      {.m = 64, .n = 784, .k = 256, .tb = 1},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
}
END_TEST

/* Two instances with different epilogues over the same shape in one
 * program: the template must paste twice without redefinitions. */
START_TEST(test_two_instances) {
  gemm_case cases[] = {{.m = 19, .n = 23, .k = 17, .bias_relu = 1},
                       {.m = 19, .n = 23, .k = 17, .ta = 1, .a_off = 3}};
  run_cases(cases, 2);
}
END_TEST

/* Several K blocks (K > KC) and tiles that the row blocking splits. */
START_TEST(test_large) {
  gemm_case cases[] = {{.m = 257, .n = 131, .k = 700, .lda_pad = 16, .b_off = 1},
                       {.m = 200, .n = 33, .k = 513, .ta = 1, .tb = 1, .bias_relu = 1}};
  run_cases(cases, 2);
}
END_TEST

START_TEST(test_batch) {
  gemm_case cases[] = {
      {.m = 9, .n = 21, .k = 14, .batch = 3, .a_off = 2},
      {.m = 9, .n = 21, .k = 14, .batch = 4, .tb = 1, .b_bcast = 1},
      {.m = 13, .n = 5, .k = 30, .batch = 2, .ta = 1, .a_bcast = 1, .bias_relu = 1}};
  run_cases(cases, 3);
}
END_TEST

/* Bad specs are refused with a status; large shapes keep every NDRange
 * dimension below PoCL's 65535 recompile limit. No OpenCL needed. */
/* s instantiates, and the source holds both strings. */
static void source_has(const cl_gemm_spec *s, const char *want1, const char *want2) {
  char *src = NULL;
  ck_assert_int_eq(cl_gemm_source(s, &src), GC_OK);
  ck_assert_ptr_nonnull(strstr(src, want1));
  ck_assert_ptr_nonnull(strstr(src, want2));
  free(src);
}

START_TEST(test_spec_errors_and_geometry) {
  char *src = (char *)1;
  cl_gemm_spec s = {.name = "g",
                    .m = 4,
                    .n = 4,
                    .k = 4,
                    .lda = 4,
                    .ldb = 4,
                    .params = "__global float *p",
                    .a_expr = "p",
                    .b_expr = "p",
                    .store = "p[0] = (v)"};
  s.m = 0;
  ck_assert_int_eq(cl_gemm_source(&s, &src), GC_ERR_INVALID);
  ck_assert_ptr_null(src);
  s.m = 4;
  s.lda = 3;
  ck_assert_int_eq(cl_gemm_source(&s, &src), GC_ERR_INVALID);
  s.lda = 4;
  s.store = NULL;
  ck_assert_int_eq(cl_gemm_source(&s, &src), GC_ERR_INVALID);
  s.store = "p[0] = (v)";
  s.m = s.n = s.k = s.lda = s.ldb = 100000;
  ck_assert_int_eq(cl_gemm_source(&s, &src), GC_ERR_UNSUPPORTED);
  s.m = s.n = s.k = s.lda = s.ldb = 4;
  ck_assert_int_eq(cl_gemm_source(&s, &src), GC_OK);
  ck_assert_ptr_nonnull(strstr(src, "#undef GEMM_STORE"));
  free(src);
  /* an epilogue of several lines becomes a one-line statement macro */
  s.store = "p[0] = (v);\np[1] = (v)";
  source_has(&s, "#define GEMM_STORE(i, j, v) do { p[0] = (v); p[1] = (v); } while (0)\n",
             "#undef GEMM_STORE");
  s.store = "p[0] = (v)";

  /* implicit-GEMM hooks: a gather replaces B (no b_expr / ldb needed), but
   * not with trans_b; strides for A come in pairs; none with TT */
  s.b_expr = NULL;
  s.ldb = 0;
  ck_assert_int_eq(cl_gemm_source(&s, &src), GC_ERR_INVALID);
  s.b_gather = "p[(s) + (k) + (j) + (c0) + (c1)]";
  s.b_col0 = "(s) + (j)";
  s.kseg = 3;
  s.a_seg_stride = 16;
  s.group = 2;
  source_has(&s, "#define GEMM_B_GATHER(s, k, j, c0, c1)", "#undef GEMM_B_COL0");
  s.trans_b = 1;
  ck_assert_int_eq(cl_gemm_source(&s, &src), GC_ERR_INVALID);
  s.trans_a = 1;
  ck_assert_int_eq(cl_gemm_source(&s, &src), GC_ERR_INVALID);
  s.trans_a = s.trans_b = 0;
  s.a_si = 4;
  ck_assert_int_eq(cl_gemm_source(&s, &src), GC_ERR_INVALID);
  s.a_sk = 1;
  ck_assert_int_eq(cl_gemm_source(&s, &src), GC_OK);
  free(src);
  s.a_si = s.a_sk = 0;
  s.b_gather = s.b_col0 = NULL;
  s.kseg = s.a_seg_stride = 0;
  s.group = 0;
  s.b_expr = "p";
  s.ldb = 4;

  /* an A-side gather replaces a_expr / lda; it needs its row pointer and
   * takes neither trans_a nor a_si */
  s.a_expr = NULL;
  s.lda = 0;
  ck_assert_int_eq(cl_gemm_source(&s, &src), GC_ERR_INVALID);
  s.a_gather = "(r0)[ko]";
  ck_assert_int_eq(cl_gemm_source(&s, &src), GC_ERR_INVALID);
  s.a_row = "p + (s) + (i)";
  s.a_rowlive = "(i) > 0";
  s.a_koff = "(k)";
  source_has(&s, "#define GEMM_A_GATHER(s, k, i, r0, ko)", "#undef GEMM_A_ROWLIVE");
  s.trans_a = 1;
  ck_assert_int_eq(cl_gemm_source(&s, &src), GC_ERR_INVALID);
  s.trans_a = 0;
  s.a_si = s.a_sk = 1;
  ck_assert_int_eq(cl_gemm_source(&s, &src), GC_ERR_INVALID);
  s.a_si = s.a_sk = 0;
  s.a_gather = s.a_row = s.a_rowlive = s.a_koff = NULL;
  s.a_expr = "p";
  s.lda = 4;

  s.m = 12000;
  s.n = 12000;
  s.k = 16;
  s.lda = 16;
  s.ldb = 12000;
  cl_uint dim;
  size_t global[3], local[3];
  cl_gemm_geometry(&s, &dim, global, local);
  ck_assert_uint_ge(dim, 1);
  size_t total = 1;
  for (cl_uint i = 0; i < dim; i++) {
    ck_assert_uint_lt(global[i], 65535);
    ck_assert_uint_eq(local[i], 1);
    total *= global[i];
  }
  /* 63 row blocks of 192 x 750 strips of 16 */
  ck_assert_uint_ge(total, (size_t)63 * 750);
  ck_assert_uint_lt(total, (size_t)63 * 750 + global[1]);

  /* the GPU form: 16 x 16 work-groups, one per tile of C; a large C takes
   * 64 x 64 tiles, a small one smaller tiles, so that it still makes 256
   * work-groups where it can; overrides outside 1, 2, 4 are refused */
  s.gpu = 1;
  cl_gemm_geometry(&s, &dim, global, local);
  ck_assert_uint_eq(dim, 2);
  ck_assert_uint_eq(local[0], 16);
  ck_assert_uint_eq(local[1], 16);
  ck_assert_uint_eq(global[1], 16);
  ck_assert_uint_eq(global[0], (size_t)188 * 188 * 16); /* ceil(12000 / 64)^2 */
  s.m = 64;
  s.n = 256;
  s.k = 784;
  s.lda = 784;
  s.ldb = 256;
  cl_gemm_geometry(&s, &dim, global, local);
  ck_assert_uint_eq(global[0], (size_t)4 * 16 * 16); /* 16 x 16 tiles: 64 groups */
  s.m = 784;
  cl_gemm_geometry(&s, &dim, global, local);
  /* 64 x 64 would make 52 groups, 64 x 32 104, 32 x 32 200: 32 x 16, 400 */
  ck_assert_uint_eq(global[0], (size_t)25 * 16 * 16);
  source_has(&s, "#define GEMM_WM 2\n#define GEMM_WN 1\n", "#undef GEMM_WN");
  s.wm = 3;
  ck_assert_int_eq(cl_gemm_source(&s, &src), GC_ERR_INVALID);
  s.wm = 4;
  s.wn = 1;
  source_has(&s, "#define GEMM_WM 4\n#define GEMM_WN 1\n", "gemm_gpu.cl: a required");
  cl_gemm_geometry(&s, &dim, global, local);
  ck_assert_uint_eq(global[0], (size_t)13 * 16 * 16);
}
END_TEST

/* The GPU form with every register tile it can take, on edges in both
 * directions and a K tail (the CPU form runs them too). */
START_TEST(test_gpu_tiles) {
  static const int w[] = {1, 2, 4};
  gemm_case cases[9];
  for (int i = 0; i < 9; i++)
    cases[i] = (gemm_case){.m = 70 + i,
                           .n = 37 + 5 * i,
                           .k = 45 - i,
                           .ta = i % 2,
                           .tb = i / 4 % 2,
                           .a_off = i,
                           .bias_relu = i % 3 == 0,
                           .wm = w[i % 3],
                           .wn = w[i / 3]};
  run_cases(cases, 9);
}
END_TEST

/* The GPU form splitting K: chosen (a conv weight gradient's 9 x 32 C over
 * a K of 5,000; a batch of small products), forced (3 and 7 splits, so
 * the last split is short or empty; both transposes), with the epilogue
 * run once by the group that adds the partials up. */
START_TEST(test_gpu_split_k) {
  gemm_case cases[] = {
      {.m = 9, .n = 32, .k = 5000, .bias_relu = 1},
      {.m = 20, .n = 7, .k = 900, .batch = 3, .tb = 1},
      {.m = 33, .n = 17, .k = 100, .ksplit = 3, .ta = 1, .bias_relu = 1},
      {.m = 40, .n = 50, .k = 70, .ksplit = 7, .ta = 1, .tb = 1, .wm = 2},
  };
  run_cases(cases, 4);
}
END_TEST

static Suite *gemm_suite(void) {
  Suite *s = suite_create("cl_gemm");
  TCase *tc = tcase_create("gemm");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_spec_errors_and_geometry);
  tcase_add_test(tc, test_nn);
  tcase_add_test(tc, test_tn);
  tcase_add_test(tc, test_nt);
  tcase_add_test(tc, test_tt);
  tcase_add_test(tc, test_mlp_shapes);
  tcase_add_test(tc, test_two_instances);
  tcase_add_test(tc, test_large);
  tcase_add_test(tc, test_batch);
  /* PoCL compiles these GPU-form instances cold in about 40 s: the long
   * run (GRAPHC_KERNEL_FORM=gpu) has them; the default suite checks the
   * GPU form on the shapes above and split K through test_cl_fusion */
  if (gpu_forms_run()) {
    tcase_add_test(tc, test_gpu_tiles);
    tcase_add_test(tc, test_gpu_split_k);
  }
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(gemm_suite());
  srunner_run_all(sr, CK_NORMAL);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
