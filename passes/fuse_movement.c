/* fuse_movement.c — producers evaluated inside the movement kernel that
 * reads them. TVM fuses a node into its post-dominator when every path
 * between the two runs through injective ops or simpler; the walk of
 * fuse.c does that for elementwise chains, epilogues and prologues, but a
 * movement op (slice, pad, concat, transpose, tile, gather) reads its
 * input at other indices than the element its work-item computes, so it
 * has always started a kernel of its own reading that input from memory:
 * pad(relu(x)) or concat(tanh(a), sigmoid(b)) stored the producers and
 * loaded them again, and a chain of movement ops launched once per op.
 *
 * Here an elementwise group G whose every value read elsewhere is read
 * only by movement members of one other elementwise group P — P's kernel
 * is G's immediate post-dominator, with nothing but movement reads
 * between them — moves into P, its members marked ROLE_AT_INDEX: the code
 * generator evaluates them inside each movement read, at the coordinates
 * the movement op computes, and G's kernel and stored values disappear.
 * fuse_postdom.c offers each group to its post-dominator, consumers
 * first, until nothing moves, so a chain of movement ops (slice of a pad
 * of an elementwise result) collapses into the last kernel, as TVM's
 * repeated post-dominator fusion does.
 *
 * Cost: a movement op may read an element of its input several times
 * (tile, gather, reflect and edge padding) or read it from several
 * members (concat(y, y)); G is then recomputed per read, which pays only
 * when G is cheap (no exp, log, sqrt, ...: fb_is_cheap). A G with costly
 * members moves only into one read of an op that reads each input element
 * at most once (slice, constant pad, concat, transpose, slice_grad). */
#include <stdint.h>
#include <stdlib.h>

#include "passes/fuse_builder.h"

/* Does movement op m read its input k at coordinates computed from its
 * own element: its data, and the index tensor of a gather or one_hot
 * (whose arithmetic, an ONNX GatherElements' or NLLLoss's flattened
 * index, is evaluated where the index is read)? */
static bool reads_data_at_index(const ir_node *m, int k) {
  switch (m->op) {
    case IR_OP_TRANSPOSE:
    case IR_OP_SLICE:
    case IR_OP_SLICE_GRAD:
    case IR_OP_PAD:
    case IR_OP_TILE:
    case IR_OP_ONE_HOT:
      return k == 0;
    case IR_OP_GATHER:
      return k == 0 || k == 1;
    case IR_OP_CONCAT:
      return true;
    default:
      return false;
  }
}

/* Does movement op m read every element of its data inputs at most once? */
static bool reads_once(const ir_node *m) {
  switch (m->op) {
    case IR_OP_TRANSPOSE:
    case IR_OP_SLICE:
    case IR_OP_SLICE_GRAD:
    case IR_OP_CONCAT:
      return true;
    case IR_OP_PAD:
      return m->attr.mode == GC_PAD_CONSTANT;
    default:
      return false;
  }
}

/* Is every member of group gi cheap to recompute per read? */
static bool group_cheap(const builder *b, int gi) {
  const fuse_group *gr = &b->groups[gi];
  for (int k = 0; k < gr->nnodes; k++) {
    const ir_node *n = &b->g->nodes[gr->nodes[k]];
    if (ir_ops[n->op].fusion != IR_FUSE_INJECTIVE && !fb_is_cheap(n)) return false;
  }
  return true;
}

/* The group that may evaluate group gi at index, or -1: every read of a
 * member of gi from outside gi is a data read of a movement member of one
 * elementwise group P (reads counts them), no member is an output, and no
 * member writes in place. */
