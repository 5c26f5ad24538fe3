/* fuse_reduce.c — reduction groups. A reduce group runs one work-item per
 * result row (an element of its reductions' output) and holds
 * - reductions over one domain and one set of axes, in stages: a reduction
 *   whose input reads an earlier one's result runs in a later pass over
 *   the row (layer norm: mean, then var of x - mean);
 * - ROLE_LOOP members over the domain, evaluated inside the passes: the
 *   reductions' inputs, and a final pass for the ones stored (the
 *   normalized output);
 * - ROLE_ROW members over the results, evaluated once per row after the
 *   reductions they read (rsqrt(var + eps), running-statistics deltas),
 *   and in-place updates of per-row values (running mean and variance).
 * The code generator (backends/opencl/cl_codegen.c, emit_reduce) derives
 * the passes from the members' dependencies.
 *
 * After the walk over the schedule, groups merge into reduce groups when
 * they read each other's values or are sibling reductions of one input,
 * so layer norm and batch norm (training) are one kernel forward and one
 * or two backward, whatever form autodiff gave their gradients. A merge
 * must keep every read a register read of the same work-item's row: a loop
 * member reads a row value only broadcast along the reduced axes, a row
 * member never reads a loop value. */
#include "passes/fuse_builder.h"

/* Elementwise work moved into a row kernel runs serially per row, so it
 * joins only where rows spread over the device or the domain is small; and
 * only work that reads the group's results (the consumers: a normalized
 * output) or that only the group reads (a private prologue): a producer
 * stored for other kernels anyway (a CNN's ReLU gradient, read by the
 * bias gradient and by the conv's weight gradient) keeps its parallel
 * elementwise kernel — merged, it made the CNN step's arena 27% larger. */
enum { ROW_KERNEL_MIN_ROWS = 16, ROW_KERNEL_SMALL_DOMAIN = 16384 };

static const ir_node *first_reduction(const builder *b, int gi) {
  return &b->g->nodes[b->groups[gi].root];
}

int64_t fb_reduce_rows(const builder *b, int gi) {
  return gc_shape_numel(first_reduction(b, gi)->shape);
}

/* Read with shape s by a member over the domain of reduce group gi, does
 * a row value land on the reading work-item's row? s must be the domain
 * with the reduced axes cut to 1 (leading ones may be dropped). */
static bool row_broadcast(const builder *b, int gi, gc_shape s) {
  gc_shape dom = b->groups[gi].domain;
  uint32_t axes = first_reduction(b, gi)->attr.axes;
  if (s.ndim > dom.ndim) return false;
  for (int d = 0; d < dom.ndim; d++) {
    int j = d - (dom.ndim - s.ndim);
    int64_t have = j < 0 ? 1 : s.dim[j], want = (axes & (1u << d)) ? 1 : dom.dim[d];
    if (have != want) return false;
  }
  return true;
}

/* A reader with role rr (ROLE_PLAIN: a reduction or an update) reading x,
 * whose source has role xr in the same kernel: a loop value (xr LOOP) is
 * there only inside the passes, a row value (a reduction's result or a
 * ROW member) once per row. */
static bool read_ok(const builder *b, int gi, int32_t reader, fuse_role rr, int32_t x,
                    fuse_role xr) {
  const ir_node *rn = &b->g->nodes[reader];
  bool row_value = xr != ROLE_LOOP;
  if (ir_is_update(rn)) return row_value;
  if (rr == ROLE_ROW) return row_value;
  return !row_value || row_broadcast(b, gi, b->g->nodes[x].shape);
}

bool fb_row_member(builder *b, int gi, int32_t id) {
  const ir_node *n = &b->g->nodes[id];
  if (!ir_is_elementwise(n) || gc_shape_numel(n->shape) != fb_reduce_rows(b, gi)) return false;
  for (int k = 0; k < n->nin; k++) {
    int32_t s = ir_view_source(b->g, n->in[k]);
    if (b->group_of[s] == gi && !read_ok(b, gi, id, ROLE_ROW, n->in[k], b->role[s])) return false;
  }
  return true;
}

