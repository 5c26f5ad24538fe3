/* gemm_gpu.cl — graphc's GEMM for GPUs, as a template: the same macros as
 * kernels/gemm.cl (read its header for their meaning), a different design.
 *
 * gemm.cl is a CPU design: one work-item per strip of C, local size 1. On
 * a GPU that runs one lane of each 32-wide warp, and a few hundred
 * work-items leave most of the chip idle (on an H100 the MLP's 64x784x256
 * ran at 7 GFLOP/s, CLBlast at 860). This template is the textbook GPU
 * tiling: a 16x16 work-group computes a TM x TN tile of C (GEMM_WM x
 * GEMM_WN results per work-item, at rows ty + 16 r and columns tx + 16 c,
 * so a warp's loads and stores of C are contiguous and its reads of the
 * local tiles are broadcasts or conflict-free); per step of 16 along K the
 * group copies A's TM x 16 and B's 16 x TN panels into local memory,
 * consecutive work-items reading consecutive addresses of whichever axis
 * is contiguous in global memory, and every work-item then runs 16 x WM x
 * WN FMAs from local memory. Edges and K tails load zeros and store
 * nothing, so any M, N, K work. The generator (cl_gemm.c) picks WM, WN
 * from the size of C so that small products still fill the device.
 *
 * Every hook of gemm.cl is honoured element by element: the gathers
 * (GEMM_A_GATHER with GEMM_A_ROW / GEMM_A_KOFF / GEMM_A_ROWLIVE,
 * GEMM_B_GATHER with GEMM_B_COL0 / GEMM_B_COL1), GEMM_A_SI / GEMM_A_SK,
 * segments (GEMM_KSEG), batches, and both transposes at once. GEMM_STORE
 * runs once per element of C; GEMM_STORE8, GEMM_C_PTR and GEMM_GROUP are
 * CPU shortcuts and are ignored (GEMM_STORE is complete without them).
 * The register tile: GEMM_WM, GEMM_WN (1, 2 or 4; default 4).
 *
 * Split K (GEMM_KSPLIT S > 1, with GEMM_SCRATCH, a `__global float *`
 * expression): a C with few tiles and a long K (a conv's weight gradient:
 * 9 x 32 results, K = 64 images x 676 pixels) would run on one or two
 * compute units, so S work-groups share each tile, each taking 1/S of the
 * steps along K (segments and K blocks as one sequence). Each stores its
 * partial tile in the scratch, fences, and counts itself in the tile's
 * counter; the group that counts last adds the S partials in the order of
 * the splits (so the result does not depend on which finished first),
 * runs the epilogue and sets the counter back to 0 for the next launch.
 * The scratch holds GEMM_COUNTERS ints (zero before the first launch; the
 * same count in every instance of a program, which share one scratch, so
 * that no instance's partials lie over another's counters), then the
 * partials: tiles x S x TM x TN floats. */

#if !defined(GEMM_NAME) || !defined(GEMM_PARAMS) || !defined(GEMM_M) || !defined(GEMM_N) || \
    !defined(GEMM_K) || !defined(GEMM_TRANS_A) || !defined(GEMM_TRANS_B) ||                  \
    !defined(GEMM_LDA) || !defined(GEMM_LDB) || !defined(GEMM_A) || !defined(GEMM_B) ||     \
    !defined(GEMM_STORE)
#error "gemm_gpu.cl: a required GEMM_* macro is not defined"
#endif
#if defined(GEMM_B_GATHER) && GEMM_TRANS_B
#error "gemm_gpu.cl: GEMM_B_GATHER needs TRANS_B 0"
#endif
#if defined(GEMM_A_GATHER) && (GEMM_TRANS_A || defined(GEMM_A_SI))
#error "gemm_gpu.cl: GEMM_A_GATHER needs TRANS_A 0 and no GEMM_A_SI"
#endif

