/* test_cl_budgets.c — the fusion and memory-planning budgets of the models,
 * as deterministic figures with 10% slack so a regression fails, and the
 * fused program equal to the unfused one on every model of the registry,
 * with no kernel left that TVM's post-dominator rule would still fuse
 * (passes/postdom.c).
 *
 * Budgets (issue "fusion and memory planning"): the MLP training step
 * launches at most 4 kernels per dense layer plus 3 (15); inference arenas
 * are at most 1.10x the live-set lower bound; the CNN training arena is at
 * most 50% of the no-reuse sum; every training arena is at most 1.10x its
 * live-set lower bound. The CNN training step launches 23 kernels (25
 * with the slack) and its arena, 8,380,416 bytes, is 40.6% of the
 * no-reuse sum and its live-set lower bound: max pooling keeps the
 * indices of its maxima for the backward, not its input, and the ReLU
 * mask moves to the pooled gradient (passes/mask_pool_grads.c), so the
 * 5.5 MB conv1 activation dies in the forward (the arena was 9,756,672
 * bytes, 51.8%, while the backward kept it). The peaks are the first
 * pooling (its input, maxima and indices) and its gradient (the
 * indices, the masked pooled gradient and the result in the input's
 * size). The MLP training step launches 14 kernels and its arena,
 * 100,864 bytes, is 50.0% of the no-reuse sum and its live lower bound,
 * with two Adam updates split so that activations die sooner (see the
 * test; the unfused MLP cannot reach 50%: its dW1 alone is 52% of its
 * sum).
 *
 * OpenCL objects are created inside the tests (Check forks). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "graphc.h"

static gc_device *open_cl(void) {
  const char *d = getenv("GRAPHC_DEVICE");
  gc_device *dev = NULL;
  ck_assert_msg(gc_device_open(d && *d && strcmp(d, "ref") ? d : "pocl", &dev) == GC_OK, "%s",
                gc_last_error());
  return dev;
}

static gc_program *build_compile_gemm(const char *model, int batch, int train, gc_device *dev,
                                      int no_fuse, gc_gemm_policy gemm) {
  const gc_model *m = gc_model_find(model);
  ck_assert_ptr_nonnull(m);
  gc_graph *g = gc_graph_new();
  gc_graph_set_seed(g, 3);
  gc_train_options o = {0};
  ck_assert_msg(m->build(g, batch, train, &o) == GC_OK, "%s: %s", model, gc_graph_errmsg(g));
  gc_compile_options co = {0};
  co.no_fuse = no_fuse;
  co.gemm = gemm;
  gc_program *p = NULL;
  ck_assert_msg(gc_compile(g, dev, &co, &p) == GC_OK, "%s: %s", model, gc_last_error());
  gc_graph_free(g);
  return p;
}

static gc_program *build_compile(const char *model, int batch, int train, gc_device *dev,
                                 int no_fuse) {
  return build_compile_gemm(model, batch, train, dev, no_fuse, GC_GEMM_DEFAULT);
}

static gc_program_stats stats(const gc_program *p) {
  gc_program_stats s;
  ck_assert_int_eq(gc_program_stats_get(p, &s), GC_OK);
  return s;
}

START_TEST(mlp_training_step_budget) {
  gc_device *dev = open_cl();
  gc_program *p = build_compile("mlp", 64, 1, dev, 0);
  gc_program_stats s = stats(p);
  printf("mlp train: %d launches, arena %zu, no-reuse %zu (%.0f%%), lower bound %zu\n",
         s.launches_per_run, s.arena_bytes, s.no_reuse_bytes,
         100.0 * (double)s.arena_bytes / (double)s.no_reuse_bytes, s.live_lower_bound_bytes);
  ck_assert_int_le(s.launches_per_run, 15); /* 3 dense layers x 4 + 3; 14 now */
  ck_assert(s.arena_bytes <= 1.10 * (double)s.live_lower_bound_bytes);
  /* 100,864 of 201,728 bytes: the 50%, met exactly. What is left
   * in the arena once the weight gradients stay in the GEMMs (Adam is
   * their epilogue) is three activations and three activation gradients.
   * With Adam whole, dW2 = h1^T dA2 had to follow dA1 = (dA2 W2^T) *
   * (h1 > 0), since dW2's update rewrites the W2 that dA1 reads: h1, dA2
   * and dA1 were live together, 163,840 bytes (81%), the lower bound of
   * that program. Split (passes/split_updates.c), dW2 updates only the
   * moments and runs first, dA1 and dA2 are written over h1 and h2, and
   * the loss gradient over the logits (passes/plan.c): the peak is the
   * forward's h1, h2 and logits, which no plan of this step avoids short
   * of recomputing activations. One launch more: the parameter step of
   * fc2.w and fc3.w, one kernel. */
  ck_assert(s.arena_bytes <= 0.50 * (double)s.no_reuse_bytes); /* the bound */
  ck_assert_uint_eq(s.arena_bytes, s.live_lower_bound_bytes);
  ck_assert_int_eq(s.updates_split, 2);
  ck_assert(s.arena_bytes_unsplit >= 1.5 * (double)s.arena_bytes);
  gc_program *u = build_compile("mlp", 64, 1, dev, 1);
  gc_program_stats su = stats(u);
  ck_assert_int_gt(su.launches_per_run, s.launches_per_run); /* fusion does something */
  /* Unfused, the planner still meets that program's lower bound (868,352 of
   * 1,538,176 bytes, 56%: dW1, 802,816 bytes, is live with the activation
   * gradient it comes from), and the fused arena is 5x smaller than it. */
  printf("mlp train --no-fuse: %d launches, arena %zu, no-reuse %zu (%.0f%%), lower bound %zu\n",
         su.launches_per_run, su.arena_bytes, su.no_reuse_bytes,
         100.0 * (double)su.arena_bytes / (double)su.no_reuse_bytes, su.live_lower_bound_bytes);
  ck_assert(su.arena_bytes <= 1.10 * (double)su.live_lower_bound_bytes);
  ck_assert(s.arena_bytes * 4 < su.arena_bytes);
  gc_program_free(u);
  gc_program_free(p);
  gc_device_free(dev);
}
END_TEST

