/* cl_codegen.c — OpenCL C for every kernel group of a program:
 * - elementwise groups: one work-item per element of the domain (GPUs) or
 *   per chunk of it, walked in rows (CPUs: emit_elementwise_loop); each
 *   member is a scalar expression (ops.def's OpenCL column) kept in a
 *   register; inputs from other kernels are read with broadcast (stride 0)
 *   or permuted (transpose) index arithmetic, never materialized;
 * - reductions (row kernels): one work-item per output element, passes of
 *   nested loops over the reduced axes — one per stage of reductions, each
 *   evaluating the loop members its reductions read, plus a final pass for
 *   the loop members stored — and the row members once per result after
 *   the pass they need;
 * - matmuls: kernels/gemm.cl instances whose GEMM_STORE is the fused
 *   epilogue;
 * - single ops (softmax, cross-entropy, optimizer updates): own templates.
 * Shapes and offsets are constants, so the compiler folds the arithmetic. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/opencl/cl_blas.h"
#include "backends/opencl/cl_codegen.h"
#include "backends/opencl/cl_conv.h"
#include "backends/opencl/cl_emit.h"
#include "backends/opencl/cl_gemm.h"
#include "backends/opencl/cl_nn.h"
#include "ir/strbuf.h"

const char *cg_ctype(gc_dtype t) {
  switch (t) {
    case GC_F32:
      return "float";
    case GC_I32:
      return "int";
    case GC_I64:
      return "long";
    default:
      return "uchar";
  }
}

/* A float literal OpenCL C accepts ("1.0f", "1e-08f"). */
void cg_float(strbuf *sb, double v) {
  char buf[64];
  if (isnan(v)) {
    sb_append(sb, "NAN");
    return;
  }
  if (isinf(v)) {
    sb_append(sb, v > 0 ? "INFINITY" : "(-INFINITY)");
    return;
  }
  snprintf(buf, sizeof buf, "%.9g", v);
  sb_append(sb, buf);
  if (!strpbrk(buf, ".eE")) sb_append(sb, ".0");
  sb_append(sb, "f");
}

/* Kernel parameter name of the buffer holding node's storage. */
static int param_of_buffer(cg_ctx *G, int b) {
  for (int i = 0; i < G->nused; i++)
    if (G->used[i] == b) return i;
  if (G->nused == (int)(sizeof G->used / sizeof G->used[0])) {
    G->overflow = true;
    return 0;
  }
  G->used[G->nused] = b;
  return G->nused++;
}

int cg_param(cg_ctx *G, int32_t node) {
  int b = G->out->buffer_of[G->p->mem.root[node]];
  if (b < 0) { /* no storage: a value the fusion plan keeps in registers */
    G->unstored = node;
    return 0;
  }
  return param_of_buffer(G, b);
}

int cg_scratch_param(cg_ctx *G, size_t bytes) {
  cl_codegen *o = G->out;
  if (o->scratch_buffer < 0) {
    o->scratch_buffer = o->nbuffers;
    o->buffer_node[o->nbuffers++] = CL_SCRATCH_NODE;
  }
  if (bytes > o->scratch_bytes) o->scratch_bytes = bytes;
  return param_of_buffer(G, o->scratch_buffer);
}

void cg_gemm_scratch(cg_ctx *G, cl_gemm_spec *spec, char name[16]) {
  spec->scratch = NULL;
  const size_t bytes = cl_gemm_scratch_bytes(spec);
  if (!bytes) return;
  snprintf(name, 16, "a%d", cg_scratch_param(G, bytes));
  spec->scratch = name;
}

/* Element offset of node in its buffer. */
int64_t cg_elem_offset(const cg_ctx *G, int32_t node) {
  if (G->p->mem.kind[G->p->mem.root[node]] != STORE_ARENA) return 0;
  return (int64_t)(G->p->mem.offset[node] / gc_dtype_size(G->g->nodes[node].dtype));
}

/* Appends an lvalue: element idx of node's storage. */
void cg_access(cg_ctx *G, strbuf *sb, int32_t node, const char *idx) {
  gc_dtype t = G->g->nodes[node].dtype;
  int k = cg_param(G, node);
  if (t == GC_F32)
    sb_appendf(sb, "a%d[%lld + (%s)]", k, (long long)cg_elem_offset(G, node), idx);
  else
    sb_appendf(sb, "((__global %s *)a%d)[%lld + (%s)]", cg_ctype(t), k,
               (long long)cg_elem_offset(G, node), idx);
}

void cg_strides(gc_shape s, int64_t *st) {
  int64_t acc = 1;
  for (int i = s.ndim - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= s.dim[i];
  }
}

/* coef[d]: the step in xs's linear index per step of domain index d, for
 * xs read at the domain index (numpy broadcasting aligned from the right,
 * 0 along broadcast dims; perm (transpose) maps domain dim d to xs dim
 * perm[d]). */
static void index_coefs(gc_shape dom, gc_shape xs, const int *perm, int64_t *coef) {
  int64_t st[GC_MAX_DIMS];
  cg_strides(xs, st);
  for (int d = 0; d < dom.ndim; d++) {
    int j = perm ? perm[d] : d - (dom.ndim - xs.ndim);
    coef[d] = j < 0 || xs.dim[j] == 1 ? 0 : st[j];
  }
}

/* The terms coef[d] i<d> for d < from, then (from < the rank) t times the
 * last dim's step: the dims from `from` on are one loop index t, which
 * emit_elementwise_loop checked every read walks with one stride. */
static void index_terms(strbuf *sb, gc_shape dom, const int64_t *coef, int from) {
  bool any = false;
  for (int d = 0; d < from && d < dom.ndim; d++) {
    if (!coef[d]) continue;
    sb_appendf(sb, "%si%d * %lld", any ? " + " : "", d, (long long)coef[d]);
    any = true;
  }
  if (from < dom.ndim && coef[dom.ndim - 1]) {
    sb_appendf(sb, "%st * %lld", any ? " + " : "", (long long)coef[dom.ndim - 1]);
    any = true;
  }
  if (!any) sb_append(sb, "0");
}

/* Linear index into a tensor of shape xs read at domain index (i0..). */
void cg_index_expr(strbuf *sb, gc_shape dom, gc_shape xs, const int *perm) {
  int64_t coef[GC_MAX_DIMS];
  index_coefs(dom, xs, perm, coef);
  index_terms(sb, dom, coef, dom.ndim);
}

/* cg_index_expr with the domain dims from G->inner_from on read as t. */
static void index_expr(const cg_ctx *G, strbuf *sb, gc_shape dom, gc_shape xs, const int *perm) {
  int64_t coef[GC_MAX_DIMS];
  index_coefs(dom, xs, perm, coef);
  index_terms(sb, dom, coef, G->inner_from);
}

/* The first dim of the longest domain suffix along which a read with
 * steps coef walks memory with one stride: coef[d] = coef[d + 1] *
 * dom[d + 1] all along (dims of size 1 never move). */
static int one_stride_from(gc_shape dom, const int64_t *coef) {
  int s = dom.ndim - 1;
  int64_t expect = coef[s] * dom.dim[s];
  while (s > 0 && (dom.dim[s - 1] == 1 || coef[s - 1] == expect)) expect *= dom.dim[--s];
  return s;
}

static bool in_group(const cg_ctx *G, int gi, int32_t node) {
  return G->p->fuse.group_of[node] == gi && !(ir_ops[G->g->nodes[node].op].props & IR_P_LEAF);
}

/* Is node a producer that group gi evaluates only inside its movement
 * members' reads? */
static bool at_index(const cg_ctx *G, int gi, int32_t node) {
  return in_group(G, gi, node) && G->p->fuse.role[node] == ROLE_AT_INDEX;
}

/* The value of input x of a member as seen at the domain index. */
static void expression(cg_ctx *G, strbuf *sb, int gi, gc_shape dom, int32_t id);

/* Is x a slice its readers recompute (passes/fuse.c: of a persistent
 * tensor), which they read as its source at the slice's coordinates? */
static bool recomputed_slice(const cg_ctx *G, int32_t x) {
  return G->p->fuse.inlined[x] && G->g->nodes[x].op == IR_OP_SLICE;
}

/* x read at the domain index, as an affine map into the tensor it
 * returns: element *base + sum_d coef[d] i<d>. A recomputed slice reads
 * its source at start + i * step; anything else is x read by
 * broadcasting. */
static int32_t affine_read(const cg_ctx *G, gc_shape dom, int32_t x, int64_t *base, int64_t *coef) {
  const ir_node *n = &G->g->nodes[x];
  *base = 0;
  if (!recomputed_slice(G, x)) {
    index_coefs(dom, n->shape, NULL, coef);
    return x;
  }
  int64_t st[GC_MAX_DIMS];
  cg_strides(G->g->nodes[n->in[0]].shape, st);
  for (int d = 0; d < dom.ndim; d++) coef[d] = 0;
  for (int j = 0; j < n->shape.ndim; j++) {
    *base += n->attr.starts[j] * st[j];
    int d = j + dom.ndim - n->shape.ndim;
    if (d >= 0 && n->shape.dim[j] != 1) coef[d] = n->attr.steps[j] * st[j];
  }
  return n->in[0];
}