/* The role member m of group gj will have after merging into gi: an
 * elementwise group's members all take `as`; a reduce group's keep theirs. */
static fuse_role role_after(const builder *b, int gj, int32_t m, fuse_role as) {
  return b->group_of[m] == gj && b->groups[gj].kind == FUSE_ELEMWISE ? as : (fuse_role)b->role[m];
}

/* Does an update of ga write storage that a member of gb reads, or that an
 * update of gb writes (its target is its input 0)? */
static bool update_conflict(const builder *b, int ga, int gb) {
  const ir_graph *g = b->g;
  const fuse_group *A = &b->groups[ga], *B = &b->groups[gb];
  for (int i = 0; i < A->nnodes; i++) {
    if (!ir_is_update(&g->nodes[A->nodes[i]])) continue;
    for (int j = 0; j < B->nnodes; j++) {
      const ir_node *m = &g->nodes[B->nodes[j]];
      for (int k = 0; k < m->nin; k++)
        if (fb_update_writes(g, A->nodes[i], ir_storage_root(g, m->in[k]))) return true;
    }
  }
  return false;
}

/* Does a member of group gj read a value of group gi (through views)? */
bool fb_reads_group(const builder *b, int gj, int gi) {
  const fuse_group *H = &b->groups[gj];
  for (int k = 0; k < H->nnodes; k++) {
    const ir_node *m = &b->g->nodes[H->nodes[k]];
    for (int i = 0; i < m->nin; i++)
      if (b->group_of[ir_view_source(b->g, m->in[i])] == gi) return true;
  }
  return false;
}

/* Is every value of group gj read only inside gj and gi (and no output)? */
static bool private_to(const builder *b, int gj, int gi) {
  const fuse_group *H = &b->groups[gj];
  for (int k = 0; k < H->nnodes; k++) {
    int32_t v = H->nodes[k];
    if (b->g->nodes[v].flags & (IR_F_OUTPUT | IR_F_LOSS)) return false;
    for (int u = 0; u < b->nusers[v]; u++) {
      int h = b->group_of[b->users[v][u]];
      if (h != gi && h != gj) return false;
    }
  }
  return true;
}

/* May group gj merge into reduce group gi, its members taking role `as`
 * if it is an elementwise group? */
static bool merge_ok(builder *b, int gi, int gj, fuse_role as) {
  const ir_graph *g = b->g;
  const fuse_group *G = &b->groups[gi], *H = &b->groups[gj];
  if (H->kind == FUSE_REDUCE) {
    const ir_node *r = first_reduction(b, gj);
    if (!ir_shape_eq(G->domain, H->domain) || r->attr.axes != first_reduction(b, gi)->attr.axes)
      return false;
  } else if (H->kind == FUSE_ELEMWISE) {
    for (int k = 0; k < H->nnodes; k++) {
      const ir_node *m = &g->nodes[H->nodes[k]];
      if (as == ROLE_ROW &&
          (!ir_is_elementwise(m) || gc_shape_numel(m->shape) != fb_reduce_rows(b, gi)))
        return false;
    }
    if (as == ROLE_LOOP && !fb_reads_group(b, gj, gi) && !private_to(b, gj, gi)) return false;
    if (as == ROLE_LOOP && (!ir_shape_eq(G->domain, H->domain) ||
                            (fb_reduce_rows(b, gi) < ROW_KERNEL_MIN_ROWS &&
                             gc_shape_numel(G->domain) > ROW_KERNEL_SMALL_DOMAIN)))
      return false;
  } else {
    return false;
  }
  /* every read across the two groups stays on the reader's row */
  for (int side = 0; side < 2; side++) {
    const fuse_group *R = side ? H : G;
    int own = side ? gj : gi;
    for (int k = 0; k < R->nnodes; k++) {
      int32_t m = R->nodes[k];
      const ir_node *mn = &g->nodes[m];
      fuse_role rr = role_after(b, gj, m, as);
      for (int i = 0; i < mn->nin; i++) {
        int32_t s = ir_view_source(g, mn->in[i]);
        int h = b->group_of[s];
        if ((h != gi && h != gj) || h == own) continue;
        if (!read_ok(b, gi, m, rr, mn->in[i], role_after(b, gj, s, as))) return false;
      }
    }
  }
  return !fb_movement_reads(b, gi, gj) && !fb_movement_reads(b, gj, gi) &&
         !update_conflict(b, gi, gj) && !update_conflict(b, gj, gi) && fb_fits_pair(b, gi, gj) &&
         !fb_reaches_through_other(b, gi, gj) && !fb_reaches_through_other(b, gj, gi);
}

