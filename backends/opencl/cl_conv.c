/* cl_conv.c — conv2d and its input and weight gradients as implicit GEMMs:
 * instances of kernels/gemm.cl that gather one operand from the image on
 * the fly, so no column buffer exists and the register-tiled micro-kernel
 * does the FLOPs. For groups == 1 and 2 spatial axes (grouped and 3-D
 * convolutions keep the direct kernels of cl_nn_ops.c). Two forms:
 *
 * im2col (the gathered operand is B, copied into the strip the template
 * already makes; the GEMM's rows are channels):
 * - forward, per image n (the GEMM batch):
 *     y[n][o][p] = sum_k w[o][k] col_n[k][p], k = (ci, i, j), p = (oh, ow),
 *     col_n[k][p] = x[n][ci][oh SH + i DH - PT][ow SW + j DW - PL] (0 outside);
 * - input gradient, per image n, one K segment per tap t = (i, j):
 *     dx[n][c][q] = sum_t sum_o w[o][c][t] dy[n][o][src(q, t)], q = (h, w),
 *     the weight read tap-major (or in place with strides (KK, C KK)), dy
 *     gathered (0 where no output position maps onto q through tap t): the
 *     gather form of the transposed convolution, so no scatter and no
 *     atomics;
 * - weight gradient, one GEMM whose K is (image, pixel), one segment per
 *     image: dw[o][k] = sum_n sum_p dy[n][o][p] col_n[k][p]; dy is read in
 *     place (a K block never straddles two images), col^T gathered.
 *
 * im2row (the gathered operand is A, broadcast a scalar at a time; the
 * GEMM's rows are pixels): the transposes of the same products, described
 * at emit_im2row. Taken where it applies (any input gradient with the
 * tap-major weight; forwards and weight gradients without padding, and
 * forwards whose K is at least 32), since assembling B's vector rows from
 * scalar loads costs about as much as the FMAs when the channels are few.
 *
 * bench/bench_conv.c on PoCL 3.1, all three forms in one process (2
 * shared cores, so absolute figures swing 2x with the load; the ratios
 * hold): 64x32x13x13 -> 64 3x3, im2row over im2col: forward 1.22x (123
 * GFLOP/s), dx 1.24x (77, counting only the useful FLOPs: the zero taps
 * at the borders are 1.4x that), dw 1.11x (126); im2col over the direct
 * kernels: forward ~3.5x, dx ~1.8x, dw ~13x. 64x1x28x28 -> 32: forward
 * (im2col) ~2.7x over direct (~20-60 GFLOP/s, bound by writing the 5.5 MB
 * output), dw im2row ~4.8x, dx (C = 1) im2row 1.3x.
 * GRAPHC_CONV_DIRECT=1 in the environment (read when a program is
 * compiled) selects the direct kernels, GRAPHC_CONV_IM2COL=1 the im2col
 * form everywhere, for comparisons. */
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

/* Tiles per work-item: about a million FLOPs each (PoCL starts each
 * work-group in about the time of a 32x16x9 tile), but at least 64
 * work-items. */
static int tiles_per_item(const cl_gemm_spec *s) {
  const int64_t rows = s->m < 192 ? s->m : 192, kseg = s->kseg > 0 ? s->kseg : 1;
  const int64_t per_tile = 2 * rows * 16 * s->k * kseg;
  const int64_t tiles = (s->m + 191) / 192 * ((s->n + 15) / 16) * (s->batch > 0 ? s->batch : 1);
  int64_t grp = ((int64_t)1 << 20) / per_tile;
  if (grp > tiles / 64) grp = tiles / 64;
  return grp > 1 ? (int)grp : 1;
}

/* Pastes the instance of s, its parameter list made from G's buffers, and
 * sets L's geometry. */