static int post_dominating_reader(const builder *b, int gi, int *reads, bool *all_once) {
  const fuse_group *gr = &b->groups[gi];
  int target = -1;
  *reads = 0;
  *all_once = true;
  for (int k = 0; k < gr->nnodes; k++) {
    int32_t v = gr->nodes[k];
    const ir_node *nd = &b->g->nodes[v];
    if ((nd->flags & (IR_F_OUTPUT | IR_F_LOSS)) || (ir_ops[nd->op].props & IR_P_INPLACE)) return -1;
    for (int u = 0; u < b->nusers[v]; u++) {
      int32_t user = b->users[v][u];
      int h = b->group_of[user];
      if (h == gi) continue;
      const ir_node *un = &b->g->nodes[user];
      if (h < 0 || b->groups[h].kind != FUSE_ELEMWISE || (target >= 0 && h != target) ||
          ir_ops[un->op].fusion != IR_FUSE_INJECTIVE)
        return -1;
      target = h;
      for (int i = 0; i < un->nin; i++) {
        if (un->in[i] != v) continue;
        if (!reads_data_at_index(un, i)) return -1;
        (*reads)++;
        *all_once = *all_once && reads_once(un);
      }
    }
  }
  return target;
}

/* Would evaluating gi's members later, in kernel P, move a read of
 * storage that an in-place writer (an optimizer update, assign_add)
 * rewrites in between? The schedule orders such writers after the
 * readers, not after P. */
static bool reads_rewritten_storage(const builder *b, int gi) {
  const ir_graph *g = b->g;
  const fuse_group *gr = &b->groups[gi];
  for (int k = 0; k < gr->nnodes; k++) {
    const ir_node *n = &g->nodes[gr->nodes[k]];
    for (int i = 0; i < n->nin; i++) {
      if (b->group_of[ir_view_source(g, n->in[i])] == gi) continue;
      if (fb_storage_rewritten(b, ir_storage_root(g, n->in[i]), -1)) return true;
    }
  }
  return false;
}

int fb_movement_join(builder *b, int gi, int p, const int *pos) {
  int reads;
  bool once;
  if (b->groups[gi].kind != FUSE_ELEMWISE || b->groups[gi].nnodes == 0 ||
      post_dominating_reader(b, gi, &reads, &once) != p || reads == 0)
    return 0;
  if (!group_cheap(b, gi) && !(reads == 1 && once)) return 0;
  if (!fb_fits_pair(b, p, gi) || fb_reaches_through_other(b, p, gi) ||
      reads_rewritten_storage(b, gi))
    return 0;
  const fuse_group *G = &b->groups[gi];
  for (int k = 0; k < G->nnodes; k++) b->role[G->nodes[k]] = ROLE_AT_INDEX;
  return fb_merge_groups(b, p, gi, pos) ? 1 : -1;
}

/* The reverse direction, for a concat: where every input has the shape of
 * the elementwise group computing (some of) them, that group's work-item
 * for a domain index holds one element of each input, and it can store
 * each at its place in the concat. The concat's own kernel, which would
 * load them all back, disappears, and the inputs computed in the group
 * need not be stored. (An LSTM's backward computes its four gate
 * gradients in one kernel; the concat that join_slice_grads.c makes of
 * their slice_grads is the [B, 4H] gradient of the gate product.) The
 * concat must be alone in its group, its other inputs may not depend on
 * the target group through a third one, and the pair must fit the kernel
 * argument budget. */
bool fb_store_concats(builder *b, const int *pos) {
  const ir_graph *g = b->g;
  for (int gc = 0; gc < b->ngroups; gc++) {
    const fuse_group *C = &b->groups[gc];
    if (C->kind != FUSE_ELEMWISE || C->nnodes != 1) continue;
    const ir_node *cn = &g->nodes[C->root];
    if (cn->op != IR_OP_CONCAT || cn->nin < 2) continue;
    const int h = fb_value_group(b, cn->in[0]);
    if (h < 0 || h == gc || b->groups[h].kind != FUSE_ELEMWISE || b->groups[h].nnodes == 0)
      continue;
    const gc_shape dom = b->groups[h].domain;
    bool ok = true;
    for (int k = 0; k < cn->nin && ok; k++) {
      int32_t x = cn->in[k], src = ir_view_source(g, x);
      ok = ir_shape_eq(g->nodes[x].shape, dom) &&
           !(b->group_of[src] == h &&
             (b->role[src] == ROLE_AT_INDEX || !ir_shape_eq(g->nodes[src].shape, dom)));
    }
    if (!ok || !fb_fits_pair(b, h, gc) || fb_reaches_through_other(b, gc, h)) continue;
    b->role[C->root] = ROLE_PIECES;
    if (!fb_merge_groups(b, h, gc, pos)) return false;
  }
  return true;
}
