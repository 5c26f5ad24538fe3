/* test_cl_models.c — Check suite for models/: the registry, the graphs the
 * models build, and short training runs that must learn. The perceptron
 * must learn AND and OR but not XOR, which the two-layer net must solve;
 * ffnn must reach 0.93 on Iris; the MLP must learn from a 2,000-image
 * Fashion-MNIST subset. Runs on $GRAPHC_DEVICE (default "pocl") and, for
 * the small models, on the reference interpreter too.
 *
 * Devices are opened inside the tests (by the trainer), never in fixtures:
 * Check forks per test and OpenCL state does not survive fork. Only the
 * public API is used, as models/ and tools/ do. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphc.h"

static const char *test_device(void) {
  const char *d = getenv("GRAPHC_DEVICE");
  return d && *d ? d : "pocl";
}

static gc_train_options options(const char *device) {
  gc_train_options o = {0};
  o.device = device;
  o.seed = 1;
  return o;
}

static const gc_model *model(const char *name) {
  const gc_model *m = gc_model_find(name);
  ck_assert_msg(m != NULL, "model %s is not registered", name);
  return m;
}

/* ------------------------------------------------------------- registry */

START_TEST(registry_lists_the_models) {
  ck_assert_int_eq(gc_model_count(), 4);
  const char *names[] = {"perceptron", "ffnn", "mlp", "cnn"};
  for (int i = 0; i < 4; i++) {
    const gc_model *m = gc_model_at(i);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->name, names[i]);
    ck_assert_ptr_eq(gc_model_find(names[i]), m);
    ck_assert(m->description && *m->description);
    ck_assert(m->build && m->train);
    ck_assert(m->default_epochs > 0 && m->default_batch > 0 && m->default_lr > 0);
  }
  ck_assert_ptr_null(gc_model_at(-1));
  ck_assert_ptr_null(gc_model_at(4));
  ck_assert_ptr_null(gc_model_find("resnet"));
  ck_assert_ptr_null(gc_model_find(NULL));
}
END_TEST

/* Every model builds a training graph with a loss and an inference graph
 * whose "logits" are [batch, classes], at its default batch (batch 0) and
 * at an odd one, with or without options. */
START_TEST(models_build_their_graphs) {
  const int64_t classes[] = {1, 3, 10, 10};
  for (int i = 0; i < gc_model_count(); i++) {
    const gc_model *m = gc_model_at(i);
    int batches[] = {0, 7};
    for (int k = 0; k < 2; k++) {
      int b = batches[k] ? batches[k] : m->default_batch;
      gc_graph *g = gc_graph_new();
      ck_assert_int_eq(m->build(g, batches[k], 0, NULL), GC_OK);
      gc_shape s = gc_value_shape(g, gc_find(g, "logits"));
      ck_assert_int_eq(s.ndim, 2);
      ck_assert_int_eq(s.dim[0], b);
      ck_assert_int_eq(s.dim[1], classes[i]);
      gc_graph_free(g);

      gc_train_options o = options("ref");
      g = gc_graph_new();
      ck_assert_msg(m->build(g, batches[k], 1, &o) == GC_OK, "%s: %s", m->name, gc_graph_errmsg(g));
      ck_assert_int_eq(gc_graph_status(g), GC_OK);
      gc_graph_free(g);
    }
  }
}
END_TEST

/* ----------------------------------------------------------- perceptron */

static void check_gates(const char *device) {
  gc_train_options o = options(device);
  gc_gate_result r[4];
  gc_status st = gc_perceptron_run(&o, r);
  ck_assert_msg(st == GC_OK, "perceptron on %s: %s", device, gc_last_error());
  ck_assert_str_eq(r[0].gate, "AND");
  ck_assert_str_eq(r[1].gate, "OR");
  ck_assert_str_eq(r[2].gate, "XOR");
  for (int i = 0; i < 2; i++) {
    ck_assert_msg(r[i].solved && r[i].accuracy == 1.0, "%s: accuracy %g after %d epochs", r[i].gate,
                  r[i].accuracy, r[i].epochs);
    ck_assert_int_lt(r[i].epochs, 100);
  }
  /* No line separates XOR: never more than 3 of the 4 rows. */
  ck_assert(!r[2].solved);
  ck_assert_double_le(r[2].accuracy, 0.75);
  ck_assert_double_le(r[2].best_accuracy, 0.75);
  ck_assert_int_eq(r[2].epochs, 100);
  /* The hidden layer is what XOR needs. */
  ck_assert_msg(r[3].solved && r[3].accuracy == 1.0, "2-layer XOR: accuracy %g", r[3].accuracy);
}

START_TEST(perceptron_learns_and_or_not_xor) { check_gates(test_device()); }
END_TEST

START_TEST(perceptron_on_ref) { check_gates("ref"); }
END_TEST

