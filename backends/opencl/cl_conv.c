/* cl_conv.c — conv2d and its input and weight gradients as implicit GEMMs:
 * instances of kernels/gemm.cl whose B operand is gathered from the image
 * (im2col on the fly, in the strip copy the template already makes), so no
 * column buffer exists and the register-tiled micro-kernel does the FLOPs.
 * For groups == 1 and 2 spatial axes (grouped and 3-D convolutions keep
 * the direct kernels of cl_nn_ops.c):
 *
 * - forward, per image n (the GEMM batch):
 *     y[n][o][p] = sum_k w[o][k] col_n[k][p], k = (ci, i, j), p = (oh, ow),
 *     col_n[k][p] = x[n][ci][oh SH + i DH - PT][ow SW + j DW - PL] (0 outside);
 * - input gradient, per image n, one K segment per tap t = (i, j):
 *     dx[n][c][q] = sum_t sum_o w[o][c][t] dy[n][o][src(q, t)], q = (h, w),
 *     the weight read in place with strides (KK, C KK), dy gathered (0 where
 *     no output position maps onto q through tap t): the gather form of the
 *     transposed convolution, so no scatter and no atomics;
 * - weight gradient, one GEMM whose K is (image, pixel), one segment per
 *     image: dw[o][k] = sum_n sum_p dy[n][o][p] col_n[k][p]; dy is read in
 *     place (a K block never straddles two images), col^T gathered.
 *
 * bench/bench_conv.c on PoCL 3.1 (2 shared cores, so absolute figures
 * swing 2x with the load; the ratios hold), speed-up over the direct
 * kernels in one process: 64x32x13x13 -> 64 3x3 forward ~4x (45-90
 * GFLOP/s), dx ~1.7x (23-46: the gather form multiplies the zero taps at
 * the borders too, 1.4x the FLOPs here), dw ~16x (49-100); 64x1x28x28 ->
 * 32 forward ~2x (~20, bound by writing the 5.5 MB output), dw ~3.7x; its
 * dx (C = 1, a one-row GEMM) is no faster than the direct kernel (~2.5).
 * GRAPHC_CONV_DIRECT=1 in the environment (read when a program is
 * compiled) selects the direct kernels instead, for comparisons. */
#include <stdlib.h>

#include "backends/opencl/cl_conv.h"
#include "backends/opencl/cl_gemm.h"
#include "ir/nn_geom.h"

bool cl_conv_gemm_applies(const cg_ctx *G, const ir_node *n) {
  if (n->op != IR_OP_CONV2D && n->op != IR_OP_CONV2D_GRAD_INPUT &&
      n->op != IR_OP_CONV2D_GRAD_WEIGHT)
    return false;
  const char *env = getenv("GRAPHC_CONV_DIRECT");
  if (env && *env && *env != '0') return false;
  ir_window win = n->attr.win;
  nn_window_normalize(&win);
  if (win.groups != 1) return false;
  /* the gathers below index 2 spatial axes; 3-D convs (5-D tensors, all
   * three of the node's tensors of one rank) take the direct kernels */
  if (n->shape.ndim != 4) return false;
  const ir_graph *g = G->g;
  /* 32-bit indexing in the kernels (cl_gemm_source checks the GEMM's own
   * extents; the gathered tensors are checked here) */
  for (int k = 0; k < 2; k++)
    if (gc_shape_numel(g->nodes[n->in[k]].shape) >= INT32_MAX / 2) return false;
  return gc_shape_numel(n->shape) < INT32_MAX / 2;
}

/* "(aK + offset)": element 0 of node's storage as a pointer. */
static void ptr_expr(cg_ctx *G, strbuf *b, int32_t node) {
  sb_appendf(b, "(a%d + %lld)", cg_param(G, node), (long long)cg_elem_offset(G, node));
}

/* The bounds test of a gathered coordinate e against [0, len), or "1"
 * when the geometry keeps it in range. */
static void range_test(strbuf *b, const char *e, int64_t len, bool needed) {
  if (needed)
    sb_appendf(b, "(uint)(%s) < %lldu", e, (long long)len);
  else
    sb_append(b, "1");
}

