/* builder.c — the public graph-builder API: one small function per op that
 * validates its arguments, appends a node (ir_add runs the shape rule) and
 * returns its value. Errors are sticky on the graph (see graphc.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

#define BAD ((gc_value){-1})

static int32_t id_of(gc_value v) { return v.id; }

static gc_value add_node(gc_graph *g, ir_op op, int nin, const int32_t *in, const ir_attr *a) {
  if (!g) return BAD;
  return ir_value(ir_add(g, op, nin, in, a));
}

static gc_value unary(gc_graph *g, ir_op op, gc_value x) {
  int32_t in[1] = {id_of(x)};
  return add_node(g, op, 1, in, NULL);
}

static gc_value binary(gc_graph *g, ir_op op, gc_value a, gc_value b) {
  int32_t in[2] = {id_of(a), id_of(b)};
  return add_node(g, op, 2, in, NULL);
}

static bool name_taken(gc_graph *g, const char *name) { return name && ir_find_name(g, name) >= 0; }

/* Leaves carry their dtype and shape in attr.to / attr.shape. */
static gc_value leaf(gc_graph *g, ir_op op, const char *name, gc_dtype t, gc_shape s,
                     unsigned flags) {
  if (!g || g->status) return BAD;
  if (name && !*name) name = NULL;
  if (name_taken(g, name))
    return ir_value(
        ir_error(g, GC_ERR_INVALID, "%s \"%s\": the name is already used", ir_ops[op].name, name));
  ir_attr a = {0};
  a.to = t;
  a.shape = s;
  int32_t id = ir_add(g, op, 0, NULL, &a);
  if (id < 0) return BAD;
  ir_node *n = &g->nodes[id];
  n->flags |= flags;
  if (name && !(n->name = strdup(name)))
    return ir_value(ir_error(g, GC_ERR_NOMEM, "out of memory"));
  return ir_value(id);
}

gc_value gc_input(gc_graph *g, const char *name, gc_dtype t, gc_shape s) {
  if (g && !g->status && !name)
    return ir_value(ir_error(g, GC_ERR_INVALID, "input: a name is required"));
  return leaf(g, IR_OP_INPUT, name, t, s, IR_F_INPUT);
}

static void fans(gc_shape s, const gc_init *init, double *fan_in, double *fan_out) {
  double fi = 1, fo = 1;
  if (s.ndim == 1) {
    fi = fo = (double)s.dim[0];
  } else if (s.ndim == 2) {
    fi = (double)s.dim[0];
    fo = (double)s.dim[1];
  } else if (s.ndim > 2) {
    double rf = 1;
    for (int i = 2; i < s.ndim; i++) rf *= (double)s.dim[i];
    fo = (double)s.dim[0] * rf;
    fi = (double)s.dim[1] * rf;
  }
  *fan_in = init->fan_in > 0 ? (double)init->fan_in : fi;
  *fan_out = init->fan_out > 0 ? (double)init->fan_out : fo;
}

gc_value gc_param(gc_graph *g, const char *name, gc_shape s, gc_init init) {
  if (g && !g->status && !name)
    return ir_value(ir_error(g, GC_ERR_INVALID, "param: a name is required"));
  gc_value v = leaf(g, IR_OP_PARAM, name, GC_F32, s, IR_F_PARAM);
  if (!gc_value_ok(v)) return v;
  ir_node *n = &g->nodes[v.id];
  int64_t count = gc_shape_numel(s);
  float *d = malloc(sizeof *d * (size_t)(count ? count : 1));
  if (!d) return ir_value(ir_error(g, GC_ERR_NOMEM, "param \"%s\": out of memory", name));
  double fi, fo;
  fans(s, &init, &fi, &fo);
  for (int64_t i = 0; i < count; i++) {
    double x;
    switch (init.kind) {
      case GC_INIT_ZEROS:
        x = 0;
        break;
      case GC_INIT_ONES:
        x = 1;
        break;
      case GC_INIT_CONST:
        x = init.a;
        break;
      case GC_INIT_UNIFORM:
        x = init.a + (init.b - init.a) * ir_rand_uniform(g);
        break;
      case GC_INIT_NORMAL:
        x = init.a + init.b * ir_rand_normal(g);
        break;
      case GC_INIT_GLOROT: {
        double lim = sqrt(6.0 / (fi + fo));
        x = -lim + 2 * lim * ir_rand_uniform(g);
        break;
      }
      case GC_INIT_HE:
        x = sqrt(2.0 / fi) * ir_rand_normal(g);
        break;
      default:
        free(d);
        return ir_value(ir_error(g, GC_ERR_INVALID, "param \"%s\": unknown initializer %d", name,
                                 (int)init.kind));
    }
    d[i] = (float)x;
  }
  n->data = d;
  return v;
}

