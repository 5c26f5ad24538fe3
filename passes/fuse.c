/* fuse.c — groups scheduled nodes into kernels, after TVM's rules:
 * - elementwise/broadcast nodes join the group of an input when they cover
 *   the same iteration domain (chains become one kernel);
 * - they join a complex op's group as its epilogue (bias, activation,
 *   the ReLU gradient's mask, ...): a matmul's, a convolution's (forward,
 *   conv-transpose; the weight gradient's as an implicit GEMM) and a
 *   pooling op's (takes_epilogue);
 * - a reduction swallows the elementwise group that feeds only it (its
 *   prologue), and elementwise nodes over its result join it as an
 *   epilogue run once per result; afterwards reductions over one domain
 *   and axes, and the elementwise work reading their results, merge into
 *   row kernels (fuse_reduce.c: layer norm and batch norm are one kernel);
 * - an optimizer update joins the matmul or reduction computing its
 *   gradient (the gradient then never reaches memory); the remaining
 *   updates of one kind form one multi-tensor kernel;
 * - two complex ops never share a group; transposes and other movement
 *   ops start a group reading a stored input; views and leaves launch
 *   nothing;
 * - afterwards, elementwise groups over one domain where one reads the
 *   other merge (a slice read in place joins the chain it starts), unless
 *   that closes a cycle or a movement op would read its own kernel's value;
 * - then, along the post-dominator tree of the groups (fuse_postdom.c):
 *   a group joins its immediate post-dominator where TVM's rule allows
 *   (every kernel between them elementwise) and a kernel form holds the
 *   pair: a producer read only by movement members of the post-dominator
 *   is evaluated inside them, at the coordinates they read
 *   (fuse_movement.c); a small producer read through broadcasting,
 *   constant along the last dim (batch norm's per-channel scale in
 *   inference), per row of the larger domain (fuse_broadcast.c); a chain
 *   over one domain, or a reduction's prologue, as above;
 * - last, a concat of values of an elementwise group's domain shape is
 *   stored by that group's kernel, piece by piece (fuse_movement.c), and
 *   a max pooling's indices by the pooling's kernel (fuse_siblings.c).
 * A join is refused when another input of the joining node depends on the
 * group (that would be a cycle between kernels). Groups are then ordered
 * topologically, honouring the in-place ordering edges of schedule.c. A
 * node is materialized (stored) when something outside its group reads it
 * or it is an output; everything else lives in registers, and cheap
 * producers are recomputed by their readers rather than stored. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "passes/fuse_builder.h"

/* Buffers a kernel may take: each persistent tensor (leaf or output) it
 * touches is one argument, all arena tensors share one. The code generator
 * allows 64; a margin keeps it clear of that. The device may allow fewer
 * (pass_fuse's max_buffers: what CL_DEVICE_MAX_PARAMETER_SIZE holds). */
enum { MAX_KERNEL_BUFFERS = 48 };
_Static_assert(FB_ROOTS_CAP >= MAX_KERNEL_BUFFERS + IR_MAX_INPUTS + 2,
               "builder.roots holds a full group plus one node");

static bool persistent_root(const ir_graph *g, int32_t r) {
  return (ir_ops[g->nodes[r].op].props & IR_P_LEAF) ||
         (g->nodes[r].flags & (IR_F_OUTPUT | IR_F_LOSS));
}

/* Adds root r to roots[] unless it is there (or roots[] is full). */
static void add_root(int32_t r, int32_t *roots, int *n, int cap) {
  for (int i = 0; i < *n; i++)
    if (roots[i] == r) return;
  if (*n < cap) roots[(*n)++] = r;
}

/* Adds the storage roots node touches (itself, its inputs) to roots[]. */
static void add_roots(const ir_graph *g, int32_t node, int32_t *roots, int *n, int cap) {
  const ir_node *nd = &g->nodes[node];
  for (int k = -1; k < nd->nin; k++) {
    int32_t r = ir_storage_root(g, k < 0 ? node : nd->in[k]);
    add_root(persistent_root(g, r) ? r : -1 /* the arena */, roots, n, cap);
  }
}

static int32_t *group_roots(builder *b, int gi) { return b->roots + (size_t)gi * FB_ROOTS_CAP; }

/* Would groups ga and gb (or -1) plus node (or -1) fit the kernel argument
 * budget? */
static bool fits_with(builder *b, int ga, int gb, int32_t node) {
  int32_t roots[FB_ROOTS_CAP];
  int n = 0;
  for (int k = 0; k < 2; k++) {
    int gi = k ? gb : ga;
    for (int i = 0; gi >= 0 && i < b->nroots[gi]; i++)
      add_root(group_roots(b, gi)[i], roots, &n, FB_ROOTS_CAP);
  }
  if (node >= 0) add_roots(b->g, node, roots, &n, FB_ROOTS_CAP);
  return n <= b->max_buffers;
}