START_TEST(cnn_training_arena_budget) {
  gc_device *dev = open_cl();
  gc_program *p = build_compile("cnn", 64, 1, dev, 0);
  gc_program_stats s = stats(p);
  printf("cnn train: %d launches, arena %zu, no-reuse %zu (%.1f%%), lower bound %zu\n",
         s.launches_per_run, s.arena_bytes, s.no_reuse_bytes,
         100.0 * (double)s.arena_bytes / (double)s.no_reuse_bytes, s.live_lower_bound_bytes);
  ck_assert(s.arena_bytes <= 0.50 * (double)s.no_reuse_bytes);         /* the bound */
  ck_assert(s.arena_bytes <= 0.406 * 1.10 * (double)s.no_reuse_bytes); /* as measured */
  ck_assert(s.arena_bytes <= 1.10 * (double)s.live_lower_bound_bytes);
  /* and the plan meets that bound exactly: the kernel order runs conv2's
   * weight gradient before its input gradient (kernel_order.c,
   * unlocks_a_free), so the pooled activations die in the input
   * gradient's kernel and its masked result takes their place; run in
   * the other order, the arena is 8,454,144 bytes */
  ck_assert_uint_eq(s.arena_bytes, s.live_lower_bound_bytes);
  ck_assert_int_le(s.launches_per_run, 25); /* 23 + 10% */
  gc_program_free(p);
  gc_device_free(dev);
}
END_TEST

START_TEST(inference_arena_budget) {
  const char *models[] = {"mlp", "cnn"};
  gc_device *dev = open_cl();
  for (int i = 0; i < 2; i++) {
    gc_program *p = build_compile(models[i], 64, 0, dev, 0);
    gc_program_stats s = stats(p);
    printf("%s inference: arena %zu, lower bound %zu\n", models[i], s.arena_bytes,
           s.live_lower_bound_bytes);
    ck_assert_msg(s.arena_bytes <= 1.10 * (double)s.live_lower_bound_bytes, "%s", models[i]);
    ck_assert_int_eq(s.postdom_misses, 0);
    gc_program_free(p);
  }
  gc_device_free(dev);
}
END_TEST

/* Deterministic inputs: floats in [0, 1), integers 0/1 (a valid label of
 * every classifier). */
