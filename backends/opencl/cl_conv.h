/* cl_conv.h — conv2d and its gradients as implicit GEMMs (instances of
 * kernels/gemm.cl gathering one operand from the image), emitted as whole
 * kernels like the matmul groups; backends/opencl/cl_conv.c. */
#ifndef GC_CL_CONV_H
#define GC_CL_CONV_H

#include <stdbool.h>

#include "backends/opencl/cl_emit.h"

/* Whether node n (conv2d, conv2d_grad_input or conv2d_grad_weight) takes
 * the implicit-GEMM kernel: groups == 1, sizes within 32-bit indexing, and
 * GRAPHC_CONV_DIRECT unset (or "0") in the environment. The others keep
 * the direct kernels of cl_nn_ops.c. */
bool cl_conv_gemm_applies(const cg_ctx *G, const ir_node *n);

/* Appends the whole kernel (named L->name, parameters a0.. in first-use
 * order as cg_access registers them) computing node id = n into text, and
 * sets L's geometry. epilogue: NULL to store the result, or the store
 * body of a fused epilogue, on (gemm_b, i, j, v) = (image, channel, pixel,
 * value) for the forward and the input gradient, (0, output channel,
 * c KH KW + tap, value) for the weight gradient; its buffers must already
 * be registered in G. epilogue8 (or NULL): the same on the float8 v of
 * columns j .. j + 7, which the im2col forms run on full strips. */
gc_status cl_emit_conv_gemm(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *text,
                            const char *epilogue, const char *epilogue8);

#endif
