/* graph.c — the graph container: node storage, sticky errors, names,
 * cloning, the seeded random stream used by initializers, the op table. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

const ir_op_info ir_ops[IR_OP_COUNT] = {
#define OP(E, name, imin, imax, fuse, props, shape, grad, ref, expr) \
  [IR_OP_##E] = {name, imin, imax, fuse, props, expr},
#include "ir/ops.def"
#undef OP
};

size_t gc_dtype_size(gc_dtype t) {
  switch (t) {
    case GC_F32:
      return 4;
    case GC_I32:
      return 4;
    case GC_I64:
      return 8;
    case GC_BOOL:
      return 1;
    default:
      return 0;
  }
}

const char *gc_dtype_name(gc_dtype t) {
  static const char *const names[] = {"f32", "i32", "i64", "bool"};
  return (unsigned)t < GC_DTYPE_COUNT ? names[t] : "?";
}

gc_graph *gc_graph_new(void) {
  ir_graph *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->loss = -1;
  g->hyper = -1;
  g->rng = 0x9E3779B97F4A7C15ull;
  return g;
}

static void node_release(ir_node *n) {
  free(n->name);
  free(n->out_name);
  free(n->data);
}

void gc_graph_free(gc_graph *g) {
  if (!g) return;
  for (int i = 0; i < g->n; i++) node_release(&g->nodes[i]);
  free(g->nodes);
  free(g->grad);
  free(g);
}

gc_status gc_graph_status(const gc_graph *g) { return g ? g->status : GC_ERR_INVALID; }
const char *gc_graph_errmsg(const gc_graph *g) { return g ? g->err : "null graph"; }
int gc_graph_node_count(const gc_graph *g) { return g ? g->n : 0; }

void gc_graph_set_seed(gc_graph *g, uint64_t seed) {
  if (!g) return;
  g->seed = seed;
  g->rng = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
}

int32_t ir_error(ir_graph *g, gc_status s, const char *fmt, ...) {
  if (g->status) return -1; /* the first error is the one reported */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g->err, sizeof g->err, fmt, ap);
  va_end(ap);
  g->status = s;
  return -1;
}

const char *ir_node_label(const ir_graph *g, int32_t id) {
  static _Thread_local char buf[4][192];
  static _Thread_local int k;
  char *b = buf[k++ & 3];
  if (id < 0 || id >= g->n) {
    snprintf(b, sizeof buf[0], "node %d (invalid)", id);
  } else {
    const ir_node *n = &g->nodes[id];
    if (n->name)
      snprintf(b, sizeof buf[0], "op '%s' (node %d \"%s\")", ir_ops[n->op].name, id, n->name);
    else
      snprintf(b, sizeof buf[0], "op '%s' (node %d)", ir_ops[n->op].name, id);
  }
  return b;
}

int32_t ir_find_name(const ir_graph *g, const char *name) {
  if (!name) return -1;
  for (int i = 0; i < g->n; i++) {
    const ir_node *n = &g->nodes[i];
    if ((n->name && !strcmp(n->name, name)) || (n->out_name && !strcmp(n->out_name, name)))
      return i;
  }
  return -1;
}

bool ir_reserve(ir_graph *g, int extra) {
  if (g->n + extra <= g->cap) return true;
  int cap = g->cap ? g->cap : 64;
  while (cap < g->n + extra) cap *= 2;
  ir_node *nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
  if (!nodes) return false;
  g->nodes = nodes;
  g->cap = cap;
  return true;
}

int32_t ir_add(ir_graph *g, ir_op op, int nin, const int32_t *in, const ir_attr *attr) {
  if (!g || g->status) return -1;
  const ir_op_info *info = &ir_ops[op];
  if (nin < info->min_inputs || nin > info->max_inputs)
    return ir_error(g, GC_ERR_INVALID, "op '%s': takes %d..%d inputs, got %d", info->name,
                    info->min_inputs, info->max_inputs, nin);
  for (int i = 0; i < nin; i++)
    if (in[i] < 0 || in[i] >= g->n)
      return ir_error(g, GC_ERR_INVALID, "op '%s': input %d is not a value of this graph (id %d)",
                      info->name, i, in[i]);
  if (g->n == g->cap && !ir_reserve(g, 1))
    return ir_error(g, GC_ERR_NOMEM, "out of memory adding op '%s'", info->name);
  ir_node *n = &g->nodes[g->n];
  memset(n, 0, sizeof *n);
  n->op = op;
  n->nin = nin;
  for (int i = 0; i < nin; i++) n->in[i] = in[i];
  if (attr) n->attr = *attr;
  gc_status st = ir_infer_shape(g, n);
  if (st) return ir_error(g, st, "op '%s' (node %d): %s", info->name, g->n, gc_last_error());
  return g->n++;
}