/* Appends x's element at the domain index (affine_read; the dims from
 * `from` on walked as t). */
static void affine_access(cg_ctx *G, strbuf *sb, gc_shape dom, int32_t x, int from) {
  int64_t base, coef[GC_MAX_DIMS];
  int32_t src = affine_read(G, dom, x, &base, coef);
  strbuf idx = {0};
  if (base) sb_appendf(&idx, "%lld + ", (long long)base);
  index_terms(&idx, dom, coef, from);
  cg_access(G, sb, src, sb_str(&idx));
  sb->oom |= idx.oom;
  sb_free(&idx);
}

static void operand(cg_ctx *G, strbuf *sb, int gi, gc_shape dom, int32_t x) {
  /* a member's value, also through a view: the fusion pass lets a member
   * read one only where the view's element is the work-item's own */
  if (in_group(G, gi, ir_view_source(G->g, x))) {
    sb_appendf(sb, "v%d", ir_view_source(G->g, x));
    return;
  }
  if (G->p->fuse.inlined[x] && !recomputed_slice(G, x)) { /* recomputed here */
    sb_append(sb, "(");
    expression(G, sb, gi, dom, x);
    sb_append(sb, ")");
    return;
  }
  affine_access(G, sb, dom, x, G->inner_from); /* stored, or a slice's source */
}

/* "T v<id> = <expr>;" for an elementwise member (or transpose). */
static void member(cg_ctx *G, strbuf *sb, int gi, gc_shape dom, int32_t id) {
  const ir_node *n = &G->g->nodes[id];
  if (ir_ops[n->op].fusion == IR_FUSE_INJECTIVE &&
      (n->op != IR_OP_TRANSPOSE || at_index(G, gi, n->in[0]))) {
    cl_emit_injective(G, sb, dom, id); /* slice, pad, gather, ... */
    return;
  }
  sb_appendf(sb, "%s v%d = ", cg_ctype(n->dtype), id);
  if (n->op == IR_OP_TRANSPOSE) {
    strbuf idx = {0};
    index_expr(G, &idx, dom, G->g->nodes[n->in[0]].shape, n->attr.perm);
    cg_access(G, sb, n->in[0], sb_str(&idx));
    sb_free(&idx);
    sb_append(sb, "; ");
    return;
  }
  expression(G, sb, gi, dom, id);
  sb_append(sb, "; ");
}

/* The scalar expression of an elementwise node (ops.def's OpenCL column)
 * at the domain index, its inputs as operands. */
static void expression(cg_ctx *G, strbuf *sb, int gi, gc_shape dom, int32_t id) {
  const ir_node *n = &G->g->nodes[id];
  const char *expr = n->op == IR_OP_CAST ? cl_cast_expr(G->g->nodes[n->in[0]].dtype, n->dtype)
                                         : ir_ops[n->op].cl_expr;
  for (const char *c = expr; *c; c++) {
    if (*c == '%' && c[1] >= '0' && c[1] <= '9') {
      operand(G, sb, gi, dom, n->in[c[1] - '0']);
      c++;
    } else if (*c == '%' && c[1] >= 'a' && c[1] <= 'd') { /* attr.f[0..3] */
      cg_float(sb, n->attr.f[c[1] - 'a']);
      c++;
    } else if (*c == '%' && c[1] == 'T') {
      sb_append(sb, cg_ctype(n->dtype));
      c++;
    } else {
      sb_appendn(sb, c, 1);
    }
  }
}

/* Declares i0..i(n-1) from linear index var over shape dom (dims with
 * keep == NULL or keep[d] set). */
static void decompose(strbuf *sb, gc_shape dom, const char *var, const bool *keep) {
  sb_appendf(sb, "  int r_ = %s;\n", var);
  for (int d = dom.ndim - 1; d >= 0; d--) {
    if (keep && !keep[d]) continue;
    sb_appendf(sb, "  const int i%d = r_ %% %lld; r_ /= %lld;\n", d, (long long)dom.dim[d],
               (long long)dom.dim[d]);
  }
  sb_append(sb, "  (void)r_;\n");
}

static void signature(cg_ctx *G, strbuf *sb, const char *name) {
  sb_appendf(sb, "__kernel void %s(", name);
  for (int i = 0; i < G->nused; i++) sb_appendf(sb, "%s__global float *a%d", i ? ", " : "", i);
  sb_append(sb, ")");
}

void cg_geometry_1d(cl_launch *L, int64_t items) {
  L->work_dim = 1;
  L->local[0] = items >= LOCAL_SIZE ? LOCAL_SIZE : 1;
  L->global[0] = (size_t)((items + (int64_t)L->local[0] - 1) / (int64_t)L->local[0]) * L->local[0];
}

/* ---- group emitters: fill body (uses buffers), then the caller wraps ---- */

/* The stores of a concat that group gi computes the inputs of
 * (ROLE_PIECES): each input's element at the domain index goes to its
 * place in the concat, the domain index shifted along the axis by the
 * inputs before it. */
static void store_pieces(cg_ctx *G, int gi, strbuf *body, int32_t id) {
  const ir_node *n = &G->g->nodes[id];
  const gc_shape dom = G->p->fuse.groups[gi].domain;
  const int ax = n->attr.axis;
  int64_t coef[GC_MAX_DIMS];
  index_coefs(dom, n->shape, NULL, coef);
  for (int k = 0; k < n->nin; k++) {
    strbuf idx = {0};
    index_terms(&idx, dom, coef, G->inner_from);
    sb_appendf(&idx, " + %lld", (long long)(k * dom.dim[ax] * coef[ax]));
    sb_append(body, "  ");
    cg_access(G, body, id, sb_str(&idx));
    sb_append(body, " = ");
    operand(G, body, gi, dom, n->in[k]);
    sb_append(body, ";\n");
    sb_free(&idx);
  }
}

static int member_index(const fuse_group *gr, int32_t id);

/* Which members of elementwise group gi (hoist[k] for member k) are
 * constant along the domain dims from `from` on, where the domain is
 * longer than 1: broadcast producers (passes/fuse_broadcast.c), whose
 * shapes, right-aligned, have extent 1 there. The CPU loop evaluates them
 * once per row, before the row's loop — if what they read of the group
 * is hoisted too (broadcasting makes every input of such a member
 * constant there; a stored member stays in the loop, and so do its
 * readers). Returns whether any is. */
static bool row_invariants(const cg_ctx *G, int gi, int from, bool *hoist) {
  const fuse_group *gr = &G->p->fuse.groups[gi];
  const gc_shape dom = gr->domain;
  bool row_longer = false, any = false;
  for (int d = from; d < dom.ndim; d++) row_longer = row_longer || dom.dim[d] > 1;
  for (int k = 0; k < gr->nnodes; k++) {
    int32_t id = gr->nodes[k];
    const ir_node *n = &G->g->nodes[id];
    hoist[k] = row_longer && ir_is_elementwise(n) && G->p->fuse.role[id] == ROLE_PLAIN &&
               !G->p->fuse.materialized[id] && n->shape.ndim <= dom.ndim;
    for (int d = from; d < dom.ndim && hoist[k]; d++) {
      int j = d - (dom.ndim - n->shape.ndim);
      hoist[k] = j < 0 || n->shape.dim[j] == 1;
    }
    for (int i = 0; i < n->nin && hoist[k]; i++) {
      int m = member_index(gr, ir_view_source(G->g, n->in[i]));
      hoist[k] = m < 0 || (m < k && hoist[m]);
    }
    any = any || hoist[k];
  }
  return any;
}

/* The members of an elementwise group at the domain index, and the stores
 * of the materialized ones at linear index at; those with hoisted[k] set
 * are left out (the row's prologue has them). */
static void elementwise_element(cg_ctx *G, int gi, strbuf *body, const char *at,
                                const bool *hoisted) {
  const fuse_group *gr = &G->p->fuse.groups[gi];
  const uint8_t *role = G->p->fuse.role;
  for (int k = 0; k < gr->nnodes; k++)
    if (!at_index(G, gi, gr->nodes[k]) && role[gr->nodes[k]] != ROLE_PIECES &&
        !(hoisted && hoisted[k]))
      member(G, body, gi, gr->domain, gr->nodes[k]);
  sb_append(body, "\n");
  for (int k = 0; k < gr->nnodes; k++) {
    int32_t id = gr->nodes[k];
    if (!G->p->fuse.materialized[id]) continue;
    if (role[id] == ROLE_PIECES) {
      store_pieces(G, gi, body, id);
      continue;
    }
    sb_append(body, "  ");
    cg_access(G, body, id, at);
    sb_appendf(body, " = v%d;\n", id);
  }
}

static void emit_elementwise(cg_ctx *G, int gi, cl_launch *L, strbuf *body) {
  const fuse_group *gr = &G->p->fuse.groups[gi];
  gc_shape dom = gr->domain;
  int64_t numel = gc_shape_numel(dom);
  sb_appendf(body, "  const int gid = get_global_id(0);\n  if (gid >= %lld) return;\n",
             (long long)numel);
  decompose(body, dom, "gid", NULL);
  sb_append(body, "  ");
  elementwise_element(G, gi, body, "gid", NULL);
  cg_geometry_1d(L, numel);
}

