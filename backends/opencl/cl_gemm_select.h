/* cl_gemm_select.h — which GEMM runs each matrix product of a program:
 * graphc's own kernel (kernels/gemm.cl, where any epilogue is fused) or a
 * CLBlast call (cl_blas.h), by the policy of gc_gemm_policy. GC_GEMM_AUTO
 * times both on each candidate's exact shape at compile time, on scratch
 * buffers and a queue of its own, and keeps the decision on disk
 * (cl_gemm_choice.h). */
#ifndef GC_CL_GEMM_SELECT_H
#define GC_CL_GEMM_SELECT_H

#include <stdint.h>

#include "backends/opencl/cl_blas.h"
#include "backends/opencl/cl_gemm_choice.h"

typedef struct cl_gemm_selection {
  uint8_t *use_clblast; /* per fuse group (malloc'd), or NULL when none does */
  int own, clblast;     /* matmul groups by implementation */
  int measured;         /* distinct shapes timed in this selection */
} cl_gemm_selection;

/* The policy opt asks for: opt->gemm, or for GC_GEMM_DEFAULT (also when opt
 * is NULL) $GRAPHC_GEMM ("own", "clblast", "auto", any case; unset or empty
 * is auto). An unknown value is GC_ERR_INVALID naming it. */
gc_status cl_gemm_policy(const gc_compile_options *opt, gc_gemm_policy *out);

/* Chooses for every matmul group of p. GC_GEMM_CLBLAST without CLBlast is
 * GC_ERR_UNSUPPORTED ("graphc was built without CLBlast"); GC_GEMM_AUTO
 * without it is GC_GEMM_OWN. Errors while timing graphc's kernel are
 * returned (its build would fail the compile anyway); CLBlast failing on a
 * shape only makes graphc's kernel the choice. */
gc_status cl_gemm_select(const gc_program *p, cl_dev *d, gc_gemm_policy policy,
                         cl_gemm_selection *out);
void cl_gemm_selection_free(cl_gemm_selection *s);

/* GC_GEMM_AUTO's decision for g on d: from the cache directory when a valid
 * entry exists (*measured = 0), else timed and stored (*measured = 1). */
gc_status cl_gemm_decide(cl_dev *d, const cl_blas_gemm *g, cl_gemm_choice *out, int *measured);

/* Times graphc's kernel and CLBlast on g's shape: a warm-up call each (the
 * first call compiles), then the median over a few batches of queued calls
 * closed by one clFinish, so that per-call overhead counts as it does in a
 * step. clblast_seconds is -1 when CLBlast fails (or is absent). */
gc_status cl_gemm_measure(cl_dev *d, const cl_blas_gemm *g, cl_gemm_choice *out);

#endif