static int group_new(builder *b, fuse_kind kind, int32_t root, gc_shape domain) {
  if (b->ngroups == b->cap) {
    int cap = b->cap ? b->cap * 2 : 64;
    fuse_group *gs = realloc(b->groups, sizeof *gs * (size_t)cap);
    int *st = realloc(b->stamp, sizeof *st * (size_t)cap);
    int32_t *rs = realloc(b->roots, sizeof *rs * (size_t)cap * FB_ROOTS_CAP);
    int *nr = realloc(b->nroots, sizeof *nr * (size_t)cap);
    if (gs) b->groups = gs;
    if (st) b->stamp = st;
    if (rs) b->roots = rs;
    if (nr) b->nroots = nr;
    if (!gs || !st || !rs || !nr) return -1;
    b->cap = cap;
  }
  b->nroots[b->ngroups] = 0;
  fuse_group *gr = &b->groups[b->ngroups];
  memset(gr, 0, sizeof *gr);
  gr->kind = kind;
  gr->root = root;
  gr->domain = domain;
  b->stamp[b->ngroups] = 0;
  return b->ngroups++;
}

static bool group_push(builder *b, int gi, int32_t node) {
  fuse_group *gr = &b->groups[gi];
  int32_t *nodes = realloc(gr->nodes, sizeof *nodes * (size_t)(gr->nnodes + 1));
  if (!nodes) return false;
  gr->nodes = nodes;
  gr->nodes[gr->nnodes++] = node;
  b->group_of[node] = gi;
  add_roots(b->g, node, group_roots(b, gi), &b->nroots[gi], FB_ROOTS_CAP);
  return true;
}

/* Does group from depend (transitively, through node predecessors) on
 * group target? Walks member nodes' predecessors' groups. */
static bool depends_on(builder *b, int from, int target) {
  if (from == target) return true;
  if (b->stamp[from] == b->epoch) return false;
  b->stamp[from] = b->epoch;
  const fuse_group *gr = &b->groups[from];
  for (int i = 0; i < gr->nnodes; i++) {
    int32_t v = gr->nodes[i];
    for (int e = b->deps.start[v]; e < b->deps.start[v + 1]; e++) {
      int h = b->group_of[b->deps.list[e]];
      if (h >= 0 && h != from && depends_on(b, h, target)) return true;
    }
  }
  return false;
}

int fb_value_group(const builder *b, int32_t x) { return b->group_of[ir_view_source(b->g, x)]; }

bool fb_can_join(builder *b, int32_t node, int gi) {
  if (!fits_with(b, gi, -1, node)) return false;
  b->epoch++;
  for (int e = b->deps.start[node]; e < b->deps.start[node + 1]; e++) {
    int h = fb_value_group(b, b->deps.list[e]);
    if (h >= 0 && h != gi && depends_on(b, h, gi)) return false;
  }
  return true;
}

static bool pooling(const ir_node *n) {
  return n->op == IR_OP_MAXPOOL2D || n->op == IR_OP_AVGPOOL2D || n->op == IR_OP_MAXPOOL2D_GRAD ||
         n->op == IR_OP_AVGPOOL2D_GRAD;
}

/* Try to put an elementwise node into one of its inputs' groups. */
static int pick_group(builder *b, int32_t id) {
  const ir_node *n = &b->g->nodes[id];
  for (int k = 0; k < n->nin; k++) {
    int gi = fb_value_group(b, n->in[k]);
    if (gi < 0) continue;
    const fuse_group *gr = &b->groups[gi];
    if (gr->kind == FUSE_REDUCE) {
      if (fb_row_member(b, gi, id) && fb_can_join(b, id, gi)) {
        b->role[id] = ROLE_ROW;
        return gi;
      }
      continue;
    }
    if (gr->kind != FUSE_ELEMWISE && gr->kind != FUSE_COMPLEX) continue;
    if (!ir_shape_eq(gr->domain, n->shape)) continue;
    /* the GEMM epilogues compute in float (their float8 stores too); a
     * pooling's store macro runs each member at its own type */
    if (gr->kind == FUSE_COMPLEX && n->dtype != GC_F32 && !pooling(&b->g->nodes[gr->root]))
      continue;
    if (fb_can_join(b, id, gi)) return gi;
  }
  return -1;
}

/* Every user of every node of group gi is in gi or is node r. */
static bool feeds_only(builder *b, int gi, int32_t r) {
  const fuse_group *gr = &b->groups[gi];
  for (int i = 0; i < gr->nnodes; i++) {
    int32_t v = gr->nodes[i];
    if (b->g->nodes[v].flags & (IR_F_OUTPUT | IR_F_LOSS)) return false;
    for (int u = 0; u < b->nusers[v]; u++)
      if (b->users[v][u] != r && b->group_of[b->users[v][u]] != gi) return false;
  }
  return true;
}