int fb_reduce_join(builder *b, int gi, int gj, const int *pos) {
  fuse_group *H = &b->groups[gj];
  if (gj == gi || H->nnodes == 0) return 0;
  fuse_role as = ROLE_PLAIN;
  if (H->kind == FUSE_ELEMWISE) {
    as = ir_shape_eq(H->domain, b->groups[gi].domain) ? ROLE_LOOP : ROLE_ROW;
  } else if (H->kind != FUSE_REDUCE) {
    return 0;
  }
  if (!merge_ok(b, gi, gj, as)) return 0;
  if (H->kind == FUSE_ELEMWISE)
    for (int k = 0; k < H->nnodes; k++) b->role[H->nodes[k]] = (uint8_t)as;
  return fb_merge_groups(b, gi, gj, pos) ? 1 : -1;
}

/* Appends group h to out[0..*n) unless it is gi, -1 or already there. */
static void add_group(int *out, int *n, int cap, int h, int gi) {
  if (h < 0 || h == gi) return;
  for (int q = 0; q < *n; q++)
    if (out[q] == h) return;
  if (*n < cap) out[(*n)++] = h;
}

/* Groups next to reduce group gi: those reading its values or whose values
 * it reads (through views), and reductions sharing one of its inputs. */
static int neighbours(builder *b, int gi, int *out, int cap) {
  const ir_graph *g = b->g;
  const fuse_group *G = &b->groups[gi];
  int n = 0;
  for (int k = 0; k < G->nnodes; k++) {
    int32_t v = G->nodes[k];
    const ir_node *vn = &g->nodes[v];
    for (int i = 0; i < vn->nin; i++) {
      int32_t x = vn->in[i];
      int h = fb_value_group(b, x);
      add_group(out, &n, cap, h, gi);
      if (h == gi) continue;
      /* siblings: other reductions of a stored input */
      for (int u = 0; u < b->nusers[x]; u++) {
        int s = b->group_of[b->users[x][u]];
        if (s >= 0 && b->groups[s].kind == FUSE_REDUCE) add_group(out, &n, cap, s, gi);
      }
    }
    for (int u = 0; u < b->nusers[v]; u++) {
      int32_t w = b->users[v][u];
      add_group(out, &n, cap, b->group_of[w], gi);
      if (ir_ops[g->nodes[w].op].props & IR_P_VIEW)
        for (int t = 0; t < b->nusers[w]; t++)
          add_group(out, &n, cap, b->group_of[b->users[w][t]], gi);
    }
  }
  return n;
}

bool fb_merge_reductions(builder *b, const int *pos) {
  enum { CAP = 256 };
  int near[CAP];
  for (bool changed = true; changed;) {
    changed = false;
    for (int gi = 0; gi < b->ngroups; gi++) {
      if (b->groups[gi].kind != FUSE_REDUCE) continue;
      int n = neighbours(b, gi, near, CAP);
      for (int k = 0; k < n; k++) {
        int gj = near[k];
        const fuse_group *H = &b->groups[gj];
        int r = 0;
        if (H->kind == FUSE_SINGLE && H->nnodes == 1 && ir_is_update(&b->g->nodes[H->root])) {
          /* an update of a per-row value (a running statistic) */
          if (fb_update_epilogue(b, H->root) == gi && !fb_reaches_through_other(b, gi, gj) &&
              !fb_reaches_through_other(b, gj, gi))
            r = fb_merge_groups(b, gi, gj, pos) ? 1 : -1;
        } else {
          r = fb_reduce_join(b, gi, gj, pos);
        }
        if (r < 0) return false;
        if (r > 0) {
          changed = true;
          break; /* the neighbourhood changed */
        }
      }
    }
  }
  return true;
}
