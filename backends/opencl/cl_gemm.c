/* cl_gemm.c — the generator side of graphc's GEMM: picks a register tile for
 * a shape, writes the #defines that instantiate kernels/gemm.cl, and gives
 * the matching NDRange. The tile choices below were measured on PoCL 3.1
 * (AVX2, 2 cores); bench/bench_gemm.c reproduces the numbers. */
#include "backends/opencl/cl_gemm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/status.h"

/* A tile: mr x nr of C per work-item, band row panels walked together. */
typedef struct gemm_tile {
  int dot; /* 1: NT dot form (float8 along K); 0: broadcast form */
  int mr, nr, band;
  int mc, kc, pack; /* broadcast form: rows per work-item, K block, B copy */
  int64_t rows, cols; /* C as the kernel sees it (swapped for TT) */
} gemm_tile;

static gemm_tile gemm_pick_tile(const cl_gemm_spec *s) {
  gemm_tile t = {0};
  const int tt = s->trans_a && s->trans_b;
  t.dot = s->trans_b && !s->trans_a && s->pack == 2;
  t.rows = tt ? s->n : s->m;
  t.cols = tt ? s->m : s->n;
  if (t.dot) {
    /* 4 x 3 float8 accumulators: 12 ymm + A/B operands; DR + DC = 7 loads
     * per 12 FMAs of 8 lanes. */
    t.mr = 4;
    t.nr = 3;
  } else {
    /* 6 x 16: 12 ymm accumulators, 2 for the B row, 1 broadcast — the
     * AVX2 register file exactly. Narrow C takes narrower vectors so the
     * shifted last tile stays on the fast path. */
    t.mr = 6;
    t.nr = t.cols >= 16 ? 16 : t.cols >= 8 ? 8 : 4;
  }
  /* The column strip varies fastest: consecutive work-items reuse the
   * row block of A (band 8 with row blocks fastest measured 0-10% slower). */
  t.band = 1;
  if (s->mr > 0) t.mr = s->mr;
  if (s->nr > 0) t.nr = s->nr;
  if (s->band > 0) t.band = s->band;
  /* the template shifts the last row tile back to row 0 at most */
  if (!t.dot && t.mr > t.rows) t.mr = (int)t.rows;
  /* 192 rows per work-item and K blocks of 256 (a 16 KB private copy of
   * B) measured best at 1024^3; rows stop at M. */
  t.mc = t.rows < 192 ? (int)t.rows : 192;
  t.kc = 256;
  t.pack = 1;
  if (s->mc > 0) t.mc = s->mc;
  if (s->kc > 0) t.kc = s->kc;
  if (s->pack) t.pack = s->pack > 0;
  if (t.dot) t.pack = 2;
  if (!t.dot) t.mc = (t.mc + t.mr - 1) / t.mr * t.mr;
  return t;
}

static int64_t gemm_tiles(const cl_gemm_spec *s, const gemm_tile *t) {
  const int64_t batch = s->batch > 0 ? s->batch : 1;
  const int64_t rb = t->dot ? t->mr : t->mc;
  return ((t->rows + rb - 1) / rb) * ((t->cols + t->nr - 1) / t->nr) * batch;
}

/* A growing string; on allocation failure it is freed and marked failed. */
typedef struct gemm_buf {
  char *s;
  size_t len, cap;
  int failed;
} gemm_buf;

static void gemm_buf_printf(gemm_buf *b, const char *fmt, ...) GC_PRINTF(2, 3);
static void gemm_buf_printf(gemm_buf *b, const char *fmt, ...) {
  if (b->failed) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->failed = 1;
      return;
    }
    if (b->s && b->len + (size_t)n < b->cap) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap <= b->len + (size_t)n) cap *= 2;
    char *p = realloc(b->s, cap);
    if (!p) {
      free(b->s);
      b->s = NULL;
      b->failed = 1;
      return;
    }
    b->s = p;
    b->cap = cap;
  }
}