/* Whether a complex op (ops.def: matmul, conv and its gradients,
 * conv-transpose, pooling) takes an elementwise epilogue: where the
 * OpenCL kernel it runs as has one (backends/opencl/cl_codegen.c).
 * - conv2d and its input gradient (conv_transpose2d's forward) take one in
 *   both their forms: the implicit GEMMs (groups 1, 2-D; cl_conv.c), whose
 *   stores take it as a matmul's do, and the direct kernels (grouped, 3-D,
 *   GRAPHC_CONV_DIRECT=1; cl_nn_ops.c), which store through a macro.
 * - The weight gradient takes one as an implicit GEMM only (the conditions
 *   of cl_conv_gemm_applies; not with GRAPHC_CONV_DIRECT set).
 * - Pooling and its gradients store each element through the macro.
 * All of them f32. Otherwise the op gets a kernel of its own. */
static bool takes_epilogue(const ir_graph *g, const ir_node *n) {
  if (n->op == IR_OP_MATMUL) return true;
  if (n->dtype != GC_F32 || gc_shape_numel(n->shape) >= INT32_MAX / 2) return false;
  switch (n->op) {
    case IR_OP_MAXPOOL2D:
    case IR_OP_MAXPOOL2D_GRAD:
    case IR_OP_AVGPOOL2D:
    case IR_OP_AVGPOOL2D_GRAD:
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_GRAD_INPUT:
      return true;
    case IR_OP_CONV2D_GRAD_WEIGHT: {
      if (n->attr.win.groups > 1 || n->shape.ndim != 4) return false;
      const char *env = getenv("GRAPHC_CONV_DIRECT");
      if (env && *env && *env != '0') return false;
      for (int k = 0; k < 2; k++)
        if (gc_shape_numel(g->nodes[n->in[k]].shape) >= INT32_MAX / 2) return false;
      return true;
    }
    default:
      return false;
  }
}

/* An in-place update (param -= f(grad)) joins the matmul or reduction
 * group that computes its gradient as the epilogue, so the gradient never
 * reaches memory: when grad is the matmul's root, or a reduction or per-row
 * value of a reduce group, has no other reader, covers the same elements,
 * and nothing in the group reads the updated storage (the update would
 * race with that read) — except per-row members of a reduce group reading
 * it at the element being updated (a running mean's old value), which run
 * before the update in the same work-item. Returns the group or -1. */
int fb_update_epilogue(builder *b, int32_t id) {
  const ir_graph *g = b->g;
  const ir_node *nd = &g->nodes[id];
  /* an apply's input 1 is optimizer state, not a gradient */
  if (!ir_is_update(nd) || ir_is_update_apply(nd)) return -1;
  int32_t x = ir_view_source(g, nd->in[1]);
  int gi = b->group_of[x];
  if (gi < 0) return -1;
  const fuse_group *gr = &b->groups[gi];
  bool in_reduce = gr->kind == FUSE_REDUCE &&
                   (ir_ops[g->nodes[x].op].fusion == IR_FUSE_REDUCE || b->role[x] == ROLE_ROW);
  if (!in_reduce && (gr->kind != FUSE_COMPLEX || gr->root != x)) return -1;
  /* a conv's GEMM walks [N, O, P]: its epilogue has no update indexing */
  if (gr->kind == FUSE_COMPLEX && g->nodes[x].op != IR_OP_MATMUL) return -1;
  /* Adam into a GEMM only where the codegen runs it as vector code on eight
   * results at once (a 2-D product at least 8 wide, not transposed on both
   * sides; backends/opencl/cl_codegen.c): as NR scalar copies per register
   * tile, its sqrt and divides cost more than a separate vectorized update
   * (MLP dW1 on PoCL: 3.96 ms fused vs 0.47 + 1.23 ms apart). Reductions
   * run 64 work-items per group and take it well. */
  if (gr->kind == FUSE_COMPLEX && nd->op == IR_OP_ADAM_UPDATE) {
    const ir_node *mm = &g->nodes[x];
    if (mm->shape.ndim != 2 || mm->shape.dim[1] < 8 || (mm->attr.trans_a && mm->attr.trans_b))
      return -1;
  }
  /* the gradient's only reader is the update (through one view at most) */
  int32_t v = nd->in[1];
  if (gc_shape_numel(g->nodes[x].shape) != gc_shape_numel(nd->shape) || b->nusers[x] != 1 ||
      b->users[x][0] != (v == x ? id : v) || (g->nodes[x].flags & (IR_F_OUTPUT | IR_F_LOSS)) ||
      (v != x && (g->nodes[v].in[0] != x || b->nusers[v] != 1 || b->users[v][0] != id ||
                  (g->nodes[v].flags & (IR_F_OUTPUT | IR_F_LOSS)))))
    return -1;
  if (in_reduce && gc_shape_numel(nd->shape) != fb_reduce_rows(b, gi)) return -1;
  for (int k = 0; k < gr->nnodes; k++) {
    const ir_node *m = &g->nodes[gr->nodes[k]];
    if (ir_is_update(m) && gr->kind != FUSE_REDUCE) return -1;
    for (int i = 0; i < m->nin; i++)
      for (int j = 0; j < nd->nin; j++) {
        if (j == 1 || ir_storage_root(g, m->in[i]) != ir_storage_root(g, nd->in[j])) continue;
        bool same_element = in_reduce && j == 0 && b->role[gr->nodes[k]] == ROLE_ROW &&
                            gc_shape_numel(g->nodes[m->in[i]].shape) == gc_shape_numel(nd->shape);
        if (!same_element) return -1;
      }
    /* and no update already in the group writes what this one reads */
    if (ir_is_update(m))
      for (int j = 0; j < nd->nin; j++)
        if (fb_update_writes(g, gr->nodes[k], ir_storage_root(g, nd->in[j]))) return -1;
  }
  return fb_can_join(b, id, gi) ? gi : -1;
}