gc_value gc_param_from_data(gc_graph *g, const char *name, gc_shape s, const float *data) {
  if (g && !g->status && !name)
    return ir_value(ir_error(g, GC_ERR_INVALID, "param: a name is required"));
  if (g && !g->status && !data)
    return ir_value(ir_error(g, GC_ERR_INVALID, "param \"%s\": data is NULL", name));
  gc_value v = leaf(g, IR_OP_PARAM, name, GC_F32, s, IR_F_PARAM);
  if (!gc_value_ok(v)) return v;
  ir_node *n = &g->nodes[v.id];
  size_t bytes = ir_node_bytes(n);
  if (!(n->data = malloc(bytes ? bytes : 1)))
    return ir_value(ir_error(g, GC_ERR_NOMEM, "param \"%s\": out of memory", name));
  memcpy(n->data, data, bytes);
  return v;
}

gc_value gc_constant(gc_graph *g, gc_dtype t, gc_shape s, const void *data) {
  if (g && !g->status && !data)
    return ir_value(ir_error(g, GC_ERR_INVALID, "constant: data is NULL"));
  gc_value v = leaf(g, IR_OP_CONST, NULL, t, s, IR_F_CONST);
  if (!gc_value_ok(v)) return v;
  ir_node *n = &g->nodes[v.id];
  size_t bytes = ir_node_bytes(n);
  if (!(n->data = malloc(bytes ? bytes : 1)))
    return ir_value(ir_error(g, GC_ERR_NOMEM, "constant: out of memory"));
  memcpy(n->data, data, bytes);
  return v;
}

gc_value gc_scalar(gc_graph *g, float v) { return gc_constant(g, GC_F32, gc_shape0(), &v); }

gc_value gc_add(gc_graph *g, gc_value a, gc_value b) { return binary(g, IR_OP_ADD, a, b); }
gc_value gc_sub(gc_graph *g, gc_value a, gc_value b) { return binary(g, IR_OP_SUB, a, b); }
gc_value gc_mul(gc_graph *g, gc_value a, gc_value b) { return binary(g, IR_OP_MUL, a, b); }
gc_value gc_div(gc_graph *g, gc_value a, gc_value b) { return binary(g, IR_OP_DIV, a, b); }
gc_value gc_equal(gc_graph *g, gc_value a, gc_value b) { return binary(g, IR_OP_EQUAL, a, b); }
gc_value gc_neg(gc_graph *g, gc_value x) { return unary(g, IR_OP_NEG, x); }
gc_value gc_exp(gc_graph *g, gc_value x) { return unary(g, IR_OP_EXP, x); }
gc_value gc_log(gc_graph *g, gc_value x) { return unary(g, IR_OP_LOG, x); }
gc_value gc_sqrt(gc_graph *g, gc_value x) { return unary(g, IR_OP_SQRT, x); }
gc_value gc_relu(gc_graph *g, gc_value x) { return unary(g, IR_OP_RELU, x); }
gc_value gc_sigmoid(gc_graph *g, gc_value x) { return unary(g, IR_OP_SIGMOID, x); }
gc_value gc_tanh(gc_graph *g, gc_value x) { return unary(g, IR_OP_TANH, x); }
gc_value gc_step(gc_graph *g, gc_value x) { return unary(g, IR_OP_STEP, x); }

