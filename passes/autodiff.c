/* autodiff.c — reverse-mode differentiation: walks the graph backwards from
 * the loss and adds gradient nodes (ordinary ops) with one rule per op (the
 * "gradient rule" column of ir/ops.def). Contributions to a value from
 * several users are summed. Also the internal builders the rules use. */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"
#include "ir/op_rules.h"

/* ---- internal builders ---- */

int32_t ir_unary(ir_graph *g, ir_op op, int32_t x) { return ir_add(g, op, 1, &x, NULL); }

int32_t ir_binary(ir_graph *g, ir_op op, int32_t a, int32_t b) {
  int32_t in[2] = {a, b};
  return ir_add(g, op, 2, in, NULL);
}

int32_t ir_matmul_t(ir_graph *g, int32_t a, int32_t b, int trans_a, int trans_b) {
  ir_attr at = {0};
  at.trans_a = trans_a;
  at.trans_b = trans_b;
  int32_t in[2] = {a, b};
  return ir_add(g, IR_OP_MATMUL, 2, in, &at);
}

int32_t ir_reduce(ir_graph *g, ir_op op, int32_t x, uint32_t axes, int keepdims) {
  ir_attr at = {0};
  at.axes = axes;
  at.keepdims = keepdims;
  return ir_add(g, op, 1, &x, &at);
}

int32_t ir_reshape(ir_graph *g, int32_t x, gc_shape s) {
  if (x >= 0 && ir_shape_eq(g->nodes[x].shape, s)) return x;
  ir_attr at = {0};
  at.shape = s;
  return ir_add(g, IR_OP_RESHAPE, 1, &x, &at);
}

static int32_t expand_to(ir_graph *g, int32_t x, gc_shape s) {
  if (x >= 0 && ir_shape_eq(g->nodes[x].shape, s)) return x;
  ir_attr at = {0};
  at.shape = s;
  return ir_add(g, IR_OP_EXPAND, 1, &x, &at);
}

int32_t ir_const_f32(ir_graph *g, float v) { return gc_scalar(g, v).id; }

/* ---- gradient rules: dx[k] for each input k with need[k] ---- */

/* A rule adds at most RULE_MAX_NODES nodes: the pass reserves that much
 * room before each rule, so g->nodes does not move while a rule runs and
 * rules may read node fields (SHAPE(x)) in the same expression as calls
 * that add nodes. */
enum { RULE_MAX_NODES = 256 };
typedef void (*grad_rule)(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx);

#define X(k) (g->nodes[y].in[k])
#define SHAPE(id) (g->nodes[id].shape)

/* Sums dy over the axes along which a value of shape s was broadcast. */
static int32_t unbroadcast(ir_graph *g, int32_t dy, gc_shape s) {
  if (dy < 0) return -1;
  gc_shape d = SHAPE(dy);
  if (ir_shape_eq(d, s)) return dy;
  uint32_t axes = 0;
  for (int i = 0; i < d.ndim; i++) {
    int j = i - (d.ndim - s.ndim);
    if (j < 0 || (s.dim[j] == 1 && d.dim[i] != 1)) axes |= 1u << i;
  }
  int32_t r = axes ? ir_reduce(g, IR_OP_SUM, dy, axes, 0) : dy;
  return ir_reshape(g, r, s);
}

/* For the rules in other files (passes/autodiff_elem.c). */
int32_t ir_unbroadcast(ir_graph *g, int32_t dy, gc_shape s) { return unbroadcast(g, dy, s); }
int32_t ir_expand(ir_graph *g, int32_t x, gc_shape s) { return expand_to(g, x, s); }

void grad_none(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  (void)g, (void)y, (void)dy, (void)need, (void)dx;
}

void grad_add(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = unbroadcast(g, dy, SHAPE(X(0)));
  if (need[1]) dx[1] = unbroadcast(g, dy, SHAPE(X(1)));
}

void grad_sub(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = unbroadcast(g, dy, SHAPE(X(0)));
  if (need[1]) dx[1] = unbroadcast(g, ir_unary(g, IR_OP_NEG, dy), SHAPE(X(1)));
}

void grad_mul(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = unbroadcast(g, ir_binary(g, IR_OP_MUL, dy, X(1)), SHAPE(X(0)));
  if (need[1]) dx[1] = unbroadcast(g, ir_binary(g, IR_OP_MUL, dy, X(0)), SHAPE(X(1)));
}

void grad_div(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  int32_t a = X(0), b = X(1);
  (void)a;
  if (need[0]) dx[0] = unbroadcast(g, ir_binary(g, IR_OP_DIV, dy, b), SHAPE(X(0)));
  if (need[1]) {
    /* d(a/b)/db = -(a/b)/b = -y/b */
    int32_t t = ir_binary(g, IR_OP_DIV, ir_binary(g, IR_OP_MUL, dy, y), b);
    dx[1] = unbroadcast(g, ir_unary(g, IR_OP_NEG, t), SHAPE(X(1)));
  }
}

void grad_neg(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = ir_unary(g, IR_OP_NEG, dy);
}

