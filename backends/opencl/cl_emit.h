/* cl_emit.h — the code generator's shared state and helpers, for the
 * files that emit kernels (cl_codegen.c: fused groups; cl_single.c and
 * friends: ops with kernels of their own). A kernel body reads and writes
 * node storage through cg_access(), which also registers the buffer as a
 * kernel parameter (a0, a1, ... in first-use order). */
#ifndef GC_CL_EMIT_H
#define GC_CL_EMIT_H

#include "backends/opencl/cl_codegen.h"
#include "backends/opencl/cl_gemm.h"
#include "ir/strbuf.h"

/* Local size of every 1-D kernel: fixed, so PoCL compiles each kernel's
 * work-group function once. */
#define LOCAL_SIZE 64

typedef struct cg_ctx {
  const gc_program *p;
  const ir_graph *g;
  cl_codegen *out;
  int used[64]; /* buffer indices used by the current kernel */
  int nused;
  bool overflow;
  int32_t unstored; /* a node accessed that has no storage, or -1 */
  /* CPU device: elementwise work-items loop over chunks (cl_codegen.c) */
  bool cpu;
  /* domain dims from inner_from on are one collapsed loop index t
   * (cg_index_expr then reads them as t times the last dim's stride);
   * the domain's rank when there is none */
  int inner_from;
} cg_ctx;

/* The OpenCL C type of a dtype. */
const char *cg_ctype(gc_dtype t);
/* A float literal OpenCL C accepts ("1.0f", "1e-08f", INFINITY). */
void cg_float(strbuf *sb, double v);
/* Kernel parameter index of the buffer holding node's storage. */
int cg_param(cg_ctx *G, int32_t node);
/* Kernel parameter index of the GEMMs' scratch buffer, which grows to
 * bytes if smaller (cl_codegen.h). */
int cg_scratch_param(cg_ctx *G, size_t bytes);
/* A GEMM of the GPU form that splits K (kernels/gemm_gpu.cl) gets the
 * scratch buffer as a parameter: spec->scratch becomes its name, written
 * into name; otherwise spec->scratch stays NULL. Call before listing the
 * kernel's parameters. */
void cg_gemm_scratch(cg_ctx *G, cl_gemm_spec *spec, char name[16]);
/* Element offset of node in its buffer (arena offset / element size). */
int64_t cg_elem_offset(const cg_ctx *G, int32_t node);
/* Appends an lvalue: element (idx) of node's storage, in its dtype. */
void cg_access(cg_ctx *G, strbuf *sb, int32_t node, const char *idx);
/* Row-major strides of a shape. */
void cg_strides(gc_shape s, int64_t *st);
/* Linear index into shape xs for domain index variables i0.. (numpy
 * broadcasting from the right; perm maps domain dim d to xs dim perm[d]). */
void cg_index_expr(strbuf *sb, gc_shape dom, gc_shape xs, const int *perm);
/* Statements "dest = <node at coordinates c>": node is a ROLE_AT_INDEX
 * member of an elementwise group (a producer evaluated inside the
 * movement members reading it, passes/fuse_movement.c); c[d] is an
 * expression per dim of node's shape. */
void cg_eval_at(cg_ctx *G, strbuf *sb, int32_t node, const char *const *c, const char *dest);
/* items work-items, LOCAL_SIZE per group (1 when items < LOCAL_SIZE). */
void cg_geometry_1d(cl_launch *L, int64_t items);

/* Emits the in-place update (assign_add, SGD, Adam) of element idx of node
 * id's target (width 1; gval: the gradient/delta expression) or of the 8
 * elements from idx (width 8; gval NULL: loaded from the node's input 1). */
void cg_update_element(cg_ctx *G, strbuf *body, int32_t id, const char *idx, const char *gval,
                       int width);
/* One kernel (body + geometry) applying the updates nodes[0..count). */
void cg_emit_updates(cg_ctx *G, strbuf *body, cl_launch *L, const int32_t *nodes, int count);

/* One kernel computing a cross-entropy loss and its gradient (the pair that
 * passes/fuse.c groups). */
void cg_emit_cross_entropy_pair(cg_ctx *G, int32_t loss_id, int32_t grad_id, cl_launch *L,
                                strbuf *body);

/* Body of the kernel of one op that is not fused (softmax, losses,
 * optimizer updates, ...): cl_single.c. GC_ERR_UNSUPPORTED when no
 * emitter knows the op. */
gc_status cl_emit_single(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *body);

/* cl_elem_ops.c: the expression template of a cast (%0 the value, %T the
 * output type); the statements "T v<id>; ..." of an injective member
 * (slice, pad, concat, tile, gather, one_hot, slice_grad; a transpose of a
 * producer evaluated at index) reading its inputs at the coordinates it
 * maps its element to; the kernels of gather_grad, argmax/argmin and
 * cumsum. */
const char *cl_cast_expr(gc_dtype from, gc_dtype to);
void cl_emit_injective(cg_ctx *G, strbuf *sb, gc_shape dom, int32_t id);
gc_status cl_emit_elem_single(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *body);

#endif