/* Does update u write storage root (its target or optimizer state)? */
bool fb_update_writes(const ir_graph *g, int32_t u, int32_t root) {
  const ir_node *n = &g->nodes[u];
  for (int k = 0; k < n->nin; k++)
    if (ir_update_writes_input(n, k) && ir_storage_root(g, n->in[k]) == root) return true;
  return false;
}

/* Updates in one kernel run concurrently: none may write what another
 * reads or writes (two assign_adds to one parameter, or one updating the
 * other's delta). */
static bool independent_updates(const ir_graph *g, const fuse_group *lead, int32_t u) {
  for (int i = 0; i < lead->nnodes; i++) {
    int32_t l = lead->nodes[i];
    const ir_node *un = &g->nodes[u], *ln = &g->nodes[l];
    for (int k = 0; k < un->nin; k++)
      if (fb_update_writes(g, l, ir_storage_root(g, un->in[k]))) return false;
    for (int k = 0; k < ln->nin; k++)
      if (fb_update_writes(g, u, ir_storage_root(g, ln->in[k]))) return false;
  }
  return true;
}

/* The updates left standalone (their gradient was not a matmul or
 * reduction root) of one kind — same op, same hyper-parameter input and
 * constants — become ONE multi-tensor kernel, within the argument budget
 * and only when they touch disjoint storage. Nothing reads an update but
 * an apply its first half (adam_moments, sgd_velocity:
 * passes/split_updates.c), and nothing reads an apply: a merged group of
 * applies is a sink and a merged group of first halves feeds only
 * applies, so merging cannot create a cycle. */
static bool merge_updates(builder *b) {
  const ir_graph *g = b->g;
  for (int gi = 0; gi < b->ngroups; gi++) {
    fuse_group *gr = &b->groups[gi];
    if (gr->kind != FUSE_SINGLE || gr->nnodes != 1 || !ir_is_update(&g->nodes[gr->root])) continue;
    const ir_node *u = &g->nodes[gr->root];
    for (int li = 0; li < gi; li++) {
      fuse_group *lead = &b->groups[li];
      if (lead->kind != FUSE_SINGLE || !ir_is_update(&g->nodes[lead->root])) continue;
      const ir_node *l = &g->nodes[lead->root];
      if (l->op != u->op || l->in[l->nin - 1] != u->in[u->nin - 1] ||
          memcmp(l->attr.f, u->attr.f, sizeof l->attr.f) || !fits_with(b, li, -1, gr->root) ||
          !independent_updates(g, lead, gr->root))
        continue;
      if (!group_push(b, li, gr->root)) return false;
      gr->kind = FUSE_NONE; /* an empty group: no kernel */
      gr->nnodes = 0;
      b->nroots[gi] = 0;
      break;
    }
  }
  return true;
}

bool fb_fits_pair(builder *b, int ga, int gb) { return fits_with(b, ga, gb, -1); }

/* Does a movement member of group gi read a node of group gj (or of gi)?
 * It reads at other indices than the one the work-item computes, so that
 * value must come from memory written by an earlier kernel. */
bool fb_movement_reads(builder *b, int gi, int gj) {
  const fuse_group *gr = &b->groups[gi];
  for (int i = 0; i < gr->nnodes; i++) {
    const ir_node *nd = &b->g->nodes[gr->nodes[i]];
    if (ir_ops[nd->op].fusion != IR_FUSE_INJECTIVE) continue;
    for (int k = 0; k < nd->nin; k++) {
      int h = fb_value_group(b, nd->in[k]);
      if ((h == gi || h == gj) &&
          !(ir_ops[b->g->nodes[ir_view_source(b->g, nd->in[k])].op].props & IR_P_LEAF))
        return true;
    }
  }
  return false;
}

/* Does any member of group from read (directly, or through a third group)
 * group target? Only the paths through a third group matter to a merge of
 * the two: a direct read becomes a register. */
bool fb_reaches_through_other(builder *b, int from, int target) {
  b->epoch++;
  const fuse_group *gr = &b->groups[from];
  for (int i = 0; i < gr->nnodes; i++) {
    int32_t v = gr->nodes[i];
    for (int e = b->deps.start[v]; e < b->deps.start[v + 1]; e++) {
      int h = fb_value_group(b, b->deps.list[e]);
      if (h >= 0 && h != from && h != target && depends_on(b, h, target)) return true;
    }
  }
  return false;
}

