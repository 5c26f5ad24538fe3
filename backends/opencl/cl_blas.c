/* cl_blas.c — the CLBlast launch kind (see cl_blas.h): which fused groups
 * CLBlast can run, the launch-list entry and its comment in the program
 * source, and the checked calls into CLBlast's C API. */
#include "backends/opencl/cl_blas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/opencl/cl_emit.h"
#include "ir/status.h"

#ifdef GRAPHC_HAVE_CLBLAST
#include <clblast_c.h>
#endif

int cl_blas_available(void) {
#ifdef GRAPHC_HAVE_CLBLAST
  return 1;
#else
  return 0;
#endif
}

const char *cl_blas_version(void) {
#ifdef GRAPHC_HAVE_CLBLAST
#define CL_BLAS_STR2(x) #x
#define CL_BLAS_STR(x) CL_BLAS_STR2(x)
  return "CLBlast " CL_BLAS_STR(CLBLAST_VERSION_MAJOR) "." CL_BLAS_STR(
      CLBLAST_VERSION_MINOR) "." CL_BLAS_STR(CLBLAST_VERSION_PATCH);
#else
  return "none";
#endif
}

bool cl_blas_candidate(const gc_program *p, int gi, cl_blas_gemm *out) {
  if (gi < 0 || gi >= p->fuse.ngroups) return false;
  const fuse_group *gr = &p->fuse.groups[gi];
  if (gr->kind != FUSE_COMPLEX || gr->nnodes != 1) return false;
  const ir_graph *g = p->g;
  const ir_node *mm = &g->nodes[gr->root];
  if (mm->op != IR_OP_MATMUL || mm->dtype != GC_F32 || !p->fuse.materialized[gr->root])
    return false;
  const ir_node *a = &g->nodes[mm->in[0]], *b = &g->nodes[mm->in[1]];
  const int nd = mm->shape.ndim, an = a->shape.ndim, bn = b->shape.ndim;
  if (a->dtype != GC_F32 || b->dtype != GC_F32 || nd < 2 || an < 2 || bn < 2) return false;
  cl_blas_gemm G = {0};
  G.trans_a = mm->attr.trans_a != 0;
  G.trans_b = mm->attr.trans_b != 0;
  G.m = mm->shape.dim[nd - 2];
  G.n = mm->shape.dim[nd - 1];
  G.k = G.trans_a ? a->shape.dim[an - 2] : a->shape.dim[an - 1];
  if (G.m < 1 || G.n < 1 || G.k < 1) return false;
  G.batch = gc_shape_numel(mm->shape) / (G.m * G.n);
  /* The layout emit_matmul (cl_codegen.c) assumes: dense operands, the
   * batch axes equal or one operand 2-D (shared). */
  G.lda = a->shape.dim[an - 1];
  G.ldb = b->shape.dim[bn - 1];
  G.ldc = G.n;
  G.a_stride = an > 2 ? a->shape.dim[an - 2] * a->shape.dim[an - 1] : 0;
  G.b_stride = bn > 2 ? b->shape.dim[bn - 2] * b->shape.dim[bn - 1] : 0;
  G.c_stride = G.m * G.n;
  if (G.batch == 1) G.a_stride = G.b_stride = G.c_stride = 0;
  *out = G;
  return true;
}

