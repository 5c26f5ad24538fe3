/* cl_gemm.h — instantiates graphc's GEMM template (kernels/gemm.cl) for one
 * matrix product with compile-time shapes and a fused epilogue, and gives
 * the NDRange to launch it with. The graph compiler pastes many instances
 * (and other kernels) into one OpenCL program.
 *
 * Computes, for b in [0, batch), i in [0, m), j in [0, n):
 *   v = sum_k A[i][k] * B[k][j]  then runs the statement `store` with i, j,
 *   v (and gemm_b = b) substituted, e.g.
 *   "p1[8192 + (i)*256 + (j)] = fmax((v) + p0[j], 0.0f)".
 * trans_a = 0: A is [m, k] with row pitch lda; 1: A is stored [k, m].
 * trans_b = 0: B is [k, n] with row pitch ldb; 1: B is stored [n, k].
 * store is pasted as the body of the macro GEMM_STORE(i, j, v), so every
 * identifier i, j or v in it is the macro's argument: name nothing else so.
 * a_expr / b_expr are `__global const float *` expressions naming element
 * (0, 0) of A / B in batch 0, e.g. "(p1 + 4096)". params is the kernel's
 * parameter list text. All strings are copied into the source. */
#ifndef GC_CL_GEMM_H
#define GC_CL_GEMM_H

#include <stdint.h>

#include "backends/opencl/cl_device.h"
#include "ir/strbuf.h"

typedef struct cl_gemm_spec {
  const char *name; /* kernel name: a valid, program-unique C identifier */
  int64_t m, n, k;
  int trans_a, trans_b;
  int64_t lda, ldb; /* row pitch of A / B as stored, in elements */
  const char *params;
  const char *a_expr, *b_expr;
  const char *store;
  /* Optional (zero = default). batch: number of products (1); the batch
   * strides are in elements, 0 broadcasts that operand to every batch. */
  int64_t batch, a_batch_stride, b_batch_stride;
  /* Optional blocking override, for tuning (zero = chosen from the shape;
   * see kernels/gemm.cl): mr x nr register tile (nr 4, 8 or 16), mc rows of
   * C per work-item, kc K block, band row blocks walked together, pack 1 to
   * copy B's strip to private memory (the default), -1 to read it in place
   * (ignored when trans_b or n < nr). */
  int mr, nr, mc, kc, band, pack;
  /* Optional implicit-GEMM hooks (see kernels/gemm.cl; not with trans_a &&
   * trans_b). kseg > 1: C sums kseg products, each k long, A and B moving
   * on by a_seg_stride / b_seg_stride elements per segment. a_si, a_sk
   * (both nonzero, or both zero): A's element (i, k) is at i a_si + k a_sk
   * (trans_a and lda then only serve the checks' default). b_gather: an
   * expression for B's element (k, j) of segment s in batch gemm_b (b_expr
   * and ldb are then unused, trans_b must be 0); like store it is pasted as
   * a macro body, GEMM_B_GATHER(s, k, j, c0, c1), so identifiers s, k, j,
   * c0 and c1 in it are the macro's arguments; c0 / c1 are the values of
   * the optional int expressions b_col0 / b_col1 of segment s and column j
   * (macro bodies with the arguments s and j), computed once per column at
   * the start of each segment. */
  int64_t kseg, a_seg_stride, b_seg_stride, a_si, a_sk;
  const char *b_gather, *b_col0, *b_col1;
  /* Optional: a_gather, an expression for A's element (i, k) of segment s
   * in batch gemm_b (a_expr, lda and the a_* strides are then unused,
   * trans_a must be 0), pasted as GEMM_A_GATHER(s, k, i, r0, ko); r0 is the
   * value of a_row (required with a_gather), a `__global const float *`
   * expression with the arguments s and i, once per row of a register
   * tile; ko that of the optional int expression a_koff (arguments s and
   * k), once per k of a K block. a_rowlive (optional, arguments s and i):
   * 0 when A's row i is zero throughout segment s (see kernels/gemm.cl). */
  const char *a_gather, *a_row, *a_rowlive, *a_koff;
  /* Optional: when store is a plain store of v into row-contiguous memory,
   * an expression for a `__global float *` to C's element (i, j) (a macro
   * body with the arguments i and j, GEMM_C_PTR): full strips are then
   * stored with one vector store per row. */
  const char *c_ptr;
  /* Optional: the epilogue on eight results, pasted as the body of
   * GEMM_STORE8(i, j, v) with v a float8 holding C(i, j .. j + 7); used for
   * whole strips when the tile is 8 or 16 wide (kernels/gemm.cl). */
  const char *store8;
  /* Optional: tiles per work-item (0 or 1: one), for tiles too small to
   * pay for a work-group of their own. */
  int group;
  /* The form: 0 the CPU template (kernels/gemm.cl, local size 1), 1 the GPU
   * one (kernels/gemm_gpu.cl, 16x16 work-groups; cl_dev_cpu_forms says
   * which a device takes). wm, wn (1, 2 or 4; 0 = chosen from the shape):
   * the GPU form's results per work-item, a 16 wm x 16 wn tile of C per
   * work-group. The CPU blocking fields above are ignored by the GPU form
   * and wm, wn by the CPU one. */
  int gpu, wm, wn;
  /* GPU form, optional: scratch, a `__global float *` expression for the
   * scratch memory of a split K (kernels/gemm_gpu.cl; its first
   * cl_gemm_scratch_bytes must hold zeros before the first launch, and
   * the kernel leaves them so). NULL: K is never split. ksplit: the number
   * of splits (0 = chosen from the shape, 1 = none; a C of more than 128
   * tiles is never split). */
  const char *scratch;
  int ksplit;
} cl_gemm_spec;

/* Writes the instantiated kernel source (the #defines, the template text
 * from cl_embedded_source("gemm"), the #undefs) into a new malloc'd string
 * *out_src (the caller frees it; NULL on error). Errors:
 * GC_ERR_INVALID for a bad spec (sizes < 1, pitches too small, missing
 * strings), GC_ERR_UNSUPPORTED when an index would not fit in 32 bits,
 * GC_ERR_NOT_FOUND if the template is not embedded, GC_ERR_NOMEM. */
gc_status cl_gemm_source(const cl_gemm_spec *spec, char **out_src);

/* The scratch bytes spec's instance needs when given one (spec->scratch
 * itself is not read; 0 when it would not split K): its tile counters,
 * then its partial tiles. */
size_t cl_gemm_scratch_bytes(const cl_gemm_spec *spec);

/* The NDRange of that instance. CPU form: local size is always 1 (one
 * register tile per work-group, so PoCL never re-compiles for another
 * local size); global sizes stay below 65535 per dimension. GPU form: local
 * size 16 x 16, one work-group per tile of C along dimension 0. The global
 * offset must be zero. */
void cl_gemm_geometry(const cl_gemm_spec *spec, cl_uint *work_dim, size_t global[3],
                      size_t local[3]);

#endif