/* The first domain dim of the suffix that every read of operand x (through
 * the expressions of recomputed values) walks with one stride, or more. */
static int operand_inner_from(const cg_ctx *G, int gi, gc_shape dom, int32_t x) {
  if (in_group(G, gi, ir_view_source(G->g, x))) return 0; /* a register */
  const ir_node *n = &G->g->nodes[x];
  int s = 0;
  if (G->p->fuse.inlined[x] && !recomputed_slice(G, x)) {
    for (int k = 0; k < n->nin; k++) {
      int f = operand_inner_from(G, gi, dom, n->in[k]);
      s = f > s ? f : s;
    }
    return s;
  }
  int64_t base, coef[GC_MAX_DIMS];
  affine_read(G, dom, x, &base, coef);
  return one_stride_from(dom, coef);
}

/* The first dim of the domain suffix that an elementwise group's loop (or
 * a complex group's epilogue) can walk as one index: every read walks it
 * with one stride (the stores are contiguous). Injective members compute
 * their reads from each domain index, so with them only the last dim is
 * the loop's. A complex group's root is not read at the domain index. */
static int group_inner_from(const cg_ctx *G, int gi, gc_shape dom) {
  const fuse_group *gr = &G->p->fuse.groups[gi];
  int s = 0;
  for (int k = 0; k < gr->nnodes && s < dom.ndim - 1; k++) {
    const ir_node *n = &G->g->nodes[gr->nodes[k]];
    int f = 0;
    if (gr->kind == FUSE_COMPLEX && gr->nodes[k] == gr->root) continue;
    if (at_index(G, gi, gr->nodes[k])) continue; /* read at the coordinates of a member below */
    if (n->op == IR_OP_TRANSPOSE && !at_index(G, gi, n->in[0])) {
      int64_t coef[GC_MAX_DIMS];
      index_coefs(dom, G->g->nodes[n->in[0]].shape, n->attr.perm, coef);
      f = one_stride_from(dom, coef);
    } else if (ir_ops[n->op].fusion == IR_FUSE_INJECTIVE) {
      f = dom.ndim - 1;
    } else {
      for (int i = 0; i < n->nin; i++) {
        int fi = operand_inner_from(G, gi, dom, n->in[i]);
        f = fi > f ? fi : f;
      }
    }
    s = f > s ? f : s;
  }
  return s;
}

/* Elements per work-item of a CPU elementwise kernel: enough to make the
 * work-item's start (a few divisions, about as long as the element loop
 * of 20 elements) negligible, few enough that 64 work-items share the
 * domain between the compute units. */
static int64_t elementwise_chunk(int64_t numel) {
  int64_t chunk = (numel / 64 + 63) / 64 * 64;
  return chunk < 64 ? 64 : chunk > 1024 ? 1024 : chunk;
}

/* The CPU form of an elementwise group. One work-item per element spends
 * most of its time on the division chain that turns its id into domain
 * indices (a ReLU over [64, 32, 26, 26] ran at a thirtieth of memory
 * speed on PoCL). Here a work-item walks a chunk of the domain in rows of
 * the longest suffix every read walks with one stride (all of it for a
 * plain chain; the last dims for a bias broadcast), dividing once per row;
 * inside a row every address is an affine function of t, which LLVM
 * vectorizes. */
static void emit_elementwise_loop(cg_ctx *G, int gi, cl_launch *L, strbuf *body) {
  const fuse_group *gr = &G->p->fuse.groups[gi];
  gc_shape dom = gr->domain;
  const int nd = dom.ndim;
  int64_t numel = gc_shape_numel(dom), chunk = elementwise_chunk(numel), inner = 1;
  int s = nd > 0 ? group_inner_from(G, gi, dom) : 0;
  for (int d = s; d < nd; d++) inner *= dom.dim[d];
  sb_appendf(body,
             "  const int e0 = get_global_id(0) * %lld;\n  if (e0 >= %lld) return;\n"
             "  const int e1 = min(e0 + %lld, %lld);\n"
             "  for (int e = e0; e < e1;) {\n"
             "  const int t0 = e %% %lld, t1 = min(%lld, t0 + (e1 - e)), row = e - t0;\n",
             (long long)chunk, (long long)numel, (long long)chunk, (long long)numel,
             (long long)inner, (long long)inner);
  if (s > 0) {
    gc_shape outer = dom;
    outer.ndim = s;
    sb_appendf(body, "  const int r0_ = e / %lld;\n", (long long)inner);
    decompose(body, outer, "r0_", NULL);
  }
  G->inner_from = s;
  bool *hoist = calloc((size_t)(gr->nnodes ? gr->nnodes : 1), sizeof *hoist);
  if (hoist && row_invariants(G, gi, s, hoist)) {
    sb_append(body, "  /* once per row */ ");
    for (int k = 0; k < gr->nnodes; k++)
      if (hoist[k]) member(G, body, gi, dom, gr->nodes[k]);
    sb_append(body, "\n");
  }
  sb_append(body, "  for (int t = t0; t < t1; t++) {\n  ");
  if (s == nd - 1) sb_appendf(body, "const int i%d = t; ", nd - 1);
  elementwise_element(G, gi, body, "row + t", hoist);
  free(hoist);
  G->inner_from = GC_MAX_DIMS;
  sb_append(body, "  }\n  e = row + t1;\n  }\n");
  L->work_dim = 1;
  L->local[0] = 1;
  L->global[0] = (size_t)((numel + chunk - 1) / chunk);
}

/* ---- reduce groups: one work-item per result row (passes/fuse_reduce.c) ---- */

static int member_index(const fuse_group *gr, int32_t id) {
  for (int k = 0; k < gr->nnodes; k++)
    if (gr->nodes[k] == id) return k;
  return -1;
}

/* Marks the members that producer v (ROLE_AT_INDEX) needs at index: v,
 * and the members its expression reads; a movement member reads its own
 * producers in blocks of their own. */
static void need_at_index(const cg_ctx *G, int gi, bool *need, int32_t v) {
  int k = member_index(&G->p->fuse.groups[gi], v);
  if (k < 0 || need[k]) return;
  need[k] = true;
  const ir_node *n = &G->g->nodes[v];
  if (ir_ops[n->op].fusion == IR_FUSE_INJECTIVE) return;
  for (int i = 0; i < n->nin; i++) {
    int32_t s = ir_view_source(G->g, n->in[i]);
    if (at_index(G, gi, s)) need_at_index(G, gi, need, s);
  }
}

void cg_eval_at(cg_ctx *G, strbuf *sb, int32_t node, const char *const *c, const char *dest) {
  int gi = G->p->fuse.group_of[node];
  const fuse_group *gr = &G->p->fuse.groups[gi];
  gc_shape s = G->g->nodes[node].shape;
  bool *need = calloc((size_t)gr->nnodes, sizeof *need);
  if (!need) {
    sb->oom = true;
    return;
  }
  need_at_index(G, gi, need, node);
  /* two blocks: the coordinates may read the reader's i0.. */
  sb_append(sb, "{ ");
  for (int d = 0; d < s.ndim; d++) sb_appendf(sb, "const int n%d_ = %s; ", d, c[d]);
  sb_append(sb, "{ ");
  for (int d = 0; d < s.ndim; d++) sb_appendf(sb, "const int i%d = n%d_; ", d, d);
  int inner_from = G->inner_from;
  G->inner_from = GC_MAX_DIMS; /* every index from i0.. */
  for (int k = 0; k < gr->nnodes; k++)
    if (need[k]) member(G, sb, gi, s, gr->nodes[k]);
  G->inner_from = inner_from;
  sb_appendf(sb, "%s = v%d; } } ", dest, node);
  free(need);
}

/* The pass after which operand x exists in the row kernel: the level of
 * its member (through views), of the members a recomputed operand reads,
 * or 0 for values from memory. */
static int operand_level(cg_ctx *G, int gi, const int *level, int32_t x) {
  const fuse_group *gr = &G->p->fuse.groups[gi];
  int32_t s = ir_view_source(G->g, x);
  if (in_group(G, gi, s)) return level[member_index(gr, s)];
  int lvl = 0;
  if (G->p->fuse.inlined[s])
    for (int k = 0; k < G->g->nodes[s].nin; k++) {
      int l = operand_level(G, gi, level, G->g->nodes[s].in[k]);
      lvl = l > lvl ? l : lvl;
    }
  return lvl;
}

/* level[k] of each member: a stage-s reduction runs in pass s (one pass
 * over the reduced axes) and its result exists after it; any other
 * member's value exists after the latest pass it reads. Returns the
 * number of passes the reductions need. */
static int reduce_levels(cg_ctx *G, int gi, int *level) {
  const fuse_group *gr = &G->p->fuse.groups[gi];
  int stages = 0;
  for (int k = 0; k < gr->nnodes; k++) {
    const ir_node *n = &G->g->nodes[gr->nodes[k]];
    int lvl = 0;
    for (int i = 0; i < n->nin; i++) {
      int l = operand_level(G, gi, level, n->in[i]);
      lvl = l > lvl ? l : lvl;
    }
    if (ir_ops[n->op].fusion == IR_FUSE_REDUCE) {
      lvl++;
      stages = lvl > stages ? lvl : stages;
    }
    level[k] = lvl;
  }
  return stages;
}