bool fb_merge_groups(builder *b, int ga, int gb, const int *pos) {
  fuse_group *A = &b->groups[ga], *B = &b->groups[gb];
  int32_t *nodes = malloc(sizeof *nodes * (size_t)(A->nnodes + B->nnodes));
  if (!nodes) return false;
  int n = 0, ia = 0, ib = 0;
  while (ia < A->nnodes || ib < B->nnodes)
    nodes[n++] = ib >= B->nnodes || (ia < A->nnodes && pos[A->nodes[ia]] < pos[B->nodes[ib]])
                     ? A->nodes[ia++]
                     : B->nodes[ib++];
  for (int k = 0; k < B->nnodes; k++) b->group_of[B->nodes[k]] = ga;
  for (int i = 0; i < b->nroots[gb]; i++)
    add_root(group_roots(b, gb)[i], group_roots(b, ga), &b->nroots[ga], FB_ROOTS_CAP);
  b->nroots[gb] = 0;
  free(A->nodes);
  A->nodes = nodes;
  A->nnodes = n;
  if (A->kind == FUSE_ELEMWISE) A->root = nodes[n - 1];
  free(B->nodes);
  B->nodes = NULL;
  B->nnodes = 0;
  B->kind = FUSE_NONE; /* an empty group: no kernel */
  return true;
}

/* Merges two elementwise groups over the same domain where one reads the
 * other, so a chain that the walk split — typically because a movement op
 * (a slice of a stored tensor: an LSTM's four gates cut from one matmul
 * result) had to start a group of its own — becomes one kernel, and the
 * values passed between the two stay in registers. Movement members read
 * stored tensors at computed indices, so each still reads memory written
 * by an earlier kernel; a merge that would let one read a value of the
 * merged group itself is refused, and so is one that closes a cycle
 * through a third group. pos gives each node's place in the schedule, to
 * keep members in order. */
static bool chain_joinable(builder *b, int ga, int gb) {
  const fuse_group *A = &b->groups[ga], *B = &b->groups[gb];
  return ga != gb && A->kind == FUSE_ELEMWISE && B->kind == FUSE_ELEMWISE && A->nnodes > 0 &&
         B->nnodes > 0 && ir_shape_eq(A->domain, B->domain) && !fb_movement_reads(b, gb, ga) &&
         !fb_movement_reads(b, ga, gb) && fb_fits_pair(b, ga, gb) &&
         !fb_reaches_through_other(b, gb, ga) && !fb_reaches_through_other(b, ga, gb);
}

int fb_chain_join(builder *b, int ga, int gb, const int *pos) {
  if (!chain_joinable(b, ga, gb)) return 0;
  return fb_merge_groups(b, ga, gb, pos) ? 1 : -1;
}

static bool merge_elementwise(builder *b, const int *pos) {
  for (bool changed = true; changed;) {
    changed = false;
    for (int gb = 0; gb < b->ngroups; gb++) {
      fuse_group *B = &b->groups[gb];
      int ga = -1;
      for (int i = 0; B->kind == FUSE_ELEMWISE && i < B->nnodes && ga < 0; i++) {
        int32_t v = B->nodes[i];
        for (int e = b->deps.start[v]; e < b->deps.start[v + 1] && ga < 0; e++) {
          int h = b->group_of[b->deps.list[e]];
          if (h >= 0 && chain_joinable(b, h, gb)) ga = h;
        }
      }
      if (ga < 0) continue;
      if (!fb_merge_groups(b, ga, gb, pos)) return false;
      changed = true;
    }
  }
  return true;
}

/* Must node i be stored, ignoring its reader `except`? When something
 * outside its group reads it, when it is an output or persistent, when a
 * movement op reads it (at other indices), or when its kernel is a single
 * op's. */
static bool stored(builder *b, int32_t i, int32_t except) {
  const ir_node *nd = &b->g->nodes[i];
  if ((ir_ops[nd->op].props & (IR_P_LEAF | IR_P_VIEW | IR_P_INPLACE)) ||
      (nd->flags & (IR_F_OUTPUT | IR_F_LOSS)) || b->groups[b->group_of[i]].kind == FUSE_SINGLE)
    return true;
  for (int u = 0; u < b->nusers[i]; u++) {
    int32_t user = b->users[i][u];
    if (user == except) continue;
    if (b->group_of[user] != b->group_of[i]) return true;
    /* a movement member reads at other indices: from memory, unless i is
     * evaluated at those indices, or the member is a concat stored piece
     * by piece, which reads i at the domain index (fuse_movement.c) */
    if (ir_ops[b->g->nodes[user].op].fusion == IR_FUSE_INJECTIVE && b->role[i] != ROLE_AT_INDEX &&
        b->role[user] != ROLE_PIECES)
      return true;
  }
  return false;
}

/* Cheap: an expression without transcendental or other library calls
 * (exp, log, tanh, erf, pow, sqrt...), so recomputing it per reader costs
 * less than a tensor's store and load. */
