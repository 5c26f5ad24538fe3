/* shape_rules.c — one shape rule per op (the "shape rule" column of
 * ir/ops.def): each checks its inputs' dtypes and shapes and fills the
 * node's output dtype and shape, or records why it cannot. */
#include <string.h>

#include "ir/ir.h"
#include "ir/op_rules.h"

typedef gc_status (*shape_rule)(const ir_graph *g, ir_node *n);

#define IN(k) (&g->nodes[n->in[k]])
#define SHP(s) gc_shape_str((s), (char[160]){0}, 160)

bool ir_shape_eq(gc_shape a, gc_shape b) {
  if (a.ndim != b.ndim) return false;
  for (int i = 0; i < a.ndim; i++)
    if (a.dim[i] != b.dim[i]) return false;
  return true;
}

bool ir_broadcast_shapes(gc_shape a, gc_shape b, gc_shape *out) {
  gc_shape r = {a.ndim > b.ndim ? a.ndim : b.ndim, {0}};
  for (int i = 0; i < r.ndim; i++) {
    int ia = a.ndim - r.ndim + i, ib = b.ndim - r.ndim + i;
    int64_t da = ia >= 0 ? a.dim[ia] : 1, db = ib >= 0 ? b.dim[ib] : 1;
    if (da != db && da != 1 && db != 1) return false;
    r.dim[i] = da == 1 ? db : da;
  }
  *out = r;
  return true;
}

int ir_axis(int axis, int ndim) {
  if (axis < 0) axis += ndim;
  return axis >= 0 && axis < ndim ? axis : -1;
}

static gc_status check_shape(gc_shape s, const char *what) {
  if (s.ndim < 0 || s.ndim > GC_MAX_DIMS)
    return gc_fail(GC_ERR_SHAPE, "%s has %d dims (at most %d)", what, s.ndim, GC_MAX_DIMS);
  for (int i = 0; i < s.ndim; i++)
    if (s.dim[i] <= 0) return gc_fail(GC_ERR_SHAPE, "%s %s has a dimension <= 0", what, SHP(s));
  return GC_OK;
}

gc_status shape_leaf(const ir_graph *g, ir_node *n) {
  (void)g;
  if ((unsigned)n->attr.to >= GC_DTYPE_COUNT) return gc_fail(GC_ERR_INVALID, "bad dtype");
  n->dtype = n->attr.to;
  n->shape = n->attr.shape;
  return check_shape(n->shape, "shape");
}

static gc_status need_f32(const ir_graph *g, const ir_node *n, int k) {
  if (IN(k)->dtype != GC_F32)
    return gc_fail(GC_ERR_SHAPE, "input %d must be f32, got %s", k, gc_dtype_name(IN(k)->dtype));
  return GC_OK;
}

gc_status shape_broadcast(const ir_graph *g, ir_node *n) {
  if (IN(0)->dtype != IN(1)->dtype)
    return gc_fail(GC_ERR_SHAPE, "dtypes %s and %s differ", gc_dtype_name(IN(0)->dtype),
                   gc_dtype_name(IN(1)->dtype));
  if (!ir_broadcast_shapes(IN(0)->shape, IN(1)->shape, &n->shape))
    return gc_fail(GC_ERR_SHAPE, "shapes %s and %s do not broadcast", SHP(IN(0)->shape),
                   SHP(IN(1)->shape));
  n->dtype = n->op == IR_OP_EQUAL ? GC_F32 : IN(0)->dtype;
  return GC_OK;
}

gc_status shape_same(const ir_graph *g, ir_node *n) {
  gc_status st = need_f32(g, n, 0);
  if (st) return st;
  n->dtype = IN(0)->dtype;
  n->shape = IN(0)->shape;
  return GC_OK;
}

gc_status shape_cast(const ir_graph *g, ir_node *n) {
  gc_dtype to = n->attr.to;
  if ((unsigned)to >= GC_DTYPE_COUNT)
    return gc_fail(GC_ERR_UNSUPPORTED, "cast to dtype %d is not supported", (int)to);
  n->dtype = to;
  n->shape = IN(0)->shape;
  return GC_OK;
}

gc_status shape_expand(const ir_graph *g, ir_node *n) {
  gc_shape r;
  gc_status st = check_shape(n->attr.shape, "target shape");
  if (st) return st;
  if (!ir_broadcast_shapes(IN(0)->shape, n->attr.shape, &r) || !ir_shape_eq(r, n->attr.shape))
    return gc_fail(GC_ERR_SHAPE, "cannot broadcast %s to %s", SHP(IN(0)->shape),
                   SHP(n->attr.shape));
  n->dtype = IN(0)->dtype;
  n->shape = r;
  return GC_OK;
}

