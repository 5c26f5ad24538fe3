/* cl_single.c — kernels of ops that are not fused with others: softmax
 * and log-softmax over any axis, cross-entropy forward and backward, and
 * the in-place updates (assign_add, optimizer tick, SGD, Adam). */
#include <string.h>

#include "backends/opencl/cl_emit.h"
#include "backends/opencl/cl_nn.h"

static void emit_softmax(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *body) {
  const ir_node *x = &G->g->nodes[n->in[0]];
  int ax = n->attr.axis;
  int64_t outer = 1, len = x->shape.dim[ax], inner = 1;
  for (int d = 0; d < ax; d++) outer *= x->shape.dim[d];
  for (int d = ax + 1; d < x->shape.ndim; d++) inner *= x->shape.dim[d];
  sb_appendf(body,
             "  const int gid = get_global_id(0);\n  if (gid >= %lld) return;\n"
             "  const int base = (gid / %lld) * %lld + gid %% %lld;\n"
             "  float m = -INFINITY, s = 0.0f;\n"
             "  for (int k = 0; k < %lld; k++) m = fmax(m, ",
             (long long)(outer * inner), (long long)inner, (long long)(len * inner),
             (long long)inner, (long long)len);
  strbuf idx = {0};
  sb_appendf(&idx, "base + k * %lld", (long long)inner);
  cg_access(G, body, n->in[0], sb_str(&idx));
  sb_appendf(body, ");\n  for (int k = 0; k < %lld; k++) s += exp(", (long long)len);
  cg_access(G, body, n->in[0], sb_str(&idx));
  sb_appendf(body, " - m);\n  const float ls = log(s);\n  for (int k = 0; k < %lld; k++) ",
             (long long)len);
  cg_access(G, body, id, sb_str(&idx));
  sb_append(body, n->op == IR_OP_SOFTMAX ? " = exp(" : " = (");
  cg_access(G, body, n->in[0], sb_str(&idx));
  sb_append(body, " - m - ls);\n");
  sb_free(&idx);
  cg_geometry_1d(L, outer * inner);
}

/* Cross-entropy over rows: the loss (one work-group sums the rows: 64
 * work-items in the CPU forms, 256 in the GPU forms, whose devices allow
 * that many), the gradient (one work-item per row), or both in one
 * kernel (loss_id and grad_id >= 0: the fused forward and backward of a
 * training step, one work-group, each work-item writing the gradient of
 * the rows it sums). One work-group, so that the mean is one kernel with
 * no atomics and a fixed order of additions. Row loss =
 * logsumexp(row) - row[label]; labels outside [0, C) add no loss and get
 * no gradient, as in the reference. Each row's logits are all read before
 * (or, element k, just before) the row's gradient is written, so the
 * gradient may be written over the logits; softmax likewise. */
enum { CE_CPU_GROUP = 64, CE_GPU_GROUP = CL_GPU_FORMS_WORK_GROUP };