static gc_status gemm_check(const cl_gemm_spec *s) {
  if (!s || !s->name || !s->params || !s->a_expr || !s->b_expr || !s->store)
    return gc_fail(GC_ERR_INVALID, "cl_gemm: spec or one of its strings is NULL");
  if (s->m < 1 || s->n < 1 || s->k < 1 || s->batch < 0)
    return gc_fail(GC_ERR_INVALID, "cl_gemm %s: bad sizes m=%lld n=%lld k=%lld batch=%lld", s->name,
                   (long long)s->m, (long long)s->n, (long long)s->k, (long long)s->batch);
  const int64_t a_row = s->trans_a ? s->m : s->k, b_row = s->trans_b ? s->k : s->n;
  if (s->lda < a_row || s->ldb < b_row)
    return gc_fail(
        GC_ERR_INVALID, "cl_gemm %s: pitch too small (lda=%lld needs %lld, ldb=%lld needs %lld)",
        s->name, (long long)s->lda, (long long)a_row, (long long)s->ldb, (long long)b_row);
  if (s->a_batch_stride < 0 || s->b_batch_stride < 0)
    return gc_fail(GC_ERR_INVALID, "cl_gemm %s: negative batch stride", s->name);
  if (s->mr < 0 || s->nr < 0 || s->band < 0 || s->mc < 0 || s->kc < 0 ||
      (s->pack != 2 && s->nr && s->nr != 4 && s->nr != 8 && s->nr != 16))
    return gc_fail(GC_ERR_INVALID, "cl_gemm %s: bad tile override", s->name);
  /* The kernel indexes with 32-bit ints. */
  const int64_t lim = INT32_MAX, batch = s->batch > 0 ? s->batch : 1;
  const int64_t a_ext = (s->trans_a ? s->k : s->m) * s->lda + (batch - 1) * s->a_batch_stride;
  const int64_t b_ext = (s->trans_b ? s->n : s->k) * s->ldb + (batch - 1) * s->b_batch_stride;
  const gemm_tile t = gemm_pick_tile(s);
  if (s->m > lim / s->n || a_ext > lim || b_ext > lim || gemm_tiles(s, &t) > lim / 2)
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
                                          "GEMM_DR",
                                          "GEMM_DC",
                                          "GEMM_BAND"};

gc_status cl_gemm_source(const cl_gemm_spec *spec, char **out_src) {
  if (!out_src) return gc_fail(GC_ERR_INVALID, "cl_gemm_source: out_src is NULL");
  *out_src = NULL;
  gc_status st = gemm_check(spec);
  if (st) return st;
  const char *tmpl = cl_embedded_source("gemm");
  if (!tmpl) return gc_fail(GC_ERR_NOT_FOUND, "cl_gemm_source: kernels/gemm.cl is not embedded");
  const gemm_tile t = gemm_pick_tile(spec);
  gemm_buf b = {0};
  gemm_buf_printf(&b, "/* GEMM %s: %lldx%lldx%lld trans_a=%d trans_b=%d */\n", spec->name,
                  (long long)spec->m, (long long)spec->n, (long long)spec->k, spec->trans_a,
                  spec->trans_b);
  gemm_buf_printf(&b, "#define GEMM_NAME %s\n#define GEMM_PARAMS %s\n", spec->name, spec->params);
  gemm_buf_printf(&b, "#define GEMM_M %lld\n#define GEMM_N %lld\n#define GEMM_K %lld\n",
                  (long long)spec->m, (long long)spec->n, (long long)spec->k);
  gemm_buf_printf(&b, "#define GEMM_TRANS_A %d\n#define GEMM_TRANS_B %d\n", spec->trans_a ? 1 : 0,
                  spec->trans_b ? 1 : 0);
  gemm_buf_printf(&b, "#define GEMM_LDA %lld\n#define GEMM_LDB %lld\n", (long long)spec->lda,
                  (long long)spec->ldb);
  gemm_buf_printf(&b, "#define GEMM_A (%s)\n#define GEMM_B (%s)\n", spec->a_expr, spec->b_expr);
  gemm_buf_printf(&b, "#define GEMM_STORE(i, j, v) do { %s; } while (0)\n", spec->store);
  gemm_buf_printf(&b,
                  "#define GEMM_BATCH %lld\n#define GEMM_A_BATCH_STRIDE %lld\n"
                  "#define GEMM_B_BATCH_STRIDE %lld\n",
                  (long long)(spec->batch > 0 ? spec->batch : 1), (long long)spec->a_batch_stride,
                  (long long)spec->b_batch_stride);
  if (t.dot)
    gemm_buf_printf(&b, "#define GEMM_DOT 1\n#define GEMM_DR %d\n#define GEMM_DC %d\n", t.mr, t.nr);
  else
    gemm_buf_printf(&b,
                    "#define GEMM_DOT 0\n#define GEMM_MR %d\n#define GEMM_NR %d\n#define GEMM_MC %d\n"
                    "#define GEMM_KC %d\n#define GEMM_PACK %d\n",
                    t.mr, t.nr, t.mc, t.kc, t.pack);
  gemm_buf_printf(&b, "#define GEMM_BAND %d\n", t.band);
  gemm_buf_printf(&b, "%s\n", tmpl);
  for (size_t i = 0; i < sizeof gemm_macros / sizeof gemm_macros[0]; ++i)
    gemm_buf_printf(&b, "#undef %s\n", gemm_macros[i]);
  if (b.failed) {
    free(b.s);
    return gc_fail(GC_ERR_NOMEM, "cl_gemm_source: out of memory");
  }
  *out_src = b.s;
  return GC_OK;
}

void cl_gemm_geometry(const cl_gemm_spec *spec, cl_uint *work_dim, size_t global[3],
                      size_t local[3]) {
  const gemm_tile t = gemm_pick_tile(spec);
  const int64_t tiles = gemm_tiles(spec, &t);
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
