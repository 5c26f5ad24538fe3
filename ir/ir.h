/* ir.h — the intermediate representation: a graph owns its nodes in one
 * growable array; a node is an op from ir/ops.def with inputs (node ids),
 * attributes, an output dtype and shape, a name and flags. Node ids are in
 * creation order, which is a topological order (inputs precede users).
 * gc_graph (public, opaque) is this ir_graph. */
#ifndef GC_IR_H
#define GC_IR_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "graphc.h"
#include "ir/status.h"

typedef enum ir_op {
#define OP(E, name, imin, imax, fuse, props, shape, grad, ref, expr) IR_OP_##E,
#include "ir/ops.def"
#undef OP
  IR_OP_COUNT
} ir_op;

/* How passes/fuse.c may group an op (TVM's pattern kinds). */
typedef enum ir_fusion {
  IR_FUSE_ELEMWISE,  /* out[i] = f(in[i]) */
  IR_FUSE_BROADCAST, /* elementwise with broadcast inputs */
  IR_FUSE_INJECTIVE, /* each output reads one input element (transpose) */
  IR_FUSE_REDUCE,    /* reduction over axes */
  IR_FUSE_COMPLEX,   /* matmul, conv, conv-transpose, pooling: may take an
                        elementwise epilogue (where the backend has one) */
  IR_FUSE_OPAQUE     /* its own kernel (or none) */
} ir_fusion;

enum ir_op_props {
  IR_P_LEAF = 1,    /* no inputs; persistent storage */
  IR_P_VIEW = 2,    /* output is input 0's storage seen with another shape */
  IR_P_INPLACE = 4, /* writes input 0 (and state inputs) in place */
  IR_P_NODIFF = 8   /* no gradient flows through it */
};

typedef struct ir_op_info {
  const char *name;
  int min_inputs, max_inputs;
  ir_fusion fusion;
  unsigned props;
  const char *cl_expr;
} ir_op_info;

extern const ir_op_info ir_ops[IR_OP_COUNT];

/* Node flags. */
enum ir_flags {
  IR_F_INPUT = 1,
  IR_F_PARAM = 2,
  IR_F_CONST = 4,
  IR_F_STATE = 8, /* optimizer state, zero-initialized, persistent */
  IR_F_OUTPUT = 16,
  IR_F_LOSS = 32
};

#define IR_MAX_INPUTS 16 /* concat takes up to this many */

/* Window of the neural-network ops (conv, pooling, resize, random): see
 * ir/ops.def and ir/shape_rules_nn.c. Zero stride, dilation, groups or
 * depth kernel mean 1 (the shape rules normalize them). The depth fields
 * serve the 3-D forms ([N, C, D, H, W]) of conv and pooling; a 4-D op
 * leaves them at their defaults (the shape rules insist). */
typedef struct ir_window {
  int kh, kw;         /* pooling kernel (conv reads it from the weight) */
  int sh, sw;         /* stride */
  int dh, dw;         /* dilation */
  int pt, pl, pb, pr; /* padding: top, left, bottom, right */
  int oph, opw;       /* output padding (conv_transpose2d) */
  int kd, sd, dd;     /* depth: pooling kernel, stride, dilation */
  int pd0, pd1;       /* depth padding: front, back */
  int opd;            /* depth output padding (conv_transpose3d) */
  int groups;
  int ceil_mode, count_include_pad, align_corners;
  int dist;                  /* random: 0 uniform [f0, f1), 1 normal (mean f0, std f1) */
  uint32_t seed_lo, seed_hi; /* random */
} ir_window;

typedef struct ir_attr {
  uint32_t axes; /* reductions: bit i set = reduce axis i */
  int keepdims;
  int axis;              /* softmax, log_softmax */
  int perm[GC_MAX_DIMS]; /* transpose */
  int trans_a, trans_b;  /* matmul */
  gc_shape shape;        /* reshape, expand target */
  gc_dtype to;           /* cast */
  float f[4];            /* optimizer hyper-parameters, activation constants (ops.def) */
  ir_window win;         /* neural-network ops */
  /* elementwise, movement and reduction extensions (see their rows in ops.def) */
  int64_t starts[GC_MAX_DIMS];   /* slice, slice_grad: first index per axis */
  int64_t steps[GC_MAX_DIMS];    /* slice, slice_grad: step per axis (nonzero) */
  int64_t pads[2 * GC_MAX_DIMS]; /* pad: [d] before axis d, [GC_MAX_DIMS + d] after it */
  int64_t reps[GC_MAX_DIMS];     /* tile: repetitions per axis */
  int64_t depth;                 /* one_hot: classes */
  int mode;                      /* pad: gc_pad_mode; argmax/argmin: 1 = last index of ties;
                                    cumsum: bit 0 exclusive, bit 1 reverse */
} ir_attr;

typedef struct ir_node {
  ir_op op;
  int nin;
  int32_t in[IR_MAX_INPUTS];
  ir_attr attr;
  gc_dtype dtype;
  gc_shape shape;
  unsigned flags;
  char *name;     /* unique among named nodes; may be NULL */
  char *out_name; /* name under which an output is read */
  void *data;     /* CONST value, or PARAM initial value (numel * size) */
} ir_node;