bool fb_is_cheap(const ir_node *n) {
  const char *e = ir_ops[n->op].cl_expr;
  if (!e) return false;
  static const char *const costly[] = {"exp", "log", "tan", "erf", "pow", "sqrt", "sin", "cos"};
  for (size_t k = 0; k < sizeof costly / sizeof costly[0]; k++)
    if (strstr(e, costly[k])) return false;
  return true;
}

/* Is x a slice of a persistent tensor (a leaf, or a view of one) in e's
 * group, read by e alone? e's readers then read the leaf at the slice's
 * coordinates, an affine read (backends/opencl/cl_codegen.c), so the
 * slice is recomputed with e: ONNX's RNNs sum their bias from two slices
 * of B, which the gate product's epilogue reads. */
static bool slice_of_leaf(const builder *b, int32_t x, int32_t e) {
  const ir_graph *g = b->g;
  const ir_node *xn = &g->nodes[x];
  if (xn->op != IR_OP_SLICE || b->group_of[x] != b->group_of[e] || b->nusers[x] != 1 ||
      b->users[x][0] != e || (xn->flags & (IR_F_OUTPUT | IR_F_LOSS)))
    return false;
  int32_t root = ir_storage_root(g, xn->in[0]);
  return (ir_ops[g->nodes[root].op].props & IR_P_LEAF) && !fb_storage_rewritten(b, root, e);
}

/* Cheap producers are recomputed rather than stored: an elementwise node
 * whose every reader is in other kernels that evaluate operands as
 * expressions (elementwise members, epilogues, reduction inputs), and
 * whose own inputs are stored anyway (or are slices of a parameter or an
 * input, which go with it: slice_of_leaf), costs a few flops per reader but
 * saves a tensor's memory and its write and read. (The ReLU mask
 * step(relu(x)) of a training step is the typical case: relu(x) is kept
 * for the weight gradient anyway.) The node stays in its group, so kernel
 * dependencies are unchanged; it is just no longer stored there. */
static bool recompute(builder *b, int32_t e, const fuse_plan *f, bool second) {
  const ir_graph *g = b->g;
  const ir_node *nd = &g->nodes[e];
  if (!ir_is_elementwise(nd) || !fb_is_cheap(nd) || !f->materialized[e] ||
      (nd->flags & (IR_F_OUTPUT | IR_F_LOSS)) || b->nusers[e] == 0)
    return false;
  int gi = b->group_of[e];
  if (b->groups[gi].kind != FUSE_ELEMWISE && b->groups[gi].kind != FUSE_COMPLEX) return false;
  for (int u = 0; u < b->nusers[e]; u++) {
    int32_t user = b->users[e][u];
    const fuse_group *ug = &b->groups[b->group_of[user]];
    if (b->group_of[user] == gi) {
      /* a group-mate recomputed by its own readers takes e along in its
       * expression (the second round of recompute_all) */
      if (f->inlined[user]) continue;
      return false;
    }
    bool as_expression =
        (ug->kind == FUSE_ELEMWISE && ir_is_elementwise(&g->nodes[user])) ||
        (ug->kind == FUSE_COMPLEX && user != ug->root && ir_is_elementwise(&g->nodes[user])) ||
        (ug->kind == FUSE_REDUCE && (ir_ops[g->nodes[user].op].fusion == IR_FUSE_REDUCE ||
                                     ir_is_elementwise(&g->nodes[user])));
    if (!as_expression) return false;
  }
  for (int k = 0; k < nd->nin; k++) {
    int32_t x = nd->in[k];
    if (slice_of_leaf(b, x, e)) continue; /* recomputed along */
    /* x must stay stored without e reading it. In the second round an x
     * of another kernel that is stored anyway qualifies too (mean, read
     * only by d = x - mean): its readers then read it where e was read,
     * and the plan extends its life to them. */
    if (f->inlined[x] ||
        (!stored(b, x, e) && !(second && f->materialized[x] && b->group_of[x] != gi)))
      return false;
    /* readers run later than e would: an in-place writer of x's storage
     * could run in between (the schedule only orders it after e) */
    if (fb_storage_rewritten(b, ir_storage_root(g, x), e)) return false;
  }
  return true;
}

bool fb_storage_rewritten(const builder *b, int32_t root, int32_t except) {
  const ir_graph *g = b->g;
  for (int w = 0; w < g->n; w++)
    if ((ir_ops[g->nodes[w].op].props & IR_P_INPLACE) && w != except &&
        (ir_storage_root(g, g->nodes[w].in[0]) == root ||
         (ir_is_update(&g->nodes[w]) && fb_update_writes(g, w, root))))
      return true;
  return false;
}

/* The gradient of a cross-entropy joins the loss's kernel, which then
 * computes both in one pass over the logits (one work-group: the loss's
 * mean is summed there, backends/opencl/cl_single.c). Returns the group
 * or -1. */
