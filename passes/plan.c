/* plan.c — memory planning. Every materialized intermediate gets a byte
 * offset in one arena: liveness runs over the kernel (group) order, and
 * each tensor goes into the smallest free gap that holds it (best fit),
 * placed largest-first among the tensors born at the same kernel. A
 * kernel's outputs never share memory with its inputs. Leaves, outputs and
 * optimizer state are persistent (never planned over); views and in-place
 * writers use their root's storage. plan_check() proves independently that
 * no two tensors live at the same time overlap. */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

typedef struct tensor {
  int32_t node;
  size_t bytes;
  int def, last; /* group indices */
} tensor;

static size_t align_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

/* Liveness of every arena root: def = its group, last = the latest group
 * reading it directly or through a view. */
static gc_status liveness(const ir_graph *g, const fuse_plan *f, const mem_plan *m, tensor **out,
                          int *count, int32_t **index_of) {
  int n = g->n, c = 0;
  tensor *t = malloc(sizeof *t * (size_t)(n ? n : 1));
  int32_t *idx = malloc(sizeof *idx * (size_t)(n ? n : 1));
  if (!t || !idx) {
    free(t);
    free(idx);
    return gc_fail(GC_ERR_NOMEM, "plan: out of memory");
  }
  for (int i = 0; i < n; i++) {
    idx[i] = -1;
    if (m->kind[i] != STORE_ARENA || m->root[i] != i) continue;
    idx[i] = c;
    t[c].node = i;
    t[c].bytes = ir_node_bytes(&g->nodes[i]);
    t[c].def = t[c].last = f->group_of[i];
    c++;
  }
  for (int i = 0; i < n; i++) {
    const ir_node *nd = &g->nodes[i];
    int gi = f->group_of[i];
    for (int k = 0; k < nd->nin; k++) {
      int32_t r = m->root[nd->in[k]];
      if (idx[r] >= 0 && t[idx[r]].last < gi) t[idx[r]].last = gi;
    }
  }
  *out = t;
  *count = c;
  *index_of = idx;
  return GC_OK;
}

static int by_def_then_size(const void *a, const void *b) {
  const tensor *x = a, *y = b;
  if (x->def != y->def) return x->def < y->def ? -1 : 1;
  if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
  return x->node < y->node ? -1 : x->node > y->node;
}

