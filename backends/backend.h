/* backend.h — what a backend provides (a small vtable) and the compiled
 * program and session objects the public API hands out.
 *
 * gc_compile (backends/program.c) clones the graph, runs the pass pipeline
 * (shapes, simplify, split_updates, schedule, fuse, plan) and then the
 * backend's program_build. A session owns the run-time storage. Storage addressed
 * by write/read is the persistent storage of a node: inputs, params,
 * constants, optimizer state and outputs (mem_plan kind STORE_PERSIST). */
#ifndef GC_BACKEND_H
#define GC_BACKEND_H

#include "passes/passes.h"

typedef struct gc_backend gc_backend;

struct gc_device {
  const gc_backend *be;
  void *impl; /* cl_dev * for OpenCL, NULL for the reference backend */
  char name[300];
};

struct gc_program {
  const gc_backend *be;
  gc_device *dev; /* not owned; must outlive the program */
  ir_graph *g;    /* the compiled graph, owned */
  int32_t *order; /* schedule: every node id, in execution order */
  fuse_plan fuse; /* groups in launch order */
  mem_plan mem;   /* storage of every node */
  gc_program_stats stats;
  void *impl; /* the backend's compiled state */
};

struct gc_session {
  gc_program *p;
  void *impl;
};

struct gc_backend {
  const char *name;
  /* Builds the backend's state for p (p->g, order, fuse, mem are set). */
  gc_status (*program_build)(gc_program *p, const gc_compile_options *opt);
  void (*program_free)(gc_program *p);
  /* Allocates storage and uploads the initial values of params, constants
   * and state (node->data). */
  gc_status (*session_new)(gc_session *s);
  void (*session_free)(gc_session *s);
  /* Host -> persistent storage of node, at a byte offset. */
  gc_status (*write)(gc_session *s, int32_t node, size_t offset, const void *data, size_t bytes);
  /* Persistent storage of node -> host, waiting for queued work. */
  gc_status (*read)(gc_session *s, int32_t node, void *data, size_t bytes);
  gc_status (*run)(gc_session *s);
  gc_status (*finish)(gc_session *s);
  /* Optional (NULL: unsupported): per-kernel device time. */
  gc_status (*set_profiling)(gc_session *s, int on);
  gc_status (*profile)(gc_session *s, gc_kernel_profile *out, int max, int *count);
};

extern const gc_backend gc_backend_ref;
extern const gc_backend gc_backend_opencl;

#endif
