/* cl_nn_ops.c — OpenCL kernels of the neural-network ops: conv2d and its
 * input and weight gradients as direct register-tiled kernels, pooling,
 * its gradients and max-pooling indices (all over 2 or 3 spatial axes),
 * bilinear resize and its adjoint, counter-based random numbers. Every
 * shape, stride and offset is a compile-time constant. 2-D convolutions
 * with groups == 1 take the implicit-GEMM kernels of cl_conv.c instead
 * (3-16x faster); the direct ones here serve grouped and 3-D convolutions
 * and GRAPHC_CONV_DIRECT=1.
 *
 * The conv kernels follow /work/shared/POCL_NOTES.md: one work-item
 * computes a register tile (a few channels x a vector of consecutive
 * output columns) with explicit floatV accumulators and fma(), local size
 * 1, no local memory, no barriers; the NDRange is a 2-D walk with every
 * dimension below 65535. The last tile along a dimension is shifted back
 * to end at its edge (every lane does real work) and stores only what no
 * other tile owns. Gradients use the gather form (each output element sums
 * what reaches it), as the reference does, so no atomics are needed. */
#include <string.h>

#include "backends/opencl/cl_nn.h"
#include "ir/nn_geom.h"

/* "#define NAME(i) <node's element i>" */
static void def(cg_ctx *G, strbuf *b, const char *name, int32_t node) {
  sb_appendf(b, "#define %s(i) ", name);
  cg_access(G, b, node, "i");
  sb_append(b, "\n");
}

/* The statement macro YS(o_, p_, z_, h_, w_, v) through which the direct
 * conv and pooling kernels store every element of node id's result:
 * element o_, at (z_,) h_, w_ of plane p_ = n C + c, gets v. It is the
 * fused epilogue (epilogue: its text, on those arguments; cl_codegen.c),
 * or a plain store through Y(i) (NULL). With an epilogue the root itself
 * is stored only if the epilogue stores it, so Y is not defined. */
static void define_store(cg_ctx *G, strbuf *b, int32_t id, const char *epilogue) {
  if (!epilogue) def(G, b, "Y", id);
  sb_define_statement(b, "YS(o_, p_, z_, h_, w_, v)", epilogue ? epilogue : "Y(o_) = (v)");
}

/* A 2-D walk over items work-items of local size 1 (dimension 0 below
 * 32768); the kernel linearizes id = x + y * global[0]. */
static void geometry_2d(cl_launch *L, int64_t items) {
  const int64_t rows = (items + 32767) / 32768;
  L->work_dim = 2;
  L->global[0] = (size_t)((items + rows - 1) / rows);
  L->global[1] = (size_t)rows;
  L->local[0] = L->local[1] = 1;
}

static const char *lin_id =
    "  const int id = (int)(get_global_id(0) + get_global_id(1) * get_global_size(0));\n";

/* Vector width for a row of len columns: the widest of 16, 8, 4 that
 * wastes at most a fifth of the lanes to the shifted last tile; 2 or 1
 * for rows shorter than 4. */
static int pick_width(int64_t len) {
  if (len < 2) return 1;
  if (len < 4) return 2;
  const int ws[3] = {16, 8, 4};
  for (int k = 0; k < 3; k++) {
    int64_t tiles = (len + ws[k] - 1) / ws[k];
    if (ws[k] <= len && len * 5 >= tiles * ws[k] * 4) return ws[k];
  }
  return 4;
}

static void vec_type(char *buf, int v) {
  if (v == 1)
    strcpy(buf, "float");
  else
    snprintf(buf, 16, "float%d", v);
}

/* Loads lane array t[V] into a vector VT named dst. */
static void vec_from(strbuf *b, int v, const char *dst, const char *arr) {
  if (v == 1)
    sb_appendf(b, "%s = %s[0];", dst, arr);
  else
    sb_appendf(b, "%s = vload%d(0, %s);", dst, v, arr);
}

/* The geometry as compile-time constants. The depth axis (D, OD, KD, SD,
 * DD, PF: size, output size, kernel, stride, dilation, front padding) is
 * 1, 1, 1, 1, 1, 0 for 2-D images, so the depth loops and index terms of
 * the kernels below fold away there and one kernel text serves 2-D and
 * 3-D (the variables oz, iz: output and input depth position). */
#define GEOM_DEFINES(c)                                                                   \
  "#define N %lld\n#define C %lld\n#define H %lld\n#define W %lld\n#define O %lld\n"      \
  "#define OH %lld\n#define OW %lld\n#define KH %lld\n#define KW %lld\n#define GR %lld\n" \
  "#define CG %lld\n#define OG %lld\n#define SH %d\n#define SW %d\n#define DH %d\n"       \
  "#define DW %d\n#define PT %d\n#define PL %d\n#define D %lld\n#define OD %lld\n"        \
  "#define KD %lld\n#define SD %d\n#define DD %d\n#define PF %d\n"
#define GEOM_ARGS(c)                                                                              \
  (long long)(c).n, (long long)(c).c, (long long)(c).h, (long long)(c).w, (long long)(c).o,       \
      (long long)(c).oh, (long long)(c).ow, (long long)(c).kh, (long long)(c).kw,                 \
      (long long)(c).g, (long long)(c).cg, (long long)(c).og, (c).win.sh, (c).win.sw, (c).win.dh, \
      (c).win.dw, (c).win.pt, (c).win.pl, (long long)(c).d, (long long)(c).od, (long long)(c).kd, \
      (c).win.sd, (c).win.dd, (c).win.pd0
static const char *geom_undefs =
    "#undef N\n#undef C\n#undef H\n#undef W\n#undef O\n#undef OH\n#undef OW\n#undef KH\n"
    "#undef KW\n#undef GR\n#undef CG\n#undef OG\n#undef SH\n#undef SW\n#undef DH\n#undef DW\n"
    "#undef PT\n#undef PL\n#undef D\n#undef OD\n#undef KD\n#undef SD\n#undef DD\n#undef PF\n";

