/* cl_gemm.c — the generator side of graphc's GEMM: picks a register tile for
 * a shape, writes the #defines that instantiate kernels/gemm.cl, and gives
 * the matching NDRange. The tile choices below were measured on PoCL 3.1
 * (AVX2, 2 cores); bench/bench_gemm.c reproduces the numbers. */
#include "backends/opencl/cl_gemm.h"

#include <stdbool.h>

#include "ir/status.h"
#include "ir/strbuf.h"

/* The blocking of one instance (see kernels/gemm.cl). */
typedef struct gemm_tile {
  int mr, nr;         /* register tile: mr floatNR accumulators */
  int mc, kc;         /* rows of C per work-item, K block */
  int band, pack;     /* row blocks walked together; private copy of B */
  int64_t rows, cols; /* C as the kernel sees it (swapped for TT) */
} gemm_tile;

static gemm_tile gemm_pick_tile(const cl_gemm_spec *s) {
  gemm_tile t = {0};
  const int tt = s->trans_a && s->trans_b;
  t.rows = tt ? s->n : s->m;
  t.cols = tt ? s->m : s->n;
  /* 6 x 16: 12 ymm accumulators, 2 for the B row, 1 broadcast — the AVX2
   * register file. At 1024^3, as a ratio to OpenBLAS in the same process:
   * 6x16 0.86, 8x16 0.54 (spills), 4x16 0.47, 12x8 0.37. Narrow C takes
   * narrower vectors so the shifted last strip stays on the fast path. */
  t.mr = 6;
  t.nr = t.cols >= 16 ? 16 : t.cols >= 8 ? 8 : 4;
  /* Column strips fastest: consecutive work-items share the row block of
   * A (bands of 4-8 row blocks measured 0-10% slower). */
  t.band = 1;
  t.kc = 256; /* 128: 0.68, 512: 0.67, 256: 0.85 (same ratio) */
  t.pack = 1; /* B read in place: 0.65 */
  if (s->mr > 0) t.mr = s->mr;
  if (s->nr > 0) t.nr = s->nr;
  if (s->band > 0) t.band = s->band;
  if (s->kc > 0) t.kc = s->kc;
  if (s->pack) t.pack = s->pack > 0;
  if (t.mr > t.rows) t.mr = (int)t.rows; /* the last tile shifts back to row 0 at most */
  /* About 192 rows per work-item (96-384 within noise at 1024^3, 48 10%
   * slower), split evenly: a short last row block would leave one of the
   * threads idle at the end. */
  const int64_t want = s->mc > 0 ? s->mc : 192;
  const int64_t blocks = (t.rows + want - 1) / want;
  const int64_t mc = (t.rows + blocks - 1) / blocks;
  t.mc = (int)((mc + t.mr - 1) / t.mr * t.mr);
  return t;
}

/* The GPU form's register tile (kernels/gemm_gpu.cl): the largest of 4x4,
 * 4x2 / 2x4, 2x2, 2x1 / 1x2, 1x1 results per work-item that still gives
 * GPU_GROUPS_WANTED work-groups, so that a small product (the MLP's 64 x
 * 256 outputs) spreads over the device's compute units instead of
 * queueing on a few; large ones take the 64x64 tile, 16 FMAs per two
 * local loads. The wider side of C takes the wider tile. */
#define GPU_GROUPS_WANTED 256
static void gemm_gpu_tile(const cl_gemm_spec *s, int *wm, int *wn) {
  static const int cand[][2] = {{4, 4}, {4, 2}, {2, 2}, {2, 1}, {1, 1}};
  const int ncand = (int)(sizeof cand / sizeof cand[0]);
  const int64_t batch = s->batch > 0 ? s->batch : 1;
  const bool wide = s->n > s->m;
  int pick = ncand - 1;
  for (int c = 0; c < ncand; c++) {
    const int64_t tm = 16 * (wide ? cand[c][1] : cand[c][0]);
    const int64_t tn = 16 * (wide ? cand[c][0] : cand[c][1]);
    if ((s->m + tm - 1) / tm * ((s->n + tn - 1) / tn) * batch >= GPU_GROUPS_WANTED) {
      pick = c;
      break;
    }
  }
  *wm = wide ? cand[pick][1] : cand[pick][0];
  *wn = wide ? cand[pick][0] : cand[pick][1];
  if (s->wm > 0) *wm = s->wm;
  if (s->wn > 0) *wn = s->wn;
}

