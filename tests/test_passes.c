/* test_passes.c — Check suite for passes/ without OpenCL (fast): schedule
 * (in-place writers after every reader; a cycle is reported), simplify
 * (dead nodes dropped, outputs and updates kept, loss/hyper/grad ids
 * renumbered), fuse on small graphs (group kinds, memberships,
 * materialization) and plan (best fit reuses memory, no_plan does not, the
 * inference MLP's arena is close to the live-set lower bound), with
 * plan_check on every plan. Whole compiles use the reference device, which
 * runs the same pass pipeline as OpenCL. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "passes/passes.h"

/* ------------------------------------------------------------- helpers */

static gc_device *ref_device(void) {
  gc_device *d = NULL;
  ck_assert_int_eq(gc_device_open("ref", &d), GC_OK);
  return d;
}

/* Compiles on ref and checks the plan and its size relations. */
static gc_program *compile(gc_graph *g, int no_fuse, int no_plan) {
  ck_assert_msg(gc_graph_status(g) == GC_OK, "graph: %s", gc_graph_errmsg(g));
  gc_device *d = ref_device();
  gc_compile_options o = {0};
  o.no_fuse = no_fuse;
  o.no_plan = no_plan;
  gc_program *p = NULL;
  ck_assert_msg(gc_compile(g, d, &o, &p) == GC_OK, "compile: %s", gc_last_error());
  ck_assert_msg(plan_check(p->g, &p->fuse, &p->mem) == GC_OK, "plan_check: %s", gc_last_error());
  ck_assert(p->mem.live_lower_bound_bytes <= p->mem.arena_bytes);
  ck_assert(p->mem.arena_bytes <= p->mem.no_reuse_bytes);
  if (no_plan) ck_assert_uint_eq(p->mem.arena_bytes, p->mem.no_reuse_bytes);
  p->dev = NULL; /* the device is freed now; nothing of the program needs it */
  gc_device_free(d);
  return p;
}

/* The first node of op in p's graph, or -1. */
static int32_t find_node_op(const gc_program *p, ir_op op) {
  for (int i = 0; i < p->g->n; i++)
    if (p->g->nodes[i].op == op) return i;
  return -1;
}

/* Schedule + fuse directly on a builder graph (for small fusion tests). */
typedef struct fused {
  int32_t *order;
  fuse_plan f;
  mem_plan m;
} fused;

/* max_buffers: the kernel-argument cap (0: the default). */
static void fuse_graph_capped(const gc_graph *g, bool no_fuse, int max_buffers, fused *out) {
  ck_assert_msg(gc_graph_status(g) == GC_OK, "graph: %s", gc_graph_errmsg(g));
  out->order = malloc(sizeof *out->order * (size_t)g->n);
  ck_assert_msg(pass_schedule(g, out->order) == GC_OK, "%s", gc_last_error());
  ck_assert_msg(pass_fuse(g, out->order, no_fuse, max_buffers, &out->f) == GC_OK, "%s",
                gc_last_error());
  ck_assert_msg(pass_plan(g, &out->f, false, 64, 0, &out->m) == GC_OK, "%s", gc_last_error());
  ck_assert_msg(plan_check(g, &out->f, &out->m) == GC_OK, "%s", gc_last_error());
}

static void fuse_graph(const gc_graph *g, bool no_fuse, fused *out) {
  fuse_graph_capped(g, no_fuse, 0, out);
}

static void fused_free(fused *x) {
  free(x->order);
  fuse_plan_free(&x->f);
  mem_plan_free(&x->m);
}

static int position(const int32_t *order, int n, int32_t id) {
  for (int i = 0; i < n; i++)
    if (order[i] == id) return i;
  return -1;
}

/* Groups that launch a kernel. */
static int kernel_groups(const fuse_plan *f) {
  int k = 0;
  for (int i = 0; i < f->ngroups; i++) k += f->groups[i].kind != FUSE_NONE;
  return k;
}

static const fuse_group *grp(const fused *x, gc_value v) {
  return &x->f.groups[x->f.group_of[v.id]];
}

static bool same_group(const fused *x, gc_value a, gc_value b) {
  return x->f.group_of[a.id] == x->f.group_of[b.id];
}

/* ------------------------------------------------------------- schedule */

START_TEST(schedule_writers_after_readers) {
  gc_graph *g = gc_graph_new();
  gc_value p = gc_param(g, "p", gc_shape1(5), GC_ZEROS);
  gc_value d = gc_input(g, "d", GC_F32, gc_shape1(5));
  gc_value w1 = gc_assign_add(g, p, d);              /* built first */
  gc_value r1 = gc_output(g, gc_mul(g, p, p), "r1"); /* reads p after */
  gc_value v = gc_reshape(g, p, gc_shape2(1, 5));    /* a view of p */
  gc_value r2 = gc_output(g, gc_exp(g, v), "r2");    /* reads p through it */
  gc_value w2 = gc_assign_add(g, p, gc_neg(g, d));   /* a second writer */
  ck_assert_int_eq(gc_graph_status(g), GC_OK);
  int32_t *order = malloc(sizeof *order * (size_t)g->n);
  ck_assert_int_eq(pass_schedule(g, order), GC_OK);
  int n = g->n;
  /* a permutation */
  bool *seen = calloc((size_t)n, sizeof *seen);
  for (int i = 0; i < n; i++) {
    ck_assert(order[i] >= 0 && order[i] < n && !seen[order[i]]);
    seen[order[i]] = true;
  }
  free(seen);
  /* data dependencies respected */
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes[i].nin; k++)
      ck_assert_int_lt(position(order, n, g->nodes[i].in[k]), position(order, n, i));
  int pw1 = position(order, n, w1.id), pw2 = position(order, n, w2.id);
  ck_assert_int_gt(pw1, position(order, n, r1.id));
  ck_assert_int_gt(pw1, position(order, n, r2.id)); /* the read through the view */
  ck_assert_int_gt(pw1, position(order, n, v.id));
  ck_assert_int_gt(pw2, pw1); /* writers keep their build order */
  free(order);

  /* the dependency lists contain the ordering edges */
  sched_deps deps;
  ck_assert_int_eq(sched_deps_build(g, &deps), GC_OK);
  bool has = false;
  for (int e = deps.start[w1.id]; e < deps.start[w1.id + 1]; e++) has |= deps.list[e] == r1.id;
  ck_assert(has);
  has = false;
  for (int e = deps.start[w2.id]; e < deps.start[w2.id + 1]; e++) has |= deps.list[e] == w1.id;
  ck_assert(has);
  sched_deps_free(&deps);
  ck_assert_int_eq(ir_storage_root(g, w2.id), p.id);
  ck_assert_int_eq(ir_storage_root(g, v.id), p.id);
  gc_graph_free(g);
}
END_TEST

START_TEST(schedule_reports_a_cycle) {
  /* An update's value cannot be read (the builder refuses), except the
   * optimizer tick's: q reads the old hyper state (so it must run before
   * the tick) and the tick's result (so after it). */
  gc_graph *g = gc_graph_new();
  ir_attr a = {0};
  a.to = GC_F32;
  a.shape = gc_shape1(4);
  int32_t h = ir_add(g, IR_OP_STATE, 0, NULL, &a);
  ck_assert_int_ge(h, 0);
  g->nodes[h].flags |= IR_F_STATE;
  g->nodes[h].data = calloc(4, sizeof(float));
  ir_attr t = {0};
  t.f[0] = 0.9f;
  t.f[1] = 0.999f;
  int32_t tick = ir_add(g, IR_OP_OPT_TICK, 1, &h, &t);
  ck_assert_int_ge(tick, 0);
  gc_output(g, gc_mul(g, ir_value(h), ir_value(tick)), "q");
  ck_assert_int_eq(gc_graph_status(g), GC_OK);
  int32_t *order = malloc(sizeof *order * (size_t)g->n);
  ck_assert_int_eq(pass_schedule(g, order), GC_ERR_INVALID);
  ck_assert_msg(strstr(gc_last_error(), "cycle"), "%s", gc_last_error());
  free(order);
  gc_device *dev = ref_device();
  gc_program *prog = NULL;
  ck_assert_int_eq(gc_compile(g, dev, NULL, &prog), GC_ERR_INVALID);
  ck_assert_ptr_null(prog);
  gc_device_free(dev);
  gc_graph_free(g);
}
END_TEST

/* ------------------------------------------------------------- simplify */