#ifdef GEMM_BATCH
#define GEMMG__BATCH (GEMM_BATCH)
#else
#define GEMMG__BATCH 1
#endif
#ifdef GEMM_A_BATCH_STRIDE
#define GEMMG__ASTR (GEMM_A_BATCH_STRIDE)
#else
#define GEMMG__ASTR 0
#endif
#ifdef GEMM_B_BATCH_STRIDE
#define GEMMG__BSTR (GEMM_B_BATCH_STRIDE)
#else
#define GEMMG__BSTR 0
#endif
#ifdef GEMM_KSEG
#define GEMMG__KSEG (GEMM_KSEG)
#else
#define GEMMG__KSEG 1
#endif
#ifdef GEMM_A_SEG_STRIDE
#define GEMMG__ASEG (GEMM_A_SEG_STRIDE)
#else
#define GEMMG__ASEG 0
#endif
#ifdef GEMM_B_SEG_STRIDE
#define GEMMG__BSEG (GEMM_B_SEG_STRIDE)
#else
#define GEMMG__BSEG 0
#endif
#ifdef GEMM_WM
#define GEMMG__WM (GEMM_WM)
#else
#define GEMMG__WM 4
#endif
#ifdef GEMM_WN
#define GEMMG__WN (GEMM_WN)
#else
#define GEMMG__WN 4
#endif
#define GEMMG__TM (16 * GEMMG__WM) /* rows of C per work-group */
#define GEMMG__TN (16 * GEMMG__WN) /* columns of C per work-group */
#define GEMMG__TK 16               /* K step */
#define GEMMG__TILES_M ((GEMM_M + GEMMG__TM - 1) / GEMMG__TM)
#define GEMMG__TILES_N ((GEMM_N + GEMMG__TN - 1) / GEMMG__TN)
#define GEMMG__KSTEPS ((GEMM_K + GEMMG__TK - 1) / GEMMG__TK) /* K steps per segment */
#ifdef GEMM_KSPLIT
#define GEMMG__S (GEMM_KSPLIT)
#else
#define GEMMG__S 1
#endif
#if GEMMG__S > 1 && (!defined(GEMM_SCRATCH) || !defined(GEMM_COUNTERS))
#error "gemm_gpu.cl: GEMM_KSPLIT needs GEMM_SCRATCH and GEMM_COUNTERS"
#endif
/* steps along K (all segments) per split, the last split taking the rest */
#define GEMMG__PER ((GEMMG__KSEG * GEMMG__KSTEPS + GEMMG__S - 1) / GEMMG__S)

/* A's element (i, k) of segment seg in batch gemm_b, for i < M, k < K. */
#if defined(GEMM_A_GATHER)
#ifdef GEMM_A_KOFF
#define GEMMG__AKO(k) GEMM_A_KOFF(seg, k)
#else
#define GEMMG__AKO(k) 0
#endif
#ifdef GEMM_A_ROWLIVE
#define GEMMG__A(i, k) \
  (GEMM_A_ROWLIVE(seg, i) ? GEMM_A_GATHER(seg, k, i, GEMM_A_ROW(seg, i), GEMMG__AKO(k)) : 0.0f)
#else
#define GEMMG__A(i, k) GEMM_A_GATHER(seg, k, i, GEMM_A_ROW(seg, i), GEMMG__AKO(k))
#endif
#else
#if defined(GEMM_A_SI)
#define GEMMG__ASI (GEMM_A_SI)
#define GEMMG__ASK (GEMM_A_SK)
#elif GEMM_TRANS_A
#define GEMMG__ASI 1
#define GEMMG__ASK (GEMM_LDA)
#else
#define GEMMG__ASI (GEMM_LDA)
#define GEMMG__ASK 1
#endif
#define GEMMG__A(i, k) a_base[(i) * GEMMG__ASI + (k) * GEMMG__ASK]
#endif

/* B's element (k, j). */
#if defined(GEMM_B_GATHER)
#ifdef GEMM_B_COL0
#define GEMMG__BC0(j) GEMM_B_COL0(seg, j)
#else
#define GEMMG__BC0(j) 0
#endif
#ifdef GEMM_B_COL1
#define GEMMG__BC1(j) GEMM_B_COL1(seg, j)
#else
#define GEMMG__BC1(j) 0
#endif
#define GEMMG__B(k, j) GEMM_B_GATHER(seg, k, j, GEMMG__BC0(j), GEMMG__BC1(j))
#elif GEMM_TRANS_B
#define GEMMG__B(k, j) b_base[(j) * GEMM_LDB + (k)]
#else
#define GEMMG__B(k, j) b_base[(k) * GEMM_LDB + (j)]
#endif