gc_status cl_blas_emit(cg_ctx *G, int gi, cl_launch *L, strbuf *text) {
  cl_blas_gemm b;
  if (!cl_blas_candidate(G->p, gi, &b))
    return gc_fail(GC_ERR_INTERNAL, "codegen: group %d cannot run as a CLBlast call", gi);
  const fuse_group *gr = &G->p->fuse.groups[gi];
  const ir_node *mm = &G->g->nodes[gr->root];
  G->nused = 0; /* this launch's own buffer list, as emit_group starts one */
  G->overflow = false;
  b.a_arg = cg_param(G, mm->in[0]);
  b.b_arg = cg_param(G, mm->in[1]);
  b.c_arg = cg_param(G, gr->root);
  b.a_off = cg_elem_offset(G, mm->in[0]);
  b.b_off = cg_elem_offset(G, mm->in[1]);
  b.c_off = cg_elem_offset(G, gr->root);
  if (!(L->blas = malloc(sizeof *L->blas))) return gc_fail(GC_ERR_NOMEM, "codegen: out of memory");
  *L->blas = b;
  const size_t len = strlen(L->name);
  snprintf(L->name + len, sizeof L->name - len, "_clblast");
  L->work_dim = 0; /* not an NDRange */
  sb_appendf(text,
             "/* %s: group %d, %%%d matmul%s%s%s, runs as %s (row-major): C = %s * %s, m %lld "
             "n %lld k %lld, batch %lld; A a%d + %lld (ld %lld, stride %lld), B a%d + %lld (ld "
             "%lld, stride %lld), C a%d + %lld (ld %lld, stride %lld) */\n\n",
             L->name, gi, gr->root, mm->name ? " \"" : "", mm->name ? mm->name : "",
             mm->name ? "\"" : "", b.batch > 1 ? "CLBlastSgemmStridedBatched" : "CLBlastSgemm",
             b.trans_a ? "A^T" : "A", b.trans_b ? "B^T" : "B", (long long)b.m, (long long)b.n,
             (long long)b.k, (long long)b.batch, b.a_arg, (long long)b.a_off, (long long)b.lda,
             (long long)b.a_stride, b.b_arg, (long long)b.b_off, (long long)b.ldb,
             (long long)b.b_stride, b.c_arg, (long long)b.c_off, (long long)b.ldc,
             (long long)b.c_stride);
  return text->oom ? gc_fail(GC_ERR_NOMEM, "codegen: out of memory") : GC_OK;
}

const char *cl_blas_status_name(int status) {
#ifdef GRAPHC_HAVE_CLBLAST
#define S(x) \
  case x:    \
    return #x;
  switch ((CLBlastStatusCode)status) {
    S(CLBlastSuccess)
    S(CLBlastOpenCLCompilerNotAvailable)
    S(CLBlastTempBufferAllocFailure)
    S(CLBlastOpenCLOutOfResources)
    S(CLBlastOpenCLOutOfHostMemory)
    S(CLBlastOpenCLBuildProgramFailure)
    S(CLBlastInvalidValue)
    S(CLBlastInvalidCommandQueue)
    S(CLBlastInvalidMemObject)
    S(CLBlastInvalidBinary)
    S(CLBlastInvalidBuildOptions)
    S(CLBlastInvalidProgram)
    S(CLBlastInvalidProgramExecutable)
    S(CLBlastInvalidKernelName)
    S(CLBlastInvalidKernelDefinition)
    S(CLBlastInvalidKernel)
    S(CLBlastInvalidArgIndex)
    S(CLBlastInvalidArgValue)
    S(CLBlastInvalidArgSize)
    S(CLBlastInvalidKernelArgs)
    S(CLBlastInvalidLocalNumDimensions)
    S(CLBlastInvalidLocalThreadsTotal)
    S(CLBlastInvalidLocalThreadsDim)
    S(CLBlastInvalidGlobalOffset)
    S(CLBlastInvalidEventWaitList)
    S(CLBlastInvalidEvent)
    S(CLBlastInvalidOperation)
    S(CLBlastInvalidBufferSize)
    S(CLBlastInvalidGlobalWorkSize)
    S(CLBlastNotImplemented)
    S(CLBlastInvalidMatrixA)
    S(CLBlastInvalidMatrixB)
    S(CLBlastInvalidMatrixC)
    S(CLBlastInvalidVectorX)
    S(CLBlastInvalidVectorY)
    S(CLBlastInvalidDimension)
    S(CLBlastInvalidLeadDimA)
    S(CLBlastInvalidLeadDimB)
    S(CLBlastInvalidLeadDimC)
    S(CLBlastInvalidIncrementX)
    S(CLBlastInvalidIncrementY)
    S(CLBlastInsufficientMemoryA)
    S(CLBlastInsufficientMemoryB)
    S(CLBlastInsufficientMemoryC)
    S(CLBlastInsufficientMemoryX)
    S(CLBlastInsufficientMemoryY)
    S(CLBlastInsufficientMemoryTemp)
    S(CLBlastInvalidBatchCount)
    S(CLBlastInvalidOverrideKernel)
    S(CLBlastMissingOverrideParameter)
    S(CLBlastInvalidLocalMemUsage)
    S(CLBlastNoHalfPrecision)
    S(CLBlastNoDoublePrecision)
    S(CLBlastInvalidVectorScalar)
    S(CLBlastInsufficientMemoryScalar)
    S(CLBlastDatabaseError)
    S(CLBlastUnknownError)
    S(CLBlastUnexpectedError)
    default:
      break;
  }
#undef S
#endif
  static _Thread_local char unknown[40];
  snprintf(unknown, sizeof unknown, "CLBlastStatus(%d)", status);
  return unknown;
}

