/* postdom.c — the post-dominator tree of a fusion's kernels, and TVM's
 * rule over it.
 *
 * TVM (Chen et al., "TVM", OSDI 2018; relay's FuseOps) fuses a node into
 * its immediate post-dominator when every path between the two runs
 * through injective ops or simpler: elementwise and movement producers
 * into the elementwise consumer or reduction that post-dominates them, a
 * complex-out-fusable op (matmul, conv, pooling) into the elementwise ops
 * that post-dominate it (its epilogue). Here the rule is applied to
 * groups: group G may join its immediate post-dominator P when G is
 * elementwise and P elementwise, a reduction, or a complex op's group
 * whose epilogue (not the complex op) reads G; or when G is complex and P
 * elementwise; and every group on a path between them is elementwise.
 *
 * Two users: fuse_postdom.c, the fusion phase that joins each group to
 * its post-dominator where the rule allows and a kernel form can hold the
 * pair; and fuse_postdom_misses, which counts on the final plan the
 * kernels the rule would still fuse (none of the forms could hold them):
 * compile reports it (gc_program_stats.postdom_misses) and --dump-after=
 * fuse lists them.
 *
 * The tree is over groups in a topological order (Kahn's, over the
 * groups' data dependencies): a group's immediate post-dominator is the
 * nearest common ancestor, in the tree built so far from the last group
 * back, of the groups reading it (a virtual exit above the groups nobody
 * reads). Paths are searched only up to PD_PATH_WINDOW groups apart, so
 * the rule stays linear on long chains. */
#include <stdlib.h>

#include "passes/fuse_builder.h"

enum { PD_PATH_WINDOW = 64 };

static void add_source(const ir_graph *g, const int32_t *group_of, const bool *inlined, int gi,
                       int32_t x, int *seen, int *src, int *n, int depth) {
  x = ir_view_source(g, x);
  if (inlined && inlined[x] && depth < 8) {
    for (int k = 0; k < g->nodes[x].nin; k++)
      add_source(g, group_of, inlined, gi, g->nodes[x].in[k], seen, src, n, depth + 1);
    return;
  }
  int h = group_of[x];
  if (h < 0 || h == gi || seen[h] == gi) return;
  seen[h] = gi;
  src[(*n)++] = h;
}

/* Readers of each group, CSR: rd[rd_start[h] .. rd_start[h + 1]) are the
 * distinct groups reading a value of h (through views, and through values
 * a reader recomputes from h's). */
static bool readers_build(const ir_graph *g, const fuse_group *groups, int ng,
                          const int32_t *group_of, const bool *inlined, pd_tree *t) {
  size_t cap = 64, np = 0;
  int *seen = malloc(sizeof *seen * (size_t)(ng ? ng : 1));
  int *src = malloc(sizeof *src * (size_t)(ng ? ng : 1));
  int *pairs = malloc(sizeof *pairs * 2 * cap); /* (source, reader) */
  t->rd_start = calloc((size_t)ng + 1, sizeof *t->rd_start);
  bool oom = !seen || !src || !pairs || !t->rd_start;
  for (int h = 0; !oom && h < ng; h++) seen[h] = -1;
  for (int gi = 0; !oom && gi < ng; gi++) {
    const fuse_group *gr = &groups[gi];
    int n = 0;
    for (int k = 0; k < gr->nnodes; k++) {
      const ir_node *nd = &g->nodes[gr->nodes[k]];
      for (int i = 0; i < nd->nin; i++)
        add_source(g, group_of, inlined, gi, nd->in[i], seen, src, &n, 0);
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
      t->rd_start[src[j] + 1]++;
    }
  }
  if (!oom) {
    for (int h = 0; h < ng; h++) t->rd_start[h + 1] += t->rd_start[h];
    t->rd = malloc(sizeof *t->rd * (np ? np : 1));
    oom = !t->rd;
  }
  if (!oom) { /* seen[] becomes each list's next free slot */
    for (int h = 0; h < ng; h++) seen[h] = t->rd_start[h];
    for (size_t q = 0; q < np; q++) t->rd[seen[pairs[2 * q]]++] = pairs[2 * q + 1];
  }
  free(seen);
  free(src);
  free(pairs);
  return !oom;
}

/* t->order: the groups in a topological order (Kahn's algorithm, lowest
 * index first among the ready ones); t->rank: each group's place in it.
 * The groups' data dependencies form a DAG (fusion never makes a cycle
 * between kernels). */
static void topological_order(pd_tree *t) {
  int ng = t->n, head = 0, tail = 0;
  int *indeg = t->ipdom; /* scratch until the tree is built */
  for (int h = 0; h < ng; h++) indeg[h] = 0;
  for (int e = 0; e < t->rd_start[ng]; e++) indeg[t->rd[e]]++;
  for (int h = 0; h < ng; h++)
    if (!indeg[h]) t->order[tail++] = h;
  while (head < tail) {
    int h = t->order[head++];
    for (int e = t->rd_start[h]; e < t->rd_start[h + 1]; e++)
      if (--indeg[t->rd[e]] == 0) t->order[tail++] = t->rd[e];
  }
  /* a cycle would leave groups out: append them, so the order is whole */
  for (int h = 0; tail < ng && h < ng; h++)
    if (indeg[h] > 0) t->order[tail++] = h;
  for (int q = 0; q < ng; q++) t->rank[t->order[q]] = q;
}