static int64_t gemm_gpu_groups(const cl_gemm_spec *s) {
  int wm, wn;
  gemm_gpu_tile(s, &wm, &wn);
  const int64_t batch = s->batch > 0 ? s->batch : 1;
  return (s->m + 16 * wm - 1) / (16 * wm) * ((s->n + 16 * wn - 1) / (16 * wn)) * batch;
}

/* The tile counters' slots (ints) at the start of the scratch: the same
 * for every instance, since the kernels of a program share the scratch
 * (one instance's partials must never lie over another's counters, which
 * are zeros between launches), and so a bound on the tiles of a split. */
#define GEMM_GPU_COUNTERS 128
/* Splits of K in the GPU form, were a scratch given: a C of fewer than
 * GPU_GROUPS_WANTED / 2 tiles (fewer work-groups than an H100 has compute
 * units) is shared by enough groups per tile to make GPU_GROUPS_WANTED,
 * while each split keeps 16 steps (256 of K) or more, and at most 64
 * splits; 1 where it does not pay; never for more tiles than the scratch
 * has counters (GEMM_GPU_COUNTERS, also with an explicit ksplit). Without
 * a scratch (gemm_gpu_split), none. */
static int gemm_gpu_split_given_scratch(const cl_gemm_spec *s) {
  if (!s->gpu) return 1;
  const int64_t groups = gemm_gpu_groups(s);
  if (groups > GEMM_GPU_COUNTERS) return 1;
  if (s->ksplit > 0) return s->ksplit;
  const int64_t kseg = s->kseg > 0 ? s->kseg : 1, steps = kseg * ((s->k + 15) / 16);
  if (groups >= GPU_GROUPS_WANTED / 2) return 1;
  int64_t split = GPU_GROUPS_WANTED / groups;
  if (split > steps / 16) split = steps / 16;
  if (split > 64) split = 64;
  return split >= 2 ? (int)split : 1;
}

static int gemm_gpu_split(const cl_gemm_spec *s) {
  return s->scratch ? gemm_gpu_split_given_scratch(s) : 1;
}

size_t cl_gemm_scratch_bytes(const cl_gemm_spec *spec) {
  const int split = gemm_gpu_split_given_scratch(spec);
  if (split < 2) return 0;
  int wm, wn;
  gemm_gpu_tile(spec, &wm, &wn);
  const int64_t floats = GEMM_GPU_COUNTERS + gemm_gpu_groups(spec) * split * (16 * wm) * (16 * wn);
  return (size_t)floats * sizeof(float);
}

static int64_t gemm_tiles(const cl_gemm_spec *s, const gemm_tile *t) {
  const int64_t batch = s->batch > 0 ? s->batch : 1;
  return ((t->rows + t->mc - 1) / t->mc) * ((t->cols + t->nr - 1) / t->nr) * batch;
}

