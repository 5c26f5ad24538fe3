/* onnx.c — ONNX import: reads a ModelProto with protobuf-c (the parser is
 * generated from Debian's onnx.proto at build time), keeps a table of every
 * ONNX tensor (graph value and/or host value known at import time) and
 * walks the nodes in order, handing each to its mapping function
 * (onnx_ops.c). Also the host tensor API (TensorProto .pb files).
 *
 * Hostile files: protobuf-c rejects malformed wire data; everything the
 * wire format cannot check (dims, element counts against data sizes, names
 * that refer to nothing, types) is checked here before use. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend/onnx_internal.h"

#define BAD ((gc_value){-1})
/* Larger tensors are refused (2^31 elements); keeps every size product in
 * range and a hostile dim list from asking for absurd allocations. */
#define OX_MAX_NUMEL ((int64_t)1 << 31)

/* ------------------------------------------------------------ host tensors */

static bool numel_checked(gc_shape s, int64_t *out) {
  if (s.ndim < 0 || s.ndim > GC_MAX_DIMS) return false;
  int64_t n = 1;
  for (int i = 0; i < s.ndim; i++) {
    if (s.dim[i] < 0 || s.dim[i] > OX_MAX_NUMEL) return false;
    n *= s.dim[i];
    if (n > OX_MAX_NUMEL) return false;
  }
  *out = n;
  return true;
}

gc_status gc_tensor_new(const char *name, gc_dtype t, gc_shape s, const void *data,
                        gc_tensor **out) {
  if (!out) return gc_fail(GC_ERR_INVALID, "tensor_new: out is NULL");
  *out = NULL;
  int64_t n;
  if ((unsigned)t >= GC_DTYPE_COUNT) return gc_fail(GC_ERR_INVALID, "tensor_new: bad dtype");
  if (!numel_checked(s, &n)) return gc_fail(GC_ERR_SHAPE, "tensor_new: bad or too large shape");
  gc_tensor *x = calloc(1, sizeof *x);
  size_t bytes = (size_t)n * gc_dtype_size(t);
  if (x) x->data = calloc(1, bytes ? bytes : 1);
  if (x && name) x->name = strdup(name);
  if (!x || !x->data || (name && !x->name)) {
    gc_tensor_free(x);
    return gc_fail(GC_ERR_NOMEM, "tensor_new: out of memory (%zu bytes)", bytes);
  }
  x->dtype = t;
  x->shape = s;
  if (data && bytes) memcpy(x->data, data, bytes);
  *out = x;
  return GC_OK;
}

void gc_tensor_free(gc_tensor *t) {
  if (!t) return;
  free(t->name);
  free(t->data);
  free(t);
}

static double elem_f(const gc_tensor *t, int64_t i) {
  switch (t->dtype) {
    case GC_F32:
      return ((const float *)t->data)[i];
    case GC_I32:
      return ((const int32_t *)t->data)[i];
    case GC_I64:
      return (double)((const int64_t *)t->data)[i];
    default:
      return ((const uint8_t *)t->data)[i] != 0;
  }
}

static int64_t elem_i(const gc_tensor *t, int64_t i) {
  switch (t->dtype) {
    case GC_F32:
      return (int64_t)((const float *)t->data)[i];
    case GC_I32:
      return ((const int32_t *)t->data)[i];
    case GC_I64:
      return ((const int64_t *)t->data)[i];
    default:
      return ((const uint8_t *)t->data)[i] != 0;
  }
}

gc_status gc_tensor_convert(const gc_tensor *t, gc_dtype to, gc_tensor **out) {
  if (!t || !out) return gc_fail(GC_ERR_INVALID, "tensor_convert: null argument");
  gc_status st = gc_tensor_new(t->name, to, t->shape, NULL, out);
  if (st) return st;
  gc_tensor *r = *out;
  int64_t n = gc_shape_numel(t->shape);
  for (int64_t i = 0; i < n; i++) {
    switch (to) {
      case GC_F32:
        ((float *)r->data)[i] = (float)elem_f(t, i);
        break;
      case GC_I64:
        ((int64_t *)r->data)[i] = elem_i(t, i);
        break;
      case GC_BOOL:
        ((uint8_t *)r->data)[i] = elem_f(t, i) != 0;
        break;
      case GC_I32: {
        int64_t v = elem_i(t, i);
        if (v < INT32_MIN || v > INT32_MAX) {
          gc_tensor_free(r);
          *out = NULL;
          return gc_fail(GC_ERR_UNSUPPORTED,
                         "tensor_convert: %s element %lld = %lld does not fit in i32",
                         t->name ? t->name : "tensor", (long long)i, (long long)v);
        }
        ((int32_t *)r->data)[i] = (int32_t)v;
        break;
      }
      default:
        break;
    }
  }
  return GC_OK;
}

const char *ox_type_name(int t) {
  static const char *const names[] = {"undefined",  "float",   "uint8",  "int8",   "uint16",
                                      "int16",      "int32",   "int64",  "string", "bool",
                                      "float16",    "double",  "uint32", "uint64", "complex64",
                                      "complex128", "bfloat16"};
  return t >= 0 && t < (int)(sizeof names / sizeof names[0]) ? names[t] : "unknown";
}