void grad_exp(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = ir_binary(g, IR_OP_MUL, dy, y);
}

void grad_log(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = ir_binary(g, IR_OP_DIV, dy, X(0));
}

void grad_sqrt(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0])
    dx[0] = ir_binary(g, IR_OP_MUL, dy, ir_binary(g, IR_OP_DIV, ir_const_f32(g, 0.5f), y));
}

/* relu'(x) = step(relu(x)): reading the output lets x die early. */
void grad_relu(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = ir_binary(g, IR_OP_MUL, dy, ir_unary(g, IR_OP_STEP, y));
}

void grad_sigmoid(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  int32_t one_minus = ir_binary(g, IR_OP_SUB, ir_const_f32(g, 1.0f), y);
  dx[0] = ir_binary(g, IR_OP_MUL, dy, ir_binary(g, IR_OP_MUL, y, one_minus));
}

void grad_tanh(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  int32_t yy = ir_binary(g, IR_OP_MUL, y, y);
  dx[0] = ir_binary(g, IR_OP_MUL, dy, ir_binary(g, IR_OP_SUB, ir_const_f32(g, 1.0f), yy));
}

void grad_cast(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0] && g->nodes[X(0)].dtype == GC_F32 && g->nodes[y].dtype == GC_F32) dx[0] = dy;
}

void grad_expand(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = unbroadcast(g, dy, SHAPE(X(0)));
}

void grad_reshape(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = ir_reshape(g, dy, SHAPE(X(0)));
}

void grad_transpose(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  ir_attr at = {0};
  const int *perm = g->nodes[y].attr.perm;
  for (int i = 0; i < SHAPE(y).ndim; i++) at.perm[perm[i]] = i;
  dx[0] = ir_add(g, IR_OP_TRANSPOSE, 1, &dy, &at);
}

/* The reduced shape with kept (size-1) axes. */
static gc_shape kept_shape(const ir_graph *g, int32_t y) {
  gc_shape s = SHAPE(X(0));
  for (int i = 0; i < s.ndim; i++)
    if (g->nodes[y].attr.axes & (1u << i)) s.dim[i] = 1;
  return s;
}

void grad_sum(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = expand_to(g, ir_reshape(g, dy, kept_shape(g, y)), SHAPE(X(0)));
}

void grad_mean(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  double count = (double)gc_shape_numel(SHAPE(X(0))) / (double)gc_shape_numel(SHAPE(y));
  int32_t scaled = ir_binary(g, IR_OP_MUL, dy, ir_const_f32(g, (float)(1.0 / count)));
  dx[0] = expand_to(g, ir_reshape(g, scaled, kept_shape(g, y)), SHAPE(X(0)));
}

/* The gradient goes to every element equal to the maximum (at ties each
 * gets all of it; ties are not differentiable points anyway). */
void grad_max(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  gc_shape k = kept_shape(g, y);
  int32_t mask = ir_binary(g, IR_OP_EQUAL, X(0), ir_reshape(g, y, k));
  dx[0] = ir_binary(g, IR_OP_MUL, ir_reshape(g, dy, k), mask);
}

/* With A' = op(A), B' = op(B): dA' = dC B'^T, dB' = A'^T dC, then undo the
 * transposes of the stored operands by swapping the matmul's own flags. */
void grad_matmul(ir_graph *g, int32_t y, int32_t dy, const bool *need_in, int32_t *dx) {
  int32_t a = X(0), b = X(1);
  bool need[2] = {need_in[0], need_in[1]};
  int ta = g->nodes[y].attr.trans_a, tb = g->nodes[y].attr.trans_b;
  int nd = SHAPE(y).ndim;
  /* B 2-D and shared by a batched product: dB = sum_b A_b^T dC_b is one
   * product of the flattened A and dC */
  if (need[1] && nd > 2 && SHAPE(b).ndim == 2 && !ta) {
    gc_shape as = SHAPE(a);
    int64_t k = as.dim[as.ndim - 1], rows = gc_shape_numel(as) / k;
    int32_t af = ir_reshape(g, a, gc_shape2(rows, k));
    int32_t df = ir_reshape(g, dy, gc_shape2(rows, SHAPE(y).dim[nd - 1]));
    dx[1] = tb ? ir_matmul_t(g, df, af, 1, 0) : ir_matmul_t(g, af, df, 1, 0);
    need[1] = false;
  }
  if (need[0]) dx[0] = ta ? ir_matmul_t(g, b, dy, tb, 1) : ir_matmul_t(g, dy, b, 0, !tb);
  if (need[1]) dx[1] = tb ? ir_matmul_t(g, dy, a, 1, ta) : ir_matmul_t(g, a, dy, !ta, 0);
  /* any other 2-D operand of a batched product sums its batch gradients */
  for (int k = 0; k < 2; k++) {
    if (!need[k] || dx[k] < 0 || SHAPE(dx[k]).ndim <= SHAPE(X(k)).ndim) continue;
    uint32_t axes = 0;
    for (int i = 0; i < nd - 2; i++) axes |= 1u << i;
    dx[k] = ir_reduce(g, IR_OP_SUM, dx[k], axes, 0);
  }
}