/* Marks the loop members that computing x needs (x itself if it is one). */
static void need_loop_value(cg_ctx *G, int gi, bool *need, int32_t x) {
  const fuse_group *gr = &G->p->fuse.groups[gi];
  int32_t s = ir_view_source(G->g, x);
  int k = in_group(G, gi, s) ? member_index(gr, s) : -1;
  if (k >= 0 && (need[k] || G->p->fuse.role[s] != ROLE_LOOP)) return;
  if (k < 0 && !G->p->fuse.inlined[s]) return;
  if (k >= 0) need[k] = true;
  for (int i = 0; i < G->g->nodes[s].nin; i++) need_loop_value(G, gi, need, G->g->nodes[s].in[i]);
}

/* "T v<id>;" and its value once per row: the member's own index variables
 * come from gid, in a block, since its shape need not be the domain's. */
static void row_member(cg_ctx *G, strbuf *body, int gi, int32_t id) {
  const ir_node *n = &G->g->nodes[id];
  sb_appendf(body, "  %s v%d;\n  {\n", cg_ctype(n->dtype), id);
  decompose(body, n->shape, "gid", NULL);
  sb_appendf(body, "  v%d = ", id);
  expression(G, body, gi, n->shape, id);
  sb_append(body, ";\n  }\n");
}

static const char *reduce_init(ir_op op) {
  return op == IR_OP_MAX    ? "-INFINITY"
         : op == IR_OP_MIN  ? "INFINITY"
         : op == IR_OP_PROD ? "1.0f"
                            : "0.0f";
}

/* acc<id> (and m<id>, logsumexp's running maximum) takes x; lane k > 0
 * accumulates in acc<id>_<k> (reduce_lanes). */
static void reduce_step(strbuf *body, const ir_node *r, int32_t id, int lane) {
  char a[32];
  if (lane)
    snprintf(a, sizeof a, "acc%d_%d", id, lane);
  else
    snprintf(a, sizeof a, "acc%d", id);
  switch (r->op) {
    case IR_OP_MAX:
      sb_appendf(body, "%s = fmax(%s, x);", a, a);
      break;
    case IR_OP_MIN:
      sb_appendf(body, "%s = fmin(%s, x);", a, a);
      break;
    case IR_OP_PROD:
      sb_appendf(body, "%s = %s * x;", a, a);
      break;
    case IR_OP_LOGSUMEXP: /* acc = sum exp(x - m) for the running maximum m */
      sb_appendf(body,
                 "if (x > m%d) { acc%d = acc%d * exp(m%d - x) + 1.0f; m%d = x; } "
                 "else if (m%d > -INFINITY) acc%d += exp(x - m%d); else if (isnan(x)) acc%d = x;",
                 id, id, id, id, id, id, id, id, id);
      break;
    default:
      sb_appendf(body, "%s = %s + x;", a, a);
  }
}

/* How two partial results of reduction r combine. */
static const char *reduce_combine(ir_op op) {
  return op == IR_OP_MAX    ? "fmax(%s, %s)"
         : op == IR_OP_MIN  ? "fmin(%s, %s)"
         : op == IR_OP_PROD ? "(%s * %s)"
                            : "(%s + %s)";
}

/* Few rows (a batch norm's channels, a batch of sequences) would fill one
 * work-group of LOCAL_SIZE and leave the other compute units idle: the
 * work-group shrinks (by powers of two) until there are 8 of them. */
static void row_geometry(cl_launch *L, int64_t rows) {
  int64_t local = LOCAL_SIZE;
  while (local > 1 && rows < 8 * local) local /= 2;
  L->work_dim = 1;
  L->local[0] = (size_t)local;
  L->global[0] = (size_t)((rows + local - 1) / local * local);
}

/* One element of pass p of a row kernel at the current domain index: the
 * loop members it needs, its reductions' steps (into lane l's
 * accumulators) and, in the store pass, the stored loop values. */
static void pass_element(cg_ctx *G, int gi, strbuf *body, const int *level, const bool *need, int p,
                         int store_pass, int lane) {
  const fuse_group *gr = &G->p->fuse.groups[gi];
  gc_shape dom = gr->domain;
  sb_append(body, "    ");
  for (int k = 0; k < gr->nnodes; k++)
    if (need[k]) member(G, body, gi, dom, gr->nodes[k]);
  sb_append(body, "\n");
  for (int k = 0; k < gr->nnodes; k++) {
    const ir_node *n = &G->g->nodes[gr->nodes[k]];
    if (ir_ops[n->op].fusion != IR_FUSE_REDUCE || level[k] != p) continue;
    sb_append(body, "    { const float x = ");
    operand(G, body, gi, dom, n->in[0]);
    sb_append(body, "; ");
    reduce_step(body, n, gr->nodes[k], lane);
    sb_append(body, " }\n");
  }
  if (p != store_pass) return;
  strbuf idx = {0};
  cg_index_expr(&idx, dom, dom, NULL);
  for (int k = 0; k < gr->nnodes; k++) {
    int32_t id = gr->nodes[k];
    if (G->p->fuse.role[id] != ROLE_LOOP || !G->p->fuse.materialized[id]) continue;
    sb_append(body, "    ");
    cg_access(G, body, id, sb_str(&idx));
    sb_appendf(body, " = v%d;\n", id);
  }
  body->oom |= idx.oom;
  sb_free(&idx);
}

/* Accumulators per reduction in pass p: one chain of dependent adds runs
 * at the adder's latency (a bias gradient summing 43,000 elements per
 * row took 4 cycles each), so an innermost reduced dim of 8 or more is
 * walked 4 elements at a time into 4 accumulators, combined after the
 * loops. Logsumexp's running maximum keeps one. */
static int reduce_lanes(const cg_ctx *G, int gi, const int *level, int p, int64_t inner_len) {
  const fuse_group *gr = &G->p->fuse.groups[gi];
  bool any = false;
  for (int k = 0; k < gr->nnodes; k++) {
    const ir_node *n = &G->g->nodes[gr->nodes[k]];
    if (ir_ops[n->op].fusion != IR_FUSE_REDUCE || level[k] != p) continue;
    if (n->op == IR_OP_LOGSUMEXP) return 1;
    any = true;
  }
  return any && inner_len >= 8 ? 4 : 1;
}

/* The GPU form of a row kernel with long rows (REDUCE_GROUP_MIN elements
 * or more): a work-group of REDUCE_GROUP work-items per row instead of one
 * work-item. A conv's bias gradient sums 43,000 elements for each of 32
 * channels: as 32 work-items that left all but a few of an H100's 132
 * compute units idle (0.43 ms of a 3 ms CNN step). Each work-item walks
 * the row's reduced elements at a stride of REDUCE_GROUP, the partial
 * results meet in a tree in local memory, and every work-item goes on
 * with the row's values; only work-item 0 stores them and applies the
 * updates. Logsumexp, whose partials are (maximum, sum) pairs, keeps the
 * row form. */
#define REDUCE_GROUP 256
#define REDUCE_GROUP_MIN 256
static bool reduce_by_group(const cg_ctx *G, int gi, int64_t count) {
  if (G->cpu || count < REDUCE_GROUP_MIN) return false;
  const fuse_group *gr = &G->p->fuse.groups[gi];
  for (int k = 0; k < gr->nnodes; k++)
    if (G->g->nodes[gr->nodes[k]].op == IR_OP_LOGSUMEXP) return false;
  return true;
}

/* The row kernel: per pass, the loops over the reduced axes evaluate the
 * loop members that pass's reductions read and accumulate them; after
 * each pass the row members it enables run; the last pass (or one more)
 * also stores the loop members read elsewhere; then the row values are
 * stored and the updates applied. */
