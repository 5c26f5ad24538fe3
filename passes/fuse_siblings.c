/* fuse_siblings.c — a second result of a complex op's work, stored by
 * its kernel.
 *
 * Max pooling's gradient reads the indices of the forward's maxima
 * (maxpool2d_indices, passes/autodiff_nn.c), so that the pooling's input
 * can die with the forward instead of living until the backward, as
 * PyTorch saves them. Finding a window's maximum is the pooling's whole
 * work, and the index comes with it: on its own, the indices op would be
 * a second kernel reading the whole input again. Here a maxpool2d_indices
 * kernel moves into the kernel of the maxpool2d of the same input and
 * window (what autodiff always builds, and an ONNX MaxPool with both
 * outputs), as a ROLE_SIBLING member that the pooling kernel stores
 * beside its maxima (backends/opencl/cl_nn_ops.c). The sibling reads only
 * that input, which the pooling reads too; the move is refused where a
 * member of the pooling kernel reads the indices (the epilogue runs
 * before they are stored), where another of its inputs would depend on
 * them through a third kernel (a cycle), or where the pair would pass the
 * kernel argument budget. */
#include <string.h>

#include "passes/fuse_builder.h"

/* The complex group of a maxpool2d of node ix's input with its window,
 * or -1. */
static int pooling_group(const builder *b, const ir_node *ix) {
  const int32_t x = ix->in[0];
  for (int u = 0; u < b->nusers[x]; u++) {
    int32_t r = b->users[x][u];
    const ir_node *rn = &b->g->nodes[r];
    int h = b->group_of[r];
    if (rn->op == IR_OP_MAXPOOL2D && rn->in[0] == x &&
        !memcmp(&rn->attr.win, &ix->attr.win, sizeof rn->attr.win) && h >= 0 &&
        b->groups[h].kind == FUSE_COMPLEX && b->groups[h].root == r)
      return h;
  }
  return -1;
}

bool fb_pool_siblings(builder *b, const int *pos) {
  for (int gs = 0; gs < b->ngroups; gs++) {
    const fuse_group *S = &b->groups[gs];
    if (S->kind != FUSE_SINGLE || S->nnodes != 1) continue;
    const ir_node *ix = &b->g->nodes[S->root];
    if (ix->op != IR_OP_MAXPOOL2D_INDICES) continue;
    int gp = pooling_group(b, ix);
    /* a member of the pooling kernel reading the indices would see memory
     * not yet written: the kernel stores them after its epilogue */
    if (gp < 0 || fb_reads_group(b, gp, gs) || !fb_fits_pair(b, gp, gs) ||
        fb_reaches_through_other(b, gp, gs) || fb_reaches_through_other(b, gs, gp))
      continue;
    b->role[S->root] = ROLE_SIBLING;
    if (!fb_merge_groups(b, gp, gs, pos)) return false;
  }
  return true;
}