/* The nearest common ancestor of a and b in the tree; -1 is the virtual
 * exit. (The steps are bounded: a cycle between groups, which fusion
 * never makes, must not hang the compile.) */
static int common(const pd_tree *t, int a, int b) {
  for (int steps = 0; a != b && a >= 0 && b >= 0 && steps < 2 * t->n; steps++) {
    if (t->depth[a] >= t->depth[b])
      a = t->ipdom[a];
    else
      b = t->ipdom[b];
  }
  return a == b ? a : -1;
}

gc_status pd_tree_build(const ir_graph *g, const fuse_group *groups, int ngroups,
                        const int32_t *group_of, const bool *inlined, pd_tree *t) {
  *t = (pd_tree){0};
  t->n = ngroups;
  t->g = g;
  t->group_of = group_of;
  t->inlined = inlined;
  size_t sz = sizeof(int) * (size_t)(ngroups ? ngroups : 1);
  t->order = malloc(sz);
  t->rank = malloc(sz);
  t->ipdom = malloc(sz);
  t->depth = malloc(sz);
  t->mark = malloc(sz);
  if (!t->order || !t->rank || !t->ipdom || !t->depth || !t->mark ||
      !readers_build(g, groups, ngroups, group_of, inlined, t)) {
    pd_tree_free(t);
    return gc_fail(GC_ERR_NOMEM, "post-dominators: out of memory");
  }
  topological_order(t);
  for (int h = 0; h < ngroups; h++) {
    t->ipdom[h] = -1;
    t->depth[h] = 1;
    t->mark[h] = -1;
  }
  for (int q = ngroups - 1; q >= 0; q--) {
    int gi = t->order[q], d = -2; /* no reader yet */
    for (int e = t->rd_start[gi]; e < t->rd_start[gi + 1]; e++)
      d = d == -2 ? t->rd[e] : common(t, d, t->rd[e]);
    t->ipdom[gi] = d == -2 ? -1 : d;
    t->depth[gi] = t->ipdom[gi] < 0 ? 1 : t->depth[t->ipdom[gi]] + 1;
  }
  return GC_OK;
}

void pd_tree_free(pd_tree *t) {
  free(t->rd);
  free(t->rd_start);
  free(t->order);
  free(t->rank);
  free(t->ipdom);
  free(t->depth);
  free(t->mark);
  *t = (pd_tree){0};
}

/* Does x (through views, and through the inputs of a value its reader
 * recomputes) carry a value of a group marked stamp? */
static bool reads_marked(const pd_tree *t, int32_t x, int stamp, int depth) {
  x = ir_view_source(t->g, x);
  if (t->inlined && t->inlined[x] && depth < 8) {
    for (int k = 0; k < t->g->nodes[x].nin; k++)
      if (reads_marked(t, t->g->nodes[x].in[k], stamp, depth + 1)) return true;
    return false;
  }
  int h = t->group_of[x];
  return h >= 0 && t->mark[h] == stamp;
}

/* Is every member of complex group p that reads a group marked stamp an
 * elementwise member of its epilogue (not the complex op itself)? */
static bool read_by_epilogue(const pd_tree *t, const fuse_group *P, int stamp) {
  for (int k = 0; k < P->nnodes; k++) {
    const ir_node *nd = &t->g->nodes[P->nodes[k]];
    if (P->nodes[k] != P->root && ir_is_elementwise(nd)) continue;
    for (int i = 0; i < nd->nin; i++)
      if (reads_marked(t, nd->in[i], stamp, 0)) return false;
  }
  return true;
}

bool pd_rule_fuses(pd_tree *t, const fuse_group *groups, int gi) {
  int p = t->ipdom[gi];
  if (p < 0 || groups[gi].nnodes == 0 || groups[p].nnodes == 0) return false;
  const fuse_kind gk = groups[gi].kind, pk = groups[p].kind;
  if (!((gk == FUSE_ELEMWISE && (pk == FUSE_ELEMWISE || pk == FUSE_REDUCE || pk == FUSE_COMPLEX)) ||
        (gk == FUSE_COMPLEX && pk == FUSE_ELEMWISE)))
    return false;
  int from = t->rank[gi], to = t->rank[p];
  if (to - from > PD_PATH_WINDOW) return false;
  /* the groups reachable from gi before p: every path from gi meets p, so
   * each is placed before p in the order, and all must be elementwise */
  t->mark[gi] = gi;
  for (int q = from; q < to; q++) {
    int h = t->order[q];
    if (t->mark[h] != gi) continue;
    for (int e = t->rd_start[h]; e < t->rd_start[h + 1]; e++) {
      int u = t->rd[e];
      if (u == p) continue;
      if (groups[u].kind != FUSE_ELEMWISE) return false;
      t->mark[u] = gi;
    }
  }
  /* into a complex op's group only as its epilogue's operand */
  return pk != FUSE_COMPLEX || read_by_epilogue(t, &groups[p], gi);
}

gc_status fuse_postdom_misses(const ir_graph *g, const fuse_plan *f, int *count, int *missed) {
  *count = 0;
  pd_tree t;
  gc_status st = pd_tree_build(g, f->groups, f->ngroups, f->group_of, f->inlined, &t);
  for (int gi = 0; !st && gi < f->ngroups; gi++) {
    bool fuses = pd_rule_fuses(&t, f->groups, gi);
    if (missed) missed[gi] = fuses ? t.ipdom[gi] : -1;
    *count += fuses;
  }
  pd_tree_free(&t);
  return st;
}