START_TEST(simplify_drops_dead_nodes) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(4, 3));
  gc_value unused_in = gc_input(g, "unused", GC_F32, gc_shape1(2));
  gc_value dead1 = gc_exp(g, x); /* dead */
  gc_value dead2 = gc_set_name(g, gc_neg(g, dead1), "dead");
  gc_value y = gc_input(g, "y", GC_I32, gc_shape1(4));
  gc_value logits = gc_linear(g, x, 5, GC_GLOROT, "fc");
  gc_value loss = gc_set_loss(g, gc_cross_entropy(g, logits, y));
  gc_output(g, gc_relu(g, logits), "act");
  gc_value counter = gc_param(g, "counter", gc_shape0(), GC_ZEROS);
  gc_assign_add(g, counter, gc_scalar(g, 1.0f)); /* an update, no output */
  gc_sgd sgd = {.lr = 0.1f};
  ck_assert_int_eq(gc_optimize_sgd(g, &sgd), GC_OK);
  (void)unused_in;
  (void)dead2;
  ck_assert_int_eq(gc_graph_status(g), GC_OK);
  int before = g->n;
  ir_graph *c = ir_graph_clone(g);
  ck_assert_ptr_nonnull(c);
  ck_assert_int_eq(pass_simplify(c), GC_OK);
  ck_assert_int_eq(ir_verify(c), GC_OK);
  ck_assert_int_lt(c->n, before);
  ck_assert_int_lt(ir_find_name(c, "dead"), 0);
  for (int i = 0; i < c->n; i++) ck_assert_int_ne(c->nodes[i].op, IR_OP_EXP);
  /* inputs stay (the session may set them), outputs and updates stay */
  ck_assert_int_ge(ir_find_name(c, "unused"), 0);
  int outs = 0, assigns = 0, sgds = 0;
  for (int i = 0; i < c->n; i++) {
    const ir_node *n = &c->nodes[i];
    if (n->flags & IR_F_OUTPUT) outs++;
    assigns += n->op == IR_OP_ASSIGN_ADD;
    sgds += n->op == IR_OP_SGD_UPDATE;
    for (int k = 0; k < n->nin; k++) ck_assert(n->in[k] >= 0 && n->in[k] < i);
  }
  ck_assert_int_eq(outs, 2); /* "loss" and "act" */
  ck_assert_int_eq(assigns, 1);
  ck_assert_int_eq(sgds, 2); /* fc.w, fc.b (counter gets no gradient) */
  /* renumbered ids point at the same nodes */
  ck_assert_int_ge(c->loss, 0);
  ck_assert(c->nodes[c->loss].flags & IR_F_LOSS);
  ck_assert_int_eq(c->nodes[c->loss].op, IR_OP_CROSS_ENTROPY);
  ck_assert_int_ne(c->loss, loss.id);
  ck_assert_int_ge(c->hyper, 0);
  ck_assert_str_eq(c->nodes[c->hyper].name, "optimizer.hyper");
  int32_t w = ir_find_name(c, "fc.w");
  ck_assert_int_ge(w, 0);
  ck_assert_int_lt(w, c->ngrad);
  int32_t gw = c->grad[w];
  ck_assert(gw >= 0 && gw < c->n);
  ck_assert_int_eq(c->nodes[gw].op, IR_OP_MATMUL);
  ck_assert(ir_shape_eq(c->nodes[gw].shape, c->nodes[w].shape));
  gc_graph_free(c);

  /* the compiled program agrees */
  gc_program *p = compile(g, 0, 0);
  ck_assert_int_eq(p->stats.nodes_before, before);
  ck_assert_int_lt(p->stats.nodes_after, before);
  gc_program_free(p);
  gc_graph_free(g);
}
END_TEST

/* The gradient of a value read through slices that tile one axis (an
 * LSTM's four gates) is the concat of the slices' gradients, not a sum of
 * zero-padded slice_grads (passes/join_slice_grads.c); slices that
 * overlap, leave a gap, step by 2 or cut along two axes keep their
 * slice_grads. The gradients are checked on the reference device. */
static gc_value slice_of(gc_graph *g, gc_value x, int axis, int64_t from, int64_t to,
                         int64_t step) {
  return gc_slice(g, x, &from, &to, &axis, &step, 1);
}

static gc_value scaled_sum(gc_graph *g, gc_value v, float k) {
  int axes[2] = {0, 1};
  return gc_sum(g, gc_mul(g, v, gc_scalar(g, k)), axes, 2, 0);
}

START_TEST(simplify_joins_slice_grads_that_tile) {
  gc_graph *g = gc_graph_new();
  gc_init u = {GC_INIT_UNIFORM, -1.0f, 1.0f, 0, 0};
  gc_value a = gc_param(g, "a", gc_shape2(3, 10), u); /* tiled: [0,4) [4,6) [6,10) */
  gc_value b = gc_param(g, "b", gc_shape2(3, 10), u); /* [0,5) [4,9): lengths add up */
  gc_value c = gc_param(g, "c", gc_shape2(3, 10), u); /* gap: [0,4) [5,10) */
  gc_value d = gc_param(g, "d", gc_shape2(3, 10), u); /* step 2: evens, odds */
  gc_value e = gc_param(g, "e", gc_shape2(4, 4), u);  /* rows [0,2), then [2,4) x columns [0,3) */
  gc_value loss = scaled_sum(g, slice_of(g, a, 1, 6, 10, 1), 5.0f);
  loss = gc_add(g, loss, scaled_sum(g, slice_of(g, a, 1, 0, 4, 1), 2.0f));
  loss = gc_add(g, loss, scaled_sum(g, slice_of(g, a, 1, 4, 6, 1), 3.0f));
  loss = gc_add(g, loss, scaled_sum(g, slice_of(g, b, 1, 0, 5, 1), 2.0f));
  loss = gc_add(g, loss, scaled_sum(g, slice_of(g, b, 1, 4, 9, 1), 3.0f));
  loss = gc_add(g, loss, scaled_sum(g, slice_of(g, c, 1, 0, 4, 1), 2.0f));
  loss = gc_add(g, loss, scaled_sum(g, slice_of(g, c, 1, 5, 10, 1), 3.0f));
  loss = gc_add(g, loss, scaled_sum(g, slice_of(g, d, 1, 0, 10, 2), 2.0f));
  loss = gc_add(g, loss, scaled_sum(g, slice_of(g, d, 1, 1, 10, 2), 3.0f));
  loss = gc_add(g, loss, scaled_sum(g, slice_of(g, e, 0, 0, 2, 1), 2.0f));
  int64_t from[2] = {2, 0}, to[2] = {4, 3};
  int axes[2] = {0, 1};
  loss = gc_add(g, loss, scaled_sum(g, gc_slice(g, e, from, to, axes, NULL, 2), 3.0f));
  gc_set_loss(g, loss);
  ck_assert_int_eq(gc_differentiate(g), GC_OK);
  gc_value ps[5] = {a, b, c, d, e};
  const char *names[5] = {"da", "db", "dc", "dd", "de"};
  for (int k = 0; k < 5; k++) gc_output(g, gc_grad(g, ps[k]), names[k]);
  gc_program *p = compile(g, 0, 0);
  int concats = 0, slice_grads = 0;
  for (int i = 0; i < p->g->n; i++) {
    const ir_node *n = &p->g->nodes[i];
    slice_grads += n->op == IR_OP_SLICE_GRAD;
    if (n->op != IR_OP_CONCAT) continue;
    concats++;
    ck_assert_int_eq(n->attr.axis, 1);
    ck_assert_int_eq(n->nin, 3);
    ck_assert_int_eq(p->g->nodes[n->in[0]].shape.dim[1], 4); /* in order of place */
    ck_assert_int_eq(p->g->nodes[n->in[1]].shape.dim[1], 2);
    ck_assert_int_eq(p->g->nodes[n->in[2]].shape.dim[1], 4);
  }
  ck_assert_int_eq(concats, 1);
  ck_assert_int_eq(slice_grads, 8); /* b's, c's, d's and e's */
  gc_session *s = NULL;
  ck_assert_int_eq(gc_session_new(p, &s), GC_OK);
  ck_assert_int_eq(gc_session_run(s), GC_OK);
  float da[30], db[30], dc[30], dd[30], de[16];
  ck_assert_int_eq(gc_session_get_output(s, "da", da, sizeof da), GC_OK);
  ck_assert_int_eq(gc_session_get_output(s, "db", db, sizeof db), GC_OK);
  ck_assert_int_eq(gc_session_get_output(s, "dc", dc, sizeof dc), GC_OK);
  ck_assert_int_eq(gc_session_get_output(s, "dd", dd, sizeof dd), GC_OK);
  ck_assert_int_eq(gc_session_get_output(s, "de", de, sizeof de), GC_OK);
  for (int i = 0; i < 30; i++) {
    int j = i % 10;
    ck_assert_float_eq(da[i], j < 4 ? 2.0f : j < 6 ? 3.0f : 5.0f);
    ck_assert_float_eq(db[i], (j < 5 ? 2.0f : 0.0f) + (j >= 4 && j < 9 ? 3.0f : 0.0f));
    ck_assert_float_eq(dc[i], j < 4 ? 2.0f : j < 5 ? 0.0f : 3.0f);
    ck_assert_float_eq(dd[i], j % 2 ? 3.0f : 2.0f);
  }
  for (int i = 0; i < 16; i++) ck_assert_float_eq(de[i], i < 8 ? 2.0f : i % 4 < 3 ? 3.0f : 0.0f);
  gc_session_free(s);
  gc_program_free(p);
  gc_graph_free(g);
}
END_TEST

/* The gradient of sum over windows of maxpool(relu(x)) * dy, by hand:
 * each window's dy goes to its first maximum when that maximum is
 * positive. x [N, C, H, W]; k x k windows, stride st, padding pad. */
static void relu_pool_grad(const float *x, const float *dy, int NC, int H, int W, int k, int st,
                           int pad, float *dx) {
  const int OH = (H + 2 * pad - k) / st + 1, OW = (W + 2 * pad - k) / st + 1;
  for (int p = 0; p < NC; p++)
    for (int oh = 0; oh < OH; oh++)
      for (int ow = 0; ow < OW; ow++) {
        int best = -1;
        float m = 0;
        for (int a = 0; a < k; a++)
          for (int b = 0; b < k; b++) {
            int h = oh * st - pad + a, w = ow * st - pad + b;
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            float v = fmaxf(x[(p * H + h) * W + w], 0.0f);
            if (best < 0 || v > m) best = (p * H + h) * W + w, m = v;
          }
        if (m > 0) dx[best] += dy[(p * OH + oh) * OW + ow];
      }
}

