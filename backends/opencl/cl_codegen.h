/* cl_codegen.h — turns a compiled program's kernel groups into ONE OpenCL
 * source with one kernel per group, plus the launch list that replays it.
 *
 * Buffers: indices 0 .. narenas-1 are the arenas (intermediates at
 * planned offsets; more than one only where a single arena would pass the
 * device's largest allocation), every other index is one persistent root
 * (input, param, constant, state, output). Offsets and shapes are compile-time constants in the
 * source, so a kernel's arguments are just its buffers and never change. */
#ifndef GC_CL_CODEGEN_H
#define GC_CL_CODEGEN_H

#include <stdint.h>

#include "backends/backend.h"
#include "backends/opencl/cl_device.h"

struct cl_blas_gemm;

typedef struct cl_launch {
  char name[32];
  int group;
  cl_uint work_dim;
  size_t global[3], local[3];
  int nargs;
  int *args;    /* buffer indices, in kernel parameter order */
  char *source; /* this kernel's text alone (for --emit-cl) */
  /* Non-NULL: not a kernel of the program but a CLBlast call over args
   * (cl_blas.h); owned. */
  struct cl_blas_gemm *blas;
} cl_launch;

typedef struct cl_codegen {
  char *source; /* the whole program */
  cl_launch *launches;
  int nlaunches;
  int nbuffers;         /* arenas + persistent roots */
  int32_t *buffer_node; /* buffer index -> root node (-1 - a for arena a) */
  int32_t *buffer_of;   /* node -> buffer index (-1 if not stored) */
  /* The GEMMs' scratch (a split K: kernels/gemm_gpu.cl), shared by the
   * kernels that need one (they run one at a time, in order): its buffer
   * index (marked CL_SCRATCH_NODE in buffer_node), or -1; its size, whose
   * contents must start as zeros. */
  int scratch_buffer;
  size_t scratch_bytes;
} cl_codegen;

/* buffer_node's mark of the scratch buffer. */
#define CL_SCRATCH_NODE INT32_MIN

/* use_clblast (may be NULL): per fuse group, nonzero to run that group
 * (a cl_blas_candidate) as a CLBlast call instead of a kernel. */
gc_status cl_codegen_run(const gc_program *p, const cl_dev *d, const uint8_t *use_clblast,
                         cl_codegen *out);
void cl_codegen_free(cl_codegen *c);

#endif