static int cross_entropy_pair(builder *b, int32_t id) {
  const ir_graph *g = b->g;
  const ir_node *nd = &g->nodes[id];
  if (nd->op != IR_OP_CROSS_ENTROPY_GRAD) return -1;
  for (int gi = 0; gi < b->ngroups; gi++) {
    const fuse_group *gr = &b->groups[gi];
    if (gr->kind != FUSE_SINGLE || gr->nnodes != 1) continue;
    const ir_node *loss = &g->nodes[gr->root];
    if (loss->op == IR_OP_CROSS_ENTROPY && loss->in[0] == nd->in[0] && loss->in[1] == nd->in[1] &&
        fb_can_join(b, id, gi))
      return gi;
  }
  return -1;
}

/* Is input k of n the first of n's inputs to read that value? */
static bool first_read(const ir_node *n, int k) {
  for (int j = 0; j < k; j++)
    if (n->in[j] == n->in[k]) return false;
  return true;
}

/* Every node's readers, each once, in id order (as ir_users gives them),
 * in one sweep over the graph: ir_users per node scans the whole graph,
 * which made fusing a 20,000-node chain take seconds. */
static bool users_build(const ir_graph *g, int32_t **users, int *nusers) {
  for (int i = 0; i < g->n; i++)
    for (int k = 0; k < g->nodes[i].nin; k++)
      if (first_read(&g->nodes[i], k)) nusers[g->nodes[i].in[k]]++;
  for (int i = 0; i < g->n; i++) {
    users[i] = malloc(sizeof **users * (size_t)(nusers[i] ? nusers[i] : 1));
    if (!users[i]) return false;
    nusers[i] = 0;
  }
  for (int i = 0; i < g->n; i++)
    for (int k = 0; k < g->nodes[i].nin; k++) {
      int32_t x = g->nodes[i].in[k];
      if (first_read(&g->nodes[i], k)) users[x][nusers[x]++] = i;
    }
  return true;
}