static gc_status emit_instance(cg_ctx *G, cl_gemm_spec *s, cl_launch *L, strbuf *text) {
  strbuf params = {0};
  s->group = tiles_per_item(s);
  s->gpu = !G->cpu;
  char scratch[16];
  cg_gemm_scratch(G, s, scratch);
  for (int i = 0; i < G->nused; i++) sb_appendf(&params, "%s__global float *a%d", i ? ", " : "", i);
  s->params = sb_str(&params);
  char *src = NULL;
  gc_status st = params.oom    ? gc_fail(GC_ERR_NOMEM, "codegen: out of memory")
                 : G->overflow ? gc_fail(GC_ERR_UNSUPPORTED, "codegen: too many buffers")
                               : cl_gemm_source(s, &src);
  if (!st) {
    cl_gemm_geometry(s, &L->work_dim, L->global, L->local);
    sb_append(text, src);
  }
  free(src);
  sb_free(&params);
  return st;
}

/* The im2row forms: the gathered operand is A, whose rows are output (or,
 * for the input gradient, input) pixels of all images, and the weight is
 * B. The micro-kernel broadcasts A one scalar at a time, so a gathered
 * element costs one load, as an in-place A does; gathered as B, each
 * floatNR row is assembled from NR scalar loads, about as long as the FMAs
 * that use it when M (the output channels) is 64. The result is C^T of
 * the im2col form, stored through the macro <name>_st(gemm_b, i, j, v),
 * which takes the im2col form's coordinates (image, channel, pixel), so a
 * fused epilogue reads the same either way.
 * - forward (no padding: a padded tap would need a bounds test per
 *   element; C KK >= 32): y^T [N P, O] = col [N P, C KK] x w^T, w [O, C KK]
 *   read as B stored [N, K];
 * - input gradient (any geometry: whether tap t reaches pixel q depends on
 *   (q, t) only, one test per row and segment): dx^T [N HW, C] = sum_t
 *   dy_t [N HW, O] x wt_t [C, O]^T, one segment per tap, rows a tap does
 *   not reach read as 0;
 * - weight gradient (no padding): dw^T [C KK, O] = sum_n col_n^T [C KK, P]
 *   x dy_n [O, P]^T, one segment per image.
 * Whether node n takes it: */
static bool im2row_applies(const ir_node *n, const nn_conv *c) {
  const char *env = getenv("GRAPHC_CONV_IM2COL");
  if (env && *env && *env != '0') return false;
  if (n->op == IR_OP_CONV2D_GRAD_INPUT) return n->nin == 3; /* needs wt */
  /* A forward with a K as short as one channel's taps is bound by storing
   * its output, which im2col does a vector per row at a time and im2row
   * one scalar at a time (64x1x28x28 -> 32: im2row 0.73x of im2col). */
  if (n->op == IR_OP_CONV2D && c->c * c->kh * c->kw < 32) return false;
  return !c->win.pt && !c->win.pb && !c->win.pl && !c->win.pr;
}