static void emit_reduce(cg_ctx *G, int gi, cl_launch *L, strbuf *body) {
  const fuse_group *gr = &G->p->fuse.groups[gi];
  const ir_node *r = &G->g->nodes[gr->root];
  const uint8_t *role = G->p->fuse.role;
  const bool *stored = G->p->fuse.materialized;
  gc_shape dom = gr->domain;
  bool keep[GC_MAX_DIMS];
  int64_t count = 1;
  for (int d = 0; d < dom.ndim; d++) {
    keep[d] = !(r->attr.axes & (1u << d));
    if (!keep[d]) count *= dom.dim[d];
  }
  int64_t rows = gc_shape_numel(r->shape);
  int *level = calloc((size_t)gr->nnodes, sizeof *level);
  bool *need = calloc((size_t)gr->nnodes, sizeof *need);
  if (!level || !need) {
    body->oom = true;
    free(level);
    free(need);
    return;
  }
  int passes = reduce_levels(G, gi, level), store_pass = 0;
  /* every stored loop value is written in one pass: the last, or one more
   * if some stored value needs the last pass's results */
  for (int k = 0; k < gr->nnodes; k++)
    if (role[gr->nodes[k]] == ROLE_LOOP && stored[gr->nodes[k]] && store_pass <= passes)
      store_pass = level[k] < passes ? passes : passes + 1;
  const bool grp = reduce_by_group(G, gi, count);
  if (grp) /* gid is uniform in the group: all of it returns, or none */
    sb_appendf(body,
               "  __local float red_[%d];\n  const int gid = get_group_id(0), lid = "
               "get_local_id(0);\n  if (gid >= %lld) return;\n",
               REDUCE_GROUP, (long long)rows);
  else
    sb_appendf(body, "  const int gid = get_global_id(0);\n  if (gid >= %lld) return;\n",
               (long long)rows);
  decompose(body, dom, "gid", keep);
  int last = store_pass > passes ? store_pass : passes;
  for (int p = 0; p <= last; p++) {
    if (p > 0) {
      memset(need, 0, sizeof *need * (size_t)gr->nnodes);
      for (int k = 0; k < gr->nnodes; k++) {
        int32_t id = gr->nodes[k];
        const ir_node *n = &G->g->nodes[id];
        bool reduces_here = ir_ops[n->op].fusion == IR_FUSE_REDUCE && level[k] == p;
        if (reduces_here) {
          sb_appendf(body, "  float acc%d = %s;\n", id, reduce_init(n->op));
          if (n->op == IR_OP_LOGSUMEXP) sb_appendf(body, "  float m%d = -INFINITY;\n", id);
          need_loop_value(G, gi, need, n->in[0]);
        }
        if (p == store_pass && role[id] == ROLE_LOOP && stored[id])
          need_loop_value(G, gi, need, id);
      }
      int inner = -1; /* the innermost reduced dim */
      for (int d = 0; d < dom.ndim; d++)
        if (!keep[d]) inner = d;
      const int lanes = grp ? 1 : reduce_lanes(G, gi, level, p, inner < 0 ? 0 : dom.dim[inner]);
      for (int k = 0; k < gr->nnodes && lanes > 1; k++) {
        const ir_node *n = &G->g->nodes[gr->nodes[k]];
        if (ir_ops[n->op].fusion != IR_FUSE_REDUCE || level[k] != p) continue;
        for (int l = 1; l < lanes; l++)
          sb_appendf(body, "  float acc%d_%d = %s;\n", gr->nodes[k], l, reduce_init(n->op));
      }
      if (grp) {
        /* one loop over the row's reduced elements, REDUCE_GROUP apart */
        sb_appendf(body, "  for (int e_ = lid; e_ < %lld; e_ += %d) {\n  int t_ = e_;\n",
                   (long long)count, REDUCE_GROUP);
        for (int d = dom.ndim - 1; d >= 0; d--)
          if (!keep[d])
            sb_appendf(body, "  const int i%d = t_ %% %lld; t_ /= %lld;\n", d,
                       (long long)dom.dim[d], (long long)dom.dim[d]);
      } else {
        for (int d = 0; d < dom.ndim; d++)
          if (!keep[d] && (d != inner || lanes == 1))
            sb_appendf(body, "  for (int i%d = 0; i%d < %lld; i%d++)\n", d, d,
                       (long long)dom.dim[d], d);
        sb_append(body, "  {\n");
      }
      if (lanes == 1) {
        pass_element(G, gi, body, level, need, p, store_pass, 0);
      } else {
        const long long len = (long long)dom.dim[inner], whole = len / lanes * lanes;
        sb_appendf(body, "  for (int b%d = 0; b%d < %lld; b%d += %d) {\n", inner, inner, whole,
                   inner, lanes);
        for (int l = 0; l < lanes; l++) {
          sb_appendf(body, "  { const int i%d = b%d + %d;\n", inner, inner, l);
          pass_element(G, gi, body, level, need, p, store_pass, l);
          sb_append(body, "  }\n");
        }
        sb_append(body, "  }\n");
        if (whole < len) {
          sb_appendf(body, "  for (int i%d = %lld; i%d < %lld; i%d++) {\n", inner, whole, inner,
                     len, inner);
          pass_element(G, gi, body, level, need, p, store_pass, 0);
          sb_append(body, "  }\n");
        }
      }
      sb_append(body, "  }\n");
      for (int k = 0; k < gr->nnodes && lanes > 1; k++) {
        int32_t id = gr->nodes[k];
        const ir_node *n = &G->g->nodes[id];
        if (ir_ops[n->op].fusion != IR_FUSE_REDUCE || level[k] != p) continue;
        char a[48], b[48], c[48], d[48], ab[120], cd[120];
        snprintf(a, sizeof a, "acc%d", id);
        snprintf(b, sizeof b, "acc%d_1", id);
        snprintf(c, sizeof c, "acc%d_2", id);
        snprintf(d, sizeof d, "acc%d_3", id);
        snprintf(ab, sizeof ab, reduce_combine(n->op), a, b);
        snprintf(cd, sizeof cd, reduce_combine(n->op), c, d);
        sb_appendf(body, "  acc%d = ", id);
        sb_appendf(body, reduce_combine(n->op), ab, cd);
        sb_append(body, ";\n");
      }
      for (int k = 0; k < gr->nnodes && grp; k++) {
        /* the work-group's partials meet in a tree; every work-item reads
         * the result, and the last barrier frees red_ for the next one */
        int32_t id = gr->nodes[k];
        const ir_node *n = &G->g->nodes[id];
        if (ir_ops[n->op].fusion != IR_FUSE_REDUCE || level[k] != p) continue;
        char comb[64];
        snprintf(comb, sizeof comb, reduce_combine(n->op), "red_[lid]", "red_[lid + s_]");
        sb_appendf(body,
                   "  red_[lid] = acc%d;\n  barrier(CLK_LOCAL_MEM_FENCE);\n"
                   "  for (int s_ = %d; s_ > 0; s_ >>= 1) {\n"
                   "    if (lid < s_) red_[lid] = %s;\n    barrier(CLK_LOCAL_MEM_FENCE);\n  }\n"
                   "  acc%d = red_[0];\n  barrier(CLK_LOCAL_MEM_FENCE);\n",
                   id, REDUCE_GROUP / 2, comb, id);
      }
      for (int k = 0; k < gr->nnodes; k++) {
        int32_t id = gr->nodes[k];
        const ir_node *n = &G->g->nodes[id];
        if (ir_ops[n->op].fusion != IR_FUSE_REDUCE || level[k] != p) continue;
        if (n->op == IR_OP_LOGSUMEXP) sb_appendf(body, "  acc%d = m%d + log(acc%d);\n", id, id, id);
        if (n->op == IR_OP_MEAN) {
          sb_appendf(body, "  acc%d *= ", id);
          cg_float(body, 1.0 / (double)count);
          sb_append(body, ";\n");
        }
        sb_appendf(body, "  const float v%d = acc%d;\n", id, id);
      }
    }
    for (int k = 0; k < gr->nnodes; k++)
      if (role[gr->nodes[k]] == ROLE_ROW && level[k] == p) row_member(G, body, gi, gr->nodes[k]);
  }
  if (grp) sb_append(body, "  if (lid == 0) {\n");
  for (int k = 0; k < gr->nnodes; k++) {
    int32_t id = gr->nodes[k];
    const ir_node *n = &G->g->nodes[id];
    bool row_value = role[id] == ROLE_ROW || ir_ops[n->op].fusion == IR_FUSE_REDUCE;
    if (!row_value || !stored[id]) continue;
    sb_append(body, "  ");
    cg_access(G, body, id, "gid");
    sb_appendf(body, " = v%d;\n", id);
  }
  for (int k = 0; k < gr->nnodes; k++) {
    const ir_node *n = &G->g->nodes[gr->nodes[k]];
    if (!ir_is_update(n)) continue;
    char gval[32];
    snprintf(gval, sizeof gval, "v%d", ir_view_source(G->g, n->in[1]));
    cg_update_element(G, body, gr->nodes[k], "gid", gval, 1);
  }
  if (grp) sb_append(body, "  }\n");
  free(level);
  free(need);
  if (grp) {
    L->work_dim = 1;
    L->local[0] = REDUCE_GROUP;
    L->global[0] = (size_t)rows * REDUCE_GROUP;
  } else {
    row_geometry(L, rows);
  }
}

/* The store of a complex op's group (GEMM_STORE, a conv's or a pooling
 * op's store macro): the epilogue members evaluated on v (the root's
 * value), the materialized ones stored at domain index `at`. prelude
 * declares the domain indices i0.. from the macro's arguments. */
static void complex_epilogue(cg_ctx *G, int gi, strbuf *store, const char *prelude,
                             const char *at) {
  const fuse_group *gr = &G->p->fuse.groups[gi];
  gc_shape dom = gr->domain;
  sb_appendf(store, "{ %sfloat v%d = (v); ", prelude, gr->root);
  for (int k = 0; k < gr->nnodes; k++) {
    int32_t id = gr->nodes[k];
    if (id == gr->root || G->p->fuse.role[id] == ROLE_SIBLING) continue;
    if (ir_is_update(&G->g->nodes[id])) {
      char gval[32];
      snprintf(gval, sizeof gval, "v%d", G->g->nodes[id].in[1]);
      cg_update_element(G, store, id, at, gval, 1);
    } else {
      member(G, store, gi, dom, id);
    }
  }
  for (int k = 0; k < gr->nnodes; k++) {
    int32_t id = gr->nodes[k];
    if (!G->p->fuse.materialized[id] || ir_is_update(&G->g->nodes[id]) ||
        G->p->fuse.role[id] == ROLE_SIBLING)
      continue;
    cg_access(G, store, id, at);
    sb_appendf(store, " = v%d; ", id);
  }
  sb_append(store, "}");
}