gc_dtype ox_host_dtype(int t) {
  switch (t) {
    case OX_FLOAT:
      return GC_F32;
    case OX_INT64:
    case OX_UINT32:
    case OX_INT32:
    case OX_INT16:
    case OX_UINT16:
    case OX_INT8:
    case OX_UINT8:
      return GC_I64;
    case OX_BOOL:
      return GC_BOOL;
    default:
      return GC_DTYPE_COUNT;
  }
}

static size_t onnx_elem_size(int t) {
  switch (t) {
    case OX_FLOAT:
    case OX_INT32:
    case OX_UINT32:
      return 4;
    case OX_INT64:
    case OX_UINT64:
    case OX_DOUBLE:
      return 8;
    case OX_INT16:
    case OX_UINT16:
    case OX_FLOAT16:
      return 2;
    case OX_INT8:
    case OX_UINT8:
    case OX_BOOL:
      return 1;
    default:
      return 0;
  }
}

/* Reads element i of raw little-endian data of ONNX type t as i64. */
static int64_t raw_int(const uint8_t *p, int t, int64_t i) {
  switch (t) {
    case OX_INT64: {
      int64_t v;
      memcpy(&v, p + 8 * i, 8);
      return v;
    }
    case OX_INT32: {
      int32_t v;
      memcpy(&v, p + 4 * i, 4);
      return v;
    }
    case OX_UINT32: {
      uint32_t v;
      memcpy(&v, p + 4 * i, 4);
      return v;
    }
    case OX_INT16: {
      int16_t v;
      memcpy(&v, p + 2 * i, 2);
      return v;
    }
    case OX_UINT16: {
      uint16_t v;
      memcpy(&v, p + 2 * i, 2);
      return v;
    }
    case OX_INT8:
      return (int8_t)p[i];
    default:
      return p[i];
  }
}

gc_status ox_tensor_from_proto(const Onnx__TensorProto *tp, const char *what, bool wide_ints,
                               gc_tensor **out) {
  *out = NULL;
  int t = tp->has_data_type ? tp->data_type : 0;
  gc_dtype dt = ox_host_dtype(t);
  if (dt == GC_DTYPE_COUNT)
    return gc_fail(GC_ERR_UNSUPPORTED, "%s: dtype %s is not supported", what, ox_type_name(t));
  if (dt == GC_I64 && !wide_ints) dt = t == OX_INT64 || t == OX_UINT32 ? GC_I64 : GC_I32;
  if (tp->n_dims > GC_MAX_DIMS)
    return gc_fail(GC_ERR_FORMAT, "%s: %zu dims (at most %d)", what, tp->n_dims, GC_MAX_DIMS);
  gc_shape s = {(int)tp->n_dims, {0}};
  for (size_t i = 0; i < tp->n_dims; i++) s.dim[i] = tp->dims[i];
  int64_t n;
  if (!numel_checked(s, &n)) {
    char buf[160];
    return gc_fail(GC_ERR_FORMAT, "%s: bad dims %s (negative or over 2^31 elements)", what,
                   gc_shape_str(s, buf, sizeof buf));
  }
  if (tp->n_external_data || (tp->has_data_location && tp->data_location))
    return gc_fail(GC_ERR_UNSUPPORTED, "%s: external data is not supported", what);
  if (tp->segment)
    return gc_fail(GC_ERR_UNSUPPORTED, "%s: segmented tensors are not supported", what);
  size_t es = onnx_elem_size(t);
  const uint8_t *raw = NULL;
  size_t have;
  if (tp->has_raw_data) {
    raw = tp->raw_data.data;
    have = tp->raw_data.len / (es ? es : 1);
    if (tp->raw_data.len != (size_t)n * es)
      return gc_fail(GC_ERR_FORMAT, "%s: raw_data has %zu bytes, want %lld elements of %zu bytes",
                     what, tp->raw_data.len, (long long)n, es);
  } else if (t == OX_FLOAT) {
    have = tp->n_float_data;
  } else if (t == OX_INT64) {
    have = tp->n_int64_data;
  } else if (t == OX_UINT32) {
    have = tp->n_uint64_data;
  } else {
    have = tp->n_int32_data;
  }
  if (have != (size_t)n)
    return gc_fail(GC_ERR_FORMAT, "%s: holds %zu values, its dims say %lld", what, have,
                   (long long)n);
  gc_status st = gc_tensor_new(tp->name && *tp->name ? tp->name : NULL, dt, s, NULL, out);
  if (st) return st;
  gc_tensor *x = *out;
  for (int64_t i = 0; i < n; i++) {
    double f = 0;
    int64_t v = 0;
    if (t == OX_FLOAT) {
      if (raw)
        memcpy(&((float *)x->data)[i], raw + 4 * i, 4);
      else
        ((float *)x->data)[i] = tp->float_data[i];
      continue;
    }
    if (raw)
      v = raw_int(raw, t, i);
    else if (t == OX_INT64)
      v = tp->int64_data[i];
    else if (t == OX_UINT32)
      v = (int64_t)tp->uint64_data[i];
    else
      v = tp->int32_data[i];
    (void)f;
    switch (dt) {
      case GC_I64:
        ((int64_t *)x->data)[i] = v;
        break;
      case GC_I32:
        ((int32_t *)x->data)[i] = (int32_t)v;
        break;
      default:
        ((uint8_t *)x->data)[i] = v != 0;
        break;
    }
  }
  return GC_OK;
}

