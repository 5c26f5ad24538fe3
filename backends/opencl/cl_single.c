/* cl_single.c — kernels of ops that are not fused with others: softmax
 * and log-softmax over any axis, cross-entropy forward and backward, and
 * the in-place updates (assign_add, optimizer tick, SGD, Adam). */
#include <string.h>

#include "backends/opencl/cl_emit.h"

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

/* Row loss = logsumexp(row) - row[label]; labels outside [0, C) add 0 (as
 * the reference does). */
static void emit_cross_entropy(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *body,
                               bool grad) {
  const ir_node *x = &G->g->nodes[n->in[0]];
  int64_t rows = x->shape.dim[0], cols = x->shape.dim[1];
  strbuf xv = {0}, yv = {0};
  cg_access(G, &xv, n->in[0],
            "row * "
            "COLS"
            " + k");
  cg_access(G, &yv, n->in[1], "row");
  sb_appendf(body, "#define COLS %lld\n", (long long)cols);
  if (grad) {
    sb_appendf(body,
               "  const int row = get_global_id(0);\n  if (row >= %lld) return;\n"
               "  const float scale = ",
               (long long)rows);
    cg_access(G, body, n->in[2], "0");
    sb_append(body, " * ");
    cg_float(body, 1.0 / (double)rows);
    sb_append(body, ";\n");
  } else {
    sb_appendf(body,
               "  if (get_global_id(0) != 0) return;\n  float total = 0.0f;\n"
               "  for (int row = 0; row < %lld; row++) {\n",
               (long long)rows);
  }
  sb_appendf(body,
             "  const int label = %s;\n"
             "  float m = -INFINITY, s = 0.0f;\n"
             "  for (int k = 0; k < COLS; k++) m = fmax(m, %s);\n"
             "  for (int k = 0; k < COLS; k++) s += exp(%s - m);\n",
             sb_str(&yv), sb_str(&xv), sb_str(&xv));
  if (grad) {
    strbuf ov = {0};
    cg_access(G, &ov, id, "row * COLS + k");
    sb_appendf(body,
               "  const float inv = 1.0f / s;\n"
               "  for (int k = 0; k < COLS; k++)\n"
               "    %s = scale * (exp(%s - m) * inv - (k == label ? 1.0f : 0.0f));\n",
               sb_str(&ov), sb_str(&xv));
    sb_free(&ov);
    cg_geometry_1d(L, rows);
  } else {
    sb_appendf(body,
               "  if (label >= 0 && label < COLS) { const int k = label; total += m + log(s) - "
               "%s; }\n  }\n  ",
               sb_str(&xv));
    cg_access(G, body, id, "0");
    sb_append(body, " = total * ");
    cg_float(body, 1.0 / (double)rows);
    sb_append(body, ";\n");
    L->work_dim = 1;
    L->global[0] = L->local[0] = 1;
  }
  sb_append(body, "#undef COLS\n");
  sb_free(&xv);
  sb_free(&yv);
}

static void emit_update(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *body) {
  int64_t numel = gc_shape_numel(n->shape);
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
  sb_appendf(body, "  const int gid = get_global_id(0);\n  if (gid >= %lld) return;\n",
             (long long)numel);
  strbuf p = {0}, gr = {0}, s2 = {0}, s3 = {0}, h = {0};
  cg_access(G, &p, n->in[0], "gid");
  cg_access(G, &gr, n->in[1], "gid");
  if (n->op == IR_OP_ASSIGN_ADD) {
    sb_appendf(body, "  %s += %s;\n", sb_str(&p), sb_str(&gr));
  } else if (n->op == IR_OP_SGD_UPDATE) {
    cg_access(G, &s2, n->in[2], "gid");
    cg_access(G, &h, n->in[3], "0");
    sb_appendf(body, "  const float lr = %s;\n  const float g = %s + ", sb_str(&h), sb_str(&gr));
    cg_float(body, n->attr.f[1]);
    sb_appendf(body, " * %s;\n  const float v = ", sb_str(&p));
    cg_float(body, n->attr.f[0]);
    sb_appendf(body, " * %s + g;\n  %s = v;\n  %s -= lr * v;\n", sb_str(&s2), sb_str(&s2),
               sb_str(&p));
  } else { /* ADAM_UPDATE, as PyTorch's Adam / AdamW */
    cg_access(G, &s2, n->in[2], "gid");
    cg_access(G, &s3, n->in[3], "gid");
    strbuf h0 = {0}, h1 = {0}, h2 = {0};
    cg_access(G, &h0, n->in[4], "0");
    cg_access(G, &h1, n->in[4], "1");
    cg_access(G, &h2, n->in[4], "2");
    float b1 = n->attr.f[0], b2 = n->attr.f[1], eps = n->attr.f[2], wd = n->attr.f[3];
    sb_appendf(body, "  const float lr = %s, bc1 = 1.0f - %s, bc2 = 1.0f - %s;\n", sb_str(&h0),
               sb_str(&h1), sb_str(&h2));
    sb_appendf(body, "  const float g = %s;\n  float pv = %s;\n", sb_str(&gr), sb_str(&p));
    if (wd > 0) {
      sb_append(body, "  pv *= 1.0f - lr * ");
      cg_float(body, wd);
      sb_append(body, ";\n");
    }
    sb_append(body, "  const float m = ");
    cg_float(body, b1);
    sb_appendf(body, " * %s + ", sb_str(&s2));
    cg_float(body, 1.0 - (double)b1);
    sb_append(body, " * g;\n  const float v = ");
    cg_float(body, b2);
    sb_appendf(body, " * %s + ", sb_str(&s3));
    cg_float(body, 1.0 - (double)b2);
    sb_appendf(body, " * g * g;\n  %s = m;\n  %s = v;\n", sb_str(&s2), sb_str(&s3));
    sb_appendf(body, "  %s = pv - lr * (m / bc1) / (sqrt(v / bc2) + ", sb_str(&p));
    cg_float(body, eps);
    sb_append(body, ");\n");
    sb_free(&h0);
    sb_free(&h1);
    sb_free(&h2);
  }
  sb_free(&p);
  sb_free(&gr);
  sb_free(&s2);
  sb_free(&s3);
  sb_free(&h);
  cg_geometry_1d(L, numel);
}

gc_status cl_emit_single(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *body) {
  switch (n->op) {
    case IR_OP_SOFTMAX:
    case IR_OP_LOG_SOFTMAX:
      emit_softmax(G, n, id, L, body);
      return GC_OK;
    case IR_OP_CROSS_ENTROPY:
      emit_cross_entropy(G, n, id, L, body, false);
      return GC_OK;
    case IR_OP_CROSS_ENTROPY_GRAD:
      emit_cross_entropy(G, n, id, L, body, true);
      return GC_OK;
    case IR_OP_ASSIGN_ADD:
    case IR_OP_OPT_TICK:
    case IR_OP_SGD_UPDATE:
    case IR_OP_ADAM_UPDATE:
      emit_update(G, n, id, L, body);
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
