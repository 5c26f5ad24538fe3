/* schedule.c — the execution order of the nodes. Node ids are already a
 * topological order of data dependencies; in-place writers (optimizer
 * updates, assign_add) add ordering constraints: a writer runs after every
 * other reader of the value it overwrites, whatever order they were built
 * in. Kahn's algorithm, lowest id first, keeps the order stable. */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

int32_t ir_storage_root(const ir_graph *g, int32_t id) {
  while (ir_ops[g->nodes[id].op].props & (IR_P_VIEW | IR_P_INPLACE)) id = g->nodes[id].in[0];
  return id;
}

int32_t ir_view_source(const ir_graph *g, int32_t id) {
  while (ir_ops[g->nodes[id].op].props & IR_P_VIEW) id = g->nodes[id].in[0];
  return id;
}

static bool is_writer(const ir_graph *g, int32_t id) {
  return (ir_ops[g->nodes[id].op].props & IR_P_INPLACE) != 0;
}

gc_status sched_deps_build(const ir_graph *g, sched_deps *out) {
  int n = g->n;
  /* Pass 1 counts, pass 2 fills. Extra edges: for writer w over value v =
   * w.in[0], every node r != w reading v or a view of v (root == v, r not a
   * writer) precedes w; earlier writers with the same target precede w. */
  int *count = calloc((size_t)n + 1, sizeof *count);
  int32_t *target = malloc(sizeof *target * (size_t)(n ? n : 1));
  if (!count || !target) {
    free(count);
    free(target);
    return gc_fail(GC_ERR_NOMEM, "schedule: out of memory");
  }
  for (int i = 0; i < n; i++) target[i] = is_writer(g, i) ? g->nodes[i].in[0] : -1;
  for (int pass = 0; pass < 2; pass++) {
    int *fill = NULL;
    if (pass == 1) {
      out->start = malloc(sizeof *out->start * ((size_t)n + 1));
      out->list = NULL;
      if (out->start) {
        out->start[0] = 0;
        for (int i = 0; i < n; i++) out->start[i + 1] = out->start[i] + count[i];
        out->list = malloc(sizeof *out->list * (size_t)(out->start[n] ? out->start[n] : 1));
      }
      fill = calloc((size_t)n + 1, sizeof *fill);
      if (!out->start || !out->list || !fill) {
        free(fill);
        free(count);
        free(target);
        sched_deps_free(out);
        return gc_fail(GC_ERR_NOMEM, "schedule: out of memory");
      }
    }
#define EDGE(to, from)                                 \
  do {                                                 \
    if (pass == 0)                                     \
      count[to]++;                                     \
    else                                               \
      out->list[out->start[to] + fill[to]++] = (from); \
  } while (0)
    for (int i = 0; i < n; i++) {
      const ir_node *nd = &g->nodes[i];
      for (int k = 0; k < nd->nin; k++) EDGE(i, nd->in[k]);
      if (target[i] < 0) continue;
      int32_t tgt = target[i];
      for (int r = 0; r < n; r++) {
        if (r == i) continue;
        if (target[r] == tgt) {
          if (r < i) EDGE(i, r);
          continue;
        }
        const ir_node *rn = &g->nodes[r];
        /* a writer's own target (input 0) is not a read of tgt, its other
         * inputs (a delta, a gradient) are */
        for (int k = is_writer(g, r) ? 1 : 0; k < rn->nin; k++) {
          int32_t x = rn->in[k];
          while (x != tgt && (ir_ops[g->nodes[x].op].props & IR_P_VIEW)) x = g->nodes[x].in[0];
          if (x == tgt) {
            EDGE(i, r);
            break;
          }
        }
      }
    }
#undef EDGE
    free(fill);
  }
  free(count);
  free(target);
  return GC_OK;
}

void sched_deps_free(sched_deps *d) {
  free(d->start);
  free(d->list);
  d->start = NULL;
  d->list = NULL;
}

gc_status pass_schedule(const ir_graph *g, int32_t *order) {
  sched_deps d;
  gc_status st = sched_deps_build(g, &d);
  if (st) return st;
  int n = g->n;
  bool *done = calloc((size_t)n + 1, sizeof *done);
  if (!done) {
    sched_deps_free(&d);
    return gc_fail(GC_ERR_NOMEM, "schedule: out of memory");
  }
  /* O(n^2) in the worst case; graphs here have at most a few thousand
   * nodes and this runs once per compile. */
  int placed = 0, lowest = 0;
  while (placed < n) {
    int pick = -1;
    for (int i = lowest; i < n && pick < 0; i++) {
      if (done[i]) continue;
      bool ready = true;
      for (int e = d.start[i]; e < d.start[i + 1] && ready; e++) ready = done[d.list[e]];
      if (ready) pick = i;
    }
    if (pick < 0) {
      free(done);
      sched_deps_free(&d);
      return gc_fail(GC_ERR_INVALID,
                     "schedule: in-place updates form a cycle (a value computed from an update "
                     "is read before the update can run)");
    }
    done[pick] = true;
    order[placed++] = pick;
    while (lowest < n && done[lowest]) lowest++;
  }
  free(done);
  sched_deps_free(&d);
  return GC_OK;
}