static gc_status gemm_check(const cl_gemm_spec *s) {
  if (!s || !s->name || !s->params || (!s->a_expr && !s->a_gather) ||
      (!s->b_expr && !s->b_gather) || !s->store)
    return gc_fail(GC_ERR_INVALID, "cl_gemm: spec or one of its strings is NULL");
  if (s->m < 1 || s->n < 1 || s->k < 1 || s->batch < 0 || s->kseg < 0)
    return gc_fail(GC_ERR_INVALID, "cl_gemm %s: bad sizes m=%lld n=%lld k=%lld batch=%lld", s->name,
                   (long long)s->m, (long long)s->n, (long long)s->k, (long long)s->batch);
  const bool hooks = s->b_gather || s->a_gather || s->kseg > 1 || s->a_si || s->a_sk || s->store8;
  if (hooks && s->trans_a && s->trans_b)
    return gc_fail(GC_ERR_INVALID,
                   "cl_gemm %s: implicit-GEMM or store8 hooks with trans_a && trans_b", s->name);
  if ((s->b_gather && s->trans_b) || (s->a_gather && (s->trans_a || s->a_si || !s->a_row)) ||
      (!s->a_si != !s->a_sk) || s->a_si < 0 || s->a_sk < 0 || s->a_seg_stride < 0 ||
      s->b_seg_stride < 0)
    return gc_fail(GC_ERR_INVALID, "cl_gemm %s: bad implicit-GEMM hooks", s->name);
  const int64_t a_row = s->trans_a ? s->m : s->k, b_row = s->trans_b ? s->k : s->n;
  if ((!s->a_si && !s->a_gather && s->lda < a_row) || (!s->b_gather && s->ldb < b_row))
    return gc_fail(
        GC_ERR_INVALID, "cl_gemm %s: pitch too small (lda=%lld needs %lld, ldb=%lld needs %lld)",
        s->name, (long long)s->lda, (long long)a_row, (long long)s->ldb, (long long)b_row);
  if (s->a_batch_stride < 0 || s->b_batch_stride < 0)
    return gc_fail(GC_ERR_INVALID, "cl_gemm %s: negative batch stride", s->name);
  if (s->mr < 0 || s->nr < 0 || s->band < 0 || s->mc < 0 || s->kc < 0 || s->group < 0 ||
      (s->nr && s->nr != 4 && s->nr != 8 && s->nr != 16) || s->wm < 0 || s->wm > 4 || s->wm == 3 ||
      s->wn < 0 || s->wn > 4 || s->wn == 3 || s->ksplit < 0)
    return gc_fail(GC_ERR_INVALID, "cl_gemm %s: bad tile override", s->name);
  /* The kernel indexes with 32-bit ints. */
  const int64_t lim = INT32_MAX, batch = s->batch > 0 ? s->batch : 1;
  const int64_t kseg = s->kseg > 0 ? s->kseg : 1;
  const int64_t a_ext = s->a_gather
                            ? 0
                            : (s->a_si ? (s->m - 1) * s->a_si + (s->k - 1) * s->a_sk + 1
                                       : (s->trans_a ? s->k : s->m) * s->lda) +
                                  (batch - 1) * s->a_batch_stride + (kseg - 1) * s->a_seg_stride;
  const int64_t b_ext = s->b_gather
                            ? 0
                            : (s->trans_b ? s->n : s->k) * s->ldb +
                                  (batch - 1) * s->b_batch_stride + (kseg - 1) * s->b_seg_stride;
  const gemm_tile t = gemm_pick_tile(s);
  if (s->m > lim / s->n || a_ext > lim || b_ext > lim || gemm_tiles(s, &t) > lim / 2 ||
      (s->gpu &&
       (gemm_gpu_groups(s) > lim / 256 / 64 || (int64_t)cl_gemm_scratch_bytes(s) / 4 > lim)))
    return gc_fail(GC_ERR_UNSUPPORTED, "cl_gemm %s: sizes beyond 32-bit indexing", s->name);
  return GC_OK;
}

