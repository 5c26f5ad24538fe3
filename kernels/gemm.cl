/* gemm.cl — graphc's GEMM micro-kernel for CPU OpenCL (PoCL), as a template.
 *
 * C[i][j] = sum_k A[i][k] * B[k][j], each result handed to GEMM_STORE (the
 * fusion epilogue). backends/opencl/cl_gemm.c defines the macros below, pastes
 * this text, then #undefs them, so one program may hold many instances (the
 * template #undefs its own GEMM__* helpers; it defines no functions but the
 * kernel). All sizes, pitches and offsets are compile-time constants, so the
 * compiler folds every index.
 *
 * Required: GEMM_NAME, GEMM_PARAMS (parameter list text), GEMM_M, GEMM_N,
 * GEMM_K, GEMM_TRANS_A (0: A is [M,K] with pitch GEMM_LDA; 1: stored [K,M]),
 * GEMM_TRANS_B (0: B is [K,N] with pitch GEMM_LDB; 1: stored [N,K]), GEMM_LDA,
 * GEMM_LDB, GEMM_A and GEMM_B (`__global const float *` expressions),
 * GEMM_STORE(i, j, v) (a statement; `gemm_b`, the batch index, is in scope;
 * i and j are int, v the float result).
 * Optional: GEMM_BATCH (1), GEMM_A_BATCH_STRIDE / GEMM_B_BATCH_STRIDE (0 =
 * broadcast), and the blocking the generator chose: GEMM_MR x GEMM_NR
 * register tile (NR = 4, 8 or 16; MR <= M), GEMM_MC rows of C per work-item
 * (a multiple of MR), GEMM_KC (K block), GEMM_BAND, GEMM_PACK.
 *
 * Implicit-GEMM hooks (convolutions, backends/opencl/cl_conv.c), all
 * optional, none allowed with TRANS_A && TRANS_B:
 * - GEMM_KSEG (1): C = sum over s < KSEG of A_s B_s, each a K-long product;
 *   A_s / B_s start GEMM_A_SEG_STRIDE / GEMM_B_SEG_STRIDE elements after
 *   A_{s-1} / B_{s-1}. A K block never straddles two segments, so a
 *   product whose K axis is "image, then pixel" (a weight gradient) reads
 *   A with constant strides inside every block.
 * - GEMM_A_SI, GEMM_A_SK (both or neither): A's element (i, k) is
 *   a[i * SI + k * SK], replacing TRANS_A and LDA (a permuted weight read
 *   in place).
 * - GEMM_B_GATHER(s, k, j, c0, c1): a float expression, B's element (k, j)
 *   of segment s in batch gemm_b, replacing GEMM_B and the strip copy's
 *   loads (im2col on the fly: the copy already moves every element of B
 *   once per work-item into private memory, so the gather costs no extra
 *   pass). c0 / c1 are GEMM_B_COL0(s, j) / GEMM_B_COL1(s, j) (int
 *   expressions, optional, 0 if undefined), evaluated once per column of
 *   the strip at the start of each segment: an im2col address splits into
 *   a column part and a row part, and computing the column part (and, in a
 *   transposed convolution, the tap's bounds test) out of the K loop by
 *   hand leaves the gather an add and a load (LLVM 15 did not reassociate
 *   it out of the loop).
 *   TRANS_B must be 0; GEMM_B / LDB are then unused.
 * - GEMM_A_GATHER(s, k, i, r0, ko): a float expression, A's element (i,
 *   k) of segment s in batch gemm_b, replacing GEMM_A's loads. r0 is
 *   GEMM_A_ROW(s, i), a `__global const float *` (required with the
 *   gather), evaluated once per row of a register tile and K block; ko is
 *   GEMM_A_KOFF(s, k) (int, optional, 0 if undefined), evaluated once per
 *   k of a K block into a private table. A is the operand broadcast one
 *   scalar at a time, so an im2col element gathered here as `r0[ko]` costs
 *   what an in-place A costs, one broadcast from memory (r0 a register per
 *   row, ko one load per k; an int sum `x[o + ko]` instead had LLVM 15
 *   vectorize the six row offsets and extract them again, in the FMAs'
 *   ports). A gather on the B side builds each floatNR row from NR scalar
 *   loads. TRANS_A must be 0; GEMM_A / LDA are then unused.
 * - GEMM_A_ROWLIVE(s, i) (with GEMM_A_GATHER; int, optional): 0 when row i
 *   of A is zero throughout segment s (a tap of a transposed convolution
 *   that reaches no input pixel there). The row then keeps the sum it had
 *   before the segment, and its gather may read any element in range; a
 *   tile none of whose rows is live skips the segment. A test per element
 *   instead compiled to branches and spilled accumulators.
 * - GEMM_GROUP (1): tiles per work-item, consecutive in the walk below.
 *   PoCL spends about as long starting a work-group as a K = 9 tile takes
 *   (a conv with one input channel), so small tiles come in groups.
 * - GEMM_C_PTR(i, j): when GEMM_STORE(i, j, v) is a plain store of v into
 *   row-contiguous memory, a `__global float *` to C's element (i, j):
 *   strips not shifted back are then stored with one vstore per row
 *   instead of NR guarded scalar stores (a conv's K can be as short as 9,
 *   and then the scalar epilogue costs more than the products).
 * - GEMM_STORE8(i, j, v): a statement, the epilogue on eight results at
 *   once: v is a float8 holding C(i, j .. j + 7). Used, when NR >= 8, for
 *   strips not shifted back (GEMM_STORE still handles the shifted last
 *   strip), so an epilogue as heavy as an Adam update runs as vector code
 *   rather than NR scalar copies. Not with TRANS_A && TRANS_B.
 *
 * Design (measured on PoCL 3.1, AVX2; see /work/shared/POCL_NOTES.md): one
 * work-item computes an MC x NR strip of C as MC/MR register tiles of MR
 * floatNR accumulators, each over all of K with fma(): per k one row of B
 * times MR broadcast scalars of A — LLVM emits the textbook vbroadcastss +
 * vfmadd231ps loop, 6 x 16 filling 12 of the 16 ymm registers. No local
 * memory, no barriers, local size 1.
 *
 * B's strip is copied per K block into a private array (16 KB at KC 256):
 * read in place it is one cache line per k at a stride of LDB, which at
 * power-of-2 pitches maps into a few cache sets and defeats the page-bound
 * prefetchers (1024^3 ran at 40 GFLOP/s in place, 130+ copied). The copy
 * also absorbs the transposes and edges:
 * - TRANS_B: the copy transposes NR rows of B [N,K], each read contiguously
 *   (the alternative, a dot-product tile of float8 accumulators along K,
 *   measured 0.54x of OpenBLAS at 1024^3 against 0.79x for this, and the
 *   same on the MLP's 64x256x784);
 * - N < NR: guarded loads with zero padding;
 * - TRANS_A && TRANS_B: C^T = B_stored * A_stored is an NN product, so the
 *   template swaps the operands and the epilogue's i and j.
 * TRANS_A reads A's MR values per k contiguously, at a stride of LDA
 * (~0.7x of OpenBLAS at 1024^3; a private copy of A's K x MC panel per K
 * block measured no faster, so there is none).
 * Edges cost nothing in the loop: the last row tile / column strip is
 * shifted back to end at M / N (never a vload past a row's end) and stores
 * only what no other tile owns. */