gc_status shape_reshape(const ir_graph *g, ir_node *n) {
  gc_shape s = n->attr.shape;
  if (s.ndim < 0 || s.ndim > GC_MAX_DIMS)
    return gc_fail(GC_ERR_SHAPE, "target has %d dims (at most %d)", s.ndim, GC_MAX_DIMS);
  int64_t known = 1, total = gc_shape_numel(IN(0)->shape);
  int infer = -1;
  for (int i = 0; i < s.ndim; i++) {
    if (s.dim[i] == -1 && infer < 0) {
      infer = i;
    } else if (s.dim[i] <= 0) {
      return gc_fail(GC_ERR_SHAPE, "bad target shape %s for input %s", SHP(s), SHP(IN(0)->shape));
    } else {
      known *= s.dim[i];
    }
  }
  if (infer >= 0) {
    if (total % known)
      return gc_fail(GC_ERR_SHAPE, "cannot reshape %s (%lld elements) to %s", SHP(IN(0)->shape),
                     (long long)total, SHP(s));
    s.dim[infer] = total / known;
  }
  if (gc_shape_numel(s) != total)
    return gc_fail(GC_ERR_SHAPE, "cannot reshape %s (%lld elements) to %s (%lld elements)",
                   SHP(IN(0)->shape), (long long)total, SHP(s), (long long)gc_shape_numel(s));
  n->attr.shape = s;
  n->shape = s;
  n->dtype = IN(0)->dtype;
  return GC_OK;
}

gc_status shape_transpose(const ir_graph *g, ir_node *n) {
  const gc_shape *x = &IN(0)->shape;
  unsigned seen = 0;
  for (int i = 0; i < x->ndim; i++) {
    int p = n->attr.perm[i];
    if (p < 0 || p >= x->ndim || (seen & (1u << p)))
      return gc_fail(GC_ERR_SHAPE, "perm is not a permutation of the %d axes of %s", x->ndim,
                     SHP(*x));
    seen |= 1u << p;
  }
  n->shape.ndim = x->ndim;
  for (int i = 0; i < x->ndim; i++) n->shape.dim[i] = x->dim[n->attr.perm[i]];
  n->dtype = IN(0)->dtype;
  return GC_OK;
}

gc_status shape_reduce(const ir_graph *g, ir_node *n) {
  const gc_shape *x = &IN(0)->shape;
  gc_status st = need_f32(g, n, 0);
  if (st) return st;
  if (n->attr.axes >> x->ndim)
    return gc_fail(GC_ERR_SHAPE, "reduction axis out of range for %s", SHP(*x));
  gc_shape r = {0, {0}};
  for (int i = 0; i < x->ndim; i++) {
    if (n->attr.axes & (1u << i)) {
      if (n->attr.keepdims) r.dim[r.ndim++] = 1;
    } else {
      r.dim[r.ndim++] = x->dim[i];
    }
  }
  n->shape = r;
  n->dtype = GC_F32;
  return GC_OK;
}

/* [.., M, K] x [.., K, N]: the batch axes (all but the last two) are equal,
 * or one operand is 2-D and shared by every batch. */
gc_status shape_matmul(const ir_graph *g, ir_node *n) {
  const gc_shape *a = &IN(0)->shape, *b = &IN(1)->shape;
  gc_status st;
  if ((st = need_f32(g, n, 0)) || (st = need_f32(g, n, 1))) return st;
  if (a->ndim < 2 || b->ndim < 2)
    return gc_fail(GC_ERR_SHAPE, "operands must be at least 2-D, got %s and %s", SHP(*a), SHP(*b));
  const gc_shape *batch = a->ndim >= b->ndim ? a : b;
  if (a->ndim > 2 && b->ndim > 2) {
    bool same = a->ndim == b->ndim;
    for (int i = 0; same && i < a->ndim - 2; i++) same = a->dim[i] == b->dim[i];
    if (!same)
      return gc_fail(GC_ERR_SHAPE, "batch dimensions of %s and %s differ (one operand may be 2-D)",
                     SHP(*a), SHP(*b));
  }
  int ra = a->ndim - 2, rb = b->ndim - 2;
  int64_t m = n->attr.trans_a ? a->dim[ra + 1] : a->dim[ra];
  int64_t ka = n->attr.trans_a ? a->dim[ra] : a->dim[ra + 1];
  int64_t kb = n->attr.trans_b ? b->dim[rb + 1] : b->dim[rb];
  int64_t nn = n->attr.trans_b ? b->dim[rb] : b->dim[rb + 1];
  if (ka != kb)
    return gc_fail(GC_ERR_SHAPE, "inner dimensions differ: %s%s x %s%s", SHP(*a),
                   n->attr.trans_a ? "^T" : "", SHP(*b), n->attr.trans_b ? "^T" : "");
  n->shape = *batch;
  n->shape.dim[batch->ndim - 2] = m;
  n->shape.dim[batch->ndim - 1] = nn;
  n->dtype = GC_F32;
  return GC_OK;
}

