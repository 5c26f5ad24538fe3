/* plan.c — memory planning. Every materialized intermediate gets a byte
 * offset in an arena — one, or several where one would pass the device's
 * largest allocation: liveness runs over the kernel (group) order, and
 * each tensor goes into the smallest free gap that holds it (best fit),
 * placing tensors in birth order or largest first, whichever needs less.
 * Elementwise kernels, GEMM epilogues and row-owning single kernels
 * (softmax, cross-entropy's gradient) may write in place over an input
 * dying there; otherwise a kernel's outputs never share memory with its
 * inputs. Leaves, outputs and optimizer state are persistent (never
 * planned over); views and in-place writers use their root's storage.
 * plan_check() proves, with its own liveness, that no two tensors live at
 * the same time overlap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

typedef struct tensor {
  int32_t node;
  size_t bytes;
  int def, last; /* group indices */
} tensor;

static size_t align_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

/* Kernel gi reads x: x's storage lives until gi; reading a recomputed
 * node reads its inputs instead. */
static void mark_read(const ir_graph *g, const fuse_plan *f, const mem_plan *m, tensor *t,
                      const int32_t *idx, int32_t x, int gi) {
  if (f->inlined && f->inlined[x]) {
    for (int k = 0; k < g->nodes[x].nin; k++) mark_read(g, f, m, t, idx, g->nodes[x].in[k], gi);
    return;
  }
  int32_t r = m->root[x];
  if (idx[r] >= 0 && t[idx[r]].last < gi) t[idx[r]].last = gi;
}

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
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes[i].nin; k++)
      mark_read(g, f, m, t, idx, g->nodes[i].in[k], f->group_of[i]);
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

/* Does node v of kernel gi's work (a member, or a value it recomputes)
 * read x only at the element the kernel writes, and nothing in storage r
 * at a movement op's coordinates (at_index: v is evaluated there)? */
static bool reads_at_element(const ir_graph *g, const fuse_plan *f, const mem_plan *m,
                             const fuse_group *gr, int32_t v, int32_t x, int32_t r, bool at_index,
                             int depth) {
  const ir_node *n = &g->nodes[v];
  for (int j = 0; j < n->nin; j++) {
    int32_t u = n->in[j];
    if ((u == x && !(ir_is_elementwise(n) && ir_shape_eq(n->shape, gr->domain))) ||
        (at_index && m->root[u] == r))
      return false;
    /* a value recomputed here: its reads are this kernel's (recomputed
     * chains are two deep at most, passes/fuse.c) */
    if (f->inlined && f->inlined[u] && u != x &&
        (depth == 0 || !reads_at_element(g, f, m, gr, u, x, r, at_index, depth - 1)))
      return false;
  }
  return true;
}

/* Is x, read by kernel gi, a stored intermediate of out's size and dtype
 * whose own tensor (from the liveness before any merge) dies at gi? x may
 * itself continue an earlier tensor (a chain in place). */
static bool dies_here(const ir_graph *g, const fuse_plan *f, const mem_plan *m, const tensor *t,
                      const int32_t *idx, int gi, int32_t out, int32_t x) {
  int32_t r = m->root[x];
  return f->group_of[x] != gi && !(f->inlined && f->inlined[x]) && m->kind[r] == STORE_ARENA &&
         idx[x] >= 0 && t[idx[x]].last == gi &&
         !(r != x && ir_ops[g->nodes[x].op].props & IR_P_VIEW) &&
         g->nodes[x].dtype == g->nodes[out].dtype &&
         ir_node_bytes(&g->nodes[x]) == ir_node_bytes(&g->nodes[out]);
}

/* out takes x's storage r, if everything already in r is dead after
 * kernel gi and no other output of gi took it. Returns 1 if so. */
static int adopt_storage(const ir_graph *g, const fuse_plan *f, mem_plan *m, const tensor *t,
                         const int32_t *idx, int gi, int32_t out, int32_t x) {
  int32_t r = m->root[x];
  for (int o = 0; o < g->n; o++)
    if (m->root[o] == r && o != x && (f->group_of[o] == gi || idx[o] < 0 || t[idx[o]].last > gi))
      return 0;
  /* out and the views of out (whose root was out) now live in r: roots
   * stay one step from their storage, so a read through a view of a
   * merged tensor still extends r's life */
  for (int o = 0; o < g->n; o++)
    if (m->root[o] == out) m->root[o] = r;
  return 1;
}

/* May output out of kernel gi take the storage of x (in_place)? If so,
 * records it and returns 1. */