#if !defined(GEMM_NAME) || !defined(GEMM_PARAMS) || !defined(GEMM_M) || !defined(GEMM_N) || \
    !defined(GEMM_K) || !defined(GEMM_TRANS_A) || !defined(GEMM_TRANS_B) ||                  \
    !defined(GEMM_LDA) || !defined(GEMM_LDB) || !defined(GEMM_A) || !defined(GEMM_B) ||     \
    !defined(GEMM_STORE)
#error "gemm.cl: a required GEMM_* macro is not defined"
#endif

/* ---- internal names (GEMM__*), all #undef'd at the end ---- */
#define GEMM__CAT2(a, b) a##b
#define GEMM__CAT(a, b) GEMM__CAT2(a, b)

#ifdef GEMM_BATCH
#define GEMM__BATCH (GEMM_BATCH)
#else
#define GEMM__BATCH 1
#endif
#ifdef GEMM_GROUP
#define GEMM__GROUP (GEMM_GROUP)
#else
#define GEMM__GROUP 1
#endif
#ifdef GEMM_BAND
#define GEMM__BAND (GEMM_BAND)
#else
#define GEMM__BAND 1
#endif
#ifdef GEMM_A_BATCH_STRIDE
#define GEMM__ASTR_IN (GEMM_A_BATCH_STRIDE)
#else
#define GEMM__ASTR_IN 0
#endif
#ifdef GEMM_B_BATCH_STRIDE
#define GEMM__BSTR_IN (GEMM_B_BATCH_STRIDE)
#else
#define GEMM__BSTR_IN 0
#endif