static void emit_cross_entropy(cg_ctx *G, const ir_node *n, int32_t loss_id, int32_t grad_id,
                               cl_launch *L, strbuf *body) {
  const ir_node *x = &G->g->nodes[n->in[0]];
  int64_t rows = x->shape.dim[0], cols = x->shape.dim[1];
  bool per_row = loss_id < 0; /* gradient alone: one work-item per row */
  const int group = G->cpu ? CE_CPU_GROUP : CE_GPU_GROUP;
  strbuf xv = {0}, yv = {0};
  cg_access(G, &xv, n->in[0], "row * COLS + k");
  cg_access(G, &yv, n->in[1], "row");
  sb_appendf(body, "#define COLS %lld\n", (long long)cols);
  if (per_row)
    sb_appendf(body, "  const int row = get_global_id(0);\n  if (row >= %lld) return;\n",
               (long long)rows);
  else /* one work-group; each work-item owns the rows lid, lid + nl, ... */
    sb_appendf(body,
               "  __local float part_[%d];\n"
               "  const int lid = get_local_id(0), nl = get_local_size(0);\n"
               "  float total = 0.0f;\n"
               "  for (int row = lid; row < %lld; row += nl) {\n",
               group, (long long)rows);
  sb_appendf(body,
             "  const int label = %s;\n"
             "  const bool in_range = label >= 0 && label < COLS; /* else no loss: no grad */\n"
             "  float m = -INFINITY, s = 0.0f;\n"
             "  for (int k = 0; k < COLS; k++) m = fmax(m, %s);\n"
             "  for (int k = 0; k < COLS; k++) s += exp(%s - m);\n",
             sb_str(&yv), sb_str(&xv), sb_str(&xv));
  /* the label's logit before the gradient is written: the gradient may
   * take the logits' storage (passes/plan.c, row_in_place) */
  if (loss_id >= 0)
    sb_appendf(
        body, "  float at_label = 0.0f;\n  if (in_range) { const int k = label; at_label = %s; }\n",
        sb_str(&xv));
  if (grad_id >= 0) {
    const ir_node *gn = &G->g->nodes[grad_id];
    strbuf ov = {0};
    cg_access(G, &ov, grad_id, "row * COLS + k");
    sb_append(body, "  const float scale = ");
    cg_access(G, body, gn->in[2], "0");
    sb_append(body, " * ");
    cg_float(body, 1.0 / (double)rows);
    sb_appendf(body,
               ", inv = 1.0f / s;\n"
               "  for (int k = 0; k < COLS; k++)\n"
               "    %s = in_range ? scale * (exp(%s - m) * inv - (k == label ? 1.0f : 0.0f)) "
               ": 0.0f;\n",
               sb_str(&ov), sb_str(&xv));
    sb_free(&ov);
  }
  if (loss_id >= 0) {
    /* the work-items' partial sums, added as a tree in local memory: a
     * fixed order for a given work-group size (a power of two: the CPU
     * forms halve it to fit the device, cl_codegen_run) */
    sb_append(body,
              "  if (in_range) total += m + log(s) - at_label;\n  }\n"
              "  part_[lid] = total;\n  barrier(CLK_LOCAL_MEM_FENCE);\n"
              "  for (int h = nl / 2; h > 0; h /= 2) {\n"
              "    if (lid < h) part_[lid] += part_[lid + h];\n"
              "    barrier(CLK_LOCAL_MEM_FENCE);\n  }\n"
              "  if (lid == 0) ");
    cg_access(G, body, loss_id, "0");
    sb_append(body, " = part_[0] * ");
    cg_float(body, 1.0 / (double)rows);
    sb_append(body, ";\n");
    L->work_dim = 1;
    L->global[0] = L->local[0] = (size_t)group;
  } else {
    cg_geometry_1d(L, rows);
  }
  sb_append(body, "#undef COLS\n");
  sb_free(&xv);
  sb_free(&yv);
}

/* Loads and stores of update operands, scalar (width 1: element idx) or
 * eight at a time (width 8: elements idx .. idx + 7, vload8/vstore8). */
static void upd_load(cg_ctx *G, strbuf *sb, int32_t node, const char *idx, int width) {
  if (width == 1) {
    cg_access(G, sb, node, idx);
  } else {
    sb_appendf(sb, "vload8(0, a%d + %lld + (%s))", cg_param(G, node),
               (long long)cg_elem_offset(G, node), idx);
  }
}

static void upd_store(cg_ctx *G, strbuf *sb, int32_t node, const char *idx, int width,
                      const char *var) {
  sb_append(sb, "    ");
  if (width == 1) {
    cg_access(G, sb, node, idx);
    sb_appendf(sb, " = %s;\n", var);
  } else {
    sb_appendf(sb, "vstore8(%s, 0, a%d + %lld + (%s));\n", var, cg_param(G, node),
               (long long)cg_elem_offset(G, node), idx);
  }
}

/* Declares "T name = <load of node>;". */
static void upd_decl(cg_ctx *G, strbuf *sb, const char *name, int32_t node, const char *idx,
                     int width) {
  sb_appendf(sb, "    %s %s = ", width == 1 ? "float" : "float8", name);
  upd_load(G, sb, node, idx, width);
  sb_append(sb, ";\n");
}

/* SGD's velocity (the local named v) from the gradient u_g and the
 * parameter (the local named p), with weight decay. */
static void sgd_velocity(strbuf *body, const ir_node *n, const char *p, const char *v) {
  sb_appendf(body, "    u_g += %s * ", p);
  cg_float(body, n->attr.f[1]);
  sb_appendf(body, ";\n    %s = %s * ", v, v);
  cg_float(body, n->attr.f[0]);
  sb_append(body, " + u_g;\n");
}

/* Adam's moments from the gradient u_g: m (the local named m) and u_v. */
static void adam_moments(strbuf *body, const ir_node *n, const char *m) {
  float b1 = n->attr.f[0], b2 = n->attr.f[1];
  sb_appendf(body, "    %s = %s * ", m, m);
  cg_float(body, b1);
  sb_append(body, " + u_g * ");
  cg_float(body, 1.0 - (double)b1);
  sb_append(body, ";\n    u_v = u_v * ");
  cg_float(body, b2);
  sb_append(body, " + u_g * u_g * ");
  cg_float(body, 1.0 - (double)b2);
  sb_append(body, ";\n");
}