static void set_inputs(gc_session *s, const gc_program *p) {
  const ir_graph *g = p->g;
  for (int i = 0; i < g->n; i++) {
    const ir_node *n = &g->nodes[i];
    if (n->op != IR_OP_INPUT) continue;
    int64_t count = gc_shape_numel(n->shape);
    void *buf = malloc(ir_node_bytes(n));
    for (int64_t k = 0; k < count; k++) {
      if (n->dtype == GC_F32)
        ((float *)buf)[k] = (float)((k * 7919 % 1000) / 1000.0);
      else
        ((int32_t *)buf)[k] = (int32_t)(k % 2);
    }
    ck_assert_msg(gc_session_set_input(s, n->name, buf, ir_node_bytes(n)) == GC_OK, "%s",
                  gc_last_error());
    free(buf);
  }
}

/* Every output and every parameter after two training steps, fused vs
 * unfused, relative 1e-5. Both run graphc's own GEMMs: under the auto
 * policy a plain product of the unfused program may go to CLBlast, whose
 * order of summation is not fusion's business (on an H100, where the
 * CNN's dense layer went to CLBlast unfused, a weight whose gradient
 * cancels to near zero then moved 1.3e-5 apart over two Adam steps). */
START_TEST(fused_equals_unfused_on_every_model) {
  gc_device *dev = open_cl();
  for (int mi = 0; mi < gc_model_count(); mi++) {
    const gc_model *m = gc_model_at(mi);
    int batch = !strcmp(m->name, "perceptron") ? 1 : 8;
    gc_program *p[2];
    gc_session *s[2];
    for (int k = 0; k < 2; k++) {
      p[k] = build_compile_gemm(m->name, batch, 1, dev, k, GC_GEMM_OWN);
      ck_assert_int_eq(gc_session_new(p[k], &s[k]), GC_OK);
      for (int step = 0; step < 2; step++) {
        set_inputs(s[k], p[k]);
        ck_assert_int_eq(gc_session_run(s[k]), GC_OK);
      }
    }
    /* TVM's post-dominator rule fuses nothing more than fusion did */
    gc_program_stats ps = stats(p[0]);
    ck_assert_msg(ps.postdom_misses == 0, "%s: %d kernels the post-dominator rule would fuse",
                  m->name, ps.postdom_misses);
    const ir_graph *g = p[0]->g;
    int compared = 0;
    for (int i = 0; i < g->n; i++) {
      const ir_node *n = &g->nodes[i];
      bool out = (n->flags & (IR_F_OUTPUT | IR_F_LOSS)) && n->dtype == GC_F32;
      if (!out && n->op != IR_OP_PARAM) continue;
      size_t bytes = ir_node_bytes(n);
      float *a = malloc(bytes), *b = malloc(bytes);
      const char *name = out && n->out_name ? n->out_name : n->name;
      for (int k = 0; k < 2; k++) {
        gc_status st = out ? gc_session_get_output(s[k], name, k ? b : a, bytes)
                           : gc_session_get_param(s[k], name, k ? b : a, bytes);
        ck_assert_msg(st == GC_OK, "%s %s: %s", m->name, name, gc_last_error());
      }
      for (size_t e = 0; e < bytes / sizeof(float); e++)
        ck_assert_msg(fabsf(a[e] - b[e]) <= 1e-5f * (1.0f + fabsf(b[e])),
                      "%s: %s[%zu] fused %.9g vs unfused %.9g", m->name, name, e, a[e], b[e]);
      compared++;
      free(a);
      free(b);
    }
    ck_assert_int_gt(compared, 1);
    for (int k = 0; k < 2; k++) {
      gc_session_free(s[k]);
      gc_program_free(p[k]);
    }
  }
  gc_device_free(dev);
}
END_TEST

int main(void) {
  Suite *s = suite_create("budgets");
  TCase *tc = tcase_create("budgets");
  tcase_set_timeout(tc, 900);
  tcase_add_test(tc, mlp_training_step_budget);
  tcase_add_test(tc, cnn_training_arena_budget);
  tcase_add_test(tc, inference_arena_budget);
  tcase_add_test(tc, fused_equals_unfused_on_every_model);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