static int takes_storage(const ir_graph *g, const fuse_plan *f, mem_plan *m, const tensor *t,
                         const int32_t *idx, int gi, int32_t out, int32_t x) {
  const fuse_group *gr = &f->groups[gi];
  if (!dies_here(g, f, m, t, idx, gi, out, x) || !ir_shape_eq(g->nodes[x].shape, gr->domain))
    return 0;
  /* every read of x here must be by an elementwise op at the domain index
   * (not one evaluated at a movement op's coordinates) */
  for (int c = 0; c < gr->nnodes; c++) {
    int32_t v = gr->nodes[c];
    bool at_index = f->role && f->role[v] == ROLE_AT_INDEX;
    if (!reads_at_element(g, f, m, gr, v, x, m->root[x], at_index, 4)) return 0;
  }
  return adopt_storage(g, f, m, t, idx, gi, out, x);
}

/* Kernels of their own that own whole rows: softmax and log-softmax, and
 * cross-entropy's gradient, alone or with the loss (backends/opencl/
 * cl_single.c). One work-item reads a row of input 0 and writes the same
 * row of the result, each element only after its last read of that
 * element, so the result may take input 0's storage where it dies there:
 * the gradient of the logits over the logits in a training step. Returns
 * how many outputs were merged (0 or 1). */
static int row_in_place(const ir_graph *g, const fuse_plan *f, mem_plan *m, const tensor *t,
                        const int32_t *idx, int gi) {
  const fuse_group *gr = &f->groups[gi];
  for (int a = 0; a < gr->nnodes; a++) {
    int32_t out = gr->nodes[a];
    const ir_node *n = &g->nodes[out];
    if (n->op != IR_OP_SOFTMAX && n->op != IR_OP_LOG_SOFTMAX && n->op != IR_OP_CROSS_ENTROPY_GRAD)
      continue;
    if (m->kind[out] != STORE_ARENA || m->root[out] != out || !f->materialized[out]) continue;
    int32_t x = n->in[0];
    if (!ir_shape_eq(g->nodes[x].shape, n->shape) || !dies_here(g, f, m, t, idx, gi, out, x))
      continue;
    /* no other member reads x's storage through another node */
    bool only_row_reads = true;
    for (int c = 0; c < gr->nnodes && only_row_reads; c++) {
      const ir_node *v = &g->nodes[gr->nodes[c]];
      for (int k = 0; k < v->nin; k++)
        if (m->root[v->in[k]] == m->root[x] && v->in[k] != x) only_row_reads = false;
    }
    if (only_row_reads) return adopt_storage(g, f, m, t, idx, gi, out, x);
  }
  return 0;
}

/* Elementwise kernels and the epilogues of complex ops (matmul, conv,
 * pooling) work in place: an output takes the storage of an input of the
 * same size and dtype that dies in that kernel and is read only at the
 * element being written (same shape as the kernel's domain, by elementwise
 * members, not through a view or a movement op; never as a GEMM operand,
 * which many work-items read). Each work-item then reads its element before
 * writing it (an epilogue runs once per element, in the work-item that
 * owns it), so sharing is safe; the output simply continues the input's
 * storage (its root), which the checker sees as one tensor. Returns how
 * many outputs were merged. */
static int in_place(const ir_graph *g, const fuse_plan *f, mem_plan *m, const tensor *t,
                    const int32_t *idx) {
  int merged = 0;
  for (int gi = 0; gi < f->ngroups; gi++) {
    const fuse_group *gr = &f->groups[gi];
    if (gr->kind == FUSE_SINGLE) merged += row_in_place(g, f, m, t, idx, gi);
    if (gr->kind != FUSE_ELEMWISE && gr->kind != FUSE_COMPLEX) continue;
    for (int a = 0; a < gr->nnodes; a++) {
      int32_t out = gr->nodes[a];
      if (m->kind[out] != STORE_ARENA || m->root[out] != out || !f->materialized[out]) continue;
      /* a candidate input: read from another kernel, dying here, by a
       * member or by a value the kernel recomputes at the element (the
       * ReLU mask step(y) of a masked gradient) */
      for (int b = 0; b < gr->nnodes && m->root[out] == out; b++) {
        const ir_node *reader = &g->nodes[gr->nodes[b]];
        for (int k = 0; k < reader->nin && m->root[out] == out; k++) {
          int32_t x = reader->in[k];
          if (f->inlined && f->inlined[x]) {
            const ir_node *v = &g->nodes[x];
            if (!ir_is_elementwise(v) || !ir_shape_eq(v->shape, gr->domain)) continue;
            for (int j = 0; j < v->nin && m->root[out] == out; j++)
              merged += takes_storage(g, f, m, t, idx, gi, out, v->in[j]);
          } else {
            merged += takes_storage(g, f, m, t, idx, gi, out, x);
          }
        }
      }
    }
  }
  return merged;
}

