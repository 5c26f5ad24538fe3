/* onnx_nn.h — mapping functions of the ONNX importer that live outside the
 * table's file (onnx_nn.c: matmul, normalization, global pooling, recurrent
 * layers, losses; onnx_conv.c: conv, pooling, resize; onnx_pending.c:
 * ops whose builders land with the elementwise/movement op branch),
 * and small helpers they share with onnx_ops.c. */
#ifndef GC_FRONTEND_ONNX_NN_H
#define GC_FRONTEND_ONNX_NN_H

#include "frontend/onnx_internal.h"

gc_value ox_sc(ox_ctx *c, float f);     /* f32 scalar constant */
gc_value ox_abs(ox_ctx *c, gc_value x); /* relu(x) + relu(-x) */

#define OX_MAP(name) gc_status ox_map_##name(ox_ctx *c, const Onnx__NodeProto *n)
OX_MAP(matmul);
OX_MAP(gemm);
OX_MAP(batch_norm);
OX_MAP(instance_norm);
OX_MAP(layer_norm);
OX_MAP(mvn);
OX_MAP(lp_norm);
OX_MAP(global_avg_pool);
OX_MAP(global_max_pool);
OX_MAP(rnn);
OX_MAP(gru);
OX_MAP(lstm);
OX_MAP(nll_loss);
OX_MAP(sce_loss);
/* onnx_conv.c */
OX_MAP(conv);
OX_MAP(conv_transpose);
OX_MAP(max_pool);
OX_MAP(avg_pool);
OX_MAP(resize);
/* onnx_pending.c */
OX_MAP(pad);
OX_MAP(where);
OX_MAP(erf);
OX_MAP(gather);
OX_MAP(concat);
OX_MAP(slice);
OX_MAP(split);

#endif