void grad_softmax(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  uint32_t ax = 1u << g->nodes[y].attr.axis;
  int32_t s = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, dy, y), ax, 1);
  dx[0] = ir_binary(g, IR_OP_MUL, y, ir_binary(g, IR_OP_SUB, dy, s));
}

void grad_log_softmax(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  uint32_t ax = 1u << g->nodes[y].attr.axis;
  int32_t s = ir_reduce(g, IR_OP_SUM, dy, ax, 1);
  dx[0] = ir_binary(g, IR_OP_SUB, dy, ir_binary(g, IR_OP_MUL, ir_unary(g, IR_OP_EXP, y), s));
}

void grad_cross_entropy(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  int32_t in[3] = {X(0), X(1), dy};
  dx[0] = ir_add(g, IR_OP_CROSS_ENTROPY_GRAD, 3, in, NULL);
}

static const grad_rule rules[IR_OP_COUNT] = {
#define OP(E, name, imin, imax, fuse, props, shape, grad, ref, expr) [IR_OP_##E] = grad,
#include "ir/ops.def"
#undef OP
};
static_assert(sizeof rules / sizeof rules[0] == IR_OP_COUNT, "one gradient rule per op");

/* ---- the pass ---- */

gc_status gc_differentiate(gc_graph *g) {
  if (!g) return gc_fail(GC_ERR_INVALID, "differentiate: null graph");
  if (g->status) return gc_fail(g->status, "%s", g->err);
  if (g->grad) return GC_OK;
  if (g->loss < 0) return gc_fail(GC_ERR_INVALID, "differentiate: no loss (call gc_set_loss)");
  int n = g->n, loss = g->loss;
  bool *needs = calloc((size_t)n, sizeof *needs);
  int32_t *adj = malloc(sizeof *adj * (size_t)n);
  if (!needs || !adj) {
    free(needs);
    free(adj);
    return gc_fail(GC_ERR_NOMEM, "differentiate: out of memory");
  }
  /* needs[i]: a parameter reaches node i through differentiable ops. */
  for (int i = 0; i < n; i++) {
    const ir_node *nd = &g->nodes[i];
    adj[i] = -1;
    if (nd->op == IR_OP_PARAM) needs[i] = true;
    if (ir_ops[nd->op].props & (IR_P_NODIFF | IR_P_LEAF)) continue;
    for (int k = 0; k < nd->nin; k++) needs[i] |= needs[nd->in[k]];
  }
  adj[loss] = ir_const_f32(g, 1.0f);
  for (int i = loss; i >= 0 && !g->status; i--) {
    if (adj[i] < 0 || !needs[i]) continue;
    if (!ir_reserve(g, RULE_MAX_NODES)) {
      ir_error(g, GC_ERR_NOMEM, "differentiate: out of memory");
      break;
    }
    const ir_node *nd = &g->nodes[i]; /* stable until the rule has run */
    if (ir_ops[nd->op].props & (IR_P_NODIFF | IR_P_LEAF)) continue;
    bool need[IR_MAX_INPUTS] = {0};
    int32_t dx[IR_MAX_INPUTS];
    for (int k = 0; k < nd->nin; k++) {
      need[k] = needs[nd->in[k]];
      dx[k] = -1;
    }
    int before = g->n;
    rules[nd->op](g, i, adj[i], need, dx);
    if (g->n - before > RULE_MAX_NODES && !g->status)
      ir_error(g, GC_ERR_INTERNAL, "differentiate: the rule of %s added %d nodes (max %d)",
               ir_node_label(g, i), g->n - before, (int)RULE_MAX_NODES);
    for (int k = 0; k < g->nodes[i].nin; k++) {
      int32_t x = g->nodes[i].in[k];
      if (!need[k] || dx[k] < 0) continue;
      adj[x] = adj[x] < 0 ? dx[k] : ir_binary(g, IR_OP_ADD, adj[x], dx[k]);
    }
  }
  free(needs);
  if (g->status) {
    free(adj);
    return gc_fail(g->status, "differentiate: %s", g->err);
  }
  /* Name the parameters' gradients for dumps and lookups. */
  for (int i = 0; i < n; i++) {
    const ir_node *nd = &g->nodes[i];
    if (nd->op != IR_OP_PARAM || adj[i] < 0 || !nd->name || g->nodes[adj[i]].name) continue;
    if (ir_ops[g->nodes[adj[i]].op].props & IR_P_LEAF) continue;
    char name[300];
    snprintf(name, sizeof name, "%s.grad", nd->name);
    if (ir_find_name(g, name) < 0) g->nodes[adj[i]].name = strdup(name);
  }
  g->grad = adj;
  g->ngrad = n;
  return GC_OK;
}

gc_value gc_grad(const gc_graph *g, gc_value v) {
  if (!g || !g->grad || v.id < 0 || v.id >= g->ngrad) return (gc_value){-1};
  return (gc_value){g->grad[v.id]};
}