gc_status pass_plan(const ir_graph *g, const fuse_plan *f, bool no_plan, size_t alignment,
                    mem_plan *m) {
  int n = g->n;
  memset(m, 0, sizeof *m);
  if (alignment < 16) alignment = 16;
  m->kind = calloc((size_t)(n ? n : 1), sizeof *m->kind);
  m->offset = calloc((size_t)(n ? n : 1), sizeof *m->offset);
  m->root = malloc(sizeof *m->root * (size_t)(n ? n : 1));
  if (!m->kind || !m->offset || !m->root) {
    mem_plan_free(m);
    return gc_fail(GC_ERR_NOMEM, "plan: out of memory");
  }
  /* Kinds: a root is persistent if it is a leaf or anything stored in it
   * (through views) is an output. */
  for (int i = 0; i < n; i++) m->root[i] = ir_storage_root(g, i);
  for (int i = 0; i < n; i++) {
    int32_t r = m->root[i];
    const ir_node *nd = &g->nodes[i];
    if (!f->materialized[i]) continue;
    if (m->kind[r] == STORE_NONE) m->kind[r] = STORE_ARENA;
    if ((ir_ops[g->nodes[r].op].props & IR_P_LEAF) || (nd->flags & (IR_F_OUTPUT | IR_F_LOSS)))
      m->kind[r] = STORE_PERSIST;
  }
  for (int i = 0; i < n; i++) {
    if (m->root[i] != i && f->materialized[i]) m->kind[i] = m->kind[m->root[i]];
    if (m->kind[i] == STORE_PERSIST && m->root[i] == i)
      m->persistent_bytes += align_up(ir_node_bytes(&g->nodes[i]), alignment);
  }

  tensor *t;
  int count;
  int32_t *index_of;
  gc_status st = liveness(g, f, m, &t, &count, &index_of);
  if (st) {
    mem_plan_free(m);
    return st;
  }
  qsort(t, (size_t)count, sizeof *t, by_def_then_size);

  /* Lower bound: the largest total of tensors live at one kernel. */
  for (int gi = 0; gi < f->ngroups; gi++) {
    size_t live = 0;
    for (int i = 0; i < count; i++)
      if (t[i].def <= gi && gi <= t[i].last) live += align_up(t[i].bytes, alignment);
    if (live > m->live_lower_bound_bytes) m->live_lower_bound_bytes = live;
  }
  for (int i = 0; i < count; i++) m->no_reuse_bytes += align_up(t[i].bytes, alignment);

  if (no_plan) {
    size_t off = 0;
    for (int i = 0; i < count; i++) {
      m->offset[t[i].node] = off;
      off += align_up(t[i].bytes, alignment);
    }
    m->arena_bytes = off;
  } else {
    /* Placed tensors sorted by offset; a tensor occupies its range while
     * live. Best fit among the gaps left by tensors live over its span. */
    int *placed = calloc(count > 0 ? (size_t)count : 1u, sizeof *placed);
    int np = 0;
    if (!placed) {
      free(t);
      free(index_of);
      mem_plan_free(m);
      return gc_fail(GC_ERR_NOMEM, "plan: out of memory");
    }
    for (int i = 0; i < count; i++) {
      size_t need = align_up(t[i].bytes, alignment);
      size_t best = (size_t)-1, best_gap = (size_t)-1, cursor = 0;
      for (int k = 0; k < np; k++) {
        const tensor *o = &t[placed[k]];
        /* overlapping lifetimes only; a kernel's inputs and outputs are
         * live together since both ranges include that kernel */
        if (o->last < t[i].def || o->def > t[i].last) continue;
        size_t ooff = m->offset[o->node];
        if (ooff >= cursor + need && ooff - cursor < best_gap) {
          best_gap = ooff - cursor;
          best = cursor;
        }
        size_t end = ooff + align_up(o->bytes, alignment);
        if (end > cursor) cursor = end;
      }
      if (best == (size_t)-1) best = cursor;
      m->offset[t[i].node] = best;
      if (best + need > m->arena_bytes) m->arena_bytes = best + need;
      /* insert into placed keeping offset order */
      int pos = np;
      while (pos > 0 && m->offset[t[placed[pos - 1]].node] > best) {
        placed[pos] = placed[pos - 1];
        pos--;
      }
      placed[pos] = i;
      np++;
    }
    free(placed);
  }
  for (int i = 0; i < n; i++)
    if (m->kind[i] == STORE_ARENA && m->root[i] != i) m->offset[i] = m->offset[m->root[i]];
  free(t);
  free(index_of);
  return plan_check(g, f, m);
}

gc_status plan_check(const ir_graph *g, const fuse_plan *f, const mem_plan *m) {
  tensor *t;
  int count;
  int32_t *index_of;
  gc_status st = liveness(g, f, m, &t, &count, &index_of);
  if (st) return st;
  for (int i = 0; i < count && !st; i++) {
    size_t a0 = m->offset[t[i].node], a1 = a0 + t[i].bytes;
    if (a1 > m->arena_bytes)
      st = gc_fail(GC_ERR_INTERNAL, "plan check: %s ends at byte %zu past the arena (%zu)",
                   ir_node_label(g, t[i].node), a1, m->arena_bytes);
    for (int j = i + 1; j < count && !st; j++) {
      if (t[i].last < t[j].def || t[j].last < t[i].def) continue;
      size_t b0 = m->offset[t[j].node], b1 = b0 + t[j].bytes;
      if (a0 < b1 && b0 < a1 && t[i].bytes && t[j].bytes)
        st = gc_fail(GC_ERR_INTERNAL,
                     "plan check: %s [%zu, %zu) and %s [%zu, %zu) overlap while both live "
                     "(kernels %d..%d and %d..%d)",
                     ir_node_label(g, t[i].node), a0, a1, ir_node_label(g, t[j].node), b0, b1,
                     t[i].def, t[i].last, t[j].def, t[j].last);
    }
  }
  free(t);
  free(index_of);
  return st;
}

void mem_plan_free(mem_plan *m) {
  if (!m) return;
  free(m->kind);
  free(m->offset);
  free(m->root);
  memset(m, 0, sizeof *m);
}