/* relu → maxpool differentiates to the pooling gradient masked by step of
 * the ReLU's output; simplify moves the mask to the pooled gradient
 * (mask_pool_grads.c): as a node where dy is elementwise (2x2 windows,
 * dy = r1), as the gradient's masked form where dy is a reshape (3x3
 * overlapping windows, then a matmul). Nothing reads the ReLUs' outputs
 * after the pooling, and the gradients equal the ones by hand (the ReLU's
 * zeros tie, and step(0) = 0 sends nothing). */
START_TEST(simplify_moves_relu_masks_before_pool_grads) {
  gc_graph *g = gc_graph_new();
  gc_init u = {GC_INIT_UNIFORM, -1.0f, 1.0f, 0, 0};
  enum { N = 2, C = 3, H = 7, W = 8, NX = N * C * H * W };
  gc_value x = gc_param(g, "x", gc_shape4(N, C, H, W), u);
  gc_value x3 = gc_param(g, "x3", gc_shape4(N, C, H, W), u);
  gc_pool2d_opts o2 = {{2, 2}, {2, 2}, {0, 0, 0, 0}, {0, 0}, 0, 0};
  gc_pool2d_opts o3 = {{3, 3}, {2, 2}, {1, 1, 1, 1}, {0, 0}, 0, 0};
  gc_value bias = gc_param(g, "b", gc_shape4(1, C, 1, 1), u); /* its gradient sums dx */
  gc_value y2 = gc_maxpool2d(g, gc_relu(g, gc_add(g, x, bias)), &o2);
  gc_value bias3 = gc_param(g, "b3", gc_shape4(1, C, 1, 1), u);
  gc_value y3 = gc_maxpool2d(g, gc_relu(g, gc_add(g, x3, bias3)), &o3);
  enum { N2 = N * C * 3 * 4, F3 = C * 4 * 4, K = 5 };
  float r1[N2], w3[F3 * K], r3[N * K];
  for (int i = 0; i < N2; i++) r1[i] = (float)((i * 7) % 11) - 5.0f;
  for (int i = 0; i < F3 * K; i++) w3[i] = (float)((i * 5) % 9) / 4.0f - 1.0f;
  for (int i = 0; i < N * K; i++) r3[i] = (float)(i % 4) - 1.5f;
  gc_value loss =
      gc_sum(g, gc_mul(g, y2, gc_constant(g, GC_F32, gc_shape4(N, C, 3, 4), r1)), NULL, 0, 0);
  gc_value z = gc_matmul(g, gc_reshape(g, y3, gc_shape2(N, F3)),
                         gc_constant(g, GC_F32, gc_shape2(F3, K), w3));
  loss = gc_add(g, loss,
                gc_sum(g, gc_mul(g, z, gc_constant(g, GC_F32, gc_shape2(N, K), r3)), NULL, 0, 0));
  gc_set_loss(g, loss);
  ck_assert_int_eq(gc_differentiate(g), GC_OK);
  gc_output(g, gc_grad(g, x), "dx");
  gc_output(g, gc_grad(g, x3), "dx3");
  gc_output(g, gc_grad(g, bias), "db");
  gc_output(g, gc_grad(g, bias3), "db3");
  float xv[NX], xv3[NX], bv[C], bv3[C];
  memcpy(xv, g->nodes[x.id].data, sizeof xv);
  memcpy(bv, g->nodes[bias.id].data, sizeof bv);
  memcpy(xv3, g->nodes[x3.id].data, sizeof xv3);
  memcpy(bv3, g->nodes[bias3.id].data, sizeof bv3);
  for (int i = 0; i < NX; i++) { /* the poolings' inputs, x + b */
    xv[i] += bv[i / (H * W) % C];
    xv3[i] += bv3[i / (H * W) % C];
  }
  gc_program *p = compile(g, 0, 0);
  int masked_form = 0, mask_node = 0, pooled_sums = 0;
  for (int i = 0; i < p->g->n; i++) {
    const ir_node *n = &p->g->nodes[i];
    /* the bias gradients sum the masked pooled gradient (read by the
     * 2x2 gradient, or a product of dy and step(y) of its own), not dx */
    const ir_node *sx = &p->g->nodes[n->in[0]];
    if (n->op == IR_OP_SUM && sx->op == IR_OP_MUL) {
      const ir_node *mask = &p->g->nodes[sx->in[1]];
      pooled_sums += mask->op == IR_OP_STEP && p->g->nodes[mask->in[0]].op == IR_OP_MAXPOOL2D;
    }
    if (n->op == IR_OP_STEP) ck_assert_int_ne(p->g->nodes[n->in[0]].op, IR_OP_RELU);
    if (n->op != IR_OP_MAXPOOL2D_GRAD) continue;
    masked_form += n->nin == 3;
    mask_node += n->nin == 2 && p->g->nodes[n->in[1]].op == IR_OP_MUL;
  }
  ck_assert_int_eq(masked_form, 1);
  ck_assert_int_eq(mask_node, 1);
  ck_assert_int_eq(pooled_sums, 2);
  float want[NX] = {0}, want3[NX] = {0}, dy3[N * F3];
  relu_pool_grad(xv, r1, N * C, H, W, 2, 2, 0, want);
  for (int n = 0; n < N; n++) /* dy3 = r3 w3^T */
    for (int j = 0; j < F3; j++) {
      float acc = 0;
      for (int k = 0; k < K; k++) acc += r3[n * K + k] * w3[j * K + k];
      dy3[n * F3 + j] = acc;
    }
  relu_pool_grad(xv3, dy3, N * C, H, W, 3, 2, 1, want3);
  gc_session *s = NULL;
  ck_assert_int_eq(gc_session_new(p, &s), GC_OK);
  ck_assert_int_eq(gc_session_run(s), GC_OK);
  float got[NX], got3[NX], db[C], db3[C];
  ck_assert_int_eq(gc_session_get_output(s, "dx", got, sizeof got), GC_OK);
  ck_assert_int_eq(gc_session_get_output(s, "db", db, sizeof db), GC_OK);
  ck_assert_int_eq(gc_session_get_output(s, "db3", db3, sizeof db3), GC_OK);
  for (int c = 0; c < C; c++) {
    double want_db = 0, want_db3 = 0;
    for (int i = 0; i < NX; i++)
      if (i / (H * W) % C == c) want_db += want[i], want_db3 += want3[i];
    ck_assert_msg(fabs(db[c] - want_db) <= 1e-5 * (1 + fabs(want_db)), "db[%d]: got %g want %g", c,
                  db[c], want_db);
    ck_assert_msg(fabs(db3[c] - want_db3) <= 1e-5 * (1 + fabs(want_db3)), "db3[%d]: got %g want %g",
                  c, db3[c], want_db3);
  }
  ck_assert_int_eq(gc_session_get_output(s, "dx3", got3, sizeof got3), GC_OK);
  int nonzero = 0, nonzero3 = 0;
  for (int i = 0; i < NX; i++) {
    ck_assert_msg(fabsf(got[i] - want[i]) <= 1e-5f * (1 + fabsf(want[i])), "dx[%d]: got %g want %g",
                  i, got[i], want[i]);
    ck_assert_msg(fabsf(got3[i] - want3[i]) <= 1e-5f * (1 + fabsf(want3[i])),
                  "dx3[%d]: got %g want %g", i, got3[i], want3[i]);
    nonzero += want[i] != 0;
    nonzero3 += want3[i] != 0;
  }
  ck_assert_int_gt(nonzero, NX / 8);
  ck_assert_int_gt(nonzero3, NX / 8);
  gc_session_free(s);
  gc_program_free(p);
  gc_graph_free(g);
}
END_TEST

/* The per-channel (or per-feature) scale gamma / sqrt(var + eps) of a
 * batch norm in inference, read by the elementwise kernel over x. */
static gc_value scale_of_shape(gc_graph *g, gc_shape s) {
  gc_init u = {GC_INIT_UNIFORM, 0.5f, 1.5f, 0, 0};
  gc_value gamma = gc_param(g, "gamma", s, u);
  gc_value var = gc_param(g, "var", s, u);
  return gc_div(g, gamma, gc_sqrt(g, gc_add(g, var, gc_scalar(g, 1e-5f))));
}

/* passes/postdom.c: TVM's rule over the post-dominator tree of the
 * kernels counts what fusion kept apart. An elementwise chain fuses whole
 * (none); so does batch norm in inference, whose per-channel scale
 * [3, 1, 1] joins the kernel over x [2, 3, 4, 5], its post-dominator
 * (passes/fuse_postdom.c, in fuse_broadcast.c's form: constant along the
 * last dim, it costs the CPU loop once per row). A scale per last-dim
 * feature [5] would cost a sqrt and a divide per element there: no form
 * takes it, it stays apart, and the rule counts it (one). */