/* complex_epilogue at element (gemm_b, i, j) of an [mdim, ndim] product. */
static void gemm_epilogue(cg_ctx *G, int gi, strbuf *store, const char *prelude, int64_t mdim,
                          int64_t ndim) {
  char at[128];
  snprintf(at, sizeof at, "gemm_b * %lld + (i) * %lld + (j)", (long long)(mdim * ndim),
           (long long)ndim);
  complex_epilogue(G, gi, store, prelude, at);
}

/* The float8 spelling of an epilogue member's expression (ops.def's
 * OpenCL column, %0.. its operands), or NULL where it has none: arithmetic
 * and the functions OpenCL C overloads for vectors (fmax with a scalar
 * bound, exp, tanh, sqrt) as they are; step (the ReLU mask) as a select,
 * since a vector comparison yields an int8, not a float. */
static const char *vector_expr(ir_op op) {
  switch (op) {
    case IR_OP_ADD:
    case IR_OP_SUB:
    case IR_OP_MUL:
    case IR_OP_DIV:
    case IR_OP_NEG:
    case IR_OP_RELU:
    case IR_OP_EXP:
    case IR_OP_TANH:
    case IR_OP_SQRT:
    case IR_OP_SIGMOID:
      return ir_ops[op].cl_expr;
    case IR_OP_STEP:
      return "select((float8)(0.0f), (float8)(1.0f), (float8)(%0) > 0.0f)";
    default:
      return NULL;
  }
}

static bool vector_operand(cg_ctx *G, int gi, strbuf *sb, int32_t x, int jfrom);

/* Appends node id's float8 expression, its operands through
 * vector_operand; false where it has none. */
static bool vector_expression(cg_ctx *G, int gi, strbuf *sb, int32_t id, int jfrom) {
  const ir_node *n = &G->g->nodes[id];
  const char *e = n->dtype == GC_F32 ? vector_expr(n->op) : NULL;
  if (!e) return false;
  for (const char *c = e; *c; c++) {
    if (*c == '%' && c[1] >= '0' && c[1] <= '9') {
      if (!vector_operand(G, gi, sb, n->in[c[1] - '0'], jfrom)) return false;
      c++;
    } else if (*c == '%' && c[1] >= 'a' && c[1] <= 'd') {
      cg_float(sb, n->attr.f[c[1] - 'a']);
      c++;
    } else if (*c == '%') {
      return false;
    } else {
      sb_appendn(sb, c, 1);
    }
  }
  return true;
}

/* The operand x of a vector epilogue member, for the eight results from
 * the first column's domain index i0..: a member's value; a value
 * recomputed here (a ReLU mask, step(h)) as its own float8 expression; a
 * tensor that does not vary along the row (domain dims jfrom..) as one
 * scalar, which the arithmetic widens; one that walks the row with stride
 * 1 as a vload8. False for anything else (other dtypes, strided reads). */
static bool vector_operand(cg_ctx *G, int gi, strbuf *sb, int32_t x, int jfrom) {
  const gc_shape dom = G->p->fuse.groups[gi].domain;
  const int32_t src = ir_view_source(G->g, x);
  if (in_group(G, gi, src)) {
    sb_appendf(sb, "v%d", src);
    return true;
  }
  const ir_node *xn = &G->g->nodes[x];
  if (G->p->fuse.inlined[x] && !recomputed_slice(G, x)) {
    /* over stored tensors only: the members computed here are those the
     * members need directly (vector_epilogue) */
    for (int k = 0; k < xn->nin; k++)
      if (in_group(G, gi, ir_view_source(G->g, xn->in[k]))) return false;
    sb_append(sb, "(");
    bool ok = vector_expression(G, gi, sb, x, jfrom);
    sb_append(sb, ")");
    return ok;
  }
  if (xn->dtype != GC_F32) return false;
  int64_t base, coef[GC_MAX_DIMS];
  affine_read(G, dom, x, &base, coef);
  bool invariant = true;
  for (int d = jfrom; d < dom.ndim; d++) invariant = invariant && coef[d] == 0;
  bool contiguous = coef[dom.ndim - 1] == 1 && one_stride_from(dom, coef) <= jfrom;
  if (!invariant && !contiguous) return false;
  if (!invariant) sb_append(sb, "vload8(0, &");
  affine_access(G, sb, dom, x, dom.ndim);
  if (!invariant) sb_append(sb, ")");
  return true;
}

/* The epilogue of complex group gi on eight consecutive results of a row
 * (GEMM_STORE8(i, j, v): v a float8 of columns j .. j + 7, for the
 * template's full strips), as float8 code: one vector store per stored
 * member instead of eight guarded scalar epilogues, which LLVM left
 * scalar (a conv with bias and ReLU ran at half the speed of the conv
 * alone, storing 5.5 MB). The row's columns are the domain dims from jfrom
 * on (a matmul's last dim; a conv's pixels); prelude declares the domain
 * indices of the first column; at is a stored element's index. Only the
 * members the stored values need are evaluated. Appends nothing and
 * returns false where a member has no vector_expr or an operand does not
 * fit vector_operand, or the group updates a parameter. */
static bool vector_epilogue(cg_ctx *G, int gi, strbuf *out, const char *prelude, const char *at,
                            int jfrom) {
  const fuse_group *gr = &G->p->fuse.groups[gi];
  const ir_graph *g = G->g;
  bool *need = calloc((size_t)gr->nnodes, sizeof *need);
  if (!need) return false;
  bool ok = true;
  for (int k = gr->nnodes - 1; k >= 0 && ok; k--) { /* readers come after what they read */
    int32_t id = gr->nodes[k];
    const ir_node *n = &g->nodes[id];
    if (ir_is_update(n)) ok = false;
    need[k] = need[k] || G->p->fuse.materialized[id];
    if (!need[k] || id == gr->root) continue;
    for (int i = 0; i < n->nin; i++) {
      int32_t src = ir_view_source(g, n->in[i]);
      int m = member_index(gr, src);
      if (m >= 0 && in_group(G, gi, src)) need[m] = true;
    }
  }
  strbuf b = {0};
  sb_appendf(&b, "{ %sconst float8 v%d = (v); ", prelude, gr->root);
  for (int k = 0; k < gr->nnodes && ok; k++) {
    int32_t id = gr->nodes[k];
    if (!need[k] || id == gr->root) continue;
    sb_appendf(&b, "const float8 v%d = ", id);
    ok = vector_expression(G, gi, &b, id, jfrom);
    sb_append(&b, "; ");
  }
  for (int k = 0; k < gr->nnodes && ok; k++) {
    int32_t id = gr->nodes[k];
    if (!G->p->fuse.materialized[id]) continue;
    sb_appendf(&b, "vstore8(v%d, 0, &", id);
    cg_access(G, &b, id, at);
    sb_append(&b, "); ");
  }
  sb_append(&b, "}");
  ok = ok && !b.oom;
  if (ok) sb_append(out, sb_str(&b));
  free(need);
  sb_free(&b);
  return ok;
}

/* A 2-D GEMM whose whole epilogue is one optimizer update of its result
 * (a weight gradient that never reaches memory) gets the update as float8
 * code too (GEMM_STORE8): Adam's divide and square root per element cost
 * more as NR scalar copies than the products of the MLP's dW1. Returns the
 * update's id, or -1. */
static int32_t gemm_vector_update(cg_ctx *G, int gi, const cl_gemm_spec *spec) {
  const fuse_group *gr = &G->p->fuse.groups[gi];
  if (gr->nnodes != 2 || gr->domain.ndim != 2 || (spec->trans_a && spec->trans_b) ||
      G->p->fuse.materialized[gr->root])
    return -1;
  int32_t u = gr->nodes[0] == gr->root ? gr->nodes[1] : gr->nodes[0];
  const ir_node *n = &G->g->nodes[u];
  if (!ir_is_update(n) || n->in[1] != gr->root) return -1;
  return u;
}

