/* bench_gemm.c — GFLOP/s of graphc's GEMM kernel (kernels/gemm.cl) against
 * CLBlast on the same OpenCL device and, for reference, OpenBLAS on the host
 * in the same process: square sizes and the MLP training shapes at batch 64.
 *
 * Each figure is the median of several timed batches after a warm-up; a
 * batch is a run of queued launches closed by one clFinish (so launch
 * overhead counts as it does in a compiled graph, ~2 us per launch). Run
 * on an idle machine: the figures are shared-CPU sensitive.
 *
 * The last columns are GRAPHC_GEMM=auto's view of each shape: the
 * microseconds per product its compile-time timing measures for graphc's
 * kernel and for CLBlast (backends/opencl/cl_gemm_select.c, timed afresh
 * here, not read from the decision cache) and which it would pick.
 *
 *   bench_gemm [reps]      GRAPHC_DEVICE picks the device as usual. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/opencl/cl_device.h"
#include "backends/opencl/cl_gemm.h"
#include "backends/opencl/cl_gemm_select.h"
#include "ir/status.h"
#include "ir/strbuf.h"

/* The graphc library links CLBlast when CMake finds it; the header tells us
 * here, since the library's definition of GRAPHC_HAVE_CLBLAST is private. */
#if defined(__has_include)
#if __has_include(<clblast_c.h>)
#include <clblast_c.h>
#define BENCH_HAVE_CLBLAST 1
#endif
#endif
#ifdef GRAPHC_HAVE_OPENBLAS
#include <cblas.h>

#define BENCH_NAME "bench_gemm"
#include "bench_util.h"
#endif

typedef struct shape {
  const char *label;
  int64_t m, n, k;
  int ta, tb;
} shape;

static const shape shapes[] = {
    {"128^3", 128, 128, 128, 0, 0},
    {"256^3", 256, 256, 256, 0, 0},
    {"512^3", 512, 512, 512, 0, 0},
    {"1024^3", 1024, 1024, 1024, 0, 0},
    {"fwd 64x784x256", 64, 256, 784, 0, 0}, /* labels are M x K x N */
    {"fwd 64x256x128", 64, 128, 256, 0, 0},
    {"fwd 64x128x10", 64, 10, 128, 0, 0},
    {"dW 784x64x256 (A^T)", 784, 256, 64, 1, 0},
    {"dX 64x256x784 (B^T)", 64, 784, 256, 0, 1},
};
enum { NSHAPES = sizeof shapes / sizeof shapes[0] };

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Launches per timed batch: about 50 ms of work at 100 GFLOP/s. */
static int batch_size(const shape *s) {
  const double flop = 2.0 * (double)s->m * (double)s->n * (double)s->k;
  int n = (int)(5e9 / flop);
  return n < 1 ? 1 : n > 2000 ? 2000 : n;
}

typedef int (*run_fn)(void *ctx, int launches); /* 0 on success */

/* Median seconds per launch over reps batches, after one warm-up batch;
 * negative on failure. */
static double time_median(run_fn fn, void *ctx, int launches, int reps) {
  double t[64];
  if (reps > 64) reps = 64;
  if (fn(ctx, 1)) return -1;
  for (int r = 0; r < reps; r++) {
    const double t0 = now();
    if (fn(ctx, launches)) return -1;
    t[r] = (now() - t0) / launches;
  }
  qsort(t, (size_t)reps, sizeof t[0], cmp_double);
  return t[reps / 2];
}

typedef struct ocl_run {
  cl_dev *d;
  cl_kernel kernel;
  cl_uint dim;
  size_t global[3], local[3];
  const shape *s;
  cl_mem a, b, c;
} ocl_run;

static int run_graphc(void *p, int launches) {
  ocl_run *r = p;
  for (int i = 0; i < launches; i++)
    if (cl_check(clEnqueueNDRangeKernel(r->d->queue, r->kernel, r->dim, NULL, r->global, r->local,
                                        0, NULL, NULL),
                 "clEnqueueNDRangeKernel"))
      return 1;
  return cl_check(clFinish(r->d->queue), "clFinish") != GC_OK;
}

