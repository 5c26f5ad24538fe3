/* kernel_order.c — the launch order of the fused kernels: Kahn's algorithm
 * over the groups, honouring data dependencies and the in-place ordering
 * edges of schedule.c, choosing among the ready kernels the one that
 * grows the live set least (the bytes its stored results add minus the
 * bytes of the intermediates it reads for the last time), lowest index on
 * ties. This is the usual greedy memory-aware list schedule: in a training
 * step it runs each weight-gradient product (with its fused optimizer
 * update, which stores nothing) as soon as its inputs exist, so the
 * activations it reads die early instead of living until the end of the
 * backward pass. A kernel that stores something no kernel could run on
 * next (all its readers wait for other kernels too) is deferred while a
 * kernel that is not can run: greedily it would run first for its small
 * result (a conv's tap-major weight copy, 72 KB, ran before the CNN's
 * forward and lived through all of it, at the arena's peak) — unless it
 * is the second-to-last reader of an intermediate whose last reader is
 * ready, which it lets free that intermediate (unlocks_a_free). The order
 * only moves kernels that are independent, so results do not change. */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

/* Bytes a stored value takes in the arena: a materialized intermediate,
 * not a leaf (parameter, input, constant, state) and not an output. */
static size_t arena_bytes(const ir_graph *g, const fuse_plan *f, int32_t r) {
  const ir_node *n = &g->nodes[r];
  if (!f->materialized[r] || (ir_ops[n->op].props & IR_P_LEAF) || plan_user_visible(n)) return 0;
  return ir_node_bytes(n);
}

/* Group-level edges, each pair once, CSR layout: dep[dep_start[gi] ..
 * dep_start[gi + 1]) are the groups gi waits for, rd[rd_start[gi] ..] the
 * groups waiting for gi. */
typedef struct edges {
  int *dep, *dep_start, *rd, *rd_start;
} edges;

static void edges_free(edges *e) {
  free(e->dep);
  free(e->dep_start);
  free(e->rd);
  free(e->rd_start);
}

static gc_status edges_build(const ir_graph *g, const sched_deps *deps, const fuse_plan *f,
                             edges *e) {
  int ng = f->ngroups;
  size_t cap = (size_t)deps->start[g->n] + 1;
  e->dep = malloc(sizeof *e->dep * cap);
  e->rd = malloc(sizeof *e->rd * cap);
  e->dep_start = calloc((size_t)ng + 1, sizeof *e->dep_start);
  e->rd_start = calloc((size_t)ng + 1, sizeof *e->rd_start);
  int *seen = malloc(sizeof *seen * (size_t)(ng ? ng : 1));
  if (!e->dep || !e->rd || !e->dep_start || !e->rd_start || !seen) {
    free(seen);
    return gc_fail(GC_ERR_NOMEM, "kernel order: out of memory");
  }
  for (int h = 0; h < ng; h++) seen[h] = -1;
  size_t nd = 0;
  for (int gi = 0; gi < ng; gi++) {
    e->dep_start[gi] = (int)nd;
    const fuse_group *gr = &f->groups[gi];
    for (int i = 0; i < gr->nnodes; i++) {
      int32_t v = gr->nodes[i];
      for (int k = deps->start[v]; k < deps->start[v + 1]; k++) {
        int h = f->group_of[ir_view_source(g, deps->list[k])];
        if (h == gi || seen[h] == gi || nd == cap) continue;
        seen[h] = gi;
        e->dep[nd++] = h;
        e->rd_start[h + 1]++;
      }
    }
  }
  e->dep_start[ng] = (int)nd;
  for (int h = 0; h < ng; h++) e->rd_start[h + 1] += e->rd_start[h];
  int *fill = seen; /* reused: the next free slot per group */
  for (int h = 0; h < ng; h++) fill[h] = e->rd_start[h];
  for (int gi = 0; gi < ng; gi++)
    for (int k = e->dep_start[gi]; k < e->dep_start[gi + 1]; k++) e->rd[fill[e->dep[k]]++] = gi;
  free(seen);
  return GC_OK;
}

