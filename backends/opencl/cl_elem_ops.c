/* cl_elem_ops.c — OpenCL for the elementwise, movement and reduction
 * extensions that need more than an ops.def expression:
 * - casts (the conversion depends on both dtypes);
 * - injective members (slice, slice_grad, pad, concat, tile, gather,
 *   one_hot, and transposes of producers evaluated at index): index
 *   arithmetic that reads each input at the element that the output
 *   element comes from, so they fuse with elementwise consumers; an input
 *   that is a producer fused into them (ROLE_AT_INDEX) is computed there,
 *   at those coordinates, instead of loaded;
 * - kernels of their own: gather_grad (scatter-add, one work-item per
 *   output element looping over the indices: deterministic, no atomics),
 *   argmax/argmin and cumsum (one work-item per line along the axis). */
#include <stdio.h>
#include <string.h>

#include "backends/opencl/cl_emit.h"

/* Float to int truncates toward zero and saturates (NaN -> 0), as the
 * reference does; to bool is "!= 0"; the rest are C conversions. */
const char *cl_cast_expr(gc_dtype from, gc_dtype to) {
  if (to == GC_BOOL) return "((%0) != 0)";
  if (from == GC_F32 && to == GC_I32) return "convert_int_sat_rtz(%0)";
  if (from == GC_F32 && to == GC_I64) return "convert_long_sat_rtz(%0)";
  return "((%T)(%0))";
}

typedef char coord[256];

/* Appends sum_d (c[d]) * stride_d over the dims of s larger than 1. */
static void lin_index(strbuf *sb, gc_shape s, coord *c) {
  int64_t st[GC_MAX_DIMS];
  cg_strides(s, st);
  bool any = false;
  for (int d = 0; d < s.ndim; d++) {
    if (s.dim[d] == 1) continue;
    sb_appendf(sb, "%s(%s) * %lld", any ? " + " : "", c[d], (long long)st[d]);
    any = true;
  }
  if (!any) sb_append(sb, "0");
}

/* Appends node's element at coordinates c. */
static void read_at(cg_ctx *G, strbuf *sb, int32_t node, coord *c) {
  strbuf idx = {0};
  lin_index(&idx, G->g->nodes[node].shape, c);
  cg_access(G, sb, node, sb_str(&idx));
  sb_free(&idx);
}

/* dest = node's element at coordinates c (in node's shape): a load, or
 * for a producer evaluated at the movement op's coordinates
 * (ROLE_AT_INDEX, passes/fuse_movement.c) its members in a block. */
static void read_into(cg_ctx *G, strbuf *sb, int32_t node, coord *c, const char *dest) {
  if (G->p->fuse.role[node] == ROLE_AT_INDEX) {
    const char *cs[GC_MAX_DIMS];
    for (int d = 0; d < G->g->nodes[node].shape.ndim; d++) cs[d] = c[d];
    cg_eval_at(G, sb, node, cs, dest);
    return;
  }
  sb_appendf(sb, "%s = ", dest);
  read_at(G, sb, node, c);
  sb_append(sb, "; ");
}

/* "long g<id> = indices[...]" normalized: negative counts from len. The
 * index tensor's coordinates c; the indices may be a producer evaluated
 * here (index arithmetic, ROLE_AT_INDEX), as data reads may. */
static void load_index_at(cg_ctx *G, strbuf *sb, int32_t id, int32_t idx_node, coord *c,
                          int64_t len) {
  sb_appendf(sb, "%s q%d; ", cg_ctype(G->g->nodes[idx_node].dtype), id);
  char q[24];
  snprintf(q, sizeof q, "q%d", id);
  read_into(G, sb, idx_node, c, q);
  sb_appendf(sb, "long g%d = q%d; if (g%d < 0) g%d += %lld; ", id, id, id, id, (long long)len);
}

/* load_index_at for an index tensor whose coordinates are domain dims
 * first..first+ndim-1 (gather). */
