/* onnx_nn.h — mapping functions of the ONNX importer that live outside the
 * table's file (onnx_nn.c: matmul, normalization, global pooling, recurrent
 * layers, losses, dropout; onnx_conv.c: conv, pooling; onnx_resize.c: Resize and
 * Upsample; onnx_movement.c: data movement and index ops on runtime data),
 * and small helpers they share with onnx_ops.c. */
#ifndef GC_FRONTEND_ONNX_NN_H
#define GC_FRONTEND_ONNX_NN_H

#include "frontend/onnx_internal.h"

gc_value ox_sc(ox_ctx *c, float f);     /* f32 scalar constant */
gc_value ox_abs(ox_ctx *c, gc_value x); /* gc_abs */
/* A scalar constant of x's dtype (any of the four). */
gc_value ox_scalar_like(ox_ctx *c, gc_value x, double v);
/* Slice (onnx_ops.c): starts/ends/axes/steps of the node resolved against
 * shape xs into per-axis start, step and the result shape (a 0 dim when
 * empty). */
gc_status ox_slice_params(ox_ctx *c, gc_shape xs, int64_t *start, int64_t *step, gc_shape *out);
/* Split (onnx_ops.c): the sizes of the node's outputs along an axis of
 * length len, checked to add up. */
gc_status ox_split_sizes(ox_ctx *c, int64_t len, int64_t *sz, int max);

#define OX_MAP(name) gc_status ox_map_##name(ox_ctx *c, const Onnx__NodeProto *n)
OX_MAP(matmul);
OX_MAP(gemm);
OX_MAP(batch_norm);
OX_MAP(instance_norm);
OX_MAP(layer_norm);
OX_MAP(mvn);
OX_MAP(lp_norm);
OX_MAP(lrn);
OX_MAP(global_avg_pool);
OX_MAP(global_max_pool);
OX_MAP(rnn);
OX_MAP(gru);
OX_MAP(lstm);
OX_MAP(nll_loss);
OX_MAP(sce_loss);
OX_MAP(dropout);
/* onnx_conv.c */
OX_MAP(conv);
OX_MAP(conv_transpose);
OX_MAP(max_pool);
OX_MAP(avg_pool);
/* onnx_resize.c */
OX_MAP(resize);
/* onnx_movement.c */
OX_MAP(pad);
OX_MAP(where);
OX_MAP(gather);
OX_MAP(gather_elements);
OX_MAP(gather_nd);
OX_MAP(scatter_elements);
OX_MAP(concat);
OX_MAP(slice);
OX_MAP(split);
OX_MAP(tile);
OX_MAP(one_hot);
OX_MAP(argmax);
OX_MAP(argmin);
OX_MAP(cumsum);
OX_MAP(trilu);
OX_MAP(hardmax);
OX_MAP(depth_to_space);
OX_MAP(space_to_depth);
OX_MAP(compress);
OX_MAP(eye_like);

#endif