/* Which axis of a panel consecutive work-items walk while copying it: the
 * one contiguous in global memory (k for A unless transposed, j for B
 * unless transposed; for gathers and strided A, k and j, where im2col
 * pixels are usually consecutive). */
#if GEMM_TRANS_A && !defined(GEMM_A_GATHER) && !defined(GEMM_A_SI)
#define GEMMG__A_K_FAST 0
#elif defined(GEMM_A_SI)
#define GEMMG__A_K_FAST (GEMM_A_SK <= GEMM_A_SI)
#else
#define GEMMG__A_K_FAST 1
#endif
#define GEMMG__B_J_FAST (!GEMM_TRANS_B)

__kernel __attribute__((reqd_work_group_size(16, 16, 1))) void GEMM_NAME(GEMM_PARAMS) {
  const int tx = (int)get_local_id(0), ty = (int)get_local_id(1);
  const int tid = ty * 16 + tx;
  const int g = (int)get_group_id(0) / GEMMG__S; /* the tile, batch included */
  /* the whole group leaves together: g is uniform in it */
  if (g >= GEMMG__TILES_M * GEMMG__TILES_N * GEMMG__BATCH) return;
  const int gemm_b = g / (GEMMG__TILES_M * GEMMG__TILES_N);
  const int t = g % (GEMMG__TILES_M * GEMMG__TILES_N);
  const int i0 = (t / GEMMG__TILES_N) * GEMMG__TM;
  const int j0 = (t % GEMMG__TILES_N) * GEMMG__TN;
  /* +1: a column of the panel copy is then spread over all banks */
  __local float as[GEMMG__TK][GEMMG__TM + 1];
  __local float bs[GEMMG__TK][GEMMG__TN + 1];
#if GEMMG__S > 1
  __local int is_last; /* whether this group adds the partials up */
#endif
  float acc[GEMMG__WM][GEMMG__WN];
#pragma unroll
  for (int r = 0; r < GEMMG__WM; ++r)
#pragma unroll
    for (int c = 0; c < GEMMG__WN; ++c) acc[r][c] = 0.0f;

#if GEMMG__S > 1
  const int split = (int)get_group_id(0) % GEMMG__S;
  const int step0 = split * GEMMG__PER;
  const int step1 = min(step0 + GEMMG__PER, GEMMG__KSEG * GEMMG__KSTEPS);
#else
  const int step0 = 0, step1 = GEMMG__KSEG * GEMMG__KSTEPS;
#endif
  for (int seg = step0 / GEMMG__KSTEPS; seg * GEMMG__KSTEPS < step1; ++seg) {
#if !defined(GEMM_A_GATHER)
    __global const float *a_base = GEMM_A + gemm_b * GEMMG__ASTR + seg * GEMMG__ASEG;
#endif
#if !defined(GEMM_B_GATHER)
    __global const float *b_base = GEMM_B + gemm_b * GEMMG__BSTR + seg * GEMMG__BSEG;
#endif
    const int first = max(step0 - seg * GEMMG__KSTEPS, 0);
    const int last = min(step1 - seg * GEMMG__KSTEPS, GEMMG__KSTEPS);
    for (int k0 = first * GEMMG__TK; k0 < last * GEMMG__TK; k0 += GEMMG__TK) {
#pragma unroll
      for (int e = tid; e < GEMMG__TM * GEMMG__TK; e += 256) {
#if GEMMG__A_K_FAST
        const int ii = e / GEMMG__TK, kk = e % GEMMG__TK;
#else
        const int ii = e % GEMMG__TM, kk = e / GEMMG__TM;
#endif
        const int i = i0 + ii, k = k0 + kk;
        as[kk][ii] = (i < GEMM_M && k < GEMM_K) ? GEMMG__A(i, k) : 0.0f;
      }
#pragma unroll
      for (int e = tid; e < GEMMG__TN * GEMMG__TK; e += 256) {
#if GEMMG__B_J_FAST
        const int jj = e % GEMMG__TN, kk = e / GEMMG__TN;
#else
        const int jj = e / GEMMG__TK, kk = e % GEMMG__TK;
#endif
        const int j = j0 + jj, k = k0 + kk;
        bs[kk][jj] = (j < GEMM_N && k < GEMM_K) ? GEMMG__B(k, j) : 0.0f;
      }
      barrier(CLK_LOCAL_MEM_FENCE);
      for (int kk = 0; kk < GEMMG__TK; ++kk) {
        float av[GEMMG__WM], bv[GEMMG__WN];
#pragma unroll
        for (int r = 0; r < GEMMG__WM; ++r) av[r] = as[kk][ty + 16 * r];
#pragma unroll
        for (int c = 0; c < GEMMG__WN; ++c) bv[c] = bs[kk][tx + 16 * c];
#pragma unroll
        for (int r = 0; r < GEMMG__WM; ++r)
#pragma unroll
          for (int c = 0; c < GEMMG__WN; ++c) acc[r][c] = fma(av[r], bv[c], acc[r][c]);
      }
      barrier(CLK_LOCAL_MEM_FENCE);
    }
  }
#if GEMMG__S > 1
  {
    __global float *part = (GEMM_SCRATCH) + GEMM_COUNTERS + g * (GEMMG__S * GEMMG__TM * GEMMG__TN);
    __global int *count = (__global int *)(GEMM_SCRATCH) + g;
#pragma unroll
    for (int r = 0; r < GEMMG__WM; ++r)
#pragma unroll
      for (int c = 0; c < GEMMG__WN; ++c)
        part[split * (GEMMG__TM * GEMMG__TN) + (ty + 16 * r) * GEMMG__TN + tx + 16 * c] = acc[r][c];
    /* this group's partial is visible before it counts itself */
    mem_fence(CLK_GLOBAL_MEM_FENCE);
    barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE);
    if (tid == 0) is_last = atomic_inc(count) == GEMMG__S - 1;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (!is_last) return;
    mem_fence(CLK_GLOBAL_MEM_FENCE);
    /* volatile: read what the other groups wrote, not a cached copy */
    volatile __global const float *vp = part;
#pragma unroll
    for (int r = 0; r < GEMMG__WM; ++r)
#pragma unroll
      for (int c = 0; c < GEMMG__WN; ++c) {
        float v = 0.0f;
        for (int s = 0; s < GEMMG__S; ++s)
          v += vp[s * (GEMMG__TM * GEMMG__TN) + (ty + 16 * r) * GEMMG__TN + tx + 16 * c];
        acc[r][c] = v;
      }
    if (tid == 0) *count = 0; /* ready for the next launch */
  }
#endif
#pragma unroll
  for (int r = 0; r < GEMMG__WM; ++r)
#pragma unroll
    for (int c = 0; c < GEMMG__WN; ++c) {
      const int i = i0 + ty + 16 * r, j = j0 + tx + 16 * c;
      if (i < GEMM_M && j < GEMM_N) GEMM_STORE(i, j, acc[r][c]);
    }
}

#undef GEMMG__BATCH
#undef GEMMG__ASTR
#undef GEMMG__BSTR
#undef GEMMG__KSEG
#undef GEMMG__ASEG
#undef GEMMG__BSEG
#undef GEMMG__WM
#undef GEMMG__WN
#undef GEMMG__TM
#undef GEMMG__TN
#undef GEMMG__TK
#undef GEMMG__TILES_M
#undef GEMMG__TILES_N
#undef GEMMG__KSTEPS
#undef GEMMG__S
#undef GEMMG__PER
#undef GEMMG__AKO
#undef GEMMG__A
#undef GEMMG__ASI
#undef GEMMG__ASK
#undef GEMMG__BC0
#undef GEMMG__BC1
#undef GEMMG__B
#undef GEMMG__A_K_FAST
#undef GEMMG__B_J_FAST