gc_value gc_cast(gc_graph *g, gc_value x, gc_dtype to) {
  int32_t in[1] = {id_of(x)};
  ir_attr a = {0};
  a.to = to;
  return add_node(g, IR_OP_CAST, 1, in, &a);
}

static gc_value reduce(gc_graph *g, ir_op op, gc_value x, const int *axes, int naxes,
                       int keepdims) {
  if (!g || g->status) return BAD;
  if (x.id < 0 || x.id >= g->n)
    return ir_value(ir_error(g, GC_ERR_INVALID, "%s: invalid input value", ir_ops[op].name));
  int nd = g->nodes[x.id].shape.ndim;
  ir_attr a = {0};
  a.keepdims = keepdims != 0;
  if (naxes == 0) a.axes = nd ? (uint32_t)((1u << nd) - 1) : 0;
  for (int i = 0; i < naxes; i++) {
    int ax = axes ? ir_axis(axes[i], nd) : -1;
    if (ax < 0)
      return ir_value(ir_error(g, GC_ERR_SHAPE, "%s: axis %d out of range for %d-D input %s",
                               ir_ops[op].name, axes ? axes[i] : 0, nd, ir_node_label(g, x.id)));
    a.axes |= 1u << ax;
  }
  int32_t in[1] = {x.id};
  return add_node(g, op, 1, in, &a);
}

gc_value gc_sum(gc_graph *g, gc_value x, const int *axes, int naxes, int keepdims) {
  return reduce(g, IR_OP_SUM, x, axes, naxes, keepdims);
}
gc_value gc_mean(gc_graph *g, gc_value x, const int *axes, int naxes, int keepdims) {
  return reduce(g, IR_OP_MEAN, x, axes, naxes, keepdims);
}
gc_value gc_max(gc_graph *g, gc_value x, const int *axes, int naxes, int keepdims) {
  return reduce(g, IR_OP_MAX, x, axes, naxes, keepdims);
}

gc_value gc_reshape(gc_graph *g, gc_value x, gc_shape s) {
  int32_t in[1] = {id_of(x)};
  ir_attr a = {0};
  a.shape = s;
  return add_node(g, IR_OP_RESHAPE, 1, in, &a);
}

gc_value gc_expand(gc_graph *g, gc_value x, gc_shape s) {
  int32_t in[1] = {id_of(x)};
  ir_attr a = {0};
  a.shape = s;
  return add_node(g, IR_OP_EXPAND, 1, in, &a);
}

gc_value gc_transpose(gc_graph *g, gc_value x, const int *perm) {
  if (!g || g->status) return BAD;
  if (x.id < 0 || x.id >= g->n)
    return ir_value(ir_error(g, GC_ERR_INVALID, "transpose: invalid input value"));
  int nd = g->nodes[x.id].shape.ndim;
  ir_attr a = {0};
  for (int i = 0; i < nd; i++) a.perm[i] = perm ? perm[i] : nd - 1 - i;
  int32_t in[1] = {x.id};
  return add_node(g, IR_OP_TRANSPOSE, 1, in, &a);
}

gc_value gc_matmul(gc_graph *g, gc_value a, gc_value b) { return binary(g, IR_OP_MATMUL, a, b); }

static gc_value axis_op(gc_graph *g, ir_op op, gc_value x, int axis) {
  int32_t in[1] = {id_of(x)};
  ir_attr a = {0};
  a.axis = axis;
  return add_node(g, op, 1, in, &a);
}

gc_value gc_softmax(gc_graph *g, gc_value x, int axis) {
  return axis_op(g, IR_OP_SOFTMAX, x, axis);
}
gc_value gc_log_softmax(gc_graph *g, gc_value x, int axis) {
  return axis_op(g, IR_OP_LOG_SOFTMAX, x, axis);
}

gc_value gc_cross_entropy(gc_graph *g, gc_value logits, gc_value labels) {
  return binary(g, IR_OP_CROSS_ENTROPY, logits, labels);
}