#ifdef BENCH_HAVE_CLBLAST
static int run_clblast(void *p, int launches) {
  ocl_run *r = p;
  const shape *s = r->s;
  for (int i = 0; i < launches; i++) {
    CLBlastStatusCode st = CLBlastSgemm(
        CLBlastLayoutRowMajor, s->ta ? CLBlastTransposeYes : CLBlastTransposeNo,
        s->tb ? CLBlastTransposeYes : CLBlastTransposeNo, (size_t)s->m, (size_t)s->n, (size_t)s->k,
        1.0f, r->a, 0, (size_t)(s->ta ? s->m : s->k), r->b, 0, (size_t)(s->tb ? s->k : s->n), 0.0f,
        r->c, 0, (size_t)s->n, &r->d->queue, NULL);
    if (st != CLBlastSuccess) {
      fprintf(stderr, "CLBlastSgemm: status %d\n", (int)st);
      return 1;
    }
  }
  return cl_check(clFinish(r->d->queue), "clFinish") != GC_OK;
}
#endif

#ifdef GRAPHC_HAVE_OPENBLAS
typedef struct host_run {
  const shape *s;
  const float *a, *b;
  float *c;
} host_run;

static int run_openblas(void *p, int launches) {
  host_run *r = p;
  const shape *s = r->s;
  for (int i = 0; i < launches; i++)
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans,
                (int)s->m, (int)s->n, (int)s->k, 1.0f, r->a, (int)(s->ta ? s->m : s->k), r->b,
                (int)(s->tb ? s->k : s->n), 0.0f, r->c, (int)s->n);
  return 0;
}
#endif

/* The device's GEMM form (kernels/gemm.cl or gemm_gpu.cl), as a compile
 * for it would pick. */
static int gpu_form;

static cl_gemm_spec spec_of(const shape *s, int index, char *name, char *store) {
  sprintf(name, "bench_gemm_%d", index);
  sprintf(store, "C[(i) * %lld + (j)] = (v)", (long long)s->n);
  return (cl_gemm_spec){.name = name,
                        .m = s->m,
                        .n = s->n,
                        .k = s->k,
                        .trans_a = s->ta,
                        .trans_b = s->tb,
                        .lda = s->ta ? s->m : s->k,
                        .ldb = s->tb ? s->k : s->n,
                        .params =
                            "__global const float *A, __global const float *B, "
                            "__global float *C",
                        .a_expr = "A",
                        .b_expr = "B",
                        .store = store,
                        .gpu = gpu_form};
}