/* The best-fitting offset for tensor i in arena a among the placed
 * tensors (sorted by offset) of that arena whose lifetimes overlap i's. */
static size_t best_fit(const tensor *t, const int *placed, int np, const size_t *off,
                       const int *arena, int a, int i, size_t alignment) {
  size_t need = align_up(t[i].bytes, alignment);
  size_t best = (size_t)-1, best_gap = (size_t)-1, cursor = 0;
  for (int k = 0; k < np; k++) {
    const tensor *o = &t[placed[k]];
    if (arena[placed[k]] != a || o->last < t[i].def || o->def > t[i].last) continue;
    size_t ooff = off[placed[k]];
    if (ooff >= cursor + need && ooff - cursor < best_gap) {
      best_gap = ooff - cursor;
      best = cursor;
    }
    size_t end = ooff + align_up(o->bytes, alignment);
    if (end > cursor) cursor = end;
  }
  return best == (size_t)-1 ? cursor : best;
}

/* Places tensors t[order[0..count)] one by one at the best-fitting gap
 * (smallest gap that holds it) among the already placed tensors whose
 * lifetimes overlap its own, over arenas of at most limit bytes each (one
 * buffer per arena: a device caps the size of one allocation): each
 * tensor goes into the first arena where its best fit stays under the
 * limit, else into a new arena. O(count^2), fine at graph sizes. Fills arena[] and sizes[] (room
 * for count arenas) and returns the number of arenas, or -1 when a tensor alone is over the limit
 * (*too_big is it), or -2 when out of memory. */
static int place_split(const tensor *t, int count, const int *order, size_t alignment, size_t limit,
                       size_t *off, int *arena, size_t *sizes, int *too_big) {
  int *placed = malloc(sizeof *placed * (size_t)(count ? count : 1));
  int np = 0, na = 0;
  if (!placed) return -2;
  for (int oi = 0; oi < count; oi++) {
    int i = order[oi];
    size_t need = align_up(t[i].bytes, alignment);
    if (need > limit) {
      *too_big = i;
      free(placed);
      return -1;
    }
    int a = 0;
    size_t at = 0;
    for (; a < na; a++) {
      at = best_fit(t, placed, np, off, arena, a, i, alignment);
      if (at + need <= limit) break;
    }
    if (a == na) {
      sizes[na++] = 0;
      at = 0;
    }
    off[i] = at;
    arena[i] = a;
    if (at + need > sizes[a]) sizes[a] = at + need;
    int pos = np;
    while (pos > 0 && off[placed[pos - 1]] > at) {
      placed[pos] = placed[pos - 1];
      pos--;
    }
    placed[pos] = i;
    np++;
  }
  free(placed);
  return na;
}

/* Sort key of the largest-first order (no global state: compiles may run
 * in several threads). */
typedef struct size_key {
  size_t bytes;
  int def, index;
} size_key;