START_TEST(postdom_rule_counts_what_fusion_keeps_apart) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape4(2, 3, 4, 5));
  gc_output(g, gc_sigmoid(g, gc_add(g, gc_mul(g, x, x), gc_scalar(g, 1.0f))), "y");
  gc_program *p = compile(g, 0, 0);
  ck_assert_int_eq(p->stats.postdom_misses, 0);
  gc_program_free(p);
  gc_graph_free(g);

  for (int per_feature = 0; per_feature < 2; per_feature++) {
    g = gc_graph_new();
    x = gc_input(g, "x", GC_F32, gc_shape4(2, 3, 4, 5));
    gc_value scale = scale_of_shape(g, per_feature ? gc_shape1(5) : gc_shape3(3, 1, 1));
    gc_output(g, gc_add(g, gc_mul(g, x, scale), gc_scalar(g, 0.25f)), "y");
    p = compile(g, 0, 0);
    int32_t sq = find_node_op(p, IR_OP_SQRT), mul = find_node_op(p, IR_OP_MUL);
    ck_assert_int_eq(p->stats.postdom_misses, per_feature);
    ck_assert_int_eq(p->stats.postdom_joins, !per_feature);
    ck_assert_int_eq(p->fuse.group_of[sq] == p->fuse.group_of[mul], !per_feature);
    int count = 0;
    int *missed = malloc(sizeof *missed * (size_t)p->fuse.ngroups);
    ck_assert_int_eq(fuse_postdom_misses(p->g, &p->fuse, &count, missed), GC_OK);
    ck_assert_int_eq(count, per_feature);
    if (per_feature) ck_assert_int_eq(missed[p->fuse.group_of[sq]], p->fuse.group_of[mul]);
    free(missed);
    gc_program_free(p);
    gc_graph_free(g);
  }
}
END_TEST

/* TVM's rule takes an elementwise producer into a complex op's group when
 * that group's epilogue reads it (it would be evaluated there), not when
 * the complex op itself does (a matmul's operand). A bias summed from two
 * slices of one parameter, as ONNX's RNNs with an initial bias have it, is
 * recomputed by the product's epilogue, which reads the parameter at the
 * slices' coordinates (passes/fuse.c, slice_of_leaf): no kernel of its
 * own, nothing counted. A bias exp(b) is not recomputed (exp is not
 * cheap), no kernel form evaluates it in the epilogue, and the rule
 * counts it; relu(W), the product's operand, is not counted. */
START_TEST(postdom_rule_counts_epilogue_operands_only) {
  for (int costly = 0; costly < 2; costly++) {
    gc_graph *g = gc_graph_new();
    gc_init u = {GC_INIT_UNIFORM, -1.0f, 1.0f, 0, 0};
    gc_value x = gc_input(g, "x", GC_F32, gc_shape2(3, 4));
    gc_value w = gc_relu(g, gc_param(g, "W", gc_shape2(4, 5), u));
    gc_value bias;
    if (costly) {
      bias = gc_exp(g, gc_param(g, "b", gc_shape1(5), u));
    } else {
      gc_value b = gc_param(g, "B", gc_shape2(1, 10), u);
      int64_t s0 = 0, e0 = 5, s1 = 5, e1 = 10;
      int ax = 1;
      bias =
          gc_add(g, gc_slice(g, b, &s0, &e0, &ax, NULL, 1), gc_slice(g, b, &s1, &e1, &ax, NULL, 1));
    }
    gc_output(g, gc_add(g, gc_matmul(g, x, w), bias), "y");
    gc_program *p = compile(g, 0, 0);
    int32_t relu = find_node_op(p, IR_OP_RELU), mm = find_node_op(p, IR_OP_MATMUL);
    int32_t producer = find_node_op(p, costly ? IR_OP_EXP : IR_OP_ADD);
    ck_assert_int_ne(p->fuse.group_of[relu], p->fuse.group_of[mm]);
    ck_assert_int_ne(p->fuse.group_of[producer], p->fuse.group_of[mm]);
    ck_assert_int_eq(p->fuse.inlined[producer], !costly);
    if (!costly) /* the slices go with it: their group launches nothing */
      ck_assert_int_eq(p->fuse.groups[p->fuse.group_of[producer]].kind, FUSE_NONE);
    int count = 0;
    int *missed = malloc(sizeof *missed * (size_t)p->fuse.ngroups);
    ck_assert_int_eq(fuse_postdom_misses(p->g, &p->fuse, &count, missed), GC_OK);
    ck_assert_int_eq(count, costly);
    ck_assert_int_eq(missed[p->fuse.group_of[producer]], costly ? p->fuse.group_of[mm] : -1);
    ck_assert_int_eq(missed[p->fuse.group_of[relu]], -1);
    free(missed);
    gc_program_free(p);
    gc_graph_free(g);
  }
}
END_TEST

/* passes/fuse_broadcast.c: a broadcast producer joins its one consumer
 * kernel only when nothing else reads it: read also by a second kernel
 * (here a reduction) or stored as an output, it keeps its own. */
START_TEST(fuse_broadcast_producer_only_with_one_reader) {
  for (int other = 0; other < 2; other++) {
    gc_graph *g = gc_graph_new();
    gc_value x = gc_input(g, "x", GC_F32, gc_shape4(2, 3, 4, 5));
    gc_value scale = scale_of_shape(g, gc_shape3(3, 1, 1));
    gc_output(g, gc_mul(g, x, scale), "y");
    int ax[2] = {0, 1};
    if (other)
      gc_output(g, scale, "scale");
    else
      gc_output(g, gc_sum(g, gc_exp(g, scale), ax, 2, 0), "s");
    gc_program *p = compile(g, 0, 0);
    ck_assert_int_ne(p->fuse.group_of[find_node_op(p, IR_OP_SQRT)],
                     p->fuse.group_of[find_node_op(p, IR_OP_MUL)]);
    gc_program_free(p);
    gc_graph_free(g);
  }
}
END_TEST

/* --------------------------------------------------------------- fuse */

START_TEST(fuse_elementwise_chain) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape3(5, 7, 11));
  gc_value a = gc_mul(g, x, gc_scalar(g, 2.0f)), b = gc_add(g, a, gc_scalar(g, 1.0f));
  gc_value c = gc_relu(g, b), d = gc_output(g, gc_sigmoid(g, c), "y");
  fused f;
  fuse_graph(g, false, &f);
  ck_assert_int_eq(kernel_groups(&f.f), 1);
  const fuse_group *gr = grp(&f, d);
  ck_assert_int_eq(gr->kind, FUSE_ELEMWISE);
  ck_assert_int_eq(gr->nnodes, 4);
  ck_assert_int_eq(gr->root, d.id);
  ck_assert(ir_shape_eq(gr->domain, gc_shape3(5, 7, 11)));
  ck_assert(same_group(&f, a, d) && same_group(&f, b, d) && same_group(&f, c, d));
  ck_assert(!f.f.materialized[a.id] && !f.f.materialized[b.id] && !f.f.materialized[c.id]);
  ck_assert(f.f.materialized[d.id] && f.f.materialized[x.id]);
  ck_assert_int_eq(grp(&f, x)->kind, FUSE_NONE);
  ck_assert_uint_eq(f.m.arena_bytes, 0); /* nothing stored in between */
  fused_free(&f);
  fuse_graph(g, true, &f);
  ck_assert_int_eq(kernel_groups(&f.f), 4);
  ck_assert(f.f.materialized[a.id] && f.f.materialized[b.id] && f.f.materialized[c.id]);
  ck_assert_int_gt(f.m.arena_bytes, 0);
  fused_free(&f);
  gc_graph_free(g);
}
END_TEST

START_TEST(fuse_matmul_epilogue_and_reduce_prologue) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(33, 17));
  gc_value w = gc_param(g, "w", gc_shape2(17, 65), GC_GLOROT);
  gc_value bias = gc_param(g, "b", gc_shape1(65), GC_ZEROS);
  gc_value mm = gc_matmul(g, x, w), ab = gc_add(g, mm, bias), r = gc_relu(g, ab);
  gc_value w2 = gc_param(g, "w2", gc_shape2(65, 9), GC_GLOROT);
  gc_value mm2 = gc_matmul(g, r, w2); /* complex after complex: no fusion */
  gc_value prod = gc_mul(g, mm2, mm2);
  int ax = 1;
  gc_value s = gc_output(g, gc_sum(g, prod, &ax, 1, 0), "s");
  fused f;
  fuse_graph(g, false, &f);
  ck_assert_int_eq(kernel_groups(&f.f), 3);
  ck_assert_int_eq(grp(&f, mm)->kind, FUSE_COMPLEX);
  ck_assert_int_eq(grp(&f, mm)->root, mm.id);
  ck_assert(same_group(&f, mm, ab) && same_group(&f, mm, r));
  ck_assert(!f.f.materialized[mm.id] && !f.f.materialized[ab.id] && f.f.materialized[r.id]);
  ck_assert(!same_group(&f, r, mm2));
  /* mm2's only user is the product, whose only user is the sum: but a
   * matmul group is not a prologue; the product joins mm2 as epilogue */
  ck_assert_int_eq(grp(&f, mm2)->kind, FUSE_COMPLEX);
  ck_assert(same_group(&f, mm2, prod));
  ck_assert_int_eq(grp(&f, s)->kind, FUSE_REDUCE);
  ck_assert(ir_shape_eq(grp(&f, s)->domain, gc_shape2(33, 9)));
  ck_assert(f.f.materialized[prod.id] && !f.f.materialized[mm2.id]);
  fused_free(&f);
  gc_graph_free(g);

  /* a reduction swallows the elementwise group feeding only it */
  g = gc_graph_new();
  x = gc_input(g, "x", GC_F32, gc_shape3(5, 7, 11));
  gc_value y = gc_input(g, "y", GC_F32, gc_shape3(5, 7, 11));
  gc_value e = gc_exp(g, x);
  prod = gc_mul(g, e, y);
  s = gc_output(g, gc_sum(g, prod, &ax, 1, 0), "s");
  gc_value other = gc_exp(g, y);
  gc_value s2 = gc_output(g, gc_max(g, other, NULL, 0, 0), "m");
  gc_output(g, gc_neg(g, other), "n"); /* other has a second reader */
  fuse_graph(g, false, &f);
  ck_assert_int_eq(grp(&f, s)->kind, FUSE_REDUCE);
  ck_assert_int_eq(grp(&f, s)->nnodes, 3);
  ck_assert(same_group(&f, e, s) && same_group(&f, prod, s));
  ck_assert(!f.f.materialized[e.id] && !f.f.materialized[prod.id] && f.f.materialized[s.id]);
  ck_assert(!same_group(&f, other, s2)); /* read elsewhere: not a private prologue */
  ck_assert(f.f.materialized[other.id]);
  ck_assert_int_eq(grp(&f, s2)->nnodes, 1);
  fused_free(&f);
  gc_graph_free(g);
}
END_TEST

