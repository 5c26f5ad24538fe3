/* passes.h — the compiler passes over the IR, each in its own file, and the
 * structures they hand to the backends: groups of fused nodes (fuse.c), a
 * memory plan (plan.c) and the launch order (schedule.c). */
#ifndef GC_PASSES_H
#define GC_PASSES_H

#include "ir/ir.h"

/* ---- graph-to-graph passes: return GC_OK or a status with gc_fail(). ---- */

/* Re-runs every shape rule and the verifier (for imported graphs). */
gc_status pass_shapes(ir_graph *g);
/* Common-subexpression elimination, sums of slice_grads joined into
 * concats, ReLU masks moved before max-pooling gradients, then dead-code
 * elimination: keeps what reaches an output, the
 * loss or an in-place update; renumbers nodes. */
gc_status pass_simplify(ir_graph *g);
/* Part of simplify (join_slice_grads.c): a sum of slice_grads that tile
 * their result along one axis becomes the concat of their inputs. */
gc_status pass_join_slice_grads(ir_graph *g);
/* Part of simplify (mask_pool_grads.c): a max pooling's input gradient
 * masked by step(x) of its input becomes the gradient of the pooled
 * gradient masked by step(y) of the pooled values, so x need not live
 * until the backward. */
gc_status pass_mask_pool_grads(ir_graph *g);
/* After simplify, with fusion on (split_updates.c): an Adam or SGD update
 * fused into its gradient's product that would make the product wait for
 * another reader of the parameter becomes its state's half (adam_moments,
 * sgd_velocity: in the product) and the parameter step (adam_apply,
 * sgd_apply: later, appended). */
gc_status pass_split_updates(ir_graph *g);
/* How many updates pass_split_updates would split (-1: out of memory). */
int pass_split_candidates(const ir_graph *g);

/* Internal builders used by autodiff and optimizers. */
int32_t ir_matmul_t(ir_graph *g, int32_t a, int32_t b, int trans_a, int trans_b);
int32_t ir_reduce(ir_graph *g, ir_op op, int32_t x, uint32_t axes, int keepdims);
int32_t ir_unary(ir_graph *g, ir_op op, int32_t x);
int32_t ir_binary(ir_graph *g, ir_op op, int32_t a, int32_t b);
int32_t ir_reshape(ir_graph *g, int32_t x, gc_shape s);
int32_t ir_const_f32(ir_graph *g, float v);
/* dy summed over the axes along which a value of shape s was broadcast. */
int32_t ir_unbroadcast(ir_graph *g, int32_t dy, gc_shape s);
/* x broadcast to s (x itself when it already has that shape). */
int32_t ir_expand(ir_graph *g, int32_t x, gc_shape s);

/* ---- schedule (schedule.c): node order honouring in-place writers ---- */

/* Every node's predecessors: its inputs, plus for an in-place writer every
 * other node that reads the value it overwrites (they must run first), plus
 * earlier writers of the same storage. CSR layout. */
typedef struct sched_deps {
  int *start; /* n + 1 entries */
  int32_t *list;
} sched_deps;

gc_status sched_deps_build(const ir_graph *g, sched_deps *out);
void sched_deps_free(sched_deps *d);
/* The node whose storage id uses: follows views and in-place writers. */
int32_t ir_storage_root(const ir_graph *g, int32_t id);
/* The node a chain of views (reshapes) starts from: whose kernel computes
 * id's value (views launch nothing). */
int32_t ir_view_source(const ir_graph *g, int32_t id);

/* Fills order[0..n) with every node id: a topological order in which each
 * in-place writer runs after every other reader of the storage it
 * overwrites. */
gc_status pass_schedule(const ir_graph *g, int32_t *order);

/* ---- fusion (fuse.c) ---- */

typedef enum fuse_kind {
  FUSE_NONE,     /* no kernel: a leaf or a view */
  FUSE_ELEMWISE, /* elementwise/broadcast/injective nodes over one domain */
  FUSE_REDUCE,   /* reductions over one domain and axes, one work-item per
                    result row, with elementwise work in and after their
                    loops (fuse_reduce.c) */
  FUSE_COMPLEX,  /* a complex op (matmul, conv, conv-transpose, pooling)
                    with an elementwise epilogue */
  FUSE_SINGLE    /* one node with its own kernel (softmax, updates, ...) */
} fuse_kind;