/* The model's train() reports the gates through its report and result. */
START_TEST(perceptron_train_reports) {
  gc_train_options o = options("ref");
  char *text = NULL;
  size_t len = 0;
  o.report = open_memstream(&text, &len);
  gc_train_result r;
  ck_assert_int_eq(model("perceptron")->train(&o, &r), GC_OK);
  fclose(o.report);
  ck_assert_ptr_nonnull(strstr(text, "AND"));
  ck_assert_ptr_nonnull(strstr(text, "not linearly separable"));
  free(text);
  /* Mean over AND, OR, XOR: at most (1 + 1 + 0.75) / 3. */
  ck_assert_double_ge(r.test_accuracy, 2.0 / 3.0);
  ck_assert_double_le(r.test_accuracy, 2.75 / 3.0 + 1e-9);
  ck_assert_int_eq(r.epochs, 100);
}
END_TEST

/* ----------------------------------------------------------------- ffnn */

static void progress_count(const gc_progress *p, void *user) {
  int *calls = user;
  ck_assert_int_le(p->step, p->steps);
  ck_assert(p->phase != NULL);
  (*calls)++;
}

static gc_train_result train_ffnn(const char *device) {
  gc_train_options o = options(device);
  int calls = 0;
  o.progress = progress_count;
  o.user = &calls;
  gc_train_result r;
  gc_status st = model("ffnn")->train(&o, &r);
  ck_assert_msg(st == GC_OK, "ffnn on %s: %s", device, gc_last_error());
  ck_assert_msg(r.test_accuracy >= 0.93, "ffnn on %s: test accuracy %g", device, r.test_accuracy);
  ck_assert_double_lt(r.final_loss, r.first_loss);
  ck_assert_int_eq(r.epochs, 100);
  ck_assert_int_eq(r.train_samples, 120);
  ck_assert_int_eq(r.steps, 100 * (120 / 16));
  ck_assert(r.train_seconds > 0 && r.samples_per_second > 0);
  ck_assert_int_gt(calls, 0);
  return r;
}

START_TEST(ffnn_learns_iris) { train_ffnn(test_device()); }
END_TEST

START_TEST(ffnn_on_ref_is_reproducible) {
  gc_train_result a = train_ffnn("ref"), b = train_ffnn("ref");
  ck_assert_double_eq(a.final_loss, b.final_loss);
  ck_assert_double_eq(a.test_accuracy, b.test_accuracy);
}
END_TEST

/* ------------------------------------------------------------------ mlp */

START_TEST(mlp_learns_on_a_subset) {
  gc_train_options o = options(test_device());
  o.train_limit = 2000;
  o.epochs = 2;
  gc_train_result r;
  gc_status st = model("mlp")->train(&o, &r);
  ck_assert_msg(st == GC_OK, "mlp: %s", gc_last_error());
  ck_assert_int_eq(r.train_samples, 2000);
  ck_assert_int_eq(r.steps, 2 * (2000 / 64));
  ck_assert_msg(r.final_loss <= 0.5 * r.first_loss, "mlp: loss %g -> %g", r.first_loss,
                r.final_loss);
  ck_assert_msg(r.test_accuracy >= 0.6, "mlp: test accuracy %g", r.test_accuracy);
}
END_TEST

/* A batch larger than the (limited) training set is clamped, not refused. */
START_TEST(train_limit_smaller_than_batch) {
  gc_train_options o = options("ref");
  o.train_limit = 10;
  o.epochs = 2;
  gc_train_result r;
  ck_assert_int_eq(model("ffnn")->train(&o, &r), GC_OK);
  ck_assert_int_eq(r.train_samples, 10);
  ck_assert_int_eq(r.steps, 2);
}
END_TEST

START_TEST(bad_device_fails_cleanly) {
  gc_train_options o = options("no-such-device-anywhere");
  gc_train_result r;
  ck_assert_int_ne(model("ffnn")->train(&o, &r), GC_OK);
  ck_assert(*gc_last_error());
  gc_gate_result g[4];
  ck_assert_int_ne(gc_perceptron_run(&o, g), GC_OK);
}
END_TEST

static Suite *models_suite(void) {
  Suite *s = suite_create("models");
  TCase *api = tcase_create("api");
  tcase_add_test(api, registry_lists_the_models);
  tcase_add_test(api, models_build_their_graphs);
  suite_add_tcase(s, api);

  TCase *ref = tcase_create("ref");
  tcase_set_timeout(ref, 900);
  tcase_add_test(ref, perceptron_on_ref);
  tcase_add_test(ref, perceptron_train_reports);
  tcase_add_test(ref, ffnn_on_ref_is_reproducible);
  tcase_add_test(ref, train_limit_smaller_than_batch);
  suite_add_tcase(s, ref);

  TCase *dev = tcase_create("device");
  tcase_set_timeout(dev, 900);
  tcase_add_test(dev, perceptron_learns_and_or_not_xor);
  tcase_add_test(dev, ffnn_learns_iris);
  tcase_add_test(dev, mlp_learns_on_a_subset);
  tcase_add_test(dev, bad_device_fails_cleanly);
  suite_add_tcase(s, dev);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(models_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