struct gc_graph {
  ir_node *nodes;
  int n, cap;
  gc_status status;
  char err[1024];
  uint64_t seed, rng;
  int32_t loss;  /* node id or -1 */
  int32_t *grad; /* grad[i]: node id of d loss / d node i, or -1 */
  int ngrad;     /* entries in grad (nodes that existed at differentiate) */
  int32_t hyper; /* optimizer hyper-parameter state node, or -1 */
};
typedef struct gc_graph ir_graph;

static inline ir_node *ir_node_at(const ir_graph *g, int32_t id) { return &g->nodes[id]; }
static inline size_t ir_node_bytes(const ir_node *n) {
  return (size_t)gc_shape_numel(n->shape) * gc_dtype_size(n->dtype);
}
static inline gc_value ir_value(int32_t id) { return (gc_value){id}; }
/* An optimizer-style update (assign_add, SGD, Adam): an in-place writer of a
 * parameter or state from a gradient or delta (input 1). Its result has no
 * value to read. (OPT_TICK is in place too, but only advances a counter.) */
/* An elementwise or broadcast op: each element of its result comes from
 * the inputs' elements at the same (broadcast) index. */
static inline bool ir_is_elementwise(const ir_node *n) {
  ir_fusion f = ir_ops[n->op].fusion;
  return f == IR_FUSE_ELEMWISE || f == IR_FUSE_BROADCAST;
}

static inline bool ir_is_update(const ir_node *n) {
  return n->op == IR_OP_ASSIGN_ADD || n->op == IR_OP_SGD_UPDATE || n->op == IR_OP_ADAM_UPDATE ||
         n->op == IR_OP_ADAM_MOMENTS || n->op == IR_OP_ADAM_APPLY || n->op == IR_OP_SGD_VELOCITY ||
         n->op == IR_OP_SGD_APPLY;
}
/* The second half of a split update (passes/split_updates.c): its input
 * 1 is the first half's node (the optimizer state it left), not a
 * gradient. */
static inline bool ir_is_update_apply(const ir_node *n) {
  return n->op == IR_OP_ADAM_APPLY || n->op == IR_OP_SGD_APPLY;
}
/* Does update n write its input k (its target, input 0, and the optimizer
 * state it owns)? */
static inline bool ir_update_writes_input(const ir_node *n, int k) {
  switch (n->op) {
    case IR_OP_SGD_UPDATE:
    case IR_OP_ADAM_MOMENTS:
      return k == 0 || k == 2;
    case IR_OP_ADAM_UPDATE:
      return k == 0 || k == 2 || k == 3;
    default:
      return k == 0;
  }
}

/* --- graph (ir/graph.c) --- */

/* Appends a node with the given inputs and attributes, runs its shape rule
 * and returns its id. On error (bad inputs, shape rule failure, the graph
 * already failed) sets the graph's sticky error and returns -1. */
int32_t ir_add(ir_graph *g, ir_op op, int nin, const int32_t *in, const ir_attr *attr);
/* Makes room for `extra` more nodes now, so that the next `extra` ir_add
 * calls do not move g->nodes: code that reads node fields in the same
 * expression as a call that adds nodes (the argument evaluation order is
 * unspecified) relies on it. Returns false when out of memory. */
bool ir_reserve(ir_graph *g, int extra);
/* Sets the sticky error (first one wins); returns -1 for convenience. */
int32_t ir_error(ir_graph *g, gc_status s, const char *fmt, ...) GC_PRINTF(3, 4);
/* A label for messages: "op 'add' (node 12 \"fc1.b\")". Static per thread. */
const char *ir_node_label(const ir_graph *g, int32_t id);
int32_t ir_find_name(const ir_graph *g, const char *name);
/* A deep copy (names, data, gradient map). NULL on allocation failure. */
ir_graph *ir_graph_clone(const ir_graph *g);
/* Deterministic uniform in [0, 1) from the graph's stream. */
double ir_rand_uniform(ir_graph *g);
double ir_rand_normal(ir_graph *g);
/* Every node that consumes id (count in *n, caller frees). */
int32_t *ir_users(const ir_graph *g, int32_t id, int *n);

/* --- shapes (ir/shape_rules.c) --- */

/* Runs op's shape rule on node (inputs already set): fills dtype and shape
 * or returns an error status with the message recorded by gc_fail(). */
gc_status ir_infer_shape(ir_graph *g, ir_node *node);
/* numpy broadcast of a and b into *out; false if they do not broadcast. */
bool ir_broadcast_shapes(gc_shape a, gc_shape b, gc_shape *out);
bool ir_shape_eq(gc_shape a, gc_shape b);
/* Normalizes a possibly negative axis; -1 if out of range. */
int ir_axis(int axis, int ndim);

/* --- printer, verifier (ir/printer.c, ir/verify.c) --- */

gc_status ir_print(const ir_graph *g, FILE *out);
/* Checks structural invariants: inputs precede users, arities, shapes
 * agree with the rules, names unique. Records a message on failure. */
gc_status ir_verify(const ir_graph *g);

#endif