gc_status shape_same_axis(const ir_graph *g, ir_node *n) {
  int ax = ir_axis(n->attr.axis, IN(0)->shape.ndim);
  if (ax < 0)
    return gc_fail(GC_ERR_SHAPE, "axis %d out of range for %s", n->attr.axis, SHP(IN(0)->shape));
  n->attr.axis = ax;
  return shape_same(g, n);
}

gc_status shape_cross_entropy(const ir_graph *g, ir_node *n) {
  const gc_shape *l = &IN(0)->shape, *y = &IN(1)->shape;
  gc_status st = need_f32(g, n, 0);
  if (st) return st;
  if (IN(1)->dtype != GC_I32)
    return gc_fail(GC_ERR_SHAPE, "labels must be i32, got %s", gc_dtype_name(IN(1)->dtype));
  if (l->ndim != 2 || y->ndim != 1 || y->dim[0] != l->dim[0])
    return gc_fail(GC_ERR_SHAPE, "want logits [N, C] and labels [N], got %s and %s", SHP(*l),
                   SHP(*y));
  n->shape = gc_shape0();
  n->dtype = GC_F32;
  return GC_OK;
}

gc_status shape_cross_entropy_grad(const ir_graph *g, ir_node *n) {
  gc_status st = shape_cross_entropy(g, n);
  if (st) return st;
  if (IN(2)->shape.ndim != 0 || IN(2)->dtype != GC_F32)
    return gc_fail(GC_ERR_SHAPE, "dloss must be an f32 scalar, got %s", SHP(IN(2)->shape));
  n->shape = IN(0)->shape;
  return GC_OK;
}

/* In-place writers: input 0 must be persistent storage; the others match it
 * except the trailing hyper-parameter state of the optimizers. */
gc_status shape_assign(const ir_graph *g, ir_node *n) {
  const ir_node *p = IN(0);
  if (!(ir_ops[p->op].props & IR_P_LEAF) || p->op == IR_OP_CONST || p->op == IR_OP_INPUT)
    return gc_fail(GC_ERR_INVALID, "can only update a parameter or state in place, not %s",
                   ir_ops[p->op].name);
  int same = n->op == IR_OP_ADAM_UPDATE                              ? 4
             : n->op == IR_OP_ASSIGN_ADD || n->op == IR_OP_SGD_APPLY ? 2
                                                                     : 3;
  for (int k = 1; k < same; k++)
    if (!ir_shape_eq(IN(k)->shape, p->shape) || IN(k)->dtype != p->dtype)
      return gc_fail(GC_ERR_SHAPE, "input %d %s %s does not match the updated tensor %s %s", k,
                     gc_dtype_name(IN(k)->dtype), SHP(IN(k)->shape), gc_dtype_name(p->dtype),
                     SHP(p->shape));
  if (same < n->nin && gc_shape_numel(IN(same)->shape) != 4)
    return gc_fail(GC_ERR_SHAPE, "hyper-parameter state must have 4 elements");
  n->shape = p->shape;
  n->dtype = p->dtype;
  return GC_OK;
}

static const shape_rule rules[IR_OP_COUNT] = {
#define OP(E, name, imin, imax, fuse, props, shape, grad, ref, expr) [IR_OP_##E] = shape,
#include "ir/ops.def"
#undef OP
};
static_assert(sizeof rules / sizeof rules[0] == IR_OP_COUNT, "one shape rule per op");

gc_status ir_infer_shape(ir_graph *g, ir_node *node) {
  for (int k = 0; k < node->nin; k++) {
    const ir_node *in = &g->nodes[node->in[k]];
    /* adam_apply reads the m its adam_moments wrote (input 1), sgd_apply
     * the velocity of its sgd_velocity */
    if (ir_is_update(in) &&
        !(k == 1 && ((node->op == IR_OP_ADAM_APPLY && in->op == IR_OP_ADAM_MOMENTS) ||
                     (node->op == IR_OP_SGD_APPLY && in->op == IR_OP_SGD_VELOCITY))))
      return gc_fail(GC_ERR_INVALID, "input %d is an update (%s), which has no value to read", k,
                     ir_ops[in->op].name);
  }
  return rules[node->op](g, node);
}