#ifdef GRAPHC_HAVE_CLBLAST
static gc_status blas_check(CLBlastStatusCode st, const char *call) {
  if (st == CLBlastSuccess) return GC_OK;
  return gc_fail(GC_ERR_OPENCL, "%s failed: %s (%d)", call, cl_blas_status_name(st), (int)st);
}

static CLBlastTranspose blas_trans(int t) { return t ? CLBlastTransposeYes : CLBlastTransposeNo; }
#endif

gc_status cl_blas_temp_bytes(cl_command_queue q, const cl_blas_gemm *g, size_t *bytes) {
  *bytes = 0;
#ifdef GRAPHC_HAVE_CLBLAST
  if (g->batch > 1) return GC_OK; /* the strided-batched call takes no scratch buffer */
  return blas_check(
      CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, blas_trans(g->trans_a),
                                 blas_trans(g->trans_b), (size_t)g->m, (size_t)g->n, (size_t)g->k,
                                 (size_t)g->a_off, (size_t)g->lda, (size_t)g->b_off, (size_t)g->ldb,
                                 (size_t)g->c_off, (size_t)g->ldc, &q, bytes),
      "CLBlastSGemmTempBufferSize");
#else
  (void)q;
  (void)g;
  return gc_fail(GC_ERR_UNSUPPORTED, "graphc was built without CLBlast");
#endif
}

gc_status cl_blas_enqueue(cl_command_queue q, const cl_blas_gemm *g, cl_mem a, cl_mem b, cl_mem c,
                          cl_mem temp, cl_event *ev) {
#ifdef GRAPHC_HAVE_CLBLAST
  const CLBlastTranspose ta = blas_trans(g->trans_a), tb = blas_trans(g->trans_b);
  const size_t m = (size_t)g->m, n = (size_t)g->n, k = (size_t)g->k;
  /* beta = 0: C is written, never read (CLBlast skips the read of C, so
   * whatever the arena held there, NaN included, does not leak in). */
  if (g->batch > 1)
    return blas_check(
        CLBlastSgemmStridedBatched(
            CLBlastLayoutRowMajor, ta, tb, m, n, k, 1.0f, a, (size_t)g->a_off, (size_t)g->lda,
            (size_t)g->a_stride, b, (size_t)g->b_off, (size_t)g->ldb, (size_t)g->b_stride, 0.0f, c,
            (size_t)g->c_off, (size_t)g->ldc, (size_t)g->c_stride, (size_t)g->batch, &q, ev),
        "CLBlastSgemmStridedBatched");
  if (temp)
    return blas_check(CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, ta, tb, m, n, k, 1.0f, a,
                                                 (size_t)g->a_off, (size_t)g->lda, b,
                                                 (size_t)g->b_off, (size_t)g->ldb, 0.0f, c,
                                                 (size_t)g->c_off, (size_t)g->ldc, &q, ev, temp),
                      "CLBlastSgemmWithTempBuffer");
  return blas_check(CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, m, n, k, 1.0f, a, (size_t)g->a_off,
                                 (size_t)g->lda, b, (size_t)g->b_off, (size_t)g->ldb, 0.0f, c,
                                 (size_t)g->c_off, (size_t)g->ldc, &q, ev),
                    "CLBlastSgemm");
#else
  (void)q;
  (void)g;
  (void)a;
  (void)b;
  (void)c;
  (void)temp;
  (void)ev;
  return gc_fail(GC_ERR_UNSUPPORTED, "graphc was built without CLBlast");
#endif
}
