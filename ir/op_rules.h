/* op_rules.h — declarations of every per-op function named in ir/ops.def:
 * shape rules (ir/), gradient rules (passes/), reference kernels
 * (backends/ref/). Generated from the table itself, so adding an op means
 * adding its row and defining its functions in any file of the right
 * module, with no header to edit. Names are shared by several ops
 * (shape_same, ref_elementwise); redeclaring them is harmless. */
#ifndef GC_IR_OP_RULES_H
#define GC_IR_OP_RULES_H

#include <stdbool.h>

#include "ir/ir.h"

#define OP(E, name, imin, imax, fuse, props, shape, grad, ref, expr)            \
  gc_status shape(const ir_graph *g, ir_node *n);                               \
  void grad(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx); \
  void ref(const ir_graph *g, const ir_node *n, void *const *in, void *out);
#include "ir/ops.def"
#undef OP

#endif