typedef struct fuse_group {
  fuse_kind kind;
  int32_t root;   /* the (first) reduction / matmul / single node; for
                     ELEMWISE the last node */
  int32_t *nodes; /* members in schedule order */
  int nnodes;
  gc_shape domain; /* iteration space: output shape (ELEMWISE, MATMUL) or
                      the reduction input's shape (REDUCE) */
} fuse_group;

/* Where a member of a REDUCE group (or a movement read) is evaluated. */
typedef enum fuse_role {
  ROLE_PLAIN,    /* the reductions and updates; any member of other groups */
  ROLE_LOOP,     /* over the group's domain: inside the loops over the reduced
                    axes (a reduction's input, or a final pass's output) */
  ROLE_ROW,      /* over the results: once per row, after the reductions it
                    reads (var + eps -> sqrt; running-statistics updates) */
  ROLE_AT_INDEX, /* in an ELEMWISE group: a producer evaluated inside the
                    movement members reading it, at the coordinates they
                    read (passes/fuse_movement.c), never on its own */
  ROLE_PIECES,   /* a concat in the ELEMWISE group computing its inputs,
                    which all have the domain's shape: each work-item
                    stores its element of every input at that input's
                    place in the concat (fuse_movement.c); no member
                    reads it */
  ROLE_SIBLING   /* in a COMPLEX group: a second result of the root's
                    work, which its kernel stores alongside (the indices
                    of a max pooling's maxima: fuse_siblings.c) */
} fuse_role;

typedef struct fuse_plan {
  fuse_group *groups; /* in launch order */
  int ngroups;
  int32_t *group_of;  /* node -> group index */
  bool *materialized; /* node's value is stored (read outside its group,
                         an output, persistent, or a kernel result) */
  bool *inlined;      /* not stored: readers in other kernels recompute it
                         from its inputs (which are stored) */
  uint8_t *role;      /* node -> fuse_role */
  int postdom_joins;  /* groups joined to their post-dominator (fuse_postdom.c) */
} fuse_plan;

/* Groups the scheduled nodes; no_fuse puts every node in its own group.
 * max_buffers (0: the default, 48) caps the buffers one kernel takes as
 * arguments: a device's CL_DEVICE_MAX_PARAMETER_SIZE may allow fewer. A
 * single node needing more is still one kernel (the code generator
 * refuses past 64). */
gc_status pass_fuse(const ir_graph *g, const int32_t *order, bool no_fuse, int max_buffers,
                    fuse_plan *out);
void fuse_plan_free(fuse_plan *p);
/* Sorts p's groups into launch order (kernel_order.c): dependencies and
 * in-place edges first, then least growth of the live set. */
gc_status fuse_order_groups(const ir_graph *g, const sched_deps *deps, fuse_plan *p);
/* TVM's rule over the post-dominator tree of p's kernels (postdom.c):
 * *count gets how many kernels it would still fuse with their immediate
 * post-dominator; missed (NULL, or room for p->ngroups) gets that
 * post-dominator per group, or -1. */
gc_status fuse_postdom_misses(const ir_graph *g, const fuse_plan *p, int *count, int *missed);
/* "elementwise", "reduce", ... for dumps and profiles. */
const char *fuse_kind_name(fuse_kind k);

/* ---- memory plan (plan.c) ---- */

typedef enum storage_kind { STORE_NONE, STORE_ARENA, STORE_PERSIST } storage_kind;

typedef struct mem_plan {
  storage_kind *kind;  /* per node */
  size_t *offset;      /* arena byte offset (STORE_ARENA) */
  int32_t *root;       /* node whose storage this node uses (views, in-place) */
  int *arena_of;       /* per node: its arena (STORE_ARENA), else -1 */
  int narenas;         /* one buffer each, none over the device's largest allocation */
  size_t *arena_sizes; /* bytes of each arena */
  size_t arena_bytes, no_reuse_bytes, live_lower_bound_bytes, persistent_bytes; /* arena_bytes:
                                                                                  all arenas */
} mem_plan;

/* Places every materialized intermediate in one arena by liveness over the
 * group order (best fit), or in several when one would pass max_arena
 * bytes (0: no limit); no_plan gives each its own slot. */
gc_status pass_plan(const ir_graph *g, const fuse_plan *f, bool no_plan, size_t alignment,
                    size_t max_arena, mem_plan *out);
/* An output or the loss: the user reads it, so it is never planned over. */
bool plan_user_visible(const ir_node *n);
/* The independent checker: no two tensors live at the same time overlap. */
gc_status plan_check(const ir_graph *g, const fuse_plan *f, const mem_plan *m);
void mem_plan_free(mem_plan *m);

#endif
