/* autodiff_nn.c — gradient rules of the neural-network ops of ir/ops.def.
 * conv2d, its input gradient and its weight gradient are bilinear in their
 * two inputs, so the gradient of each is expressed with the other two (with
 * the same window): double backward and conv_transpose2d come for free.
 * Average pooling and bilinear resize are linear; each is the other's
 * adjoint pair with its *_grad op. */
#include "ir/op_rules.h"
#include "passes/passes.h"

#define X(k) (g->nodes[y].in[k])
#define SHAPE(id) (g->nodes[id].shape)

/* op(a[, b]) with y's window and the given attr.shape. */
static int32_t nn_node(ir_graph *g, ir_op op, int32_t y, int32_t a, int32_t b, gc_shape s) {
  ir_attr at = {0};
  at.win = g->nodes[y].attr.win;
  at.shape = s;
  int32_t in[2] = {a, b};
  return ir_add(g, op, b >= 0 ? 2 : 1, in, &at);
}

/* w [O, C, KH, KW] tap-major, [KH KW, C, O]: the input gradient's GEMM
 * (backends/opencl/cl_conv.c) multiplies by one tap's [C, O] block at a
 * time, which in w is spread at a stride of KH KW over all of w, so each
 * tap's pass touched every cache line of it (dx ran 15% faster reading
 * contiguous blocks, bench_conv 64x32x13x13 -> 64). A transpose of the
 * weight per step costs a small kernel. */
static int32_t tap_major(ir_graph *g, int32_t w) {
  gc_shape s = SHAPE(w);
  int32_t r = ir_reshape(g, w, gc_shape3(s.dim[0], s.dim[1], s.dim[2] * s.dim[3]));
  ir_attr at = {0};
  at.perm[0] = 2, at.perm[1] = 1, at.perm[2] = 0;
  return ir_add(g, IR_OP_TRANSPOSE, 1, &r, &at);
}

void grad_conv2d(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  int32_t x = X(0), w = X(1);
  if (need[0] && SHAPE(w).ndim == 4 && g->nodes[y].attr.win.groups <= 1) {
    ir_attr at = {0};
    at.win = g->nodes[y].attr.win;
    at.shape = SHAPE(x);
    int32_t in[3] = {dy, w, tap_major(g, w)};
    dx[0] = ir_add(g, IR_OP_CONV2D_GRAD_INPUT, 3, in, &at);
  } else if (need[0]) {
    dx[0] = nn_node(g, IR_OP_CONV2D_GRAD_INPUT, y, dy, w, SHAPE(x));
  }
  if (need[1]) dx[1] = nn_node(g, IR_OP_CONV2D_GRAD_WEIGHT, y, x, dy, SHAPE(w));
}

/* y = gi(d, w[, wt]): dL/dd = conv2d(G, w), dL/dw = gw(G, d); wt is a
 * copy of w in another layout, read instead of w, so it takes no gradient
 * of its own (w's is whole). */
void grad_conv2d_grad_input(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  int32_t d = X(0), w = X(1);
  if (need[0]) dx[0] = nn_node(g, IR_OP_CONV2D, y, dy, w, SHAPE(d));
  if (need[1]) dx[1] = nn_node(g, IR_OP_CONV2D_GRAD_WEIGHT, y, dy, d, SHAPE(w));
}

/* y = gw(x, d): dL/dx = gi(d, G), dL/dd = conv2d(x, G). */
void grad_conv2d_grad_weight(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  int32_t x = X(0), d = X(1);
  if (need[0]) dx[0] = nn_node(g, IR_OP_CONV2D_GRAD_INPUT, y, d, dy, SHAPE(x));
  if (need[1]) dx[1] = nn_node(g, IR_OP_CONV2D, y, x, dy, SHAPE(d));
}

/* y = maxpool(x): dy goes to each window's first maximum, found once in
 * the forward (maxpool2d_indices, which fusion computes in y's own kernel:
 * passes/fuse_siblings.c), so the backward reads i32 indices of y's size
 * instead of x, and x can die with the forward. */
void grad_maxpool2d(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (!need[0]) return;
  /* attributes as gc_maxpool2d_indices gives them (no attr.shape), so
   * that CSE merges a user's own indices of the same pooling with these */
  int32_t idx = nn_node(g, IR_OP_MAXPOOL2D_INDICES, y, X(0), -1, (gc_shape){0});
  if (idx >= 0) dx[0] = nn_node(g, IR_OP_MAXPOOL2D_GRAD, y, idx, dy, SHAPE(X(0)));
}

void grad_avgpool2d(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = nn_node(g, IR_OP_AVGPOOL2D_GRAD, y, dy, -1, SHAPE(X(0)));
}

void grad_avgpool2d_grad(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = nn_node(g, IR_OP_AVGPOOL2D, y, dy, -1, SHAPE(X(0)));
}

void grad_resize_bilinear(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = nn_node(g, IR_OP_RESIZE_BILINEAR_GRAD, y, dy, -1, SHAPE(X(0)));
}

void grad_resize_bilinear_grad(ir_graph *g, int32_t y, int32_t dy, const bool *need, int32_t *dx) {
  if (need[0]) dx[0] = nn_node(g, IR_OP_RESIZE_BILINEAR, y, dy, -1, SHAPE(X(0)));
}
