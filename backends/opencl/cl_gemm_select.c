/* cl_gemm_select.c — the GEMM policy (see cl_gemm_select.h): own, clblast,
 * or auto, which times graphc's kernel against CLBlast on the exact shape
 * of each candidate product at compile time. */
#include "backends/opencl/cl_gemm_select.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "backends/opencl/cl_gemm.h"
#include "ir/status.h"

/* Timed batches per implementation, and the wall time one batch aims at:
 * long enough that clock and launch jitter stay small against it, short
 * enough that timing a shape costs milliseconds, not seconds. */
#define PROBE_BATCHES 5
#define PROBE_BATCH_SECONDS 2e-3
#define PROBE_MAX_CALLS 64

gc_status cl_gemm_policy(const gc_compile_options *opt, gc_gemm_policy *out) {
  gc_gemm_policy p = opt ? opt->gemm : GC_GEMM_DEFAULT;
  if (p == GC_GEMM_DEFAULT) {
    const char *env = getenv("GRAPHC_GEMM");
    if (!env || !*env || !strcasecmp(env, "auto"))
      p = GC_GEMM_AUTO;
    else if (!strcasecmp(env, "own"))
      p = GC_GEMM_OWN;
    else if (!strcasecmp(env, "clblast"))
      p = GC_GEMM_CLBLAST;
    else
      return gc_fail(GC_ERR_INVALID, "GRAPHC_GEMM=\"%s\": expected own, clblast or auto", env);
  }
  if (p != GC_GEMM_OWN && p != GC_GEMM_CLBLAST && p != GC_GEMM_AUTO)
    return gc_fail(GC_ERR_INVALID, "compile options: unknown GEMM policy %d", (int)p);
  *out = p;
  return GC_OK;
}

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* graphc's kernel for g as emit_matmul (cl_codegen.c) instantiates it for
 * a group with no epilogue on d: the same spec and form, the store a plain
 * one. */
static cl_gemm_spec probe_spec(const cl_dev *d, const cl_blas_gemm *g, char *store, size_t n) {
  snprintf(store, n, "C[gemm_b * %lld + (i) * %lld + (j)] = (v)", (long long)(g->m * g->n),
           (long long)g->n);
  cl_gemm_spec s = {0};
  s.name = "gc_gemm_probe";
  s.m = g->m;
  s.n = g->n;
  s.k = g->k;
  s.trans_a = g->trans_a;
  s.trans_b = g->trans_b;
  s.lda = g->lda;
  s.ldb = g->ldb;
  s.batch = g->batch;
  s.a_batch_stride = g->a_stride;
  s.b_batch_stride = g->b_stride;
  /* S: the scratch of a split K in the GPU form (unused otherwise) */
  s.params =
      "__global const float *A, __global const float *B, __global float *C, "
      "__global float *S";
  s.a_expr = "A";
  s.b_expr = "B";
  s.store = store;
  s.gpu = !cl_dev_cpu_forms(d);
  s.scratch = "S";
  return s;
}

static gc_status probe_source(const cl_dev *d, const cl_blas_gemm *g, char **src) {
  char store[128];
  const cl_gemm_spec s = probe_spec(d, g, store, sizeof store);
  return cl_gemm_source(&s, src);
}

/* Scratch state of one timing: operands at offset 0, a queue of its own
 * (so a session's queued work on the device's queue is neither waited for
 * nor timed). */
typedef struct probe {
  cl_dev *d;
  const cl_blas_gemm *g;
  cl_command_queue q;
  cl_mem a, b, c, temp, scratch;
  cl_program program;
  cl_kernel kernel;
  cl_uint dim;
  size_t global[3], local[3];
} probe;

/* Releasing with commands still queued is allowed (OpenCL defers it). */
static void probe_release(probe *pr) {
  if (pr->kernel) clReleaseKernel(pr->kernel);
  if (pr->program) clReleaseProgram(pr->program);
  cl_mem m[] = {pr->a, pr->b, pr->c, pr->temp, pr->scratch};
  for (int i = 0; i < 5; i++)
    if (m[i]) clReleaseMemObject(m[i]);
  if (pr->q) clReleaseCommandQueue(pr->q);
}