static int larger_first(const void *a, const void *b) {
  const size_key *x = a, *y = b;
  if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
  if (x->def != y->def) return x->def < y->def ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

bool plan_user_visible(const ir_node *n) { return (n->flags & (IR_F_OUTPUT | IR_F_LOSS)) != 0; }

gc_status pass_plan(const ir_graph *g, const fuse_plan *f, bool no_plan, size_t alignment,
                    size_t max_arena, mem_plan *m) {
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
    if ((ir_ops[g->nodes[r].op].props & IR_P_LEAF) || plan_user_visible(nd))
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
  /* the baseline: every stored intermediate in its own buffer */
  for (int i = 0; !st && i < count; i++) m->no_reuse_bytes += align_up(t[i].bytes, alignment);
  if (!st && !no_plan) {
    int merged = in_place(g, f, m, t, index_of);
    if (merged > 0) { /* storage changed: liveness again */
      free(t);
      free(index_of);
      st = liveness(g, f, m, &t, &count, &index_of);
    }
  }
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

  /* Two greedy orders, keep the smaller total: tensors by birth (the
   * order kernels create them) and largest first over all lifetimes
   * (TFLite's greedy-by-size; better when big tensors have long,
   * interleaved lives). no_plan: every tensor in its own slot. */
  const size_t limit = max_arena > 0 ? max_arena : SIZE_MAX;
  size_t *offs[2], *sizes[2], total[2] = {SIZE_MAX, SIZE_MAX};
  int *arenas[2], na[2] = {0, 0};
  int *ord = malloc(sizeof *ord * (size_t)(count ? count : 1));
  size_key *keys = malloc(sizeof *keys * (size_t)(count ? count : 1));
  m->arena_of = malloc(sizeof *m->arena_of * (size_t)(n ? n : 1));
  bool oom = !ord || !keys || !m->arena_of;
  for (int k = 0; k < 2; k++) {
    offs[k] = malloc(sizeof *offs[k] * (size_t)(count ? count : 1));
    sizes[k] = malloc(sizeof *sizes[k] * (size_t)(count ? count : 1));
    arenas[k] = malloc(sizeof *arenas[k] * (size_t)(count ? count : 1));
    oom = oom || !offs[k] || !sizes[k] || !arenas[k];
  }
  int too_big = -1;
  for (int k = 0; k < (no_plan ? 1 : 2) && !oom && too_big < 0; k++) {
    if (k == 0) {
      for (int i = 0; i < count; i++) ord[i] = i; /* birth order */
    } else {
      for (int i = 0; i < count; i++) keys[i] = (size_key){t[i].bytes, t[i].def, i};
      qsort(keys, (size_t)count, sizeof *keys, larger_first);
      for (int i = 0; i < count; i++) ord[i] = keys[i].index;
    }
    if (no_plan) { /* one slot each, in order, a new arena when one is full */
      size_t at = 0;
      for (int i = 0; i < count && too_big < 0; i++) {
        size_t need = align_up(t[i].bytes, alignment);
        if (need > limit) too_big = i;
        if (na[k] == 0 || at + need > limit) {
          if (na[k] > 0) sizes[k][na[k] - 1] = at;
          na[k]++;
          at = 0;
        }
        offs[k][i] = at;
        arenas[k][i] = na[k] - 1;
        at += need;
      }
      if (na[k] > 0) sizes[k][na[k] - 1] = at;
    } else {
      na[k] = place_split(t, count, ord, alignment, limit, offs[k], arenas[k], sizes[k], &too_big);
      oom = na[k] == -2;
    }
    if (na[k] >= 0 && too_big < 0) {
      total[k] = 0;
      for (int a = 0; a < na[k]; a++) total[k] += sizes[k][a];
    }
  }
  if (!oom && too_big < 0) {
    int k = total[1] < total[0] ? 1 : 0;
    m->narenas = na[k] > 0 ? na[k] : 1;
    m->arena_sizes = calloc((size_t)m->narenas, sizeof *m->arena_sizes);
    oom = !m->arena_sizes;
    if (!oom) {
      for (int a = 0; a < na[k]; a++) m->arena_sizes[a] = sizes[k][a];
      m->arena_bytes = total[k];
      for (int i = 0; i < n; i++) m->arena_of[i] = -1;
      for (int i = 0; i < count; i++) {
        m->offset[t[i].node] = offs[k][i];
        m->arena_of[t[i].node] = arenas[k][i];
      }
    }
  }
  if (too_big >= 0)
    st = gc_fail(GC_ERR_UNSUPPORTED,
                 "plan: %s needs %zu bytes, more than the device's largest allocation (%zu "
                 "bytes)",
                 ir_node_label(g, t[too_big].node), t[too_big].bytes, limit);
  else if (oom)
    st = gc_fail(GC_ERR_NOMEM, "plan: out of memory");
  free(ord);
  free(keys);
  for (int k = 0; k < 2; k++) {
    free(offs[k]);
    free(sizes[k]);
    free(arenas[k]);
  }
  if (st) {
    free(t);
    free(index_of);
    mem_plan_free(m);
    return st;
  }
  for (int i = 0; i < n; i++)
    if (m->kind[i] == STORE_ARENA && m->root[i] != i) m->arena_of[i] = m->arena_of[m->root[i]];
  for (int i = 0; i < n; i++)
    if (m->kind[i] == STORE_ARENA && m->root[i] != i) m->offset[i] = m->offset[m->root[i]];
  free(t);
  free(index_of);
  return plan_check(g, f, m);
}

/* ---- the checker: its own liveness, over values rather than storage ---- */

/* The node whose storage x uses, following the plan's roots to the end
 * (not trusting them to be one step), or -1 on a cycle. */
static int32_t check_storage(const ir_graph *g, const mem_plan *m, int32_t x) {
  for (int steps = 0; steps <= g->n; steps++) {
    if (m->root[x] == x) return x;
    x = m->root[x];
  }
  return -1;
}

/* The value a read of x reads: views are their source's bytes. */
static int32_t check_value(const ir_graph *g, int32_t x) {
  while (ir_ops[g->nodes[x].op].props & IR_P_VIEW) x = g->nodes[x].in[0];
  return x;
}

static void check_read(const ir_graph *g, const fuse_plan *f, int *last, int32_t x, int gi) {
  if (f->inlined && f->inlined[x]) { /* recomputed: its inputs are read */
    for (int k = 0; k < g->nodes[x].nin; k++) check_read(g, f, last, g->nodes[x].in[k], gi);
    return;
  }
  int32_t v = check_value(g, x);
  if (last[v] < gi) last[v] = gi;
}

/* Independent of the planner's liveness: every stored value (a
 * materialized node that is not a view) occupies its storage's bytes from
 * the kernel writing it to the last kernel reading it or a view of it.
 * Two values whose bytes overlap may not be live at once, except a value
 * written in place over one whose last read is that same kernel (same
 * storage, declared by the plan). */
gc_status plan_check(const ir_graph *g, const fuse_plan *f, const mem_plan *m) {
  int n = g->n;
  int *last = malloc(sizeof *last * (size_t)(n ? n : 1));
  int32_t *vals = malloc(sizeof *vals * (size_t)(n ? n : 1));
  int32_t *store = malloc(sizeof *store * (size_t)(n ? n : 1));
  if (!last || !vals || !store) {
    free(last);
    free(vals);
    free(store);
    return gc_fail(GC_ERR_NOMEM, "plan check: out of memory");
  }
  for (int i = 0; i < n; i++) last[i] = f->group_of[i];
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes[i].nin; k++)
      check_read(g, f, last, g->nodes[i].in[k], f->group_of[i]);
  gc_status st = GC_OK;
  int nv = 0;
  for (int i = 0; i < n && !st; i++) {
    if (!f->materialized[i] || (ir_ops[g->nodes[i].op].props & IR_P_VIEW)) continue;
    int32_t r = check_storage(g, m, i);
    if (r < 0) {
      st = gc_fail(GC_ERR_INTERNAL, "plan check: the storage of %s forms a cycle",
                   ir_node_label(g, i));
    } else if (m->kind[r] == STORE_ARENA) {
      store[i] = r;
      vals[nv++] = i;
      int a = m->arena_of ? m->arena_of[r] : -1;
      if (a < 0 || a >= m->narenas)
        st = gc_fail(GC_ERR_INTERNAL, "plan check: %s is in no arena (%d of %d)",
                     ir_node_label(g, i), a, m->narenas);
      else if (m->offset[r] + ir_node_bytes(&g->nodes[i]) > m->arena_sizes[a])
        st = gc_fail(GC_ERR_INTERNAL, "plan check: %s ends at byte %zu past arena %d (%zu)",
                     ir_node_label(g, i), m->offset[r] + ir_node_bytes(&g->nodes[i]), a,
                     m->arena_sizes[a]);
    }
  }
  for (int a = 0; a < nv && !st; a++) {
    int32_t x = vals[a];
    size_t a0 = m->offset[store[x]], a1 = a0 + ir_node_bytes(&g->nodes[x]);
    int xd = f->group_of[x], xl = last[x];
    for (int b = a + 1; b < nv && !st; b++) {
      int32_t y = vals[b];
      size_t b0 = m->offset[store[y]], b1 = b0 + ir_node_bytes(&g->nodes[y]);
      int yd = f->group_of[y], yl = last[y];
      if (m->arena_of[store[x]] != m->arena_of[store[y]] || !(a0 < b1 && b0 < a1) || xl < yd ||
          yl < xd)
        continue;
      if (store[x] == store[y] && (xl == yd || yl == xd)) continue; /* in place */
      st = gc_fail(GC_ERR_INTERNAL,
                   "plan check: %s [%zu, %zu) and %s [%zu, %zu) overlap while both live "
                   "(kernels %d..%d and %d..%d)",
                   ir_node_label(g, x), a0, a1, ir_node_label(g, y), b0, b1, xd, xl, yd, yl);
    }
  }
  free(last);
  free(vals);
  free(store);
  return st;
}

void mem_plan_free(mem_plan *m) {
  if (!m) return;
  free(m->kind);
  free(m->offset);
  free(m->root);
  free(m->arena_of);
  free(m->arena_sizes);
  memset(m, 0, sizeof *m);
}