static void load_index(cg_ctx *G, strbuf *sb, int32_t id, int32_t idx_node, int first,
                       int64_t len) {
  coord c[GC_MAX_DIMS];
  const gc_shape *is = &G->g->nodes[idx_node].shape;
  for (int d = 0; d < is->ndim; d++) snprintf(c[d], sizeof c[d], "i%d", first + d);
  load_index_at(G, sb, id, idx_node, c, len);
}

/* "T v<id>; ..." of a movement member: the reads are statements, so a
 * producer evaluated at index runs only where its element is read. */
void cl_emit_injective(cg_ctx *G, strbuf *sb, gc_shape dom, int32_t id) {
  const ir_node *n = &G->g->nodes[id];
  const char *T = cg_ctype(n->dtype);
  int32_t x = n->in[0];
  const gc_shape *xs = &G->g->nodes[x].shape;
  coord c[GC_MAX_DIMS];
  char v[24];
  snprintf(v, sizeof v, "v%d", id);
  (void)dom; /* an injective node starts its group: the domain is its shape */
  switch (n->op) {
    case IR_OP_TRANSPOSE: /* only where it reads a value evaluated at index */
      for (int d = 0; d < n->shape.ndim; d++) snprintf(c[n->attr.perm[d]], sizeof c[0], "i%d", d);
      sb_appendf(sb, "%s %s; ", T, v);
      read_into(G, sb, x, c, v);
      break;
    case IR_OP_SLICE:
      for (int d = 0; d < xs->ndim; d++)
        snprintf(c[d], sizeof c[d], "%lld + i%d * %lld", (long long)n->attr.starts[d], d,
                 (long long)n->attr.steps[d]);
      sb_appendf(sb, "%s %s; ", T, v);
      read_into(G, sb, x, c, v);
      break;
    case IR_OP_SLICE_GRAD: {
      strbuf cond = {0};
      for (int d = 0; d < xs->ndim; d++) {
        long long s = (long long)n->attr.starts[d], st = (long long)n->attr.steps[d];
        long long len = (long long)xs->dim[d];
        snprintf(c[d], sizeof c[d], "(i%d - %lld) / %lld", d, s, st);
        sb_appendf(&cond,
                   "%s(i%d - %lld) %% %lld == 0 && (i%d - %lld) / %lld >= 0 && "
                   "(i%d - %lld) / %lld < %lld",
                   d ? " && " : "", d, s, st, d, s, st, d, s, st, len);
      }
      sb_appendf(sb, "%s %s = 0.0f; if (%s) { ", T, v, xs->ndim ? sb_str(&cond) : "1");
      read_into(G, sb, x, c, v);
      sb_append(sb, "}");
      sb->oom |= cond.oom;
      sb_free(&cond);
      break;
    }
    case IR_OP_PAD: {
      strbuf cond = {0};
      bool any = false;
      for (int d = 0; d < xs->ndim; d++) {
        long long b = (long long)n->attr.pads[d], len = (long long)xs->dim[d];
        char j[40];
        snprintf(j, sizeof j, "(i%d - %lld)", d, b);
        if (n->attr.mode == GC_PAD_REFLECT)
          snprintf(c[d], sizeof c[d], "%s < 0 ? -%s : (%s >= %lld ? %lld - %s : %s)", j, j, j, len,
                   2 * (len - 1), j, j);
        else if (n->attr.mode == GC_PAD_EDGE)
          snprintf(c[d], sizeof c[d], "clamp(%s, 0, %lld)", j, len - 1);
        else
          snprintf(c[d], sizeof c[d], "%s", j);
        if (n->attr.mode == GC_PAD_CONSTANT && (b || n->attr.pads[GC_MAX_DIMS + d])) {
          sb_appendf(&cond, "%s%s >= 0 && %s < %lld", any ? " && " : "", j, j, len);
          any = true;
        }
      }
      sb_appendf(sb, "%s %s = (%s)", T, v, T);
      cg_float(sb, any ? n->attr.f[0] : 0.0);
      sb_append(sb, "; ");
      if (any) sb_appendf(sb, "if (%s) { ", sb_str(&cond));
      read_into(G, sb, x, c, v);
      if (any) sb_append(sb, "}");
      sb->oom |= cond.oom;
      sb_free(&cond);
      break;
    }
    case IR_OP_CONCAT: {
      int ax = n->attr.axis;
      int64_t off = 0;
      sb_appendf(sb, "%s %s; ", T, v);
      for (int k = 0; k < n->nin; k++) {
        const gc_shape *s = &G->g->nodes[n->in[k]].shape;
        for (int d = 0; d < s->ndim; d++)
          if (d == ax)
            snprintf(c[d], sizeof c[d], "i%d - %lld", d, (long long)off);
          else
            snprintf(c[d], sizeof c[d], "i%d", d);
        off += s->dim[ax];
        if (k < n->nin - 1)
          sb_appendf(sb, "%sif (i%d < %lld) { ", k ? "else " : "", ax, (long long)off);
        else if (k)
          sb_append(sb, "else { ");
        read_into(G, sb, n->in[k], c, v);
        if (k || n->nin > 1) sb_append(sb, "} ");
      }
      break;
    }
    case IR_OP_TILE:
      for (int d = 0; d < xs->ndim; d++)
        snprintf(c[d], sizeof c[d], "i%d %% %lld", d, (long long)xs->dim[d]);
      sb_appendf(sb, "%s %s; ", T, v);
      read_into(G, sb, x, c, v);
      break;
    case IR_OP_GATHER: {
      int ax = n->attr.axis, r = G->g->nodes[n->in[1]].shape.ndim;
      int64_t len = xs->dim[ax];
      load_index(G, sb, id, n->in[1], ax, len);
      for (int d = 0; d < xs->ndim; d++)
        if (d < ax)
          snprintf(c[d], sizeof c[d], "i%d", d);
        else if (d == ax)
          snprintf(c[d], sizeof c[d], "g%d", id);
        else
          snprintf(c[d], sizeof c[d], "i%d", d + r - 1);
      sb_appendf(sb, "%s %s = (%s)0; if (g%d >= 0 && g%d < %lld) { ", T, v, T, id, id,
                 (long long)len);
      read_into(G, sb, x, c, v);
      sb_append(sb, "}");
      break;
    }
    case IR_OP_ONE_HOT: {
      int ax = n->attr.axis;
      /* the index tensor's dims are the output's without ax: rename them */
      coord ic[GC_MAX_DIMS];
      for (int d = 0, k = 0; d < n->shape.ndim; d++)
        if (d != ax) snprintf(ic[k++], sizeof ic[0], "i%d", d);
      load_index_at(G, sb, id, x, ic, n->attr.depth);
      sb_appendf(sb, "float v%d = g%d == i%d ? ", id, id, ax);
      cg_float(sb, n->attr.f[1]);
      sb_append(sb, " : ");
      cg_float(sb, n->attr.f[0]);
      sb_append(sb, ";");
      break;
    }
    default:
      sb_appendf(sb, "%s %s = 0; /* no injective emitter */", T, v);
      break;
  }
  sb_append(sb, " ");
}