static gc_status probe_buffer(probe *pr, int64_t elems, float value, cl_mem *out) {
  cl_int err;
  const size_t bytes = (size_t)elems * sizeof(float);
  *out = clCreateBuffer(pr->d->ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
  gc_status st = cl_check(err, "clCreateBuffer");
  /* Defined values: garbage could hold denormals or NaN, which some
   * devices process at another speed. */
  if (!st)
    st = cl_check(clEnqueueFillBuffer(pr->q, *out, &value, sizeof value, 0, bytes, 0, NULL, NULL),
                  "clEnqueueFillBuffer");
  return st;
}

static gc_status probe_open(probe *pr, cl_dev *d, const cl_blas_gemm *g, const char *src) {
  memset(pr, 0, sizeof *pr);
  pr->d = d;
  pr->g = g;
  cl_int err;
  pr->q = clCreateCommandQueue(d->ctx, d->device, 0, &err);
  gc_status st = cl_check(err, "clCreateCommandQueue");
  const int64_t batch = g->batch > 1 ? g->batch : 1;
  const int64_t a_len = (g->trans_a ? g->k : g->m) * g->lda + (batch - 1) * g->a_stride;
  const int64_t b_len = (g->trans_b ? g->n : g->k) * g->ldb + (batch - 1) * g->b_stride;
  const int64_t c_len = batch * g->m * g->ldc;
  if (!st) st = probe_buffer(pr, a_len, 0.5f, &pr->a);
  if (!st) st = probe_buffer(pr, b_len, 0.25f, &pr->b);
  if (!st) st = probe_buffer(pr, c_len, 0.0f, &pr->c);
  /* The same build options as the program's (cl_backend.c), so the timed
   * binary is the one a compile would build. */
  if (!st) st = cl_build_program(d, src, "-cl-std=CL1.2 -w", &pr->program, NULL);
  if (!st) {
    pr->kernel = clCreateKernel(pr->program, "gc_gemm_probe", &err);
    st = cl_check(err, "clCreateKernel");
  }
  char store[128];
  const cl_gemm_spec s = probe_spec(d, g, store, sizeof store);
  /* zeros: a split K's tile counters (one float when there is none) */
  const int64_t scratch = (int64_t)(cl_gemm_scratch_bytes(&s) / sizeof(float));
  if (!st) st = probe_buffer(pr, scratch > 0 ? scratch : 1, 0.0f, &pr->scratch);
  cl_mem args[] = {pr->a, pr->b, pr->c, pr->scratch};
  for (cl_uint i = 0; i < 4 && !st; i++)
    st = cl_check(clSetKernelArg(pr->kernel, i, sizeof(cl_mem), &args[i]), "clSetKernelArg");
  if (!st) cl_gemm_geometry(&s, &pr->dim, pr->global, pr->local);
  return st;
}

/* calls calls of one implementation, queued, then waited for. */
static gc_status probe_run(probe *pr, int blas, int calls) {
  gc_status st = GC_OK;
  for (int i = 0; i < calls && !st; i++)
    st = blas ? cl_blas_enqueue(pr->q, pr->g, pr->a, pr->b, pr->c, pr->temp, NULL)
              : cl_check(clEnqueueNDRangeKernel(pr->q, pr->kernel, pr->dim, NULL, pr->global,
                                                pr->local, 0, NULL, NULL),
                         "clEnqueueNDRangeKernel");
  gc_status fin = cl_check(clFinish(pr->q), "clFinish");
  return st ? st : fin;
}

static int cmp_double(const void *x, const void *y) {
  const double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

/* How many calls make one timed batch of an implementation: its first call
 * compiles (PoCL's work-group function, CLBlast's program), the second
 * says how long one takes. */
static gc_status probe_warm(probe *pr, int blas, int *calls) {
  gc_status st = probe_run(pr, blas, 1);
  const double t0 = now_seconds();
  if (!st) st = probe_run(pr, blas, 1);
  const double one = now_seconds() - t0;
  int n = one > 0 ? (int)(PROBE_BATCH_SECONDS / one) : PROBE_MAX_CALLS;
  *calls = n < 1 ? 1 : n > PROBE_MAX_CALLS ? PROBE_MAX_CALLS : n;
  return st;
}

static double median(double *t, int n) {
  qsort(t, (size_t)n, sizeof t[0], cmp_double);
  return t[n / 2];
}

gc_status cl_gemm_measure(cl_dev *d, const cl_blas_gemm *g, cl_gemm_choice *out) {
  memset(out, 0, sizeof *out);
  out->clblast_seconds = -1;
  char *src = NULL;
  gc_status st = probe_source(d, g, &src);
  if (st) return st;
  probe pr;
  st = probe_open(&pr, d, g, src);
  free(src);
  int own_calls = 1, blas_calls = 1;
  if (!st) st = probe_warm(&pr, 0, &own_calls);
  /* CLBlast failing (a shape or device it does not handle) is an answer,
   * not an error: graphc's kernel runs the shape. It gets what a session
   * gives it: a scratch buffer of its own. */
  gc_status bst = st ? st : cl_blas_available() ? GC_OK : GC_ERR_UNSUPPORTED;
  size_t temp = 0;
  if (!bst) bst = cl_blas_temp_bytes(pr.q, g, &temp);
  if (!bst && temp) {
    cl_int err;
    pr.temp = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE, temp, NULL, &err);
    bst = cl_check(err, "clCreateBuffer");
  }
  if (!bst) bst = probe_warm(&pr, 1, &blas_calls);
  /* The two alternate batch by batch, so that a change in the load of a
   * shared machine falls on both rather than on whichever ran then. */
  double own[PROBE_BATCHES], blas[PROBE_BATCHES];
  for (int r = 0; r < PROBE_BATCHES && !st; r++) {
    double t0 = now_seconds();
    st = probe_run(&pr, 0, own_calls);
    own[r] = (now_seconds() - t0) / own_calls;
    if (bst) continue;
    t0 = now_seconds();
    bst = probe_run(&pr, 1, blas_calls);
    blas[r] = (now_seconds() - t0) / blas_calls;
  }
  if (!st) {
    out->own_seconds = median(own, PROBE_BATCHES);
    if (!bst) out->clblast_seconds = median(blas, PROBE_BATCHES);
    if (bst) gc_clear_error();
  }
  out->clblast = out->clblast_seconds > 0 && out->clblast_seconds < out->own_seconds;
  probe_release(&pr);
  return st;
}

gc_status cl_gemm_decide(cl_dev *d, const cl_blas_gemm *g, cl_gemm_choice *out, int *measured) {
  *measured = 0;
  char *src = NULL;
  gc_status st = probe_source(d, g, &src);
  if (st) return st;
  const uint64_t key = cl_gemm_choice_key(d, g, src);
  free(src);
  if (cl_gemm_choice_load(key, g, out)) return GC_OK;
  if ((st = cl_gemm_measure(d, g, out))) return st;
  *measured = 1;
  cl_gemm_choice_store(key, g, out);
  return GC_OK;
}

void cl_gemm_selection_free(cl_gemm_selection *s) {
  if (!s) return;
  free(s->use_clblast);
  memset(s, 0, sizeof *s);
}

static int same_gemm(const cl_blas_gemm *x, const cl_blas_gemm *y) {
  return x->m == y->m && x->n == y->n && x->k == y->k && x->trans_a == y->trans_a &&
         x->trans_b == y->trans_b && x->batch == y->batch && x->lda == y->lda && x->ldb == y->ldb &&
         x->a_stride == y->a_stride && x->b_stride == y->b_stride;
}

gc_status cl_gemm_select(const gc_program *p, cl_dev *d, gc_gemm_policy policy,
                         cl_gemm_selection *out) {
  memset(out, 0, sizeof *out);
  if (policy == GC_GEMM_CLBLAST && !cl_blas_available())
    return gc_fail(GC_ERR_UNSUPPORTED,
                   "GEMM policy clblast (GRAPHC_GEMM or gc_compile_options.gemm): graphc was "
                   "built without CLBlast");
  if (policy == GC_GEMM_AUTO && !cl_blas_available()) policy = GC_GEMM_OWN;
  const int ng = p->fuse.ngroups;
  /* Shapes decided in this compile: a network repeats its shapes, and the
   * cache directory may be off. */
  cl_blas_gemm *seen = NULL;
  uint8_t *seen_pick = NULL;
  int nseen = 0;
  gc_status st = GC_OK;
  for (int gi = 0; gi < ng && !st; gi++) {
    const fuse_group *gr = &p->fuse.groups[gi];
    if (gr->kind != FUSE_COMPLEX || p->g->nodes[gr->root].op != IR_OP_MATMUL) continue;
    cl_blas_gemm g;
    int use = 0;
    if (policy != GC_GEMM_OWN && cl_blas_candidate(p, gi, &g)) {
      use = policy == GC_GEMM_CLBLAST;
      if (policy == GC_GEMM_AUTO) {
        int k = 0;
        while (k < nseen && !same_gemm(&seen[k], &g)) k++;
        if (k == nseen) {
          if (!seen &&
              (!(seen = malloc(sizeof *seen * (size_t)ng)) || !(seen_pick = malloc((size_t)ng)))) {
            st = gc_fail(GC_ERR_NOMEM, "GEMM selection: out of memory");
            break;
          }
          cl_gemm_choice c;
          int measured = 0;
          if ((st = cl_gemm_decide(d, &g, &c, &measured))) break;
          out->measured += measured;
          seen[nseen] = g;
          seen_pick[nseen++] = (uint8_t)c.clblast;
        }
        use = seen_pick[k];
      }
    }
    if (use && !out->use_clblast && !(out->use_clblast = calloc((size_t)ng, 1))) {
      st = gc_fail(GC_ERR_NOMEM, "GEMM selection: out of memory");
      break;
    }
    if (use) out->use_clblast[gi] = 1;
    out->clblast += use;
    out->own += !use;
  }
  free(seen);
  free(seen_pick);
  if (st) cl_gemm_selection_free(out);
  return st;
}