static gc_status read_file(const char *path, uint8_t **data, size_t *size) {
  *data = NULL;
  *size = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return gc_fail(errno == ENOENT ? GC_ERR_NOT_FOUND : GC_ERR_IO, "%s: %s", path, strerror(errno));
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  while (buf) {
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (n < cap) break;
    uint8_t *nb = cap < ((size_t)1 << 40) ? realloc(buf, cap * 2) : NULL;
    if (!nb) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = nb;
    cap *= 2;
  }
  int err = ferror(f);
  fclose(f);
  if (!buf) return gc_fail(GC_ERR_NOMEM, "%s: out of memory reading the file", path);
  if (err) {
    free(buf);
    return gc_fail(GC_ERR_IO, "%s: read error", path);
  }
  *data = buf;
  *size = n;
  return GC_OK;
}

gc_status gc_tensor_read(const char *path, gc_tensor **out) {
  if (!path || !out) return gc_fail(GC_ERR_INVALID, "tensor_read: null argument");
  *out = NULL;
  uint8_t *buf;
  size_t size;
  gc_status st = read_file(path, &buf, &size);
  if (st) return st;
  Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, size, buf);
  free(buf);
  if (!tp) return gc_fail(GC_ERR_FORMAT, "%s: not a valid ONNX TensorProto", path);
  st = ox_tensor_from_proto(tp, path, false, out);
  onnx__tensor_proto__free_unpacked(tp, NULL);
  return st;
}

gc_status gc_tensor_write(const char *path, const gc_tensor *t) {
  if (!path || !t || !t->data) return gc_fail(GC_ERR_INVALID, "tensor_write: null argument");
  int64_t n;
  if (!numel_checked(t->shape, &n) || (unsigned)t->dtype >= GC_DTYPE_COUNT)
    return gc_fail(GC_ERR_INVALID, "tensor_write: %s: bad shape or dtype", path);
  static const int types[] = {OX_FLOAT, OX_INT32, OX_INT64, OX_BOOL};
  Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
  int64_t dims[GC_MAX_DIMS];
  for (int i = 0; i < t->shape.ndim; i++) dims[i] = t->shape.dim[i];
  tp.n_dims = (size_t)t->shape.ndim;
  tp.dims = dims;
  tp.has_data_type = 1;
  tp.data_type = types[t->dtype];
  tp.name = t->name;
  tp.has_raw_data = 1;
  tp.raw_data.len = (size_t)n * gc_dtype_size(t->dtype);
  tp.raw_data.data = t->data;
  size_t size = onnx__tensor_proto__get_packed_size(&tp);
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf) return gc_fail(GC_ERR_NOMEM, "%s: out of memory", path);
  onnx__tensor_proto__pack(&tp, buf);
  /* A temporary name in the same directory, renamed into place, so that a
   * reader never sees half a file. */
  size_t plen = strlen(path) + 32;
  char *tmp = malloc(plen);
  if (!tmp) {
    free(buf);
    return gc_fail(GC_ERR_NOMEM, "%s: out of memory", path);
  }
  snprintf(tmp, plen, "%s.tmp%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  gc_status st = GC_OK;
  if (!f) {
    st = gc_fail(GC_ERR_IO, "%s: %s", tmp, strerror(errno));
  } else {
    size_t w = fwrite(buf, 1, size, f);
    if (fclose(f) != 0 || w != size) st = gc_fail(GC_ERR_IO, "%s: write failed", tmp);
    if (!st && rename(tmp, path) != 0) st = gc_fail(GC_ERR_IO, "%s: %s", path, strerror(errno));
    if (st) remove(tmp);
  }
  free(tmp);
  free(buf);
  return st;
}

/* ---------------------------------------------------------- error helpers */

static void vfail_node(ox_ctx *c, gc_status st, const char *fmt, va_list ap) {
  char msg[768];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (c->node)
    gc_fail(st, "%s: node %d \"%s\" (%s): %s", c->file, c->node_index,
            c->node->name ? c->node->name : "", c->node->op_type ? c->node->op_type : "?", msg);
  else
    gc_fail(st, "%s: %s", c->file, msg);
}

gc_status ox_err(ox_ctx *c, gc_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail_node(c, st, fmt, ap);
  va_end(ap);
  return st;
}

gc_status ox_unsupported(ox_ctx *c, const char *what, const char *fmt, ...) {
  if (c->info && !c->info->unsupported[0])
    snprintf(c->info->unsupported, sizeof c->info->unsupported, "%s", what);
  va_list ap;
  va_start(ap, fmt);
  vfail_node(c, GC_ERR_UNSUPPORTED, fmt, ap);
  va_end(ap);
  return GC_ERR_UNSUPPORTED;
}

/* ------------------------------------------------------------ tensor table */