gc_status pass_fuse(const ir_graph *g, const int32_t *order, bool no_fuse, int max_buffers,
                    fuse_plan *out) {
  memset(out, 0, sizeof *out);
  int n = g->n;
  builder b = {0};
  b.g = g;
  b.max_buffers =
      max_buffers > 0 && max_buffers < MAX_KERNEL_BUFFERS ? max_buffers : MAX_KERNEL_BUFFERS;
  b.group_of = malloc(sizeof *b.group_of * (size_t)(n ? n : 1));
  int32_t **users = calloc((size_t)(n ? n : 1), sizeof *users);
  int *nusers = calloc((size_t)(n ? n : 1), sizeof *nusers);
  b.role = calloc((size_t)(n ? n : 1), sizeof *b.role);
  b.users = users;
  b.nusers = nusers;
  gc_status st = GC_OK;
  if (!b.group_of || !users || !nusers || !b.role) {
    st = gc_fail(GC_ERR_NOMEM, "fuse: out of memory");
    goto done;
  }
  if ((st = sched_deps_build(g, &b.deps))) goto done;
  for (int i = 0; i < n; i++) b.group_of[i] = -1;
  if (!users_build(g, users, nusers)) {
    st = gc_fail(GC_ERR_NOMEM, "fuse: out of memory");
    goto done;
  }
  for (int oi = 0; oi < n; oi++) {
    int32_t id = order[oi];
    const ir_node *nd = &g->nodes[id];
    const ir_op_info *info = &ir_ops[nd->op];
    int gi = -1;
    if (info->props & (IR_P_LEAF | IR_P_VIEW)) {
      gi = group_new(&b, FUSE_NONE, id, nd->shape);
    } else if (ir_is_elementwise(nd)) {
      if (!no_fuse) gi = pick_group(&b, id);
      if (gi < 0)
        gi = group_new(&b, FUSE_ELEMWISE, id, nd->shape);
      else
        b.groups[gi].root = b.groups[gi].kind == FUSE_ELEMWISE ? id : b.groups[gi].root;
    } else if (info->fusion == IR_FUSE_INJECTIVE) {
      gi = group_new(&b, FUSE_ELEMWISE, id, nd->shape);
    } else if (info->fusion == IR_FUSE_REDUCE) {
      int32_t x = nd->in[0];
      int pg = b.group_of[x];
      if (!no_fuse && pg >= 0 && b.groups[pg].kind == FUSE_ELEMWISE &&
          ir_shape_eq(b.groups[pg].domain, g->nodes[x].shape) && b.groups[pg].nnodes > 0 &&
          ir_ops[g->nodes[b.groups[pg].nodes[0]].op].fusion != IR_FUSE_INJECTIVE &&
          feeds_only(&b, pg, id) && fb_can_join(&b, id, pg)) {
        gi = pg; /* the prologue group becomes this reduction's group */
        for (int k = 0; k < b.groups[gi].nnodes; k++) b.role[b.groups[gi].nodes[k]] = ROLE_LOOP;
        b.groups[gi].kind = FUSE_REDUCE;
        b.groups[gi].root = id;
      } else {
        gi = group_new(&b, FUSE_REDUCE, id, g->nodes[x].shape);
      }
    } else if (!no_fuse && (gi = cross_entropy_pair(&b, id)) >= 0) {
      /* forward and backward of the loss in one kernel */
    } else if (!no_fuse && (gi = fb_update_epilogue(&b, id)) >= 0) {
      /* the gradient is consumed where it is computed */
    } else if (info->fusion == IR_FUSE_COMPLEX &&
               (nd->op == IR_OP_MATMUL || (!no_fuse && takes_epilogue(g, nd)))) {
      gi = group_new(&b, FUSE_COMPLEX, id, nd->shape);
    } else {
      gi = group_new(&b, FUSE_SINGLE, id, nd->shape);
    }
    if (gi < 0 || !group_push(&b, gi, id)) {
      st = gc_fail(GC_ERR_NOMEM, "fuse: out of memory");
      goto done;
    }
  }
  if (!no_fuse) {
    int *pos = malloc(sizeof *pos * (size_t)(n ? n : 1));
    int postdom_joins = 0;
    bool ok = pos != NULL;
    for (int oi = 0; ok && oi < n; oi++) pos[order[oi]] = oi;
    /* reductions first (layer norm's mean, var and output become one
     * kernel before its elementwise parts could merge elsewhere), then
     * elementwise chains, then reductions again over the merged chains */
    ok = ok && fb_merge_reductions(&b, pos) && merge_elementwise(&b, pos) &&
         fb_merge_reductions(&b, pos) && merge_updates(&b) &&
         fb_fuse_postdom(&b, pos, &postdom_joins) && fb_store_concats(&b, pos) &&
         fb_pool_siblings(&b, pos);
    free(pos);
    out->postdom_joins = postdom_joins;
    if (!ok) {
      st = gc_fail(GC_ERR_NOMEM, "fuse: out of memory");
      goto done;
    }
  }
  /* Materialization. */
  out->materialized = calloc((size_t)(n ? n : 1), sizeof *out->materialized);
  out->inlined = calloc((size_t)(n ? n : 1), sizeof *out->inlined);
  if (!out->materialized || !out->inlined) {
    st = gc_fail(GC_ERR_NOMEM, "fuse: out of memory");
    goto done;
  }
  for (int i = 0; i < n; i++) out->materialized[i] = stored(&b, i, -1);
  /* Two rounds: the second recomputes a producer whose only group-mate
   * reader the first made recomputed (layer norm's d = x - mean, read by
   * (d * d) inside var's reduction and by the output), so a kernel that
   * would only store d disappears; chains stay two deep at most. */
  for (int round = 0; !no_fuse && round < 2; round++)
    for (int oi = 0; oi < n; oi++)
      if (!out->inlined[order[oi]] && recompute(&b, order[oi], out, round > 0)) {
        int32_t e = order[oi];
        out->inlined[e] = true;
        out->materialized[e] = false;
        for (int k = 0; k < g->nodes[e].nin; k++)
          if (slice_of_leaf(&b, g->nodes[e].in[k], e)) {
            out->inlined[g->nodes[e].in[k]] = true;
            out->materialized[g->nodes[e].in[k]] = false;
          }
      }
  /* an elementwise group whose every member is recomputed by its readers
   * has nothing left to compute: no kernel */
  for (int gi = 0; !no_fuse && gi < b.ngroups; gi++) {
    fuse_group *gr = &b.groups[gi];
    bool all = gr->kind == FUSE_ELEMWISE && gr->nnodes > 0;
    for (int k = 0; all && k < gr->nnodes; k++) all = out->inlined[gr->nodes[k]];
    if (all) gr->kind = FUSE_NONE;
  }
  /* the plan owns the groups from here; fuse_order_groups sorts them */
  out->groups = b.groups;
  out->ngroups = b.ngroups;
  out->group_of = b.group_of;
  out->role = b.role;
  b.role = NULL;
  b.groups = NULL;
  b.ngroups = 0;
  b.group_of = NULL;
  st = fuse_order_groups(g, &b.deps, out);
done:
  for (int i = 0; users && i < n; i++) free(users[i]);
  free(users);
  free(nusers);
  sched_deps_free(&b.deps);
  free(b.stamp);
  free(b.roots);
  free(b.nroots);
  free(b.role);
  if (st) {
    for (int i = 0; i < b.ngroups; i++) free(b.groups[i].nodes);
    free(b.groups);
    free(b.group_of);
    fuse_plan_free(out);
  }
  return st;
}

const char *fuse_kind_name(fuse_kind k) {
  static const char *const names[] = {"none", "elementwise", "reduce", "complex", "single"};
  return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

void fuse_plan_free(fuse_plan *p) {
  if (!p) return;
  for (int i = 0; i < p->ngroups; i++) free(p->groups[i].nodes);
  free(p->groups);
  free(p->group_of);
  free(p->materialized);
  free(p->inlined);
  free(p->role);
  memset(p, 0, sizeof *p);
}
