/* onnx_internal.h — what the ONNX importer's driver (frontend/onnx.c: files,
 * tensors, the tensor table, the walk over the nodes) shares with the op
 * mapping table (frontend/onnx_ops.c, frontend/onnx_fold.c).
 *
 * Every ONNX tensor name has an entry: its graph value (made lazily, so an
 * initializer or input that only feeds shape computations never becomes a
 * graph node) and, when it is known at import time, its host value. Host
 * values keep integers as i64, floats as f32 and bools as bool. */
#ifndef GC_FRONTEND_ONNX_INTERNAL_H
#define GC_FRONTEND_ONNX_INTERNAL_H

#include <stdbool.h>

#include "ir/ir.h"
#include "onnx.pb-c.h"

/* ONNX TensorProto.DataType values we meet. */
enum {
  OX_FLOAT = 1,
  OX_UINT8 = 2,
  OX_INT8 = 3,
  OX_UINT16 = 4,
  OX_INT16 = 5,
  OX_INT32 = 6,
  OX_INT64 = 7,
  OX_STRING = 8,
  OX_BOOL = 9,
  OX_FLOAT16 = 10,
  OX_DOUBLE = 11,
  OX_UINT32 = 12,
  OX_UINT64 = 13
};

typedef struct ox_entry {
  const char *name; /* owned by the parsed model */
  int onnx_type;    /* its ONNX element type (0 when not known) */
  gc_value v;       /* graph value, invalid until materialized */
  gc_tensor *known; /* host value known at import time, or NULL */
  gc_tensor *bound; /* a bound float input's value (the graph still reads it
                     * as data), for parameters that must be static */
  bool is_param;    /* a float initializer: becomes a parameter */
  bool runtime;     /* a graph input: known only through gc_onnx_options */
  int input;        /* index into info->inputs for a graph input, else -1 */
} ox_entry;

typedef struct ox_ctx {
  const char *file; /* for messages */
  gc_graph *g;
  int64_t opset;
  gc_onnx_info *info;
  ox_entry *e;
  int ne, cap;
  int32_t *hash; /* open addressing over e, hcap a power of two */
  int hcap;
  const Onnx__NodeProto *node; /* the node being mapped */
  int node_index;
  int uniq; /* counter for names of generated parameters */
  /* The outputs of the node recorded in info->random (owned by the
   * parsed model), matched to graph outputs at the end. */
  const char *random_out[2];
} ox_ctx;

/* A mapping function turns node n into graph values (or host values) for
 * its outputs through ox_out / ox_out_known. */
typedef gc_status (*ox_map_fn)(ox_ctx *c, const Onnx__NodeProto *n);

typedef struct ox_op {
  const char *type;
  ox_map_fn map;
  /* Optional: computes the outputs on the host when every input is a
   * static host value; sets *done = false to decline (e.g. too large). */
  gc_status (*fold)(ox_ctx *c, const Onnx__NodeProto *n, bool *done);
} ox_op;

/* The mapping table (onnx_ops.c); NULL for an unknown op type. */
const ox_op *ox_find_op(const char *type);

/* ---- errors (onnx.c) ---- */

/* Records "FILE: node N "name" (Op): message" and returns st. */
gc_status ox_err(ox_ctx *c, gc_status st, const char *fmt, ...) GC_PRINTF(3, 4);
/* GC_ERR_UNSUPPORTED naming what (an op type or feature), which also goes
 * to info->unsupported when it is the first. */
gc_status ox_unsupported(ox_ctx *c, const char *what, const char *fmt, ...) GC_PRINTF(3, 4);

/* ---- node inputs ---- */

int ox_nin(const ox_ctx *c); /* inputs listed, including empty (absent) ones */
bool ox_has(const ox_ctx *c, int k);
ox_entry *ox_input_entry(ox_ctx *c, int k); /* NULL when absent */
/* The graph value of input k, materialized on first use (an invalid value
 * with the graph's sticky error set on failure). */
gc_value ox_in(ox_ctx *c, int k);
/* The host value of input k if known (static or bound), else NULL. */
const gc_tensor *ox_known(ox_ctx *c, int k);
/* The known value, else the value a float graph input was bound to at
 * import: for inputs the op needs on the host (Resize scales, Dropout
 * ratio) that ONNX passes as tensors. NULL if neither. */
const gc_tensor *ox_host_value(ox_ctx *c, int k);
/* Known and foldable: not a parameter. */
bool ox_static(ox_ctx *c, int k);
/* Input k as a list of integers, required to be known ("axes", "shape"). */
gc_status ox_ints_in(ox_ctx *c, int k, int64_t *out, int max, int *n);
/* The shape and ONNX type of input k without materializing it. */
gc_shape ox_in_shape(ox_ctx *c, int k);
int ox_in_type(ox_ctx *c, int k);

/* ---- node outputs ---- */

int ox_nout(const ox_ctx *c);
bool ox_out_wanted(const ox_ctx *c, int k); /* listed and non-empty */
gc_status ox_out(ox_ctx *c, int k, gc_value v, int onnx_type);
gc_status ox_out_known(ox_ctx *c, int k, gc_tensor *t, int onnx_type); /* takes t */
/* Output k as an empty host value (s has a zero dim). Graph values have
 * no zero dims (the IR, the planner and OpenCL, which refuses empty
 * buffers and launches, all assume elements); an empty tensor is fully
 * given by its dtype and shape, so the importer keeps it on the host,
 * folds the ops that read it, and an empty graph output is reported with
 * in_graph = 0 instead of being computed. */
gc_status ox_out_empty(ox_ctx *c, int k, gc_shape s, int onnx_type);

/* ---- attributes ---- */

const Onnx__AttributeProto *ox_attr(const ox_ctx *c, const char *name);
int64_t ox_attr_int(const ox_ctx *c, const char *name, int64_t def);
float ox_attr_float(const ox_ctx *c, const char *name, float def);
/* Copies at most max ints; returns the count, or -1 when absent. */
int ox_attr_ints(const ox_ctx *c, const char *name, int64_t *out, int max);
int ox_attr_floats(const ox_ctx *c, const char *name, float *out, int max);
/* The string attribute (NUL-terminated copy in buf), or def. */
const char *ox_attr_str(const ox_ctx *c, const char *name, const char *def, char *buf, size_t n);

/* ---- tensors (onnx.c) ---- */

/* Converts a TensorProto to a host tensor (ints as i64 when wide_ints, else
 * as the gc_tensor_read rules say). Fails cleanly on malformed data. */
gc_status ox_tensor_from_proto(const Onnx__TensorProto *tp, const char *what, bool wide_ints,
                               gc_tensor **out);
gc_dtype ox_host_dtype(int onnx_type); /* GC_DTYPE_COUNT when not supported */
const char *ox_type_name(int onnx_type);
/* A fresh, unique parameter or constant name derived from base. */
const char *ox_fresh_name(ox_ctx *c, const char *base, char *buf, size_t n);
/* Materializes a host value as a graph constant (i64 becomes i32). */
gc_value ox_const_value(ox_ctx *c, const gc_tensor *t);

#endif
