/* fuse_broadcast.c — a small elementwise kernel read only by one larger
 * elementwise kernel, through broadcasting, joins it: TVM's rule fuses a
 * broadcast producer into the elementwise op that post-dominates it, and
 * fuse_postdom.c offers each group to its post-dominator; this is the
 * kernel form for a producer read through broadcasting.
 *
 * Batch norm in inference is the case: scale = gamma / sqrt(var + eps) is
 * computed per channel, [C, 1, 1], and read by (x - mean) * scale + beta
 * over [N, C, H, W]. Kept apart, it is a kernel of its own and a stored
 * tensor (the one kernel passes/postdom.c still found TVM's rule would
 * fuse, in 7 ONNX models). Joined, each work-item evaluates the producer
 * at its index, as broadcasting says: per element in the GPU form, which
 * costs a GPU nothing next to a launch; once per row in the CPU form,
 * whose work-items walk rows of the domain's inner dims
 * (backends/opencl/cl_codegen.c evaluates the members constant along the
 * row before the row's loop). So the rule takes only producers constant
 * along the consumer's last dim — those the CPU form evaluates once per
 * row at most — and recomputes nothing per element there.
 *
 * Conditions: both groups elementwise; the producer's members all plain
 * elementwise ops (no movement), none an output or read outside the two
 * groups, through a view or by a member the consumer evaluates at other
 * coordinates; its domain smaller than the consumer's,
 * broadcasting into it with extent 1 in the last dim; no movement member
 * of the consumer reads it; the argument budget holds; and no path
 * between the two runs through a third kernel (that would be a cycle). */
#include "passes/fuse_builder.h"

/* Does shape s broadcast into dom (right-aligned, extents 1 or equal) and
 * have extent 1 in dom's last dim? */
static bool row_constant_broadcast(gc_shape s, gc_shape dom) {
  if (s.ndim > dom.ndim || dom.ndim == 0) return false;
  for (int k = 1; k <= s.ndim; k++) {
    int64_t e = s.dim[s.ndim - k];
    if (e != 1 && e != dom.dim[dom.ndim - k]) return false;
  }
  return s.ndim == 0 || s.dim[s.ndim - 1] == 1;
}

/* The one group other than ga reading ga's members, if every reader
 * outside ga is a direct (not view) reader in that group evaluated at the
 * domain index (not one evaluated at a movement member's coordinates,
 * fuse_movement.c, which would then read the producer's register, computed
 * at the domain index); else -1. */
static int only_reader_group(const builder *b, int ga) {
  const fuse_group *A = &b->groups[ga];
  int gb = -1;
  for (int i = 0; i < A->nnodes; i++) {
    int32_t v = A->nodes[i];
    for (int u = 0; u < b->nusers[v]; u++) {
      int32_t user = b->users[v][u];
      int h = b->group_of[user];
      if (h == ga) continue;
      if ((ir_ops[b->g->nodes[user].op].props & IR_P_VIEW) || b->role[user] != ROLE_PLAIN)
        return -1;
      if (gb >= 0 && h != gb) return -1;
      gb = h;
    }
  }
  return gb;
}

static bool joinable_producer(const builder *b, int ga) {
  const fuse_group *A = &b->groups[ga];
  if (A->kind != FUSE_ELEMWISE || A->nnodes == 0) return false;
  for (int i = 0; i < A->nnodes; i++) {
    const ir_node *n = &b->g->nodes[A->nodes[i]];
    if (!ir_is_elementwise(n) || b->role[A->nodes[i]] != ROLE_PLAIN ||
        (n->flags & (IR_F_OUTPUT | IR_F_LOSS)))
      return false;
  }
  return true;
}

int fb_broadcast_join(builder *b, int ga, int gb, const int *pos) {
  if (!joinable_producer(b, ga) || only_reader_group(b, ga) != gb) return 0;
  const fuse_group *A = &b->groups[ga], *B = &b->groups[gb];
  if (B->kind != FUSE_ELEMWISE || gc_shape_numel(A->domain) >= gc_shape_numel(B->domain) ||
      !row_constant_broadcast(A->domain, B->domain) || fb_movement_reads(b, gb, ga) ||
      !fb_fits_pair(b, ga, gb) || fb_reaches_through_other(b, gb, ga) ||
      fb_reaches_through_other(b, ga, gb))
    return 0;
  /* the consumer keeps its domain: merge the producer into it */
  return fb_merge_groups(b, gb, ga, pos) ? 1 : -1;
}