/* The update (assign_add, SGD, Adam, and the two halves of each of those
 * two) of element idx — or of the eight
 * elements from idx when width is 8 — of an in-place writer, given the
 * gradient or delta: the expression gval (width 1), or NULL to load it
 * from the node's input 1. Shared by the standalone update kernels and by
 * matmul/reduction epilogues, where the gradient never reaches memory.
 * Locals are u_-prefixed: this text also lands inside the GEMM_STORE(i, j,
 * v) macro, whose parameter names must not be captured. */
void cg_update_element(cg_ctx *G, strbuf *body, int32_t id, const char *idx, const char *gval,
                       int width) {
  const ir_node *n = &G->g->nodes[id];
  const char *T = width == 1 ? "float" : "float8";
  sb_append(body, "  {\n");
  if (gval) {
    sb_appendf(body, "    %s u_g = %s;\n", T, gval);
  } else {
    upd_decl(G, body, "u_g", n->in[1], idx, width);
  }
  upd_decl(G, body, "u_p", n->in[0], idx, width);
  if (n->op == IR_OP_ASSIGN_ADD) {
    sb_append(body, "    u_p += u_g;\n");
  } else if (n->op == IR_OP_SGD_UPDATE) {
    sb_append(body, "    const float u_lr = ");
    cg_access(G, body, n->in[3], "0");
    sb_append(body, ";\n");
    upd_decl(G, body, "u_v", n->in[2], idx, width);
    sgd_velocity(body, n, "u_p", "u_v");
    sb_append(body, "    u_p -= u_lr * u_v;\n");
    upd_store(G, body, n->in[2], idx, width, "u_v");
  } else if (n->op == IR_OP_SGD_VELOCITY) { /* u_p is the velocity, input 2 the parameter */
    upd_decl(G, body, "u_w", n->in[2], idx, width);
    sgd_velocity(body, n, "u_w", "u_p");
  } else if (n->op == IR_OP_SGD_APPLY) { /* input 1, loaded as u_g, is the velocity */
    sb_append(body, "    const float u_lr = ");
    cg_access(G, body, n->in[2], "0");
    sb_append(body, ";\n    u_p -= u_lr * u_g;\n");
  } else if (n->op == IR_OP_ADAM_MOMENTS) { /* u_p is m here */
    upd_decl(G, body, "u_v", n->in[2], idx, width);
    adam_moments(body, n, "u_p");
    upd_store(G, body, n->in[2], idx, width, "u_v");
  } else { /* ADAM_UPDATE, as PyTorch's Adam / AdamW, or ADAM_APPLY */
    bool apply = n->op == IR_OP_ADAM_APPLY;
    int32_t hyper = n->in[n->nin - 1];
    float eps = n->attr.f[2], wd = n->attr.f[3];
    sb_append(body, "    const float u_lr = ");
    cg_access(G, body, hyper, "0");
    sb_append(body, ", u_bc1 = 1.0f - ");
    cg_access(G, body, hyper, "1");
    sb_append(body, ", u_bc2 = 1.0f - ");
    cg_access(G, body, hyper, "2");
    sb_append(body, ";\n");
    if (apply) { /* input 1, loaded as u_g, is m */
      sb_appendf(body, "    const %s u_m = u_g;\n", T);
      upd_decl(G, body, "u_v", n->in[2], idx, width);
    } else {
      upd_decl(G, body, "u_m", n->in[2], idx, width);
      upd_decl(G, body, "u_v", n->in[3], idx, width);
    }
    if (wd > 0) {
      sb_append(body, "    u_p *= 1.0f - u_lr * ");
      cg_float(body, wd);
      sb_append(body, ";\n");
    }
    if (!apply) adam_moments(body, n, "u_m");
    sb_append(body, "    u_p -= u_lr * (u_m / u_bc1) / (sqrt(u_v / u_bc2) + ");
    cg_float(body, eps);
    sb_append(body, ");\n");
    if (!apply) {
      upd_store(G, body, n->in[2], idx, width, "u_m");
      upd_store(G, body, n->in[3], idx, width, "u_v");
    }
  }
  upd_store(G, body, n->in[0], idx, width, "u_p");
  sb_append(body, "  }\n");
}

/* One kernel updating every tensor of nodes[]: each work-item handles
 * eight consecutive elements with vector loads (PoCL does not vectorize
 * this branchy code across work-items by itself; explicit float8 runs the
 * update at memory speed), the last partial eight of a tensor elementwise.
 * Tensors take consecutive ranges of work-items. */
