/* perceptron.c — the "perceptron" model: Rosenblatt's single-layer
 * perceptron with a step activation and the classic learning rule
 *     o = step(x W + b),  W += lr x^T (t - o),  b += lr (t - o)
 * written as graph nodes (gc_assign_add), trained online on the AND, OR and
 * XOR truth tables. AND and OR are learned in a few epochs; XOR never is,
 * since no line separates its classes (at most 3 of 4 rows come out right).
 * A two-layer net (2-8-2, tanh, cross-entropy, Adam) then solves XOR: the
 * classic answer to why XOR defeats a perceptron. */
#include <stdio.h>
#include <string.h>

#include "models/trainer.h"

enum {
  GATES = 3,      /* AND, OR, XOR for the single-layer perceptron */
  ROWS = 4,       /* rows of a two-input truth table */
  XOR_HIDDEN = 8, /* hidden units of the two-layer net */
  XOR_STEPS = 300 /* full-batch Adam steps of the two-layer net */
};
#define XOR_LR 0.05f

static const float inputs[ROWS][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
static const char *const gate_names[GATES + 1] = {"AND", "OR", "XOR", "XOR (2-layer)"};
static const int32_t targets[GATES][ROWS] = {{0, 0, 0, 1}, {0, 1, 1, 1}, {0, 1, 1, 0}};

extern const gc_model gc_model_perceptron;

/* Training graph (train = 1): inputs "x" [batch, 2] and "t" [batch, 1]
 * (targets 0/1 as f32), output "o", and the update nodes of the rule. With
 * batch 1 that is exactly the online rule; a larger batch sums the rows'
 * updates. Inference graph (train = 0): "x" [batch, 2], outputs "logits"
 * (x W + b) and "o". Weights start at zero, as in the classic rule. */
static gc_status perceptron_build(gc_graph *g, int batch, int train, const gc_train_options *opt) {
  if (batch <= 0) batch = gc_model_perceptron.default_batch;
  float lr = opt && opt->lr > 0 ? opt->lr : gc_model_perceptron.default_lr;
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(batch, 2));
  gc_value w = gc_param(g, "w", gc_shape2(2, 1), GC_ZEROS);
  gc_value b = gc_param(g, "b", gc_shape1(1), GC_ZEROS);
  gc_value logits = gc_add(g, gc_matmul(g, x, w), b);
  gc_value o = gc_output(g, gc_step(g, logits), "o");
  if (!train) {
    gc_output(g, logits, "logits");
    return gc_graph_status(g);
  }
  gc_value t = gc_input(g, "t", GC_F32, gc_shape2(batch, 1));
  gc_value err = gc_sub(g, t, o); /* [batch, 1] */
  gc_value rate = gc_scalar(g, lr);
  gc_value dw = gc_mul(g, rate, gc_matmul(g, gc_transpose(g, x, NULL), err)); /* [2, 1] */
  int axis0 = 0;
  gc_value db = gc_mul(g, rate, gc_sum(g, gc_reshape(g, err, gc_shape1(batch)), &axis0, 1, 0));
  gc_assign_add(g, w, dw);
  gc_assign_add(g, b, gc_reshape(g, db, gc_shape1(1)));
  return gc_graph_status(g);
}

/* The two-layer net for XOR, trained by the shared trainer. Its own
 * learning rate (the perceptron's lr means nothing to Adam). */
static gc_status xor_net_build(gc_graph *g, int batch, int train, const gc_train_options *opt) {
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(batch, 2));
  gc_value h = gc_tanh(g, gc_linear(g, x, XOR_HIDDEN, GC_GLOROT, "fc1"));
  gc_value logits = gc_linear(g, h, 2, GC_GLOROT, "fc2");
  if (!train) {
    gc_output(g, logits, "logits");
    return gc_graph_status(g);
  }
  gc_value y = gc_input(g, "y", GC_I32, gc_shape1(batch));
  gc_set_loss(g, gc_cross_entropy(g, logits, y));
  if (gc_graph_status(g)) return gc_graph_status(g);
  gc_adam adam = {.lr = XOR_LR};
  return gc_optimize_adam(g, &adam);
}