/* y[n, o, oz, oh, ow0 .. ow0+V) for OB output channels of one group. */
void cl_emit_conv2d(cg_ctx *G, const ir_node *n, int32_t id, const char *epilogue, cl_launch *L,
                    strbuf *b) {
  const ir_graph *g = G->g;
  nn_conv c = nn_conv_of(g->nodes[n->in[0]].shape, g->nodes[n->in[1]].shape, n->attr.win);
  const int v = pick_width(c.ow);
  const int ob = c.og < 8 ? (int)c.og : 8;
  const int64_t owt = (c.ow + v - 1) / v, obt = (c.og + ob - 1) / ob;
  const int64_t items = c.n * c.g * obt * c.od * c.oh * owt;
  char vt[16];
  vec_type(vt, v);
  def(G, b, "X", n->in[0]);
  def(G, b, "WT", n->in[1]);
  define_store(G, b, id, epilogue);
  sb_appendf(b, GEOM_DEFINES(c), GEOM_ARGS(c));
  sb_appendf(b, "#define V %d\n#define OB %d\n#define VT %s\n", v, ob, vt);
  sb_append(b, lin_id);
  sb_appendf(b,
             "  if (id >= %lld) return;\n"
             "  int t = id;\n"
             "  const int owb = t %% %lld; t /= %lld;\n"
             "  const int oh = t %% OH; t /= OH;\n"
             "  const int oz = t %% OD; t /= OD;\n"
             "  const int obb = t %% %lld; t /= %lld;\n"
             "  const int grp = t %% GR; const int n = t / GR;\n",
             (long long)items, (long long)owt, (long long)owt, (long long)obt, (long long)obt);
  sb_append(b,
            "  const int ow_own = owb * V, ow0 = min(ow_own, OW - V);\n"
            "  const int oc_own = obb * OB, oc0 = min(oc_own, OG - OB);\n"
            "  VT acc[OB];\n"
            "#pragma unroll\n"
            "  for (int r = 0; r < OB; r++) acc[r] = (VT)(0.0f);\n"
            "  for (int ci = 0; ci < CG; ci++) {\n"
            "    const int xc = (n * C + grp * CG + ci) * D * H * W;\n"
            "    const int wc = ((grp * OG + oc0) * CG + ci) * KD * KH * KW;\n"
            "    for (int a = 0; a < KD; a++) {\n"
            "    const int iz = oz * SD + a * DD - PF;\n"
            "    if (iz < 0 || iz >= D) continue;\n"
            "    for (int i = 0; i < KH; i++) {\n"
            "      const int ih = oh * SH + i * DH - PT;\n"
            "      if (ih < 0 || ih >= H) continue;\n"
            "      const int xr = xc + (iz * H + ih) * W;\n"
            "      const int wr = wc + (a * KH + i) * KW;\n"
            "      for (int j = 0; j < KW; j++) {\n"
            "        float xa[V];\n"
            "#pragma unroll\n"
            "        for (int q = 0; q < V; q++) {\n"
            "          const int iw = (ow0 + q) * SW + j * DW - PL;\n"
            "          xa[q] = (iw >= 0 && iw < W) ? X(xr + iw) : 0.0f;\n"
            "        }\n"
            "        VT xv; ");
  vec_from(b, v, "xv", "xa");
  sb_append(b,
            "\n"
            "#pragma unroll\n"
            "        for (int r = 0; r < OB; r++)\n"
            "          acc[r] = fma((VT)(WT(wr + r * CG * KD * KH * KW + j)), xv, acc[r]);\n"
            "      }\n"
            "    }\n"
            "    }\n"
            "  }\n"
            "#pragma unroll\n"
            "  for (int r = 0; r < OB; r++) {\n"
            "    if (oc0 + r < oc_own) continue;\n"
            "    float out[V];\n");
  if (v == 1)
    sb_append(b, "    out[0] = acc[r];\n");
  else
    sb_appendf(b, "    vstore%d(acc[r], 0, out);\n", v);
  sb_append(b,
            "    const int yo = (((n * O + grp * OG + oc0 + r) * OD + oz) * OH + oh) * OW;\n"
            "#pragma unroll\n"
            "    for (int q = 0; q < V; q++)\n"
            "      if (ow0 + q >= ow_own)\n"
            "        YS(yo + ow0 + q, n * O + grp * OG + oc0 + r, oz, oh, ow0 + q, out[q]);\n"
            "  }\n");
  sb_append(b, geom_undefs);
  sb_append(b, "#undef V\n#undef OB\n#undef VT\n#undef X\n#undef WT\n#undef Y\n#undef YS\n");
  geometry_2d(L, items);
}

/* dx[n, c, iz, ih, iw0 .. iw0+V) for CB input channels of one group: sums
 * dy[n, o, oz, oh, ow] w[o, c, a, i, j] over the taps with
 * oz SD + a DD - PF = iz, oh SH + i DH - PT = ih and ow SW + j DW - PL = iw. */
