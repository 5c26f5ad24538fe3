/* fuse_builder.h — the fusion pass's working state, shared by fuse.c (the
 * walk over the schedule, the elementwise and update merges,
 * materialization) and fuse_reduce.c (reduction groups: what may run in
 * and after their loops, and the merges that make layer norm and batch
 * norm one kernel each way). Internal to passes/. */
#ifndef GC_FUSE_BUILDER_H
#define GC_FUSE_BUILDER_H

#include "passes/passes.h"

typedef struct builder {
  const ir_graph *g;
  fuse_group *groups;
  int ngroups, cap;
  int32_t *group_of;
  uint8_t *role; /* fuse_role per node */
  sched_deps deps;
  int32_t **users; /* readers of each node */
  int *nusers;
  int max_buffers; /* kernel arguments a group may take */
  int *stamp;      /* DFS marks per group */
  int epoch;
  /* per group: the distinct storage roots its members touch (persistent
   * tensors, -1 for the arena), FB_ROOTS_CAP slots each, kept as members
   * join, so the argument budget is checked without walking the group */
  int32_t *roots;
  int *nroots;
} builder;

/* Slots per group in builder.roots: more than any argument budget. */
enum { FB_ROOTS_CAP = 48 + IR_MAX_INPUTS + 2 };

/* The group whose kernel computes x: a view's is its source's (views
 * launch nothing and hold no value of their own). */
int fb_value_group(const builder *b, int32_t x);
/* May node join group gi: within the kernel argument budget, and no other
 * input of node depends on gi through another group (a cycle)? */
bool fb_can_join(builder *b, int32_t node, int gi);
/* Would groups a and b together fit the kernel argument budget? */
bool fb_fits_pair(builder *b, int ga, int gb);
/* Does a movement member of gi read a value of gi or gj (which it would
 * read from memory the same kernel writes)? */
bool fb_movement_reads(builder *b, int gi, int gj);
/* Does a member of group gj read a value of group gi (through views)? */
bool fb_reads_group(const builder *b, int gj, int gi);
/* Does group from reach group target through a third group? */
bool fb_reaches_through_other(builder *b, int from, int target);
/* Moves every member of group gb into ga, keeping schedule order (pos:
 * each node's place in it); gb becomes an empty group. */
bool fb_merge_groups(builder *b, int ga, int gb, const int *pos);
/* The group an in-place update joins as its gradient's epilogue (see
 * fuse.c), or -1. */
int fb_update_epilogue(builder *b, int32_t id);
/* Does update u write storage root (its target or optimizer state)? */
bool fb_update_writes(const ir_graph *g, int32_t u, int32_t root);
/* Does an in-place node other than except (an update, assign_add)
 * rewrite storage root? */
bool fb_storage_rewritten(const builder *b, int32_t root, int32_t except);
/* An expression without transcendental or other library calls (exp, log,
 * tanh, sqrt, ...): recomputing it per reader costs less than a tensor's
 * store and load. */
bool fb_is_cheap(const ir_node *n);

/* Joins elementwise group gb to group ga where one reads the other and
 * the two can be one kernel (same domain, no movement member reading the
 * pair's values, within the argument budget, no cycle): 1 if joined (gb
 * then empty), 0 if not, -1 when out of memory. */
int fb_chain_join(builder *b, int ga, int gb, const int *pos);

/* ---- the post-dominator tree (postdom.c) ---- */

typedef struct pd_tree {
  int n;              /* groups */
  int *rd, *rd_start; /* the distinct groups reading each group, CSR */
  int *order, *rank;  /* the groups in a topological order; each one's place */
  int *ipdom, *depth; /* immediate post-dominator (-1: the exit); tree depth */
  int *mark;          /* scratch of pd_rule_fuses */
  const ir_graph *g;  /* what the tree was built from */
  const int32_t *group_of;
  const bool *inlined;
} pd_tree;

/* Builds the post-dominator tree of groups[0..ngroups) (group_of: node ->
 * group; inlined, or NULL: nodes their readers recompute, whose inputs'
 * groups they read instead). */
gc_status pd_tree_build(const ir_graph *g, const fuse_group *groups, int ngroups,
                        const int32_t *group_of, const bool *inlined, pd_tree *t);
void pd_tree_free(pd_tree *t);
/* Does TVM's rule fuse group gi into its immediate post-dominator P: gi
 * elementwise and P elementwise or a reduction, or an epilogue (P complex,
 * every read of gi and of the groups between them by P's elementwise
 * members, not its complex op), or gi complex and P elementwise; and
 * every group on a path between them elementwise? */
bool pd_rule_fuses(pd_tree *t, const fuse_group *groups, int gi);

/* ---- fusion along the post-dominator tree (fuse_postdom.c) ---- */

/* Joins each group to its immediate post-dominator where TVM's rule says
 * so and a kernel form holds the pair, consumers first, rebuilding the
 * tree until nothing joins; *joins counts the joins. False when out of
 * memory. */
bool fb_fuse_postdom(builder *b, const int *pos, int *joins);

/* ---- movement reads (fuse_movement.c) ---- */

/* Moves elementwise group gi into group p when every read of gi's values
 * from outside it is a data read of a movement member of p, as
 * ROLE_AT_INDEX members evaluated at the coordinates those members read:
 * 1 if moved, 0 if not, -1 when out of memory. */
int fb_movement_join(builder *b, int gi, int p, const int *pos);
/* Moves each concat kernel whose inputs all have the shape of the
 * elementwise group computing them into that group, as a ROLE_PIECES
 * member its work-items store piece by piece. False when out of memory. */
bool fb_store_concats(builder *b, const int *pos);

/* ---- broadcast producers (fuse_broadcast.c) ---- */

/* Moves elementwise group ga into group gb when gb, a larger elementwise
 * group, is its only reader, through broadcasting, with extent 1 along
 * its last dim: 1 if moved, 0 if not, -1 when out of memory. */
int fb_broadcast_join(builder *b, int ga, int gb, const int *pos);

/* ---- second results of a kernel (fuse_siblings.c) ---- */

/* Moves each maxpool2d_indices kernel into the kernel of the maxpool2d of
 * the same input and window, as a ROLE_SIBLING member. False when out of
 * memory. */
bool fb_pool_siblings(builder *b, const int *pos);

/* ---- reduction groups (fuse_reduce.c) ---- */

/* Result rows of reduce group gi: its reductions' output elements. */
int64_t fb_reduce_rows(const builder *b, int gi);
/* May elementwise node id run once per row of reduce group gi, after the
 * reductions it reads? */
bool fb_row_member(builder *b, int gi, int32_t id);
/* Merges group gj into reduce group gi when allowed: an elementwise group
 * as loop members (over the domain) or row members (over the results), a
 * reduce group over the same domain and axes: 1 if merged, 0 if not, -1
 * when out of memory. */
int fb_reduce_join(builder *b, int gi, int gj, const int *pos);
/* Merges groups into reduce groups until nothing changes: elementwise
 * groups over the domain (in the loops) or over the results (per row),
 * reductions over the same domain and axes, updates of per-row values. */
bool fb_merge_reductions(builder *b, const int *pos);

#endif