/* Everything a run produces; gc_perceptron_run and the model's train()
 * both read from it. */
typedef struct run_totals {
  double seconds, first_error;
  int64_t steps, samples;
} run_totals;

/* Accuracy of the current weights on the whole truth table. */
static gc_status table_accuracy(gc_session *eval, gc_session *train, int gate, double *acc) {
  float o[ROWS];
  gc_status st = gc_session_copy_params(eval, train);
  if (!st) st = gc_session_set_input(eval, "x", inputs, sizeof inputs);
  if (!st) st = gc_session_run(eval);
  if (!st) st = gc_session_get_output(eval, "o", o, sizeof o);
  int right = 0;
  for (int r = 0; !st && r < ROWS; r++) right += (o[r] > 0.5f) == (targets[gate][r] == 1);
  *acc = (double)right / ROWS;
  return st;
}

/* Online training of one gate from zero weights: one sample per step, the
 * rows in a fresh seeded order every epoch, stopping at the first epoch
 * after which the whole table is right. */
static gc_status train_gate(const gc_train_options *o, gc_program *ptrain, gc_session *eval,
                            int gate, gc_gate_result *res, run_totals *tot) {
  gc_session *s = NULL;
  gc_status st = gc_session_new(ptrain, &s);
  memset(res, 0, sizeof *res);
  res->gate = gate_names[gate];
  double t0 = mt_now();
  for (int e = 0; !st && e < o->epochs && !res->solved; e++) {
    int64_t order[ROWS];
    gc_permutation(mt_seed(o->seed, (uint64_t)(gate * 100000 + e)), ROWS, order);
    for (int k = 0; !st && k < ROWS; k++) {
      float t = (float)targets[gate][order[k]];
      st = gc_session_set_input(s, "x", inputs[order[k]], sizeof inputs[0]);
      if (!st) st = gc_session_set_input(s, "t", &t, sizeof t);
      if (!st) st = gc_session_run(s);
    }
    if (!st) st = table_accuracy(eval, s, gate, &res->accuracy);
    if (st) break;
    if (e == 0) tot->first_error += 1.0 - res->accuracy;
    if (res->accuracy > res->best_accuracy) res->best_accuracy = res->accuracy;
    res->epochs = e + 1;
    res->solved = res->accuracy == 1.0;
    tot->steps += ROWS;
    tot->samples += ROWS;
  }
  tot->seconds += mt_now() - t0;
  gc_session_free(s);
  return st;
}

static gc_status train_xor_net(const gc_train_options *o, gc_gate_result *res, run_totals *tot) {
  float x[ROWS * 2];
  memcpy(x, inputs, sizeof x);
  gc_dataset *d = NULL;
  gc_status st = gc_dataset_from_arrays(ROWS, gc_shape1(2), x, targets[2], &d);
  /* Full batch, no progress: this is a side show of the perceptron run. */
  gc_train_options xo = *o;
  xo.epochs = XOR_STEPS;
  xo.batch = ROWS;
  xo.lr = XOR_LR;
  xo.train_limit = 0;
  xo.progress = NULL;
  mt_recipe r = {xor_net_build, ROWS, "xor"};
  gc_train_result tr;
  if (!st) st = mt_train_classifier(&r, &xo, d, d, &tr);
  gc_dataset_free(d);
  memset(res, 0, sizeof *res);
  res->gate = gate_names[GATES];
  if (st) return st;
  res->accuracy = res->best_accuracy = tr.test_accuracy;
  res->epochs = XOR_STEPS;
  res->solved = tr.test_accuracy == 1.0;
  tot->seconds += tr.train_seconds;
  tot->steps += tr.steps;
  tot->samples += tr.steps * ROWS;
  return GC_OK;
}