/* In place: unfused, each op of an elementwise chain writes over its
 * input, which dies there; an input still read later is not overwritten. */
START_TEST(plan_works_in_place) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(3, 5));
  gc_value a = gc_exp(g, x), b = gc_neg(g, a), c = gc_tanh(g, b);
  gc_value d = gc_sigmoid(g, c);
  gc_output(g, gc_add(g, d, c), "y"); /* c is read twice: by d and here */
  fused f;
  fuse_graph(g, true, &f);
  ck_assert_int_eq(f.m.root[b.id], a.id); /* neg over exp */
  ck_assert_int_eq(f.m.root[c.id], a.id); /* tanh over neg (over exp) */
  ck_assert_int_eq(f.m.root[d.id], d.id); /* c lives on: sigmoid may not */
  ck_assert_uint_eq(f.m.offset[b.id], f.m.offset[a.id]);
  ck_assert_uint_ne(f.m.offset[d.id], f.m.offset[c.id]);
  fused_free(&f);
  gc_graph_free(g);
}
END_TEST

/* A view of a value written in place reads the storage it continues: its
 * root is that storage (one step), so the storage lives until the view's
 * last reader. Found when a reordering of kernels let another tensor take
 * exp's bytes while a reshape of neg (in place over exp) was still to be
 * read. */
START_TEST(plan_view_of_in_place_value) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(3, 5));
  gc_value a = gc_exp(g, x), b = gc_neg(g, a);
  gc_value v = gc_reshape(g, b, gc_shape1(15));
  gc_value z = gc_tanh(g, gc_sigmoid(g, gc_exp(g, gc_reshape(g, x, gc_shape1(15)))));
  gc_output(g, gc_mul(g, v, z), "y");
  fused f;
  fuse_graph(g, true, &f);
  ck_assert_int_eq(f.m.root[b.id], a.id);
  ck_assert_int_eq(f.m.root[v.id], a.id);
  ck_assert_int_eq(plan_check(g, &f.f, &f.m), GC_OK);
  fused_free(&f);
  gc_graph_free(g);
}
END_TEST

/* In place in a GEMM's epilogue: relu(x w + h) writes over h, a stored
 * reduction result that dies there; an input read again later is kept. */
START_TEST(plan_gemm_epilogue_in_place) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(7, 5));
  gc_value w = gc_input(g, "w", GC_F32, gc_shape2(5, 9));
  gc_value u = gc_input(g, "u", GC_F32, gc_shape3(7, 9, 3));
  int ax = 2;
  gc_value h = gc_sum(g, u, &ax, 1, 0); /* [7, 9], its own kernel */
  gc_value y = gc_relu(g, gc_add(g, gc_matmul(g, x, w), h));
  gc_value h2 = gc_sum(g, gc_exp(g, u), &ax, 1, 0);
  gc_value y2 = gc_relu(g, gc_add(g, gc_matmul(g, x, w), h2));
  gc_output(g, gc_add(g, y, gc_neg(g, h)), "a"); /* h read again: y may not take it */
  gc_value b = gc_tanh(g, y2);                   /* stored: read by two kernels */
  gc_output(g, gc_sum(g, b, &ax, 0, 0), "b");
  gc_output(g, gc_max(g, b, &ax, 0, 0), "c");
  fused f;
  fuse_graph(g, false, &f);
  ck_assert_int_eq(grp(&f, y2)->kind, FUSE_COMPLEX);
  ck_assert(same_group(&f, y2, b));
  ck_assert_int_eq(f.m.kind[h2.id], STORE_ARENA);
  ck_assert(f.f.materialized[b.id]);
  ck_assert_int_eq(f.m.root[b.id], h2.id); /* over h2, which dies there */
  ck_assert_uint_eq(f.m.offset[b.id], f.m.offset[h2.id]);
  ck_assert_int_eq(grp(&f, y)->kind, FUSE_COMPLEX);
  ck_assert_int_ne(f.m.root[y.id], h.id);
  fused_free(&f);
  gc_graph_free(g);
}
END_TEST

/* Row-owning single kernels write in place (plan.c, row_in_place): a
 * softmax over a computed input along a middle axis, and cross-entropy's
 * gradient (with its loss, one kernel) over computed logits, each dying
 * there; a softmax whose input is read again later may not. */
START_TEST(plan_row_kernels_in_place) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape3(5, 7, 11));
  gc_value e = gc_exp(g, x);
  gc_value s = gc_softmax(g, e, 1);
  gc_output(g, gc_tanh(g, s), "a");
  gc_value e2 = gc_neg(g, x);
  gc_value s2 = gc_log_softmax(g, e2, 2), s3 = gc_softmax(g, e2, 0); /* two readers of e2 */
  gc_output(g, gc_add(g, s2, s3), "b");
  gc_value w = gc_param(g, "w", gc_shape2(11, 10), GC_HE);
  gc_value logits = gc_matmul(g, gc_reshape(g, x, gc_shape2(35, 11)), w);
  gc_set_loss(g, gc_cross_entropy(g, logits, gc_input(g, "y", GC_I32, gc_shape1(35))));
  gc_sgd sgd = {.lr = 0.1f};
  ck_assert_int_eq(gc_optimize_sgd(g, &sgd), GC_OK);
  gc_program *p = compile(g, 0, 0);
  ck_assert_int_eq(p->fuse.groups[p->fuse.group_of[find_node_op(p, IR_OP_SOFTMAX)]].kind,
                   FUSE_SINGLE);
  int32_t sm = find_node_op(p, IR_OP_SOFTMAX), lsm = find_node_op(p, IR_OP_LOG_SOFTMAX);
  int32_t ceg = find_node_op(p, IR_OP_CROSS_ENTROPY_GRAD);
  ck_assert_int_ge(ceg, 0);
  ck_assert_int_eq(p->mem.root[sm], p->g->nodes[sm].in[0]);
  /* e2 dies at the later of its two readers, which alone may take it */
  int32_t neg = p->g->nodes[lsm].in[0], s3n = -1;
  for (int i = 0; i < p->g->n; i++)
    if (p->g->nodes[i].op == IR_OP_SOFTMAX && p->g->nodes[i].in[0] == neg) s3n = i;
  ck_assert_int_ge(s3n, 0);
  int later = p->fuse.group_of[lsm] > p->fuse.group_of[s3n] ? lsm : s3n;
  int earlier = later == lsm ? s3n : lsm;
  ck_assert_int_eq(p->mem.root[later], neg);
  ck_assert_int_eq(p->mem.root[earlier], earlier);
  ck_assert_int_eq(p->mem.root[ceg], p->g->nodes[ceg].in[0]);
  ck_assert_int_eq(p->g->nodes[p->g->nodes[ceg].in[0]].op, IR_OP_MATMUL);
  gc_program_free(p);
  gc_graph_free(g);
}
END_TEST

/* CSE: the same op on the same inputs, and equal constants, become one
 * node; outputs keep their own nodes; the results do not change. */
START_TEST(simplify_merges_common_subexpressions) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(2, 3));
  gc_value a = gc_mul(g, gc_exp(g, x), gc_scalar(g, 2.0f));
  gc_value b = gc_mul(g, gc_exp(g, x), gc_scalar(g, 2.0f)); /* same value as a */
  gc_value c = gc_mul(g, gc_exp(g, x), gc_scalar(g, 3.0f)); /* not the same */
  gc_output(g, gc_add(g, gc_add(g, a, b), c), "y");
  gc_device *ref = NULL;
  ck_assert_int_eq(gc_device_open("ref", &ref), GC_OK);
  gc_program *p = NULL;
  ck_assert_int_eq(gc_compile(g, ref, NULL, &p), GC_OK);
  gc_program_stats st;
  gc_program_stats_get(p, &st);
  /* x, exp, 2, 3, mul(2), mul(3), add, add = 8 of 12 */
  ck_assert_int_eq(st.nodes_before, 12);
  ck_assert_int_eq(st.nodes_after, 8);
  gc_session *s = NULL;
  ck_assert_int_eq(gc_session_new(p, &s), GC_OK);
  float xv[6] = {0, 1, -1, 0.5f, 2, -2}, y[6];
  ck_assert_int_eq(gc_session_set_input(s, "x", xv, sizeof xv), GC_OK);
  ck_assert_int_eq(gc_session_run(s), GC_OK);
  ck_assert_int_eq(gc_session_get_output(s, "y", y, sizeof y), GC_OK);
  for (int i = 0; i < 6; i++) ck_assert_float_eq_tol(y[i], 7.0f * expf(xv[i]), 1e-4f * (1 + y[i]));
  gc_session_free(s);
  gc_program_free(p);
  gc_device_free(ref);
  gc_graph_free(g);
}
END_TEST