gc_value gc_assign_add(gc_graph *g, gc_value param, gc_value delta) {
  return binary(g, IR_OP_ASSIGN_ADD, param, delta);
}

/* ---- names, outputs, queries ---- */

static bool valid(const gc_graph *g, gc_value v) { return g && v.id >= 0 && v.id < g->n; }

gc_value gc_set_name(gc_graph *g, gc_value v, const char *name) {
  if (!g || g->status) return BAD;
  if (!valid(g, v)) return ir_value(ir_error(g, GC_ERR_INVALID, "set_name: invalid value"));
  if (!name || !*name) return v;
  int32_t other = ir_find_name(g, name);
  if (other >= 0 && other != v.id)
    return ir_value(ir_error(g, GC_ERR_INVALID, "name \"%s\" is already used by %s", name,
                             ir_node_label(g, other)));
  ir_node *n = &g->nodes[v.id];
  char *copy = strdup(name);
  if (!copy) return ir_value(ir_error(g, GC_ERR_NOMEM, "out of memory"));
  free(n->name);
  n->name = copy;
  return v;
}

gc_value gc_output(gc_graph *g, gc_value v, const char *name) {
  if (!g || g->status) return BAD;
  if (!valid(g, v)) return ir_value(ir_error(g, GC_ERR_INVALID, "output: invalid value"));
  if (!name || !*name) return ir_value(ir_error(g, GC_ERR_INVALID, "output: a name is required"));
  int32_t other = ir_find_name(g, name);
  if (other >= 0 && other != v.id)
    return ir_value(ir_error(g, GC_ERR_INVALID, "output name \"%s\" is already used by %s", name,
                             ir_node_label(g, other)));
  ir_node *n = &g->nodes[v.id];
  if (ir_ops[n->op].props & IR_P_INPLACE)
    return ir_value(ir_error(g, GC_ERR_INVALID, "output \"%s\": %s is an update, not a value", name,
                             ir_node_label(g, v.id)));
  if ((n->flags & IR_F_OUTPUT) && n->out_name && strcmp(n->out_name, name))
    return ir_value(ir_error(g, GC_ERR_INVALID,
                             "output \"%s\": %s is already the output \"%s\" (one name per "
                             "value; gc_expand(x, shape) makes a copy)",
                             name, ir_node_label(g, v.id), n->out_name));
  char *copy = strdup(name);
  if (!copy) return ir_value(ir_error(g, GC_ERR_NOMEM, "out of memory"));
  free(n->out_name);
  n->out_name = copy;
  n->flags |= IR_F_OUTPUT;
  return v;
}

gc_value gc_set_loss(gc_graph *g, gc_value v) {
  if (!g || g->status) return BAD;
  if (!valid(g, v)) return ir_value(ir_error(g, GC_ERR_INVALID, "set_loss: invalid value"));
  ir_node *n = &g->nodes[v.id];
  char buf[160];
  if (n->shape.ndim != 0 || n->dtype != GC_F32)
    return ir_value(ir_error(g, GC_ERR_SHAPE, "loss must be an f32 scalar, %s is %s%s",
                             ir_node_label(g, v.id), gc_dtype_name(n->dtype),
                             gc_shape_str(n->shape, buf, sizeof buf)));
  if (g->loss >= 0 && g->loss != v.id)
    return ir_value(
        ir_error(g, GC_ERR_INVALID, "the loss is already set (%s)", ir_node_label(g, g->loss)));
  g->loss = v.id;
  n->flags |= IR_F_LOSS;
  if (!(n->flags & IR_F_OUTPUT)) return gc_output(g, v, "loss");
  return v;
}

gc_shape gc_value_shape(const gc_graph *g, gc_value v) {
  return valid(g, v) ? g->nodes[v.id].shape : (gc_shape){-1, {0}};
}

gc_dtype gc_value_dtype(const gc_graph *g, gc_value v) {
  return valid(g, v) ? g->nodes[v.id].dtype : GC_DTYPE_COUNT;
}

gc_value gc_find(const gc_graph *g, const char *name) {
  return g ? ir_value(ir_find_name(g, name)) : BAD;
}