/* TT: C^T[N,M] = Bs[N,K] * As[K,M], both row-major: run NN with the roles
 * swapped and transpose the store. */
#if GEMM_TRANS_A && GEMM_TRANS_B
#define GEMM__M (GEMM_N)
#define GEMM__N (GEMM_M)
#define GEMM__A (GEMM_B)
#define GEMM__B (GEMM_A)
#define GEMM__LDA (GEMM_LDB)
#define GEMM__LDB (GEMM_LDA)
#define GEMM__ASTR GEMM__BSTR_IN
#define GEMM__BSTR GEMM__ASTR_IN
#define GEMM__TA 0
#define GEMM__TB 0
#define GEMM__STORE(i, j, v) GEMM_STORE(j, i, v)
#else
#define GEMM__M (GEMM_M)
#define GEMM__N (GEMM_N)
#define GEMM__A (GEMM_A)
#define GEMM__B (GEMM_B)
#define GEMM__LDA (GEMM_LDA)
#define GEMM__LDB (GEMM_LDB)
#define GEMM__ASTR GEMM__ASTR_IN
#define GEMM__BSTR GEMM__BSTR_IN
#define GEMM__TA (GEMM_TRANS_A)
#define GEMM__TB (GEMM_TRANS_B)
#define GEMM__STORE(i, j, v) GEMM_STORE(i, j, v)
#endif
#define GEMM__K (GEMM_K)
#ifdef GEMM_KSEG
#define GEMM__KSEG (GEMM_KSEG)
#else
#define GEMM__KSEG 1
#endif
#ifdef GEMM_A_SEG_STRIDE
#define GEMM__ASEG (GEMM_A_SEG_STRIDE)
#else
#define GEMM__ASEG 0
#endif
#ifdef GEMM_B_SEG_STRIDE
#define GEMM__BSEG (GEMM_B_SEG_STRIDE)
#else
#define GEMM__BSEG 0
#endif
#if (defined(GEMM_B_GATHER) || defined(GEMM_A_SI) || GEMM__KSEG > 1) && GEMM_TRANS_A && GEMM_TRANS_B
#error "gemm.cl: the implicit-GEMM hooks do not combine with TRANS_A && TRANS_B"
#endif
#if defined(GEMM_B_GATHER) && GEMM_TRANS_B
#error "gemm.cl: GEMM_B_GATHER needs TRANS_B 0"
#endif
#if defined(GEMM_A_GATHER) && (GEMM_TRANS_A || defined(GEMM_A_SI))
#error "gemm.cl: GEMM_A_GATHER needs TRANS_A 0 and no GEMM_A_SI"
#endif
#if defined(GEMM_STORE8) && GEMM_TRANS_A && GEMM_TRANS_B
#error "gemm.cl: GEMM_STORE8 does not combine with TRANS_A && TRANS_B"
#endif

