/* postdom.c — TVM's fusion rule over the post-dominator tree, as a check
 * of a fusion plan.
 *
 * TVM (Chen et al., "TVM", OSDI 2018; relay's FuseOps) fuses a node into
 * its immediate post-dominator when every path between the two runs
 * through injective ops or simpler: elementwise and movement producers
 * into the elementwise consumer or reduction that post-dominates them, a
 * complex-out-fusable op (matmul, conv, pooling) into the elementwise ops
 * that post-dominate it (its epilogue). passes/fuse.c reaches its groups
 * by rules over direct readers (the walk, the merges, fuse_movement.c);
 * this pass builds the post-dominator tree of the fused kernels and
 * counts the kernels that TVM's rule would still fuse with their
 * immediate post-dominator: the kernel is elementwise (or complex) and
 * its post-dominator elementwise (or a reduction, for an elementwise
 * kernel), and every kernel on a path between them elementwise. The count
 * is a measure of what the direct-reader rules miss; compile reports it
 * (gc_program_stats.postdom_misses) and --dump-after=fuse lists them.
 *
 * The tree is over groups in launch order, which is topological: a
 * group's immediate post-dominator is the nearest common ancestor, in the
 * tree built so far from the last group back, of the groups reading it
 * (a virtual exit above the groups nobody reads). Paths are searched only
 * up to PATH_WINDOW groups apart, so the check stays linear on long
 * chains. */
#include <stdlib.h>

#include "passes/passes.h"

enum { PATH_WINDOW = 64 };

/* Readers of each group, CSR: rd[rd_start[h] .. rd_start[h + 1]) are the
 * distinct groups reading a value of h (through views, and through values
 * a reader recomputes from h's). */
typedef struct readers {
  int *rd, *rd_start;
} readers;

static void add_source(const ir_graph *g, const fuse_plan *f, int gi, int32_t x, int *seen,
                       int *src, int *n, int depth) {
  x = ir_view_source(g, x);
  if (f->inlined && f->inlined[x] && depth < 8) {
    for (int k = 0; k < g->nodes[x].nin; k++)
      add_source(g, f, gi, g->nodes[x].in[k], seen, src, n, depth + 1);
    return;
  }
  int h = f->group_of[x];
  if (h < 0 || h == gi || seen[h] == gi) return;
  seen[h] = gi;
  src[(*n)++] = h;
}

static gc_status readers_build(const ir_graph *g, const fuse_plan *f, readers *r) {
  int ng = f->ngroups;
  size_t cap = 64, np = 0;
  int *seen = malloc(sizeof *seen * (size_t)(ng ? ng : 1));
  int *src = malloc(sizeof *src * (size_t)(ng ? ng : 1));
  int *pairs = malloc(sizeof *pairs * 2 * cap); /* (source, reader) */
  r->rd_start = calloc((size_t)ng + 1, sizeof *r->rd_start);
  r->rd = NULL;
  bool oom = !seen || !src || !pairs || !r->rd_start;
  for (int h = 0; !oom && h < ng; h++) seen[h] = -1;
  for (int gi = 0; !oom && gi < ng; gi++) {
    const fuse_group *gr = &f->groups[gi];
    int n = 0;
    for (int k = 0; k < gr->nnodes; k++) {
      const ir_node *nd = &g->nodes[gr->nodes[k]];
      for (int i = 0; i < nd->nin; i++) add_source(g, f, gi, nd->in[i], seen, src, &n, 0);
    }
    if (np + (size_t)n > cap) {
      while (np + (size_t)n > cap) cap *= 2;
      int *grown = realloc(pairs, sizeof *pairs * 2 * cap);
      if (!grown) {
        oom = true;
        break;
      }
      pairs = grown;
    }
    for (int j = 0; j < n; j++, np++) {
      pairs[2 * np] = src[j];
      pairs[2 * np + 1] = gi;
      r->rd_start[src[j] + 1]++;
    }
  }
  if (!oom) {
    for (int h = 0; h < ng; h++) r->rd_start[h + 1] += r->rd_start[h];
    r->rd = malloc(sizeof *r->rd * (np ? np : 1));
    oom = !r->rd;
  }
  if (!oom) { /* seen[] becomes each list's next free slot */
    for (int h = 0; h < ng; h++) seen[h] = r->rd_start[h];
    for (size_t q = 0; q < np; q++) r->rd[seen[pairs[2 * q]]++] = pairs[2 * q + 1];
  }
  free(seen);
  free(src);
  free(pairs);
  return oom ? gc_fail(GC_ERR_NOMEM, "post-dominators: out of memory") : GC_OK;
}