static void print_figure(double seconds, const shape *s) {
  if (seconds > 0)
    printf(" %9.1f", 2.0 * (double)s->m * (double)s->n * (double)s->k / seconds * 1e-9);
  else
    printf(" %9s", "-");
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 7;
  if (reps < 1) reps = 7;
  cl_dev *d = NULL;
  if (cl_dev_open(NULL, &d)) {
    fprintf(stderr, "bench_gemm: %s\n", gc_last_error());
    return 1;
  }
  gpu_form = !cl_dev_cpu_forms(d);
  printf("device: %s (GEMM form: %s)\n", d->info.name, gpu_form ? "gpu" : "cpu");

  /* Every instance in one program, as the graph compiler emits them. */
  char names[NSHAPES][32], stores[NSHAPES][64];
  strbuf src;
  sb_init(&src);
  for (int i = 0; i < NSHAPES; i++) {
    const cl_gemm_spec spec = spec_of(&shapes[i], i, names[i], stores[i]);
    char *one = NULL;
    if (cl_gemm_source(&spec, &one)) {
      fprintf(stderr, "bench_gemm: %s\n", gc_last_error());
      return 1;
    }
    sb_append(&src, one);
    free(one);
  }
  char *text = sb_take(&src);
  cl_program prog = NULL;
  const double t0 = now();
  if (!text || cl_build_program(d, text, "", &prog, NULL)) {
    fprintf(stderr, "bench_gemm: %s\n", text ? gc_last_error() : "out of memory");
    return 1;
  }
  free(text);
  printf("program build: %.2f s\n", now() - t0);
  printf("%-22s %9s %9s %9s   (GFLOP/s, median of %d) | auto: %9s %9s  pick\n", "shape (MxKxN)",
         "graphc", "clblast", "openblas", reps, "own us", "clblast us");

  for (int i = 0; i < NSHAPES; i++) {
    const shape *s = &shapes[i];
    const size_t na = (size_t)(s->m * s->k), nb = (size_t)(s->k * s->n), nc = (size_t)(s->m * s->n);
    float *ha = malloc(na * sizeof(float)), *hb = malloc(nb * sizeof(float)),
          *hc = malloc(nc * sizeof(float));
    if (!ha || !hb || !hc) return 1;
    for (size_t j = 0; j < na; j++) ha[j] = (float)(j % 17) * 0.01f - 0.08f;
    for (size_t j = 0; j < nb; j++) hb[j] = (float)(j % 13) * 0.01f - 0.06f;

    ocl_run r = {.d = d, .s = s};
    cl_int err;
    r.a = clCreateBuffer(d->ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, na * sizeof(float), ha,
                         &err);
    if (cl_check(err, "clCreateBuffer")) goto fail;
    r.b = clCreateBuffer(d->ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, nb * sizeof(float), hb,
                         &err);
    if (cl_check(err, "clCreateBuffer")) goto fail;
    r.c = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE, nc * sizeof(float), NULL, &err);
    if (cl_check(err, "clCreateBuffer")) goto fail;
    r.kernel = clCreateKernel(prog, names[i], &err);
    if (cl_check(err, "clCreateKernel")) goto fail;
    for (cl_uint a = 0; a < 3; a++) {
      cl_mem m = a == 0 ? r.a : a == 1 ? r.b : r.c;
      if (cl_check(clSetKernelArg(r.kernel, a, sizeof m, &m), "clSetKernelArg")) goto fail;
    }
    char name[32], store[64];
    const cl_gemm_spec spec = spec_of(s, i, name, store);
    cl_gemm_geometry(&spec, &r.dim, r.global, r.local);

    const int launches = batch_size(s);
    printf("%-22s", s->label);
    print_figure(time_median(run_graphc, &r, launches, reps), s);
#ifdef BENCH_HAVE_CLBLAST
    print_figure(time_median(run_clblast, &r, launches, reps), s);
#else
    print_figure(-1, s);
#endif
#ifdef GRAPHC_HAVE_OPENBLAS
    host_run h = {s, ha, hb, hc};
    print_figure(time_median(run_openblas, &h, launches, reps), s);
#else
    print_figure(-1, s);
#endif
    const cl_blas_gemm g = {.m = s->m,
                            .n = s->n,
                            .k = s->k,
                            .trans_a = s->ta,
                            .trans_b = s->tb,
                            .batch = 1,
                            .lda = s->ta ? s->m : s->k,
                            .ldb = s->tb ? s->k : s->n,
                            .ldc = s->n};
    cl_gemm_choice c;
    if (cl_gemm_measure(d, &g, &c)) goto fail;
    printf("   | auto: %9.1f", 1e6 * c.own_seconds);
    if (c.clblast_seconds > 0)
      printf(" %10.1f", 1e6 * c.clblast_seconds);
    else
      printf(" %10s", "-");
    printf("  %s\n", c.clblast ? "clblast" : "own");
    fflush(stdout);
    clReleaseKernel(r.kernel);
    clReleaseMemObject(r.a);
    clReleaseMemObject(r.b);
    clReleaseMemObject(r.c);
    free(ha);
    free(hb);
    free(hc);
    continue;
  fail:
    fprintf(stderr, "bench_gemm: %s\n", gc_last_error());
    return 1;
  }
  clReleaseProgram(prog);
  cl_dev_close(d);
  return 0;
}