void cl_emit_conv2d_grad_input(cg_ctx *G, const ir_node *n, int32_t id, const char *epilogue,
                               cl_launch *L, strbuf *b) {
  const ir_graph *g = G->g;
  nn_conv c = nn_conv_of(n->shape, g->nodes[n->in[1]].shape, n->attr.win);
  const int v = pick_width(c.w);
  const int cb = c.cg < 8 ? (int)c.cg : 8;
  const int64_t iwt = (c.w + v - 1) / v, cbt = (c.cg + cb - 1) / cb;
  const int64_t items = c.n * c.g * cbt * c.d * c.h * iwt;
  char vt[16];
  vec_type(vt, v);
  def(G, b, "DY", n->in[0]);
  def(G, b, "WT", n->in[1]);
  define_store(G, b, id, epilogue);
  sb_appendf(b, GEOM_DEFINES(c), GEOM_ARGS(c));
  sb_appendf(b, "#define V %d\n#define CB %d\n#define VT %s\n", v, cb, vt);
  sb_append(b, lin_id);
  sb_appendf(b,
             "  if (id >= %lld) return;\n"
             "  int t = id;\n"
             "  const int iwb = t %% %lld; t /= %lld;\n"
             "  const int ih = t %% H; t /= H;\n"
             "  const int iz = t %% D; t /= D;\n"
             "  const int cbb = t %% %lld; t /= %lld;\n"
             "  const int grp = t %% GR; const int n = t / GR;\n",
             (long long)items, (long long)iwt, (long long)iwt, (long long)cbt, (long long)cbt);
  sb_append(b,
            "  const int iw_own = iwb * V, iw0 = min(iw_own, W - V);\n"
            "  const int c_own = cbb * CB, c0 = min(c_own, CG - CB);\n"
            "  VT acc[CB];\n"
            "#pragma unroll\n"
            "  for (int r = 0; r < CB; r++) acc[r] = (VT)(0.0f);\n"
            "  for (int a = 0; a < KD; a++) {\n"
            "  const int zn = iz + PF - a * DD;\n"
            "  if (zn < 0 || zn % SD) continue;\n"
            "  const int oz = zn / SD;\n"
            "  if (oz >= OD) continue;\n"
            "  for (int i = 0; i < KH; i++) {\n"
            "    const int hn = ih + PT - i * DH;\n"
            "    if (hn < 0 || hn % SH) continue;\n"
            "    const int oh = hn / SH;\n"
            "    if (oh >= OH) continue;\n"
            "    for (int j = 0; j < KW; j++) {\n"
            "      int owq[V]; bool okq[V]; bool any = false;\n"
            "#pragma unroll\n"
            "      for (int q = 0; q < V; q++) {\n"
            "        const int wn = iw0 + q + PL - j * DW;\n"
            "        owq[q] = wn / SW;\n"
            "        okq[q] = wn >= 0 && wn % SW == 0 && wn / SW < OW;\n"
            "        any |= okq[q];\n"
            "      }\n"
            "      if (!any) continue;\n"
            "      for (int o = 0; o < OG; o++) {\n"
            "        const int dyo = (((n * O + grp * OG + o) * OD + oz) * OH + oh) * OW;\n"
            "        float da[V];\n"
            "#pragma unroll\n"
            "        for (int q = 0; q < V; q++) da[q] = okq[q] ? DY(dyo + owq[q]) : 0.0f;\n"
            "        VT dv; ");
  vec_from(b, v, "dv", "da");
  sb_append(
      b,
      "\n"
      "        const int wo = ((grp * OG + o) * CG + c0) * KD * KH * KW + (a * KH + i) * KW + j;\n"
      "#pragma unroll\n"
      "        for (int r = 0; r < CB; r++)\n"
      "          acc[r] = fma((VT)(WT(wo + r * KD * KH * KW)), dv, acc[r]);\n"
      "      }\n"
      "    }\n"
      "  }\n"
      "  }\n"
      "#pragma unroll\n"
      "  for (int r = 0; r < CB; r++) {\n"
      "    if (c0 + r < c_own) continue;\n"
      "    float out[V];\n");
  if (v == 1)
    sb_append(b, "    out[0] = acc[r];\n");
  else
    sb_appendf(b, "    vstore%d(acc[r], 0, out);\n", v);
  sb_append(b,
            "    const int xo = (((n * C + grp * CG + c0 + r) * D + iz) * H + ih) * W;\n"
            "#pragma unroll\n"
            "    for (int q = 0; q < V; q++)\n"
            "      if (iw0 + q >= iw_own)\n"
            "        YS(xo + iw0 + q, n * C + grp * CG + c0 + r, iz, ih, iw0 + q, out[q]);\n"
            "  }\n");
  sb_append(b, geom_undefs);
  sb_append(b, "#undef V\n#undef CB\n#undef VT\n#undef DY\n#undef WT\n#undef Y\n#undef YS\n");
  geometry_2d(L, items);
}

/* dw[o0 .. o0+OB, ci, a, i, 0 .. KW): vector lanes run along ow (V output
 * columns per step), reduced across lanes at the end. */
void cl_emit_conv2d_grad_weight(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *b) {
  const ir_graph *g = G->g;
  nn_conv c = nn_conv_of(g->nodes[n->in[0]].shape, n->shape, n->attr.win);
  const int v = c.ow >= 16 ? 16 : c.ow >= 8 ? 8 : c.ow >= 4 ? 4 : 1;
  const int ob = c.og < 8 ? (int)c.og : 8;
  const int64_t obt = (c.og + ob - 1) / ob;
  const int64_t items = c.g * obt * c.cg * c.kd * c.kh;
  const int64_t owt = (c.ow + v - 1) / v;
  char vt[16];
  vec_type(vt, v);
  def(G, b, "X", n->in[0]);
  def(G, b, "DY", n->in[1]);
  def(G, b, "DWT", id);
  sb_appendf(b, GEOM_DEFINES(c), GEOM_ARGS(c));
  sb_appendf(b, "#define V %d\n#define OB %d\n#define VT %s\n", v, ob, vt);
  sb_append(b, lin_id);
  sb_appendf(b,
             "  if (id >= %lld) return;\n"
             "  int t = id;\n"
             "  const int i = t %% KH; t /= KH;\n"
             "  const int a = t %% KD; t /= KD;\n"
             "  const int ci = t %% CG; t /= CG;\n"
             "  const int obb = t %% %lld; const int grp = t / %lld;\n",
             (long long)items, (long long)obt, (long long)obt);
  sb_appendf(
      b,
      "  const int oc_own = obb * OB, oc0 = min(oc_own, OG - OB);\n"
      "  VT acc[OB][KW];\n"
      "#pragma unroll\n"
      "  for (int r = 0; r < OB; r++)\n"
      "#pragma unroll\n"
      "    for (int j = 0; j < KW; j++) acc[r][j] = (VT)(0.0f);\n"
      "  for (int n = 0; n < N; n++) {\n"
      "  for (int oz = 0; oz < OD; oz++) {\n"
      "    const int iz = oz * SD + a * DD - PF;\n"
      "    if (iz < 0 || iz >= D) continue;\n"
      "    const int xc = ((n * C + grp * CG + ci) * D + iz) * H * W;\n"
      "    const int dyo = ((n * O + grp * OG + oc0) * OD + oz) * OH * OW;\n"
      "    for (int oh = 0; oh < OH; oh++) {\n"
      "      const int ih = oh * SH + i * DH - PT;\n"
      "      if (ih < 0 || ih >= H) continue;\n"
      "      for (int owb = 0; owb < %lld; owb++) {\n"
      "        const int ow0 = owb * V;\n"
      "        VT dv[OB];\n"
      "#pragma unroll\n"
      "        for (int r = 0; r < OB; r++) {\n"
      "          float da[V];\n"
      "#pragma unroll\n"
      "          for (int q = 0; q < V; q++)\n"
      "            da[q] = ow0 + q < OW ? DY(dyo + r * OD * OH * OW + oh * OW + ow0 + q) : 0.0f;\n"
      "          ",
      (long long)owt);
  vec_from(b, v, "dv[r]", "da");
  sb_append(
      b,
      "\n"
      "        }\n"
      "#pragma unroll\n"
      "        for (int j = 0; j < KW; j++) {\n"
      "          float xa[V];\n"
      "#pragma unroll\n"
      "          for (int q = 0; q < V; q++) {\n"
      "            const int iw = (ow0 + q) * SW + j * DW - PL;\n"
      "            xa[q] = (ow0 + q < OW && iw >= 0 && iw < W) ? X(xc + ih * W + iw) : 0.0f;\n"
      "          }\n"
      "          VT xv; ");
  vec_from(b, v, "xv", "xa");
  sb_append(b,
            "\n"
            "#pragma unroll\n"
            "          for (int r = 0; r < OB; r++) acc[r][j] = fma(dv[r], xv, acc[r][j]);\n"
            "        }\n"
            "      }\n"
            "    }\n"
            "  }\n"
            "  }\n"
            "#pragma unroll\n"
            "  for (int r = 0; r < OB; r++) {\n"
            "    if (oc0 + r < oc_own) continue;\n"
            "#pragma unroll\n"
            "    for (int j = 0; j < KW; j++) {\n"
            "      float l[V];\n");
  if (v == 1)
    sb_append(b, "      l[0] = acc[r][j];\n");
  else
    sb_appendf(b, "      vstore%d(acc[r][j], 0, l);\n", v);
  sb_append(b,
            "      float s = 0.0f;\n"
            "#pragma unroll\n"
            "      for (int q = 0; q < V; q++) s += l[q];\n"
            "      DWT((((grp * OG + oc0 + r) * CG + ci) * KD + a) * KH * KW + i * KW + j) = s;\n"
            "    }\n"
            "  }\n");
  sb_append(b, geom_undefs);
  sb_append(b, "#undef V\n#undef OB\n#undef VT\n#undef X\n#undef DY\n#undef DWT\n");
  geometry_2d(L, items);
}