/* The nearest common ancestor of a and b in the tree (ipdom, depth); -1 is
 * the virtual exit. */
static int common(const int *ipdom, const int *depth, int a, int b) {
  while (a != b && a >= 0 && b >= 0) {
    if (depth[a] >= depth[b])
      a = ipdom[a];
    else
      b = ipdom[b];
  }
  return a == b ? a : -1;
}

/* May group gi, by TVM's rule, fuse into group p (its immediate
 * post-dominator), every group on a path between them elementwise?
 * mark: scratch of ngroups ints, stamp: a value not in it yet. */
static bool fusable(const fuse_plan *f, const readers *r, int gi, int p, int *mark, int stamp) {
  const fuse_kind gk = f->groups[gi].kind, pk = f->groups[p].kind;
  if (!((gk == FUSE_ELEMWISE && (pk == FUSE_ELEMWISE || pk == FUSE_REDUCE)) ||
        (gk == FUSE_COMPLEX && pk == FUSE_ELEMWISE)))
    return false;
  if (p - gi > PATH_WINDOW) return false;
  /* groups reachable from gi before p (launch order is topological) */
  mark[gi] = stamp;
  for (int h = gi; h < p; h++) {
    if (mark[h] != stamp) continue;
    for (int e = r->rd_start[h]; e < r->rd_start[h + 1]; e++) {
      int u = r->rd[e];
      if (u >= p) continue; /* every path from gi reaches p */
      if (f->groups[u].kind != FUSE_ELEMWISE) return false;
      mark[u] = stamp;
    }
  }
  return true;
}

gc_status fuse_postdom_misses(const ir_graph *g, const fuse_plan *f, int *count, int *missed) {
  *count = 0;
  int ng = f->ngroups;
  readers r = {0};
  gc_status st = readers_build(g, f, &r);
  int *ipdom = malloc(sizeof *ipdom * (size_t)(ng ? ng : 1));
  int *depth = malloc(sizeof *depth * (size_t)(ng ? ng : 1));
  int *mark = malloc(sizeof *mark * (size_t)(ng ? ng : 1));
  if (!st && (!ipdom || !depth || !mark))
    st = gc_fail(GC_ERR_NOMEM, "post-dominators: out of memory");
  for (int gi = ng - 1; !st && gi >= 0; gi--) {
    int d = -2; /* no reader yet */
    for (int e = r.rd_start[gi]; e < r.rd_start[gi + 1]; e++)
      d = d == -2 ? r.rd[e] : common(ipdom, depth, d, r.rd[e]);
    ipdom[gi] = d == -2 ? -1 : d;
    depth[gi] = ipdom[gi] < 0 ? 1 : depth[ipdom[gi]] + 1;
    mark[gi] = -1;
  }
  for (int gi = 0; !st && gi < ng; gi++) {
    const fuse_group *gr = &f->groups[gi];
    if (missed) missed[gi] = -1;
    if (gr->nnodes == 0 || ipdom[gi] < 0 || !fusable(f, &r, gi, ipdom[gi], mark, gi)) continue;
    if (missed) missed[gi] = ipdom[gi];
    (*count)++;
  }
  free(ipdom);
  free(depth);
  free(mark);
  free(r.rd);
  free(r.rd_start);
  return st;
}