/* ---- kernels of their own ---- */

/* [outer, len, inner] view of shape s around axis ax. */
static void split_axis(gc_shape s, int ax, int64_t *outer, int64_t *len, int64_t *inner) {
  *outer = *inner = 1;
  for (int d = 0; d < ax; d++) *outer *= s.dim[d];
  for (int d = ax + 1; d < s.ndim; d++) *inner *= s.dim[d];
  *len = s.dim[ax];
}

static void emit_gather_grad(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *body) {
  int64_t outer, len, inner, kk = gc_shape_numel(G->g->nodes[n->in[1]].shape);
  split_axis(n->shape, n->attr.axis, &outer, &len, &inner);
  int64_t total = outer * len * inner;
  sb_appendf(body,
             "  const int gid = get_global_id(0);\n  if (gid >= %lld) return;\n"
             "  const int o = gid / %lld, j = (gid / %lld) %% %lld, q = gid %% %lld;\n"
             "  float acc = 0.0f;\n  for (int k = 0; k < %lld; k++) {\n    long v = ",
             (long long)total, (long long)(len * inner), (long long)inner, (long long)len,
             (long long)inner, (long long)kk);
  cg_access(G, body, n->in[1], "k");
  sb_appendf(body, ";\n    if (v < 0) v += %lld;\n    if (v == j) acc += ", (long long)len);
  strbuf idx = {0};
  sb_appendf(&idx, "(o * %lld + k) * %lld + q", (long long)kk, (long long)inner);
  cg_access(G, body, n->in[0], sb_str(&idx));
  sb_free(&idx);
  sb_append(body, ";\n  }\n  ");
  cg_access(G, body, id, "gid");
  sb_append(body, " = acc;\n");
  cg_geometry_1d(L, total);
}