static gc_status run_all(const gc_train_options *opt, gc_gate_result out[GATES + 1],
                         run_totals *tot) {
  gc_train_options o;
  mt_resolve(opt, &gc_model_perceptron, &o);
  memset(tot, 0, sizeof *tot);
  gc_device *dev = NULL;
  gc_program *ptrain = NULL, *peval = NULL;
  gc_session *eval = NULL;
  gc_graph *g = NULL;
  gc_status st = gc_device_open(o.device, &dev);
  for (int train = 1; !st && train >= 0; train--) {
    if (!(g = gc_graph_new())) {
      st = GC_ERR_NOMEM;
      break;
    }
    gc_graph_set_seed(g, o.seed);
    st = perceptron_build(g, train ? 1 : ROWS, train, &o);
    if (!st) st = gc_compile(g, dev, NULL, train ? &ptrain : &peval);
    gc_graph_free(g);
  }
  if (!st) st = gc_session_new(peval, &eval);
  for (int gate = 0; !st && gate < GATES; gate++)
    st = train_gate(&o, ptrain, eval, gate, &out[gate], tot);
  gc_session_free(eval);
  gc_program_free(peval);
  gc_program_free(ptrain);
  gc_device_free(dev);
  if (!st) st = train_xor_net(&o, &out[GATES], tot);
  return st;
}

gc_status gc_perceptron_run(const gc_train_options *opt, gc_gate_result out[4]) {
  if (!out) return GC_ERR_INVALID;
  run_totals tot;
  return run_all(opt, out, &tot);
}

static void print_table(FILE *f, const gc_gate_result *r) {
  fprintf(f, "%-6s %-24s %8s %6s %7s  %s\n", "gate", "model", "accuracy", "best", "epochs",
          "learned");
  for (int i = 0; i <= GATES; i++) {
    const char *model = i < GATES ? "perceptron (step)" : "2-8-2 tanh net, Adam";
    const char *gate = i < GATES ? r[i].gate : "XOR";
    const char *why = r[i].solved ? "yes" : i == 2 ? "no (not linearly separable)" : "no";
    fprintf(f, "%-6s %-24s %8.2f %6.2f %7d  %s\n", gate, model, r[i].accuracy, r[i].best_accuracy,
            r[i].epochs, why);
  }
}

/* The gc_train_result of the perceptron model:
 * - test_accuracy: the mean over AND, OR and XOR of the single-layer
 *   perceptron's accuracy on the truth table after its last epoch (the
 *   table is both training and test set); so (1 + 1 + 0.75) / 3 at best.
 * - first_loss / final_loss: the same mean of the error rate (1 - accuracy)
 *   after the first and the last epoch: the rule has no differentiable loss.
 * - epochs: the most epochs any of the three gates ran.
 * - train_seconds, steps, samples_per_second: all four trainings together,
 *   the two-layer net included. */
static gc_status perceptron_train(const gc_train_options *opt, gc_train_result *out) {
  if (!out) return GC_ERR_INVALID;
  gc_gate_result r[GATES + 1];
  run_totals tot;
  memset(out, 0, sizeof *out);
  gc_status st = run_all(opt, r, &tot);
  if (st) return st;
  if (opt && opt->report) print_table(opt->report, r);
  double acc = 0;
  for (int i = 0; i < GATES; i++) {
    acc += r[i].accuracy;
    if (r[i].epochs > out->epochs) out->epochs = r[i].epochs;
  }
  out->test_accuracy = acc / GATES;
  out->first_loss = tot.first_error / GATES;
  out->final_loss = 1.0 - out->test_accuracy;
  out->train_seconds = tot.seconds;
  out->steps = tot.steps;
  out->train_samples = ROWS;
  out->samples_per_second = tot.seconds > 0 ? (double)tot.samples / tot.seconds : 0;
  return GC_OK;
}

const gc_model gc_model_perceptron = {
    .name = "perceptron",
    .description =
        "single-layer perceptron (step, classic rule) on AND/OR/XOR, "
        "and a 2-layer net that solves XOR",
    .build = perceptron_build,
    .train = perceptron_train,
    .default_epochs = 100,
    .default_batch = 1,
    .default_lr = 0.1f,
};
