/* cl_gemm_choice.h — GC_GEMM_AUTO's decisions on disk: which GEMM (graphc's
 * kernel or CLBlast) was faster for one product shape on one device, kept
 * in the cache directory next to the program binaries so that a later
 * compile does not time the shape again.
 *
 * Entry file <cache dir>/gemm-<16 hex digits of key>.choice, text:
 *   graphc-gemm-choice 1
 *   key <16 hex digits>
 *   gemm <m> <n> <k> <trans_a> <trans_b> <batch>
 *   own_seconds <median seconds per product, graphc's kernel>
 *   clblast_seconds <the same for CLBlast, -1 when CLBlast failed>
 *   pick own|clblast
 *   check <16 hex digits: FNV-1a 64 of every byte before this line>
 * An entry is a hint, not trusted: one that fails any check (size,
 * format, checksum, key, shape, times that are not positive and finite,
 * or a pick the times do not support) is removed and the shape timed
 * again. Entries are written to a temporary file and renamed, so that
 * readers see a whole entry or none. */
#ifndef GC_CL_GEMM_CHOICE_H
#define GC_CL_GEMM_CHOICE_H

#include <stdint.h>

#include "backends/opencl/cl_blas.h"
#include "backends/opencl/cl_device.h"

typedef struct cl_gemm_choice {
  double own_seconds;     /* median per product, graphc's kernel */
  double clblast_seconds; /* CLBlast's; -1 when it failed on this shape */
  int clblast;            /* 1: CLBlast runs the shape (strictly faster) */
} cl_gemm_choice;

/* The key of g's decision on d: the device and driver identity, the
 * CLBlast and graphc versions, the shape, transposes, pitches and batch
 * strides, and own_src, the source of graphc's kernel as timed (so a new
 * tile choice or template is timed again). */
uint64_t cl_gemm_choice_key(const cl_dev *d, const cl_blas_gemm *g, const char *own_src);

/* The entry's path into sb; -1 when caching is off (GRAPHC_CACHE_DIR=off
 * or no usable directory). */
int cl_gemm_choice_path(uint64_t key, strbuf *sb);

/* Reads key's entry for g. Returns 1 and fills *out when a valid entry
 * exists; 0 when caching is off, there is none, or it is invalid (then it
 * is removed). */
int cl_gemm_choice_load(uint64_t key, const cl_blas_gemm *g, cl_gemm_choice *out);

/* Writes key's entry (best effort: a failure leaves no file and is not
 * reported, since a missing entry only costs a measurement). */
void cl_gemm_choice_store(uint64_t key, const cl_blas_gemm *g, const cl_gemm_choice *c);

#endif
