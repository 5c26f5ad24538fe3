/* variants.h — whether the op suites (test_cl_ops, test_cl_elem_ops,
 * test_cl_nn_ops) also compile and run every case with no_fuse (and
 * test_cl_ops with no_plan), comparing them with the fused, planned
 * program within 1e-5. Set by GRAPHC_TEST_UNFUSED=1: the "long" ctest
 * entries *_unfused and *_gpu_forms (tests/CMakeLists.txt). The default
 * run checks the fused program against the reference only: on a cold
 * PoCL cache the unfused compiles and first runs cost more than the fused
 * ones (test_cl_nn_ops: 248 of 440 s), and fused against unfused is
 * checked by default on every registry model (test_cl_budgets), the
 * fusion cases (test_cl_fusion) and the ONNX subset. */
#ifndef GC_TEST_VARIANTS_H
#define GC_TEST_VARIANTS_H

#include <stdbool.h>
#include <stdlib.h>

static inline bool test_unfused_variants(void) {
  const char *e = getenv("GRAPHC_TEST_UNFUSED");
  return e && *e && *e != '0';
}

#endif