/* Declares plane p and spatial indices z, h, w (extents dz, dh, dw) of the
 * element o a work-item computes, and opens its block (closed with "  }").
 * On a CPU device a work-item walks a whole row of w instead, dividing
 * once per row: per element, the division chain cost more than a 2x2
 * window (PoCL). Returns the number of work-items. */
static int64_t pool_items(const cg_ctx *G, strbuf *b, int64_t planes, const char *z, const char *h,
                          const char *w, int64_t dz, int64_t dh, int64_t dw) {
  const int64_t rows = planes * dz * dh;
  if (G->cpu) {
    sb_appendf(b,
               "  const int gid = get_global_id(0);\n  if (gid >= %lld) return;\n"
               "  const int %s = gid %% %lld, %s = (gid / %lld) %% %lld, p = gid / %lld;\n"
               "  for (int %s = 0; %s < %lld; %s++) {\n  const int o = gid * %lld + %s;\n",
               (long long)rows, h, (long long)dh, z, (long long)dh, (long long)dz,
               (long long)(dh * dz), w, w, (long long)dw, w, (long long)dw, w);
    return rows;
  }
  sb_appendf(b,
             "  const int gid = get_global_id(0);\n  if (gid >= %lld) return;\n"
             "  const int %s = gid %% %lld, %s = (gid / %lld) %% %lld;\n"
             "  const int %s = (gid / %lld) %% %lld, p = gid / %lld;\n  {\n  const int o = gid;\n",
             (long long)(rows * dw), w, (long long)dw, h, (long long)dw, (long long)dh, z,
             (long long)(dw * dh), (long long)dz, (long long)(dw * dh * dz));
  return rows * dw;
}

/* Is tap k of every window along an axis inside the input: positions
 * o S + k Dl - P for o < O within [0, extent)? */
static bool tap_inside(int64_t k, int s, int dl, int pad, int64_t o, int64_t extent) {
  return k * dl - pad >= 0 && (o - 1) * s + k * dl - pad < extent;
}

/* m, the first maximum (row-major order) of window (oz, oh, ow) of plane p,
 * NaN winning as in ref_nn.c's window_argmax, and with index its position
 * best = (zz H + hh) W + ww (-1 for a window all padding). The taps are
 * unrolled, with bounds tests only where padding, dilation or ceil mode
 * can put a tap outside: PoCL keeps the loops over a 2x2 window rolled,
 * and the max pool then ran at a quarter of this speed. */
static void emit_window_max(strbuf *b, const nn_conv *c, bool index) {
  const ir_window *v = &c->win;
  if (index) sb_append(b, "      int best = -1;\n");
  sb_append(b, "      float m = -INFINITY;\n");
  if (c->kd * c->kh * c->kw > 64) { /* large windows: loops */
    sb_append(b,
              "      for (int u = 0; u < KD; u++) {\n"
              "        const int zz = oz * SD + u * DD - PF;\n"
              "        if (zz < 0 || zz >= D) continue;\n"
              "      for (int a = 0; a < KH; a++) {\n"
              "        const int hh = oh * SH + a * DH - PT;\n"
              "        if (hh < 0 || hh >= H) continue;\n"
              "        for (int e = 0; e < KW; e++) {\n"
              "          const int ww = ow * SW + e * DW - PL;\n"
              "          if (ww < 0 || ww >= W) continue;\n"
              "          const int at = (zz * H + hh) * W + ww;\n"
              "          const float xv = X(p * D * H * W + at);\n");
    sb_append(b, index ? "          if (best < 0 || xv > m || (isnan(xv) && !isnan(m))) "
                         "{ m = xv; best = at; }\n"
                       : "          m = (xv > m || isnan(xv)) ? xv : m;\n");
    sb_append(b, "        }\n      }\n      }\n");
    return;
  }
  bool some = false; /* an earlier tap is always inside */
  for (int64_t u = 0; u < c->kd; u++)
    for (int64_t a = 0; a < c->kh; a++)
      for (int64_t e = 0; e < c->kw; e++) {
        bool zin = tap_inside(u, v->sd, v->dd, v->pd0, c->od, c->d);
        bool hin = tap_inside(a, v->sh, v->dh, v->pt, c->oh, c->h);
        bool win = tap_inside(e, v->sw, v->dw, v->pl, c->ow, c->w);
        sb_appendf(
            b,
            "      { const int zz = oz * SD + %lld * DD - PF, hh = oh * SH + %lld * DH - PT, "
            "ww = ow * SW + %lld * DW - PL;\n",
            (long long)u, (long long)a, (long long)e);
        if (!(zin && hin && win))
          sb_appendf(b, "        if (%s && %s && %s)\n", zin ? "1" : "zz >= 0 && zz < D",
                     hin ? "1" : "hh >= 0 && hh < H", win ? "1" : "ww >= 0 && ww < W");
        sb_append(b,
                  "        { const int at = (zz * H + hh) * W + ww; "
                  "const float xv = X(p * D * H * W + at);\n          ");
        if (index && u + a + e == 0 && zin && hin && win) /* first, always inside */
          sb_append(b, "m = xv; best = at;");
        else if (index)
          sb_appendf(b, "if (%sxv > m || (isnan(xv) && !isnan(m))) { m = xv; best = at; }",
                     some ? "" : "best < 0 || ");
        else
          sb_append(b, "m = (xv > m || isnan(xv)) ? xv : m;");
        sb_append(b, " }\n      }\n");
        some |= zin && hin && win;
      }
}

/* Can max pooling, its indices (row-major: idx_mode 0) or its gradient
 * take the vector kernel of emit_maxpool2x2_rows: a CPU device, 2-D 2x2
 * windows of stride 2, no padding or dilation, every window whole, rows of
 * at least 4 outputs? */