static const char *const gemm_macros[] = {"GEMM_NAME",
                                          "GEMM_PARAMS",
                                          "GEMM_M",
                                          "GEMM_N",
                                          "GEMM_K",
                                          "GEMM_TRANS_A",
                                          "GEMM_TRANS_B",
                                          "GEMM_LDA",
                                          "GEMM_LDB",
                                          "GEMM_A",
                                          "GEMM_B",
                                          "GEMM_STORE",
                                          "GEMM_BATCH",
                                          "GEMM_A_BATCH_STRIDE",
                                          "GEMM_B_BATCH_STRIDE",
                                          "GEMM_MR",
                                          "GEMM_NR",
                                          "GEMM_MC",
                                          "GEMM_KC",
                                          "GEMM_BAND",
                                          "GEMM_PACK",
                                          "GEMM_KSEG",
                                          "GEMM_A_SEG_STRIDE",
                                          "GEMM_B_SEG_STRIDE",
                                          "GEMM_A_SI",
                                          "GEMM_A_SK",
                                          "GEMM_B_GATHER",
                                          "GEMM_B_COL0",
                                          "GEMM_B_COL1",
                                          "GEMM_A_GATHER",
                                          "GEMM_A_ROW",
                                          "GEMM_A_ROWLIVE",
                                          "GEMM_A_KOFF",
                                          "GEMM_C_PTR",
                                          "GEMM_STORE8",
                                          "GEMM_GROUP",
                                          "GEMM_WM",
                                          "GEMM_WN",
                                          "GEMM_KSPLIT",
                                          "GEMM_SCRATCH",
                                          "GEMM_COUNTERS"};