void cg_emit_updates(cg_ctx *G, strbuf *body, cl_launch *L, const int32_t *nodes, int count) {
  int64_t start = 0;
  sb_append(body, "  const int gid = get_global_id(0);\n");
  for (int k = 0; k < count; k++) {
    int64_t n = gc_shape_numel(G->g->nodes[nodes[k]].shape), items = (n + 7) / 8;
    sb_appendf(body,
               "  %sif (gid < %lld) {\n  const int e = (gid - %lld) * 8;\n"
               "  if (e + 8 <= %lld) {\n",
               k ? "else " : "", (long long)(start + items), (long long)start, (long long)n);
    cg_update_element(G, body, nodes[k], "e", NULL, 8);
    sb_appendf(body, "  } else {\n  for (int t = e; t < %lld; t++)\n", (long long)n);
    cg_update_element(G, body, nodes[k], "t", NULL, 1);
    sb_append(body, "  }\n  }\n");
    start += items;
  }
  cg_geometry_1d(L, start);
}

static void emit_update(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *body) {
  if (n->op == IR_OP_OPT_TICK) {
    sb_append(body, "  if (get_global_id(0) != 0) return;\n  ");
    cg_access(G, body, id, "1");
    sb_append(body, " *= ");
    cg_float(body, n->attr.f[0]);
    sb_append(body, ";\n  ");
    cg_access(G, body, id, "2");
    sb_append(body, " *= ");
    cg_float(body, n->attr.f[1]);
    sb_append(body, ";\n  ");
    cg_access(G, body, id, "3");
    sb_append(body, " += 1.0f;\n");
    L->work_dim = 1;
    L->global[0] = L->local[0] = 1;
    return;
  }
  cg_emit_updates(G, body, L, &id, 1);
}

gc_status cl_emit_single(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *body) {
  switch (n->op) {
    case IR_OP_SOFTMAX:
    case IR_OP_LOG_SOFTMAX:
      emit_softmax(G, n, id, L, body);
      return GC_OK;
    case IR_OP_CROSS_ENTROPY:
      emit_cross_entropy(G, n, id, -1, L, body);
      return GC_OK;
    case IR_OP_CROSS_ENTROPY_GRAD:
      emit_cross_entropy(G, n, -1, id, L, body);
      return GC_OK;
    case IR_OP_ASSIGN_ADD:
    case IR_OP_OPT_TICK:
    case IR_OP_SGD_UPDATE:
    case IR_OP_ADAM_UPDATE:
    case IR_OP_ADAM_MOMENTS:
    case IR_OP_ADAM_APPLY:
    case IR_OP_SGD_VELOCITY:
    case IR_OP_SGD_APPLY:
      emit_update(G, n, id, L, body);
      return GC_OK;
    case IR_OP_CONV2D:
      cl_emit_conv2d(G, n, id, NULL, L, body);
      return GC_OK;
    case IR_OP_CONV2D_GRAD_INPUT:
      cl_emit_conv2d_grad_input(G, n, id, NULL, L, body);
      return GC_OK;
    case IR_OP_CONV2D_GRAD_WEIGHT:
      cl_emit_conv2d_grad_weight(G, n, id, L, body);
      return GC_OK;
    case IR_OP_MAXPOOL2D:
    case IR_OP_MAXPOOL2D_GRAD:
    case IR_OP_MAXPOOL2D_INDICES:
    case IR_OP_AVGPOOL2D:
    case IR_OP_AVGPOOL2D_GRAD:
      cl_emit_pool2d(G, n, id, NULL, -1, L, body);
      return GC_OK;
    case IR_OP_RESIZE_BILINEAR:
    case IR_OP_RESIZE_BILINEAR_GRAD:
      cl_emit_resize(G, n, id, L, body);
      return GC_OK;
    case IR_OP_RANDOM:
      cl_emit_random(G, n, id, L, body);
      return GC_OK;
    case IR_OP_GATHER_GRAD:
    case IR_OP_ARGMAX:
    case IR_OP_ARGMIN:
    case IR_OP_CUMSUM:
      return cl_emit_elem_single(G, n, id, L, body);
    /* ---- more single-kernel ops: add cases above this line ---- */
    default:
      return gc_fail(GC_ERR_UNSUPPORTED, "codegen: no OpenCL kernel for %s",
                     ir_node_label(G->g, id));
  }
}

void cg_emit_cross_entropy_pair(cg_ctx *G, int32_t loss_id, int32_t grad_id, cl_launch *L,
                                strbuf *body) {
  emit_cross_entropy(G, &G->g->nodes[loss_id], loss_id, grad_id, L, body);
}