/* Would a reader of gi be ready once gi runs (done: the groups placed)? */
static bool feeds_a_ready_reader(const edges *e, const int *done, int gi) {
  for (int r = e->rd_start[gi]; r < e->rd_start[gi + 1]; r++) {
    int h = e->rd[r];
    bool ready = true;
    for (int k = e->dep_start[h]; k < e->dep_start[h + 1] && ready; k++)
      ready = e->dep[k] == gi || done[e->dep[k]];
    if (ready) return true;
  }
  return false;
}

typedef struct reads {
  int32_t *root; /* per group: the storage roots it reads, distinct */
  int *start;    /* group gi's roots are root[start[gi] .. start[gi + 1]) */
  int *by;       /* per root r, the groups reading it: by[by_start[r] .. by_start[r + 1]) */
  int *by_start;
} reads;

static bool ready(const edges *e, const int *done, int gi) {
  for (int k = e->dep_start[gi]; k < e->dep_start[gi + 1]; k++)
    if (!done[e->dep[k]]) return false;
  return true;
}

/* Would running gi leave a stored intermediate it reads with one unplaced
 * reader, which is ready, so that this reader frees it? (The CNN's conv2
 * weight gradient, a small result no kernel reads soon, is the
 * second-to-last reader of the pooled activations: run first, it lets the
 * input gradient's kernel free them and write its result in their place.) */
static bool unlocks_a_free(const ir_graph *g, const fuse_plan *f, const reads *rd, const edges *e,
                           const int *done, const int *pending, int gi) {
  for (int k = rd->start[gi]; k < rd->start[gi + 1]; k++) {
    int32_t r = rd->root[k];
    if (pending[r] != 2 || arena_bytes(g, f, r) == 0) continue;
    for (int j = rd->by_start[r]; j < rd->by_start[r + 1]; j++) {
      int h = rd->by[j];
      if (h != gi && !done[h] && ready(e, done, h)) return true;
    }
  }
  return false;
}

/* Appends the storage roots that node x's value is read from (through a
 * recomputed node, its inputs'). */
static int add_reads(const ir_graph *g, const fuse_plan *f, int gi, int32_t x, int32_t *out, int n,
                     int cap) {
  if (f->inlined && f->inlined[x]) {
    for (int k = 0; k < g->nodes[x].nin; k++)
      n = add_reads(g, f, gi, g->nodes[x].in[k], out, n, cap);
    return n;
  }
  if (f->group_of[x] == gi) return n;
  int32_t r = ir_storage_root(g, x);
  for (int i = 0; i < n; i++)
    if (out[i] == r) return n;
  if (n < cap) out[n++] = r;
  return n;
}

static gc_status reads_build(const ir_graph *g, const fuse_plan *f, reads *rd) {
  /* every read is one node input, possibly expanded through recomputed
   * nodes: bound the total by the inputs of all nodes, expanded */
  size_t cap = 0;
  for (int i = 0; i < g->n; i++) cap += (size_t)g->nodes[i].nin;
  cap = cap * 4 + 16;
  rd->start = malloc(sizeof *rd->start * ((size_t)f->ngroups + 1));
  rd->root = malloc(sizeof *rd->root * cap);
  int32_t *tmp = malloc(sizeof *tmp * cap);
  if (!rd->start || !rd->root || !tmp) {
    free(tmp);
    return gc_fail(GC_ERR_NOMEM, "kernel order: out of memory");
  }
  size_t used = 0;
  for (int gi = 0; gi < f->ngroups; gi++) {
    const fuse_group *gr = &f->groups[gi];
    int n = 0;
    for (int k = 0; k < gr->nnodes; k++) {
      const ir_node *nd = &g->nodes[gr->nodes[k]];
      for (int i = 0; i < nd->nin; i++) n = add_reads(g, f, gi, nd->in[i], tmp, n, (int)cap);
    }
    rd->start[gi] = (int)used;
    for (int i = 0; i < n && used < cap; i++) rd->root[used++] = tmp[i];
  }
  rd->start[f->ngroups] = (int)used;
  free(tmp);
  /* the inverse: readers per root */
  rd->by_start = calloc((size_t)g->n + 1, sizeof *rd->by_start);
  rd->by = malloc(sizeof *rd->by * (used ? used : 1));
  if (!rd->by_start || !rd->by) return gc_fail(GC_ERR_NOMEM, "kernel order: out of memory");
  for (size_t i = 0; i < used; i++) rd->by_start[rd->root[i] + 1]++;
  for (int r = 0; r < g->n; r++) rd->by_start[r + 1] += rd->by_start[r];
  int *fill = malloc(sizeof *fill * (size_t)(g->n ? g->n : 1));
  if (!fill) return gc_fail(GC_ERR_NOMEM, "kernel order: out of memory");
  for (int r = 0; r < g->n; r++) fill[r] = rd->by_start[r];
  for (int gi = 0; gi < f->ngroups; gi++)
    for (int k = rd->start[gi]; k < rd->start[gi + 1]; k++) rd->by[fill[rd->root[k]]++] = gi;
  free(fill);
  return GC_OK;
}