/* The ReLU masks of a training step (step(relu(z)), read by the backward
 * kernels) are recomputed there rather than stored: relu(z) is stored
 * anyway for the weight gradient. Costly producers (exp) stay stored. */
START_TEST(fuse_recomputes_cheap_producers) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(8, 12));
  gc_value y = gc_input(g, "y", GC_I32, gc_shape1(8));
  gc_value h = gc_relu(g, gc_linear(g, x, 16, GC_HE, "fc1"));
  gc_value e = gc_exp(g, gc_linear(g, h, 4, GC_HE, "fc2"));
  gc_set_loss(g, gc_cross_entropy(g, gc_add(g, e, gc_mul(g, e, e)), y));
  gc_sgd sgd = {.lr = 0.1f};
  ck_assert_int_eq(gc_optimize_sgd(g, &sgd), GC_OK);
  fused f;
  fuse_graph(g, false, &f);
  int steps = 0, exps = 0;
  for (int i = 0; i < g->n; i++) {
    const ir_node *n = &g->nodes[i];
    if (n->op == IR_OP_STEP) {
      steps++;
      ck_assert(f.f.inlined[i] && !f.f.materialized[i]);
      ck_assert(f.f.materialized[n->in[0]]); /* its input is stored anyway */
    }
    if (n->op == IR_OP_EXP && f.f.materialized[i]) exps++;
    if (n->op == IR_OP_EXP) ck_assert(!f.f.inlined[i]);
  }
  ck_assert_int_eq(steps, 1);
  ck_assert_int_ge(exps, 1);
  fused_free(&f);
  gc_graph_free(g);
}
END_TEST

/* Layer norm is ONE kernel: mean, then var of x - mean in a second pass,
 * rsqrt(var + eps) once per row, the output in a final pass
 * (passes/fuse_reduce.c). */
START_TEST(fuse_row_kernel_layer_norm) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(8, 13));
  gc_value gamma = gc_input(g, "gamma", GC_F32, gc_shape1(13));
  gc_value beta = gc_input(g, "beta", GC_F32, gc_shape1(13));
  gc_value y = gc_output(g, gc_layer_norm(g, x, 1, gamma, beta, 1e-5f), "y");
  fused f;
  fuse_graph(g, false, &f);
  const fuse_group *gr = grp(&f, y);
  ck_assert_int_eq(gr->kind, FUSE_REDUCE);
  int reductions = 0, rows = 0, loops = 0;
  for (int i = 0; i < g->n; i++) {
    const ir_node *n = &g->nodes[i];
    if (ir_ops[n->op].props & IR_P_LEAF) continue;
    ck_assert_msg(f.f.group_of[i] == f.f.group_of[y.id], "%%%d %s outside the kernel", i,
                  ir_ops[n->op].name);
    if (ir_ops[n->op].fusion == IR_FUSE_REDUCE) reductions++;
    if (f.f.role[i] == ROLE_ROW) {
      rows++;
      ck_assert_int_eq(gc_shape_numel(n->shape), 8); /* once per row */
    }
    if (f.f.role[i] == ROLE_LOOP) {
      loops++;
      ck_assert(ir_shape_eq(n->shape, gr->domain));
    }
  }
  ck_assert_int_eq(reductions, 2);
  ck_assert_int_ge(rows, 2);  /* var + eps, sqrt */
  ck_assert_int_ge(loops, 4); /* x - mean, its square, the normalized output */
  ck_assert(f.f.materialized[y.id]);
  fused_free(&f);
  gc_graph_free(g);
}
END_TEST

/* Elementwise work joins a row kernel as a final pass only where its rows
 * spread over the device or the domain is small: 4 rows of 5000 stay an
 * elementwise kernel, 16 rows join. */
START_TEST(fuse_row_kernel_needs_rows) {
  for (int rows = 4; rows <= 16; rows += 12) {
    gc_graph *g = gc_graph_new();
    gc_value x = gc_input(g, "x", GC_F32, gc_shape2(rows, 5000));
    int ax = 1;
    gc_value m = gc_max(g, x, &ax, 1, 1);
    gc_value z = gc_output(g, gc_exp(g, gc_sub(g, x, m)), "z");
    fused f;
    fuse_graph(g, false, &f);
    ck_assert_int_eq(same_group(&f, z, m), rows == 16);
    fused_free(&f);
    gc_graph_free(g);
  }
}
END_TEST

/* A device allowing few kernel arguments gets smaller groups: a chain
 * adding eight inputs is one kernel of 9 buffers by default, and kernels of
 * at most 4 buffers (3 inputs and the output, or the arena) when capped. */
START_TEST(fuse_respects_the_kernel_argument_cap) {
  gc_graph *g = gc_graph_new();
  gc_value acc = gc_input(g, "x0", GC_F32, gc_shape1(17));
  for (int i = 1; i < 8; i++) {
    char name[8];
    snprintf(name, sizeof name, "x%d", i);
    acc = gc_add(g, acc, gc_input(g, name, GC_F32, gc_shape1(17)));
  }
  gc_output(g, gc_relu(g, acc), "y");
  for (int cap = 0; cap <= 4; cap += 4) {
    fused f;
    fuse_graph_capped(g, false, cap, &f);
    int kernels = kernel_groups(&f.f);
    ck_assert_int_eq(kernels > 1, cap == 4);
    for (int gi = 0; gi < f.f.ngroups; gi++) {
      const fuse_group *gr = &f.f.groups[gi];
      if (gr->kind == FUSE_NONE) continue;
      int32_t seen[64];
      int n = 0;
      for (int k = 0; k < gr->nnodes; k++) {
        const ir_node *nd = &g->nodes[gr->nodes[k]];
        for (int i = -1; i < nd->nin; i++) {
          int32_t v = i < 0 ? gr->nodes[k] : nd->in[i];
          bool persistent =
              (ir_ops[g->nodes[v].op].props & IR_P_LEAF) || (g->nodes[v].flags & IR_F_OUTPUT);
          int32_t r = persistent ? v : -1; /* the arena is one buffer */
          bool dup = false;
          for (int j = 0; j < n && !dup; j++) dup = seen[j] == r;
          if (!dup && n < 64) seen[n++] = r;
        }
      }
      if (cap) ck_assert_int_le(n, cap);
    }
    fused_free(&f);
  }
  gc_graph_free(g);
}
END_TEST

START_TEST(fuse_refuses_cycles_and_other_domains) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(13, 13));
  gc_value y = gc_relu(g, x);
  /* s[i] sums row i, but z reads it broadcast along the rows (s[j] at
   * (i, j)): not each row kernel work-item's own result, so z cannot run
   * inside s's kernel, and joining y's group would be a cycle */
  int ax = 1;
  gc_value s = gc_sum(g, y, &ax, 1, 0);
  gc_value z = gc_output(g, gc_mul(g, y, s), "z");
  /* another domain: [13] then broadcast into [13, 13] */
  gc_value v = gc_input(g, "v", GC_F32, gc_shape1(13));
  gc_value v2 = gc_exp(g, v);
  gc_value u = gc_output(g, gc_add(g, v2, x), "u");
  fused f;
  fuse_graph(g, false, &f);
  ck_assert(!same_group(&f, z, y));
  ck_assert(!same_group(&f, s, y));
  ck_assert(f.f.group_of[y.id] < f.f.group_of[s.id] && f.f.group_of[s.id] < f.f.group_of[z.id]);
  /* y = relu(x) of a stored input is cheap: recomputed by its readers */
  ck_assert(f.f.inlined[y.id] && !f.f.materialized[y.id] && f.f.materialized[s.id]);
  ck_assert(!same_group(&f, v2, u));
  ck_assert(f.f.materialized[v2.id]);
  fused_free(&f);
  gc_graph_free(g);
}
END_TEST

START_TEST(fuse_movement_and_single_ops) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape3(5, 7, 11));
  gc_value e = gc_exp(g, x);
  int perm[3] = {2, 0, 1};
  gc_value t = gc_transpose(g, e, perm);
  gc_value r = gc_output(g, gc_relu(g, t), "r");
  gc_value rs = gc_reshape(g, e, gc_shape2(35, 11));
  gc_value sm = gc_output(g, gc_softmax(g, rs, 1), "sm");
  fused f;
  fuse_graph(g, false, &f);
  ck_assert(f.f.materialized[e.id]); /* read at permuted indices */
  ck_assert(!same_group(&f, e, t));
  ck_assert(same_group(&f, t, r)); /* the transpose starts r's group */
  ck_assert_int_eq(grp(&f, t)->kind, FUSE_ELEMWISE);
  ck_assert_int_eq(grp(&f, rs)->kind, FUSE_NONE); /* a view launches nothing */
  ck_assert_int_eq(f.m.root[rs.id], e.id);
  ck_assert_uint_eq(f.m.offset[rs.id], f.m.offset[e.id]);
  ck_assert_int_eq(grp(&f, sm)->kind, FUSE_SINGLE);
  ck_assert_int_eq(grp(&f, sm)->nnodes, 1);
  ck_assert_int_eq(kernel_groups(&f.f), 3);
  fused_free(&f);
  gc_graph_free(g);
}
END_TEST