static gc_status emit_matmul(cg_ctx *G, int gi, cl_launch *L, strbuf *text) {
  const fuse_group *gr = &G->p->fuse.groups[gi];
  const ir_node *mm = &G->g->nodes[gr->root];
  const ir_node *a = &G->g->nodes[mm->in[0]], *b = &G->g->nodes[mm->in[1]];
  gc_shape dom = gr->domain;
  strbuf store = {0}, aexpr = {0}, bexpr = {0}, params = {0}, pre = {0};
  /* batched: the domain is [.., M, N]; gemm_b walks the batch axes */
  const int nd = dom.ndim, an = a->shape.ndim, bn = b->shape.ndim;
  const int64_t mdim = dom.dim[nd - 2], ndim = dom.dim[nd - 1];
  if (nd > 2) {
    sb_append(&pre, "int r_ = gemm_b; ");
    for (int d = nd - 3; d >= 0; d--)
      sb_appendf(&pre, "const int i%d = r_ %% %lld; r_ /= %lld; ", d, (long long)dom.dim[d],
                 (long long)dom.dim[d]);
  }
  sb_appendf(&pre, "const int i%d = (i); const int i%d = (j); ", nd - 2, nd - 1);
  gemm_epilogue(G, gi, &store, sb_str(&pre), mdim, ndim);
  sb_appendf(&aexpr, "(a%d + %lld)", cg_param(G, mm->in[0]),
             (long long)cg_elem_offset(G, mm->in[0]));
  sb_appendf(&bexpr, "(a%d + %lld)", cg_param(G, mm->in[1]),
             (long long)cg_elem_offset(G, mm->in[1]));
  cl_gemm_spec spec = {0};
  spec.name = L->name;
  spec.m = mdim;
  spec.n = ndim;
  spec.k = mm->attr.trans_a ? a->shape.dim[an - 2] : a->shape.dim[an - 1];
  spec.trans_a = mm->attr.trans_a;
  spec.trans_b = mm->attr.trans_b;
  spec.lda = a->shape.dim[an - 1];
  spec.ldb = b->shape.dim[bn - 1];
  spec.batch = gc_shape_numel(dom) / (mdim * ndim);
  spec.a_batch_stride = an > 2 ? a->shape.dim[an - 2] * a->shape.dim[an - 1] : 0;
  spec.b_batch_stride = bn > 2 ? b->shape.dim[bn - 2] * b->shape.dim[bn - 1] : 0;
  spec.a_expr = sb_str(&aexpr);
  spec.b_expr = sb_str(&bexpr);
  spec.store = sb_str(&store);
  spec.gpu = !G->cpu;
  char scratch[16];
  cg_gemm_scratch(G, &spec, scratch);
  for (int i = 0; i < G->nused; i++) sb_appendf(&params, "%s__global float *a%d", i ? ", " : "", i);
  spec.params = sb_str(&params);
  strbuf store8 = {0};
  int32_t vu = gemm_vector_update(G, gi, &spec);
  if (vu >= 0) {
    char idx[64];
    snprintf(idx, sizeof idx, "(i) * %lld + (j)", (long long)ndim);
    cg_update_element(G, &store8, vu, idx, "(v)", 8);
    spec.store8 = sb_str(&store8);
  } else if (!(spec.trans_a && spec.trans_b)) {
    char at[128];
    snprintf(at, sizeof at, "gemm_b * %lld + (i) * %lld + (j)", (long long)(mdim * ndim),
             (long long)ndim);
    if (vector_epilogue(G, gi, &store8, sb_str(&pre), at, nd - 1)) spec.store8 = sb_str(&store8);
  }
  sb_free(&pre);
  char *src = NULL;
  gc_status st = (store.oom || store8.oom || aexpr.oom || bexpr.oom || params.oom)
                     ? gc_fail(GC_ERR_NOMEM, "codegen: out of memory")
                     : cl_gemm_source(&spec, &src);
  if (!st) {
    cl_gemm_geometry(&spec, &L->work_dim, L->global, L->local);
    sb_append(text, src);
  }
  free(src);
  sb_free(&store);
  sb_free(&store8);
  sb_free(&aexpr);
  sb_free(&bexpr);
  sb_free(&params);
  return st;
}

/* A convolution with its epilogue (passes/fuse.c): the implicit GEMMs of
 * cl_conv.c store through a macro of the im2col form's coordinates
 * (gemm_b, i, j): for the forward y [N, O, OH, OW] and the input gradient
 * (conv_transpose2d) dx [N, C, H, W], (image, channel, pixel); for the
 * weight gradient dw [O, C, KH, KW], (0, o, c KH KW + tap). */
static gc_status emit_conv(cg_ctx *G, int gi, cl_launch *L, strbuf *text) {
  const fuse_group *gr = &G->p->fuse.groups[gi];
  const ir_node *cv = &G->g->nodes[gr->root];
  if (gr->nnodes == 1) return cl_emit_conv_gemm(G, cv, gr->root, L, text, NULL, NULL);
  const gc_shape dom = gr->domain;
  const long long d1 = dom.dim[1], d2 = dom.dim[2], d3 = dom.dim[3];
  const bool dw = cv->op == IR_OP_CONV2D_GRAD_WEIGHT;
  strbuf store = {0}, store8 = {0}, pre = {0};
  if (dw)
    sb_appendf(&pre,
               "const int i0 = (i); const int i1 = (j) / %lld; const int i2 = (j) / %lld %% %lld; "
               "const int i3 = (j) %% %lld; ",
               d2 * d3, d3, d2, d3);
  else
    sb_appendf(&pre,
               "const int i0 = gemm_b; const int i1 = (i); const int i2 = (j) / %lld; "
               "const int i3 = (j) %% %lld; ",
               d3, d3);
  /* the flat index of (gemm_b, i, j); a row (j) walks dw's C KH KW or an
   * image's pixels */
  const int64_t mdim = dw ? dom.dim[0] : d1, ndim = dw ? d1 * d2 * d3 : d2 * d3;
  char at[128];
  snprintf(at, sizeof at, "gemm_b * %lld + (i) * %lld + (j)", (long long)(mdim * ndim),
           (long long)ndim);
  complex_epilogue(G, gi, &store, sb_str(&pre), at);
  bool vec = vector_epilogue(G, gi, &store8, sb_str(&pre), at, dw ? 1 : 2);
  gc_status st = (store.oom || store8.oom || pre.oom)
                     ? gc_fail(GC_ERR_NOMEM, "codegen: out of memory")
                     : cl_emit_conv_gemm(G, cv, gr->root, L, text, sb_str(&store),
                                         vec ? sb_str(&store8) : NULL);
  sb_free(&store);
  sb_free(&store8);
  sb_free(&pre);
  return st;
}

/* A pooling op, or a convolution on its direct kernels (grouped, 3-D),
 * with its epilogue: the kernels (cl_nn_ops.c) store each element through
 * the macro YS(o_, p_, z_, h_, w_, v), o_ the element's flat index in the
 * domain [N, C, (D,) H, W], p_ = n C + c its plane. */
static gc_status emit_direct(cg_ctx *G, int gi, cl_launch *L, strbuf *body) {
  const fuse_group *gr = &G->p->fuse.groups[gi];
  const gc_shape dom = gr->domain;
  const int nd = dom.ndim;
  const ir_node *root = &G->g->nodes[gr->root];
  if (gr->nnodes == 1) /* no epilogue: the plain (vector) stores */
    return cl_emit_single(G, root, gr->root, L, body);
  /* a max pooling's indices, stored by its kernel (fuse_siblings.c); an
   * epilogue of members only recomputed elsewhere (the mask step(y) of a
   * pooling gradient) is the plain store, which is vectorized */
  int32_t sibling = -1;
  bool plain = G->p->fuse.materialized[gr->root];
  for (int k = 0; k < gr->nnodes; k++) {
    int32_t id = gr->nodes[k];
    if (G->p->fuse.role[id] == ROLE_SIBLING)
      sibling = id;
    else if (id != gr->root && !G->p->fuse.inlined[id])
      plain = false;
  }
  if (plain && sibling < 0) return cl_emit_single(G, root, gr->root, L, body);
  if (plain) {
    cl_emit_pool2d(G, root, gr->root, NULL, sibling, L, body);
    return GC_OK;
  }
  const bool conv = root->op == IR_OP_CONV2D || root->op == IR_OP_CONV2D_GRAD_INPUT;
  const bool pool = root->op == IR_OP_MAXPOOL2D || root->op == IR_OP_MAXPOOL2D_GRAD ||
                    root->op == IR_OP_AVGPOOL2D || root->op == IR_OP_AVGPOOL2D_GRAD;
  if ((!conv && !pool) || (nd != 4 && nd != 5))
    return gc_fail(GC_ERR_INTERNAL, "codegen: group %d: %s takes no epilogue", gi,
                   ir_node_label(G->g, gr->root));
  strbuf store = {0}, pre = {0};
  sb_appendf(&pre, "const int i0 = (p_) / %lld; const int i1 = (p_) %% %lld; ",
             (long long)dom.dim[1], (long long)dom.dim[1]);
  if (nd == 5) sb_append(&pre, "const int i2 = (z_); ");
  sb_appendf(&pre, "const int i%d = (h_); const int i%d = (w_); ", nd - 2, nd - 1);
  /* The reads that walk a suffix of the domain with one stride (a tensor of
   * the domain's shape: all of it) index it with t, the element's place in
   * that suffix: the same expression as the store's, so that LLVM sees a
   * read and a write of one element (in place) and vectorizes the lanes. */
  int s = group_inner_from(G, gi, dom);
  if (s < nd) {
    int64_t inner = 1;
    for (int d = s; d < nd; d++) inner *= dom.dim[d];
    if (s == 0)
      sb_append(&pre, "const int t = (o_); ");
    else
      sb_appendf(&pre, "const int t = (o_) %% %lld; ", (long long)inner);
    G->inner_from = s;
  }
  complex_epilogue(G, gi, &store, sb_str(&pre), "(o_)");
  G->inner_from = GC_MAX_DIMS;
  gc_status st = store.oom || pre.oom ? gc_fail(GC_ERR_NOMEM, "codegen: out of memory") : GC_OK;
  if (!st && root->op == IR_OP_CONV2D)
    cl_emit_conv2d(G, root, gr->root, sb_str(&store), L, body);
  else if (!st && root->op == IR_OP_CONV2D_GRAD_INPUT)
    cl_emit_conv2d_grad_input(G, root, gr->root, sb_str(&store), L, body);
  else if (!st)
    cl_emit_pool2d(G, root, gr->root, sb_str(&store), sibling, L, body);
  sb_free(&store);
  sb_free(&pre);
  return st;
}