gc_status cl_gemm_source(const cl_gemm_spec *spec, char **out_src) {
  if (!out_src) return gc_fail(GC_ERR_INVALID, "cl_gemm_source: out_src is NULL");
  *out_src = NULL;
  gc_status st = gemm_check(spec);
  if (st) return st;
  const char *tmpl = cl_embedded_source(spec->gpu ? "gemm_gpu" : "gemm");
  if (!tmpl)
    return gc_fail(GC_ERR_NOT_FOUND, "cl_gemm_source: kernels/%s.cl is not embedded",
                   spec->gpu ? "gemm_gpu" : "gemm");
  const gemm_tile t = gemm_pick_tile(spec);
  strbuf b;
  sb_init(&b);
  sb_appendf(&b, "/* GEMM %s: %lldx%lldx%lld trans_a=%d trans_b=%d */\n", spec->name,
             (long long)spec->m, (long long)spec->n, (long long)spec->k, spec->trans_a,
             spec->trans_b);
  sb_appendf(&b, "#define GEMM_NAME %s\n#define GEMM_PARAMS %s\n", spec->name, spec->params);
  sb_appendf(&b, "#define GEMM_M %lld\n#define GEMM_N %lld\n#define GEMM_K %lld\n",
             (long long)spec->m, (long long)spec->n, (long long)spec->k);
  sb_appendf(&b, "#define GEMM_TRANS_A %d\n#define GEMM_TRANS_B %d\n", spec->trans_a ? 1 : 0,
             spec->trans_b ? 1 : 0);
  sb_appendf(&b, "#define GEMM_LDA %lld\n#define GEMM_LDB %lld\n", (long long)spec->lda,
             (long long)spec->ldb);
  sb_appendf(&b, "#define GEMM_A (%s)\n#define GEMM_B (%s)\n",
             spec->a_expr ? spec->a_expr : "(__global const float *)0",
             spec->b_expr ? spec->b_expr : "(__global const float *)0");
  if (spec->kseg > 1)
    sb_appendf(&b,
               "#define GEMM_KSEG %lld\n#define GEMM_A_SEG_STRIDE %lld\n"
               "#define GEMM_B_SEG_STRIDE %lld\n",
               (long long)spec->kseg, (long long)spec->a_seg_stride, (long long)spec->b_seg_stride);
  if (spec->a_si)
    sb_appendf(&b, "#define GEMM_A_SI %lld\n#define GEMM_A_SK %lld\n", (long long)spec->a_si,
               (long long)spec->a_sk);
  if (spec->b_gather) {
    sb_appendf(&b, "#define GEMM_B_GATHER(s, k, j, c0, c1) (%s)\n", spec->b_gather);
    if (spec->b_col0) sb_appendf(&b, "#define GEMM_B_COL0(s, j) (%s)\n", spec->b_col0);
    if (spec->b_col1) sb_appendf(&b, "#define GEMM_B_COL1(s, j) (%s)\n", spec->b_col1);
  }
  if (spec->a_gather) {
    sb_appendf(&b, "#define GEMM_A_GATHER(s, k, i, r0, ko) (%s)\n", spec->a_gather);
    sb_appendf(&b, "#define GEMM_A_ROW(s, i) (%s)\n", spec->a_row);
    if (spec->a_rowlive) sb_appendf(&b, "#define GEMM_A_ROWLIVE(s, i) (%s)\n", spec->a_rowlive);
    if (spec->a_koff) sb_appendf(&b, "#define GEMM_A_KOFF(s, k) (%s)\n", spec->a_koff);
  }
  if (spec->group > 1) sb_appendf(&b, "#define GEMM_GROUP %d\n", spec->group);
  if (spec->c_ptr) sb_appendf(&b, "#define GEMM_C_PTR(i, j) (%s)\n", spec->c_ptr);
  if (spec->store8) sb_define_statement(&b, "GEMM_STORE8(i, j, v)", spec->store8);
  sb_define_statement(&b, "GEMM_STORE(i, j, v)", spec->store);
  sb_appendf(&b,
             "#define GEMM_BATCH %lld\n#define GEMM_A_BATCH_STRIDE %lld\n"
             "#define GEMM_B_BATCH_STRIDE %lld\n",
             (long long)(spec->batch > 0 ? spec->batch : 1), (long long)spec->a_batch_stride,
             (long long)spec->b_batch_stride);
  sb_appendf(&b,
             "#define GEMM_MR %d\n#define GEMM_NR %d\n#define GEMM_MC %d\n"
             "#define GEMM_KC %d\n#define GEMM_PACK %d\n",
             t.mr, t.nr, t.mc, t.kc, t.pack);
  sb_appendf(&b, "#define GEMM_BAND %d\n", t.band);
  if (spec->gpu) {
    int wm, wn;
    gemm_gpu_tile(spec, &wm, &wn);
    sb_appendf(&b, "#define GEMM_WM %d\n#define GEMM_WN %d\n", wm, wn);
    const int split = gemm_gpu_split(spec);
    if (split > 1)
      sb_appendf(&b,
                 "#define GEMM_KSPLIT %d\n#define GEMM_SCRATCH (%s)\n#define GEMM_COUNTERS %lld\n",
                 split, spec->scratch, (long long)GEMM_GPU_COUNTERS);
  }
  sb_appendf(&b, "%s\n", tmpl);
  for (size_t i = 0; i < sizeof gemm_macros / sizeof gemm_macros[0]; ++i)
    sb_appendf(&b, "#undef %s\n", gemm_macros[i]);
  *out_src = sb_take(&b);
  if (!*out_src) return gc_fail(GC_ERR_NOMEM, "cl_gemm_source: out of memory");
  return GC_OK;
}

void cl_gemm_geometry(const cl_gemm_spec *spec, cl_uint *work_dim, size_t global[3],
                      size_t local[3]) {
  if (spec->gpu) {
    global[0] = (size_t)(gemm_gpu_groups(spec) * gemm_gpu_split(spec)) * 16;
    global[1] = local[0] = local[1] = 16;
    global[2] = local[2] = 1;
    *work_dim = 2;
    return;
  }
  const gemm_tile t = gemm_pick_tile(spec);
  const int64_t group = spec->group > 1 ? spec->group : 1;
  const int64_t tiles = (gemm_tiles(spec, &t) + group - 1) / group;
  /* PoCL compiles again for a dimension >= 65535: split the 1-D walk into
   * rows of at most 32768 with the fewest idle work-items at the end (the
   * kernel linearizes id = x + y * global[0] and drops id >= tiles). */
  const int64_t rows = (tiles + 32767) / 32768;
  global[0] = (size_t)((tiles + rows - 1) / rows);
  global[1] = (size_t)rows;
  global[2] = 1;
  local[0] = local[1] = local[2] = 1;
  *work_dim = rows > 1 ? 2 : 1;
}