static bool maxpool2x2_vector(const cg_ctx *G, const ir_node *n, const nn_conv *c, int idx_mode) {
  const ir_window *v = &c->win;
  return G->cpu && n->op != IR_OP_AVGPOOL2D && n->op != IR_OP_AVGPOOL2D_GRAD && idx_mode == 0 &&
         c->d == 1 && c->kd == 1 && c->kh == 2 && c->kw == 2 && v->sh == 2 && v->sw == 2 &&
         v->dh == 1 && v->dw == 1 && !v->pt && !v->pl && !v->pb && !v->pr && c->oh * 2 <= c->h &&
         c->ow * 2 <= c->w && c->ow >= 4;
}

/* The usual 2x2 max pool, V = 8 (or 4, for rows of 4 to 7) windows at a
 * time: a work-item takes a row of windows (forward) or of 2x2 cells
 * (gradient). The forward loads the two input rows under V windows as
 * vectors of 2V (the even and odd lanes are the windows' columns) and
 * selects with vector compares, without branches: the scalar form's
 * data-dependent branches (which tap is the maximum) mispredicted about
 * half the time. It stores the maxima (value) and/or their flat indices
 * IDX (index), the first maximum in row-major order, NaN winning, as
 * window_argmax (ref_nn.c) finds it. The gradient loads V indices (and
 * V pooled values y, masked: dy times step(y)), compares each index with
 * its window's four cells and stores the two rows of
 * cells as vectors of 2V: dy at the maximum, zeros elsewhere (and zeros in
 * the cells past the last window, an odd row or column). The last V
 * windows of a row are shifted back to end at its edge: a plain store
 * writes their overlap with the vector before twice, with the same
 * values; an epilogue (run per element, on the lanes stored to private
 * memory) stores only the lanes no earlier vector stored, so every element
 * is stored once (the other vectors' lane loops have a constant trip
 * count, which LLVM vectorizes: about 1.15x on the CNN's pooling
 * gradients). */
static int64_t emit_maxpool2x2_rows(strbuf *b, const nn_conv *c, bool grad, bool epilogue,
                                    bool value, bool index, bool masked) {
  const int v = c->ow >= 8 ? 8 : 4;
  const int64_t per_plane = grad ? (c->h + 1) / 2 : c->oh, rows = c->n * c->c * per_plane;
  sb_appendf(b,
             "#define VW %d\n#define VF float%d\n#define VF2 float%d\n#define VI int%d\n"
             "#define VLOAD vload%d\n#define VLOAD2 vload%d\n#define VSTORE vstore%d\n"
             "#define VSTORE2 vstore%d\n#define LANES (VI)(%s)\n",
             v, v, 2 * v, v, v, 2 * v, v, 2 * v, v == 8 ? "0, 1, 2, 3, 4, 5, 6, 7" : "0, 1, 2, 3");
  sb_appendf(b,
             "  const int gid = get_global_id(0);\n  if (gid >= %lld) return;\n"
             "  const int oh = gid %% %lld, p = gid / %lld;\n",
             (long long)rows, (long long)per_plane, (long long)per_plane);
  if (grad && !epilogue)
    sb_append(b, "  __global float *y0 = &Y(p * H * W + 2 * oh * W), *y1 = y0 + W;\n");
  if (grad) {
    sb_append(b,
              "  const int o0 = p * H * W + 2 * oh * W, o1 = o0 + W;\n"
              "  if (oh >= OH) { /* the odd last row: no window */\n"
              "    for (int w = 0; w < W; w++) YS(o0 + w, p, 0, 2 * oh, w, 0.0f);\n"
              "    return;\n"
              "  }\n"
              "  for (int cv = 0; cv < OW; cv += VW) {\n"
              "    const int ow = min(cv, OW - VW);\n"
              "    /* each window's maximum relative to its top left cell */\n"
              "    const VI s = VLOAD(0, &IDX((p * OH + oh) * OW + ow)) - o0 - 2 * ((VI)(ow) + "
              "LANES);\n");
    sb_append(b, "    const VF z = (VF)(0.0f), d = VLOAD(0, &DYV((p * OH + oh) * OW + ow))");
    if (masked) /* times step(y) */
      sb_append(b, " * select(z, (VF)(1.0f), VLOAD(0, &PY((p * OH + oh) * OW + ow)) > 0.0f)");
    sb_append(b, ";\n");
    sb_appendf(
        b,
        "    const uint%d mix = (uint%d)(%s);\n"
        "    const VF2 g0 = shuffle2(select(z, d, s == 0), select(z, d, s == 1), mix);\n"
        "    const VF2 g1 = shuffle2(select(z, d, s == W), select(z, d, s == W + 1), mix);\n",
        2 * v, 2 * v,
        v == 8 ? "0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15" : "0, 4, 1, 5, 2, 6, 3, 7");
    if (!epilogue) {
      sb_append(b, "    VSTORE2(g0, 0, y0 + 2 * ow);\n    VSTORE2(g1, 0, y1 + 2 * ow);\n  }\n");
    } else {
      sb_append(b,
                "    float ys[4 * VW];\n    VSTORE2(g0, 0, ys);\n    VSTORE2(g1, 1, ys);\n"
                "#define POOL_LANES(l0) \\\n"
                "    for (int l = l0; l < 2 * VW; l++) \\\n"
                "      YS(o0 + 2 * ow + l, p, 0, 2 * oh, 2 * ow + l, ys[l]); \\\n"
                "    for (int l = l0; l < 2 * VW; l++) \\\n"
                "      YS(o1 + 2 * ow + l, p, 0, 2 * oh + 1, 2 * ow + l, ys[2 * VW + l]);\n"
                "    if (cv == ow) { POOL_LANES(0) } else { POOL_LANES(2 * (cv - ow)) }\n"
                "#undef POOL_LANES\n  }\n");
    }
    sb_append(b,
              "  if (W % 2) { /* the odd last column */\n"
              "    YS(o0 + W - 1, p, 0, 2 * oh, W - 1, 0.0f);\n"
              "    YS(o1 + W - 1, p, 0, 2 * oh + 1, W - 1, 0.0f);\n"
              "  }\n");
  } else {
    sb_append(b,
              "  __global const float *x0 = &X(p * H * W + 2 * oh * W), *x1 = x0 + W;\n"
              "  for (int cv = 0; cv < OW; cv += VW) {\n"
              "    const int ow = min(cv, OW - VW);\n"
              "    const VF2 r0 = VLOAD2(0, x0 + 2 * ow), r1 = VLOAD2(0, x1 + 2 * ow);\n"
              "    VF m = r0.even;\n");
    if (index) /* which tap: the first maximum, the first NaN */
      sb_append(b,
                "    VI s = (VI)(0), g;\n"
                "#define POOL_TAP(v, k) g = (v > m) | (isnan(v) & (isnan(m) == 0)); "
                "m = select(m, v, g); s = select(s, (VI)(k), g);\n"
                "    POOL_TAP(r0.odd, 1) POOL_TAP(r1.even, W) POOL_TAP(r1.odd, W + 1)\n"
                "#undef POOL_TAP\n"
                "    VSTORE(s + p * H * W + 2 * oh * W + 2 * ((VI)(ow) + LANES), 0, "
                "&IDX(gid * OW + ow));\n");
    else
      sb_append(b,
                "    m = select(m, r0.odd, (r0.odd > m) | isnan(r0.odd));\n"
                "    m = select(m, r1.even, (r1.even > m) | isnan(r1.even));\n"
                "    m = select(m, r1.odd, (r1.odd > m) | isnan(r1.odd));\n");
    if (!value) {
      sb_append(b, "  }\n");
    } else if (!epilogue) {
      sb_append(b, "    VSTORE(m, 0, &Y(gid * OW + ow));\n  }\n");
    } else {
      sb_append(b,
                "    float ys[VW];\n    VSTORE(m, 0, ys);\n"
                "#define POOL_LANES(l0) for (int l = l0; l < VW; l++) "
                "YS(gid * OW + ow + l, p, 0, oh, ow + l, ys[l]);\n"
                "    if (cv == ow) { POOL_LANES(0) } else { POOL_LANES(cv - ow) }\n"
                "#undef POOL_LANES\n  }\n");
    }
  }
  sb_append(b,
            "#undef VW\n#undef VF\n#undef VF2\n#undef VI\n#undef VLOAD\n#undef VLOAD2\n"
            "#undef VSTORE\n#undef VSTORE2\n#undef LANES\n");
  return rows;
}