static uint32_t hash_str(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

static ox_entry *find_entry(ox_ctx *c, const char *name) {
  if (!c->hcap || !name) return NULL;
  for (uint32_t i = hash_str(name) & (uint32_t)(c->hcap - 1);;
       i = (i + 1) & (uint32_t)(c->hcap - 1)) {
    int32_t k = c->hash[i];
    if (k < 0) return NULL;
    if (!strcmp(c->e[k].name, name)) return &c->e[k];
  }
}

static gc_status rehash(ox_ctx *c, int hcap) {
  int32_t *h = malloc(sizeof *h * (size_t)hcap);
  if (!h) return gc_fail(GC_ERR_NOMEM, "%s: out of memory", c->file);
  for (int i = 0; i < hcap; i++) h[i] = -1;
  for (int k = 0; k < c->ne; k++) {
    uint32_t i = hash_str(c->e[k].name) & (uint32_t)(hcap - 1);
    while (h[i] >= 0) i = (i + 1) & (uint32_t)(hcap - 1);
    h[i] = k;
  }
  free(c->hash);
  c->hash = h;
  c->hcap = hcap;
  return GC_OK;
}

/* A new entry for name; a name defined twice is an error (ONNX is SSA). */
static gc_status add_entry(ox_ctx *c, const char *name, ox_entry **out) {
  if (!name || !*name) return ox_err(c, GC_ERR_FORMAT, "a tensor has an empty name");
  if (find_entry(c, name)) return ox_err(c, GC_ERR_FORMAT, "tensor \"%s\" is defined twice", name);
  if (c->ne == c->cap) {
    int cap = c->cap ? 2 * c->cap : 64;
    ox_entry *e = realloc(c->e, sizeof *e * (size_t)cap);
    if (!e) return gc_fail(GC_ERR_NOMEM, "%s: out of memory", c->file);
    c->e = e;
    c->cap = cap;
  }
  ox_entry *e = &c->e[c->ne++];
  memset(e, 0, sizeof *e);
  e->name = name;
  e->v = BAD;
  e->input = -1;
  if (2 * c->ne > c->hcap) {
    gc_status st = rehash(c, c->hcap ? 2 * c->hcap : 256);
    if (st) return st;
  } else {
    uint32_t i = hash_str(name) & (uint32_t)(c->hcap - 1);
    while (c->hash[i] >= 0) i = (i + 1) & (uint32_t)(c->hcap - 1);
    c->hash[i] = c->ne - 1;
  }
  *out = e;
  return GC_OK;
}

const char *ox_fresh_name(ox_ctx *c, const char *base, char *buf, size_t n) {
  do snprintf(buf, n, "%s.%d", base, c->uniq++);
  while (gc_value_ok(gc_find(c->g, buf)) || find_entry(c, buf));
  return buf;
}

/* Graph values have no zero dims (see ox_out_empty): an empty tensor that
 * an op needs as data, mixed with values known only at run time, is a
 * SKIP naming it. */
static gc_value empty_in_graph(ox_ctx *c, const char *name, gc_shape s) {
  if (c->info && !c->info->unsupported[0])
    snprintf(c->info->unsupported, sizeof c->info->unsupported, "empty tensors");
  char buf[160];
  return ir_value(ir_error(c->g, GC_ERR_UNSUPPORTED,
                           "\"%s\" is empty (%s) and read as run-time data; graph values have "
                           "no zero dims",
                           name, gc_shape_str(s, buf, sizeof buf)));
}

gc_value ox_const_value(ox_ctx *c, const gc_tensor *t) {
  if (gc_graph_status(c->g)) return BAD;
  if (gc_shape_numel(t->shape) == 0)
    return empty_in_graph(c, t->name ? t->name : "a constant", t->shape);
  if (t->dtype != GC_I64) return gc_constant(c->g, t->dtype, t->shape, t->data);
  /* Int64 data lives as i32 in the graph (few ops know i64). */
  gc_tensor *i32;
  if (gc_tensor_convert(t, GC_I32, &i32))
    return ir_value(ir_error(c->g, GC_ERR_UNSUPPORTED, "%s", gc_last_error()));
  gc_value v = gc_constant(c->g, GC_I32, t->shape, i32->data);
  gc_tensor_free(i32);
  return v;
}

/* The graph value of entry e, made on first use. */
static gc_value materialize(ox_ctx *c, ox_entry *e) {
  if (gc_value_ok(e->v) || gc_graph_status(c->g)) return e->v;
  if (e->known && gc_shape_numel(e->known->shape) == 0) {
    e->v = empty_in_graph(c, e->name, e->known->shape);
  } else if (e->input >= 0) {
    gc_onnx_io *io = &c->info->inputs[e->input];
    e->v = gc_input(c->g, e->name, io->dtype, io->shape);
    io->in_graph = 1;
  } else if (e->known && e->is_param) {
    e->v = gc_param_from_data(c->g, e->name, e->known->shape, e->known->data);
  } else if (e->known) {
    e->v = ox_const_value(c, e->known);
  } else {
    e->v = ir_value(ir_error(c->g, GC_ERR_INTERNAL, "tensor \"%s\" has no value", e->name));
  }
  return e->v;
}

/* ------------------------------------------------------------- node access */

int ox_nin(const ox_ctx *c) { return (int)c->node->n_input; }
bool ox_has(const ox_ctx *c, int k) {
  return k >= 0 && k < ox_nin(c) && c->node->input[k] && c->node->input[k][0];
}
ox_entry *ox_input_entry(ox_ctx *c, int k) {
  return ox_has(c, k) ? find_entry(c, c->node->input[k]) : NULL;
}

gc_value ox_in(ox_ctx *c, int k) {
  ox_entry *e = ox_input_entry(c, k);
  if (!e) {
    if (!gc_graph_status(c->g))
      ir_error(c->g, GC_ERR_FORMAT, "input %d is missing but required", k);
    return BAD;
  }
  return materialize(c, e);
}

const gc_tensor *ox_known(ox_ctx *c, int k) {
  ox_entry *e = ox_input_entry(c, k);
  return e ? e->known : NULL;
}

const gc_tensor *ox_host_value(ox_ctx *c, int k) {
  ox_entry *e = ox_input_entry(c, k);
  return !e ? NULL : e->known ? e->known : e->bound;
}

bool ox_static(ox_ctx *c, int k) {
  ox_entry *e = ox_input_entry(c, k);
  return e && e->known && !e->is_param;
}

gc_shape ox_in_shape(ox_ctx *c, int k) {
  ox_entry *e = ox_input_entry(c, k);
  if (!e) return (gc_shape){-1, {0}};
  if (gc_value_ok(e->v)) return gc_value_shape(c->g, e->v);
  if (e->known) return e->known->shape;
  if (e->input >= 0) return c->info->inputs[e->input].shape;
  return (gc_shape){-1, {0}};
}

int ox_in_type(ox_ctx *c, int k) {
  ox_entry *e = ox_input_entry(c, k);
  return e ? e->onnx_type : 0;
}

gc_status ox_ints_in(ox_ctx *c, int k, int64_t *out, int max, int *n) {
  const gc_tensor *t = ox_known(c, k);
  if (!t)
    return ox_unsupported(c, c->node->op_type,
                          "input %d \"%s\" must be known at import time (a constant or a "
                          "shape computation); graphc's shapes are static",
                          k, ox_has(c, k) ? c->node->input[k] : "");
  int64_t cnt = gc_shape_numel(t->shape);
  if (t->shape.ndim > 1 || cnt > max || t->dtype == GC_F32)
    return ox_err(c, GC_ERR_FORMAT, "input %d \"%s\" must be a list of at most %d integers", k,
                  c->node->input[k], max);
  for (int64_t i = 0; i < cnt; i++) out[i] = elem_i(t, i);
  *n = (int)cnt;
  return GC_OK;
}

int ox_nout(const ox_ctx *c) { return (int)c->node->n_output; }
bool ox_out_wanted(const ox_ctx *c, int k) {
  return k >= 0 && k < ox_nout(c) && c->node->output[k] && c->node->output[k][0];
}

gc_status ox_out(ox_ctx *c, int k, gc_value v, int onnx_type) {
  if (gc_graph_status(c->g)) return gc_graph_status(c->g);
  if (!gc_value_ok(v)) return ox_err(c, GC_ERR_INTERNAL, "output %d has no value", k);
  if (!ox_out_wanted(c, k)) return GC_OK;
  ox_entry *e;
  gc_status st = add_entry(c, c->node->output[k], &e);
  if (st) return st;
  e->v = v;
  e->onnx_type = onnx_type;
  return GC_OK;
}

gc_status ox_out_empty(ox_ctx *c, int k, gc_shape s, int onnx_type) {
  gc_dtype dt = ox_host_dtype(onnx_type);
  if (dt == GC_DTYPE_COUNT)
    return ox_unsupported(c, "empty tensors", "an empty %s output", ox_type_name(onnx_type));
  gc_tensor *t;
  gc_status st = gc_tensor_new(NULL, dt, s, NULL, &t);
  if (st) return ox_err(c, st, "%s", gc_last_error());
  if (gc_shape_numel(s) != 0) {
    gc_tensor_free(t);
    return ox_err(c, GC_ERR_INTERNAL, "output %d is not empty", k);
  }
  return ox_out_known(c, k, t, onnx_type);
}

gc_status ox_out_known(ox_ctx *c, int k, gc_tensor *t, int onnx_type) {
  if (!t) return gc_fail(GC_ERR_NOMEM, "%s: out of memory", c->file);
  if (!ox_out_wanted(c, k)) {
    gc_tensor_free(t);
    return GC_OK;
  }
  ox_entry *e;
  gc_status st = add_entry(c, c->node->output[k], &e);
  if (st) {
    gc_tensor_free(t);
    return st;
  }
  e->known = t;
  e->onnx_type = onnx_type;
  return GC_OK;
}

/* --------------------------------------------------------------- attributes */

const Onnx__AttributeProto *ox_attr(const ox_ctx *c, const char *name) {
  for (size_t i = 0; i < c->node->n_attribute; i++) {
    const Onnx__AttributeProto *a = c->node->attribute[i];
    if (a && a->name && !strcmp(a->name, name)) return a;
  }
  return NULL;
}

int64_t ox_attr_int(const ox_ctx *c, const char *name, int64_t def) {
  const Onnx__AttributeProto *a = ox_attr(c, name);
  return a && a->has_i ? a->i : def;
}

float ox_attr_float(const ox_ctx *c, const char *name, float def) {
  const Onnx__AttributeProto *a = ox_attr(c, name);
  return a && a->has_f ? a->f : def;
}

int ox_attr_ints(const ox_ctx *c, const char *name, int64_t *out, int max) {
  const Onnx__AttributeProto *a = ox_attr(c, name);
  if (!a) return -1;
  int n = a->n_ints < (size_t)max ? (int)a->n_ints : max;
  for (int i = 0; i < n; i++) out[i] = a->ints[i];
  return a->n_ints > (size_t)max ? max + 1 : n;
}

int ox_attr_floats(const ox_ctx *c, const char *name, float *out, int max) {
  const Onnx__AttributeProto *a = ox_attr(c, name);
  if (!a) return -1;
  int n = a->n_floats < (size_t)max ? (int)a->n_floats : max;
  for (int i = 0; i < n; i++) out[i] = a->floats[i];
  return a->n_floats > (size_t)max ? max + 1 : n;
}

const char *ox_attr_str(const ox_ctx *c, const char *name, const char *def, char *buf, size_t n) {
  const Onnx__AttributeProto *a = ox_attr(c, name);
  if (!a || !a->has_s || !n) return def;
  size_t len = a->s.len < n - 1 ? a->s.len : n - 1;
  memcpy(buf, a->s.data, len);
  buf[len] = 0;
  return buf;
}

/* ------------------------------------------------------------------ driver */

static void info_free(gc_onnx_info *info) {
  if (!info) return;
  for (int i = 0; i < info->ninputs; i++) free(info->inputs[i].name);
  for (int i = 0; i < info->noutputs; i++) free(info->outputs[i].name);
  free(info->inputs);
  free(info->outputs);
  free(info->producer);
  free(info);
}

void gc_onnx_info_free(gc_onnx_info *info) { info_free(info); }

/* The tensor type of a graph input or output: element type and static
 * shape (symbolic dims resolved from a bound value's shape if given). */
static gc_status value_info(ox_ctx *c, const Onnx__ValueInfoProto *vi, const gc_tensor *bound,
                            gc_onnx_io *io, bool need_shape) {
  const char *nm = vi->name;
  if (!vi->type && !need_shape) return GC_OK; /* an output's type is optional */
  if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
      !vi->type->tensor_type)
    return ox_unsupported(c, "non-tensor input",
                          "\"%s\" is not a tensor (sequences, maps and "
                          "optionals are not supported)",
                          nm);
  const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
  io->onnx_type = tt->has_elem_type ? tt->elem_type : 0;
  gc_dtype dt = ox_host_dtype(io->onnx_type);
  if (dt == GC_DTYPE_COUNT) {
    char what[64];
    snprintf(what, sizeof what, "dtype %s", ox_type_name(io->onnx_type));
    return ox_unsupported(c, what, "\"%s\" has dtype %s, which graphc does not support", nm,
                          ox_type_name(io->onnx_type));
  }
  io->dtype = dt == GC_I64 ? GC_I32 : dt;
  if (bound) {
    io->shape = bound->shape;
    return GC_OK;
  }
  if (!tt->shape) {
    if (!need_shape) return GC_OK;
    return ox_unsupported(c, "unknown shape", "\"%s\" has no shape; bind a value for it", nm);
  }
  if (tt->shape->n_dim > GC_MAX_DIMS)
    return ox_err(c, GC_ERR_FORMAT, "\"%s\" has %zu dims (at most %d)", nm, tt->shape->n_dim,
                  GC_MAX_DIMS);
  io->shape.ndim = (int)tt->shape->n_dim;
  for (size_t i = 0; i < tt->shape->n_dim; i++) {
    const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
    if (d && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
        d->dim_value > 0 && d->dim_value <= OX_MAX_NUMEL) {
      io->shape.dim[i] = d->dim_value;
    } else if (need_shape) {
      return ox_unsupported(c, "symbolic dims",
                            "\"%s\" dim %zu is symbolic, zero or out of range; graphc needs "
                            "static shapes (bind a value for it)",
                            nm, i);
    }
  }
  int64_t n;
  if (need_shape && !numel_checked(io->shape, &n))
    return ox_err(c, GC_ERR_FORMAT, "\"%s\" is too large", nm);
  return GC_OK;
}

