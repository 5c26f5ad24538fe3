/* optimizers.c — SGD (momentum, weight decay) and Adam/AdamW as graph
 * nodes: after autodiff, one in-place update node per parameter, reading
 * the learning rate and step count from one small device state tensor
 * ("optimizer.hyper" = [lr, beta1^t, beta2^t, t]) so that changing the
 * learning rate never recompiles. */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

static int32_t state(ir_graph *g, const char *base, const char *suffix, gc_shape s,
                     const float *init) {
  char name[300];
  snprintf(name, sizeof name, "%s%s", base, suffix);
  ir_attr a = {0};
  a.to = GC_F32;
  a.shape = s;
  int32_t id = ir_add(g, IR_OP_STATE, 0, NULL, &a);
  if (id < 0) return -1;
  ir_node *n = &g->nodes[id];
  n->flags |= IR_F_STATE;
  size_t bytes = ir_node_bytes(n);
  n->data = calloc(1, bytes ? bytes : 1);
  n->name = strdup(name);
  if (!n->data || !n->name) return ir_error(g, GC_ERR_NOMEM, "out of memory");
  if (init) memcpy(n->data, init, bytes);
  return id;
}

static gc_status begin(ir_graph *g, float lr, const char *what) {
  if (!g) return gc_fail(GC_ERR_INVALID, "%s: null graph", what);
  if (g->hyper >= 0) return gc_fail(GC_ERR_INVALID, "%s: the graph already has an optimizer", what);
  if (!(lr > 0)) return gc_fail(GC_ERR_INVALID, "%s: learning rate must be > 0, got %g", what, lr);
  gc_status st = gc_differentiate(g);
  if (st) return st;
  float hyper[4] = {lr, 1.0f, 1.0f, 0.0f};
  g->hyper = state(g, "optimizer", ".hyper", gc_shape1(4), hyper);
  return g->hyper < 0 ? gc_fail(g->status, "%s: %s", what, g->err) : GC_OK;
}

static gc_status finish(ir_graph *g, const char *what) {
  return g->status ? gc_fail(g->status, "%s: %s", what, g->err) : GC_OK;
}

gc_status gc_optimize_sgd(gc_graph *g, const gc_sgd *opt) {
  if (!opt) return gc_fail(GC_ERR_INVALID, "optimize_sgd: null options");
  gc_status st = begin(g, opt->lr, "optimize_sgd");
  if (st) return st;
  int n = g->ngrad;
  for (int i = 0; i < n && !g->status; i++) {
    if (g->nodes[i].op != IR_OP_PARAM || g->grad[i] < 0) continue;
    /* copies: adding nodes may move g->nodes */
    const char *base = g->nodes[i].name ? g->nodes[i].name : "param";
    gc_shape shape = g->nodes[i].shape;
    int32_t vel = state(g, base, ".velocity", shape, NULL);
    ir_attr a = {0};
    a.f[0] = opt->momentum;
    a.f[1] = opt->weight_decay;
    int32_t in[4] = {i, g->grad[i], vel, g->hyper};
    if (vel >= 0) ir_add(g, IR_OP_SGD_UPDATE, 4, in, &a);
  }
  return finish(g, "optimize_sgd");
}

gc_status gc_optimize_adam(gc_graph *g, const gc_adam *opt) {
  if (!opt) return gc_fail(GC_ERR_INVALID, "optimize_adam: null options");
  gc_status st = begin(g, opt->lr, "optimize_adam");
  if (st) return st;
  float b1 = opt->beta1 > 0 ? opt->beta1 : 0.9f, b2 = opt->beta2 > 0 ? opt->beta2 : 0.999f;
  float eps = opt->eps > 0 ? opt->eps : 1e-8f;
  ir_attr ta = {0};
  ta.f[0] = b1;
  ta.f[1] = b2;
  int32_t tick = ir_add(g, IR_OP_OPT_TICK, 1, &g->hyper, &ta);
  int n = g->ngrad;
  for (int i = 0; i < n && !g->status; i++) {
    if (g->nodes[i].op != IR_OP_PARAM || g->grad[i] < 0) continue;
    /* copies: adding nodes may move g->nodes (the name string stays put) */
    const char *base = g->nodes[i].name ? g->nodes[i].name : "param";
    gc_shape shape = g->nodes[i].shape;
    int32_t m = state(g, base, ".adam_m", shape, NULL);
    int32_t v = state(g, base, ".adam_v", shape, NULL);
    ir_attr a = {0};
    a.f[0] = b1;
    a.f[1] = b2;
    a.f[2] = eps;
    a.f[3] = opt->weight_decay;
    int32_t in[5] = {i, g->grad[i], m, v, tick};
    if (m >= 0 && v >= 0) ir_add(g, IR_OP_ADAM_UPDATE, 5, in, &a);
  }
  return finish(g, "optimize_adam");
}