START_TEST(fuse_in_place_updates) {
  gc_graph *g = gc_graph_new();
  gc_value p = gc_param(g, "p", gc_shape2(3, 13), GC_ZEROS);
  gc_value d = gc_input(g, "d", GC_F32, gc_shape2(3, 13));
  gc_value w = gc_assign_add(g, p, gc_mul(g, d, gc_scalar(g, 0.5f)));
  gc_value r = gc_output(g, gc_exp(g, p), "r");
  fused f;
  fuse_graph(g, false, &f);
  ck_assert_int_eq(grp(&f, w)->kind, FUSE_SINGLE);
  ck_assert(f.f.group_of[w.id] > f.f.group_of[r.id]); /* after the reader */
  ck_assert_int_eq(f.m.root[w.id], p.id);
  ck_assert_int_eq(f.m.kind[p.id], STORE_PERSIST);
  fused_free(&f);
  gc_graph_free(g);
}
END_TEST

/* ----------------------------------------------------------------- plan */

/* Kernel order: a kernel whose result no kernel could run on next (a
 * transposed weight read only by the last product) waits until it is
 * needed, rather than running first for being the smallest result and
 * living through everything before its reader (kernel_order.c). */
START_TEST(kernel_order_defers_results_read_late) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(16, 8));
  gc_value w = gc_param(g, "w", gc_shape2(8, 8), GC_ZEROS);
  int perm[2] = {1, 0};
  gc_value t = gc_transpose(g, w, perm); /* 256 bytes; a is 512 */
  gc_value a = gc_softmax(g, x, 1);
  gc_value b = gc_matmul(g, a, w);
  gc_output(g, gc_matmul(g, gc_relu(g, b), t), "y");
  gc_program *p = compile(g, 0, 0);
  const int32_t *gof = p->fuse.group_of;
  ck_assert_int_eq(p->fuse.groups[gof[t.id]].kind, FUSE_ELEMWISE);
  ck_assert_int_gt(gof[t.id], gof[a.id]);
  ck_assert_int_gt(gof[t.id], gof[b.id]);
  gc_program_free(p);
  gc_graph_free(g);
}
END_TEST

START_TEST(plan_reuses_memory_in_a_chain) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(64, 257));
  gc_value v = x;
  for (int i = 0; i < 6; i++) v = i % 2 ? gc_tanh(g, v) : gc_exp(g, gc_neg(g, v));
  gc_output(g, v, "y");
  gc_program *p = compile(g, 1, 0);
  size_t one = (64 * 257 * 4 + 63) / 64 * 64;
  ck_assert_msg(p->mem.arena_bytes < p->mem.no_reuse_bytes, "arena %zu, no reuse %zu",
                p->mem.arena_bytes, p->mem.no_reuse_bytes);
  /* each op of the chain works in place over its dying input: one tensor
   * at a time (without in-place it would be two: a kernel's input and
   * output) */
  ck_assert_uint_eq(p->mem.live_lower_bound_bytes, one);
  ck_assert_uint_eq(p->mem.arena_bytes, one);
  ck_assert_uint_eq(p->mem.no_reuse_bytes, 8 * one);
  gc_program_free(p);
  p = compile(g, 1, 1);
  ck_assert_uint_eq(p->mem.arena_bytes, p->mem.no_reuse_bytes);
  ck_assert_uint_eq(p->mem.arena_bytes, 8 * one);
  gc_program_free(p);
  p = compile(g, 0, 0); /* fused: nothing in between */
  ck_assert_uint_eq(p->mem.arena_bytes, 0);
  gc_program_free(p);
  gc_graph_free(g);
}
END_TEST

static gc_graph *inference_mlp(void) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(64, 784));
  gc_value h = gc_relu(g, gc_linear(g, x, 256, GC_HE, "fc1"));
  h = gc_relu(g, gc_linear(g, h, 128, GC_HE, "fc2"));
  gc_output(g, gc_linear(g, h, 10, GC_GLOROT, "fc3"), "logits");
  return g;
}

START_TEST(plan_inference_mlp_near_lower_bound) {
  gc_graph *g = inference_mlp();
  for (int nf = 0; nf < 2; nf++) {
    gc_program *p = compile(g, nf, 0);
    double ratio = (double)p->mem.arena_bytes / (double)p->mem.live_lower_bound_bytes;
    printf("inference MLP (%s): arena %zu, live lower bound %zu (x%.3f), no reuse %zu\n",
           nf ? "no_fuse" : "fused", p->mem.arena_bytes, p->mem.live_lower_bound_bytes, ratio,
           p->mem.no_reuse_bytes);
    ck_assert_msg(ratio <= 1.10, "%s: arena %zu > 1.10 x live lower bound %zu",
                  nf ? "no_fuse" : "fused", p->mem.arena_bytes, p->mem.live_lower_bound_bytes);
    gc_program_free(p);
  }
  gc_graph_free(g);
}
END_TEST

/* plan_check on the whole training step, fused and not, planned and not;
 * views and in-place writers share their root's storage. */
START_TEST(plan_check_on_training_step) {
  gc_graph *g = inference_mlp();
  gc_value y = gc_input(g, "y", GC_I32, gc_shape1(64));
  gc_value logits = gc_find(g, "logits");
  gc_value flat = gc_reshape(g, logits, gc_shape1(640));
  gc_output(g, gc_exp(g, flat), "e");
  gc_set_loss(g, gc_cross_entropy(g, logits, y));
  gc_adam adam = {.lr = 1e-3f};
  ck_assert_int_eq(gc_optimize_adam(g, &adam), GC_OK);
  for (int nf = 0; nf < 2; nf++)
    for (int np = 0; np < 2; np++) {
      gc_program *p = compile(g, nf, np);
      for (int i = 0; i < p->g->n; i++) {
        const ir_node *n = &p->g->nodes[i];
        if (ir_ops[n->op].props & IR_P_INPLACE) {
          ck_assert_int_eq(p->mem.root[i], ir_storage_root(p->g, i));
          ck_assert_int_eq(p->mem.kind[p->mem.root[i]], STORE_PERSIST);
        }
        if (ir_ops[n->op].props & IR_P_LEAF) ck_assert_int_eq(p->mem.kind[i], STORE_PERSIST);
        if (n->flags & (IR_F_OUTPUT | IR_F_LOSS))
          ck_assert_int_eq(p->mem.kind[p->mem.root[i]], STORE_PERSIST);
        if (p->mem.kind[i] == STORE_ARENA)
          ck_assert_uint_eq(p->mem.offset[i], p->mem.offset[p->mem.root[i]]);
      }
      gc_program_free(p);
    }
  gc_graph_free(g);
}
END_TEST

/* ------------------------------------------------------- split updates */

/* The registry's MLP (logits not an output). */
static gc_graph *training_mlp(bool sgd) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(64, 784));
  gc_value h = gc_relu(g, gc_linear(g, x, 256, GC_HE, "fc1"));
  h = gc_relu(g, gc_linear(g, h, 128, GC_HE, "fc2"));
  gc_value logits = gc_linear(g, h, 10, GC_GLOROT, "fc3");
  gc_value y = gc_input(g, "y", GC_I32, gc_shape1(64));
  gc_set_loss(g, gc_cross_entropy(g, logits, y));
  gc_adam adam = {.lr = 1e-3f};
  gc_sgd sgd_opt = {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 1e-4f};
  ck_assert_int_eq(sgd ? gc_optimize_sgd(g, &sgd_opt) : gc_optimize_adam(g, &adam), GC_OK);
  return g;
}

static int count_op(const gc_program *p, ir_op op) {
  int c = 0;
  for (int i = 0; i < p->g->n; i++) c += p->g->nodes[i].op == op;
  return c;
}

/* Runs two training steps of g on the reference device and returns the
 * bytes of every parameter and optimizer state, in node order. */
static float *two_ref_steps(gc_graph *g, int no_plan, size_t *count) {
  gc_device *d = ref_device();
  gc_compile_options o = {0};
  o.no_plan = no_plan;
  gc_program *p = NULL;
  ck_assert_msg(gc_compile(g, d, &o, &p) == GC_OK, "%s", gc_last_error());
  gc_session *s = NULL;
  ck_assert_int_eq(gc_session_new(p, &s), GC_OK);
  float *x = malloc(sizeof *x * 64 * 784);
  int32_t y[64];
  for (int i = 0; i < 64 * 784; i++) x[i] = (float)((i * 37) % 101) / 101.0f;
  for (int i = 0; i < 64; i++) y[i] = (i * 7 + 3) % 10;
  for (int step = 0; step < 2; step++) {
    ck_assert_int_eq(gc_session_set_input(s, "x", x, sizeof *x * 64 * 784), GC_OK);
    ck_assert_int_eq(gc_session_set_input(s, "y", y, sizeof y), GC_OK);
    ck_assert_int_eq(gc_session_run(s), GC_OK);
  }
  size_t total = 0;
  for (int i = 0; i < p->g->n; i++)
    if (p->g->nodes[i].op == IR_OP_PARAM || p->g->nodes[i].op == IR_OP_STATE)
      total += ir_node_bytes(&p->g->nodes[i]);
  float *out = malloc(total);
  size_t at = 0;
  for (int i = 0; i < p->g->n; i++) {
    const ir_node *n = &p->g->nodes[i];
    if (n->op != IR_OP_PARAM && n->op != IR_OP_STATE) continue;
    ck_assert_int_eq(p->be->read(s, i, (char *)out + at, ir_node_bytes(n)), GC_OK);
    at += ir_node_bytes(n);
  }
  *count = total / sizeof(float);
  free(x);
  gc_session_free(s);
  gc_program_free(p);
  gc_device_free(d);
  return out;
}