#ifdef GEMM_MR
#define GEMM__MR GEMM_MR
#else
#define GEMM__MR 6
#endif
#ifdef GEMM_NR
#define GEMM__NR GEMM_NR
#else
#define GEMM__NR 16
#endif
#ifdef GEMM_MC
#define GEMM__MC GEMM_MC
#else
#define GEMM__MC (8 * GEMM__MR)
#endif
#ifdef GEMM_KC
#define GEMM__KC GEMM_KC
#else
#define GEMM__KC 256
#endif
#ifdef GEMM_PACK
#define GEMM__PACK GEMM_PACK
#else
#define GEMM__PACK 1
#endif
#define GEMM__VT GEMM__CAT(float, GEMM__NR)
#define GEMM__VLOAD GEMM__CAT(vload, GEMM__NR)
#define GEMM__VSTORE GEMM__CAT(vstore, GEMM__NR)
#define GEMM__MB (GEMM__MC / GEMM__MR)                 /* row tiles per block */
#define GEMM__TM ((GEMM__M + GEMM__MC - 1) / GEMM__MC) /* row blocks */
#define GEMM__TN ((GEMM__N + GEMM__NR - 1) / GEMM__NR) /* column strips */
/* A's element (i0 + r, k), a = A + (i0) * GEMM__ASI: constant strides */
#if defined(GEMM_A_SI)
#define GEMM__ASI (GEMM_A_SI)
#define GEMM__ASK (GEMM_A_SK)
#elif GEMM__TA
#define GEMM__ASI 1
#define GEMM__ASK (GEMM__LDA)
#else
#define GEMM__ASI (GEMM__LDA)
#define GEMM__ASK 1
#endif
#ifdef GEMM_A_GATHER
#ifdef GEMM_A_KOFF
#define GEMM__AKO(k) ako[k]
#else
#define GEMM__AKO(k) 0
#endif
#define GEMM__AT(r, k) GEMM_A_GATHER(seg, kb + (k), i0 + (r), arow[r], GEMM__AKO(k))
#else
#define GEMM__AT(r, k) a[(r) * GEMM__ASI + (k) * GEMM__ASK]
#endif
/* more than one K block in all: partial sums live between blocks */
#define GEMM__MULTI (GEMM__KSEG * ((GEMM__K + GEMM__KC - 1) / GEMM__KC) > 1)
/* B's row k of the strip: from the private copy, or straight from global */
#if GEMM__PACK || GEMM__N < GEMM__NR || GEMM__TB || defined(GEMM_B_GATHER)
#define GEMM__BROW(k) bp[k]
#else
#define GEMM__BROW(k) GEMM__VLOAD(0, b + (k) * GEMM__LDB)
#endif