/* One work-item per output element (forward, indices) or per input
 * element (the gradients, gather form), or per row of them (pool_items).
 * Every element of a float result is stored through the statement macro
 * YS(o_, p_, z_, h_, w_, v): element o_, at position (z_,) h_, w_ of plane
 * p_ = n C + c, gets v; it is the fused epilogue (epilogue: its text, of
 * those arguments; cl_codegen.c) or the plain store. Max pooling also
 * stores the indices of its maxima where indices is a maxpool2d_indices
 * node of the same input and window (passes/fuse_siblings.c; -1: none). */
void cl_emit_pool2d(cg_ctx *G, const ir_node *n, int32_t id, const char *epilogue, int32_t indices,
                    cl_launch *L, strbuf *b) {
  const ir_graph *g = G->g;
  const bool grad = n->op == IR_OP_MAXPOOL2D_GRAD || n->op == IR_OP_AVGPOOL2D_GRAD;
  const bool mx = n->op == IR_OP_MAXPOOL2D || n->op == IR_OP_MAXPOOL2D_INDICES;
  /* the forward's results: the maxima or averages (value), the indices */
  const bool value = !grad && n->op != IR_OP_MAXPOOL2D_INDICES;
  const int32_t idx = n->op == IR_OP_MAXPOOL2D_INDICES ? id : indices;
  const int idx_mode = idx >= 0 ? g->nodes[idx].attr.mode : 0;
  gc_shape xs = grad ? n->shape : g->nodes[n->in[0]].shape;
  nn_conv c = nn_pool_of(xs, n->attr.win); /* c.win normalized: strides, dilations >= 1 */
  sb_appendf(b, GEOM_DEFINES(c), GEOM_ARGS(c));
  sb_appendf(b, "#define PB %d\n#define PR %d\n#define PK %d\n#define CIP %d\n", c.win.pb, c.win.pr,
             c.win.pd1, c.win.count_include_pad);
  if (mx) def(G, b, "X", n->in[0]);
  const bool masked = n->op == IR_OP_MAXPOOL2D_GRAD && n->nin == 3;
  if (n->op == IR_OP_MAXPOOL2D_GRAD) { /* (indices, dy[, y]) */
    def(G, b, "IDX", n->in[0]);
    def(G, b, "DYV", n->in[1]);
    if (masked) { /* dy times step(y) */
      def(G, b, "PY", n->in[2]);
      sb_append(b, "#define DY(i) (DYV(i) * (PY(i) > 0.0f ? 1.0f : 0.0f))\n");
    } else {
      sb_append(b, "#define DY(i) DYV(i)\n");
    }
  } else {
    def(G, b, "DY", n->in[0]);
  }
  if (idx >= 0 && !grad) def(G, b, "IDX", idx);
  if (n->op != IR_OP_MAXPOOL2D_INDICES) define_store(G, b, id, epilogue);
  /* Max pooling's gradient over windows that tile the input without
   * overlap (stride = kernel, no padding or dilation: the usual 2x2 pool)
   * needs no search: one work-item per window sends the gradient to its
   * maximum and zeros to the rest (cells past the last window, left over
   * when the size is not a multiple, get zeros) — about 4x fewer work-items
   * than one per element of x, each reading one index. */
  const bool tiles = n->op == IR_OP_MAXPOOL2D_GRAD && nn_pool_tiles(&c);
  const int64_t cells_d = (c.d + c.kd - 1) / c.kd, cells_h = (c.h + c.kh - 1) / c.kh;
  const int64_t cells_w = (c.w + c.kw - 1) / c.kw;
  const int64_t planes = c.n * c.c;
  int64_t items;
  /* Average pooling's clamped window [z0, z1) x [h0, h1) x [w0, w1) and divisor. */
  const char *avgwin =
      "      int z0 = oz * SD - PF, h0 = oh * SH - PT, w0 = ow * SW - PL;\n"
      "      int z1 = min(z0 + KD, D + PK), h1 = min(h0 + KH, H + PB), w1 = min(w0 + KW, W + PR);\n"
      "      const int padded = (z1 - z0) * (h1 - h0) * (w1 - w0);\n"
      "      z0 = max(z0, 0); h0 = max(h0, 0); w0 = max(w0, 0);\n"
      "      z1 = min(z1, D); h1 = min(h1, H); w1 = min(w1, W);\n"
      "      const float div = CIP ? (float)padded : (float)((z1 - z0) * (h1 - h0) * (w1 - w0));\n";
  if (maxpool2x2_vector(G, n, &c, idx_mode)) {
    items = emit_maxpool2x2_rows(b, &c, grad, epilogue != NULL, value, idx >= 0, masked);
  } else if (tiles) {
    items = pool_items(G, b, planes, "cz", "ch", "cw", cells_d, cells_h, cells_w);
    sb_append(b,
              "  const bool full = cz < OD && ch < OH && cw < OW;\n"
              "  const int w_ = ((p * OD + cz) * OH + ch) * OW + cw;\n"
              "  const int sel = full ? IDX(w_) - p * D * H * W : -1;\n"
              "  const float d = full ? DY(w_) : 0.0f;\n");
    /* the cell's elements, unrolled for small windows; cells past the
     * last full window along an axis whose size is not a multiple are
     * cut at its end */
    if (c.kd * c.kh * c.kw > 64) {
      sb_append(b,
                "  for (int u = 0; u < KD; u++)\n"
                "  for (int a = 0; a < KH; a++)\n"
                "  for (int e = 0; e < KW; e++) {\n"
                "    const int zz = cz * KD + u, hh = ch * KH + a, ww = cw * KW + e;\n"
                "    if (zz < D && hh < H && ww < W) {\n"
                "      const int at = (zz * H + hh) * W + ww;\n"
                "      YS(p * D * H * W + at, p, zz, hh, ww, at == sel ? d : 0.0f);\n"
                "    }\n"
                "  }\n");
    } else {
      const bool cut = cells_d * c.kd > c.d || cells_h * c.kh > c.h || cells_w * c.kw > c.w;
      for (int64_t u = 0; u < c.kd; u++)
        for (int64_t a = 0; a < c.kh; a++)
          for (int64_t e = 0; e < c.kw; e++) {
            sb_appendf(
                b, "  { const int zz = cz * KD + %lld, hh = ch * KH + %lld, ww = cw * KW + %lld;\n",
                (long long)u, (long long)a, (long long)e);
            if (cut) sb_append(b, "    if (zz < D && hh < H && ww < W)\n");
            sb_append(b,
                      "    { const int at = (zz * H + hh) * W + ww; "
                      "YS(p * D * H * W + at, p, zz, hh, ww, at == sel ? d : 0.0f); }\n  }\n");
          }
    }
    sb_append(b, "  }\n");
  } else if (!grad) {
    items = pool_items(G, b, planes, "oz", "oh", "ow", c.od, c.oh, c.ow);
    if (idx >= 0) {
      emit_window_max(b, &c, true);
      if (value) sb_append(b, "      YS(o, p, oz, oh, ow, m);\n");
      /* the flat index into x, row-major or (mode 1) with the spatial axes
       * reversed, as ref_pool2d computes it */
      if (idx_mode)
        sb_append(b,
                  "      const int bw = best % W, bh = best / W % H, bz = best / (W * H);\n"
                  "      IDX(o) = p * D * H * W + bz + D * (bh + H * bw);\n");
      else
        sb_append(b, "      IDX(o) = p * D * H * W + best;\n");
    } else if (mx) {
      emit_window_max(b, &c, false);
      sb_append(b, "      YS(o, p, oz, oh, ow, m);\n");
    } else {
      sb_append(b, avgwin);
      sb_append(b,
                "      float s = 0.0f;\n"
                "      for (int zz = z0; zz < z1; zz++)\n"
                "        for (int hh = h0; hh < h1; hh++)\n"
                "          for (int ww = w0; ww < w1; ww++)\n"
                "            s += DY(p * D * H * W + (zz * H + hh) * W + ww);\n"
                "      YS(o, p, oz, oh, ow, s / div);\n");
    }
    sb_append(b, "  }\n");
  } else {
    items = pool_items(G, b, planes, "iz", "ih", "iw", c.d, c.h, c.w);
    sb_append(b,
              "  float acc = 0.0f;\n"
              "  for (int k = 0; k < KD; k++) {\n"
              "  const int zn = iz + PF - k * DD;\n"
              "  if (zn < 0 || zn % SD || zn / SD >= OD) continue;\n"
              "  const int oz = zn / SD;\n"
              "  for (int i = 0; i < KH; i++) {\n"
              "    const int hn = ih + PT - i * DH;\n"
              "    if (hn < 0 || hn % SH || hn / SH >= OH) continue;\n"
              "    const int oh = hn / SH;\n"
              "    for (int j = 0; j < KW; j++) {\n"
              "      const int wn = iw + PL - j * DW;\n"
              "      if (wn < 0 || wn % SW || wn / SW >= OW) continue;\n"
              "      const int ow = wn / SW;\n"
              "      const float d = DY(((p * OD + oz) * OH + oh) * OW + ow);\n");
    if (n->op == IR_OP_MAXPOOL2D_GRAD) {
      sb_append(b,
                "      if (IDX(((p * OD + oz) * OH + oh) * OW + ow) == p * D * H * W + "
                "(iz * H + ih) * W + iw)\n        acc += d;\n");
    } else {
      sb_append(b, avgwin);
      sb_append(b,
                "      if (iz >= z0 && iz < z1 && ih >= h0 && ih < h1 && iw >= w0 && iw < w1)\n"
                "        acc += d / div;\n");
    }
    sb_append(b, "    }\n  }\n  }\n  YS(o, p, iz, ih, iw, acc);\n  }\n");
  }
  sb_append(b, geom_undefs);
  sb_append(b, "#undef PB\n#undef PR\n#undef PK\n#undef CIP\n#undef DY\n#undef Y\n#undef YS\n");
  if (mx) sb_append(b, "#undef X\n");
  if (idx >= 0 || n->op == IR_OP_MAXPOOL2D_GRAD) sb_append(b, "#undef IDX\n");
  if (n->op == IR_OP_MAXPOOL2D_GRAD) sb_append(b, "#undef DYV\n");
  if (masked) sb_append(b, "#undef PY\n");
  cg_geometry_1d(L, items);
}

