/* cl_nn.h — emitters of the neural-network ops' kernels
 * (backends/opencl/cl_nn_ops.c), called from cl_emit_single (cl_single.c).
 * Each fills the kernel body and the launch geometry of one node. */
#ifndef GC_CL_NN_H
#define GC_CL_NN_H

#include "backends/opencl/cl_emit.h"

/* The direct convolutions (grouped, 3-D, GRAPHC_CONV_DIRECT=1) and the
 * pooling ops store each element through a statement macro; epilogue:
 * NULL, or the fused store of each element (cl_codegen.c's emit_direct:
 * the text of macro YS(o_, p_, z_, h_, w_, v), see cl_nn_ops.c). */
void cl_emit_conv2d(cg_ctx *G, const ir_node *n, int32_t id, const char *epilogue, cl_launch *L,
                    strbuf *body);
void cl_emit_conv2d_grad_input(cg_ctx *G, const ir_node *n, int32_t id, const char *epilogue,
                               cl_launch *L, strbuf *body);
void cl_emit_conv2d_grad_weight(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L,
                                strbuf *body);
/* maxpool2d, avgpool2d, their gradients and maxpool2d_indices (2-D or 3-D);
 * indices: a maxpool2d_indices node that max pooling n stores too (its
 * ROLE_SIBLING, passes/fuse_siblings.c), or -1 */
void cl_emit_pool2d(cg_ctx *G, const ir_node *n, int32_t id, const char *epilogue, int32_t indices,
                    cl_launch *L, strbuf *body);
/* resize_bilinear and its gradient */
void cl_emit_resize(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *body);
void cl_emit_random(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *body);

#endif