__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void GEMM_NAME(GEMM_PARAMS) {
  const int wid = (int)(get_global_id(0) + get_global_id(1) * get_global_size(0));
  /* GEMM__GROUP consecutive tiles per work-item (see GEMM_GROUP) */
  for (int id = wid * GEMM__GROUP; id < (wid + 1) * GEMM__GROUP; ++id) {
    if (id >= GEMM__TM * GEMM__TN * GEMM__BATCH) return;
    const int gemm_b = id / (GEMM__TM * GEMM__TN);
    const int t = id % (GEMM__TM * GEMM__TN);
    /* Bands of GEMM__BAND row blocks; inside a band the row block varies
     * fastest (GEMM__BAND = 1: the column strip does). PoCL hands each
     * thread consecutive work-items, which then share operands in L2. */
    const int band = t / (GEMM__BAND * GEMM__TN);
    const int in_band = t % (GEMM__BAND * GEMM__TN);
    const int rows = min(GEMM__BAND, GEMM__TM - band * GEMM__BAND);
    const int ib = (band * GEMM__BAND + in_band % rows) * GEMM__MC;
    const int jown = (in_band / rows) * GEMM__NR; /* first column this strip stores */
    /* The last column strip / row tile is shifted back to end at N / M (the
     * generator keeps MR <= M): every offset inside a tile is a constant,
     * every vload is in range, and a tile stores only what it owns. */
#if GEMM__N >= GEMM__NR
    const int j0 = min(jown, GEMM__N - GEMM__NR);
#else
    const int j0 = 0;
#endif
    GEMM__VT bp[GEMM__KC];
#if GEMM__MULTI
    GEMM__VT part[GEMM__MB][GEMM__MR]; /* partial sums between K blocks */
#endif
    for (int seg = 0; seg < GEMM__KSEG; ++seg) {
#ifdef GEMM_B_GATHER
      int bc0[GEMM__NR], bc1[GEMM__NR]; /* the gather's per-column parts */
#pragma unroll
      for (int c = 0; c < GEMM__NR; ++c) {
#ifdef GEMM_B_COL0
        bc0[c] = GEMM_B_COL0(seg, j0 + c);
#else
        bc0[c] = 0;
#endif
#ifdef GEMM_B_COL1
        bc1[c] = GEMM_B_COL1(seg, j0 + c);
#else
        bc1[c] = 0;
#endif
      }
#endif
      for (int kb = 0; kb < GEMM__K; kb += GEMM__KC) {
        const int kc = min(GEMM__KC, GEMM__K - kb);
        const bool first = seg == 0 && kb == 0;
        const bool last = seg == GEMM__KSEG - 1 && kb + GEMM__KC >= GEMM__K;
        (void)first;
        (void)last;
#ifdef GEMM_B_GATHER
        /* implicit GEMM: gather the strip's elements (zero past N) */
        for (int k = 0; k < kc; ++k) {
          float row[GEMM__NR];
#pragma unroll
          for (int c = 0; c < GEMM__NR; ++c)
            row[c] = (GEMM__N >= GEMM__NR || c < GEMM__N)
                         ? GEMM_B_GATHER(seg, kb + k, j0 + c, bc0[c], bc1[c])
                         : 0.0f;
          bp[k] = GEMM__VLOAD(0, row);
        }
#else
#if GEMM__TB
        __global const float *b =
            GEMM__B + gemm_b * GEMM__BSTR + seg * GEMM__BSEG + j0 * GEMM__LDB + kb;
#else
        __global const float *b =
            GEMM__B + gemm_b * GEMM__BSTR + seg * GEMM__BSEG + j0 + kb * GEMM__LDB;
#endif
#if GEMM__TB
        /* B stored [N,K]: transpose the strip while copying it, reading each of
         * its NR rows contiguously. */
        {
          float *bf = (float *)bp;
          for (int c = 0; c < GEMM__NR; ++c) {
            if (c < GEMM__N) {
              for (int k = 0; k < kc; ++k) bf[k * GEMM__NR + c] = b[c * GEMM__LDB + k];
            } else {
              for (int k = 0; k < kc; ++k) bf[k * GEMM__NR + c] = 0.0f;
            }
          }
        }
#elif GEMM__N < GEMM__NR
        /* narrow C: guarded loads, zero padding (small problems only) */
        for (int k = 0; k < kc; ++k) {
          float row[GEMM__NR];
#pragma unroll
          for (int c = 0; c < GEMM__NR; ++c) row[c] = c < GEMM__N ? b[k * GEMM__LDB + c] : 0.0f;
          bp[k] = GEMM__VLOAD(0, row);
        }
#elif GEMM__PACK
        /* B's strip has one cache line per k at a stride of LDB: at power-of-2
         * pitches it maps to a handful of cache sets and misses the page-bound
         * prefetchers. One contiguous private copy per K block serves every row
         * tile of the block from L1. */
        for (int k = 0; k < kc; ++k) bp[k] = GEMM__VLOAD(0, b + k * GEMM__LDB);
#endif
#endif /* GEMM_B_GATHER */
#if defined(GEMM_A_GATHER) && defined(GEMM_A_KOFF)
        int ako[GEMM__KC]; /* the gather's per-k part, shared by every row tile */
        for (int k = 0; k < kc; ++k) ako[k] = GEMM_A_KOFF(seg, kb + k);
#endif
        for (int tt = 0; tt < GEMM__MB; ++tt) {
          const int iown = ib + tt * GEMM__MR;
          if (iown >= GEMM__M) break;
          const int i0 = min(iown, GEMM__M - GEMM__MR);
#ifdef GEMM_A_GATHER
          __global const float *arow[GEMM__MR]; /* the gather's per-row parts */
#pragma unroll
          for (int r = 0; r < GEMM__MR; ++r) arow[r] = GEMM_A_ROW(seg, i0 + r);
#ifdef GEMM_A_ROWLIVE
          int live[GEMM__MR], any_live = 0;
#pragma unroll
          for (int r = 0; r < GEMM__MR; ++r) {
            live[r] = GEMM_A_ROWLIVE(seg, i0 + r);
            any_live |= live[r];
          }
#endif
#else
          __global const float *a = GEMM__A + gemm_b * GEMM__ASTR + seg * GEMM__ASEG +
                                    i0 * GEMM__ASI + kb * GEMM__ASK;
#endif
          GEMM__VT acc[GEMM__MR];
#if GEMM__MULTI
          if (!first) {
#pragma unroll
            for (int r = 0; r < GEMM__MR; ++r) acc[r] = part[tt][r];
          } else
#endif
          {
#pragma unroll
            for (int r = 0; r < GEMM__MR; ++r) acc[r] = (GEMM__VT)(0.0f);
          }
#ifdef GEMM_A_ROWLIVE
          if (any_live)
#endif
            for (int k = 0; k < kc; ++k) {
              const GEMM__VT bv = GEMM__BROW(k);
#pragma unroll
              for (int r = 0; r < GEMM__MR; ++r)
                acc[r] = fma((GEMM__VT)(GEMM__AT(r, k)), bv, acc[r]);
            }
#ifdef GEMM_A_ROWLIVE
#pragma unroll
          for (int r = 0; r < GEMM__MR; ++r) /* rows the segment does not reach */
#if GEMM__MULTI
            if (!live[r]) acc[r] = first ? (GEMM__VT)(0.0f) : part[tt][r];
#else
            if (!live[r]) acc[r] = (GEMM__VT)(0.0f);
#endif
#endif
#if GEMM__MULTI
          if (!last) {
#pragma unroll
            for (int r = 0; r < GEMM__MR; ++r) part[tt][r] = acc[r];
            continue;
          }
#endif
#pragma unroll
          for (int r = 0; r < GEMM__MR; ++r) {
            const int i = i0 + r;
            if (i >= iown) {
#if defined(GEMM_STORE8) && GEMM__N >= GEMM__NR && GEMM__NR == 16
              if (j0 == jown) { /* a full strip: two vector epilogues */
                GEMM_STORE8(i, j0, acc[r].lo);
                GEMM_STORE8(i, j0 + 8, acc[r].hi);
                continue;
              }
#elif defined(GEMM_STORE8) && GEMM__N >= GEMM__NR && GEMM__NR == 8
              if (j0 == jown) {
                GEMM_STORE8(i, j0, acc[r]);
                continue;
              }
#elif defined(GEMM_C_PTR) && GEMM__N >= GEMM__NR
              if (j0 == jown) { /* a full strip: one vector store */
                GEMM__VSTORE(acc[r], 0, GEMM_C_PTR(i, j0));
                continue;
              }
#endif
              float out[GEMM__NR];
              GEMM__VSTORE(acc[r], 0, out);
#pragma unroll
              for (int c = 0; c < GEMM__NR; ++c) {
                const int j = j0 + c;
                if (j >= jown && j < GEMM__N) GEMM__STORE(i, j, out[c]);
              }
            }
          }
        }
      }
    } /* seg */
  } /* id */
}

#undef GEMM__MR
#undef GEMM__NR
#undef GEMM__VT
#undef GEMM__VLOAD
#undef GEMM__VSTORE
#undef GEMM__TM
#undef GEMM__TN
#undef GEMM__AT
#undef GEMM__AKO
#undef GEMM__ASI
#undef GEMM__ASK
#undef GEMM__MULTI
#undef GEMM__KSEG
#undef GEMM__ASEG
#undef GEMM__BSEG
#undef GEMM__MC
#undef GEMM__KC
#undef GEMM__PACK
#undef GEMM__MB
#undef GEMM__BROW

#undef GEMM__CAT2
#undef GEMM__CAT
#undef GEMM__BATCH
#undef GEMM__BAND
#undef GEMM__GROUP
#undef GEMM__ASTR_IN
#undef GEMM__BSTR_IN
#undef GEMM__M
#undef GEMM__N
#undef GEMM__K
#undef GEMM__A
#undef GEMM__B
#undef GEMM__LDA
#undef GEMM__LDB
#undef GEMM__ASTR
#undef GEMM__BSTR
#undef GEMM__TA
#undef GEMM__TB
#undef GEMM__STORE