/* The source coordinate and taps of output position o along one axis, as
 * nn_resize_src computes them (same float operations). */
static void emit_taps(strbuf *b, const char *o, const char *pre, int64_t in, int64_t out, int ac) {
  if (ac) {
    sb_appendf(b, "    const float %ss = %s ? (float)(%s) * ((float)%lld / (float)%lld) : 0.0f;\n",
               pre, out > 1 ? "1" : "0", o, (long long)(in - 1),
               (long long)(out > 1 ? out - 1 : 1));
  } else {
    sb_appendf(b,
               "    float %ss = ((float)(%s) + 0.5f) * ((float)%lld / (float)%lld) - 0.5f;\n"
               "    %ss = %ss < 0.0f ? 0.0f : %ss;\n",
               pre, o, (long long)in, (long long)out, pre, pre, pre);
  }
  sb_appendf(b,
             "    const int %s0 = min((int)%ss, %lld);\n"
             "    const int %s1 = min(%s0 + 1, %lld);\n"
             "    const float %st = %ss - (float)%s0;\n",
             pre, pre, (long long)(in - 1), pre, pre, (long long)(in - 1), pre, pre, pre);
}

void cl_emit_resize(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *b) {
  const ir_graph *g = G->g;
  const bool grad = n->op == IR_OP_RESIZE_BILINEAR_GRAD;
  gc_shape xs = grad ? n->shape : g->nodes[n->in[0]].shape;
  gc_shape ys = grad ? g->nodes[n->in[0]].shape : n->shape;
  const int64_t H = xs.dim[2], W = xs.dim[3], OH = ys.dim[2], OW = ys.dim[3];
  const int ac = n->attr.win.align_corners;
  def(G, b, "SRC", n->in[0]);
  def(G, b, "DST", id);
  const int64_t items = gc_shape_numel(grad ? xs : ys);
  sb_appendf(b, "  const int gid = get_global_id(0);\n  if (gid >= %lld) return;\n",
             (long long)items);
  if (!grad) {
    sb_appendf(b, "  const int ow = gid %% %lld, oh = (gid / %lld) %% %lld, p = gid / %lld;\n",
               (long long)OW, (long long)OW, (long long)OH, (long long)(OW * OH));
    sb_append(b, "  {\n");
    emit_taps(b, "oh", "h", H, OH, ac);
    emit_taps(b, "ow", "w", W, OW, ac);
    sb_appendf(b,
               "    const int base = p * %lld;\n"
               "    const float top = (1.0f - wt) * SRC(base + h0 * %lld + w0) + wt * SRC(base + "
               "h0 * %lld + w1);\n"
               "    const float bot = (1.0f - wt) * SRC(base + h1 * %lld + w0) + wt * SRC(base + "
               "h1 * %lld + w1);\n"
               "    DST(gid) = (1.0f - ht) * top + ht * bot;\n  }\n",
               (long long)(H * W), (long long)W, (long long)W, (long long)W, (long long)W);
  } else {
    /* outputs whose taps reach input row ih lie within ratio + 2 of
     * ih * ratio (the source coordinate is monotone in o) */
    double rh =
        ac ? (H > 1 ? (double)(OH - 1) / (double)(H - 1) : (double)OH) : (double)OH / (double)H;
    double rw =
        ac ? (W > 1 ? (double)(OW - 1) / (double)(W - 1) : (double)OW) : (double)OW / (double)W;
    int mh = (int)rh + 3, mw = (int)rw + 3;
    sb_appendf(b, "  const int iw = gid %% %lld, ih = (gid / %lld) %% %lld, p = gid / %lld;\n",
               (long long)W, (long long)W, (long long)H, (long long)(W * H));
    sb_append(b, "  float acc = 0.0f;\n");
    sb_appendf(b,
               "  const int ohc = (int)((float)ih * (float)%.17g), owc = (int)((float)iw * "
               "(float)%.17g);\n"
               "  for (int oh = max(ohc - %d, 0); oh <= min(ohc + %d, %lld); oh++) {\n",
               rh, rw, mh, mh, (long long)(OH - 1));
    emit_taps(b, "oh", "h", H, OH, ac);
    sb_append(b,
              "    const float wh = (h0 == ih ? 1.0f - ht : 0.0f) + (h1 == ih ? ht : 0.0f);\n"
              "    if (wh == 0.0f) continue;\n");
    sb_appendf(b, "    for (int ow = max(owc - %d, 0); ow <= min(owc + %d, %lld); ow++) {\n", mw,
               mw, (long long)(OW - 1));
    emit_taps(b, "ow", "w", W, OW, ac);
    sb_appendf(b,
               "      const float ww = (w0 == iw ? 1.0f - wt : 0.0f) + (w1 == iw ? wt : 0.0f);\n"
               "      acc += wh * ww * SRC((p * %lld + oh) * %lld + ow);\n"
               "    }\n  }\n  DST(gid) = acc;\n",
               (long long)OH, (long long)OW);
  }
  sb_append(b, "#undef SRC\n#undef DST\n");
  cg_geometry_1d(L, items);
}