static gc_status emit_im2row(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *text,
                             const char *epilogue, const nn_conv *c) {
  const long long KK = c->kh * c->kw, HW = c->h * c->w, P = c->oh * c->ow, CHW = c->c * HW;
  const long long KW = c->kw, W = c->w, OW = c->ow, OP = c->o * P, CKK = c->c * KK;
  const int sh = c->win.sh, sw = c->win.sw, dh = c->win.dh, dw = c->win.dw;
  strbuf gat = {0}, rowptr = {0}, rowlive = {0}, koff = {0}, bexpr = {0}, store = {0}, head = {0},
         head_st = {0}, body = {0};
  /* rowptr: A's row i of segment s as a pointer (the gather reads
   * rowptr[koff(k)]); rowlive: whether the segment reaches that row; head:
   * the im2col form's (gemm_b, i, j) of the kernel's (i, j), the arguments
   * of <name>_st */
  cl_gemm_spec s = {0};
  s.name = L->name;
  s.trans_b = 1;
  if (n->op == IR_OP_CONV2D) {
    ptr_expr(G, &rowptr, n->in[0]);
    sb_appendf(&rowptr, " + ((i) / %lld * %lld + (i) %% %lld / %lld * %lld + (i) %% %lld * %d)", P,
               CHW, P, OW, sh * W, OW, sw);
    sb_appendf(&koff, "(k) / %lld * %lld + (k) %% %lld / %lld * %lld + (k) %% %lld * %d", KK, HW,
               KK, KW, dh * W, KW, dw);
    sb_append(&gat, "(r0)[ko]");
    s.m = c->n * P, s.n = c->o, s.k = CKK;
    s.ldb = CKK;
    ptr_expr(G, &bexpr, n->in[1]);
    sb_appendf(&head, "(i) / %lld, (j), (i) %% %lld", P, P); /* (n, o, p) */
  } else if (n->op == IR_OP_CONV2D_GRAD_INPUT) {
    /* segment s = tap (s / KW, s % KW); dy's row hn = h + PT - i DH must be
     * a multiple of SH below OH SH (likewise along w) */
    strbuf hn = {0}, wn = {0};
    sb_appendf(&hn, "((i) %% %lld / %lld + %d - (s) / %lld * %d)", HW, W, c->win.pt, KW, dh);
    sb_appendf(&wn, "((i) %% %lld + %d - (s) %% %lld * %d)", W, c->win.pl, KW, dw);
    sb_append(&rowlive, "(");
    range_test(&rowlive, sb_str(&hn), c->oh * sh, true);
    sb_append(&rowlive, " && ");
    range_test(&rowlive, sb_str(&wn), c->ow * sw, true);
    if (sh > 1) sb_appendf(&rowlive, " && %s %% %d == 0", sb_str(&hn), sh);
    if (sw > 1) sb_appendf(&rowlive, " && %s %% %d == 0", sb_str(&wn), sw);
    sb_append(&rowlive, ")");
    /* r0 = dy's row 0 where the tap reads nothing, so the load stays in
     * range (the row is not live: its products are dropped) */
    ptr_expr(G, &rowptr, n->in[0]);
    sb_appendf(&rowptr, " + (%s ? (i) / %lld * %lld + %s / %d * %lld + %s / %d : 0)",
               sb_str(&rowlive), HW, OP, sb_str(&hn), sh, OW, sb_str(&wn), sw);
    sb_appendf(&koff, "(k) * %lld", P);
    sb_append(&gat, "(r0)[ko]");
    sb_free(&hn);
    sb_free(&wn);
    s.m = c->n * HW, s.n = c->c, s.k = c->o, s.kseg = KK;
    s.ldb = c->o, s.b_seg_stride = c->c * c->o; /* wt [KK, C, O]: tap t's [C, O] */
    ptr_expr(G, &bexpr, n->in[2]);
    sb_appendf(&head, "(i) / %lld, (j), (i) %% %lld", HW, HW); /* (n, c, q) */
  } else {
    ptr_expr(G, &rowptr, n->in[0]);
    sb_appendf(&rowptr,
               " + ((s) * %lld + (i) / %lld * %lld + (i) %% %lld / %lld * %lld + (i) %% %lld * %d)",
               CHW, KK, HW, KK, KW, dh * W, KW, dw);
    sb_appendf(&koff, "(k) / %lld * %lld + (k) %% %lld * %d", OW, sh * W, OW, sw);
    sb_append(&gat, "(r0)[ko]");
    s.m = CKK, s.n = c->o, s.k = P, s.kseg = c->n;
    s.ldb = P, s.b_seg_stride = OP; /* dy_n [O, P] */
    ptr_expr(G, &bexpr, n->in[1]);
    sb_append(&head, "0, (j), (i)"); /* (0, o, k) */
  }
  /* <name>_st(gemm_b, i, j, v): the epilogue, or the plain store, on the
   * im2col form's coordinates; defined before the instance, #undef'd after */
  if (epilogue) {
    sb_append(&body, epilogue);
  } else {
    strbuf idx = {0};
    if (n->op == IR_OP_CONV2D_GRAD_WEIGHT)
      sb_appendf(&idx, "(i) * %lld + (j)", CKK);
    else
      sb_appendf(&idx, "gemm_b * %lld + (i) * %lld + (j)", n->op == IR_OP_CONV2D ? OP : CHW,
                 n->op == IR_OP_CONV2D ? P : HW);
    cg_access(G, &body, id, sb_str(&idx));
    sb_append(&body, " = (v)");
    sb_free(&idx);
  }
  sb_appendf(&head_st, "%s_st(gemm_b, i, j, v)", L->name);
  sb_define_statement(text, sb_str(&head_st), sb_str(&body));
  sb_appendf(&store, "%s_st(%s, (v))", L->name, sb_str(&head));
  s.a_gather = sb_str(&gat);
  s.a_row = sb_str(&rowptr);
  s.a_rowlive = rowlive.len ? sb_str(&rowlive) : NULL;
  s.a_koff = sb_str(&koff);
  s.b_expr = sb_str(&bexpr);
  s.store = sb_str(&store);
  gc_status st = (gat.oom || rowptr.oom || rowlive.oom || koff.oom || bexpr.oom || store.oom ||
                  head.oom || head_st.oom || body.oom)
                     ? gc_fail(GC_ERR_NOMEM, "codegen: out of memory")
                     : emit_instance(G, &s, L, text);
  sb_appendf(text, "#undef %s_st\n", L->name);
  if (!st && text->oom) st = gc_fail(GC_ERR_NOMEM, "codegen: out of memory");
  sb_free(&gat);
  sb_free(&rowptr);
  sb_free(&rowlive);
  sb_free(&koff);
  sb_free(&bexpr);
  sb_free(&store);
  sb_free(&head);
  sb_free(&head_st);
  sb_free(&body);
  return st;
}