int32_t *ir_users(const ir_graph *g, int32_t id, int *count) {
  int c = 0;
  for (int i = id + 1; i < g->n; i++)
    for (int k = 0; k < g->nodes[i].nin; k++)
      if (g->nodes[i].in[k] == id) {
        c++;
        break;
      }
  int32_t *u = malloc(sizeof *u * (size_t)(c ? c : 1));
  if (!u) {
    *count = 0;
    return NULL;
  }
  c = 0;
  for (int i = id + 1; i < g->n; i++)
    for (int k = 0; k < g->nodes[i].nin; k++)
      if (g->nodes[i].in[k] == id) {
        u[c++] = i;
        break;
      }
  *count = c;
  return u;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

ir_graph *ir_graph_clone(const ir_graph *g) {
  ir_graph *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  *c = *g;
  c->nodes = calloc((size_t)(g->cap ? g->cap : 1), sizeof *c->nodes);
  c->grad = NULL;
  if (!c->nodes) goto fail;
  for (int i = 0; i < g->n; i++) {
    ir_node *d = &c->nodes[i];
    const ir_node *s = &g->nodes[i];
    *d = *s;
    d->name = dup_or_null(s->name);
    d->out_name = dup_or_null(s->out_name);
    d->data = NULL;
    if (s->data) {
      size_t bytes = ir_node_bytes(s);
      d->data = malloc(bytes ? bytes : 1);
      if (!d->data) goto fail;
      memcpy(d->data, s->data, bytes);
    }
  }
  if (g->grad) {
    c->grad = malloc(sizeof *c->grad * (size_t)(g->ngrad ? g->ngrad : 1));
    if (!c->grad) goto fail;
    memcpy(c->grad, g->grad, sizeof *c->grad * (size_t)g->ngrad);
  }
  return c;
fail:
  c->n = c->nodes ? c->n : 0;
  gc_graph_free(c);
  return NULL;
}

/* splitmix64: small, fast, and the same on every platform. */
static uint64_t next_u64(ir_graph *g) {
  uint64_t z = (g->rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double ir_rand_uniform(ir_graph *g) { return (double)(next_u64(g) >> 11) * 0x1.0p-53; }

double ir_rand_normal(ir_graph *g) {
  double u1 = ir_rand_uniform(g), u2 = ir_rand_uniform(g);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---- shapes (public helpers) ---- */

gc_shape gc_shape0(void) { return (gc_shape){0, {0}}; }
gc_shape gc_shape1(int64_t a) { return (gc_shape){1, {a}}; }
gc_shape gc_shape2(int64_t a, int64_t b) { return (gc_shape){2, {a, b}}; }
gc_shape gc_shape3(int64_t a, int64_t b, int64_t c) { return (gc_shape){3, {a, b, c}}; }
gc_shape gc_shape4(int64_t a, int64_t b, int64_t c, int64_t d) {
  return (gc_shape){4, {a, b, c, d}};
}
gc_shape gc_shapen(int ndim, const int64_t *dims) {
  gc_shape s = {0, {0}};
  if (ndim < 0 || ndim > GC_MAX_DIMS) {
    s.ndim = -1; /* rejected by every shape rule */
    return s;
  }
  s.ndim = ndim;
  for (int i = 0; i < ndim; i++) s.dim[i] = dims[i];
  return s;
}

int64_t gc_shape_numel(gc_shape s) {
  int64_t n = 1;
  for (int i = 0; i < s.ndim; i++) n *= s.dim[i];
  return n;
}

char *gc_shape_str(gc_shape s, char *buf, size_t n) {
  size_t k = 0;
  if (!n) return buf;
  buf[0] = 0;
  k += (size_t)snprintf(buf + k, n - k, "[");
  for (int i = 0; i < s.ndim && k < n; i++)
    k += (size_t)snprintf(buf + k, n - k, i ? ", %lld" : "%lld", (long long)s.dim[i]);
  if (k < n) snprintf(buf + k, n - k, "]");
  return buf;
}