static gc_status emit_group(cg_ctx *G, int gi, cl_launch *L, strbuf *text) {
  const fuse_group *gr = &G->p->fuse.groups[gi];
  const ir_node *root = &G->g->nodes[gr->root];
  G->nused = 0;
  G->overflow = false;
  G->unstored = -1;
  /* Header comment: the IR nodes this kernel fuses. */
  sb_appendf(text, "/* kernel %s: group %d fuses", L->name, gi);
  for (int k = 0; k < gr->nnodes; k++) {
    const ir_node *n = &G->g->nodes[gr->nodes[k]];
    sb_appendf(text, " %%%d %s%s%s%s", gr->nodes[k], ir_ops[n->op].name, n->name ? " \"" : "",
               n->name ? n->name : "", n->name ? "\"" : "");
  }
  sb_append(text, " */\n");
  gc_status mst = GC_OK;
  bool whole = true; /* GEMM instances are whole kernels, not bodies */
  if (gr->kind == FUSE_COMPLEX && root->op == IR_OP_MATMUL)
    mst = emit_matmul(G, gi, L, text);
  else if (gr->kind == FUSE_COMPLEX && cl_conv_gemm_applies(G, root))
    mst = emit_conv(G, gi, L, text);
  else if (gr->kind == FUSE_SINGLE && gr->nnodes == 1 && cl_conv_gemm_applies(G, root))
    mst = cl_emit_conv_gemm(G, root, gr->root, L, text, NULL, NULL);
  else
    whole = false;
  if (whole) {
    if (!mst && G->overflow)
      mst = gc_fail(GC_ERR_UNSUPPORTED, "codegen: kernel %s needs more than 64 buffers", L->name);
    if (!mst && G->unstored >= 0)
      mst = gc_fail(GC_ERR_INTERNAL, "codegen: kernel %s accesses %s, which has no storage",
                    L->name, ir_node_label(G->g, G->unstored));
    return mst;
  }
  strbuf body = {0};
  switch (gr->kind) {
    case FUSE_ELEMWISE:
      if (G->cpu)
        emit_elementwise_loop(G, gi, L, &body);
      else
        emit_elementwise(G, gi, L, &body);
      break;
    case FUSE_REDUCE:
      emit_reduce(G, gi, L, &body);
      break;
    case FUSE_COMPLEX: { /* pooling, direct convs (the GEMMs are whole kernels, above) */
      gc_status st = emit_direct(G, gi, L, &body);
      if (st) {
        sb_free(&body);
        return st;
      }
      break;
    }
    case FUSE_SINGLE:
      if (gr->nnodes == 2 && root->op == IR_OP_CROSS_ENTROPY) {
        cg_emit_cross_entropy_pair(G, gr->nodes[0], gr->nodes[1], L, &body);
        break;
      }
      if (gr->nnodes > 1) {
        cg_emit_updates(G, &body, L, gr->nodes, gr->nnodes); /* multi-tensor */
        break;
      }
      /* fall through */
    default: {
      gc_status st = cl_emit_single(G, root, gr->root, L, &body);
      if (st) {
        sb_free(&body);
        return st;
      }
    }
  }
  if (G->overflow) {
    sb_free(&body);
    return gc_fail(GC_ERR_UNSUPPORTED, "codegen: kernel %s needs more than 64 buffers", L->name);
  }
  if (G->unstored >= 0) {
    sb_free(&body);
    return gc_fail(GC_ERR_INTERNAL, "codegen: kernel %s accesses %s, which has no storage", L->name,
                   ir_node_label(G->g, G->unstored));
  }
  signature(G, text, L->name);
  sb_append(text, " {\n");
  sb_append(text, sb_str(&body));
  sb_append(text, "}\n\n");
  bool oom = body.oom;
  sb_free(&body);
  return oom ? gc_fail(GC_ERR_NOMEM, "codegen: out of memory") : GC_OK;
}

gc_status cl_codegen_run(const gc_program *p, const cl_dev *d, const uint8_t *use_clblast,
                         cl_codegen *out) {
  memset(out, 0, sizeof *out);
  const ir_graph *g = p->g;
  /* Kernels index with 32-bit ints (what PoCL vectorizes best); refuse
   * what they could not address rather than write out of bounds. */
  for (int i = 0; i < g->n; i++)
    if (gc_shape_numel(g->nodes[i].shape) > 0x7fffffff)
      return gc_fail(GC_ERR_UNSUPPORTED,
                     "codegen: %s has %lld elements; tensors of 2^31 or more elements are not "
                     "supported yet",
                     ir_node_label(g, i), (long long)gc_shape_numel(g->nodes[i].shape));
  cg_ctx G = {.p = p,
              .g = g,
              .out = out,
              .unstored = -1,
              .cpu = cl_dev_cpu_forms(d),
              .inner_from = GC_MAX_DIMS};
  out->buffer_of = malloc(sizeof *out->buffer_of * (size_t)(g->n ? g->n : 1));
  /* arenas, persistent roots, the scratch */
  out->buffer_node = malloc(sizeof *out->buffer_node * ((size_t)g->n + (size_t)p->mem.narenas + 1));
  out->scratch_buffer = -1;
  out->scratch_bytes = 0;
  out->launches = calloc((size_t)(p->fuse.ngroups ? p->fuse.ngroups : 1), sizeof *out->launches);
  if (!out->buffer_of || !out->buffer_node || !out->launches) {
    cl_codegen_free(out);
    return gc_fail(GC_ERR_NOMEM, "codegen: out of memory");
  }
  /* arena a is buffer a, marked -1 - a in buffer_node */
  out->nbuffers = 0;
  for (int a = 0; a < p->mem.narenas; a++) out->buffer_node[out->nbuffers++] = -1 - a;
  for (int i = 0; i < g->n; i++) {
    out->buffer_of[i] = -1;
    if (p->mem.root[i] != i) continue;
    if (p->mem.kind[i] == STORE_ARENA) out->buffer_of[i] = p->mem.arena_of[i];
    if (p->mem.kind[i] == STORE_PERSIST) {
      out->buffer_of[i] = out->nbuffers;
      out->buffer_node[out->nbuffers++] = i;
    }
  }
  for (int i = 0; i < g->n; i++) out->buffer_of[i] = out->buffer_of[p->mem.root[i]];

  strbuf all = {0};
  sb_append(&all, "/* generated by graphc " GC_VERSION " */\n\n");
  gc_status st = GC_OK;
  for (int gi = 0; gi < p->fuse.ngroups && !st; gi++) {
    if (p->fuse.groups[gi].kind == FUSE_NONE) continue;
    cl_launch *L = &out->launches[out->nlaunches];
    snprintf(L->name, sizeof L->name, "k%d", out->nlaunches);
    L->group = gi;
    strbuf text = {0};
    st = use_clblast && use_clblast[gi] ? cl_blas_emit(&G, gi, L, &text)
                                        : emit_group(&G, gi, L, &text);
    if (!st) {
      L->nargs = G.nused;
      L->args = malloc(sizeof *L->args * (size_t)(G.nused ? G.nused : 1));
      if (!L->args) st = gc_fail(GC_ERR_NOMEM, "codegen: out of memory");
      for (int i = 0; i < G.nused && !st; i++) L->args[i] = G.used[i];
      sb_append(&all, sb_str(&text));
      L->source = sb_take(&text);
      out->nlaunches++;
    }
    sb_free(&text);
  }
  /* A device allowing smaller work-groups than the CPU forms' 1-D kernels
   * ask (64; OpenCL only promises 1): those take no local memory and no
   * barriers, so their work-groups halve until they fit, and the global
   * size, a multiple of the old local size, stays one of the new. */
  for (int i = 0; i < out->nlaunches && G.cpu && d; i++) {
    cl_launch *L = &out->launches[i];
    while (L->work_dim == 1 && L->local[0] > 1 && L->local[0] > d->info.max_work_group_size)
      L->local[0] /= 2;
  }
  if (!st) {
    out->source = sb_take(&all);
    if (!out->source) st = gc_fail(GC_ERR_NOMEM, "codegen: out of memory");
  }
  sb_free(&all);
  if (st) cl_codegen_free(out);
  return st;
}

void cl_codegen_free(cl_codegen *c) {
  if (!c) return;
  for (int i = 0; i < c->nlaunches; i++) {
    free(c->launches[i].args);
    free(c->launches[i].source);
    free(c->launches[i].blas);
  }
  free(c->launches);
  free(c->source);
  free(c->buffer_of);
  free(c->buffer_node);
  memset(c, 0, sizeof *c);
}
