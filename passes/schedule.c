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

/* CSR lists per value v, ascending and each node once: readers of v
 * (directly or through views; a writer's own target, its input 0, is not
 * a read of it, its other inputs are) and writers over v. */
typedef struct by_value {
  int *start;
  int32_t *list;
} by_value;

static void by_value_free(by_value *b) {
  free(b->start);
  free(b->list);
}

/* The values node r reads, each once, into *vals (grown as needed): its
 * inputs (a writer's from 1 on) and every node along their chains of
 * views. Returns how many, or -1 when out of memory. */
static int values_read(const ir_graph *g, int32_t r, int32_t **vals, int *cap) {
  int m = 0;
  for (int k = is_writer(g, r) ? 1 : 0; k < g->nodes[r].nin; k++)
    for (int32_t v = g->nodes[r].in[k];; v = g->nodes[v].in[0]) {
      bool seen = false;
      for (int j = 0; j < m && !seen; j++) seen = (*vals)[j] == v;
      if (!seen) {
        if (m == *cap) {
          int c = *cap ? 2 * *cap : 32;
          int32_t *nv = realloc(*vals, sizeof *nv * (size_t)c);
          if (!nv) return -1;
          *vals = nv;
          *cap = c;
        }
        (*vals)[m++] = v;
      }
      if (!(ir_ops[g->nodes[v].op].props & IR_P_VIEW)) break;
    }
  return m;
}

/* Turns the counts in b->start[v + 1] into offsets and allocates the
 * lists; returns each list's next free slot (b->start[v]), or NULL. */
static int *by_value_lists(by_value *b, int n) {
  for (int v = 0; v < n; v++) b->start[v + 1] += b->start[v];
  b->list = malloc(sizeof *b->list * (size_t)(b->start[n] ? b->start[n] : 1));
  int *fill = malloc(sizeof *fill * (size_t)(n ? n : 1));
  if (!b->list || !fill) {
    free(fill);
    return NULL;
  }
  for (int v = 0; v < n; v++) fill[v] = b->start[v];
  return fill;
}

static bool readers_build(const ir_graph *g, by_value *rd) {
  int n = g->n, cap = 0, m;
  int32_t *vals = NULL;
  int *fill = NULL;
  rd->start = calloc((size_t)n + 1, sizeof *rd->start);
  bool ok = rd->start != NULL;
  for (int r = 0; ok && r < n; r++) {
    ok = (m = values_read(g, r, &vals, &cap)) >= 0;
    for (int j = 0; j < m; j++) rd->start[vals[j] + 1]++;
  }
  ok = ok && (fill = by_value_lists(rd, n)) != NULL;
  for (int r = 0; ok && r < n; r++) { /* ascending r: each list ascends */
    ok = (m = values_read(g, r, &vals, &cap)) >= 0;
    for (int j = 0; j < m; j++) rd->list[fill[vals[j]]++] = r;
  }
  free(vals);
  free(fill);
  return ok;
}

static bool writers_build(const int32_t *target, int n, by_value *wr) {
  wr->start = calloc((size_t)n + 1, sizeof *wr->start);
  if (!wr->start) return false;
  for (int i = 0; i < n; i++)
    if (target[i] >= 0) wr->start[target[i] + 1]++;
  int *fill = by_value_lists(wr, n);
  if (!fill) return false;
  for (int i = 0; i < n; i++)
    if (target[i] >= 0) wr->list[fill[target[i]]++] = i;
  free(fill);
  return true;
}

gc_status sched_deps_build(const ir_graph *g, sched_deps *out) {
  int n = g->n;
  /* Pass 1 counts, pass 2 fills. Extra edges: for writer w over value v =
   * w.in[0], every node r != w reading v or a view of v (r not a writer
   * over v) precedes w; earlier writers with the same target precede w.
   * The readers and writers of each value are listed once up front, so
   * this is linear in the graph (it scanned every node per writer). */
  int *count = calloc((size_t)n + 1, sizeof *count);
  int32_t *target = malloc(sizeof *target * (size_t)(n ? n : 1));
  by_value rd = {0}, wr = {0};
  if (count && target)
    for (int i = 0; i < n; i++) target[i] = is_writer(g, i) ? g->nodes[i].in[0] : -1;
  if (!count || !target || !readers_build(g, &rd) || !writers_build(target, n, &wr)) {
    free(count);
    free(target);
    by_value_free(&rd);
    by_value_free(&wr);
    return gc_fail(GC_ERR_NOMEM, "schedule: out of memory");
  }
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
        by_value_free(&rd);
        by_value_free(&wr);
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
      /* the readers and the writers of tgt, merged in id order */
      int a = rd.start[tgt], b = wr.start[tgt];
      while (a < rd.start[tgt + 1] || b < wr.start[tgt + 1]) {
        bool from_writers =
            a == rd.start[tgt + 1] || (b < wr.start[tgt + 1] && wr.list[b] < rd.list[a]);
        int32_t r = from_writers ? wr.list[b++] : rd.list[a++];
        if (r == i) continue;
        if (from_writers ? r < i : target[r] != tgt) EDGE(i, r);
      }
    }
#undef EDGE
    free(fill);
  }
  free(count);
  free(target);
  by_value_free(&rd);
  by_value_free(&wr);
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