gc_status cl_emit_conv_gemm(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *text,
                            const char *epilogue, const char *epilogue8) {
  const ir_graph *g = G->g;
  nn_conv c;
  if (n->op == IR_OP_CONV2D)
    c = nn_conv_of(g->nodes[n->in[0]].shape, g->nodes[n->in[1]].shape, n->attr.win);
  else if (n->op == IR_OP_CONV2D_GRAD_INPUT)
    c = nn_conv_of(n->shape, g->nodes[n->in[1]].shape, n->attr.win);
  else
    c = nn_conv_of(g->nodes[n->in[0]].shape, n->shape, n->attr.win);
  if (im2row_applies(n, &c)) return emit_im2row(G, n, id, L, text, epilogue, &c);
  const long long KK = c.kh * c.kw, HW = c.h * c.w, P = c.oh * c.ow, CHW = c.c * HW;
  const long long CKK = c.c * KK, KW = c.kw, W = c.w, OW = c.ow;
  const int sh = c.win.sh, sw = c.win.sw, dh = c.win.dh, dw = c.win.dw;
  const int pt = c.win.pt, pl = c.win.pl;
  const bool pad_h = c.win.pt || c.win.pb, pad_w = c.win.pl || c.win.pr;
  strbuf gat = {0}, store = {0}, aexpr = {0}, col0 = {0}, col1 = {0}, idx = {0}, cptr = {0};
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
  /* float8 strips (N < 16): 8 rows keep 8 FMA chains in flight */
  if (s.n < 16 && s.m >= 8) s.mr = 8;
  s.a_expr = sb_str(&aexpr);
  s.b_gather = sb_str(&gat);
  s.b_col0 = col0.len ? sb_str(&col0) : NULL;
  s.b_col1 = col1.len ? sb_str(&col1) : NULL;
  s.store = sb_str(&store);
  s.c_ptr = epilogue ? NULL : sb_str(&cptr);
  s.store8 = epilogue ? epilogue8 : NULL;
  gc_status st = (gat.oom || store.oom || aexpr.oom || col0.oom || col1.oom || idx.oom || cptr.oom)
                     ? gc_fail(GC_ERR_NOMEM, "codegen: out of memory")
                     : emit_instance(G, &s, L, text);
  if (!st && text->oom) st = gc_fail(GC_ERR_NOMEM, "codegen: out of memory");
  sb_free(&gat);
  sb_free(&store);
  sb_free(&aexpr);
  sb_free(&col0);
  sb_free(&col1);
  sb_free(&idx);
  sb_free(&cptr);
  return st;
}
