/* ref.h — the reference interpreter: one plain, obviously-correct C
 * function per op (the "reference kernel" column of ir/ops.def). It is the
 * oracle every OpenCL result is tested against.
 *
 * A kernel reads its inputs and writes its output as dense row-major host
 * arrays of the nodes' dtypes. In-place ops (IR_P_INPLACE) get out ==
 * in[0] and may also write the optimizer state inputs they own (SGD's
 * velocity in[2], Adam's m in[2] and v in[3], adam_moments' v in[2];
 * sgd_velocity's and adam_moments' target, in[0], is the state itself). */
#ifndef GC_REF_H
#define GC_REF_H

#include "ir/ir.h"

typedef void (*ref_kernel)(const ir_graph *g, const ir_node *n, void *const *in, void *out);

/* The table, indexed by op. */
extern const ref_kernel ref_kernels[IR_OP_COUNT];

/* Evaluates node id of g given its inputs' host arrays. */
void ref_eval(const ir_graph *g, int32_t id, void *const *in, void *out);

/* Offset into an input of shape `in` of the element that numpy
 * broadcasting pairs with element `lin` of an output of shape `out`: the
 * shapes are right-aligned and size-1 input dims repeat. */
int64_t ref_bcast_index(int64_t lin, const gc_shape *out, const gc_shape *in);

#endif