gc_status cl_emit_conv_gemm(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *text,
                            const char *epilogue) {
  const ir_graph *g = G->g;
  nn_conv c;
  if (n->op == IR_OP_CONV2D)
    c = nn_conv_of(g->nodes[n->in[0]].shape, g->nodes[n->in[1]].shape, n->attr.win);
  else if (n->op == IR_OP_CONV2D_GRAD_INPUT)
    c = nn_conv_of(n->shape, g->nodes[n->in[1]].shape, n->attr.win);
  else
    c = nn_conv_of(g->nodes[n->in[0]].shape, n->shape, n->attr.win);
  const long long KK = c.kh * c.kw, HW = c.h * c.w, P = c.oh * c.ow, CHW = c.c * HW;
  const long long CKK = c.c * KK, KW = c.kw, W = c.w, OW = c.ow;
  const int sh = c.win.sh, sw = c.win.sw, dh = c.win.dh, dw = c.win.dw;
  const int pt = c.win.pt, pl = c.win.pl;
  const bool pad_h = c.win.pt || c.win.pb, pad_w = c.win.pl || c.win.pr;
  strbuf gat = {0}, store = {0}, aexpr = {0}, col0 = {0}, col1 = {0}, params = {0}, idx = {0},
         cptr = {0};
  cl_gemm_spec s = {0};
  s.name = L->name;
  if (n->op == IR_OP_CONV2D || n->op == IR_OP_CONV2D_GRAD_WEIGHT) {
    /* im2col element (q = (ci, i, j), p = (oh, ow)) of image img:
     *   x[img][ci][ph + qh][pw + qw], ph = oh SH, pw = ow SW,
     *   qh = i DH - PT, qw = j DW - PL.
     * The forward's GEMM column is p, the weight gradient's is q: that
     * side's part is c0 / c1, computed once per column. */
    const bool fwd = n->op == IR_OP_CONV2D;
    const char *q = fwd ? "(k)" : "(j)", *p = fwd ? "(j)" : "(k)", *img = fwd ? "gemm_b" : "(s)";
    strbuf ph = {0}, pw = {0}, qh = {0}, qw = {0}, qc = {0};
    sb_appendf(&ph, "%s / %lld * %d", p, OW, sh);
    sb_appendf(&pw, "%s %% %lld * %d", p, OW, sw);
    sb_appendf(&qh, "(%s %% %lld / %lld * %d - %d)", q, KK, KW, dh, pt);
    sb_appendf(&qw, "(%s %% %lld * %d - %d)", q, KW, dw, pl);
    sb_appendf(&qc, "%s / %lld * %lld", q, KK, HW);
    if (!pad_h && !pad_w) {
      /* every tap in range: one offset per side */
      if (fwd) {
        sb_appendf(&col0, "%s * %lld + %s", sb_str(&ph), W, sb_str(&pw));
        sb_appendf(&idx, "(%s * %lld + %s + %s * %lld + %s) + (c0)", img, CHW, sb_str(&qc),
                   sb_str(&qh), W, sb_str(&qw));
      } else {
        sb_appendf(&col0, "%s + %s * %lld + %s", sb_str(&qc), sb_str(&qh), W, sb_str(&qw));
        sb_appendf(&idx, "(%s * %lld + %s * %lld + %s) + (c0)", img, CHW, sb_str(&ph), W,
                   sb_str(&pw));
      }
      cg_access(G, &gat, n->in[0], sb_str(&idx));
    } else {
      /* c0 / c1: the column side's row and column term; the tests see the
       * sums ih = ph + qh, iw = pw + qw */
      strbuf ih = {0}, iw = {0};
      sb_append(&col0, sb_str(fwd ? &ph : &qh));
      sb_append(&col1, sb_str(fwd ? &pw : &qw));
      sb_appendf(&ih, "((c0) + %s)", sb_str(fwd ? &qh : &ph));
      sb_appendf(&iw, "((c1) + %s)", sb_str(fwd ? &qw : &pw));
      sb_append(&gat, "(");
      range_test(&gat, sb_str(&ih), c.h, pad_h);
      sb_append(&gat, " && ");
      range_test(&gat, sb_str(&iw), c.w, pad_w);
      sb_append(&gat, ") ? ");
      sb_appendf(&idx, "%s * %lld + %s + %s * %lld + %s", img, CHW, sb_str(&qc), sb_str(&ih), W,
                 sb_str(&iw));
      cg_access(G, &gat, n->in[0], sb_str(&idx));
      sb_append(&gat, " : 0.0f");
      sb_free(&ih);
      sb_free(&iw);
    }
    sb_free(&ph);
    sb_free(&pw);
    sb_free(&qh);
    sb_free(&qw);
    sb_free(&qc);
    sb_reset(&idx);
    if (fwd) {
      /* y[n] [O, P] = w [O, CKK] x col_n [CKK, P] */
      s.m = c.o, s.n = P, s.k = CKK, s.batch = c.n;
      s.lda = CKK;
      ptr_expr(G, &aexpr, n->in[1]);
      sb_appendf(&idx, "gemm_b * %lld + (i) * %lld + (j)", (long long)(c.o * P), P);
    } else {
      /* dw [O, CKK] = sum_n dy_n [O, P] x col_n^T [P, CKK] */
      s.m = c.o, s.n = CKK, s.k = P, s.kseg = c.n;
      s.lda = P, s.a_seg_stride = c.o * P;
      ptr_expr(G, &aexpr, n->in[1]);
      sb_appendf(&idx, "(i) * %lld + (j)", CKK);
    }
    if (!epilogue) cg_access(G, &store, id, sb_str(&idx)); /* else not stored */
  } else {
    /* dx[n] [C, HW] = sum_t w_t^T [C, O] x dy_{n,t} [O, HW]: segment s is the
     * tap (i, j) = (s / KW, s % KW); dy's row hn = h + PT - i DH must be a
     * multiple of SH below OH SH (likewise along w). The tap is fixed for a
     * whole segment, so c0 (per segment and column) is the offset of
     * dy[n][0][hn / SH][wn / SW], or -1 where the tap reads nothing: the
     * gather is then a test, an add and a load. */
    strbuf hn = {0}, wn = {0};
    sb_appendf(&hn, "((j) / %lld + %d - (s) / %lld * %d)", W, pt, KW, dh);
    sb_appendf(&wn, "((j) %% %lld + %d - (s) %% %lld * %d)", W, pl, KW, dw);
    sb_append(&col1, "(");
    range_test(&col1, sb_str(&hn), c.oh * sh, true);
    sb_append(&col1, " && ");
    range_test(&col1, sb_str(&wn), c.ow * sw, true);
    if (sh > 1) sb_appendf(&col1, " && %s %% %d == 0", sb_str(&hn), sh);
    if (sw > 1) sb_appendf(&col1, " && %s %% %d == 0", sb_str(&wn), sw);
    sb_append(&col1, ")");
    /* c0 = 0 where the tap reads nothing, so the load is always in range
     * and select() keeps the gather free of branches */
    sb_appendf(&col0, "(%s) ? %s / %d * %lld + %s / %d : 0", sb_str(&col1), sb_str(&hn), sh, OW,
               sb_str(&wn), sw);
    sb_append(&gat, "select(0.0f, ");
    sb_appendf(&idx, "gemm_b * %lld + (k) * %lld + (c0)", (long long)(c.o * P), P);
    cg_access(G, &gat, n->in[0], sb_str(&idx));
    sb_append(&gat, ", (c1))");
    sb_reset(&idx);
    sb_free(&hn);
    sb_free(&wn);
    s.m = c.c, s.n = HW, s.k = c.o, s.batch = c.n, s.kseg = KK;
    s.lda = c.c;       /* unused: a_si / a_sk below */
    if (n->nin == 3) { /* the weight tap-major [KK, C, O]: a contiguous block per tap */
      s.a_si = c.o, s.a_sk = 1, s.a_seg_stride = c.c * c.o;
      ptr_expr(G, &aexpr, n->in[2]);
    } else { /* w [O, C, KK] read in place */
      s.a_si = KK, s.a_sk = CKK, s.a_seg_stride = 1;
      ptr_expr(G, &aexpr, n->in[1]);
    }
    sb_appendf(&idx, "gemm_b * %lld + (i) * %lld + (j)", CHW, HW);
    if (!epilogue) cg_access(G, &store, id, sb_str(&idx)); /* else not stored */
  }
  if (epilogue) {
    sb_append(&store, epilogue);
  } else {
    /* the same element's address, for whole-strip vector stores */
    sb_appendf(&cptr, "&%s", sb_str(&store));
    sb_append(&store, " = (v)");
  }
  for (int i = 0; i < G->nused; i++) sb_appendf(&params, "%s__global float *a%d", i ? ", " : "", i);
  /* About a million FLOPs per work-item (PoCL starts each work-group in
   * about the time of a 32x16x9 tile), but at least 64 work-items. */
  {
    const int64_t rows = s.m < 192 ? s.m : 192, kseg = s.kseg > 0 ? s.kseg : 1;
    const int64_t per_tile = 2 * rows * 16 * s.k * kseg;
    const int64_t tiles = (s.m + 191) / 192 * ((s.n + 15) / 16) * (s.batch > 0 ? s.batch : 1);
    int64_t grp = ((int64_t)1 << 20) / per_tile;
    if (grp > tiles / 64) grp = tiles / 64;
    s.group = grp > 1 ? (int)grp : 1;
  }
  /* float8 strips (N < 16): 8 rows keep 8 FMA chains in flight */
  if (s.n < 16 && s.m >= 8) s.mr = 8;
  s.params = sb_str(&params);
  s.a_expr = sb_str(&aexpr);
  s.b_gather = sb_str(&gat);
  s.b_col0 = col0.len ? sb_str(&col0) : NULL;
  s.b_col1 = col1.len ? sb_str(&col1) : NULL;
  s.store = sb_str(&store);
  s.c_ptr = epilogue ? NULL : sb_str(&cptr);
  char *src = NULL;
  gc_status st = (gat.oom || store.oom || aexpr.oom || col0.oom || col1.oom || params.oom ||
                  idx.oom || cptr.oom)
                     ? gc_fail(GC_ERR_NOMEM, "codegen: out of memory")
                 : G->overflow ? gc_fail(GC_ERR_UNSUPPORTED, "codegen: too many buffers")
                               : cl_gemm_source(&s, &src);
  if (!st) {
    cl_gemm_geometry(&s, &L->work_dim, L->global, L->local);
    sb_append(text, src);
    if (text->oom) st = gc_fail(GC_ERR_NOMEM, "codegen: out of memory");
  }
  free(src);
  sb_free(&gat);
  sb_free(&store);
  sb_free(&aexpr);
  sb_free(&col0);
  sb_free(&col1);
  sb_free(&params);
  sb_free(&idx);
  sb_free(&cptr);
  return st;
}