/* The hash of ir/nn_geom.h (nn_mix32 chained over seed, counter, index). */
static void emit_hash(strbuf *b, const char *dst, const char *index) {
  sb_appendf(b,
             "    { uint x = k ^ (uint)(%s);\n"
             "      x ^= x >> 16; x *= 0x7feb352dU; x ^= x >> 15; x *= 0x846ca68bU; x ^= x >> 16;\n"
             "      %s = (float)(x >> 8) * (1.0f / 16777216.0f); }\n",
             index, dst);
}

void cl_emit_random(cg_ctx *G, const ir_node *n, int32_t id, cl_launch *L, strbuf *b) {
  const ir_window *v = &n->attr.win;
  const int64_t items = gc_shape_numel(n->shape);
  /* The seed's part of the hash is a constant; the counter's is mixed in
   * once per work-item. */
  uint32_t ks = nn_mix32(v->seed_lo ^ nn_mix32(v->seed_hi + 0x9e3779b9U));
  /* no fma contraction: uniform draws must round as the reference's */
  sb_appendf(b,
             "#pragma OPENCL FP_CONTRACT OFF\n"
             "  const int gid = get_global_id(0);\n  if (gid >= %lld) return;\n",
             (long long)items);
  sb_append(b, "  const uint ctr = (uint)");
  strbuf cv = {0};
  cg_access(G, &cv, n->in[0], "0");
  sb_appendf(b,
             "%s;\n"
             "  uint k = %uU ^ (ctr * 0x85ebca6bU + 0x632be59bU);\n"
             "  k ^= k >> 16; k *= 0x7feb352dU; k ^= k >> 15; k *= 0x846ca68bU; k ^= k >> 16;\n"
             "  float u1, u2 = 0.0f;\n",
             sb_str(&cv), ks);
  sb_free(&cv);
  if (v->dist == 0) {
    emit_hash(b, "u1", "gid");
    sb_append(b, "  ");
    cg_access(G, b, id, "gid");
    sb_append(b, " = ");
    cg_float(b, n->attr.f[0]);
    sb_append(b, " + ");
    cg_float(b, (float)(n->attr.f[1] - n->attr.f[0]));
    sb_append(b, " * u1;\n");
  } else {
    emit_hash(b, "u1", "2 * gid");
    emit_hash(b, "u2", "2 * gid + 1");
    sb_append(b, "  ");
    cg_access(G, b, id, "gid");
    sb_append(b, " = ");
    cg_float(b, n->attr.f[0]);
    sb_append(b, " + ");
    cg_float(b, n->attr.f[1]);
    sb_append(b, " * sqrt(-2.0f * log(1.0f - u1)) * cos(6.28318530718f * u2);\n");
  }
  cg_geometry_1d(L, items);
}