gc_status fuse_order_groups(const ir_graph *g, const sched_deps *deps, fuse_plan *f) {
  int ng = f->ngroups, n = g->n;
  reads rd = {0};
  edges ed = {0};
  gc_status st = reads_build(g, f, &rd);
  if (!st) st = edges_build(g, deps, f, &ed);
  int *done = calloc((size_t)(ng ? ng : 1), sizeof *done);
  int *perm = malloc(sizeof *perm * (size_t)(ng ? ng : 1));
  int *newidx = malloc(sizeof *newidx * (size_t)(ng ? ng : 1));
  int *pending = calloc((size_t)(n ? n : 1), sizeof *pending); /* unplaced readers per root */
  long long *delta = malloc(sizeof *delta * (size_t)(ng ? ng : 1));
  fuse_group *sorted = calloc((size_t)(ng ? ng : 1), sizeof *sorted);
  if (!st && (!done || !perm || !newidx || !pending || !delta || !sorted))
    st = gc_fail(GC_ERR_NOMEM, "kernel order: out of memory");
  if (!st) {
    for (int gi = 0; gi < ng; gi++)
      for (int e = rd.start[gi]; e < rd.start[gi + 1]; e++) pending[rd.root[e]]++;
    for (int gi = 0; gi < ng; gi++) { /* what each kernel stores */
      const fuse_group *gr = &f->groups[gi];
      delta[gi] = 0;
      for (int k = 0; k < gr->nnodes; k++) {
        int32_t v = gr->nodes[k];
        if (ir_storage_root(g, v) == v) delta[gi] += (long long)arena_bytes(g, f, v);
      }
    }
  }
  for (int placed = 0; !st && placed < ng; placed++) {
    int pick = -1;
    long long best = 0;
    bool best_deferred = true;
    for (int gi = 0; gi < ng; gi++) {
      if (done[gi]) continue;
      /* a view's value is its source's: a kernel reading a view of its
       * own member (fuse_reduce.c) waits for nothing (edges_build) */
      if (!ready(&ed, done, gi)) continue;
      long long grow = delta[gi];
      for (int e = rd.start[gi]; e < rd.start[gi + 1]; e++)
        if (pending[rd.root[e]] == 1) grow -= (long long)arena_bytes(g, f, rd.root[e]);
      bool deferred = grow > 0 && !feeds_a_ready_reader(&ed, done, gi) &&
                      !unlocks_a_free(g, f, &rd, &ed, done, pending, gi);
      if (pick < 0 || (best_deferred && !deferred) || (deferred == best_deferred && grow < best)) {
        pick = gi;
        best = grow;
        best_deferred = deferred;
      }
    }
    if (pick < 0) {
      st = gc_fail(GC_ERR_INTERNAL, "fuse: the kernel groups form a cycle");
      break;
    }
    done[pick] = 1;
    for (int e = rd.start[pick]; e < rd.start[pick + 1]; e++) pending[rd.root[e]]--;
    newidx[pick] = placed;
    perm[placed] = pick;
  }
  if (!st) {
    for (int i = 0; i < ng; i++) sorted[i] = f->groups[perm[i]];
    for (int v = 0; v < n; v++) f->group_of[v] = newidx[f->group_of[v]];
    free(f->groups);
    f->groups = sorted;
    sorted = NULL;
  }
  free(sorted);
  free(done);
  free(perm);
  free(newidx);
  free(pending);
  free(delta);
  free(rd.start);
  free(rd.root);
  free(rd.by);
  free(rd.by_start);
  edges_free(&ed);
  return st;
}