/* By name, else (for unnamed values, as in ONNX test data) by position. */
static const gc_tensor *bound_value(const gc_onnx_options *opt, const char *name, int index) {
  for (int i = 0; opt && i < opt->nvalues; i++)
    if (opt->values[i] && opt->values[i]->name && !strcmp(opt->values[i]->name, name))
      return opt->values[i];
  if (opt && index < opt->nvalues && opt->values[index] && !opt->values[index]->name)
    return opt->values[index];
  return NULL;
}

static gc_status import_graph(ox_ctx *c, const Onnx__GraphProto *gp, const gc_onnx_options *opt) {
  gc_status st;
  /* Initializers: host values; float ones become parameters when used. */
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *tp = gp->initializer[i];
    if (!tp || !tp->name || !*tp->name)
      return ox_err(c, GC_ERR_FORMAT, "initializer %zu has no name", i);
    ox_entry *e;
    if ((st = add_entry(c, tp->name, &e))) return st;
    char what[300];
    snprintf(what, sizeof what, "%s: initializer \"%.200s\"", c->file, tp->name);
    if ((st = ox_tensor_from_proto(tp, what, true, &e->known))) {
      if (st == GC_ERR_UNSUPPORTED && c->info && !c->info->unsupported[0])
        snprintf(c->info->unsupported, sizeof c->info->unsupported, "dtype %s",
                 ox_type_name(tp->data_type));
      return st;
    }
    e->onnx_type = tp->data_type;
    e->is_param = e->known->dtype == GC_F32;
  }
  if (gp->n_sparse_initializer)
    return ox_unsupported(c, "sparse initializer", "sparse initializers are not supported");
  /* Graph inputs (those that are not initializers), made lazily. */
  gc_onnx_info *info = c->info;
  info->inputs = calloc(gp->n_input + 1, sizeof *info->inputs);
  info->outputs = calloc(gp->n_output + 1, sizeof *info->outputs);
  if (!info->inputs || !info->outputs) return gc_fail(GC_ERR_NOMEM, "%s: out of memory", c->file);
  for (size_t i = 0; i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    if (!vi || !vi->name || !*vi->name)
      return ox_err(c, GC_ERR_FORMAT, "graph input %zu has no name", i);
    if (find_entry(c, vi->name)) continue; /* an initializer listed as input (IR < 4) */
    gc_onnx_io *io = &info->inputs[info->ninputs];
    if (!(io->name = strdup(vi->name))) return gc_fail(GC_ERR_NOMEM, "%s: out of memory", c->file);
    info->ninputs++;
    const gc_tensor *b = bound_value(opt, vi->name, info->ninputs - 1);
    if ((st = value_info(c, vi, b, io, true))) return st;
    ox_entry *e;
    if ((st = add_entry(c, vi->name, &e))) return st;
    e->input = info->ninputs - 1;
    e->onnx_type = io->onnx_type;
    e->runtime = true;
    /* Bound integer inputs are folded like constants (shapes, axes,
     * indices); bound float inputs only fix the shape. */
    if (b && b->dtype != GC_F32) {
      if ((st = gc_tensor_convert(b, ox_host_dtype(io->onnx_type), &e->known))) return st;
      if (!ir_shape_eq(b->shape, io->shape))
        return ox_err(c, GC_ERR_SHAPE, "bound value of \"%s\" has the wrong shape", vi->name);
    }
    if (b && b->dtype == GC_F32 && ir_shape_eq(b->shape, io->shape) &&
        (st = gc_tensor_convert(b, GC_F32, &e->bound)))
      return st;
    /* An empty value has no elements to set at run time: it is known. */
    if (b && gc_shape_numel(b->shape) == 0 && !e->known &&
        (st = gc_tensor_convert(b, ox_host_dtype(io->onnx_type), &e->known)))
      return st;
  }
  /* Nodes, in order (ONNX requires a topological order). */
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *n = gp->node[i];
    c->node = n;
    c->node_index = (int)i;
    if (!n || !n->op_type || !*n->op_type) return ox_err(c, GC_ERR_FORMAT, "node has no op type");
    if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx"))
      return ox_unsupported(c, n->op_type, "op domain \"%s\" is not supported", n->domain);
    for (size_t k = 0; k < n->n_input; k++)
      if (n->input[k] && n->input[k][0] && !find_entry(c, n->input[k]))
        return ox_err(c, GC_ERR_FORMAT,
                      "input %zu \"%s\" is not a graph input, an initializer or an earlier "
                      "node's output",
                      k, n->input[k]);
    for (size_t k = 0; k < n->n_output; k++)
      if (!n->output[k]) return ox_err(c, GC_ERR_FORMAT, "output %zu has no name", k);
    const ox_op *op = ox_find_op(n->op_type);
    if (!op) return ox_unsupported(c, n->op_type, "op type %s is not supported", n->op_type);
    bool done = false;
    if (op->fold) {
      bool all_static = ox_has(c, 0); /* a folder reads input 0 at least */
      for (int k = 0; k < ox_nin(c); k++)
        if (ox_has(c, k) && !ox_static(c, k)) all_static = false;
      if (all_static && (st = op->fold(c, n, &done))) return st;
    }
    if (!done && (st = op->map(c, n))) {
      /* a builder's error (an empty tensor refused included) is the
       * graph's: name the node with it */
      if (gc_graph_status(c->g))
        return ox_err(c, gc_graph_status(c->g), "%s", gc_graph_errmsg(c->g));
      return st;
    }
    if (gc_graph_status(c->g)) return ox_err(c, gc_graph_status(c->g), "%s", gc_graph_errmsg(c->g));
    for (size_t k = 0; k < n->n_output; k++)
      if (n->output[k][0] && !find_entry(c, n->output[k]))
        return ox_unsupported(c, n->op_type, "output %zu (\"%s\") is not supported", k,
                              n->output[k]);
  }
  c->node = NULL;
  /* Graph outputs. */
  for (size_t i = 0; i < gp->n_output; i++) {
    const Onnx__ValueInfoProto *vi = gp->output[i];
    if (!vi || !vi->name || !*vi->name)
      return ox_err(c, GC_ERR_FORMAT, "graph output %zu has no name", i);
    gc_onnx_io *io = &info->outputs[info->noutputs];
    if (!(io->name = strdup(vi->name))) return gc_fail(GC_ERR_NOMEM, "%s: out of memory", c->file);
    info->noutputs++;
    ox_entry *e = find_entry(c, vi->name);
    if (!e) return ox_err(c, GC_ERR_FORMAT, "graph output \"%s\" is never computed", vi->name);
    if ((st = value_info(c, vi, NULL, io, false))) return st;
    if (e->onnx_type) io->onnx_type = e->onnx_type;
    for (int k = 0; k < 2; k++)
      if (c->random_out[k] && !strcmp(vi->name, c->random_out[k]))
        *(k ? &info->random.mask : &info->random.y) = info->noutputs - 1;
    if (e->known && gc_shape_numel(e->known->shape) == 0) {
      /* no elements: its dtype and shape are its value; no node computes it */
      io->dtype = e->known->dtype == GC_I64 ? GC_I32 : e->known->dtype;
      io->shape = e->known->shape;
      continue;
    }
    gc_value v = materialize(c, e);
    if (gc_value_ok(v) &&
        (c->g->nodes[v.id].flags & (IR_F_OUTPUT | IR_F_INPUT | IR_F_PARAM | IR_F_CONST))) {
      /* One node, one output name, and leaves are not kernels' results:
       * read such an output through a copy. */
      v = gc_expand(c->g, v, gc_value_shape(c->g, v));
    }
    gc_output(c->g, v, vi->name);
    if (gc_graph_status(c->g))
      return ox_err(c, gc_graph_status(c->g), "output \"%s\": %s", vi->name, gc_graph_errmsg(c->g));
    io->dtype = gc_value_dtype(c->g, v);
    io->shape = gc_value_shape(c->g, v);
    io->in_graph = 1;
  }
  return GC_OK;
}