/* Strict comparisons: ties keep the first index (the last with mode 1) and
 * NaN never replaces the best, exactly as the reference. */
static void emit_arg(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *body) {
  int64_t outer, len, inner;
  split_axis(G->g->nodes[n->in[0]].shape, n->attr.axis, &outer, &len, &inner);
  strbuf xv = {0};
  cg_access(G, &xv, n->in[0], "base + j * INNER");
  sb_appendf(body,
             "#define INNER %lld\n"
             "  const int gid = get_global_id(0);\n  if (gid >= %lld) return;\n"
             "  const int base = (gid / INNER) * %lld + gid %% INNER;\n"
             "  int best = 0;\n  { const int j = 0; float b = %s;\n"
             "  for (int j = 1; j < %lld; j++) {\n    const float v = %s;\n"
             "    if (v %s b%s) { b = v; best = j; }\n  } }\n  ",
             (long long)inner, (long long)(outer * inner), (long long)(len * inner), sb_str(&xv),
             (long long)len, sb_str(&xv), n->op == IR_OP_ARGMAX ? ">" : "<",
             n->attr.mode == 1 ? " || v == b" : "");
  cg_access(G, body, id, "gid");
  sb_append(body, " = (long)best;\n#undef INNER\n");
  sb_free(&xv);
  cg_geometry_1d(L, outer * inner);
}

static void emit_cumsum(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *body) {
  int64_t outer, len, inner;
  split_axis(n->shape, n->attr.axis, &outer, &len, &inner);
  bool exclusive = n->attr.mode & 1, reverse = n->attr.mode & 2;
  strbuf xv = {0}, yv = {0};
  char jexpr[48] = "t";
  if (reverse) snprintf(jexpr, sizeof jexpr, "%lld - t", (long long)(len - 1));
  cg_access(G, &xv, n->in[0], "base + j * INNER");
  cg_access(G, &yv, id, "base + j * INNER");
  sb_appendf(body,
             "#define INNER %lld\n"
             "  const int gid = get_global_id(0);\n  if (gid >= %lld) return;\n"
             "  const int base = (gid / INNER) * %lld + gid %% INNER;\n"
             "  float acc = 0.0f;\n  for (int t = 0; t < %lld; t++) {\n"
             "    const int j = %s;\n    const float v = %s;\n",
             (long long)inner, (long long)(outer * inner), (long long)(len * inner), (long long)len,
             jexpr, sb_str(&xv));
  if (exclusive)
    sb_appendf(body, "    %s = acc;\n    acc += v;\n", sb_str(&yv));
  else
    sb_appendf(body, "    acc += v;\n    %s = acc;\n", sb_str(&yv));
  sb_append(body, "  }\n#undef INNER\n");
  sb_free(&xv);
  sb_free(&yv);
  cg_geometry_1d(L, outer * inner);
}

gc_status cl_emit_elem_single(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *body) {
  switch (n->op) {
    case IR_OP_GATHER_GRAD:
      emit_gather_grad(G, n, id, L, body);
      return GC_OK;
    case IR_OP_ARGMAX:
    case IR_OP_ARGMIN:
      emit_arg(G, n, id, L, body);
      return GC_OK;
    case IR_OP_CUMSUM:
      emit_cumsum(G, n, id, L, body);
      return GC_OK;
    default:
      return gc_fail(GC_ERR_UNSUPPORTED, "codegen: no OpenCL kernel for %s",
                     ir_node_label(G->g, id));
  }
}
