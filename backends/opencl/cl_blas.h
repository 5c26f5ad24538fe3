/* cl_blas.h — the CLBlast launch kind: a matrix product of the launch list
 * that calls CLBlast's C API (CLBlastSgemm, or CLBlastSgemmStridedBatched
 * for batched products) on the session's buffers instead of launching a
 * graphc kernel. Which products run this way is decided by
 * cl_gemm_select.h; this file only describes, emits and enqueues them.
 *
 * Only a product whose result is stored as it is can be handed over:
 * CLBlast computes C = op(A) op(B) and knows nothing of graphc's fused
 * epilogues (bias, activation, relu mask, optimizer update).
 *
 * Without CLBlast at build time everything here still compiles: the
 * candidates are found, and enqueueing fails with GC_ERR_UNSUPPORTED. */
#ifndef GC_CL_BLAS_H
#define GC_CL_BLAS_H

#include <stdbool.h>
#include <stdint.h>

#include "backends/backend.h"
#include "backends/opencl/cl_device.h"

struct cg_ctx;
struct cl_launch;

/* C[b] = op(A[b]) op(B[b]) for b < batch, all row-major f32, in elements:
 * A is [m, k] with row pitch lda, or stored [k, m] when trans_a; B is
 * [k, n] with pitch ldb, or stored [n, k] when trans_b; C is [m, n] with
 * pitch ldc. Batch b starts *_stride elements after batch b - 1 (0: the
 * operand is shared by every batch). */
typedef struct cl_blas_gemm {
  int trans_a, trans_b;
  int64_t m, n, k, batch;
  int64_t lda, ldb, ldc;
  int64_t a_stride, b_stride, c_stride;
  /* Where the operands live, set by cl_blas_emit: positions in the
   * launch's args (buffer indices) and element offsets in those buffers. */
  int a_arg, b_arg, c_arg;
  int64_t a_off, b_off, c_off;
} cl_blas_gemm;

/* 1 when the library was built with CLBlast, else 0. */
int cl_blas_available(void);
/* "CLBlast 1.5.3", or "none" without CLBlast (part of cache keys). */
const char *cl_blas_version(void);

/* Whether group gi of p can run as a CLBlast call: a FUSE_COMPLEX group
 * whose only node is an f32 matmul, stored (so nothing is fused before or
 * after the product). When it can, the shape fields of *out are filled and
 * the operand fields zeroed. */
bool cl_blas_candidate(const gc_program *p, int gi, cl_blas_gemm *out);

/* Codegen of a candidate group (cl_codegen.c): makes L a CLBlast launch
 * (L->blas, malloc'd, owned by the launch list; L->name gets a "_clblast"
 * suffix) whose buffers are registered like a kernel's (cg_param), and
 * appends a comment describing the call to text (the program source and
 * --emit-cl show it). GC_ERR_INTERNAL if gi is not a candidate. */
gc_status cl_blas_emit(struct cg_ctx *G, int gi, struct cl_launch *L, strbuf *text);

/* Bytes of the scratch buffer CLBlast's GEMM needs for g (its offsets
 * included) on queue q, 0 when it needs none or g is batched. A session
 * allocates one such buffer, so that a step allocates nothing. */
gc_status cl_blas_temp_bytes(cl_command_queue q, const cl_blas_gemm *g, size_t *bytes);

/* Enqueues g on q, A, B and C in buffers a, b and c at g's offsets, and
 * returns without waiting. temp: NULL (CLBlast allocates its own) or a
 * buffer of at least cl_blas_temp_bytes bytes, not used by anything that
 * may overlap this call. ev (may be NULL) receives the event of the last
 * kernel CLBlast enqueues. A CLBlast error returns GC_ERR_OPENCL naming
 * the call and the status, e.g. "CLBlastSgemm failed:
 * CLBlastInvalidLeadDimA (-1016)"; GC_ERR_UNSUPPORTED without CLBlast. */
gc_status cl_blas_enqueue(cl_command_queue q, const cl_blas_gemm *g, cl_mem a, cl_mem b, cl_mem c,
                          cl_mem temp, cl_event *ev);

/* "CLBlastInvalidLeadDimA" etc.; "CLBlastStatus(<n>)" for unknown codes
 * (a static buffer per thread). OpenCL codes shared with CLBlast get
 * OpenCL's names. */
const char *cl_blas_status_name(int status);

#endif