gc_status gc_onnx_load_buffer(const void *data, size_t size, const char *name,
                              const gc_onnx_options *opt, gc_graph **out, gc_onnx_info **info) {
  if (!out) return gc_fail(GC_ERR_INVALID, "onnx_load: out is NULL");
  *out = NULL;
  if (info) *info = NULL;
  if (!name) name = "(buffer)";
  if (!data && size) return gc_fail(GC_ERR_INVALID, "onnx_load: data is NULL");
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, data);
  if (!m) return gc_fail(GC_ERR_FORMAT, "%s: not a valid ONNX model (protobuf parse failed)", name);
  ox_ctx c = {0};
  c.file = name;
  gc_status st = GC_OK;
  c.info = calloc(1, sizeof *c.info);
  c.g = gc_graph_new();
  if (!c.info || !c.g) st = gc_fail(GC_ERR_NOMEM, "%s: out of memory", name);
  if (c.info) c.info->random.x = c.info->random.y = c.info->random.mask = -1;
  if (!st && !m->graph) st = gc_fail(GC_ERR_FORMAT, "%s: the model has no graph", name);
  if (!st) {
    c.info->ir_version = m->has_ir_version ? m->ir_version : 0;
    c.info->producer = strdup(m->producer_name ? m->producer_name : "");
    c.opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
      const Onnx__OperatorSetIdProto *o = m->opset_import[i];
      if (o && (!o->domain || !*o->domain || !strcmp(o->domain, "ai.onnx")))
        c.opset = o->has_version ? o->version : 1;
    }
    if (c.opset < 0 && m->n_opset_import == 0 && c.info->ir_version <= 2) c.opset = 1;
    c.info->opset = c.opset;
    if (c.opset < 0 && m->n_opset_import && m->opset_import[0] && m->opset_import[0]->domain) {
      char what[64];
      snprintf(what, sizeof what, "domain %.50s", m->opset_import[0]->domain);
      st = ox_unsupported(&c, what, "only the default ONNX domain is supported, not %s",
                          m->opset_import[0]->domain);
    } else if (c.opset < 0) {
      st = gc_fail(GC_ERR_FORMAT, "%s: the model imports no default-domain opset", name);
    } else if (c.opset > 17)
      st = ox_unsupported(&c, "opset > 17", "opset %lld is newer than graphc knows (7-17)",
                          (long long)c.opset);
  }
  if (!st) st = import_graph(&c, m->graph, opt);
  for (int i = 0; i < c.ne; i++) {
    gc_tensor_free(c.e[i].known);
    gc_tensor_free(c.e[i].bound);
  }
  free(c.e);
  free(c.hash);
  onnx__model_proto__free_unpacked(m, NULL);
  if (st) {
    gc_graph_free(c.g);
    if (info && c.info && st == GC_ERR_UNSUPPORTED)
      *info = c.info;
    else
      info_free(c.info);
    return st;
  }
  *out = c.g;
  if (info)
    *info = c.info;
  else
    info_free(c.info);
  return GC_OK;
}

gc_status gc_onnx_load_with(const char *path, const gc_onnx_options *opt, gc_graph **out,
                            gc_onnx_info **info) {
  if (!out) return gc_fail(GC_ERR_INVALID, "onnx_load: out is NULL");
  *out = NULL;
  if (info) *info = NULL;
  if (!path) return gc_fail(GC_ERR_INVALID, "onnx_load: path is NULL");
  uint8_t *buf;
  size_t size;
  gc_status st = read_file(path, &buf, &size);
  if (st) return st;
  st = gc_onnx_load_buffer(buf, size, path, opt, out, info);
  free(buf);
  return st;
}

gc_status gc_onnx_load(const char *path, gc_graph **out, gc_onnx_info **info) {
  return gc_onnx_load_with(path, NULL, out, info);
}
