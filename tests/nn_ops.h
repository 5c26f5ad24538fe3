/* nn_ops.h — the neural-network ops of ir/ops.def, whose cases live in
 * their own suites (test_ref_nn_ops.c, test_cl_nn_ops.c): the coverage
 * loops of test_ref_ops.c and test_cl_ops.c skip them, and the nn suites
 * check that each is covered there. */
#ifndef GC_TESTS_NN_OPS_H
#define GC_TESTS_NN_OPS_H

#include <stdbool.h>

#include "ir/ir.h"

static const ir_op nn_ops[] = {
    IR_OP_CONV2D,
    IR_OP_CONV2D_GRAD_INPUT,
    IR_OP_CONV2D_GRAD_WEIGHT,
    IR_OP_MAXPOOL2D,
    IR_OP_MAXPOOL2D_GRAD,
    IR_OP_MAXPOOL2D_INDICES,
    IR_OP_AVGPOOL2D,
    IR_OP_AVGPOOL2D_GRAD,
    IR_OP_RESIZE_BILINEAR,
    IR_OP_RESIZE_BILINEAR_GRAD,
    IR_OP_RANDOM,
};
#define NN_NOPS ((int)(sizeof nn_ops / sizeof nn_ops[0]))

static inline bool is_nn_op(int op) {
  for (int i = 0; i < NN_NOPS; i++)
    if ((int)nn_ops[i] == op) return true;
  return false;
}

#endif