/* passes/split_updates.c on the training MLP: the Adam updates of fc2.w
 * and fc3.w (their input-gradient products read the weights beside their
 * weight-gradient products) become adam_moments, the products' epilogues,
 * and adam_apply, one multi-tensor kernel; fc1.w's and the biases' stay
 * whole. The compile keeps the split, since the arena shrinks: 163,840 ->
 * 100,864 bytes, half the no-reuse sum, with the logits' gradient written
 * over the logits (plan.c, row_in_place). --no-plan and --no-fuse do not
 * split. The parameters and optimizer state after two steps are the same
 * bits. SGD with momentum and weight decay splits the same way, into
 * sgd_velocity and sgd_apply (loop index 1). */
START_TEST(split_updates_where_the_arena_shrinks) {
  const bool sgd = _i == 1;
  const ir_op whole_op = sgd ? IR_OP_SGD_UPDATE : IR_OP_ADAM_UPDATE;
  const ir_op half_op = sgd ? IR_OP_SGD_VELOCITY : IR_OP_ADAM_MOMENTS;
  const ir_op apply_op = sgd ? IR_OP_SGD_APPLY : IR_OP_ADAM_APPLY;
  gc_graph *g = training_mlp(sgd);
  gc_program *p = compile(g, 0, 0);
  printf("training MLP (%s): arena %zu (%zu with the updates whole), no reuse %zu, %d split\n",
         sgd ? "SGD" : "Adam", p->mem.arena_bytes, p->stats.arena_bytes_unsplit,
         p->mem.no_reuse_bytes, p->stats.updates_split);
  ck_assert_int_eq(p->stats.updates_split, 2);
  ck_assert_uint_eq(p->stats.arena_bytes_unsplit, 163840);
  ck_assert_uint_eq(p->mem.arena_bytes, 100864);
  ck_assert_uint_eq(2 * p->mem.arena_bytes, p->mem.no_reuse_bytes);
  ck_assert_int_eq(count_op(p, half_op), 2);
  ck_assert_int_eq(count_op(p, apply_op), 2);
  ck_assert_int_eq(count_op(p, whole_op), 4);
  int apply_group = -1;
  for (int i = 0; i < p->g->n; i++) {
    const ir_node *n = &p->g->nodes[i];
    const fuse_group *gr = &p->fuse.groups[p->fuse.group_of[i]];
    const char *target = p->g->nodes[n->in[0]].name;
    if (n->op == half_op) { /* in the weight gradient's product */
      ck_assert_int_eq(gr->kind, FUSE_COMPLEX);
      ck_assert_int_eq(gr->root, n->in[1]);
    } else if (n->op == apply_op) {
      ck_assert(!strcmp(target, "fc2.w") || !strcmp(target, "fc3.w"));
      ck_assert_int_eq(p->g->nodes[n->in[1]].op, half_op);
      if (apply_group < 0) apply_group = p->fuse.group_of[i];
      ck_assert_int_eq(p->fuse.group_of[i], apply_group); /* one kernel */
    } else if (n->op == whole_op) {
      ck_assert(strcmp(target, "fc2.w") && strcmp(target, "fc3.w"));
    } else if (n->op == IR_OP_CROSS_ENTROPY_GRAD) {
      ck_assert_int_eq(p->mem.root[i], n->in[0]); /* over the logits */
    }
  }
  gc_program_free(p);
  for (int off = 0; off < 2; off++) {
    p = compile(g, off == 0, off == 1);
    ck_assert_int_eq(p->stats.updates_split, 0);
    ck_assert_uint_eq(p->stats.arena_bytes_unsplit, 0);
    ck_assert_int_eq(count_op(p, half_op), 0);
    gc_program_free(p);
  }
  size_t n_split, n_whole;
  float *split = two_ref_steps(g, 0, &n_split), *whole = two_ref_steps(g, 1, &n_whole);
  ck_assert_uint_eq(n_split, n_whole);
  ck_assert_int_eq(memcmp(split, whole, n_split * sizeof *split), 0);
  free(split);
  free(whole);
  gc_graph_free(g);
}
END_TEST

/* A split that would not shrink the arena is not kept: in the CNN the
 * dense layers' updates are candidates, but the peak is the first
 * pooling's, in the forward and its gradient, where no split changes
 * what is live. */
START_TEST(split_updates_dropped_without_gain) {
  const gc_model *m = gc_model_find("cnn");
  ck_assert_ptr_nonnull(m);
  gc_graph *g = gc_graph_new();
  gc_train_options o = {0};
  ck_assert_int_eq(m->build(g, 64, 1, &o), GC_OK);
  gc_program *p = compile(g, 0, 0);
  printf("cnn training step: arena %zu, the same with the dense updates split\n",
         p->mem.arena_bytes);
  ck_assert_uint_eq(p->stats.arena_bytes_unsplit, p->mem.arena_bytes);
  ck_assert_int_eq(p->stats.updates_split, 0);
  ck_assert_int_eq(count_op(p, IR_OP_ADAM_MOMENTS), 0);
  ck_assert_int_eq(count_op(p, IR_OP_ADAM_APPLY), 0);
  gc_program_free(p);
  gc_graph_free(g);
}
END_TEST

/* A split that saves less than a tenth of the arena is not kept either:
 * in a deep narrow MLP the forward's activations, all live at the loss,
 * are the peak, and splitting every update would save a few hundred
 * bytes for a launch per multi-tensor kernel of parameter steps. */
START_TEST(split_updates_dropped_below_a_tenth) {
  gc_graph *g = gc_graph_new();
  gc_value h = gc_input(g, "x", GC_F32, gc_shape2(8, 16));
  for (int i = 0; i < 40; i++) {
    char name[16];
    snprintf(name, sizeof name, "l%d", i);
    h = gc_tanh(g, gc_linear(g, h, 16, GC_GLOROT, name));
  }
  gc_value y = gc_input(g, "y", GC_I32, gc_shape1(8));
  gc_set_loss(g, gc_cross_entropy(g, gc_linear(g, h, 4, GC_GLOROT, "out"), y));
  gc_adam adam = {.lr = 1e-3f};
  ck_assert_int_eq(gc_optimize_adam(g, &adam), GC_OK);
  /* the split program's plan, made by hand */
  ir_graph *c = ir_graph_clone(g);
  ck_assert_ptr_nonnull(c);
  ck_assert_int_eq(pass_simplify(c), GC_OK);
  ck_assert_int_eq(pass_split_candidates(c), 40);
  ck_assert_int_eq(pass_split_updates(c), GC_OK);
  fused f;
  fuse_graph(c, false, &f);
  gc_program *p = compile(g, 0, 0);
  printf("40-layer MLP step: arena %zu, split %zu\n", p->mem.arena_bytes, f.m.arena_bytes);
  ck_assert_uint_lt(f.m.arena_bytes, p->mem.arena_bytes);          /* it would save some */
  ck_assert_uint_gt(10 * f.m.arena_bytes, 9 * p->mem.arena_bytes); /* under a tenth */
  ck_assert_uint_eq(p->stats.arena_bytes_unsplit, p->mem.arena_bytes);
  ck_assert_int_eq(p->stats.updates_split, 0);
  ck_assert_int_eq(count_op(p, IR_OP_ADAM_APPLY), 0);
  fused_free(&f);
  gc_graph_free(c);
  gc_program_free(p);
  gc_graph_free(g);
}
END_TEST

static Suite *passes_suite(void) {
  Suite *s = suite_create("passes");
  TCase *tc = tcase_create("schedule");
  tcase_add_test(tc, schedule_writers_after_readers);
  tcase_add_test(tc, schedule_reports_a_cycle);
  suite_add_tcase(s, tc);
  tc = tcase_create("simplify");
  tcase_add_test(tc, simplify_drops_dead_nodes);
  tcase_add_test(tc, simplify_joins_slice_grads_that_tile);
  tcase_add_test(tc, simplify_moves_relu_masks_before_pool_grads);
  tcase_add_test(tc, postdom_rule_counts_what_fusion_keeps_apart);
  tcase_add_test(tc, postdom_rule_counts_epilogue_operands_only);
  tcase_add_test(tc, fuse_broadcast_producer_only_with_one_reader);
  suite_add_tcase(s, tc);
  tc = tcase_create("fuse");
  tcase_add_test(tc, fuse_elementwise_chain);
  tcase_add_test(tc, fuse_matmul_epilogue_and_reduce_prologue);
  tcase_add_test(tc, fuse_refuses_cycles_and_other_domains);
  tcase_add_test(tc, fuse_row_kernel_layer_norm);
  tcase_add_test(tc, fuse_row_kernel_needs_rows);
  tcase_add_test(tc, fuse_respects_the_kernel_argument_cap);
  tcase_add_test(tc, fuse_recomputes_cheap_producers);
  tcase_add_test(tc, simplify_merges_common_subexpressions);
  tcase_add_test(tc, plan_works_in_place);
  tcase_add_test(tc, plan_gemm_epilogue_in_place);
  tcase_add_test(tc, plan_row_kernels_in_place);
  tcase_add_test(tc, plan_view_of_in_place_value);
  tcase_add_test(tc, fuse_movement_and_single_ops);
  tcase_add_test(tc, fuse_in_place_updates);
  suite_add_tcase(s, tc);
  tc = tcase_create("plan");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, plan_reuses_memory_in_a_chain);
  tcase_add_test(tc, kernel_order_defers_results_read_late);
  tcase_add_test(tc, plan_inference_mlp_near_lower_bound);
  tcase_add_test(tc, plan_check_on_training_step);
  tcase_add_loop_test(tc, split_updates_where_the_arena_shrinks, 0, 2);
  tcase_add_test(tc, split_updates_dropped_without_gain);
  tcase_add_test(tc, split_updates_dropped_below_a_tenth);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(passes_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
